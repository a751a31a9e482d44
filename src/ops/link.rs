//! Moving the link: `switch` (to a named release, optionally only if the link still
//! points where the operator saw it) and `rollback` (to the release live before).
//! Both scan under the lock, check the target (`plan::check_target`: it exists, the
//! deploy user can read it, it is not empty), then end in `scripts/switch.sh`:
//! checks repeated on the host under the lock (with the files the target's manifest
//! lists), then a temporary symlink renamed over the link, then one history line.
//!
//! On more than one host ([`fleet_link`]) every host is locked (the leader first),
//! scanned and checked before any link moves: a fleet is never left split because
//! one host could not take the change (SPEC §3).

use super::OpError;
use super::fleet::{self, Held, HostResult, lock_fleet, par_map};
use super::history::{HistoryLine, HostField};
use super::launcher::with_launcher;
use super::lock::HostLock;
use super::scan::{lock_and_scan, root_script, scan_light};
use crate::config::{Config, HostConfig};
use crate::model::{Action, HostState, ProbationSpec, ReleaseName, printable};
use crate::plan::{self, Checked, TargetError};
use crate::remote::script::SWITCH;
use crate::remote::{Transport, run};

/// What a switch or rollback did on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkChange {
    pub host: String,
    /// The release live before (None: no link, or not at a release).
    pub from: Option<String>,
    pub to: String,
    /// False when the link already pointed at `to` (nothing written).
    pub changed: bool,
    /// Said to the operator alongside (`present::summary` has the words).
    pub note: Option<LinkNote>,
    /// What the operator should know about the target.
    pub warning: Option<LinkWarning>,
    /// The probation this change set on the target (SPEC §7), if any.
    pub probation: Option<ProbationSpec>,
}

/// What goes with a switch or rollback that did what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkNote {
    /// The link already named the target: nothing was written.
    AlreadyLive,
    /// The link already named the target; only a probation was set on it.
    AlreadyLiveProbationSet,
    /// A rollback went to a release marked bad (named with `--to`): the mark is cleared.
    ClearedBadMark,
}

/// What the operator should know about the target of a switch or rollback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkWarning {
    /// The target is marked bad on this host (a rollback left it); `action` clears it.
    MarkedBad { release: String, action: Action },
    /// A probation was asked for but none was set: no release was live before
    /// `release` to go back to (a first deploy, or the one before it is gone).
    NoProbation { release: String },
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

/// What `switch.sh` checks besides the target and the link.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// Skip the usability checks (`--force`).
    pub force: bool,
    /// `(path, size)` the target's manifest lists: each must be there, that size.
    pub files: Vec<(String, u64)>,
    /// Check everything on the host, change nothing (a fleet's preflight).
    pub check_only: bool,
    /// Set this probation on the target (`None`: end any probation).
    pub probation: Option<ProbationSpec>,
}

/// [`switch_locked`] that also sets a probation on `target` (`None`: like
/// `switch_locked`, ending any probation). When the link already names `target`,
/// only the probation is set (switch.sh writes `.relman/probation`, see probation.sh).
#[allow(clippy::too_many_arguments)]
pub fn switch_locked_on_probation(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    target: &ReleaseName,
    expect: Expect<'_>,
    action: Action,
    note: Option<&str>,
    probation: Option<&ProbationSpec>,
) -> Result<LinkChange, OpError> {
    let checks = Checks {
        probation: probation.copied(),
        ..Checks::default()
    };
    switch_checked(t, host, lock, target, expect, action, note, &checks)
}

/// The note of a probation's history line: "10m, more than 0 failures rolls back".
pub fn probation_note(p: &ProbationSpec) -> String {
    format!(
        "{}, more than {} {} rolls back",
        humantime::format_duration(std::time::Duration::from_secs(p.duration.as_secs())),
        p.max_failures,
        if p.max_failures == 1 {
            "failure"
        } else {
            "failures"
        }
    )
}

/// Switches the link under a held lock, ending any probation. Used by switch,
/// rollback and deploy.
pub fn switch_locked(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    target: &ReleaseName,
    expect: Expect<'_>,
    action: Action,
    note: Option<&str>,
) -> Result<LinkChange, OpError> {
    switch_locked_on_probation(t, host, lock, target, expect, action, note, None)
}

fn switch_script(
    host: &HostConfig,
    lock: &HostLock,
    target: &ReleaseName,
    expect: Expect<'_>,
    action: Action,
    note: Option<&str>,
    checks: &Checks,
) -> Result<crate::remote::script::Script, OpError> {
    let (expect_set, expect_name) = match expect {
        Expect::Anything => ("0", String::new()),
        Expect::Release(e) => ("1", e.unwrap_or("").to_string()),
    };
    let hist = HistoryLine::new(action)
        .to(Some(target.as_str()))
        .note(note)
        .on_host(HostField::From);
    // Manifest paths are clean (no control characters: no tab, no newline).
    let files: String = checks
        .files
        .iter()
        .map(|(p, size)| format!("{size}\t{p}\n"))
        .collect();
    let script = with_launcher(root_script(SWITCH, host), host)?;
    let script = match &checks.probation {
        None => script,
        Some(p) => {
            // Whole seconds, at least one (a probation of 0 s would guard nothing).
            let secs = p.duration.as_secs().max(1);
            let phist = HistoryLine::new(Action::Probation)
                .to(Some(target.as_str()))
                .note(Some(&probation_note(p)));
            script
                .param("PROBATION", secs.to_string())
                .param("PROBATION_MAX", p.max_failures.to_string())
                .param("PHIST", phist.to_json())
        }
    };
    Ok(hist
        .param(script)
        .param("TOKEN", lock.token.clone())
        .param("TARGET", target.as_str())
        .param("EXPECT", expect_name)
        .param("EXPECT_SET", expect_set)
        .param("FORCE", if checks.force { "1" } else { "0" })
        .param("FILES", files.trim_end_matches('\n'))
        .param("CHECK_ONLY", if checks.check_only { "1" } else { "0" }))
}

/// [`switch_locked`] with the target checks of `checks` (with `check_only`, `Ok`
/// has `changed` false).
#[allow(clippy::too_many_arguments)]
fn switch_checked(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    target: &ReleaseName,
    expect: Expect<'_>,
    action: Action,
    note: Option<&str>,
    checks: &Checks,
) -> Result<LinkChange, OpError> {
    let check_only = checks.check_only;
    let script = switch_script(host, lock, target, expect, action, note, checks)?;
    let out = run(t, &script)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.trim_end().split('\n');
    let fields: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    // With a probation asked for, the second line says whether one was set.
    let said: Vec<&str> = lines
        .next()
        .map(|l| l.split('\t').collect())
        .unwrap_or_default();
    let asked = checks.probation.is_some() && !check_only;
    let probation_ok = matches!(
        (asked, said.as_slice()),
        (false, []) | (true, ["PROBATION", "none"]) | (true, ["PROBATION", "set", _, _, _, _])
    );
    if out.status == Some(0) && (!probation_ok || lines.next().is_some()) {
        return Err(super::script_error("switch", &out));
    }
    let unset = (asked && said.get(1) == Some(&"none")).then(|| LinkWarning::NoProbation {
        release: target.to_string(),
    });
    let set = (asked && said.get(1) == Some(&"set"))
        .then_some(checks.probation)
        .flatten();
    let change = |from: Option<String>, changed, note: Option<LinkNote>| LinkChange {
        host: host.name.clone(),
        from,
        to: target.to_string(),
        changed,
        note,
        warning: unset.clone(),
        probation: set,
    };
    match (out.status, fields.as_slice()) {
        (Some(0), ["OK", cur]) if check_only => {
            Ok(change((*cur != "-").then(|| cur.to_string()), false, None))
        }
        (Some(0), ["SWITCHED", from, to]) if *to == target.as_str() && !check_only => {
            Ok(change((*from != "-").then(|| from.to_string()), true, None))
        }
        // Already live: only the probation (if one was set) changed.
        (Some(0), ["SAME", to]) if *to == target.as_str() && !check_only => Ok(change(
            Some(to.to_string()),
            false,
            Some(if set.is_some() {
                LinkNote::AlreadyLiveProbationSet
            } else {
                LinkNote::AlreadyLive
            }),
        )),
        _ => Err(super::script_error("switch", &out)),
    }
}

/// The warning for switching to a release a rollback left (it is bad here).
fn bad_warning(name: &ReleaseName, action: Action) -> LinkWarning {
    LinkWarning::MarkedBad {
        release: name.to_string(),
        action,
    }
}

/// Checks `target` against a scan taken under the lock, then switches (a host of
/// its own: `switch`, `rollback`, `--each`).
#[allow(clippy::too_many_arguments)]
fn checked_switch_on(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    state: &HostState,
    target: &ReleaseName,
    expect: Option<Option<&str>>,
    action: Action,
    force: bool,
    probation: Option<ProbationSpec>,
) -> Result<LinkChange, OpError> {
    let c = plan::check_target(state, target, expect, force)
        .map_err(|e| OpError::Conflict(e.to_string()))?;
    let mut change = run_checked(t, host, lock, &c, action, force, false, probation)?;
    if c.bad {
        change.warning = Some(bad_warning(target, action));
    }
    Ok(change)
}

/// The switch (or, `check_only`, the host's check) of a target that passed
/// [`plan::check_target`]; the link must still be where the scan saw it.
/// `probation`: set on the target (SPEC §7); `None` ends any.
#[allow(clippy::too_many_arguments)]
fn run_checked(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    c: &Checked,
    action: Action,
    force: bool,
    check_only: bool,
    probation: Option<ProbationSpec>,
) -> Result<LinkChange, OpError> {
    let note = (c.bad && action == Action::Rollback).then(|| {
        format!(
            "{} was marked bad; rolling back to it clears the mark",
            c.name
        )
    });
    let checks = Checks {
        force,
        files: c.files.clone(),
        check_only,
        probation,
    };
    let mut change = switch_checked(
        t,
        host,
        lock,
        &c.name,
        Expect::Release(c.current.as_deref()),
        action,
        note.as_deref(),
        &checks,
    )?;
    if note.is_some() {
        change.note = Some(LinkNote::ClearedBadMark);
    }
    Ok(change)
}

/// `relman switch RELEASE [--expect CURRENT]` on one host.
pub fn switch(
    t: &dyn Transport,
    host: &HostConfig,
    release: &str,
    expect: Option<&str>,
) -> Result<LinkChange, OpError> {
    switch_with(t, host, release, expect, false)
}

/// [`switch`]; `force`: switch to a release the deploy user can't read, an empty
/// one, or one whose files don't match its manifest (the operator insists).
pub fn switch_with(
    t: &dyn Transport,
    host: &HostConfig,
    release: &str,
    expect: Option<&str>,
    force: bool,
) -> Result<LinkChange, OpError> {
    switch_guarded(t, host, release, expect, force, None)
}

/// [`switch_with`] that also sets a probation on the release (`switch --probation`,
/// SPEC §7); `None`: any probation ends.
pub fn switch_guarded(
    t: &dyn Transport,
    host: &HostConfig,
    release: &str,
    expect: Option<&str>,
    force: bool,
    probation: Option<ProbationSpec>,
) -> Result<LinkChange, OpError> {
    let target = release_arg(host, release)?;
    if let Some(e) = expect {
        release_arg(host, e)?;
    }
    let (lock, state) = lock_and_scan(t, host, Action::Switch)?;
    checked_switch_on(
        t,
        host,
        &lock,
        &state,
        &target,
        expect.map(Some),
        Action::Switch,
        force,
        probation,
    )
}

/// `relman rollback [--to RELEASE]` on one host: back to the release live before the
/// current one (from history), which becomes bad; `--to` names the target instead.
pub fn rollback(
    t: &dyn Transport,
    host: &HostConfig,
    to: Option<&str>,
) -> Result<LinkChange, OpError> {
    rollback_with(t, host, to, false)
}

/// [`rollback`]; `force` as for [`switch_with`] (rollback without `--to` still
/// never picks an unusable release: it only skips the host's checks of the one it
/// picked).
pub fn rollback_with(
    t: &dyn Transport,
    host: &HostConfig,
    to: Option<&str>,
    force: bool,
) -> Result<LinkChange, OpError> {
    if let Some(to) = to {
        release_arg(host, to)?;
    }
    let (lock, state) = lock_and_scan(t, host, Action::Rollback)?;
    let target = match to {
        Some(to) => {
            plan::explicit_rollback(&state, to)
                .map_err(|e| OpError::Conflict(e.to_string()))?
                .name
        }
        None => plan::rollback_target(&state)
            .map_err(|e| OpError::Conflict(format!("nothing to roll back to: {e}")))?,
    };
    let current = state.current().map(|c| c.as_str().to_string());
    let c = plan::check_target(&state, &target, Some(current.as_deref()), force)
        .map_err(|e| OpError::Conflict(e.to_string()))?;
    run_checked(t, host, &lock, &c, Action::Rollback, force, false, None)
}

/// A switch or rollback asked of several hosts at once.
#[derive(Debug, Clone, Copy)]
pub enum LinkRequest<'a> {
    Switch {
        release: &'a str,
        expect: Option<&'a str>,
        /// `--probation`: set on every host after its switch (SPEC §7).
        probation: Option<ProbationSpec>,
    },
    Rollback {
        to: Option<&'a str>,
    },
}

impl LinkRequest<'_> {
    fn probation(&self) -> Option<ProbationSpec> {
        match self {
            LinkRequest::Switch { probation, .. } => *probation,
            LinkRequest::Rollback { .. } => None,
        }
    }

    fn action(&self) -> Action {
        match self {
            LinkRequest::Switch { .. } => Action::Switch,
            LinkRequest::Rollback { .. } => Action::Rollback,
        }
    }
}

/// What a fleet switch or rollback did.
pub struct FleetLink {
    /// Per host, in the order given.
    pub results: Vec<HostResult<LinkChange>>,
    /// The preflight refused: no host was changed. `results` says which hosts
    /// could not take the change (and why); the others say they were left alone.
    pub refused: bool,
    /// The hosts that could not take the change (indexes into `results`).
    pub blockers: Vec<usize>,
}

impl FleetLink {
    /// SPEC §3: a refused preflight has the code of its causes (5 when every host
    /// that could not take the change was a conflict); otherwise per host.
    pub fn exit_code(&self) -> i32 {
        if self.refused {
            let codes: Vec<i32> = self
                .blockers
                .iter()
                .filter_map(|i| self.results[*i].result.as_ref().err())
                .map(OpError::exit_code)
                .collect();
            fleet::exit_code_of(&codes)
        } else {
            fleet::exit_code(&self.results)
        }
    }
}

/// A host through the preflight: locked, scanned, its target checked.
struct Ready {
    held: Held,
    checked: Checked,
}

/// A switch or rollback of every host in `hosts`, all or none (SPEC §3): every host
/// is locked (the leader first, as deploy does), scanned and checked — the release
/// exists there and is a usable release, complete by its manifest, `--expect`
/// holds; for a rollback without `--to`, the one target every host has
/// ([`plan::fleet_rollback_target`]) — and only when every host can take it does
/// any link move. `on_done` sees each host as its switch ends.
pub fn fleet_link(
    cfg: &Config,
    hosts: &[&HostConfig],
    req: LinkRequest<'_>,
    force: bool,
    on_done: &(dyn Fn(&HostConfig, &Result<LinkChange, OpError>) + Sync),
) -> FleetLink {
    let action = req.action();
    let n = hosts.len();
    // Names first: nothing is sent for a name that is not a release name.
    let names: Vec<Result<Option<ReleaseName>, OpError>> = hosts
        .iter()
        .map(|h| match req {
            LinkRequest::Switch {
                release, expect, ..
            } => {
                if let Some(e) = expect {
                    release_arg(h, e)?;
                }
                release_arg(h, release).map(Some)
            }
            LinkRequest::Rollback { to } => to.map(|to| release_arg(h, to)).transpose(),
        })
        .collect();
    let names: Vec<Option<ReleaseName>> = match all_ok(names) {
        Ok(names) => names,
        Err(blocked) => return refused(hosts, blocked, action),
    };

    // Lock and scan every host.
    let locked = lock_fleet(cfg, hosts, action);
    let scans: Vec<Option<Result<HostState, OpError>>> =
        par_map(n, cfg.parallel, |i| match &locked[i] {
            Some(Ok(h)) => Some(scan_light(h.t.as_ref(), hosts[i])),
            _ => None,
        });
    let mut held: Vec<Held> = Vec::new();
    let mut states: Vec<HostState> = Vec::new();
    // A host not tried (the leader could not be locked) is no cause: it is left
    // alone and says so, like every host that could have taken the change.
    let mut blocked: Vec<Option<OpError>> = Vec::new();
    for (l, s) in locked.into_iter().zip(scans) {
        match (l, s) {
            (Some(Ok(h)), Some(Ok(st))) => {
                held.push(h);
                states.push(st);
                blocked.push(None);
            }
            (Some(Ok(_)), Some(Err(e))) | (Some(Err(e)), _) => blocked.push(Some(e)),
            (None, _) | (Some(Ok(_)), None) => blocked.push(None),
        }
    }
    if held.len() < n {
        drop(held);
        return refused(hosts, blocked, action);
    }

    // The target on each host (pure).
    let common = match req {
        LinkRequest::Rollback { to: None } => {
            let pairs: Vec<(&str, &HostState)> = hosts
                .iter()
                .map(|h| h.name.as_str())
                .zip(states.iter())
                .collect();
            match plan::fleet_rollback_target(&pairs) {
                Ok(t) => Some(t),
                Err(e) => {
                    let blocked = hosts
                        .iter()
                        .map(|_| Some(OpError::Conflict(e.to_string())))
                        .collect();
                    return refused(hosts, blocked, action);
                }
            }
        }
        _ => None,
    };
    let checked: Vec<Result<Checked, OpError>> = states
        .iter()
        .zip(&names)
        .map(|(st, name)| {
            let current = st.current().map(|c| c.as_str().to_string());
            let (target, expect) = match (req, name, &common) {
                (LinkRequest::Switch { expect, .. }, Some(t), _) => (t.clone(), expect.map(Some)),
                (LinkRequest::Rollback { .. }, Some(t), _) => {
                    match plan::explicit_rollback(st, t.as_str()) {
                        Ok(_) | Err(TargetError::AlreadyLive(_)) => {}
                        Err(e) => return Err(OpError::Conflict(e.to_string())),
                    }
                    (t.clone(), Some(current.as_deref()))
                }
                (_, _, Some(t)) => (t.clone(), Some(current.as_deref())),
                _ => unreachable!(
                    "a switch names its release; a rollback has --to or a common target"
                ),
            };
            plan::check_target(st, &target, expect, force)
                .map_err(|e| OpError::Conflict(e.to_string()))
        })
        .collect();
    let checked = match all_ok(checked) {
        Ok(checked) => checked,
        Err(blocked) => {
            drop(held);
            return refused(hosts, blocked, action);
        }
    };
    let ready: Vec<Ready> = held
        .into_iter()
        .zip(checked)
        .map(|(held, checked)| Ready { held, checked })
        .collect();

    // The host's own check of what a scan can't see (the manifest's files), under
    // the same locks.
    let host_checks: Vec<Option<OpError>> = par_map(n, cfg.parallel, |i| {
        let r = &ready[i];
        if r.checked.same || r.checked.files.is_empty() {
            return None;
        }
        run_checked(
            r.held.t.as_ref(),
            hosts[i],
            &r.held.lock,
            &r.checked,
            action,
            force,
            true,
            None,
        )
        .err()
    });
    if host_checks.iter().any(Option::is_some) {
        drop(ready);
        return refused(hosts, host_checks, action);
    }

    // Every host can: switch them all.
    let results = par_map(n, cfg.parallel, |i| {
        let r = &ready[i];
        let mut res = run_checked(
            r.held.t.as_ref(),
            hosts[i],
            &r.held.lock,
            &r.checked,
            action,
            force,
            false,
            req.probation(),
        );
        if let Ok(c) = res.as_mut()
            && r.checked.bad
        {
            c.warning = Some(bad_warning(&r.checked.name, action));
        }
        on_done(hosts[i], &res);
        res
    });
    drop(ready);
    FleetLink {
        results: hosts
            .iter()
            .zip(results)
            .map(|(h, result)| HostResult {
                host: h.name.clone(),
                result,
            })
            .collect(),
        refused: false,
        blockers: Vec::new(),
    }
}

/// Every value, or (when any host failed) each host's error, `None` for the hosts
/// that were fine: what [`refused`] takes.
fn all_ok<T>(results: Vec<Result<T, OpError>>) -> Result<Vec<T>, Vec<Option<OpError>>> {
    if results.iter().any(Result::is_err) {
        Err(results.into_iter().map(Result::err).collect())
    } else {
        Ok(results.into_iter().flatten().collect())
    }
}

fn past(action: Action) -> &'static str {
    if action == Action::Rollback {
        "rolled back"
    } else {
        "switched"
    }
}

/// A refused preflight: the hosts with an error could not take the change; the
/// others are left alone and say so (naming the hosts that could not).
fn refused(hosts: &[&HostConfig], blocked: Vec<Option<OpError>>, action: Action) -> FleetLink {
    let blockers: Vec<usize> = (0..hosts.len()).filter(|i| blocked[*i].is_some()).collect();
    let names: Vec<&str> = blockers.iter().map(|i| hosts[*i].name.as_str()).collect();
    let results = hosts
        .iter()
        .zip(blocked)
        .map(|(h, b)| HostResult {
            host: h.name.clone(),
            result: Err(b.unwrap_or_else(|| {
                OpError::Conflict(format!(
                    "not {}: {} cannot take the change, so no host was changed",
                    past(action),
                    names.join(", ")
                ))
            })),
        })
        .collect();
    FleetLink {
        results,
        refused: true,
        blockers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_probation_note_says_how_long_and_how_many() {
        let p = |secs, max_failures| ProbationSpec {
            duration: Duration::from_secs(secs),
            max_failures,
        };
        assert_eq!(
            probation_note(&p(600, 0)),
            "10m, more than 0 failures rolls back"
        );
        assert_eq!(
            probation_note(&p(5400, 1)),
            "1h 30m, more than 1 failure rolls back"
        );
    }
}
