//! The phases of a deploy on one host, and the stage a host has reached.
//!
//! A host moves through [`HostStage`] one way: `Idle` → `Locked` (connect, lock,
//! scan) → `Named` (the fleet's release name) → `Staged` (upload, verify) →
//! `Published` → (`Canary`: a canary switched and watched, [`super::canary`]) →
//! `Live` (switched, or published with `--no-switch`) or `Unswitched` → `Done`. A host that fails or is called off before publishing
//! goes to `Halted` (it still holds its lock and maybe a staging directory, which
//! [`clean_up`] removes); [`clean_up`] and [`prune`] end every host in `Done`,
//! its lock released. What the resources are (transport, lock) lives in the stage,
//! so a phase can only act on a host that reached the stage before it — no
//! `Option`s to unwrap. How the host ended, for people, is in its
//! [`HostReport`](super::HostReport).
//!
//! Each phase is one function `fn(&mut Host, ..)`, run on every host by the
//! driver ([`super::deploy`]) through the crate's one fan-out. It takes the stage
//! it works on (leaving any other stage untouched) and sets the next one.
//!
//! **Adding a phase** (e.g. `smoke` or `canary`, between publish and switch): add a
//! [`Phase`] for its progress, write `fn smoke(h: &mut Host, run: &Run)` that takes
//! `HostStage::Published(r)` and either puts it back (passed) or fails the host
//! (`run.fail(..)`, stage `Published(r)` kept so [`clean_up`] withdraws it), and
//! call it in the driver after `publish`, followed by the same "every host passed,
//! or withdraw everywhere" check as after `publish`. A phase that needs its own
//! stage (a canary running on the new release) adds a variant after `Published`
//! and teaches [`clean_up`] how to undo it.
//!
//! [`smoke`] is such a phase; when a smoke did not pass, [`refuse`] marks the
//! published release bad on every host and keeps the link where it was.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::DeployRequest;
use super::host::{self, Sent};
use super::local::LocalFile;
use super::report::{DeployEvent, HostReport, HostStatus, Phase};
use super::smoke::{self, Smoke};
use crate::config::{Config, HostConfig};
use crate::model::{Action, HostState, LinkState, Manifest, ManifestFile, ReleaseName, printable};
use crate::ops::OpError;
use crate::ops::history::{HistoryLine, HostField};
use crate::ops::leader::{Leader, SettleOnDrop};
use crate::ops::link::{Expect, switch_locked_on_probation};
use crate::ops::lock::HostLock;
use crate::ops::prune::prune_locked;
use crate::ops::scan::lock_and_scan_on;
use crate::plan::{self, FileAction, NO_SWITCH_NOTE};
use crate::remote::{self, Transport};

/// A host connected to and locked. The lock is declared first: it is released
/// before the transport goes.
pub(super) struct Conn {
    pub(super) lock: HostLock,
    pub(super) t: Box<dyn Transport>,
}

/// A release on one host, from staged on.
pub(super) struct Release {
    pub(super) conn: Conn,
    pub(super) name: ReleaseName,
    /// The release live when the host was scanned under the lock.
    pub(super) live: Option<ReleaseName>,
}

/// How far a host got (see the module doc).
pub(super) enum HostStage {
    /// Not connected: not reached, or not tried because the leader's lock was not taken.
    Idle,
    /// Connected, locked and scanned.
    Locked { conn: Conn, state: HostState },
    /// Given the fleet's release name.
    Named {
        conn: Conn,
        state: HostState,
        name: ReleaseName,
    },
    /// Complete and verified in `.relman/staging/`.
    Staged(Release),
    /// Renamed into the root; not live.
    Published(Release),
    /// `--canary`: switched to the release (on probation) and watched; `before` the
    /// ids of its runs of the release the ledger held at the switch (the smoke's),
    /// which the watch does not count. [`clean_up`] and [`super::canary::roll_back`]
    /// switch it back to `r.live`.
    Canary {
        r: Release,
        before: std::collections::BTreeSet<String>,
    },
    /// Done as asked (switched, or published with `--no-switch`); locked until prune.
    Live(Conn),
    /// Published, but the link could not be switched; the lock is only kept, to
    /// be released with the others' (in [`prune`]).
    Unswitched { _kept: Conn },
    /// Stopped before publishing (failed here, or called off), still locked: its
    /// staging directory, if any, is for [`clean_up`].
    Halted { conn: Conn, name: ReleaseName },
    /// Nothing more to do; nothing held.
    Done,
}

impl HostStage {
    pub(super) fn is_staged(&self) -> bool {
        matches!(self, HostStage::Staged(_))
    }

    pub(super) fn is_published(&self) -> bool {
        matches!(self, HostStage::Published(_))
    }

    /// The scan taken under the lock (to name the release).
    pub(super) fn scanned(&self) -> Option<&HostState> {
        match self {
            HostStage::Locked { state, .. } | HostStage::Named { state, .. } => Some(state),
            _ => None,
        }
    }
}

/// One host of the deploy.
pub(super) struct Host<'c> {
    pub(super) cfg: &'c HostConfig,
    pub(super) stage: HostStage,
    pub(super) report: HostReport,
}

impl<'c> Host<'c> {
    pub(super) fn new(cfg: &'c HostConfig) -> Self {
        Host {
            cfg,
            stage: HostStage::Idle,
            report: HostReport::new(&cfg.name),
        }
    }

    pub(super) fn take(&mut self) -> HostStage {
        std::mem::replace(&mut self.stage, HostStage::Done)
    }
}

/// Why a host stopped before publishing: a phase outcome, never an error's text.
#[derive(Debug)]
pub(super) enum Halt {
    /// The deploy stopped (another host failed, or the operator called it off).
    CalledOff,
    /// It failed here.
    Failed(Phase, OpError),
}

impl From<(Phase, OpError)> for Halt {
    fn from((phase, e): (Phase, OpError)) -> Self {
        Halt::Failed(phase, e)
    }
}

/// What every phase shares: the request, progress, and the stop flags.
pub(super) struct Run<'a> {
    pub(super) cfg: &'a Config,
    pub(super) req: &'a DeployRequest,
    on_event: &'a (dyn Fn(&DeployEvent) + Sync),
    /// Set by the operator: call the deploy off while nothing is published (or the
    /// smoke runs).
    cancel: &'a AtomicBool,
    /// Set when a host fails: the others stop early.
    stop: AtomicBool,
    /// Set when a host's smoke did not pass: smokes not started yet are skipped.
    smoke_failed: AtomicBool,
}

impl<'a> Run<'a> {
    pub(super) fn new(
        cfg: &'a Config,
        req: &'a DeployRequest,
        on_event: &'a (dyn Fn(&DeployEvent) + Sync),
        cancel: &'a AtomicBool,
    ) -> Self {
        Run {
            cfg,
            req,
            on_event,
            cancel,
            stop: AtomicBool::new(false),
            smoke_failed: AtomicBool::new(false),
        }
    }

    pub(super) fn event(&self, e: &DeployEvent) {
        (self.on_event)(e)
    }

    pub(super) fn emit(&self, host: &str, phase: Phase, sent: u64, total: u64) {
        self.event(&DeployEvent::Host {
            host: host.to_string(),
            phase,
            sent,
            total,
        })
    }

    /// A host failed, or the operator called the deploy off.
    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed)
    }

    pub(super) fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Called off by the operator, with no host failing.
    pub(super) fn cancelled_only(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) && !self.stop.load(Ordering::Relaxed)
    }

    /// Records that `h` failed in `phase` (and says so).
    pub(super) fn fail(&self, h: &mut Host, phase: Phase, e: &OpError) {
        h.report.status = HostStatus::Failed {
            phase,
            error: e.to_string(),
            code: e.exit_code(),
        };
        self.emit(&h.cfg.name, Phase::Failed, 0, 0);
    }
}

/// Connect, lock, scan (the light scan: no sizes, ledger or jobs, which a deploy
/// does not use): `Idle` → `Locked`. The leader's lock first: the other
/// hosts are locked only once it is held, and not at all if it could not be
/// (they stay `Idle`: not deployed).
pub(super) fn connect(h: &mut Host, run: &Run, leader: &Leader) {
    if !matches!(h.stage, HostStage::Idle) {
        return;
    }
    match connect_locked(h, run, leader) {
        Ok(Some((conn, state))) => h.stage = HostStage::Locked { conn, state },
        Ok(None) => {}
        Err((phase, e)) => {
            run.fail(h, phase, &e);
            run.stop.store(true, Ordering::Relaxed);
        }
    }
}

#[allow(clippy::result_large_err)]
fn connect_locked(
    h: &mut Host,
    run: &Run,
    leader: &Leader,
) -> Result<Option<(Conn, HostState)>, (Phase, OpError)> {
    let host = h.cfg;
    let is_leader = host.name == leader.name;
    let mut settle = SettleOnDrop(is_leader.then_some(leader));
    run.emit(&host.name, Phase::Connect, 0, 0);
    // The lock's connection opens beside the deploy's own, in parallel: its holder
    // takes it over, and makes the scan in the lock's answer (one round trip).
    let (t, lock_t) = h
        .report
        .timed("connect", || remote::open_two(run.cfg, host));
    let t = t.map_err(|e| (Phase::Connect, e.into()))?;
    let lock_t = lock_t.map_err(|e| (Phase::Connect, e.into()))?;
    if !is_leader && !leader.wait() {
        return Ok(None);
    }
    run.emit(&host.name, Phase::Lock, 0, 0);
    // (The deploy's own session shell starts meanwhile.)
    let (lock, state) = h
        .report
        .timed("lock", || {
            lock_and_scan_on(lock_t, t.as_ref(), host, Action::Deploy)
        })
        .map_err(|e| (Phase::Lock, e))?;
    if let Some(l) = settle.0.take() {
        l.settle(true);
    }
    Ok(Some((Conn { lock, t }, state)))
}

/// `Locked` → `Named`.
pub(super) fn name(h: &mut Host, name: ReleaseName) {
    h.report.release = Some(name.to_string());
    h.stage = match h.take() {
        HostStage::Locked { conn, state } => HostStage::Named { conn, state, name },
        other => other,
    };
}

/// What staging needs besides the host: the same for every host.
pub(super) struct Files<'a> {
    pub(super) files: &'a [LocalFile],
    pub(super) manifest_files: &'a [ManifestFile],
    pub(super) dirs: &'a [String],
    pub(super) created_at: &'a str,
    pub(super) created_by: &'a str,
    /// The most upload lanes a host may use ([`plan::upload::lanes_per_host`]).
    pub(super) lanes: usize,
}

/// Stage (prepare, upload, verify): `Named` → `Staged`, or `Halted`.
pub(super) fn stage(h: &mut Host, run: &Run, cx: &Files) {
    if run.stopped() {
        return;
    }
    let HostStage::Named { conn, state, name } = h.take() else {
        return;
    };
    let manifest = Manifest {
        name: name.to_string(),
        created_at: cx.created_at.to_string(),
        created_by: cx.created_by.to_string(),
        message: run.req.message.clone(),
        files: cx.manifest_files.to_vec(),
    };
    match stage_files(h, run, &conn, state, &name, &manifest, cx) {
        Ok(live) => {
            let b = h.report.uploaded_bytes;
            run.emit(&h.cfg.name, Phase::Staged, b, b);
            h.stage = HostStage::Staged(Release { conn, name, live });
        }
        Err(Halt::CalledOff) => {
            run.emit(&h.cfg.name, Phase::Aborted, 0, 0);
            h.stage = HostStage::Halted { conn, name };
        }
        Err(Halt::Failed(phase, e)) => {
            run.fail(h, phase, &e);
            run.stop.store(true, Ordering::Relaxed);
            h.stage = HostStage::Halted { conn, name };
        }
    }
}

/// Phase 1 on one host, under the lock `connect` took: the live release, if staged.
#[allow(clippy::too_many_arguments)]
fn stage_files(
    h: &mut Host,
    run: &Run,
    conn: &Conn,
    state: HostState,
    name: &ReleaseName,
    manifest: &Manifest,
    cx: &Files,
) -> Result<Option<ReleaseName>, Halt> {
    let host = h.cfg;
    let t = conn.t.as_ref();
    let lock = &conn.lock;
    let emit = |phase, sent, total| run.emit(&host.name, phase, sent, total);
    if state.release(name.as_str()).is_some() {
        return Err(Halt::Failed(
            Phase::Lock,
            OpError::Conflict(format!(
                "{name} was created meanwhile on this host (another deploy?)"
            )),
        ));
    }
    if run.req.switch && state.link == LinkState::NotSymlink {
        return Err(Halt::Failed(
            Phase::Lock,
            OpError::Conflict(format!(
                "{} in {} is a real directory or file, not a symlink: relman will not replace it",
                printable(&host.link),
                printable(&state.root_abs)
            )),
        ));
    }
    let live = state.current().cloned();
    h.report.from = live.as_ref().map(ToString::to_string);
    let live_manifest = live
        .as_ref()
        .and_then(|l| state.release(l.as_str()))
        .and_then(|r| r.manifest());
    // Candidates for a hard link: what the live manifest lists identically, or —
    // without a manifest — every file (the host compares path and size, then hashes).
    let candidates: Vec<usize> = match (&live, live_manifest) {
        (Some(_), Some(m)) => plan::delta(cx.manifest_files, Some(m))
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a, FileAction::Link { .. }))
            .map(|(i, _)| i)
            .collect(),
        (Some(_), None) => (0..cx.files.len()).collect(),
        (None, _) => Vec::new(),
    };
    if run.stopped() {
        return Err(Halt::CalledOff);
    }
    emit(Phase::Stage, 0, 0);
    let t0 = Instant::now();
    let prepared = host::prepare(
        t,
        host,
        lock,
        name,
        live.as_ref(),
        cx.files,
        cx.dirs,
        &candidates,
    )
    .map_err(|e| (Phase::Stage, e))?;
    h.report.timings.push(("prepare", t0.elapsed()));
    h.report.stale_removed = prepared.stale;
    for n in prepared.stale_left {
        h.report.warnings.push(format!(
            "the stale upload {} could not be removed yet; the next deploy or prune retries",
            printable(&n)
        ));
    }
    h.report.linked_files = prepared.linked.len();
    let mut is_linked = vec![false; cx.files.len()];
    for &i in &prepared.linked {
        is_linked[i] = true;
    }
    let uploaded: Vec<usize> = (0..cx.files.len()).filter(|&i| !is_linked[i]).collect();
    let total: u64 = uploaded.iter().map(|&i| cx.files[i].size).sum();
    emit(Phase::Upload, 0, total);
    if !uploaded.is_empty() {
        let stop = || run.stopped();
        let mut progress = |sent: u64| emit(Phase::Upload, sent.min(total), total);
        // A rejected candidate's hard link is still in the staging directory.
        let mut left = vec![false; cx.files.len()];
        for &i in &prepared.rejected {
            left[i] = true;
        }
        let refs: Vec<host::Outgoing> = uploaded.iter().map(|&i| (&cx.files[i], left[i])).collect();
        let t0 = Instant::now();
        match host::upload(t, host, lock, name, refs, cx.lanes, &stop, &mut progress) {
            Ok(Sent::All(_)) => {}
            Ok(Sent::CalledOff) => return Err(Halt::CalledOff),
            Err(e) => return Err(Halt::Failed(Phase::Upload, e)),
        }
        h.report.timings.push(("upload", t0.elapsed()));
    }
    h.report.uploaded_files = uploaded.len();
    h.report.uploaded_bytes = total;
    emit(Phase::Verify, total, total);
    let text = serde_json::to_string(manifest).map_err(|e| {
        (
            Phase::Verify,
            OpError::Failed(format!("the manifest could not be written: {e}")),
        )
    })?;
    let mfile = host::manifest_file(&text);
    let t0 = Instant::now();
    host::verify(t, host, lock, name, cx.files, &is_linked, &mfile, &text)
        .map_err(|e| (Phase::Verify, e))?;
    h.report.timings.push(("verify", t0.elapsed()));
    Ok(live)
}

/// Publish (rename into the root): `Staged` → `Published`, or `Halted`.
pub(super) fn publish(h: &mut Host, run: &Run) {
    run.emit(&h.cfg.name, Phase::Publish, 0, 0);
    let HostStage::Staged(r) = h.take() else {
        return;
    };
    let history = (!run.req.switch).then(|| {
        let note = if run.req.message.is_empty() {
            NO_SWITCH_NOTE.to_string()
        } else {
            format!("{NO_SWITCH_NOTE}: {}", run.req.message)
        };
        HistoryLine::new(Action::Deploy)
            .to(Some(r.name.as_str()))
            .note(Some(&note))
            .on_host(HostField::From)
    });
    let t0 = Instant::now();
    let res = host::publish(r.conn.t.as_ref(), h.cfg, &r.conn.lock, &r.name, history);
    h.report.timings.push(("publish", t0.elapsed()));
    match res {
        Ok(from) => {
            h.report.from = from.or(h.report.from.take());
            h.stage = HostStage::Published(r);
        }
        Err(e) => {
            run.fail(h, Phase::Publish, &e);
            h.stage = HostStage::Halted {
                conn: r.conn,
                name: r.name,
            };
        }
    }
}

/// `--smoke`: runs the smoke on the published release (through the host's
/// launcher, on the deploy's connection; the lock stays held). `Published` stays
/// `Published`; the result is in the report. Skipped (no result) once another
/// host's smoke did not pass.
pub(super) fn smoke(h: &mut Host, run: &Run, smoke: &Smoke) {
    let HostStage::Published(r) = &h.stage else {
        return;
    };
    if run.smoke_failed.load(Ordering::Relaxed) || run.cancelled() {
        return;
    }
    run.emit(&h.cfg.name, Phase::Smoke, 0, 0);
    let stop = || run.cancelled();
    let res = smoke::run(r.conn.t.as_ref(), h.cfg, r.name.as_str(), smoke, &stop);
    h.report.timings.push(("smoke", res.duration));
    if res.passed() {
        run.emit(&h.cfg.name, Phase::SmokePassed, 0, 0);
    } else {
        run.smoke_failed.store(true, Ordering::Relaxed);
        run.emit(&h.cfg.name, Phase::Failed, 0, 0);
    }
    h.report.smoke = Some(res);
}

/// A guard refused the release: marks it bad here (history `refuse`, `note` says
/// why, `from` the live release) under the lock, and leaves the link alone:
/// `Published` → `Unswitched`, status `Refused`. Where it cannot be marked (the
/// history cannot be written), it is withdrawn instead, so no one switches to it.
pub(super) fn refuse(h: &mut Host, run: &Run, note: &str) {
    if !h.stage.is_published() {
        return;
    }
    let HostStage::Published(r) = h.take() else {
        return;
    };
    run.emit(&h.cfg.name, Phase::Refuse, 0, 0);
    let line = HistoryLine::new(Action::Refuse)
        .to(Some(r.name.as_str()))
        .note(Some(note))
        .on_host(HostField::From);
    let res = host::refuse(r.conn.t.as_ref(), h.cfg, &r.conn.lock, &r.name, &line);
    if let Err(e) = &res {
        // Not marked bad, it must not stay to be switched to: withdraw it here.
        let warning = match host::unpublish(r.conn.t.as_ref(), h.cfg, &r.conn.lock, &r.name) {
            Ok(()) => format!(
                "{} could not be marked bad here ({e}), so it was withdrawn from this host",
                r.name
            ),
            Err(e2) => format!(
                "{} could not be marked bad here ({e}) nor withdrawn ({e2}): do not switch to it",
                r.name
            ),
        };
        h.report.warnings.push(warning);
    }
    h.report.status = HostStatus::Refused {
        marked: res.is_ok(),
    };
    h.stage = HostStage::Unswitched { _kept: r.conn };
}

/// Switch (the same code as `relman switch`, history `deploy`; with the deploy's
/// `--probation`, if any), or with `--no-switch` nothing more: `Published` → `Live`,
/// or `Unswitched`. Canaries (stage `Canary`) are left to [`super::canary`].
pub(super) fn switch(h: &mut Host, run: &Run) {
    if !h.stage.is_published() {
        return;
    }
    let HostStage::Published(r) = h.take() else {
        return;
    };
    if !run.req.switch {
        h.report.status = HostStatus::Published;
        h.stage = HostStage::Live(r.conn);
        return;
    }
    run.emit(&h.cfg.name, Phase::Switch, 0, 0);
    let live = r.live.as_ref().map(|l| l.as_str().to_string());
    let note = (!run.req.message.is_empty()).then_some(run.req.message.as_str());
    let t0 = Instant::now();
    let probation = run.req.probation.as_ref();
    let res = switch_locked_on_probation(
        r.conn.t.as_ref(),
        h.cfg,
        &r.conn.lock,
        &r.name,
        Expect::Release(live.as_deref()),
        Action::Deploy,
        note,
        probation,
    );
    h.report.timings.push(("switch", t0.elapsed()));
    match res {
        Ok(change) => {
            h.report.status = HostStatus::Switched;
            h.report.from = change.from;
            h.report.probation = probation.copied();
            h.stage = HostStage::Live(r.conn);
        }
        Err(e) => {
            h.report.status = HostStatus::SwitchFailed {
                error: e.to_string(),
                code: e.exit_code(),
            };
            run.emit(&h.cfg.name, Phase::Failed, 0, 0);
            h.stage = HostStage::Unswitched { _kept: r.conn };
        }
    }
}

/// Prune under the same lock (if asked), then let go: every host → `Done`.
pub(super) fn prune(h: &mut Host, run: &Run) {
    let stage = h.take();
    if let HostStage::Live(conn) = &stage {
        if (run.req.prune || run.cfg.prune_after_deploy) && h.report.ok() {
            run.emit(&h.cfg.name, Phase::Prune, 0, 0);
            let t0 = Instant::now();
            h.report.prune = Some(
                prune_locked(conn.t.as_ref(), h.cfg, &conn.lock, run.cfg.keep)
                    .map_err(|e| e.to_string()),
            );
            h.report.timings.push(("prune", t0.elapsed()));
        }
    }
    if h.report.ok() {
        let b = h.report.uploaded_bytes;
        run.emit(&h.cfg.name, Phase::Done, b, b);
    }
    drop(stage);
}

/// The deploy stopped: removes what `h` holds of it — a published release is taken
/// back out of the root, a staging directory removed — and lets go (`Done`).
pub(super) fn clean_up(h: &mut Host, run: &Run) {
    let r = match h.take() {
        HostStage::Published(r) => host::unpublish(r.conn.t.as_ref(), h.cfg, &r.conn.lock, &r.name)
            .map_err(|e| (r.name, e)),
        stage @ HostStage::Canary { .. } => {
            // A canary is live on the release: back to the one it had (marked bad).
            h.stage = stage;
            super::canary::roll_back(h, run, "canary: the deploy stopped during the watch");
            return;
        }
        HostStage::Staged(Release { conn, name, .. })
        | HostStage::Named { conn, name, .. }
        | HostStage::Halted { conn, name } => {
            host::abort(conn.t.as_ref(), h.cfg, &conn.lock, &name).map_err(|e| (name, e))
        }
        _ => Ok(()),
    };
    if let Err((name, e)) = r {
        h.report.warnings.push(format!(
            "could not remove the unfinished release {name}: {e} (the next deploy or prune removes it)"
        ));
    }
    if h.report.status == HostStatus::NotDeployed {
        run.emit(&h.cfg.name, Phase::Aborted, 0, 0);
    }
}
