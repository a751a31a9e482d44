//! One voice for the CLI and the console (issue 13, items 3–5), against real sshd hosts
//! whose SSH user is the non-root deploy user: `unlock` and `check` as `ops` the console
//! can call, the CLI printing what those return, and the worker carrying a failure's
//! kind and the CLI's words for the same outcome. New tests of what the front ends say
//! for an operation go here.

use crate::support;

use std::time::Duration;

use relman::model::Action;
use relman::ops::FailureKind;
use relman::ops::check::Level;
use relman::ops::unlock::{self, Unlocked};
use relman::present;
use relman::remote;
use relman::tui::app::{Cmd, Event, OpKind};
use relman::tui::worker;
use serde_json::Value;
use support::{DEPLOY, Fleet};
use tokio::sync::mpsc;

const A: &str = "batch_20261126090000";
const B: &str = "batch_20261126100000";

/// Host 0 with releases A and B, the link on B.
fn layout(f: &Fleet) {
    for r in [A, B] {
        f.sh(
            0,
            &format!("mkdir -p \"$ROOT/{r}\" && echo {r} > \"$ROOT/{r}/app.jar\""),
        );
    }
    f.sh(0, &format!("ln -s {B} \"$ROOT/batch\""));
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ops_unlock_breaks_the_confirmed_lock_and_records_it() {
    let f = Fleet::start_as(1, DEPLOY);
    layout(&f);
    let (cfg, h) = (f.config(), f.host_config(0));
    let t = remote::open(&cfg, &h).expect("connects");
    assert_eq!(unlock::current(t.as_ref(), &h).expect("scans"), None);

    // A holder relman lost track of (here: one this test holds and forgets about).
    let held = relman::ops::lock::acquire(t.as_ref(), &h, Action::Deploy).expect("locks");
    let seen = unlock::current(t.as_ref(), &h)
        .expect("scans")
        .expect("the scan sees the lock");
    assert_eq!(seen.action, "deploy");
    assert!(seen.pid.is_some(), "{seen:?}");

    let done = unlock::unlock(t.as_ref(), &h, &seen).expect("unlocks");
    assert_eq!(done, Unlocked::Broke(seen.clone()));
    assert_eq!(unlock::current(t.as_ref(), &h).expect("scans"), None);
    let history = std::fs::read_to_string(f.root(0).join(".relman/history.jsonl")).unwrap();
    let last: Value = serde_json::from_str(history.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "unlock");
    assert_eq!(
        last["note"],
        format!("broke the lock of {} (deploy)", seen.by)
    );
    drop(held);

    // The same confirmation again: nothing holds the lock any more, nothing is killed.
    assert_eq!(
        unlock::unlock(t.as_ref(), &h, &seen).expect("answers"),
        Unlocked::WasFree
    );
}

#[test]
fn cli_check_prints_the_rows_of_the_ops_report() {
    let f = Fleet::start_as(1, DEPLOY);
    layout(&f);
    let (cfg, h) = (f.config(), f.host_config(0));
    let t = remote::open(&cfg, &h).expect("connects");
    let report = relman::ops::check::check(t.as_ref(), &h).expect("checks");
    assert!(!report.failed(), "{report:?}");
    let tools = report.tools();
    assert!(tools.len() >= 10, "{tools:?}");
    assert!(tools.iter().all(|t| t.path.is_some()), "{tools:?}");
    assert!(
        report
            .sanity()
            .any(|i| i.what == "mv -T" && i.level == Level::Ok)
    );

    let rows = present::check::rows(&cfg.display_path(), &[], &Ok(report));
    let out = f.relman().args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let printed: Vec<(String, String)> = v["hosts"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["what"].as_str().unwrap().to_string(),
                c["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let from_ops: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.what.clone(), r.level.as_str().to_string()))
        .collect();
    // Other users' processes come and go between the two checks (other tests run
    // beside this one): the hidden-jobs warning is a moment's, not the report's shape.
    let steady = |rows: Vec<(String, String)>| -> Vec<(String, String)> {
        rows.into_iter()
            .filter(|(w, _)| w != "hidden jobs")
            .collect()
    };
    assert_eq!(steady(printed), steady(from_ops));
}

async fn done(
    rx: &mut mpsc::UnboundedReceiver<Event>,
) -> Result<String, relman::tui::app::Failure> {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the worker answers within a minute")
            .expect("the worker is alive");
        if let Event::Done { op, result, .. } = e {
            assert_eq!(op, OpKind::Switch);
            return result;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_and_the_cli_say_the_same_of_a_switch_and_carry_its_kind() {
    let f = Fleet::start_as(1, DEPLOY);
    layout(&f);
    let cli = f
        .relman()
        .args(["--host", "h1", "switch", B])
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(0), "{}", stdout(&cli));
    let cli_line = stdout(&cli);
    let cli_said = cli_line
        .trim_end()
        .strip_prefix(&format!("{}: ", f.name(0)))
        .expect("host: summary")
        .to_string();
    assert_eq!(cli_said.matches("already live").count(), 1, "{cli_said}");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(f.config(), tx);
    let switch = |release: &str, expect: Option<&str>| Cmd::Switch {
        host: f.name(0).to_string(),
        release: release.to_string(),
        expect: expect.map(str::to_string),
    };
    cmds.send(switch(B, None)).unwrap();
    let console_said = done(&mut rx).await.expect("already live is no failure");
    assert_eq!(
        console_said, cli_said,
        "the same words for the same outcome"
    );

    // The operator saw A live, but B is: a conflict, as a kind (the CLI's exit 5).
    cmds.send(switch(A, Some(A))).unwrap();
    let failure = done(&mut rx).await.expect_err("a conflict");
    assert_eq!(failure.kind, FailureKind::Conflict, "{failure:?}");
    assert_eq!(failure.kind.exit_code(), 5);
    let cli = f
        .relman()
        .args(["--host", "h1", "switch", A, "--expect", A])
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(failure.kind.exit_code()));
}
