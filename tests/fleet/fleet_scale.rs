//! Fleet scale over real latency: 20 real sshd hosts, each behind a proxy adding 25 ms
//! of round trip. `relman list --json` reads all of them; one persistent set of
//! transports refreshes twice for 20 handshakes, not 40; a host whose sshd is killed
//! and started again is reconnected by the next refresh by itself; a host that makes us
//! wait for a timeout is not waited for again at the next refresh.
//!
//! No timing is asserted: counts of handshakes, logins and commands are.

use crate::support;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use relman::config::Config;
use relman::model::HostState;
use relman::ops::{self, OpError};
use relman::remote::{self, RemoteError, Transport};
use serde_json::Value;
use support::Fleet;
use support::latency::Delayed;

const ONE_WAY: Duration = Duration::from_micros(12_500);
const REL: &str = "batch_20261126221500";

/// Every host gets one release, live.
fn seed(f: &Fleet) {
    for i in 0..f.len() {
        f.sh(
            i,
            &format!("mkdir -p \"$ROOT/{REL}\" && echo \"$HOST\" > \"$ROOT/{REL}/app.txt\" && ln -s {REL} \"$ROOT/batch\""),
        );
    }
}

/// Opens every host's transport at once (as the console does, `parallel` at a time).
fn open_all(cfg: &Config) -> Vec<Box<dyn Transport>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = cfg
            .hosts
            .iter()
            .map(|h| s.spawn(move || remote::open(cfg, h)))
            .collect();
        handles
            .into_iter()
            .zip(&cfg.hosts)
            .map(|(j, h)| {
                j.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{}: {e}", h.name))
            })
            .collect()
    })
}

/// One refresh: every host scanned at once on its persistent transport.
fn refresh(cfg: &Config, ts: &[Box<dyn Transport>]) -> Vec<Result<HostState, OpError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ts
            .iter()
            .zip(&cfg.hosts)
            .map(|(t, h)| s.spawn(move || ops::scan(t.as_ref(), h)))
            .collect();
        handles.into_iter().map(|j| j.join().unwrap()).collect()
    })
}

fn handshakes(ts: &[Box<dyn Transport>]) -> u64 {
    ts.iter().map(|t| t.handshakes()).sum()
}

fn logins(f: &Fleet) -> usize {
    (0..f.len()).map(|i| f.auth_count(i)).sum()
}

fn execs(f: &Fleet) -> usize {
    (0..f.len()).map(|i| f.exec_count(i)).sum()
}

fn assert_all_ok(f: &Fleet, got: &[Result<HostState, OpError>]) {
    for (i, r) in got.iter().enumerate() {
        let st = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{} failed: {e}", f.name(i)));
        assert_eq!(st.current().map(|r| r.as_str()), Some(REL));
    }
}

#[test]
fn twenty_hosts_at_25ms_list_and_refresh_on_lasting_sessions() {
    let mut f = Fleet::start(20);
    seed(&f);
    let d = Delayed::start(&f, ONE_WAY);

    // The CLI: one process, every host read.
    let out = d.relman(&f).args(["list", "--json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("list --json is JSON");
    let hosts = v["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 20);
    for (i, h) in hosts.iter().enumerate() {
        assert_eq!(h["name"], f.name(i));
        assert_eq!(h["ok"], true, "{h}");
        assert_eq!(h["current"], REL);
    }
    // Every host was reached through its proxy, none directly.
    for (i, p) in d.proxies.iter().enumerate() {
        assert_eq!(p.accepted(), 1, "{} through its proxy once", f.name(i));
    }

    // The console's way: one lasting transport per host, two refreshes.
    let cfg = d.config(&f);
    let (logins0, execs0) = (logins(&f), execs(&f));
    let ts = open_all(&cfg);
    assert_all_ok(&f, &refresh(&cfg, &ts));
    assert_all_ok(&f, &refresh(&cfg, &ts));
    assert_eq!(
        handshakes(&ts),
        20,
        "two refreshes of 20 hosts: 20 handshakes"
    );
    assert_eq!(logins(&f) - logins0, 20, "sshd logs 20 logins, not 40");
    assert_eq!(
        execs(&f) - execs0,
        20,
        "one exec per host for both refreshes: its session shell runs each scan"
    );

    // h3's sshd is killed and started again between two refreshes; h5's is killed
    // during one, then started again.
    f.restart(2);
    f.stop(4);
    let got = refresh(&cfg, &ts);
    for (i, r) in got.iter().enumerate() {
        match (i, r) {
            (4, Err(e)) => assert_eq!(e.exit_code(), 3, "h5 is unreachable: {e}"),
            (4, Ok(_)) => panic!("h5 is down"),
            (_, r) => assert!(r.is_ok(), "{}: {:?}", f.name(i), r.as_ref().err()),
        }
    }
    f.restart(4);
    // A refused connection costs nothing, so it is not held back: the very next
    // refresh finds h5 again.
    assert_all_ok(&f, &refresh(&cfg, &ts));
    assert_eq!(
        handshakes(&ts),
        22,
        "h3 and h5 reconnected by themselves, once each"
    );
}

/// A port that accepts connections and never speaks (a host that does not answer).
struct Silent {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Silent {
    fn start() -> Silent {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let n = accepted.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                n.fetch_add(1, Ordering::SeqCst);
                // Held open, silent, until the client gives up.
                std::thread::spawn(move || {
                    let mut b = [0u8; 1024];
                    while matches!(s.read(&mut b), Ok(k) if k > 0) {}
                });
            }
        });
        Silent { port, accepted }
    }
}

#[test]
fn a_host_that_times_out_is_not_waited_for_at_every_refresh() {
    let f = Fleet::start(1);
    let silent = Silent::start();
    let mut cfg = f.config();
    cfg.connect_timeout = Duration::from_millis(600);
    cfg.hosts[0].port = silent.port;
    let host = cfg.hosts[0].clone();

    let e = remote::open(&cfg, &host).err().expect("no answer");
    assert!(matches!(e, RemoteError::Timeout { .. }), "{e}");
    assert_eq!(silent.accepted.load(Ordering::SeqCst), 1);

    // The next refresh comes at once: it is told why without connecting again.
    let e = remote::open(&cfg, &host).err().expect("held back");
    assert!(e.is_unreachable(), "{e}");
    let m = e.to_string();
    assert!(m.contains("not retried yet"), "{m}");
    assert!(m.contains("timed out"), "the last failure is repeated: {m}");
    assert_eq!(
        silent.accepted.load(Ordering::SeqCst),
        1,
        "no new connection"
    );

    // After the wait (1 s after one failure), it is tried again.
    assert!(support::wait_until(Duration::from_secs(10), || {
        matches!(remote::open(&cfg, &host), Err(RemoteError::Timeout { .. }))
    }));
    assert_eq!(silent.accepted.load(Ordering::SeqCst), 2);
}
