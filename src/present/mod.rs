//! What relman shows, for both front ends: the CLI's tables for people and the JSON of
//! SPEC §3 for scripts, and the operation summaries the console shows too.
//! The JSON shapes are built from plain data by pure functions (tested below).

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::config::{Config, HostConfig};
use crate::model::{
    HostState, Origin, age_since, pad, pad_left, plural, printable, truncate, width as width_of,
};
use crate::ops::fleet::HostResult;
use crate::ops::link::FleetLink;
use crate::ops::{LinkChange, OpError};
use crate::plan;

pub mod check;
pub mod deploy;
pub mod out;
pub mod runs;
pub mod summary;

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Sizes in IEC units (`400.0 MiB`), as everywhere relman shows one.
pub use crate::model::human_bytes as size;

/// The `list --json` object for one host (SPEC §3).
pub fn host_json(host: &HostConfig, r: &Result<HostState, OpError>, now: SystemTime) -> Value {
    let st = match r {
        Err(e) => {
            return json!({
                "name": host.name, "ok": false, "error": e.to_string(), "root": host.root,
                "link": host.link, "current": null, "previous": null, "locked": null,
                "foreign": 0, "hidden_processes": 0, "releases": [], "trash": null,
                "probation": null,
            });
        }
        Ok(st) => st,
    };
    let bad = plan::bad_releases(&st.history);
    let previous = plan::previous(st);
    let current = st.current();
    let releases: Vec<Value> = st
        .releases
        .iter()
        .map(|r| {
            let created_at = match &r.origin {
                Origin::Relman(m) => m.created_at.clone(),
                _ => rfc3339(r.name.time()),
            };
            let origin = match &r.origin {
                Origin::Relman(_) => "relman",
                Origin::Unknown => "unknown",
                Origin::BadManifest(_) => "invalid",
            };
            json!({
                "name": r.name.as_str(),
                "path": st.release_path(&r.name),
                "created_at": created_at,
                "size_bytes": r.size_bytes,
                "current": current == Some(&r.name),
                "previous": previous.as_ref() == Some(&r.name),
                "bad": bad.contains(r.name.as_str()),
                "origin": origin,
                "jobs": r.jobs.iter().map(|j| json!({
                    "pid": j.pid, "user": j.user,
                    "started_at": j.started_at.map(rfc3339),
                    "command": j.command,
                })).collect::<Vec<_>>(),
                "pins": r.pins.iter().filter(|p| p.is_active(now)).map(|p| json!({
                    "id": p.id, "by": p.by, "expires_at": p.expires_at, "reason": p.reason,
                })).collect::<Vec<_>>(),

                "health": r.health,
            })
        })
        .collect();
    json!({
        "name": host.name,
        "ok": true,
        "error": null,
        "root": if st.root_exists { st.root_abs.clone() } else { host.root.clone() },
        "link": host.link,
        "current": current.map(|c| c.as_str()),
        "previous": previous.as_ref().map(|p| p.as_str()),
        "locked": st.lock.as_ref().map(|l| json!({"by": l.by, "action": l.action, "since": l.since})),
        "foreign": st.foreign,
        "hidden_processes": st.hidden_processes,
        "releases": releases,
        "trash": st.trash.as_ref().map(|t| json!({
            "entries": t.entries, "files": t.files, "bytes": t.bytes,
        })),
        // SPEC §3: the live release's probation, while one is set.
        "probation": st.probation.as_ref().map(probation_json),
    })
}

/// A probation as `list --json` (and `accept --json`) show it (SPEC §3).
pub fn probation_json(p: &crate::model::Probation) -> Value {
    json!({
        "release": p.release, "previous": p.previous, "since": p.since, "until": p.until,
        "max_failures": p.max_failures, "failures": p.failures,
    })
}

/// The list table's line for a probation: the time left by the host's clock and the
/// failures so far; "DUE" once past them (the next launch by a user who may switch,
/// or relman's next contact, rolls back).
pub fn probation_line(st: &HostState) -> Option<String> {
    let p = st.probation.as_ref()?;
    let prev = p.previous.as_deref().unwrap_or("?");
    if p.due() {
        return Some(format!(
            "probation DUE: {} has {} failed, killed or lost {} (more than {} allowed): \
             rolls back to {} at the next launch by a user who may switch, or relman's next contact",
            printable(&p.release),
            p.failures,
            if p.failures == 1 { "run" } else { "runs" },
            p.max_failures,
            printable(prev)
        ));
    }
    let left = humantime::parse_rfc3339(&p.until)
        .ok()
        .and_then(|u| u.duration_since(st.scanned_at).ok())
        .map(|d| crate::model::span(std::time::Duration::from_secs(d.as_secs())))
        .unwrap_or_else(|| "0s".into());
    Some(format!(
        "probation: {} for {left} more, {} of {} allowed {} so far; more rolls back to {}",
        printable(&p.release),
        p.failures,
        p.max_failures,
        if p.max_failures == 1 {
            "failure"
        } else {
            "failures"
        },
        printable(prev)
    ))
}

/// The list table's line for what a prune could not remove from `.relman/trash`.
pub fn trash_line(st: &HostState) -> Option<String> {
    let t = st.trash.as_ref()?;
    let size = t
        .bytes
        .map(|b| format!(", {}", size(b)))
        .unwrap_or_default();
    Some(format!(
        "trash: {} not removed, {}{size} left in {}/.relman/trash \
         (not removable by the SSH user: remove them as their owner or root)",
        plural(t.entries as u64, "pruned release"),
        plural(t.files, "file"),
        st.root_abs
    ))
}

fn print_json(v: &Value) {
    // A Value's pretty Display: what to_string_pretty gives, and it cannot fail.
    println!("{v:#}");
}

fn link_note(st: &HostState) -> String {
    use crate::model::LinkState::*;
    match &st.link {
        Absent => "no link".into(),
        Release { name, .. } => format!("{} → {name}", st.link_name),
        Dangling { target } => format!("{} → {} (DANGLING)", st.link_name, printable(target)),
        Outside { target } => format!(
            "{} → {} (OUTSIDE the root)",
            st.link_name,
            printable(target)
        ),
        NotRelease { target } => {
            format!("{} → {} (not a release)", st.link_name, printable(target))
        }
        NotSymlink => format!("{} is a real directory, not a link", st.link_name),
    }
}

/// How wide the human tables may be: `COLUMNS` when set, else the terminal's
/// width when stdout is a terminal; `None` (no cut) for a pipe or a file, so
/// `relman list | grep` sees every message whole.
pub fn table_width() -> Option<usize> {
    use std::io::IsTerminal;
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(c);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size().ok().map(|(w, _)| w as usize)
}

/// Lays out rows of cells as columns that line up by display width (wide
/// characters count 2). `right[i]` right-aligns column i. The last column takes
/// what is left of `width` and is cut with `…` when it doesn't fit (`None`: no cut).
/// Every line starts with `indent`; two spaces separate the columns.
pub fn table(
    indent: &str,
    rows: &[Vec<String>],
    right: &[bool],
    width: Option<usize>,
) -> Vec<String> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut w = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(width_of(c));
        }
    }
    rows.iter()
        .map(|r| {
            let mut line = String::from(indent);
            for (i, c) in r.iter().enumerate() {
                let last = i + 1 == r.len();
                if i > 0 {
                    line.push_str("  ");
                }
                if last {
                    let room = width.map(|t| t.saturating_sub(width_of(&line)));
                    let c = match room {
                        Some(room) => truncate(c, room.max(1)),
                        None => c.clone(),
                    };
                    if right.get(i).copied().unwrap_or(false) {
                        line.push_str(&pad_left(&c, w[i]));
                    } else {
                        line.push_str(&c);
                    }
                } else if right.get(i).copied().unwrap_or(false) {
                    line.push_str(&pad_left(c, w[i]));
                } else {
                    line.push_str(&pad(c, w[i]));
                }
            }
            // Columns too wide for the terminal even before the last one: cut the line.
            fit(line.trim_end().to_string(), width)
        })
        .collect()
}

/// A line cut to the table width (`…` at the end) when there is one.
fn fit(line: String, width: Option<usize>) -> String {
    match width {
        Some(w) => truncate(&line, w),
        None => line,
    }
}

/// The head line of one host in `relman list`: link, lock, oddities.
pub fn list_head(h: &HostConfig, st: &HostState, now: SystemTime) -> String {
    let mut head = format!("{}  {}", h.name, link_note(st));
    if !st.root_exists {
        head.push_str(&format!("  (root {} does not exist yet)", h.root));
    }
    if st.foreign > 0 {
        head.push_str(&format!("  {} foreign", st.foreign));
    }
    if let Some(l) = &st.lock {
        head.push_str(&format!("  {}", l.describe(now)));
    }
    if st.hidden_processes > 0 {
        head.push_str(&format!(
            "  {} not inspectable",
            plural(st.hidden_processes as u64, "process")
        ));
    }
    if !st.jobs_known {
        head.push_str("  jobs UNKNOWN");
    }
    head
}

/// `relman list` as lines for people (pure: the caller prints them). `width` is
/// the terminal's ([`table_width`]); long lines and messages are cut to it.
pub fn list_lines(
    hosts: &[&HostConfig],
    results: &[HostResult<HostState>],
    now: SystemTime,
    width: Option<usize>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (h, r) in hosts.iter().zip(results) {
        let st = match &r.result {
            Err(e) => {
                out.push(format!("{}  ERROR: {e}", h.name));
                out.push(String::new());
                continue;
            }
            Ok(st) => st,
        };
        out.push(fit(list_head(h, st, now), width));
        for w in &st.warnings {
            out.push(fit(format!("  warning: {}", printable(w)), width));
        }
        if let Some(t) = trash_line(st) {
            out.push(fit(format!("  {}", printable(&t)), width));
        }
        if let Some(p) = probation_line(st) {
            out.push(fit(format!("  {p}"), width));
        }
        let bad = plan::bad_releases(&st.history);
        let previous = plan::previous(st);
        // The RUNS column (the run ledger's health) only where a job ran through
        // the launcher: a host without a ledger shows the table it always did.
        let runs = st.releases.iter().any(|r| r.health.runs > 0);
        let mut head = [
            "", "RELEASE", "AGE", "SIZE", "JOBS", "PINS", "RUNS", "ORIGIN",
        ]
        .map(String::from)
        .to_vec();
        if !runs {
            head.remove(6);
        }
        let mut rows = vec![head];
        for rel in &st.releases {
            let mut mark = String::new();
            if st.current() == Some(&rel.name) {
                mark.push('●');
            }
            if previous.as_ref() == Some(&rel.name) {
                mark.push('↶');
            }
            if bad.contains(rel.name.as_str()) {
                mark.push('✗');
            }
            let pins = rel.pins.iter().filter(|p| p.is_active(now)).count();
            let origin = match &rel.origin {
                Origin::Relman(m) if m.message.is_empty() => printable(&m.created_by),
                Origin::Relman(m) => {
                    format!("{}: {}", printable(&m.created_by), printable(&m.message))
                }
                Origin::Unknown => "unknown (no manifest)".into(),
                Origin::BadManifest(e) => format!("invalid manifest: {}", printable(e)),
            };
            let count = |n: usize| if n == 0 { "-".into() } else { n.to_string() };
            let mut row = vec![
                mark,
                printable(rel.name.as_str()),
                age_since(rel.name.time(), now),
                size(rel.size_bytes),
                count(rel.jobs.len()),
                count(pins),
            ];
            if runs {
                row.push(runs::health_cell(&rel.health));
            }
            row.push(origin);
            rows.push(row);
        }
        let right = [false, false, false, true, true, true, false, false];
        out.extend(table("  ", &rows, &right, width));
        out.push(String::new());
    }
    out
}

/// `relman list`.
pub fn list(
    _cfg: &Config,
    hosts: &[&HostConfig],
    results: &[HostResult<HostState>],
    as_json: bool,
) {
    let now = SystemTime::now();
    if as_json {
        let hosts: Vec<Value> = hosts
            .iter()
            .zip(results)
            .map(|(h, r)| host_json(h, &r.result, now))
            .collect();
        print_json(&json!({ "hosts": hosts }));
        return;
    }
    for line in list_lines(hosts, results, now, table_width()) {
        println!("{line}");
    }
}

/// `relman switch` / `rollback` results.
pub fn link_changes(results: &[HostResult<LinkChange>], as_json: bool, quiet: bool) {
    link_results(results, as_json, quiet);
    if as_json {
        return;
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.result.is_err())
        .map(|r| r.host.as_str())
        .collect();
    let done = results.len() - failed.len();
    if !failed.is_empty() && done > 0 {
        eprintln!(
            "relman: done on {}, NOT on {}: the fleet now differs (run `relman list`)",
            plural(done as u64, "host"),
            failed.join(", ")
        );
    }
}

/// A fleet switch / rollback: as [`link_changes`]; a refused preflight says that
/// nothing changed and which hosts could not take the change.
pub fn fleet_link(f: &FleetLink, as_json: bool, quiet: bool) {
    if !f.refused {
        return link_changes(&f.results, as_json, quiet);
    }
    if as_json {
        return link_results(&f.results, true, quiet);
    }
    for i in &f.blockers {
        let r = &f.results[*i];
        if let Err(e) = &r.result {
            eprintln!("{}: {e}", r.host);
        }
    }
    let names: Vec<&str> = f
        .blockers
        .iter()
        .map(|i| f.results[*i].host.as_str())
        .collect();
    eprintln!(
        "relman: nothing changed on any host: {} cannot take the change",
        names.join(", ")
    );
}

/// The `--json` object of a switch or rollback (also what its hooks read on stdin).
pub fn link_results_json(results: &[HostResult<LinkChange>]) -> Value {
    let hosts: Vec<Value> = results
        .iter()
        .map(|r| match &r.result {
            Ok(c) => {
                json!({"name": r.host, "ok": true, "error": null, "from": c.from, "to": c.to,
                            "changed": c.changed,
                            "note": c.note.map(|n| summary::link_note(n, &c.to)),
                            "warning": c.warning.as_ref().map(summary::link_warning),
                            "probation": c.probation.as_ref().map(|p| json!({
                                "duration_ms": p.duration.as_millis() as u64,
                                "max_failures": p.max_failures}))})
            }
            Err(e) => json!({"name": r.host, "ok": false, "error": e.to_string(), "from": null,
                             "to": null, "changed": false, "note": null, "warning": null,
                             "probation": null}),
        })
        .collect();
    json!({ "hosts": hosts })
}

fn link_results(results: &[HostResult<LinkChange>], as_json: bool, quiet: bool) {
    if as_json {
        print_json(&link_results_json(results));
        // Warnings reach stderr even with --json (stdout stays one JSON object).
        for r in results {
            if let Ok(LinkChange {
                warning: Some(w), ..
            }) = &r.result
            {
                eprintln!("{}: warning: {}", r.host, summary::link_warning(w));
            }
        }
        return;
    }
    for r in results {
        match &r.result {
            Ok(c) => {
                if let Some(w) = &c.warning {
                    eprintln!("{}: warning: {}", r.host, summary::link_warning(w));
                }
                if !quiet {
                    println!("{}: {}", r.host, summary::link_change(c));
                }
            }
            Err(e) => eprintln!("{}: {e}", r.host),
        }
    }
}

/// `relman accept`: one line per host, or `{"hosts":[{"name","ok","error",
/// "accepted":null|{probation}}]}` (the probation it ended, as in `list --json`).
pub fn accepted(
    results: &[HostResult<crate::ops::probation::Accepted>],
    as_json: bool,
    quiet: bool,
) {
    if as_json {
        print_json(&accepted_json(results));
        return;
    }
    for r in results {
        match &r.result {
            Ok(a) if !quiet => println!("{}: {}", r.host, summary::accepted(a)),
            Ok(_) => {}
            Err(e) => eprintln!("{}: {e}", r.host),
        }
    }
}

/// `accept --json`: every host has `accepted` (null without a probation or on error).
pub fn accepted_json(results: &[HostResult<crate::ops::probation::Accepted>]) -> Value {
    use crate::ops::probation::Accepted;
    let hosts: Vec<Value> = results
        .iter()
        .map(|r| {
            let accepted = match &r.result {
                Ok(Accepted::Ended(p)) => probation_json(p),
                _ => Value::Null,
            };
            json!({"name": r.host, "ok": r.result.is_ok(),
                "error": r.result.as_ref().err().map(|e| e.to_string()), "accepted": accepted})
        })
        .collect();
    json!({ "hosts": hosts })
}

/// One `{"name","ok","error", ...fields}` object per host, for commands' `--json`.
fn per_host_json<T>(results: &[HostResult<T>], fields: impl Fn(&T) -> Value) -> Value {
    let hosts: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut v = json!({"name": r.host, "ok": r.result.is_ok(),
                "error": r.result.as_ref().err().map(|e| e.to_string())});
            if let (Ok(t), Some(obj)) = (&r.result, v.as_object_mut()) {
                if let Value::Object(extra) = fields(t) {
                    obj.extend(extra);
                }
            }
            v
        })
        .collect();
    json!({ "hosts": hosts })
}

/// Prints each failed host's error on stderr, one line each.
fn errors<T>(results: &[HostResult<T>]) {
    for r in results {
        if let Err(e) = &r.result {
            eprintln!("{}: {e}", r.host);
        }
    }
}

/// `relman prune [--dry-run]`: every release's verdict and reason, then what happened.
pub fn prune(results: &[HostResult<crate::ops::prune::PruneReport>], as_json: bool, quiet: bool) {
    if as_json {
        print_json(&per_host_json(results, |rep| {
            // PruneReport derives Serialize over strings, numbers, lists and string-keyed
            // maps: to_value cannot fail on it (the tests below print one).
            #[allow(clippy::expect_used)]
            serde_json::to_value(rep).expect("a PruneReport is plain JSON data")
        }));
        return;
    }
    errors(results);
    for r in results {
        let Ok(rep) = &r.result else { continue };
        if quiet {
            continue;
        }
        let title = if rep.dry_run {
            "prune plan (dry run: nothing changed)"
        } else {
            "prune"
        };
        println!("{}  {title}, keep {}", r.host, rep.plan.keep);
        // Every verdict and reason whole (never cut): what prune decides is read here.
        let rows: Vec<Vec<String>> = rep
            .rows()
            .iter()
            .map(|row| vec![printable(&row.name), printable(&row.text())])
            .collect();
        for line in table("  ", &rows, &[false, false], None) {
            println!("{line}");
        }
        if !rep.dry_run {
            let deleted = rep.deleted();
            println!(
                "  deleted {}{}{}",
                plural(deleted.len() as u64, "release"),
                if deleted.is_empty() {
                    String::new()
                } else {
                    format!(": {}", deleted.join(", "))
                },
                if deleted.is_empty() {
                    String::new()
                } else {
                    format!(", freed {}", size(rep.freed_bytes()))
                }
            );
            for (name, left, why) in rep.trashed() {
                println!(
                    "  NOT FREED: {name} moved out of the root, {} left in \
                     .relman/trash: {why} (remove them as their owner or root)",
                    plural(left, "file")
                );
            }
        } else if rep.freed_bytes() > 0 {
            println!("  would free {}", size(rep.freed_bytes()));
        }
        for p in &rep.pins_removed {
            println!("  removed pin {}", printable(p));
        }
        for s in &rep.staging_removed {
            println!("  removed stale upload {}", printable(s));
        }
        for w in &rep.warnings {
            println!("  warning: {}", printable(w));
        }
        println!();
    }
}

/// `relman pin`.
pub fn pins(results: &[HostResult<crate::model::Pin>], as_json: bool, quiet: bool) {
    if as_json {
        print_json(&per_host_json(results, |p| json!({"pin": p})));
        return;
    }
    errors(results);
    for r in results {
        if let (Ok(p), false) = (&r.result, quiet) {
            println!(
                "{}: pinned {} until {} (id {})",
                r.host, p.release, p.expires_at, p.id
            );
        }
    }
}

/// `relman unpin`.
pub fn unpins(results: &[HostResult<usize>], release: &str, as_json: bool, quiet: bool) {
    if as_json {
        print_json(&per_host_json(results, |n| json!({"removed": n})));
        return;
    }
    errors(results);
    for r in results {
        if let (Ok(n), false) = (&r.result, quiet) {
            println!(
                "{}: removed {} of {}",
                r.host,
                plural(*n as u64, "pin"),
                printable(release)
            );
        }
    }
}

/// `relman resolve`: the path alone on stdout, so `R=$(relman resolve ...)` works.
pub fn resolved(results: &[HostResult<crate::ops::pin::Resolved>], as_json: bool) {
    if as_json {
        print_json(&per_host_json(
            results,
            |r| json!({"path": r.path, "release": r.release, "pin": r.pin}),
        ));
        return;
    }
    errors(results);
    for r in results {
        if let Ok(res) = &r.result {
            println!("{}", res.path);
        }
    }
}

/// `relman history`.
pub fn history(results: &[HostResult<HostState>], n: usize, as_json: bool) {
    if as_json {
        let hosts: Vec<Value> = results
            .iter()
            .map(|r| match &r.result {
                Ok(st) => json!({"name": r.host, "ok": true, "error": null,
                    "history": st.history.iter().rev().take(n).collect::<Vec<_>>()}),
                Err(e) => {
                    json!({"name": r.host, "ok": false, "error": e.to_string(), "history": []})
                }
            })
            .collect();
        print_json(&json!({ "hosts": hosts }));
        return;
    }
    for r in results {
        match &r.result {
            Err(e) => println!("{}  ERROR: {e}", r.host),
            Ok(st) => {
                println!("{}", r.host);
                if st.history.is_empty() {
                    println!("  (no history)");
                }
                for line in history_lines(st, n, table_width()) {
                    println!("{line}");
                }
            }
        }
        println!();
    }
}

/// `relman history`'s rows for one host, newest first, in columns that line up
/// whatever the operator's name; the last column (from → to, note) cut to `width`.
pub fn history_lines(st: &HostState, n: usize, width: Option<usize>) -> Vec<String> {
    let rows: Vec<Vec<String>> = st
        .history
        .iter()
        .rev()
        .take(n)
        .map(|h| {
            vec![
                printable(&h.at),
                h.action.as_str().to_string(),
                printable(&h.by),
                format!(
                    "{} → {}{}",
                    printable(h.from.as_deref().unwrap_or("-")),
                    printable(h.to.as_deref().unwrap_or("-")),
                    h.note
                        .as_deref()
                        .map(|n| format!("  ({})", printable(n)))
                        .unwrap_or_default()
                ),
            ]
        })
        .collect();
    table("  ", &rows, &[false; 4], width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LinkState, Release, ReleaseName};

    fn host() -> HostConfig {
        HostConfig::local("b1", "deploy")
    }

    #[test]
    fn a_probation_shows_in_json_and_in_the_table() {
        let now = humantime::parse_rfc3339("2026-12-02T01:21:16Z").unwrap();
        let mut st = HostState::empty("deploy", "batch", "batch_", now);
        let mut p = crate::model::Probation {
            release: "batch_20261202011916".into(),
            previous: Some("batch_20261126093000".into()),
            since: "2026-12-02T01:19:16Z".into(),
            until: "2026-12-02T01:29:16Z".into(),
            max_failures: 1,
            failures: 1,
        };
        assert_eq!(
            probation_json(&p),
            json!({"release": "batch_20261202011916", "previous": "batch_20261126093000",
                   "since": "2026-12-02T01:19:16Z", "until": "2026-12-02T01:29:16Z",
                   "max_failures": 1, "failures": 1})
        );
        assert_eq!(probation_line(&st), None);
        st.probation = Some(p.clone());
        assert_eq!(
            probation_line(&st).unwrap(),
            "probation: batch_20261202011916 for 8m more, 1 of 1 allowed failure so far; \
             more rolls back to batch_20261126093000"
        );
        p.failures = 2;
        st.probation = Some(p);
        let line = probation_line(&st).unwrap();
        assert!(
            line.starts_with(
                "probation DUE: batch_20261202011916 has 2 failed, killed or lost runs \
                 (more than 1 allowed): rolls back to batch_20261126093000"
            ),
            "{line}"
        );
        assert_eq!(host_json(&host(), &Ok(st), now)["probation"]["failures"], 2);
    }

    #[test]
    fn list_json_has_exactly_the_spec_keys() {
        let now = humantime::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
        let mut st = HostState::empty("deploy", "batch", "batch_", now);
        st.root_exists = true;
        st.root_abs = "/home/u/deploy".into();
        let a = ReleaseName::parse("batch_", "batch_20261126093000").unwrap();
        let b = ReleaseName::parse("batch_", "batch_20261126221500").unwrap();
        st.link = LinkState::Release {
            name: b.clone(),
            absolute: false,
        };
        for n in [b, a] {
            st.releases.push(Release {
                name: n,
                size_bytes: 5,
                usable: Default::default(),
                origin: Origin::Unknown,
                jobs: vec![],
                pins: vec![],
                health: Default::default(),
            });
        }
        let v = host_json(&host(), &Ok(st), now);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = vec![
            "name",
            "ok",
            "error",
            "root",
            "link",
            "current",
            "previous",
            "locked",
            "foreign",
            "hidden_processes",
            "releases",
            "trash",
            "probation",
        ];
        want.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want);
        assert_eq!(v["current"], "batch_20261126221500");
        assert_eq!(v["previous"], "batch_20261126093000");
        let r = &v["releases"][0];
        let mut rk: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        rk.sort();
        let mut want = vec![
            "name",
            "path",
            "created_at",
            "size_bytes",
            "current",
            "previous",
            "bad",
            "origin",
            "jobs",
            "pins",
            "health",
        ];
        want.sort();
        assert_eq!(rk, want);
        assert_eq!(r["path"], "/home/u/deploy/batch_20261126221500");
        assert_eq!(r["created_at"], "2026-11-26T22:15:00Z");
        assert_eq!(r["origin"], "unknown");
        assert_eq!(v["trash"], Value::Null);
        let e = host_json(&host(), &Err(OpError::Failed("boom".into())), now);
        assert_eq!(e["ok"], false);
        assert_eq!(e["error"], "boom");
    }

    #[test]
    fn trash_a_prune_could_not_empty_is_shown() {
        let now = humantime::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
        let mut st = HostState::empty("deploy", "batch", "batch_", now);
        st.root_exists = true;
        st.root_abs = "/srv/deploy".into();
        assert_eq!(trash_line(&st), None);
        st.trash = Some(crate::model::Trash {
            entries: 1,
            files: 3,
            bytes: Some(12_000),
        });
        assert_eq!(
            trash_line(&st).unwrap(),
            "trash: 1 pruned release not removed, 3 files, 11.7 KiB left in \
             /srv/deploy/.relman/trash (not removable by the SSH user: remove them as \
             their owner or root)"
        );
        let v = host_json(&host(), &Ok(st), now);
        assert_eq!(
            v["trash"],
            json!({"entries": 1, "files": 3, "bytes": 12000})
        );
    }

    fn long_prefix_state(now: SystemTime) -> HostState {
        let p = "reporting_nightly_";
        let mut st = HostState::empty("deploy", "batch", p, now);
        st.root_exists = true;
        st.root_abs = "/srv/deploy".into();
        let a = ReleaseName::parse(p, "reporting_nightly_20261126093000").unwrap();
        let b = ReleaseName::parse(p, "reporting_nightly_20261126221500").unwrap();
        st.link = LinkState::Release {
            name: b.clone(),
            absolute: false,
        };
        let manifest = |name: &ReleaseName, msg: &str| {
            Origin::Relman(crate::model::Manifest {
                name: name.to_string(),
                created_at: "2026-11-26T22:15:00Z".into(),
                created_by: "carol@laptop".into(),
                message: msg.into(),
                files: vec![],
            })
        };
        st.releases.push(Release {
            origin: manifest(&b, &"a long message about the nightly report ".repeat(4)),
            name: b,
            size_bytes: 400 * 1024 * 1024,
            usable: Default::default(),
            jobs: vec![],
            pins: vec![],
            health: Default::default(),
        });
        st.releases.push(Release {
            origin: Origin::Unknown,
            name: a,
            size_bytes: 12,
            usable: Default::default(),
            jobs: vec![],
            pins: vec![],
            health: Default::default(),
        });
        st
    }

    fn lines_of(st: HostState, now: SystemTime, width: Option<usize>) -> Vec<String> {
        let h = host();
        let results = vec![HostResult {
            host: "b1".into(),
            result: Ok(st),
        }];
        list_lines(&[&h], &results, now, width)
    }

    /// The column a header word starts at, in display columns.
    fn col(line: &str, word: &str) -> usize {
        width_of(&line[..line.find(word).unwrap()])
    }

    #[test]
    fn list_columns_line_up_with_a_long_prefix() {
        let now = humantime::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
        let lines = lines_of(long_prefix_state(now), now, None);
        let head = lines.iter().find(|l| l.contains("RELEASE")).unwrap();
        let rows: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("  ") && l.contains("_2026"))
            .collect();
        assert_eq!(rows.len(), 2, "{lines:#?}");
        // Every row's age starts under AGE, its size ends under SIZE.
        let age = col(head, "AGE");
        let size_end = col(head, "SIZE") + 4;
        for r in &rows {
            assert!(col(r, " ago") > age, "{r}");
            let sz = if r.contains("MiB") {
                "400.0 MiB"
            } else {
                "12 B"
            };
            assert_eq!(col(r, sz) + sz.len(), size_end, "{lines:#?}");
            assert_eq!(&r[..2], "  ");
        }
        let age_col: Vec<usize> = rows
            .iter()
            .map(|r| col(r, if r.contains("MiB") { "1h" } else { "14h" }))
            .collect();
        assert_eq!(age_col, vec![age, age], "{lines:#?}");
        // A pipe gets the whole message.
        assert!(rows[0].ends_with("nightly report"), "{}", rows[0]);
        assert!(rows[0].contains("400.0 MiB"), "IEC units, as the console");
    }

    #[test]
    fn list_lines_fit_a_narrow_terminal_with_an_ellipsis() {
        let now = humantime::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
        let lines = lines_of(long_prefix_state(now), now, Some(100));
        for l in &lines {
            assert!(width_of(l) <= 100, "{} columns: {l}", width_of(l));
        }
        let row = lines.iter().find(|l| l.contains("MiB")).unwrap();
        assert!(row.ends_with('…'), "{row}");
        assert!(row.contains("carol@laptop: a long"), "{row}");
    }

    #[test]
    fn history_lines_up_whatever_the_operators_name() {
        use crate::model::{Action, HistoryEntry};
        let now = humantime::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
        let mut st = long_prefix_state(now);
        for by in ["a-very-long-operator-name@build-host-17.internal", "ci@j"] {
            st.history.push(HistoryEntry {
                at: "2026-11-26T22:15:00Z".into(),
                by: by.into(),
                action: Action::Switch,
                from: Some("reporting_nightly_20261126093000".into()),
                to: Some("reporting_nightly_20261126221500".into()),
                note: Some("a note ".repeat(20)),
            });
        }
        let lines = history_lines(&st, 20, None);
        assert_eq!(lines.len(), 2);
        let arrow: Vec<usize> = lines
            .iter()
            .map(|l| width_of(&l[..l.find("reporting").unwrap()]))
            .collect();
        assert_eq!(arrow[0], arrow[1], "{lines:#?}");
        for l in history_lines(&st, 20, Some(90)) {
            assert!(width_of(&l) <= 90 && l.ends_with('…'), "{l}");
        }
    }

    #[test]
    fn table_counts_wide_characters_as_two_columns() {
        let rows = vec![
            vec!["名前".to_string(), "x".to_string()],
            vec!["ab".to_string(), "y".to_string()],
        ];
        let out = table("", &rows, &[false, false], None);
        assert_eq!(out, vec!["名前  x", "ab    y"]);
        let cut = table(
            "",
            &[vec!["a".into(), "日本語です".into()]],
            &[false, false],
            Some(8),
        );
        assert_eq!(cut, vec!["a  日本…"]);
    }

    #[test]
    fn a_lock_without_owner_reads_as_such_and_counts_are_plural() {
        let now = humantime::parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
        let mut st = long_prefix_state(now);
        st.lock = Some(crate::model::LockInfo {
            by: "?".into(),
            action: "?".into(),
            since: String::new(),
            pid: None,
            token: String::new(),
        });
        st.hidden_processes = 1;
        let head = list_head(&host(), &st, now);
        assert!(head.contains("locked (holder unknown)"), "{head}");
        assert!(!head.contains('?'), "{head}");
        assert!(head.contains("1 process not inspectable"), "{head}");
        st.hidden_processes = 3;
        assert!(list_head(&host(), &st, now).contains("3 processes not inspectable"));
    }
}
