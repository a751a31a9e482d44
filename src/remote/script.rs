//! Remote scripts: the POSIX `sh` files under `scripts/`, and how parameters reach them.
//!
//! A script is sent whole to `sh -s` on the host's stdin (one round trip). Parameters
//! are prepended as `NAME='quoted value'` assignments, so nothing from a user or a host
//! reaches the shell unquoted, and nothing lands in argv (the job scan greps
//! `/proc/*/cmdline`, and must not find itself).

use super::quote::{NulByte, quote};

/// Functions shared by every script (job scan, checks).
pub const LIB: &str = include_str!("scripts/lib.sh");
/// The ledger reader (`ledger_read`), shared by the scan, `runs.sh` and the launcher.
pub const LEDGER: &str = include_str!("scripts/ledger.sh");
/// A host's probation (`.relman/probation`): read, counted, enforced. Shared by the
/// launcher (which bakes it in, ops/launcher.rs), the scan, switch and accept.
pub const PROBATION: &str = include_str!("scripts/probation.sh");
/// The scan, with the ledger reader (`ledger_read`) it shares with `runs.sh`, and the
/// probation it reports (and enforces when due).
pub const SCAN: &str = concat!(
    include_str!("scripts/ledger.sh"),
    include_str!("scripts/probation.sh"),
    include_str!("scripts/scan.sh")
);
/// The scan alone, for `LIGHT=1` (which calls neither the ledger nor the probation).
pub const SCAN_LIGHT: &str = include_str!("scripts/scan.sh");
/// Recent runs from the run ledger (`relman runs`, the details pane).
pub const RUNS: &str = concat!(
    include_str!("scripts/ledger.sh"),
    include_str!("scripts/runs.sh")
);
pub const LOCK: &str = include_str!("scripts/lock.sh");
/// The switch, which sets or ends a probation (`probation.sh`).
pub const SWITCH: &str = concat!(
    include_str!("scripts/probation.sh"),
    include_str!("scripts/switch.sh")
);
/// `relman accept`: ends a probation early.
pub const ACCEPT: &str = concat!(
    include_str!("scripts/ledger.sh"),
    include_str!("scripts/probation.sh"),
    include_str!("scripts/accept.sh")
);
pub const UNLOCK: &str = include_str!("scripts/unlock.sh");
pub const CHECK: &str = include_str!("scripts/check.sh");
pub const PRUNE: &str = include_str!("scripts/prune.sh");
pub const PIN: &str = include_str!("scripts/pin.sh");
pub const RESOLVE: &str = include_str!("scripts/resolve.sh");
/// The steps of a deploy on a host (prepare, verify, publish, unpublish, abort).
pub const STAGE: &str = include_str!("scripts/stage.sh");
/// A deploy's upload receiver (bare, run with `sh -c`: stdin carries the files).
pub const UPLOAD: &str = include_str!("scripts/upload.sh");
/// The job launcher template (not run by relman: written to `.relman/bin/launch`).
pub const LAUNCH: &str = include_str!("scripts/launch.sh");

/// A script with its parameters, ready to send.
#[derive(Debug, Clone)]
pub struct Script {
    params: Vec<(&'static str, String)>,
    body: &'static str,
    with_lib: bool,
}

impl Script {
    pub fn new(body: &'static str) -> Self {
        Script {
            params: Vec::new(),
            body,
            with_lib: true,
        }
    }

    /// A script that stands alone, without the shared functions (the lock holder,
    /// whose text ends up in argv and must stay short).
    pub fn bare(body: &'static str) -> Self {
        Script {
            params: Vec::new(),
            body,
            with_lib: false,
        }
    }

    /// Sets `$name` for the script. `name` is a fixed identifier chosen in code.
    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        debug_assert!(name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
        self.params.push((name, value.into()));
        self
    }

    /// The full text sent to `sh -s`: one `{ ... }` group, which the shell reads
    /// whole before running any of it, so a script cut short in transit (the
    /// connection lost mid-send) is a syntax error that runs nothing, never a
    /// prefix of the script run as far as it got.
    pub fn render(&self) -> Result<String, NulByte> {
        let mut s = String::from("{\nset -u\n");
        for (k, v) in &self.params {
            s.push_str(k);
            s.push('=');
            s.push_str(&quote(v)?);
            s.push('\n');
        }
        if self.with_lib {
            s.push_str(LIB);
            s.push('\n');
        }
        s.push_str(self.body);
        s.push_str("\n}\n");
        Ok(s)
    }
}
