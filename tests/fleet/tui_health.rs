//! The console's release health against real sshd hosts (issue 15 item 6): a run the
//! launcher records — a job failing on the live release — appears in the releases
//! pane, the hosts pane (the live release fails more than the one before it) and the
//! details pane's recent runs after a refresh, through the worker (`ops::scan`,
//! `ops::runs::runs`) as the console drives it: `update` turns keys and events into
//! commands, the worker answers them. As root and as the non-root deploy user.
//! Also the console's `u` (unlock) and `c` (check) the same way, end to end.

use crate::support;

use std::fs;
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use relman::model::{Action, RunStatus};
use relman::ops::check::Level;
use relman::tui::app::{App, Cmd, DetailsMode, Event, HostView, Msg, Overlay, Pending, update};
use relman::tui::view::view;
use relman::tui::worker;
use serde_json::Value;
use support::Fleet;
use tokio::sync::mpsc;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn deploy(f: &Fleet, build: &str) -> String {
    let app = f.dir().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("app.jar"), build).unwrap();
    let o = f
        .relman()
        .args(["--all", "deploy", "--json"])
        .arg(&app)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        code(&o),
        0,
        "deploy: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["release"].as_str().unwrap().to_string()
}

/// A job through host 0's launcher, as the fleet's deploy user; its exit code.
fn job(f: &Fleet, script: &str) -> i32 {
    let o = f
        .launcher_as(0, f.host_user(0))
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    code(&o)
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| view(app, f)).expect("draw");
    term.backend().to_string()
}

/// Sends `cmds` to the worker and feeds its events to `update` (sending what that
/// asks for in turn) until `done` holds.
async fn pump(
    app: &mut App,
    tx: &mpsc::UnboundedSender<Cmd>,
    rx: &mut mpsc::UnboundedReceiver<Event>,
    cmds: Vec<Cmd>,
    done: impl Fn(&App) -> bool,
) {
    for c in cmds {
        tx.send(c).expect("the worker is alive");
    }
    while !done(app) {
        let ev = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the worker answers")
            .expect("the worker is alive");
        for c in update(app, Msg::Worker(ev)) {
            tx.send(c).expect("the worker is alive");
        }
    }
}

fn key(app: &mut App, c: char) -> Vec<Cmd> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    update(
        app,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    )
}

for_users!(a_failing_run_appears_in_the_panes_after_a_refresh: root, deploy);
fn a_failing_run_appears_in_the_panes_after_a_refresh(user: &str) {
    let f = Fleet::start_as(1, user);
    let one = deploy(&f, "one");
    assert_eq!(job(&f, "exit 0"), 0);
    assert_eq!(job(&f, "true"), 0);
    let two = deploy(&f, "two");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (etx, mut rx) = mpsc::unbounded_channel();
        let tx = worker::spawn(f.config(), etx);
        let mut app = App::new("fleet", vec![HostView::new("h1", &[])], SystemTime::now());
        update(&mut app, Msg::Resize(100, 48));
        let cmds = app.start();
        pump(&mut app, &tx, &mut rx, cmds, |a| {
            a.hosts[0].state.is_some() && !a.hosts[0].scanning
        })
        .await;
        // The releases pane: the newest (live, no runs yet) selected, the older with its 2.
        let cmds = key(&mut app, '\t');
        assert!(cmds.is_empty(), "{cmds:?}");
        assert_eq!(app.selected_release().unwrap().name.as_str(), two);
        let s = screen(&app, 100, 48);
        let row = |s: &str, name: &str| {
            s.lines()
                .find(|l| l.contains(&format!(" {name} ")) && l.contains("ago"))
                .unwrap_or_default()
                .to_string()
        };
        assert!(row(&s, &one).contains("2 ok"), "{s}");
        assert!(!s.contains("failing since"), "{s}");

        // A job fails on the live release; the operator refreshes.
        assert_eq!(job(&f, "echo import; exit 3"), 3);
        let cmds = key(&mut app, 'R');
        pump(&mut app, &tx, &mut rx, cmds, |a| {
            a.runs
                .as_ref()
                .and_then(|v| v.result.as_ref())
                .is_some_and(|r| r.is_ok())
        })
        .await;
        update(&mut app, Msg::Tick(SystemTime::now()));
        let runs = app.runs.as_ref().unwrap();
        assert_eq!(runs.release, two);
        let got = runs.result.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].status, RunStatus::Failed);
        assert_eq!(got[0].exit_code, Some(3));

        let s = screen(&app, 100, 48);
        assert!(row(&s, &two).contains("1 failed"), "releases pane: {s}");
        assert!(row(&s, &one).contains("2 ok"), "{s}");
        assert!(
            s.contains("✗ failing since"),
            "the hosts pane makes the host stand out: {s}"
        );
        assert!(s.contains("runs     1: 1 failed"), "details: {s}");
        assert!(s.contains("failing since it went live, 1 of 1 run"), "{s}");
        let run_line = s
            .lines()
            .find(|l| l.contains("echo import; exit 3"))
            .unwrap_or_else(|| panic!("the run in the details pane: {s}"));
        assert!(
            run_line.contains("failed") && run_line.contains("  3  "),
            "{run_line}"
        );
        assert!(run_line.contains("ago"), "{run_line}");
        drop(tx);
    });
}

for_users!(u_breaks_the_lock_it_showed_and_c_checks_the_host: root, deploy);
fn u_breaks_the_lock_it_showed_and_c_checks_the_host(user: &str) {
    let f = Fleet::start_as(1, user);
    deploy(&f, "one");
    let (cfg, h) = (f.config(), f.host_config(0));
    let t = relman::remote::open(&cfg, &h).expect("connects");
    // A holder relman lost track of (one this test holds and forgets about).
    let held = relman::ops::lock::acquire(t.as_ref(), &h, Action::Deploy).expect("locks");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (etx, mut rx) = mpsc::unbounded_channel();
        let tx = worker::spawn(f.config(), etx);
        let mut app = App::new("fleet", vec![HostView::new("h1", &[])], SystemTime::now());
        update(&mut app, Msg::Resize(100, 48));
        let cmds = app.start();
        pump(&mut app, &tx, &mut rx, cmds, |a| {
            a.hosts[0].state.is_some() && !a.hosts[0].scanning
        })
        .await;
        assert!(app.hosts[0].state.as_ref().unwrap().lock.is_some());

        let cmds = key(&mut app, 'u');
        assert_eq!(cmds, vec![Cmd::LockQuery { host: "h1".into() }]);
        pump(&mut app, &tx, &mut rx, cmds, |a| a.overlay.is_some()).await;
        let shown = match &app.overlay {
            Some(Overlay::Confirm(d)) => match &d.pending {
                Pending::Unlock { lock, .. } => lock.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(shown.action, "deploy");
        assert!(screen(&app, 100, 48).contains(&shown.by));
        let cmds = key(&mut app, 'y');
        pump(&mut app, &tx, &mut rx, cmds, |a| {
            a.in_flight.is_empty() && !a.hosts[0].scanning
        })
        .await;
        let said = app
            .message
            .as_ref()
            .map(|m| m.text.clone())
            .unwrap_or_default();
        assert_eq!(
            said,
            format!("h1: broke the lock of {} (deploy)", shown.by),
            "{:?}",
            app.overlay
        );
        assert_eq!(app.hosts[0].state.as_ref().unwrap().lock, None);
        let history = fs::read_to_string(f.root(0).join(".relman/history.jsonl")).unwrap();
        assert!(
            history
                .lines()
                .last()
                .unwrap()
                .contains("\"action\":\"unlock\""),
            "{history}"
        );
        drop(held);

        // c: the host's check in the details pane, the CLI's rows.
        let cmds = key(&mut app, 'c');
        assert_eq!(cmds, vec![Cmd::Check { host: "h1".into() }]);
        pump(&mut app, &tx, &mut rx, cmds, |a| {
            a.check.as_ref().is_some_and(|c| c.rows.is_some())
        })
        .await;
        assert_eq!(app.details_mode, DetailsMode::Check);
        let rows = app.check.as_ref().unwrap().rows.clone().unwrap();
        assert!(rows.iter().all(|r| r.level != Level::Fail), "{rows:?}");
        let s = screen(&app, 100, 48);
        assert!(s.contains("check — h1"), "{s}");
        assert!(s.contains("OK    tools: "), "{s}");
        assert!(s.contains("OK    connect, host key, auth"), "{s}");
        assert!(s.contains("mv -T"), "{s}");
        drop(tx);
    });
}
