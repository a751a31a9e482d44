//! prune, pin, unpin and resolve through the `local` transport (the same scripts SSH
//! hosts run): the keep policy on a real directory, jobs found through /proc, jobs
//! started through `.relman/bin/launch` protected by its lock, pins and their expiry.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relman::config::HostConfig;
use relman::model::Action;
use relman::ops::{self, OpError};
use relman::remote::local::LocalTransport;

use crate::support;
use support::{launcher_lock_held, root_entries, scenarios};

fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

fn host(root: &Path) -> HostConfig {
    HostConfig::local("local", root.to_str().unwrap())
}

/// A root with releases r(1)..=r(n), each switched to in turn (so history knows them).
fn layout(n: u32) -> (tempfile::TempDir, HostConfig, LocalTransport) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    for i in 1..=n {
        fs::create_dir_all(root.join(r(i)).join("lib")).unwrap();
        fs::write(root.join(r(i)).join("app.jar"), r(i)).unwrap();
    }
    let h = host(&root);
    let t = LocalTransport::new("local");
    for i in 1..=n {
        ops::switch(&t, &h, &r(i), None).unwrap();
    }
    (dir, h, t)
}

fn root(h: &HostConfig) -> PathBuf {
    PathBuf::from(&h.root)
}

fn real_root(h: &HostConfig) -> PathBuf {
    fs::canonicalize(&h.root).unwrap()
}

fn history(h: &HostConfig) -> Vec<serde_json::Value> {
    fs::read_to_string(root(h).join(".relman/history.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Kills a process (and its group) if the test ends before it did.
struct Job(Child);

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group we created for this child.
        unsafe {
            libc::kill(-(self.0.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn spawn_in(dir: &Path, cmd: &str, args: &[&str]) -> Job {
    use std::os::unix::process::CommandExt;
    Job(Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap())
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn install_launcher(t: &LocalTransport, h: &HostConfig) -> PathBuf {
    let lock = ops::lock::acquire(t, h, Action::Switch).unwrap();
    ops::launcher::ensure_launcher(t, h, &lock).unwrap();
    root(h).join(".relman/bin/launch")
}

/// SPEC's prune scenario (`support::scenarios`) over `local`; its SSH twin is
/// `prune_fleet::the_brief_scenario_over_ssh`.
#[test]
fn the_brief_scenario_dry_run_then_prune() {
    let (_d, h, t) = layout(8);
    scenarios::prune_the_brief_scenario(&t, &h);
}

/// The mtime trap (`support::scenarios`) over `local`; its SSH twin is
/// `prune_fleet::the_mtime_trap_over_ssh`.
#[test]
fn the_mtime_trap_does_not_change_what_is_kept() {
    let (_d, h, t) = layout(5);
    scenarios::prune_the_mtime_trap(&t, &h);
}

#[test]
fn a_launched_job_keeps_its_release_until_it_exits() {
    let (_d, h, t) = layout(4);
    let launch = install_launcher(&t, &h);
    let stop = tempfile::tempdir().unwrap();
    let stop_file = stop.path().join("stop");
    // The job waits on a FIFO with the shell's own `read`: no child process (a
    // polling `sleep` would hold the release's descriptor too, as a second job).
    let made = Command::new("mkfifo").arg(&stop_file).status().unwrap();
    assert!(made.success());
    let script = format!("cd / && read _go < '{}'", stop_file.display());
    // r1: neither live nor previous; the job leaves the release at once.
    let mut job = spawn_in(
        Path::new("/"),
        launch.to_str().unwrap(),
        &["--release", &r(1), "--", "sh", "-c", &script],
    );
    // launch stays the job's parent (SPEC §7): the job is its one child.
    let launch_pid = job.0.id();
    let child = || {
        fs::read_to_string(format!("/proc/{launch_pid}/task/{launch_pid}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next()?.parse::<u32>().ok())
    };
    wait_until("the launched job to hold its lock and leave", || {
        launcher_lock_held(&root(&h), &r(1))
            && child().is_some_and(|pid| {
                fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|p| p == Path::new("/"))
            })
    });
    let pid = child().unwrap();
    // The hold is the job's descriptor on the release directory (fd 9): the /proc
    // scan sees it there even after the job left (another user's, hidden from the
    // scan, is kept by the lock: prune_fleet, fixes_jobs).
    let st = ops::scan(&t, &h).unwrap();
    assert_eq!(
        st.release(&r(1))
            .unwrap()
            .jobs
            .iter()
            .map(|j| (j.pid, j.via))
            .collect::<Vec<_>>(),
        [(pid, relman::model::JobVia::Fd)]
    );
    let dry = ops::prune::prune(&t, &h, 0, true).unwrap();
    assert_eq!(
        dry.rows().iter().map(|x| x.text()).collect::<Vec<_>>(),
        [
            "keep: live",
            "keep: previous (rollback target)",
            "delete: old",
            &format!("keep: running job (pid {pid})"),
        ]
    );
    assert!(!root(&h).join(format!(".relman/run/{}.lock", r(2))).exists());

    let rep = ops::prune::prune(&t, &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(2)]);
    assert!(root(&h).join(r(1)).join("app.jar").exists());

    fs::write(&stop_file, "go\n").unwrap();
    let status = job.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rep = ops::prune::prune(&t, &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(1)]);
    assert_eq!(
        root_entries(Path::new(&h.root)),
        ["batch".to_string(), r(3), r(4)]
    );
    assert!(
        !root(&h).join(format!(".relman/run/{}.lock", r(1))).exists(),
        "its lock file goes with it"
    );
}

#[test]
fn a_job_that_appears_after_the_plan_keeps_its_release() {
    let (_d, h, t) = layout(3);
    let lock = ops::lock::acquire(&t, &h, Action::Prune).unwrap();
    let st = ops::scan(&t, &h).unwrap();
    let mut rep = ops::prune::PruneReport {
        host: h.name.clone(),
        dry_run: false,
        plan: relman::plan::prune::prune_plan(&st, 0, st.scanned_at),
        outcomes: vec![],
        pins_removed: vec![],
        staging_removed: vec![],
        warnings: vec![],
    };
    assert_eq!(rep.plan.deletions().count(), 1, "r1 is old");
    // Started between the plan and the deletion, not through launch.
    let job = spawn_in(&root(&h).join(r(1)).join("lib"), "sleep", &["60"]);
    let pid = job.0.id();
    wait_until("the job to be in the release", || {
        fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|p| p.starts_with(real_root(&h)))
    });
    ops::prune::execute(&t, &h, &lock, &mut rep).unwrap();
    assert_eq!(
        rep.outcomes,
        [(
            r(1),
            ops::prune::Outcome::Kept(ops::prune::Skip::Jobs(vec![pid]))
        )]
    );
    assert!(root(&h).join(r(1)).exists());
    drop(job);
}

#[test]
fn a_job_naming_the_release_in_its_arguments_keeps_it() {
    let (_d, h, t) = layout(3);
    let base = real_root(&h).display().to_string();
    let arg = format!("{base}/{}/app.jar", r(1));
    // Not a prefix match: a job naming r(1)0 or r(1).2 is no job of r(1).
    let others = format!("{base}/{}0/app.jar {base}/{}.2", r(1), r(1));
    let _other = spawn_in(Path::new("/"), "sh", &["-c", "sleep 60; :", "job", &others]);
    let job = spawn_in(Path::new("/"), "sh", &["-c", "sleep 60; :", "job", &arg]);
    let pid = job.0.id();
    let lock = ops::lock::acquire(&t, &h, Action::Prune).unwrap();
    let st = ops::scan(&t, &h).unwrap();
    let mut plan_only = relman::plan::prune::prune_plan(&st, 0, st.scanned_at);
    assert_eq!(
        plan_only.verdict(&r(1)).unwrap().to_string(),
        format!("keep: running job (pid {pid})")
    );
    // Force the deletion through execute: the host's own check must refuse it.
    plan_only.verdicts.retain(|v| v.name.as_str() == r(1));
    plan_only.verdicts[0].verdict =
        relman::plan::prune::Verdict::Delete(relman::plan::prune::DeleteReason::Old);
    let mut rep = ops::prune::PruneReport {
        host: h.name.clone(),
        dry_run: false,
        plan: plan_only,
        outcomes: vec![],
        pins_removed: vec![],
        staging_removed: vec![],
        warnings: vec![],
    };
    ops::prune::execute(&t, &h, &lock, &mut rep).unwrap();
    assert_eq!(
        rep.outcomes,
        [(
            r(1),
            ops::prune::Outcome::Kept(ops::prune::Skip::Jobs(vec![pid]))
        )]
    );
    drop(job);
}

#[test]
fn pins_protect_until_they_expire_and_unpin_removes_them() {
    let (_d, h, t) = layout(4);
    // Bad input never reaches the host.
    for bad in ["../../etc", "logs", "", "batch_20261126000001;x"] {
        let e = ops::pin::pin(&t, &h, bad, Duration::from_secs(60), "").unwrap_err();
        assert_eq!(e.exit_code(), 5, "{bad:?}: {e}");
    }
    let e = ops::pin::pin(&t, &h, &r(9), Duration::from_secs(60), "").unwrap_err();
    assert!(matches!(e, OpError::Conflict(_)), "missing release: {e}");
    let e = ops::pin::pin(&t, &h, &r(1), Duration::ZERO, "").unwrap_err();
    assert_eq!(e.exit_code(), 2);

    let p = ops::pin::pin(
        &t,
        &h,
        &r(1),
        Duration::from_secs(7200),
        "a \"quoted\"\nreason",
    )
    .unwrap();
    assert_eq!(p.release, r(1));
    assert_eq!(p.id.len(), 24);
    let file = root(&h).join(format!(".relman/pins/{}.json", p.id));
    let on_disk: relman::model::Pin =
        serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(on_disk, p);
    let created = humantime::parse_rfc3339(&p.created_at).unwrap();
    let expires = humantime::parse_rfc3339(&p.expires_at).unwrap();
    assert_eq!(
        expires.duration_since(created).unwrap(),
        Duration::from_secs(7200)
    );
    let p2 = ops::pin::pin(&t, &h, &r(1), Duration::from_secs(60), "").unwrap();
    let st = ops::scan(&t, &h).unwrap();
    assert_eq!(st.release(&r(1)).unwrap().pins.len(), 2);
    let last = history(&h).pop().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["to"].as_str()),
        (Some("pin"), Some(r(1).as_str()))
    );
    assert_eq!(last["note"], "for 1m");

    let rep = ops::prune::prune(&t, &h, 0, true).unwrap();
    assert!(
        rep.rows()[3].reasons[0].starts_with("pinned until "),
        "{:?}",
        rep.rows()
    );

    assert_eq!(ops::pin::unpin(&t, &h, &r(1), None).unwrap(), 2);
    assert!(!file.exists());
    assert!(
        !root(&h)
            .join(format!(".relman/pins/{}.json", p2.id))
            .exists()
    );
    let last = history(&h).pop().unwrap();
    assert_eq!(last["action"], "unpin");
    assert_eq!(last["note"], "removed 2 pin(s)");
    assert_eq!(ops::pin::unpin(&t, &h, &r(1), None).unwrap(), 0);
    assert_eq!(
        ops::pin::unpin(&t, &h, "../x", None)
            .unwrap_err()
            .exit_code(),
        5
    );
}

#[test]
fn resolve_pin_keeps_the_release_until_the_pin_expires() {
    let (_d, h, t) = layout(2);
    let path = ops::pin::resolve(&t, &h, None).unwrap();
    assert_eq!(PathBuf::from(&path), real_root(&h).join(r(2)));

    let got = ops::pin::resolve_full(&t, &h, Some((Duration::from_secs(2), "BUILD-42"))).unwrap();
    assert_eq!(got.path, path);
    assert_eq!(got.release, r(2));
    let pin = got.pin.unwrap();
    assert_eq!(pin.reason, "BUILD-42");
    let last = history(&h).pop().unwrap();
    assert_eq!(last["action"], "pin");
    assert_eq!(last["to"], r(2));
    assert_eq!(last["note"], "resolve --pin for 2s: BUILD-42");

    // Deploys move on: r(2) is no longer live nor previous.
    for i in 3..=4 {
        // (Not empty: switch refuses an empty release.)
        fs::create_dir_all(root(&h).join(r(i))).unwrap();
        fs::write(root(&h).join(r(i)).join("app.jar"), "x").unwrap();
        ops::switch(&t, &h, &r(i), None).unwrap();
    }
    let rep = ops::prune::prune(&t, &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(1)]);
    assert!(
        rep.rows()[2].reasons[0].starts_with("pinned until"),
        "{:?}",
        rep.rows()
    );
    assert!(root(&h).join(r(2)).exists());

    // Once the host's clock passes the expiry, prune removes it and its pin file.
    wait_until("the pin to expire", || {
        ops::prune::prune(&t, &h, 0, true)
            .unwrap()
            .plan
            .verdict(&r(2))
            .is_some_and(|v| v.is_delete())
    });
    let rep = ops::prune::prune(&t, &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(2)]);
    assert_eq!(rep.pins_removed, [format!("{}.json", pin.id)]);
    assert_eq!(
        fs::read_dir(root(&h).join(".relman/pins")).unwrap().count(),
        0
    );
    let last = history(&h).pop().unwrap();
    assert_eq!(
        last["note"],
        format!("deleted {}; removed 1 expired pin(s)", r(2))
    );
}

#[test]
fn resolve_without_a_live_release_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let h = host(&dir.path().join("deploy"));
    let t = LocalTransport::new("local");
    let e = ops::pin::resolve(&t, &h, None).unwrap_err();
    assert_eq!(e.exit_code(), 5, "missing root: {e}");
    fs::create_dir_all(dir.path().join("deploy").join(r(1))).unwrap();
    let e = ops::pin::resolve(&t, &h, Some((Duration::from_secs(60), String::new()))).unwrap_err();
    assert_eq!(e.exit_code(), 5, "no link: {e}");
    assert!(e.to_string().contains("no live release"), "{e}");
    std::os::unix::fs::symlink("logs", dir.path().join("deploy/batch")).unwrap();
    let e = ops::pin::resolve(&t, &h, None).unwrap_err();
    assert_eq!(e.exit_code(), 5, "dangling link: {e}");
    assert_eq!(
        fs::read_dir(dir.path().join("deploy/.relman/pins"))
            .unwrap()
            .count(),
        0,
        "no pin without a release"
    );
}

#[test]
fn stale_uploads_and_orphaned_pins_are_cleaned() {
    let (_d, h, t) = layout(2);
    let staging = root(&h).join(".relman/staging");
    fs::create_dir_all(staging.join(r(7)).join("lib")).unwrap();
    fs::write(staging.join(r(7)).join("app.jar"), "half").unwrap();
    fs::create_dir_all(staging.join("not-a-release")).unwrap();
    // A pin left behind for a release deleted by hand.
    fs::write(
        root(&h).join(".relman/pins/feed.json"),
        format!(
            r#"{{"id":"feed","release":"{}","by":"a@b","created_at":"2026-01-01T00:00:00Z","expires_at":"2099-01-01T00:00:00Z","reason":""}}"#,
            r(5)
        ),
    )
    .unwrap();
    let rep = ops::prune::prune(&t, &h, 3, false).unwrap();
    assert_eq!(rep.staging_removed, [r(7)]);
    assert_eq!(rep.pins_removed, ["feed.json"]);
    assert!(!staging.join(r(7)).exists());
    assert!(
        staging.join("not-a-release").exists(),
        "only what scan reported"
    );
    let last = history(&h).pop().unwrap();
    assert_eq!(
        last["note"],
        "removed 1 expired pin(s); removed 1 stale upload(s)"
    );
}

#[test]
fn a_locked_host_is_not_pruned() {
    let (_d, h, t) = layout(5);
    let held = ops::lock::acquire(&t, &h, Action::Deploy).unwrap();
    let e = ops::prune::prune(&t, &h, 0, false).unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e}");
    // A dry run only reads: it works and says what would happen.
    let dry = ops::prune::prune(&t, &h, 0, true).unwrap();
    assert_eq!(dry.plan.deletions().count(), 3);
    drop(held);
    assert_eq!(root_entries(Path::new(&h.root)).len(), 6);
}

#[test]
fn unpin_with_an_id_removes_only_that_pin() {
    // Two pipelines pinned the same release; one ends and releases its own pin.
    let (_d, h, t) = layout(4);
    let mine = ops::pin::pin(&t, &h, &r(1), Duration::from_secs(3600), "app-41").unwrap();
    let theirs = ops::pin::pin(&t, &h, &r(1), Duration::from_secs(3600), "app-42").unwrap();
    let other = ops::pin::pin(&t, &h, &r(2), Duration::from_secs(3600), "app-43").unwrap();
    let pins_dir = root(&h).join(".relman/pins");
    let before = fs::read_dir(&pins_dir).unwrap().count();

    // Bad ids are refused before anything runs (exit 2), nothing removed.
    for bad in ["", "ABC", "x;rm -rf .", "../pins/x", &"a".repeat(65)] {
        let e = ops::pin::unpin(&t, &h, &r(1), Some(bad)).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
    }
    // Another release's pin id: nothing of r(2) goes, nothing of r(1) either.
    assert_eq!(ops::pin::unpin(&t, &h, &r(1), Some(&other.id)).unwrap(), 0);
    assert_eq!(fs::read_dir(&pins_dir).unwrap().count(), before);

    assert_eq!(ops::pin::unpin(&t, &h, &r(1), Some(&mine.id)).unwrap(), 1);
    let st = ops::scan(&t, &h).unwrap();
    let ids = |n: &str| -> Vec<String> {
        st.release(n)
            .unwrap()
            .pins
            .iter()
            .map(|p| p.id.clone())
            .collect()
    };
    assert_eq!(ids(&r(1)), [theirs.id.as_str()]);
    assert_eq!(ids(&r(2)), [other.id.as_str()]);
    let last = history(&h).pop().unwrap();
    assert_eq!(last["action"], "unpin");
    assert_eq!(last["note"], format!("removed 1 pin(s) (id {})", mine.id));
    // Again: already gone, nothing to do.
    assert_eq!(ops::pin::unpin(&t, &h, &r(1), Some(&mine.id)).unwrap(), 0);
}

#[test]
fn a_pruned_release_takes_its_run_ledger_and_its_summaries_along() {
    let (_d, h, t) = layout(4);
    let runs = root(&h).join(".relman/runs");
    fs::create_dir_all(&runs).unwrap();
    let files = |i: u32| {
        [".jsonl", ".jsonl.old", ".jsonl.sum", ".jsonl.old.sum"]
            .map(|s| runs.join(format!("{}{s}", r(i))))
    };
    for i in [1, 3] {
        for f in &files(i)[..2] {
            fs::write(f, "x\n").unwrap();
        }
    }
    // The scan summarizes every ledger file (ledger.sh).
    ops::scan(&t, &h).unwrap();
    for i in [1, 3] {
        for f in files(i) {
            assert!(f.exists(), "{}", f.display());
        }
    }
    let rep = ops::prune::prune(&t, &h, 0, false).unwrap();
    assert!(
        rep.deleted().contains(&r(1).as_str()),
        "{:?}",
        rep.deleted()
    );
    for f in files(1) {
        assert!(!f.exists(), "{} goes with the release", f.display());
    }
    for f in files(3) {
        assert!(f.exists(), "{} stays with its release", f.display());
    }
}

#[test]
fn a_pruned_release_takes_its_output_tails_along() {
    let (_d, h, t) = layout(4);
    let runs = root(&h).join(".relman/runs");
    let tails = |i: u32| runs.join(format!("{}.tails", r(i)));
    let outside = root(&h).join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("keep"), "x\n").unwrap();
    for i in [1, 3] {
        fs::create_dir_all(tails(i)).unwrap();
        fs::write(tails(i).join("1796188566-13242"), "boom\n").unwrap();
    }
    // A symlink planted in runs/ (shared, 1777) for r2: removed, never followed.
    std::os::unix::fs::symlink(&outside, tails(2)).unwrap();
    let rep = ops::prune::prune(&t, &h, 0, false).unwrap();
    assert!(
        rep.deleted().contains(&r(1).as_str()),
        "{:?}",
        rep.deleted()
    );
    assert!(
        rep.deleted().contains(&r(2).as_str()),
        "{:?}",
        rep.deleted()
    );
    assert!(!tails(1).exists(), "r1's tails go with it");
    assert!(
        fs::symlink_metadata(tails(2)).is_err(),
        "the planted link is gone"
    );
    assert!(
        outside.join("keep").exists(),
        "what it pointed at is untouched"
    );
    assert!(
        tails(3).join("1796188566-13242").exists(),
        "a kept release keeps its own"
    );
}
