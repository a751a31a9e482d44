//! `relman launch`: a job run through the host's launcher (`.relman/bin/launch`) over
//! relman's own connection, its output streamed, its status passed through, and
//! stopped on the host when relman is interrupted.
//!
//! The command line sent (parsed by the SSH user's login shell, every argument
//! quoted) is a small wrapper:
//!
//! ```sh
//! printf 'relman-launch: pid %s\n' "$$" >&2
//! L='deploy/.relman/bin/launch'; [ -x "$L" ] || { printf 'relman-launch: no launcher\n' >&2; exit 127; }
//! exec "$L" --release 'batch_…' -- sh -c 'printf "relman-launch: started\n" >&2; exec "$@"' relman-job 'CMD' 'ARG'…
//! ```
//!
//! sshd starts the login shell as the leader of a session of its own (OpenSSH calls
//! `setsid` for every command without a pty) and the wrapper, the launcher and the
//! job `exec` one another: the pid it prints is the job's, and its process group the
//! job's and its children's. Everything before `relman-launch: started` on stderr is
//! the wrapper's and the launcher's (relman reads it: a `launch: ...` error is
//! relman's error); everything after it, and all of stdout, is the job's and passes
//! unchanged. Stdin reaches the job only once it has started.
//!
//! The signal path is a second exec on the same session, `kill -TERM -PGID` (falling
//! back to the pid), since libssh2's channel signals are not delivered by OpenSSH
//! without a pty; `KILL` follows after [`KILL_AFTER`] or at a second interrupt.
//! Closing the channel is not enough: measured against OpenSSH 9.2, a `sleep 300`
//! job outlived a relman killed with SIGKILL by more than 15 s (sshd sends no
//! SIGHUP to a command without a pty, and `sleep` never touches its pipes).
//! A closed local stdout stops the job with `PIPE`, as a shell pipeline would.

use std::time::{Duration, Instant};

use super::OpError;
use super::launcher::{LAUNCHER_PATH, ensure_launcher};
use super::link::release_arg;
use super::lock::acquire;
use crate::config::HostConfig;
use crate::model::{Action, Pin, printable};
use crate::remote::quote::quote;
use crate::remote::{RemoteError, Stream, StreamEnd, Transport};

/// The wrapper's marker lines on stderr.
const PID_MARK: &str = "relman-launch: pid ";
const STARTED_MARK: &str = "relman-launch: started";
const NO_LAUNCHER_MARK: &str = "relman-launch: no launcher";

/// How long a job may take to end after `TERM` before it gets `KILL`.
pub const KILL_AFTER: Duration = Duration::from_secs(10);

/// What to run, and on which release.
#[derive(Debug, Clone)]
pub struct LaunchRequest<'a> {
    /// A release by name (`--release`), else the live one, read once by the launcher.
    pub release: Option<&'a str>,
    /// Pin the live release for this long first (`--pin`, with its reason).
    pub pin: Option<(Duration, &'a str)>,
    /// The job's command and arguments, passed verbatim.
    pub command: &'a [String],
    /// Keep the last this many lines (1-200) of a failed or killed run's output on
    /// the host (`launch --tail`, opt-in: the job's stdout and stderr become pipes).
    pub tail: Option<u16>,
}

/// The bounds of `--tail` (lines).
pub const TAIL_MAX: u16 = 200;

/// relman's own end of the job: its terminal or pipes, and the signals it received.
/// Every call returns at once.
pub trait Local {
    /// Job stdout bytes, to pass on as they come. An error means no one reads
    /// any more (a closed pipe): the job is then stopped with `PIPE`, as a shell
    /// pipeline would.
    fn stdout(&mut self, data: &[u8]) -> std::io::Result<()>;
    fn stderr(&mut self, data: &[u8]);
    /// Input for the job (`Some(empty)`: nothing now; `None`: ended).
    fn input(&mut self) -> Option<Vec<u8>>;
    /// A signal relman received since the last call (its number), if any.
    fn signal(&mut self) -> Option<i32>;
    /// Readable when `input` or `signal` have news.
    fn wake_fd(&self) -> Option<std::os::fd::RawFd>;
    /// From now on a job may run on the host: a signal must stop it there.
    fn arm(&mut self) {}
    /// `--pin` took this pin (before the job starts).
    fn pinned(&mut self, _host: &str, _pin: &Pin) {}
}

/// How a launched job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    /// The pin taken with `--pin`.
    pub pin: Option<Pin>,
    /// The release it ran on when relman knows it (`--release`, `--pin`).
    pub release: Option<String>,
    pub end: StreamEnd,
    /// The first signal relman received (the job was stopped because of it).
    pub interrupted: Option<i32>,
}

impl Launched {
    /// relman's exit code: the job's status as a shell would give it, or 128 + the
    /// signal relman itself was stopped by.
    pub fn exit_code(&self) -> i32 {
        match self.interrupted {
            Some(sig) => 128 + sig,
            None => status_code(&self.end),
        }
    }
}

/// A job's end as a shell says it: its exit status, or 128 + the signal's number.
/// A signal OpenSSH can't name (`…@openssh.com`) is 255, as `ssh` says.
pub fn status_code(end: &StreamEnd) -> i32 {
    match end {
        StreamEnd::Exited(n) => *n,
        StreamEnd::Signaled(name) => signal_number(name).map_or(255, |n| 128 + n),
    }
}

/// The Linux number of a signal named as SSH names it (`TERM`, `SIGTERM`).
pub fn signal_number(name: &str) -> Option<i32> {
    let n = name.strip_prefix("SIG").unwrap_or(name);
    if let Ok(num) = n.parse::<i32>() {
        return (1..=64).contains(&num).then_some(num);
    }
    Some(match n {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "XCPU" => 24,
        "XFSZ" => 25,
        "SYS" => 31,
        _ => return None,
    })
}

/// The scheduler's names for a run (Jenkins sets both), passed on to the launcher so
/// the ledger's `trigger` says which build ran the job (SPEC §7).
pub const TRIGGER_VARS: [&str; 2] = ["BUILD_TAG", "JOB_NAME"];

/// [`TRIGGER_VARS`] as relman's own environment has them (set and not empty).
pub fn trigger_env() -> Vec<(&'static str, String)> {
    TRIGGER_VARS
        .iter()
        .filter_map(|k| {
            let v = std::env::var(k).ok().filter(|v| !v.is_empty())?;
            Some((*k, v))
        })
        .collect()
}

/// The command line for the SSH user's login shell (see the module's doc); `env`
/// ([`trigger_env`]) goes to the launcher as quoted assignments.
pub fn wrapper_command(
    host: &HostConfig,
    release: Option<&str>,
    tail: Option<u16>,
    command: &[String],
    env: &[(&str, String)],
) -> Result<String, OpError> {
    if command.is_empty() {
        return Err(OpError::Invalid("launch needs a command after --".into()));
    }
    let q = |s: &str| quote(s).map_err(|e| OpError::Remote(RemoteError::from(e)));
    let launcher = format!("{}/{LAUNCHER_PATH}", host.root.trim_end_matches('/'));
    let mut assigns = String::new();
    for (k, v) in env {
        debug_assert!(TRIGGER_VARS.contains(k), "only known names reach the shell");
        assigns.push_str(&format!("{k}={} ", q(v)?));
    }
    let mut s = format!(
        "printf '{PID_MARK}%s\\n' \"$$\" >&2; L={}; [ -x \"$L\" ] || {{ printf '{NO_LAUNCHER_MARK}\\n' >&2; exit 127; }}; {assigns}exec \"$L\"",
        q(&launcher)?
    );
    if let Some(r) = release {
        s.push_str(" --release ");
        s.push_str(&q(r)?);
    }
    if let Some(n) = tail {
        if !(1..=TAIL_MAX).contains(&n) {
            return Err(OpError::Invalid(format!(
                "--tail {n}: give a number of lines, 1-{TAIL_MAX}"
            )));
        }
        s.push_str(&format!(" --tail {n}"));
    }
    s.push_str(" -- sh -c ");
    s.push_str(&q(&format!("printf '{STARTED_MARK}\\n' >&2; exec \"$@\""))?);
    s.push_str(" relman-job");
    for a in command {
        s.push(' ');
        s.push_str(&q(a)?);
    }
    Ok(s)
}

/// What the wrapper and the launcher said on stderr before the job started.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Preamble {
    buf: Vec<u8>,
    /// The job's pid (also its process group's id).
    pub pid: Option<u32>,
    pub started: bool,
    pub no_launcher: bool,
    /// Other lines (the launcher's `launch: ...` errors, a login shell's noise).
    pub lines: Vec<Vec<u8>>,
}

impl Preamble {
    /// Feeds stderr bytes that came before the start; returns the bytes after the
    /// `started` marker (the job's own stderr) once it has come.
    pub fn feed(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let text = &line[..i];
            if text == STARTED_MARK.as_bytes() {
                self.started = true;
                return Some(std::mem::take(&mut self.buf));
            } else if text == NO_LAUNCHER_MARK.as_bytes() {
                self.no_launcher = true;
            } else if let Some(pid) = text
                .strip_prefix(PID_MARK.as_bytes())
                .and_then(|p| std::str::from_utf8(p).ok())
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u32>().ok())
                .filter(|&p| p > 1 && self.pid.is_none())
            {
                self.pid = Some(pid);
            } else {
                self.lines.push(line);
            }
        }
        None
    }

    /// Everything that was not a marker, as it came (shown once the job starts).
    pub fn other_output(&self) -> Vec<u8> {
        let mut v: Vec<u8> = self.lines.concat();
        v.extend_from_slice(&self.buf);
        v
    }

    /// The last line that is not empty, printable, for an error message.
    pub fn last_line(&self) -> String {
        let all = String::from_utf8_lossy(&self.other_output()).into_owned();
        printable(
            all.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim(),
        )
    }
}

/// The shell command that sends `signal` (`TERM`, `KILL`, `PIPE`) to the job's
/// process group, or to the job alone where it leads none. `kill -SIG -PGID` is the
/// form dash, bash and busybox sh all take (dash refuses `--`).
pub fn kill_command(signal: &str, pid: u32) -> String {
    format!("kill -{signal} -{pid} 2>/dev/null || kill -{signal} {pid} 2>/dev/null; exit 0")
}

/// When to signal the job: the pure part of the signal path.
#[derive(Debug, Default)]
struct Stopper {
    /// The signal to send once the pid is known (or again, escalated).
    want: Option<&'static str>,
    sent: Option<&'static str>,
    term_at: Option<Instant>,
}

impl Stopper {
    fn request(&mut self, sig: &'static str) {
        // KILL wins; TERM again after TERM is nothing new.
        if self.want != Some("KILL") && self.sent != Some("KILL") && self.sent != Some(sig) {
            self.want = Some(sig);
        }
    }

    fn next(&mut self, pid: Option<u32>, now: Instant) -> Option<String> {
        if let Some(t) = self.term_at {
            if now.duration_since(t) >= KILL_AFTER {
                self.term_at = None;
                self.request("KILL");
            }
        }
        let pid = pid?;
        let sig = self.want.take()?;
        self.sent = Some(sig);
        if sig != "KILL" && self.term_at.is_none() {
            self.term_at = Some(now);
        }
        Some(kill_command(sig, pid))
    }
}

/// The adapter between the transport's stream and relman's [`Local`] end.
struct Pump<'a> {
    local: &'a mut dyn Local,
    pre: Preamble,
    stop: Stopper,
    interrupted: Option<i32>,
    stdout_closed: bool,
}

impl Stream for Pump<'_> {
    fn input(&mut self) -> Option<Vec<u8>> {
        if !self.pre.started {
            return Some(Vec::new());
        }
        self.local.input()
    }

    fn stdout(&mut self, data: &[u8]) {
        if self.stdout_closed {
            return;
        }
        if self.local.stdout(data).is_err() {
            self.stdout_closed = true;
            self.stop.request("PIPE");
        }
    }

    fn stderr(&mut self, data: &[u8]) {
        if self.pre.started {
            self.local.stderr(data);
        } else if let Some(rest) = self.pre.feed(data) {
            let before = self.pre.other_output();
            if !before.is_empty() {
                self.local.stderr(&before);
            }
            if !rest.is_empty() {
                self.local.stderr(&rest);
            }
        }
    }

    fn side_command(&mut self) -> Option<String> {
        while let Some(sig) = self.local.signal() {
            if self.interrupted.is_none() {
                self.interrupted = Some(sig);
                self.stop.request("TERM");
            } else {
                self.stop.request("KILL");
            }
        }
        self.stop.next(self.pre.pid, Instant::now())
    }

    fn wake_fd(&self) -> Option<std::os::fd::RawFd> {
        self.local.wake_fd()
    }
}

/// `relman launch` on one host: pins first with `--pin` (as `resolve --pin`, in one
/// locked step), installs the launcher if the host has none yet (under the lock), then
/// runs the job and waits for it. Errors are relman's own (the job did not start, or
/// the connection broke); a job that ran, whatever its status, is `Ok`.
pub fn launch(
    t: &dyn Transport,
    host: &HostConfig,
    req: &LaunchRequest,
    local: &mut dyn Local,
) -> Result<Launched, OpError> {
    let mut pin = None;
    let release = match (req.release, req.pin) {
        (Some(_), Some(_)) => {
            return Err(OpError::Invalid(
                "--release and --pin exclude each other (--pin runs on the live release)".into(),
            ));
        }
        (Some(r), None) => {
            // A name, or `<root>/<name>` as `resolve` prints it (the launcher checks
            // that the path's directory is its root).
            let name = if r.starts_with('/') {
                r.rsplit('/').next().unwrap_or_default()
            } else {
                r
            };
            release_arg(host, name).map_err(|_| {
                OpError::Conflict(format!(
                    "{}: not a release of {} (a name like {}YYYYMMDDHHMMSS, or its absolute path)",
                    printable(r),
                    host.name,
                    host.prefix
                ))
            })?;
            Some(r.to_string())
        }
        (None, Some(p)) => {
            let r = super::pin::resolve_full(t, host, Some(p))?;
            if let Some(p) = &r.pin {
                local.pinned(&host.name, p);
            }
            pin = r.pin;
            Some(r.release)
        }
        (None, None) => None,
    };
    let command = wrapper_command(
        host,
        release.as_deref(),
        req.tail,
        req.command,
        &trigger_env(),
    )?;
    let mut installed = false;
    local.arm();
    loop {
        let mut pump = Pump {
            local: &mut *local,
            pre: Preamble::default(),
            stop: Stopper::default(),
            interrupted: None,
            stdout_closed: false,
        };
        let end = t.stream(&command, &mut pump).map_err(|e| match e {
            e @ RemoteError::Session(_) if pump.pre.started || pump.pre.pid.is_some() => {
                OpError::Failed(format!(
                    "the connection broke while the job ran ({e}); it may still be running \
                     there: look with `relman list`"
                ))
            }
            e => e.into(),
        })?;
        tracing::info!(
            host = %host.name,
            release = release.as_deref().unwrap_or("(live)"),
            started = pump.pre.started,
            pid = pump.pre.pid,
            interrupted = pump.interrupted,
            end = ?end,
            "launch ended"
        );
        if pump.pre.started || pump.interrupted.is_some() {
            return Ok(Launched {
                pin,
                release,
                end,
                interrupted: pump.interrupted,
            });
        }
        if pump.pre.no_launcher && end == StreamEnd::Exited(127) && !installed {
            // A host relman never changed: install the launcher (under the lock, as
            // every change) and try once more.
            let lock = acquire(t, host, Action::Launch)?;
            ensure_launcher(t, host, &lock)?;
            drop(lock);
            installed = true;
            continue;
        }
        if req.tail.is_some()
            && end == StreamEnd::Exited(2)
            && !installed
            && pump
                .pre
                .last_line()
                .starts_with("launch: unknown option --tail")
        {
            // A launcher from before `--tail` (relman was upgraded, the host not
            // changed since): brought up to date, as every change of relman's does.
            let lock = acquire(t, host, Action::Launch)?;
            ensure_launcher(t, host, &lock)?;
            drop(lock);
            installed = true;
            continue;
        }
        return Err(not_started(host, &pump.pre, &end));
    }
}

/// Why the job did not start, with the exit code the launcher's status stands for
/// (its own failures: 2 bad arguments, 5 release missing, 1 anything else).
fn not_started(host: &HostConfig, pre: &Preamble, end: &StreamEnd) -> OpError {
    let said = pre.last_line();
    let launcher = format!("{}/{LAUNCHER_PATH}", host.root.trim_end_matches('/'));
    match end {
        _ if pre.no_launcher => OpError::Failed(format!(
            "{launcher} is missing on the host and could not be installed"
        )),
        // 2: the launcher refused the --release relman passed (not a release of its
        // root); 5: the release is gone. Either way the release is the problem.
        StreamEnd::Exited(2 | 5) if said.starts_with("launch:") => OpError::Conflict(said),
        StreamEnd::Exited(_) if said.starts_with("launch:") => OpError::Failed(said),
        StreamEnd::Exited(n) => OpError::Failed(format!(
            "the job did not start (exit {n}){}",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )),
        StreamEnd::Signaled(s) => OpError::Failed(format!(
            "the job's launcher was killed by SIG{s} before the job started"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn host() -> HostConfig {
        HostConfig::local("h", "deploy")
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn statuses_read_as_a_shell_says_them() {
        assert_eq!(status_code(&StreamEnd::Exited(0)), 0);
        assert_eq!(status_code(&StreamEnd::Exited(42)), 42);
        assert_eq!(status_code(&StreamEnd::Signaled("TERM".into())), 143);
        assert_eq!(status_code(&StreamEnd::Signaled("KILL".into())), 137);
        assert_eq!(status_code(&StreamEnd::Signaled("SIGINT".into())), 130);
        assert_eq!(status_code(&StreamEnd::Signaled("PIPE".into())), 141);
        assert_eq!(
            status_code(&StreamEnd::Signaled("34".into())),
            162,
            "local: by number"
        );
        assert_eq!(
            status_code(&StreamEnd::Signaled("STKFLT@openssh.com".into())),
            255
        );
        let l = Launched {
            pin: None,
            release: None,
            end: StreamEnd::Signaled("TERM".into()),
            interrupted: Some(2),
        };
        assert_eq!(l.exit_code(), 130, "relman's own signal wins");
    }

    #[test]
    fn the_preamble_finds_its_markers_and_keeps_the_rest() {
        let mut p = Preamble::default();
        assert_eq!(p.feed(b"relman-launch: pid 4242\nlaunch: warn"), None);
        assert_eq!(p.pid, Some(4242));
        assert_eq!(
            p.feed(b"ing\nrelman-launch: started\njob \x00bytes"),
            Some(b"job \x00bytes".to_vec())
        );
        assert!(p.started);
        assert_eq!(p.other_output(), b"launch: warning\n");
        let mut p = Preamble::default();
        p.feed(b"relman-launch: pid 1\nrelman-launch: pid 12x\nrelman-launch: no launcher\n");
        assert_eq!(p.pid, None, "pid 1 and junk are refused");
        assert!(p.no_launcher);
        assert_eq!(p.last_line(), "relman-launch: pid 12x");
    }

    #[test]
    fn the_stopper_terms_then_kills() {
        let mut s = Stopper::default();
        let t0 = Instant::now();
        s.request("TERM");
        assert_eq!(s.next(None, t0), None, "no pid yet: wait for it");
        let first = s.next(Some(77), t0).unwrap();
        assert!(first.starts_with("kill -TERM -77 "), "{first}");
        assert_eq!(s.next(Some(77), t0 + Duration::from_secs(1)), None);
        s.request("TERM");
        assert_eq!(
            s.next(Some(77), t0 + Duration::from_secs(2)),
            None,
            "TERM once"
        );
        let kill = s.next(Some(77), t0 + KILL_AFTER).unwrap();
        assert!(kill.starts_with("kill -KILL -77 "), "{kill}");
        s.request("TERM");
        assert_eq!(s.next(Some(77), t0 + KILL_AFTER * 3), None);
    }

    #[test]
    fn kill_commands_work_in_every_shell() {
        use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
        for sh in [&["sh"][..], &["dash"], &["bash"], &["busybox", "sh"]] {
            // A job leading a process group of its own, as sshd starts it.
            let mut job = Command::new("sleep")
                .arg("30")
                .process_group(0)
                .spawn()
                .unwrap();
            let out = Command::new(sh[0])
                .args(&sh[1..])
                .arg("-c")
                .arg(kill_command("TERM", job.id()))
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{sh:?}");
            let st = job.wait().unwrap();
            assert_eq!(
                st.signal(),
                Some(15),
                "{sh:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn the_wrapper_is_shellcheck_clean() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("wrapper.sh");
        let cmd = wrapper_command(
            &host(),
            Some("batch_20261126221500"),
            Some(20),
            &args(&["java", "-jar", "a b"]),
            &[("BUILD_TAG", "jenkins-nightly-7".into())],
        )
        .unwrap();
        std::fs::write(&f, format!("{cmd}\n")).unwrap();
        let out = Command::new("shellcheck")
            .args(["-s", "sh"])
            .arg(&f)
            .output()
            .expect("shellcheck (tests/run.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    #[test]
    fn the_tail_goes_to_the_launcher_before_the_command() {
        let cmd = wrapper_command(&host(), None, Some(30), &args(&["--tail"]), &[]).unwrap();
        let at = cmd
            .find(" --tail 30 -- sh -c ")
            .unwrap_or_else(|| panic!("{cmd}"));
        assert!(cmd[at + 10..].ends_with(" relman-job '--tail'"), "{cmd}");
        assert!(
            !wrapper_command(&host(), None, None, &args(&["x"]), &[])
                .unwrap()
                .contains("--tail")
        );
        for bad in [0, 201] {
            let e = wrapper_command(&host(), None, Some(bad), &args(&["x"]), &[]).unwrap_err();
            assert!(e.to_string().contains("1-200"), "{e}");
        }
    }

    /// A stand-in launcher at `<dir>/deploy/.relman/bin/launch` running `body`.
    fn fake_launcher(body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("deploy/.relman/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("launch");
        std::fs::write(&fake, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, fake)
    }

    /// The wrapper through a real sh, with a stand-in launcher that prints its
    /// arguments: every argument arrives verbatim, none is interpreted.
    #[test]
    fn the_wrapper_passes_arguments_verbatim() {
        let (dir, fake) = fake_launcher("for a in \"$@\"; do printf '[%s]' \"$a\"; done");
        let hostile = [
            "a b",
            "'q'",
            "$(touch x)",
            "`id`",
            "l1\nl2",
            "\"",
            "*",
            "-n",
        ];
        let cmd = wrapper_command(
            &host(),
            Some("batch_20261126221500"),
            None,
            &args(&hostile),
            &[],
        )
        .unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&out.stdout);
        let mut want = String::from("[--release][batch_20261126221500][--][sh][-c]");
        want.push_str(&format!(
            "[printf '{STARTED_MARK}\\n' >&2; exec \"$@\"][relman-job]"
        ));
        for a in hostile {
            want.push_str(&format!("[{a}]"));
        }
        assert_eq!(got, want);
        assert!(!dir.path().join("x").exists());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(PID_MARK), "{err}");
        // No launcher: the marker and 127.
        std::fs::remove_file(&fake).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(127));
        assert!(String::from_utf8_lossy(&out.stderr).contains(NO_LAUNCHER_MARK));
    }

    /// The scheduler's BUILD_TAG and JOB_NAME reach the launcher's environment as data
    /// (the ledger's `trigger`), whatever they hold.
    #[test]
    fn the_trigger_reaches_the_launcher_as_data() {
        let (dir, _fake) =
            fake_launcher("printf '[%s][%s]' \"${BUILD_TAG-unset}\" \"${JOB_NAME-unset}\"");
        let tag = "jenkins-x-'q'-$(touch y)-`id`";
        let env = [("BUILD_TAG", tag.to_string()), ("JOB_NAME", "a b".into())];
        for (env, want) in [
            (&env[..], format!("[{tag}][a b]")),
            (&[][..], "[unset][unset]".to_string()),
        ] {
            let cmd = wrapper_command(&host(), None, None, &args(&["true"]), env).unwrap();
            let out = Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .current_dir(dir.path())
                .env_remove("BUILD_TAG")
                .env_remove("JOB_NAME")
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), want);
        }
        assert!(!dir.path().join("y").exists());
    }
}
