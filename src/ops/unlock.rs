//! `unlock`: break a host lock left behind (a holder relman lost track of). The front end
//! shows the lock as a scan saw it, the operator confirms that one, and [`unlock`] kills
//! only that holder (if it is still a relman lock holder) and records `unlock` in the
//! history. One round trip.

use super::history::HistoryLine;

use crate::config::HostConfig;
use crate::model::{Action, LockInfo};
use crate::remote::script::UNLOCK;
use crate::remote::{Transport, run};

use super::OpError;
use super::scan::root_script;

/// What an unlock did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unlocked {
    /// The lock the operator confirmed was broken.
    Broke(LockInfo),
    /// Nothing held the lock any more when the script looked (released meanwhile).
    WasFree,
}

/// The host's lock as it is now (None: not locked), for the operator to confirm.
pub fn current(t: &dyn Transport, host: &HostConfig) -> Result<Option<LockInfo>, OpError> {
    Ok(super::scan(t, host)?.lock)
}

/// Breaks the lock the operator confirmed: kills its holder `confirmed.pid` (only a
/// relman lock holder; anything else is refused) and writes an `unlock` history line.
pub fn unlock(
    t: &dyn Transport,
    host: &HostConfig,
    confirmed: &LockInfo,
) -> Result<Unlocked, OpError> {
    let hist = HistoryLine::new(Action::Unlock).note(Some(&format!(
        "broke the lock of {} ({})",
        confirmed.by, confirmed.action
    )));
    let script = hist.param(root_script(UNLOCK, host)).param(
        "PID",
        confirmed.pid.map(|p| p.to_string()).unwrap_or_default(),
    );
    let out = run(t, &script)?;
    match (out.status, String::from_utf8_lossy(&out.stdout).trim()) {
        (Some(0), "UNLOCKED") => Ok(Unlocked::Broke(confirmed.clone())),
        (Some(0), "FREE") => Ok(Unlocked::WasFree),
        _ => Err(super::script_failed("unlock", &out)),
    }
}
