//! `deploy`'s guard flags through the real binary (issue 16, SPEC §3/§7): each
//! usage error is one line, exit 2, before anything is sent (no staging, no new
//! release on any host).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn relman(home: &Path, cfg: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relman"));
    c.env("HOME", home)
        .env("NO_COLOR", "1")
        .env("RELMAN_CONFIG", cfg)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CACHE_HOME")
        .stdin(Stdio::null())
        .current_dir(home);
    c
}

/// Two local hosts, `a` and `b`, each with an empty root; the config and the app.
fn two_hosts(dir: &Path) -> (PathBuf, PathBuf) {
    let mut toml = String::from("[defaults]\nprefix = \"batch_\"\njob_users = []\n");
    for n in ["a", "b"] {
        let root = dir.join(n);
        fs::create_dir_all(&root).unwrap();
        toml.push_str(&format!(
            "\n[[hosts]]\nname = \"{n}\"\naddress = \"local\"\nroot = \"{}\"\n",
            root.display()
        ));
    }
    let cfg = dir.join("relman.toml");
    fs::write(&cfg, toml).unwrap();
    let app = dir.join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("app.jar"), "jar").unwrap();
    (cfg, app)
}

fn entries(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn run(dir: &Path, cfg: &Path, args: &[&str]) -> Output {
    relman(dir, cfg).args(args).output().unwrap()
}

#[test]
fn guard_flags_that_mean_nothing_together_are_one_line_usage_errors_and_send_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (cfg, app) = two_hosts(d.path());
    let app = app.display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--canary", "a", "--no-switch"], "--no-switch"),
        (&["--probation", "1h", "--no-switch"], "--no-switch"),
        (&["--min-runs", "2"], "--min-runs"),
        (&["--watch", "5m"], "--watch"),
        (&["--max-failures", "1"], "--max-failures"),
        (
            &["--canary", "a", "--min-runs", "0"],
            "--min-runs must be at least 1",
        ),
        (
            &["--canary", "c"],
            "--canary c: not one of the chosen hosts (a, b)",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["--all", "deploy"];
        args.extend_from_slice(flags);
        args.push(&app);
        let o = run(d.path(), &cfg, &args);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{flags:?}: one line: {e}");
        assert!(e.contains(want), "{flags:?}: {e}");
        assert!(o.stdout.is_empty(), "{flags:?}");
        for n in ["a", "b"] {
            assert_eq!(
                entries(&d.path().join(n)),
                Vec::<String>::new(),
                "{flags:?}: nothing sent to {n}"
            );
        }
    }
    // A canary outside the selection, even though the config has it.
    let o = run(
        d.path(),
        &cfg,
        &["--host", "a", "deploy", "--canary", "b", &app],
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--canary b: not one of the chosen hosts (a)"),
        "{e}"
    );
    assert_eq!(entries(&d.path().join("a")), Vec::<String>::new());
}

#[test]
fn the_guard_flags_that_go_together_are_accepted() {
    let d = tempfile::tempdir().unwrap();
    let (cfg, app) = two_hosts(d.path());
    let app = app.display().to_string();
    // On a first deploy no host has a release to go back to:
    // refused before any switch (exit 5), nothing left behind.
    let o = run(d.path(), &cfg, &["--all", "deploy", "--canary", "a", &app]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{e}");
    assert!(
        e.contains("a: canary: a has no live release for a canary to go back to"),
        "{e}"
    );
    for n in ["a", "b"] {
        assert_eq!(
            entries(&d.path().join(n)),
            [".relman"],
            "nothing left on {n}"
        );
    }
    // --max-failures with --probation alone, and every host a canary, are fine:
    // the usage check lets them through (the deploy itself then runs).
    for flags in [
        &["--probation", "1h", "--max-failures", "2"][..],
        &[
            "--canary",
            "a",
            "--canary",
            "b",
            "--min-runs",
            "1",
            "--watch",
            "1s",
        ][..],
    ] {
        let mut args = vec!["--all", "deploy", "--json"];
        args.extend_from_slice(flags);
        args.push(&app);
        let o = run(d.path(), &cfg, &args);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(2), "{flags:?}: {e}");
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|x| panic!("{flags:?}: {x}: {e}"));
        assert!(v.get("canary").is_some(), "{v}");
    }
}
