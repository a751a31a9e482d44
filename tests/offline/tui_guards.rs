//! The console for the deploy guards (issue 16 item 6): snapshots of each phase — the
//! deploy prompt with its guards and the confirmation that states them, a smoke that
//! failed (with its output's tail), canaries being watched, a refused canary, a
//! canary rolled back — the probation in the hosts pane, the accept confirmation and
//! the mark of a host that rolled itself back; and `update()` driven by keys for the
//! form's checks, `A` and the mark's "seen" rule. No terminal, no host.

use std::time::Duration;

use crate::support;
use crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};
use relman::model::ProbationSpec;
use relman::ops::deploy::{Canary, Smoke, smoke::DEFAULT_TIMEOUT};
use relman::tui::app::{
    App, Button, Cmd, DeployField, Event, Guards, Msg, OpKind, Overlay, Pane, Pending, update,
};
use relman::tui::theme::Theme;
use support::fixture::{self, R};
use support::screen::{ch, find, key, render, resized as sized, text};

fn typed(app: &mut App, s: &str) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for c in s.chars() {
        cmds.extend(ch(app, c));
    }
    cmds
}

fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

fn worker(app: &mut App, ev: Event) -> Vec<Cmd> {
    update(app, Msg::Worker(ev))
}

fn field(app: &App) -> DeployField {
    match &app.overlay {
        Some(Overlay::Deploy(f)) => f.field,
        o => panic!("the deploy prompt should be open: {o:?}"),
    }
}

fn form_error(app: &App) -> String {
    match &app.overlay {
        Some(Overlay::Deploy(f)) => f.error.clone().unwrap_or_default(),
        o => panic!("the deploy prompt should be open: {o:?}"),
    }
}

/// Move in the prompt to `to` (down, then up).
fn go_to(app: &mut App, to: DeployField) {
    for k in [KeyCode::Down, KeyCode::Up] {
        for _ in 0..12 {
            if field(app) == to {
                return;
            }
            key(app, k);
        }
    }
    panic!("{to:?} not reached");
}

/// Replace the focused field's text.
fn set(app: &mut App, value: &str) {
    for _ in 0..40 {
        key(app, KeyCode::Backspace);
    }
    typed(app, value);
}

/// `d` on batch-1, a path, the group prod (batch-1..3) and the three guards: a
/// smoke, batch-1 as the canary watched for 3 runs, a 30m probation, 1 failure
/// allowed.
fn guarded_form(app: &mut App) {
    ch(app, 'd');
    typed(app, "build/app.jar");
    key(app, KeyCode::Enter);
    typed(app, "nightly 4814");
    key(app, KeyCode::Enter);
    key(app, KeyCode::Right);
    go_to(app, DeployField::Smoke);
    typed(app, "./bin/smoke --quick");
    go_to(app, DeployField::Canary);
    typed(app, "batch-1");
    go_to(app, DeployField::MinRuns);
    set(app, "3");
    go_to(app, DeployField::Probation);
    typed(app, "30m");
    go_to(app, DeployField::MaxFailures);
    set(app, "1");
}

fn guards() -> Guards {
    Guards {
        smoke: Some(Smoke {
            command: "./bin/smoke --quick".into(),
            timeout: DEFAULT_TIMEOUT,
        }),
        canary: Some(Canary {
            hosts: vec!["batch-1".into()],
            min_runs: 3,
            max_failures: 1,
            watch: Duration::from_secs(600),
        }),
        probation: Some(ProbationSpec {
            duration: Duration::from_secs(1800),
            max_failures: 1,
        }),
    }
}

#[test]
fn the_deploy_prompt_takes_the_guards() {
    let mut app = sized(fixture::app(), 100, 30);
    guarded_form(&mut app);
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn the_deploy_confirmation_states_the_guards_and_sends_them() {
    let mut app = sized(fixture::app(), 120, 40);
    guarded_form(&mut app);
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(matches!(
        &app.overlay,
        Some(Overlay::Confirm(d)) if matches!(&d.pending, Pending::Deploy { guards: g, .. } if *g == guards())
    ));
    insta::assert_snapshot!(text(&app, 120, 40));
    typed(&mut app, "yes");
    let cmds = key(&mut app, KeyCode::Enter);
    assert_eq!(
        cmds,
        vec![Cmd::Deploy {
            paths: vec!["build/app.jar".into()],
            message: "nightly 4814".into(),
            hosts: vec!["batch-1".into(), "batch-2".into(), "batch-3".into()],
            guards: guards(),
        }]
    );
    assert_eq!(
        app.deploy.as_ref().map(|d| d.guards.clone()),
        Some(guards())
    );
}

#[test]
fn guards_left_empty_send_none() {
    let mut app = fixture::app();
    ch(&mut app, 'd');
    typed(&mut app, "build/app.jar");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    let cmds = ch(&mut app, 'y');
    assert!(
        matches!(&cmds[..], [Cmd::Deploy { guards, .. }] if *guards == Guards::default()),
        "{cmds:?}"
    );
}

#[test]
fn the_form_refuses_bad_guards_with_one_line_on_the_field_at_fault() {
    // A canary that is not among the deploy's hosts (batch-4 is in staging).
    let mut app = fixture::app();
    guarded_form(&mut app);
    go_to(&mut app, DeployField::Canary);
    set(&mut app, "batch-1, batch-4");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(field(&app), DeployField::Canary);
    assert_eq!(
        form_error(&app),
        "canary batch-4 is not among this deploy's hosts (batch-1, batch-2, batch-3)"
    );
    assert!(!form_error(&app).contains('\n'));
    // A duration that does not parse.
    set(&mut app, "batch-1");
    go_to(&mut app, DeployField::Probation);
    set(&mut app, "half an hour");
    key(&mut app, KeyCode::Enter);
    assert_eq!(field(&app), DeployField::Probation);
    assert_eq!(
        form_error(&app),
        "probation: 'half an hour' is not a duration (e.g. 10m, 2h)"
    );
    set(&mut app, "30m");
    go_to(&mut app, DeployField::Watch);
    set(&mut app, "0s");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        form_error(&app),
        "watch: '0s' is not a duration (e.g. 10m, 2h)"
    );
    set(&mut app, "10m");
    go_to(&mut app, DeployField::MinRuns);
    set(&mut app, "0");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        form_error(&app),
        "min runs: '0' is not a whole number of at least 1"
    );
    set(&mut app, "3");
    go_to(&mut app, DeployField::MaxFailures);
    set(&mut app, "-1");
    key(&mut app, KeyCode::Enter);
    assert_eq!(field(&app), DeployField::MaxFailures);
    assert_eq!(form_error(&app), "max failures: '-1' is not a whole number");
    // Typing clears the message; a good form opens the dialog.
    set(&mut app, "1");
    assert_eq!(form_error(&app), "");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.overlay, Some(Overlay::Confirm(_))));
}

#[test]
fn a_watch_without_canaries_is_refused() {
    let mut app = fixture::app();
    ch(&mut app, 'd');
    typed(&mut app, "build/app.jar");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    go_to(&mut app, DeployField::Watch);
    set(&mut app, "20m");
    key(&mut app, KeyCode::Enter);
    assert_eq!(field(&app), DeployField::Canary);
    assert!(
        form_error(&app).starts_with("watch and min runs are for canaries"),
        "{}",
        form_error(&app)
    );
}

/// A confirmed, guarded deploy to batch-1, batch-2 and batch-4 (all reachable), named.
fn deploying(w: u16, h: u16) -> App {
    let mut app = sized(fixture::app(), w, h);
    ch(&mut app, 'd');
    typed(&mut app, "build/app.jar");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    // ← from "this host": all hosts (batch-3 is down: the worker says so).
    key(&mut app, KeyCode::Left);
    go_to(&mut app, DeployField::Smoke);
    typed(&mut app, "./bin/smoke");
    go_to(&mut app, DeployField::Canary);
    typed(&mut app, "batch-1");
    key(&mut app, KeyCode::Enter);
    typed(&mut app, "yes");
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(matches!(&cmds[..], [Cmd::Deploy { .. }]), "{cmds:?}");
    worker(
        &mut app,
        Event::DeployStarted {
            files: 1,
            bytes: 64 << 20,
        },
    );
    worker(
        &mut app,
        Event::DeployNamed {
            release: "batch_20261126221500".into(),
        },
    );
    for h in ["batch-1", "batch-2", "batch-4"] {
        worker(
            &mut app,
            Event::Progress {
                host: h.into(),
                sent: 64 << 20,
                total: 64 << 20,
                phase: "uploading".into(),
            },
        );
    }
    app
}

/// A phase after the upload: the deploy reports no bytes with it.
fn phase(app: &mut App, host: &str, phase: &str) {
    worker(
        app,
        Event::Progress {
            host: host.into(),
            sent: 0,
            total: 0,
            phase: phase.into(),
        },
    );
}

const SMOKE_TAIL: [&str; 3] = [
    "checking config /etc/batch/app.conf",
    "ERROR: table IMPORT_QUEUE missing (did the migration run?)",
    "smoke: 1 check failed",
];

#[test]
fn a_failed_smoke_shows_its_tail_and_the_refusal() {
    let mut app = deploying(100, 36);
    for h in ["batch-1", "batch-2", "batch-4"] {
        phase(&mut app, h, "smoke testing");
    }
    phase(&mut app, "batch-1", "smoke passed");
    worker(
        &mut app,
        Event::SmokeFailed {
            host: "batch-2".into(),
            how: "failed (exit 1)".into(),
            tail: SMOKE_TAIL.iter().map(|s| s.to_string()).collect(),
        },
    );
    // While it runs: the failing host's output is there already.
    let t = text(&app, 100, 36);
    assert!(t.contains("smoke failed (exit 1)"), "{t}");
    assert!(t.contains("IMPORT_QUEUE missing"), "{t}");
    for (h, r) in [
        (
            "batch-1",
            "refused: the smoke passed here but failed on another host; not switched (still on batch_20261126190300)",
        ),
        (
            "batch-2",
            "refused: the smoke failed (exit 1); not switched (still on batch_20261126213500)",
        ),
        (
            "batch-4",
            "refused: the smoke passed here but failed on another host; not switched (still on batch_20261125201500)",
        ),
        ("batch-3", fixture::DOWN),
    ] {
        worker(
            &mut app,
            Event::DeployHost {
                host: h.into(),
                result: Err(r.into()),
            },
        );
    }
    worker(
        &mut app,
        Event::DeployRefused {
            why: "the smoke did not pass on batch-2 (failed (exit 1)): no host switched, \
                  batch_20261126221500 marked bad"
                .into(),
        },
    );
    worker(&mut app, Event::DeployDone { alert: None });
    assert_eq!(
        message(&app),
        "deploy refused: the smoke did not pass on batch-2 (failed (exit 1)): no host \
         switched, batch_20261126221500 marked bad"
    );
    let buf = render(&app, 100, 36);
    let (x, y) = find(&buf, "✗ refused:").expect("the refusal line");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    insta::assert_snapshot!(text(&app, 100, 36));
}

#[test]
fn canaries_being_watched_say_runs_failures_and_time_left() {
    let mut app = deploying(100, 30);
    phase(&mut app, "batch-2", "smoke passed");
    phase(&mut app, "batch-4", "smoke passed");
    phase(&mut app, "batch-1", "canary switched");
    worker(
        &mut app,
        Event::Watch {
            host: "batch-1".into(),
            finished: 2,
            min_runs: 3,
            failures: 0,
            left: Duration::from_secs(3 * 60 + 50),
        },
    );
    worker(
        &mut app,
        Event::DeployHost {
            host: "batch-3".into(),
            result: Err(fixture::DOWN.into()),
        },
    );
    let t = text(&app, 100, 30);
    assert!(
        t.contains("watching: 2 of 3 runs, 0 failed, 4m left"),
        "{t}"
    );
    assert!(
        t.contains("100%   64.0 MiB/64.0 MiB smoke passed"),
        "the upload stays shown: {t}"
    );
    insta::assert_snapshot!(t);
}

#[test]
fn a_refused_canary_is_rolled_back_and_the_summary_says_why() {
    let mut app = deploying(100, 30);
    worker(
        &mut app,
        Event::Watch {
            host: "batch-1".into(),
            finished: 3,
            min_runs: 1,
            failures: 2,
            left: Duration::from_secs(300),
        },
    );
    phase(&mut app, "batch-1", "rolled back");
    let t = text(&app, 100, 30);
    assert!(t.contains("rolled back"), "{t}");
    for (h, r) in [
        (
            "batch-1",
            "refused: the canary failed 2 of 3 runs; rolled back to batch_20261126190300",
        ),
        (
            "batch-2",
            "refused: the canary failed; not switched (still on batch_20261126213500)",
        ),
        (
            "batch-4",
            "refused: the canary failed; not switched (still on batch_20261125201500)",
        ),
        ("batch-3", fixture::DOWN),
    ] {
        worker(
            &mut app,
            Event::DeployHost {
                host: h.into(),
                result: Err(r.into()),
            },
        );
    }
    worker(
        &mut app,
        Event::DeployRefused {
            why: "the canary failed on batch-1 (2 of 3 runs failed, 0 allowed): canaries \
                  rolled back, the other hosts never left their release; \
                  batch_20261126221500 marked bad"
                .into(),
        },
    );
    worker(&mut app, Event::DeployDone { alert: None });
    assert!(message(&app).starts_with("deploy refused: the canary failed on batch-1"));
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn the_hosts_pane_shows_a_probation_with_its_time_left_and_failures() {
    let app = sized(fixture::guards_app(), 120, 30);
    let t = text(&app, 120, 30);
    assert!(t.contains("probation 8m left, 0 of 2 failures"), "{t}");
    insta::assert_snapshot!(t);
    // The countdown moves with the console's clock between scans.
    let mut later = app.clone();
    update(
        &mut later,
        Msg::Tick(fixture::now() + Duration::from_secs(180)),
    );
    assert!(text(&later, 120, 30).contains("probation 5m left, 0 of 2 failures"));
    // Due (more failures than allowed): red, and says so.
    let mut due = app.clone();
    if let Some(p) = due.hosts[1]
        .state
        .as_mut()
        .and_then(|s| s.probation.as_mut())
    {
        p.failures = 3;
    }
    let buf = render(&due, 120, 30);
    let (x, y) = find(&buf, "probation due: 3 failures, 2 allowed").expect("due probation");
    assert_eq!(buf[(x, y)].fg, Color::Red);
}

#[test]
fn the_details_name_the_probations_release_previous_and_since() {
    let mut app = sized(fixture::guards_app(), 160, 40);
    ch(&mut app, 'j');
    assert_eq!(app.host().map(|h| h.name.as_str()), Some("batch-2"));
    let t = text(&app, 160, 40);
    assert!(
        t.contains("guard    ⏲ probation 8m left, 0 of 2 failures"),
        "{t}"
    );
    assert!(
        t.contains(&format!("{} since 2026-11-26T21:35:00Z", R[5])),
        "{t}"
    );
    assert!(t.contains(&format!("goes back to {}", R[4])), "{t}");
    // The footer offers A only where there is a probation.
    assert!(t.contains("A accept"), "{t}");
    ch(&mut app, 'k');
    assert!(!text(&app, 160, 40).contains("A accept"));
}

/// Select batch-2 (on probation) and press `A`.
fn accept_dialog(app: &mut App) -> Vec<Cmd> {
    app.focus = Pane::Hosts;
    ch(app, 'g');
    ch(app, 'j');
    ch(app, 'A')
}

#[test]
fn accept_asks_first_naming_host_release_failures_and_time_left() {
    let mut app = sized(fixture::guards_app(), 100, 30);
    assert!(accept_dialog(&mut app).is_empty());
    let Some(Overlay::Confirm(d)) = &app.overlay else {
        panic!("A opens a confirmation: {:?}", app.overlay);
    };
    assert_eq!(d.focus, Button::Cancel);
    assert!(d.typed.is_none(), "one host: y confirms");
    insta::assert_snapshot!(text(&app, 100, 30));
    // Neither Enter (on Cancel) nor A again runs it.
    assert!(ch(&mut app, 'A').is_empty());
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.overlay.is_none(), "Enter on Cancel cancels");
    accept_dialog(&mut app);
    let cmds = ch(&mut app, 'y');
    assert_eq!(
        cmds,
        vec![Cmd::Accept {
            host: "batch-2".into(),
            release: R[5].into(),
        }]
    );
    assert!(app.in_flight.iter().any(|f| f.op == OpKind::Accept));
    // Its answer refreshes the host.
    let cmds = worker(
        &mut app,
        Event::Done {
            host: "batch-2".into(),
            op: OpKind::Accept,
            result: Ok(format!("accepted {}: its probation ended", R[5])),
        },
    );
    assert_eq!(
        cmds,
        vec![Cmd::Refresh {
            hosts: vec!["batch-2".into()]
        }]
    );
    assert!(message(&app).contains("its probation ended"));
}

#[test]
fn accept_without_a_probation_or_read_only_changes_nothing() {
    let mut app = fixture::guards_app();
    app.focus = Pane::Hosts;
    assert!(ch(&mut app, 'A').is_empty());
    assert!(app.overlay.is_none());
    assert_eq!(message(&app), "batch-1 has no probation to accept");
    let mut ro = fixture::guards_app();
    ro.readonly = true;
    assert!(accept_dialog(&mut ro).is_empty());
    assert!(ro.overlay.is_none());
    assert_eq!(message(&ro), "read-only: A (accept) is disabled");
}

#[test]
fn a_host_that_rolled_itself_back_stands_out_until_its_history_is_opened() {
    let mut app = sized(fixture::guards_app(), 120, 30);
    let t = text(&app, 120, 30);
    assert!(t.contains("↺ batch-4"), "{t}");
    assert!(
        t.contains("↺ rolled back by itself at 22:12 UTC (h)"),
        "{t}"
    );
    insta::assert_snapshot!(t);
    // Marked without colour too: reversed and bold, the ↺ saying what it is.
    for theme in [Theme { color: true }, Theme { color: false }] {
        app.theme = theme;
        let buf = render(&app, 120, 30);
        let (x, y) = find(&buf, "↺ batch-4").expect("mark");
        let cell = &buf[(x, y)];
        assert!(cell.modifier.contains(Modifier::REVERSED | Modifier::BOLD));
        assert_eq!(
            cell.fg,
            if theme.color {
                Color::Red
            } else {
                Color::Reset
            }
        );
    }
    app.theme = Theme { color: true };
    // Moving onto it is not seeing it; its details already say what happened.
    for _ in 0..3 {
        ch(&mut app, 'j');
    }
    assert_eq!(app.host().map(|h| h.name.as_str()), Some("batch-4"));
    let t = text(&app, 120, 30);
    assert!(t.contains("↺ batch-4"), "{t}");
    // Its history: the line that says what it did, then the mark is gone.
    ch(&mut app, 'h');
    update(&mut app, Msg::Resize(160, 30));
    let t = text(&app, 160, 30);
    assert!(
        t.contains("↺ rolled back by itself at 22:12 UTC: probation: 3"),
        "{t}"
    );
    assert!(
        t.contains("runs of batch_20261125201500 (2 allowed)"),
        "{t}"
    );
    assert!(t.contains(&format!("left {} (bad now) for", R[3])), "{t}");
    assert!(!t.contains("↺ batch-4"), "seen: {t}");
    insta::assert_snapshot!("self_rollback_in_the_history", t);
    ch(&mut app, 'h');
    assert!(!text(&app, 160, 30).contains("UTC (h)"));
    // A newer self-rollback on the same host is news again.
    let mut again = app.clone();
    if let Some(s) = again.hosts[3].state.as_mut() {
        let mut e = s.history.last().cloned().expect("history");
        e.at = "2026-11-26T22:14:00Z".into();
        s.history.push(e);
    }
    assert!(text(&again, 160, 30).contains("↺ batch-4"));
}

#[test]
fn tab_completes_canaries_among_the_deploys_hosts() {
    let mut app = fixture::app();
    ch(&mut app, 'd');
    typed(&mut app, "build/app.jar");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Right); // group prod: batch-1..3
    go_to(&mut app, DeployField::Canary);
    let canary = |app: &App| match &app.overlay {
        Some(Overlay::Deploy(f)) => (f.canary.clone(), f.candidates.clone()),
        o => panic!("{o:?}"),
    };
    // Tab stays on the field and offers the hosts; the worker is not asked.
    assert!(key(&mut app, KeyCode::Tab).is_empty());
    assert_eq!(field(&app), DeployField::Canary);
    assert_eq!(
        canary(&app),
        (
            "batch-".to_string(),
            vec!["batch-1".into(), "batch-2".into(), "batch-3".into()]
        )
    );
    typed(&mut app, "2");
    key(&mut app, KeyCode::Tab);
    assert_eq!(canary(&app).0, "batch-2 ");
    // The next one: only the hosts not named yet.
    typed(&mut app, "b");
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        canary(&app),
        (
            "batch-2 batch-".to_string(),
            vec!["batch-1".into(), "batch-3".into()]
        )
    );
    // batch-4 is not in this deploy.
    typed(&mut app, "4");
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        form_error(&app),
        "no other host of this deploy starts with 'batch-4'"
    );
}
