//! Issue 12, items 4, 5 and 10, against real sshd hosts whose deploy user is not
//! root (`support::DEPLOY`): badly named directories are foreign and never make a
//! host unmanageable; switch and rollback never move the link to a release the
//! deploy user can't read, an empty one, or one missing files its manifest lists;
//! a fleet switch or rollback changes no host unless every host can take it.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;
use support::{DEPLOY, Fleet};

const A: &str = "batch_20261126090000";
const B: &str = "batch_20261126100000";
const C: &str = "batch_20261126110000";

/// The names of issue 12 item 5: month 13, Feb 29 of 2026, hour 24, an 11-digit N.
const BAD_NAMES: [&str; 4] = [
    "batch_20261301000000",
    "batch_20260229000000",
    "batch_20261126240000",
    "batch_20261126090000.12345678901",
];

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

fn relman(f: &Fleet, args: &[&str]) -> Output {
    f.relman().args(args).stdin(Stdio::null()).output().unwrap()
}

/// Releases `names` on host i (made by the deploy user, one file each), the link on `link`.
fn layout(f: &Fleet, i: usize, names: &[&str], link: Option<&str>) {
    for r in names {
        f.sh(
            i,
            &format!("mkdir -p \"$ROOT/{r}\" && echo {r} > \"$ROOT/{r}/app.jar\""),
        );
    }
    if let Some(l) = link {
        f.sh(i, &format!("ln -sfn {l} \"$ROOT/batch\""));
    }
}

fn link(f: &Fleet, i: usize) -> String {
    fs::read_link(f.root(i).join("batch"))
        .unwrap()
        .display()
        .to_string()
}

fn list_host(f: &Fleet, i: usize) -> Value {
    let out = relman(f, &["--host", f.name(i), "list", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    json(&out)["hosts"][0].clone()
}

fn release_names(h: &Value) -> Vec<String> {
    h["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// A root-owned `chmod 000` release on host i: the deploy user can't read it.
fn unreadable(f: &Fleet, i: usize, name: &str) {
    f.sh_as(
        i,
        "root",
        &format!("mkdir \"$ROOT/{name}\" && echo x > \"$ROOT/{name}/app.jar\" && chmod 000 \"$ROOT/{name}\""),
    );
}

fn launch_pwd(f: &Fleet, i: usize) -> Output {
    support::command_as(
        DEPLOY,
        &f.root(i).join(".relman/bin/launch").display().to_string(),
    )
    .args(["--", "pwd"])
    .stdin(Stdio::null())
    .output()
    .unwrap()
}

fn app(dir: &Path, text: &str) -> String {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("app.jar"), text).unwrap();
    fs::write(dir.join("config.properties"), "a=1\n").unwrap();
    dir.display().to_string()
}

/// Item 5: one directory with an impossible timestamp or an over-long `.N` made
/// every command fail ("scan output line N: bad release name"). Now each is a
/// foreign entry: listed as such, never touched, and list, switch, rollback,
/// prune and deploy all work beside them.
#[test]
fn badly_named_directories_are_foreign_and_every_command_works() {
    let f = Fleet::start_as(1, DEPLOY);
    layout(&f, 0, &[A, B, C], Some(B));
    for n in BAD_NAMES {
        f.sh(
            0,
            &format!("mkdir -p \"$ROOT/{n}\" && echo x > \"$ROOT/{n}/app.jar\""),
        );
    }
    let h = list_host(&f, 0);
    assert_eq!(h["ok"], true, "{h}");
    assert_eq!(h["foreign"], BAD_NAMES.len(), "{h}");
    assert_eq!(release_names(&h), [C, B, A], "{h}");
    let table = relman(&f, &["list"]);
    assert_eq!(code(&table), 0, "{}", stderr(&table));

    for (args, want) in [
        (&["--all", "switch", C][..], C),
        (&["--all", "rollback"][..], B),
    ] {
        let out = relman(&f, args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert_eq!(link(&f, 0), want, "{args:?}");
    }
    let out = relman(&f, &["--all", "prune", "--keep", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = relman(&f, &["--all", "deploy", &app(&f.dir().join("app"), "v2")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let h = list_host(&f, 0);
    assert_eq!(h["foreign"], BAD_NAMES.len(), "{h}");
    for n in BAD_NAMES {
        assert!(
            f.root(0).join(n).join("app.jar").is_file(),
            "{n} was touched"
        );
        // Not a release for the launcher either.
        let out = support::command_as(
            DEPLOY,
            &f.root(0).join(".relman/bin/launch").display().to_string(),
        )
        .args(["--release", n, "--", "true"])
        .output()
        .unwrap();
        assert_eq!(code(&out), 2, "launch --release {n}: {}", stderr(&out));
        // And not a switch target: refused before anything is sent.
        let out = relman(&f, &["--all", "switch", n]);
        assert_eq!(code(&out), 5, "switch {n}: {}", stderr(&out));
    }
}

/// Item 4: a root-owned `chmod 000` release between two seed releases. Rollback
/// picked it (exit 0, then `launch` said "no live release", and a second rollback
/// picked it again). Now rollback skips it, switch refuses it naming the release
/// and why (exit 5), and `--force` switches to it when the operator insists.
#[test]
fn rollback_skips_and_switch_refuses_a_release_the_deploy_user_cannot_read() {
    let f = Fleet::start_as(1, DEPLOY);
    layout(&f, 0, &[A, C], Some(C));
    unreadable(&f, 0, B);

    let out = relman(&f, &["--all", "rollback"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(link(&f, 0), A, "rollback skipped the unreadable {B}");
    let out = launch_pwd(&f, 0);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).trim_end().ends_with(A));
    // A second rollback has nothing usable older than A: refused, the link stays.
    let out = relman(&f, &["--all", "rollback"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing to roll back to"),
        "{}",
        stderr(&out)
    );
    assert_eq!(link(&f, 0), A);

    for args in [
        &["--all", "switch", B][..],
        &["--all", "rollback", "--to", B][..],
    ] {
        let out = relman(&f, args);
        assert_eq!(code(&out), 5, "{args:?}: {}", stderr(&out));
        let e = stderr(&out);
        assert_eq!(e.lines().count(), 1, "one line: {e}");
        assert!(e.contains(B) && e.contains("cannot read"), "{e}");
        assert!(e.contains("--force"), "{e}");
        assert_eq!(link(&f, 0), A, "{args:?}");
    }
    let out = relman(&f, &["--all", "switch", B, "--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(link(&f, 0), B, "--force: the operator insists");
}

/// Item 4: an empty release, and a release missing a file (or holding a file of
/// another size) than its manifest lists, are refused; `--force` goes ahead.
#[test]
fn empty_and_incomplete_releases_are_refused() {
    let f = Fleet::start_as(1, DEPLOY);
    layout(&f, 0, &[A], Some(A));
    f.sh(0, &format!("mkdir \"$ROOT/{B}\""));
    let out = relman(&f, &["--all", "switch", B]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(B) && stderr(&out).contains("empty"),
        "{}",
        stderr(&out)
    );
    assert_eq!(link(&f, 0), A);

    // A relman release (with a manifest), then the live link back to A.
    let out = relman(&f, &["--all", "deploy", &app(&f.dir().join("app"), "v1")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rel = link(&f, 0);
    let out = relman(&f, &["--all", "switch", A]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    f.sh(0, &format!("printf 'short' > \"$ROOT/{rel}/app.jar\""));
    let out = relman(&f, &["--all", "switch", &rel]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("incomplete") && e.contains("app.jar has 5 bytes"),
        "{e}"
    );
    f.sh(
        0,
        &format!("printf v1 > \"$ROOT/{rel}/app.jar\" && rm \"$ROOT/{rel}/config.properties\""),
    );
    let out = relman(&f, &["--all", "switch", &rel]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let e = stderr(&out);
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    assert!(e.contains("config.properties is missing"), "{e}");
    assert_eq!(link(&f, 0), A);
    let out = relman(&f, &["--all", "switch", &rel, "--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(link(&f, 0), rel);
}

/// Item 10: a release missing on one host, unreadable on one, incomplete on one:
/// no host's link moves (exit 5, each host that can't named with why). `--each`
/// is the old per-host switch: done on some, exit 6.
#[test]
fn a_fleet_switch_changes_no_host_unless_every_host_can() {
    let f = Fleet::start_as(3, DEPLOY);
    for i in 0..3 {
        layout(&f, i, &[A, B], Some(A));
    }
    layout(&f, 0, &[C], None);
    layout(&f, 2, &[C], None);
    // C missing on h2 (a file of that name: not a release directory either).
    f.sh(1, &format!("echo x > \"$ROOT/{C}\""));
    let out = relman(&f, &["--all", "switch", C, "--json"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let v = json(&out);
    let hosts = v["hosts"].as_array().unwrap();
    assert!(hosts.iter().all(|h| h["ok"] == false), "{v}");
    assert!(
        hosts[1]["error"]
            .as_str()
            .unwrap()
            .contains("not a release directory"),
        "{v}"
    );
    for i in [0, 2] {
        assert!(
            hosts[i]["error"]
                .as_str()
                .unwrap()
                .contains("h2 cannot take the change"),
            "{v}"
        );
    }
    for i in 0..3 {
        assert_eq!(link(&f, i), A, "h{} moved", i + 1);
    }
    // The human form: each host that can't, then one line saying nothing changed.
    let out = relman(&f, &["--all", "switch", C]);
    assert_eq!(code(&out), 5);
    let e = stderr(&out);
    assert!(
        e.contains("h2: ") && e.contains("nothing changed on any host"),
        "{e}"
    );
    assert!(!e.contains("h1: "), "h1 could: {e}");

    // Unreadable on h3.
    f.sh(1, &format!("rm \"$ROOT/{C}\""));
    layout(&f, 1, &[C], None);
    f.sh_as(
        2,
        "root",
        &format!("chown -R root: \"$ROOT/{C}\" && chmod 000 \"$ROOT/{C}\""),
    );
    let out = relman(&f, &["--all", "switch", C]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("h3: refusing"), "{}", stderr(&out));
    for i in 0..3 {
        assert_eq!(link(&f, i), A);
    }

    // --each: per host, as before.
    let out = relman(&f, &["--all", "switch", C, "--each"]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert_eq!(
        (link(&f, 0), link(&f, 1), link(&f, 2)),
        (C.to_string(), C.to_string(), A.to_string())
    );

    // Incomplete by its manifest on h2 only: the host's own check, before any switch.
    let out = relman(&f, &["--all", "switch", A]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = relman(
        &f,
        &[
            "--all",
            "deploy",
            &app(&f.dir().join("app"), "v1"),
            "--no-switch",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rel = release_names(&list_host(&f, 0))[0].clone();
    f.sh(1, &format!("rm \"$ROOT/{rel}/app.jar\""));
    let out = relman(&f, &["--all", "switch", &rel]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("h2: refusing"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("app.jar is missing"),
        "{}",
        stderr(&out)
    );
    for i in 0..3 {
        assert_eq!(link(&f, i), A);
    }
}

/// Item 10: switching a fleet to a release a rollback left (bad) is allowed — the
/// operator named it — but each host warns, on stderr and in `--json`.
#[test]
fn a_fleet_switch_to_a_bad_release_warns_on_every_host() {
    let f = Fleet::start_as(3, DEPLOY);
    for i in 0..3 {
        layout(&f, i, &[A, B], Some(A));
    }
    let out = relman(&f, &["--all", "switch", B]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = relman(&f, &["--all", "rollback"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for i in 0..3 {
        assert_eq!(link(&f, i), A);
    }
    let out = relman(&f, &["--all", "switch", B, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    for h in v["hosts"].as_array().unwrap() {
        assert_eq!(h["ok"], true, "{v}");
        assert!(h["warning"].as_str().unwrap().contains("marked bad"), "{v}");
    }
    assert_eq!(
        stderr(&out).matches("warning:").count(),
        3,
        "{}",
        stderr(&out)
    );
    // A good release: no warning.
    let out = relman(&f, &["--all", "switch", A, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(json(&out)["hosts"][0]["warning"].is_null());
}

/// Item 10 / SPEC §7: a fleet rollback goes to one release every host has — the
/// newest that is not bad and was live before on each — or changes nothing (exit
/// 5, naming what each host lacks). `--each` rolls each host back on its own.
#[test]
fn a_fleet_rollback_picks_one_target_every_host_has_or_none() {
    let f = Fleet::start_as(3, DEPLOY);
    for i in 0..3 {
        layout(&f, i, &[A, B, C], Some(A));
    }
    for r in [B, C] {
        let out = relman(&f, &["--all", "switch", r]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    // B gone on h3: each host alone would go back to B on h1, h2 and A on h3.
    f.sh(2, &format!("rm -rf \"$ROOT/{B}\""));
    let out = relman(&f, &["--all", "rollback", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for i in 0..3 {
        assert_eq!(link(&f, i), A, "h{}: the common target", i + 1);
    }

    // No common target: h1 could go back only to B, h2 only to C.
    let f = Fleet::start_as(3, DEPLOY);
    layout(&f, 0, &[B, A], Some(B));
    layout(&f, 1, &[C, A], Some(C));
    layout(&f, 2, &[B, C, A], Some(B));
    for (i, to) in [(0, A), (1, A), (2, C)] {
        let out = relman(&f, &["--host", f.name(i), "switch", to]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let before: Vec<String> = (0..3).map(|i| link(&f, i)).collect();
    let out = relman(&f, &["--all", "rollback"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("nothing to roll back to on every host"), "{e}");
    assert!(e.contains(&format!("h1 has {B} (lacks {C})")), "{e}");
    assert!(e.contains(&format!("h2 has {C} (lacks {B})")), "{e}");
    let after: Vec<String> = (0..3).map(|i| link(&f, i)).collect();
    assert_eq!(before, after, "no host's link moved");

    // --each: each host to its own previous release.
    let out = relman(&f, &["--all", "rollback", "--each"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        (link(&f, 0), link(&f, 1), link(&f, 2)),
        (B.to_string(), C.to_string(), B.to_string())
    );
}
