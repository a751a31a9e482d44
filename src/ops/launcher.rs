//! The job launcher, `<root>/.relman/bin/launch` (SPEC §6): its text for a host, and
//! keeping it installed and current on every host relman writes to.
//!
//! The launcher is `scripts/launch.sh` with the host's link name and release prefix
//! baked in (it finds its root from its own location), and with `ledger.sh` and
//! `probation.sh` (the same functions the scan uses: a probation is counted and
//! enforced by one copy of the code, SPEC §7), so the file stands alone on the host. Every mutating script can
//! install it in passing: give the script the `LAUNCHER` parameter ([`with_launcher`])
//! and call `ensure_launcher` (lib.sh) after `check_token`; it rewrites the file only
//! when its text differs, atomically. [`ensure_launcher`] does the same as a round
//! trip of its own, for operations whose scripts don't.

use super::OpError;
use super::lock::HostLock;
use super::scan::root_script;
use crate::config::HostConfig;
use crate::remote::quote::quote;
use crate::remote::script::{LAUNCH, LEDGER, PROBATION, Script};
use crate::remote::{RemoteError, Transport, run};

/// Where the launcher lives, relative to the deploy root.
pub const LAUNCHER_PATH: &str = ".relman/bin/launch";

/// The line of `launch.sh` replaced by the host's parameters.
const PARAMS_MARKER: &str = "# relman:params\n";

/// The launcher's text for `host`: `launch.sh` with `RELMAN_LINK` and `RELMAN_PREFIX`,
/// then the ledger reader and the probation functions (definitions only).
pub fn launcher_text(host: &HostConfig) -> Result<String, OpError> {
    let params = format!(
        "RELMAN_LINK={}\nRELMAN_PREFIX={}\n{LEDGER}\n{PROBATION}\n",
        quote(&host.link).map_err(RemoteError::from)?,
        quote(&host.prefix).map_err(RemoteError::from)?
    );
    Ok(LAUNCH.replacen(PARAMS_MARKER, &params, 1))
}

/// Adds the `LAUNCHER` parameter, so the script's `ensure_launcher` installs it.
pub fn with_launcher(script: Script, host: &HostConfig) -> Result<Script, OpError> {
    Ok(script.param("LAUNCHER", launcher_text(host)?))
}

const ENSURE: &str = "resolve_root || { echo \"the root $ROOT does not exist\" >&2; exit 5; }\n\
cd -P -- \"$ROOT_ABS\" || exit 1\n\
check_token\n\
ensure_launcher || exit 1\n\
echo OK\n";

/// Installs or updates `.relman/bin/launch` on a host whose lock is held (one round
/// trip; a no-op on the host when the file is current). For operations whose own
/// scripts don't call `ensure_launcher`.
pub fn ensure_launcher(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
) -> Result<(), OpError> {
    let script = with_launcher(root_script(ENSURE, host), host)?.param("TOKEN", lock.token.clone());
    let out = run(t, &script)?;
    match (out.status, String::from_utf8_lossy(&out.stdout).trim()) {
        (Some(0), "OK") => Ok(()),
        (Some(super::script_exit::CONFLICT), _) => Err(OpError::Conflict(out.stderr_line())),
        _ => Err(super::script_failed("installing the job launcher", &out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(link: &str, prefix: &str) -> HostConfig {
        let mut h = HostConfig::local("h", "deploy");
        h.link = link.into();
        h.prefix = prefix.into();
        h
    }

    #[test]
    fn the_template_has_one_marker_and_a_shebang() {
        assert_eq!(LAUNCH.matches(PARAMS_MARKER).count(), 1);
        assert!(LAUNCH.starts_with("#!/bin/sh\n"));
    }

    #[test]
    fn link_and_prefix_are_baked_in_quoted() {
        let t = launcher_text(&host("live.link", "app-")).unwrap();
        assert!(t.starts_with("#!/bin/sh\n"));
        assert!(t.contains("\nRELMAN_LINK='live.link'\nRELMAN_PREFIX='app-'\n"));
        assert!(!t.contains(PARAMS_MARKER));
        // The probation's functions are in the file itself (no include on the host).
        assert!(t.contains("\nprobation_enforce() {"));
        assert!(t.contains("\nledger_read() {"));
    }

    #[test]
    fn the_launcher_parses_as_posix_sh() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("launch");
        std::fs::write(&f, launcher_text(&host("batch", "batch_")).unwrap()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
