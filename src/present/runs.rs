//! `relman runs` (SPEC §7): the runs the launcher recorded, as a table or JSON, and
//! the list's health cell. Pure: the caller prints.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::table;
use crate::model::{Health, Run, RunStatus, age_since, printable, span};
use crate::ops::fleet::HostResult;

/// The `list` table's RUNS cell: `-` without runs, else the count and what was
/// not ok ("12", "12: 2 failed, 1 running").
pub fn health_cell(h: &Health) -> String {
    if h.runs == 0 {
        return "-".into();
    }
    let parts: Vec<String> = [
        (h.failed, "failed"),
        (h.killed, "killed"),
        (h.lost, "lost"),
        (h.running, "running"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, w)| format!("{n} {w}"))
    .collect();
    if parts.is_empty() {
        h.runs.to_string()
    } else {
        format!("{}: {}", h.runs, parts.join(", "))
    }
}

/// One run as SPEC §7's JSON object: exactly SPEC's keys, and `"tail"` (the kept
/// output lines of a run started with `launch --tail`) only where a tail was kept, so
/// a reader that checks SPEC's keys sees them exactly on every other run.
pub fn run_json(r: &Run) -> Value {
    let mut v = json!({
        "id": r.id,
        "release": r.release,
        "pid": r.pid,
        "user": r.user,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "duration_ms": r.duration_ms(),
        "status": r.status.as_str(),
        "exit_code": r.exit_code,
        "signal": r.signal,
        "command": r.command,
    });
    if let (Some(tail), Some(o)) = (&r.tail, v.as_object_mut()) {
        o.insert("tail".into(), json!(tail));
    }
    v
}

/// `relman runs --json`: `{"hosts":[{"name","ok","error","runs":[...]}]}`.
pub fn runs_json(results: &[HostResult<Vec<Run>>]) -> Value {
    let hosts: Vec<Value> = results
        .iter()
        .map(|r| match &r.result {
            Ok(runs) => json!({"name": r.host, "ok": true, "error": null,
                "runs": runs.iter().map(run_json).collect::<Vec<_>>()}),
            Err(e) => json!({"name": r.host, "ok": false, "error": e.to_string(), "runs": []}),
        })
        .collect();
    json!({ "hosts": hosts })
}

/// `relman runs`: JSON, or per host its name and the table.
pub fn print(results: &[HostResult<Vec<Run>>], as_json: bool) {
    if as_json {
        println!("{}", runs_json(results));
        return;
    }
    let now = SystemTime::now();
    for r in results {
        match &r.result {
            Err(e) => println!("{}  ERROR: {e}", r.host),
            Ok(runs) => {
                println!("{}", r.host);
                if runs.is_empty() {
                    println!("  (no runs recorded)");
                } else {
                    let width = super::table_width();
                    let lines = runs_lines(runs, now, width, RunColumns::All);
                    for line in with_tails(lines, runs, width) {
                        println!("{line}");
                    }
                }
            }
        }
        println!();
    }
}

/// The exit code, or the signal, of a run that ended.
fn outcome(r: &Run) -> String {
    match (&r.signal, r.exit_code) {
        (Some(s), _) => format!("SIG{}", printable(s)),
        (None, Some(c)) => c.to_string(),
        (None, None) => "-".into(),
    }
}

/// Which columns a runs table has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunColumns {
    /// `relman runs`: a host's runs of every release and user.
    All,
    /// One release's runs (the console's details pane): no RELEASE and USER columns.
    OfRelease,
}

/// The table's lines for runs, newest first (as given): the CLI's `relman runs` and
/// the console's details pane say the same of a run.
pub fn runs_lines(
    runs: &[Run],
    now: SystemTime,
    width: Option<usize>,
    cols: RunColumns,
) -> Vec<String> {
    let all = cols == RunColumns::All;
    let mut head = vec!["STATUS", "EXIT", "STARTED", "DURATION"];
    if all {
        head.extend(["RELEASE", "USER"]);
    }
    head.push("COMMAND");
    let mut rows = vec![head.into_iter().map(String::from).collect::<Vec<_>>()];
    for r in runs {
        let started = humantime::parse_rfc3339(&r.started_at).ok();
        let duration = match (r.duration_ms(), r.status, started) {
            (Some(ms), _, _) => span_ms(ms),
            (None, RunStatus::Running, Some(s)) => {
                format!("{} so far", span(now.duration_since(s).unwrap_or_default()))
            }
            _ => "-".into(),
        };
        let mut row = vec![
            r.status.as_str().to_string(),
            outcome(r),
            started.map_or_else(|| "?".into(), |s| age_since(s, now)),
            duration,
        ];
        if all {
            row.extend([printable(&r.release), printable(&r.user)]);
        }
        row.push(printable(&r.command));
        rows.push(row);
    }
    let right: Vec<bool> = rows[0]
        .iter()
        .map(|h| h == "EXIT" || h == "DURATION")
        .collect();
    table("  ", &rows, &right, width)
}

/// `relman runs`'s table with each kept output tail (`launch --tail`) under its run's
/// row: `lines` is [`runs_lines`]'s (a header, then one row per run, in order).
pub fn with_tails(lines: Vec<String>, runs: &[Run], width: Option<usize>) -> Vec<String> {
    let mut out = Vec::with_capacity(lines.len());
    let mut it = lines.into_iter();
    out.extend(it.next());
    for (row, r) in it.zip(runs) {
        out.push(row);
        out.extend(tail_lines(
            r.tail.as_deref().unwrap_or_default(),
            "      | ",
            width,
        ));
    }
    out
}

/// A run's kept output tail, each line after `indent`, made printable (a tab as
/// spaces) and cut to `width`.
pub fn tail_lines(tail: &[String], indent: &str, width: Option<usize>) -> Vec<String> {
    tail.iter()
        .map(|l| {
            let line = format!("{indent}{}", printable(&l.replace('\t', "    ")));
            match width {
                Some(w) => crate::model::truncate(&line, w),
                None => line,
            }
        })
        .collect()
}

/// A run's duration: milliseconds under a second, else as the ages are written.
fn span_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        span(Duration::from_millis(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LastFailure;

    fn run(status: RunStatus, exit_code: Option<i32>, signal: Option<&str>) -> Run {
        Run {
            id: "1796174356-4818".into(),
            release: "batch_20261201000000".into(),
            pid: 4856,
            user: "deploy".into(),
            started_at: "2026-12-02T01:19:16.502Z".into(),
            ended_at: (status != RunStatus::Running && status != RunStatus::Lost)
                .then(|| "2026-12-02T01:19:18.781Z".into()),
            status,
            exit_code,
            signal: signal.map(String::from),
            command: "java -jar \"a b\".jar".into(),
            tail: None,
        }
    }

    #[test]
    fn the_health_cell_says_what_was_not_ok() {
        assert_eq!(health_cell(&Health::default()), "-");
        let h = Health {
            runs: 5,
            ok: 5,
            ..Default::default()
        };
        assert_eq!(health_cell(&h), "5");
        let h = Health {
            runs: 6,
            ok: 1,
            failed: 2,
            killed: 1,
            lost: 1,
            running: 1,
            last_failure: Some(LastFailure::default()),
        };
        assert_eq!(health_cell(&h), "6: 2 failed, 1 killed, 1 lost, 1 running");
    }

    #[test]
    fn runs_json_has_exactly_the_spec_keys() {
        let results = vec![
            HostResult {
                host: "a".into(),
                result: Ok(vec![run(RunStatus::Killed, None, Some("TERM"))]),
            },
            HostResult {
                host: "b".into(),
                result: Err(crate::ops::OpError::Failed("boom".into())),
            },
        ];
        let v = runs_json(&results);
        let r = &v["hosts"][0]["runs"][0];
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        let mut want = vec![
            "id",
            "release",
            "pid",
            "user",
            "started_at",
            "ended_at",
            "duration_ms",
            "status",
            "exit_code",
            "signal",
            "command",
        ];
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(r["duration_ms"], 2279);
        assert_eq!(r["status"], "killed");
        assert_eq!(r["signal"], "TERM");
        assert_eq!(r["exit_code"], Value::Null);
        assert_eq!(r["command"], "java -jar \"a b\".jar");
        assert!(r.get("tail").is_none(), "no tail kept, no key: {r}");
        let mut t = run(RunStatus::Failed, Some(1), None);
        t.tail = Some(vec!["boom".into(), "".into()]);
        assert_eq!(run_json(&t)["tail"], json!(["boom", ""]));
        assert_eq!(v["hosts"][1]["ok"], false);
        assert_eq!(v["hosts"][1]["error"], "boom");
        assert_eq!(v["hosts"][1]["runs"], json!([]));
    }

    #[test]
    fn one_releases_runs_leave_out_release_and_user() {
        let now = humantime::parse_rfc3339("2026-12-02T01:29:16Z").unwrap();
        let runs = [run(RunStatus::Killed, None, Some("TERM"))];
        let all = runs_lines(&runs, now, None, RunColumns::All);
        let one = runs_lines(&runs, now, None, RunColumns::OfRelease);
        assert!(
            all[0].contains("RELEASE") && all[0].contains("USER"),
            "{all:?}"
        );
        assert!(
            !one[0].contains("RELEASE") && !one[0].contains("USER"),
            "{one:?}"
        );
        assert!(
            one[1].contains("SIGTERM") && !one[1].contains("batch_"),
            "{one:?}"
        );
    }

    #[test]
    fn a_kept_tail_is_printed_under_its_run() {
        let now = humantime::parse_rfc3339("2026-12-02T01:29:16Z").unwrap();
        let mut failed = run(RunStatus::Failed, Some(3), None);
        failed.tail = Some(vec!["Exception in \u{1b}main".into(), "\tat x".into()]);
        let runs = [run(RunStatus::Ok, Some(0), None), failed];
        let lines = with_tails(runs_lines(&runs, now, None, RunColumns::All), &runs, None);
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(
            lines[1].contains("ok") && lines[2].contains("failed"),
            "{lines:?}"
        );
        assert_eq!(lines[3], "      | Exception in ?main");
        assert_eq!(lines[4], "      |     at x");
        let cut = with_tails(
            runs_lines(&runs, now, Some(12), RunColumns::All),
            &runs,
            Some(12),
        );
        assert!(cut[3].chars().count() <= 12, "{cut:?}");
    }

    #[test]
    fn the_table_shows_status_exit_and_duration() {
        let now = humantime::parse_rfc3339("2026-12-02T01:29:16Z").unwrap();
        let lines = runs_lines(
            &[
                run(RunStatus::Failed, Some(3), None),
                run(RunStatus::Running, None, None),
            ],
            now,
            None,
            RunColumns::All,
        );
        assert_eq!(lines.len(), 3);
        assert!(lines[0].trim_start().starts_with("STATUS"), "{lines:?}");
        assert!(
            lines[1].contains("failed") && lines[1].contains("  3  "),
            "{lines:?}"
        );
        assert!(lines[1].contains("2s"), "{lines:?}");
        assert!(
            lines[2].contains("running") && lines[2].contains("so far"),
            "{lines:?}"
        );
        assert!(lines[1].ends_with("java -jar \"a b\".jar"), "{lines:?}");
    }
}
