//! SSH as OpenSSH does it (issue 14 §1), against real sshd hosts: known_hosts markers
//! (`@revoked`, `@cert-authority`) and the global known_hosts file, `trust`'s
//! guards, an ssh-agent holding more keys than sshd's `MaxAuthTries`, and
//! `IdentitiesOnly`.

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use support::{Fleet, keygen, toml_str, wait_until};

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// What relman said, stdout (list's table shows each host's error) and stderr.
fn stderr(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `type base64` of a `.pub` file.
fn pub_fields(key: &Path) -> (String, String) {
    let text = fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut f = text.split_whitespace();
    (f.next().unwrap().to_string(), f.next().unwrap().to_string())
}

/// The fleet's config with its top-level `known_hosts` line replaced by `top`
/// (which may set `known_hosts`, `global_known_hosts`, `identities_only`...).
fn config_with_top(f: &Fleet, name: &str, top: &str) -> PathBuf {
    let text = f.config_toml();
    let kh_line = format!(
        "known_hosts = {}\n",
        toml_str(&f.known_hosts().display().to_string())
    );
    assert!(text.contains(&kh_line), "{text}");
    let p = f.dir().join(format!("{name}.toml"));
    fs::write(&p, text.replacen(&kh_line, top, 1)).unwrap();
    p
}

fn kh_top(user: &Path, global: &Path) -> String {
    format!(
        "known_hosts = {}\nglobal_known_hosts = {}\n",
        toml_str(&user.display().to_string()),
        toml_str(&global.display().to_string())
    )
}

fn relman(f: &Fleet, cfg: &Path, args: &[&str]) -> Output {
    f.relman()
        .env("RELMAN_CONFIG", cfg)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The line known_hosts needs for host i (`[127.0.0.1]:port type key`).
fn host_line(f: &Fleet, i: usize) -> String {
    let (t, k) = pub_fields(&f.host(i).host_key);
    format!("[127.0.0.1]:{} {t} {k}", f.port(i))
}

#[test]
fn revoked_host_key_is_refused_before_auth_naming_file_and_line() {
    let f = Fleet::start(2);
    let (t, k) = pub_fields(&f.host(0).host_key);
    // The key is both trusted (line 1) and revoked (line 3): OpenSSH refuses it.
    let kh = f.dir().join("kh_revoked");
    fs::write(
        &kh,
        format!(
            "{}\n{}\n@revoked [127.0.0.1]:{} {t} {k}\n",
            host_line(&f, 0),
            host_line(&f, 1),
            f.port(0)
        ),
    )
    .unwrap();
    let none = f.dir().join("no_global");
    let cfg = config_with_top(&f, "revoked", &kh_top(&kh, &none));
    let auths = f.auth_count(0);
    let out = relman(&f, &cfg, &["--host", "h1", "list"]);
    let msg = stderr(&out);
    assert_eq!(code(&out), 3, "{msg}");
    assert!(
        msg.contains("REVOKED HOST KEY DETECTED")
            && msg.contains(&format!("{}:3", kh.display()))
            && msg.contains(&f.host_fingerprint(0)),
        "{msg}"
    );
    assert_eq!(
        f.auth_count(0),
        auths,
        "relman logged in with a revoked key"
    );
    // h2 is not revoked.
    let out = relman(&f, &cfg, &["--host", "h2", "list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // `trust` never adds a revoked key, even with --yes.
    let before = fs::read_to_string(&kh).unwrap();
    let out = relman(&f, &cfg, &["--host", "h1", "trust", "--yes"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("REVOKED"), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&kh).unwrap(), before);

    // `@revoked *` in the global file revokes it for every name.
    let global = f.dir().join("global_revoked");
    fs::write(&global, format!("# fleet-wide\n@revoked * {t} {k}\n")).unwrap();
    let cfg = config_with_top(&f, "revoked_global", &kh_top(f.known_hosts(), &global));
    let out = relman(&f, &cfg, &["--host", "h1", "list"]);
    let msg = stderr(&out);
    assert_eq!(code(&out), 3, "{msg}");
    assert!(
        msg.contains("REVOKED HOST KEY DETECTED")
            && msg.contains(&format!("{}:2", global.display())),
        "{msg}"
    );
    assert_eq!(f.auth_count(0), auths);
}

#[test]
fn global_known_hosts_is_read_after_the_users() {
    let f = Fleet::start(1);
    let user = f.dir().join("kh_empty");
    fs::write(&user, "").unwrap();
    let global = f.dir().join("ssh_known_hosts");
    fs::write(&global, format!("{}\n", host_line(&f, 0))).unwrap();
    let cfg = config_with_top(&f, "global", &kh_top(&user, &global));
    let out = relman(&f, &cfg, &["list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Without it, the key is unknown.
    let cfg = config_with_top(&f, "no_global", &kh_top(&user, &f.dir().join("none")));
    let out = relman(&f, &cfg, &["list"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("is unknown"), "{}", stderr(&out));
    // trust sees the global entry: nothing is appended to the user's file.
    let cfg = config_with_top(&f, "global2", &kh_top(&user, &global));
    let out = relman(&f, &cfg, &["--host", "h1", "trust", "--yes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("already known") && said.contains(&format!("{}:1", global.display())),
        "{said}"
    );
    assert_eq!(fs::read_to_string(&user).unwrap(), "");
}

#[test]
fn cert_authority_host_says_certificates_cannot_be_verified_and_how_to_go_on() {
    let f = Fleet::start(1);
    let ca = f.dir().join("host_ca");
    keygen(&ca, "host-ca");
    let (t, k) = pub_fields(&ca);
    let kh = f.dir().join("kh_ca");
    fs::write(&kh, format!("@cert-authority [127.0.0.1]:* {t} {k}\n")).unwrap();
    let cfg = config_with_top(&f, "ca", &kh_top(&kh, &f.dir().join("none")));
    let out = relman(&f, &cfg, &["list"]);
    let msg = stderr(&out);
    assert_eq!(code(&out), 3, "{msg}");
    assert!(
        msg.contains("@cert-authority")
            && msg.contains(&format!("{}:1", kh.display()))
            && msg.contains("cannot verify host certificates")
            && msg.contains(&f.host_fingerprint(0))
            && msg.contains("relman trust --host h1")
            && !msg.contains("is unknown (not in"),
        "{msg}"
    );
}

#[test]
fn trust_yes_needs_a_named_host_and_never_adds_a_key_twice() {
    let f = Fleet::start(2);
    let kh = f.dir().join("kh_trust");
    fs::write(&kh, "# mine\n").unwrap();
    let cfg = config_with_top(&f, "trust", &kh_top(&kh, &f.dir().join("none")));
    for args in [&["trust", "--yes"][..], &["--all", "trust", "--yes"][..]] {
        let out = relman(&f, &cfg, args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let msg = stderr(&out);
        assert!(msg.contains("--host") && msg.lines().count() == 1, "{msg}");
        assert_eq!(fs::read_to_string(&kh).unwrap(), "# mine\n");
    }
    for _ in 0..2 {
        let out = relman(&f, &cfg, &["--group", "fleet", "trust", "--yes"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let text = fs::read_to_string(&kh).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    for i in 0..2 {
        assert_eq!(text.matches(&host_line(&f, i)).count(), 1, "{text}");
    }
    let out = relman(&f, &cfg, &["--host", "h2", "trust", "--yes"]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("already known ({}:3)", kh.display())),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A changed key is refused by trust too (not added beside the old one).
    let other = f.dir().join("impostor");
    keygen(&other, "impostor");
    let (t, k) = pub_fields(&other);
    fs::write(&kh, format!("[127.0.0.1]:{} {t} {k}\n", f.port(0))).unwrap();
    let out = relman(&f, &cfg, &["--host", "h1", "trust", "--yes"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HOST KEY CHANGED"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read_to_string(&kh).unwrap().lines().count(), 1);
}

/// An ssh-agent of our own on a socket in the fleet dir; killed on drop.
struct Agent(Child, PathBuf);

impl Agent {
    /// Starts an agent and loads `keys` in that order.
    fn with_keys(f: &Fleet, name: &str, keys: &[&Path]) -> Agent {
        let sock = f.dir().join(name);
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent = Agent(child, sock);
        assert!(wait_until(Duration::from_secs(10), || agent.1.exists()));
        for k in keys {
            support::run(
                Command::new("ssh-add")
                    .env("SSH_AUTH_SOCK", &agent.1)
                    .arg(k),
            );
        }
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fleet's config with every host's `identity` set to `identity` (or no
/// identity line) and `top` lines added at the top.
fn config_with_identity(f: &Fleet, name: &str, identity: Option<&Path>, top: &str) -> PathBuf {
    let key_line = format!(
        "identity = {}\n",
        toml_str(&f.client_key().display().to_string())
    );
    let text = f.config_toml();
    assert!(text.contains(&key_line), "{text}");
    let with = identity.map_or(String::new(), |p| {
        format!("identity = {}\n", toml_str(&p.display().to_string()))
    });
    let p = f.dir().join(format!("{name}.toml"));
    fs::write(&p, format!("{top}{}", text.replace(&key_line, &with))).unwrap();
    p
}

/// Six keys the hosts refuse, made once per fleet dir.
fn wrong_keys(f: &Fleet) -> Vec<PathBuf> {
    (1..=6)
        .map(|i| {
            let p = f.dir().join(format!("agent_wrong_{i}"));
            keygen(&p, &format!("wrong-{i}"));
            p
        })
        .collect()
}

fn relman_agent(f: &Fleet, cfg: &Path, agent: &Agent, args: &[&str]) -> Output {
    f.relman()
        .env("RELMAN_CONFIG", cfg)
        .env("SSH_AUTH_SOCK", &agent.1)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn configured_identity_is_offered_first_even_with_seven_keys_in_the_agent() {
    let f = Fleet::start(1);
    // sshd runs with its default MaxAuthTries (6): the fleet's sshd_config sets none.
    let cfg_text = fs::read_to_string(f.host(0).dir.join("sshd_config")).unwrap();
    assert!(!cfg_text.contains("MaxAuthTries"), "{cfg_text}");
    let wrong = wrong_keys(&f);
    let mut keys: Vec<&Path> = wrong.iter().map(PathBuf::as_path).collect();
    keys.push(f.client_key());
    let agent = Agent::with_keys(&f, "agent7.sock", &keys);

    // `ssh -o IdentitiesOnly=yes -i key` gets in; so does relman with the identity configured.
    let cfg = config_with_identity(&f, "id_file", Some(f.client_key()), "");
    let out = relman_agent(&f, &cfg, &agent, &["list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Only the public half beside the configured path: the agent's copy is used.
    let pub_only = f.dir().join("agent_copy");
    fs::copy(
        f.client_key().with_extension("pub"),
        pub_only.with_extension("pub"),
    )
    .unwrap();
    let cfg = config_with_identity(&f, "id_agent_copy", Some(&pub_only), "");
    let out = relman_agent(&f, &cfg, &agent, &["list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // No identity configured: the agent's keys in its order, the right one last,
    // beyond MaxAuthTries: refused, and the error says what was offered in order.
    let cfg = config_with_identity(&f, "no_id", None, "");
    let out = relman_agent(&f, &cfg, &agent, &["list"]);
    let msg = stderr(&out);
    assert_eq!(code(&out), 3, "{msg}");
    assert!(
        msg.contains("keys offered, in order: 1. agent key wrong-1, 2. agent key wrong-2"),
        "{msg}"
    );
}

#[test]
fn identities_only_offers_only_the_configured_identities() {
    let f = Fleet::start(1);
    let wrong = wrong_keys(&f);
    // The agent holds the right key, but the configured identity is a wrong one.
    let agent = Agent::with_keys(&f, "agent_io.sock", &[f.client_key()]);
    let cfg = config_with_identity(&f, "io_off", Some(&wrong[0]), "");
    let out = relman_agent(&f, &cfg, &agent, &["list"]);
    assert_eq!(
        code(&out),
        0,
        "without IdentitiesOnly the agent's key gets in: {}",
        stderr(&out)
    );

    let expect_only_wrong = |out: &Output, what: &str| {
        let msg = stderr(out);
        assert_eq!(code(out), 3, "{what}: {msg}");
        assert!(
            msg.contains(&format!(
                "keys offered, in order: 1. {}",
                wrong[0].display()
            )) && !msg.contains("agent key")
                && msg.contains("IdentitiesOnly"),
            "{what}: {msg}"
        );
    };
    // relman's own key.
    let cfg = config_with_identity(&f, "io_relman", Some(&wrong[0]), "identities_only = true\n");
    expect_only_wrong(
        &relman_agent(&f, &cfg, &agent, &["list"]),
        "identities_only",
    );
    // ~/.ssh/config's IdentitiesOnly for the host's address.
    fs::write(
        f.home().join(".ssh/config"),
        "Host 127.0.0.1\n  IdentitiesOnly yes\n",
    )
    .unwrap();
    let cfg = config_with_identity(&f, "io_ssh", Some(&wrong[0]), "");
    expect_only_wrong(&relman_agent(&f, &cfg, &agent, &["list"]), "~/.ssh/config");
}

/// The fleet's config with host 1 named `batch-match`, reached by that alias only:
/// no port, nothing but `~/.ssh/config` says where it is.
fn alias_config(f: &Fleet, name: &str, alias: &str) -> PathBuf {
    let text = f.config_toml();
    let from = format!("address = \"127.0.0.1\"\nport = {}\n", f.port(0));
    assert!(text.contains(&from), "{text}");
    let p = f.dir().join(format!("{name}.toml"));
    fs::write(
        &p,
        text.replacen(&from, &format!("address = {}\n", toml_str(alias)), 1),
    )
    .unwrap();
    p
}

#[test]
fn match_blocks_are_honoured_through_ssh_g_and_named_by_check_without_it() {
    let f = Fleet::start(1);
    fs::write(
        f.home().join(".ssh/config"),
        format!(
            "Host other\n  User nobody\n\nMatch host batch-match\n  HostName 127.0.0.1\n  Port {}\n  \
             HostKeyAlias pinned\n",
            f.port(0)
        ),
    )
    .unwrap();
    let cfg = alias_config(&f, "match", "batch-match");
    let out = relman(&f, &cfg, &["list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // check names what relman does not apply, with file and line.
    let out = relman(&f, &cfg, &["check"]);
    let said = stderr(&out);
    let ssh_cfg = f.home().join(".ssh/config");
    assert!(
        said.contains(&format!(
            "{}:7: hostkeyalias pinned: not applied by relman",
            ssh_cfg.display()
        )),
        "{said}"
    );

    // Without the OpenSSH client, relman's own reader answers: the Match block is
    // skipped, and check says so (file and line), instead of a bare "cannot resolve".
    let empty_path = f.dir().join("no-ssh-here");
    fs::create_dir_all(&empty_path).unwrap();
    let out = f
        .relman()
        .env("RELMAN_CONFIG", &cfg)
        .env("PATH", &empty_path)
        .args(["check"])
        .output()
        .unwrap();
    let said = stderr(&out);
    assert_eq!(code(&out), 3, "{said}");
    assert!(
        said.contains(&format!(
            "{}:4: Match: not supported without the OpenSSH client",
            ssh_cfg.display()
        )) && said.contains("cannot resolve batch-match"),
        "{said}"
    );
}

#[test]
fn proxy_command_through_nc_and_ssh_w() {
    let f = Fleet::start(2);
    let mark = f.dir().join("proxy-used");
    let kh = f.known_hosts().display().to_string();
    let key = f.client_key().display().to_string();
    fs::write(
        f.home().join(".ssh/config"),
        format!(
            "Host via-nc\n  HostName 127.0.0.1\n  Port {p1}\n  ProxyCommand touch {mark} && exec nc %h %p\n\n\
             Host via-w\n  HostName 127.0.0.1\n  Port {p2}\n  ProxyCommand ssh -F /dev/null -o BatchMode=yes \
             -o IdentitiesOnly=yes -i {key} -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes \
             -p {p1} -W %h:%p {user}@127.0.0.1\n\n\
             Host via-nothing\n  HostName 127.0.0.1\n  Port {p1}\n  ProxyCommand echo no route to the moon >&2; exit 1\n",
            p1 = f.port(0),
            p2 = f.port(1),
            mark = mark.display(),
            user = f.user(),
        ),
    )
    .unwrap();
    let cfg = alias_config(&f, "via_nc", "via-nc");
    let out = relman(&f, &cfg, &["--host", "h1", "list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(mark.exists(), "the ProxyCommand did not run");

    // h2 through `ssh -W` on h1: h1's sshd forwards the connection.
    let text = f.config_toml();
    let from = format!("address = \"127.0.0.1\"\nport = {}\n", f.port(1));
    let cfg = f.dir().join("via_w.toml");
    fs::write(&cfg, text.replacen(&from, "address = \"via-w\"\n", 1)).unwrap();
    let before = f.exec_count(1);
    let out = relman(&f, &cfg, &["--host", "h2", "list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(f.exec_count(1) > before, "nothing ran on h2");
    assert!(
        f.log(0).contains("Accepted publickey"),
        "h1 (the ssh -W hop) saw no login"
    );

    // A command that fails: exit 3, with what it said.
    let cfg = alias_config(&f, "via_nothing", "via-nothing");
    let out = relman(&f, &cfg, &["--host", "h1", "list"]);
    let msg = stderr(&out);
    assert_eq!(code(&out), 3, "{msg}");
    assert!(
        msg.contains("ProxyCommand") && msg.contains("no route to the moon"),
        "{msg}"
    );
}

/// How many direct-tcpip forwardings host i's sshd (LogLevel DEBUG) made to `port`.
fn forwards_to(f: &Fleet, i: usize, port: u16) -> usize {
    let needle = format!("port {port}");
    f.log(i)
        .lines()
        .filter(|l| l.contains("server_request_direct_tcpip") && l.ends_with(&needle))
        .count()
}

#[test]
fn a_chain_of_two_jump_hosts_is_followed_hop_by_hop() {
    let debug = support::HostOptions {
        log_level: "DEBUG".into(),
        ..support::HostOptions::default()
    };
    let f = Fleet::start_with(&[debug.clone(), debug, support::HostOptions::default()]);
    let (a, b, target) = (f.port(0), f.port(1), f.port(2));
    let text = f.config_toml();
    let from = format!("address = \"127.0.0.1\"\nport = {target}\n");
    assert!(text.contains(&from));
    let chain = format!("{u}@127.0.0.1:{a},{u}@127.0.0.1:{b}", u = f.user());
    let cfg = f.dir().join("chain.toml");
    fs::write(
        &cfg,
        text.replacen(&from, &format!("{from}jump = {}\n", toml_str(&chain)), 1),
    )
    .unwrap();
    let before = f.exec_count(2);
    let out = relman(&f, &cfg, &["--host", "h3", "list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(f.exec_count(2) > before, "nothing ran on h3");
    assert_eq!(forwards_to(&f, 0, b), 1, "hop a forwarded to hop b once");
    assert_eq!(
        forwards_to(&f, 1, target),
        1,
        "hop b forwarded to the host once"
    );
    assert_eq!(
        forwards_to(&f, 0, target),
        0,
        "hop a went straight to the host"
    );

    // Each hop's host key is checked: hop b unknown, refused before the host is reached.
    let kh = f.dir().join("kh_no_b");
    let known: String = f
        .known_hosts_text()
        .lines()
        .filter(|l| !l.starts_with(&format!("[127.0.0.1]:{b} ")))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&kh, known).unwrap();
    let top = format!("known_hosts = {}\n", toml_str(&kh.display().to_string()));
    let text = fs::read_to_string(&cfg).unwrap();
    let cfg2 = f.dir().join("chain_no_b.toml");
    let kh_line = format!(
        "known_hosts = {}\n",
        toml_str(&f.known_hosts().display().to_string())
    );
    fs::write(&cfg2, text.replacen(&kh_line, &top, 1)).unwrap();
    let execs = f.exec_count(2);
    let out = relman(&f, &cfg2, &["--host", "h3", "list"]);
    let msg = stderr(&out);
    assert_eq!(code(&out), 3, "{msg}");
    assert!(
        msg.contains(&format!("127.0.0.1:{b}")) && msg.contains("host key is unknown"),
        "{msg}"
    );
    assert_eq!(f.exec_count(2), execs);
}

#[test]
fn proxy_command_dies_with_its_connection() {
    use relman::remote::Transport;
    let f = Fleet::start(1);
    let pidfile = f.dir().join("proxy.pid");
    let mut host = f.host_config(0);
    host.ssh.proxy_command = Some(format!("echo $$ > {}; exec nc %h %p", pidfile.display()));
    let t = relman::remote::ssh::SshTransport::connect(&f.config(), &host).expect("connect");
    let out = t
        .exec("echo via-proxy", &mut std::io::empty(), &mut |_| {})
        .expect("exec");
    assert_eq!(out.stdout, b"via-proxy\n");
    let pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signal 0 only checks that the process exists.
    let alive = |pid: i32| unsafe { libc::kill(pid, 0) } == 0;
    assert!(alive(pid), "the ProxyCommand is not running");
    drop(t);
    assert!(
        wait_until(Duration::from_secs(10), || !alive(pid)),
        "the ProxyCommand (pid {pid}) outlived its connection"
    );
}

#[test]
fn user_known_hosts_file_from_ssh_config_is_used_when_relman_names_none() {
    let f = Fleet::start(1);
    // Nothing at the default ~/.ssh/known_hosts: the key is only in the file
    // ~/.ssh/config names.
    let elsewhere = f.dir().join("ops_known_hosts");
    fs::rename(f.known_hosts(), &elsewhere).unwrap();
    fs::write(
        f.home().join(".ssh/config"),
        format!(
            "Host 127.0.0.1\n  UserKnownHostsFile {}\n",
            elsewhere.display()
        ),
    )
    .unwrap();
    let cfg = config_with_top(&f, "ukh", "");
    let out = relman(&f, &cfg, &["list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // trust looks there too, and adds nothing.
    let out = relman(&f, &cfg, &["--host", "h1", "trust", "--yes"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already known"),
        "{}",
        stderr(&out)
    );
    assert!(!f.known_hosts().exists());
    // relman's own `known_hosts` wins.
    let cfg = config_with_top(
        &f,
        "ukh_relman",
        &format!(
            "known_hosts = {}\n",
            toml_str(&f.known_hosts().display().to_string())
        ),
    );
    let out = relman(&f, &cfg, &["list"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("is unknown"), "{}", stderr(&out));
}
