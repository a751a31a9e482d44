//! The remote side: how relman reaches a host (`Transport`, over SSH or locally),
//! the shell scripts it runs there, and the strict parser for what they print.

pub mod local;
pub mod quote;
pub mod script;
pub mod ssh;
pub mod wire;

use std::io::{self, Read};

use crate::config::{Address, Config, HostConfig};
use script::Script;

/// What went wrong reaching or talking to a host.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot connect to {addr}: {msg}")]
    Connect { addr: String, msg: String },
    #[error(
        "host key of {host} is unknown (not in {known_hosts}); its fingerprint is SHA256:{fingerprint}. \
         Check it, then run `relman trust --host {name}`"
    )]
    UnknownHostKey {
        name: String,
        host: String,
        known_hosts: String,
        fingerprint: String,
    },
    #[error(
        "HOST KEY CHANGED for {host}: {known_hosts} has another key; the host now offers SHA256:{fingerprint}. \
         Refused: this may be an attack. Fix known_hosts by hand if the change is expected"
    )]
    ChangedHostKey {
        host: String,
        known_hosts: String,
        fingerprint: String,
    },
    #[error(
        "host key of {host} is known in {known_hosts} only under another key type; the host offers {key_type} \
         SHA256:{fingerprint}. Refused: run `relman trust --host {name}` if the new key is right"
    )]
    HostKeyTypeMismatch {
        name: String,
        host: String,
        known_hosts: String,
        key_type: String,
        fingerprint: String,
    },
    #[error(
        "REVOKED HOST KEY DETECTED for {host}: its {key_type} key SHA256:{fingerprint} is marked @revoked \
         in {at}. Refused: a stolen key may be used to impersonate this host"
    )]
    RevokedHostKey {
        host: String,
        key_type: String,
        fingerprint: String,
        at: String,
    },
    #[error(
        "host key of {host} is not in known_hosts; {at} trusts a @cert-authority for it, but relman cannot \
         verify host certificates (libssh2 does not), so the host's plain key {key} \
         is unknown. Check that fingerprint (e.g. `ssh-keygen -lf` of the host's public key), then run \
         `relman trust --host {name}` to add the plain key"
    )]
    CertAuthorityHost {
        name: String,
        host: String,
        at: String,
        /// `type SHA256:fingerprint`.
        key: String,
    },
    #[error("authentication failed for {user}@{host}: {detail}")]
    Auth {
        user: String,
        host: String,
        detail: String,
    },
    #[error("{what} timed out after {secs}s")]
    Timeout { what: String, secs: u64 },
    /// A started command moved no byte for `stall_timeout`: a frozen host or network
    /// (TCP and keepalives alone don't show it). Not "unreachable": the command may
    /// have done part of its work.
    #[error(
        "{host} went silent: no byte for {silent} while {what} (stall_timeout); relman gave up \
         on it (a lock it held there ends with the connection): run `relman list` to see the host's state"
    )]
    Stalled {
        host: String,
        what: String,
        silent: String,
    },
    #[error("ssh: {0}")]
    Session(String),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("cannot pass to a shell: {0}")]
    Quote(#[from] quote::NulByte),
}

impl RemoteError {
    /// True for errors that mean "the host could not be reached or refused us" (exit code 3).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            RemoteError::Connect { .. }
                | RemoteError::UnknownHostKey { .. }
                | RemoteError::ChangedHostKey { .. }
                | RemoteError::HostKeyTypeMismatch { .. }
                | RemoteError::RevokedHostKey { .. }
                | RemoteError::CertAuthorityHost { .. }
                | RemoteError::Auth { .. }
                | RemoteError::Timeout { .. }
        )
    }
}

/// The result of one remote command.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    /// Exit status; `None` when the command was killed by a signal.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The last non-empty line of stderr, for one-line error messages.
    pub fn stderr_line(&self) -> String {
        let s = String::from_utf8_lossy(&self.stderr);
        crate::model::printable(
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim(),
        )
    }
}

/// A long-lived remote command with a line-oriented stdin/stdout (the lock holder).
/// Dropping it closes its stdin; the remote side then ends.
pub trait Process: Send {
    /// Reads one line of stdout (without the newline); `None` at end of output.
    fn read_line(&mut self) -> io::Result<Option<String>>;
    /// Writes to the command's stdin and flushes.
    fn write_all(&mut self, data: &[u8]) -> io::Result<()>;
    /// The command may stay silent for `extra` beyond `stall_timeout` before its next
    /// line (it waits for something on the host by design: another lock).
    fn allow_silence(&mut self, _extra: std::time::Duration) {}
}

/// The local end of a streamed command ([`Transport::stream`]): where its output goes,
/// where its input comes from, and what to run beside it (a `kill`). Every call must
/// return at once (no blocking on relman's own stdin: read it on a thread).
pub trait Stream {
    /// The next piece of input for the command: `Some(bytes)` (empty: nothing now),
    /// `None` once the input has ended (the command then gets EOF).
    fn input(&mut self) -> Option<Vec<u8>>;
    /// Bytes the command wrote to its stdout, as they come.
    fn stdout(&mut self, data: &[u8]);
    /// Bytes the command wrote to its stderr, as they come.
    fn stderr(&mut self, data: &[u8]);
    /// A short command to run now beside the streamed one, on the same connection
    /// (the signal path: `kill -TERM -PGID`). Its output is dropped.
    fn side_command(&mut self) -> Option<String>;
    /// A descriptor that becomes readable when `input` or `side_command` have
    /// something new (a wake-up pipe), so the pump can sleep on the socket and on it.
    fn wake_fd(&self) -> Option<std::os::fd::RawFd>;
}

/// How a streamed command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// It exited with this status.
    Exited(i32),
    /// It was killed by this signal (the name without `SIG`: `TERM`, `KILL`...).
    Signaled(String),
}

/// How relman runs commands on one host. Implemented over SSH (`ssh`) and on this
/// machine (`local`); every operation goes through these two calls only.
pub trait Transport: Send + Sync {
    /// The host's name in the config.
    fn host(&self) -> &str;

    /// Runs `command` (a shell command line, parsed by the host's shell with the SSH
    /// user's home as working directory), feeding it `stdin` to EOF. `progress` is called
    /// with the number of stdin bytes sent so far. Stdout and stderr are both drained,
    /// so a command that writes a lot to either cannot stall.
    fn exec(
        &self,
        command: &str,
        stdin: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ExecOutput, RemoteError>;

    /// Runs every command as [`exec`](Transport::exec) does, each fed its own stdin,
    /// at once where the transport can: over SSH each gets a channel of its own on
    /// the one connection (and so a window of its own: a deploy's upload lanes).
    /// `progress` gets the stdin bytes sent so far over all. Outputs in the
    /// commands' order; an error means the state of every command is unknown.
    fn exec_all(
        &self,
        jobs: &mut [(&str, &mut dyn Read)],
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<ExecOutput>, RemoteError> {
        let mut done = 0u64;
        let mut outs = Vec::new();
        for (command, stdin) in jobs.iter_mut() {
            let mut last = 0u64;
            outs.push(self.exec(command, stdin, &mut |n| {
                last = n;
                progress(done + n);
            })?);
            done += last;
        }
        Ok(outs)
    }

    /// Runs a rendered script (a `{ ... }` group, [`Script::render`]) in `sh -s` from
    /// the user's home, as [`exec`](Transport::exec) would with the script on stdin.
    /// Over SSH it runs in the connection's session shell (`ssh::shell`): no
    /// channel and no login shell of its own.
    fn run_script(&self, script: &str) -> Result<ExecOutput, RemoteError> {
        self.exec("sh -s", &mut script.as_bytes(), &mut |_| {})
    }

    /// Gets ready to run scripts (over SSH: starts the session shell, so its login
    /// shell's start-up can overlap with other work, such as taking the lock on a
    /// connection of its own). Nothing on the host changes; an error is for the next
    /// script to report.
    fn warm(&self) -> Result<(), RemoteError> {
        Ok(())
    }

    /// Starts `command` for as long as the returned handle lives. Its lifetime is
    /// independent of `exec` calls (over SSH it runs on a connection of its own), so a
    /// long upload can't starve it.
    fn spawn(&self, command: &str) -> Result<Box<dyn Process>, RemoteError>;

    /// [`spawn`](Transport::spawn) on this transport's own connection, which the
    /// process then owns: a transport opened beside another (in parallel with it)
    /// to hold a lock costs no handshake of its own after the first.
    fn into_spawn(self: Box<Self>, command: &str) -> Result<Box<dyn Process>, RemoteError> {
        self.spawn(command)
    }

    /// Runs `command` (a shell command line, as for `exec`) with its stdout and stderr
    /// streamed to `io` as they come and `io`'s input on its stdin, for as long as it
    /// runs (no stall limit: a job may be silent for hours), running `io`'s side
    /// commands beside it. For `relman launch`.
    fn stream(&self, command: &str, io: &mut dyn Stream) -> Result<StreamEnd, RemoteError> {
        let _ = (command, io);
        Err(RemoteError::Session(format!(
            "{}: this transport cannot stream a command",
            self.host()
        )))
    }

    /// How many SSH handshakes this transport has made (0 for `local`).
    fn handshakes(&self) -> u64 {
        0
    }
}

/// Runs a script with `sh -s` (the script goes on stdin: one round trip, nothing in
/// argv), through [`Transport::run_script`].
pub fn run(t: &dyn Transport, script: &Script) -> Result<ExecOutput, RemoteError> {
    t.run_script(&script.render()?)
}

/// A transport as [`open`] gives it.
pub type Opened = Result<Box<dyn Transport>, RemoteError>;

/// Two transports to one host, opened at once (two handshakes in parallel): an
/// operation's own, and the one its lock holder takes over
/// ([`Transport::into_spawn`]). Each says how its opening went.
pub fn open_two(cfg: &Config, host: &HostConfig) -> (Opened, Opened) {
    std::thread::scope(|s| {
        let other = s.spawn(|| open(cfg, host));
        let main = open(cfg, host);
        let other = other.join().unwrap_or_else(|_| {
            Err(RemoteError::Session(format!(
                "{}: opening the lock's connection failed unexpectedly",
                host.name
            )))
        });
        (main, other)
    })
}

/// Opens the transport for a configured host: `local` or SSH.
pub fn open(cfg: &Config, host: &HostConfig) -> Result<Box<dyn Transport>, RemoteError> {
    tracing::debug!(host = %host.name, address = ?host.address, "connecting");
    match &host.address {
        Address::Local => Ok(Box::new(local::LocalTransport::new(&host.name))),
        Address::Ssh { .. } => Ok(Box::new(ssh::SshTransport::connect(cfg, host)?)),
    }
}
