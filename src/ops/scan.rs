//! Reading a host: one `scan.sh` round trip, parsed strictly into a `HostState`.

use super::OpError;
use crate::config::HostConfig;
use crate::model::HostState;
use crate::remote::script::{SCAN, Script};
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

/// The parameters every script about a root gets.
pub fn root_script(body: &'static str, host: &HostConfig) -> Script {
    Script::new(body)
        .param("ROOT", host.root.clone())
        .param("LINK", host.link.clone())
        .param("PREFIX", host.prefix.clone())
        .param("PREFIX_RE", prefix_regex(&host.prefix))
}

/// Scans one host's deploy root: releases, link, jobs, pins, lock, history.
pub fn scan(t: &dyn Transport, host: &HostConfig) -> Result<HostState, OpError> {
    let out = run(t, &root_script(SCAN, host))?;
    if !out.success() {
        return Err(OpError::Failed(format!(
            "scan failed (exit {}): {}",
            out.status.map_or("signal".into(), |s| s.to_string()),
            out.stderr_line()
        )));
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
