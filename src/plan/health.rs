//! Whether a host's live release fails more than the release live before it: the
//! hosts pane makes such a host stand out ("failing since batch_… went live, 3 of 5
//! runs"). Pure: the scanned health of each release in, a verdict out.
//!
//! Rates are over finished runs (ok, failed, killed, lost; running ones have not
//! said yet). The release live before is the rollback target ([`super::previous`]);
//! when there is none, or it recorded no finished run, its rate counts as zero: a live
//! release that fails at all then stands out, since nothing says failing is normal.

use crate::model::{Health, HostState, ReleaseName};

use super::history::previous;

/// A live release that fails more than the one live before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standout {
    pub live: ReleaseName,
    /// Failed, killed and lost runs of the live release.
    pub failures: u32,
    /// Its finished runs.
    pub finished: u32,
    /// The release live before it, if one is known.
    pub before: Option<ReleaseName>,
}

/// Finished runs: every run but the running ones.
pub fn finished(h: &Health) -> u32 {
    h.ok + h.failures()
}

/// `live` fails more (a higher share of its finished runs) than `before`; a `before`
/// with no finished runs (or none at all) fails at a rate of zero.
pub fn fails_more(live: &Health, before: Option<&Health>) -> bool {
    let (lf, ln) = (u64::from(live.failures()), u64::from(finished(live)));
    if lf == 0 || ln == 0 {
        return false;
    }
    match before.map(|b| (u64::from(b.failures()), u64::from(finished(b)))) {
        Some((bf, bn)) if bn > 0 => lf * bn > bf * ln,
        _ => true,
    }
}

/// The host's live release, when it fails more than the release live before it.
pub fn standout(s: &HostState) -> Option<Standout> {
    let live = s.release(s.current()?.as_str())?;
    let before = previous(s);
    let before_health = before
        .as_ref()
        .and_then(|b| s.release(b.as_str()))
        .map(|r| &r.health);
    fails_more(&live.health, before_health).then(|| Standout {
        live: live.name.clone(),
        failures: live.health.failures(),
        finished: finished(&live.health),
        before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::{deploys, host, r};

    fn h(ok: u32, failed: u32, killed: u32, lost: u32, running: u32) -> Health {
        Health {
            runs: ok + failed + killed + lost + running,
            ok,
            failed,
            killed,
            lost,
            running,
            last_failure: None,
        }
    }

    #[test]
    fn rates_compare_over_finished_runs() {
        // 3 of 5 against 1 of 10: worse.
        assert!(fails_more(&h(2, 2, 1, 0, 4), Some(&h(9, 1, 0, 0, 0))));
        // 1 of 10 against 1 of 10: the same rate is not worse.
        assert!(!fails_more(&h(9, 0, 0, 1, 0), Some(&h(9, 1, 0, 0, 0))));
        // 1 of 2 against 1 of 2, whatever is still running.
        assert!(!fails_more(&h(1, 1, 0, 0, 7), Some(&h(1, 0, 1, 0, 0))));
        // Better than before.
        assert!(!fails_more(&h(9, 1, 0, 0, 0), Some(&h(1, 1, 0, 0, 0))));
        // No failure never stands out; nothing finished yet neither.
        assert!(!fails_more(&h(5, 0, 0, 0, 0), None));
        assert!(!fails_more(&h(0, 0, 0, 0, 3), None));
        // Nothing known before (no release, or no finished runs): any failure is worse.
        assert!(fails_more(&h(4, 1, 0, 0, 0), None));
        assert!(fails_more(&h(4, 0, 0, 1, 0), Some(&h(0, 0, 0, 0, 2))));
        // Large counts do not overflow.
        assert!(fails_more(
            &h(0, u32::MAX / 2, 0, 0, 0),
            Some(&h(u32::MAX / 2, 1, 0, 0, 0))
        ));
    }

    #[test]
    fn the_live_release_is_compared_with_the_one_live_before() {
        let names: Vec<String> = (1..=3).map(r).collect();
        let mut s = host(&names, Some(&r(3)));
        s.history = deploys(&names);
        // releases as given: r1, r2, r3; r3 live, r2 before it.
        s.releases[2].health = h(2, 3, 0, 0, 1);
        s.releases[1].health = h(10, 0, 0, 0, 0);
        assert_eq!(
            standout(&s),
            Some(Standout {
                live: crate::plan::testkit::name(&r(3)),
                failures: 3,
                finished: 5,
                before: Some(crate::plan::testkit::name(&r(2))),
            })
        );
        // The one before failed as often: no standout.
        s.releases[1].health = h(4, 6, 0, 0, 0);
        assert_eq!(standout(&s), None);
        // An older release failing more does not matter: only the one live before.
        s.releases[0].health = h(0, 0, 0, 0, 0);
        s.releases[1].health = h(2, 3, 0, 0, 0);
        assert_eq!(standout(&s), None);
    }

    #[test]
    fn no_link_or_no_release_before() {
        let names = vec![r(1)];
        let mut s = host(&names, Some(&r(1)));
        s.history = deploys(&names);
        s.releases[0].health = h(1, 1, 0, 0, 0);
        let got = standout(&s).expect("the first release failing stands out");
        assert_eq!((got.failures, got.finished, got.before), (1, 2, None));
        let s = host(&names, None);
        assert_eq!(standout(&s), None);
    }
}
