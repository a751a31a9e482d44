//! switch / rollback / lock / history, end to end against real sshd hosts.

use crate::support;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Fleet, Kill, scenarios};

const A: &str = "batch_20261126090000";
const B: &str = "batch_20261126100000";
const C: &str = "batch_20261126110000";

fn layout(f: &Fleet, i: usize, link: Option<&str>) {
    for r in [A, B, C] {
        f.sh(
            i,
            &format!("mkdir -p \"$ROOT/{r}\" && echo {r} > \"$ROOT/{r}/app.jar\""),
        );
    }
    f.sh(i, "mkdir -p \"$ROOT/logs\"");
    if let Some(l) = link {
        f.sh(i, &format!("ln -s {l} \"$ROOT/batch\""));
    }
}

fn link(f: &Fleet, i: usize) -> String {
    fs::read_link(f.root(i).join("batch"))
        .unwrap()
        .display()
        .to_string()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn list_json(f: &Fleet) -> Value {
    let out = f.relman().args(["list", "--json"]).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

// The hostile-target scenario (`support::scenarios`), over SSH through the CLI;
// its `local` twin is `link_local::expect_mismatch_and_hostile_targets_change_nothing`.
for_users!(switch_cas_and_hostile_names_change_nothing);
fn switch_cas_and_hostile_names_change_nothing(user: &str) {
    let f = Fleet::start_as(1, user);
    layout(&f, 0, Some(B));
    let switch = |target: &str, expect: Option<&str>| {
        let mut c = f.relman();
        c.args(["--host", "h1", "switch", target]);
        if let Some(e) = expect {
            c.args(["--expect", e]);
        }
        let out = c.output().unwrap();
        let e = stderr(&out);
        match code(&out) {
            0 => Ok(()),
            n => Err((n, e.strip_suffix('\n').unwrap_or(&e).to_string())),
        }
    };
    scenarios::hostile_switch_targets_change_nothing(&switch, f.root(0), &[f.home()], [A, B, C]);
    assert!(!f.dir().join("pwned").exists());

    let out = f
        .relman()
        .args(["--host", "h1", "switch", C, "--expect", B, "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hosts"][0]["from"], B);
    assert_eq!(v["hosts"][0]["to"], C);
    assert_eq!(link(&f, 0), C, "a relative target");
}

for_users!(rollback_walks_back_marks_bad_and_stops_with_exit_5);
fn rollback_walks_back_marks_bad_and_stops_with_exit_5(user: &str) {
    let f = Fleet::start_as(1, user);
    layout(&f, 0, None);
    for r in [A, B, C] {
        let out = f.relman().args(["--all", "switch", r]).output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let out = f.relman().args(["--all", "rollback"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(link(&f, 0), B);
    let out = f.relman().args(["--all", "rollback"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(link(&f, 0), A, "C→B→A, never back to C");
    let v = list_json(&f);
    let rels = v["hosts"][0]["releases"].as_array().unwrap();
    let bad: Vec<&str> = rels
        .iter()
        .filter(|r| r["bad"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(bad, [C, B]);
    let out = f.relman().args(["--all", "rollback"]).output().unwrap();
    assert_eq!(code(&out), 5, "nothing left: {}", stderr(&out));
    assert_eq!(link(&f, 0), A);

    // History: valid JSON lines with the SPEC fields, newest first in `history`.
    let raw = fs::read_to_string(f.root(0).join(".relman/history.jsonl")).unwrap();
    assert_eq!(raw.lines().count(), 5);
    for l in raw.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        for k in ["at", "by", "action", "from", "to", "note"] {
            assert!(v.get(k).is_some(), "{k} in {l}");
        }
    }
    let out = f
        .relman()
        .args(["history", "-n", "2", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let h = v["hosts"][0]["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["action"], "rollback");
    assert_eq!(h[0]["to"], A);
    // Nothing is ever rewritten: the first lines are still there, byte for byte.
    let out = f.relman().args(["--all", "switch", C]).output().unwrap();
    assert_eq!(code(&out), 0);
    let raw2 = fs::read_to_string(f.root(0).join(".relman/history.jsonl")).unwrap();
    assert!(raw2.starts_with(&raw));
}

for_users!(rollback_on_a_hand_made_layout_goes_by_name);
fn rollback_on_a_hand_made_layout_goes_by_name(user: &str) {
    let f = Fleet::start_as(1, user);
    layout(&f, 0, Some(&format!("{}/{C}", "$ROOT")));
    let out = f
        .relman()
        .args(["--host", "h1", "rollback"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(link(&f, 0), B);
}

for_users!(switches_keep_the_link_valid_for_readers_at_every_instant: root, deploy);
fn switches_keep_the_link_valid_for_readers_at_every_instant(user: &str) {
    let f = Fleet::start_as(1, user);
    layout(&f, 0, Some(A));
    let cfg = f.config();
    let host = cfg.hosts[0].clone();
    let t = relman::remote::open(&cfg, &host).unwrap();
    let path: PathBuf = f.root(0).join("batch/app.jar");
    let stop = Arc::new(AtomicBool::new(false));
    let (opens, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, opens, failures, path) =
                (stop.clone(), opens.clone(), failures.clone(), path.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match fs::read_to_string(&path) {
                        Ok(s) if s.starts_with("batch_") => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    opens.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for i in 0..200 {
        let to = if i % 2 == 0 { B } else { A };
        relman::ops::switch(t.as_ref(), &host, to, None).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "of {} opens",
        opens.load(Ordering::Relaxed)
    );
    assert!(opens.load(Ordering::Relaxed) > 200);
    assert_eq!(link(&f, 0), A);
}

for_users!(concurrent_switches_never_interleave);
fn concurrent_switches_never_interleave(user: &str) {
    let f = Fleet::start_as(1, user);
    layout(&f, 0, Some(A));
    let spawn = |to: &str| {
        f.relman()
            .args(["--host", "h1", "switch", to])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (p1, p2) = (spawn(B), spawn(C));
    let (o1, o2) = (
        p1.wait_with_output().unwrap(),
        p2.wait_with_output().unwrap(),
    );
    let codes = [code(&o1), code(&o2)];
    assert!(
        codes.iter().all(|c| *c == 0 || *c == 4),
        "{codes:?} {} {}",
        stderr(&o1),
        stderr(&o2)
    );
    for o in [&o1, &o2] {
        if code(o) == 4 {
            assert!(stderr(o).contains("locked by"), "{}", stderr(o));
        }
    }
    let done = codes.iter().filter(|c| **c == 0).count();
    let raw = fs::read_to_string(f.root(0).join(".relman/history.jsonl")).unwrap();
    assert_eq!(
        raw.lines().count(),
        done,
        "one history line per switch done"
    );
    let last: Value = serde_json::from_str(raw.lines().last().unwrap()).unwrap();
    assert_eq!(
        link(&f, 0),
        last["to"].as_str().unwrap(),
        "history and link agree"
    );
}

/// Not a test on its own: when this test binary is re-run with `HOLD_LOCK_HOST` set,
/// it takes that host's lock like a long operation would, prints `held` and sleeps
/// until killed (a relman process that dies holding a lock).
#[test]
fn hold_lock_helper() {
    let Ok(name) = std::env::var("HOLD_LOCK_HOST") else {
        return;
    };
    let path = std::env::var("RELMAN_CONFIG").unwrap();
    let cfg = relman::config::Config::load(std::path::Path::new(&path)).unwrap();
    let host = cfg.host(&name).unwrap().clone();
    let t = relman::remote::open(&cfg, &host).unwrap();
    let _l = relman::ops::lock::acquire(t.as_ref(), &host, relman::model::Action::Deploy).unwrap();
    // The harness captures stdout: say "held" through a file.
    fs::write(std::env::var("HOLD_LOCK_MARK").unwrap(), "held").unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

/// Starts this test binary as a lock holder of h1 and waits until it holds the lock.
fn start_holder(f: &Fleet) -> Kill {
    let mark = f.dir().join(format!(
        "held-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &support::test_path(module_path!(), "hold_lock_helper"),
            "--test-threads=1",
        ])
        .env("HOLD_LOCK_HOST", "h1")
        .env("HOLD_LOCK_MARK", &mark)
        .env("RELMAN_CONFIG", f.config_path())
        .env("HOME", f.home())
        .env_remove("SSH_AUTH_SOCK")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let k = Kill(child);
    assert!(
        support::wait_until(Duration::from_secs(20), || mark.exists()),
        "the holder never held the lock"
    );
    k
}

for_users!(a_killed_relman_leaves_no_lock_and_unlock_breaks_a_stuck_one);
fn a_killed_relman_leaves_no_lock_and_unlock_breaks_a_stuck_one(user: &str) {
    let f = Fleet::start_as(1, user);
    layout(&f, 0, Some(A));
    let held = start_holder(&f);

    let out = f
        .relman()
        .args(["--host", "h1", "switch", B])
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("locked by") && stderr(&out).contains("(deploy"),
        "{}",
        stderr(&out)
    );
    let v = list_json(&f);
    assert_eq!(v["hosts"][0]["locked"]["action"], "deploy");

    // SIGKILL the holder: the host drops the lock by itself, well within 10 s.
    let mut held = held;
    held.0.kill().unwrap();
    held.0.wait().unwrap();
    let t0 = Instant::now();
    assert!(
        support::wait_until(Duration::from_secs(10), || {
            f.relman()
                .args(["--host", "h1", "switch", B])
                .output()
                .unwrap()
                .status
                .code()
                == Some(0)
        }),
        "lock still held 10 s after SIGKILL"
    );
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(link(&f, 0), B);

    // A holder that is alive but stuck: `unlock --force` breaks it and records it.
    let _stuck = start_holder(&f);
    let out = f
        .relman()
        .args(["--host", "h1", "unlock"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(code(&out), 0, "no prompt answer, no unlock");
    assert!(stderr(&out).contains("locked by"), "{}", stderr(&out));
    let out = f
        .relman()
        .args(["--host", "h1", "unlock", "--force"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked"));
    let out = f
        .relman()
        .args(["--host", "h1", "switch", C])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let raw = fs::read_to_string(f.root(0).join(".relman/history.jsonl")).unwrap();
    assert!(raw.contains("\"action\":\"unlock\""), "{raw}");
}

for_users!(multi_host_switch_reports_per_host_and_exit_6);
fn multi_host_switch_reports_per_host_and_exit_6(user: &str) {
    let mut f = Fleet::start_as(3, user);
    for i in 0..3 {
        layout(&f, i, Some(A));
    }
    f.stop(2);
    // SPEC §3: a fleet switch checks every host first and changes none unless all
    // can: h3 is down (exit 3, its cause), h1 and h2 stay where they were.
    let out = f
        .relman()
        .args(["--all", "switch", B, "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts = v["hosts"].as_array().unwrap();
    assert!(hosts.iter().all(|h| h["ok"] == false), "{v}");
    assert!(
        hosts[0]["error"]
            .as_str()
            .unwrap()
            .contains("h3 cannot take the change"),
        "{v}"
    );
    for i in 0..3 {
        assert_eq!(link(&f, i), A);
    }
    // --each: each host on its own, as before: done on some, exit 6.
    let out = f
        .relman()
        .args(["--all", "switch", B, "--each", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts[0]["ok"], true);
    assert_eq!(hosts[1]["ok"], true);
    assert_eq!(hosts[2]["ok"], false);
    assert_eq!(link(&f, 0), B);
    assert_eq!(link(&f, 1), B);
    assert_eq!(link(&f, 2), A);
}

// The lock-answer scenario (`support::scenarios`) over SSH, as every fleet user
// (dash, busybox, umask 077); its `local` twin is in `link_local`.
for_users!(a_script_in_the_locks_answer_runs_under_it);
fn a_script_in_the_locks_answer_runs_under_it(user: &str) {
    let f = Fleet::start_as(1, user);
    let cfg = f.config();
    let host = cfg.hosts[0].clone();
    let t = relman::remote::open(&cfg, &host).unwrap();
    scenarios::a_script_in_the_locks_answer_runs_under_it(t.as_ref(), &host);
}
