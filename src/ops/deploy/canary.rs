//! The canary guard of a deploy (`--canary HOST...`, SPEC §7): once the release is
//! published (and smoke-tested) everywhere, the canaries switch first — on a
//! probation as long as the watch, so a relman killed mid-watch leaves them guarded
//! by their own launchers — and relman watches their ledgers ([`crate::ops::runs`],
//! one round trip per canary per poll, over the deploy's connections) until each
//! has `min_runs` finished runs of the new release, for at most `watch`.
//!
//! The decision is [`plan::guard`]'s. Passed: the other hosts switch, then the
//! canaries' watch probation becomes the deploy's `--probation` or ends
//! ([`settle`]). Refused: every canary goes back to the release it had (history
//! `rollback`, which marks the release bad there) and the others mark it bad
//! (history `refuse`) and never switch ([`roll_back`], [`super::phase::refuse`]).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::Canary;
use super::phase::{Host, HostStage, Run};
use super::report::{CanaryEnd, CanaryHost, DeployEvent, HostStatus, Phase};
use crate::model::{Action, ProbationSpec};
use crate::ops::OpError;
use crate::ops::fleet::par_each_mut;
use crate::ops::link::{Expect, switch_locked, switch_locked_on_probation};
use crate::ops::probation::accept_locked;
use crate::ops::runs::{RunsQuery, runs};
use crate::ops::scan::scan;
use crate::plan::guard::{self, CanaryRuns, CanaryVerdict};

/// How often the canaries' ledgers are read.
pub const POLL: Duration = Duration::from_millis(1500);

/// Failed runs a refusal's note names (the rest are counted).
const NOTE_RUNS: usize = 5;

/// Whether `h` is one of the canaries.
pub(super) fn is_canary(h: &Host, c: &Canary) -> bool {
    c.hosts.contains(&h.cfg.name)
}

/// The probation the canaries are on while relman watches them: as long as the
/// watch (or the deploy's `--probation`, if longer), with the canary's
/// `--max-failures`.
pub(super) fn watch_probation(c: &Canary, deploy: Option<&ProbationSpec>) -> ProbationSpec {
    ProbationSpec {
        duration: deploy.map_or(c.watch, |p| p.duration.max(c.watch)),
        max_failures: c.max_failures,
    }
}

/// Before any canary switches: every canary must have a release live to go back to.
/// A canary without one fails here (exit 5, nothing switched anywhere).
pub(super) fn precheck(h: &mut Host, run: &Run, c: &Canary) {
    if !is_canary(h, c) {
        return;
    }
    let HostStage::Published(r) = &h.stage else {
        return;
    };
    if r.live.is_none() {
        let e = OpError::Conflict(format!(
            "{} has no live release for a canary to go back to: deploy there without \
             --canary first",
            h.cfg.name
        ));
        run.fail(h, Phase::Canary, &e);
    }
}

/// The runs of `release` on a canary, every one the ledger holds.
fn read_runs(
    h: &Host,
    t: &dyn crate::remote::Transport,
    release: &str,
) -> Result<Vec<crate::model::Run>, OpError> {
    let q = RunsQuery {
        release: Some(release.to_string()),
        limit: usize::MAX,
        failed_only: false,
    };
    runs(t, h.cfg, &q)
}

/// Switches a canary to the release on `probation`: `Published` → `Canary`. The
/// ids of its runs of the release so far (the smoke's) are noted first, so the
/// watch counts only the runs after the switch. A canary that can't be switched
/// stays `Published` (the refusal marks the release bad there), its error kept.
pub(super) fn switch(h: &mut Host, run: &Run, c: &Canary, probation: &ProbationSpec) {
    if !is_canary(h, c) || !h.stage.is_published() {
        return;
    }
    let HostStage::Published(r) = h.take() else {
        return;
    };
    run.emit(&h.cfg.name, Phase::Canary, 0, 0);
    let mut report = CanaryHost::default();
    let before = match read_runs(h, r.conn.t.as_ref(), r.name.as_str()) {
        Ok(v) => v.into_iter().map(|x| x.id).collect::<BTreeSet<String>>(),
        Err(e) => {
            report.error = Some(format!("its run ledger could not be read: {e}"));
            h.report.canary = Some(report);
            run.emit(&h.cfg.name, Phase::Failed, 0, 0);
            h.stage = HostStage::Published(r);
            return;
        }
    };
    let live = r.live.as_ref().map(|l| l.as_str().to_string());
    let note = (!run.req.message.is_empty()).then_some(run.req.message.as_str());
    let t0 = Instant::now();
    let res = switch_locked_on_probation(
        r.conn.t.as_ref(),
        h.cfg,
        &r.conn.lock,
        &r.name,
        Expect::Release(live.as_deref()),
        Action::Deploy,
        note,
        Some(probation),
    );
    h.report.timings.push(("canary switch", t0.elapsed()));
    match res {
        Ok(change) => {
            h.report.status = HostStatus::Switched;
            h.report.from = change.from;
            h.report.probation = Some(*probation);
            h.report.canary = Some(report);
            h.stage = HostStage::Canary { r, before };
        }
        Err(e) => {
            report.error = Some(format!("it could not be switched: {e}"));
            h.report.canary = Some(report);
            run.emit(&h.cfg.name, Phase::Failed, 0, 0);
            h.stage = HostStage::Published(r);
        }
    }
}

/// One poll of a watched canary's ledger: its counts (or the poll's error) into
/// its report.
fn poll(h: &mut Host) {
    let HostStage::Canary { r, before } = &h.stage else {
        return;
    };
    let res = read_runs(h, r.conn.t.as_ref(), r.name.as_str());
    let name = r.name.to_string();
    let rep = h.report.canary.get_or_insert_with(CanaryHost::default);
    match res {
        Ok(all) => {
            rep.runs = guard::count_runs(&all, &name, before);
            rep.error = None;
        }
        // Kept as it was; said if the watch ends on it.
        Err(e) => rep.error = Some(format!("its run ledger could not be read: {e}")),
    }
}

/// Watches the switched canaries until [`plan::guard::canary_verdict`] decides, the
/// operator calls the deploy off, or the time runs out (polling every [`POLL`]).
pub(super) fn watch(fleet: &mut [Host], run: &Run, c: &Canary) -> CanaryEnd {
    let deadline = Instant::now() + c.watch;
    loop {
        par_each_mut(fleet, run.cfg.parallel, 0, poll);
        if run.cancelled() {
            return CanaryEnd::CalledOff;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let counts: Vec<CanaryRuns> = fleet
            .iter()
            .filter(|h| matches!(h.stage, HostStage::Canary { .. }))
            .map(|h| h.report.canary.clone().unwrap_or_default().runs)
            .collect();
        let verdict = guard::canary_verdict(&counts, c.min_runs, c.max_failures, left);
        for h in fleet.iter() {
            if !matches!(h.stage, HostStage::Canary { .. }) {
                continue;
            }
            let runs = h.report.canary.clone().unwrap_or_default().runs;
            let phase = if runs.passed(c.min_runs, c.max_failures) {
                Phase::CanaryPassed
            } else {
                Phase::Watch
            };
            // The phase first, then the counts (the CLI's line shows the latter).
            run.emit(&h.cfg.name, phase, 0, 0);
            run.event(&DeployEvent::Watch {
                host: h.cfg.name.clone(),
                finished: runs.finished,
                min_runs: c.min_runs,
                failures: runs.failures,
                left,
            });
        }
        match verdict {
            CanaryVerdict::Watch => {}
            CanaryVerdict::Passed => return CanaryEnd::Passed,
            CanaryVerdict::Failed => return CanaryEnd::Failed,
            CanaryVerdict::TimedOut => return CanaryEnd::TimedOut,
        }
        // Sleep until the next poll (or the deadline), waking for a cancel.
        let wake = (Instant::now() + POLL).min(deadline);
        while Instant::now() < wake && !run.cancelled() {
            std::thread::sleep(Duration::from_millis(50).min(wake - Instant::now()));
        }
    }
}

/// The refusal's history note: which canary did what ("canary h1: 2 failed runs
/// (1-7 failed, 1-8 killed), more than --max-failures 0"; "canary h2: no runs in 10m").
pub(super) fn refuse_note(fleet: &[Host], c: &Canary, end: CanaryEnd) -> String {
    let watch = humantime::format_duration(Duration::from_secs(c.watch.as_secs().max(1)));
    let mut parts = Vec::new();
    for h in fleet {
        let Some(rep) = &h.report.canary else {
            continue;
        };
        let n = &h.cfg.name;
        let runs = &rep.runs;
        let part = match end {
            _ if rep.error.is_some() && !matches!(h.stage, HostStage::Canary { .. }) => {
                format!("canary {n}: {}", rep.error.as_deref().unwrap_or_default())
            }
            CanaryEnd::Failed if runs.failures > c.max_failures => {
                let mut which: Vec<String> = runs
                    .failed
                    .iter()
                    .take(NOTE_RUNS)
                    .map(|(id, s)| format!("{id} {}", s.as_str()))
                    .collect();
                if runs.failed.len() > NOTE_RUNS {
                    which.push(format!("{} more", runs.failed.len() - NOTE_RUNS));
                }
                format!(
                    "canary {n}: {} ({}), more than --max-failures {}",
                    crate::model::plural(u64::from(runs.failures), "failed run"),
                    which.join(", "),
                    c.max_failures
                )
            }
            CanaryEnd::TimedOut if runs.finished < c.min_runs => {
                let mut s = if runs.finished == 0 {
                    format!("canary {n}: no runs in {watch}")
                } else {
                    format!(
                        "canary {n}: {} of {} runs in {watch}",
                        runs.finished, c.min_runs
                    )
                };
                if let Some(e) = &rep.error {
                    s.push_str(&format!(" ({e})"));
                }
                s
            }
            _ => continue,
        };
        parts.push(part);
    }
    match end {
        CanaryEnd::CalledOff => "canary: the deploy was called off during the watch".to_string(),
        _ if parts.is_empty() => "canary: refused".to_string(),
        _ => parts.join("; "),
    }
}

/// The guard refused: a switched canary goes back to the release it had (history
/// `rollback` with `note`, expecting the link still at the new release): `Canary`
/// → `Unswitched`. Where the link moved meanwhile it is left alone, and named —
/// unless it moved back to that very release (the host's own probation rolled it
/// back first), which is what was wanted.
pub(super) fn roll_back(h: &mut Host, run: &Run, note: &str) {
    if !matches!(h.stage, HostStage::Canary { .. }) {
        return;
    }
    let HostStage::Canary { r, .. } = h.take() else {
        return;
    };
    let Some(old) = r.live.clone() else {
        // precheck keeps such a host from being a canary.
        h.stage = HostStage::Unswitched { _kept: r.conn };
        return;
    };
    let t0 = Instant::now();
    let res = switch_locked(
        r.conn.t.as_ref(),
        h.cfg,
        &r.conn.lock,
        &old,
        Expect::Release(Some(r.name.as_str())),
        Action::Rollback,
        Some(note),
    );
    h.report.timings.push(("rollback", t0.elapsed()));
    h.report.probation = None;
    match res {
        Ok(_) => {
            h.report.status = HostStatus::CanaryRolledBack;
            run.emit(&h.cfg.name, Phase::RolledBack, 0, 0);
        }
        Err(e) => {
            let back = scan(r.conn.t.as_ref(), h.cfg)
                .ok()
                .is_some_and(|st| st.current() == Some(&old));
            if back {
                h.report.status = HostStatus::CanaryRolledBack;
                h.report.warnings.push(format!(
                    "it was already back on {old} (its probation rolled it back)"
                ));
                run.emit(&h.cfg.name, Phase::RolledBack, 0, 0);
            } else {
                h.report.status = HostStatus::RollbackFailed {
                    error: e.to_string(),
                    code: e.exit_code(),
                };
                run.emit(&h.cfg.name, Phase::Failed, 0, 0);
            }
        }
    }
    h.stage = HostStage::Unswitched { _kept: r.conn };
}

/// The canaries passed and the others have switched: a canary's watch probation
/// becomes the deploy's `--probation` (the link already names the release: only
/// the probation is set), or, without one, ends (`accept`). `Canary` → `Live`.
pub(super) fn settle(h: &mut Host, run: &Run, watch: &ProbationSpec) {
    if !matches!(h.stage, HostStage::Canary { .. }) {
        return;
    }
    let HostStage::Canary { r, .. } = h.take() else {
        return;
    };
    let t = r.conn.t.as_ref();
    match run.req.probation.as_ref() {
        Some(p) => {
            let res = switch_locked_on_probation(
                t,
                h.cfg,
                &r.conn.lock,
                &r.name,
                Expect::Release(Some(r.name.as_str())),
                Action::Deploy,
                None,
                Some(p),
            );
            match res {
                Ok(_) => h.report.probation = Some(*p),
                Err(e) => h.report.warnings.push(format!(
                    "the deploy's probation could not be set here ({e}): it keeps the \
                     watch's ({} allowed, ending by itself {} after the canary switched)",
                    crate::model::plural(u64::from(watch.max_failures), "failure"),
                    humantime::format_duration(watch.duration)
                )),
            }
        }
        None => match accept_locked(t, h.cfg, &r.conn.lock, Some(&r.name)) {
            Ok(_) => h.report.probation = None,
            Err(e) => {
                h.report.probation = Some(*watch);
                h.report.warnings.push(format!(
                    "the watch's probation could not be ended here ({e}): it ends by itself \
                     {} after the canary switched (or run `relman accept`)",
                    humantime::format_duration(watch.duration)
                ))
            }
        },
    }
    h.stage = HostStage::Live(r.conn);
}
