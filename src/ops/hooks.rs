//! `[hooks]` (SPEC §7): local commands run after a deploy, switch or rollback, and
//! when a guard refused a release — the way to post to a chat or a pager.
//!
//! A hook runs with `sh -c` on this machine, once per relman command, in a process
//! group of its own, with `RELMAN_ACTION` (`deploy`, `switch`, `rollback`, or
//! `refuse` for `on_refuse`), `RELMAN_HOSTS` (the hosts, space-separated),
//! `RELMAN_FROM` / `RELMAN_TO` (the releases, space-separated when hosts differ;
//! empty when none), `RELMAN_EXIT` (relman's exit code) in its environment and the
//! command's JSON result (what `--json` prints) on stdin. Its stdout and stderr go
//! to relman's stderr (relman's stdout stays its own). A hook that fails, cannot
//! start, or runs past `hooks.timeout` (its whole group is then killed) is
//! reported; it never changes the operation's result or exit code.

use std::io::Write as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::Hooks;

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    AfterDeploy,
    AfterSwitch,
    AfterRollback,
    OnRefuse,
}

impl Hook {
    /// Its key in `[hooks]`.
    pub fn key(self) -> &'static str {
        match self {
            Hook::AfterDeploy => "after_deploy",
            Hook::AfterSwitch => "after_switch",
            Hook::AfterRollback => "after_rollback",
            Hook::OnRefuse => "on_refuse",
        }
    }

    /// `RELMAN_ACTION`.
    pub fn action(self) -> &'static str {
        match self {
            Hook::AfterDeploy => "deploy",
            Hook::AfterSwitch => "switch",
            Hook::AfterRollback => "rollback",
            Hook::OnRefuse => "refuse",
        }
    }

    /// The configured command (None: this hook is not set).
    pub fn command(self, hooks: &Hooks) -> Option<&str> {
        match self {
            Hook::AfterDeploy => hooks.after_deploy.as_deref(),
            Hook::AfterSwitch => hooks.after_switch.as_deref(),
            Hook::AfterRollback => hooks.after_rollback.as_deref(),
            Hook::OnRefuse => hooks.on_refuse.as_deref(),
        }
    }
}

/// What the hook is told about the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookInput {
    pub hosts: Vec<String>,
    /// Each host's release before (one per host; None: none).
    pub from: Vec<Option<String>>,
    /// Each host's release after, or the one the command was about.
    pub to: Vec<Option<String>>,
    pub exit: i32,
    /// The command's JSON result.
    pub json: String,
}

/// Distinct values in first-seen order, space-separated (`RELMAN_FROM`, `RELMAN_TO`).
pub fn joined(values: &[Option<String>]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values.iter().flatten() {
        if !seen.contains(&v.as_str()) {
            seen.push(v);
        }
    }
    seen.join(" ")
}

/// The environment a hook gets.
pub fn environment(hook: Hook, input: &HookInput) -> Vec<(&'static str, String)> {
    vec![
        ("RELMAN_ACTION", hook.action().to_string()),
        ("RELMAN_HOSTS", input.hosts.join(" ")),
        ("RELMAN_FROM", joined(&input.from)),
        ("RELMAN_TO", joined(&input.to)),
        ("RELMAN_EXIT", input.exit.to_string()),
    ]
}

/// How a hook ended (None from [`run`]: not configured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    Ok,
    /// It exited non-zero (128 + N: killed by signal N).
    Failed(i32),
    /// It ran past the timeout; its process group was killed.
    TimedOut(Duration),
    /// `sh` could not be started.
    NotStarted(String),
}

impl HookOutcome {
    /// The one line relman prints on stderr for a hook that did not succeed.
    pub fn report(&self, hook: Hook) -> Option<String> {
        let k = hook.key();
        match self {
            HookOutcome::Ok => None,
            HookOutcome::Failed(c) => Some(format!(
                "relman: hook {k} failed (exit {c}); the {} result stands",
                hook.action()
            )),
            HookOutcome::TimedOut(d) => Some(format!(
                "relman: hook {k} still ran after {} and was killed; the {} result stands",
                humantime::format_duration(*d),
                hook.action()
            )),
            HookOutcome::NotStarted(e) => Some(format!("relman: hook {k} could not start: {e}")),
        }
    }
}

/// Runs `hook` if it is configured, waits for it (at most `hooks.timeout`) and
/// says on stderr how it ended if it did not succeed.
pub fn run_and_report(hooks: &Hooks, hook: Hook, input: &HookInput) -> Option<HookOutcome> {
    let out = run(hooks, hook, input)?;
    if let Some(line) = out.report(hook) {
        eprintln!("{line}");
    }
    tracing::info!(hook = hook.key(), outcome = ?out, "hook ran");
    Some(out)
}

/// Where a hook's own output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookOutput {
    /// relman's stderr (the CLI: stdout stays the JSON).
    Stderr,
    /// Nowhere (the console: the terminal is the UI's; how the hook ended is shown
    /// in the footer and logged).
    Discard,
}

/// Runs `hook` if it is configured and waits for it (see the module doc).
pub fn run(hooks: &Hooks, hook: Hook, input: &HookInput) -> Option<HookOutcome> {
    run_to(hooks, hook, input, HookOutput::Stderr)
}

/// [`run`] with the hook's output sent to `out`.
pub fn run_to(
    hooks: &Hooks,
    hook: Hook,
    input: &HookInput,
    out: HookOutput,
) -> Option<HookOutcome> {
    let cmd = hook.command(hooks)?;
    Some(run_command(
        cmd,
        hooks.timeout,
        &environment(hook, input),
        &input.json,
        out,
    ))
}

/// What a deploy's hooks are told: each host's release before and after.
pub fn deploy_input(report: &crate::ops::deploy::DeployReport, json: String) -> HookInput {
    HookInput {
        hosts: report.hosts.iter().map(|h| h.host.clone()).collect(),
        from: report.hosts.iter().map(|h| h.from.clone()).collect(),
        to: report.hosts.iter().map(|h| h.release.clone()).collect(),
        exit: report.exit_code(),
        json,
    }
}

/// The hooks a deploy runs, in order: a refused release first (the pager), then the
/// deploy's own.
pub fn deploy_hooks(report: &crate::ops::deploy::DeployReport) -> Vec<Hook> {
    let mut v = Vec::new();
    if report.outcome == crate::ops::deploy::Outcome::Refused {
        v.push(Hook::OnRefuse);
    }
    v.push(Hook::AfterDeploy);
    v
}

/// What a switch's or rollback's hook is told (`asked`: the release asked for, for
/// hosts where it failed).
pub fn link_input(
    results: &[crate::ops::fleet::HostResult<crate::ops::LinkChange>],
    asked: Option<&str>,
    exit: i32,
    json: String,
) -> HookInput {
    HookInput {
        hosts: results.iter().map(|r| r.host.clone()).collect(),
        from: results
            .iter()
            .map(|r| r.result.as_ref().ok().and_then(|c| c.from.clone()))
            .collect(),
        to: results
            .iter()
            .map(|r| match &r.result {
                Ok(c) => Some(c.to.clone()),
                Err(_) => asked.map(str::to_string),
            })
            .collect(),
        exit,
        json,
    }
}

fn run_command(
    cmd: &str,
    timeout: Duration,
    env: &[(&'static str, String)],
    stdin: &str,
    out: HookOutput,
) -> HookOutcome {
    let to = || match out {
        HookOutput::Stderr => std::io::stderr().as_fd_owned().map(Stdio::from),
        HookOutput::Discard => Ok(Stdio::null()),
    };
    let stderr = match to() {
        Ok(s) => s,
        Err(e) => return HookOutcome::NotStarted(e.to_string()),
    };
    let stdout = match to() {
        Ok(s) => s,
        Err(e) => return HookOutcome::NotStarted(e.to_string()),
    };
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => return HookOutcome::NotStarted(e.to_string()),
    };
    let pgid = child.id() as i32;
    // The JSON on stdin, from a thread: a hook that does not read it must not block
    // relman (a closed pipe is fine).
    let feeder = child.stdin.take().map(|mut w| {
        let data = stdin.as_bytes().to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
            let _ = w.write_all(b"\n");
        })
    });
    let t0 = Instant::now();
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                break match (st.code(), st.signal()) {
                    (Some(0), _) => HookOutcome::Ok,
                    (Some(c), _) => HookOutcome::Failed(c),
                    (None, Some(s)) => HookOutcome::Failed(128 + s),
                    (None, None) => HookOutcome::Failed(255),
                };
            }
            Ok(None) if t0.elapsed() >= timeout => {
                // SAFETY: kill(2) on the hook's own process group (it leads it).
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                let _ = child.wait();
                break HookOutcome::TimedOut(timeout);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break HookOutcome::NotStarted(e.to_string()),
        }
    };
    // Whatever is left of the group (a background child) goes with it.
    // SAFETY: as above; ESRCH when the group is gone is fine.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    if let Some(f) = feeder {
        let _ = f.join();
    }
    outcome
}

/// `dup` of a standard descriptor as an owned fd, for a child's stdio.
trait DupFd {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd>;
}

impl DupFd for std::io::Stderr {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd as _;
        self.as_fd().try_clone_to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_and_to_name_each_release_once() {
        let v = |s: &[Option<&str>]| s.iter().map(|o| o.map(str::to_string)).collect::<Vec<_>>();
        assert_eq!(joined(&v(&[Some("a"), Some("a"), None, Some("b")])), "a b");
        assert_eq!(joined(&v(&[None])), "");
    }

    #[test]
    fn the_environment_names_action_hosts_releases_and_exit() {
        let input = HookInput {
            hosts: vec!["h1".into(), "h2".into()],
            from: vec![Some("b_1".into()), Some("b_1".into())],
            to: vec![Some("b_2".into()), Some("b_2".into())],
            exit: 7,
            json: "{}".into(),
        };
        let env = environment(Hook::OnRefuse, &input);
        assert_eq!(
            env,
            vec![
                ("RELMAN_ACTION", "refuse".to_string()),
                ("RELMAN_HOSTS", "h1 h2".to_string()),
                ("RELMAN_FROM", "b_1".to_string()),
                ("RELMAN_TO", "b_2".to_string()),
                ("RELMAN_EXIT", "7".to_string()),
            ]
        );
    }

    #[test]
    fn a_hook_is_run_only_when_configured_and_its_failure_is_reported() {
        let mut hooks = Hooks::default();
        assert_eq!(run(&hooks, Hook::AfterSwitch, &HookInput::default()), None);
        hooks.after_switch = Some("read -r line; [ \"$line\" = '{\"x\":1}' ] && exit 3".into());
        let input = HookInput {
            json: "{\"x\":1}".into(),
            ..Default::default()
        };
        let out = run(&hooks, Hook::AfterSwitch, &input);
        assert_eq!(out, Some(HookOutcome::Failed(3)));
        let line = HookOutcome::Failed(3)
            .report(Hook::AfterSwitch)
            .unwrap_or_default();
        assert_eq!(
            line,
            "relman: hook after_switch failed (exit 3); the switch result stands"
        );
    }

    #[test]
    fn a_hanging_hook_and_its_children_are_killed_at_the_timeout() {
        let hooks = Hooks {
            after_deploy: Some("sleep 30 & sleep 30".into()),
            timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let out = run(&hooks, Hook::AfterDeploy, &HookInput::default());
        assert_eq!(out, Some(HookOutcome::TimedOut(Duration::from_millis(300))));
    }
}
