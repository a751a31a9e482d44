//! relman's pure planning core: every decision relman makes about a host, as functions
//! over the plain data of [`crate::model`]. Nothing here does I/O, reads a clock or
//! touches a host; the caller passes `now` and the scanned [`HostState`](crate::model::HostState).
//!
//! - [`history`]: which releases are bad, what `rollback` targets, what `list` calls
//!   "previous", and validation of `rollback --to`.
//! - [`prune`]: the keep policy of SPEC §4 as a verdict (with reasons) per release.
//! - [`deploy`]: the name of a new release and which files a delta deploy can hard-link.
//! - [`drift`](mod@drift): how far a host's live release is behind the fleet (TUI hosts pane).
//!
//! Order between releases always comes from their names ([`ReleaseName`]'s `Ord`),
//! never from the order of a list handed in and never from mtimes.
//!
//! [`ReleaseName`]: crate::model::ReleaseName

pub mod deploy;
pub mod drift;
pub mod history;
pub mod prune;

pub use deploy::{FileAction, bytes_to_send, delta, deploy_name, taken_names};
pub use drift::{Drift, Fleet, drift, fleet_newest};
pub use history::{
    ExplicitTarget, NO_SWITCH_NOTE, NoTarget, TargetError, bad_releases, explicit_rollback,
    live_stack, moves_link, previous, rollback_target,
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
            origin: Origin::Unknown,
            jobs: Vec::new(),
            pins: Vec::new(),
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
