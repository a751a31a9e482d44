//! Whether a host can take a switch or a rollback to a given release, and the one
//! rollback target a fleet shares (SPEC §3, §7 "Fleet rollback").
//!
//! Both read a scan taken under the host's lock; `scripts/switch.sh` repeats the
//! checks on the host (and checks the files a manifest lists, which a scan does not
//! read) before the link moves.

use std::collections::BTreeSet;

use super::history::{NoTarget, bad_releases, live_stack, rollback_target};
use crate::model::{HostState, LinkState, ReleaseName, Usability, printable};

/// A target a host can take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub name: ReleaseName,
    /// The link already points there: nothing to do.
    pub same: bool,
    /// The target is a bad release on this host (a rollback left it): allowed, with a
    /// warning, because the operator named it.
    pub bad: bool,
    /// `(path, size)` of every file the release's manifest lists, for the host to
    /// check before switching (empty: no manifest, or `--force`).
    pub files: Vec<(String, u64)>,
    /// The release the link points at now.
    pub current: Option<String>,
}

/// Why a host can't take a target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{name} is not a release directory in {root}")]
    Missing { name: String, root: String },
    #[error("refusing {name}: {why} (--force to switch anyway)")]
    Unusable { name: String, why: &'static str },
    #[error("the link moved: expected {expected}, it points at {actual}")]
    Expect { expected: String, actual: String },
    #[error("{link} in {root} is not a symlink: refusing to replace it")]
    NotSymlink { link: String, root: String },
    #[error("release {0} is already live")]
    AlreadyLive(String),
}

/// Checks that `state`'s host can switch to `target`: the release exists, is
/// usable (readable, not empty) unless `force`, and the link points at `expect`
/// when one is given (`Some(None)`: at no release).
pub fn check_target(
    state: &HostState,
    target: &ReleaseName,
    expect: Option<Option<&str>>,
    force: bool,
) -> Result<Checked, Refusal> {
    if state.link == LinkState::NotSymlink {
        return Err(Refusal::NotSymlink {
            link: printable(&state.link_name),
            root: printable(&state.root_abs),
        });
    }
    let Some(rel) = state.release(target.as_str()) else {
        return Err(Refusal::Missing {
            name: target.to_string(),
            root: printable(if state.root_abs.is_empty() {
                &state.root
            } else {
                &state.root_abs
            }),
        });
    };
    let current = state.current().map(|c| c.as_str().to_string());
    if let Some(e) = expect
        && current.as_deref() != e
    {
        return Err(Refusal::Expect {
            expected: e.unwrap_or("nothing").to_string(),
            actual: current.unwrap_or_else(|| "nothing".into()),
        });
    }
    let same = current.as_deref() == Some(target.as_str());
    if !same
        && !force
        && let Some(why) = rel.usable.problem()
    {
        return Err(Refusal::Unusable {
            name: target.to_string(),
            why,
        });
    }
    let files = match rel.manifest() {
        Some(m) if !force && !same => m.files.iter().map(|f| (f.path.clone(), f.size)).collect(),
        _ => Vec::new(),
    };
    Ok(Checked {
        name: target.clone(),
        same,
        bad: bad_releases(&state.history).contains(target.as_str()),
        files,
        current,
    })
}

/// The releases one host could roll back to, as SPEC §7's fleet rollback counts
/// them: existing, usable and not bad, other than the current one, that were live
/// before it by the host's history; where history offers none, those older by name
/// than the current one (every one, with no current release).
pub fn rollback_candidates(state: &HostState) -> BTreeSet<ReleaseName> {
    let bad = bad_releases(&state.history);
    let current = state.current();
    let ok = |n: &str| {
        current.is_none_or(|c| c.as_str() != n)
            && !bad.contains(n)
            && state
                .release(n)
                .is_some_and(|r| r.usable == Usability::Usable)
    };
    let from_history: BTreeSet<ReleaseName> = live_stack(&state.history)
        .into_iter()
        .filter(|n| ok(n))
        .filter_map(|n| state.release(n).map(|r| r.name.clone()))
        .collect();
    if !from_history.is_empty() {
        return from_history;
    }
    state
        .releases
        .iter()
        .filter(|r| ok(r.name.as_str()) && current.is_none_or(|c| r.name < *c))
        .map(|r| r.name.clone())
        .collect()
}

/// No release every selected host can roll back to; the text names what each host
/// has and lacks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("nothing to roll back to on every host: {0}")]
pub struct NoCommonTarget(pub String);

/// The one release a fleet rolls back to: the newest (by name) of the releases
/// every host could roll back to ([`rollback_candidates`]).
pub fn fleet_rollback_target(hosts: &[(&str, &HostState)]) -> Result<ReleaseName, NoCommonTarget> {
    let cands: Vec<BTreeSet<ReleaseName>> =
        hosts.iter().map(|(_, s)| rollback_candidates(s)).collect();
    let mut common: Option<BTreeSet<ReleaseName>> = None;
    for c in &cands {
        common = Some(match common {
            None => c.clone(),
            Some(acc) => acc.intersection(c).cloned().collect(),
        });
    }
    if let Some(t) = common.as_ref().and_then(|c| c.last()) {
        return Ok(t.clone());
    }
    let all: BTreeSet<&ReleaseName> = cands.iter().flatten().collect();
    let list = |v: Vec<&ReleaseName>| {
        v.iter()
            .rev()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let parts: Vec<String> = hosts
        .iter()
        .zip(&cands)
        .map(|((name, st), c)| {
            if c.is_empty() {
                let why = match rollback_target(st) {
                    Err(e) => e,
                    Ok(_) => NoTarget::AllBad,
                };
                return format!("{name}: {why}");
            }
            let lacks: Vec<&ReleaseName> = all.iter().copied().filter(|n| !c.contains(n)).collect();
            format!(
                "{name} has {} (lacks {})",
                list(c.iter().collect()),
                list(lacks)
            )
        })
        .collect();
    Err(NoCommonTarget(parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, Manifest, ManifestFile, Origin};
    use crate::plan::testkit::*;

    fn hostn(n: &[u32], cur: u32) -> HostState {
        let names: Vec<String> = n.iter().rev().map(|i| r(*i)).collect();
        let mut st = host(&names, Some(&r(cur)));
        st.history = n
            .iter()
            .take_while(|i| **i <= cur)
            .map(|i| r(*i))
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| deploy(Some(&w[0]), &w[1]))
            .collect();
        st
    }

    #[test]
    fn a_usable_existing_release_passes_with_its_manifest_files() {
        let mut st = host(&[r(2), r(1)], Some(&r(2)));
        rel_mut(&mut st, &r(1)).origin = Origin::Relman(Manifest {
            name: r(1),
            created_at: "x".into(),
            created_by: "a@b".into(),
            message: String::new(),
            files: vec![ManifestFile {
                path: "lib/a b.jar".into(),
                size: 7,
                sha256: "0".into(),
                mode: 0o644,
            }],
        });
        let c = check_target(&st, &name(&r(1)), None, false).unwrap();
        assert_eq!(c.files, [("lib/a b.jar".to_string(), 7)]);
        assert!(!c.same && !c.bad);
        assert!(
            check_target(&st, &name(&r(1)), None, true)
                .unwrap()
                .files
                .is_empty()
        );
        assert!(check_target(&st, &name(&r(2)), None, false).unwrap().same);
    }

    #[test]
    fn unusable_missing_and_moved_are_refused_with_the_reason() {
        let mut st = host(&[r(3), r(2), r(1)], Some(&r(3)));
        rel_mut(&mut st, &r(2)).usable = Usability::Unreadable;
        rel_mut(&mut st, &r(1)).usable = Usability::Empty;
        let e = check_target(&st, &name(&r(2)), None, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "refusing {}: the deploy user cannot read it (--force to switch anyway)",
                r(2)
            )
        );
        assert!(matches!(
            check_target(&st, &name(&r(1)), None, false),
            Err(Refusal::Unusable {
                why: "it is empty",
                ..
            })
        ));
        assert!(
            check_target(&st, &name(&r(2)), None, true).is_ok(),
            "--force"
        );
        assert!(matches!(
            check_target(&st, &name(&r(9)), None, true),
            Err(Refusal::Missing { .. })
        ));
        assert_eq!(
            check_target(&st, &name(&r(2)), Some(Some(&r(1))), true),
            Err(Refusal::Expect {
                expected: r(1),
                actual: r(3)
            })
        );
        st.history
            .push(entry(Action::Rollback, Some(&r(2)), Some(&r(3))));
        assert!(check_target(&st, &name(&r(2)), None, true).unwrap().bad);
    }

    #[test]
    fn rollback_skips_unreadable_and_empty_releases() {
        // Seed releases r1 r2 r3 (no history), live r3, r2 a root-owned chmod 000.
        let mut st = host(&[r(3), r(2), r(1)], Some(&r(3)));
        rel_mut(&mut st, &r(2)).usable = Usability::Unreadable;
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(1));
        rel_mut(&mut st, &r(1)).usable = Usability::Empty;
        assert!(rollback_target(&st).is_err());
        // From history too.
        let mut st = hostn(&[1, 2, 3], 3);
        rel_mut(&mut st, &r(2)).usable = Usability::Unreadable;
        assert_eq!(rollback_target(&st).unwrap().as_str(), r(1));
    }

    #[test]
    fn a_fleet_rolls_back_to_the_newest_release_every_host_has() {
        let h1 = hostn(&[1, 2, 3, 4], 4);
        let mut h2 = hostn(&[1, 2, 3, 4], 4);
        let h3 = hostn(&[1, 2, 4], 4);
        // h3 never had r3: r2 is the newest every host has.
        let t = fleet_rollback_target(&[("h1", &h1), ("h2", &h2), ("h3", &h3)]).unwrap();
        assert_eq!(t.as_str(), r(2));
        // Without h3, r3.
        let t = fleet_rollback_target(&[("h1", &h1), ("h2", &h2)]).unwrap();
        assert_eq!(t.as_str(), r(3));
        // r3 bad on h2: r2.
        h2.history
            .push(entry(Action::Rollback, Some(&r(3)), Some(&r(4))));
        let t = fleet_rollback_target(&[("h1", &h1), ("h2", &h2)]).unwrap();
        assert_eq!(t.as_str(), r(2));
    }

    #[test]
    fn no_common_target_names_what_each_host_lacks() {
        let h1 = hostn(&[1, 3], 3);
        let h2 = hostn(&[2, 3], 3);
        let h3 = hostn(&[3], 3);
        let e = fleet_rollback_target(&[("h1", &h1), ("h2", &h2), ("h3", &h3)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "nothing to roll back to on every host: h1 has {a} (lacks {b}); h2 has {b} (lacks {a}); h3: no usable release older than {c} that is not bad",
                a = r(1),
                b = r(2),
                c = r(3)
            )
        );
    }
}
