//! How a host's check reads: rows of (what, level, detail), for the CLI's table and
//! `check --json`, and the console's details pane.

use crate::model::{printable, span};
use crate::ops::OpError;
use crate::ops::check::{CheckReport, Level};
use crate::plan::deploy::FutureName;

/// One row of a check, ready to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub what: String,
    pub level: Level,
    pub detail: String,
}

fn row(what: &str, level: Level, detail: impl Into<String>) -> Row {
    Row {
        what: what.to_string(),
        level,
        detail: detail.into(),
    }
}

/// The first thing `check` checks, and what a failure to connect fails.
pub const CONNECT: &str = "connect, host key, auth";

/// A host's check as rows: the config (its path), what `~/.ssh/config` says that relman
/// does not apply (named, never silent), the connection, then the host's findings.
pub fn rows(
    config_path: &str,
    not_applied: &[String],
    r: &Result<CheckReport, OpError>,
) -> Vec<Row> {
    let ssh = not_applied
        .iter()
        .map(|note| row("ssh config", Level::Warn, printable(note)));
    let report = match r {
        Err(e) => {
            let mut rows: Vec<Row> = ssh.collect();
            rows.push(row(CONNECT, Level::Fail, e.to_string()));
            return rows;
        }
        Ok(report) => report,
    };
    let mut rows = vec![row("config", Level::Ok, config_path)];
    rows.extend(ssh);
    rows.push(row(CONNECT, Level::Ok, ""));
    rows.extend(
        report
            .items
            .iter()
            .map(|i| row(&i.what, i.level, i.detail.clone())),
    );
    if let Some(line) = &report.script_failed {
        rows.push(row("check script", Level::Fail, line.clone()));
    }
    if let Some(f) = &report.future_name {
        rows.push(row("release names", Level::Warn, future_name(f)));
    }
    rows
}

/// The exit code of one host's check: its error's, or 1 when something failed.
pub fn exit_code(r: &Result<CheckReport, OpError>) -> i32 {
    match r {
        Err(e) => e.exit_code(),
        Ok(report) => i32::from(report.failed()),
    }
}

/// The warning for a newest release named in the future, saying what relman does about it.
pub fn future_name(f: &FutureName) -> String {
    format!(
        "the newest release {} is named {} in the future (named by a clock that is not \
         UTC, or set wrong?); relman names new releases after it (now: {}) so they sort \
         newest, and lists it as \"in {}\" until the clocks agree",
        f.newest,
        span(f.ahead),
        f.next,
        span(f.ahead)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::check::parse_check;

    fn report(stdout: &[u8], script_failed: Option<&str>) -> CheckReport {
        CheckReport {
            items: parse_check(stdout),
            script_failed: script_failed.map(str::to_string),
            future_name: None,
        }
    }

    fn flat(rows: &[Row]) -> Vec<(&str, &str, &str)> {
        rows.iter()
            .map(|r| (r.what.as_str(), r.level.as_str(), r.detail.as_str()))
            .collect()
    }

    #[test]
    fn a_reached_host_reads_config_ssh_notes_connect_then_its_findings() {
        let r = Ok(report(
            b"check\tsh\tok\t/bin/sh\ncheck\tflock\tfail\tmissing\n",
            Some("x: boom"),
        ));
        let rows = rows(
            "/etc/relman.toml",
            &["ProxyCommand is not applied".into()],
            &r,
        );
        assert_eq!(
            flat(&rows),
            vec![
                ("config", "ok", "/etc/relman.toml"),
                ("ssh config", "warn", "ProxyCommand is not applied"),
                (CONNECT, "ok", ""),
                ("sh", "ok", "/bin/sh"),
                ("flock", "fail", "missing"),
                ("check script", "fail", "x: boom"),
            ]
        );
        assert_eq!(exit_code(&r), 1);
        assert_eq!(exit_code(&Ok(report(b"check\tsh\tok\t/bin/sh\n", None))), 0);
    }

    #[test]
    fn an_unreachable_host_reads_its_ssh_notes_then_the_failed_connection() {
        let r = Err(OpError::Conflict("the root /srv does not exist".into()));
        let rows = rows("/etc/relman.toml", &["User is not applied".into()], &r);
        assert_eq!(
            flat(&rows),
            vec![
                ("ssh config", "warn", "User is not applied"),
                (CONNECT, "fail", "the root /srv does not exist"),
            ]
        );
        assert_eq!(exit_code(&r), 5);
    }
}
