//! Issue 14 §4 in the console: `/` starts a new filter, the status line clears when
//! a dialog opens, the details get the rows the releases don't need, the 80×24 footer
//! keeps the keys that matter, the mouse selects and scrolls, and the demo's
//! temporary root goes when the terminal is closed (SIGHUP) or on SIGTERM.

use std::path::Path;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use relman::tui::app::{App, Cmd, Msg, Overlay, Pane, update};
use relman::tui::view::view;

use crate::support;
use crate::support::screen::{key, text};
use support::fixture;
use support::tmux::Tmux;

fn lines(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| view(app, f)).expect("draw");
    let buf = term.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
        .collect()
}

fn sized(w: u16, h: u16) -> App {
    let mut app = fixture::app();
    update(&mut app, Msg::Resize(w, h));
    app
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn mouse(app: &mut App, kind: MouseEventKind, column: u16, row: u16) -> Vec<Cmd> {
    update(
        app,
        Msg::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

fn message(app: &App) -> Option<String> {
    app.message.as_ref().map(|m| m.text.clone())
}

#[test]
fn slash_starts_a_new_filter() {
    let mut app = sized(80, 24);
    typed(&mut app, "/4812");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filter, "4812");
    assert_eq!(app.visible_releases().len(), 1);
    // A second `/` starts over: typing 4813 filters by 4813, not by 48124813.
    typed(&mut app, "/4813");
    assert_eq!(app.filter, "4813");
    assert_eq!(app.visible_releases().len(), 1);
    assert!(
        app.visible_releases()[0]
            .manifest()
            .unwrap()
            .message
            .contains("4813")
    );
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn the_status_line_clears_when_a_dialog_opens() {
    let mut app = sized(80, 24);
    key(&mut app, KeyCode::Char('R'));
    assert_eq!(message(&app).as_deref(), Some("refreshing every host"));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('s'));
    assert!(matches!(app.overlay, Some(Overlay::Confirm(_))));
    assert_eq!(message(&app), None, "the old status under a new dialog");
    let screen = text(&app, 80, 24);
    assert!(!screen.contains("refreshing every host"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn details_get_the_rows_the_releases_do_not_need_at_100x30() {
    let app = sized(100, 30);
    let l = lines(&app, 100, 30);
    let top = l.iter().position(|r| r.starts_with("┌ releases")).unwrap();
    let bottom = top + l[top..].iter().position(|r| r.starts_with("└")).unwrap();
    let empty = l[top + 1..bottom]
        .iter()
        .filter(|r| r.trim_matches(|c| c == '│' || c == ' ').is_empty())
        .count();
    assert_eq!(empty, 0, "empty release rows:\n{}", l.join("\n"));
    let dtop = l.iter().position(|r| r.starts_with("┌ details")).unwrap();
    let dbottom = dtop + l[dtop..].iter().position(|r| r.starts_with("└")).unwrap();
    let inner = dbottom - dtop - 1;
    assert!(
        inner >= 9,
        "details rows: {inner} (6 before)\n{}",
        l.join("\n")
    );
    insta::assert_snapshot!(text(&app, 100, 30));
}

#[test]
fn the_80x24_footer_keeps_the_keys_that_matter() {
    let mut app = sized(80, 24);
    let footer = |app: &App| lines(app, 80, 24)[23].clone();
    let f = footer(&app);
    for k in [
        "r rollback",
        "d deploy",
        "p prune",
        "/ filter",
        "? help",
        "q quit",
    ] {
        assert!(f.contains(k), "{k} missing on the hosts pane: {f}");
    }
    key(&mut app, KeyCode::Tab);
    let f = footer(&app);
    for k in [
        "s switch",
        "r rollback",
        "d deploy",
        "p prune",
        "? help",
        "q quit",
    ] {
        assert!(f.contains(k), "{k} missing on the releases pane: {f}");
    }
    insta::assert_snapshot!(text(&app, 80, 24));
}

#[test]
fn a_click_selects_and_the_wheel_scrolls() {
    let mut app = sized(80, 24);
    let l = lines(&app, 80, 24);
    let at = |l: &[String], s: &str| l.iter().position(|r| r.contains(s)).unwrap() as u16;
    // Click batch-3's row in the hosts pane.
    mouse(
        &mut app,
        MouseEventKind::Down(MouseButton::Left),
        5,
        at(&l, "batch-3"),
    );
    assert_eq!((app.focus, app.host_sel), (Pane::Hosts, 2));
    // Back to batch-1, then click its fourth release.
    let l = lines(&app, 80, 24);
    mouse(
        &mut app,
        MouseEventKind::Down(MouseButton::Left),
        5,
        at(&l, "batch-1 "),
    );
    assert_eq!(app.host_sel, 0);
    let l = lines(&app, 80, 24);
    mouse(
        &mut app,
        MouseEventKind::Down(MouseButton::Left),
        10,
        at(&l, "batch_20261124221500"),
    );
    assert_eq!(app.focus, Pane::Releases);
    assert_eq!(
        app.selected_release().unwrap().name.as_str(),
        "batch_20261124221500"
    );
    // The wheel over the releases moves the selection; over the details, scrolls them.
    let y = at(&l, "batch_20261124221500");
    mouse(&mut app, MouseEventKind::ScrollDown, 10, y);
    assert_eq!(app.release_sel, 4);
    mouse(&mut app, MouseEventKind::ScrollUp, 10, y);
    mouse(&mut app, MouseEventKind::ScrollUp, 10, y);
    assert_eq!(app.release_sel, 2);
    let dy = at(&l, "┌ details") + 2;
    mouse(&mut app, MouseEventKind::ScrollDown, 10, dy);
    assert_eq!((app.focus, app.details_scroll), (Pane::Details, 3));
    // A click outside every pane (the footer) changes nothing.
    let before = (app.focus, app.host_sel, app.release_sel);
    mouse(&mut app, MouseEventKind::Down(MouseButton::Left), 10, 23);
    assert_eq!((app.focus, app.host_sel, app.release_sel), before);
    insta::assert_snapshot!(text(&app, 80, 24));
}

/// The demo roots under `tmp` (`relman-demo-*`).
fn demo_roots(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("relman-demo-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Processes working in, or naming, a demo root under `tmp` (the demo's jobs through
/// the launcher and its lock holder), but not the console itself (its `TMPDIR`).
fn demo_processes(tmp: &Path) -> Vec<u32> {
    let needle = tmp.join("relman-demo-").to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cwd = std::fs::read_link(e.path().join("cwd")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle)
            || cwd.to_string_lossy().contains(&needle)
        {
            out.push(pid);
        }
    }
    out
}

fn demo_in_tmux(tmp: &Path, name: &str) -> Tmux {
    let script = format!(
        "exec env TMPDIR='{}' HOME='{}' NO_COLOR=1 '{}' --demo",
        tmp.display(),
        tmp.display(),
        env!("CARGO_BIN_EXE_relman")
    );
    let socket = format!("relman-lang-{name}-{}", std::process::id());
    let tmux = Tmux::start(socket, 100, 30, &script, &[]);
    tmux.wait_for("releases — batch-1 (6)", Duration::from_secs(60));
    assert_eq!(demo_roots(tmp).len(), 1, "the demo root is made");
    assert!(
        demo_processes(tmp).len() >= 4,
        "the demo's jobs and lock holder run: {:?}",
        demo_processes(tmp)
    );
    tmux
}

#[test]
fn the_demo_root_goes_when_the_terminal_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = demo_in_tmux(dir.path(), "hup");
    // Closing the terminal: the console gets SIGHUP and a terminal that is gone.
    let _ = tmux.cmd().arg("kill-server").status();
    assert!(
        support::wait_until(Duration::from_secs(30), || demo_roots(dir.path())
            .is_empty()),
        "left behind: {:?}",
        demo_roots(dir.path())
    );
    assert!(
        support::wait_until(Duration::from_secs(30), || demo_processes(dir.path())
            .is_empty()),
        "processes left behind: {:?}",
        demo_processes(dir.path())
    );
}

#[test]
fn the_demo_root_goes_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = demo_in_tmux(dir.path(), "term");
    let out = tmux
        .cmd()
        .args(["display-message", "-p", "-t", "t", "#{pane_pid}"])
        .output()
        .unwrap();
    let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // SAFETY: a plain kill(2) of the console this test started (exec'd as the pane).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(
        support::wait_until(Duration::from_secs(30), || demo_roots(dir.path())
            .is_empty()),
        "left behind: {:?}",
        demo_roots(dir.path())
    );
    assert!(
        support::wait_until(Duration::from_secs(30), || demo_processes(dir.path())
            .is_empty()),
        "processes left behind: {:?}",
        demo_processes(dir.path())
    );
}

/// kill -9 leaves relman no chance to clean up: its temporary directory stays (in
/// TMPDIR), but the demo's jobs and lock holder end by themselves (their input from
/// relman ends), so no process is left running.
#[test]
fn the_demo_jobs_end_when_relman_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = demo_in_tmux(dir.path(), "kill");
    let out = tmux
        .cmd()
        .args(["display-message", "-p", "-t", "t", "#{pane_pid}"])
        .output()
        .unwrap();
    let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // SAFETY: a plain kill(2) of the console this test started (exec'd as the pane).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    assert!(
        support::wait_until(Duration::from_secs(30), || demo_processes(dir.path())
            .is_empty()),
        "processes left behind: {:?}",
        demo_processes(dir.path())
    );
}

#[test]
fn a_lock_without_holder_reads_as_such_in_the_console() {
    let mut app = sized(100, 30);
    let l = app.hosts[1].state.as_mut().unwrap().lock.as_mut().unwrap();
    l.by = "?".into();
    l.action = "?".into();
    let screen = text(&app, 100, 30);
    let row = screen.lines().find(|r| r.contains("batch-2")).unwrap();
    assert!(row.contains("holder unknown"), "{row}");
    assert!(!row.contains("?:"), "{row}");
}
