//! Prune walks /proc once for every candidate, then re-checks each candidate right
//! before it goes for what started using it since (issue 17, target 3): jobs that
//! start in the middle of a prune keep their releases. Through the `local`
//! transport, with an `mv` on PATH that, when prune moves the first candidate out,
//! starts a job in the second (its cwd) and one in the third (an open file, from
//! elsewhere) — after the one walk, before their turn. PATH is process-wide: the
//! scenario runs alone in a child process of the test binary.

use std::fs;
use std::process::Command;

use relman::config::HostConfig;
use relman::ops;
use relman::ops::prune::{Outcome, Skip};
use relman::remote::local::LocalTransport;

use crate::support;

fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

const CHILD: &str = "RELMAN_TEST_RECHECK_CHILD";

#[test]
fn jobs_started_during_a_prune_keep_their_releases() {
    if std::env::var_os(CHILD).is_some() {
        return scenario();
    }
    // Moving r(1) into the trash: first start the two jobs (as a scheduler would:
    // no RELMAN_SELF, none of prune's descriptors), note their pids, then move.
    let fakes = support::FakeTools::new();
    fakes.add(
        "mv",
        &format!(
            "if [ -f .relman/recheck-jobs ] && [ \"$3\" = {r1} ]; then\n\
             rm -f .relman/recheck-jobs\n\
             unset RELMAN_SELF\n\
             (cd {r2} && exec sleep 300) </dev/null >/dev/null 2>&1 6<&- 8<&- &\n\
             echo $! >>.relman/recheck-pids\n\
             sh -c 'exec 3<\"$1\"; cd /; exec sleep 300' fd \"$PWD/{r3}/app.jar\" </dev/null >/dev/null 2>&1 6<&- 8<&- &\n\
             echo $! >>.relman/recheck-pids\n\
             sleep 0.3\n\
             fi\n\
             exec {real_mv} \"$@\"\n",
            r1 = r(1),
            r2 = r(2),
            r3 = r(3),
            real_mv = support::FakeTools::real("mv"),
        ),
    );
    fakes.rerun(
        module_path!(),
        "jobs_started_during_a_prune_keep_their_releases",
        CHILD,
    );
}

fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    for i in 1..=5 {
        fs::create_dir_all(root.join(r(i))).unwrap();
        fs::write(root.join(r(i)).join("app.jar"), "x").unwrap();
    }
    let h = HostConfig::local("local", root.to_str().unwrap());
    let t = LocalTransport::new("local");
    for i in 1..=5 {
        ops::switch(&t, &h, &r(i), None).unwrap();
    }
    fs::write(root.join(".relman/recheck-jobs"), "").unwrap();
    let rep = ops::prune::prune(&t, &h, 0, false);
    let pids: Vec<u32> = fs::read_to_string(root.join(".relman/recheck-pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for p in &pids {
        let _ = Command::new("kill").arg(p.to_string()).status();
    }
    let rep = rep.unwrap();
    assert_eq!(pids.len(), 2, "the jobs were not started");
    let outcome = |n: &str| {
        rep.outcomes
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, o)| o.clone())
    };
    assert_eq!(outcome(&r(1)), Some(Outcome::Deleted), "{:?}", rep.outcomes);
    assert_eq!(
        outcome(&r(2)),
        Some(Outcome::Kept(Skip::Jobs(vec![pids[0]]))),
        "{:?}",
        rep.outcomes
    );
    assert_eq!(
        outcome(&r(3)),
        Some(Outcome::Kept(Skip::Jobs(vec![pids[1]]))),
        "{:?}",
        rep.outcomes
    );
    assert!(root.join(r(2)).exists() && root.join(r(3)).exists());
    assert!(!root.join(r(1)).exists());
}
