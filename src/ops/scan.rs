//! Reading a host: one `scan.sh` round trip, parsed strictly into a `HostState`.

use super::OpError;
use super::lock::{self, HostLock};
use crate::config::HostConfig;
use crate::model::Action;
use crate::model::HostState;
use crate::model::SudoScan;
use crate::remote::ExecOutput;
use crate::remote::script::{SCAN, SCAN_LIGHT, Script};

/// The job scan a job user runs through `sudo` inside another script (`scan_sudo`):
/// lib.sh's `scan_jobs`, then `end` (the caller trusts only complete output).
const SUDO_SCAN: &str = "scan_jobs\nprintf 'end\\n'\n";
use crate::remote::{Transport, run, wire};

/// A basic regex matching `<prefix><digit>` whose own text does not match it (the
/// first character is bracketed), so `grep` scanning every argv can't find itself.
pub fn prefix_regex(prefix: &str) -> String {
    let mut out = String::new();
    for (i, c) in prefix.chars().enumerate() {
        let lit = match c {
            '.' => "\\.".to_string(),
            c => c.to_string(),
        };
        if i == 0 {
            out.push_str(&format!("[{c}]"));
        } else {
            out.push_str(&lit);
        }
    }
    out.push_str("[0-9]");
    out
}

/// The parameters every script about a root gets: the root, link and prefix, and
/// what the job scan needs (`JOB_USERS`: `*` for anyone, else the `job_users`;
/// `SCAN_SUDO`, and `SUDO_SCRIPT`, the scan a job user runs through sudo).
pub fn root_script(body: &'static str, host: &HostConfig) -> Script {
    let s = Script::new(body)
        .param("ROOT", host.root.clone())
        .param("LINK", host.link.clone())
        .param("PREFIX", host.prefix.clone())
        .param("PREFIX_RE", prefix_regex(&host.prefix));
    with_job_scan(s, host)
}

/// `JOB_USERS`, `SCAN_SUDO` and `SUDO_SCRIPT` for `host`.
fn with_job_scan(s: Script, host: &HostConfig) -> Script {
    let users = match &host.job_scan.users {
        None => "*".to_string(),
        Some(u) => u.join(" "),
    };
    let sudo_script = if host.job_scan.sudo {
        // ROOT_ABS and JOB_NAMES come first, from the host's own scan; the user
        // names were validated ([A-Za-z0-9._-]), the text is quoted like any param.
        Script::new(SUDO_SCAN)
            .param("PREFIX", host.prefix.clone())
            .param("PREFIX_RE", prefix_regex(&host.prefix))
            .param("JOB_USERS", users.clone())
            .param("SCAN_SUDO", "0")
            .param("SUDO_SCRIPT", "")
            .render()
            .unwrap_or_default()
    } else {
        String::new()
    };
    s.param("JOB_USERS", users)
        .param("SCAN_SUDO", if host.job_scan.sudo { "1" } else { "0" })
        .param("SUDO_SCRIPT", sudo_script)
}

/// Scans one host's deploy root: releases, link, jobs, pins, lock, history.
pub fn scan(t: &dyn Transport, host: &HostConfig) -> Result<HostState, OpError> {
    let mut st = scan_with(t, host, root_script(SCAN, host))?;
    st.job_users = host.job_scan.users.clone();
    for (user, how) in &st.sudo_scans {
        match how {
            SudoScan::Ok => {}
            SudoScan::Refused => st.warnings.push(format!(
                "scan_sudo: `sudo -n -u {user} /bin/sh` was refused: {user}'s jobs can't be seen"
            )),
            SudoScan::Unknown => st.warnings.push(format!(
                "scan_sudo: the scan as {user} could not inspect its processes"
            )),
        }
    }
    Ok(st)
}

/// A scan under an operation's own lock, for what changes the link or adds a release
/// (switch, rollback, deploy): releases (with their manifests and whether they are
/// usable), link, staging, pins and history, without sizes, the run ledger or the
/// job scan (which these do not need and which cost the most: on a deploy to one
/// host the job scan was ~90 ms of ~230 ms before the upload, BENCHMARKS.md).
pub fn scan_light(t: &dyn Transport, host: &HostConfig) -> Result<HostState, OpError> {
    scan_with(t, host, light_script(host))
}

/// Takes the host's lock for `action` and makes the light scan under it in the same
/// round trip: the holder runs the scan once locked ([`lock::acquire_then`]).
pub fn lock_and_scan(
    t: &dyn Transport,
    host: &HostConfig,
    action: Action,
) -> Result<(HostLock, HostState), OpError> {
    let (lock, out) = warming(t, || {
        lock::acquire_then(t, host, action, &light_script(host))
    })?;
    Ok((lock, parse(host, &out)?))
}

/// [`lock_and_scan`] on `lock_t`, a transport opened for the lock alone beside the
/// operation's `t` ([`lock::acquire_then_on`]).
pub fn lock_and_scan_on(
    lock_t: Box<dyn Transport>,
    t: &dyn Transport,
    host: &HostConfig,
    action: Action,
) -> Result<(HostLock, HostState), OpError> {
    let (lock, out) = warming(t, || {
        lock::acquire_then_on(lock_t, host, action, &light_script(host))
    })?;
    Ok((lock, parse(host, &out)?))
}

/// Runs `f` (taking the lock) while `t`'s session shell starts, for the change that
/// follows: its login shell (a heavy rc file) runs beside the holder's. A failed
/// start is the next script's to report.
fn warming<R: Send>(t: &dyn Transport, f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        let warm = s.spawn(|| t.warm());
        let r = f();
        let _ = warm.join();
        r
    })
}

/// The light scan: scan.sh with `LIGHT=1`, without the ledger reader and the
/// probation functions it then never calls (~25 KB less for the host's shell to
/// read and parse).
fn light_script(host: &HostConfig) -> Script {
    root_script(SCAN_LIGHT, host).param("LIGHT", "1")
}

/// Runs a scan script and parses its answer strictly.
fn scan_with(t: &dyn Transport, host: &HostConfig, script: Script) -> Result<HostState, OpError> {
    parse(host, &run(t, &script)?)
}

/// A scan script's answer, parsed strictly.
fn parse(host: &HostConfig, out: &ExecOutput) -> Result<HostState, OpError> {
    if !out.success() {
        return Err(super::script_failed("scan", out));
    }
    wire::parse_scan(&out.stdout, &host.root, &host.link, &host.prefix)
        .map_err(|e| OpError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_regex_does_not_match_itself() {
        assert_eq!(prefix_regex("batch_"), "[b]atch_[0-9]");
        assert_eq!(prefix_regex("a.b"), "[a]\\.b[0-9]");
    }
}
