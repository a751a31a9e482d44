//! `relman prune` on hosts whose deploy user is not root (and, for comparison, root):
//! the non-root deploy user (dash), a deploy user with umask 077, a host whose tools
//! are busybox applets. One test per fleet user (`<scenario>::deploy`, ...).
//!
//! The assertions hold whatever `keep` counts (SPEC §4's wording changed): with
//! `--keep 0` only what prune must never delete stays — the live release, the
//! previous one, a pinned one and the ones jobs use (a job started through
//! `launch`, and one that only has its cwd there) — and everything else goes.

use crate::support;

use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Fleet, wait_until};

fn r(i: u32) -> String {
    format!("batch_2026112610{i:04}")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A job's whole process group, killed when dropped.
struct Job(Child);

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: kills the process group this test started (the job and its children).
        unsafe {
            libc::kill(-(self.0.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Releases r1..r7 made by the deploy user, with a foreign `logs/`.
fn layout(f: &Fleet) {
    for n in 1..=7 {
        f.sh(
            0,
            &format!(
                "mkdir -p \"$ROOT/{r}/lib\" && echo {n} > \"$ROOT/{r}/app.jar\" && \
                 echo dep > \"$ROOT/{r}/lib/dep.jar\"",
                r = r(n)
            ),
        );
    }
    f.sh(
        0,
        "mkdir -p \"$ROOT/logs\" && echo log > \"$ROOT/logs/app.log\"",
    );
}

fn relman_ok(f: &Fleet, args: &[&str]) -> Output {
    let out = f.relman().args(args).stdin(Stdio::null()).output().unwrap();
    assert_eq!(code(&out), 0, "{args:?}: {}", err(&out));
    out
}

/// (release, verdict) of `prune --keep 0 --dry-run --json`, newest first.
fn plan(f: &Fleet) -> Vec<(String, String)> {
    let out = relman_ok(f, &["prune", "--keep", "0", "--dry-run", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["hosts"][0]["releases"]
        .as_array()
        .unwrap_or_else(|| panic!("no releases in {v}"))
        .iter()
        .map(|x| {
            let reasons: Vec<&str> = x["reasons"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
                .unwrap_or_default();
            (
                x["name"].as_str().unwrap().to_string(),
                format!(
                    "{} ({})",
                    x["verdict"].as_str().unwrap(),
                    reasons.join(", ")
                ),
            )
        })
        .collect()
}

fn verdicts(plan: &[(String, String)]) -> Vec<(String, &str)> {
    plan.iter()
        .map(|(n, v)| (n.clone(), v.split(' ').next().unwrap()))
        .collect()
}

/// The cwd of process `pid`, as root sees it.
fn cwd(pid: u32) -> Option<std::path::PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

for_users!(prune_keep_0_keeps_only_live_previous_pinned_and_in_use);
fn prune_keep_0_keeps_only_live_previous_pinned_and_in_use(user: &str) {
    let f = Fleet::start_as(1, user);
    layout(&f);
    let root = f.root(0).to_path_buf();
    // r5 previous, r6 live (by history); r3 pinned.
    relman_ok(&f, &["--all", "switch", &r(5)]);
    relman_ok(&f, &["--all", "switch", &r(6)]);
    relman_ok(
        &f,
        &["--all", "pin", &r(3), "--for", "1h", "--reason", "audit"],
    );
    // A job started through the launcher in r4, as the deploy user (its crontab).
    let launched = Job(f
        .launcher_as(0, user)
        .args(["--release", &r(4), "--", "sleep", "120"])
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap());
    assert!(
        wait_until(Duration::from_secs(20), || support::launcher_lock_held(
            &root,
            &r(4)
        )),
        "the launched job never held its release"
    );
    // A job that only has its cwd in r2 (started by a scheduler, not through launch).
    let r2 = root.join(r(2));
    let plain = Job(support::command_as(user, "sh")
        .arg("-c")
        .arg("cd \"$1\" && exec sleep 120")
        .arg("sh")
        .arg(&r2)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap());
    let pid = plain.0.id();
    assert!(
        wait_until(Duration::from_secs(20), || cwd(pid).as_deref() == Some(&r2)),
        "the job never entered {}",
        r2.display()
    );

    let want = [
        (r(7), "delete"),
        (r(6), "keep"),
        (r(5), "keep"),
        (r(4), "keep"),
        (r(3), "keep"),
        (r(2), "keep"),
        (r(1), "delete"),
    ];
    let p = plan(&f);
    let want: Vec<(String, &str)> = want.into_iter().collect();
    assert_eq!(
        verdicts(&p),
        want,
        "as {user}: newest r7 and oldest r1 go; live, previous, launched job, pinned, \
         cwd job stay: {p:#?}"
    );
    for n in 1..=7 {
        assert!(root.join(r(n)).exists(), "a dry run deletes nothing");
    }

    let out = relman_ok(&f, &["--all", "prune", "--keep", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let left = support::root_entries(&root);
    let mut want_left: Vec<String> = (2..=6).map(r).collect();
    want_left.extend(["batch".to_string(), "logs".to_string()]);
    want_left.sort();
    assert_eq!(left, want_left, "as {user}: {text}");
    assert_eq!(
        fs::read_to_string(root.join("logs/app.log")).unwrap(),
        "log\n",
        "foreign entries are never touched"
    );
    let trash: Vec<_> = fs::read_dir(root.join(".relman/trash"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(trash.is_empty(), "as {user}: trash left {trash:?}");

    // The jobs end: what they held goes on the next prune; the pin still holds r3.
    drop(launched);
    drop(plain);
    assert!(wait_until(Duration::from_secs(10), || {
        !support::launcher_lock_held(&root, &r(4)) && cwd(pid).is_none()
    }));
    relman_ok(&f, &["--all", "prune", "--keep", "0"]);
    let left = support::root_entries(&root);
    let mut want_left = vec![r(3), r(5), r(6), "batch".into(), "logs".into()];
    want_left.sort();
    assert_eq!(left, want_left, "as {user}: once the jobs ended");
}

for_users!(prune_after_deploys_leaves_complete_releases_and_the_launcher_working);
fn prune_after_deploys_leaves_complete_releases_and_the_launcher_working(user: &str) {
    // The deploy/prune cycle a non-root deploy user runs every day: three deploys,
    // `deploy --prune`, then `prune --keep 0`; the launcher still runs jobs.
    let f = Fleet::start_as(1, user);
    let app = f.dir().join("app");
    fs::create_dir_all(app.join("lib")).unwrap();
    fs::write(app.join("lib/common.jar"), vec![5u8; 50_000]).unwrap();
    let mut names = Vec::new();
    for n in 0..3 {
        fs::write(app.join("app.jar"), format!("build {n}")).unwrap();
        let out = relman_ok(&f, &["--all", "deploy", "--json", app.to_str().unwrap()]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        names.push(v["release"].as_str().unwrap().to_string());
    }
    relman_ok(&f, &["--all", "prune", "--keep", "0"]);
    let root = f.root(0);
    let left: Vec<String> = support::root_entries(root)
        .into_iter()
        .filter(|n| n.starts_with("batch_"))
        .collect();
    assert_eq!(
        left,
        names[1..].to_vec(),
        "as {user}: the previous and the live release stay, the first one goes"
    );
    let out = f
        .launcher_as(0, user)
        .args(["--", "sh", "-c", "cat app.jar; echo \" $RELEASE_NAME\""])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("build 2 {}\n", names[2])
    );
    assert_complete(root, &names[1..]);
}

/// Every file of each release's manifest is there with its size.
fn assert_complete(root: &Path, names: &[String]) {
    for n in names {
        let m: relman::model::Manifest =
            serde_json::from_str(&fs::read_to_string(root.join(n).join(".relman.json")).unwrap())
                .unwrap();
        for file in &m.files {
            let meta = fs::metadata(root.join(n).join(&file.path)).unwrap();
            assert_eq!(meta.len(), file.size, "{n}/{}", file.path);
        }
    }
}
