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
//! If any host fails phase 1, no host publishes anything and every staging
//! directory is removed. An interrupted relman leaves at most a staging directory
//! (never listed as a release), removed by the next deploy or prune; the lock dies
//! with the connection.

pub mod host;
pub mod local;
mod report;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use super::leader::{Leader, SettleOnDrop};
use super::link::{Expect, switch_locked};
use super::lock::{HostLock, acquire};
use super::prune::prune_locked;
use super::scan::scan;
use super::{OpError, now_rfc3339, operator};
use crate::config::{Config, HostConfig};
use crate::model::{Action, HostState, LinkState, Manifest, ManifestFile, ReleaseName, printable};
use crate::plan::{self, FileAction, NO_SWITCH_NOTE};
use crate::remote::{self, Transport};
pub use local::{InputError, LocalFile};
pub use report::{DeployEvent, DeployReport, HostReport, HostStatus, Outcome, Phase, human_bytes};

/// What the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    pub paths: Vec<PathBuf>,
    pub message: String,
    /// Switch the link to the new release (false: `--no-switch`).
    pub switch: bool,
    /// Prune after the deploy (`--prune`; the config's `prune_after_deploy` also does).
    pub prune: bool,
}

/// One host's working state through the phases.
struct Slot<'c> {
    host: &'c HostConfig,
    t: Option<Box<dyn Transport>>,
    state: Option<HostState>,
    lock: Option<HostLock>,
    name: Option<ReleaseName>,
    live: Option<ReleaseName>,
    /// Phase 1 passed here.
    staged: bool,
    published: bool,
    report: HostReport,
}

impl Slot<'_> {
    fn fail(&mut self, phase: Phase, e: &OpError) {
        self.report.status = HostStatus::Failed {
            phase,
            error: e.to_string(),
            code: e.exit_code(),
        };
    }
}

/// Runs `f` on every slot, `parallel` at a time.
fn par_each<'c>(slots: &[Mutex<Slot<'c>>], parallel: usize, f: impl Fn(&mut Slot<'c>) + Sync) {
    par_each_from(slots, parallel, 0, f)
}

/// [`par_each`], starting with `slots[first]` (then the others in order): the
/// crate's one fan-out ([`super::fleet::par_map_from`]) over the slots.
fn par_each_from<'c>(
    slots: &[Mutex<Slot<'c>>],
    parallel: usize,
    first: usize,
    f: impl Fn(&mut Slot<'c>) + Sync,
) {
    super::fleet::par_map_from(slots.len(), parallel, first, |i| {
        let mut g = slots[i].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g);
    });
}

/// Deploys `req.paths` to `hosts` (see the module doc). `Err` only for bad local
/// input, found before anything is sent; everything else is in the report.
/// `cancel` calls the deploy off while nothing is published yet.
pub fn deploy(
    cfg: &Config,
    hosts: &[&HostConfig],
    req: &DeployRequest,
    on_event: &(dyn Fn(&DeployEvent) + Sync),
    cancel: &AtomicBool,
) -> Result<DeployReport, InputError> {
    let entries = local::walk(&req.paths)?;
    let bytes: u64 = entries.iter().map(|e| e.size).sum();
    if hosts.is_empty() {
        return Ok(DeployReport {
            release: None,
            switch: req.switch,
            files: entries.len(),
            bytes,
            outcome: Outcome::NotDeployed,
            hosts: Vec::new(),
        });
    }
    on_event(&DeployEvent::Started {
        hosts: hosts.iter().map(|h| h.name.clone()).collect(),
        files: entries.len(),
        bytes,
    });
    let emit = |host: &str, phase: Phase, sent: u64, total: u64| {
        on_event(&DeployEvent::Host {
            host: host.to_string(),
            phase,
            sent,
            total,
        })
    };
    // Set when a host fails or the operator cancels: the others stop early.
    let stop = AtomicBool::new(false);
    let stopped = || stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed);
    let slots: Vec<Mutex<Slot>> = hosts
        .iter()
        .map(|h| {
            Mutex::new(Slot {
                host: h,
                t: None,
                state: None,
                lock: None,
                name: None,
                live: None,
                staged: false,
                published: false,
                report: HostReport::new(&h.name),
            })
        })
        .collect();

    // Hash while connecting, locking and scanning (both take a while; neither needs
    // the other). Each host is locked before its scan, so the scan that names the
    // release and picks the files to link is the state the deploy works on.
    let leader = Leader::of(hosts);
    let hashed = std::thread::scope(|s| {
        let hasher = s.spawn(|| local::hash(&entries, local::hash_threads()));
        par_each_from(&slots, cfg.parallel, leader.index, |slot| {
            if let Err((phase, e)) = connect(slot, cfg, &leader, &emit) {
                slot.fail(phase, &e);
                slot.lock.take();
                emit(&slot.host.name, Phase::Failed, 0, 0);
                stop.store(true, Ordering::Relaxed);
            }
        });
        hasher.join()
    });
    let files = match hashed {
        Ok(r) => r?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let mut slots: Vec<Slot> = slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect();
    let mut report = DeployReport {
        release: None,
        switch: req.switch,
        files: files.len(),
        bytes,
        outcome: Outcome::NotDeployed,
        hosts: Vec::new(),
    };
    if stopped() {
        if cancel.load(Ordering::Relaxed) {
            report.outcome = Outcome::Cancelled;
        }
        for s in &slots {
            if s.report.status == HostStatus::NotDeployed {
                emit(&s.host.name, Phase::Aborted, 0, 0);
            }
        }
        report.hosts = slots.into_iter().map(|s| s.report).collect();
        return Ok(report);
    }

    // One name for the fleet.
    let taken: Vec<Vec<ReleaseName>> = slots
        .iter()
        .filter_map(|s| s.state.as_ref().map(plan::taken_names))
        .collect();
    let taken_refs: Vec<&[ReleaseName]> = taken.iter().map(Vec::as_slice).collect();
    // The later of this machine's clock and the hosts' (as their scans said), so an
    // operator whose clock runs late can't name a release older than the hosts' now.
    let now = slots
        .iter()
        .filter_map(|s| s.state.as_ref().map(|st| st.scanned_at))
        .fold(SystemTime::now(), SystemTime::max);
    let base = plan::deploy_name(&hosts[0].prefix, now, &taken_refs);
    report.release = Some(base.to_string());
    on_event(&DeployEvent::Named {
        release: base.to_string(),
    });
    let created_at = now_rfc3339();
    let created_by = operator();
    let manifest_files: Vec<ManifestFile> = files.iter().map(LocalFile::manifest_file).collect();
    let dirs = local::dirs_of(files.iter().map(|f| f.rel_path.as_str()));
    for s in &mut slots {
        let name = base.with_seq(&s.host.prefix, base.seq());
        s.report.release = Some(name.to_string());
        s.name = Some(name);
    }

    // Phase 1.
    let slots: Vec<Mutex<Slot>> = slots.into_iter().map(Mutex::new).collect();
    par_each(&slots, cfg.parallel, |slot| {
        if stopped() {
            return;
        }
        let host = slot.host;
        let name = slot.name.clone().expect("named above");
        let manifest = Manifest {
            name: name.to_string(),
            created_at: created_at.clone(),
            created_by: created_by.clone(),
            message: req.message.clone(),
            files: manifest_files.clone(),
        };
        let ctx = Stage {
            files: &files,
            manifest_files: &manifest_files,
            dirs: &dirs,
            manifest: &manifest,
            switch: req.switch,
            stop: &StopFlags {
                stop: &stop,
                cancel,
            },
            emit: &emit,
        };
        match stage(slot, &name, &ctx) {
            Ok(()) => {
                slot.staged = true;
                emit(
                    &host.name,
                    Phase::Staged,
                    slot.report.uploaded_bytes,
                    slot.report.uploaded_bytes,
                );
            }
            Err((phase, e)) => {
                if e.to_string().contains(host::STOPPED) {
                    emit(&host.name, Phase::Aborted, 0, 0);
                } else {
                    slot.fail(phase, &e);
                    emit(&host.name, Phase::Failed, 0, 0);
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    });

    if stopped() || slots.iter().any(|s| !lock(s).staged) {
        if cancel.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
            report.outcome = Outcome::Cancelled;
        }
        par_each(&slots, cfg.parallel, |slot| {
            clean_up(slot, false);
            if slot.report.status == HostStatus::NotDeployed {
                emit(&slot.host.name, Phase::Aborted, 0, 0);
            }
        });
        report.hosts = finish(slots);
        return Ok(report);
    }

    // Phase 2a: publish everywhere, or nowhere.
    par_each(&slots, cfg.parallel, |slot| {
        emit(&slot.host.name, Phase::Publish, 0, 0);
        let name = slot.name.clone().expect("named");
        let history = (!req.switch).then(|| {
            let note = if req.message.is_empty() {
                NO_SWITCH_NOTE.to_string()
            } else {
                format!("{NO_SWITCH_NOTE}: {}", req.message)
            };
            history_parts(&name, &note)
        });
        let (Some(t), Some(lock)) = (slot.t.as_deref(), slot.lock.as_ref()) else {
            return;
        };
        let t0 = Instant::now();
        let r = host::publish(t, slot.host, lock, &name, history);
        slot.report.timings.push(("publish", t0.elapsed()));
        match r {
            Ok(from) => {
                slot.published = true;
                slot.report.from = from.or(slot.report.from.take());
            }
            Err(e) => {
                slot.fail(Phase::Publish, &e);
                emit(&slot.host.name, Phase::Failed, 0, 0);
            }
        }
    });
    if slots.iter().any(|s| !lock(s).published) {
        par_each(&slots, cfg.parallel, |slot| {
            clean_up(slot, true);
            if slot.report.status == HostStatus::NotDeployed {
                emit(&slot.host.name, Phase::Aborted, 0, 0);
            }
        });
        report.hosts = finish(slots);
        return Ok(report);
    }

    // Phase 2b: switch everywhere (the same code as `relman switch`).
    let note = (!req.message.is_empty()).then_some(req.message.as_str());
    par_each(&slots, cfg.parallel, |slot| {
        let name = slot.name.clone().expect("named");
        let (Some(t), Some(lock)) = (slot.t.as_deref(), slot.lock.as_ref()) else {
            return;
        };
        if !req.switch {
            slot.report.status = HostStatus::Published;
            return;
        }
        emit(&slot.host.name, Phase::Switch, 0, 0);
        let live = slot.live.as_ref().map(|l| l.as_str().to_string());
        let t0 = Instant::now();
        let r = switch_locked(
            t,
            slot.host,
            lock,
            &name,
            Expect::Release(live.as_deref()),
            Action::Deploy,
            note,
        );
        slot.report.timings.push(("switch", t0.elapsed()));
        match r {
            Ok(change) => {
                slot.report.status = HostStatus::Switched;
                slot.report.from = change.from;
            }
            Err(e) => {
                slot.report.status = HostStatus::SwitchFailed {
                    error: e.to_string(),
                    code: e.exit_code(),
                };
                emit(&slot.host.name, Phase::Failed, 0, 0);
            }
        }
    });

    // Prune, under the same lock.
    let prune = req.prune || cfg.prune_after_deploy;
    par_each(&slots, cfg.parallel, |slot| {
        if prune && slot.report.ok() {
            if let (Some(t), Some(lock)) = (slot.t.as_deref(), slot.lock.as_ref()) {
                emit(&slot.host.name, Phase::Prune, 0, 0);
                let t0 = Instant::now();
                slot.report.prune =
                    Some(prune_locked(t, slot.host, lock, cfg.keep).map_err(|e| e.to_string()));
                slot.report.timings.push(("prune", t0.elapsed()));
            }
        }
        if slot.report.ok() {
            let b = slot.report.uploaded_bytes;
            emit(&slot.host.name, Phase::Done, b, b);
        }
        slot.lock.take();
    });
    let hosts_out = finish(slots);
    let switched = hosts_out
        .iter()
        .filter(|h| h.status == HostStatus::Switched)
        .count();
    report.outcome = if hosts_out.iter().all(HostReport::ok) {
        Outcome::Deployed
    } else if switched > 0 {
        Outcome::Diverged
    } else {
        Outcome::NotSwitched
    };
    report.hosts = hosts_out;
    Ok(report)
}

fn lock<'a, 'c>(m: &'a Mutex<Slot<'c>>) -> std::sync::MutexGuard<'a, Slot<'c>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn finish(slots: Vec<Mutex<Slot>>) -> Vec<HostReport> {
    slots
        .into_iter()
        .map(|m| {
            let mut s = m.into_inner().unwrap_or_else(|p| p.into_inner());
            // Release the lock before the transport goes.
            s.lock.take();
            let steps: Vec<String> = s
                .report
                .timings
                .iter()
                .map(|(k, d)| format!("{k} {}ms", d.as_millis()))
                .collect();
            tracing::info!(
                "deploy {} on {}: {:?}; {} sent, {} linked; {}",
                s.report.release.as_deref().unwrap_or("-"),
                s.report.host,
                s.report.status,
                s.report.uploaded_bytes,
                s.report.linked_files,
                steps.join(", ")
            );
            s.report
        })
        .collect()
}

/// `history` for `host::publish`: the JSON line around its `from`.
fn history_parts(name: &ReleaseName, note: &str) -> (String, String) {
    let head = format!(
        "{{\"at\":{},\"by\":{},\"action\":\"deploy\",\"from\":",
        serde_json::to_string(&now_rfc3339()).expect("string"),
        serde_json::to_string(&operator()).expect("string"),
    );
    let tail = format!(
        ",\"to\":{},\"note\":{}}}",
        serde_json::to_string(name.as_str()).expect("string"),
        serde_json::to_string(note).expect("string"),
    );
    (head, tail)
}

/// Removes what a host holds of a deploy that is called off: the published release
/// (`published`: taken back out of the root) or the staging directory.
fn clean_up(slot: &mut Slot, withdraw: bool) {
    let (Some(t), Some(lock), Some(name)) =
        (slot.t.as_deref(), slot.lock.as_ref(), slot.name.as_ref())
    else {
        return;
    };
    let r = if withdraw && slot.published {
        host::unpublish(t, slot.host, lock, name)
    } else {
        host::abort(t, slot.host, lock, name)
    };
    if let Err(e) = r {
        slot.report.warnings.push(format!(
            "could not remove the unfinished release {name}: {e} (the next deploy or prune removes it)"
        ));
    }
    slot.lock.take();
}

struct StopFlags<'a> {
    stop: &'a AtomicBool,
    cancel: &'a AtomicBool,
}

/// What phase 1 needs besides the slot.
struct Stage<'a> {
    files: &'a [LocalFile],
    manifest_files: &'a [ManifestFile],
    dirs: &'a [String],
    manifest: &'a Manifest,
    switch: bool,
    stop: &'a StopFlags<'a>,
    emit: &'a (dyn Fn(&str, Phase, u64, u64) + Sync),
}

/// Connects to a host, takes its lock (kept in the slot until the end) and scans it.
/// The leader's lock first: the other hosts are locked only once it is held, and
/// not at all if it could not be (their slots stay untouched: not deployed).
#[allow(clippy::result_large_err)]
fn connect(
    slot: &mut Slot,
    cfg: &Config,
    leader: &Leader,
    emit: &(dyn Fn(&str, Phase, u64, u64) + Sync),
) -> Result<(), (Phase, OpError)> {
    let host = slot.host;
    let is_leader = host.name == leader.name;
    let mut settle = SettleOnDrop(is_leader.then_some(leader));
    emit(&host.name, Phase::Connect, 0, 0);
    let t = slot
        .report
        .timed("connect", || remote::open(cfg, host))
        .map_err(|e| (Phase::Connect, e.into()))?;
    if !is_leader && !leader.wait() {
        return Ok(());
    }
    emit(&host.name, Phase::Lock, 0, 0);
    let lock = slot
        .report
        .timed("lock", || acquire(t.as_ref(), host, Action::Deploy))
        .map_err(|e| (Phase::Lock, e))?;
    if let Some(l) = settle.0.take() {
        l.settle(true);
    }
    slot.lock = Some(lock);
    let state = slot
        .report
        .timed("scan", || scan(t.as_ref(), host))
        .map_err(|e| (Phase::Connect, e))?;
    slot.t = Some(t);
    slot.state = Some(state);
    Ok(())
}

/// Phase 1 on one host, under the lock `connect` took.
#[allow(clippy::result_large_err)]
fn stage(slot: &mut Slot, name: &ReleaseName, cx: &Stage) -> Result<(), (Phase, OpError)> {
    let host = slot.host;
    let t = slot.t.as_deref().expect("connected");
    let emit = |phase, sent, total| (cx.emit)(&host.name, phase, sent, total);
    let state = slot.state.take().expect("scanned under the lock");
    if state.release(name.as_str()).is_some() {
        return Err((
            Phase::Lock,
            OpError::Conflict(format!(
                "{name} was created meanwhile on this host (another deploy?)"
            )),
        ));
    }
    if cx.switch && state.link == LinkState::NotSymlink {
        return Err((
            Phase::Lock,
            OpError::Conflict(format!(
                "{} in {} is a real directory or file, not a symlink: relman will not replace it",
                printable(&host.link),
                printable(&state.root_abs)
            )),
        ));
    }
    let live = state.current().cloned();
    slot.report.from = live.as_ref().map(ToString::to_string);
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
    slot.live = live.clone();
    let lock = slot.lock.as_ref().expect("locked in connect");
    if cx.stop.stop.load(Ordering::Relaxed) || cx.stop.cancel.load(Ordering::Relaxed) {
        return Err((Phase::Stage, OpError::Failed(host::STOPPED.into())));
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
    slot.report.timings.push(("prepare", t0.elapsed()));
    slot.report.stale_removed = prepared.stale;
    for n in prepared.stale_left {
        slot.report.warnings.push(format!(
            "the stale upload {} could not be removed yet; the next deploy or prune retries",
            printable(&n)
        ));
    }
    slot.report.linked_files = prepared.linked.len();
    let mut is_linked = vec![false; cx.files.len()];
    for &i in &prepared.linked {
        is_linked[i] = true;
    }
    let uploaded: Vec<usize> = (0..cx.files.len()).filter(|&i| !is_linked[i]).collect();
    let total: u64 = uploaded.iter().map(|&i| cx.files[i].size).sum();
    emit(Phase::Upload, 0, total);
    if !uploaded.is_empty() {
        let stop =
            || cx.stop.stop.load(Ordering::Relaxed) || cx.stop.cancel.load(Ordering::Relaxed);
        let mut progress = |sent: u64| emit(Phase::Upload, sent.min(total), total);
        let refs: Vec<&LocalFile> = uploaded.iter().map(|&i| &cx.files[i]).collect();
        let t0 = Instant::now();
        host::upload(t, host, lock, name, refs, &stop, &mut progress)
            .map_err(|e| (Phase::Upload, e))?;
        slot.report.timings.push(("upload", t0.elapsed()));
    }
    slot.report.uploaded_files = uploaded.len();
    slot.report.uploaded_bytes = total;
    emit(Phase::Verify, total, total);
    let text = serde_json::to_string(cx.manifest).expect("a manifest serializes");
    let mfile = host::manifest_file(&text);
    let t0 = Instant::now();
    host::verify(t, host, lock, name, cx.files, &is_linked, &mfile, &text)
        .map_err(|e| (Phase::Verify, e))?;
    slot.report.timings.push(("verify", t0.elapsed()));
    Ok(())
}
