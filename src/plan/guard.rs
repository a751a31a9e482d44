//! The canary guard's decision (SPEC §7 `deploy --canary`): from what each canary's
//! ledger says about the new release since its switch, and the time the watch has
//! left, whether the deploy goes on, is refused, or keeps watching. Pure: the
//! caller polls the ledgers and reads the clock.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::model::{Run, RunStatus};

/// A canary's runs of the new release that started after its switch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanaryRuns {
    /// Ended runs (ok, failed, killed, lost): what `--min-runs` counts.
    pub finished: u32,
    /// Failed, killed and lost runs: what `--max-failures` bounds.
    pub failures: u32,
    /// The ids of the ended runs, oldest first.
    pub run_ids: Vec<String>,
    /// The ids and statuses of the failures, oldest first (for the history note).
    pub failed: Vec<(String, RunStatus)>,
}

impl CanaryRuns {
    /// Enough finished runs and no more failures than allowed: this canary passed.
    pub fn passed(&self, min_runs: u32, max_failures: u32) -> bool {
        self.finished >= min_runs && self.failures <= max_failures
    }
}

/// Counts `runs` of `release` whose id is not in `before` (the runs the ledger held
/// at the switch, e.g. the smoke's: by id, not by time, so no clock skew between
/// relman and the host can count a run twice or miss one). `runs` newest first, as
/// `ops::runs` gives them.
pub fn count_runs<'a>(
    runs: impl IntoIterator<Item = &'a Run>,
    release: &str,
    before: &BTreeSet<String>,
) -> CanaryRuns {
    let mut c = CanaryRuns::default();
    let mut new: Vec<&Run> = runs
        .into_iter()
        .filter(|r| r.release == release && !before.contains(&r.id))
        .collect();
    new.reverse();
    for r in new {
        if r.status == RunStatus::Running {
            continue;
        }
        c.finished += 1;
        c.run_ids.push(r.id.clone());
        if r.status.is_failure() {
            c.failures += 1;
            c.failed.push((r.id.clone(), r.status));
        }
    }
    c
}

/// What the watch decides after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryVerdict {
    /// Not decided yet: poll again.
    Watch,
    /// Every canary has its runs, none failed more than allowed: the others switch.
    Passed,
    /// A canary had more failures than allowed: refuse (even with time left).
    Failed,
    /// The watch ran out before every canary had its runs: refuse.
    TimedOut,
}

impl CanaryVerdict {
    /// `--json`'s word.
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryVerdict::Watch => "watching",
            CanaryVerdict::Passed => "passed",
            CanaryVerdict::Failed => "failed",
            CanaryVerdict::TimedOut => "timed_out",
        }
    }
}

/// The decision over every canary's counts: too many failures on any canary
/// refuses at once; otherwise every canary having `min_runs` finished runs passes;
/// otherwise no time `left` refuses; else keep watching. A failure seen at the last
/// poll wins over a pass: the guard errs towards the old release.
pub fn canary_verdict(
    canaries: &[CanaryRuns],
    min_runs: u32,
    max_failures: u32,
    left: Duration,
) -> CanaryVerdict {
    if canaries.iter().any(|c| c.failures > max_failures) {
        CanaryVerdict::Failed
    } else if canaries.iter().all(|c| c.passed(min_runs, max_failures)) {
        CanaryVerdict::Passed
    } else if left.is_zero() {
        CanaryVerdict::TimedOut
    } else {
        CanaryVerdict::Watch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "batch_20261202040000";
    const OLD: &str = "batch_20261201040000";

    fn run(id: &str, release: &str, status: RunStatus) -> Run {
        Run {
            id: id.into(),
            release: release.into(),
            pid: 1,
            user: "jobs".into(),
            started_at: "2026-12-02T04:00:00Z".into(),
            ended_at: None,
            status,
            exit_code: None,
            signal: None,
            command: "true".into(),
            tail: None,
        }
    }

    fn counts(finished: u32, failures: u32) -> CanaryRuns {
        CanaryRuns {
            finished,
            failures,
            ..CanaryRuns::default()
        }
    }

    #[test]
    fn only_the_new_releases_runs_since_the_switch_count_and_running_ones_do_not_finish() {
        let before: BTreeSet<String> = ["1-1".to_string()].into();
        // Newest first, as ops::runs gives them.
        let runs = [
            run("1-6", NEW, RunStatus::Running),
            run("1-5", NEW, RunStatus::Lost),
            run("1-4", OLD, RunStatus::Failed),
            run("1-3", NEW, RunStatus::Ok),
            run("1-2", NEW, RunStatus::Killed),
            // The smoke's run: before the switch.
            run("1-1", NEW, RunStatus::Failed),
        ];
        let c = count_runs(&runs, NEW, &before);
        assert_eq!(c.finished, 3);
        assert_eq!(c.failures, 2);
        assert_eq!(c.run_ids, ["1-2", "1-3", "1-5"]);
        assert_eq!(
            c.failed,
            [
                ("1-2".to_string(), RunStatus::Killed),
                ("1-5".to_string(), RunStatus::Lost)
            ]
        );
        assert_eq!(count_runs(&runs, "batch_x", &before), CanaryRuns::default());
    }

    #[test]
    fn too_many_failures_on_any_canary_refuse_even_with_time_left() {
        let left = Duration::from_secs(600);
        assert_eq!(
            canary_verdict(&[counts(3, 0), counts(1, 1)], 1, 0, left),
            CanaryVerdict::Failed
        );
        // Within the allowance: a failure is a finished run like any other.
        assert_eq!(
            canary_verdict(&[counts(3, 1), counts(2, 0)], 2, 1, left),
            CanaryVerdict::Passed
        );
        assert_eq!(
            canary_verdict(&[counts(3, 2)], 2, 1, Duration::ZERO),
            CanaryVerdict::Failed
        );
    }

    #[test]
    fn every_canary_needs_its_runs_before_the_time_runs_out() {
        let left = Duration::from_secs(1);
        assert_eq!(
            canary_verdict(&[counts(2, 0), counts(1, 0)], 2, 0, left),
            CanaryVerdict::Watch
        );
        assert_eq!(
            canary_verdict(&[counts(2, 0), counts(1, 0)], 2, 0, Duration::ZERO),
            CanaryVerdict::TimedOut
        );
        assert_eq!(
            canary_verdict(&[counts(0, 0)], 1, 0, Duration::ZERO),
            CanaryVerdict::TimedOut
        );
        // Enough runs at the last poll: a pass, even at the deadline.
        assert_eq!(
            canary_verdict(&[counts(2, 0), counts(2, 0)], 2, 0, Duration::ZERO),
            CanaryVerdict::Passed
        );
    }
}
