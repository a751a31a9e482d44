//! Tests of the config module: parsing, errors (file, line and key), `~/.ssh/config`,
//! location and host selection. Almost all pure.

use super::*;

const PATH: &str = "/x/relman.toml";

fn env() -> Env {
    Env {
        home: Some(PathBuf::from("/home/op")),
        user: Some("op".to_string()),
    }
}

fn parse_ssh(text: &str, ssh: &str) -> Result<Config, ConfigError> {
    let ssh = SshConfig::parse(ssh, SSH_CONFIG_NAME)?;
    Config::parse_with(text, Path::new(PATH), &ssh, &env())
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_ssh(text, "")
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("config should parse, got: {e}"),
    }
}

/// The error message, asserting it is one line starting with `PATH:LINE: `.
fn err_at(text: &str, line: usize) -> String {
    let msg = match parse(text) {
        Ok(_) => panic!("config should be refused:\n{text}"),
        Err(e) => e.to_string(),
    };
    assert!(!msg.contains('\n'), "not one line: {msg}");
    let want = format!("{PATH}:{line}: ");
    assert!(msg.starts_with(&want), "expected {want:?}..., got: {msg}");
    msg
}

fn ssh_host(name: &str, host: &str, port: u16, user: &str) -> HostConfig {
    HostConfig {
        name: name.into(),
        address: Address::Ssh { host: host.into() },
        port,
        user: user.into(),
        identities: vec![],
        jump: None,
        groups: vec![],
        root: DEFAULT_ROOT.into(),
        link: DEFAULT_LINK.into(),
        prefix: DEFAULT_PREFIX.into(),
        job_scan: Default::default(),
        ssh: Default::default(),
    }
}

#[test]
fn empty_file_gives_defaults_and_no_hosts() {
    let c = ok("");
    assert_eq!(
        c,
        Config {
            path: Some(PathBuf::from(PATH)),
            keep: 3,
            refresh: Duration::from_secs(10),
            parallel: 16,
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(60),
            known_hosts: PathBuf::from("/home/op/.ssh/known_hosts"),
            global_known_hosts: PathBuf::from("/etc/ssh/ssh_known_hosts"),
            identities_only: false,
            prune_after_deploy: false,
            hooks: Default::default(),
            hosts: vec![],
            ssh_config: SshConfig::parse("", SSH_CONFIG_NAME).expect("empty"),
            env: env(),
        }
    );
}

#[test]
fn top_level_keys() {
    let c = ok(r#"
keep = 5
refresh = "1m 30s"
parallel = 4
connect_timeout = "500ms"
stall_timeout = "2s"
known_hosts = "~/kh"
prune_after_deploy = true
"#);
    assert_eq!(c.keep, 5);
    assert_eq!(c.refresh, Duration::from_secs(90));
    assert_eq!(c.parallel, 4);
    assert_eq!(c.connect_timeout, Duration::from_millis(500));
    assert_eq!(c.stall_timeout, Duration::from_secs(2));
    assert_eq!(c.known_hosts, PathBuf::from("/home/op/kh"));
    assert!(c.prune_after_deploy);
    assert_eq!(ok("keep = 0").keep, 0);
}

#[test]
fn host_minimal_uses_name_as_address_and_defaults() {
    let c = ok("[[hosts]]\nname = \"batch-1\"\n");
    assert_eq!(c.hosts, vec![ssh_host("batch-1", "batch-1", 22, "op")]);
}

#[test]
fn user_defaults_to_root_without_user_env() {
    let env = Env {
        home: None,
        user: None,
    };
    let c = Config::parse_with(
        "[[hosts]]\nname = \"a\"\n",
        Path::new(PATH),
        &SshConfig::empty(),
        &env,
    )
    .expect("parse");
    assert_eq!(c.hosts[0].user, "root");
    // No home: `~` stays as written.
    assert_eq!(c.known_hosts, PathBuf::from("~/.ssh/known_hosts"));
}

#[test]
fn full_host_and_defaults_merge() {
    let c = ok(r#"
[defaults]
root = "~/apps/deploy/"
link = "current"
prefix = "rel-"
user = "deployer"
port = 2200
identity = "~/.ssh/fleet"
groups = ["all"]
jump = "bastion"

[[hosts]]
name = "a"
address = "10.0.0.5"

[[hosts]]
name = "b"
address = "b.example.com"
port = 2201
user = "other"
identity = "keys/b"
jump = "ops@gw:2222"
groups = ["prod", "eu", "prod"]
root = "/srv/batch"
link = "live"
prefix = "r_"
"#);
    let a = &c.hosts[0];
    assert_eq!(
        a.address,
        Address::Ssh {
            host: "10.0.0.5".into()
        }
    );
    assert_eq!(a.port, 2200);
    assert_eq!(a.user, "deployer");
    assert_eq!(a.identities, vec![PathBuf::from("/home/op/.ssh/fleet")]);
    assert_eq!(a.jump.as_deref(), Some("bastion"));
    assert_eq!(a.groups, vec!["all"]);
    assert_eq!(a.root, "apps/deploy");
    assert_eq!(a.link, "current");
    assert_eq!(a.prefix, "rel-");

    let b = &c.hosts[1];
    assert_eq!(b.port, 2201);
    assert_eq!(b.user, "other");
    // Relative identity: relative to the config file's directory.
    assert_eq!(b.identities, vec![PathBuf::from("/x/keys/b")]);
    assert_eq!(b.jump.as_deref(), Some("ops@gw:2222"));
    // Host groups replace the default's, duplicates dropped.
    assert_eq!(b.groups, vec!["prod", "eu"]);
    assert_eq!(b.root, "/srv/batch");
    assert_eq!(b.link, "live");
    assert_eq!(b.prefix, "r_");
}

#[test]
fn local_address() {
    let c = ok("[[hosts]]\nname = \"here\"\naddress = \"local\"\nroot = \"/tmp/r\"\n");
    assert_eq!(c.hosts[0].address, Address::Local);
    assert_eq!(c.hosts[0].root, "/tmp/r");
    // ~/.ssh/config is not applied to local hosts.
    let c = parse_ssh(
        "[[hosts]]\nname = \"here\"\naddress = \"local\"\n",
        "Host *\n User sshuser\n",
    )
    .expect("parse");
    assert_eq!(c.hosts[0].user, "op");
}

// ---- errors: each names the file, the line and the key ----

#[test]
fn error_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.toml");
    let msg = Config::load(&path).expect_err("missing").to_string();
    assert_eq!(
        msg,
        format!(
            "config file {}: not found (use --config PATH or RELMAN_CONFIG)",
            path.display()
        )
    );
}

#[test]
fn load_reads_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("relman.toml");
    std::fs::write(
        &path,
        "keep = 7\n[[hosts]]\nname = \"h\"\naddress = \"local\"\n",
    )
    .expect("write");
    let c = Config::load(&path).expect("load");
    assert_eq!(c.keep, 7);
    assert_eq!(c.path.as_deref(), Some(path.as_path()));
    std::fs::write(&path, "\n\nkep = 7\n").expect("write");
    let msg = Config::load(&path).expect_err("bad").to_string();
    assert!(msg.starts_with(&format!("{}:3: ", path.display())), "{msg}");
}

#[test]
fn error_unknown_top_level_key() {
    let msg = err_at("keep = 3\n\n\nkep = 4\n", 4);
    assert!(msg.contains("unknown key \"kep\""), "{msg}");
    assert!(msg.contains("did you mean \"keep\"?"), "{msg}");
    assert!(
        msg.contains("expected one of keep, refresh, parallel"),
        "{msg}"
    );
}

#[test]
fn error_unknown_key_reports_the_first_in_the_file() {
    // The parsed map is sorted; the error must still point at the first one written.
    let msg = err_at("zzz = 1\naaa = 2\n", 1);
    assert!(msg.contains("\"zzz\""), "{msg}");
}

#[test]
fn error_unknown_host_key() {
    let msg = err_at(
        "[[hosts]]\nname = \"a\"\n\n[[hosts]]\nname = \"b\"\nadress = \"x\"\n",
        6,
    );
    assert!(msg.contains("hosts[1]: unknown key \"adress\""), "{msg}");
    assert!(msg.contains("did you mean \"address\"?"), "{msg}");
}

#[test]
fn error_unknown_defaults_key() {
    let msg = err_at("[defaults]\nroot = \"d\"\nrot = \"e\"\n", 3);
    assert!(msg.contains("defaults: unknown key \"rot\""), "{msg}");
}

#[test]
fn error_name_or_address_in_defaults() {
    let msg = err_at("[defaults]\nname = \"d\"\n", 2);
    assert!(
        msg.contains("defaults.name: cannot be set in [defaults]"),
        "{msg}"
    );
    let msg = err_at("[defaults]\n\naddress = \"d\"\n", 3);
    assert!(msg.contains("defaults.address:"), "{msg}");
}

#[test]
fn error_unknown_nested_table() {
    let msg = err_at("[[hosts]]\nname = \"a\"\n[hosts.ssh]\nport = 1\n", 3);
    assert!(msg.contains("hosts[0]: unknown key \"ssh\""), "{msg}");
}

#[test]
fn error_duplicate_host_name() {
    let text = "keep = 3\n\n[[hosts]]\nname = \"batch-1\"\n\n[[hosts]]\nname = \"batch-1\"\n";
    let msg = err_at(text, 7);
    assert_eq!(
        msg,
        "/x/relman.toml:7: hosts[1].name: duplicate host name \"batch-1\" (first defined at line 4)"
    );
}

#[test]
fn error_missing_host_name() {
    let msg = err_at("[[hosts]]\nname = \"a\"\n\n[[hosts]]\naddress = \"b\"\n", 4);
    assert!(msg.contains("hosts[1].name: missing"), "{msg}");
}

#[test]
fn error_bad_host_name() {
    let msg = err_at("[[hosts]]\nname = \"batch 1\"\n", 2);
    assert!(
        msg.contains("hosts[0].name: \"batch 1\" has the character ' '"),
        "{msg}"
    );
    err_at("[[hosts]]\nname = \"\"\n", 2);
}

#[test]
fn error_bad_duration() {
    let msg = err_at("keep = 3\nrefresh = \"10 parsecs\"\n", 2);
    assert!(
        msg.contains("refresh: cannot parse duration \"10 parsecs\": "),
        "{msg}"
    );
    let msg = err_at("\nconnect_timeout = 10\n", 2);
    assert!(
        msg.contains("connect_timeout: expected a duration string"),
        "{msg}"
    );
    let msg = err_at("refresh = \"0s\"\n", 1);
    assert!(msg.contains("refresh: must be more than zero"), "{msg}");
}

#[test]
fn error_wrong_types() {
    let msg = err_at("keep = \"3\"\n", 1);
    assert!(
        msg.contains("keep: expected an integer, found string \"3\""),
        "{msg}"
    );
    let msg = err_at("prune_after_deploy = 1\n", 1);
    assert!(
        msg.contains("prune_after_deploy: expected true or false"),
        "{msg}"
    );
    let msg = err_at("[[hosts]]\nname = 5\n", 2);
    assert!(
        msg.contains("hosts[0].name: expected a string, found integer 5"),
        "{msg}"
    );
    let msg = err_at("[hosts]\nname = \"a\"\n", 1);
    assert!(msg.contains("hosts: expected [[hosts]] entries"), "{msg}");
    let msg = err_at("defaults = 3\n", 1);
    assert!(msg.contains("defaults: expected a table"), "{msg}");
    let msg = err_at("hosts = [\"a\"]\n", 1);
    assert!(
        msg.contains("hosts[0]: expected a table, found string"),
        "{msg}"
    );
    let msg = err_at("[[hosts]]\nname = \"a\"\ngroups = [\"p\", 3]\n", 3);
    assert!(
        msg.contains("hosts[0].groups[1]: expected a string"),
        "{msg}"
    );
    let msg = err_at("[[hosts]]\nname = \"a\"\ngroups = \"p\"\n", 3);
    assert!(msg.contains("hosts[0].groups: expected an array"), "{msg}");
}

#[test]
fn error_numbers_out_of_range() {
    let msg = err_at("keep = -1\n", 1);
    assert!(msg.contains("keep: must be 0 or more, not -1"), "{msg}");
    let msg = err_at("parallel = 0\n", 1);
    assert!(msg.contains("parallel: must be 1 or more"), "{msg}");
    let msg = err_at("[[hosts]]\nname = \"a\"\nport = 70000\n", 3);
    assert!(msg.contains("hosts[0].port: bad port 70000"), "{msg}");
    let msg = err_at("[defaults]\nport = 0\n", 2);
    assert!(msg.contains("defaults.port: bad port 0"), "{msg}");
}

#[test]
fn error_bad_root_link_prefix() {
    let msg = err_at("[defaults]\nroot = \"../etc\"\n", 2);
    assert!(
        msg.contains("defaults.root: \"../etc\" contains a \"..\""),
        "{msg}"
    );
    let msg = err_at("[[hosts]]\nname = \"a\"\nroot = \"my deploy\"\n", 3);
    assert!(msg.contains("hosts[0].root: "), "{msg}");
    let msg = err_at("[[hosts]]\nname = \"a\"\nroot = \"a//b\"\n", 3);
    assert!(msg.contains("hosts[0].root: "), "{msg}");
    let msg = err_at("[[hosts]]\nname = \"a\"\nlink = \".relman\"\n", 3);
    assert!(msg.contains("hosts[0].link: "), "{msg}");
    let msg = err_at("[defaults]\nprefix = \".b\"\n", 2);
    assert!(msg.contains("defaults.prefix: "), "{msg}");
    let msg = err_at("[defaults]\nprefix = \"a/b\"\n", 2);
    assert!(msg.contains("defaults.prefix: "), "{msg}");
}

#[test]
fn error_link_that_looks_like_a_release() {
    let text =
        "[defaults]\nprefix = \"b_\"\n[[hosts]]\nname = \"a\"\nlink = \"b_20260101000000\"\n";
    let msg = err_at(text, 5);
    assert!(
        msg.contains("hosts[0].link: link \"b_20260101000000\" would look like a release"),
        "{msg}"
    );
}

#[test]
fn error_bad_words() {
    let msg = err_at("[[hosts]]\nname = \"a\"\nuser = \"a b\"\n", 3);
    assert!(msg.contains("hosts[0].user: "), "{msg}");
    let msg = err_at("[[hosts]]\nname = \"a\"\naddress = \"\"\n", 3);
    assert!(msg.contains("hosts[0].address: must not be empty"), "{msg}");
    let msg = err_at("[defaults]\njump = \"-oProxyCommand=x\"\n", 2);
    assert!(msg.contains("defaults.jump: "), "{msg}");
}

#[test]
fn error_toml_syntax_is_one_line() {
    let msg = err_at("keep = 3\nrefresh = \n", 2);
    assert!(msg.contains(":2: refresh: invalid TOML: "), "{msg}");
    // A key written twice is a TOML error too.
    let msg = err_at("keep = 3\n\nkeep = 4\n", 3);
    assert!(
        msg.contains(":3: keep: invalid TOML: duplicate key"),
        "{msg}"
    );
    let msg = err_at("[defaults]\nroot = \"a\"\n[defaults]\n", 3);
    assert!(msg.contains(":3: defaults: invalid TOML: "), "{msg}");
    // An unterminated string: the line is still named.
    let msg = err_at("keep = 3\nrefresh = \"10s\n", 2);
    assert!(msg.contains(":2: refresh: invalid TOML: "), "{msg}");
}

// ---- ~/.ssh/config ----

const SSH: &str = "\
Host batch-1
    HostName 10.0.0.5
    User sshuser
    Port 2222
    IdentityFile ~/.ssh/batch1
    ProxyJump bastion

Host *
    IdentityFile ~/.ssh/%r-key
    User starred
";

#[test]
fn ssh_config_fills_what_relman_leaves_unset() {
    let c = parse_ssh(
        "[[hosts]]\nname = \"batch-1\"\nidentity = \"~/.ssh/mine\"\n",
        SSH,
    )
    .expect("parse");
    let h = &c.hosts[0];
    assert_eq!(
        h.address,
        Address::Ssh {
            host: "10.0.0.5".into()
        }
    );
    assert_eq!(h.port, 2222);
    assert_eq!(h.user, "sshuser");
    assert_eq!(
        h.identities,
        vec![
            PathBuf::from("/home/op/.ssh/mine"),
            PathBuf::from("/home/op/.ssh/batch1"),
            PathBuf::from("/home/op/.ssh/sshuser-key"),
        ]
    );
    assert_eq!(h.jump.as_deref(), Some("bastion"));
}

#[test]
fn relman_keys_win_over_ssh_config() {
    let text = "\
[defaults]
user = \"fromdefaults\"

[[hosts]]
name = \"batch-1\"
port = 22
jump = \"other\"
";
    let h = parse_ssh(text, SSH).expect("parse").hosts[0].clone();
    assert_eq!(h.user, "fromdefaults");
    assert_eq!(h.port, 22);
    assert_eq!(h.jump.as_deref(), Some("other"));
    // HostName still applies: the address was not set explicitly to something else.
    assert_eq!(
        h.address,
        Address::Ssh {
            host: "10.0.0.5".into()
        }
    );
}

#[test]
fn ssh_config_matches_the_address_not_the_name() {
    let text = "[[hosts]]\nname = \"one\"\naddress = \"batch-1\"\n[[hosts]]\nname = \"batch-1x\"\n";
    let c = parse_ssh(text, SSH).expect("parse");
    assert_eq!(
        c.hosts[0].address,
        Address::Ssh {
            host: "10.0.0.5".into()
        }
    );
    assert_eq!(
        c.hosts[1].address,
        Address::Ssh {
            host: "batch-1x".into()
        }
    );
    assert_eq!(c.hosts[1].user, "starred");
    assert_eq!(c.hosts[1].port, 22);
}

#[test]
fn bad_ssh_config_port_is_reported_with_its_line() {
    let err = parse_ssh("[[hosts]]\nname = \"a\"\n", "Host a\n  Port x\n")
        .expect_err("bad port")
        .to_string();
    assert!(err.starts_with("~/.ssh/config:2: Port: "), "{err}");
    assert!(err.contains("\"a\""), "{err}");
}

#[test]
fn parse_with_ssh_text() {
    // The public `parse` takes the ssh config as text.
    let c = Config::parse(
        "[[hosts]]\nname = \"batch-1\"\nuser = \"u\"\n",
        Path::new(PATH),
        Some(SSH),
    )
    .expect("parse");
    assert_eq!(
        c.hosts[0].address,
        Address::Ssh {
            host: "10.0.0.5".into()
        }
    );
    assert_eq!(c.hosts[0].port, 2222);
    assert_eq!(c.hosts[0].user, "u");
}

// ---- location ----

#[test]
fn locate_order() {
    let explicit = Path::new("/e.toml");
    let def = Some(PathBuf::from("/home/op/.config/relman/config.toml"));
    assert_eq!(
        locate_from(Some(explicit), Some("/env.toml".into()), def.clone()).expect("explicit"),
        PathBuf::from("/e.toml")
    );
    assert_eq!(
        locate_from(None, Some("/env.toml".into()), def.clone()).expect("env"),
        PathBuf::from("/env.toml")
    );
    assert_eq!(
        locate_from(None, Some("".into()), def.clone()).expect("empty env"),
        PathBuf::from("/home/op/.config/relman/config.toml")
    );
    assert!(locate_from(None, None, None).is_err());
}

#[test]
fn locate_default_ends_in_relman_config_toml() {
    // With --config given, the environment is not consulted at all.
    assert_eq!(
        Config::locate(Some(Path::new("/a/b.toml"))).expect("explicit"),
        PathBuf::from("/a/b.toml")
    );
    match std::env::var_os("RELMAN_CONFIG").filter(|v| !v.is_empty()) {
        Some(v) => assert_eq!(Config::locate(None).expect("env"), PathBuf::from(v)),
        None => {
            if let Ok(p) = Config::locate(None) {
                assert!(p.ends_with("relman/config.toml"), "{}", p.display());
            }
        }
    }
}

// ---- selection ----

fn fleet() -> Config {
    ok(r#"
[[hosts]]
name = "a"
groups = ["prod", "eu"]
[[hosts]]
name = "b"
groups = ["prod"]
[[hosts]]
name = "c"
groups = ["staging"]
[[hosts]]
name = "d"
"#)
}

fn names(hosts: Vec<&HostConfig>) -> Vec<&str> {
    hosts.into_iter().map(|h| h.name.as_str()).collect()
}

fn sel(hosts: &[&str], groups: &[&str], all: bool) -> Selection {
    Selection {
        hosts: hosts.iter().map(|s| s.to_string()).collect(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        all,
    }
}

#[test]
fn select_union_in_config_order_deduplicated() {
    let c = fleet();
    let got = c
        .select(&sel(&["d", "a"], &["prod"], false), false)
        .expect("sel");
    assert_eq!(names(got), vec!["a", "b", "d"]);
    let got = c
        .select(&sel(&[], &["staging", "eu"], false), false)
        .expect("sel");
    assert_eq!(names(got), vec!["a", "c"]);
    let got = c.select(&sel(&["c", "c"], &[], false), true).expect("sel");
    assert_eq!(names(got), vec!["c"]);
}

#[test]
fn select_all_and_default_all() {
    let c = fleet();
    assert_eq!(
        names(c.select(&sel(&[], &[], true), false).expect("all")),
        vec!["a", "b", "c", "d"]
    );
    assert_eq!(
        names(c.select(&sel(&[], &[], false), true).expect("reads")),
        vec!["a", "b", "c", "d"]
    );
    // Naming hosts narrows even for reads.
    assert_eq!(
        names(c.select(&sel(&["b"], &[], false), true).expect("b")),
        vec!["b"]
    );
}

#[test]
fn select_nothing_for_a_changing_command() {
    let msg = fleet()
        .select(&Selection::default(), false)
        .expect_err("none")
        .to_string();
    assert_eq!(
        msg,
        "no hosts chosen: this command changes hosts, so name them with --host NAME, --group NAME or --all"
    );
}

#[test]
fn select_unknown_names() {
    let c = fleet();
    let msg = c
        .select(&sel(&["zz"], &[], false), false)
        .expect_err("unknown")
        .to_string();
    assert!(msg.contains("unknown host \"zz\""), "{msg}");
    assert!(msg.contains("known hosts: a, b, c, d"), "{msg}");
    let msg = c
        .select(&sel(&[], &["zz"], true), false)
        .expect_err("unknown")
        .to_string();
    assert!(msg.contains("unknown group \"zz\""), "{msg}");
    assert!(msg.contains("known groups: prod, eu, staging"), "{msg}");
    // A host name given as a group (and the reverse) gets a hint.
    let msg = c
        .select(&sel(&[], &["a"], false), false)
        .expect_err("hint")
        .to_string();
    assert!(msg.contains("use --host a"), "{msg}");
    let msg = c
        .select(&sel(&["prod"], &[], false), false)
        .expect_err("hint")
        .to_string();
    assert!(msg.contains("use --group prod"), "{msg}");
}

#[test]
fn select_long_lists_are_shortened() {
    let text: String = (0..15)
        .map(|i| format!("[[hosts]]\nname = \"h{i}\"\n"))
        .collect();
    let msg = ok(&text)
        .select(&sel(&["zz"], &[], false), false)
        .expect_err("x")
        .to_string();
    assert!(msg.contains("h9, ... (5 more)"), "{msg}");
}

#[test]
fn select_in_an_empty_fleet() {
    let c = ok("keep = 3\n");
    let msg = c
        .select(&sel(&[], &[], true), false)
        .expect_err("empty")
        .to_string();
    assert!(msg.contains("no hosts in /x/relman.toml"), "{msg}");
    assert!(c.select(&sel(&["a"], &[], false), false).is_err());
}

// ---- demo and example ----

#[test]
fn local_demo_config() {
    let c = Config::local_demo(PathBuf::from("/tmp/demo-root"));
    assert_eq!(c.path, None);
    assert_eq!(c.keep, 3);
    assert_eq!(c.refresh, Duration::from_secs(10));
    assert_eq!(c.hosts.len(), 1);
    let h = &c.hosts[0];
    assert_eq!(h.name, "demo");
    assert_eq!(h.address, Address::Local);
    assert_eq!(h.root, "/tmp/demo-root");
    assert_eq!(h.link, "batch");
    assert_eq!(h.prefix, "batch_");
    let chosen = c.select(&Selection::default(), true).expect("reads");
    assert_eq!(chosen.len(), 1);
}

#[test]
fn example_config_parses() {
    let text = include_str!("../../assets/config.example.toml");
    let c = match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("assets/config.example.toml: {e}"),
    };
    assert_eq!(c.keep, 3);
    assert_eq!(c.hosts.len(), 4);
    assert_eq!(c.hosts[0].user, "deployer");
    assert_eq!(
        c.hosts[0].address,
        Address::Ssh {
            host: "10.0.0.5".into()
        }
    );
    assert_eq!(c.hosts[1].jump.as_deref(), Some("bastion"));
    assert_eq!(c.hosts[2].root, "/srv/batch");
    assert_eq!(c.hosts[3].address, Address::Local);
    assert_eq!(c.hosts[3].root, "deploy-local");
    assert_eq!(c.groups(), vec!["prod", "eu", "staging"]);
}

// ---- ProxyJump ----

#[test]
fn jump_hops_are_split() {
    assert_eq!(split_hop("bastion"), Ok((None, "bastion".into(), None)));
    assert_eq!(
        split_hop("ops@gw.example.com:2222"),
        Ok((Some("ops".into()), "gw.example.com".into(), Some(2222)))
    );
    assert_eq!(
        split_hop("ssh://ops@[::1]:2200"),
        Ok((Some("ops".into()), "::1".into(), Some(2200)))
    );
    assert_eq!(split_hop("[fe80::1]"), Ok((None, "fe80::1".into(), None)));
    assert!(split_hop("gw:0").is_err());
    assert!(split_hop("gw:http").is_err());
    assert!(split_hop("@gw").is_err());
    assert!(split_hop("").is_err());
    assert!(split_hop("[::1").is_err());
}

#[test]
fn jump_chain_resolves_through_ssh_config() {
    let ssh = "\
Host bastion
    HostName 192.0.2.1
    User jumper
    Port 2022
    IdentityFile ~/.ssh/jump-%r
Host *
    User star
";
    let c = parse_ssh(
        "[[hosts]]\nname = \"a\"\njump = \"bastion,ops@inner:2200\"\n",
        ssh,
    )
    .expect("parse");
    let hops = c
        .resolve_jump(c.hosts[0].jump.as_deref().expect("jump"))
        .expect("resolve");
    assert_eq!(
        hops,
        vec![
            JumpHost {
                spec: "bastion".into(),
                host: "192.0.2.1".into(),
                port: 2022,
                user: "jumper".into(),
                identities: vec![PathBuf::from("/home/op/.ssh/jump-jumper")],
            },
            JumpHost {
                spec: "ops@inner:2200".into(),
                host: "inner".into(),
                port: 2200,
                user: "ops".into(),
                identities: vec![],
            },
        ]
    );
    let err = c.resolve_jump("gw:nope").expect_err("bad").to_string();
    assert!(err.contains("jump host \"gw:nope\": bad port"), "{err}");
}

#[test]
fn default_config_has_no_hosts() {
    let c = Config::default();
    assert!(c.hosts.is_empty());
    assert_eq!(c.keep, DEFAULT_KEEP);
    assert_eq!(c.path, None);
}

#[test]
fn job_users_and_scan_sudo() {
    let c = ok(
        "[defaults]\njob_users = [\"batch\", \"etl.user\", \"batch\"]\nscan_sudo = true\n\
                [[hosts]]\nname = \"a\"\n[[hosts]]\nname = \"b\"\njob_users = []\n",
    );
    assert_eq!(
        c.hosts[0].job_scan,
        JobScan {
            users: Some(vec!["batch".into(), "etl.user".into()]),
            sudo: true
        }
    );
    assert_eq!(
        c.hosts[1].job_scan,
        JobScan {
            users: Some(vec![]),
            sudo: true
        }
    );
    assert_eq!(
        ok("[[hosts]]\nname = \"a\"\n").hosts[0].job_scan,
        JobScan::default()
    );
    for (text, line, needle) in [
        (
            "[[hosts]]\nname = \"a\"\nscan_sudo = true\n",
            3,
            "hosts[0].scan_sudo: scan_sudo needs job_users",
        ),
        (
            "[[hosts]]\nname = \"a\"\njob_users = \"batch\"\n",
            3,
            "hosts[0].job_users: expected an array",
        ),
        (
            "[[hosts]]\nname = \"a\"\njob_users = [\"-u\"]\n",
            3,
            "hosts[0].job_users[0]: \"-u\" starts with '-'",
        ),
        (
            "[defaults]\njob_users = [\"a b\"]\n",
            2,
            "defaults.job_users[0]: \"a b\" is not a user name",
        ),
        (
            "[defaults]\njob_users = [\"x;rm\"]\n",
            2,
            "is not a user name",
        ),
        (
            "[defaults]\nscan_sudo = \"yes\"\n",
            2,
            "defaults.scan_sudo: expected true or false",
        ),
    ] {
        let e = err_at(text, line);
        assert!(e.contains(needle), "{text:?}: {e}");
    }
}

#[test]
fn ssh_g_is_asked_about_each_address_and_jump_hop_once() {
    let text = "[defaults]\njump = \"gw\"\n\n[[hosts]]\nname = \"a\"\n\n\
                [[hosts]]\nname = \"b\"\naddress = \"batch-match\"\njump = \"ops@gw:2222,inner\"\n\n\
                [[hosts]]\nname = \"c\"\naddress = \"local\"\n";
    let doc = Doc {
        text,
        path: Path::new(PATH),
    };
    let raw = file::read(&doc).unwrap();
    assert_eq!(ssh_aliases(&raw), ["a", "gw", "batch-match", "inner"]);
}

#[test]
fn global_known_hosts_and_identities_only_keys() {
    let c = ok("global_known_hosts = \"~/gkh\"\nidentities_only = true\n");
    assert_eq!(c.global_known_hosts, PathBuf::from("/home/op/gkh"));
    assert!(c.identities_only);
    let c = ok("");
    assert_eq!(
        c.global_known_hosts,
        PathBuf::from("/etc/ssh/ssh_known_hosts")
    );
    assert!(!c.identities_only);
}

#[test]
fn hooks_are_read_with_their_timeout_and_default_to_none() {
    let c = ok("");
    assert_eq!(c.hooks.after_deploy, None);
    assert_eq!(c.hooks.timeout, Duration::from_secs(60));
    let c = ok(
        "[hooks]\nafter_deploy = \"./notify.sh deploy\"\nafter_switch = \"a\"\n\
         after_rollback = \"b\"\non_refuse = \"c\"\ntimeout = \"5s\"\n",
    );
    assert_eq!(c.hooks.after_deploy.as_deref(), Some("./notify.sh deploy"));
    assert_eq!(c.hooks.after_switch.as_deref(), Some("a"));
    assert_eq!(c.hooks.after_rollback.as_deref(), Some("b"));
    assert_eq!(c.hooks.on_refuse.as_deref(), Some("c"));
    assert_eq!(c.hooks.timeout, Duration::from_secs(5));
}

#[test]
fn bad_hooks_are_one_line_errors_naming_line_and_key() {
    let msg = err_at("keep = 3\n[hooks]\nafter_deploi = \"x\"\n", 3);
    assert!(msg.contains("hooks: unknown key \"after_deploi\""), "{msg}");
    assert!(msg.contains("did you mean \"after_deploy\""), "{msg}");
    let msg = err_at("[hooks]\non_refuse = 3\n", 2);
    assert!(msg.contains("hooks.on_refuse: expected a string"), "{msg}");
    let msg = err_at("[hooks]\nafter_switch = \"  \"\n", 2);
    assert!(
        msg.contains("hooks.after_switch: must not be empty"),
        "{msg}"
    );
    let msg = err_at("[hooks]\ntimeout = \"soon\"\n", 2);
    assert!(
        msg.contains("hooks.timeout: cannot parse duration"),
        "{msg}"
    );
    let msg = err_at("[hooks]\nafter_deploy = \"a\\u0000b\"\n", 2);
    assert!(msg.contains("NUL"), "{msg}");
    let msg = err_at("hooks = 1\n", 1);
    assert!(msg.contains("hooks: expected a table"), "{msg}");
}
