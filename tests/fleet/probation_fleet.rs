//! A probation (issue 16, SPEC §7): `switch --probation` sets it, the host's launcher
//! enforces it with relman gone (jobs started as cron would, as the deploy user and
//! as another user's jobs, under dash and busybox sh), the scan enforces it at
//! relman's next contact, `accept`, a later switch and expiry end it.

use crate::support;

use std::fs;
use std::os::unix::io::AsRawFd as _;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::cli::{code, err, relman, relman_json};
use support::{BUSYBOX, DEPLOY, Fleet, JOBS, command_as, wait_until};

const BBOX_BIN: &str = "/usr/local/lib/relman-test/bbox-bin";

/// Deploys a small app to every host (switched, or not with `switch` false).
fn deploy(f: &Fleet, switch: bool) -> String {
    let app = f.dir().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("app.jar"), format!("jar {}", rand_word())).unwrap();
    let mut args = vec!["--all", "deploy", "--json"];
    if !switch {
        args.push("--no-switch");
    }
    let o = f
        .relman()
        .args(&args)
        .arg(&app)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "deploy: {}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["release"].as_str().unwrap().to_string()
}

fn rand_word() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Host i's launcher as cron runs it as `user`: dash, or busybox sh with only
/// busybox applets on PATH for the busybox user.
fn launch(f: &Fleet, i: usize, user: &str) -> Command {
    let l = f.root(i).join(".relman/bin/launch");
    let mut c = if user == BUSYBOX {
        let mut c = command_as(user, &format!("{BBOX_BIN}/sh"));
        c.env("PATH", BBOX_BIN);
        c
    } else {
        command_as(user, "dash")
    };
    c.arg(l).current_dir("/").stdin(Stdio::null());
    c
}

/// A job through the launcher that exits with `status`; its output.
fn job(f: &Fleet, i: usize, user: &str, status: i32) -> Output {
    launch(f, i, user)
        .args(["--", "sh", "-c", &format!("exit {status}")])
        .output()
        .unwrap()
}

/// The release host i's link names.
fn live(f: &Fleet, i: usize) -> String {
    let t = fs::read_link(f.root(i).join("batch")).unwrap();
    t.file_name().unwrap().to_string_lossy().into_owned()
}

fn history(f: &Fleet, i: usize) -> Vec<Value> {
    let text = fs::read_to_string(f.root(i).join(".relman/history.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn actions(f: &Fleet, i: usize, action: &str) -> Vec<Value> {
    history(f, i)
        .into_iter()
        .filter(|h| h["action"] == action)
        .collect()
}

fn probation_file(f: &Fleet, i: usize) -> bool {
    f.root(i).join(".relman/probation").exists()
}

fn list(f: &Fleet) -> Value {
    relman_json(f, &["--all", "list", "--json"])
}

fn bad(v: &Value, host: usize, release: &str) -> bool {
    v["hosts"][host]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == release)
        .unwrap_or_else(|| panic!("{release} not listed: {v}"))["bad"]
        == true
}

/// Holds host i's lock as an operator's relman would (an flock on `.relman/lock`)
/// until dropped.
struct Held(#[allow(dead_code)] fs::File);

fn hold_lock(f: &Fleet, i: usize) -> Held {
    let file = fs::OpenOptions::new()
        .append(true)
        .open(f.root(i).join(".relman/lock"))
        .unwrap();
    // SAFETY: flock(2) on a descriptor this File owns.
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
    Held(file)
}

/// Two releases, the second just switched to on every host with a probation.
fn on_probation(f: &Fleet, duration: &str, max: u32) -> (String, String) {
    let a = deploy(f, true);
    let b = deploy(f, false);
    let o = relman(
        f,
        &[
            "--all",
            "switch",
            &b,
            "--probation",
            duration,
            "--max-failures",
            &max.to_string(),
        ],
    );
    assert_eq!(code(&o), 0, "switch --probation: {}", err(&o));
    (a, b)
}

for_users!(relman_gone_more_than_f_failures_roll_one_host_back: deploy, busybox);
fn relman_gone_more_than_f_failures_roll_one_host_back(user: &str) {
    let f = Fleet::start_as(2, user);
    let (a, b) = on_probation(&f, "10m", 1);
    for i in 0..2 {
        let p = actions(&f, i, "probation");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0]["to"], b.as_str());
        assert_eq!(p[0]["note"], "10m, more than 1 failure rolls back");
    }
    // One failure is allowed: nothing moves; a success counts for nothing.
    assert_eq!(code(&job(&f, 0, user, 3)), 3);
    assert_eq!(code(&job(&f, 0, user, 0)), 0);
    assert_eq!(live(&f, 0), b);
    // The second one is past F: this host goes back, by itself.
    let o = job(&f, 0, user, 4);
    assert_eq!(code(&o), 4, "the job's status still passes through");
    assert!(
        err(&o).contains(&format!("probation: {b} had 2 failed")),
        "{}",
        err(&o)
    );
    assert_eq!(live(&f, 0), a);
    assert_eq!(live(&f, 1), b, "the other host stays");
    let rb = actions(&f, 0, "rollback");
    assert_eq!(rb.len(), 1, "{rb:?}");
    assert!(
        rb[0]["by"].as_str().unwrap().starts_with("launch@"),
        "{rb:?}"
    );
    assert_eq!((&rb[0]["from"], &rb[0]["to"]), (&json!(b), &json!(a)));
    let note = rb[0]["note"].as_str().unwrap();
    let ids: Vec<String> = fs::read_to_string(f.root(0).join(format!(".relman/runs/{b}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "end" && v["exit_code"] != 0)
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        assert!(note.contains(id.as_str()), "{note} names {id}");
    }
    assert!(!probation_file(&f, 0), "the rollback ended the probation");
    // The next job runs in the good release; the lock is free again.
    let o = launch(&f, 0, user)
        .args(["--", "sh", "-c", "echo $RELEASE_NAME"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), a);
    let v = list(&f);
    assert!(bad(&v, 0, &b), "{v}");
    assert!(!bad(&v, 1, &b), "{v}");
    assert_eq!(v["hosts"][0]["probation"], Value::Null);
    assert_eq!(v["hosts"][0]["locked"], Value::Null, "{v}");
    assert_eq!(v["hosts"][1]["probation"]["release"], b.as_str(), "{v}");
}

#[test]
fn twenty_failing_jobs_at_once_give_one_rollback() {
    let f = Fleet::start_as(1, DEPLOY);
    let (a, _b) = on_probation(&f, "10m", 0);
    let kids: Vec<_> = (0..20)
        .map(|_| {
            launch(&f, 0, DEPLOY)
                .args(["--", "sh", "-c", "sleep 0.3; exit 1"])
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut k in kids {
        assert_eq!(k.wait().unwrap().code(), Some(1));
    }
    assert_eq!(live(&f, 0), a);
    assert_eq!(actions(&f, 0, "rollback").len(), 1, "{:?}", history(&f, 0));
}

#[test]
fn an_operator_holding_the_lock_delays_the_rollback_to_the_next_failure() {
    let f = Fleet::start_as(1, DEPLOY);
    let (a, b) = on_probation(&f, "10m", 0);
    let held = hold_lock(&f, 0);
    let o = job(&f, 0, DEPLOY, 1);
    assert_eq!(code(&o), 1, "never waits for the lock: {}", err(&o));
    assert_eq!(live(&f, 0), b);
    assert!(actions(&f, 0, "rollback").is_empty());
    // Due, not enforced: the scan (which can't take the lock either) shows it.
    let v = list(&f);
    let p = &v["hosts"][0]["probation"];
    assert_eq!(
        (p["failures"].as_u64(), p["max_failures"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    let o = relman(&f, &["--all", "list"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("probation DUE"),
        "{o:?}"
    );
    drop(held);
    assert_eq!(code(&job(&f, 0, DEPLOY, 1)), 1);
    assert_eq!(live(&f, 0), a);
    assert_eq!(actions(&f, 0, "rollback").len(), 1);
}

#[test]
fn a_link_moved_by_hand_is_never_switched_back() {
    let f = Fleet::start_as(1, DEPLOY);
    let (a, b) = on_probation(&f, "10m", 0);
    // Someone puts the link back by hand (no relman, no history).
    f.sh(
        0,
        &format!("cd \"$ROOT\" && ln -s {a} tmp-link && mv -T tmp-link batch"),
    );
    let o = launch(&f, 0, DEPLOY)
        .args(["--release", &b, "--", "sh", "-c", "exit 1"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert_eq!(live(&f, 0), a);
    assert!(
        actions(&f, 0, "rollback").is_empty(),
        "{:?}",
        history(&f, 0)
    );
    assert!(
        !probation_file(&f, 0),
        "a probation of a release no longer live ends"
    );
    // And it does not come back to life when B is live again by hand.
    f.sh(
        0,
        &format!("cd \"$ROOT\" && ln -s {b} tmp-link && mv -T tmp-link batch"),
    );
    assert_eq!(code(&job(&f, 0, DEPLOY, 1)), 1);
    assert_eq!(live(&f, 0), b);
}

#[test]
fn accept_and_expiry_end_it_and_a_plain_switch_ends_it() {
    let f = Fleet::start_as(1, DEPLOY);
    let (a, b) = on_probation(&f, "10m", 2);
    // list --json: the probation object, exactly.
    let v = list(&f);
    let p = v["hosts"][0]["probation"].clone();
    let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "failures",
            "max_failures",
            "previous",
            "release",
            "since",
            "until"
        ]
    );
    assert_eq!((&p["release"], &p["previous"]), (&json!(b), &json!(a)));
    assert_eq!((&p["max_failures"], &p["failures"]), (&json!(2), &json!(0)));
    let t = |k: &str| humantime::parse_rfc3339(p[k].as_str().unwrap()).unwrap();
    assert_eq!(
        t("until").duration_since(t("since")).unwrap(),
        Duration::from_secs(600)
    );
    // accept needs a selection; then ends it (history `accept`), once.
    assert_eq!(code(&relman(&f, &["accept"])), 2);
    let v = relman_json(&f, &["--all", "accept", "--json"]);
    assert_eq!(v["hosts"][0]["ok"], true, "{v}");
    assert_eq!(v["hosts"][0]["accepted"]["release"], b.as_str(), "{v}");
    assert_eq!(actions(&f, 0, "accept").len(), 1);
    assert_eq!(actions(&f, 0, "accept")[0]["to"], b.as_str());
    assert_eq!(list(&f)["hosts"][0]["probation"], Value::Null);
    let n = history(&f, 0).len();
    let v = relman_json(&f, &["--all", "accept", "--json"]);
    assert_eq!(v["hosts"][0]["accepted"], Value::Null, "{v}");
    assert_eq!(
        history(&f, 0).len(),
        n,
        "nothing written without a probation"
    );
    let o = relman(&f, &["--all", "accept"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("no probation"),
        "{o:?}"
    );
    assert_eq!(code(&job(&f, 0, DEPLOY, 1)), 1);
    assert_eq!(live(&f, 0), b, "accepted: failures don't roll back");

    // Expiry: a short probation on the live release (previous: from history).
    let o = relman(&f, &["--all", "switch", &b, "--probation", "2s"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let line = fs::read_to_string(f.root(0).join(".relman/probation")).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[..4], ["relman-probation", "1", &b, &a], "{line}");
    assert!(wait_until(Duration::from_secs(10), || list(&f)["hosts"][0]
        ["probation"]
        .is_null()));
    assert_eq!(code(&job(&f, 0, DEPLOY, 1)), 1);
    assert_eq!(live(&f, 0), b, "expired: failures don't roll back");

    // A plain switch ends one.
    let o = relman(&f, &["--all", "switch", &b, "--probation", "10m"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(probation_file(&f, 0));
    let o = relman(&f, &["--all", "switch", &a]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!probation_file(&f, 0));
    assert_eq!(list(&f)["hosts"][0]["probation"], Value::Null);
    // And so does a rollback.
    let o = relman(&f, &["--all", "switch", &b, "--probation", "10m"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(probation_file(&f, 0));
    let o = relman(&f, &["--all", "rollback"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!probation_file(&f, 0));
    // --max-failures means nothing without --probation: a usage error, nothing done.
    let o = relman(&f, &["--all", "switch", &b, "--max-failures", "1"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert_eq!(live(&f, 0), a);
}

#[test]
fn another_users_failures_are_recorded_and_the_next_contact_rolls_back() {
    let f = Fleet::start_as(1, DEPLOY);
    let (a, b) = on_probation(&f, "10m", 0);
    // The jobs' user may not change the link: its job fails, nothing moves.
    let o = job(&f, 0, JOBS, 5);
    assert_eq!(code(&o), 5, "{}", err(&o));
    assert_eq!(live(&f, 0), b);
    assert!(probation_file(&f, 0));
    // While an operator holds the lock, list shows it due.
    let held = hold_lock(&f, 0);
    let p = list(&f)["hosts"][0]["probation"].clone();
    assert_eq!(
        (p["failures"].as_u64(), p["max_failures"].as_u64()),
        (Some(1), Some(0))
    );
    drop(held);
    // relman's next contact (the scan, as the deploy user) rolls back.
    let v = list(&f);
    assert_eq!(v["hosts"][0]["current"], a.as_str(), "{v}");
    assert!(bad(&v, 0, &b), "{v}");
    assert_eq!(v["hosts"][0]["probation"], Value::Null);
    let rb = actions(&f, 0, "rollback");
    assert_eq!(rb.len(), 1);
    assert_eq!(rb[0]["by"], format!("{DEPLOY}@{}", host_name()));

    // Or a deploy-user job's start, before relman comes back: that job already runs
    // in the good release.
    let o = relman(&f, &["--all", "switch", &b, "--probation", "10m"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(code(&job(&f, 0, JOBS, 5)), 5);
    assert_eq!(live(&f, 0), b);
    let o = launch(&f, 0, DEPLOY)
        .args(["--", "sh", "-c", "echo $RELEASE_NAME"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), a, "{}", err(&o));
    let rb = actions(&f, 0, "rollback");
    assert_eq!(rb.len(), 2);
    assert!(rb[1]["by"].as_str().unwrap().starts_with("launch@"));
}

fn host_name() -> String {
    let o = Command::new("uname").arg("-n").output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A lost run (launcher and job killed: no end record) is only seen at the next
/// job's start: that start rolls back, and the new job runs in the good release.
#[test]
fn a_lost_run_is_counted_at_the_next_start() {
    let f = Fleet::start_as(1, DEPLOY);
    let (a, b) = on_probation(&f, "10m", 0);
    let mut l = launch(&f, 0, DEPLOY)
        .args(["--", "sleep", "60"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let led = f.root(0).join(format!(".relman/runs/{b}.jsonl"));
    assert!(wait_until(Duration::from_secs(20), || fs::read_to_string(
        &led
    )
    .is_ok_and(|t| t.contains("\"start\""))));
    let start: Value =
        serde_json::from_str(fs::read_to_string(&led).unwrap().lines().next().unwrap()).unwrap();
    let job = start["pid"].as_i64().unwrap() as i32;
    // SAFETY: kill(2) of the launcher this test spawned and of its job.
    unsafe {
        libc::kill(l.id() as i32, libc::SIGKILL);
        libc::kill(job, libc::SIGKILL);
    }
    l.wait().unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{job}")).exists()
    }));
    assert_eq!(live(&f, 0), b, "nothing saw the loss yet");
    let o = launch(&f, 0, DEPLOY)
        .args(["--", "sh", "-c", "echo $RELEASE_NAME"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), a, "{}", err(&o));
    assert_eq!(live(&f, 0), a);
    assert_eq!(actions(&f, 0, "rollback").len(), 1);
}
