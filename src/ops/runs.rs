//! `relman runs`: the runs the launcher recorded on a host (SPEC §7), newest first.
//! One round trip (`runs.sh`); the filter and the count are applied here (pure).

use super::OpError;
use super::scan::root_script;
use crate::config::HostConfig;
use crate::model::{ReleaseName, Run, printable};
use crate::remote::script::RUNS;
use crate::remote::{Transport, run, wire};

/// Which runs to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunsQuery {
    /// Only this release's runs.
    pub release: Option<String>,
    /// At most this many (newest first).
    pub limit: usize,
    /// Only failed, killed and lost runs.
    pub failed_only: bool,
}

/// The runs of one host that `q` asks for, newest first.
pub fn runs(t: &dyn Transport, host: &HostConfig, q: &RunsQuery) -> Result<Vec<Run>, OpError> {
    let release = match &q.release {
        Some(r) => {
            // Like every release argument that is not a release: exit 5.
            ReleaseName::parse(&host.prefix, r).map_err(|_| {
                OpError::Conflict(format!(
                    "{}: not a release name ({}YYYYMMDDHHMMSS[.N])",
                    printable(r),
                    host.prefix
                ))
            })?;
            r.clone()
        }
        None => String::new(),
    };
    let out = run(t, &root_script(RUNS, host).param("RELEASE", release))?;
    if !out.success() {
        return Err(OpError::Failed(format!(
            "reading the run ledger failed (exit {}): {}",
            out.status.map_or("signal".into(), |s| s.to_string()),
            out.stderr_line()
        )));
    }
    let all =
        wire::parse_runs(&out.stdout, &host.prefix).map_err(|e| OpError::Failed(e.to_string()))?;
    Ok(select(all, q))
}

/// Newest first, filtered, at most `q.limit`. `all` comes in ledger order (runs.sh:
/// each release's records in the order they were appended), and that order settles
/// equal start times: a host whose `date` has no `%N` (busybox) records whole seconds,
/// and the pid in a run's id is no order at all (pids wrap: 32767 is followed by 300).
/// Of equal times, the later record is the newer run (within a release, the order the
/// launchers appended their start records; across releases, the order of their files).
pub fn select(all: Vec<Run>, q: &RunsQuery) -> Vec<Run> {
    let mut keyed: Vec<((Option<std::time::SystemTime>, usize), Run)> = all
        .into_iter()
        .enumerate()
        .filter(|(_, r)| {
            q.release.as_ref().is_none_or(|x| *x == r.release)
                && (!q.failed_only || r.status.is_failure())
        })
        .map(|(i, r)| ((humantime::parse_rfc3339(&r.started_at).ok(), i), r))
        .collect();
    keyed.sort_by_key(|k| std::cmp::Reverse(k.0));
    keyed.truncate(q.limit);
    keyed.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunStatus;

    fn run(id: &str, rel: &str, at: &str, status: RunStatus) -> Run {
        Run {
            id: id.into(),
            release: rel.into(),
            pid: 10,
            user: "u".into(),
            started_at: at.into(),
            ended_at: None,
            status,
            exit_code: None,
            signal: None,
            command: "true".into(),
            tail: None,
        }
    }

    #[test]
    fn newest_first_filtered_and_cut() {
        let a = "batch_20261126221500";
        let b = "batch_20261127221500";
        let all = vec![
            run("1-1", a, "2026-12-01T10:00:00.100Z", RunStatus::Ok),
            run("1-2", b, "2026-12-01T10:00:00.200Z", RunStatus::Failed),
            run("1-3", a, "2026-12-01T10:00:01Z", RunStatus::Lost),
            run("1-4", a, "2026-12-01T09:00:00Z", RunStatus::Killed),
        ];
        let ids = |v: Vec<Run>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let q = |release: Option<&str>, limit, failed_only| RunsQuery {
            release: release.map(String::from),
            limit,
            failed_only,
        };
        assert_eq!(
            ids(select(all.clone(), &q(None, 20, false))),
            ["1-3", "1-2", "1-1", "1-4"]
        );
        assert_eq!(ids(select(all.clone(), &q(None, 2, false))), ["1-3", "1-2"]);
        assert_eq!(
            ids(select(all.clone(), &q(Some(a), 20, true))),
            ["1-3", "1-4"]
        );
        assert_eq!(
            ids(select(all, &q(Some(b), 0, false))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn equal_start_times_are_ordered_by_the_ledger_not_by_the_pid() {
        // busybox's date records whole seconds; the pid wrapped between the runs.
        let a = "batch_20261126221500";
        let at = "2026-12-01T10:00:00Z";
        let all = vec![
            run("1796294977-32700", a, at, RunStatus::Ok),
            run("1796294977-32766", a, at, RunStatus::Failed),
            run("1796294977-300", a, at, RunStatus::Killed),
            run("1796294977-301", a, "2026-12-01T09:59:59Z", RunStatus::Ok),
        ];
        let q = RunsQuery {
            release: None,
            limit: 3,
            failed_only: false,
        };
        let ids: Vec<String> = select(all, &q).into_iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            ["1796294977-300", "1796294977-32766", "1796294977-32700"]
        );
    }
}
