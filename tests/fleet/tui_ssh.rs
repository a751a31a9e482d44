//! The console's worker over real SSH (the sshd test fleet): every host scanned in
//! parallel, a host that goes down reports its error while the other keeps working,
//! and its connection is reopened once it is back.

use crate::support;

use std::time::Duration;

use relman::tui::app::{Cmd, Event, OpKind};
use relman::tui::worker;
use support::Fleet;
use tokio::sync::mpsc;

async fn scans(
    rx: &mut mpsc::UnboundedReceiver<Event>,
    n: usize,
) -> Vec<(String, Result<relman::model::HostState, String>)> {
    let mut out = Vec::new();
    while out.len() < n {
        let ev = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the worker answers")
            .expect("the worker is alive");
        match ev {
            Event::Scanned { host, result, .. } => out.push((host, result)),
            other => panic!("{other:?}"),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_down_host_errors_while_the_other_works_and_reconnects_later() {
    let mut fleet = Fleet::start(2);
    fleet.sh(
        0,
        "mkdir -p \"$ROOT/batch_20261126093000\" \"$ROOT/batch_20261126221500\" \
         && touch \"$ROOT/batch_20261126093000/app.jar\" \"$ROOT/batch_20261126221500/app.jar\" \
         && ln -s batch_20261126093000 \"$ROOT/batch\"",
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cmds = worker::spawn(fleet.config(), tx);
    let both = || Cmd::Refresh {
        hosts: vec!["h1".into(), "h2".into()],
    };

    cmds.send(both()).unwrap();
    let got = scans(&mut rx, 2).await;
    let h1 = got[0].1.as_ref().expect("h1 scans");
    assert_eq!(h1.releases.len(), 2);
    assert!(got[1].1.is_ok(), "{:?}", got[1].1);

    fleet.stop(1);
    cmds.send(both()).unwrap();
    let got = scans(&mut rx, 2).await;
    assert!(got[0].1.is_ok(), "h1 keeps working: {:?}", got[0].1);
    let e = got[1].1.as_ref().expect_err("h2 is down");
    assert!(!e.is_empty());

    // An operation on the live host runs while the other is down.
    cmds.send(Cmd::Switch {
        host: "h1".into(),
        release: "batch_20261126221500".into(),
        expect: Some("batch_20261126093000".into()),
    })
    .unwrap();
    match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
        Ok(Some(Event::Done { host, op, result })) => {
            assert_eq!((host.as_str(), op), ("h1", OpKind::Switch));
            result.expect("switched");
        }
        other => panic!("{other:?}"),
    }

    fleet.restart(1);
    cmds.send(Cmd::Refresh {
        hosts: vec!["h2".into()],
    })
    .unwrap();
    let got = scans(&mut rx, 1).await;
    assert!(got[0].1.is_ok(), "h2 reconnected: {:?}", got[0].1);
}
