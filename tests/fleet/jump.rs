//! ProxyJump through a real bastion: h1's sshd is the jump host (LogLevel DEBUG, so its
//! log shows every direct-tcpip forwarding); h2 and h3 listen on 127.0.0.2, named in
//! relman's config only with `jump = "bastion"` (an `~/.ssh/config` alias). Reads,
//! deploys, one bastion login for all hosts behind it, both host keys checked, and
//! recovery when the target or the bastion restarts.

use crate::support;

use std::fs;
use std::process::{Output, Stdio};

use relman::config::Config;
use relman::remote::ssh::SshTransport;
use relman::remote::{RemoteError, Transport};
use serde_json::Value;
use support::{Fleet, HostOptions, toml_str};

const BASTION: usize = 0;
const REL: &str = "batch_20261126221500";

fn fleet() -> Fleet {
    let bastion = HostOptions {
        log_level: "DEBUG".into(),
        ..HostOptions::default()
    };
    let target = HostOptions {
        listen: "127.0.0.2".into(),
        ..HostOptions::default()
    };
    let f = Fleet::start_with(&[bastion, target.clone(), target]);
    // The bastion is an ~/.ssh/config alias, as operators write it.
    fs::write(
        f.home().join(".ssh/config"),
        format!(
            "Host bastion\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n",
            f.port(BASTION),
            f.user(),
            f.client_key().display()
        ),
    )
    .unwrap();
    // relman's config lists only the hosts behind the bastion.
    let mut toml = format!(
        "connect_timeout = \"3s\"\nknown_hosts = {}\n",
        toml_str(&f.known_hosts().display().to_string())
    );
    for i in 1..f.len() {
        toml.push_str(&format!(
            "\n[[hosts]]\nname = {}\naddress = \"127.0.0.2\"\nport = {}\nuser = {}\n\
             identity = {}\nroot = {}\njump = \"bastion\"\n",
            toml_str(f.name(i)),
            f.port(i),
            toml_str(f.user()),
            toml_str(&f.client_key().display().to_string()),
            toml_str(&f.root(i).display().to_string()),
        ));
    }
    fs::write(f.config_path(), toml).unwrap();
    for i in 1..f.len() {
        f.sh(
            i,
            &format!("mkdir -p \"$ROOT/{REL}\" && ln -s {REL} \"$ROOT/batch\""),
        );
    }
    f
}

/// The config as `relman` loads it (with the fleet's `~/.ssh/config`).
fn loaded(f: &Fleet) -> Config {
    let text = fs::read_to_string(f.config_path()).unwrap();
    let ssh = fs::read_to_string(f.home().join(".ssh/config")).unwrap();
    let mut cfg = Config::parse(&text, f.config_path(), Some(&ssh)).unwrap();
    cfg.env.home = Some(f.home().to_path_buf());
    cfg
}

/// Forwardings the bastion made to target i (sshd at DEBUG logs
/// `server_request_direct_tcpip: originator A port P, target T port Q`).
fn forwards(f: &Fleet, i: usize) -> usize {
    let needle = format!("target 127.0.0.2 port {}", f.port(i));
    f.log(BASTION)
        .lines()
        .filter(|l| l.contains("server_request_direct_tcpip") && l.contains(&needle))
        .count()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn list_and_deploy_go_through_one_shared_bastion_session() {
    let mut f = fleet();

    let o = f.relman().args(["list", "--json"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    for (k, i) in [1, 2].into_iter().enumerate() {
        let h = &v["hosts"][k];
        assert_eq!(h["name"], f.name(i));
        assert_eq!(h["ok"], true, "{h}");
        assert_eq!(h["current"], REL);
        assert_eq!(forwards(&f, i), 1, "the bastion forwarded to {}", f.name(i));
        assert_eq!(f.auth_count(i), 1);
    }
    assert_eq!(f.auth_count(BASTION), 1, "one bastion login for both hosts");
    assert_eq!(f.exec_count(BASTION), 0, "nothing runs on the bastion");

    // A deploy takes the same way (its lock holder and uploads included).
    let app = f.dir().join("app.txt");
    fs::write(&app, "through the bastion\n").unwrap();
    let o = f
        .relman()
        .args(["deploy", "--all", "--json", app.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    let name = v["release"].as_str().expect("release name").to_string();
    for i in [1, 2] {
        let live = fs::read_link(f.root(i).join("batch")).unwrap();
        assert_eq!(live.to_str(), Some(name.as_str()));
        assert_eq!(
            fs::read_to_string(f.root(i).join(&name).join("app.txt")).unwrap(),
            "through the bastion\n"
        );
        assert!(forwards(&f, i) >= 2);
    }
    assert_eq!(f.auth_count(BASTION), 2, "one bastion login per relman run");

    // Without the bastion the targets (still running) cannot be reached.
    f.stop(BASTION);
    let o = f.relman().args(["list", "--json"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    let err = v["hosts"][0]["error"].as_str().unwrap();
    assert!(err.contains("jump host bastion"), "{err}");
}

#[test]
fn lasting_sessions_behind_a_bastion_survive_restarts_of_either_side() {
    let mut f = fleet();
    let cfg = loaded(&f);
    let t2 = SshTransport::connect(&cfg, &cfg.hosts[0]).unwrap();
    let t3 = SshTransport::connect(&cfg, &cfg.hosts[1]).unwrap();
    let run = |t: &SshTransport, cmd: &str| {
        let o = t
            .exec(cmd, &mut std::io::empty(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", t.host()));
        String::from_utf8(o.stdout).unwrap()
    };
    for _ in 0..5 {
        assert_eq!(run(&t2, "echo two"), "two\n");
        assert_eq!(run(&t3, "echo three"), "three\n");
    }
    assert_eq!((t2.handshakes(), t3.handshakes()), (1, 1));
    assert_eq!(f.auth_count(BASTION), 1);

    // Big output through the relay, both ways at once.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let o = t2.exec("cat", &mut &data[..], &mut |_| {}).unwrap();
    assert!(o.stdout == data, "3 MB echoed intact through the bastion");

    // The target restarts: the next exec reconnects through the same bastion session.
    f.restart(1);
    assert_eq!(run(&t2, "echo again"), "again\n");
    assert_eq!(t2.handshakes(), 2);
    assert_eq!(f.auth_count(BASTION), 1);

    // The bastion restarts: both hosts reconnect through a new bastion session.
    f.restart(BASTION);
    assert_eq!(run(&t2, "echo two"), "two\n");
    assert_eq!(run(&t3, "echo three"), "three\n");
    assert_eq!((t2.handshakes(), t3.handshakes()), (3, 2));
    assert_eq!(f.auth_count(BASTION), 2);

    // A spawned process (the lock holder) runs on its own channel.
    let mut p = t3.spawn("echo ready; read l; echo got $l").unwrap();
    assert_eq!(p.read_line().unwrap().as_deref(), Some("ready"));
    p.write_all(b"x\n").unwrap();
    assert_eq!(p.read_line().unwrap().as_deref(), Some("got x"));
}

#[test]
fn bastion_host_key_is_checked_under_its_own_name() {
    let f = fleet();
    // known_hosts without the bastion's entry.
    let kh = f.dir().join("known_hosts_without_bastion");
    let text = fs::read_to_string(f.known_hosts()).unwrap();
    let bastion = format!("[127.0.0.1]:{} ", f.port(BASTION));
    let keep: String = text
        .lines()
        .filter(|l| !l.starts_with(&bastion))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&kh, keep).unwrap();
    let mut cfg = loaded(&f);
    cfg.known_hosts = kh.clone();
    let e = SshTransport::connect(&cfg, &cfg.hosts[0])
        .err()
        .expect("refused");
    assert!(e.is_unreachable(), "{e}");
    let m = e.to_string();
    assert!(m.contains("jump host bastion"), "{m}");
    assert!(m.contains("unknown"), "{m}");
    assert!(m.contains(&f.host_fingerprint(BASTION)), "{m}");
    assert_eq!(
        f.auth_count(BASTION),
        0,
        "nothing sent before the key check"
    );

    // The bastion known, the target not: the target's key is what is refused.
    let target = format!("[127.0.0.2]:{} ", f.port(1));
    let keep: String = text
        .lines()
        .filter(|l| !l.starts_with(&target))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&kh, keep).unwrap();
    match SshTransport::connect(&cfg, &cfg.hosts[0]).err() {
        Some(RemoteError::UnknownHostKey { name, host, .. }) => {
            assert_eq!(name, "h2");
            assert!(host.contains("via jump host bastion"), "{host}");
        }
        e => panic!("expected the target's key refused, got {e:?}"),
    }
    assert_eq!(f.auth_count(1), 0);

    // `relman trust` reads the target's key through the bastion, under its own name.
    let info = relman::remote::ssh::host_key(&cfg, &cfg.hosts[0]).expect("key through the bastion");
    assert_eq!(info.fingerprint, f.host_fingerprint(1));
    assert!(
        info.known_hosts_line
            .starts_with(&format!("[127.0.0.2]:{} ", f.port(1))),
        "{}",
        info.known_hosts_line
    );
    relman::remote::ssh::append_known_host(&kh, &info.known_hosts_line).unwrap();
    SshTransport::connect(&cfg, &cfg.hosts[0]).expect("trusted now");
}

#[test]
fn chains_of_jump_hosts_go_through_each_hop() {
    // Issue 14: a chain is followed (tests/ssh_fidelity.rs has the two-hop case);
    // a second hop the bastion cannot reach is named as such.
    let f = fleet();
    let mut cfg = loaded(&f);
    cfg.hosts[0].jump = Some("bastion,other.invalid".into());
    let e = SshTransport::connect(&cfg, &cfg.hosts[0])
        .err()
        .expect("refused");
    let m = e.to_string();
    assert!(e.is_unreachable(), "{m}");
    assert!(m.contains("jump host other.invalid"), "{m}");
    assert_eq!(f.auth_count(BASTION), 1, "the first hop was not used");
}
