//! Whether a host's live release fails more than the release live before it: the
//! hosts pane makes such a host stand out ("failing since batch_… went live, 3 of 5
//! runs"). Pure: the scanned health of each release in, a verdict out.
//!
//! Rates are over finished runs (ok, failed, killed, lost; running ones have not
//! said yet). The release live before is the rollback target ([`super::previous`]);
//! when there is none, or it recorded no finished run, its rate counts as zero: a live
//! release that fails at all then stands out, since nothing says failing is normal.
//!
//! Also the guards as the console shows them: a probation's time left and failures
//! ([`probation_status`]), a host that rolled itself back ([`self_rollback`]).

use std::time::{Duration, SystemTime};

use crate::model::{Action, Health, HostState, Probation, ReleaseName};

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

/// Time left, in words: "8m", "1h 5m", "45s": whole minutes, rounded up, while more
/// than a minute is left (seconds are noise on a pane refreshed every few seconds;
/// rounded up, a countdown reads "1m" only in its last minute), then seconds.
pub fn left_words(d: Duration) -> String {
    let s = d.as_secs();
    if s > 60 {
        crate::model::span(Duration::from_secs(s.div_ceil(60) * 60))
    } else {
        format!("{s}s")
    }
}

/// A probation as the hosts pane says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbationStatus {
    /// Time left on the host's clock; zero once `until` has passed.
    pub left: Duration,
    pub failures: u32,
    pub max_failures: u32,
    /// More failures than allowed: the host rolls back at its next chance.
    pub due: bool,
}

impl ProbationStatus {
    /// "probation 8m left, 0 of 2 failures"; "probation due: 3 failures, 2 allowed";
    /// "probation ending" when its time is up but the scan still saw it.
    pub fn words(&self) -> String {
        if self.due {
            format!(
                "probation due: {}, {} allowed",
                crate::model::plural(u64::from(self.failures), "failure"),
                self.max_failures
            )
        } else if self.left.is_zero() {
            format!(
                "probation ending, {} of {} failures",
                self.failures, self.max_failures
            )
        } else {
            format!(
                "probation {} left, {} of {} failures",
                left_words(self.left),
                self.failures,
                self.max_failures
            )
        }
    }
}

/// A probation's status: `until` against the host's clock at the scan (`scanned_at`),
/// less the time gone by since the scan arrived (`since_scan`, the console's clock:
/// the countdown moves between scans without comparing two machines' clocks). `None`
/// when `until` is not a time.
pub fn probation_status(
    p: &Probation,
    scanned_at: SystemTime,
    since_scan: Duration,
) -> Option<ProbationStatus> {
    let until = humantime::parse_rfc3339(&p.until).ok()?;
    let left = until
        .duration_since(scanned_at)
        .unwrap_or_default()
        .saturating_sub(since_scan);
    Some(ProbationStatus {
        left,
        failures: p.failures,
        max_failures: p.max_failures,
        due: p.due(),
    })
}

/// A host that rolled itself back: the launcher's probation enforcement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfRollback {
    /// RFC 3339, host clock: the history line's `at`.
    pub at: String,
    /// The release it left (marked bad) and the one it went back to.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The history note naming the runs ("3 failed runs of batch_…").
    pub note: Option<String>,
}

impl SelfRollback {
    /// "03:12 UTC" (as the host wrote it), or the whole `at` when it is not RFC 3339.
    pub fn clock(&self) -> String {
        match humantime::parse_rfc3339(&self.at) {
            Ok(t) => {
                let s = humantime::format_rfc3339_seconds(t).to_string();
                format!("{} UTC", s.get(11..16).unwrap_or(&s))
            }
            Err(_) => self.at.clone(),
        }
    }
}

/// Whether the host's newest history line is a rollback its probation made (SPEC §7):
/// by its launcher (`by` = `launch@<host>`), or by relman's next contact with a
/// probation already due (its note starts `probation:`, as the host writes it).
pub fn self_rollback(s: &HostState) -> Option<SelfRollback> {
    let e = s.history.last()?;
    let by_probation = e.by.starts_with("launch@")
        || e.note
            .as_deref()
            .is_some_and(|n| n.starts_with("probation:"));
    (e.action == Action::Rollback && by_probation).then(|| SelfRollback {
        at: e.at.clone(),
        from: e.from.clone(),
        to: e.to.clone(),
        note: e.note.clone().filter(|n| !n.is_empty()),
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

    fn probation(until: &str, failures: u32, max: u32) -> Probation {
        Probation {
            release: r(2),
            previous: Some(r(1)),
            since: "2026-11-26T22:00:00Z".into(),
            until: until.into(),
            max_failures: max,
            failures,
        }
    }

    #[test]
    fn time_left_reads_in_minutes() {
        assert_eq!(left_words(Duration::from_secs(7 * 60 + 56)), "8m");
        assert_eq!(left_words(Duration::from_secs(480)), "8m");
        assert_eq!(left_words(Duration::from_secs(3900)), "1h 5m");
        assert_eq!(left_words(Duration::from_secs(3599)), "1h");
        assert_eq!(left_words(Duration::from_secs(60)), "60s");
        assert_eq!(left_words(Duration::from_secs(45)), "45s");
        assert_eq!(left_words(Duration::ZERO), "0s");
    }

    #[test]
    fn probation_left_counts_from_the_hosts_clock() {
        let scanned = humantime::parse_rfc3339("2026-11-26T22:10:00Z").unwrap();
        let p = probation("2026-11-26T22:20:00Z", 0, 2);
        let st = probation_status(&p, scanned, Duration::from_secs(120)).unwrap();
        assert_eq!(st.left, Duration::from_secs(480));
        assert_eq!(st.words(), "probation 8m left, 0 of 2 failures");
        // Past its end (the host has not noticed yet): ending, never negative.
        let st = probation_status(&p, scanned, Duration::from_secs(3600)).unwrap();
        assert_eq!(st.words(), "probation ending, 0 of 2 failures");
        // More failures than allowed: due, whatever the time.
        let st = probation_status(&probation(&p.until, 3, 2), scanned, Duration::ZERO).unwrap();
        assert!(st.due);
        assert_eq!(st.words(), "probation due: 3 failures, 2 allowed");
        assert_eq!(
            probation_status(&probation("soon", 0, 0), scanned, Duration::ZERO),
            None
        );
    }

    #[test]
    fn a_rollback_by_the_launcher_is_a_self_rollback() {
        use crate::model::HistoryEntry;
        let names = vec![r(1), r(2)];
        let mut s = host(&names, Some(&r(1)));
        s.history = deploys(&names);
        assert_eq!(self_rollback(&s), None);
        let line = |by: &str| HistoryEntry {
            at: "2026-11-27T03:12:09Z".into(),
            by: by.into(),
            action: Action::Rollback,
            from: Some(r(2)),
            to: Some(r(1)),
            note: Some("3 failed runs".into()),
        };
        s.history.push(line("alice@laptop"));
        assert_eq!(
            self_rollback(&s),
            None,
            "an operator's rollback is not news"
        );
        let mut scanned = line("deploy@batch-1");
        scanned.note = Some("probation: 3 failed, killed or lost runs of r2".into());
        s.history.push(scanned);
        assert!(
            self_rollback(&s).is_some(),
            "the scan enforced a due probation"
        );
        s.history.push(line("launch@batch-1"));
        let got = self_rollback(&s).unwrap();
        assert_eq!(got.clock(), "03:12 UTC");
        assert_eq!(got.from, Some(r(2)));
        assert_eq!(got.note.as_deref(), Some("3 failed runs"));
        // A later line (a switch) means someone has acted since.
        s.history.extend(deploys(&names[..1]));
        assert_eq!(self_rollback(&s), None);
    }
}
