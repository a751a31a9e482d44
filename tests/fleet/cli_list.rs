//! `relman list` / `check` / config errors / host keys, end to end: the real binary
//! against real OpenSSH servers on 127.0.0.1.

use crate::support;

use std::fs;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use support::{Fleet, Kill};

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const OLD: &str = "batch_20261126093000";
const NEW: &str = "batch_20261126221500";

/// The classic script's layout: two releases, an absolute link, a foreign dir, logs/.
fn classic_layout(f: &Fleet, i: usize) {
    f.sh(
        i,
        &format!(
            "mkdir -p \"$ROOT/{OLD}/lib\" \"$ROOT/{NEW}/lib\" \"$ROOT/logs\" \"$ROOT/backup-old\" && \
             echo old > \"$ROOT/{OLD}/app.jar\" && echo new > \"$ROOT/{NEW}/app.jar\" && \
             ln -s \"$ROOT/{NEW}\" \"$ROOT/batch\""
        ),
    );
}

#[test]
fn a_hand_made_layout_lists_with_jobs_in_one_exec_per_host() {
    let f = Fleet::start(1);
    classic_layout(&f, 0);
    let old = f.root(0).join(OLD);
    let cwd_job = Kill(
        Command::new("sleep")
            .arg("600")
            .current_dir(&old)
            .spawn()
            .unwrap(),
    );
    let fd_job = Kill(
        Command::new("sh")
            .args(["-c", "exec 3<app.jar; cd /; exec sleep 600"])
            .current_dir(&old)
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(200));

    let before = f.exec_count(0);
    let out = f.relman().args(["list", "--json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.exec_count(0) - before, 1, "the scan is one exec per host");
    let v = json(&out);
    let h = &v["hosts"][0];
    assert_eq!(h["name"], "h1");
    assert_eq!(h["ok"], true);
    assert_eq!(h["current"], NEW);
    assert_eq!(h["previous"], OLD);
    assert_eq!(h["foreign"], 2, "logs/ and backup-old/");
    let rels = h["releases"].as_array().unwrap();
    assert_eq!(rels.len(), 2);
    assert_eq!(rels[0]["name"], NEW, "newest first");
    assert_eq!(rels[0]["current"], true);
    assert_eq!(rels[1]["origin"], "unknown");
    let jobs = rels[1]["jobs"].as_array().unwrap();
    let pids: Vec<u64> = jobs.iter().map(|j| j["pid"].as_u64().unwrap()).collect();
    assert!(
        pids.contains(&(cwd_job.0.id() as u64)),
        "cwd job missing: {jobs:?}"
    );
    assert!(
        pids.contains(&(fd_job.0.id() as u64)),
        "open-file job missing: {jobs:?}"
    );
    let j = jobs.iter().find(|j| j["pid"] == cwd_job.0.id()).unwrap();
    assert_eq!(j["command"], "sleep 600");
    assert!(j["started_at"].is_string());
    assert!(rels[0]["jobs"].as_array().unwrap().is_empty());

    // The human table says the same.
    let out = f.relman().arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("batch → {NEW}")), "{text}");
    assert!(text.contains("2 foreign"), "{text}");
}

#[test]
fn one_host_down_the_others_still_list_exit_6() {
    let mut f = Fleet::start(3);
    for i in 0..3 {
        classic_layout(&f, i);
    }
    f.stop(1);
    let out = f.relman().args(["list", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    let v = json(&out);
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3);
    assert_eq!(hosts[0]["ok"], true);
    assert_eq!(hosts[2]["ok"], true);
    assert_eq!(hosts[1]["ok"], false);
    assert!(
        hosts[1]["error"].as_str().unwrap().contains("connect"),
        "{}",
        hosts[1]["error"]
    );
    assert_eq!(hosts[2]["releases"].as_array().unwrap().len(), 2);

    // All down: exit 3.
    f.stop(0);
    f.stop(2);
    let out = f.relman().args(["list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn unknown_and_changed_host_keys_are_refused_before_anything_runs() {
    let f = Fleet::start(1);
    classic_layout(&f, 0);
    let good = fs::read_to_string(f.known_hosts()).unwrap();

    fs::write(f.known_hosts(), "").unwrap();
    let before = f.exec_count(0);
    let out = f.relman().args(["list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&f.host_fingerprint(0)),
        "fingerprint shown: {text}"
    );
    assert!(text.contains("relman trust"), "{text}");
    assert_eq!(f.exec_count(0), before, "nothing executed");
    assert_eq!(f.auth_count(0), 0, "not even authenticated");

    // Changed: known_hosts holds another ed25519 key for this host:port.
    let other = f.dir().join("other_key");
    support::keygen(&other, "other");
    let pubkey = fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut w = pubkey.split_whitespace();
    fs::write(
        f.known_hosts(),
        format!(
            "[127.0.0.1]:{} {} {}\n",
            f.port(0),
            w.next().unwrap(),
            w.next().unwrap()
        ),
    )
    .unwrap();
    let out = f.relman().args(["list", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = json(&out)["hosts"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("CHANGED"), "{err}");
    assert_eq!(f.exec_count(0), before);

    // trust --yes adds the key (without rewriting the file), then list works.
    fs::write(f.known_hosts(), "# keep this comment\n").unwrap();
    let out = f
        .relman()
        .args(["trust", "--host", "h1", "--yes"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kh = fs::read_to_string(f.known_hosts()).unwrap();
    assert!(kh.starts_with("# keep this comment\n"), "{kh}");
    assert_eq!(
        f.relman().args(["list"]).output().unwrap().status.code(),
        Some(0)
    );
    let _ = good;
}

#[test]
fn bad_config_is_one_line_naming_the_problem_exit_2() {
    let f = Fleet::start(1);
    let base = f.config_toml();
    let cases = [
        (
            format!("{base}\n[[hosts]]\nname = \"h1\"\naddress = \"local\"\n"),
            "duplicate",
        ),
        (format!("kep = 3\n{base}"), "kep"),
        (format!("refresh = \"10 parsecs\"\n{base}"), "refresh"),
    ];
    for (text, needle) in cases {
        let p = f.dir().join("bad.toml");
        fs::write(&p, text).unwrap();
        let out = f
            .relman()
            .args(["list", "--config"])
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{needle}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle) && err.contains("bad.toml:"), "{err}");
    }
    let out = f
        .relman()
        .args(["list", "--config", "/nonexistent/relman.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    // A changing command without a host selection.
    let out = f.relman().args(["switch", OLD]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--host"));
}

#[test]
fn check_reports_tools_and_link_per_host() {
    let f = Fleet::start(1);
    classic_layout(&f, 0);
    let out = f.relman().args(["check", "--json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    let checks = v["hosts"][0]["checks"].as_array().unwrap();
    for what in ["flock", "sha256sum", "/proc", "root", "link", "mv -T"] {
        let c = checks
            .iter()
            .find(|c| c["what"] == what)
            .unwrap_or_else(|| panic!("{what} missing"));
        assert_eq!(c["state"], "ok", "{c}");
    }
}

#[test]
fn completions_are_printed() {
    let f = Fleet::start(0);
    let out = f.relman().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The script is clap_complete's dynamic one: it asks relman at each Tab.
    assert!(String::from_utf8_lossy(&out.stdout).contains("RELMAN_COMPLETE=\"bash\""));
    let out = f
        .relman()
        .env("RELMAN_COMPLETE", "fish")
        .args(["--", "relman", "roll"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("rollback"));
}
