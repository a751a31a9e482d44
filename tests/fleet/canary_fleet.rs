//! `deploy --canary` and `deploy --probation` (issue 16, SPEC §7) on real sshd hosts
//! whose deploy user is not root, with jobs started through each canary's installed
//! launcher by another user, as cron would: a loop that launches whatever the link
//! resolves to, every ~0.3 s. A canary whose new release fails goes back and the
//! others never leave the old release; a healthy canary lets every host switch; a
//! canary that sees no runs in `--watch` is rolled back; a relman killed mid-watch
//! leaves the canary on its probation.

use crate::support;

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use support::cli::{code, err, history, json, link, list_host, polled, relman};
use support::{DEPLOY, Fleet, JOBS, command_as, wait_until};

/// The app to deploy: `app.jar`, and `broken` when the release must fail its jobs.
fn app(f: &Fleet, text: &str, broken: bool) -> String {
    let app = f.dir().join("app");
    let _ = fs::remove_dir_all(&app);
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("app.jar"), text).unwrap();
    if broken {
        fs::write(app.join("broken"), "").unwrap();
    }
    app.display().to_string()
}

fn deploy(f: &Fleet, text: &str) -> String {
    let app = app(f, text, false);
    let o = relman(f, &["--all", "deploy", "--json", &app]);
    assert_eq!(code(&o), 0, "deploy: {}", err(&o));
    json(&o)["release"].as_str().unwrap().to_string()
}

/// The job every loop runs: fails (exit 1) in a release that holds `broken`, or on
/// a host whose root holds `jobs-fail`.
const JOB: &str = "if [ -e broken ] || [ -e ../jobs-fail ]; then exit 1; fi; exit 0";

/// A job loop on one host: `launch -- sh -c JOB` as the jobs user (dash), every
/// ~0.3 s, until dropped; the launcher resolves the link itself, as for cron.
struct Jobs {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<u32>>,
}

impl Jobs {
    fn start(f: &Fleet, i: usize) -> Jobs {
        let launcher: PathBuf = f.root(i).join(".relman/bin/launch");
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let _ = command_as(JOBS, "dash")
                        .arg(&launcher)
                        .args(["--", "sh", "-c", JOB])
                        .current_dir("/")
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                    n += 1;
                    std::thread::sleep(Duration::from_millis(300));
                }
                n
            })
        };
        Jobs {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn bad(h: &Value, name: &str) -> bool {
    h["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {h}"))["bad"]
        == true
}

fn host<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {v}"))
}

#[test]
fn a_failing_canary_goes_back_and_the_other_hosts_never_leave_the_old_release() {
    let f = Fleet::start_as(3, DEPLOY);
    let v1 = deploy(&f, "one");
    let _jobs = Jobs::start(&f, 0);
    // The pager hears of it: `on_refuse` gets the deploy's JSON.
    let mut cfg = fs::read_to_string(f.config_path()).unwrap();
    let hook = format!("cat > '{}/refuse.json'", f.dir().display());
    cfg.push_str(&format!(
        "\n[hooks]\non_refuse = {}\n",
        support::toml_str(&hook)
    ));
    fs::write(f.config_path(), cfg).unwrap();
    let app = app(&f, "two", true);
    let others = vec![(1, v1.clone()), (2, v1.clone())];
    let (o, moved) = polled(
        &f,
        &[
            "--all", "deploy", "--json", "--canary", "h1", "--watch", "60s", &app,
        ],
        &others,
    );
    let e = err(&o);
    assert_eq!(code(&o), 7, "{e}");
    assert!(moved.is_empty(), "another host's link moved: {moved:?}");
    let v = json(&o);
    assert_eq!(v["outcome"], "refused", "{v}");
    let v2 = v["release"].as_str().unwrap().to_string();
    let c = &v["canary"];
    assert_eq!(c["verdict"], "failed", "{v}");
    assert_eq!(c["hosts"][0]["name"], "h1");
    assert_eq!(c["hosts"][0]["rolled_back"], true, "{c}");
    assert!(c["hosts"][0]["failures"].as_u64().unwrap() >= 1, "{c}");
    let failed = c["hosts"][0]["failed_run_ids"].as_array().unwrap().clone();
    assert!(!failed.is_empty(), "{c}");
    assert_eq!(host(&v, "h1")["status"], "rolled_back", "{v}");
    for n in ["h2", "h3"] {
        assert_eq!(host(&v, n)["status"], "refused", "{v}");
        assert_eq!(host(&v, n)["switched"], false, "{v}");
    }
    let hooked: Value =
        serde_json::from_str(&fs::read_to_string(f.dir().join("refuse.json")).unwrap()).unwrap();
    assert_eq!(hooked["canary"]["verdict"], "failed", "{hooked}");
    // The canary is back; the release is bad on every host.
    assert_eq!(link(f.root(0)), v1);
    for i in 0..3 {
        let h = list_host(&f, i);
        assert_eq!(h["current"], v1.as_str(), "{h}");
        assert!(bad(&h, &v2), "h{}: {v2} is bad: {h}", i + 1);
        assert!(!bad(&h, &v1), "{h}");
    }
    let h1 = history(&f, 0);
    let last = h1.last().unwrap();
    assert_eq!(last["action"], "rollback", "{h1:?}");
    assert_eq!(
        (&last["from"], &last["to"]),
        (&Value::from(v2.clone()), &Value::from(v1.clone()))
    );
    let note = last["note"].as_str().unwrap();
    assert!(note.starts_with("canary h1: "), "{note}");
    assert!(
        note.contains(failed[0].as_str().unwrap()),
        "the note names the runs: {note}"
    );
    for i in 1..3 {
        let h = history(&f, i);
        let last = h.last().unwrap();
        assert_eq!(last["action"], "refuse", "{h:?}");
        assert_eq!(last["to"], v2.as_str());
        assert!(
            h.iter()
                .all(|l| !(l["action"] == "deploy" && l["to"] == v2.as_str()))
        );
    }
}

#[test]
fn a_healthy_canary_lets_every_host_switch_and_the_smokes_run_does_not_count() {
    let f = Fleet::start_as(3, DEPLOY);
    let v1 = deploy(&f, "one");
    let _jobs = Jobs::start(&f, 0);
    let app = app(&f, "two", false);
    let o = relman(
        &f,
        &[
            "--all",
            "deploy",
            "--json",
            "--smoke",
            "true",
            "--canary",
            "h1",
            "--min-runs",
            "2",
            "--watch",
            "60s",
            &app,
        ],
    );
    let e = err(&o);
    assert_eq!(code(&o), 0, "{e}");
    let v = json(&o);
    assert_eq!(v["outcome"], "deployed", "{v}");
    let v2 = v["release"].as_str().unwrap().to_string();
    assert_ne!(v2, v1);
    let c = &v["canary"];
    assert_eq!(c["verdict"], "passed", "{v}");
    assert!(c["hosts"][0]["finished"].as_u64().unwrap() >= 2, "{c}");
    assert_eq!(c["hosts"][0]["failures"], 0, "{c}");
    for i in 0..3 {
        assert_eq!(link(f.root(i)), v2, "h{}", i + 1);
        assert_eq!(v["hosts"][i]["status"], "switched", "{v}");
    }
    // The smoke's run is in the ledger but is not one of the canary's counted runs.
    let runs = relman(
        &f,
        &[
            "--host",
            "h1",
            "runs",
            "--json",
            "--release",
            &v2,
            "-n",
            "1000",
        ],
    );
    assert_eq!(code(&runs), 0, "{}", err(&runs));
    let runs = json(&runs);
    let all = runs["hosts"][0]["runs"].as_array().unwrap();
    let smoke = all
        .iter()
        .find(|r| r["command"].as_str().unwrap_or("").ends_with("true"))
        .unwrap_or_else(|| panic!("the smoke's run is in the ledger: {runs}"));
    let counted: Vec<&Value> = c["hosts"][0]["run_ids"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert!(
        !counted.contains(&&smoke["id"]),
        "the smoke is not counted: {c}"
    );
    // Nothing was marked bad; the canary's watch probation ended with the watch.
    for i in 0..3 {
        let h = list_host(&f, i);
        assert!(!bad(&h, &v2));
        assert_eq!(h["probation"], Value::Null, "{h}");
    }
}

#[test]
fn a_canary_that_sees_no_runs_before_the_watch_ends_is_rolled_back() {
    let f = Fleet::start_as(2, DEPLOY);
    let v1 = deploy(&f, "one");
    let app = app(&f, "two", false);
    let (o, moved) = polled(
        &f,
        &[
            "--all", "deploy", "--json", "--smoke", "true", "--canary", "h1", "--watch", "3s", &app,
        ],
        &[(1, v1.clone())],
    );
    let e = err(&o);
    assert_eq!(code(&o), 7, "{e}");
    assert!(moved.is_empty(), "{moved:?}");
    let v = json(&o);
    let v2 = v["release"].as_str().unwrap().to_string();
    assert_eq!(v["canary"]["verdict"], "timed_out", "{v}");
    assert_eq!(
        v["canary"]["hosts"][0]["finished"], 0,
        "the smoke is not a run: {v}"
    );
    assert_eq!(link(f.root(0)), v1);
    assert_eq!(link(f.root(1)), v1);
    let last = history(&f, 0).pop().unwrap();
    assert_eq!(last["action"], "rollback");
    assert_eq!(last["note"], "canary h1: no runs in 3s", "{last}");
    for i in 0..2 {
        assert!(bad(&list_host(&f, i), &v2));
    }
}

#[test]
fn deploy_probation_sets_one_on_every_host_it_switches() {
    let f = Fleet::start_as(2, DEPLOY);
    deploy(&f, "one");
    let app2 = app(&f, "two", false);
    let o = relman(
        &f,
        &[
            "--all",
            "deploy",
            "--json",
            "--probation",
            "2h",
            "--max-failures",
            "3",
            &app2,
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v = json(&o);
    assert_eq!(v["canary"], Value::Null);
    for h in v["hosts"].as_array().unwrap() {
        assert_eq!(h["status"], "switched", "{h}");
        assert_eq!(h["probation"]["duration_ms"], 2 * 3600 * 1000, "{h}");
        assert_eq!(h["probation"]["max_failures"], 3, "{h}");
    }
    // Each host guards itself now (needs the host side of the probation).
    let v2 = v["release"].as_str().unwrap().to_string();
    for i in 0..2 {
        let h = list_host(&f, i);
        assert_eq!(h["probation"]["release"], v2.as_str(), "{h}");
        assert_eq!(h["probation"]["max_failures"], 3, "{h}");
    }
    // A plain deploy after it leaves none.
    let app3 = app(&f, "three", false);
    let v = json(&relman(&f, &["--all", "deploy", "--json", &app3]));
    for (i, h) in v["hosts"].as_array().unwrap().iter().enumerate() {
        assert_eq!(h["probation"], Value::Null, "{h}");
        assert_eq!(list_host(&f, i)["probation"], Value::Null);
    }
}

/// Starts a deploy in the background (its output to files).
fn spawn(f: &Fleet, args: &[&str]) -> Child {
    f.relman()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_relman_killed_during_the_watch_leaves_the_canary_on_probation() {
    let f = Fleet::start_as(2, DEPLOY);
    let v1 = deploy(&f, "one");
    let app = app(&f, "two", false);
    let mut child = spawn(
        &f,
        &["--all", "deploy", "--canary", "h1", "--watch", "10m", &app],
    );
    let root = f.root(0).to_path_buf();
    assert!(
        wait_until(Duration::from_secs(60), || link(&root) != v1),
        "the canary switched"
    );
    let v2 = link(&root);
    // Watching now (no jobs run): kill it as a crash would.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    let h = list_host(&f, 0);
    assert_eq!(h["current"], v2.as_str(), "{h}");
    let p = &h["probation"];
    assert_eq!(
        p["release"],
        v2.as_str(),
        "the canary is guarded by its probation: {h}"
    );
    assert_eq!(p["previous"], v1.as_str(), "{h}");
    assert_eq!(p["max_failures"], 0, "{h}");
    // The other host never switched.
    assert_eq!(link(f.root(1)), v1);
}

#[test]
fn ctrl_c_during_the_watch_puts_the_canary_back_and_switches_no_other_host() {
    let f = Fleet::start_as(2, DEPLOY);
    let v1 = deploy(&f, "one");
    let app = app(&f, "two", false);
    let child = f
        .relman()
        .args(["--all", "deploy", "--canary", "h1", "--watch", "10m", &app])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let root = f.root(0).to_path_buf();
    assert!(
        wait_until(Duration::from_secs(60), || link(&root) != v1),
        "the canary switched"
    );
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let o = child.wait_with_output().unwrap();
    let e = err(&o);
    assert_eq!(code(&o), 1, "{e}");
    assert!(e.contains("cancelled during the canary watch"), "{e}");
    assert_eq!(link(f.root(0)), v1, "the canary is back");
    assert_eq!(link(f.root(1)), v1);
    let last = history(&f, 0).pop().unwrap();
    assert_eq!(last["action"], "rollback", "{last}");
    assert_eq!(
        last["note"], "canary: the deploy was called off during the watch",
        "{last}"
    );
}

#[test]
fn one_failing_canary_of_two_takes_both_back_and_the_third_host_never_moves() {
    let f = Fleet::start_as(3, DEPLOY);
    let v1 = deploy(&f, "one");
    f.sh(1, "touch \"$ROOT/jobs-fail\"");
    let _j1 = Jobs::start(&f, 0);
    let _j2 = Jobs::start(&f, 1);
    let app = app(&f, "two", false);
    let (o, moved) = polled(
        &f,
        &[
            "--all",
            "deploy",
            "--json",
            "--canary",
            "h1",
            "--canary",
            "h2",
            "--min-runs",
            "3",
            "--watch",
            "60s",
            &app,
        ],
        &[(2, v1.clone())],
    );
    let e = err(&o);
    assert_eq!(code(&o), 7, "{e}");
    assert!(moved.is_empty(), "{moved:?}");
    let v = json(&o);
    let v2 = v["release"].as_str().unwrap().to_string();
    assert_eq!(v["canary"]["verdict"], "failed", "{v}");
    let note = v["canary"]["note"].as_str().unwrap();
    assert!(note.starts_with("canary h2: "), "only h2 failed: {note}");
    for (i, n) in ["h1", "h2"].iter().enumerate() {
        assert_eq!(host(&v, n)["status"], "rolled_back", "{v}");
        assert_eq!(link(f.root(i)), v1, "{n} is back");
        let last = history(&f, i).pop().unwrap();
        assert_eq!(last["action"], "rollback", "{n}: {last}");
        assert_eq!(last["note"], note);
    }
    assert_eq!(host(&v, "h3")["status"], "refused", "{v}");
    assert_eq!(link(f.root(2)), v1);
    for i in 0..3 {
        assert!(bad(&list_host(&f, i), &v2));
    }
}
