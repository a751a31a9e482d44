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
//! **What "deleted" means.** A release is [`Outcome::Deleted`] only when it is gone
//! from the root *and* from `.relman/trash`. When rm cannot remove everything after
//! the rename (a directory of another user inside the release), the release is
//! [`Outcome::Trashed`]: out of the root (no longer listed, never switched to), but
//! its space is not freed, and the report says how many files were left and why;
//! `list` and `check` then show the trash until someone who may remove it does.
//! When the release cannot even be moved out ([`Outcome::Failed`]: the root or the
//! release directory is not writable by the SSH user), nothing was removed, and the
//! report says which was not writable by whom. Both make the prune fail (exit 1).
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

use super::OpError;
use super::history::{HistoryLine, HostField};
use super::launcher::with_launcher;
use super::lock::{HostLock, acquire};
use super::scan::{root_script, scan};
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

/// What kept a release from being moved out of the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocker {
    /// The root directory is not writable by the SSH user.
    Root,
    /// The release directory is not writable by the SSH user (moving a directory
    /// rewrites its `..`, which needs that).
    Release,
    /// `.relman/trash` could not be made, or holds an earlier copy of the release
    /// that cannot be removed.
    Trash,
    /// Something else; the reason says what.
    Other,
}

/// A release that could not be moved out of the root: nothing of it was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveFailure {
    pub release: String,
    pub blocker: Blocker,
    /// The SSH user on the host.
    pub user: String,
    /// The system's reason, lowercase (`permission denied`).
    pub reason: String,
}

impl std::fmt::Display for MoveFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot move {} out of the root: {}",
            self.release, self.reason
        )?;
        match self.blocker {
            Blocker::Root => write!(f, " (the root is not writable by {})", self.user),
            Blocker::Release => write!(
                f,
                " (the release directory is not writable by {})",
                self.user
            ),
            Blocker::Trash => write!(f, " (.relman/trash is not usable by {})", self.user),
            Blocker::Other => Ok(()),
        }
    }
}

/// What happened to one release the plan deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Gone from the root and from `.relman/trash`: its space is freed.
    Deleted,
    /// Dry run: the host's checks pass, it would be deleted.
    WouldDelete,
    /// Kept after all, and why.
    Kept(Skip),
    /// Already gone when its turn came.
    Gone,
    /// Moved out of the root (no longer a release), but rm left `files_left` files in
    /// `.relman/trash` (`reason`: the system's, lowercase): the space is not freed.
    Trashed { files_left: u64, reason: String },
    /// Not moved out of the root: nothing was removed.
    Failed(MoveFailure),
}

impl Outcome {
    /// `deleted`, `would_delete`, `kept`, `gone`, `trashed`, `failed` (the JSON
    /// `result`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Deleted => "deleted",
            Outcome::WouldDelete => "would_delete",
            Outcome::Kept(_) => "kept",
            Outcome::Gone => "gone",
            Outcome::Trashed { .. } => "trashed",
            Outcome::Failed(_) => "failed",
        }
    }

    /// Why, for an outcome that has a reason (the JSON `result_reason`).
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Kept(why) => Some(why.to_string()),
            Outcome::Trashed { files_left, reason } => Some(format!(
                "moved out of the root, {files_left} file{} left in .relman/trash: {reason}",
                if *files_left == 1 { "" } else { "s" }
            )),
            Outcome::Failed(m) => Some(m.to_string()),
            _ => None,
        }
    }

    /// The release asked for is not removed from the host as it should have been.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Trashed { .. } | Outcome::Failed(_))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Deleted => f.write_str("deleted"),
            Outcome::WouldDelete => f.write_str("would be deleted"),
            Outcome::Kept(why) => write!(f, "kept: {why}"),
            Outcome::Gone => f.write_str("already gone"),
            Outcome::Trashed { .. } => {
                write!(f, "NOT FREED: {}", self.reason().unwrap_or_default())
            }
            Outcome::Failed(m) => write!(f, "FAILED: {m}"),
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
    /// For a release the plan deleted: `deleted`, `kept`, `gone`, `trashed` (out of
    /// the root, files left in `.relman/trash`), `failed` (not moved out); in a dry
    /// run `would_delete` or `kept` (the host's own checks would keep it).
    pub result: Option<&'static str>,
    /// Why a planned deletion was kept, trashed or failed (`in use by a launched
    /// job`, `cannot move … out of the root: permission denied (…)`...).
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
    /// A report of `plan` on `host` before anything was asked or done.
    pub fn planned(host: &str, plan: PrunePlan, dry_run: bool) -> PruneReport {
        PruneReport {
            host: host.to_string(),
            dry_run,
            plan,
            outcomes: Vec::new(),
            pins_removed: Vec::new(),
            staging_removed: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// What the host said about one planned deletion (none for a release kept by the
    /// plan, or before the host was asked).
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o)
    }

    /// The plan's deletions (in order) that the host's checks did not keep and that
    /// were still there: what a dry run would delete (all of them before the host
    /// was asked).
    pub fn to_delete(&self) -> impl Iterator<Item = &crate::model::ReleaseName> {
        self.plan
            .deletions()
            .filter_map(|(n, _)| match self.outcome(n.as_str()) {
                Some(Outcome::Kept(_) | Outcome::Gone) => None,
                _ => Some(n),
            })
    }

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
                let outcome = self.outcome(v.name.as_str());
                PruneRow {
                    name: v.name.to_string(),
                    verdict,
                    reasons,
                    result: outcome.map(Outcome::as_str),
                    result_reason: outcome.and_then(Outcome::reason),
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

    /// Releases moved out of the root whose files were not all removed: (name, files
    /// left, reason).
    pub fn trashed(&self) -> Vec<(&str, u64, &str)> {
        self.outcomes
            .iter()
            .filter_map(|(n, o)| match o {
                Outcome::Trashed { files_left, reason } => {
                    Some((n.as_str(), *files_left, reason.as_str()))
                }
                _ => None,
            })
            .collect()
    }

    /// Bytes freed, by the scan's sizes of the releases deleted (in a dry run: that
    /// would be). A release whose size the host could not tell counts 0.
    pub fn freed_bytes(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Deleted | Outcome::WouldDelete))
            .map(|(n, _)| self.plan.size_of(n))
            .sum()
    }

    /// True when a deletion failed or left files in the trash (the CLI's exit code 1);
    /// a release kept because it is in use is not a failure.
    pub fn failed(&self) -> bool {
        self.outcomes.iter().any(|(_, o)| o.is_failure())
    }
}

/// `--json`: `{"keep","dry_run","releases":[{"name","verdict","reasons","result",
/// "result_reason"}],"deleted","freed_bytes","pins_removed","staging_removed",
/// "warnings"}` (`freed_bytes`: see [`PruneReport::freed_bytes`]).
impl Serialize for PruneReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            keep: usize,
            dry_run: bool,
            releases: Vec<PruneRow>,
            deleted: Vec<&'a str>,
            freed_bytes: u64,
            pins_removed: &'a [String],
            staging_removed: &'a [String],
            warnings: &'a [String],
        }
        View {
            keep: self.plan.keep,
            dry_run: self.dry_run,
            releases: self.rows(),
            deleted: self.deleted(),
            freed_bytes: self.freed_bytes(),
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
        return dry_run_with_state(t, host, keep).map(|(_, rep)| rep);
    }
    let lock = acquire(t, host, Action::Prune)?;
    prune_locked(t, host, &lock, keep)
}

/// `prune --dry-run`, with the scan it planned from: the console's prune dialog shows
/// exactly this (the plan and the host's answer for each deletion), so it never says
/// "delete" where the CLI's dry run says "kept: in use by a launched job".
pub fn dry_run_with_state(
    t: &dyn Transport,
    host: &HostConfig,
    keep: usize,
) -> Result<(HostState, PruneReport), OpError> {
    let state = scan(t, host)?;
    let mut rep = report(host, &state, keep, true);
    if rep.plan.deletions().next().is_some() {
        run_prune_script(t, host, None, &mut rep)?;
    }
    Ok((state, rep))
}

fn report(host: &HostConfig, state: &HostState, keep: usize, dry_run: bool) -> PruneReport {
    PruneReport {
        warnings: state.warnings.clone(),
        ..PruneReport::planned(
            &host.name,
            prune_plan(state, keep, state.scanned_at),
            dry_run,
        )
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
    let hist = HistoryLine::new(Action::Prune).on_host(HostField::Note);
    let script = match lock {
        Some(lock) => with_launcher(root_script(PRUNE, host), host)?
            .param("TOKEN", lock.token.clone())
            .param("DRY", "0"),
        None => root_script(PRUNE, host).param("DRY", "1"),
    };
    let script = script
        .param("DELETE", delete.join(" "))
        .param("PINS", pins.join(" "))
        .param("STAGING", rep.plan.stale_staging.join(" "));
    let out = run(t, &hist.param(script))?;
    match out.status {
        Some(0) => {}
        Some(super::script_exit::CONFLICT) => return Err(OpError::Conflict(out.stderr_line())),
        _ => return Err(super::script_failed("prune", &out)),
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

/// A system error text as prune.sh cleans it (letters, digits, ` ,._()-`, at most
/// 120), lowercased for the middle of a sentence.
fn reason(s: &str) -> Option<String> {
    let t = s.trim();
    let ok = !t.is_empty()
        && s.len() <= 120
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" ,._()-".contains(&b));
    ok.then(|| t.to_ascii_lowercase())
}

/// A user name as `id -un` prints it (or a uid): printable, no blanks.
fn user_name(s: &str) -> Option<String> {
    let ok =
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then(|| s.to_string())
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
            ["trashed", _, left, why] if !dry => Some(Outcome::Trashed {
                files_left: left.parse().map_err(|_| bad("bad file count"))?,
                reason: reason(why).ok_or_else(|| bad("bad reason"))?,
            }),
            ["failed", name, "move", blocker, user, why] if !dry => {
                Some(Outcome::Failed(MoveFailure {
                    release: name.to_string(),
                    blocker: match *blocker {
                        "root" => Blocker::Root,
                        "release" => Blocker::Release,
                        "trash" => Blocker::Trash,
                        "other" => Blocker::Other,
                        _ => return Err(bad("unknown blocker")),
                    },
                    user: user_name(user).ok_or_else(|| bad("bad user name"))?,
                    reason: reason(why).ok_or_else(|| bad("bad reason"))?,
                }))
            }
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
    fn trashed_and_move_failures_say_what_was_left_and_why() {
        let out = format!(
            "relman-prune\t1\ntrashed\t{A}\t3\tPermission denied\n\
             failed\t{B}\tmove\troot\trelman-deploy\tPermission denied\n\
             failed\t{C}\tmove\trelease\t1001\tOperation not permitted\ndone\n"
        );
        let p = parse_output(out.as_bytes(), &names(&[A, B, C]), &[], false).unwrap();
        let [(_, a), (_, b), (_, c)] = p.outcomes.as_slice() else {
            panic!("{:?}", p.outcomes)
        };
        assert_eq!(
            a,
            &Outcome::Trashed {
                files_left: 3,
                reason: "permission denied".into()
            }
        );
        assert_eq!(a.as_str(), "trashed");
        assert_eq!(
            a.reason().unwrap(),
            "moved out of the root, 3 files left in .relman/trash: permission denied"
        );
        assert_eq!(b.as_str(), "failed");
        assert_eq!(
            b.reason().unwrap(),
            format!(
                "cannot move {B} out of the root: permission denied \
                 (the root is not writable by relman-deploy)"
            )
        );
        assert_eq!(
            c.to_string(),
            format!(
                "FAILED: cannot move {C} out of the root: operation not permitted \
                 (the release directory is not writable by 1001)"
            )
        );
        assert!(a.is_failure() && b.is_failure() && c.is_failure());
        assert!(!Outcome::Deleted.is_failure() && !Outcome::Kept(Skip::Launched).is_failure());

        let one = names(&[A]);
        for bad in [
            format!("relman-prune\t1\nfailed\t{A}\trm\ndone\n"),
            format!("relman-prune\t1\ntrashed\t{A}\tmany\tPermission denied\ndone\n"),
            format!("relman-prune\t1\ntrashed\t{A}\t1\t\ndone\n"),
            format!("relman-prune\t1\ntrashed\t{A}\t1\tno\x1b[2J\ndone\n"),
            format!("relman-prune\t1\nfailed\t{A}\tmove\tdisk\tu\tPermission denied\ndone\n"),
            format!("relman-prune\t1\nfailed\t{A}\tmove\troot\t\tPermission denied\ndone\n"),
            format!("relman-prune\t1\nfailed\t{A}\tmove\troot\tu\ndone\n"),
        ] {
            assert!(
                parse_output(bad.as_bytes(), &one, &[], false).is_err(),
                "{bad:?}"
            );
        }
        // A dry run never trashes or fails a move.
        let dry = format!("relman-prune\t1\ntrashed\t{A}\t1\tPermission denied\ndone\n");
        assert!(parse_output(dry.as_bytes(), &one, &[], true).is_err());
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
