//! What a deploy tells its caller: progress events ([`DeployEvent`], [`Phase`]) and
//! the report ([`DeployReport`], one [`HostReport`] per host), plain data that the
//! CLI and the console render.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::smoke::SmokeResult;
use crate::model::ProbationSpec;
use crate::ops::FailureKind;
use crate::ops::prune::PruneReport;
use crate::plan::guard::CanaryRuns;

/// Where a host is in the deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Connect,
    Lock,
    Stage,
    Upload,
    Verify,
    /// Phase 1 done; waiting for the other hosts.
    Staged,
    Publish,
    /// `--smoke`: the smoke command runs on the published release.
    Smoke,
    /// The smoke passed here; waiting for the other hosts'.
    SmokePassed,
    /// A guard refused the release: marking it bad here.
    Refuse,
    /// `--canary`: this canary switched to the new release (on probation).
    Canary,
    /// `--canary`: relman watches this canary's runs (see [`DeployEvent::Watch`]).
    Watch,
    /// `--canary`: this canary's runs passed; waiting for the other canaries.
    CanaryPassed,
    /// A canary (or a host on probation) went back to the release it had.
    RolledBack,
    Switch,
    Prune,
    Done,
    Failed,
    /// Not deployed here because another host failed (or the operator cancelled).
    Aborted,
}

/// Progress, for the CLI's bars and the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployEvent {
    /// The local files are known (sizes; hashing runs on).
    Started {
        hosts: Vec<String>,
        files: usize,
        bytes: u64,
    },
    /// The release name, the same on every host (prefixes aside).
    Named { release: String },
    /// A host's phase and bytes: `sent` of `total` upload bytes (`total` is what this
    /// host must receive after the delta; 0 before it is known).
    Host {
        host: String,
        phase: Phase,
        sent: u64,
        total: u64,
    },
    /// `--canary`: a canary's runs of the new release so far (`finished` of
    /// `min_runs`, `failures` of them failed, killed or lost) and the watch's time left.
    Watch {
        host: String,
        finished: u32,
        min_runs: u32,
        failures: u32,
        left: Duration,
    },
}

/// How a host ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostStatus {
    /// The new release is live.
    Switched,
    /// Published without switching (`--no-switch`).
    Published,
    /// Nothing published here: another host failed, or the deploy was cancelled.
    NotDeployed,
    /// Failed here, in `phase`; nothing published here.
    Failed {
        phase: Phase,
        error: String,
        code: i32,
    },
    /// Published, but the link could not be switched: still on the old release.
    SwitchFailed { error: String, code: i32 },
    /// Published, then refused by a guard (the smoke failed here or elsewhere):
    /// not switched, the release marked bad (`marked`: its `refuse` history line
    /// was written here).
    Refused { marked: bool },
    /// `--canary`: this canary switched to the release, the guard refused it, and
    /// it went back to `from` (history `rollback`, which marks the release bad).
    CanaryRolledBack,
    /// `--canary`: the guard refused the release but this canary could not be
    /// switched back (the link moved meanwhile, the host went away): named, with why.
    RollbackFailed { error: String, code: i32 },
}

/// `--canary`: what the watch saw on one canary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanaryHost {
    /// Its runs of the new release since its switch, at the last poll.
    pub runs: CanaryRuns,
    /// Why it could not be switched or read (the last poll's error), if so.
    pub error: Option<String>,
}

/// How the canary watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryEnd {
    /// Every canary had its runs: the other hosts switched.
    Passed,
    /// More failures than `--max-failures` on a canary.
    Failed,
    /// The watch ran out before every canary had `--min-runs` finished runs.
    TimedOut,
    /// A canary could not be switched (the link moved, the host went away).
    SwitchFailed,
    /// The operator called the deploy off during the watch.
    CalledOff,
    /// The deploy stopped before the canaries (a failure, or a smoke that refused).
    NotRun,
}

/// `--canary` in the report (`--json` `canary`).
#[derive(Debug, Clone)]
pub struct CanaryReport {
    pub hosts: Vec<String>,
    pub min_runs: u32,
    pub max_failures: u32,
    pub watch: Duration,
    pub end: CanaryEnd,
    /// The refusal's history note (None when passed or not run).
    pub note: Option<String>,
}

/// What happened on one host.
#[derive(Debug, Clone)]
pub struct HostReport {
    pub host: String,
    /// This host's release name (its prefix + the deploy's stamp).
    pub release: Option<String>,
    pub status: HostStatus,
    /// The release live before (as seen under the lock).
    pub from: Option<String>,
    pub uploaded_files: usize,
    pub uploaded_bytes: u64,
    pub linked_files: usize,
    /// Stale uploads removed from `.relman/staging/`.
    pub stale_removed: Vec<String>,
    /// `--prune` / `prune_after_deploy`: what prune did, or why it failed.
    pub prune: Option<Result<PruneReport, String>>,
    /// Things that did not stop the deploy (a cleanup that failed...).
    pub warnings: Vec<String>,
    /// How long each step took here (`connect`, `lock`, `scan`, `prepare`, `upload`,
    /// `verify`, `publish`, `switch`, `prune`), in order.
    pub timings: Vec<(&'static str, Duration)>,
    /// `--smoke`: how the smoke ended here (None: not run here).
    pub smoke: Option<SmokeResult>,
    /// `--canary`: this host is a canary; what the watch saw here.
    pub canary: Option<CanaryHost>,
    /// The probation this host was left on by the deploy (None: none).
    pub probation: Option<ProbationSpec>,
}

impl HostReport {
    pub(super) fn new(host: &str) -> Self {
        HostReport {
            host: host.to_string(),
            release: None,
            status: HostStatus::NotDeployed,
            from: None,
            uploaded_files: 0,
            uploaded_bytes: 0,
            linked_files: 0,
            stale_removed: Vec::new(),
            prune: None,
            warnings: Vec::new(),
            timings: Vec::new(),
            smoke: None,
            canary: None,
            probation: None,
        }
    }

    /// Runs `f`, recording how long it took as step `label`.
    pub(super) fn timed<T>(&mut self, label: &'static str, f: impl FnOnce() -> T) -> T {
        let t0 = Instant::now();
        let r = f();
        self.timings.push((label, t0.elapsed()));
        r
    }

    /// Done as asked on this host (switched, or published with `--no-switch`).
    pub fn ok(&self) -> bool {
        matches!(self.status, HostStatus::Switched | HostStatus::Published)
    }

    /// The exit code of this host alone (0 when done).
    pub fn code(&self) -> i32 {
        match &self.status {
            HostStatus::Switched | HostStatus::Published => 0,
            HostStatus::Failed { code, .. }
            | HostStatus::SwitchFailed { code, .. }
            | HostStatus::RollbackFailed { code, .. } => *code,
            HostStatus::NotDeployed => 1,
            HostStatus::Refused { .. } | HostStatus::CanaryRolledBack => {
                FailureKind::Refused.exit_code()
            }
        }
    }
}

/// A byte count as people read it (`3.2 MiB`): the one formatter, [`crate::model::human_bytes`].
pub use crate::model::human_bytes;

/// How the deploy ended as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done on every host.
    Deployed,
    /// Nothing published anywhere (a host failed in phase 1 or at publish).
    NotDeployed,
    /// The operator called it off before anything was published.
    Cancelled,
    /// Published everywhere, switched on some hosts only.
    Diverged,
    /// Published everywhere, switched nowhere.
    NotSwitched,
    /// A guard refused the release: published everywhere, switched nowhere, marked
    /// bad (exit 7).
    Refused,
}

impl Outcome {
    /// How a deploy that published everywhere ended, from each host's report after
    /// the switch: done everywhere, switched on some hosts only, or on none.
    pub fn after_switch(hosts: &[HostReport]) -> Outcome {
        let switched = hosts
            .iter()
            .filter(|h| h.status == HostStatus::Switched)
            .count();
        if hosts.iter().all(HostReport::ok) {
            Outcome::Deployed
        } else if switched > 0 {
            Outcome::Diverged
        } else {
            Outcome::NotSwitched
        }
    }
}

/// The whole deploy.
#[derive(Debug, Clone)]
pub struct DeployReport {
    /// The release name (with the first host's prefix); None when stopped before.
    pub release: Option<String>,
    pub switch: bool,
    pub files: usize,
    pub bytes: u64,
    pub outcome: Outcome,
    pub hosts: Vec<HostReport>,
    /// `--canary`: how the watch went (None: no canary asked for).
    pub canary: Option<CanaryReport>,
}

impl DeployReport {
    /// SPEC §3: 0 done; 6 when hosts diverged (done on some, not on others). When
    /// nothing was published anywhere, nothing was done on any host, so not 6: the
    /// code of what stopped it — the failing hosts' common code (3 unreachable, 4
    /// locked, 5 conflict), else 1.
    pub fn exit_code(&self) -> i32 {
        let failed: Vec<i32> = self
            .hosts
            .iter()
            .filter_map(|h| match &h.status {
                HostStatus::Failed { code, .. } | HostStatus::SwitchFailed { code, .. } => {
                    Some(*code)
                }
                _ => None,
            })
            .collect();
        match self.outcome {
            Outcome::Deployed => 0,
            Outcome::Cancelled => 1,
            Outcome::Diverged => 6,
            Outcome::Refused => FailureKind::Refused.exit_code(),
            Outcome::NotSwitched => crate::ops::fleet::exit_code_of(&failed),
            Outcome::NotDeployed => match failed.first() {
                Some(&c) if failed.iter().all(|&x| x == c) => c,
                _ => 1,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HostReport, HostStatus, Outcome};

    fn host(status: HostStatus) -> HostReport {
        let mut r = HostReport::new("h");
        r.status = status;
        r
    }

    #[test]
    fn the_outcome_after_the_switch_says_whether_hosts_diverged() {
        let off = || HostStatus::SwitchFailed {
            error: "x".into(),
            code: 5,
        };
        let cases = [
            (
                vec![HostStatus::Switched, HostStatus::Switched],
                Outcome::Deployed,
            ),
            (
                vec![HostStatus::Published, HostStatus::Published],
                Outcome::Deployed,
            ),
            (vec![HostStatus::Switched, off()], Outcome::Diverged),
            (vec![off(), off()], Outcome::NotSwitched),
        ];
        for (statuses, want) in cases {
            let hosts: Vec<HostReport> = statuses.into_iter().map(host).collect();
            assert_eq!(Outcome::after_switch(&hosts), want, "{hosts:?}");
        }
    }
}
