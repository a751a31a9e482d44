//! prune, pins, resolve and the job launcher end to end against real sshd hosts:
//! the same operations as `prune_local.rs`, over SSH, with jobs started the way a
//! scheduler or Jenkins starts them (through `.relman/bin/launch`, over ssh).

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use relman::config::HostConfig;
use relman::ops;
use relman::remote::Transport;
use relman::remote::quote::quote;
use support::{Fleet, Kill, launcher_lock_held, prune_table, root_entries, wait_until};

fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

/// Host 0 with releases r(1)..=r(n), each switched to in turn over SSH.
fn layout(f: &Fleet, n: u32) -> (HostConfig, Box<dyn Transport>) {
    support::switched_layout(f, &(1..=n).map(r).collect::<Vec<_>>())
}

fn last_history(root: &Path) -> serde_json::Value {
    let text = fs::read_to_string(root.join(".relman/history.jsonl")).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// `<launcher> ARGS...` as one shell command line for the host.
fn launch_cmd(root: &Path, args: &[&str]) -> String {
    let mut s = quote(&root.join(".relman/bin/launch").display().to_string()).unwrap();
    for a in args {
        s.push(' ');
        s.push_str(&quote(a).unwrap());
    }
    s
}

#[test]
fn the_brief_scenario_over_ssh() {
    let f = Fleet::start(1);
    let (h, t) = layout(&f, 8);
    let t = t.as_ref();
    ops::rollback(t, &h, None).unwrap();
    ops::rollback(t, &h, None).unwrap();
    let root = f.root(0).to_path_buf();
    let job = Kill(
        Command::new("sleep")
            .arg("60")
            .current_dir(root.join(r(1)))
            .spawn()
            .unwrap(),
    );
    let pin = ops::pin::pin(t, &h, &r(2), Duration::from_secs(3600), "nightly").unwrap();
    f.sh(
        0,
        "mkdir -p \"$ROOT/logs\" \"$ROOT/tools\" && echo x > \"$ROOT/logs/batch.log\"",
    );
    let pid = job.0.id();
    assert!(wait_until(Duration::from_secs(10), || {
        ops::scan(t, &h)
            .unwrap()
            .release(&r(1))
            .is_some_and(|x| !x.jobs.is_empty())
    }));

    let want: Vec<(String, String)> = [
        (8, "delete: bad (rolled back from)".to_string()),
        (7, "delete: bad (rolled back from)".into()),
        (6, "keep: live".into()),
        (5, "keep: previous (rollback target)".into()),
        // keep 3 counts live r6 and previous r5 (SPEC §4): r4 is the third, r3 is old.
        (4, "keep: among newest 3".into()),
        (3, "delete: old".into()),
        (
            2,
            format!(
                "keep: pinned until {} by {} (nightly)",
                pin.expires_at, pin.by
            ),
        ),
        (1, format!("keep: running job (pid {pid})")),
    ]
    .into_iter()
    .map(|(i, s)| (r(i), s))
    .collect();
    let before = root_entries(&root);
    let dry = ops::prune::prune(t, &h, 3, true).unwrap();
    assert_eq!(prune_table(&dry), want);
    assert_eq!(root_entries(&root), before);

    let rep = ops::prune::prune(t, &h, 3, false).unwrap();
    assert_eq!(prune_table(&rep), want);
    assert_eq!(rep.deleted(), [r(7), r(8), r(3)]);
    let mut left: Vec<String> = [1, 2, 4, 5, 6].into_iter().map(r).collect();
    left.extend(["batch".into(), "logs".into(), "tools".into()]);
    left.sort();
    assert_eq!(root_entries(&root), left);
    assert!(root.join("logs/batch.log").exists());
    assert_eq!(
        last_history(&root)["note"],
        format!("deleted {}, {}, {}", r(7), r(8), r(3))
    );
    assert!(root.join(".relman/bin/launch").exists());
    drop(job);
}

#[test]
fn the_mtime_trap_over_ssh() {
    let f = Fleet::start(1);
    let (h, t) = layout(&f, 5);
    f.sh(
        0,
        &format!(
            "echo today > \"$ROOT/{}/job.log\" && touch -d 2001-01-01 \"$ROOT/{}\" \"$ROOT/{}\"",
            r(1),
            r(4),
            r(5)
        ),
    );
    let rep = ops::prune::prune(t.as_ref(), &h, 1, false).unwrap();
    assert_eq!(rep.deleted(), [r(1), r(2), r(3)]);
    assert_eq!(root_entries(f.root(0)), ["batch".to_string(), r(4), r(5)]);
}

#[test]
fn a_job_launched_over_ssh_keeps_its_release_through_keep_zero() {
    let f = Fleet::start(1);
    let (h, t) = layout(&f, 4);
    let t = t.as_ref();
    let root = fs::canonicalize(f.root(0)).unwrap();
    // Any write installs the launcher; prune with a large keep changes nothing else.
    ops::prune::prune(t, &h, 10, false).unwrap();
    // As Jenkins would: `ssh host launch --release R -- CMD`, the job leaving the
    // release at once and then waiting on its stdin (the SSH channel).
    let cmd = launch_cmd(
        &root,
        &[
            "--release",
            &r(1),
            "--",
            "sh",
            "-c",
            "cd / && echo started \"$RELEASE_NAME\" && read line",
        ],
    );
    let mut job = t.spawn(&cmd).unwrap();
    assert_eq!(
        job.read_line().unwrap().as_deref(),
        Some(format!("started {}", r(1)).as_str())
    );
    assert!(launcher_lock_held(&root, &r(1)));
    // The hold is the job's descriptor on the release directory: the /proc scan
    // sees it there too (another user's, hidden from the scan, only the lock keeps:
    // fixes_jobs).
    let jobs = ops::scan(t, &h)
        .unwrap()
        .release(&r(1))
        .unwrap()
        .jobs
        .clone();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].via, relman::model::JobVia::Fd);

    let rep = ops::prune::prune(t, &h, 0, false).unwrap();
    assert_eq!(
        rep.rows().iter().map(|x| x.text()).collect::<Vec<_>>(),
        [
            "keep: live".to_string(),
            "keep: previous (rollback target)".into(),
            "delete: old → deleted".into(),
            format!("keep: running job (pid {})", jobs[0].pid),
        ]
    );
    assert!(root.join(r(1)).join("app.jar").exists());

    // The job ends when its channel closes.
    drop(job);
    assert!(wait_until(Duration::from_secs(15), || !launcher_lock_held(
        &root,
        &r(1)
    )));
    let rep = ops::prune::prune(t, &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(1)]);
    assert_eq!(root_entries(&root), ["batch".to_string(), r(3), r(4)]);
}

#[test]
fn resolve_pin_over_ssh_then_expiry() {
    let f = Fleet::start(1);
    let (h, t) = layout(&f, 2);
    let t = t.as_ref();
    let root = fs::canonicalize(f.root(0)).unwrap();
    let got = ops::pin::resolve_full(t, &h, Some((Duration::from_secs(2), "BUILD-7"))).unwrap();
    assert_eq!(PathBuf::from(&got.path), root.join(r(2)));
    let pin = got.pin.unwrap();
    // The pipeline's jobs run on R while deploys move the link on.
    for i in 3..=4 {
        // (Not empty: switch refuses an empty release.)
        f.sh(
            0,
            &format!(
                "mkdir -p \"$ROOT/{0}\" && echo x > \"$ROOT/{0}/app.jar\"",
                r(i)
            ),
        );
        ops::switch(t, &h, &r(i), None).unwrap();
    }
    let out = t
        .exec(
            &launch_cmd(&root, &["--release", &got.path, "--", "sh", "-c", "pwd -P"]),
            &mut std::io::empty(),
            &mut |_| {},
        )
        .unwrap();
    assert!(out.success(), "{}", out.stderr_line());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", got.path)
    );

    let rep = ops::prune::prune(t, &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(1)]);
    assert!(root.join(r(2)).exists());
    assert!(wait_until(Duration::from_secs(15), || {
        ops::prune::prune(t, &h, 0, true)
            .unwrap()
            .plan
            .verdict(&r(2))
            .is_some_and(|v| v.is_delete())
    }));
    let rep = ops::prune::prune(t, &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(2)]);
    assert_eq!(rep.pins_removed, [format!("{}.json", pin.id)]);
}

#[test]
fn hostile_releases_are_refused_over_ssh() {
    let f = Fleet::start(1);
    let (h, t) = layout(&f, 2);
    let t = t.as_ref();
    let root = fs::canonicalize(f.root(0)).unwrap();
    ops::prune::prune(t, &h, 10, false).unwrap();
    let marker = root.parent().unwrap().join("ran");
    let touch = format!("touch '{}'", marker.display());
    for bad in [
        "../../etc".to_string(),
        "/etc".into(),
        format!("{}/{}/../{}", root.display(), r(1), r(2)),
        format!("{}/logs", root.display()),
        format!("{}; {touch}", r(1)),
        format!("$({touch})"),
    ] {
        let out = t
            .exec(
                &launch_cmd(&root, &["--release", &bad, "--", "sh", "-c", &touch]),
                &mut std::io::empty(),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(out.status, Some(2), "{bad:?}: {}", out.stderr_line());
        assert!(
            out.stderr_line().starts_with("launch: refused"),
            "{}",
            out.stderr_line()
        );
    }
    assert!(!marker.exists());
    // pin and resolve refuse too, before anything is sent.
    let e = ops::pin::pin(t, &h, "../../etc", Duration::from_secs(60), "").unwrap_err();
    assert_eq!(e.exit_code(), 5);
}
