//! prune, pins, resolve and the job launcher end to end against real sshd hosts:
//! the same operations as `prune_local.rs`, over SSH, with jobs started the way a
//! scheduler or Jenkins starts them (through `.relman/bin/launch`, over ssh).

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use relman::config::HostConfig;
use relman::ops;
use relman::remote::Transport;
use relman::remote::quote::quote;
use support::{Fleet, launcher_lock_held, root_entries, scenarios, wait_until};

fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

/// Host 0 with releases r(1)..=r(n), each switched to in turn over SSH.
fn layout(f: &Fleet, n: u32) -> (HostConfig, Box<dyn Transport>) {
    support::switched_layout(f, &(1..=n).map(r).collect::<Vec<_>>())
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

/// SPEC's prune scenario (`support::scenarios`) over SSH; its `local` twin is
/// `prune_local::the_brief_scenario_dry_run_then_prune`.
#[test]
fn the_brief_scenario_over_ssh() {
    let f = Fleet::start(1);
    let (h, t) = layout(&f, 8);
    assert_eq!(
        Path::new(&h.root),
        f.root(0),
        "the scenario reads the root directly"
    );
    scenarios::prune_the_brief_scenario(t.as_ref(), &h);
}

/// The mtime trap (`support::scenarios`) over SSH; its `local` twin is
/// `prune_local::the_mtime_trap_does_not_change_what_is_kept`.
#[test]
fn the_mtime_trap_over_ssh() {
    let f = Fleet::start(1);
    let (h, t) = layout(&f, 5);
    assert_eq!(
        Path::new(&h.root),
        f.root(0),
        "the scenario reads the root directly"
    );
    scenarios::prune_the_mtime_trap(t.as_ref(), &h);
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
