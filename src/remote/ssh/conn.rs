//! The SSH connection types every part of `ssh` shares, a leaf: `Target` (how to
//! reach a host, its jump hosts included), `Conn` (an open session), and libssh2's
//! error codes. `session` opens a `Conn`, `jump` reaches a host through a bastion,
//! `pump` and `stream` move bytes over one; all four import this, it imports none.

use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use ssh2::{ErrorCode, Session};

use super::proxy::ProxyChild;
use crate::config::{Address, Config, HostConfig, JumpHost};
use crate::remote::RemoteError;

// libssh2 error codes (libssh2.h) that change what we do.
pub(super) const ERR_TIMEOUT: i32 = -9;
pub(super) const ERR_SOCKET_SEND: i32 = -7;
pub(super) const ERR_SOCKET_DISCONNECT: i32 = -13;
pub(super) const ERR_FILE: i32 = -16;
pub(super) const ERR_AUTHENTICATION_FAILED: i32 = -18;
pub(super) const ERR_PUBLICKEY_UNVERIFIED: i32 = -19;
pub(super) const ERR_EAGAIN: i32 = -37;
pub(super) const ERR_SOCKET_RECV: i32 = -43;

pub(super) fn code(e: &ssh2::Error) -> Option<i32> {
    match e.code() {
        ErrorCode::Session(c) => Some(c),
        _ => None,
    }
}

/// Everything needed to (re)open a connection to one host.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identities: Vec<PathBuf>,
    pub known_hosts: PathBuf,
    /// The system-wide known_hosts, read after `known_hosts`.
    pub global_known_hosts: PathBuf,
    /// Offer only the configured identities (`IdentitiesOnly yes`).
    pub identities_only: bool,
    pub timeout: Duration,
    /// How long a started command may move no byte before it is given up
    /// (`stall_timeout`).
    pub stall: Duration,
    /// The user's home (from the config's environment), for the default keys.
    pub home: Option<PathBuf>,
    /// The jump host to go through, if any (ProxyJump).
    pub jump: Option<Jump>,
    /// The command to run the session over (ProxyCommand, tokens expanded), when
    /// there is no jump host.
    pub proxy_command: Option<String>,
}

impl Target {
    pub fn from_config(cfg: &Config, host: &HostConfig) -> Result<Target, RemoteError> {
        let Address::Ssh { host: address } = &host.address else {
            return Err(RemoteError::Session(format!(
                "{}: address is \"local\", not an SSH host",
                host.name
            )));
        };
        let jump = match &host.jump {
            Some(spec) => resolve_jump(cfg, &host.name, spec)?,
            None => None,
        };
        for (what, s) in [("address", address), ("user", &host.user)] {
            if s.is_empty() || s.contains('\0') {
                return Err(RemoteError::Session(format!(
                    "{}: invalid {what} {s:?}",
                    host.name
                )));
            }
        }
        Ok(Target {
            name: host.name.clone(),
            host: address.clone(),
            port: host.port,
            user: host.user.clone(),
            identities: host.identities.clone(),
            known_hosts: host.known_hosts(cfg).to_path_buf(),
            global_known_hosts: cfg.global_known_hosts.clone(),
            identities_only: cfg.identities_only || host.ssh.identities_only,
            timeout: cfg.connect_timeout.max(Duration::from_millis(1)),
            stall: cfg.stall_timeout.max(Duration::from_millis(1)),
            home: cfg.env.home.clone(),
            proxy_command: match (&jump, &host.ssh.proxy_command) {
                (None, Some(cmd)) => Some(crate::config::ssh_config::expand_proxy_command(
                    cmd, address, host.port, &host.user, &host.name,
                )),
                _ => None,
            },
            jump,
        })
    }

    /// What identifies this connection for the backoff and the bastion registry.
    pub fn key(&self) -> String {
        format!(
            "{}@{}\0{}\0{}\0{}",
            self.user,
            self.addr(),
            self.jump.as_ref().map_or("", |j| j.spec.as_str()),
            self.proxy_command.as_deref().unwrap_or(""),
            self.known_hosts.display()
        )
    }

    /// `host:port` (`[v6]:port`) for messages.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// How the host is named in messages: `name (host:port)`, plus
    /// ` via jump host J` behind a jump host.
    pub fn label(&self) -> String {
        match &self.jump {
            None if self.proxy_command.is_some() => {
                format!("{} ({} via ProxyCommand)", self.name, self.addr())
            }
            None => format!("{} ({})", self.name, self.addr()),
            Some(j) => format!("{} ({} via jump host {})", self.name, self.addr(), j.spec),
        }
    }

    /// The limit for one protocol round trip on an open session (opening a channel,
    /// starting a command): generous, since the host may be busy.
    pub fn op_timeout(&self) -> Duration {
        (self.timeout * 2).max(Duration::from_secs(30))
    }

    pub fn timeout_ms(&self) -> u32 {
        self.timeout.as_millis().clamp(1, u32::MAX as u128) as u32
    }
}

/// How a full connection is opened (`session::open`): given to `jump`, which opens
/// its bastions with it, so that `jump` needs nothing from `session`.
pub(super) type Open = fn(&Target, &AtomicU64) -> Result<Conn, RemoteError>;

/// An open SSH connection (authenticated unless made by `handshake` alone).
/// Dropping it says goodbye to the server, waiting at most 2 s.
pub(super) struct Conn {
    pub session: Session,
    /// The session's socket (owned by `session`), for `poll`.
    pub fd: RawFd,
    /// The shared session to the jump host this connection goes through (a
    /// `jump::Bastion`): held (not read) so it outlives `session`, which is dropped
    /// first (fields drop in order). Type-erased so this module needs no `jump`.
    #[allow(dead_code)]
    pub via: Option<Arc<dyn Send + Sync>>,
    /// The ProxyCommand the session runs over, killed after `session` is dropped.
    #[allow(dead_code)]
    pub proxy: Option<ProxyChild>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.session.set_blocking(true);
        self.session.set_timeout(2000);
        let _ = self
            .session
            .disconnect(None, "relman closes the connection", None);
    }
}

/// A host's ProxyJump: the value as written, its last hop (the bastion the target is
/// reached from) and the hops before it (the bastion's own way in), resolved.
#[derive(Debug, Clone)]
pub(super) struct Jump {
    pub spec: String,
    pub hop: JumpHost,
    /// The hops before `hop`, first hop first (empty for one jump host).
    pub before: Vec<JumpHost>,
}

impl Jump {
    /// The chain `hops` (first hop first); `None` when empty.
    pub fn chain(mut hops: Vec<JumpHost>) -> Option<Jump> {
        let hop = hops.pop()?;
        let spec = hops
            .iter()
            .chain(std::iter::once(&hop))
            .map(|h| h.spec.as_str())
            .collect::<Vec<_>>()
            .join(",");
        Some(Jump {
            spec,
            hop,
            before: hops,
        })
    }
}

/// The jump hosts configured for `host_name`, if any (`none` means none). A chain
/// `a,b` goes through `a` to reach `b`, and through `b` to reach the host, as `ssh -J
/// a,b` does: each hop's host key is checked under its own name.
pub(super) fn resolve_jump(
    cfg: &Config,
    host_name: &str,
    spec: &str,
) -> Result<Option<Jump>, RemoteError> {
    let spec = spec.trim();
    if spec.is_empty() || spec.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let hops = cfg
        .resolve_jump(spec)
        .map_err(|e| RemoteError::Session(format!("{host_name}: {e}")))?;
    Ok(Jump::chain(hops).map(|mut j| {
        j.spec = spec.to_string();
        j
    }))
}
