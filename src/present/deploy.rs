//! What a deploy says (ops returns a [`DeployReport`], plain data): its `--json`
//! object, its lines for people (CLI and console), and the advice when hosts
//! diverged or a guard refused the release.

use serde_json::{Value, json};

use crate::model::ProbationSpec;
use crate::model::human_bytes;
use crate::ops::deploy::{
    CanaryEnd, CanaryReport, DeployReport, HostReport, HostStatus, Outcome, Phase, SmokeResult,
    SmokeStatus,
};

/// A deploy phase in one word or two, as a host's status reads (the console's
/// progress, a failed host's error: "uploading: disk full").
pub fn phase_word(p: Phase) -> &'static str {
    match p {
        Phase::Connect => "connecting",
        Phase::Lock => "locking",
        Phase::Stage => "staging",
        Phase::Upload => "uploading",
        Phase::Verify => "verifying",
        Phase::Staged => "staged",
        Phase::Publish => "publishing",
        Phase::Smoke => "smoke testing",
        Phase::SmokePassed => "smoke passed",
        Phase::Refuse => "refused",
        Phase::Canary => "canary switched",
        Phase::Watch => "watching",
        Phase::CanaryPassed => "canary passed",
        Phase::RolledBack => "rolled back",
        Phase::Switch => "switching",
        Phase::Prune => "pruning",
        Phase::Done => "done",
        Phase::Failed => "failed",
        Phase::Aborted => "not deployed",
    }
}

/// The step on a host's progress line as the CLI draws it while the others go on
/// ("waiting for the other hosts" where [`phase_word`] says "staged").
pub fn progress_step(phase: Phase) -> &'static str {
    match phase {
        Phase::Connect => "connecting",
        Phase::Lock => "locking",
        Phase::Stage => "scanning",
        Phase::Upload => "uploading",
        Phase::Verify => "hashing",
        Phase::Staged => "waiting for the other hosts",
        Phase::Publish => "publishing",
        Phase::Smoke => "smoke testing",
        Phase::SmokePassed => "smoke passed, waiting for the other hosts",
        Phase::Refuse => "refused",
        Phase::Canary => "canary switched",
        Phase::Watch => "watching the canary's runs",
        Phase::CanaryPassed => "canary passed, waiting for the other canaries",
        Phase::RolledBack => "rolled back",
        Phase::Switch => "switching",
        Phase::Prune => "pruning",
        Phase::Done => "done",
        Phase::Failed => "failed",
        Phase::Aborted => "not deployed",
    }
}

/// The error to show, if any.
pub fn host_error(h: &HostReport) -> Option<String> {
    match &h.status {
        HostStatus::Failed {
            phase: Phase::Canary,
            error,
            ..
        } => Some(format!("canary: {error}")),
        HostStatus::Failed { phase, error, .. } => Some(format!("{}: {error}", phase_word(*phase))),
        HostStatus::SwitchFailed { error, .. } => Some(format!(
            "published but not switched (still on {}): {error}",
            h.from.as_deref().unwrap_or("no release")
        )),
        HostStatus::CanaryRolledBack => Some(format!(
            "canary refused: {}; rolled back to {} (the release is marked bad)",
            canary_seen(h),
            h.from.as_deref().unwrap_or("no release")
        )),
        HostStatus::RollbackFailed { error, .. } => Some(format!(
            "canary refused ({}) but NOT rolled back, still on {}: {error}",
            canary_seen(h),
            h.release.as_deref().unwrap_or("the new release")
        )),
        HostStatus::Refused { .. } if h.canary.as_ref().is_some_and(|c| c.error.is_some()) => {
            Some(format!(
                "canary refused: {}; not switched (still on {})",
                h.canary
                    .as_ref()
                    .and_then(|c| c.error.as_deref())
                    .unwrap_or_default(),
                h.from.as_deref().unwrap_or("no release")
            ))
        }
        HostStatus::Refused { .. } if h.smoke.is_none() => Some(format!(
            "refused by the canary guard; not switched (still on {})",
            h.from.as_deref().unwrap_or("no release")
        )),
        HostStatus::Refused { .. } => Some(match h.smoke.as_ref().map(|s| &s.status) {
            Some(SmokeStatus::Passed) => format!(
                "refused: the smoke passed here but failed on another host; not switched \
                 (still on {})",
                h.from.as_deref().unwrap_or("no release")
            ),
            Some(s) => format!(
                "refused: the smoke {}; not switched (still on {})",
                s.describe(),
                h.from.as_deref().unwrap_or("no release")
            ),
            None => "refused by a guard; not switched".to_string(),
        }),
        HostStatus::NotDeployed => Some(
            "not deployed: the deploy stopped (it failed on another host, or was called off)"
                .into(),
        ),
        _ => None,
    }
}

/// What the watch saw on a canary: "2 of 3 runs, 1 failed".
fn canary_seen(h: &HostReport) -> String {
    match &h.canary {
        Some(c) => {
            let mut s = if c.runs.finished == 0 {
                "no runs".to_string()
            } else {
                format!(
                    "{}, {} failed",
                    crate::model::plural(u64::from(c.runs.finished), "run"),
                    c.runs.failures
                )
            };
            if let Some(e) = &c.error {
                s.push_str(&format!(" ({e})"));
            }
            s
        }
        None => "not watched".into(),
    }
}

/// The CLI's progress line of a watched canary: "watching: 2 of 3 runs, 0 failed,
/// 4m left".
pub fn watch_line(
    finished: u32,
    min_runs: u32,
    failures: u32,
    left: std::time::Duration,
) -> String {
    format!(
        "watching: {finished} of {} runs, {failures} failed, {} left",
        min_runs,
        crate::plan::health::left_words(left)
    )
}

/// One line for people: `batch_… live (was batch_…), 1 file sent (3.2 MiB), 49 linked`.
pub fn host_summary(h: &HostReport) -> String {
    let rel = h.release.as_deref().unwrap_or("-");
    let moved = format!(
        "{} sent ({}), {} linked",
        crate::model::plural(h.uploaded_files as u64, "file"),
        human_bytes(h.uploaded_bytes),
        h.linked_files
    );
    match &h.status {
        HostStatus::Switched => {
            let mut s = format!(
                "{rel} live (was {}); {moved}",
                h.from.as_deref().unwrap_or("no release")
            );
            if let Some(c) = &h.canary {
                s.push_str(&format!(
                    "; canary passed ({}, {} failed)",
                    crate::model::plural(u64::from(c.runs.finished), "run"),
                    c.runs.failures
                ));
            }
            if let Some(p) = &h.probation {
                s.push_str(&format!("; {}", super::summary::probation_words(p)));
            }
            s
        }
        HostStatus::Published => format!(
            "{rel} staged, link left on {} (--no-switch); {moved}",
            h.from.as_deref().unwrap_or("no release")
        ),
        _ => host_error(h).unwrap_or_default(),
    }
}

/// For a divergence: which hosts run what, and the commands that make them agree.
pub fn advice(r: &DeployReport) -> Option<String> {
    if r.outcome != Outcome::Diverged {
        return None;
    }
    let rel = r.release.as_deref().unwrap_or("?");
    let on: Vec<&str> = r
        .hosts
        .iter()
        .filter(|h| h.status == HostStatus::Switched)
        .map(|h| h.host.as_str())
        .collect();
    let off: Vec<&str> = r
        .hosts
        .iter()
        .filter(|h| matches!(h.status, HostStatus::SwitchFailed { .. }))
        .map(|h| h.host.as_str())
        .collect();
    let flags = |hs: &[&str]| {
        hs.iter()
            .map(|h| format!("--host {h}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(format!(
        "HOSTS DIVERGED: {rel} is live on {} but NOT on {}. To go back everywhere: \
         relman rollback {}; to finish the deploy: relman switch {rel} {}",
        on.join(", "),
        off.join(", "),
        flags(&on),
        flags(&off)
    ))
}

/// The `--json` object: `{"release","outcome","hosts":[{"name","ok","error",...}]}`.
pub fn report_json(r: &DeployReport) -> Value {
    let hosts: Vec<Value> = r.hosts.iter().map(host_json).collect();
    json!({
        "release": r.release,
        "outcome": r.outcome,
        "switch": r.switch,
        "files": r.files,
        "bytes": r.bytes,
        "hosts": hosts,
        "canary": r.canary.as_ref().map(|c| canary_json(c, &r.hosts)),
    })
}

/// `--json` `canary`: `{"hosts":[{"name","finished","failures","run_ids",
/// "failed_run_ids","error","rolled_back"}],"verdict","min_runs","max_failures",
/// "watch_ms","note"}`; verdict one of `passed`, `failed`, `timed_out`,
/// `switch_failed`, `called_off`, `not_run`.
fn canary_json(c: &CanaryReport, hosts: &[HostReport]) -> Value {
    let per: Vec<Value> = c
        .hosts
        .iter()
        .map(|n| {
            let h = hosts.iter().find(|h| h.host == *n);
            let seen = h.and_then(|h| h.canary.clone()).unwrap_or_default();
            json!({
                "name": n,
                "finished": seen.runs.finished,
                "failures": seen.runs.failures,
                "run_ids": seen.runs.run_ids,
                "failed_run_ids": seen.runs.failed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
                "error": seen.error,
                "rolled_back": h.is_some_and(|h| h.status == HostStatus::CanaryRolledBack),
            })
        })
        .collect();
    json!({
        "hosts": per,
        "verdict": c.end,
        "min_runs": c.min_runs,
        "max_failures": c.max_failures,
        "watch_ms": c.watch.as_millis() as u64,
        "note": c.note,
    })
}

/// A host's probation in `--json` (what the deploy left it on):
/// `{"duration_ms","max_failures"}`, or null.
fn probation_json(p: &Option<ProbationSpec>) -> Value {
    match p {
        Some(p) => json!({
            "duration_ms": p.duration.as_millis() as u64,
            "max_failures": p.max_failures,
        }),
        None => Value::Null,
    }
}

fn host_json(h: &HostReport) -> Value {
    let status = match &h.status {
        HostStatus::Switched => "switched",
        HostStatus::Published => "published",
        HostStatus::NotDeployed => "not_deployed",
        HostStatus::Failed { .. } => "failed",
        HostStatus::SwitchFailed { .. } => "switch_failed",
        HostStatus::Refused { .. } => "refused",
        HostStatus::CanaryRolledBack => "rolled_back",
        HostStatus::RollbackFailed { .. } => "rollback_failed",
    };
    let phase = match &h.status {
        HostStatus::Failed { phase, .. } => Some(*phase),
        HostStatus::SwitchFailed { .. } => Some(Phase::Switch),
        _ => None,
    };
    let published = matches!(
        h.status,
        HostStatus::Switched
            | HostStatus::Published
            | HostStatus::SwitchFailed { .. }
            | HostStatus::Refused { .. }
            | HostStatus::CanaryRolledBack
            | HostStatus::RollbackFailed { .. }
    );
    json!({
        "name": h.host,
        "ok": h.ok(),
        "error": host_error(h),
        "status": status,
        "failed_phase": phase,
        "release": h.release,
        "published": published,
        "switched": h.status == HostStatus::Switched,
        "from": h.from,
        "to": if published { h.release.clone() } else { None },
        "uploaded_bytes": h.uploaded_bytes,
        "uploaded_files": h.uploaded_files,
        "linked_files": h.linked_files,
        "stale_removed": h.stale_removed,
        "prune": match &h.prune {
            None => Value::Null,
            Some(Ok(p)) => serde_json::to_value(p).unwrap_or(Value::Null),
            Some(Err(e)) => json!({ "error": e }),
        },
        "smoke": h.smoke.as_ref().map(smoke_json),
        "marked_bad": matches!(
            h.status,
            HostStatus::Refused { marked: true } | HostStatus::CanaryRolledBack
        ),
        "canary": h.canary.is_some(),
        "probation": probation_json(&h.probation),
        "warnings": h.warnings,
        "timings_ms": h
            .timings
            .iter()
            .map(|(k, d)| (k.to_string(), json!(d.as_millis() as u64)))
            .collect::<serde_json::Map<String, Value>>(),
    })
}

/// A host's smoke in `--json`: `{"status","exit_code","error","duration_ms","tail"}`,
/// status one of `passed`, `failed`, `timed_out`, `error` (it could not run),
/// `called_off`; `tail` the last lines of its stdout and stderr together.
fn smoke_json(s: &SmokeResult) -> Value {
    let (status, exit_code, error) = match &s.status {
        SmokeStatus::Passed => ("passed", Some(0), None),
        SmokeStatus::Failed { exit_code } => ("failed", Some(*exit_code), None),
        SmokeStatus::TimedOut => ("timed_out", None, None),
        SmokeStatus::Error(e) => ("error", None, Some(e.clone())),
        SmokeStatus::CalledOff => ("called_off", None, None),
    };
    json!({
        "status": status,
        "exit_code": exit_code,
        "error": error,
        "duration_ms": s.duration.as_millis() as u64,
        "tail": s.tail,
    })
}

/// The human output: one line per host (done on stdout, the rest on stderr), prune
/// results, warnings, then what the outcome means for the fleet.
pub fn print_human(r: &DeployReport, quiet: bool) {
    for h in &r.hosts {
        if h.ok() {
            if !quiet {
                println!("{}: {}", h.host, host_summary(h));
            }
        } else {
            eprintln!("{}: {}", h.host, host_summary(h));
        }
        if let Some(p) = &h.prune {
            match p {
                Ok(p) => {
                    let d = p.deleted();
                    if quiet {
                    } else if !d.is_empty() {
                        println!("{}: prune: deleted {}", h.host, d.join(", "));
                    } else if !p.failed() {
                        println!("{}: prune: nothing to delete", h.host);
                    }
                    // Not freed, or not moved out of the root: say so, with why.
                    for (n, o) in p.outcomes.iter().filter(|(_, o)| o.is_failure()) {
                        eprintln!("{}: prune: {n}: {o}", h.host);
                    }
                }
                Err(e) => eprintln!("{}: prune failed: {e}", h.host),
            }
        }
        for w in &h.warnings {
            eprintln!("{}: warning: {w}", h.host);
        }
    }
    let rel = r.release.as_deref().unwrap_or("the release");
    match r.outcome {
        Outcome::Deployed => {}
        Outcome::NotDeployed => {
            let failed: Vec<&str> = r
                .hosts
                .iter()
                .filter(|h| matches!(h.status, HostStatus::Failed { .. }))
                .map(|h| h.host.as_str())
                .collect();
            eprintln!(
                "relman: NOT deployed on any host: failed on {} (a deploy changes every chosen \
                 host or none; nothing was switched, no new release is left)",
                failed.join(", ")
            );
        }
        Outcome::Cancelled => match &r.canary {
            Some(c) if c.end == CanaryEnd::CalledOff => eprintln!(
                "relman: deploy cancelled during the canary watch: the canaries ({}) went back \
                 to the release they had; {rel} is marked bad and no other host was switched",
                c.hosts.join(", ")
            ),
            _ => eprintln!("relman: deploy cancelled: nothing was published or switched"),
        },
        Outcome::Diverged => {
            if let Some(a) = advice(r) {
                eprintln!("relman: {a}");
            }
        }
        Outcome::Refused => {
            for h in &r.hosts {
                let Some(s) = h.smoke.as_ref().filter(|s| !s.passed()) else {
                    continue;
                };
                if s.tail.is_empty() {
                    eprintln!("{}: smoke output: (none)", h.host);
                } else {
                    eprintln!("{}: smoke output (last {} lines):", h.host, s.tail.len());
                    for l in &s.tail {
                        eprintln!("{}:   {l}", h.host);
                    }
                }
            }
            match &r.canary {
                Some(c) if c.end != CanaryEnd::NotRun => eprintln!("{}", canary_refused(r, c)),
                _ => eprintln!(
                    "relman: REFUSED: the smoke did not pass, so no host was switched; {rel} is \
                     marked bad on every host (history `refuse`) and each host stays on the \
                     release it had"
                ),
            }
        }
        Outcome::NotSwitched => eprintln!(
            "relman: {rel} was published on every host but the link was switched on none; \
             switch with `relman switch {rel}` once the cause is fixed"
        ),
    }
}

/// The last line of a deploy the canary guard refused: why, and where every host is.
pub fn canary_refused(r: &DeployReport, c: &CanaryReport) -> String {
    let rel = r.release.as_deref().unwrap_or("the release");
    let why = match c.end {
        CanaryEnd::Failed => "a canary's runs failed",
        CanaryEnd::TimedOut => "the canaries did not finish enough runs in time",
        CanaryEnd::SwitchFailed => "a canary could not be switched",
        _ => "the canary guard did not pass",
    };
    let stuck: Vec<&str> = r
        .hosts
        .iter()
        .filter(|h| matches!(h.status, HostStatus::RollbackFailed { .. }))
        .map(|h| h.host.as_str())
        .collect();
    let mut s = format!(
        "relman: REFUSED: {why} ({}); the canaries went back to the release they had, no \
         other host was switched, and {rel} is marked bad on every host",
        c.note.as_deref().unwrap_or("canary")
    );
    if !stuck.is_empty() {
        s.push_str(&format!(
            ". NOT rolled back: {} (see above): relman rollback {}",
            stuck.join(", "),
            stuck
                .iter()
                .map(|h| format!("--host {h}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_every_field_the_spec_and_scripts_need() {
        let mut h = HostReport {
            host: "h1".into(),
            release: Some("batch_20261126221500".into()),
            status: HostStatus::Switched,
            from: Some("batch_20261126093000".into()),
            uploaded_files: 1,
            uploaded_bytes: 42,
            linked_files: 7,
            stale_removed: vec![],
            prune: None,
            warnings: vec![],
            timings: vec![],
            smoke: None,
            canary: None,
            probation: None,
        };
        let v = host_json(&h);
        for k in [
            "name",
            "ok",
            "error",
            "release",
            "uploaded_bytes",
            "linked_files",
            "switched",
            "from",
            "to",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["ok"], true);
        assert_eq!(v["error"], Value::Null);
        assert_eq!(v["to"], "batch_20261126221500");
        h.status = HostStatus::Failed {
            phase: Phase::Upload,
            error: "boom".into(),
            code: 1,
        };
        let v = host_json(&h);
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"], "uploading: boom");
        assert_eq!(v["to"], Value::Null);
        assert_eq!(v["failed_phase"], "upload");
    }

    #[test]
    fn a_refused_host_says_how_its_smoke_ended_and_where_it_stays() {
        let mut h = HostReport {
            host: "h2".into(),
            release: Some("batch_20261126221500".into()),
            status: HostStatus::Refused { marked: true },
            from: Some("batch_20261126093000".into()),
            uploaded_files: 0,
            uploaded_bytes: 0,
            linked_files: 0,
            stale_removed: vec![],
            prune: None,
            warnings: vec![],
            timings: vec![],
            smoke: Some(SmokeResult {
                status: SmokeStatus::Failed { exit_code: 3 },
                tail: vec!["boom".into()],
                duration: std::time::Duration::from_millis(5),
            }),
            canary: None,
            probation: None,
        };
        assert_eq!(
            host_summary(&h),
            "refused: the smoke failed (exit 3); not switched (still on batch_20261126093000)"
        );
        let v = host_json(&h);
        assert_eq!(v["status"], "refused");
        assert_eq!(v["marked_bad"], true);
        assert_eq!(v["smoke"]["status"], "failed");
        assert_eq!(v["smoke"]["exit_code"], 3);
        assert_eq!(v["smoke"]["tail"], json!(["boom"]));
        h.smoke = Some(SmokeResult {
            status: SmokeStatus::Passed,
            tail: vec![],
            duration: std::time::Duration::ZERO,
        });
        assert!(host_summary(&h).contains("passed here but failed on another host"));
        assert_eq!(host_json(&h)["smoke"]["status"], "passed");
    }

    #[test]
    fn a_watched_canary_reads_runs_failures_and_time_left() {
        use std::time::Duration;
        assert_eq!(
            watch_line(2, 3, 0, Duration::from_secs(4 * 60 - 10)),
            "watching: 2 of 3 runs, 0 failed, 4m left"
        );
        assert_eq!(
            watch_line(0, 1, 1, Duration::from_secs(30)),
            "watching: 0 of 1 runs, 1 failed, 30s left"
        );
        let left = crate::plan::health::left_words;
        assert_eq!(left(Duration::from_secs(35)), "35s");
        assert_eq!(left(Duration::from_secs(3900)), "1h 5m");
    }

    #[test]
    fn json_has_the_canary_and_each_hosts_probation() {
        use crate::ops::deploy::CanaryHost;
        use crate::plan::guard::CanaryRuns;
        let mut h1 = HostReport {
            host: "h1".into(),
            release: Some("batch_20261126221500".into()),
            status: HostStatus::CanaryRolledBack,
            from: Some("batch_20261126093000".into()),
            uploaded_files: 0,
            uploaded_bytes: 0,
            linked_files: 0,
            stale_removed: vec![],
            prune: None,
            warnings: vec![],
            timings: vec![],
            smoke: None,
            canary: Some(CanaryHost {
                runs: CanaryRuns {
                    finished: 2,
                    failures: 1,
                    run_ids: vec!["1-1".into(), "1-2".into()],
                    failed: vec![("1-2".into(), crate::model::RunStatus::Failed)],
                },
                error: None,
            }),
            probation: None,
        };
        let mut h2 = h1.clone();
        h2.host = "h2".into();
        h2.status = HostStatus::Switched;
        h2.canary = None;
        h2.probation = Some(ProbationSpec {
            duration: std::time::Duration::from_secs(3600),
            max_failures: 2,
        });
        let r = DeployReport {
            release: h1.release.clone(),
            switch: true,
            files: 1,
            bytes: 1,
            outcome: Outcome::Refused,
            hosts: vec![h1.clone(), h2.clone()],
            canary: Some(CanaryReport {
                hosts: vec!["h1".into()],
                min_runs: 2,
                max_failures: 0,
                watch: std::time::Duration::from_secs(600),
                end: CanaryEnd::Failed,
                note: Some(
                    "canary h1: 1 failed run (1-2 failed), more than --max-failures 0".into(),
                ),
            }),
        };
        let v = report_json(&r);
        let c = &v["canary"];
        assert_eq!(c["verdict"], "failed");
        assert_eq!(c["watch_ms"], 600_000);
        assert_eq!(c["hosts"][0]["name"], "h1");
        assert_eq!(c["hosts"][0]["finished"], 2);
        assert_eq!(c["hosts"][0]["failures"], 1);
        assert_eq!(c["hosts"][0]["run_ids"], json!(["1-1", "1-2"]));
        assert_eq!(c["hosts"][0]["failed_run_ids"], json!(["1-2"]));
        assert_eq!(c["hosts"][0]["rolled_back"], true);
        assert_eq!(v["hosts"][0]["status"], "rolled_back");
        assert_eq!(v["hosts"][0]["marked_bad"], true);
        assert_eq!(v["hosts"][0]["probation"], Value::Null);
        assert_eq!(v["hosts"][1]["probation"]["duration_ms"], 3_600_000);
        assert_eq!(v["hosts"][1]["probation"]["max_failures"], 2);
        assert_eq!(
            host_summary(&h1),
            "canary refused: 2 runs, 1 failed; rolled back to batch_20261126093000 (the \
             release is marked bad)"
        );
        assert!(host_summary(&h2).ends_with("on probation for 1h (2 failures allowed)"));
        h1.status = HostStatus::RollbackFailed {
            error: "the link moved".into(),
            code: 5,
        };
        assert!(
            host_summary(&h1).contains("NOT rolled back"),
            "{}",
            host_summary(&h1)
        );
        assert_eq!(
            report_json(&DeployReport { canary: None, ..r })["canary"],
            Value::Null
        );
    }
}
