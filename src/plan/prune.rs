//! The prune policy (SPEC §4) as a verdict per release, each with the reasons an
//! operator reads in `prune --dry-run`, in `prune`'s output and in the TUI's dialog.
//!
//! **Protected** releases are kept whatever `keep` says: the live release, the previous
//! one (the rollback target), any release with a running job, any release with an
//! unexpired pin. **The newest `keep` good releases** are kept too, and `keep` counts
//! the protected ones among them, as the classic "keep the newest 3" script and
//! Capistrano's `keep_releases` do: with `keep = 3`, live and previous the two newest
//! and no jobs or pins elsewhere, exactly 3 releases stay (live, previous, and the
//! next one, "among newest 3").
//!
//! - Walking newest first by name, each *good* release (not bad) takes one of the
//!   `keep` places, protected or not. A protected release in one of those places is
//!   shown with its protection reasons only (`live`, not `live, among newest 3`): it
//!   would stay anyway, and the reason an operator acts on is the protection.
//! - A protected release outside the newest `keep` (an old release with a job or a
//!   pin, a previous release older than the window) is still kept, with its reasons;
//!   it takes no place, so it never pushes a newer good release out.
//! - A bad release (rolled back from) never takes a place, even when it is protected
//!   (a bad live release after a hand-made switch is kept as `live`, and the `keep`
//!   places go to the newest good ones). Unprotected bad releases are deleted first.
//! - `keep = 0` keeps only the protected releases.
//!
//! Everything else is deleted: bad releases first, then the rest oldest first.
//!
//! When the host's processes could not be inspected at all (`jobs_known == false`),
//! no release can be called job-free, so every release is kept with
//! [`KeepReason::JobsUnknown`] (listed after whatever other reasons it has). Likewise
//! when processes of users who may run jobs could not be inspected
//! ([`HostState::unseen_job_processes`]: other users' hidden processes, limited to
//! `job_users` when set, minus those a `scan_sudo` scan saw): every release is kept
//! with [`KeepReason::Unseen`].
//!
//! Foreign entries, the link and `.relman/` are not releases in the model, so they never
//! appear in a plan.

use std::collections::BTreeSet;
use std::fmt;
use std::time::SystemTime;

use crate::model::{HostState, Pin, ReleaseName, printable};
use crate::plan::history::{bad_releases, previous};

/// Why a release is kept. A release may have several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeepReason {
    /// The link points at it.
    Live,
    /// It is the rollback target.
    Previous,
    /// Processes use it (pids, ascending).
    Jobs(Vec<u32>),
    /// The host's processes could not be inspected, so its jobs cannot be checked.
    JobsUnknown,
    /// Processes of other users who may run jobs could not be inspected (`count` of
    /// them, of these users): any of them might use this release.
    Unseen { count: usize, users: Vec<String> },
    /// An unexpired pin (one reason per active pin).
    Pinned {
        until: SystemTime,
        by: String,
        reason: String,
    },
    /// Among the newest `n` good releases (`n` = the `keep` setting), and protected by
    /// nothing else.
    Newest(usize),
}

/// Why a release is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// A rollback moved away from it and nothing went back to it.
    Bad,
    /// Not protected, and not among the newest `keep` good releases.
    Old,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Keep(Vec<KeepReason>),
    Delete(DeleteReason),
}

impl Verdict {
    pub fn is_delete(&self) -> bool {
        matches!(self, Verdict::Delete(_))
    }
}

/// One release's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseVerdict {
    pub name: ReleaseName,
    pub verdict: Verdict,
    /// Its size as the scan measured it (0 when the host could not tell): what
    /// deleting it frees.
    pub size_bytes: u64,
}

/// What `prune` will do on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrunePlan {
    /// The `keep` setting the plan was made with.
    pub keep: usize,
    /// Every release, newest first by name.
    pub verdicts: Vec<ReleaseVerdict>,
    /// Pins that are no longer active (expired or unreadable expiry): files to clean.
    pub expired_pins: Vec<Pin>,
    /// Directories under `.relman/staging/`: uploads that never finished. Only safe to
    /// remove while holding the host's lock (no deploy can be running then); the
    /// operation takes care of that.
    pub stale_staging: Vec<String>,
}

impl PrunePlan {
    /// The releases to delete, in the order to delete them: bad ones first, then old
    /// ones, each group oldest first.
    pub fn deletions(&self) -> impl Iterator<Item = (&ReleaseName, DeleteReason)> {
        let group = |want: DeleteReason| {
            self.verdicts
                .iter()
                .rev()
                .filter_map(move |v| match v.verdict {
                    Verdict::Delete(why) if why == want => Some((&v.name, why)),
                    _ => None,
                })
        };
        group(DeleteReason::Bad).chain(group(DeleteReason::Old))
    }

    /// The releases kept, newest first, with their reasons.
    pub fn kept(&self) -> impl Iterator<Item = (&ReleaseName, &[KeepReason])> {
        self.verdicts.iter().filter_map(|v| match &v.verdict {
            Verdict::Keep(why) => Some((&v.name, why.as_slice())),
            Verdict::Delete(_) => None,
        })
    }

    /// The verdict on one release, by name.
    pub fn verdict(&self, name: &str) -> Option<&Verdict> {
        self.verdicts
            .iter()
            .find(|v| v.name.as_str() == name)
            .map(|v| &v.verdict)
    }

    /// The scan's size of one release, by name (0 when unknown or not in the plan).
    pub fn size_of(&self, name: &str) -> u64 {
        self.verdicts
            .iter()
            .find(|v| v.name.as_str() == name)
            .map_or(0, |v| v.size_bytes)
    }

    /// Nothing to delete and nothing to clean.
    pub fn is_noop(&self) -> bool {
        self.deletions().next().is_none()
            && self.expired_pins.is_empty()
            && self.stale_staging.is_empty()
    }
}

/// Decides every release's fate under the keep policy (see the module doc).
///
/// `now` decides which pins are active ([`Pin::is_active`]); pass the host's clock
/// (`HostState::scanned_at`) so a skewed workstation clock can't expire a pin early.
pub fn prune_plan(state: &HostState, keep: usize, now: SystemTime) -> PrunePlan {
    let bad = bad_releases(&state.history);
    let live = state.current();
    let prev = previous(state);

    let mut releases: Vec<_> = state.releases.iter().collect();
    releases.sort_unstable_by(|a, b| b.name.cmp(&a.name));

    let unseen = state.unseen_job_processes();
    let mut newest_left = keep;
    let mut seen = BTreeSet::new();
    let mut verdicts = Vec::with_capacity(releases.len());
    for rel in releases {
        // A list with the same name twice would be a scan bug; decide each name once.
        if !seen.insert(rel.name.as_str()) {
            continue;
        }
        let mut why = Vec::new();
        if live == Some(&rel.name) {
            why.push(KeepReason::Live);
        }
        if prev.as_ref() == Some(&rel.name) {
            why.push(KeepReason::Previous);
        }
        if !rel.jobs.is_empty() {
            let pids: BTreeSet<u32> = rel.jobs.iter().map(|j| j.pid).collect();
            why.push(KeepReason::Jobs(pids.into_iter().collect()));
        }
        let mut pins: Vec<_> = rel
            .pins
            .iter()
            .filter(|p| p.is_active(now))
            .filter_map(|p| Some((p.expires()?, p)))
            .collect();
        pins.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        why.extend(pins.into_iter().map(|(until, p)| KeepReason::Pinned {
            until,
            by: p.by.clone(),
            reason: p.reason.clone(),
        }));

        let protected = !why.is_empty();
        let is_bad = bad.contains(rel.name.as_str());
        // Every good release takes a place among the newest `keep`, protected or not;
        // only an unprotected one needs the place as its reason to stay.
        if !is_bad && newest_left > 0 {
            newest_left -= 1;
            if !protected {
                why.push(KeepReason::Newest(keep));
            }
        }
        if !state.jobs_known {
            why.push(KeepReason::JobsUnknown);
        } else if unseen.0 > 0 {
            why.push(KeepReason::Unseen {
                count: unseen.0,
                users: unseen.1.clone(),
            });
        }

        let verdict = if !why.is_empty() {
            Verdict::Keep(why)
        } else if is_bad {
            Verdict::Delete(DeleteReason::Bad)
        } else {
            Verdict::Delete(DeleteReason::Old)
        };
        verdicts.push(ReleaseVerdict {
            name: rel.name.clone(),
            verdict,
            size_bytes: rel.size_bytes,
        });
    }

    let expired_pins = state
        .releases
        .iter()
        .flat_map(|r| &r.pins)
        .filter(|p| !p.is_active(now))
        .cloned()
        .collect();

    PrunePlan {
        keep,
        verdicts,
        expired_pins,
        stale_staging: state.staging.clone(),
    }
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::Live => f.write_str("live"),
            KeepReason::Previous => f.write_str("previous (rollback target)"),
            KeepReason::Jobs(pids) => {
                let list: Vec<String> = pids.iter().map(u32::to_string).collect();
                if pids.len() == 1 {
                    write!(f, "running job (pid {})", list.join(", "))
                } else {
                    write!(f, "running jobs (pids {})", list.join(", "))
                }
            }
            KeepReason::JobsUnknown => f.write_str("jobs cannot be checked"),
            KeepReason::Unseen { count, users } => write!(
                f,
                "{count} {} of other users ({}) could not be inspected",
                if *count == 1 { "process" } else { "processes" },
                users
                    .iter()
                    .map(|u| printable(u))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            KeepReason::Pinned { until, by, reason } => {
                write!(
                    f,
                    "pinned until {} by {}",
                    humantime::format_rfc3339_seconds(*until),
                    printable(by)
                )?;
                if !reason.is_empty() {
                    write!(f, " ({})", printable(reason))?;
                }
                Ok(())
            }
            KeepReason::Newest(n) => write!(f, "among newest {n}"),
        }
    }
}

impl fmt::Display for DeleteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeleteReason::Bad => "bad (rolled back from)",
            DeleteReason::Old => "old",
        })
    }
}

/// One line: `keep: live, running job (pid 123)` or `delete: old`.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Keep(why) => {
                f.write_str("keep: ")?;
                for (i, w) in why.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{w}")?;
                }
                Ok(())
            }
            Verdict::Delete(why) => write!(f, "delete: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LinkState;
    use crate::plan::testkit::*;

    const FUTURE: &str = "2026-11-27T10:00:00Z";
    const PAST: &str = "2026-11-26T10:00:00Z";

    fn rs(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
        range.map(r).collect()
    }

    /// (name, rendered verdict) newest first: the whole table at once.
    fn table(p: &PrunePlan) -> Vec<(String, String)> {
        p.verdicts
            .iter()
            .map(|v| (v.name.to_string(), v.verdict.to_string()))
            .collect()
    }

    fn rows(v: &[(u32, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(i, s)| (r(*i), s.to_string())).collect()
    }

    fn deletions(p: &PrunePlan) -> Vec<(String, DeleteReason)> {
        p.deletions().map(|(n, w)| (n.to_string(), w)).collect()
    }

    /// The scenario of the brief: r1..r8, deploys of all, rollbacks r8→r7 and r7→r6
    /// (live r6; r7, r8 bad), a job in r1, an active pin on r2, keep = 3.
    ///
    /// Protected: r6 (live), r5 (previous: the stack is r1..r6), r1 (job), r2 (pin).
    /// `keep` counts good releases newest first, protected ones included: r6, r5, r4
    /// (r7 and r8 are bad and take no place). So r4 stays as "among newest 3", r3 is
    /// old, and r2 and r1 stay for their pin and job. r7 and r8 are bad: deleted.
    fn scenario() -> HostState {
        let mut names = rs(1..=8);
        names.reverse();
        let mut st = host(&names, Some(&r(6)));
        st.history = deploys(&rs(1..=8));
        st.history.push(rollback(&r(8), &r(7)));
        st.history.push(rollback(&r(7), &r(6)));
        rel_mut(&mut st, &r(1)).jobs.push(job(4242));
        rel_mut(&mut st, &r(2))
            .pins
            .push(pin(&r(2), FUTURE, "ci@jenkins", "nightly"));
        st
    }

    #[test]
    fn the_brief_scenario_full_table() {
        let st = scenario();
        let p = prune_plan(&st, 3, now());
        assert_eq!(
            p.verdicts.iter().map(|v| &v.verdict).collect::<Vec<_>>(),
            vec![
                &Verdict::Delete(DeleteReason::Bad),
                &Verdict::Delete(DeleteReason::Bad),
                &Verdict::Keep(vec![KeepReason::Live]),
                &Verdict::Keep(vec![KeepReason::Previous]),
                &Verdict::Keep(vec![KeepReason::Newest(3)]),
                &Verdict::Delete(DeleteReason::Old),
                &Verdict::Keep(vec![KeepReason::Pinned {
                    until: t(FUTURE),
                    by: "ci@jenkins".into(),
                    reason: "nightly".into()
                }]),
                &Verdict::Keep(vec![KeepReason::Jobs(vec![4242])]),
            ]
        );
        assert_eq!(
            table(&p),
            rows(&[
                (8, "delete: bad (rolled back from)"),
                (7, "delete: bad (rolled back from)"),
                (6, "keep: live"),
                (5, "keep: previous (rollback target)"),
                (4, "keep: among newest 3"),
                (3, "delete: old"),
                (
                    2,
                    "keep: pinned until 2026-11-27T10:00:00Z by ci@jenkins (nightly)"
                ),
                (1, "keep: running job (pid 4242)"),
            ])
        );
        assert_eq!(
            deletions(&p),
            [
                (r(7), DeleteReason::Bad),
                (r(8), DeleteReason::Bad),
                (r(3), DeleteReason::Old)
            ]
        );
        assert!(p.expired_pins.is_empty());
        assert!(!p.is_noop());
    }

    #[test]
    fn the_brief_scenario_with_keep_one_deletes_r4_and_r3() {
        // The live r6 is the newest good release: it takes the one place.
        let p = prune_plan(&scenario(), 1, now());
        assert_eq!(
            p.verdict(&r(6)),
            Some(&Verdict::Keep(vec![KeepReason::Live]))
        );
        assert_eq!(p.verdict(&r(4)), Some(&Verdict::Delete(DeleteReason::Old)));
        assert_eq!(p.verdict(&r(3)), Some(&Verdict::Delete(DeleteReason::Old)));
        // Bad first, then old, each oldest first.
        assert_eq!(
            deletions(&p),
            [
                (r(7), DeleteReason::Bad),
                (r(8), DeleteReason::Bad),
                (r(3), DeleteReason::Old),
                (r(4), DeleteReason::Old)
            ]
        );
    }

    #[test]
    fn protected_releases_count_toward_keep() {
        // SPEC §4's example: r1..r10, live r10 (previous r9), keep 3 → exactly r10, r9
        // and r8 stay; r7..r1 are old.
        let names: Vec<String> = rs(1..=10).into_iter().rev().collect();
        let mut st = host(&names, Some(&r(10)));
        st.history = deploys(&rs(1..=10));
        let p = prune_plan(&st, 3, now());
        assert_eq!(
            table(&p),
            rows(&[
                (10, "keep: live"),
                (9, "keep: previous (rollback target)"),
                (8, "keep: among newest 3"),
                (7, "delete: old"),
                (6, "delete: old"),
                (5, "delete: old"),
                (4, "delete: old"),
                (3, "delete: old"),
                (2, "delete: old"),
                (1, "delete: old"),
            ])
        );
        assert_eq!(p.kept().count(), 3);
        // Old ones go oldest first.
        let order: Vec<String> = deletions(&p).into_iter().map(|(n, _)| n).collect();
        assert_eq!(order, rs(1..=7));
    }

    /// r1..r10 live r10, previous r9, keep 3: a pin on r8 (inside the newest 3) and a
    /// job in r2 and a pin on r1 (outside).
    fn window_host() -> HostState {
        let names: Vec<String> = rs(1..=10).into_iter().rev().collect();
        let mut st = host(&names, Some(&r(10)));
        st.history = deploys(&rs(1..=10));
        rel_mut(&mut st, &r(8))
            .pins
            .push(pin(&r(8), FUTURE, "ci@jenkins", ""));
        rel_mut(&mut st, &r(2)).jobs.push(job(77));
        rel_mut(&mut st, &r(1))
            .pins
            .push(pin(&r(1), FUTURE, "dev@box", ""));
        st
    }

    #[test]
    fn a_protected_release_among_the_newest_counts_and_shows_its_protection() {
        let p = prune_plan(&window_host(), 3, now());
        assert_eq!(
            table(&p),
            rows(&[
                (10, "keep: live"),
                (9, "keep: previous (rollback target)"),
                (8, "keep: pinned until 2026-11-27T10:00:00Z by ci@jenkins"),
                (7, "delete: old"),
                (6, "delete: old"),
                (5, "delete: old"),
                (4, "delete: old"),
                (3, "delete: old"),
                (2, "keep: running job (pid 77)"),
                (1, "keep: pinned until 2026-11-27T10:00:00Z by dev@box"),
            ])
        );
    }

    #[test]
    fn protected_releases_outside_the_newest_are_kept_and_take_no_place() {
        // keep 4: r10, r9, r8 (protected) and r7 take the places; r2 and r1 stay for
        // their job and pin without pushing r7 out.
        let p = prune_plan(&window_host(), 4, now());
        assert_eq!(
            p.verdict(&r(7)).unwrap().to_string(),
            "keep: among newest 4"
        );
        assert_eq!(p.verdict(&r(6)), Some(&Verdict::Delete(DeleteReason::Old)));
        assert_eq!(
            p.verdict(&r(2)).unwrap().to_string(),
            "keep: running job (pid 77)"
        );
        let kept: Vec<String> = p.kept().map(|(n, _)| n.to_string()).collect();
        assert_eq!(kept, [r(10), r(9), r(8), r(7), r(2), r(1)]);
    }

    #[test]
    fn a_previous_release_older_than_the_newest_is_kept_outside_them() {
        // Deployed r1..r3, then r4 switched in by hand from r1... the rollback target
        // is what was live before r4: r1 (previous), older than r3 and r2.
        let names: Vec<String> = rs(1..=4).into_iter().rev().collect();
        let mut st = host(&names, Some(&r(4)));
        st.history = deploys(&rs(1..=1));
        st.history.push(deploy(Some(&r(1)), &r(4)));
        let prev = previous(&st).map(|p| p.to_string());
        assert_eq!(prev, Some(r(1)), "the fixture's rollback target");
        let p = prune_plan(&st, 2, now());
        assert_eq!(
            table(&p),
            rows(&[
                (4, "keep: live"),
                (3, "keep: among newest 2"),
                (2, "delete: old"),
                (1, "keep: previous (rollback target)"),
            ])
        );
    }

    #[test]
    fn a_bad_live_release_is_kept_but_takes_no_place() {
        // The link was put back on r3 by hand after rolling back from it: r3 is live
        // and still bad. keep 2 → live r3 plus the two newest good, r2 (previous) and r1.
        let names: Vec<String> = rs(1..=3).into_iter().rev().collect();
        let mut st = host(&names, Some(&r(3)));
        st.history = deploys(&rs(1..=3));
        st.history.push(rollback(&r(3), &r(2)));
        assert!(bad_releases(&st.history).contains(r(3).as_str()));
        let p = prune_plan(&st, 2, now());
        assert_eq!(
            p.verdict(&r(3)),
            Some(&Verdict::Keep(vec![KeepReason::Live]))
        );
        assert!(p.verdict(&r(1)).is_some_and(|v| !v.is_delete()));
        assert_eq!(deletions(&p), []);
        let p = prune_plan(&st, 1, now());
        assert_eq!(
            p.verdict(&r(3)),
            Some(&Verdict::Keep(vec![KeepReason::Live]))
        );
        assert_eq!(deletions(&p), [(r(1), DeleteReason::Old)]);
    }

    #[test]
    fn bad_releases_do_not_count_toward_keep_and_go_first() {
        // Live r5 after rolling back r6; r3 was also rolled back from earlier. keep 3:
        // the places go to r5, r4 and r2, skipping the bad r6 and r3.
        let names: Vec<String> = rs(1..=6).into_iter().rev().collect();
        let mut st = host(&names, Some(&r(5)));
        st.history = deploys(&rs(1..=3));
        st.history.push(rollback(&r(3), &r(2)));
        st.history.push(deploy(Some(&r(2)), &r(4)));
        st.history.push(deploy(Some(&r(4)), &r(5)));
        st.history.push(deploy(Some(&r(5)), &r(6)));
        st.history.push(rollback(&r(6), &r(5)));
        let p = prune_plan(&st, 3, now());
        assert_eq!(
            table(&p),
            rows(&[
                (6, "delete: bad (rolled back from)"),
                (5, "keep: live"),
                (4, "keep: previous (rollback target)"),
                (3, "delete: bad (rolled back from)"),
                (2, "keep: among newest 3"),
                (1, "delete: old"),
            ])
        );
        assert_eq!(
            deletions(&p),
            [
                (r(3), DeleteReason::Bad),
                (r(6), DeleteReason::Bad),
                (r(1), DeleteReason::Old)
            ]
        );
    }

    #[test]
    fn a_bad_release_with_a_job_or_pin_is_kept() {
        let mut st = scenario();
        rel_mut(&mut st, &r(8)).jobs.push(job(7));
        rel_mut(&mut st, &r(7))
            .pins
            .push(pin(&r(7), FUTURE, "dev@box", ""));
        let p = prune_plan(&st, 3, now());
        assert_eq!(
            p.verdict(&r(8)).unwrap().to_string(),
            "keep: running job (pid 7)"
        );
        assert_eq!(
            p.verdict(&r(7)).unwrap().to_string(),
            "keep: pinned until 2026-11-27T10:00:00Z by dev@box"
        );
        // Protected but bad: they take no place, r4 still does and r3 is old.
        assert_eq!(
            p.verdict(&r(4)).unwrap().to_string(),
            "keep: among newest 3"
        );
        assert_eq!(deletions(&p), [(r(3), DeleteReason::Old)]);
    }

    #[test]
    fn several_reasons_are_all_listed() {
        let mut st = scenario();
        {
            let live = rel_mut(&mut st, &r(6));
            live.jobs.push(job(456));
            live.jobs.push(job(123));
            live.jobs.push(job(456)); // seen via cwd and an fd: one pid
            live.pins.push(pin(&r(6), FUTURE, "ci@jenkins", "nightly"));
            live.pins.push(pin(&r(6), PAST, "old@pin", "gone"));
        }
        let p = prune_plan(&st, 3, now());
        assert_eq!(
            p.verdict(&r(6)).unwrap().to_string(),
            "keep: live, running jobs (pids 123, 456), \
             pinned until 2026-11-27T10:00:00Z by ci@jenkins (nightly)"
        );
        assert_eq!(p.expired_pins.len(), 1);
        assert_eq!(p.expired_pins[0].by, "old@pin");
    }

    #[test]
    fn expired_and_unreadable_pins_protect_nothing_and_are_cleaned() {
        let mut st = scenario();
        rel_mut(&mut st, &r(2)).pins.clear();
        rel_mut(&mut st, &r(2))
            .pins
            .push(pin(&r(2), PAST, "ci@jenkins", "yesterday"));
        rel_mut(&mut st, &r(3))
            .pins
            .push(pin(&r(3), "whenever", "ci@jenkins", ""));
        let p = prune_plan(&st, 3, now());
        // r2 and r3 are now unprotected: older than the newest 3 (r6, r5, r4), old.
        assert_eq!(
            table(&p)[4..],
            rows(&[
                (4, "keep: among newest 3"),
                (3, "delete: old"),
                (2, "delete: old"),
                (1, "keep: running job (pid 4242)"),
            ])
        );
        let ids: BTreeSet<_> = p.expired_pins.iter().map(|p| p.release.clone()).collect();
        assert_eq!(ids, [r(2), r(3)].into_iter().collect());
    }

    #[test]
    fn a_pin_expiring_exactly_now_is_expired() {
        let mut st = host(&[r(2), r(1)], Some(&r(2)));
        rel_mut(&mut st, &r(1))
            .pins
            .push(pin(&r(1), "2026-11-27T00:00:00Z", "a@b", ""));
        st.history = vec![rollback(&r(1), &r(2))]; // r1 bad: not previous
        let p = prune_plan(&st, 0, now());
        assert_eq!(p.verdict(&r(1)), Some(&Verdict::Delete(DeleteReason::Bad)));
    }

    #[test]
    fn keep_zero_keeps_only_protected() {
        let st = scenario();
        let p = prune_plan(&st, 0, now());
        assert_eq!(
            table(&p),
            rows(&[
                (8, "delete: bad (rolled back from)"),
                (7, "delete: bad (rolled back from)"),
                (6, "keep: live"),
                (5, "keep: previous (rollback target)"),
                (4, "delete: old"),
                (3, "delete: old"),
                (
                    2,
                    "keep: pinned until 2026-11-27T10:00:00Z by ci@jenkins (nightly)"
                ),
                (1, "keep: running job (pid 4242)"),
            ])
        );
        let order: Vec<String> = deletions(&p).into_iter().map(|(n, _)| n).collect();
        assert_eq!(order, [r(7), r(8), r(3), r(4)]);
    }

    #[test]
    fn hidden_processes_of_job_users_keep_everything() {
        use crate::model::{HiddenUser, SudoScan};
        let hidden = |user: &str, count, own| HiddenUser {
            user: user.into(),
            count,
            own,
        };
        let mut st = scenario();
        st.hidden_users = vec![
            hidden("relman-deploy", 2, true),
            hidden("relman-jobs", 3, false),
            hidden("root", 4, false),
        ];
        // No job_users: every other user's hidden process may be a job.
        let p = prune_plan(&st, 0, now());
        assert_eq!(deletions(&p), []);
        assert_eq!(
            p.verdict(&r(4)),
            Some(&Verdict::Keep(vec![KeepReason::Unseen {
                count: 7,
                users: vec!["relman-jobs".into(), "root".into()]
            }]))
        );
        assert_eq!(
            table(&p)[4].1,
            "keep: 7 processes of other users (relman-jobs, root) could not be inspected"
        );
        // job_users names who runs jobs: root's hidden processes don't matter.
        st.job_users = Some(vec!["relman-jobs".into()]);
        let p = prune_plan(&st, 0, now());
        assert_eq!(
            table(&p)[4].1,
            "keep: 3 processes of other users (relman-jobs) could not be inspected"
        );
        // ... and a sudo scan that saw them lifts it; a refused one does not.
        st.sudo_scans = vec![("relman-jobs".into(), SudoScan::Refused)];
        assert_eq!(deletions(&prune_plan(&st, 0, now())), []);
        st.sudo_scans = vec![("relman-jobs".into(), SudoScan::Ok)];
        let p = prune_plan(&st, 0, now());
        assert_eq!(deletions(&p).len(), 4);
        // The SSH user's own hidden processes (its sshd sessions) never block.
        st.job_users = Some(vec!["relman-deploy".into()]);
        st.sudo_scans.clear();
        assert_eq!(deletions(&prune_plan(&st, 0, now())).len(), 4);
        // Unknown jobs say only that.
        st.job_users = None;
        st.jobs_known = false;
        assert_eq!(
            prune_plan(&st, 0, now()).verdict(&r(4)),
            Some(&Verdict::Keep(vec![KeepReason::JobsUnknown]))
        );
    }

    #[test]
    fn jobs_unknown_keeps_everything() {
        let mut st = scenario();
        st.jobs_known = false;
        let p = prune_plan(&st, 0, now());
        assert_eq!(deletions(&p), []);
        assert_eq!(
            table(&p),
            rows(&[
                (8, "keep: jobs cannot be checked"),
                (7, "keep: jobs cannot be checked"),
                (6, "keep: live, jobs cannot be checked"),
                (
                    5,
                    "keep: previous (rollback target), jobs cannot be checked"
                ),
                (4, "keep: jobs cannot be checked"),
                (3, "keep: jobs cannot be checked"),
                (
                    2,
                    "keep: pinned until 2026-11-27T10:00:00Z by ci@jenkins (nightly), \
                     jobs cannot be checked"
                ),
                (1, "keep: running job (pid 4242), jobs cannot be checked"),
            ])
        );
        // The newest-N choice is unchanged underneath.
        let p = prune_plan(&st, 3, now());
        assert_eq!(
            p.verdict(&r(4)),
            Some(&Verdict::Keep(vec![
                KeepReason::Newest(3),
                KeepReason::JobsUnknown
            ]))
        );
        assert_eq!(
            p.verdict(&r(3)),
            Some(&Verdict::Keep(vec![KeepReason::JobsUnknown]))
        );
    }

    #[test]
    fn order_comes_from_names_only() {
        // Releases handed in scrambled (as a directory listing or an mtime sort might
        // give them), with `.N` counters that sort numerically, not as text.
        let a = "batch_20261126000001".to_string();
        let b = "batch_20261126000002".to_string();
        let b2 = "batch_20261126000002.2".to_string();
        let b10 = "batch_20261126000002.10".to_string();
        let c = "batch_20261126000003".to_string();
        let scrambled = [b10.clone(), a.clone(), c.clone(), b.clone(), b2.clone()];
        let st = host(&scrambled, Some(&c));
        let p = prune_plan(&st, 3, now());
        assert_eq!(
            table(&p),
            vec![
                (c.clone(), "keep: live".to_string()),
                (b10.clone(), "keep: previous (rollback target)".into()),
                (b2.clone(), "keep: among newest 3".into()),
                (b.clone(), "delete: old".into()),
                (a.clone(), "delete: old".into()),
            ]
        );
        let order: Vec<String> = deletions(&p).into_iter().map(|(n, _)| n).collect();
        assert_eq!(order, [a, b]);
    }

    #[test]
    fn link_absent_or_dangling_protects_the_newest_good_as_previous() {
        for link in [
            LinkState::Absent,
            LinkState::Dangling {
                target: "batch_20261126000009".into(),
            },
        ] {
            let mut st = host(&[r(3), r(2), r(1)], None);
            st.link = link;
            let p = prune_plan(&st, 2, now());
            assert_eq!(
                table(&p),
                rows(&[
                    (3, "keep: previous (rollback target)"),
                    (2, "keep: among newest 2"),
                    (1, "delete: old"),
                ])
            );
        }
    }

    #[test]
    fn all_bad_and_no_live_deletes_them_all() {
        let mut st = host(&[r(2), r(1)], None);
        st.history = deploys(&rs(1..=2));
        st.history.push(rollback(&r(2), &r(1)));
        st.history.push(rollback(&r(1), &r(9)));
        let p = prune_plan(&st, 5, now());
        assert_eq!(
            deletions(&p),
            [(r(1), DeleteReason::Bad), (r(2), DeleteReason::Bad)]
        );
    }

    #[test]
    fn empty_host_and_staging() {
        let mut st = host(&[], None);
        assert!(prune_plan(&st, 3, now()).is_noop());
        st.staging = vec![r(9)];
        let p = prune_plan(&st, 3, now());
        assert_eq!(p.stale_staging, [r(9)]);
        assert!(p.verdicts.is_empty());
        assert!(!p.is_noop());
    }

    #[test]
    fn hostile_pin_text_cannot_garble_a_line() {
        let mut st = host(&[r(1)], Some(&r(1)));
        rel_mut(&mut st, &r(1))
            .pins
            .push(pin(&r(1), FUTURE, "a\x1b[2J@b", "line\nbreak"));
        let line = prune_plan(&st, 0, now()).verdicts[0].verdict.to_string();
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
}
