//! One-line summaries of what an operation did, in the same words for the CLI and the
//! console (the console shows them in its status line after `host: `).

use std::time::SystemTime;

use crate::model::{Action, LockInfo, age, plural, printable};
use crate::ops::LinkChange;
use crate::ops::link::{LinkNote, LinkWarning};
use crate::ops::prune::{Outcome, PruneReport};
use crate::ops::unlock::Unlocked;

use super::size;

/// A switch or rollback: "a → b", then its note ("  (already live; nothing changed)").
/// The CLI prints it after `host: `; the console after the verb when the link moved.
pub fn link_change(c: &LinkChange) -> String {
    let from = c.from.as_deref().unwrap_or("(none)");
    let note = c
        .note
        .map(|n| format!("  ({})", link_note(n, &c.to)))
        .unwrap_or_default();
    let probation = c
        .probation
        .as_ref()
        .map(|p| format!("; {}", probation_words(p)))
        .unwrap_or_default();
    format!("{from} → {}{note}{probation}", c.to)
}

/// A probation as a switch's or a deploy's line says it: "on probation for 2h (2
/// failures allowed)".
pub fn probation_words(p: &crate::model::ProbationSpec) -> String {
    format!(
        "on probation for {} ({} allowed)",
        humantime::format_duration(p.duration),
        plural(u64::from(p.max_failures), "failure")
    )
}

/// The words of a switch's note (also its JSON `note`).
pub fn link_note(n: LinkNote, to: &str) -> String {
    match n {
        LinkNote::AlreadyLive => "already live; nothing changed".into(),
        LinkNote::AlreadyLiveProbationSet => "already live".into(),
        LinkNote::ClearedBadMark => format!(
            "{} was marked bad; rolling back to it clears the mark",
            printable(to)
        ),
    }
}

/// The words of a switch's warning (also its JSON `warning`).
pub fn link_warning(w: &LinkWarning) -> String {
    match w {
        LinkWarning::MarkedBad { release, action } => {
            let verb = if *action == Action::Rollback {
                "rolling back"
            } else {
                "switching"
            };
            format!(
                "{} is marked bad on this host (a rollback left it); {verb} to it clears the mark",
                printable(release)
            )
        }
        LinkWarning::NoProbation { release } => format!(
            "no probation set: no release was live before {} to go back to",
            printable(release)
        ),
    }
}

/// What `accept` did on a host: "accepted b_…: probation ended (0 of 0 failures)" or
/// "no probation".
pub fn accepted(a: &crate::ops::probation::Accepted) -> String {
    use crate::ops::probation::Accepted;
    match a {
        Accepted::Ended(p) => format!(
            "accepted {}: probation ended early ({} of {} allowed failures)",
            printable(&p.release),
            p.failures,
            p.max_failures
        ),
        Accepted::NoProbation => NO_PROBATION.into(),
    }
}

/// `accept` on a host without a probation (or one that expired).
pub const NO_PROBATION: &str = "no probation (nothing changed)";

/// The console's summary of a switch or rollback: "switched a → b" when the link moved,
/// else what the CLI says ("b → b  (already live; nothing changed)").
pub fn link_done(verb: &str, c: &LinkChange) -> String {
    if c.changed {
        format!("{verb} {}", link_change(c))
    } else {
        link_change(c)
    }
}

/// "deleted 2 (freed 1.5 GiB); batch_…: kept: running job (pid 7); removed 1 expired pin".
pub fn prune_done(r: &PruneReport) -> String {
    let deleted = r
        .outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Deleted)
        .count();
    let mut parts = vec![if deleted > 0 {
        format!(
            "pruned: deleted {deleted} (freed {})",
            size(r.freed_bytes())
        )
    } else {
        "pruned: deleted 0".to_string()
    }];
    for (name, o) in &r.outcomes {
        if !matches!(o, Outcome::Deleted) {
            parts.push(format!("{name} {o}"));
        }
    }
    if !r.pins_removed.is_empty() {
        parts.push(format!(
            "removed {}",
            plural(r.pins_removed.len() as u64, "expired pin")
        ));
    }
    if !r.staging_removed.is_empty() {
        parts.push(format!(
            "removed {}",
            plural(r.staging_removed.len() as u64, "stale upload")
        ));
    }
    parts.extend(r.warnings.iter().cloned());
    parts.join("; ")
}

/// Who holds a lock, for the operator to confirm breaking it:
/// "locked by ann@ops (deploy, 5 min ago), holder pid 812".
pub fn lock_holder(l: &LockInfo, now: SystemTime) -> String {
    let ago = l.age(now).map(age).unwrap_or_default();
    format!(
        "locked by {} ({}, {ago}), holder pid {}",
        printable(&l.by),
        printable(&l.action),
        l.pid.map_or("?".into(), |p| p.to_string())
    )
}

/// What an unlock did: "unlocked (was locked by ...)", "not locked (released meanwhile)".
pub fn unlocked(u: &Unlocked, now: SystemTime) -> String {
    match u {
        Unlocked::Broke(l) => format!("unlocked (was {})", lock_holder(l, now)),
        Unlocked::WasFree => "not locked (released meanwhile)".into(),
    }
}

/// An unlock asked of a host nobody holds.
pub const NOT_LOCKED: &str = "not locked";

#[cfg(test)]
mod tests {
    use super::*;

    fn change(from: Option<&str>, to: &str, changed: bool, note: Option<LinkNote>) -> LinkChange {
        LinkChange {
            host: "h1".into(),
            from: from.map(str::to_string),
            to: to.into(),
            changed,
            note,
            warning: None,
            probation: None,
        }
    }

    #[test]
    fn notes_and_warnings_are_worded_here_from_data() {
        let c = change(Some("a"), "b", true, Some(LinkNote::ClearedBadMark));
        assert_eq!(
            link_change(&c),
            "a → b  (b was marked bad; rolling back to it clears the mark)"
        );
        let w = |action| LinkWarning::MarkedBad {
            release: "b\x1b".into(),
            action,
        };
        // A name from the host is shown printable: no control character reaches a terminal.
        assert_eq!(
            link_warning(&w(Action::Switch)),
            "b? is marked bad on this host (a rollback left it); switching to it clears the mark"
        );
        assert!(link_warning(&w(Action::Rollback)).contains("rolling back to it"));
    }

    #[test]
    fn an_unchanged_link_says_already_live_once() {
        let c = change(Some("b"), "b", false, Some(LinkNote::AlreadyLive));
        assert_eq!(link_change(&c), "b → b  (already live; nothing changed)");
        assert_eq!(link_done("switched", &c), link_change(&c));
        assert_eq!(link_done("switched", &c).matches("already live").count(), 1);
    }

    #[test]
    fn a_probation_set_by_a_switch_is_said_not_nothing_changed() {
        let p = crate::model::ProbationSpec {
            duration: std::time::Duration::from_secs(300),
            max_failures: 0,
        };
        let mut c = change(
            Some("b"),
            "b",
            false,
            Some(LinkNote::AlreadyLiveProbationSet),
        );
        c.probation = Some(p);
        assert_eq!(
            link_change(&c),
            "b → b  (already live); on probation for 5m (0 failures allowed)"
        );
        let mut c = change(Some("a"), "b", true, None);
        c.probation = Some(p);
        assert_eq!(
            link_change(&c),
            "a → b; on probation for 5m (0 failures allowed)"
        );
    }

    #[test]
    fn a_moved_link_reads_the_same_after_the_verb() {
        let c = change(None, "b", true, None);
        assert_eq!(link_change(&c), "(none) → b");
        assert_eq!(link_done("rolled back", &c), "rolled back (none) → b");
    }

    #[test]
    fn sizes_read_in_iec_units_as_in_the_console() {
        assert_eq!(size(419_430_400), "400.0 MiB");
        for n in [0, 1023, 1536, 419_430_400, 5 << 40] {
            assert_eq!(size(n), crate::model::human_bytes(n));
            assert!(
                !size(n).contains("kB") && !size(n).contains(" MB"),
                "{}",
                size(n)
            );
        }
    }

    #[test]
    fn lock_holders_and_unlocks_read_as_data_says() {
        let l = LockInfo {
            by: "ann@ops".into(),
            action: "deploy".into(),
            since: String::new(),
            pid: Some(812),
            token: String::new(),
        };
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            lock_holder(&l, now),
            "locked by ann@ops (deploy, ), holder pid 812"
        );
        assert_eq!(
            unlocked(&Unlocked::Broke(l), now),
            "unlocked (was locked by ann@ops (deploy, ), holder pid 812)"
        );
        assert_eq!(
            unlocked(&Unlocked::WasFree, now),
            "not locked (released meanwhile)"
        );
    }
}
