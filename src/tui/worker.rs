//! The console's background worker: it owns one transport per host (opened lazily,
//! reopened after a connection error), takes `Cmd`s over a channel and sends `Event`s
//! back. Every blocking operation runs in `spawn_blocking`; hosts work in parallel,
//! at most `cfg.parallel` at once, one operation at a time per host. A host that is
//! down reports its error while the others proceed. The UI never waits on it.
//! Besides the operations: the lock holder for the unlock dialog, a host's check (as
//! the CLI's rows) and a release's recent runs (a request the operator has moved past
//! while it waited for the host is dropped). A deploy's guards go to `ops::deploy` as
//! the CLI gives them; its canary watch, a failed smoke's output and which guard
//! refused come back as events. `accept` takes the host lock and ends the probation
//! the operator confirmed (`ops::probation::accept_locked`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::{Semaphore, mpsc};

use super::protocol::{Cmd, Event, Failure, Guards, OpKind};
use crate::config::{Config, HostConfig};
use crate::model::printable;
use crate::ops::deploy::{DeployEvent, DeployReport, DeployRequest, Outcome, SmokeStatus};
use crate::ops::hooks::{Hook, HookInput, HookOutput};
use crate::ops::{self, FailureKind, LinkChange, OpError};
use crate::present::{self, summary};
use crate::remote::{self, Transport};

/// Runs the details pane lists for a release (newest first).
pub const RUNS_SHOWN: usize = 20;

type Slot = Arc<tokio::sync::Mutex<Option<Arc<dyn Transport>>>>;

struct Shared {
    cfg: Config,
    slots: HashMap<String, Slot>,
    parallel: Arc<Semaphore>,
    events: mpsc::UnboundedSender<Event>,
    /// Hosts with a scan queued or running: a second refresh of them is dropped.
    scanning: Mutex<HashSet<String>>,
    /// The release whose runs were asked for last, per host: an older request still
    /// queued behind the host's previous operation is dropped (the operator moved on).
    runs_wanted: Mutex<HashMap<String, String>>,
}

/// Starts the worker on the current tokio runtime. Send it `Cmd`s; it reports on
/// `events`. It stops when the command sender is dropped.
pub fn spawn(cfg: Config, events: mpsc::UnboundedSender<Event>) -> mpsc::UnboundedSender<Cmd> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Cmd>();
    let slots = cfg
        .hosts
        .iter()
        .map(|h| (h.name.clone(), Slot::default()))
        .collect();
    let shared = Arc::new(Shared {
        parallel: Arc::new(Semaphore::new(cfg.parallel.max(1))),
        cfg,
        slots,
        events,
        scanning: Mutex::new(HashSet::new()),
        runs_wanted: Mutex::new(HashMap::new()),
    });
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            handle(&shared, cmd);
        }
    });
    tx
}

fn handle(shared: &Arc<Shared>, cmd: Cmd) {
    match cmd {
        Cmd::Refresh { hosts } => {
            for host in hosts {
                let fresh = shared
                    .scanning
                    .lock()
                    .map(|mut s| s.insert(host.clone()))
                    .unwrap_or(true);
                if fresh {
                    tokio::spawn(scan(shared.clone(), host));
                }
            }
        }
        Cmd::PrunePlan { host, keep } => {
            let sh = shared.clone();
            tokio::spawn(async move {
                // The same question `prune --dry-run` asks: the dialog shows the
                // host's answer, not a plan made without it.
                let result = on_host(&sh, &host, move |t, h| {
                    ops::prune::dry_run_with_state(t, h, keep).map(|(s, r)| (s, Box::new(r)))
                })
                .await
                .map_err(|f| f.message);
                let _ = sh.events.send(Event::Plan {
                    host,
                    at: SystemTime::now(),
                    result,
                });
            });
        }
        Cmd::Switch {
            host,
            release,
            expect,
        } => {
            let after = link_hook(shared, Hook::AfterSwitch, Some(release.clone()));
            op(shared, host, OpKind::Switch, move |t, h| {
                let c = after(&h.name, ops::switch(t, h, &release, expect.as_deref()))?;
                Ok(summary::link_done("switched", &c))
            })
        }
        Cmd::Rollback { host, to } => {
            let after = link_hook(shared, Hook::AfterRollback, to.clone());
            op(shared, host, OpKind::Rollback, move |t, h| {
                let c = after(&h.name, ops::rollback(t, h, to.as_deref()))?;
                Ok(summary::link_done("rolled back", &c))
            })
        }
        Cmd::Prune { host, keep } => op(shared, host, OpKind::Prune, move |t, h| {
            let r = ops::prune::prune(t, h, keep, false)?;
            Ok(summary::prune_done(&r))
        }),
        Cmd::Pin {
            host,
            release,
            duration,
            reason,
        } => op(shared, host, OpKind::Pin, move |t, h| {
            let p = ops::pin::pin(t, h, &release, duration, &reason)?;
            Ok(format!("pinned {} until {}", p.release, p.expires_at))
        }),
        Cmd::Unpin { host, release } => op(shared, host, OpKind::Unpin, move |t, h| {
            let n = ops::pin::unpin(t, h, &release, None)?;
            Ok(format!(
                "removed {} from {release}",
                crate::model::plural(n as u64, "pin")
            ))
        }),
        Cmd::Deploy {
            paths,
            message,
            hosts,
            guards,
        } => deploy(shared, paths, message, hosts, guards),
        Cmd::Accept { host, release } => op(shared, host, OpKind::Accept, move |t, h| {
            let name = ops::link::release_arg(h, &release)?;
            let lock = ops::lock::acquire(t, h, crate::model::Action::Accept)?;
            Ok(
                match ops::probation::accept_locked(t, h, &lock, Some(&name))? {
                    ops::probation::Accepted::Ended(p) => format!(
                        "accepted {}: its probation ended ({} of {} failures)",
                        printable(&p.release),
                        p.failures,
                        p.max_failures
                    ),
                    ops::probation::Accepted::NoProbation => {
                        "no probation was set any more: nothing changed".to_string()
                    }
                },
            )
        }),
        Cmd::LockQuery { host } => {
            let sh = shared.clone();
            tokio::spawn(async move {
                let result = on_host(&sh, &host, ops::unlock::current)
                    .await
                    .map_err(|f| f.message);
                let _ = sh.events.send(Event::Lock { host, result });
            });
        }
        Cmd::Unlock { host, lock } => op(shared, host, OpKind::Unlock, move |t, h| {
            Ok(match ops::unlock::unlock(t, h, &lock)? {
                ops::unlock::Unlocked::Broke(l) => format!(
                    "broke the lock of {} ({})",
                    printable(&l.by),
                    printable(&l.action)
                ),
                ops::unlock::Unlocked::WasFree => {
                    "the lock was released meanwhile: nothing to break".to_string()
                }
            })
        }),
        Cmd::Check { host } => {
            let sh = shared.clone();
            tokio::spawn(async move {
                let result = on_host(&sh, &host, ops::check::check).await;
                // The CLI's rows, from the same report (a failed connection is a row).
                let not_applied = sh
                    .cfg
                    .host(&host)
                    .map(|h| h.ssh.not_applied.clone())
                    .unwrap_or_default();
                let result = result.map_err(|f| OpError::Failed(f.message));
                let rows =
                    crate::present::check::rows(&sh.cfg.display_path(), &not_applied, &result);
                let _ = sh.events.send(Event::Checked {
                    host,
                    at: SystemTime::now(),
                    rows,
                });
            });
        }
        Cmd::Runs { host, release } => {
            if let Ok(mut w) = shared.runs_wanted.lock() {
                w.insert(host.clone(), release.clone());
            }
            let sh = shared.clone();
            tokio::spawn(async move {
                let q = ops::runs::RunsQuery {
                    release: Some(release.clone()),
                    limit: RUNS_SHOWN,
                    failed_only: false,
                };
                let wanted = sh.clone();
                let (h2, r2) = (host.clone(), release.clone());
                let result = on_host(&sh, &host, move |t, h| {
                    let still = wanted
                        .runs_wanted
                        .lock()
                        .map(|w| w.get(&h2) == Some(&r2))
                        .unwrap_or(true);
                    if !still {
                        return Ok(None);
                    }
                    ops::runs::runs(t, h, &q).map(Some)
                })
                .await
                .map_err(|f| f.message);
                let result = match result {
                    Ok(None) => return,
                    Ok(Some(runs)) => Ok(runs),
                    Err(e) => Err(e),
                };
                let _ = sh.events.send(Event::Runs {
                    host,
                    release,
                    result,
                });
            });
        }
        Cmd::Complete { input } => {
            let events = shared.events.clone();
            tokio::task::spawn_blocking(move || {
                let candidates = complete_path(&input);
                let _ = events.send(Event::Completions { input, candidates });
            });
        }
        Cmd::Quit => {}
    }
}

fn failure(e: &OpError) -> Failure {
    Failure {
        message: e.to_string(),
        kind: e.kind(),
    }
}

/// Runs `f` on a host's transport in a blocking thread: waits for a parallel slot and
/// for the host's previous operation, opens the transport if needed and drops it after
/// an error that means the connection is gone.
async fn on_host<T, F>(shared: &Arc<Shared>, host: &str, f: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&dyn Transport, &HostConfig) -> Result<T, OpError> + Send + 'static,
{
    let (Some(slot), Some(hc)) = (
        shared.slots.get(host),
        shared.cfg.hosts.iter().find(|h| h.name == host),
    ) else {
        return Err(Failure {
            message: format!("{} is not in the config", printable(host)),
            kind: FailureKind::Usage,
        });
    };
    let Ok(_permit) = shared.parallel.clone().acquire_owned().await else {
        return Err(Failure {
            message: "the worker is shutting down".into(),
            kind: FailureKind::Failed,
        });
    };
    let mut guard = slot.clone().lock_owned().await;
    let cfg = shared.cfg.clone();
    let hc = hc.clone();
    let existing = guard.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let t: Arc<dyn Transport> = match existing {
            Some(t) => t,
            None => match remote::open(&cfg, &hc) {
                Ok(b) => Arc::from(b),
                Err(e) => return (None, Err(OpError::Remote(e))),
            },
        };
        let r = f(t.as_ref(), &hc);
        (Some(t), r)
    })
    .await;
    match joined {
        Ok((t, r)) => {
            // Keep the connection unless it is what failed.
            *guard = match &r {
                Err(e)
                    if e.kind() == FailureKind::Unreachable || matches!(e, OpError::Remote(_)) =>
                {
                    None
                }
                _ => t,
            };
            r.map_err(|e| failure(&e))
        }
        Err(e) => {
            *guard = None;
            Err(Failure {
                message: format!("internal error: {e}"),
                kind: FailureKind::Failed,
            })
        }
    }
}

async fn scan(shared: Arc<Shared>, host: String) {
    let result = on_host(&shared, &host, ops::scan)
        .await
        .map_err(|f| f.message);
    if let Err(e) = &result {
        tracing::warn!(host = %host, "console: scan failed: {e}");
    }
    if let Ok(mut s) = shared.scanning.lock() {
        s.remove(&host);
    }
    let _ = shared.events.send(Event::Scanned {
        host,
        at: SystemTime::now(),
        result,
    });
}

/// Runs `[hooks]` commands as the CLI does (same environment and JSON), on a thread
/// of their own (a hook may take up to `hooks.timeout`), their output discarded (the
/// terminal is the console's); one that did not succeed says so in the footer.
fn run_hooks(shared: &Arc<Shared>, hooks: Vec<Hook>, input: HookInput) {
    if hooks.iter().all(|h| h.command(&shared.cfg.hooks).is_none()) {
        return;
    }
    let cfg_hooks = shared.cfg.hooks.clone();
    let events = shared.events.clone();
    std::thread::spawn(move || {
        for hook in hooks {
            let Some(out) = ops::hooks::run_to(&cfg_hooks, hook, &input, HookOutput::Discard)
            else {
                continue;
            };
            tracing::info!(hook = hook.key(), outcome = ?out, "console: hook ran");
            if let Some(line) = out.report(hook) {
                let _ = events.send(Event::HookFailed { line });
            }
        }
    });
}

/// A switch's or rollback's result, passed through after its hook was started with
/// it (`asked`: the release asked for, named where the change failed).
fn link_hook(
    shared: &Arc<Shared>,
    hook: Hook,
    asked: Option<String>,
) -> impl FnOnce(&str, Result<LinkChange, OpError>) -> Result<LinkChange, OpError> + Send + 'static
{
    let sh = shared.clone();
    move |host, result| {
        let results = [ops::fleet::HostResult {
            host: host.to_string(),
            result,
        }];
        let code = ops::fleet::exit_code(&results);
        let json = present::link_results_json(&results).to_string();
        let input = ops::hooks::link_input(&results, asked.as_deref(), code, json);
        run_hooks(&sh, vec![hook], input);
        let [r] = results;
        r.result
    }
}

fn op<F>(shared: &Arc<Shared>, host: String, kind: OpKind, f: F)
where
    F: FnOnce(&dyn Transport, &HostConfig) -> Result<String, OpError> + Send + 'static,
{
    let sh = shared.clone();
    tokio::spawn(async move {
        tracing::info!(host = %host, op = kind.as_str(), "console: operation starts");
        let result = on_host(&sh, &host, f).await;
        match &result {
            Ok(summary) => tracing::info!(host = %host, op = kind.as_str(), "{summary}"),
            Err(f) => {
                tracing::warn!(host = %host, op = kind.as_str(), kind = ?f.kind, "{}", f.message)
            }
        }
        let _ = sh.events.send(Event::Done {
            host,
            op: kind,
            result,
        });
    });
}

/// Deploys on a blocking thread (`ops::deploy` runs its hosts in parallel itself,
/// over its own connections), forwarding progress as it comes.
fn deploy(
    shared: &Arc<Shared>,
    paths: Vec<PathBuf>,
    message: String,
    hosts: Vec<String>,
    guards: Guards,
) {
    let sh = shared.clone();
    let paths: Vec<PathBuf> = paths.iter().map(|p| expand_home(p)).collect();
    tokio::task::spawn_blocking(move || {
        let send = |e: Event| {
            let _ = sh.events.send(e);
        };
        let on_event = |e: &DeployEvent| match e {
            DeployEvent::Started { files, bytes, .. } => send(Event::DeployStarted {
                files: *files,
                bytes: *bytes,
            }),
            DeployEvent::Named { release } => send(Event::DeployNamed {
                release: release.clone(),
            }),
            DeployEvent::Host {
                host,
                phase,
                sent,
                total,
            } => send(Event::Progress {
                host: host.clone(),
                sent: *sent,
                total: *total,
                phase: present::deploy::phase_word(*phase).to_string(),
            }),
            DeployEvent::Watch {
                host,
                finished,
                min_runs,
                failures,
                left,
            } => send(Event::Watch {
                host: host.clone(),
                finished: *finished,
                min_runs: *min_runs,
                failures: *failures,
                left: *left,
            }),
        };
        let targets: Vec<&HostConfig> = sh
            .cfg
            .hosts
            .iter()
            .filter(|h| hosts.contains(&h.name))
            .collect();
        let req = DeployRequest {
            paths,
            message,
            switch: true,
            prune: false,
            smoke: guards.smoke.clone(),
            canary: guards.canary.clone(),
            probation: guards.probation,
        };
        tracing::info!(hosts = ?hosts, "console: deploy starts");
        let cancel = AtomicBool::new(false);
        match ops::deploy::deploy(&sh.cfg, &targets, &req, &on_event, &cancel) {
            Ok(report) => {
                let json = present::deploy::report_json(&report).to_string();
                run_hooks(
                    &sh,
                    ops::hooks::deploy_hooks(&report),
                    ops::hooks::deploy_input(&report, json),
                );
                for h in &report.hosts {
                    if let Some(sm) = h.smoke.as_ref().filter(|s| s.status != SmokeStatus::Passed) {
                        send(Event::SmokeFailed {
                            host: h.host.clone(),
                            how: sm.status.describe(),
                            tail: sm.tail.clone(),
                        });
                    }
                    let summary = crate::present::deploy::host_summary(h);
                    let result = if h.ok() {
                        Ok(summary.clone())
                    } else {
                        Err(crate::present::deploy::host_error(h)
                            .unwrap_or_else(|| summary.clone()))
                    };
                    tracing::info!(host = %h.host, "console: deploy: {summary}");
                    send(Event::DeployHost {
                        host: h.host.clone(),
                        result,
                    });
                }
                if let Some(why) = refusal(&report, &guards) {
                    tracing::warn!("console: deploy refused: {why}");
                    send(Event::DeployRefused { why });
                }
                send(Event::DeployDone {
                    alert: crate::present::deploy::advice(&report),
                });
            }
            Err(e) => {
                // Bad local input: found before anything was sent anywhere.
                let why = format!("nothing was sent: {e}");
                tracing::warn!("console: deploy refused: {e}");
                for host in hosts {
                    send(Event::DeployHost {
                        host,
                        result: Err(why.clone()),
                    });
                }
                send(Event::DeployDone { alert: Some(why) });
            }
        }
    });
}

/// Which guard refused the release, and why, in one sentence for the deploy's
/// summary; `None` when no guard refused. A refused canary in the CLI's words, from
/// the report (one voice).
pub fn refusal(report: &DeployReport, guards: &Guards) -> Option<String> {
    if report.outcome != Outcome::Refused {
        return None;
    }
    let smoke: Vec<(String, String)> = report
        .hosts
        .iter()
        .filter_map(|h| {
            let s = h.smoke.as_ref()?;
            (s.status != SmokeStatus::Passed).then(|| (h.host.clone(), s.status.describe()))
        })
        .collect();
    if let Some(c) = report.canary.as_ref().filter(|c| c.note.is_some())
        && smoke.is_empty()
    {
        let words = present::deploy::canary_refused(report, c);
        let words = words.trim_start_matches("relman: ");
        return Some(words.trim_start_matches("REFUSED: ").to_string());
    }
    Some(refusal_words(report.release.as_deref(), &smoke, guards))
}

/// [`refusal`] when no canary note says why: the release, the hosts whose smoke did
/// not pass (and how it ended), the guards.
pub fn refusal_words(
    release: Option<&str>,
    smoke_failed: &[(String, String)],
    guards: &Guards,
) -> String {
    let rel = release.unwrap_or("the new release");
    if !smoke_failed.is_empty() {
        let hosts: Vec<String> = smoke_failed
            .iter()
            .map(|(h, how)| format!("{} ({})", printable(h), printable(how)))
            .collect();
        return format!(
            "the smoke did not pass on {}: no host switched, {rel} marked bad",
            hosts.join(", ")
        );
    }
    if guards.canary.is_some() {
        return format!(
            "the canary refused {rel}: canaries rolled back, the other hosts never left \
             their release; {rel} marked bad"
        );
    }
    format!("a guard refused {rel}: no host switched, {rel} marked bad")
}

fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

/// Local paths completing `input`: directories end with `/`; hidden entries only when
/// asked for with a leading dot. At most 200, sorted.
pub fn complete_path(input: &str) -> Vec<String> {
    let (dir_part, file_part) = match input.rfind('/') {
        Some(i) => (&input[..=i], &input[i + 1..]),
        None => ("", input),
    };
    let dir = if dir_part.is_empty() {
        PathBuf::from(".")
    } else {
        expand_home(Path::new(dir_part))
    };
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if !name.starts_with(file_part)
                || (name.starts_with('.') && !file_part.starts_with('.'))
            {
                return None;
            }
            let is_dir = e.path().is_dir();
            Some(format!("{dir_part}{name}{}", if is_dir { "/" } else { "" }))
        })
        .take(200)
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_guard_and_why() {
        let rel = Some("batch_20261126221500");
        let smoke = vec![("b2".to_string(), "failed (exit 3)".to_string())];
        assert_eq!(
            refusal_words(rel, &smoke, &Guards::default()),
            "the smoke did not pass on b2 (failed (exit 3)): no host switched, \
             batch_20261126221500 marked bad"
        );
        assert_eq!(
            refusal_words(None, &[], &Guards::default()),
            "a guard refused the new release: no host switched, the new release marked bad"
        );
    }

    #[test]
    fn completes_files_and_dirs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("build")).unwrap();
        std::fs::write(d.path().join("bin.txt"), "x").unwrap();
        std::fs::write(d.path().join(".hidden"), "x").unwrap();
        let base = format!("{}/", d.path().display());
        let got = complete_path(&format!("{base}b"));
        assert_eq!(got, vec![format!("{base}bin.txt"), format!("{base}build/")]);
        assert_eq!(
            complete_path(&format!("{base}.h")),
            vec![format!("{base}.hidden")]
        );
        assert!(complete_path(&format!("{base}zzz")).is_empty());
        assert!(complete_path("/no/such/dir/x").is_empty());
    }
}
