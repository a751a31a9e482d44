//! What the CLI prints: tables for people, and the JSON of SPEC §3 for scripts.
//! The JSON shapes are built from plain data by pure functions (tested below).

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::config::{Config, HostConfig};
use crate::model::{HostState, Origin, age_since, printable};
use crate::ops::fleet::HostResult;
use crate::ops::link::FleetLink;
use crate::ops::{LinkChange, OpError};
use crate::plan;

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

pub use crate::ops::deploy::human_bytes as size;

/// The `list --json` object for one host (SPEC §3).
pub fn host_json(host: &HostConfig, r: &Result<HostState, OpError>, now: SystemTime) -> Value {
    let st = match r {
        Err(e) => {
            return json!({
                "name": host.name, "ok": false, "error": e.to_string(), "root": host.root,
                "link": host.link, "current": null, "previous": null, "locked": null,
                "foreign": 0, "hidden_processes": 0, "releases": [], "trash": null,
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
    })
}

/// The list table's line for what a prune could not remove from `.relman/trash`.
pub fn trash_line(st: &HostState) -> Option<String> {
    let t = st.trash.as_ref()?;
    let size = t
        .bytes
        .map(|b| format!(", {}", size(b)))
        .unwrap_or_default();
    Some(format!(
        "trash: {} pruned release(s) not removed, {} file(s){size} left in {}/.relman/trash \
         (not removable by the SSH user: remove them as their owner or root)",
        t.entries, t.files, st.root_abs
    ))
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).expect("json"));
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
    for (h, r) in hosts.iter().zip(results) {
        let st = match &r.result {
            Err(e) => {
                println!("{}  ERROR: {e}\n", h.name);
                continue;
            }
            Ok(st) => st,
        };
        let mut head = format!("{}  {}", h.name, link_note(st));
        if !st.root_exists {
            head.push_str(&format!("  (root {} does not exist yet)", h.root));
        }
        if st.foreign > 0 {
            head.push_str(&format!("  {} foreign", st.foreign));
        }
        if let Some(l) = &st.lock {
            let ago = l.age(now).map(crate::model::age).unwrap_or_default();
            head.push_str(&format!(
                "  LOCKED by {} ({} {ago})",
                printable(&l.by),
                printable(&l.action)
            ));
        }
        if st.hidden_processes > 0 {
            head.push_str(&format!(
                "  {} processes not inspectable",
                st.hidden_processes
            ));
        }
        if !st.jobs_known {
            head.push_str("  jobs UNKNOWN");
        }
        println!("{head}");
        for w in &st.warnings {
            println!("  warning: {}", printable(w));
        }
        if let Some(t) = trash_line(st) {
            println!("  {}", printable(&t));
        }
        let bad = plan::bad_releases(&st.history);
        let previous = plan::previous(st);
        println!(
            "  {:<2} {:<26} {:<12} {:>9} {:>4} {:>4}  ORIGIN",
            "", "RELEASE", "AGE", "SIZE", "JOBS", "PINS"
        );
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
            println!(
                "  {:<2} {:<26} {:<12} {:>9} {:>4} {:>4}  {}",
                mark,
                rel.name.as_str(),
                age_since(rel.name.time(), now),
                size(rel.size_bytes),
                if rel.jobs.is_empty() {
                    "-".into()
                } else {
                    rel.jobs.len().to_string()
                },
                if pins == 0 {
                    "-".into()
                } else {
                    pins.to_string()
                },
                origin
            );
        }
        println!();
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
            "relman: done on {done} host(s), NOT on {}: the fleet now differs (run `relman list`)",
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

fn link_results(results: &[HostResult<LinkChange>], as_json: bool, quiet: bool) {
    if as_json {
        let hosts: Vec<Value> = results
            .iter()
            .map(|r| match &r.result {
                Ok(c) => {
                    json!({"name": r.host, "ok": true, "error": null, "from": c.from, "to": c.to,
                                "changed": c.changed, "note": c.note, "warning": c.warning})
                }
                Err(e) => json!({"name": r.host, "ok": false, "error": e.to_string(), "from": null,
                                 "to": null, "changed": false, "note": null, "warning": null}),
            })
            .collect();
        print_json(&json!({ "hosts": hosts }));
        // Warnings reach stderr even with --json (stdout stays one JSON object).
        for r in results {
            if let Ok(LinkChange {
                warning: Some(w), ..
            }) = &r.result
            {
                eprintln!("{}: warning: {w}", r.host);
            }
        }
        return;
    }
    for r in results {
        match &r.result {
            Ok(c) => {
                if let Some(w) = &c.warning {
                    eprintln!("{}: warning: {w}", r.host);
                }
                if !quiet {
                    let from = c.from.as_deref().unwrap_or("(none)");
                    let note = c
                        .note
                        .as_deref()
                        .map(|n| format!("  ({n})"))
                        .unwrap_or_default();
                    println!("{}: {} → {}{}", r.host, from, c.to, note);
                }
            }
            Err(e) => eprintln!("{}: {e}", r.host),
        }
    }
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
            serde_json::to_value(rep).expect("json")
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
        for row in rep.rows() {
            println!("  {:<26} {}", row.name, printable(&row.text()));
        }
        if !rep.dry_run {
            let deleted = rep.deleted();
            println!(
                "  deleted {} release(s){}{}",
                deleted.len(),
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
                    "  NOT FREED: {name} moved out of the root, {left} file(s) left in \
                     .relman/trash: {why} (remove them as their owner or root)"
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
            println!("{}: removed {n} pin(s) of {}", r.host, printable(release));
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
                for h in st.history.iter().rev().take(n) {
                    println!(
                        "  {}  {:<8} {:<24} {} → {}{}",
                        printable(&h.at),
                        h.action.as_str(),
                        printable(&h.by),
                        printable(h.from.as_deref().unwrap_or("-")),
                        printable(h.to.as_deref().unwrap_or("-")),
                        h.note
                            .as_deref()
                            .map(|n| format!("  ({})", printable(n)))
                            .unwrap_or_default()
                    );
                }
            }
        }
        println!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LinkState, Release, ReleaseName};

    fn host() -> HostConfig {
        HostConfig::local("b1", "deploy")
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
            "trash: 1 pruned release(s) not removed, 3 file(s), 12.0 kB left in \
             /srv/deploy/.relman/trash (not removable by the SSH user: remove them as \
             their owner or root)"
        );
        let v = host_json(&host(), &Ok(st), now);
        assert_eq!(
            v["trash"],
            json!({"entries": 1, "files": 3, "bytes": 12000})
        );
    }
}
