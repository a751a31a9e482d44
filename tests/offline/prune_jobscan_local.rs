//! A host whose processes can't be inspected keeps every release: through the
//! `local` transport, with a `find` on PATH that fails whenever the root holds a
//! marker file (the scripts run `find` from inside the root). PATH is process-wide
//! and the tests of this binary run in parallel threads: the scenario runs in a
//! child process of the test binary, started with that PATH, alone.

use std::fs;
use std::path::Path;

use relman::config::HostConfig;
use relman::model::Action;
use relman::ops;
use relman::ops::prune::{Outcome, PruneReport, Skip};
use relman::plan::prune::prune_plan;
use relman::remote::local::LocalTransport;

use crate::support;

fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

fn host(root: &Path) -> HostConfig {
    HostConfig::local("local", root.to_str().unwrap())
}

/// Set in the child that runs the scenario with the failing `find` on its PATH.
const CHILD: &str = "RELMAN_TEST_JOBSCAN_CHILD";

#[test]
fn a_release_whose_jobs_cannot_be_checked_is_kept() {
    if std::env::var_os(CHILD).is_some() {
        return scenario();
    }
    // Both ways the scan can read /proc links fail (GNU find, and the `ls -ld`
    // fallback busybox hosts use), silently: a status alone must make it unknown.
    let fakes = support::FakeTools::new();
    for name in ["find", "ls"] {
        let real = support::FakeTools::real(name);
        fakes.add(
            name,
            &format!("[ -e .relman/find-fails ] && exit 1\nexec {real} \"$@\"\n"),
        );
    }
    fakes.rerun(
        module_path!(),
        "a_release_whose_jobs_cannot_be_checked_is_kept",
        CHILD,
    );
}

/// The scenario proper, in the child (PATH finds the failing `find` and `ls` first).
fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    for i in 1..=4 {
        // (Not empty: switch refuses an empty release.)
        fs::create_dir_all(root.join(r(i))).unwrap();
        fs::write(root.join(r(i)).join("app.jar"), "x").unwrap();
    }
    let h = host(&root);
    let t = LocalTransport::new("local");
    for i in 1..=4 {
        ops::switch(&t, &h, &r(i), None).unwrap();
    }
    let marker = root.join(".relman/find-fails");

    // 1. The scan itself can't see processes: every release is kept, with why.
    fs::write(&marker, "").unwrap();
    let rep = ops::prune::prune(&t, &h, 0, false).unwrap();
    let text: Vec<String> = rep.rows().iter().map(|x| x.text()).collect();
    assert_eq!(
        text,
        [
            "keep: live, jobs cannot be checked",
            "keep: previous (rollback target), jobs cannot be checked",
            "keep: jobs cannot be checked",
            "keep: jobs cannot be checked",
        ]
    );
    assert!(rep.deleted().is_empty());

    // 2. The scan worked when the plan was made, the check right before the deletion
    //    fails: the host keeps the release anyway.
    fs::remove_file(&marker).unwrap();
    let lock = ops::lock::acquire(&t, &h, Action::Prune).unwrap();
    let st = ops::scan(&t, &h).unwrap();
    assert!(st.jobs_known);
    let mut rep = PruneReport {
        host: h.name.clone(),
        dry_run: false,
        plan: prune_plan(&st, 0, st.scanned_at),
        outcomes: vec![],
        pins_removed: vec![],
        staging_removed: vec![],
        warnings: vec![],
    };
    assert_eq!(rep.plan.deletions().count(), 2);
    fs::write(&marker, "").unwrap();
    ops::prune::execute(&t, &h, &lock, &mut rep).unwrap();
    assert_eq!(
        rep.outcomes,
        [
            (r(1), Outcome::Kept(Skip::JobsUnknown)),
            (r(2), Outcome::Kept(Skip::JobsUnknown)),
        ]
    );
    assert!(root.join(r(1)).exists() && root.join(r(2)).exists());
    drop(lock);

    // 3. Inspectable again: prune goes ahead.
    fs::remove_file(&marker).unwrap();
    let rep = ops::prune::prune(&t, &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(1), r(2)]);
}
