//! The SSH transport (ssh2/libssh2): one authenticated connection per host for
//! `exec`, a connection of its own for each `spawn`ed process, host keys checked
//! against known_hosts before authentication, and the helpers `relman trust` uses
//! (`host_key`, `append_known_host`).
//!
//! - `keys`: pure helpers (fingerprints, known_hosts lines, encrypted key files);
//! - `session`: opening a connection (TCP, handshake, host key, auth);
//! - `jump`: ProxyJump through one jump host, one shared session per jump host;
//! - `backoff`: not waiting for a connect timeout at every refresh of a host that is down;
//! - `pump`: moving bytes on a non-blocking session without window deadlocks;
//! - `shell`: the session shell, one `sh` per connection that runs script after script.
//!
//! Sessions last: one `SshTransport` keeps its connection across any number of
//! `exec`s (one handshake), sends SSH keepalives while it waits, and replaces a
//! connection found broken at the next `exec` by itself.

mod backoff;
mod conn;
mod jump;
mod keys;
mod proxy;
mod pump;
mod session;
mod shell;
mod stream;

use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{ExecOutput, Process, RemoteError, Stream, StreamEnd, Transport};
use crate::config::{Config, HostConfig};
use conn::{Conn, Target};
use pump::ExecError;

pub use keys::fingerprint_sha256;

/// A host reached over SSH. Commands run one at a time on one connection; a
/// connection found broken is replaced at the next `exec` (a command is retried on
/// the new connection only if it could not have started on the old one).
pub struct SshTransport {
    target: Target,
    conn: Mutex<Option<Live>>,
    handshakes: AtomicU64,
}

/// The connection commands run on, and its session shell once started.
struct Live {
    /// Declared first: its channel goes before the session.
    shell: Option<shell::Shell>,
    conn: Conn,
}

impl Live {
    fn new(conn: Conn) -> Self {
        Live { shell: None, conn }
    }
}

impl SshTransport {
    /// Connects, checks the host key against `cfg.known_hosts` (refusing an unknown
    /// or changed key before anything is sent), and authenticates.
    pub fn connect(cfg: &Config, host: &HostConfig) -> Result<SshTransport, RemoteError> {
        raise_fd_limit();
        let target = Target::from_config(cfg, host)?;
        let handshakes = AtomicU64::new(0);
        let conn = session::open(&target, &handshakes)?;
        Ok(SshTransport {
            target,
            conn: Mutex::new(Some(Live::new(conn))),
            handshakes,
        })
    }

    fn open(&self) -> Result<Conn, RemoteError> {
        session::open(&self.target, &self.handshakes)
    }
}

impl Transport for SshTransport {
    // The host's name in the config (not its address), as the trait says.
    #[allow(clippy::misnamed_getters)]
    fn host(&self) -> &str {
        &self.target.name
    }

    fn exec(
        &self,
        command: &str,
        stdin: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ExecOutput, RemoteError> {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let limit = self.target.op_timeout();
        let (live, reused) = match guard.take() {
            Some(l) => (l, true),
            None => (Live::new(self.open()?), false),
        };
        let stall = || pump::Stall::new(&self.target.label(), self.target.stall);
        let result = match pump::exec(&live.conn, command, stdin, progress, limit, stall()) {
            // An idle connection may have died (host rebooted, sshd restarted, NAT
            // timeout): the command never started, so a fresh connection may run it.
            Err(ExecError::NotStarted(_)) if reused => {
                drop(live);
                let live = Live::new(self.open()?);
                let r = pump::exec(&live.conn, command, stdin, progress, limit, stall());
                (live, r)
            }
            r => (live, r),
        };
        match result {
            (live, Ok(out)) => {
                *guard = Some(live);
                Ok(out)
            }
            // The connection's state is unknown after a failure: the next exec
            // starts on a new one.
            (_conn, Err(e)) => Err(e.into_inner()),
        }
    }

    fn exec_all(
        &self,
        jobs: &mut [(&str, &mut dyn Read)],
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<ExecOutput>, RemoteError> {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let limit = self.target.op_timeout();
        let (live, reused) = match guard.take() {
            Some(l) => (l, true),
            None => (Live::new(self.open()?), false),
        };
        let stall = || pump::Stall::new(&self.target.label(), self.target.stall);
        let result = match pump::exec_all(&live.conn, jobs, progress, limit, stall()) {
            // As for `exec`: no command started on an idle connection found dead.
            Err(ExecError::NotStarted(_)) if reused => {
                drop(live);
                let live = Live::new(self.open()?);
                let r = pump::exec_all(&live.conn, jobs, progress, limit, stall());
                (live, r)
            }
            r => (live, r),
        };
        match result {
            (live, Ok(outs)) => {
                *guard = Some(live);
                Ok(outs)
            }
            (_conn, Err(e)) => Err(e.into_inner()),
        }
    }

    fn run_script(&self, script: &str) -> Result<ExecOutput, RemoteError> {
        if !shell::enabled() {
            return self.exec("sh -s", &mut script.as_bytes(), &mut |_| {});
        }
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut live, reused) = match guard.take() {
            Some(l) => (l, true),
            None => (Live::new(self.open()?), false),
        };
        let result = match in_shell(&mut live, script, &self.target) {
            // As for `exec`: the connection (or its shell) died while idle, and the
            // script was not sent; a fresh connection may run it.
            Err(ExecError::NotStarted(_)) if reused => {
                drop(live);
                live = Live::new(self.open()?);
                in_shell(&mut live, script, &self.target)
            }
            r => r,
        };
        match result {
            Ok(out) => {
                *guard = Some(live);
                Ok(out)
            }
            // Unknown state after a failure: the next command starts afresh.
            Err(e) => Err(e.into_inner()),
        }
    }

    fn warm(&self) -> Result<(), RemoteError> {
        if !shell::enabled() {
            return Ok(());
        }
        self.run_script("{\n:\n}\n").map(|_| ())
    }

    fn spawn(&self, command: &str) -> Result<Box<dyn Process>, RemoteError> {
        let conn = self.open()?;
        let p = pump::SshProcess::start(
            conn,
            command,
            self.target.op_timeout(),
            &self.target.label(),
            self.target.stall,
        )?;
        Ok(Box::new(p))
    }

    fn into_spawn(self: Box<Self>, command: &str) -> Result<Box<dyn Process>, RemoteError> {
        let (limit, label, stall) = (
            self.target.op_timeout(),
            self.target.label(),
            self.target.stall,
        );
        let idle = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let p = match idle {
            Some(live) => {
                match pump::SshProcess::try_start(live.conn, command, limit, &label, stall) {
                    Ok(p) => p,
                    // As for `exec`: an idle connection may have died before the command
                    // started; a fresh one may run it.
                    Err(ExecError::NotStarted(_)) => {
                        pump::SshProcess::start(self.open()?, command, limit, &label, stall)?
                    }
                    Err(e) => return Err(e.into_inner()),
                }
            }
            None => pump::SshProcess::start(self.open()?, command, limit, &label, stall)?,
        };
        Ok(Box::new(p))
    }

    fn stream(&self, command: &str, io: &mut dyn Stream) -> Result<StreamEnd, RemoteError> {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let limit = self.target.op_timeout();
        // The session shell (if any) goes: a streamed job takes the connection.
        let (conn, reused) = match guard.take() {
            Some(l) => (l.conn, true),
            None => (self.open()?, false),
        };
        // The caller says what a broken connection means for its job.
        let plain = |e: ExecError| match e {
            ExecError::NotStarted(e) | ExecError::Started(e) => e,
        };
        match stream::stream(&conn, command, io, limit) {
            // A connection that died while idle: the job never started.
            Err(ExecError::NotStarted(_)) if reused => {
                drop(conn);
                let conn = self.open()?;
                stream::stream(&conn, command, io, limit).map_err(plain)
            }
            r => r.map_err(plain),
        }
    }

    fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }
}

/// Runs a script in `live`'s session shell, starting the shell first if needed.
fn in_shell(live: &mut Live, script: &str, target: &Target) -> Result<ExecOutput, ExecError> {
    let mut sh = match live.shell.take() {
        Some(sh) => sh,
        None => shell::Shell::start(&live.conn, target.op_timeout())?,
    };
    let stall = pump::Stall::new(&target.label(), target.stall);
    let out = sh.run(&live.conn, script, stall)?;
    live.shell = Some(sh);
    Ok(out)
}

/// Raises this process's soft limit of open files to its hard limit, once: a lasting
/// session holds one descriptor (two more behind a jump host), and the usual soft
/// limit of 1024 would stop a console managing a thousand hosts. Failure is ignored
/// (the connection that hits the limit reports it).
fn raise_fd_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid out pointer for getrlimit, and a valid value for
        // setrlimit.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    });
}

/// A host's key as the server offers it, for `relman trust`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyInfo {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`...
    pub key_type: String,
    /// As OpenSSH prints it: `SHA256:` + unpadded base64.
    pub fingerprint: String,
    /// The line to append to known_hosts (`[host]:port` off port 22).
    pub known_hosts_line: String,
    /// `file:line` of an entry (user's or global known_hosts) that already holds
    /// exactly this key for this host.
    pub known_at: Option<String>,
    /// `file:line` of an `@revoked` entry for this key and host.
    pub revoked_at: Option<String>,
    /// known_hosts holds another key of this type for this host.
    pub changed: bool,
}

/// Connects and completes the handshake only (no host key check, no
/// authentication) and returns the key the host offers.
pub fn host_key(cfg: &Config, host: &HostConfig) -> Result<HostKeyInfo, RemoteError> {
    let target = Target::from_config(cfg, host)?;
    let lines = session::known_lines(&target)?;
    // The same algorithm preference as `connect`, so the key shown is the one
    // `connect` will be offered.
    let (conn, key) = session::handshake(&target, &AtomicU64::new(0), Some(&lines))?;
    let name = keys::known_hosts_name(&target.host, target.port);
    Ok(HostKeyInfo {
        known_at: session::known_at(&conn.session, &lines, &name, &key.blob),
        revoked_at: session::revoked_at(&conn.session, &lines, &name, &key.blob),
        changed: session::key_changed(&conn.session, &lines, &name, &key),
        known_hosts_line: keys::known_hosts_line(
            &target.host,
            target.port,
            &key.key_type,
            &key.blob,
        ),
        key_type: key.key_type,
        fingerprint: format!("SHA256:{}", key.fingerprint),
    })
}

/// Appends one line to a known_hosts file (created, with its directory, if
/// missing). The file is never rewritten: comments and other entries stay as they are.
pub fn append_known_host(path: &Path, line: &str) -> io::Result<()> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.contains('\n') || line.trim().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a known_hosts entry is exactly one non-empty line",
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // A file whose last line lacks its newline would glue our entry onto it.
    let needs_newline = match std::fs::read(path) {
        Ok(b) => b.last().is_some_and(|&c| c != b'\n'),
        Err(_) => false,
    };
    let mut text = String::with_capacity(line.len() + 2);
    if needs_newline {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    f.write_all(text.as_bytes())?;
    f.sync_all()
}
