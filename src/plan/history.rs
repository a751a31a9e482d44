//! What a host's history says: which releases are bad, which release `rollback` goes
//! back to, and whether a `rollback --to` target is acceptable.
//!
//! History is the only memory of what was live before, so these rules read it
//! (oldest → newest, as `HostState::history` holds it) and fall back to name order
//! only when it has nothing usable (a root made by the classic script, a history
//! whose releases were all pruned).

use std::collections::BTreeSet;

use crate::model::{Action, HistoryEntry, HostState, NameError, ReleaseName, Usability, printable};

/// The note a deploy made with `--no-switch` starts with. Such a deploy adds a release
/// but leaves the link alone, so it is not a change of what was live; every other
/// `deploy`, `switch` and `rollback` entry with a `to` moved the link.
pub const NO_SWITCH_NOTE: &str = "no-switch";

/// Whether a history entry moved the link (and to where): `deploy` (unless its note
/// starts with [`NO_SWITCH_NOTE`]), `switch` and `rollback` entries that name a `to`.
pub fn moves_link(e: &HistoryEntry) -> Option<&str> {
    let to = e.to.as_deref()?;
    match e.action {
        Action::Switch | Action::Rollback => Some(to),
        Action::Deploy => {
            let no_switch = e
                .note
                .as_deref()
                .is_some_and(|n| n.starts_with(NO_SWITCH_NOTE));
            (!no_switch).then_some(to)
        }
        Action::Prune
        | Action::Pin
        | Action::Unpin
        | Action::Unlock
        | Action::Refuse
        | Action::Probation
        | Action::Accept
        | Action::Launch => None,
    }
}

/// The releases that are bad: walking history oldest → newest, a `rollback` marks the
/// release it moved away from (`from`) as bad — the operator judged it broken — and a
/// `refuse` marks its `to` (a guard judged it, SPEC §7); any later move of the link
/// *to* a release (deploy, switch or rollback) clears its mark, because an operator
/// who goes back to it on purpose has un-judged it.
///
/// Names are returned as written in history; some may no longer exist on the host.
pub fn bad_releases(history: &[HistoryEntry]) -> BTreeSet<String> {
    let mut bad = BTreeSet::new();
    for e in history {
        let judged = match e.action {
            Action::Rollback => &e.from,
            Action::Refuse => &e.to,
            _ => &None,
        };
        if let Some(name) = judged {
            bad.insert(name.clone());
        }
        if let Some(to) = moves_link(e) {
            bad.remove(to);
        }
    }
    bad
}

/// The releases that were live, oldest at the bottom, as history tells it — the stack
/// `rollback` walks down.
///
/// - A `deploy`/`switch` from F to T pushes T. If the top of the stack is not F (the
///   history was truncated, or the link was moved by hand in between) F is pushed first,
///   because F *was* live just before T.
/// - A `rollback` from F to T pops down to the most recent occurrence of T, so the
///   releases between are forgotten and the next rollback goes further back. If T is
///   not on the stack, F is popped (when on top) and T pushed.
///
/// Entries that don't move the link (prune, pin, unpin, unlock, a `--no-switch`
/// deploy) are ignored. The stack may hold duplicates (A → B → A).
pub fn live_stack(history: &[HistoryEntry]) -> Vec<&str> {
    let mut stack: Vec<&str> = Vec::new();
    for e in history {
        let Some(to) = moves_link(e) else { continue };
        let from = e.from.as_deref();
        match e.action {
            Action::Rollback => {
                if let Some(i) = stack.iter().rposition(|s| *s == to) {
                    stack.truncate(i + 1);
                } else {
                    if from.is_some() && stack.last().copied() == from {
                        stack.pop();
                    }
                    stack.push(to);
                }
            }
            _ => {
                if let Some(f) = from
                    && stack.last() != Some(&f)
                {
                    stack.push(f);
                }
                stack.push(to);
            }
        }
    }
    stack
}

/// Why there is nothing to roll back to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoTarget {
    #[error("no releases on this host")]
    NoReleases,
    #[error("no usable release older than {current} that is not bad")]
    NothingOlder { current: String },
    #[error("no usable release that is not bad")]
    AllBad,
}

/// The release `rollback` (without `--to`) goes to: the release live before the
/// current one.
///
/// Candidates are the [`live_stack`] from the top down, skipping the current release,
/// bad releases ([`bad_releases`]), releases that no longer exist or that the scan
/// found unusable (unreadable by the deploy user, or empty) and duplicates; the
/// first candidate wins. So deploy A, deploy B, deploy C, rollback C→B targets A next
/// (C is bad and was popped), and a rollback never goes forward to what it fled.
///
/// When history has no candidate (no history, or all of it pruned), the fallback is the
/// next older release *by name* than the current one that is not bad — what the classic
/// script's operator would have done by hand. With no current release (link absent,
/// dangling or pointing elsewhere) it is the newest good release.
pub fn rollback_target(state: &HostState) -> Result<ReleaseName, NoTarget> {
    if state.releases.is_empty() {
        return Err(NoTarget::NoReleases);
    }
    let bad = bad_releases(&state.history);
    let current = state.current();
    let is_current = |n: &str| current.is_some_and(|c| c.as_str() == n);

    let mut seen = BTreeSet::new();
    for n in live_stack(&state.history).into_iter().rev() {
        if is_current(n) || bad.contains(n) || !seen.insert(n) {
            continue;
        }
        if let Some(r) = state.release(n)
            && r.usable == Usability::Usable
        {
            return Ok(r.name.clone());
        }
    }

    // Fallback: name order, newest first, regardless of how the list was handed in.
    let mut names: Vec<&ReleaseName> = state
        .releases
        .iter()
        .filter(|r| r.usable == Usability::Usable)
        .map(|r| &r.name)
        .collect();
    names.sort_unstable_by(|a, b| b.cmp(a));
    let good = |n: &&&ReleaseName| !bad.contains(n.as_str());
    match current {
        Some(cur) => names
            .iter()
            .filter(|n| **n < cur)
            .find(good)
            .map(|n| (*n).clone())
            .ok_or_else(|| NoTarget::NothingOlder {
                current: cur.to_string(),
            }),
        None => names
            .iter()
            .find(good)
            .map(|n| (*n).clone())
            .ok_or(NoTarget::AllBad),
    }
}

/// The release `list` marks as previous (↶) and prune always keeps: the rollback
/// target, if there is one.
pub fn previous(state: &HostState) -> Option<ReleaseName> {
    rollback_target(state).ok()
}

/// A `rollback --to` target that passed [`explicit_rollback`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplicitTarget {
    pub name: ReleaseName,
    /// The target is bad. Allowed only because the operator named it; the operation
    /// should say so.
    pub bad: bool,
}

/// Why a `rollback --to` target is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("'{name}' is not a release name: {source}")]
    NotARelease {
        name: String,
        #[source]
        source: NameError,
    },
    #[error("release {0} does not exist on this host")]
    Missing(String),
    #[error("release {0} is already live")]
    AlreadyLive(String),
}

/// Validates `rollback --to NAME`: it must be a release name with this host's prefix,
/// exist on the host and not be the current release. A bad release is accepted — the
/// operator named it — and flagged so the operation can say so.
pub fn explicit_rollback(state: &HostState, to: &str) -> Result<ExplicitTarget, TargetError> {
    let name =
        ReleaseName::parse(&state.prefix, to).map_err(|source| TargetError::NotARelease {
            name: printable(to),
            source,
        })?;
    if state.release(name.as_str()).is_none() {
        return Err(TargetError::Missing(name.to_string()));
    }
    if state.current() == Some(&name) {
        return Err(TargetError::AlreadyLive(name.to_string()));
    }
    let bad = bad_releases(&state.history).contains(name.as_str());
    Ok(ExplicitTarget { name, bad })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, LinkState};
    use crate::plan::testkit::*;

    fn set(v: &[String]) -> BTreeSet<String> {
        v.iter().cloned().collect()
    }

    fn rs(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
        range.map(r).collect()
    }

    /// A host with releases r1..=rn (newest first, as a scan gives them).
    fn fleet_host(n: u32, current: Option<u32>) -> HostState {
        let mut names = rs(1..=n);
        names.reverse();
        host(&names, current.map(r).as_deref())
    }

    #[test]
    fn bad_is_what_a_rollback_left() {
        let mut h = deploys(&rs(1..=3));
        h.push(rollback(&r(3), &r(2)));
        assert_eq!(bad_releases(&h), set(&[r(3)]));
    }

    #[test]
    fn going_back_to_a_bad_release_clears_it() {
        let mut h = deploys(&rs(1..=3));
        h.push(rollback(&r(3), &r(2)));
        h.push(switch(&r(2), &r(3)));
        assert!(bad_releases(&h).is_empty());

        // A rollback *to* a bad release clears it too (and marks what it left).
        let mut h = deploys(&rs(1..=3));
        h.push(rollback(&r(3), &r(2)));
        h.push(rollback(&r(2), &r(1)));
        assert_eq!(bad_releases(&h), set(&[r(2), r(3)]));
        h.push(rollback(&r(1), &r(3)));
        assert_eq!(bad_releases(&h), set(&[r(1), r(2)]));
    }

    #[test]
    fn bad_ignores_entries_that_do_not_move_the_link() {
        let mut h = deploys(&rs(1..=2));
        h.push(rollback(&r(2), &r(1)));
        h.push(entry(Action::Prune, Some(&r(2)), None));
        h.push(entry(Action::Pin, None, Some(&r(2))));
        h.push(entry(Action::Unlock, None, None));
        assert_eq!(bad_releases(&h), set(&[r(2)]));
        assert!(bad_releases(&[]).is_empty());
    }

    #[test]
    fn a_refused_release_is_bad_until_something_switches_to_it() {
        let mut h = deploys(&rs(1..=2));
        h.push(entry(Action::Refuse, Some(&r(2)), Some(&r(3))));
        h.push(entry(Action::Probation, None, Some(&r(2))));
        h.push(entry(Action::Accept, None, Some(&r(2))));
        assert_eq!(bad_releases(&h), set(&[r(3)]));
        assert_eq!(live_stack(&h), [r(1), r(2)]);
        h.push(switch(&r(2), &r(3)));
        assert!(bad_releases(&h).is_empty());
    }

    #[test]
    fn no_switch_deploys_are_not_link_changes() {
        let mut e = deploy(Some(&r(1)), &r(2));
        assert_eq!(moves_link(&e), Some(r(2).as_str()));
        e.note = Some(format!("{NO_SWITCH_NOTE}: nightly build"));
        assert_eq!(moves_link(&e), None);
        let mut h = deploys(&rs(1..=2));
        h.push(e.clone());
        assert_eq!(live_stack(&h), [r(1), r(2)]);
    }

    #[test]
    fn stack_pushes_and_pops() {
        let mut h = deploys(&rs(1..=4));
        assert_eq!(live_stack(&h), [r(1), r(2), r(3), r(4)]);
        h.push(rollback(&r(4), &r(2)));
        assert_eq!(live_stack(&h), [r(1), r(2)]);
        h.push(switch(&r(2), &r(4)));
        assert_eq!(live_stack(&h), [r(1), r(2), r(4)]);
    }

    #[test]
    fn stack_from_a_truncated_history_starts_with_from() {
        // The file's older lines were cut: the first entry is a switch from r2.
        let h = vec![switch(&r(2), &r(3))];
        assert_eq!(live_stack(&h), [r(2), r(3)]);
        // A rollback to something the stack never saw.
        let h = vec![rollback(&r(3), &r(1))];
        assert_eq!(live_stack(&h), [r(1)]);
        let h = vec![switch(&r(2), &r(3)), rollback(&r(3), &r(1))];
        assert_eq!(live_stack(&h), [r(2), r(1)]);
    }

    #[test]
    fn stack_records_a_hand_switch_between_entries() {
        // relman deployed r1, r2; someone switched to r3 by hand; relman deployed r4.
        let h = vec![
            deploy(None, &r(1)),
            deploy(Some(&r(1)), &r(2)),
            deploy(Some(&r(3)), &r(4)),
        ];
        assert_eq!(live_stack(&h), [r(1), r(2), r(3), r(4)]);
    }

    #[test]
    fn rollback_goes_to_the_release_live_before() {
        let mut st = fleet_host(3, Some(3));
        st.history = deploys(&rs(1..=3));
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(2));
        assert_eq!(previous(&st).unwrap().as_str(), r(2));
    }

    #[test]
    fn repeated_rollbacks_walk_further_back_never_forward() {
        let mut st = fleet_host(3, Some(2));
        st.history = deploys(&rs(1..=3));
        st.history.push(rollback(&r(3), &r(2)));
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(1));

        // Once at r1 there is nothing older and r2, r3 are bad.
        st.history.push(rollback(&r(2), &r(1)));
        st.link = LinkState::Release {
            name: name(&r(1)),
            absolute: false,
        };
        assert_eq!(
            rollback_target(&st),
            Err(NoTarget::NothingOlder { current: r(1) })
        );
        assert_eq!(
            rollback_target(&st).unwrap_err().to_string(),
            format!("no usable release older than {} that is not bad", r(1))
        );
        assert_eq!(previous(&st), None);
    }

    #[test]
    fn rollback_after_a_switch_back_returns_to_where_the_switch_came_from() {
        // deploy r1 r2 r3, then the operator switched r3 → r1: "live before" is r3.
        let mut st = fleet_host(3, Some(1));
        st.history = deploys(&rs(1..=3));
        st.history.push(switch(&r(3), &r(1)));
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(3));
        // Rolling back r1 → r3 makes r1 bad and pops to r3; next is r2.
        st.history.push(rollback(&r(1), &r(3)));
        st.link = LinkState::Release {
            name: name(&r(3)),
            absolute: false,
        };
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(2));
    }

    #[test]
    fn rollback_skips_pruned_bad_and_duplicate_entries() {
        // Stack r1 r2 r3 r2 r4; r3 pruned; live r4. Skip r4 (current), r2 (ok) → r2.
        let mut st = host(&[r(4), r(2), r(1)], Some(&r(4)));
        st.history = vec![
            deploy(None, &r(1)),
            deploy(Some(&r(1)), &r(2)),
            deploy(Some(&r(2)), &r(3)),
            switch(&r(3), &r(2)),
            deploy(Some(&r(2)), &r(4)),
        ];
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(2));

        // If r2 is deleted too, the next distinct existing one is r1.
        st.releases.retain(|x| x.name.as_str() != r(2));
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(1));
    }

    #[test]
    fn rollback_never_picks_a_bad_release_from_history() {
        // r2 was rolled back from, then r3 deployed; r2 stays bad.
        let mut st = fleet_host(3, Some(3));
        st.history = deploys(&rs(1..=2));
        st.history.push(rollback(&r(2), &r(1)));
        st.history.push(deploy(Some(&r(1)), &r(3)));
        assert_eq!(live_stack(&st.history), [r(1), r(3)]);
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(1));
    }

    #[test]
    fn without_history_the_next_older_good_release_by_name() {
        let st = fleet_host(4, Some(3));
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(2));
        // A list in any order gives the same answer: order is by name.
        let mut shuffled = st.clone();
        shuffled.releases.reverse();
        shuffled.releases.swap(0, 2);
        assert_eq!(rollback_target(&shuffled).unwrap().as_str(), r(2));
    }

    #[test]
    fn fallback_skips_bad_releases() {
        // History names only releases that were pruned, but still marks r2 bad.
        let mut st = fleet_host(4, Some(3));
        st.history = vec![rollback(&r(2), &r(9))];
        assert_eq!(live_stack(&st.history), [r(9)]);
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(1));
    }

    #[test]
    fn link_absent_or_dangling_targets_the_newest_good_release() {
        let mut st = fleet_host(3, None);
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(3));
        st.link = LinkState::Dangling {
            target: "batch_20261126000009".into(),
        };
        st.history = deploys(&rs(1..=3));
        st.history.push(rollback(&r(3), &r(2)));
        st.history.push(deploy(Some(&r(2)), &r(9))); // r9 was deleted by hand
        // History: r9 (gone), r2 (exists) → r2.
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(2));
        st.history.clear();
        st.history.push(rollback(&r(3), &r(9)));
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(2));
    }

    #[test]
    fn all_bad_or_nothing_at_all() {
        let st = fleet_host(0, None);
        assert_eq!(rollback_target(&st), Err(NoTarget::NoReleases));
        let mut st = fleet_host(2, None);
        st.history = deploys(&rs(1..=2));
        st.history.push(rollback(&r(2), &r(1)));
        st.history.push(rollback(&r(1), &r(9)));
        assert_eq!(rollback_target(&st), Err(NoTarget::AllBad));
        // The only release is live: nothing older.
        let st = fleet_host(1, Some(1));
        assert_eq!(
            rollback_target(&st),
            Err(NoTarget::NothingOlder { current: r(1) })
        );
    }

    #[test]
    fn explicit_target_validation() {
        let mut st = fleet_host(3, Some(2));
        st.history = deploys(&rs(1..=3));
        st.history.push(rollback(&r(3), &r(2)));

        assert_eq!(
            explicit_rollback(&st, &r(1)),
            Ok(ExplicitTarget {
                name: name(&r(1)),
                bad: false
            })
        );
        // Bad, but named by the operator: allowed and flagged.
        assert_eq!(
            explicit_rollback(&st, &r(3)),
            Ok(ExplicitTarget {
                name: name(&r(3)),
                bad: true
            })
        );
        assert_eq!(
            explicit_rollback(&st, &r(2)),
            Err(TargetError::AlreadyLive(r(2)))
        );
        assert_eq!(
            explicit_rollback(&st, &r(7)),
            Err(TargetError::Missing(r(7)))
        );
        let e = explicit_rollback(&st, "batch\n; rm -rf /").unwrap_err();
        assert!(matches!(e, TargetError::NotARelease { .. }));
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(matches!(
            explicit_rollback(&st, "other_20261126000001"),
            Err(TargetError::NotARelease { .. })
        ));
    }
}
