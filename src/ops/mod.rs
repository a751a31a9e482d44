//! Operations: what relman does to a host (scan, switch, rollback, prune, pin, deploy...).
//! Each is plan (pure, `crate::plan`) + remote scripts (`crate::remote`). This is the only
//! layer the CLI and the TUI call, so both behave the same.

pub mod check;
pub mod deploy;
pub mod fleet;
pub mod history;
pub mod hooks;
pub mod launch;
pub mod launcher;
pub(crate) mod leader;
pub mod link;
pub mod lock;
pub mod pin;
pub mod probation;
pub mod prune;
pub mod runs;
pub mod scan;
pub mod unlock;

use crate::model::{LockInfo, age};
use crate::remote::{ExecOutput, RemoteError};

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

/// What kind of failure an [`OpError`] is: what the front ends decide on (the CLI's exit
/// code, the console's "the host changed since you saw it"), carried as data instead of
/// a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Anything else that went wrong (exit 1).
    Failed,
    /// Bad input from the operator (exit 2).
    Usage,
    /// The host could not be reached, or refused us (exit 3).
    Unreachable,
    /// Another operation holds the host's lock (exit 4).
    Locked,
    /// The host is not as the operator saw it: `--expect` mismatch, release missing or
    /// bad, nothing to roll back to (exit 5).
    Conflict,
    /// A guard (SPEC §7: `--smoke`...) refused the release: nothing was switched to
    /// it, or the hosts switched are back (exit 7).
    Refused,
}

impl FailureKind {
    /// SPEC §3 exit codes, in this one place: 1 failed, 2 usage, 3 unreachable,
    /// 4 locked, 5 conflict, 7 refused by a guard.
    pub fn exit_code(self) -> i32 {
        match self {
            FailureKind::Failed => 1,
            FailureKind::Usage => 2,
            FailureKind::Unreachable => 3,
            FailureKind::Locked => 4,
            FailureKind::Conflict => 5,
            FailureKind::Refused => 7,
        }
    }
}

impl OpError {
    pub fn kind(&self) -> FailureKind {
        match self {
            OpError::Remote(e) if e.is_unreachable() => FailureKind::Unreachable,
            OpError::Remote(_) | OpError::Failed(_) => FailureKind::Failed,
            OpError::Locked(_) => FailureKind::Locked,
            OpError::Conflict(_) => FailureKind::Conflict,
            OpError::Invalid(_) => FailureKind::Usage,
        }
    }

    /// The CLI's exit code for this error: [`FailureKind::exit_code`] of its kind.
    pub fn exit_code(&self) -> i32 {
        self.kind().exit_code()
    }
}

/// Exit codes the remote scripts document (`lib.sh`: `check_token`, `check_link`;
/// `lock.sh`; `upload.sh`), so an op matches on names, not bare numbers.
pub mod script_exit {
    /// The operation's token is not in `.relman/lock`: the host lock was lost.
    pub const LOCK_LOST: i32 = 4;
    /// The host is not as expected (the link is a real directory, a release is missing,
    /// `--expect` does not match...): `OpError::Conflict`.
    pub const CONFLICT: i32 = 5;
}

/// The one message for a remote script that failed: "`step` failed (exit N): <its last
/// stderr line>", or "(killed by a signal)" when it has no exit status.
pub fn script_failed(step: &str, out: &ExecOutput) -> OpError {
    let status = out
        .status
        .map_or_else(|| "killed by a signal".to_string(), |s| format!("exit {s}"));
    OpError::Failed(format!("{step} failed ({status}): {}", out.stderr_line()))
}

/// A mutating script's failure by its documented exit code: a conflict (exit 5) says
/// what the host is; a lost lock (exit 4) says so itself; anything else is
/// [`script_failed`].
pub fn script_error(step: &str, out: &ExecOutput) -> OpError {
    match out.status {
        Some(script_exit::CONFLICT) => OpError::Conflict(out.stderr_line()),
        Some(script_exit::LOCK_LOST) => OpError::Failed(out.stderr_line()),
        _ => script_failed(step, out),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn out(status: Option<i32>, stderr: &str) -> ExecOutput {
        ExecOutput {
            status,
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn each_kind_has_its_spec_exit_code() {
        let table = [
            (FailureKind::Failed, 1),
            (FailureKind::Usage, 2),
            (FailureKind::Unreachable, 3),
            (FailureKind::Locked, 4),
            (FailureKind::Conflict, 5),
            (FailureKind::Refused, 7),
        ];
        for (kind, code) in table {
            assert_eq!(kind.exit_code(), code, "{kind:?}");
        }
    }

    #[test]
    fn errors_give_their_kind_and_the_code_follows_it() {
        let lock = LockInfo {
            by: "ann@ops".into(),
            action: "deploy".into(),
            since: String::new(),
            pid: None,
            token: String::new(),
        };
        let cases = [
            (OpError::Failed("x".into()), FailureKind::Failed),
            (OpError::Invalid("x".into()), FailureKind::Usage),
            (OpError::Locked(lock), FailureKind::Locked),
            (OpError::Conflict("x".into()), FailureKind::Conflict),
            (
                OpError::Remote(RemoteError::Session("reset".into())),
                FailureKind::Failed,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
            assert_eq!(e.exit_code(), kind.exit_code(), "{e}");
        }
    }

    #[test]
    fn a_failed_script_is_named_with_its_status_and_last_stderr_line() {
        let e = script_failed("scan", &out(Some(3), "noise\nscan: cannot read\n\n"));
        assert_eq!(e.to_string(), "scan failed (exit 3): scan: cannot read");
        assert_eq!(e.kind(), FailureKind::Failed);
        let e = script_failed("prune", &out(None, "half"));
        assert_eq!(e.to_string(), "prune failed (killed by a signal): half");
    }

    #[test]
    fn script_errors_follow_the_documented_exit_codes() {
        let e = script_error(
            "switch",
            &out(Some(script_exit::CONFLICT), "the link is a directory"),
        );
        assert_eq!(e.kind(), FailureKind::Conflict);
        assert_eq!(e.to_string(), "the link is a directory");
        let e = script_error(
            "switch",
            &out(Some(script_exit::LOCK_LOST), "the host lock was lost"),
        );
        assert_eq!(e.kind(), FailureKind::Failed);
        assert_eq!(e.to_string(), "the host lock was lost");
        let e = script_error("switch", &out(Some(1), "boom"));
        assert_eq!(e.to_string(), "switch failed (exit 1): boom");
    }
}
