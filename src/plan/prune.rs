//! The prune policy (SPEC §4) as a verdict per release, each with the reasons an
//! operator reads in `prune --dry-run`, in `prune`'s output and in the TUI's dialog.
//!
//! **Protected** releases are kept whatever `keep` says: the live release, the previous
//! one (the rollback target), any release with a running job, any release with an
//! unexpired pin. **Besides those**, the newest `keep` *good* releases are kept: `keep`
//! counts only releases that are neither protected nor bad, so protection never eats
//! into the operator's safety margin, and a bad release never takes a good one's place.
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
    /// Among the newest `n` good, unprotected releases (`n` = the `keep` setting).
    Newest(usize),
}

/// Why a release is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// A rollback moved away from it and nothing went back to it.
    Bad,
    /// Not protected and older than the newest `keep` good releases.
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
        if !protected && !is_bad && newest_left > 0 {
            newest_left -= 1;
            why.push(KeepReason::Newest(keep));
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
    /// `keep` counts only good unprotected releases: those are r4 and r3 — fewer than 3,
    /// so both are kept and the count simply runs out. r7 and r8 are bad: deleted.
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
                &Verdict::Keep(vec![KeepReason::Newest(3)]),
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
                (3, "keep: among newest 3"),
                (
                    2,
                    "keep: pinned until 2026-11-27T10:00:00Z by ci@jenkins (nightly)"
                ),
                (1, "keep: running job (pid 4242)"),
            ])
        );
        assert_eq!(
            deletions(&p),
            [(r(7), DeleteReason::Bad), (r(8), DeleteReason::Bad)]
        );
        assert!(p.expired_pins.is_empty());
        assert!(!p.is_noop());
    }

    #[test]
    fn the_brief_scenario_with_keep_one_deletes_r3() {
        let p = prune_plan(&scenario(), 1, now());
        assert_eq!(
            p.verdict(&r(4)),
            Some(&Verdict::Keep(vec![KeepReason::Newest(1)]))
        );
        assert_eq!(p.verdict(&r(3)), Some(&Verdict::Delete(DeleteReason::Old)));
        // Bad first, then old.
        assert_eq!(
            deletions(&p),
            [
                (r(7), DeleteReason::Bad),
                (r(8), DeleteReason::Bad),
                (r(3), DeleteReason::Old)
            ]
        );
    }

    #[test]
    fn protected_releases_do_not_count_toward_keep() {
        // r1..r10, live r10 (previous r9), keep 3 → r8, r7, r6 newest; r5..r1 old.
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
                (7, "keep: among newest 3"),
                (6, "keep: among newest 3"),
                (5, "delete: old"),
                (4, "delete: old"),
                (3, "delete: old"),
                (2, "delete: old"),
                (1, "delete: old"),
            ])
        );
        // Old ones go oldest first.
        let order: Vec<String> = deletions(&p).into_iter().map(|(n, _)| n).collect();
        assert_eq!(order, rs(1..=5));
    }

    #[test]
    fn bad_releases_do_not_count_toward_keep_and_go_first() {
        // Live r5 after rolling back r6; r3 was also rolled back from earlier.
        let names: Vec<String> = rs(1..=6).into_iter().rev().collect();
        let mut st = host(&names, Some(&r(5)));
        st.history = deploys(&rs(1..=3));
        st.history.push(rollback(&r(3), &r(2)));
        st.history.push(deploy(Some(&r(2)), &r(4)));
        st.history.push(deploy(Some(&r(4)), &r(5)));
        st.history.push(deploy(Some(&r(5)), &r(6)));
        st.history.push(rollback(&r(6), &r(5)));
        let p = prune_plan(&st, 1, now());
        assert_eq!(
            table(&p),
            rows(&[
                (6, "delete: bad (rolled back from)"),
                (5, "keep: live"),
                (4, "keep: previous (rollback target)"),
                (3, "delete: bad (rolled back from)"),
                (2, "keep: among newest 1"),
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
        assert_eq!(deletions(&p), []);
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
        // r2 is now unprotected and good: third of the newest 3 (r4, r3, r2).
        assert_eq!(
            table(&p)[4..],
            rows(&[
                (4, "keep: among newest 3"),
                (3, "keep: among newest 3"),
                (2, "keep: among newest 3"),
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
        let p = prune_plan(&st, 1, now());
        assert_eq!(
            p.verdict(&r(4)),
            Some(&Verdict::Keep(vec![
                KeepReason::Newest(1),
                KeepReason::JobsUnknown
            ]))
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
        let p = prune_plan(&st, 1, now());
        assert_eq!(
            table(&p),
            vec![
                (c.clone(), "keep: live".to_string()),
                (b10.clone(), "keep: previous (rollback target)".into()),
                (b2.clone(), "keep: among newest 1".into()),
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
            let p = prune_plan(&st, 1, now());
            assert_eq!(
                table(&p),
                rows(&[
                    (3, "keep: previous (rollback target)"),
                    (2, "keep: among newest 1"),
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
