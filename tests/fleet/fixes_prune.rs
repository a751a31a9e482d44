//! Issue 12, prune, against real sshd hosts whose deploy user is not root
//! (`support::DEPLOY`), with files and jobs of a second user (`support::JOBS`) and
//! root-owned obstacles:
//! - `keep` counts the protected releases (item 9): keep 3 leaves exactly 3;
//! - a prune that cannot empty `.relman/trash` says what it left and why, and `list` /
//!   `check` show the trash (item 6);
//! - a release that cannot be moved out of the root says why, in one line;
//! - the console's prune dialog shows the host's dry-run answer, as `prune --dry-run`.

use crate::support;

use std::process::Output;
use std::time::{Duration, SystemTime};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use relman::config::HostConfig;
use relman::ops;
use relman::remote::Transport;
use relman::tui::app::{Cmd, Event, Msg, update};
use relman::tui::{TuiOptions, new_app, worker};
use serde_json::Value;
use support::{DEPLOY, Fleet, JOBS, Kill, command_as, root_entries, wait_until};
use tokio::sync::mpsc;

fn r(i: u32) -> String {
    format!("batch_2026112611{i:04}")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Host 0 (deploy user [`DEPLOY`]) with releases r(1)..=r(n), each switched to in
/// turn: live r(n), previous r(n-1).
fn layout(f: &Fleet, n: u32) -> (HostConfig, Box<dyn Transport>) {
    support::switched_layout(f, &(1..=n).map(r).collect::<Vec<_>>())
}

fn relman(f: &Fleet, args: &[&str]) -> Output {
    f.relman().args(args).output().unwrap()
}

/// The release rows of `prune`'s table: (name, text after the name).
fn rows(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(' ')?;
            name.starts_with("batch_")
                .then(|| (name.to_string(), rest.trim().to_string()))
        })
        .collect()
}

fn releases_in(f: &Fleet) -> Vec<String> {
    root_entries(f.root(0))
        .into_iter()
        .filter(|e| e.starts_with("batch_"))
        .collect()
}

fn last_history_note(f: &Fleet) -> String {
    let text = std::fs::read_to_string(f.root(0).join(".relman/history.jsonl")).unwrap();
    let v: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    v["note"].as_str().unwrap_or_default().to_string()
}

/// Item 9, SPEC §4's example: keep 3, live and previous the two newest, no jobs or
/// pins: exactly 3 releases stay (before: 5, the oldest "among newest 3").
#[test]
fn keep_three_leaves_exactly_three_releases() {
    let f = Fleet::start_as(1, DEPLOY);
    let (_h, _t) = layout(&f, 6);
    let o = relman(&f, &["--host", "h1", "prune", "--keep", "3"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        rows(&out(&o)),
        [
            (r(6), "keep: live".to_string()),
            (r(5), "keep: previous (rollback target)".into()),
            (r(4), "keep: among newest 3".into()),
            (r(3), "delete: old → deleted".into()),
            (r(2), "delete: old → deleted".into()),
            (r(1), "delete: old → deleted".into()),
        ],
        "{}",
        out(&o)
    );
    assert_eq!(releases_in(&f), [r(4), r(5), r(6)]);
    // What was freed, from the scan's sizes (each release holds a 21-byte app.jar
    // and two directories: more than 0 bytes).
    assert!(out(&o).contains(", freed "), "{}", out(&o));
    let v: Value = serde_json::from_slice(
        &relman(&f, &["--host", "h1", "prune", "--keep", "3", "--json"]).stdout,
    )
    .unwrap();
    assert_eq!(v["hosts"][0]["deleted"], serde_json::json!([]));
    assert_eq!(v["hosts"][0]["freed_bytes"], 0);
}

/// Item 6: an old release holds a directory of another user (0755, with two files),
/// so the deploy user's rm cannot empty it after the rename. The report says the
/// release left the root but two files stay in .relman/trash, and why; the prune
/// fails; `list`, `list --json` and `check` show the trash until it is removed.
#[test]
fn files_of_another_user_left_in_the_trash_are_reported_and_listed() {
    let f = Fleet::start_as(1, DEPLOY);
    let (_h, _t) = layout(&f, 3);
    f.sh_as(
        0,
        "root",
        &format!(
            "mkdir \"$ROOT/{0}/data\" && echo a > \"$ROOT/{0}/data/a\" && \
             echo b > \"$ROOT/{0}/data/b\" && chown -R {JOBS}: \"$ROOT/{0}/data\" && \
             chmod 0755 \"$ROOT/{0}/data\"",
            r(1)
        ),
    );
    let o = relman(&f, &["--host", "h1", "prune", "--keep", "1"]);
    let text = out(&o);
    assert_eq!(
        code(&o),
        1,
        "space not freed is a failure: {text}{}",
        err(&o)
    );
    let row = rows(&text)
        .into_iter()
        .find(|(n, _)| *n == r(1))
        .expect("r1's row");
    assert_eq!(
        row.1,
        "delete: old → trashed: moved out of the root, 2 files left in .relman/trash: \
         permission denied",
        "{text}"
    );
    assert!(text.contains("deleted 0 releases"), "{text}");
    assert!(
        text.contains(&format!(
            "NOT FREED: {} moved out of the root, 2 files left in .relman/trash: \
             permission denied",
            r(1)
        )),
        "{text}"
    );
    assert!(!text.contains("→ deleted"), "{text}");
    // Out of the root (never listed or switched to again), its files in the trash.
    assert_eq!(releases_in(&f), [r(2), r(3)]);
    let trashed = f.root(0).join(".relman/trash").join(r(1));
    assert!(trashed.join("data/a").exists() && trashed.join("data/b").exists());
    assert!(
        last_history_note(&f).contains("moved out of the root, 2 file(s) left"),
        "{}",
        last_history_note(&f)
    );

    let o = relman(&f, &["list"]);
    assert!(
        out(&o).contains("trash: 1 pruned release not removed, 2 files"),
        "{}",
        out(&o)
    );
    let v: Value = serde_json::from_slice(&relman(&f, &["list", "--json"]).stdout).unwrap();
    let t = &v["hosts"][0]["trash"];
    assert_eq!(
        (t["entries"].as_u64(), t["files"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert!(t["bytes"].as_u64().is_some_and(|b| b > 0), "{v}");
    let o = relman(&f, &["check"]);
    let line = out(&o)
        .lines()
        .find(|l| l.contains("trash"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("check shows the trash: {}", out(&o)));
    assert!(
        line.trim_start().starts_with("WARN") && line.contains("2 file(s) left"),
        "{line}"
    );

    // The files' owner (or root) removes them: the trash is gone from list and check.
    f.sh_as(
        0,
        "root",
        &format!("rm -rf \"$ROOT/.relman/trash/{}\"", r(1)),
    );
    let v: Value = serde_json::from_slice(&relman(&f, &["list", "--json"]).stdout).unwrap();
    assert_eq!(v["hosts"][0]["trash"], Value::Null);
    assert!(!out(&relman(&f, &["list"])).contains("trash:"));
    assert!(!out(&relman(&f, &["check"])).contains("trash"));
}

/// The message: a root-owned release (the rename needs write access to the release
/// directory itself) is not "rm -rf left files behind" but why it could not be
/// moved, and nothing of it is removed.
#[test]
fn a_root_owned_release_says_why_it_cannot_be_moved() {
    let f = Fleet::start_as(1, DEPLOY);
    let (_h, _t) = layout(&f, 3);
    f.sh_as(0, "root", &format!("chown root: \"$ROOT/{}\"", r(1)));
    let o = relman(&f, &["--host", "h1", "prune", "--keep", "1"]);
    let text = out(&o);
    assert_eq!(code(&o), 1, "{text}{}", err(&o));
    let row = rows(&text)
        .into_iter()
        .find(|(n, _)| *n == r(1))
        .expect("r1's row");
    assert_eq!(
        row.1,
        format!(
            "delete: old → failed: cannot move {} out of the root: permission denied \
             (the release directory is not writable by {DEPLOY})",
            r(1)
        ),
        "{text}"
    );
    assert!(!text.contains("rm -rf"), "{text}");
    assert_eq!(releases_in(&f), [r(1), r(2), r(3)]);
    assert!(
        f.root(0).join(r(1)).join("app.jar").exists(),
        "nothing removed"
    );
    assert!(!f.root(0).join(".relman/trash").join(r(1)).exists());
}

/// The message: a 0555 root (not writable by the deploy user): the one line says so.
#[test]
fn a_read_only_root_says_the_root_is_not_writable() {
    let f = Fleet::start_as(1, DEPLOY);
    let (_h, _t) = layout(&f, 3);
    f.sh_as(0, "root", "chmod 0555 \"$ROOT\"");
    let o = relman(&f, &["--host", "h1", "prune", "--keep", "1", "--json"]);
    f.sh_as(0, "root", "chmod 0755 \"$ROOT\"");
    assert_eq!(code(&o), 1, "{}{}", out(&o), err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rel = v["hosts"][0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == r(1))
        .unwrap()
        .clone();
    assert_eq!(rel["result"], "failed", "{v}");
    assert_eq!(
        rel["result_reason"],
        format!(
            "cannot move {} out of the root: permission denied \
             (the root is not writable by {DEPLOY})",
            r(1)
        ),
        "{v}"
    );
    assert_eq!(v["hosts"][0]["deleted"], serde_json::json!([]));
    assert_eq!(releases_in(&f), [r(1), r(2), r(3)]);
}

/// The dialog's release rows: (name, "keep" | "delete" | "gone").
fn dialog_rows(screen: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for line in screen.lines() {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '│' || c == '"')
            .filter(|w| !w.is_empty())
            .collect();
        for w in words.windows(2) {
            if ["keep", "delete", "gone"].contains(&w[0]) && w[1].starts_with("batch_") {
                v.push((w[1].to_string(), w[0].to_string()));
            }
        }
    }
    v
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the worker answers within a minute")
        .expect("the worker is alive")
}

/// One plan: a job of another user started through `launch` in an old release,
/// then out of it (invisible to the /proc scan, holding the launcher's lock). The
/// CLI's dry run keeps that release ("in use by a launched job"); the console's
/// dialog, opened with `p`, shows the same verdict for every release (before: the
/// dialog showed the plan alone and said "delete").
#[tokio::test(flavor = "multi_thread")]
async fn the_console_prune_dialog_shows_the_hosts_dry_run_verdicts() {
    let f = Fleet::start_as(1, DEPLOY);
    let (mut h, t) = layout(&f, 4);
    // Jobs run as the deploy user or through `launch` (the fleet's TOML says so too:
    // `job_users = []`), so JOBS's hidden processes don't keep everything and the
    // plan alone would delete the release the launched job holds.
    h.job_scan.users = Some(Vec::new());
    let launch = f.root(0).join(".relman/bin/launch");
    assert!(launch.exists(), "the switches installed the launcher");
    let job = Kill(
        command_as(JOBS, "sh")
            .arg(&launch)
            .args([
                "--release",
                &r(1),
                "--",
                "sh",
                "-c",
                "cd / && exec sleep 300",
            ])
            .spawn()
            .unwrap(),
    );
    let pid = job.0.id();
    assert!(
        wait_until(Duration::from_secs(20), || {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|p| p == *"/")
                && ops::prune::prune(t.as_ref(), &h, 1, true).is_ok_and(|rep| {
                    matches!(rep.outcome(&r(1)), Some(ops::prune::Outcome::Kept(_)))
                })
        }),
        "the launched job holds {} and the host's check sees it",
        r(1)
    );

    // The CLI's dry run: each release's verdict after the host's check.
    let o = relman(
        &f,
        &[
            "--host",
            "h1",
            "prune",
            "--keep",
            "1",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cli: Vec<(String, String)> = v["hosts"][0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let verdict = match x["result"].as_str() {
                Some("kept") => "keep",
                Some("gone") => "gone",
                _ => x["verdict"].as_str().unwrap(),
            };
            (x["name"].as_str().unwrap().to_string(), verdict.to_string())
        })
        .collect();
    let r1 = v["hosts"][0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == r(1))
        .unwrap()
        .clone();
    assert_eq!(r1["result_reason"], "in use by a launched job", "{v}");
    assert!(cli.contains(&(r(1), "keep".into())), "{cli:?}");
    assert!(cli.contains(&(r(2), "delete".into())), "{cli:?}");

    // The console: the worker over SSH, the app fed its events, `p` pressed.
    let mut cfg = f.config();
    cfg.hosts[0].job_scan.users = Some(Vec::new());
    let mut app = new_app(&cfg, TuiOptions::default(), SystemTime::now());
    update(&mut app, Msg::Resize(120, 40));
    app.keep = 1;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::Refresh {
        hosts: vec!["h1".into()],
    })
    .unwrap();
    let ev = next_event(&mut rx).await;
    assert!(matches!(ev, Event::Scanned { .. }), "{ev:?}");
    update(&mut app, Msg::Worker(ev));
    let asked = update(
        &mut app,
        Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('p'),
            crossterm::event::KeyModifiers::NONE,
        )),
    );
    assert_eq!(
        asked,
        [Cmd::PrunePlan {
            host: "h1".into(),
            keep: 1
        }]
    );
    assert!(
        app.overlay.is_none(),
        "loading: no dialog before the host answers"
    );
    assert_eq!(app.plan_pending.as_deref(), Some("h1"));
    for c in asked {
        cmds.send(c).unwrap();
    }
    let ev = loop {
        match next_event(&mut rx).await {
            ev @ Event::Plan { .. } => break ev,
            other => update(&mut app, Msg::Worker(other)),
        };
    };
    update(&mut app, Msg::Worker(ev));
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|fr| relman::tui::view::view(&app, fr)).unwrap();
    let screen = term.backend().to_string();
    let console = dialog_rows(&screen);
    assert_eq!(
        console, cli,
        "the console and the CLI show the same plan:\n{screen}"
    );
    let line = screen
        .lines()
        .find(|l| l.contains(&r(1)) && l.contains("keep"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(line.contains("in use by a launched job"), "{line}");
    drop(job);
}
