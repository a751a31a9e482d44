//! `relman prune`: the keep policy's plan (`plan::prune`) carried out on a host.
//!
//! Under the host lock: scan, plan, then one `scripts/prune.sh` round trip that
//! deletes the plan's releases in order (bad first, then oldest first), each one
//! checked again on the host right before it goes — still a real directory in the
//! root, its launcher lock free (a job started through `launch` holds it), no job
//! found by a fresh /proc scan (and a scan that fails keeps it). It also removes
//! expired and orphaned pins and stale uploads, and appends one `prune` history line.
//! A dry run only scans and plans: no lock, nothing written.
//!
//! The host's answer is parsed strictly: every release asked about gets exactly one
//! outcome, nothing else is believed.
//!
//! **What protects a job, and the limit.** The /proc scan sees the cwd, exe and open
//! files only of processes the SSH user may inspect (its own, or all when it is root);
//! another user's job is seen only if its command line names the release's path, and
//! the scan counts the processes it could not inspect (`hidden_processes`, shown by
//! `list`). The launcher's lock has no such limit: a job started through `launch`, by
//! any user, keeps its release. For another user's job to take that lock it must be
//! able to open `.relman/run/<release>.lock` (read access is enough, but creating it
//! needs write access to `.relman/run/`): run jobs as the deploy user, or make that
//! directory group-writable.

use std::collections::BTreeSet;

use serde::Serialize;

use super::launcher::with_launcher;
use super::lock::{HostLock, acquire};
use super::scan::{root_script, scan};
use super::{OpError, now_rfc3339, operator};
use crate::config::HostConfig;
use crate::model::{Action, HostState, printable};
use crate::plan::prune::{PrunePlan, Verdict, prune_plan};
use crate::remote::script::PRUNE;
use crate::remote::{Transport, run};

/// Why the host kept a release the plan would have deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A job started through `launch` holds the release's lock.
    Launched,
    /// The fresh job scan found processes using it.
    Jobs(Vec<u32>),
    /// The host's processes could not be inspected just now.
    JobsUnknown,
    /// It is no longer a real directory (replaced by a symlink or a file).
    NotADirectory,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Launched => f.write_str("in use by a launched job"),
            Skip::Jobs(p) if p.len() == 1 => write!(f, "running job (pid {})", p[0]),
            Skip::Jobs(p) => {
                let p: Vec<String> = p.iter().map(u32::to_string).collect();
                write!(f, "running jobs (pids {})", p.join(", "))
            }
            Skip::JobsUnknown => f.write_str("jobs cannot be checked"),
            Skip::NotADirectory => f.write_str("no longer a release directory"),
        }
    }
}

/// What happened to one release the plan deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Deleted,
    /// Dry run: the host's checks pass, it would be deleted.
    WouldDelete,
    /// Kept after all, and why.
    Kept(Skip),
    /// Already gone when its turn came.
    Gone,
    /// `rm -rf` left something behind (permissions?).
    Failed,
}

impl Outcome {
    /// `deleted`, `kept`, `gone`, `failed` (the JSON `result`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Deleted => "deleted",
            Outcome::WouldDelete => "would_delete",
            Outcome::Kept(_) => "kept",
            Outcome::Gone => "gone",
            Outcome::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Deleted => f.write_str("deleted"),
            Outcome::WouldDelete => f.write_str("would be deleted"),
            Outcome::Kept(why) => write!(f, "kept: {why}"),
            Outcome::Gone => f.write_str("already gone"),
            Outcome::Failed => f.write_str("FAILED: rm -rf left files behind"),
        }
    }
}

/// What `prune` planned and did on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    pub host: String,
    pub dry_run: bool,
    /// The plan: every release's verdict and reasons (made from the scan under the lock).
    pub plan: PrunePlan,
    /// What happened to each release the plan deleted, in the order tried. A dry run
    /// asks the host the same questions without deleting: [`Outcome::WouldDelete`], or
    /// kept (a launched job holds it...).
    pub outcomes: Vec<(String, Outcome)>,
    /// Pin files removed (expired, or their release is gone).
    pub pins_removed: Vec<String>,
    /// Stale uploads removed from `.relman/staging/`.
    pub staging_removed: Vec<String>,
    /// Things to tell the operator that did not stop the prune.
    pub warnings: Vec<String>,
}

/// One line of the report: a release, its verdict, and (unless a dry run) what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneRow {
    pub name: String,
    /// `keep` or `delete`: the plan's verdict.
    pub verdict: &'static str,
    /// The plan's reasons, as `--dry-run` prints them (`live`, `among newest 3`, `old`...).
    pub reasons: Vec<String>,
    /// For a release the plan deleted: `deleted`, `kept`, `gone`, `failed`; in a dry
    /// run `would_delete` or `kept` (the host's own checks would keep it).
    pub result: Option<&'static str>,
    /// Why a planned deletion was kept or failed (`in use by a launched job`...).
    pub result_reason: Option<String>,
}

impl PruneRow {
    /// `keep: live`, `delete: old` (dry run), `delete: old → deleted`,
    /// `delete: old → kept: in use by a launched job`.
    pub fn text(&self) -> String {
        let mut s = format!("{}: {}", self.verdict, self.reasons.join(", "));
        match self.result {
            None | Some("would_delete") => {}
            Some(r) => {
                s.push_str(" → ");
                s.push_str(r);
                if let Some(why) = &self.result_reason {
                    s.push_str(": ");
                    s.push_str(why);
                }
            }
        }
        s
    }
}

impl PruneReport {
    /// Every release, newest first, with verdict and outcome.
    pub fn rows(&self) -> Vec<PruneRow> {
        self.plan
            .verdicts
            .iter()
            .map(|v| {
                let (verdict, reasons) = match &v.verdict {
                    Verdict::Keep(why) => ("keep", why.iter().map(|w| w.to_string()).collect()),
                    Verdict::Delete(why) => ("delete", vec![why.to_string()]),
                };
                let outcome = self
                    .outcomes
                    .iter()
                    .find(|(n, _)| n == v.name.as_str())
                    .map(|(_, o)| o);
                PruneRow {
                    name: v.name.to_string(),
                    verdict,
                    reasons,
                    result: outcome.map(Outcome::as_str),
                    result_reason: outcome.and_then(|o| match o {
                        Outcome::Kept(why) => Some(why.to_string()),
                        Outcome::Failed => Some("rm -rf left files behind".into()),
                        _ => None,
                    }),
                }
            })
            .collect()
    }

    /// The releases actually deleted, in the order they went.
    pub fn deleted(&self) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|(_, o)| *o == Outcome::Deleted)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// True when a deletion failed (the CLI's exit code 1); a release kept because it
    /// is in use is not a failure.
    pub fn failed(&self) -> bool {
        self.outcomes.iter().any(|(_, o)| *o == Outcome::Failed)
    }
}

/// `--json`: `{"keep","dry_run","releases":[{"name","verdict","reasons","result",
/// "result_reason"}],"deleted","pins_removed","staging_removed","warnings"}`.
impl Serialize for PruneReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            keep: usize,
            dry_run: bool,
            releases: Vec<PruneRow>,
            deleted: Vec<&'a str>,
            pins_removed: &'a [String],
            staging_removed: &'a [String],
            warnings: &'a [String],
        }
        View {
            keep: self.plan.keep,
            dry_run: self.dry_run,
            releases: self.rows(),
            deleted: self.deleted(),
            pins_removed: &self.pins_removed,
            staging_removed: &self.staging_removed,
            warnings: &self.warnings,
        }
        .serialize(s)
    }
}

/// `relman prune [--keep N] [--dry-run]` on one host. A dry run takes no lock and
/// changes nothing: it scans, plans, and asks the host whether each release to delete
/// would pass the checks made before a deletion (a job started through `launch` that
/// left its release is only visible that way). A real run takes the lock and calls
/// [`prune_locked`].
pub fn prune(
    t: &dyn Transport,
    host: &HostConfig,
    keep: usize,
    dry_run: bool,
) -> Result<PruneReport, OpError> {
    if dry_run {
        let state = scan(t, host)?;
        let mut rep = report(host, &state, keep, true);
        if rep.plan.deletions().next().is_some() {
            run_prune_script(t, host, None, &mut rep)?;
        }
        return Ok(rep);
    }
    let lock = acquire(t, host, Action::Prune)?;
    prune_locked(t, host, &lock, keep)
}

fn report(host: &HostConfig, state: &HostState, keep: usize, dry_run: bool) -> PruneReport {
    PruneReport {
        host: host.name.clone(),
        dry_run,
        plan: prune_plan(state, keep, state.scanned_at),
        outcomes: Vec::new(),
        pins_removed: Vec::new(),
        staging_removed: Vec::new(),
        warnings: state.warnings.clone(),
    }
}

/// Prune under a lock the caller holds (`deploy --prune` calls this right after its
/// switch, under the deploy's lock): scan, plan with the host's clock, execute.
pub fn prune_locked(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    keep: usize,
) -> Result<PruneReport, OpError> {
    let state = scan(t, host)?;
    let mut rep = report(host, &state, keep, false);
    execute(t, host, lock, &mut rep)?;
    Ok(rep)
}

/// Carries out `rep.plan` on the host (see the module doc) and records what happened
/// in `rep`. Public so tests can change the host between plan and execution.
pub fn execute(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    rep: &mut PruneReport,
) -> Result<(), OpError> {
    run_prune_script(t, host, Some(lock), rep)
}

/// prune.sh for `rep.plan`: under `lock`, for real; without, as a dry run.
fn run_prune_script(
    t: &dyn Transport,
    host: &HostConfig,
    lock: Option<&HostLock>,
    rep: &mut PruneReport,
) -> Result<(), OpError> {
    let dry = lock.is_none();
    let delete: Vec<String> = rep.plan.deletions().map(|(n, _)| n.to_string()).collect();
    let mut pins = Vec::new();
    for p in &rep.plan.expired_pins {
        if pin_id_ok(&p.id) {
            pins.push(p.id.clone());
        } else {
            rep.warnings.push(format!(
                "expired pin {:?} has an id that is not a file name: left in place",
                printable(&p.id)
            ));
        }
    }
    let head = format!(
        "{{\"at\":{},\"by\":{},\"action\":\"prune\",\"from\":null,\"to\":null,\"note\":",
        serde_json::to_string(&now_rfc3339()).expect("string"),
        serde_json::to_string(&operator()).expect("string"),
    );
    let script = match lock {
        Some(lock) => with_launcher(root_script(PRUNE, host), host)?
            .param("TOKEN", lock.token.clone())
            .param("DRY", "0"),
        None => root_script(PRUNE, host).param("DRY", "1"),
    };
    let script = script
        .param("DELETE", delete.join(" "))
        .param("PINS", pins.join(" "))
        .param("STAGING", rep.plan.stale_staging.join(" "))
        .param("HIST_HEAD", head);
    let out = run(t, &script)?;
    match out.status {
        Some(0) => {}
        Some(5) => return Err(OpError::Conflict(out.stderr_line())),
        s => {
            return Err(OpError::Failed(format!(
                "prune failed (exit {}): {}",
                s.map_or("signal".into(), |s| s.to_string()),
                out.stderr_line()
            )));
        }
    }
    let parsed = parse_output(&out.stdout, &delete, &rep.plan.stale_staging, dry)
        .map_err(|e| OpError::Failed(format!("prune: {e}")))?;
    rep.outcomes = parsed.outcomes;
    rep.pins_removed = parsed.pins;
    rep.staging_removed = parsed.staging;
    if parsed.history_failed {
        rep.warnings
            .push("history.jsonl could not be written: this prune is not in the history".into());
    }
    Ok(())
}

/// A pin id usable as a file name (`<id>.json` in `.relman/pins/`).
fn pin_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What prune.sh said, parsed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    outcomes: Vec<(String, Outcome)>,
    pins: Vec<String>,
    staging: Vec<String>,
    history_failed: bool,
}

/// Parses prune.sh output (version 1, see the script). Every name in `asked` must get
/// exactly one outcome, in order; nothing about a release not asked about is believed.
fn parse_output(
    out: &[u8],
    asked: &[String],
    staging: &[String],
    dry: bool,
) -> Result<Parsed, String> {
    let text = std::str::from_utf8(out).map_err(|_| "output is not UTF-8".to_string())?;
    let body = text
        .strip_suffix("done\n")
        .ok_or("output ended early (no `done`)")?;
    let mut lines = body.split_terminator('\n');
    if lines.next() != Some("relman-prune\t1") {
        return Err("not prune output, version 1".into());
    }
    let mut p = Parsed::default();
    let mut next = asked.iter();
    let mut staged: BTreeSet<&str> = staging.iter().map(String::as_str).collect();
    for (i, l) in lines.enumerate() {
        let bad = |m: &str| format!("line {}: {m}: {:?}", i + 2, printable(l));
        let f: Vec<&str> = l.split('\t').collect();
        let outcome = match f.as_slice() {
            ["deleted", _] if !dry => Some(Outcome::Deleted),
            ["would", _] if dry => Some(Outcome::WouldDelete),
            ["failed", _, "rm"] if !dry => Some(Outcome::Failed),
            ["gone", _] => Some(Outcome::Gone),
            ["kept", _, "launched"] => Some(Outcome::Kept(Skip::Launched)),
            ["kept", _, "jobsunknown"] => Some(Outcome::Kept(Skip::JobsUnknown)),
            ["kept", _, "notdir"] => Some(Outcome::Kept(Skip::NotADirectory)),
            ["kept", _, "jobs", pids @ ..] if !pids.is_empty() => {
                let pids: Result<Vec<u32>, _> = pids.iter().map(|p| p.parse()).collect();
                Some(Outcome::Kept(Skip::Jobs(pids.map_err(|_| bad("bad pid"))?)))
            }
            _ => None,
        };
        if let Some(o) = outcome {
            match next.next() {
                Some(want) if want == f[1] => p.outcomes.push((want.clone(), o)),
                _ => {
                    return Err(bad(
                        "an outcome for a release not asked about, or out of order",
                    ));
                }
            }
            continue;
        }
        if dry {
            return Err(bad("unexpected line in a dry run"));
        }
        match f.as_slice() {
            ["pin", file]
                if file.ends_with(".json")
                    && file
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
            {
                p.pins.push(file.to_string())
            }
            ["staging", name] if staged.remove(name) => p.staging.push(name.to_string()),
            ["warn", "history"] => p.history_failed = true,
            _ => return Err(bad("unexpected line")),
        }
    }
    if next.next().is_some() {
        return Err("output ended early (a release has no outcome)".into());
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const A: &str = "batch_20261126000001";
    const B: &str = "batch_20261126000002";
    const C: &str = "batch_20261126000003";

    #[test]
    fn parses_every_kind_of_line() {
        let out = format!(
            "relman-prune\t1\ndeleted\t{A}\nkept\t{B}\tjobs\t12\t34\nkept\t{C}\tlaunched\n\
             pin\tab12.json\nstaging\t{A}\nwarn\thistory\ndone\n"
        );
        let p = parse_output(out.as_bytes(), &names(&[A, B, C]), &names(&[A]), false).unwrap();
        assert_eq!(
            p.outcomes,
            vec![
                (A.to_string(), Outcome::Deleted),
                (B.to_string(), Outcome::Kept(Skip::Jobs(vec![12, 34]))),
                (C.to_string(), Outcome::Kept(Skip::Launched)),
            ]
        );
        assert_eq!(p.pins, ["ab12.json"]);
        assert_eq!(p.staging, [A]);
        assert!(p.history_failed);
    }

    #[test]
    fn refuses_anything_not_asked_or_incomplete() {
        let asked = names(&[A, B]);
        for bad in [
            format!("relman-prune\t1\ndeleted\t{A}\ndone\n"),
            format!("relman-prune\t1\ndeleted\t{B}\ndeleted\t{A}\ndone\n"),
            format!("relman-prune\t1\ndeleted\t{A}\ndeleted\t{B}\n"),
            format!("relman-prune\t1\ndeleted\t{A}\ndeleted\t{B}\ndeleted\t{C}\ndone\n"),
            format!("relman-prune\t1\ndeleted\t{A}\ndeleted\t{A}\ndone\n"),
            format!("relman-prune\t2\ndeleted\t{A}\ndeleted\t{B}\ndone\n"),
            format!("relman-prune\t1\ndeleted\t{A}\nkept\t{B}\tbecause\ndone\n"),
            format!("relman-prune\t1\ndeleted\t{A}\nkept\t{B}\tjobs\tx\ndone\n"),
            format!("relman-prune\t1\ndeleted\t{A}\ndeleted\t{B}\nstaging\t{C}\ndone\n"),
            format!("relman-prune\t1\ndeleted\t{A}\ndeleted\t{B}\npin\t../x.json\ndone\n"),
            format!("relman-prune\t1\ndeleted\t{A}\ndeleted\t{B}\ndone\nextra\n"),
            format!("banner\nrelman-prune\t1\ndeleted\t{A}\ndeleted\t{B}\ndone\n"),
        ] {
            assert!(
                parse_output(bad.as_bytes(), &asked, &[], false).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_dry_run_answer_says_would_and_nothing_else() {
        let asked = names(&[A, B]);
        let ok = format!("relman-prune\t1\nwould\t{A}\nkept\t{B}\tlaunched\ndone\n");
        let p = parse_output(ok.as_bytes(), &asked, &[], true).unwrap();
        assert_eq!(
            p.outcomes,
            [
                (A.to_string(), Outcome::WouldDelete),
                (B.to_string(), Outcome::Kept(Skip::Launched))
            ]
        );
        for bad in [
            format!("relman-prune\t1\ndeleted\t{A}\nwould\t{B}\ndone\n"),
            format!("relman-prune\t1\nwould\t{A}\nwould\t{B}\npin\tx.json\ndone\n"),
        ] {
            assert!(
                parse_output(bad.as_bytes(), &asked, &[], true).is_err(),
                "{bad:?}"
            );
        }
        let real = format!("relman-prune\t1\nwould\t{A}\nwould\t{B}\ndone\n");
        assert!(parse_output(real.as_bytes(), &asked, &[], false).is_err());
    }

    #[test]
    fn pin_ids_must_be_file_names() {
        assert!(pin_id_ok("0123abcdef"));
        for bad in ["", "../x", "a/b", "a.b", "a b", "x\n"] {
            assert!(!pin_id_ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn outcomes_read_well() {
        assert_eq!(
            Outcome::Kept(Skip::Launched).to_string(),
            "kept: in use by a launched job"
        );
        assert_eq!(Skip::Jobs(vec![7]).to_string(), "running job (pid 7)");
        assert_eq!(
            Skip::Jobs(vec![7, 9]).to_string(),
            "running jobs (pids 7, 9)"
        );
    }
}
