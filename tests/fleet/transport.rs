//! The SSH transport against real sshd processes (the test fleet).

use crate::support;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use relman::remote::ssh::{self, SshTransport};
use relman::remote::{ExecOutput, RemoteError, Transport};
use sha2::{Digest, Sha256};
use support::{Fleet, Kill, wait_until};

/// A hang is a failure too: runs `f` on a thread and fails if it has not finished
/// long after it should have (no timing is asserted, only "it ended").
fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("{what} did not finish (hang?)"))
}

fn connect(fleet: &Fleet, i: usize) -> SshTransport {
    SshTransport::connect(&fleet.config(), &fleet.host_config(i))
        .unwrap_or_else(|e| panic!("connect to {}: {e}", fleet.name(i)))
}

fn exec(t: &dyn Transport, cmd: &str) -> ExecOutput {
    t.exec(cmd, &mut std::io::empty(), &mut |_| {})
        .unwrap_or_else(|e| panic!("exec {cmd:?}: {e}"))
}

/// Deterministic pseudo-random bytes (xorshift), so content errors show.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn exec_returns_output_and_exit_status() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    assert_eq!(t.host(), "h1");
    let out = exec(&t, "echo hello; echo oops >&2; exit 3");
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(out.stderr, b"oops\n");
    assert_eq!(out.status, Some(3));
    let out = exec(&t, "true");
    assert!(out.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn stdin_of_8_mb_round_trips_its_sha256() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let data = noise(8 << 20);
    let want = hex::encode(Sha256::digest(&data));
    let mut seen = Vec::new();
    let out = t
        .exec("sha256sum", &mut &data[..], &mut |n| seen.push(n))
        .expect("exec sha256sum");
    assert_eq!(out.status, Some(0), "{}", out.stderr_line());
    let got = String::from_utf8_lossy(&out.stdout);
    assert_eq!(got.split_whitespace().next(), Some(want.as_str()));
    assert_eq!(seen.last().copied(), Some(data.len() as u64));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "progress goes up");
}

#[test]
fn large_stderr_and_stdout_do_not_deadlock() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let out = finishes("3 MB on stderr then stdout", move || {
        exec(
            &t,
            "head -c 3000000 /dev/zero | tr '\\0' e >&2; head -c 3000000 /dev/zero | tr '\\0' o",
        )
    });
    assert_eq!(out.status, Some(0));
    assert_eq!(out.stderr.len(), 3_000_000);
    assert_eq!(out.stdout.len(), 3_000_000);
    assert!(out.stderr.iter().all(|&b| b == b'e'));
    assert!(out.stdout.iter().all(|&b| b == b'o'));
}

#[test]
fn big_input_and_big_output_at_once() {
    // The command echoes its 6 MB input on stdout and stderr while we still send.
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let data = noise(6 << 20);
    let expect = data.clone();
    let out = finishes("tee of 6 MB", move || {
        t.exec("tee /dev/stderr", &mut &data[..], &mut |_| {})
            .expect("exec tee")
    });
    assert_eq!(out.status, Some(0));
    assert!(out.stdout == expect, "stdout differs");
    assert!(out.stderr == expect, "stderr differs");
}

#[test]
fn command_killed_by_a_signal_has_no_status() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let out = exec(&t, "echo before; kill -9 $$");
    assert_eq!(out.stdout, b"before\n");
    assert_eq!(out.status, None);
    let out = exec(&t, "kill -TERM $$");
    assert_eq!(out.status, None);
    // The connection is still usable afterwards.
    assert_eq!(exec(&t, "exit 0").status, Some(0));
}

#[test]
fn command_exiting_before_reading_its_input_reports_its_status() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let data = noise(8 << 20);
    let out = finishes("exit without reading 8 MB", move || {
        let a = t.exec("exit 7", &mut &data[..], &mut |_| {});
        let b = t.exec(
            "head -c 10 >/dev/null; echo read; exit 5",
            &mut &data[..],
            &mut |_| {},
        );
        (a, b)
    });
    assert_eq!(out.0.expect("exit 7").status, Some(7));
    let b = out.1.expect("head -c 10");
    assert_eq!(b.status, Some(5));
    assert_eq!(b.stdout, b"read\n");
}

#[test]
fn command_closing_its_output_early_still_gets_all_input() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let data = noise(3 << 20);
    let file = fleet.dir().join("received");
    let cmd = format!("exec >&- 2>&-; cat > '{}'", file.display());
    let out = finishes("cat with closed output", {
        let data = data.clone();
        move || t.exec(&cmd, &mut &data[..], &mut |_| {}).expect("exec")
    });
    assert_eq!(out.status, Some(0));
    assert!(fs::read(&file).expect("received file") == data);
}

#[test]
fn unknown_host_key_is_refused_before_anything_runs() {
    let fleet = Fleet::start(1);
    let mut cfg = fleet.config();
    cfg.known_hosts = fleet.dir().join("no-such-known_hosts");
    let err = SshTransport::connect(&cfg, &fleet.host_config(0))
        .err()
        .expect("connect must fail");
    match &err {
        RemoteError::UnknownHostKey {
            name, fingerprint, ..
        } => {
            assert_eq!(name, "h1");
            assert_eq!(format!("SHA256:{fingerprint}"), fleet.host_fingerprint(0));
        }
        e => panic!("expected UnknownHostKey, got {e:?}"),
    }
    assert!(err.is_unreachable());
    assert!(
        err.to_string().contains(&fleet.host_fingerprint(0)),
        "{err}"
    );
    // An empty file is the same as a missing one.
    fs::write(&cfg.known_hosts, "# nothing yet\n").unwrap();
    let err = SshTransport::connect(&cfg, &fleet.host_config(0)).err();
    assert!(
        matches!(err, Some(RemoteError::UnknownHostKey { .. })),
        "{err:?}"
    );
    assert_eq!(fleet.exec_count(0), 0);
    assert_eq!(fleet.auth_count(0), 0);
}

#[test]
fn changed_host_key_is_refused() {
    let fleet = Fleet::start(1);
    let other = fleet.dir().join("other_key");
    support::keygen(&other, "impostor");
    let public = fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut f = public.split_whitespace();
    let (kt, key) = (f.next().unwrap(), f.next().unwrap());
    let kh = fleet.dir().join("kh_changed");
    fs::write(
        &kh,
        format!("# a comment\n[127.0.0.1]:{} {kt} {key}\n", fleet.port(0)),
    )
    .unwrap();
    let mut cfg = fleet.config();
    cfg.known_hosts = kh;
    let err = SshTransport::connect(&cfg, &fleet.host_config(0)).err();
    match &err {
        Some(RemoteError::ChangedHostKey { fingerprint, .. }) => {
            assert_eq!(format!("SHA256:{fingerprint}"), fleet.host_fingerprint(0));
        }
        e => panic!("expected ChangedHostKey, got {e:?}"),
    }
    assert_eq!(fleet.auth_count(0), 0);
}

#[test]
fn host_known_only_under_another_key_type_is_a_type_mismatch() {
    let fleet = Fleet::start(1);
    let ecdsa = fleet.dir().join("ecdsa_key");
    support::run(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ecdsa", "-N", "", "-f"])
            .arg(&ecdsa),
    );
    let public = fs::read_to_string(ecdsa.with_extension("pub")).unwrap();
    let mut f = public.split_whitespace();
    let (kt, key) = (f.next().unwrap(), f.next().unwrap());
    let kh = fleet.dir().join("kh_ecdsa");
    fs::write(&kh, format!("[127.0.0.1]:{} {kt} {key}\n", fleet.port(0))).unwrap();
    let mut cfg = fleet.config();
    cfg.known_hosts = kh;
    let err = SshTransport::connect(&cfg, &fleet.host_config(0)).err();
    match &err {
        Some(RemoteError::HostKeyTypeMismatch { key_type, .. }) => {
            assert_eq!(key_type, "ssh-ed25519")
        }
        e => panic!("expected HostKeyTypeMismatch, got {e:?}"),
    }
}

#[test]
fn key_for_another_port_does_not_count() {
    // `127.0.0.1` (port 22) and `[127.0.0.1]:9` entries say nothing about our port.
    let fleet = Fleet::start(1);
    let line = fs::read_to_string(fleet.known_hosts()).unwrap();
    let kh = fleet.dir().join("kh_ports");
    let port = format!("[127.0.0.1]:{}", fleet.port(0));
    fs::write(
        &kh,
        format!(
            "{}{}",
            line.replace(&port, "127.0.0.1"),
            line.replace(&port, "[127.0.0.1]:9")
        ),
    )
    .unwrap();
    let mut cfg = fleet.config();
    cfg.known_hosts = kh;
    let err = SshTransport::connect(&cfg, &fleet.host_config(0)).err();
    assert!(
        matches!(err, Some(RemoteError::UnknownHostKey { .. })),
        "{err:?}"
    );
}

#[test]
fn hashed_known_hosts_entries_work() {
    let fleet = Fleet::start(1);
    let kh = fleet.dir().join("kh_hashed");
    fs::copy(fleet.known_hosts(), &kh).unwrap();
    support::run(
        std::process::Command::new("ssh-keygen")
            .arg("-H")
            .arg("-f")
            .arg(&kh),
    );
    assert!(fs::read_to_string(&kh).unwrap().starts_with("|1|"));
    let mut cfg = fleet.config();
    cfg.known_hosts = kh;
    let t = SshTransport::connect(&cfg, &fleet.host_config(0)).expect("hashed entry matches");
    assert_eq!(exec(&t, "echo ok").stdout, b"ok\n");
}

#[test]
fn wrong_client_key_is_an_auth_error() {
    let fleet = Fleet::start(1);
    let wrong = fleet.dir().join("wrong_key");
    support::keygen(&wrong, "wrong");
    let mut host = fleet.host_config(0);
    host.identities = vec![wrong.clone(), fleet.dir().join("missing_key")];
    let err = SshTransport::connect(&fleet.config(), &host).err();
    match &err {
        Some(RemoteError::Auth { detail, .. }) => {
            assert!(detail.contains("wrong_key: refused"), "{detail}");
            assert!(detail.contains("missing_key: no such file"), "{detail}");
        }
        e => panic!("expected Auth, got {e:?}"),
    }
    assert!(err.unwrap().is_unreachable());
    assert_eq!(fleet.exec_count(0), 0);
}

#[test]
fn encrypted_key_without_agent_says_so() {
    let fleet = Fleet::start(1);
    let enc = fleet.dir().join("enc_key");
    support::run(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "secret", "-f"])
            .arg(&enc),
    );
    let mut host = fleet.host_config(0);
    host.identities = vec![enc];
    let err = SshTransport::connect(&fleet.config(), &host).err();
    match &err {
        Some(RemoteError::Auth { detail, .. }) => {
            assert!(detail.contains("encrypted"), "{detail}")
        }
        e => panic!("expected Auth, got {e:?}"),
    }
}

#[test]
fn stopped_sshd_is_a_connect_error() {
    let mut fleet = Fleet::start(1);
    fleet.stop(0);
    let err = SshTransport::connect(&fleet.config(), &fleet.host_config(0)).err();
    assert!(matches!(err, Some(RemoteError::Connect { .. })), "{err:?}");
    assert!(err.unwrap().is_unreachable());
}

#[test]
fn silent_port_times_out_instead_of_hanging() {
    // A listener that accepts and never speaks: the handshake must give up.
    let fleet = Fleet::start(1);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut host = fleet.host_config(0);
    host.port = l.local_addr().unwrap().port();
    let mut cfg = fleet.config();
    cfg.connect_timeout = Duration::from_secs(1);
    let err = finishes("handshake with a silent port", move || {
        let r = SshTransport::connect(&cfg, &host).err();
        drop(l);
        r
    });
    assert!(matches!(err, Some(RemoteError::Timeout { .. })), "{err:?}");
}

#[test]
fn proxy_jump_chain_starts_at_its_first_hop() {
    // Issue 14: a chain is followed (tests/ssh_fidelity.rs has two real hops); a
    // first hop that can't be reached is named, as unreachable.
    let fleet = Fleet::start(1);
    let mut host = fleet.host_config(0);
    host.jump = Some("outer.invalid,inner.invalid".into());
    let err = SshTransport::connect(&fleet.config(), &host).err();
    match err {
        Some(e @ RemoteError::Connect { .. }) => {
            let m = e.to_string();
            assert!(m.contains("jump host outer.invalid"), "{m}");
        }
        e => panic!("expected Connect, got {e:?}"),
    }
}

#[test]
fn spawn_reads_and_writes_lines_and_dies_with_its_handle() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let pidfile = fleet.dir().join("spawned.pid");
    let cmd = format!(
        "echo $$ > '{}'; echo ready; while read l; do echo \"got $l\"; done",
        pidfile.display()
    );
    let mut p = t.spawn(&cmd).expect("spawn");
    assert_eq!(p.read_line().unwrap().as_deref(), Some("ready"));
    p.write_all(b"one\n").unwrap();
    assert_eq!(p.read_line().unwrap().as_deref(), Some("got one"));
    p.write_all(b"two\nthree\n").unwrap();
    assert_eq!(p.read_line().unwrap().as_deref(), Some("got two"));
    assert_eq!(p.read_line().unwrap().as_deref(), Some("got three"));
    let pid = fs::read_to_string(&pidfile).unwrap().trim().to_string();
    let alive = |pid: &str| {
        std::process::Command::new("kill")
            .args(["-0", pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(alive(&pid));
    // The main connection is free while the process runs.
    assert_eq!(exec(&t, "echo side").stdout, b"side\n");
    drop(p);
    assert!(
        wait_until(Duration::from_secs(10), || !alive(&pid)),
        "remote process {pid} survived its handle"
    );
}

#[test]
fn spawned_process_end_of_output_is_none() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let mut p = t.spawn("echo a; printf b").expect("spawn");
    assert_eq!(p.read_line().unwrap().as_deref(), Some("a"));
    assert_eq!(p.read_line().unwrap().as_deref(), Some("b"));
    assert_eq!(p.read_line().unwrap(), None);
    // Once the end is known (the server's close follows the EOF), writes fail.
    assert!(wait_until(Duration::from_secs(10), || p
        .write_all(b"late\n")
        .is_err()));
}

#[test]
fn spawn_is_not_stuck_behind_a_long_exec() {
    let fleet = Fleet::start(1);
    let t = std::sync::Arc::new(connect(&fleet, 0));
    let flag = fleet.dir().join("release-the-exec");
    let cmd = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done; echo done",
        flag.display()
    );
    let t2 = t.clone();
    let long = thread::spawn(move || exec(&*t2, &cmd));
    // While the exec holds the main connection, spawn works on its own one.
    let mut p = t.spawn("echo hi").expect("spawn");
    assert_eq!(p.read_line().unwrap().as_deref(), Some("hi"));
    fs::write(&flag, "").unwrap();
    assert_eq!(long.join().unwrap().stdout, b"done\n");
}

#[test]
fn handshakes_are_counted() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    assert_eq!(t.handshakes(), 1);
    exec(&t, "true");
    exec(&t, "true");
    assert_eq!(t.handshakes(), 1);
    assert_eq!(fleet.auth_count(0), 1);
    assert_eq!(fleet.exec_count(0), 2);
    let p = t.spawn("cat").expect("spawn");
    assert_eq!(t.handshakes(), 2);
    drop(p);
    exec(&t, "true");
    assert_eq!(t.handshakes(), 2);
}

#[test]
fn broken_connection_is_replaced_at_the_next_exec() {
    let mut fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    exec(&t, "true");
    fleet.restart(0); // kills the sessions too
    let out = exec(&t, "echo again");
    assert_eq!(out.stdout, b"again\n");
    assert_eq!(t.handshakes(), 2);
    fleet.stop(0);
    let err = t.exec("true", &mut std::io::empty(), &mut |_| {}).err();
    assert!(matches!(err, Some(RemoteError::Connect { .. })), "{err:?}");
}

#[test]
fn transport_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SshTransport>();
}

#[test]
fn host_key_and_trust_let_connect_succeed() {
    let fleet = Fleet::start(1);
    let mut cfg = fleet.config();
    let kh = fleet.dir().join("trust").join("known_hosts");
    cfg.known_hosts = kh.clone();
    let info = ssh::host_key(&cfg, &fleet.host_config(0)).expect("host_key");
    assert_eq!(info.key_type, "ssh-ed25519");
    assert_eq!(info.fingerprint, fleet.host_fingerprint(0));
    assert!(
        info.known_hosts_line
            .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", fleet.port(0))),
        "{}",
        info.known_hosts_line
    );
    // No authentication happened.
    assert_eq!(fleet.auth_count(0), 0);
    ssh::append_known_host(&kh, &info.known_hosts_line).unwrap();
    let t = SshTransport::connect(&cfg, &fleet.host_config(0)).expect("trusted now");
    assert_eq!(exec(&t, "echo ok").stdout, b"ok\n");
}

#[test]
fn append_known_host_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    fs::write(&kh, "# keep me\nhost1 ssh-ed25519 AAAA").unwrap();
    ssh::append_known_host(&kh, "[h]:2222 ssh-ed25519 BBBB\n").unwrap();
    ssh::append_known_host(&kh, "h3 ssh-ed25519 CCCC").unwrap();
    assert_eq!(
        fs::read_to_string(&kh).unwrap(),
        "# keep me\nhost1 ssh-ed25519 AAAA\n[h]:2222 ssh-ed25519 BBBB\nh3 ssh-ed25519 CCCC\n"
    );
    assert!(ssh::append_known_host(&kh, "two\nlines").is_err());
    assert!(ssh::append_known_host(&kh, "  ").is_err());
}

#[test]
fn fleet_runs_commands_as_configured() {
    // The fleet itself: each host has its own key and port, sh() runs locally.
    let fleet = Fleet::start(2);
    assert_ne!(fleet.port(0), fleet.port(1));
    assert_ne!(fleet.host_fingerprint(0), fleet.host_fingerprint(1));
    assert_eq!(fleet.name(1), "h2");
    assert!(!fleet.root(1).exists());
    assert_eq!(fleet.sh(1, "mkdir -p \"$ROOT\" && echo \"$HOST\""), "h2\n");
    assert!(fleet.root(1).is_dir());
    let t = connect(&fleet, 1);
    let out = exec(
        &t,
        &format!("ls '{}'", fleet.root(1).parent().unwrap().display()),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("deploy"));
    let toml = fs::read_to_string(fleet.config_path()).unwrap();
    assert!(toml.contains(&format!("port = {}", fleet.port(1))));
    let _ = Path::new(env!("CARGO_BIN_EXE_relman"));
    let mut buf = String::new();
    fs::File::open(fleet.known_hosts())
        .unwrap()
        .read_to_string(&mut buf)
        .unwrap();
    assert_eq!(buf.lines().count(), 2);
}

/// The agent is found through `SSH_AUTH_SOCK`, which is process-wide: the
/// connecting half runs in a child process of this test binary with it set.
const AGENT_CHILD: &str = "RELMAN_TEST_AGENT_CHILD";

#[test]
fn agent_is_tried_with_every_key_it_holds() {
    if let Ok(spec) = std::env::var(AGENT_CHILD) {
        // Child: "port|known_hosts|user|expect", no identity files, empty HOME.
        let f: Vec<&str> = spec.split('|').collect();
        let home = tempfile::tempdir().unwrap();
        let cfg = relman::config::Config {
            connect_timeout: Duration::from_secs(3),
            known_hosts: f[1].into(),
            env: relman::config::Env {
                home: Some(home.path().to_path_buf()),
                user: Some(f[2].to_string()),
            },
            ..relman::config::Config::default()
        };
        let host = relman::config::HostConfig {
            name: "h1".into(),
            address: relman::config::Address::Ssh {
                host: "127.0.0.1".into(),
            },
            port: f[0].parse().unwrap(),
            user: f[2].to_string(),
            identities: vec![],
            jump: None,
            groups: vec![],
            root: "deploy".into(),
            link: "batch".into(),
            prefix: "batch_".into(),
            job_scan: Default::default(),
            ssh: Default::default(),
        };
        match (SshTransport::connect(&cfg, &host), f[3]) {
            (Ok(t), "ok") => assert_eq!(exec(&t, "echo via-agent").stdout, b"via-agent\n"),
            (Err(RemoteError::Auth { detail, .. }), "refused") => {
                assert!(detail.contains("ssh-agent: 1 key(s) refused"), "{detail}")
            }
            (r, want) => panic!("wanted {want}, got {:?}", r.err()),
        }
        return;
    }
    let fleet = Fleet::start(1);
    let wrong = fleet.dir().join("agent_wrong_key");
    support::keygen(&wrong, "wrong");
    let run_child = |sock: &Path, expect: &str| {
        let spec = format!(
            "{}|{}|{}|{expect}",
            fleet.port(0),
            fleet.known_hosts().display(),
            fleet.user()
        );
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &support::test_path(module_path!(), "agent_is_tried_with_every_key_it_holds"),
                "--nocapture",
            ])
            .env(AGENT_CHILD, spec)
            .env("SSH_AUTH_SOCK", sock)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child ({expect}) failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // A test name that matched nothing would pass too: the child must have run it.
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "child ({expect}) did not run the test:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    let sock = fleet.dir().join("agent.sock");
    let agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent");
    let _agent = Kill(agent);
    assert!(wait_until(Duration::from_secs(10), || sock.exists()));
    let add = |key: &Path| {
        support::run(
            std::process::Command::new("ssh-add")
                .arg(key)
                .env("SSH_AUTH_SOCK", &sock),
        );
    };
    add(&wrong);
    run_child(&sock, "refused");
    // The right key comes second: libssh2 alone would only try the first.
    add(fleet.client_key());
    run_child(&sock, "ok");
    assert_eq!(fleet.exec_count(0), 1);
}

/// A rendered script (a `{ }` group), as `remote::run` sends it.
fn script(body: &'static str) -> String {
    relman::remote::script::Script::bare(body).render().unwrap()
}

fn run_script(t: &dyn Transport, body: &'static str) -> ExecOutput {
    t.run_script(&script(body))
        .unwrap_or_else(|e| panic!("script {body:?}: {e}"))
}

/// Scripts run one after another in one session shell (`ssh::shell`): one exec for
/// all of them (the login shell starts once), each with its own exact stdout (a
/// last line without newline, more than a channel window), stderr and status.
#[test]
fn scripts_share_one_session_shell_with_exact_output() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let before = fleet.exec_count(0);
    let a = run_script(
        &t,
        "printf 'one\\ntwo'; printf 'e1\\ne2\\n' >&2; echo \"$PPID\" >&2; exit 7",
    );
    assert_eq!(a.stdout, b"one\ntwo");
    let err = String::from_utf8(a.stderr).unwrap();
    let mut lines = err.lines();
    assert_eq!((lines.next(), lines.next()), (Some("e1"), Some("e2")));
    let shell_pid = lines.next().unwrap().to_string();
    assert_eq!(a.status, Some(7));
    let b = run_script(
        &t,
        "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo \"$PPID\"",
    );
    let text = String::from_utf8(b.stdout).unwrap();
    let (big, pid) = text.split_once('\n').unwrap();
    assert_eq!(big.len(), 3_000_000);
    assert!(big.bytes().all(|c| c == b'x'));
    assert_eq!(pid.trim(), shell_pid, "the same shell ran both");
    assert_eq!(b.status, Some(0));
    assert!(b.stderr.is_empty());
    let c = run_script(&t, "pwd -P");
    assert_eq!(
        fleet.exec_count(0) - before,
        1,
        "one exec for three scripts"
    );
    assert_eq!(
        c.stdout,
        exec(&t, "pwd -P").stdout,
        "from the home, as an exec"
    );
    assert_eq!(t.handshakes(), 1);
}

/// A session shell that died while idle (killed, as an OOM killer or an admin
/// would) is replaced before the next script is sent: the script runs once, on a
/// fresh connection. One killed while a script runs is an error (what the script
/// did is unknown), and the next script gets a new shell.
#[test]
fn a_dead_session_shell_is_replaced_and_a_lost_script_is_an_error() {
    let fleet = Fleet::start(1);
    let t = connect(&fleet, 0);
    let pid = |t: &SshTransport| {
        String::from_utf8(run_script(t, "echo \"$PPID\"").stdout)
            .unwrap()
            .trim()
            .to_string()
    };
    let first = pid(&t);
    let out = std::process::Command::new("kill")
        .args(["-KILL", &first])
        .status()
        .unwrap();
    assert!(out.success());
    assert!(
        wait_until(Duration::from_secs(10), || !Path::new(&format!(
            "/proc/{first}"
        ))
        .exists()),
        "the shell is gone"
    );
    let marker = fleet.dir().join("ran-once");
    let _ = fs::remove_file(&marker);
    let body: &'static str =
        Box::leak(format!("echo x >> '{}'; echo \"$PPID\"", marker.display()).into_boxed_str());
    let second = String::from_utf8(run_script(&t, body).stdout).unwrap();
    assert_ne!(second.trim(), first, "a new shell");
    assert_eq!(
        fs::read_to_string(&marker).unwrap(),
        "x\n",
        "run exactly once"
    );
    assert_eq!(t.handshakes(), 2, "on a fresh connection");

    let e = t
        .run_script(&script("kill -KILL \"$PPID\"; sleep 1; echo late"))
        .err();
    assert!(
        matches!(&e, Some(RemoteError::Session(m)) if m.contains("session shell ended")),
        "{e:?}"
    );
    assert_eq!(run_script(&t, "echo again").stdout, b"again\n");
}
