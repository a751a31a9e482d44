//! `relman deploy`: a new release on every chosen host, under one name, switched to
//! only when it is complete and verified everywhere.
//!
//! 1. **Local** ([`local`]): walk the operator's paths (every input error is found
//!    here, before any connection), then hash the files while the hosts are
//!    connected to and scanned.
//! 2. **Name**: `plan::deploy_name` over every host's releases and uploads: the same
//!    name on every host. Any host unreachable here: nothing is sent anywhere.
//! 3. **Phase 1, stage** (hosts in parallel, `parallel` at a time), each under its
//!    host lock, held until the end: rescan; files the live release already has
//!    (its manifest says so, or — without a manifest — same path and size) are
//!    hard-linked into `.relman/staging/<name>/` and kept only if the host proves
//!    them identical (size, mode, sha256); the rest are streamed in one exec; then
//!    modes, the manifest, and a check of every staged file ([`host`]).
//! 4. **Phase 2**, only if phase 1 succeeded on *every* host: publish (rename into
//!    the root) everywhere — a publish failing takes the others back — then switch
//!    everywhere with the switch code of `relman switch` (history `deploy`), or with
//!    `--no-switch` a `deploy` history line whose note starts with `no-switch`.
//!    Then prune, if asked.
//!
//! 5. **Guards**, between publish and switch: `--smoke CMD` ([`smoke`]) runs on
//!    every host; any that does not pass: no host switches, the release is marked
//!    bad everywhere (history `refuse`), exit 7 ([`Outcome::Refused`]). Then
//!    `--canary HOST...` ([`canary`]): the canaries switch (on probation) and their
//!    runs are watched; refused, they go back (history `rollback`), the others mark
//!    the release bad and never switch, exit 7; passed, the others switch. With
//!    `--probation`, every switch sets one (`ops::link::switch_locked_on_probation`).
//!
//! If any host fails phase 1, no host publishes anything and every staging
//! directory is removed. An interrupted relman leaves at most a staging directory
//! (never listed as a release), removed by the next deploy or prune; the lock dies
//! with the connection.

pub mod canary;
pub mod host;
pub mod local;
mod phase;
mod report;
pub mod smoke;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use super::fleet::par_each_mut;
use super::leader::Leader;
use super::{now_rfc3339, operator};
use crate::config::{Config, HostConfig};
use crate::model::{HostState, ManifestFile, ReleaseName};
use crate::plan;
pub use local::{InputError, LocalFile};
use phase::{Files, Host, Run};
pub use report::{
    CanaryEnd, CanaryHost, CanaryReport, DeployEvent, DeployReport, HostReport, HostStatus,
    Outcome, Phase, human_bytes,
};
pub use smoke::{Smoke, SmokeResult, SmokeStatus};

/// What the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    pub paths: Vec<PathBuf>,
    pub message: String,
    /// Switch the link to the new release (false: `--no-switch`).
    pub switch: bool,
    /// Prune after the deploy (`--prune`; the config's `prune_after_deploy` also does).
    pub prune: bool,
    /// `--smoke CMD` (with `--smoke-timeout`): run before any switch.
    pub smoke: Option<Smoke>,
    /// `--canary HOST...` with `--min-runs`, `--max-failures`, `--watch` (SPEC §7).
    pub canary: Option<Canary>,
    /// `--probation DURATION` (with `--max-failures`): every switched host guards itself.
    pub probation: Option<crate::model::ProbationSpec>,
}

/// The canary guard of a deploy (SPEC §7): `hosts` switch first, then relman waits
/// until each has `min_runs` finished runs of the new release, for at most `watch`;
/// more than `max_failures` failed, killed or lost runs on one, or the time running
/// out, rolls the canaries back and leaves the other hosts untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    /// Host names, each in the deploy's selection.
    pub hosts: Vec<String>,
    pub min_runs: u32,
    pub max_failures: u32,
    pub watch: std::time::Duration,
}

/// Deploys `req.paths` to `hosts` (see the module doc). `Err` only for bad local
/// input, found before anything is sent; everything else is in the report.
/// `cancel` calls the deploy off while nothing is published yet, or while the smoke
/// runs (the smoke is stopped and the published release withdrawn), or during the
/// canary watch (the canaries go back to the release they had — history `rollback`,
/// so the release is bad there — and the others mark it bad: jobs may still run it
/// on a canary, so it is not deleted; [`Outcome::Cancelled`]).
///
/// A short driver: each phase ([`phase`]) runs on every host through the crate's
/// one fan-out, and between phases the driver decides whether the deploy goes on.
pub fn deploy(
    cfg: &Config,
    hosts: &[&HostConfig],
    req: &DeployRequest,
    on_event: &(dyn Fn(&DeployEvent) + Sync),
    cancel: &AtomicBool,
) -> Result<DeployReport, InputError> {
    let entries = local::walk(&req.paths)?;
    let bytes: u64 = entries.iter().map(|e| e.size).sum();
    let mut report = DeployReport {
        release: None,
        switch: req.switch,
        files: entries.len(),
        bytes,
        outcome: Outcome::NotDeployed,
        hosts: Vec::new(),
        canary: req.canary.as_ref().map(|c| CanaryReport {
            hosts: c.hosts.clone(),
            min_runs: c.min_runs,
            max_failures: c.max_failures,
            watch: c.watch,
            end: CanaryEnd::NotRun,
            note: None,
        }),
    };
    if hosts.is_empty() {
        return Ok(report);
    }
    on_event(&DeployEvent::Started {
        hosts: hosts.iter().map(|h| h.name.clone()).collect(),
        files: entries.len(),
        bytes,
    });
    let run = Run::new(cfg, req, on_event, cancel);
    let mut fleet: Vec<Host> = hosts.iter().map(|h| Host::new(h)).collect();
    let each = |fleet: &mut [Host], f: &(dyn Fn(&mut Host) + Sync)| {
        par_each_mut(fleet, cfg.parallel, 0, f)
    };

    // Connect, lock and scan, the leader first, while the files are hashed (both
    // take a while; neither needs the other). Each host is locked before its scan,
    // so the scan that names the release and picks the files to link is the state
    // the deploy works on.
    let leader = Leader::of(hosts);
    let hashed = std::thread::scope(|s| {
        let hasher = s.spawn(|| local::hash(&entries, local::hash_threads()));
        par_each_mut(&mut fleet, cfg.parallel, leader.index, |h| {
            phase::connect(h, &run, &leader)
        });
        hasher.join()
    });
    let files = match hashed {
        Ok(r) => r?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    report.files = files.len();
    if run.stopped() {
        if run.cancelled() {
            report.outcome = Outcome::Cancelled;
        }
        for h in &fleet {
            if h.report.status == HostStatus::NotDeployed {
                run.emit(&h.cfg.name, Phase::Aborted, 0, 0);
            }
        }
        report.hosts = fleet.into_iter().map(|h| h.report).collect();
        return Ok(report);
    }

    // One name for the fleet.
    let base = fleet_name(&fleet, &hosts[0].prefix);
    report.release = Some(base.to_string());
    run.event(&DeployEvent::Named {
        release: base.to_string(),
    });
    for h in &mut fleet {
        let name = base.with_seq(&h.cfg.prefix, base.seq());
        phase::name(h, name);
    }

    // Phase 1: stage everywhere, or publish nowhere.
    let created_at = now_rfc3339();
    let created_by = operator();
    let manifest_files: Vec<ManifestFile> = files.iter().map(LocalFile::manifest_file).collect();
    let dirs = local::dirs_of(files.iter().map(|f| f.rel_path.as_str()));
    let cx = Files {
        files: &files,
        manifest_files: &manifest_files,
        dirs: &dirs,
        created_at: &created_at,
        created_by: &created_by,
        lanes: plan::upload::lanes_per_host(fleet.len(), lanes_cap()),
    };
    each(&mut fleet, &|h| phase::stage(h, &run, &cx));
    if run.stopped() || !fleet.iter().all(|h| h.stage.is_staged()) {
        if run.cancelled_only() {
            report.outcome = Outcome::Cancelled;
        }
        each(&mut fleet, &|h| phase::clean_up(h, &run));
        report.hosts = finish(fleet);
        return Ok(report);
    }

    // Phase 2: publish everywhere, or nowhere (a failed publish withdraws the others).
    each(&mut fleet, &|h| phase::publish(h, &run));
    if !fleet.iter().all(|h| h.stage.is_published()) {
        each(&mut fleet, &|h| phase::clean_up(h, &run));
        report.hosts = finish(fleet);
        return Ok(report);
    }

    // Guards of the published release: the smoke (a canary would go here too).
    if let Some(sm) = &req.smoke {
        each(&mut fleet, &|h| phase::smoke(h, &run, sm));
        if run.cancelled() {
            report.outcome = Outcome::Cancelled;
            each(&mut fleet, &|h| phase::clean_up(h, &run));
            report.hosts = finish(fleet);
            return Ok(report);
        }
        if !fleet
            .iter()
            .all(|h| h.report.smoke.as_ref().is_some_and(SmokeResult::passed))
        {
            let note = refuse_note(&fleet);
            each(&mut fleet, &|h| phase::refuse(h, &run, &note));
            report.outcome = Outcome::Refused;
            report.hosts = finish(fleet);
            return Ok(report);
        }
    }

    // The canaries: switched first and watched; the others switch only if they pass.
    let mut watch_spec = None;
    if let Some(c) = &req.canary {
        if run.cancelled() {
            report.outcome = Outcome::Cancelled;
            each(&mut fleet, &|h| phase::clean_up(h, &run));
            report.hosts = finish(fleet);
            return Ok(report);
        }
        each(&mut fleet, &|h| canary::precheck(h, &run, c));
        if fleet
            .iter()
            .any(|h| matches!(h.report.status, HostStatus::Failed { .. }))
        {
            each(&mut fleet, &|h| phase::clean_up(h, &run));
            report.hosts = finish(fleet);
            return Ok(report);
        }
        let spec = canary::watch_probation(c, req.probation.as_ref());
        each(&mut fleet, &|h| canary::switch(h, &run, c, &spec));
        let all_switched = fleet
            .iter()
            .filter(|h| canary::is_canary(h, c))
            .all(|h| matches!(h.stage, phase::HostStage::Canary { .. }));
        let end = if all_switched {
            canary::watch(&mut fleet, &run, c)
        } else {
            CanaryEnd::SwitchFailed
        };
        if end != CanaryEnd::Passed {
            let note = canary::refuse_note(&fleet, c, end);
            each(&mut fleet, &|h| canary::roll_back(h, &run, &note));
            each(&mut fleet, &|h| phase::refuse(h, &run, &note));
            report.outcome = if end == CanaryEnd::CalledOff {
                Outcome::Cancelled
            } else {
                Outcome::Refused
            };
            if let Some(cr) = &mut report.canary {
                cr.end = end;
                cr.note = Some(note);
            }
            report.hosts = finish(fleet);
            return Ok(report);
        }
        if let Some(cr) = &mut report.canary {
            cr.end = end;
        }
        watch_spec = Some(spec);
    }

    // Switch everywhere (the same code as `relman switch`; the canaries are live
    // already), then prune if asked, under the same lock.
    each(&mut fleet, &|h| phase::switch(h, &run));
    if let Some(spec) = &watch_spec {
        each(&mut fleet, &|h| canary::settle(h, &run, spec));
    }
    each(&mut fleet, &|h| phase::prune(h, &run));
    report.hosts = finish(fleet);
    report.outcome = Outcome::after_switch(&report.hosts);
    Ok(report)
}

/// The release name for the whole fleet, from every host's scan: `plan::deploy_name`
/// at the later of this machine's clock and the hosts' (as their scans said), so an
/// operator whose clock runs late can't name a release older than the hosts' now.
fn fleet_name(fleet: &[Host], prefix: &str) -> ReleaseName {
    let scans: Vec<&HostState> = fleet.iter().filter_map(|h| h.stage.scanned()).collect();
    let taken: Vec<Vec<ReleaseName>> = scans.iter().map(|st| plan::taken_names(st)).collect();
    let taken_refs: Vec<&[ReleaseName]> = taken.iter().map(Vec::as_slice).collect();
    let now = scans
        .iter()
        .map(|st| st.scanned_at)
        .fold(SystemTime::now(), SystemTime::max);
    plan::deploy_name(prefix, now, &taken_refs)
}

/// The `refuse` history note: which hosts' smoke did not pass, and how.
fn refuse_note(fleet: &[Host]) -> String {
    let failed: Vec<String> = fleet
        .iter()
        .filter_map(|h| {
            let s = h.report.smoke.as_ref()?;
            (!s.passed()).then(|| format!("{} {}", h.cfg.name, s.status.describe()))
        })
        .collect();
    format!("smoke: {}", failed.join("; "))
}

/// The hosts' reports, everything they held released.
fn finish(fleet: Vec<Host>) -> Vec<HostReport> {
    fleet
        .into_iter()
        .map(|h| {
            // Release the lock (and the transport after it) before reporting.
            drop(h.stage);
            let r = h.report;
            let steps: Vec<String> = r
                .timings
                .iter()
                .map(|(k, d)| format!("{k} {}ms", d.as_millis()))
                .collect();
            tracing::info!(
                "deploy {} on {}: {:?}; {} sent, {} linked; {}",
                r.release.as_deref().unwrap_or("-"),
                r.host,
                r.status,
                r.uploaded_bytes,
                r.linked_files,
                steps.join(", ")
            );
            r
        })
        .collect()
}

/// `RELMAN_UPLOAD_LANES` (1 to 4; 1 is a single upload channel, as before lanes:
/// for a comparison, or a host that allows one session per connection), else
/// [`plan::upload::MAX_LANES`].
fn lanes_cap() -> usize {
    std::env::var("RELMAN_UPLOAD_LANES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(plan::upload::MAX_LANES)
}
