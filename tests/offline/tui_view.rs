//! Snapshots of the console (ratatui `TestBackend` text, reviewed and committed):
//! the main view with every marker, each confirmation dialog, help, read-only, a host
//! error, deploy progress, the fleet matrix, at 80×24 and at a larger size. Colours are
//! not in the text, so key cells' styles are asserted separately.

use crate::support;
use crate::support::screen::{ch, key, render, text};
use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use relman::ops::prune::{Outcome, PruneReport, Skip};
use relman::plan;
use relman::tui::app::{App, Cmd, Event, Failure, Msg, OpKind, update};
use relman::tui::theme::Theme;
use support::fixture;

fn sized(w: u16, h: u16) -> App {
    let mut app = fixture::app();
    update(&mut app, Msg::Resize(w, h));
    app
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        ch(app, c);
    }
}

/// Focus the releases pane and select row `i` (0 = newest).
fn select_release(app: &mut App, i: usize) {
    key(app, KeyCode::Tab);
    ch(app, 'g');
    for _ in 0..i {
        ch(app, 'j');
    }
}

/// The text of row `y`, trimmed.
fn row(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect::<String>()
}

fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buf.area.height {
        let r = row(buf, y);
        if let Some(i) = r.find(needle) {
            let x = r[..i].chars().count() as u16;
            return Some((x, y));
        }
    }
    None
}

#[test]
fn main_view_80x24() {
    let app = sized(80, 24);
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn main_view_160x48() {
    let mut app = sized(160, 48);
    select_release(&mut app, 1);
    insta::assert_snapshot!(text(&app, 160, 48));
}

#[test]
fn switch_dialog_states_host_from_to_and_jobs() {
    let mut app = sized(80, 24);
    select_release(&mut app, 4); // the hand-made release with one job
    assert!(ch(&mut app, 's').is_empty());
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn switch_dialog_warns_about_a_bad_target() {
    let mut app = sized(100, 30);
    select_release(&mut app, 0);
    ch(&mut app, 's');
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn rollback_dialog() {
    let mut app = sized(80, 24);
    ch(&mut app, 'r');
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn prune_dialog_shows_the_plan_with_reasons() {
    let mut app = sized(100, 30);
    let cmds = ch(&mut app, 'p');
    assert_eq!(
        cmds,
        vec![Cmd::PrunePlan {
            host: "batch-1".into(),
            keep: 3
        }]
    );
    let state = fixture::batch1();
    let plan = plan::prune_plan(&state, 3, fixture::now());
    // The host's dry run agrees with every deletion.
    let mut report = PruneReport::planned("batch-1", plan, true);
    report.outcomes = report
        .plan
        .deletions()
        .map(|(n, _)| (n.to_string(), Outcome::WouldDelete))
        .collect();
    update(
        &mut app,
        Msg::Worker(Event::Plan {
            host: "batch-1".into(),
            at: fixture::now(),
            result: Ok((state, Box::new(report))),
        }),
    );
    insta::assert_snapshot!(text(&app, 100, 30));
}

/// The dialog shows the host's dry-run verdicts, as `prune --dry-run` prints them: an
/// old release another user's launched job holds is "keep", not "delete".
#[test]
fn prune_dialog_shows_what_the_hosts_check_keeps() {
    let mut app = sized(100, 30);
    ch(&mut app, 'p');
    let state = fixture::batch1();
    let plan = plan::prune_plan(&state, 3, fixture::now());
    let mut report = PruneReport::planned("batch-1", plan, true);
    let deletions: Vec<String> = report
        .plan
        .deletions()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(
        deletions.len(),
        2,
        "the bad one and an old one: {deletions:?}"
    );
    report.outcomes = vec![
        (deletions[0].clone(), Outcome::WouldDelete),
        (deletions[1].clone(), Outcome::Kept(Skip::Launched)),
    ];
    update(
        &mut app,
        Msg::Worker(Event::Plan {
            host: "batch-1".into(),
            at: fixture::now(),
            result: Ok((state, Box::new(report))),
        }),
    );
    let s = text(&app, 100, 30);
    assert!(s.contains("delete 1, keep 5"), "{s}");
    let kept = s
        .lines()
        .find(|l| l.contains(&deletions[1]))
        .expect("the launched job's release is listed");
    assert!(
        kept.contains("keep")
            && kept.contains("in use by a launched job")
            && !kept.contains("delete"),
        "{kept}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn pin_prompt_and_dialog() {
    let mut app = sized(80, 24);
    select_release(&mut app, 2); // previous, not pinned
    ch(&mut app, 'P');
    insta::assert_snapshot!("pin_prompt", text(&app, 80, 24));
    key(&mut app, KeyCode::Enter); // keep 2h, go to reason
    typed(&mut app, "pipeline 88");
    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("pin_dialog", text(&app, 80, 24));
}

#[test]
fn unpin_dialog() {
    let mut app = sized(80, 24);
    select_release(&mut app, 3); // pinned
    ch(&mut app, 'P');
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn deploy_prompt_and_single_host_dialog() {
    let mut app = sized(80, 24);
    ch(&mut app, 'd');
    typed(&mut app, "build/app.jar build/lib");
    key(&mut app, KeyCode::Enter);
    typed(&mut app, "nightly 4814");
    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("deploy_prompt", text(&app, 80, 24));
    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("deploy_dialog_one_host", text(&app, 80, 24));
}

#[test]
fn multi_host_deploy_asks_for_typed_yes() {
    let mut app = sized(100, 30);
    ch(&mut app, 'd');
    typed(&mut app, "build/app.jar");
    key(&mut app, KeyCode::Enter);
    typed(&mut app, "nightly 4814");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Right); // group prod
    key(&mut app, KeyCode::Enter);
    typed(&mut app, "ye");
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn help_lists_every_key() {
    let mut app = sized(100, 60);
    ch(&mut app, '?');
    insta::assert_snapshot!("help_100x60", text(&app, 100, 60));
    let mut small = sized(80, 24);
    ch(&mut small, '?');
    insta::assert_snapshot!("help_80x24", text(&small, 80, 24));
}

#[test]
fn readonly_header_and_refusal() {
    let mut app = sized(80, 24);
    app.readonly = true;
    select_release(&mut app, 2);
    assert!(ch(&mut app, 's').is_empty());
    assert!(app.overlay.is_none());
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn unreachable_host_shows_its_error_and_others_stay() {
    let mut app = sized(80, 24);
    ch(&mut app, 'j');
    ch(&mut app, 'j');
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn progress_during_deploy() {
    let mut app = sized(100, 30);
    ch(&mut app, 'd');
    typed(&mut app, "build/app.jar");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Left); // all hosts (cycles backwards from this host)
    key(&mut app, KeyCode::Enter);
    typed(&mut app, "yes");
    let cmds = key(&mut app, KeyCode::Enter);
    assert!(matches!(&cmds[..], [Cmd::Deploy { hosts, .. }] if hosts.len() == 4));
    let mib = 1024 * 1024;
    update(
        &mut app,
        Msg::Worker(Event::DeployStarted {
            files: 52,
            bytes: 64 * mib,
        }),
    );
    update(
        &mut app,
        Msg::Worker(Event::DeployNamed {
            release: "batch_20261126221500".into(),
        }),
    );
    for (host, sent) in [
        ("batch-1", 40 * mib),
        ("batch-2", 64 * mib),
        ("batch-4", 8 * mib),
    ] {
        update(
            &mut app,
            Msg::Worker(Event::Progress {
                host: host.into(),
                sent,
                total: 64 * mib,
                phase: "uploading".into(),
            }),
        );
    }
    update(
        &mut app,
        Msg::Worker(Event::DeployHost {
            host: "batch-3".into(),
            result: Err(fixture::DOWN.into()),
        }),
    );
    update(&mut app, Msg::Spin);
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn fleet_matrix() {
    let mut app = sized(80, 24);
    ch(&mut app, 'a');
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn fleet_switch_dialog_lists_each_host_and_who_is_left_alone() {
    let mut app = sized(100, 30);
    ch(&mut app, 'a');
    ch(&mut app, 'j');
    ch(&mut app, 'j');
    ch(&mut app, 's');
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn history_of_the_host() {
    let mut app = sized(100, 30);
    ch(&mut app, 'h');
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn filter_narrows_the_releases() {
    let mut app = sized(80, 24);
    ch(&mut app, '/');
    typed(&mut app, "4812");
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn failed_switch_conflict_is_shown_and_refreshes() {
    let mut app = sized(80, 24);
    select_release(&mut app, 2);
    ch(&mut app, 's');
    let cmds = ch(&mut app, 'y');
    assert_eq!(cmds.len(), 1);
    let cmds = update(
        &mut app,
        Msg::Worker(Event::Done {
            host: "batch-1".into(),
            op: OpKind::Switch,
            result: Err(Failure {
                message: "batch-1: the link points at batch_20261126213500, not batch_20261126190300 as expected".into(),
                kind: relman::ops::FailureKind::Conflict,
            }),
        }),
    );
    assert_eq!(
        cmds,
        vec![Cmd::Refresh {
            hosts: vec!["batch-1".into()]
        }]
    );
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn hostile_strings_cannot_garble_the_screen() {
    let mut app = sized(80, 24);
    let s = app.hosts[0].state.as_mut().unwrap();
    if let relman::model::Origin::Relman(m) = &mut s.releases[0].origin {
        m.message = "evil\x1b[2J\x1b]0;pwned\x07\nsecond line\r".into();
    }
    app.hosts[2].error = Some("boom\x1b[31m\nred".into());
    let buf = render(&app, 80, 24);
    for c in buf.content() {
        assert!(
            !c.symbol().chars().any(char::is_control),
            "control char in {:?}",
            c.symbol()
        );
    }
    assert!(find(&buf, "evil?[2J").is_some());
}

#[test]
fn markers_and_badge_have_colour_and_keep_modifiers_without() {
    let mut app = sized(80, 24);
    app.readonly = true;
    let buf = render(&app, 80, 24);
    let (x, y) = find(&buf, "●").expect("live marker");
    assert_eq!(buf[(x, y)].fg, Color::Green);
    let (x, y) = find(&buf, "✗").expect("bad marker");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = find(&buf, "READ-ONLY").expect("badge");
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));

    app.theme = Theme { color: false };
    let buf = render(&app, 80, 24);
    for c in buf.content() {
        assert!(matches!(c.fg, Color::Reset), "{c:?}");
        assert!(matches!(c.bg, Color::Reset), "{c:?}");
    }
    let (x, y) = find(&buf, "READ-ONLY").expect("badge");
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    let (x, y) = find(&buf, "●").expect("live marker");
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
}

#[test]
fn tiny_and_odd_sizes_render_without_panicking() {
    for (w, h) in [(1, 1), (20, 5), (40, 10), (80, 3), (200, 8), (79, 23)] {
        let mut app = sized(w, h);
        let _ = render(&app, w, h);
        for c in ['a', '?', 'r', 'h'] {
            ch(&mut app, c);
            let _ = render(&app, w, h);
            key(&mut app, KeyCode::Esc);
        }
    }
}

#[test]
fn deploy_that_diverged_says_how_to_fix_it() {
    let mut app = sized(100, 30);
    ch(&mut app, 'd');
    typed(&mut app, "build/app.jar");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Enter);
    typed(&mut app, "yes");
    key(&mut app, KeyCode::Enter);
    for (host, result) in [
        ("batch-1", Ok("batch_20261126221500 live (was batch_20261126190300)".to_string())),
        ("batch-2", Err("published but not switched (still on batch_20261126213500): locked by carol@laptop (deploy, 1m 15s ago)".to_string())),
        ("batch-3", Ok("batch_20261126221500 live (was batch_20261126190300)".to_string())),
    ] {
        update(&mut app, Msg::Worker(Event::DeployHost { host: host.into(), result }));
    }
    update(
        &mut app,
        Msg::Worker(Event::DeployDone {
            alert: Some("HOSTS DIVERGED: batch_20261126221500 is live on batch-1, batch-3 but NOT on batch-2. To go back everywhere: relman rollback --host batch-1 --host batch-3; to finish the deploy: relman switch batch_20261126221500 --host batch-2".into()),
        }),
    );
    assert!(app.in_flight.is_empty());
    insta::assert_snapshot!(text(&app, 100, 30));
}
