//! The console's worker against real deploy roots (the demo's, through the `local`
//! transport) and a host that is down: scans, switches, conflicts, errors per host.

use std::time::Duration;

use relman::config::{Address, Config};
use relman::tui::Demo;
use relman::tui::app::{Cmd, Event, Guards, OpKind};
use relman::tui::worker;
use tokio::sync::mpsc;

use crate::support;

async fn next(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the worker answers within a minute")
        .expect("the worker is alive")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// What the console gets from `relman --demo`'s own config: three hosts, drift (each
/// on its own release), batch-3's lock held, and batch-2 live on the failing release,
/// whose real runs fail more than those of the release live before it.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_sees_the_demo_fleet() {
    use relman::tui::demo::{FAILING, HOSTS};
    let demo = Demo::build().expect("demo");
    let names = demo.releases().to_vec();
    let cfg = demo.config();
    assert_eq!(cfg.hosts.len(), 3);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::Refresh {
        hosts: HOSTS.iter().map(|h| h.to_string()).collect(),
    })
    .unwrap();
    let mut states = std::collections::BTreeMap::new();
    while states.len() < HOSTS.len() {
        match next(&mut rx).await {
            Event::Scanned { host, result, .. } => {
                states.insert(host.clone(), result.expect("every demo host scans"));
            }
            other => panic!("{other:?}"),
        }
    }
    let live: Vec<String> = HOSTS
        .iter()
        .map(|h| {
            states[*h]
                .current()
                .map(|c| c.to_string())
                .unwrap_or_default()
        })
        .collect();
    let want = [&names[4], &names[FAILING], &names[3]];
    assert_eq!(live.iter().collect::<Vec<_>>(), want, "drift");
    assert!(states["batch-1"].lock.is_none());
    let lock = states["batch-3"].lock.as_ref().expect("batch-3 is locked");
    assert_eq!(lock.by, "alice@ops-laptop");
    let failing = &states["batch-2"].release(&names[FAILING]).unwrap().health;
    let before = &states["batch-2"].release(&names[4]).unwrap().health;
    assert!(failing.failures() > failing.ok, "{failing:?}");
    assert_eq!(before.failures(), 0, "{before:?}");
    assert!(failing.last_failure.is_some(), "{failing:?}");
    for h in HOSTS {
        let running: u32 = states[h].releases.iter().map(|r| r.health.running).sum();
        assert_eq!(running, 1, "{h}: one job runs through the launcher");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scans_the_demo_and_reports_a_down_host_alongside() {
    let demo = Demo::build().expect("demo");
    let mut cfg = Config::local_demo(demo.root());
    let mut down = cfg.hosts[0].clone();
    down.name = "down".into();
    down.address = Address::Ssh {
        host: "127.0.0.1".into(),
    };
    down.port = closed_port();
    cfg.hosts.push(down);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::Refresh {
        hosts: vec!["demo".into(), "down".into()],
    })
    .unwrap();
    let mut seen = 0;
    while seen < 2 {
        match next(&mut rx).await {
            Event::Scanned { host, result, .. } if host == "demo" => {
                let s = result.expect("the demo scans");
                let names = demo.releases();
                assert_eq!(s.releases.len(), 6);
                assert_eq!(s.current().map(|c| c.to_string()), Some(names[4].clone()));
                let with_job = s.release(&names[1]).expect("release");
                assert!(
                    with_job.jobs.iter().any(|j| j.pid == demo.job_pid()),
                    "{:?}",
                    with_job.jobs
                );
                assert_eq!(s.release(&names[2]).unwrap().pins.len(), 1);
                assert!(relman::plan::bad_releases(&s.history).contains(&names[5]));
                seen += 1;
            }
            Event::Scanned { host, result, .. } if host == "down" => {
                let e = result.expect_err("nothing listens there");
                assert!(!e.is_empty());
                seen += 1;
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn switch_with_expect_and_a_conflict() {
    let demo = Demo::build().expect("demo");
    let names = demo.releases().to_vec();
    let cfg = Config::local_demo(demo.root());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::Switch {
        host: "demo".into(),
        release: names[3].clone(),
        expect: Some(names[4].clone()),
    })
    .unwrap();
    match next(&mut rx).await {
        Event::Done { host, op, result } => {
            assert_eq!((host.as_str(), op), ("demo", OpKind::Switch));
            let summary = result.expect("switched");
            assert!(summary.contains(&names[3]), "{summary}");
        }
        other => panic!("{other:?}"),
    }
    let link = std::fs::read_link(demo.root().join("batch")).unwrap();
    assert_eq!(link.to_string_lossy(), names[3]);
    // The operator saw names[4] live, but it is names[3] now: refused, code 5.
    cmds.send(Cmd::Switch {
        host: "demo".into(),
        release: names[2].clone(),
        expect: Some(names[4].clone()),
    })
    .unwrap();
    match next(&mut rx).await {
        Event::Done { result, .. } => {
            let f = result.expect_err("a conflict");
            assert!(f.is_conflict(), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    let link = std::fs::read_link(demo.root().join("batch")).unwrap();
    assert_eq!(link.to_string_lossy(), names[3], "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_plan_comes_from_a_fresh_scan() {
    let demo = Demo::build().expect("demo");
    let names = demo.releases().to_vec();
    let cfg = Config::local_demo(demo.root());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::PrunePlan {
        host: "demo".into(),
        keep: 1,
    })
    .unwrap();
    match next(&mut rx).await {
        Event::Plan { result, .. } => {
            let (state, report) = result.expect("a plan");
            assert_eq!(state.releases.len(), 6);
            let deleted: Vec<String> = report
                .plan
                .deletions()
                .map(|(n, _)| n.to_string())
                .collect();
            assert!(
                deleted.contains(&names[5]),
                "the bad release goes: {deleted:?}"
            );
            assert!(!deleted.contains(&names[1]), "the job's release stays");
            assert!(!deleted.contains(&names[2]), "the pinned release stays");
        }
        other => panic!("{other:?}"),
    }
}

async fn done(rx: &mut mpsc::UnboundedReceiver<Event>, want: OpKind) -> Result<String, String> {
    match next(rx).await {
        Event::Done { op, result, .. } => {
            assert_eq!(op, want);
            result.map_err(|f| f.message)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_unpin_and_prune_change_the_demo() {
    let demo = Demo::build().expect("demo");
    let names = demo.releases().to_vec();
    let root = demo.root();
    let cfg = Config::local_demo(root.clone());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);

    cmds.send(Cmd::Pin {
        host: "demo".into(),
        release: names[0].clone(),
        duration: Duration::from_secs(3600),
        reason: "tui test".into(),
    })
    .unwrap();
    let s = done(&mut rx, OpKind::Pin).await.expect("pinned");
    assert!(s.contains(&names[0]), "{s}");

    cmds.send(Cmd::Unpin {
        host: "demo".into(),
        release: names[0].clone(),
    })
    .unwrap();
    let s = done(&mut rx, OpKind::Unpin).await.expect("unpinned");
    assert!(s.contains("removed 1 pin"), "{s}");

    cmds.send(Cmd::Prune {
        host: "demo".into(),
        keep: 0,
    })
    .unwrap();
    let s = done(&mut rx, OpKind::Prune).await.expect("pruned");
    assert!(s.starts_with("pruned: deleted"), "{s}");
    assert!(!root.join(&names[5]).exists(), "the bad release is gone");
    assert!(
        !root.join(&names[0]).exists(),
        "the old, unpinned release is gone"
    );
    for kept in [1, 2, 3, 4] {
        assert!(root.join(&names[kept]).exists(), "{} kept", names[kept]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_reports_progress_and_switches() {
    let demo = Demo::build().expect("demo");
    let root = demo.root();
    let build = tempfile::tempdir().unwrap();
    std::fs::write(build.path().join("app.jar"), vec![7u8; 300_000]).unwrap();
    std::fs::create_dir(build.path().join("lib")).unwrap();
    std::fs::write(build.path().join("lib/dep.jar"), b"dep").unwrap();
    let cfg = Config::local_demo(root.clone());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::Deploy {
        paths: vec![build.path().join("app.jar"), build.path().join("lib")],
        message: "from the console test".into(),
        hosts: vec!["demo".into()],
        guards: Guards::default(),
    })
    .unwrap();
    let (mut named, mut progress, mut host_result) = (None, 0, None);
    loop {
        match next(&mut rx).await {
            Event::DeployStarted { files, .. } => assert_eq!(files, 2),
            Event::DeployNamed { release } => named = Some(release),
            Event::Progress { host, .. } => {
                assert_eq!(host, "demo");
                progress += 1;
            }
            Event::DeployHost { host, result } => {
                assert_eq!(host, "demo");
                host_result = Some(result);
            }
            Event::DeployDone { alert } => {
                assert_eq!(alert, None);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let named = named.expect("a release name");
    assert!(progress > 0);
    let summary = host_result.expect("a result").expect("deployed");
    assert!(summary.contains(&named), "{summary}");
    let link = std::fs::read_link(root.join("batch")).unwrap();
    assert_eq!(link.to_string_lossy(), named);
    // A directory contributes its contents, a file lands at the top.
    assert_eq!(
        std::fs::read(root.join(&named).join("dep.jar")).unwrap(),
        b"dep"
    );
    assert!(root.join(&named).join("app.jar").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_of_a_missing_path_sends_nothing_and_says_why() {
    let demo = Demo::build().expect("demo");
    let before = std::fs::read_link(demo.root().join("batch")).unwrap();
    let cfg = Config::local_demo(demo.root());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::Deploy {
        paths: vec!["/no/such/build/app.jar".into()],
        message: String::new(),
        hosts: vec!["demo".into()],
        guards: Guards::default(),
    })
    .unwrap();
    loop {
        match next(&mut rx).await {
            Event::DeployHost { result, .. } => {
                assert!(result.expect_err("refused").contains("nothing was sent"));
            }
            Event::DeployDone { alert } => {
                assert!(alert.expect("an alert").contains("/no/such/build/app.jar"));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        std::fs::read_link(demo.root().join("batch")).unwrap(),
        before
    );
}

/// The console runs `[hooks]` as the CLI does: after a switch and a rollback, with the
/// same environment and the JSON on stdin, its output kept off the terminal; a hook
/// that fails says so in a `HookFailed` event and the switch's result stands.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_runs_the_hooks_and_a_failing_one_changes_nothing() {
    let demo = Demo::build().expect("demo");
    let names = demo.releases().to_vec();
    let out = tempfile::tempdir().unwrap();
    let log = out.path().join("hook.log");
    let mut cfg = Config::local_demo(demo.root());
    cfg.hooks.after_switch = Some(format!(
        "{{ echo \"$RELMAN_ACTION|$RELMAN_HOSTS|$RELMAN_FROM|$RELMAN_TO|$RELMAN_EXIT\"; cat; }} >>'{}'; echo noise",
        log.display()
    ));
    cfg.hooks.after_rollback = Some("echo noise >&2; exit 3".into());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::Switch {
        host: "demo".into(),
        release: names[3].clone(),
        expect: Some(names[4].clone()),
    })
    .unwrap();
    match next(&mut rx).await {
        Event::Done { op, result, .. } => {
            assert_eq!(op, OpKind::Switch);
            result.expect("switched");
        }
        other => panic!("{other:?}"),
    }
    let want = format!("switch|demo|{}|{}|0", names[4], names[3]);
    assert!(
        support::wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 2)
        }),
        "the hook never ran"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(want.as_str()), "{text}");
    let json: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(json["hosts"][0]["name"], "demo", "{json}");

    cmds.send(Cmd::Rollback {
        host: "demo".into(),
        to: None,
    })
    .unwrap();
    let (mut done, mut failed) = (None, None);
    while done.is_none() || failed.is_none() {
        match next(&mut rx).await {
            Event::Done { op, result, .. } => done = Some((op, result)),
            Event::HookFailed { line } => failed = Some(line),
            other => panic!("{other:?}"),
        }
    }
    let (op, result) = done.unwrap();
    assert_eq!(op, OpKind::Rollback);
    result.expect("the rollback stands");
    assert_eq!(
        failed.unwrap(),
        "relman: hook after_rollback failed (exit 3); the rollback result stands"
    );
}

/// A console deploy runs `after_deploy` with the deploy's hosts, releases and JSON.
#[tokio::test(flavor = "multi_thread")]
async fn a_console_deploy_runs_after_deploy() {
    let demo = Demo::build().expect("demo");
    let build = tempfile::tempdir().unwrap();
    std::fs::write(build.path().join("app.jar"), b"jar").unwrap();
    let log = build.path().join("hook.log");
    let mut cfg = Config::local_demo(demo.root());
    cfg.hooks.after_deploy = Some(format!(
        "{{ echo \"$RELMAN_ACTION|$RELMAN_HOSTS|$RELMAN_TO|$RELMAN_EXIT\"; cat; }} >>'{}'",
        log.display()
    ));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(cfg, tx);
    cmds.send(Cmd::Deploy {
        paths: vec![build.path().join("app.jar")],
        message: "hooked".into(),
        hosts: vec!["demo".into()],
        guards: Guards::default(),
    })
    .unwrap();
    let mut named = None;
    loop {
        match next(&mut rx).await {
            Event::DeployNamed { release } => named = Some(release),
            Event::DeployDone { .. } => break,
            _ => {}
        }
    }
    let named = named.expect("a release name");
    assert!(
        support::wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 2)
        }),
        "after_deploy never ran"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(format!("deploy|demo|{named}|0").as_str())
    );
    let json: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(json["release"], named.as_str(), "{json}");
}
