//! The host lock: an `flock` on `<root>/.relman/lock` held by a remote shell
//! (`scripts/lock.sh`) that lives as long as relman keeps feeding it heartbeats.
//!
//! Why a remote process and not a lock file with a pid: the kernel on the host
//! releases an flock the instant its holder dies, and the holder dies when relman's
//! connection closes (EOF on its stdin) or goes silent for 8 s (no heartbeat), so a
//! SIGKILLed relman or a dropped network can't leave a host locked. The holder
//! writes the owner (`by`, `action`, `since`, its pid, a random token) into the lock
//! file; every mutating script checks the token first, so a script never runs
//! under a lock its operation no longer holds.

use std::io::Read;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{OpError, now_rfc3339, operator};
use crate::config::HostConfig;
use crate::model::{Action, LockInfo};
use crate::remote::script::{LOCK, Script};
use crate::remote::{ExecOutput, Process, RemoteError, Transport};

/// How often the holder hears from relman; it gives up after 8 s of silence (three
/// missed beats), so the lock is free within SPEC's 10 s of the network going quiet.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long to wait for a lock another operation holds before reporting it (exit 4).
const WAIT_SECS: u32 = 3;
/// How long a new holder waits for the scripts of an operation whose relman died
/// (a remote command outlives its SSH session) before reporting the host busy.
const OPS_WAIT_SECS: u32 = 30;

/// A held host lock. Dropping it releases the lock (and waits until the holder is told).
pub struct HostLock {
    pub token: String,
    /// The root's real path on the host, as the holder saw it.
    pub root_abs: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for HostLock {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A random token naming one operation's hold of a lock.
pub fn token() -> String {
    let mut b = [0u8; 12];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if ok.is_err() {
        // Fall back to time and pid: unique enough to tell two operations apart.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b[..8].copy_from_slice(&(t as u64).to_le_bytes());
        b[8..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn json(s: &str) -> String {
    // A JSON string's Display cannot fail (unlike `serde_json::to_string`'s signature).
    serde_json::Value::String(s.to_string()).to_string()
}

/// "no space left on device on h1 (/srv/deploy): 0 B free", from a script's
/// `NOSPACE` answer (`free` in bytes, as df said).
pub fn no_space(host: &str, root: &str, free: &str) -> String {
    let free = match free.trim().parse::<u64>() {
        Ok(b) => crate::model::human_bytes(b),
        Err(_) => "nothing".to_string(),
    };
    format!(
        "no space left on device on {host} ({}): {free} free",
        crate::model::printable(root.trim())
    )
}

/// Takes the host's lock for `action`, creating the root and `.relman/` if needed.
/// Another holder → `OpError::Locked` naming it (exit 4) after a short wait.
pub fn acquire(t: &dyn Transport, host: &HostConfig, action: Action) -> Result<HostLock, OpError> {
    acquire_waiting(t, host, action, WAIT_SECS)
}

/// [`acquire`], waiting up to `wait_secs` for another holder to finish first.
pub fn acquire_waiting(
    t: &dyn Transport,
    host: &HostConfig,
    action: Action,
    wait_secs: u32,
) -> Result<HostLock, OpError> {
    let (lock, _) = hold(|c| t.spawn(c), t.host(), host, action, wait_secs, None)?;
    Ok(lock)
}

/// [`acquire`], and `then` run by the holder once it holds the lock, its output in
/// the lock's own answer (one round trip for both: the scan a change makes under
/// its lock). `then`'s output is what [`crate::remote::run`] would have given,
/// but for stderr: its last line only.
pub fn acquire_then(
    t: &dyn Transport,
    host: &HostConfig,
    action: Action,
    then: &Script,
) -> Result<(HostLock, ExecOutput), OpError> {
    hold_then(|c| t.spawn(c), t.host(), host, action, then)
}

/// [`acquire_then`] on a transport of its own (opened beside the operation's, in
/// parallel with it), whose connection the holder takes over: no handshake after
/// the operation's own before the lock is held.
pub fn acquire_then_on(
    t: Box<dyn Transport>,
    host: &HostConfig,
    action: Action,
    then: &Script,
) -> Result<(HostLock, ExecOutput), OpError> {
    let name = t.host().to_string();
    hold_then(|c| t.into_spawn(c), &name, host, action, then)
}

/// [`hold`] with a script to run under the lock.
fn hold_then(
    start: impl FnOnce(&str) -> Result<Box<dyn Process>, RemoteError>,
    host_name: &str,
    host: &HostConfig,
    action: Action,
    then: &Script,
) -> Result<(HostLock, ExecOutput), OpError> {
    let (lock, out) = hold(start, host_name, host, action, WAIT_SECS, Some(then))?;
    Ok((lock, out.unwrap_or_default()))
}

/// Starts the holder with `start`, reads its answer and, with `then`, the script's.
fn hold(
    start: impl FnOnce(&str) -> Result<Box<dyn Process>, RemoteError>,
    host_name: &str,
    host: &HostConfig,
    action: Action,
    wait_secs: u32,
    then: Option<&Script>,
) -> Result<(HostLock, Option<ExecOutput>), OpError> {
    let token = token();
    let owner = format!(
        "{{\"by\":{},\"action\":{},\"since\":{},\"token\":{},\"relman_pid\":{}",
        json(&operator()),
        json(action.as_str()),
        json(&now_rfc3339()),
        json(&token),
        std::process::id()
    );
    let then = then
        .map(Script::render)
        .transpose()
        .map_err(RemoteError::from)?;
    let script = Script::bare(LOCK)
        .param("ROOT", host.root.clone())
        .param("OWNER", owner)
        .param("WAIT", wait_secs.to_string())
        .param("OPS_WAIT", OPS_WAIT_SECS.to_string())
        .param("THEN", if then.is_some() { "1" } else { "0" })
        .render()
        .map_err(RemoteError::from)?;
    let command = format!(
        "sh -c {}",
        crate::remote::quote::quote(&script).map_err(RemoteError::from)?
    );
    let mut proc = start(&command)?;
    if let Some(text) = &then {
        // Before any heartbeat (lock.sh reads the length, then the text). A holder
        // that already ended (an error) has its answer waiting: read below.
        let _ = proc.write_all(format!("{}\n{text}", text.len()).as_bytes());
    }
    // lock.sh waits for another holder by design (flock -w): not a stall.
    proc.allow_silence(Duration::from_secs(u64::from(wait_secs + OPS_WAIT_SECS)));
    let line = proc.read_line().map_err(RemoteError::from)?;
    let line = line.unwrap_or_default();
    let mut f = line.splitn(2, '\t');
    match (f.next(), f.next()) {
        (Some("LOCKED"), Some(root_abs)) => {
            let root_abs = root_abs.to_string();
            let out = match then {
                Some(_) => Some(then_output(proc.as_mut(), host_name)?),
                None => None,
            };
            let (tx, rx) = mpsc::channel::<()>();
            let thread = thread::spawn(move || {
                // Until told to stop (or the sender is dropped): a newline every beat.
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(HEARTBEAT) {
                    if proc.write_all(b"\n").is_err() {
                        break;
                    }
                }
                drop(proc);
            });
            let lock = HostLock {
                token,
                root_abs,
                stop: Some(tx),
                thread: Some(thread),
            };
            Ok((lock, out))
        }
        (Some("BUSY"), rest) => {
            let info =
                serde_json::from_str::<LockInfo>(rest.unwrap_or("").trim()).unwrap_or(LockInfo {
                    by: "an unknown operator".into(),
                    action: "?".into(),
                    since: String::new(),
                    pid: None,
                    token: String::new(),
                });
            Err(OpError::Locked(info))
        }
        (Some("READONLY"), Some(root)) => Err(OpError::Failed(format!(
            "the root {} on {} is on a read-only file system: relman can lock and change \
             nothing there (remounted read-only after a disk error?)",
            crate::model::printable(root.trim()),
            host_name
        ))),
        (Some("NOSPACE"), Some(rest)) => {
            let (root, free) = rest.split_once('\t').unwrap_or((rest, ""));
            Err(OpError::Failed(no_space(host_name, root, free)))
        }
        (Some(e), rest) if e.starts_with("ERR") => Err(OpError::Failed(format!(
            "cannot lock: {}",
            crate::model::printable(format!("{} {}", &e[3..], rest.unwrap_or("")).trim())
        ))),
        _ => Err(OpError::Failed(format!(
            "cannot lock: unexpected answer {:?}",
            crate::model::printable(&line)
        ))),
    }
}

/// The output of the script the holder ran once locked, up to its `DONE` line.
fn then_output(proc: &mut dyn Process, host_name: &str) -> Result<ExecOutput, OpError> {
    let mut stdout = Vec::new();
    loop {
        let Some(line) = proc.read_line().map_err(RemoteError::from)? else {
            return Err(OpError::Failed(format!(
                "the lock holder on {host_name} ended before the script it ran under the lock"
            )));
        };
        if let Some(rest) = line.strip_prefix("DONE\t") {
            let (status, err) = rest.split_once('\t').unwrap_or((rest, ""));
            return Ok(ExecOutput {
                status: status.trim().parse().ok(),
                stdout,
                stderr: err.as_bytes().to_vec(),
            });
        }
        stdout.extend_from_slice(line.as_bytes());
        stdout.push(b'\n');
    }
}
