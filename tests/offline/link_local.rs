//! switch / rollback / lock through the `local` transport (the same scripts SSH hosts run).

use std::fs;
use std::path::Path;

use relman::config::HostConfig;
use relman::model::Action;
use relman::ops::{self, OpError};
use relman::remote::local::LocalTransport;

use crate::support::scenarios;

fn host(root: &Path) -> HostConfig {
    HostConfig::local("local", root.to_str().unwrap())
}

const A: &str = "batch_20261126090000";
const B: &str = "batch_20261126100000";
const C: &str = "batch_20261126110000";

fn layout() -> (tempfile::TempDir, HostConfig) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    for r in [A, B, C] {
        fs::create_dir_all(root.join(r)).unwrap();
        fs::write(root.join(r).join("app.jar"), r).unwrap();
    }
    fs::create_dir_all(root.join("logs")).unwrap();
    let h = host(&root);
    (dir, h)
}

fn link(h: &HostConfig) -> String {
    fs::read_link(Path::new(&h.root).join("batch"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn switch_then_rollback_walks_back_and_marks_bad() {
    let (_d, h) = layout();
    let t = LocalTransport::new("local");
    for r in [A, B, C] {
        let c = ops::switch(&t, &h, r, None).unwrap();
        assert!(c.changed);
        assert_eq!(link(&h), r, "relative target");
    }
    let launcher = Path::new(&h.root).join(".relman/bin/launch");
    assert!(
        launcher.exists(),
        "the first change to a host installs the job launcher"
    );
    let c = ops::rollback(&t, &h, None).unwrap();
    assert_eq!((c.from.as_deref(), c.to.as_str()), (Some(C), B));
    let c = ops::rollback(&t, &h, None).unwrap();
    assert_eq!(
        (c.from.as_deref(), c.to.as_str()),
        (Some(B), A),
        "C→B→A, never back to C"
    );
    let err = ops::rollback(&t, &h, None).unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    let st = ops::scan(&t, &h).unwrap();
    let bad = relman::plan::bad_releases(&st.history);
    assert!(bad.contains(B) && bad.contains(C), "{bad:?}");
    assert_eq!(st.history.len(), 5);
    assert_eq!(st.history[3].action, Action::Rollback);
    let raw = fs::read_to_string(Path::new(&h.root).join(".relman/history.jsonl")).unwrap();
    for line in raw.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for k in ["at", "by", "action", "from", "to", "note"] {
            assert!(v.get(k).is_some(), "{k} missing in {line}");
        }
    }
}

/// The hostile-target scenario (`support::scenarios`), over `local`; its SSH twin
/// is `cli_link::switch_cas_and_hostile_names_change_nothing`.
#[test]
fn expect_mismatch_and_hostile_targets_change_nothing() {
    let (d, h) = layout();
    let t = LocalTransport::new("local");
    ops::switch(&t, &h, B, None).unwrap();
    let switch = |target: &str, expect: Option<&str>| {
        ops::switch(&t, &h, target, expect)
            .map(|_| ())
            .map_err(|e| (e.exit_code(), e.to_string()))
    };
    scenarios::hostile_switch_targets_change_nothing(
        &switch,
        Path::new(&h.root),
        &[d.path()],
        [A, B, C],
    );
    ops::switch(&t, &h, C, Some(B)).unwrap();
    assert_eq!(link(&h), C, "a relative target");
}

#[test]
fn a_second_operation_gets_locked_naming_the_holder() {
    let (_d, h) = layout();
    let t = LocalTransport::new("local");
    let held = relman::ops::lock::acquire(&t, &h, Action::Deploy).unwrap();
    let st = ops::scan(&t, &h).unwrap();
    let l = st.lock.expect("list shows the holder");
    assert_eq!(l.action, "deploy");
    let e = ops::switch(&t, &h, A, None).unwrap_err();
    assert!(matches!(e, OpError::Locked(_)), "{e}");
    assert_eq!(e.exit_code(), 4);
    assert!(
        e.to_string().starts_with("locked by ") && e.to_string().contains("(deploy"),
        "{e}"
    );
    drop(held);
    ops::switch(&t, &h, A, None).unwrap();
    assert!(ops::scan(&t, &h).unwrap().lock.is_none());
}

/// `support::scenarios`' lock-answer scenario on `local`; its SSH twin is
/// `cli_link::a_script_in_the_locks_answer_runs_under_it`.
#[test]
fn a_script_in_the_locks_answer_runs_under_it() {
    let (_d, h) = layout();
    scenarios::a_script_in_the_locks_answer_runs_under_it(&LocalTransport::new("local"), &h);
}
