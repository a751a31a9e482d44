//! Operations: what relman does to a host (scan, switch, rollback, prune, pin, deploy...).
//! Each is plan (pure, `crate::plan`) + remote scripts (`crate::remote`). This is the only
//! layer the CLI and the TUI call, so both behave the same.

pub mod deploy;
pub mod fleet;
pub mod launch;
pub mod launcher;
pub mod link;
pub mod lock;
pub mod pin;
pub mod prune;
pub mod runs;
pub mod scan;

use crate::model::{LockInfo, age};
use crate::remote::RemoteError;

pub use link::{LinkChange, rollback, switch};
pub use scan::scan;

/// Why an operation did not happen, with the exit code the CLI uses for it.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("{}", locked_message(.0))]
    Locked(LockInfo),
    /// `--expect` mismatch, release missing or bad, nothing to roll back to.
    #[error("{0}")]
    Conflict(String),
    /// Bad input from the operator (a name that is not a release name...).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Failed(String),
}

fn locked_message(l: &LockInfo) -> String {
    let ago = l
        .age(std::time::SystemTime::now())
        .map(|d| format!(", {}", age(d)))
        .unwrap_or_default();
    format!(
        "locked by {} ({}{ago})",
        crate::model::printable(&l.by),
        crate::model::printable(&l.action)
    )
}

impl OpError {
    /// SPEC §3 exit codes: 1 failed, 2 usage, 3 unreachable, 4 locked, 5 conflict.
    pub fn exit_code(&self) -> i32 {
        match self {
            OpError::Remote(e) if e.is_unreachable() => 3,
            OpError::Remote(_) | OpError::Failed(_) => 1,
            OpError::Locked(_) => 4,
            OpError::Conflict(_) => 5,
            OpError::Invalid(_) => 2,
        }
    }
}

/// `user@machine` of the operator running relman, as history and locks record it.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(login_name)
        .unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

/// The login name of this process's user, from the passwd database.
fn login_name() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy the
    // name out immediately and call it from one place only.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_str()
            .ok()
            .map(str::to_string)
    }
}

/// Now as RFC 3339 (UTC, seconds), as history, pins and locks write times.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
