//! Moving the link: `switch` (to a named release, optionally only if the link still
//! points where the operator saw it) and `rollback` (to the release live before).
//! Both end in `scripts/switch.sh`: checks repeated on the host under the lock, then
//! a temporary symlink renamed over the link, then one history line.

use serde::Serialize;

use super::launcher::with_launcher;
use super::lock::{HostLock, acquire};
use super::scan::{root_script, scan};
use super::{OpError, now_rfc3339, operator};
use crate::config::HostConfig;
use crate::model::{Action, ReleaseName, printable};
use crate::plan;
use crate::remote::script::SWITCH;
use crate::remote::{Transport, run};

/// What a switch or rollback did on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkChange {
    pub host: String,
    /// The release live before (None: no link, or not at a release).
    pub from: Option<String>,
    pub to: String,
    /// False when the link already pointed at `to` (nothing written).
    pub changed: bool,
    /// Said to the operator alongside (e.g. "was marked bad; switching clears the mark").
    pub note: Option<String>,
}

/// Validates a release name from the operator before anything is sent.
pub fn release_arg(host: &HostConfig, s: &str) -> Result<ReleaseName, OpError> {
    ReleaseName::parse(&host.prefix, s).map_err(|e| {
        OpError::Conflict(format!("{}: not a release of this host: {e}", printable(s)))
    })
}

/// Expectation about the link before a switch.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    Anything,
    /// The link must point at this release (`None`: at no release).
    Release(Option<&'a str>),
}

/// Switches the link under a held lock. Used by switch, rollback and deploy.
pub fn switch_locked(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    target: &ReleaseName,
    expect: Expect<'_>,
    action: Action,
    note: Option<&str>,
) -> Result<LinkChange, OpError> {
    let (expect_set, expect_name) = match expect {
        Expect::Anything => ("0", String::new()),
        Expect::Release(e) => ("1", e.unwrap_or("").to_string()),
    };
    let head = format!(
        "{{\"at\":{},\"by\":{},\"action\":{},\"from\":",
        serde_json::to_string(&now_rfc3339()).expect("string"),
        serde_json::to_string(&operator()).expect("string"),
        serde_json::to_string(action.as_str()).expect("string"),
    );
    let tail = format!(
        ",\"to\":{},\"note\":{}}}",
        serde_json::to_string(target.as_str()).expect("string"),
        serde_json::to_string(&note).expect("option"),
    );
    let script = with_launcher(root_script(SWITCH, host), host)?
        .param("TOKEN", lock.token.clone())
        .param("TARGET", target.as_str())
        .param("EXPECT", expect_name)
        .param("EXPECT_SET", expect_set)
        .param("HIST_HEAD", head)
        .param("HIST_TAIL", tail);
    let out = run(t, &script)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = stdout.trim_end().split('\t').collect();
    match (out.status, fields.as_slice()) {
        (Some(0), ["SWITCHED", from, to]) if *to == target.as_str() => Ok(LinkChange {
            host: host.name.clone(),
            from: (*from != "-").then(|| from.to_string()),
            to: to.to_string(),
            changed: true,
            note: None,
        }),
        (Some(0), ["SAME", to]) if *to == target.as_str() => Ok(LinkChange {
            host: host.name.clone(),
            from: Some(to.to_string()),
            to: to.to_string(),
            changed: false,
            note: Some("already live; nothing changed".into()),
        }),
        (Some(5), _) => Err(OpError::Conflict(out.stderr_line())),
        (Some(4), _) => Err(OpError::Failed(out.stderr_line())),
        _ => Err(OpError::Failed(format!(
            "switch failed (exit {}): {}",
            out.status.map_or("signal".into(), |s| s.to_string()),
            out.stderr_line()
        ))),
    }
}

/// `relman switch RELEASE [--expect CURRENT]` on one host.
pub fn switch(
    t: &dyn Transport,
    host: &HostConfig,
    release: &str,
    expect: Option<&str>,
) -> Result<LinkChange, OpError> {
    let target = release_arg(host, release)?;
    if let Some(e) = expect {
        release_arg(host, e)?;
    }
    let lock = acquire(t, host, Action::Switch)?;
    let expect = expect.map_or(Expect::Anything, |e| Expect::Release(Some(e)));
    switch_locked(t, host, &lock, &target, expect, Action::Switch, None)
}

/// `relman rollback [--to RELEASE]` on one host: back to the release live before the
/// current one (from history), which becomes bad; `--to` names the target instead.
pub fn rollback(
    t: &dyn Transport,
    host: &HostConfig,
    to: Option<&str>,
) -> Result<LinkChange, OpError> {
    if let Some(to) = to {
        release_arg(host, to)?;
    }
    let lock = acquire(t, host, Action::Rollback)?;
    let state = scan(t, host)?;
    let (target, note) = match to {
        Some(to) => {
            let e = plan::explicit_rollback(&state, to)
                .map_err(|e| OpError::Conflict(e.to_string()))?;
            let note = e.bad.then(|| {
                format!(
                    "{} was marked bad; rolling back to it clears the mark",
                    e.name
                )
            });
            (e.name, note)
        }
        None => (
            plan::rollback_target(&state)
                .map_err(|e| OpError::Conflict(format!("nothing to roll back to: {e}")))?,
            None,
        ),
    };
    let current = state.current().map(|c| c.as_str().to_string());
    let mut change = switch_locked(
        t,
        host,
        &lock,
        &target,
        Expect::Release(current.as_deref()),
        Action::Rollback,
        note.as_deref(),
    )?;
    change.note = note.or(change.note);
    Ok(change)
}
