//! The console's unlock, check and release health (issues 13 item 3 and 15 item 6):
//! snapshots of the releases pane with runs, the hosts pane making a host whose live
//! release fails more than the one before it stand out, the details pane's recent
//! runs, the unlock confirmation and a host's check; and `update()` driven by keys
//! for `u`, `c` and the runs the details pane asks the worker for. No terminal, no host.

use crate::support;
use crossterm::event::KeyCode;
use ratatui::style::Color;
use relman::model::{LockInfo, Run};
use relman::ops::OpError;
use relman::ops::check::{CheckReport, parse_check};
use relman::present::check::rows as check_rows;
use relman::tui::app::{
    App, Cmd, DetailsMode, Event, Failure, Msg, OpKind, Overlay, Pane, Pending, update,
};
use support::fixture::{self, R};
use support::screen::{ch, find, key, render, resized as sized, text};

fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

fn selected(app: &App) -> String {
    app.selected_release()
        .map(|r| r.name.to_string())
        .unwrap_or_default()
}

/// Focus the releases pane and select `name`; the commands the moves sent.
fn select_release(app: &mut App, name: &str) -> Vec<Cmd> {
    app.focus = Pane::Releases;
    let mut cmds = ch(app, 'g');
    while selected(app) != name {
        let before = app.release_sel;
        cmds.extend(ch(app, 'j'));
        assert_ne!(before, app.release_sel, "{name} not found");
    }
    cmds
}

fn runs_cmds(cmds: &[Cmd]) -> Vec<(String, String)> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Runs { host, release } => Some((host.clone(), release.clone())),
            _ => None,
        })
        .collect()
}

fn answer_runs(app: &mut App, release: &str, result: Result<Vec<Run>, String>) -> Vec<Cmd> {
    update(
        app,
        Msg::Worker(Event::Runs {
            host: "batch-1".into(),
            release: release.into(),
            result,
        }),
    )
}

fn carol() -> LockInfo {
    LockInfo {
        by: "carol@laptop".into(),
        action: "deploy".into(),
        since: "2026-11-26T22:13:45Z".into(),
        pid: Some(881),
        token: String::new(),
    }
}

/// Select batch-2 (locked by carol) and press `u`; the host's answer opens the dialog.
fn unlock_dialog(app: &mut App) -> Vec<Cmd> {
    app.focus = Pane::Hosts;
    ch(app, 'g');
    ch(app, 'j');
    assert_eq!(app.host().unwrap().name, "batch-2");
    let cmds = ch(app, 'u');
    assert_eq!(
        cmds,
        vec![Cmd::LockQuery {
            host: "batch-2".into()
        }]
    );
    assert!(app.overlay.is_none(), "no dialog before the host answered");
    assert!(app.busy());
    let s = text(app, 100, 30);
    assert!(s.contains("asking batch-2 who holds its lock"), "{s}");
    update(
        app,
        Msg::Worker(Event::Lock {
            host: "batch-2".into(),
            result: Ok(Some(carol())),
        }),
    )
}

/// A check report as the worker sends it: the CLI's rows of a host missing `flock`
/// with a warning about hidden processes.
fn check_answer() -> Event {
    let out = b"check\tflock\tfail\tmissing\ncheck\tsha256sum\tok\t/usr/bin/sha256sum\n\
        check\tfind\tok\t/usr/bin/find\ncheck\tsh\tok\t/bin/sh\n\
        check\tmv -T\tok\tatomic link switch available\n\
        check\t/proc\tok\treadable\n\
        check\tjob scan\twarn\t3 processes of other users could not be inspected\n\
        check\troot\tok\t/home/batch/deploy (writable)\n";
    let report = CheckReport {
        items: parse_check(out),
        script_failed: None,
        future_name: None,
    };
    Event::Checked {
        host: "batch-1".into(),
        at: fixture::now(),
        rows: check_rows("~/.config/relman/prod.toml", &[], &Ok(report)),
    }
}

// ---- Snapshots ----

#[test]
fn releases_pane_shows_each_releases_runs() {
    let mut app = sized(fixture::health_app(), 100, 30);
    let cmds = select_release(&mut app, R[3]);
    assert_eq!(
        runs_cmds(&cmds).last(),
        Some(&("batch-1".into(), R[3].into()))
    );
    answer_runs(&mut app, R[3], Ok(Vec::new()));
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn a_host_whose_live_release_fails_more_than_the_one_before_stands_out() {
    let app = sized(fixture::health_app(), 160, 30);
    let s = text(&app, 160, 30);
    assert!(
        s.contains(&format!("failing since {} went live, 3 of 5 runs", R[4])),
        "{s}"
    );
    assert!(
        s.contains("runs 4 ok"),
        "batch-2's live release ran fine: {s}"
    );
    insta::assert_snapshot!(s);
    let buf = render(&app, 160, 30);
    let (x, y) = find(&buf, "failing since").expect("the standout");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = find(&buf, "runs 4 ok").expect("batch-2's health");
    assert_ne!(buf[(x, y)].fg, Color::Red);
}

#[test]
fn the_details_pane_lists_the_selected_releases_recent_runs() {
    let mut app = sized(fixture::health_app(), 100, 48);
    let cmds = select_release(&mut app, R[4]);
    assert_eq!(
        runs_cmds(&cmds).last(),
        Some(&("batch-1".into(), R[4].into()))
    );
    let asking = text(&app, 100, 48);
    assert!(asking.contains("asking the host…"), "{asking}");
    answer_runs(&mut app, R[4], Ok(fixture::live_runs()));
    let s = text(&app, 100, 48);
    for want in [
        "failed",
        "killed",
        "SIGTERM",
        "running",
        "2s",
        "1m 1s",
        "--job=reconcile",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
    insta::assert_snapshot!(s);
}

#[test]
fn the_details_pane_shows_the_newest_failed_runs_output_tail() {
    let mut app = sized(fixture::health_app(), 100, 60);
    select_release(&mut app, R[4]);
    let mut runs = fixture::live_runs();
    // live_runs: [running, failed (newest failure), killed, failed, ...]: the killed
    // run's tail is older than the newest failure's, which is shown.
    runs[1].tail = Some(vec![
        "Exception in thread \"main\" java.io.IOException: disk full".into(),
        "\tat Import.run(Import.java:42) \x1b[2J".into(),
    ]);
    runs[2].tail = Some(vec!["an older run's tail".into()]);
    answer_runs(&mut app, R[4], Ok(runs.clone()));
    let s = text(&app, 100, 60);
    assert!(
        s.contains("output of the failed run 10m ago (exit 3), its last lines:"),
        "{s}"
    );
    assert!(
        s.contains("| Exception in thread \"main\" java.io.IOException: disk full"),
        "{s}"
    );
    assert!(
        s.contains("|     at Import.run(Import.java:42) ?[2J"),
        "{s}"
    );
    assert!(
        !s.contains("an older run's tail") && !s.contains('\x1b'),
        "{s}"
    );
    insta::assert_snapshot!(s);
    // A long tail: its last 20 lines, and where the rest is.
    runs[1].tail = Some((1..=50).map(|i| format!("line {i}")).collect());
    update(&mut app, Msg::Resize(100, 80));
    answer_runs(&mut app, R[4], Ok(runs.clone()));
    let s = text(&app, 100, 80);
    assert!(
        s.contains(&format!("… 30 earlier: relman runs --release {}", R[4])),
        "{s}"
    );
    assert!(
        s.contains("| line 31") && s.contains("| line 50") && !s.contains("| line 30"),
        "{s}"
    );
    // No failed run with a tail: no tail section.
    for r in &mut runs {
        r.tail = None;
    }
    answer_runs(&mut app, R[4], Ok(runs));
    assert!(
        !text(&app, 100, 80).contains("output of the"),
        "no tail kept"
    );
}

#[test]
fn a_runs_error_shows_in_the_details_pane() {
    let mut app = sized(fixture::health_app(), 100, 48);
    select_release(&mut app, R[4]);
    answer_runs(
        &mut app,
        R[4],
        Err("reading the run ledger failed (exit 2): boom\n\x1b[2J".into()),
    );
    let s = text(&app, 100, 48);
    assert!(
        s.contains("cannot read the runs: reading the run ledger failed (exit 2): boom"),
        "{s}"
    );
    assert!(!s.contains('\x1b'));
}

#[test]
fn the_unlock_confirmation_shows_holder_since_and_action() {
    let mut app = sized(fixture::app(), 80, 24);
    unlock_dialog(&mut app);
    let s = text(&app, 80, 24);
    for want in [
        "carol@laptop",
        "deploy",
        "881",
        "1m 15s ago",
        "Unlock — confirm",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
    insta::assert_snapshot!(s);
}

#[test]
fn the_check_report_shows_tools_and_sanity_with_their_level() {
    let mut app = sized(fixture::app(), 100, 30);
    assert_eq!(
        ch(&mut app, 'c'),
        vec![Cmd::Check {
            host: "batch-1".into()
        }]
    );
    assert_eq!(app.details_mode, DetailsMode::Check);
    let s = text(&app, 100, 30);
    assert!(s.contains("checking…"), "{s}");
    assert!(
        s.contains("checking batch-1"),
        "the header says what is pending: {s}"
    );
    update(&mut app, Msg::Worker(check_answer()));
    let s = text(&app, 100, 30);
    for want in [
        "tools: 3 of 4 found; missing: flock",
        "WARN  job scan",
        "OK    connect, host key, auth",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
    assert_eq!(message(&app), "batch-1: check: 1 item failed");
    insta::assert_snapshot!(s);
}

#[test]
fn a_host_that_cannot_be_reached_checks_as_a_failed_connection() {
    let mut app = sized(fixture::app(), 100, 30);
    ch(&mut app, 'j');
    ch(&mut app, 'j');
    assert_eq!(app.host().unwrap().name, "batch-3");
    assert_eq!(
        ch(&mut app, 'c'),
        vec![Cmd::Check {
            host: "batch-3".into()
        }]
    );
    let err = Err(OpError::Failed(fixture::DOWN.into()));
    update(
        &mut app,
        Msg::Worker(Event::Checked {
            host: "batch-3".into(),
            at: fixture::now(),
            rows: check_rows("prod.toml", &[], &err),
        }),
    );
    let s = text(&app, 100, 30);
    assert!(s.contains("FAIL  connect, host key, auth"), "{s}");
    assert!(s.contains("Connection refused"), "{s}");
}

// ---- Keys ----

/// Esc while the console waits for a host's answer (the lock holder for `u`, the
/// prune plan for `p`) calls the dialog off: the answer, when it comes, opens nothing.
#[test]
fn esc_while_asking_calls_the_dialog_off() {
    let mut app = sized(fixture::app(), 80, 24);
    app.focus = Pane::Hosts;
    ch(&mut app, 'g');
    ch(&mut app, 'j');
    assert_eq!(ch(&mut app, 'u').len(), 1);
    assert!(app.busy());
    key(&mut app, KeyCode::Esc);
    assert!(!app.busy(), "no longer asking");
    assert!(message(&app).contains("called off"), "{}", message(&app));
    let cmds = update(
        &mut app,
        Msg::Worker(Event::Lock {
            host: "batch-2".into(),
            result: Ok(Some(carol())),
        }),
    );
    assert!(cmds.is_empty());
    assert!(app.overlay.is_none(), "the late answer opened a dialog");
    // Without Esc the same answer opens the dialog (the test can fail).
    assert_eq!(ch(&mut app, 'u').len(), 1);
    update(
        &mut app,
        Msg::Worker(Event::Lock {
            host: "batch-2".into(),
            result: Ok(Some(carol())),
        }),
    );
    assert!(matches!(app.overlay, Some(Overlay::Confirm(_))));
}

#[test]
fn u_confirms_the_holder_the_host_named_and_y_breaks_only_that_lock() {
    let mut app = sized(fixture::app(), 80, 24);
    unlock_dialog(&mut app);
    assert!(!app.busy());
    // Enter (on either button) and the opening key do not confirm.
    assert!(ch(&mut app, 'u').is_empty());
    key(&mut app, KeyCode::Tab);
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(matches!(
        app.overlay,
        Some(Overlay::Confirm(ref d)) if matches!(d.pending, Pending::Unlock { .. })
    ));
    let cmds = ch(&mut app, 'y');
    assert_eq!(
        cmds,
        vec![Cmd::Unlock {
            host: "batch-2".into(),
            lock: carol()
        }]
    );
    assert!(app.overlay.is_none());
    assert_eq!(app.in_flight.len(), 1);
    assert_eq!(app.in_flight[0].op, OpKind::Unlock);
    // The lock went meanwhile: said, and the host refreshed.
    let cmds = update(
        &mut app,
        Msg::Worker(Event::Done {
            host: "batch-2".into(),
            op: OpKind::Unlock,
            result: Ok("the lock was released meanwhile: nothing to break".into()),
        }),
    );
    assert_eq!(
        cmds,
        vec![Cmd::Refresh {
            hosts: vec!["batch-2".into()]
        }]
    );
    assert!(app.in_flight.is_empty());
    assert_eq!(
        message(&app),
        "batch-2: the lock was released meanwhile: nothing to break"
    );
}

#[test]
fn unlock_cancelled_or_refused_changes_nothing() {
    let mut app = sized(fixture::app(), 80, 24);
    unlock_dialog(&mut app);
    assert!(ch(&mut app, 'n').is_empty());
    assert!(app.overlay.is_none());
    assert_eq!(message(&app), "cancelled: nothing was changed");

    // The host refuses (the holder is not relman's): the error shows.
    unlock_dialog(&mut app);
    ch(&mut app, 'y');
    update(
        &mut app,
        Msg::Worker(Event::Done {
            host: "batch-2".into(),
            op: OpKind::Unlock,
            result: Err(Failure {
                message: "unlock failed (exit 5): pid 881 is not a relman lock holder".into(),
                kind: relman::ops::FailureKind::Conflict,
            }),
        }),
    );
    assert!(message(&app).contains("unlock failed"), "{}", message(&app));
    assert!(matches!(app.overlay, Some(Overlay::Error { .. })));
}

#[test]
fn a_host_without_a_lock_has_nothing_to_unlock() {
    let mut app = sized(fixture::app(), 80, 24);
    assert_eq!(
        ch(&mut app, 'u'),
        vec![Cmd::LockQuery {
            host: "batch-1".into()
        }]
    );
    update(
        &mut app,
        Msg::Worker(Event::Lock {
            host: "batch-1".into(),
            result: Ok(None),
        }),
    );
    assert!(app.overlay.is_none());
    assert_eq!(message(&app), "batch-1 is not locked: nothing to unlock");
    // An unreachable host is not asked.
    ch(&mut app, 'j');
    ch(&mut app, 'j');
    assert!(ch(&mut app, 'u').is_empty());
    assert!(message(&app).contains("unreachable"), "{}", message(&app));
}

#[test]
fn readonly_refuses_unlock_and_still_checks() {
    let mut app = sized(fixture::app(), 80, 24);
    app.readonly = true;
    assert!(ch(&mut app, 'u').is_empty());
    assert_eq!(message(&app), "read-only: u (unlock) is disabled");
    assert!(app.overlay.is_none());
    assert_eq!(
        ch(&mut app, 'c'),
        vec![Cmd::Check {
            host: "batch-1".into()
        }]
    );
}

#[test]
fn c_toggles_the_check_and_h_and_enter_leave_it() {
    let mut app = sized(fixture::app(), 80, 24);
    ch(&mut app, 'c');
    update(&mut app, Msg::Worker(check_answer()));
    // c again: back to the release, without asking again.
    assert!(ch(&mut app, 'c').is_empty());
    assert_eq!(app.details_mode, DetailsMode::Release);
    // c on the same host later asks again (the host may have changed).
    assert_eq!(ch(&mut app, 'c').len(), 1);
    assert!(ch(&mut app, 'h').is_empty());
    assert_eq!(app.details_mode, DetailsMode::History);
    ch(&mut app, 'c');
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.details_mode, DetailsMode::Release);
    // A check of another host does not show here.
    let mut other = sized(fixture::app(), 100, 30);
    ch(&mut other, 'c');
    ch(&mut other, 'j');
    let s = text(&other, 100, 30);
    assert!(s.contains("check — batch-2"), "{s}");
    assert!(s.contains("c checks this host"), "{s}");
}

#[test]
fn runs_are_asked_for_once_per_release_and_again_when_its_health_changes() {
    let mut app = fixture::health_app();
    // Opening on batch-1's newest release (it has runs) asks for them.
    let cmds = update(&mut app, Msg::Resize(100, 30));
    assert_eq!(runs_cmds(&cmds), vec![("batch-1".into(), R[5].into())]);
    // Each selection with runs asks once (the worker drops what the operator passed by).
    let cmds = select_release(&mut app, R[4]);
    assert_eq!(runs_cmds(&cmds), vec![("batch-1".into(), R[4].into())]);
    answer_runs(&mut app, R[4], Ok(fixture::live_runs()));
    // Staying asks nothing.
    assert!(update(&mut app, Msg::Tick(fixture::now())).is_empty());
    assert!(ch(&mut app, 'k').len() == 1 && ch(&mut app, 'j').len() == 1);
    answer_runs(&mut app, R[4], Ok(fixture::live_runs()));
    // A release without runs asks nothing (R[1] and R[0] have none).
    select_release(&mut app, R[1]);
    assert!(ch(&mut app, 'j').is_empty());
    assert_eq!(selected(&app), R[0]);
    // Back on R[4] asks again: what is kept is another release's.
    let cmds = select_release(&mut app, R[4]);
    assert_eq!(
        runs_cmds(&cmds).last(),
        Some(&("batch-1".into(), R[4].into()))
    );
    answer_runs(&mut app, R[4], Ok(fixture::live_runs()));
    // An auto-refresh whose scan says the same asks nothing...
    let mut state = app.hosts[0].state.clone().unwrap();
    let cmds = update(
        &mut app,
        Msg::Worker(Event::Scanned {
            host: "batch-1".into(),
            at: fixture::now(),
            result: Ok(state.clone()),
        }),
    );
    assert!(cmds.is_empty(), "{cmds:?}");
    // ...one that saw a new run asks again.
    let live = state
        .releases
        .iter_mut()
        .find(|r| r.name.as_str() == R[4])
        .unwrap();
    live.health.runs += 1;
    live.health.failed += 1;
    let cmds = update(
        &mut app,
        Msg::Worker(Event::Scanned {
            host: "batch-1".into(),
            at: fixture::now(),
            result: Ok(state),
        }),
    );
    assert_eq!(runs_cmds(&cmds), vec![("batch-1".into(), R[4].into())]);
    // R asks again whatever the scan says.
    let cmds = ch(&mut app, 'R');
    assert_eq!(runs_cmds(&cmds), vec![("batch-1".into(), R[4].into())]);
    // An answer for another release is not shown as this one's.
    answer_runs(&mut app, R[3], Ok(Vec::new()));
    assert_eq!(app.runs.as_ref().unwrap().result, None);
    // The history asks nothing.
    app.runs = None;
    assert!(runs_cmds(&ch(&mut app, 'h')).is_empty());
}

#[test]
fn a_fleet_without_runs_never_asks_for_them() {
    let mut app = sized(fixture::app(), 80, 24);
    let mut cmds = select_release(&mut app, R[0]);
    cmds.extend(select_release(&mut app, R[5]));
    cmds.extend(ch(&mut app, 'R'));
    assert!(runs_cmds(&cmds).is_empty(), "{cmds:?}");
}

#[test]
fn health_check_and_runs_render_at_any_size_and_hostile_text_stays_data() {
    let mut app = fixture::health_app();
    let mut runs = fixture::live_runs();
    runs[0].command = "sh -c 'x'\x1b[2J\x07\nrm -rf /".into();
    runs[1].signal = Some("TERM\x1b[31m".into());
    runs[1].status = relman::model::RunStatus::Killed;
    update(&mut app, Msg::Resize(100, 48));
    select_release(&mut app, R[4]);
    answer_runs(&mut app, R[4], Ok(runs));
    let s = text(&app, 100, 48);
    assert!(!s.contains('\x1b') && !s.contains('\x07'), "{s}");
    assert!(s.contains("sh -c 'x'?[2J??rm -rf /"), "{s}");
    let sizes = [
        (1, 1),
        (10, 3),
        (20, 5),
        (40, 10),
        (80, 3),
        (80, 24),
        (300, 100),
    ];
    for (w, h) in sizes {
        update(&mut app, Msg::Resize(w, h));
        let _ = render(&app, w, h);
    }
    ch(&mut app, 'c');
    update(&mut app, Msg::Worker(check_answer()));
    for (w, h) in sizes {
        update(&mut app, Msg::Resize(w, h));
        let _ = render(&app, w, h);
    }
    unlock_dialog(&mut app);
    for (w, h) in sizes {
        update(&mut app, Msg::Resize(w, h));
        let _ = render(&app, w, h);
    }
}
