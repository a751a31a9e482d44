//! What the console and its worker exchange: `Cmd` goes to the worker, `Event` comes
//! back (inside `app::Msg::Worker`). A leaf: the app and the worker both import it,
//! it imports neither.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::model::{HostState, LockInfo, ProbationSpec, Run};
use crate::ops::deploy::{Canary, Smoke};
use crate::ops::prune::PruneReport;
use crate::present::check::Row;

/// Operations the worker runs on the operator's request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Switch,
    Rollback,
    Prune,
    Pin,
    Unpin,
    Deploy,
    PrunePlan,
    Unlock,
    Accept,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Switch => "switch",
            OpKind::Rollback => "rollback",
            OpKind::Prune => "prune",
            OpKind::Pin => "pin",
            OpKind::Unpin => "unpin",
            OpKind::Deploy => "deploy",
            OpKind::PrunePlan => "prune plan",
            OpKind::Unlock => "unlock",
            OpKind::Accept => "accept",
        }
    }
}

/// What the console asks the worker to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Scan these hosts.
    Refresh {
        hosts: Vec<String>,
    },
    /// Switch only if the link still points at `expect` (what the operator saw live).
    Switch {
        host: String,
        release: String,
        expect: Option<String>,
    },
    Rollback {
        host: String,
        to: Option<String>,
    },
    /// Ask the host for the prune plan as `prune --dry-run` gives it (scan, plan,
    /// and the host's own check of each deletion), for the dialog.
    PrunePlan {
        host: String,
        keep: usize,
    },
    Prune {
        host: String,
        keep: usize,
    },
    Pin {
        host: String,
        release: String,
        duration: Duration,
        reason: String,
    },
    Unpin {
        host: String,
        release: String,
    },
    Deploy {
        paths: Vec<PathBuf>,
        message: String,
        hosts: Vec<String>,
        /// The deploy's guards (SPEC §7), as the operator confirmed them.
        guards: Guards,
    },
    /// End the probation of `release` on `host` early (`relman accept`): only if the
    /// probation is still that release's (the one the operator confirmed).
    Accept {
        host: String,
        release: String,
    },
    /// Ask the host who holds its lock now (`ops::unlock::current`), for the dialog.
    LockQuery {
        host: String,
    },
    /// Break the lock the operator confirmed (`ops::unlock::unlock`): only that holder.
    Unlock {
        host: String,
        lock: LockInfo,
    },
    /// Check the host (`ops::check::check`), for the details pane.
    Check {
        host: String,
    },
    /// The recent runs of one release (`ops::runs::runs`), for the details pane.
    Runs {
        host: String,
        release: String,
    },
    /// List local paths completing `input` (the deploy prompt's Tab).
    Complete {
        input: String,
    },
    Quit,
}

/// A deploy's guards (SPEC §7): each optional, as `deploy --smoke --canary
/// --probation` takes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guards {
    pub smoke: Option<Smoke>,
    pub canary: Option<Canary>,
    pub probation: Option<ProbationSpec>,
}

impl Guards {
    pub fn any(&self) -> bool {
        self.smoke.is_some() || self.canary.is_some() || self.probation.is_some()
    }
}

/// Why an operation failed, as the worker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// What kind of failure (the CLI's exit code derives from it).
    pub kind: crate::ops::FailureKind,
}

impl Failure {
    /// The host changed since it was seen: worth a refresh and a second look.
    pub fn is_conflict(&self) -> bool {
        self.kind == crate::ops::FailureKind::Conflict
    }
}

/// What the worker reports.
#[derive(Clone, Debug)]
pub enum Event {
    Scanned {
        host: String,
        at: SystemTime,
        result: Result<HostState, String>,
    },
    /// A fresh scan and the host's dry-run answer made from it: the plan, and what the
    /// host's checks say of each deletion (the CLI's `prune --dry-run`, exactly).
    Plan {
        host: String,
        at: SystemTime,
        result: Result<(HostState, Box<PruneReport>), String>,
    },
    /// A single-host operation ended; `Ok` carries a one-line summary.
    Done {
        host: String,
        op: OpKind,
        result: Result<String, Failure>,
    },
    /// Deploy progress on one host.
    Progress {
        host: String,
        sent: u64,
        total: u64,
        phase: String,
    },
    /// The deploy ended on one host.
    DeployHost {
        host: String,
        result: Result<String, String>,
    },
    /// `--canary`: a canary's runs of the new release so far and the watch's time left.
    Watch {
        host: String,
        finished: u32,
        min_runs: u32,
        failures: u32,
        left: Duration,
    },
    /// `--smoke` did not pass on this host: how it ended and its output's last lines
    /// (sent before the host's `DeployHost`).
    SmokeFailed {
        host: String,
        how: String,
        tail: Vec<String>,
    },
    /// A guard refused the release: which one and why, for the deploy's summary
    /// (sent before `DeployDone`).
    DeployRefused { why: String },
    /// A `[hooks]` command did not succeed (its line, as the CLI prints it).
    HookFailed { line: String },
    /// The deploy's local files are known.
    DeployStarted { files: usize, bytes: u64 },
    /// The new release's name (the same on every host).
    DeployNamed { release: String },
    /// The whole deploy ended; `alert` is what the operator must read (bad local
    /// input, hosts that diverged and how to make them agree).
    DeployDone { alert: Option<String> },
    Completions {
        input: String,
        candidates: Vec<String>,
    },
    /// Who holds the host's lock now (`None`: nobody).
    Lock {
        host: String,
        result: Result<Option<LockInfo>, String>,
    },
    /// A host's check as the CLI's rows (`present::check::rows`: config, ssh notes,
    /// the connection, then the host's findings).
    Checked {
        host: String,
        at: SystemTime,
        rows: Vec<Row>,
    },
    /// The recent runs of one release, newest first.
    Runs {
        host: String,
        release: String,
        result: Result<Vec<Run>, String>,
    },
}
