//! Pins and `resolve` (SPEC §3, §6): `pin` puts a lease on a release so prune keeps
//! it until the lease expires, `unpin` removes a release's leases, and `resolve`
//! prints the live release's absolute path — with `--pin`, resolving and pinning in
//! one script under the host lock, so no prune can come between the two.
//!
//! A pin is `.relman/pins/<id>.json` = `{"id","release","by","created_at",
//! "expires_at","reason"}` (RFC 3339, UTC), the id random hex. Its times come from
//! the host's clock, the clock prune judges expiry by, so a skewed workstation can't
//! make a pin shorter or longer than asked.

use std::time::Duration;

use serde::Serialize;

use super::history::{HistoryLine, HostField};
use super::launcher::with_launcher;
use super::link::release_arg;
use super::lock::{acquire, acquire_waiting, token};
use super::scan::root_script;
use super::{OpError, operator};
use crate::config::HostConfig;
use crate::model::{Action, Pin, ReleaseName, printable};
use crate::remote::script::{PIN, RESOLVE, Script};
use crate::remote::{Transport, run};

/// Longest pin accepted (ten years): beyond that it is a typo, not a lease.
pub const MAX_PIN: Duration = Duration::from_secs(3650 * 86400);
/// Longest pin reason, in characters.
pub const MAX_REASON: usize = 500;

/// `s` as a JSON string (for the pin file `write_pin` writes).
fn json(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Whole seconds of a pin's duration (rounded up), checked against the limits.
fn pin_secs(dur: Duration) -> Result<u64, OpError> {
    if dur.is_zero() {
        return Err(OpError::Invalid("a pin needs a duration above zero".into()));
    }
    if dur > MAX_PIN {
        return Err(OpError::Invalid(format!(
            "a pin of {} is too long (at most {})",
            humantime::format_duration(dur),
            humantime::format_duration(MAX_PIN)
        )));
    }
    Ok(dur.as_secs() + u64::from(dur.subsec_nanos() > 0))
}

fn check_reason(reason: &str) -> Result<(), OpError> {
    if reason.chars().count() > MAX_REASON {
        return Err(OpError::Invalid(format!(
            "the pin reason is longer than {MAX_REASON} characters"
        )));
    }
    Ok(())
}

/// The parameters `write_pin` (lib.sh) needs; returns the script and the pin's id.
fn pin_params(script: Script, dur: Duration, reason: &str) -> Result<(Script, String), OpError> {
    let secs = pin_secs(dur)?;
    check_reason(reason)?;
    let id = token();
    let script = script
        .param("PIN_ID", id.clone())
        .param("PIN_SECS", secs.to_string())
        .param("PIN_BY", json(&operator()))
        .param("PIN_REASON", json(reason));
    Ok((script, id))
}

/// The note a pin's history line carries: `for 2h: nightly build`.
fn pin_note(dur: Duration, reason: &str) -> String {
    let d = humantime::format_duration(Duration::from_secs(dur.as_secs().max(1)));
    if reason.is_empty() {
        format!("for {d}")
    } else {
        format!("for {d}: {reason}")
    }
}

/// Parses `PINNED <id> <created> <expires>` into the pin that was written.
fn parse_pinned(line: &str, id: &str, release: &str, reason: &str) -> Option<Pin> {
    let f: Vec<&str> = line.split('\t').collect();
    match f.as_slice() {
        ["PINNED", got, created, expires]
            if *got == id
                && humantime::parse_rfc3339(created).is_ok()
                && humantime::parse_rfc3339(expires).is_ok() =>
        {
            Some(Pin {
                id: id.to_string(),
                release: release.to_string(),
                by: operator(),
                created_at: created.to_string(),
                expires_at: expires.to_string(),
                reason: reason.to_string(),
            })
        }
        _ => None,
    }
}

fn unexpected(what: &str, stdout: &str) -> OpError {
    OpError::Failed(format!(
        "{what}: unexpected answer from the host: {:?}",
        printable(stdout.trim())
    ))
}

/// `relman pin RELEASE --for DUR [--reason TEXT]` on one host: under the lock, the
/// release must exist (else exit 5); writes the pin and a `pin` history line.
pub fn pin(
    t: &dyn Transport,
    host: &HostConfig,
    release: &str,
    dur: Duration,
    reason: &str,
) -> Result<Pin, OpError> {
    let name = release_arg(host, release)?;
    pin_secs(dur)?;
    check_reason(reason)?;
    let lock = acquire(t, host, Action::Pin)?;
    let base = with_launcher(root_script(PIN, host), host)?
        .param("TOKEN", lock.token.clone())
        .param("MODE", "pin")
        .param("RELEASE", name.as_str());
    let hist = HistoryLine::new(Action::Pin)
        .to(Some(name.as_str()))
        .note(Some(&pin_note(dur, reason)));
    let (script, id) = pin_params(hist.param(base), dur, reason)?;
    let out = run(t, &script)?;
    if !out.success() {
        return Err(super::script_error("pin", &out));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout
        .strip_suffix('\n')
        .map(|s| s.split('\n').collect::<Vec<_>>())
    {
        Some(lines) if lines.len() == 1 => parse_pinned(lines[0], &id, name.as_str(), reason)
            .ok_or_else(|| unexpected("pin", &stdout)),
        _ => Err(unexpected("pin", &stdout)),
    }
}

/// `relman unpin RELEASE [--id ID]` on one host: removes every pin of the release
/// (expired or not), or only the pin `id` (a pipeline releasing its own pin, not
/// another pipeline's on the same release), and returns how many; a `unpin` history
/// line when there were any.
pub fn unpin(
    t: &dyn Transport,
    host: &HostConfig,
    release: &str,
    id: Option<&str>,
) -> Result<usize, OpError> {
    let name = release_arg(host, release)?;
    if let Some(id) = id {
        check_pin_id(id)?;
    }
    let lock = acquire(t, host, Action::Unpin)?;
    let script = with_launcher(root_script(PIN, host), host)?
        .param("TOKEN", lock.token.clone())
        .param("MODE", "unpin")
        .param("RELEASE", name.as_str())
        .param("PIN_ID", id.unwrap_or_default());
    let hist = HistoryLine::new(Action::Unpin)
        .to(Some(name.as_str()))
        .on_host(HostField::Note);
    let out = run(t, &hist.param(script))?;
    if !out.success() {
        return Err(super::script_error("unpin", &out));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("UNPINNED\t"))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| unexpected("unpin", &stdout))
}

/// A pin id as relman makes them: lowercase hex (the pin file's name).
pub fn check_pin_id(id: &str) -> Result<(), OpError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(OpError::Invalid(format!(
            "{:?} is not a pin id (lowercase hex, as `relman list` shows it)",
            crate::model::printable(id)
        )));
    }
    Ok(())
}

/// What `resolve` found (and pinned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub host: String,
    /// Absolute, symlink-free path of the live release on the host.
    pub path: String,
    pub release: String,
    /// The pin taken with `--pin`.
    pub pin: Option<Pin>,
}

/// `relman resolve [--pin DUR --reason TEXT]` on one host: the absolute path of the
/// live release (exit 5 = [`OpError::Conflict`] when there is none). With a pin, the
/// release is resolved and pinned in one script under the host lock.
pub fn resolve(
    t: &dyn Transport,
    host: &HostConfig,
    pin: Option<(Duration, String)>,
) -> Result<String, OpError> {
    resolve_full(t, host, pin.as_ref().map(|(d, r)| (*d, r.as_str()))).map(|r| r.path)
}

/// How long `resolve --pin` waits for a lock held by another operation (a deploy or a
/// prune in progress) before exit 4: a pipeline starting mid-deploy should wait, not fail.
pub const RESOLVE_WAIT_SECS: u32 = 60;

/// [`resolve`], with the release's name and the pin taken.
pub fn resolve_full(
    t: &dyn Transport,
    host: &HostConfig,
    pin: Option<(Duration, &str)>,
) -> Result<Resolved, OpError> {
    let base = root_script(RESOLVE, host);
    let (script, id, _lock) = match pin {
        None => (base.param("PIN", "0"), None, None),
        Some((dur, reason)) => {
            pin_secs(dur)?;
            check_reason(reason)?;
            let lock = acquire_waiting(t, host, Action::Pin, RESOLVE_WAIT_SECS)?;
            let base = with_launcher(base, host)?
                .param("PIN", "1")
                .param("TOKEN", lock.token.clone());
            let hist = HistoryLine::new(Action::Pin)
                .note(Some(&format!("resolve --pin {}", pin_note(dur, reason))))
                .on_host(HostField::To);
            let (script, id) = pin_params(hist.param(base), dur, reason)?;
            (script, Some(id), Some(lock))
        }
    };
    let out = run(t, &script)?;
    if !out.success() {
        return Err(super::script_error("resolve", &out));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = match stdout.strip_suffix('\n') {
        Some(s) => s.split('\n').collect(),
        None => return Err(unexpected("resolve", &stdout)),
    };
    let (path, name) = lines
        .first()
        .and_then(|l| l.strip_prefix("RESOLVED\t"))
        .and_then(|p| parse_release_path(host, p))
        .ok_or_else(|| unexpected("resolve", &stdout))?;
    let pin = match (&id, pin, lines.as_slice()) {
        (None, None, [_]) => None,
        (Some(id), Some((_, reason)), [_, pinned]) => Some(
            parse_pinned(pinned, id, name.as_str(), reason)
                .ok_or_else(|| unexpected("resolve", &stdout))?,
        ),
        _ => return Err(unexpected("resolve", &stdout)),
    };
    Ok(Resolved {
        host: host.name.clone(),
        path,
        release: name.as_str().to_string(),
        pin,
    })
}

/// `<abs root>/<release>` as the host printed it: absolute, one line, a release name
/// at the end. Never believed without these checks.
fn parse_release_path(host: &HostConfig, p: &str) -> Option<(String, ReleaseName)> {
    let (root, name) = p.rsplit_once('/')?;
    if !p.starts_with('/') || p.contains(['\t', '\r', '\0']) || root.split('/').any(|c| c == "..") {
        return None;
    }
    let name = ReleaseName::parse(&host.prefix, name).ok()?;
    Some((p.to_string(), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostConfig {
        HostConfig::local("h", "deploy")
    }

    #[test]
    fn durations_round_up_and_are_bounded() {
        assert_eq!(pin_secs(Duration::from_secs(2)).unwrap(), 2);
        assert_eq!(pin_secs(Duration::from_millis(1500)).unwrap(), 2);
        assert_eq!(pin_secs(Duration::ZERO).unwrap_err().exit_code(), 2);
        assert_eq!(
            pin_secs(MAX_PIN + Duration::from_secs(1))
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn release_paths_are_checked() {
        let h = host();
        let (p, n) = parse_release_path(&h, "/srv/deploy/batch_20261126221500").unwrap();
        assert_eq!(p, "/srv/deploy/batch_20261126221500");
        assert_eq!(n.as_str(), "batch_20261126221500");
        for bad in [
            "srv/deploy/batch_20261126221500",
            "/srv/deploy/logs",
            "/srv/../etc/batch_20261126221500",
            "/srv/deploy/batch_20261126221500/",
            "batch_20261126221500",
            "",
        ] {
            assert!(parse_release_path(&h, bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn pinned_lines_are_strict() {
        let ok = "PINNED\tabc\t2026-11-26T22:00:00Z\t2026-11-27T00:00:00Z";
        let p = parse_pinned(ok, "abc", "batch_20261126221500", "why").unwrap();
        assert_eq!(p.expires_at, "2026-11-27T00:00:00Z");
        assert_eq!(p.reason, "why");
        assert!(parse_pinned(ok, "abd", "r", "").is_none(), "another id");
        assert!(parse_pinned("PINNED\tabc\tnow\t2026-11-27T00:00:00Z", "abc", "r", "").is_none());
        assert!(parse_pinned(&format!("{ok}\textra"), "abc", "r", "").is_none());
    }

    #[test]
    fn the_hosts_rfc3339_matches_humantime() {
        let epochs = [
            0u64,
            951_782_399,
            951_782_400,
            1_709_164_800,
            1_795_000_000,
            4_102_444_799,
            253_402_300_799,
        ];
        let mut sh = String::from(crate::remote::script::LIB);
        for e in epochs {
            sh.push_str(&format!("\nrfc3339_utc {e}"));
        }
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(sh)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).unwrap();
        let want: Vec<String> = epochs
            .iter()
            .map(|e| {
                humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(*e))
                    .to_string()
            })
            .collect();
        assert_eq!(got.lines().collect::<Vec<_>>(), want);
    }

    #[test]
    fn notes_read_well() {
        assert_eq!(pin_note(Duration::from_secs(7200), ""), "for 2h");
        assert_eq!(
            pin_note(Duration::from_secs(90), "jenkins-42"),
            "for 1m 30s: jenkins-42"
        );
    }
}
