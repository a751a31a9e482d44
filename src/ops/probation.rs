//! A host's probation (SPEC §7): set by a switch that asks for one (`switch
//! --probation`, `deploy --probation`, a canary while relman watches it), enforced on
//! the host by the launcher (see `launch.sh` and `probation.sh`), ended by any later
//! switch, by [`accept_locked`] (`relman accept`) or by its own expiry.
//!
//! On the host a probation is one line, `.relman/probation` (format in
//! `probation.sh`), written by `switch.sh` under relman's lock and removed by the
//! next switch, by `accept.sh`, or by the rollback that enforced it.

use crate::config::HostConfig;
use crate::model::{Action, Probation, ReleaseName};
use crate::remote::script::ACCEPT;
use crate::remote::{Transport, run};

use super::OpError;
use super::history::{HistoryLine, HostField};
use super::lock::{HostLock, acquire};
use super::scan::root_script;

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
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    release: Option<&ReleaseName>,
) -> Result<Accepted, OpError> {
    let hist = HistoryLine::new(Action::Accept)
        .note(Some("probation ended early"))
        .on_host(HostField::To);
    let script = hist
        .param(root_script(ACCEPT, host))
        .param("TOKEN", lock.token.clone())
        .param("RELEASE", release.map(|r| r.as_str()).unwrap_or(""));
    let out = run(t, &script)?;
    if out.status != Some(0) {
        return Err(super::script_error("accept", &out));
    }
    parse_accept(&out.stdout, &host.prefix).map_err(|e| {
        OpError::Failed(format!(
            "accept: unexpected answer from the host ({e}): {}",
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    })
}

/// `relman accept` on one host: takes the lock, ends the probation.
pub fn accept(t: &dyn Transport, host: &HostConfig) -> Result<Accepted, OpError> {
    let lock = acquire(t, host, Action::Accept)?;
    accept_locked(t, host, &lock, None)
}

/// `accept.sh`'s answer: `NONE`, or `ACCEPTED` and the probation it ended.
fn parse_accept(stdout: &[u8], prefix: &str) -> Result<Accepted, String> {
    let s = std::str::from_utf8(stdout).map_err(|_| "not UTF-8".to_string())?;
    let mut lines = s.lines();
    let first = lines.next().unwrap_or("");
    if lines.any(|l| !l.is_empty()) {
        return Err("more than one line".into());
    }
    let f: Vec<&str> = first.split('\t').collect();
    match f.as_slice() {
        ["NONE"] => Ok(Accepted::NoProbation),
        ["ACCEPTED", rest @ ..] => crate::remote::wire::probation(1, prefix, rest)
            .map(Accepted::Ended)
            .map_err(|e| e.msg),
        _ => Err("neither NONE nor ACCEPTED".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_answers_parse_strictly() {
        assert_eq!(parse_accept(b"NONE\n", "b_"), Ok(Accepted::NoProbation));
        let got = parse_accept(
            b"ACCEPTED\tb_20261202010000\tb_20261201010000\t1764637200\t1764637800\t0\t2\n",
            "b_",
        );
        assert_eq!(
            got,
            Ok(Accepted::Ended(Probation {
                release: "b_20261202010000".into(),
                previous: Some("b_20261201010000".into()),
                since: "2025-12-02T01:00:00Z".into(),
                until: "2025-12-02T01:10:00Z".into(),
                max_failures: 0,
                failures: 2,
            }))
        );
        for bad in [
            &b""[..],
            b"NONE\nNONE\n",
            b"ACCEPTED\tb_20261202010000\n",
            b"ACCEPTED\tx_20261202010000\tb_20261201010000\t1\t2\t0\t0\n",
            b"ACCEPTED\tb_20261202010000\tb_20261201010000\t5\t2\t0\t0\n",
            b"ACCEPTED\tb_20261202010000\tb_20261201010000\t1\t2\t-1\t0\n",
            b"OK\n",
        ] {
            assert!(
                parse_accept(bad, "b_").is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
