//! Issue 14 §4 "one clear language", through the real binary: one size unit, plural
//! forms, tables that line up, help for every argument, a first run that says how to
//! start, and the console without a terminal.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn relman(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relman"));
    c.env("HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("RELMAN_CONFIG")
        .env_remove("COLUMNS")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CACHE_HOME")
        .stdin(Stdio::null())
        .current_dir(home);
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A config with one local host whose prefix is long (`reporting_nightly_`), two
/// releases: one of 2 KiB with a long message, one without a manifest.
fn long_prefix_host(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("deploy");
    let a = root.join("reporting_nightly_20261126093000");
    let b = root.join("reporting_nightly_20261126221500");
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("app.jar"), vec![b'x'; 3000]).unwrap();
    fs::write(b.join("app.jar"), vec![b'y'; 2048]).unwrap();
    std::os::unix::fs::symlink("reporting_nightly_20261126221500", root.join("batch")).unwrap();
    let cfg = dir.join("relman.toml");
    fs::write(
        &cfg,
        format!(
            "[defaults]\nprefix = \"reporting_nightly_\"\njob_users = []\n\n\
             [[hosts]]\nname = \"here\"\naddress = \"local\"\nroot = \"{}\"\n",
            root.display()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn list_speaks_iec_units_and_its_columns_line_up_with_a_long_prefix() {
    let d = tempfile::tempdir().unwrap();
    let cfg = long_prefix_host(d.path());
    let o = relman(d.path())
        .arg("--config")
        .arg(&cfg)
        .arg("list")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("KiB"), "binary units, as the console: {out}");
    assert!(!out.contains(" kB") && !out.contains(" MB"), "{out}");
    let head = out.lines().find(|l| l.contains("RELEASE")).unwrap();
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains("_2026"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    let col = |l: &str, w: &str| l[..l.find(w).unwrap()].chars().count();
    let age = col(head, "AGE");
    let size_end = col(head, "SIZE") + 4;
    let origin = col(head, "ORIGIN");
    for r in &rows {
        // The age is the first word after the release name, under AGE.
        let after_name = r.find("_2026").unwrap() + "_20261126093000".len();
        let age_at = after_name + r[after_name..].find(|c: char| c != ' ').unwrap();
        assert_eq!(r[..age_at].chars().count(), age, "AGE column:\n{out}");
        let size_at = r.find("KiB").unwrap() + 3;
        assert_eq!(
            r[..size_at].chars().count(),
            size_end,
            "SIZE column:\n{out}"
        );
        assert!(r.chars().count() > origin, "{out}");
    }
}

#[test]
fn list_cuts_long_lines_to_columns_with_an_ellipsis() {
    let d = tempfile::tempdir().unwrap();
    let cfg = long_prefix_host(d.path());
    let o = relman(d.path())
        .env("COLUMNS", "60")
        .arg("--config")
        .arg(&cfg)
        .arg("list")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    for l in out.lines() {
        assert!(
            l.chars().count() <= 60,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    assert!(out.contains('…'), "{out}");
}

#[test]
fn every_argument_and_subcommand_has_help() {
    fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in c.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for s in c.get_subcommands() {
            if s.get_name() == "help" {
                continue;
            }
            let p = format!("{path} {}", s.get_name());
            if s.get_about().is_none() && s.get_long_about().is_none() {
                missing.push(format!("{p} (the subcommand)"));
            }
            walk(s, &p, missing);
        }
    }
    let mut missing = Vec::new();
    walk(&relman::cli::command(), "relman", &mut missing);
    assert!(missing.is_empty(), "without help: {missing:#?}");
}

#[test]
fn completions_offers_no_flags_it_ignores_and_refuses_them() {
    let d = tempfile::tempdir().unwrap();
    let o = relman(d.path())
        .args(["completions", "--help"])
        .output()
        .unwrap();
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    for flag in ["--json", "--host", "--group", "--all", "--quiet"] {
        assert!(!out.contains(flag), "{flag} offered: {out}");
    }
    let o = relman(d.path())
        .args(["completions", "bash", "--json"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--json") && err.contains("completions"),
        "{err}"
    );
    // The ones that mean something stay.
    let o = relman(d.path()).args(["list", "--help"]).output().unwrap();
    let (out, _) = text(&o);
    assert!(out.contains("--json") && out.contains("--host"), "{out}");
}

#[test]
fn a_first_run_without_config_says_how_to_start() {
    let d = tempfile::tempdir().unwrap();
    let o = relman(d.path()).arg("list").output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    let expected = d.path().join(".config/relman/config.toml");
    assert!(
        err.contains(&format!("no config file at {}", expected.display())),
        "{err}"
    );
    assert!(err.contains("relman --demo"), "{err}");
    assert!(err.contains("assets/config.example.toml"), "{err}");
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/config.example.toml")
            .exists(),
        "the example config the message names is in the repo"
    );
}

#[test]
fn the_console_without_a_terminal_names_relman_list() {
    let d = tempfile::tempdir().unwrap();
    for args in [&[][..], &["--demo"][..], &["tui"][..]] {
        let o = relman(d.path()).args(args).output().unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}\n{err}");
        assert!(err.contains("needs a terminal"), "{args:?}: {err}");
        assert!(err.contains("relman list"), "{args:?}: {err}");
        assert!(!err.contains("No such device"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn a_config_path_that_was_named_but_is_missing_stays_one_line() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope.toml");
    for o in [
        relman(d.path())
            .arg("--config")
            .arg(&missing)
            .arg("list")
            .output()
            .unwrap(),
        relman(d.path())
            .env("RELMAN_CONFIG", &missing)
            .arg("list")
            .output()
            .unwrap(),
    ] {
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("not found") && err.contains("nope.toml"),
            "{err}"
        );
    }
}
