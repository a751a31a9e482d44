//! `check`: what relman needs on a host (its tools, the atomic switch, `/proc`, the job
//! scan, the root's permissions...) as a typed report both front ends show their way.
//! One round trip for the check script, one for the scan that looks at release names.

use std::time::SystemTime;

use crate::config::HostConfig;
use crate::model::printable;
use crate::plan::deploy::FutureName;
use crate::remote::script::CHECK;
use crate::remote::{Transport, run};

use super::OpError;
use super::scan::root_script;

/// The tools `check.sh` looks up one by one (besides `sh`), in its order.
pub const TOOLS: [&str; 16] = [
    "flock",
    "sha256sum",
    "find",
    "od",
    "timeout",
    "mv",
    "ln",
    "readlink",
    "du",
    "dd",
    "stat",
    "xargs",
    "paste",
    "grep",
    "sed",
    "sh",
];

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    /// The word the check script and `check --json` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        match s {
            "ok" => Some(Level::Ok),
            "warn" => Some(Level::Warn),
            "fail" => Some(Level::Fail),
            _ => None,
        }
    }
}

/// One line of the check script: what it looked at, how that came out, and what the
/// host said about it (a path, "missing", the reason...), made printable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckItem {
    pub what: String,
    pub level: Level,
    pub detail: String,
}

/// A host's check, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// The script's findings, in its order (tools first).
    pub items: Vec<CheckItem>,
    /// The check script itself failed (its last stderr line): what follows it is missing.
    pub script_failed: Option<String>,
    /// The newest release is named in the future (a clock that is not UTC, or wrong).
    pub future_name: Option<FutureName>,
}

/// A tool relman needs, and where the host has it (None: missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tool<'a> {
    pub name: &'a str,
    pub path: Option<&'a str>,
}

impl CheckReport {
    /// Whether anything failed (the CLI exits 1 then).
    pub fn failed(&self) -> bool {
        self.script_failed.is_some() || self.items.iter().any(|i| i.level == Level::Fail)
    }

    /// The tools the script looked up, found (with their path) or missing.
    pub fn tools(&self) -> Vec<Tool<'_>> {
        self.items
            .iter()
            .filter(|i| TOOLS.contains(&i.what.as_str()))
            .map(|i| Tool {
                name: &i.what,
                path: (i.level == Level::Ok).then_some(i.detail.as_str()),
            })
            .collect()
    }

    /// The findings that are not tools (switch, /proc, job scan, root, ...).
    pub fn sanity(&self) -> impl Iterator<Item = &CheckItem> {
        self.items
            .iter()
            .filter(|i| !TOOLS.contains(&i.what.as_str()))
    }
}

/// Parses the check script's stdout: `check\t<what>\t<ok|warn|fail>\t<detail>` lines;
/// anything else (noise from a login script, a line of an unknown level) is ignored.
pub fn parse_check(stdout: &[u8]) -> Vec<CheckItem> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            match f.as_slice() {
                ["check", what, level, detail] => Some(CheckItem {
                    what: printable(what),
                    level: Level::parse(level)?,
                    detail: printable(detail),
                }),
                _ => None,
            }
        })
        .collect()
}

/// Runs the check on one host (connected: the connection is itself the first check).
pub fn check(t: &dyn Transport, host: &HostConfig) -> Result<CheckReport, OpError> {
    let out = run(t, &root_script(CHECK, host))?;
    let script_failed = (!out.success()).then(|| out.stderr_line());
    let future_name = super::scan::scan(t, host)
        .ok()
        .and_then(|st| crate::plan::deploy::future_name(&st, SystemTime::now()));
    Ok(CheckReport {
        items: parse_check(&out.stdout),
        script_failed,
        future_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_check_lines_strictly() {
        let out = b"motd noise\ncheck\tsh\tok\t/bin/sh\ncheck\tflock\tfail\tmissing\n\
                    check\tmv -T\tok\tatomic link switch available\tand a tab\n\
                    check\troot\tmaybe\t/srv\ncheck\tshort\tok\n\
                    check\thidden jobs\twarn\t2 processes \x1b[31mred\n";
        let items = parse_check(out);
        let got: Vec<(&str, Level, &str)> = items
            .iter()
            .map(|i| (i.what.as_str(), i.level, i.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("sh", Level::Ok, "/bin/sh"),
                ("flock", Level::Fail, "missing"),
                ("mv -T", Level::Ok, "atomic link switch available?and a tab"),
                (
                    "hidden jobs",
                    Level::Warn,
                    &*printable("2 processes \x1b[31mred")
                ),
            ]
        );
        let report = CheckReport {
            items,
            script_failed: None,
            future_name: None,
        };
        assert!(report.failed());
        assert_eq!(
            report.tools(),
            vec![
                Tool {
                    name: "sh",
                    path: Some("/bin/sh")
                },
                Tool {
                    name: "flock",
                    path: None
                }
            ]
        );
        let sanity: Vec<&str> = report.sanity().map(|i| i.what.as_str()).collect();
        assert_eq!(sanity, ["mv -T", "hidden jobs"]);
    }

    #[test]
    fn a_failed_script_fails_the_check() {
        let report = CheckReport {
            items: parse_check(b"check\tsh\tok\t/bin/sh\ncheck\troot\twarn\tx\n"),
            script_failed: None,
            future_name: None,
        };
        assert!(!report.failed(), "warnings alone do not fail");
        let report = CheckReport {
            script_failed: Some("boom".into()),
            ..report
        };
        assert!(report.failed());
    }

    #[test]
    fn the_tool_list_is_the_scripts() {
        let looked_up = CHECK
            .lines()
            .find_map(|l| l.trim().strip_prefix("for _t in "))
            .and_then(|l| l.strip_suffix("; do"))
            .expect("check.sh's tool loop");
        let mut tools: Vec<&str> = looked_up.split(' ').collect();
        tools.push("sh");
        assert_eq!(tools, TOOLS);
    }
}
