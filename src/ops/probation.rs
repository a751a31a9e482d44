//! A host's probation (SPEC §7): set by a switch that asks for one (`switch
//! --probation`, `deploy --probation`, a canary while relman watches it), enforced on
//! the host by the launcher (see `launch.sh`), ended by any later switch, by
//! [`accept_locked`] (`relman accept`) or by its own expiry.
//!
//! INTERFACE (lead, issue 16): the probation helper fills these in; the canary and
//! console helpers call them as they are declared here.

use crate::config::HostConfig;
use crate::model::{Probation, ReleaseName};
use crate::remote::Transport;

use super::OpError;
use super::lock::HostLock;

/// What `accept` did on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// The probation of this release ended early (history `accept`).
    Ended(Probation),
    /// No probation was set (or it had expired): nothing changed.
    NoProbation,
}

/// Ends the live release's probation under a held lock (history `accept`). `release`:
/// only if the probation is still this release's (the one the operator confirmed).
pub fn accept_locked(
    _t: &dyn Transport,
    _host: &HostConfig,
    _lock: &HostLock,
    _release: Option<&ReleaseName>,
) -> Result<Accepted, OpError> {
    Err(OpError::Invalid("accept: not written yet".into()))
}
