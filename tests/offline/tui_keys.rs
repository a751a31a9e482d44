//! `update()` as an operator drives it: keys in, commands out. No terminal, no host.

use std::time::Duration;

use crate::support;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use relman::tui::app::{
    App, Button, Cmd, Event, Guards, Msg, OpKind, Overlay, Pane, Pending, update,
};
use support::fixture::{self, R};

fn app() -> App {
    let mut app = fixture::app();
    update(&mut app, Msg::Resize(80, 24));
    app
}

fn key(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Vec<Cmd> {
    key(app, KeyCode::Char(c))
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        ch(app, c);
    }
}

fn selected(app: &App) -> String {
    app.selected_release()
        .map(|r| r.name.to_string())
        .unwrap_or_default()
}

fn select_release(app: &mut App, name: &str) {
    app.focus = Pane::Releases;
    ch(app, 'g');
    while selected(app) != name {
        let before = app.release_sel;
        ch(app, 'j');
        assert_ne!(before, app.release_sel, "{name} not found");
    }
}

fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

fn dialog_focus(app: &App) -> Option<Button> {
    match &app.overlay {
        Some(Overlay::Confirm(d)) => Some(d.focus),
        _ => None,
    }
}

#[test]
fn opens_on_the_hosts_pane_with_the_first_host_and_scans_everything() {
    let mut a = fixture::app();
    assert_eq!(a.focus, Pane::Hosts);
    assert_eq!(a.host_sel, 0);
    assert_eq!(a.host().unwrap().name, "batch-1");
    let cmds = a.start();
    assert_eq!(
        cmds,
        vec![Cmd::Refresh {
            hosts: vec![
                "batch-1".into(),
                "batch-2".into(),
                "batch-3".into(),
                "batch-4".into()
            ]
        }]
    );
    assert!(a.busy());
}

#[test]
fn moving_in_the_hosts_pane_shows_that_hosts_releases() {
    let mut a = app();
    assert_eq!(a.visible_releases().len(), 6);
    ch(&mut a, 'j');
    assert_eq!(a.host().unwrap().name, "batch-2");
    assert_eq!(a.visible_releases().len(), 4);
    assert_eq!(a.release_sel, 0);
    key(&mut a, KeyCode::Down);
    assert_eq!(a.host().unwrap().name, "batch-3");
    assert!(a.visible_releases().is_empty());
    key(&mut a, KeyCode::Up);
    ch(&mut a, 'k');
    ch(&mut a, 'k'); // clamps at the top
    assert_eq!(a.host_sel, 0);
    ch(&mut a, 'G');
    assert_eq!(a.host_sel, 3);
    ch(&mut a, 'g');
    assert_eq!(a.host_sel, 0);
}

#[test]
fn tab_and_shift_tab_cycle_the_panes() {
    let mut a = app();
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.focus, Pane::Releases);
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.focus, Pane::Details);
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.focus, Pane::Hosts);
    key(&mut a, KeyCode::BackTab);
    assert_eq!(a.focus, Pane::Details);
    // Some terminals send Shift+Tab as Tab with SHIFT.
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::SHIFT)),
    );
    assert_eq!(a.focus, Pane::Releases);
}

#[test]
fn release_moves_j_k_g_g_pgup_pgdn() {
    let mut a = app();
    key(&mut a, KeyCode::Tab);
    ch(&mut a, 'j');
    assert_eq!(a.release_sel, 1);
    ch(&mut a, 'k');
    assert_eq!(a.release_sel, 0);
    ch(&mut a, 'G');
    assert_eq!(a.release_sel, 5);
    ch(&mut a, 'j');
    assert_eq!(a.release_sel, 5, "clamps at the bottom");
    key(&mut a, KeyCode::PageUp);
    assert_eq!(a.release_sel, 0, "a page at 80x24 is more than the list");
    key(&mut a, KeyCode::PageDown);
    assert_eq!(a.release_sel, 5);
    ch(&mut a, 'g');
    assert_eq!(a.release_sel, 0);
    // On a screen so small a page is two rows.
    update(&mut a, Msg::Resize(80, 14));
    key(&mut a, KeyCode::PageDown);
    assert!(a.release_sel > 0 && a.release_sel < 5, "{}", a.release_sel);
}

#[test]
fn key_releases_and_repeats_are_ignored() {
    let mut a = app();
    let mut ev = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    ev.kind = KeyEventKind::Release;
    update(&mut a, Msg::Key(ev));
    assert_eq!(a.host_sel, 0);
}

#[test]
fn switch_dialog_starts_on_cancel_and_runs_only_on_y() {
    let mut a = app();
    select_release(&mut a, R[3]);
    assert!(ch(&mut a, 's').is_empty());
    assert_eq!(dialog_focus(&a), Some(Button::Cancel));
    // The key that opened it does not confirm.
    assert!(ch(&mut a, 's').is_empty());
    assert!(a.overlay.is_some());
    // Enter on Confirm does not confirm either.
    key(&mut a, KeyCode::Tab);
    assert_eq!(dialog_focus(&a), Some(Button::Confirm));
    assert!(key(&mut a, KeyCode::Enter).is_empty());
    assert!(a.overlay.is_some());
    // y does, with what the operator saw live as `expect`.
    let cmds = ch(&mut a, 'y');
    assert_eq!(
        cmds,
        vec![Cmd::Switch {
            host: "batch-1".into(),
            release: R[3].into(),
            expect: Some(R[4].into()),
        }]
    );
    assert!(a.overlay.is_none());
    assert!(a.busy());
}

#[test]
fn enter_on_the_default_button_cancels() {
    let mut a = app();
    select_release(&mut a, R[3]);
    ch(&mut a, 's');
    assert!(key(&mut a, KeyCode::Enter).is_empty());
    assert!(a.overlay.is_none());
    assert!(message(&a).contains("cancelled"));
}

#[test]
fn esc_and_n_cancel_dialogs_and_prompts() {
    let mut a = app();
    ch(&mut a, 'r');
    assert!(matches!(&a.overlay, Some(Overlay::Confirm(_))));
    assert!(key(&mut a, KeyCode::Esc).is_empty());
    assert!(a.overlay.is_none());
    ch(&mut a, 'r');
    assert!(ch(&mut a, 'n').is_empty());
    assert!(a.overlay.is_none());
    ch(&mut a, 'd');
    typed(&mut a, "x y");
    assert!(key(&mut a, KeyCode::Esc).is_empty());
    assert!(a.overlay.is_none());
    assert!(!a.busy());
}

#[test]
fn switching_to_the_live_release_says_so() {
    let mut a = app();
    select_release(&mut a, R[4]);
    ch(&mut a, 's');
    assert!(a.overlay.is_none());
    assert!(message(&a).contains("already live"), "{}", message(&a));
}

#[test]
fn rollback_goes_to_the_previous_release() {
    let mut a = app();
    ch(&mut a, 'r');
    match &a.overlay {
        Some(Overlay::Confirm(d)) => match &d.pending {
            Pending::Rollback {
                from,
                to,
                from_jobs,
                ..
            } => {
                assert_eq!(from, R[4]);
                assert_eq!(to, R[3]);
                assert_eq!(from_jobs.len(), 2);
            }
            p => panic!("{p:?}"),
        },
        o => panic!("{o:?}"),
    }
    assert_eq!(
        ch(&mut a, 'y'),
        vec![Cmd::Rollback {
            host: "batch-1".into(),
            to: Some(R[3].into())
        }]
    );
}

#[test]
fn readonly_refuses_every_mutating_key_and_says_which() {
    let mut a = app();
    a.readonly = true;
    select_release(&mut a, R[3]);
    for (c, name) in [
        ('s', "switch"),
        ('r', "rollback"),
        ('d', "deploy"),
        ('p', "prune"),
        ('P', "pin"),
    ] {
        assert!(ch(&mut a, c).is_empty());
        assert!(a.overlay.is_none(), "{c} opened something");
        assert_eq!(message(&a), format!("read-only: {c} ({name}) is disabled"));
        assert!(a.message.as_ref().unwrap().error);
    }
    // Reading still works.
    assert!(matches!(&ch(&mut a, 'R')[..], [Cmd::Refresh { .. }]));
    ch(&mut a, 'a');
    assert!(matches!(a.overlay, Some(Overlay::Fleet { .. })));
}

#[test]
fn multi_host_actions_need_yes_typed_then_enter() {
    let mut a = app();
    ch(&mut a, 'd');
    typed(&mut a, "build/app.jar");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Right); // group prod: batch-1..3
    key(&mut a, KeyCode::Enter);
    match &a.overlay {
        Some(Overlay::Confirm(d)) => {
            assert_eq!(d.typed.as_deref(), Some(""));
            assert_eq!(d.pending.hosts(), vec!["batch-1", "batch-2", "batch-3"]);
        }
        o => panic!("{o:?}"),
    }
    // y alone is text here, and Enter needs the whole word.
    assert!(ch(&mut a, 'y').is_empty());
    assert!(key(&mut a, KeyCode::Enter).is_empty());
    assert!(a.overlay.is_some(), "'y' + Enter must not run it");
    typed(&mut a, "yess");
    key(&mut a, KeyCode::Backspace);
    let cmds = key(&mut a, KeyCode::Enter);
    assert_eq!(
        cmds,
        vec![Cmd::Deploy {
            paths: vec!["build/app.jar".into()],
            message: String::new(),
            hosts: vec!["batch-1".into(), "batch-2".into(), "batch-3".into()],
            guards: Guards::default(),
        }]
    );
    assert!(a.deploy.is_some());
}

#[test]
fn single_host_deploy_confirms_with_y() {
    let mut a = app();
    ch(&mut a, 'd');
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    match &a.overlay {
        Some(Overlay::Deploy(f)) => assert!(f.error.as_deref().unwrap().contains("path")),
        o => panic!("empty paths must be refused: {o:?}"),
    }
    typed(&mut a, "'my dir/app.jar' lib");
    key(&mut a, KeyCode::Enter);
    typed(&mut a, "hotfix");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    assert!(
        ch(&mut a, 'd').is_empty(),
        "the opening key does not confirm"
    );
    let cmds = ch(&mut a, 'y');
    assert_eq!(
        cmds,
        vec![Cmd::Deploy {
            paths: vec!["my dir/app.jar".into(), "lib".into()],
            message: "hotfix".into(),
            hosts: vec!["batch-1".into()],
            guards: Guards::default(),
        }]
    );
}

#[test]
fn tab_completion_goes_through_the_worker() {
    let mut a = app();
    ch(&mut a, 'd');
    typed(&mut a, "build/app.jar bu");
    assert_eq!(
        key(&mut a, KeyCode::Tab),
        vec![Cmd::Complete { input: "bu".into() }]
    );
    update(
        &mut a,
        Msg::Worker(Event::Completions {
            input: "bu".into(),
            candidates: vec!["build/".into(), "bundle.jar".into()],
        }),
    );
    match &a.overlay {
        Some(Overlay::Deploy(f)) => {
            assert_eq!(f.paths, "build/app.jar bu");
            assert_eq!(f.candidates.len(), 2);
        }
        o => panic!("{o:?}"),
    }
    typed(&mut a, "il");
    key(&mut a, KeyCode::Tab);
    update(
        &mut a,
        Msg::Worker(Event::Completions {
            input: "buil".into(),
            candidates: vec!["build/".into()],
        }),
    );
    match &a.overlay {
        Some(Overlay::Deploy(f)) => assert_eq!(f.paths, "build/app.jar build/"),
        o => panic!("{o:?}"),
    }
}

#[test]
fn pin_prompts_for_a_duration_then_confirms() {
    let mut a = app();
    select_release(&mut a, R[3]);
    ch(&mut a, 'P');
    assert!(matches!(a.overlay, Some(Overlay::Pin(_))));
    key(&mut a, KeyCode::Backspace);
    key(&mut a, KeyCode::Backspace);
    typed(&mut a, "soon");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    match &a.overlay {
        Some(Overlay::Pin(f)) => assert!(f.error.as_deref().unwrap().contains("not a duration")),
        o => panic!("{o:?}"),
    }
    for _ in 0..4 {
        key(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "90m");
    key(&mut a, KeyCode::Enter);
    typed(&mut a, "pipeline 88");
    key(&mut a, KeyCode::Enter);
    assert_eq!(dialog_focus(&a), Some(Button::Cancel));
    assert_eq!(
        ch(&mut a, 'y'),
        vec![Cmd::Pin {
            host: "batch-1".into(),
            release: R[3].into(),
            duration: Duration::from_secs(90 * 60),
            reason: "pipeline 88".into(),
        }]
    );
}

#[test]
fn pinned_release_offers_unpin() {
    let mut a = app();
    select_release(&mut a, R[2]);
    ch(&mut a, 'P');
    assert_eq!(
        ch(&mut a, 'y'),
        vec![Cmd::Unpin {
            host: "batch-1".into(),
            release: R[2].into()
        }]
    );
}

#[test]
fn prune_asks_for_a_plan_then_confirms() {
    let mut a = app();
    let cmds = ch(&mut a, 'p');
    assert_eq!(
        cmds,
        vec![Cmd::PrunePlan {
            host: "batch-1".into(),
            keep: 3
        }]
    );
    assert!(a.overlay.is_none(), "nothing to confirm before the plan");
    let state = fixture::batch1();
    let plan = relman::plan::prune_plan(&state, 3, fixture::now());
    let report = relman::ops::prune::PruneReport::planned("batch-1", plan, true);
    update(
        &mut a,
        Msg::Worker(Event::Plan {
            host: "batch-1".into(),
            at: fixture::now(),
            result: Ok((state, Box::new(report))),
        }),
    );
    assert_eq!(dialog_focus(&a), Some(Button::Cancel));
    assert!(key(&mut a, KeyCode::Enter).is_empty());
    ch(&mut a, 'p');
    ch(&mut a, 'p');
    assert!(a.overlay.is_some() || a.plan_pending.is_some());
}

#[test]
fn prune_confirms_with_y() {
    let mut a = app();
    ch(&mut a, 'p');
    let state = fixture::batch1();
    let plan = relman::plan::prune_plan(&state, 3, fixture::now());
    let report = relman::ops::prune::PruneReport::planned("batch-1", plan, true);
    update(
        &mut a,
        Msg::Worker(Event::Plan {
            host: "batch-1".into(),
            at: fixture::now(),
            result: Ok((state, Box::new(report))),
        }),
    );
    assert_eq!(
        ch(&mut a, 'y'),
        vec![Cmd::Prune {
            host: "batch-1".into(),
            keep: 3
        }]
    );
}

#[test]
fn actions_on_an_unreachable_host_explain_why_not() {
    let mut a = app();
    ch(&mut a, 'j');
    ch(&mut a, 'j');
    assert!(ch(&mut a, 'r').is_empty());
    assert!(a.overlay.is_none());
    assert!(message(&a).contains("unreachable"), "{}", message(&a));
}

#[test]
fn a_host_busy_with_an_operation_refuses_another() {
    let mut a = app();
    ch(&mut a, 'r');
    ch(&mut a, 'y');
    ch(&mut a, 'r');
    assert!(a.overlay.is_none());
    assert!(message(&a).contains("still running"), "{}", message(&a));
    // When it ends, the host is refreshed and free again.
    let cmds = update(
        &mut a,
        Msg::Worker(Event::Done {
            host: "batch-1".into(),
            op: OpKind::Rollback,
            result: Ok("rolled back".into()),
        }),
    );
    assert_eq!(
        cmds,
        vec![Cmd::Refresh {
            hosts: vec!["batch-1".into()]
        }]
    );
    assert!(a.in_flight.is_empty());
}

#[test]
fn quit_asks_only_while_an_operation_is_in_flight() {
    let mut a = app();
    assert_eq!(ch(&mut a, 'q'), vec![Cmd::Quit]);
    ch(&mut a, 'r');
    ch(&mut a, 'y');
    assert!(ch(&mut a, 'q').is_empty());
    assert_eq!(dialog_focus(&a), Some(Button::Cancel));
    assert!(key(&mut a, KeyCode::Enter).is_empty(), "Enter cancels");
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(update(&mut a, Msg::Key(ctrl_c)).is_empty());
    assert_eq!(ch(&mut a, 'y'), vec![Cmd::Quit]);
    // A second Ctrl-C means it.
    let mut b = app();
    b.in_flight = a.in_flight.clone();
    update(&mut b, Msg::Key(ctrl_c));
    assert_eq!(update(&mut b, Msg::Key(ctrl_c)), vec![Cmd::Quit]);
}

#[test]
fn a_failed_scan_keeps_the_last_good_state() {
    let mut a = app();
    let at = fixture::now();
    update(
        &mut a,
        Msg::Worker(Event::Scanned {
            host: "batch-1".into(),
            at,
            result: Err("ssh: connection reset".into()),
        }),
    );
    let h = &a.hosts[0];
    assert!(h.state.is_some());
    assert_eq!(h.error.as_deref(), Some("ssh: connection reset"));
    assert_eq!(a.visible_releases().len(), 6);
}

#[test]
fn a_rescan_keeps_the_selected_release() {
    let mut a = app();
    select_release(&mut a, R[2]);
    let mut s = fixture::batch1();
    s.releases.remove(0); // the newest is pruned meanwhile
    update(
        &mut a,
        Msg::Worker(Event::Scanned {
            host: "batch-1".into(),
            at: fixture::now(),
            result: Ok(s),
        }),
    );
    assert_eq!(selected(&a), R[2]);
}

#[test]
fn filter_narrows_and_esc_clears() {
    let mut a = app();
    a.focus = Pane::Releases;
    ch(&mut a, '/');
    typed(&mut a, "hotfix");
    assert_eq!(a.visible_releases().len(), 1);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.visible_releases().len(), 1, "Enter keeps it");
    ch(&mut a, 'j'); // a command again, not text
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.visible_releases().len(), 6);
}

#[test]
fn the_spinner_turns_only_while_busy() {
    let mut a = app();
    update(&mut a, Msg::Spin);
    assert_eq!(a.spinner, 0);
    a.start();
    update(&mut a, Msg::Spin);
    assert_eq!(a.spinner, 1);
}

#[test]
fn auto_refresh_skips_hosts_already_scanning() {
    let mut a = app();
    a.hosts[1].scanning = true;
    assert_eq!(
        update(&mut a, Msg::AutoRefresh),
        vec![Cmd::Refresh {
            hosts: vec!["batch-1".into(), "batch-3".into(), "batch-4".into()]
        }]
    );
    assert!(update(&mut a, Msg::AutoRefresh).is_empty());
}

#[test]
fn help_and_fleet_open_and_close() {
    let mut a = app();
    ch(&mut a, '?');
    assert!(matches!(a.overlay, Some(Overlay::Help { .. })));
    ch(&mut a, 'j');
    assert!(matches!(a.overlay, Some(Overlay::Help { scroll: 1 })));
    ch(&mut a, 'q');
    assert!(a.overlay.is_none(), "q closes help, it does not quit");
    ch(&mut a, 'a');
    key(&mut a, KeyCode::Esc);
    assert!(a.overlay.is_none());
}

#[test]
fn fleet_view_switches_every_host_that_has_the_release() {
    let mut a = app();
    ch(&mut a, 'a');
    // Rows are newest first: R5, R4, R3, ... j j selects R3.
    ch(&mut a, 'j');
    ch(&mut a, 'j');
    assert!(ch(&mut a, 's').is_empty());
    let Some(Overlay::Confirm(d)) = &a.overlay else {
        panic!("{:?}", a.overlay)
    };
    // batch-1 (on R4) and batch-2 (on R5) have R3; batch-4 runs it already;
    // batch-3 is down.
    assert_eq!(d.pending.hosts(), vec!["batch-1", "batch-2"]);
    assert_eq!(d.focus, Button::Cancel);
    match &d.pending {
        Pending::FleetSwitch { to, skipped, .. } => {
            assert_eq!(to, R[3]);
            let left: Vec<(&str, &str)> = skipped
                .iter()
                .map(|(h, w)| (h.as_str(), w.as_str()))
                .collect();
            assert_eq!(
                left,
                [("batch-3", fixture::DOWN), ("batch-4", "already live")]
            );
        }
        p => panic!("{p:?}"),
    }
    // Two hosts: y is text, only `yes` + Enter runs it.
    assert!(ch(&mut a, 'y').is_empty());
    typed(&mut a, "es");
    let cmds = key(&mut a, KeyCode::Enter);
    assert_eq!(
        cmds,
        vec![
            Cmd::Switch {
                host: "batch-1".into(),
                release: R[3].into(),
                expect: Some(R[4].into()),
            },
            Cmd::Switch {
                host: "batch-2".into(),
                release: R[3].into(),
                expect: Some(R[5].into()),
            },
        ]
    );
    // Each host's switch is in flight on its own.
    assert_eq!(a.in_flight.len(), 2);
    update(
        &mut a,
        Msg::Worker(Event::Done {
            host: "batch-1".into(),
            op: OpKind::Switch,
            result: Ok("switched".into()),
        }),
    );
    assert_eq!(a.in_flight.len(), 1);
    assert_eq!(a.in_flight[0].hosts, ["batch-2"]);
}

#[test]
fn fleet_switch_on_one_host_confirms_with_y_and_says_when_there_is_nothing_to_do() {
    let mut a = app();
    ch(&mut a, 'a');
    // R5: only batch-1 may switch (batch-2 runs it, batch-4 lacks it).
    ch(&mut a, 's');
    let cmds = ch(&mut a, 'y');
    assert_eq!(
        cmds,
        vec![Cmd::Switch {
            host: "batch-1".into(),
            release: R[5].into(),
            expect: Some(R[4].into()),
        }]
    );
    // With batch-1 gone from view, nobody is left to switch to R5.
    let mut a = app();
    a.hosts[0].state = None;
    a.hosts[0].error = Some("timed out".into());
    ch(&mut a, 'a');
    assert!(ch(&mut a, 's').is_empty());
    assert!(
        matches!(a.overlay, Some(Overlay::Fleet { .. })),
        "no dialog"
    );
    let m = message(&a);
    assert!(
        m.contains("no host to switch") && m.contains("batch-2: already live"),
        "{m}"
    );
}

#[test]
fn fleet_switch_is_refused_read_only() {
    let mut a = app();
    a.readonly = true;
    ch(&mut a, 'a');
    assert!(ch(&mut a, 's').is_empty());
    assert!(matches!(a.overlay, Some(Overlay::Fleet { .. })));
    assert!(message(&a).contains("read-only"), "{}", message(&a));
}

#[test]
fn the_fleet_selection_stays_in_sight() {
    let mut a = app();
    update(&mut a, Msg::Resize(80, 8)); // room for 2 rows
    ch(&mut a, 'a');
    for _ in 0..5 {
        ch(&mut a, 'j');
    }
    match a.overlay {
        Some(Overlay::Fleet { scroll, sel }) => {
            assert_eq!(sel, 5, "the last of six rows");
            assert!(
                scroll <= sel && sel < scroll + 2,
                "scroll {scroll}, sel {sel}"
            );
        }
        ref o => panic!("{o:?}"),
    }
    ch(&mut a, 'g');
    assert!(matches!(
        a.overlay,
        Some(Overlay::Fleet { scroll: 0, sel: 0 })
    ));
}
