//! Network latency for tests and benchmarks without netem: a userspace TCP proxy that
//! holds every chunk of bytes for a set time in each direction (12.5 ms one way gives
//! 25 ms of round trip), and a helper that puts one in front of every host of a fleet.
//!
//! Each direction of a connection is a reader thread stamping chunks with the time they
//! may leave and a writer thread sending them then, so bandwidth is not limited and the
//! order of bytes is kept. An EOF travels with the same delay. Everything stops when
//! the proxy is dropped.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use relman::config::Config;

use super::Fleet;

/// A delaying TCP proxy on 127.0.0.1 in front of one target address.
pub struct LatencyProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Option<JoinHandle<()>>,
}

impl LatencyProxy {
    /// A proxy to 127.0.0.1:`target_port` adding `one_way` to each direction.
    pub fn start(target_port: u16, one_way: Duration) -> LatencyProxy {
        LatencyProxy::start_to(SocketAddr::from(([127, 0, 0, 1], target_port)), one_way)
    }

    /// A proxy to `target` adding `one_way` to each direction.
    pub fn start_to(target: SocketAddr, one_way: Duration) -> LatencyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (stop, accepted, streams, threads) = (
                stop.clone(),
                accepted.clone(),
                streams.clone(),
                threads.clone(),
            );
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    // A target that is down: the client sees the connection close.
                    let Ok(upstream) = TcpStream::connect(target) else {
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = upstream.set_nodelay(true);
                    let mut keep = streams.lock().unwrap();
                    let mut ts = threads.lock().unwrap();
                    for s in [&client, &upstream] {
                        if let Ok(c) = s.try_clone() {
                            keep.push(c);
                        }
                    }
                    for (from, to) in [(&client, &upstream), (&upstream, &client)] {
                        if let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) {
                            ts.extend(relay(from, to, one_way));
                        }
                    }
                }
            })
        };
        LatencyProxy {
            port,
            stop,
            accepted,
            streams,
            threads,
            accept: Some(accept),
        }
    }

    /// The port the proxy listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Cuts every connection open now (both sides see it closed); new ones still work.
    pub fn cut(&self) {
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// One direction: a reader stamping chunks, a writer sending each when it is due.
fn relay(mut from: TcpStream, mut to: TcpStream, delay: Duration) -> [JoinHandle<()>; 2] {
    let (tx, rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send((Instant::now() + delay, None));
                    return;
                }
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, Some(buf[..n].to_vec())))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    let writer = std::thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            match chunk {
                Some(bytes) => {
                    if to.write_all(&bytes).is_err() {
                        let _ = to.shutdown(Shutdown::Both);
                        return;
                    }
                }
                None => {
                    let _ = to.shutdown(Shutdown::Write);
                    return;
                }
            }
        }
    });
    [reader, writer]
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        self.cut();
        let threads: Vec<_> = self.threads.lock().unwrap().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

/// A fleet reached through one latency proxy per host: known_hosts learns each host's
/// key under its proxy's port, and a second relman config points every host there.
pub struct Delayed {
    pub proxies: Vec<LatencyProxy>,
    /// The relman config reaching every host through its proxy.
    pub config_path: PathBuf,
    ports: Vec<u16>,
}

impl Delayed {
    /// Puts a proxy adding `one_way` each way in front of every host of `fleet`.
    pub fn start(fleet: &Fleet, one_way: Duration) -> Delayed {
        let proxies: Vec<LatencyProxy> = (0..fleet.len())
            .map(|i| LatencyProxy::start(fleet.port(i), one_way))
            .collect();
        let ports: Vec<u16> = proxies.iter().map(LatencyProxy::port).collect();
        let mut kh = fs::OpenOptions::new()
            .append(true)
            .open(fleet.known_hosts())
            .expect("known_hosts");
        for (i, p) in ports.iter().enumerate() {
            kh.write_all(fleet.known_hosts_line_at(i, *p).as_bytes())
                .expect("append known_hosts");
        }
        let addrs: Vec<(String, u16)> = ports.iter().map(|p| ("127.0.0.1".into(), *p)).collect();
        let config_path = fleet.dir().join("relman-delayed.toml");
        fs::write(&config_path, fleet.config_toml_at(&addrs)).expect("delayed config");
        Delayed {
            proxies,
            config_path,
            ports,
        }
    }

    /// The proxy port of host i.
    pub fn port(&self, i: usize) -> u16 {
        self.ports[i]
    }

    /// The fleet's `Config` with every host reached through its proxy.
    pub fn config(&self, fleet: &Fleet) -> Config {
        let mut cfg = fleet.config();
        cfg.path = Some(self.config_path.clone());
        for (h, p) in cfg.hosts.iter_mut().zip(&self.ports) {
            h.port = *p;
        }
        cfg
    }

    /// `fleet.relman()` reading the delayed config.
    pub fn relman(&self, fleet: &Fleet) -> Command {
        let mut c = fleet.relman();
        c.env("RELMAN_CONFIG", &self.config_path);
        c
    }
}
