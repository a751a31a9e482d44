//! relman's pure planning core: every decision relman makes about a host, as functions
//! over the plain data of [`crate::model`]. Nothing here does I/O, reads a clock or
//! touches a host; the caller passes `now` and the scanned [`HostState`](crate::model::HostState).
//!
//! - [`history`]: which releases are bad, what `rollback` targets, what `list` calls
//!   "previous", and validation of `rollback --to`.
//! - [`link`](mod@link): whether a host can take a switch or rollback target, and the
//!   one rollback target a fleet shares.
//! - [`prune`]: the keep policy of SPEC §4 as a verdict (with reasons) per release.
//! - [`deploy`]: the name of a new release and which files a delta deploy can hard-link.
//! - [`drift`](mod@drift): how far a host's live release is behind the fleet (TUI hosts pane).
//! - [`guard`]: the canary watch's verdict over each canary's runs since its switch.
//! - [`health`]: whether the live release fails more than the one live before it.
//! - [`upload`]: how a deploy's bytes are split over the channels of one connection.
//!
//! Order between releases always comes from their names ([`ReleaseName`]'s `Ord`),
//! never from the order of a list handed in and never from mtimes.
//!
//! [`ReleaseName`]: crate::model::ReleaseName

pub mod deploy;
pub mod drift;
pub mod guard;
pub mod health;
pub mod history;
pub mod link;
pub mod prune;
pub mod upload;

pub use deploy::{FileAction, bytes_to_send, delta, deploy_name, taken_names};
pub use drift::{Drift, Fleet, drift, fleet_newest};
pub use history::{
    ExplicitTarget, NO_SWITCH_NOTE, NoTarget, TargetError, bad_releases, explicit_rollback,
    live_stack, moves_link, previous, rollback_target,
};
pub use link::{
    Checked, NoCommonTarget, Refusal, check_target, fleet_rollback_target, rollback_candidates,
};
pub use prune::{DeleteReason, KeepReason, PrunePlan, ReleaseVerdict, Verdict, prune_plan};

/// Builders shared by the plan tests: compact host states without a scan.
#[cfg(test)]
pub(crate) mod testkit {
    use std::time::SystemTime;

    use crate::model::{
        Action, HistoryEntry, HostState, Job, JobVia, LinkState, Origin, Pin, Release, ReleaseName,
    };

    pub const PREFIX: &str = "batch_";

    /// `r(3)` is `batch_20261126000003`: release number i, one second after i-1.
    pub fn r(i: u32) -> String {
        format!("{PREFIX}202611260000{i:02}")
    }

    pub fn name(s: &str) -> ReleaseName {
        ReleaseName::parse(PREFIX, s).expect("test name")
    }

    pub fn t(rfc: &str) -> SystemTime {
        humantime::parse_rfc3339(rfc).expect("test time")
    }

    /// A fixed "now" for pin expiry; tests never read the wall clock.
    pub fn now() -> SystemTime {
        t("2026-11-27T00:00:00Z")
    }

    pub fn release(s: &str) -> Release {
        Release {
            name: name(s),
            size_bytes: 1000,
            usable: Default::default(),
            origin: Origin::Unknown,
            jobs: Vec::new(),
            pins: Vec::new(),
            health: Default::default(),
        }
    }

    /// A host with these releases (in the order given), the link on `current`.
    pub fn host(names: &[String], current: Option<&str>) -> HostState {
        let mut st = HostState::empty("deploy", "batch", PREFIX, now());
        st.root_exists = true;
        st.root_abs = "/home/deployer/deploy".into();
        st.releases = names.iter().map(|n| release(n)).collect();
        st.link = match current {
            Some(c) => LinkState::Release {
                name: name(c),
                absolute: false,
            },
            None => LinkState::Absent,
        };
        st
    }

    pub fn entry(action: Action, from: Option<&str>, to: Option<&str>) -> HistoryEntry {
        HistoryEntry {
            at: "2026-11-26T00:00:00Z".into(),
            by: "op@laptop".into(),
            action,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            note: None,
        }
    }

    pub fn deploy(from: Option<&str>, to: &str) -> HistoryEntry {
        entry(Action::Deploy, from, Some(to))
    }

    pub fn switch(from: &str, to: &str) -> HistoryEntry {
        entry(Action::Switch, Some(from), Some(to))
    }

    pub fn rollback(from: &str, to: &str) -> HistoryEntry {
        entry(Action::Rollback, Some(from), Some(to))
    }

    /// Deploys of `names` in order, each from the one before.
    pub fn deploys(names: &[String]) -> Vec<HistoryEntry> {
        let mut prev: Option<&str> = None;
        names
            .iter()
            .map(|n| {
                let e = deploy(prev, n);
                prev = Some(n);
                e
            })
            .collect()
    }

    pub fn job(pid: u32) -> Job {
        Job {
            pid,
            user: "batch".into(),
            started_at: None,
            command: "java -jar app.jar".into(),
            via: JobVia::Cwd,
        }
    }

    pub fn pin(release: &str, expires_at: &str, by: &str, reason: &str) -> Pin {
        Pin {
            id: format!("pin-{release}-{expires_at}"),
            release: release.into(),
            by: by.into(),
            created_at: "2026-11-26T00:00:00Z".into(),
            expires_at: expires_at.into(),
            reason: reason.into(),
        }
    }

    pub fn rel_mut<'a>(st: &'a mut HostState, s: &str) -> &'a mut Release {
        st.releases
            .iter_mut()
            .find(|r| r.name.as_str() == s)
            .expect("release in test state")
    }
}

/// Properties that hold for any history, any set of releases and any `keep`.
#[cfg(test)]
mod properties {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::testkit::*;
    use super::*;
    use crate::model::{Action, HostState, LinkState};

    fn arb_state() -> impl Strategy<Value = HostState> {
        let arb_entry = (0u8..4, proptest::option::of(1u32..12), 1u32..12);
        (
            proptest::collection::btree_set(1u32..10, 0..9),
            proptest::option::of(1u32..12),
            proptest::collection::vec(arb_entry, 0..14),
            proptest::collection::vec((1u32..10, any::<bool>(), any::<bool>()), 0..6),
            any::<bool>(),
        )
            .prop_map(|(present, current, hist, extras, jobs_known)| {
                let names: Vec<String> = present.iter().rev().map(|i| r(*i)).collect();
                let mut st = host(&names, None);
                st.jobs_known = jobs_known;
                st.link = match current {
                    Some(c) if present.contains(&c) => LinkState::Release {
                        name: name(&r(c)),
                        absolute: false,
                    },
                    Some(c) => LinkState::Dangling { target: r(c) },
                    None => LinkState::Absent,
                };
                st.history = hist
                    .into_iter()
                    .map(|(a, from, to)| {
                        let action = [
                            Action::Deploy,
                            Action::Switch,
                            Action::Rollback,
                            Action::Pin,
                        ][a as usize];
                        entry(action, from.map(r).as_deref(), Some(&r(to)))
                    })
                    .collect();
                for (i, has_job, pin_active) in extras {
                    if let Some(rel) = st.releases.iter_mut().find(|x| x.name.as_str() == r(i)) {
                        if has_job {
                            rel.jobs.push(job(1000 + i));
                        } else {
                            let exp = if pin_active {
                                "2026-11-28T00:00:00Z"
                            } else {
                                "2026-11-26T00:00:00Z"
                            };
                            rel.pins.push(pin(&r(i), exp, "p@q", ""));
                        }
                    }
                }
                st
            })
    }

    proptest! {
        #[test]
        fn rollback_target_is_an_existing_good_non_current_release(st in arb_state()) {
            let bad = bad_releases(&st.history);
            if let Ok(t) = rollback_target(&st) {
                prop_assert!(st.release(t.as_str()).is_some());
                prop_assert!(!bad.contains(t.as_str()));
                prop_assert!(st.current() != Some(&t));
            } else {
                // Nothing good but the current release exists... or nothing older than it
                // does and history offers nothing.
                let cur = st.current();
                let others_good_older = st.releases.iter().any(|x| {
                    !bad.contains(x.name.as_str()) && cur.is_none_or(|c| x.name < *c)
                });
                prop_assert!(!others_good_older);
            }
        }

        #[test]
        fn prune_never_deletes_what_must_stay(st in arb_state(), keep in 0usize..5) {
            let p = prune_plan(&st, keep, now());
            let prev = previous(&st);
            let deleted: Vec<_> = p.deletions().map(|(n, _)| n.clone()).collect();
            // Each release has exactly one verdict, newest first.
            prop_assert_eq!(p.verdicts.len(), st.releases.len());
            prop_assert!(p.verdicts.windows(2).all(|w| w[0].name > w[1].name));
            // deletions() is exactly the Delete verdicts, once each.
            let set: BTreeSet<_> = deleted.iter().collect();
            prop_assert_eq!(set.len(), deleted.len());
            prop_assert_eq!(deleted.len(), p.verdicts.iter().filter(|v| v.verdict.is_delete()).count());
            if !st.jobs_known {
                prop_assert!(deleted.is_empty());
            }
            for n in &deleted {
                let rel = st.release(n.as_str()).unwrap();
                prop_assert!(st.current() != Some(n));
                prop_assert!(prev.as_ref() != Some(n));
                prop_assert!(rel.jobs.is_empty());
                prop_assert!(!rel.pins.iter().any(|x| x.is_active(now())));
            }
            let newest = p.kept().filter(|(_, why)| why.iter().any(|w| matches!(w, KeepReason::Newest(_)))).count();
            prop_assert!(newest <= keep);
            // `keep` counts good releases, protected ones included (SPEC §4): the newest
            // `keep` good releases all stay, and a release deleted as old has at least
            // `keep` good releases newer than it.
            let bad = bad_releases(&st.history);
            let good: Vec<_> = p.verdicts.iter().map(|v| &v.name).filter(|n| !bad.contains(n.as_str())).collect();
            for g in good.iter().take(keep) {
                prop_assert!(!p.verdict(g.as_str()).unwrap().is_delete());
            }
            for (n, w) in p.deletions() {
                if w == DeleteReason::Old {
                    prop_assert!(good.iter().filter(|g| **g > n).count() >= keep);
                }
            }
        }
    }
}
