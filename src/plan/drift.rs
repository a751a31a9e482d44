//! Drift: how far a host's live release is behind the rest of the fleet, for the TUI's
//! hosts pane ("2 behind") and the fleet view.
//!
//! The fleet's releases are the union of every host's *good* releases. A release that
//! was rolled back from on a host is bad there and does not count for that host's
//! contribution — otherwise a release the whole fleet rejected would mark every host as
//! behind forever. It still counts if some other host has it and didn't reject it.
//! Releases are compared by timestamp and counter only, so hosts with different
//! prefixes line up.

use std::collections::BTreeSet;

use crate::model::{HostState, ReleaseName};
use crate::plan::history::bad_releases;

/// The good releases of a set of hosts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fleet {
    /// Distinct (timestamp, counter) keys of the union, with one name for each.
    releases: BTreeSet<(u64, u32, ReleaseName)>,
}

impl Fleet {
    /// The union of the good releases of `states`.
    pub fn of<'a>(states: impl IntoIterator<Item = &'a HostState>) -> Fleet {
        let mut fleet = Fleet::default();
        let mut keys = BTreeSet::new();
        for st in states {
            let bad = bad_releases(&st.history);
            for r in &st.releases {
                if !bad.contains(r.name.as_str()) && keys.insert(key(&r.name)) {
                    let (t, n) = key(&r.name);
                    fleet.releases.insert((t, n, r.name.clone()));
                }
            }
        }
        fleet
    }

    /// The newest good release anywhere in the fleet.
    pub fn newest(&self) -> Option<&ReleaseName> {
        self.releases.last().map(|(_, _, n)| n)
    }

    /// How many distinct fleet releases are newer than `name`.
    pub fn newer_than(&self, name: &ReleaseName) -> usize {
        let k = key(name);
        self.releases
            .iter()
            .rev()
            .take_while(|(t, n, _)| (*t, *n) > k)
            .count()
    }

    pub fn len(&self) -> usize {
        self.releases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.releases.is_empty()
    }
}

/// Timestamp and counter: YYYYMMDDHHMMSS as a number orders like the time itself.
fn key(n: &ReleaseName) -> (u64, u32) {
    (n.stamp(), n.seq())
}

/// The newest good release anywhere in `states` (see [`Fleet`]).
pub fn fleet_newest<'a>(states: impl IntoIterator<Item = &'a HostState>) -> Option<ReleaseName> {
    Fleet::of(states).newest().cloned()
}

/// A host's position relative to the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drift {
    /// The live release is the fleet's newest (or newer: nothing newer exists).
    UpToDate,
    /// `by` good releases in the fleet are newer than the live one.
    Behind { by: usize },
    /// The link does not point at a release (absent, dangling, elsewhere).
    NoLive,
}

/// Where `state`'s live release stands against `fleet` (usually built from every host
/// shown, including this one).
pub fn drift(fleet: &Fleet, state: &HostState) -> Drift {
    match state.current() {
        None => Drift::NoLive,
        Some(live) => match fleet.newer_than(live) {
            0 => Drift::UpToDate,
            by => Drift::Behind { by },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LinkState;
    use crate::plan::testkit::*;

    #[test]
    fn up_to_date_behind_and_no_live() {
        let a = host(&[r(3), r(2), r(1)], Some(&r(3)));
        let b = host(&[r(2), r(1)], Some(&r(1)));
        let mut c = host(&[r(1)], None);
        let fleet = Fleet::of([&a, &b, &c]);
        assert_eq!(fleet.len(), 3);
        assert_eq!(fleet.newest().map(|n| n.as_str()), Some(r(3).as_str()));
        assert_eq!(drift(&fleet, &a), Drift::UpToDate);
        assert_eq!(drift(&fleet, &b), Drift::Behind { by: 2 });
        assert_eq!(drift(&fleet, &c), Drift::NoLive);
        c.link = LinkState::Dangling { target: r(9) };
        assert_eq!(drift(&fleet, &c), Drift::NoLive);
        assert_eq!(fleet_newest([&a, &b, &c]), Some(name(&r(3))));
    }

    #[test]
    fn a_release_the_fleet_rolled_back_does_not_count() {
        let mut a = host(&[r(3), r(2)], Some(&r(2)));
        a.history = deploys(&[r(2), r(3)]);
        a.history.push(rollback(&r(3), &r(2)));
        let b = host(&[r(2)], Some(&r(2)));
        let fleet = Fleet::of([&a, &b]);
        assert_eq!(fleet_newest([&a, &b]), Some(name(&r(2))));
        assert_eq!(drift(&fleet, &a), Drift::UpToDate);
        assert_eq!(drift(&fleet, &b), Drift::UpToDate);

        // Another host runs r3 happily: now both are behind by one.
        let c = host(&[r(3), r(2)], Some(&r(3)));
        let fleet = Fleet::of([&a, &b, &c]);
        assert_eq!(drift(&fleet, &a), Drift::Behind { by: 1 });
        assert_eq!(drift(&fleet, &b), Drift::Behind { by: 1 });
        assert_eq!(drift(&fleet, &c), Drift::UpToDate);
    }

    #[test]
    fn prefixes_do_not_split_a_release() {
        let a = host(&[r(2), r(1)], Some(&r(1)));
        let mut b = host(&[], None);
        b.prefix = "app_".into();
        let other = |s: &str| ReleaseName::parse("app_", s).unwrap();
        b.releases = vec![release(&r(1))];
        b.releases[0].name = other("app_20261126000002");
        b.link = LinkState::Release {
            name: other("app_20261126000002"),
            absolute: false,
        };
        let fleet = Fleet::of([&a, &b]);
        assert_eq!(fleet.len(), 2);
        assert_eq!(drift(&fleet, &a), Drift::Behind { by: 1 });
        assert_eq!(drift(&fleet, &b), Drift::UpToDate);
    }

    #[test]
    fn empty_fleet() {
        let a = host(&[], None);
        let fleet = Fleet::of([&a]);
        assert!(fleet.is_empty());
        assert_eq!(fleet_newest([&a]), None);
        assert_eq!(fleet_newest(std::iter::empty()), None);
        // A live release nobody else knows about is not behind anything.
        let b = host(&[r(1)], Some(&r(1)));
        assert_eq!(drift(&Fleet::default(), &b), Drift::UpToDate);
    }
}
