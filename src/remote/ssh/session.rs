//! Opening one SSH connection: TCP with a timeout (or a channel through the host's
//! jump host, see `jump`), the handshake, the host key checked against known_hosts
//! before anything else is sent, then authentication (ssh-agent, configured
//! identities, default keys). Attempts that failed slowly hold the next ones back
//! for a while (see `backoff`).

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ssh2::{CheckResult, KnownHostFileKind, MethodType, Session};

use super::backoff::{self, Outcome};
use super::conn::{
    Conn, ERR_AUTHENTICATION_FAILED, ERR_FILE, ERR_PUBLICKEY_UNVERIFIED, ERR_SOCKET_DISCONNECT,
    ERR_SOCKET_RECV, ERR_SOCKET_SEND, ERR_TIMEOUT, Target, code,
};
use super::jump;
use super::keys;
use super::proxy::ProxyChild;
use crate::remote::RemoteError;

/// The default keys OpenSSH tries, relative to `~/.ssh`.
const DEFAULT_KEYS: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// Interval of SSH-level keepalives on an authenticated session, in seconds.
const KEEPALIVE_SECS: u32 = 15;

/// What the server offered as its host key.
pub(super) struct OfferedKey {
    pub blob: Vec<u8>,
    pub key_type: String,
    /// Unpadded base64 SHA-256, without the `SHA256:` prefix.
    pub fingerprint: String,
}

/// TCP connect (each resolved address in turn, with the connect timeout), SSH
/// handshake; counts the handshake. With `verify`, the host key algorithms already
/// known for this host are preferred, as OpenSSH does.
pub(super) fn handshake(
    t: &Target,
    counter: &AtomicU64,
    known: Option<&[keys::KnownLine]>,
) -> Result<(Conn, OfferedKey), RemoteError> {
    let mut session = Session::new()
        .map_err(|e| RemoteError::Session(format!("cannot create an SSH session: {e}")))?;
    session.set_timeout(t.timeout_ms());
    if let Some(lines) = known {
        prefer_known_key_types(&session, t, lines);
    }
    let mut proxy = None;
    let (fd, via) = match &t.jump {
        None if t.proxy_command.is_some() => {
            let cmd = t.proxy_command.as_deref().unwrap_or_default();
            let (stream, child) = ProxyChild::spawn(cmd).map_err(|e| RemoteError::Connect {
                addr: t.addr(),
                msg: format!("cannot start ProxyCommand `{cmd}`: {e}"),
            })?;
            proxy = Some(child);
            let fd = stream.as_raw_fd();
            session.set_tcp_stream(stream);
            (fd, None)
        }
        None => {
            let tcp = tcp_connect(t)?;
            tune_socket(&tcp);
            let fd = tcp.as_raw_fd();
            session.set_tcp_stream(tcp);
            (fd, None)
        }
        Some(j) => {
            let (stream, bastion) = jump::connect(t, j, open)?;
            let fd = stream.as_raw_fd();
            session.set_tcp_stream(stream);
            (fd, Some(bastion as Arc<dyn Send + Sync>))
        }
    };
    if let Err(e) = session.handshake() {
        if let Some(p) = proxy.as_mut() {
            let said = p.said();
            let cmd = t.proxy_command.as_deref().unwrap_or_default();
            return Err(RemoteError::Connect {
                addr: t.label(),
                msg: format!(
                    "SSH handshake over ProxyCommand `{cmd}` failed: {}{}",
                    e.message(),
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!("; the command said: {said}")
                    }
                ),
            });
        }
        return Err(if code(&e) == Some(ERR_TIMEOUT) {
            RemoteError::Timeout {
                what: format!("SSH handshake with {}", t.label()),
                secs: t.timeout.as_secs(),
            }
        } else {
            RemoteError::Connect {
                addr: t.addr(),
                msg: format!("SSH handshake failed: {}", e.message()),
            }
        });
    }
    counter.fetch_add(1, Ordering::Relaxed);
    // From here on `fd` lives as long as `session`: Conn keeps them together.
    let conn = Conn {
        session,
        fd,
        via,
        proxy,
    };
    let (blob, _) = conn
        .session
        .host_key()
        .ok_or_else(|| RemoteError::Session(format!("{}: server sent no host key", t.label())))?;
    let blob = blob.to_vec();
    let key_type = keys::blob_key_type(&blob).ok_or_else(|| {
        RemoteError::Session(format!("{}: cannot read the server's host key", t.label()))
    })?;
    let fingerprint = keys::fingerprint_sha256(&blob);
    Ok((
        conn,
        OfferedKey {
            blob,
            key_type,
            fingerprint,
        },
    ))
}

/// A full connection: handshake, host key verified, authenticated, keepalive on.
/// Refused at once while a host that failed slowly is held back (see `backoff`).
pub(super) fn open(t: &Target, counter: &AtomicU64) -> Result<Conn, RemoteError> {
    let key = t.key();
    if let Some(msg) = backoff::check(&key) {
        return Err(RemoteError::Connect {
            addr: t.addr(),
            msg,
        });
    }
    let started = Instant::now();
    let r = open_now(t, counter);
    let outcome = match &r {
        Ok(_) => Outcome::Connected,
        Err(e @ (RemoteError::Connect { .. } | RemoteError::Timeout { .. })) => {
            let timed_out = matches!(e, RemoteError::Timeout { .. });
            if backoff::is_slow(started.elapsed(), t.timeout, timed_out) {
                Outcome::SlowFailure(e.to_string())
            } else {
                Outcome::FastFailure
            }
        }
        Err(_) => Outcome::FastFailure,
    };
    backoff::record(&key, outcome);
    r
}

fn open_now(t: &Target, counter: &AtomicU64) -> Result<Conn, RemoteError> {
    let lines = known_lines(t)?;
    let (conn, key) = handshake(t, counter, Some(&lines))?;
    verify_host_key(&conn.session, t, &lines, &key)?;
    authenticate(&conn.session, t)?;
    conn.session.set_keepalive(false, KEEPALIVE_SECS);
    Ok(conn)
}

fn tcp_connect(t: &Target) -> Result<TcpStream, RemoteError> {
    let err = |msg: String| RemoteError::Connect {
        addr: t.addr(),
        msg,
    };
    let addrs: Vec<SocketAddr> = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| err(format!("cannot resolve {}: {e}", t.host)))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, t.timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(err(match last {
        None => format!("{} resolves to no address", t.host),
        Some(e) if e.kind() == io::ErrorKind::TimedOut => {
            format!("no answer within {}", humantime::format_duration(t.timeout))
        }
        Some(e) => e.to_string(),
    }))
}

/// No Nagle (small packets are round trips here); TCP keepalive and a user timeout
/// so a peer that vanished is noticed even while a command is silent.
fn tune_socket(tcp: &TcpStream) {
    let _ = tcp.set_nodelay(true);
    #[cfg(target_os = "linux")]
    {
        let fd = tcp.as_raw_fd();
        let set = |level: libc::c_int, opt: libc::c_int, val: libc::c_int| {
            // SAFETY: fd is a valid socket for the duration of the call; the option
            // value is a plain int of the size given.
            unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    opt,
                    (&val as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        };
        set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
        set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 15);
        set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 5);
        set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 4);
        set(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 60_000);
    }
}

/// The known_hosts file's text; a missing file is an empty one (every key unknown).
pub(super) fn read_known_hosts(path: &Path) -> Result<String, RemoteError> {
    match std::fs::read(path) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(RemoteError::Session(format!(
            "cannot read known_hosts {}: {e}",
            path.display()
        ))),
    }
}

/// The entries of the user's known_hosts, then of the global one (as OpenSSH reads
/// them). The global file is optional: missing or unreadable, it adds nothing.
pub(super) fn known_lines(t: &Target) -> Result<Vec<keys::KnownLine>, RemoteError> {
    let user = t.known_hosts.display().to_string();
    let mut lines = keys::parse_known_hosts(&read_known_hosts(&t.known_hosts)?, &user);
    if t.global_known_hosts != t.known_hosts {
        if let Ok(text) = read_known_hosts(&t.global_known_hosts) {
            let global = t.global_known_hosts.display().to_string();
            lines.extend(keys::parse_known_hosts(&text, &global));
        }
    }
    Ok(lines)
}

/// libssh2's answer for one entry's text (marker removed) about `name` and `blob`.
fn check_one(session: &Session, text: &str, name: &str, blob: &[u8]) -> Option<CheckResult> {
    let mut kh = session.known_hosts().ok()?;
    kh.read_str(text, KnownHostFileKind::OpenSSH).ok()?;
    Some(kh.check(name, blob))
}

/// Whether a marked entry's host field names `name` (hashed fields through libssh2).
fn marked_line_names(session: &Session, l: &keys::KnownLine, name: &str) -> bool {
    match keys::hosts_field_matches(&l.hosts, name) {
        Some(m) => m,
        None => l.blob.as_deref().is_some_and(|b| {
            matches!(
                check_one(session, &l.text, name, b),
                Some(CheckResult::Match)
            )
        }),
    }
}

/// Where (`file:line`) the offered key is marked `@revoked` for this host, if it is.
pub(super) fn revoked_at(
    session: &Session,
    lines: &[keys::KnownLine],
    name: &str,
    blob: &[u8],
) -> Option<String> {
    lines
        .iter()
        .filter(|l| l.marker == keys::Marker::Revoked && l.blob.as_deref() == Some(blob))
        .find(|l| marked_line_names(session, l, name))
        .map(|l| l.source.clone())
}

/// Where (`file:line`) a plain entry already holds exactly this key for this host.
pub(super) fn known_at(
    session: &Session,
    lines: &[keys::KnownLine],
    name: &str,
    blob: &[u8],
) -> Option<String> {
    lines
        .iter()
        .filter(|l| l.marker == keys::Marker::Plain && l.blob.as_deref() == Some(blob))
        .find(|l| {
            matches!(
                check_one(session, &l.text, name, blob),
                Some(CheckResult::Match)
            )
        })
        .map(|l| l.source.clone())
}

/// Whether known_hosts holds another key of the offered key's type for this host
/// (the key changed).
pub(super) fn key_changed(
    session: &Session,
    lines: &[keys::KnownLine],
    name: &str,
    key: &OfferedKey,
) -> bool {
    matches!(
        check(
            session,
            lines,
            |l| l.key_type == key.key_type,
            name,
            &key.blob
        ),
        Ok(CheckResult::Mismatch)
    )
}

/// Looks the host up in the given known_hosts entries with libssh2 (which handles
/// hashed names and comma lists). Lines libssh2 cannot parse are skipped.
fn check(
    session: &Session,
    lines: &[keys::KnownLine],
    keep: impl Fn(&keys::KnownLine) -> bool,
    name: &str,
    blob: &[u8],
) -> Result<CheckResult, RemoteError> {
    let mut kh = session
        .known_hosts()
        .map_err(|e| RemoteError::Session(format!("cannot check known_hosts: {e}")))?;
    for line in lines
        .iter()
        .filter(|l| l.marker == keys::Marker::Plain && keep(l))
    {
        let _ = kh.read_str(&line.text, KnownHostFileKind::OpenSSH);
    }
    // The exact OpenSSH name (`[host]:port` off port 22): libssh2's check_port
    // would also accept a plain `host` entry, which OpenSSH keeps for port 22.
    Ok(kh.check(name, blob))
}

/// Puts host key algorithms whose key type known_hosts already has for this host
/// first, so a host known by its ed25519 key is not asked for its ECDSA key.
fn prefer_known_key_types(session: &Session, t: &Target, lines: &[keys::KnownLine]) {
    let name = keys::known_hosts_name(&t.host, t.port);
    let mut types: Vec<String> = Vec::new();
    for line in lines.iter().filter(|l| l.marker == keys::Marker::Plain) {
        if types.contains(&line.key_type) {
            continue;
        }
        // A key that matches nothing: Mismatch means "known under this type".
        let found = check(
            session,
            lines,
            |l| l.key_type == line.key_type,
            &name,
            b"relman-probe",
        );
        if let Ok(CheckResult::Mismatch) = found {
            types.push(line.key_type.clone());
        }
    }
    let Ok(supported) = session.supported_algs(MethodType::HostKey) else {
        return;
    };
    if let Some(pref) = keys::host_key_preference(&types, &supported) {
        let _ = session.method_pref(MethodType::HostKey, &pref);
    }
}

fn verify_host_key(
    session: &Session,
    t: &Target,
    lines: &[keys::KnownLine],
    key: &OfferedKey,
) -> Result<(), RemoteError> {
    let name = keys::known_hosts_name(&t.host, t.port);
    let known_hosts = t.known_hosts.display().to_string();
    // As OpenSSH: a revoked key is refused even where another line trusts it.
    if let Some(at) = revoked_at(session, lines, &name, &key.blob) {
        return Err(RemoteError::RevokedHostKey {
            host: t.label(),
            key_type: key.key_type.clone(),
            fingerprint: key.fingerprint.clone(),
            at,
        });
    }
    let ca = || {
        lines
            .iter()
            .filter(|l| l.marker == keys::Marker::CertAuthority)
            .find(|l| marked_line_names(session, l, &name))
            .map(|l| l.source.clone())
    };
    match check(session, lines, |_| true, &name, &key.blob)? {
        CheckResult::Match => Ok(()),
        CheckResult::NotFound if ca().is_some() => Err(RemoteError::CertAuthorityHost {
            name: t.name.clone(),
            host: t.label(),
            at: ca().unwrap_or_default(),
            key: format!("{} SHA256:{}", key.key_type, key.fingerprint),
        }),
        CheckResult::NotFound => Err(RemoteError::UnknownHostKey {
            name: t.name.clone(),
            host: t.label(),
            known_hosts,
            fingerprint: key.fingerprint.clone(),
        }),
        CheckResult::Mismatch => {
            match check(
                session,
                lines,
                |l| l.key_type == key.key_type,
                &name,
                &key.blob,
            )? {
                CheckResult::Match => Ok(()),
                CheckResult::NotFound => Err(RemoteError::HostKeyTypeMismatch {
                    name: t.name.clone(),
                    host: t.label(),
                    known_hosts,
                    key_type: key.key_type.clone(),
                    fingerprint: key.fingerprint.clone(),
                }),
                _ => Err(RemoteError::ChangedHostKey {
                    host: t.label(),
                    known_hosts,
                    fingerprint: key.fingerprint.clone(),
                }),
            }
        }
        CheckResult::Failure => Err(RemoteError::Session(format!(
            "{}: cannot check the host key against {known_hosts}",
            t.label()
        ))),
    }
}

/// Whether an error means the server hung up (no point trying more keys).
fn is_disconnect(e: &ssh2::Error) -> bool {
    matches!(
        code(e),
        Some(ERR_SOCKET_DISCONNECT | ERR_SOCKET_RECV | ERR_SOCKET_SEND)
    )
}

fn auth_timeout(t: &Target) -> RemoteError {
    RemoteError::Timeout {
        what: format!("authentication on {}", t.label()),
        secs: t.timeout.as_secs(),
    }
}

/// The agent's keys, once listed (the connection stays open while we authenticate).
struct AgentKeys {
    agent: ssh2::Agent,
    ids: Vec<ssh2::PublicKey>,
    used: Vec<bool>,
}

impl Drop for AgentKeys {
    fn drop(&mut self) {
        let _ = self.agent.disconnect();
    }
}

/// How one offered key fared.
enum Tried {
    In,
    /// Refused (or unusable); go on with the next key.
    No,
    /// The server hung up: no point trying more keys.
    Closed,
}

/// The public key blob of an identity file: its `.pub` beside it (as OpenSSH reads
/// it), else the one an OpenSSH-format private key carries in the clear.
fn identity_blob(path: &Path) -> Option<Vec<u8>> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    if let Ok(text) = std::fs::read_to_string(PathBuf::from(pub_path)) {
        if let Some(b) = keys::public_key_line_blob(&text) {
            return Some(b);
        }
    }
    let text = std::fs::read(path).ok()?;
    keys::openssh_private_key_public_blob(&String::from_utf8_lossy(&text))
}

/// Authenticates as OpenSSH does: each configured identity first (through the
/// agent's copy of it when the agent holds the same public key, else from its
/// file), then the agent's other keys, then the default keys that exist. With
/// `IdentitiesOnly`, only the configured identities (and their agent copies), or the
/// default keys when none is configured. Every key offered counts against the
/// server's `MaxAuthTries`, hence the order. The error lists each key and what
/// became of it, in the order offered.
fn authenticate(session: &Session, t: &Target) -> Result<(), RemoteError> {
    let mut notes: Vec<String> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut agent = open_agent(session, &mut notes);
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut closed = false;
    for path in &t.identities {
        if seen.contains(path) {
            continue;
        }
        seen.push(path.clone());
        let r = try_identity(
            session,
            t,
            path,
            true,
            agent.as_mut(),
            &mut notes,
            &mut order,
        )?;
        match r {
            Tried::In => return Ok(()),
            Tried::No => {}
            Tried::Closed => {
                closed = true;
                break;
            }
        }
    }
    if !closed && !t.identities_only {
        if let Some(a) = agent.as_mut() {
            match try_agent_rest(session, t, a, &mut notes, &mut order)? {
                Tried::In => return Ok(()),
                Tried::No => {}
                Tried::Closed => closed = true,
            }
        }
    }
    // IdentitiesOnly with identities configured: nothing else is offered.
    if !closed && (!t.identities_only || t.identities.is_empty()) {
        let defaults: Vec<PathBuf> = t
            .home
            .iter()
            .flat_map(|home| DEFAULT_KEYS.iter().map(move |k| home.join(".ssh").join(k)))
            .collect();
        for path in defaults {
            if seen.contains(&path) {
                continue;
            }
            seen.push(path.clone());
            match try_identity(
                session,
                t,
                &path,
                false,
                agent.as_mut(),
                &mut notes,
                &mut order,
            )? {
                Tried::In => return Ok(()),
                Tried::No => {}
                Tried::Closed => break,
            }
        }
    }
    drop(agent);
    if notes.is_empty() {
        notes.push(
            "no key to offer: no ssh-agent, no identity configured, and none of \
             ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa, ~/.ssh/id_rsa exists"
                .to_string(),
        );
    }
    let mut detail = format!("tried {}", notes.join("; "));
    if !order.is_empty() {
        detail.push_str(&format!(
            "; keys offered, in order: {}",
            order
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{}. {k}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if t.identities_only {
        detail.push_str(" (IdentitiesOnly: only the configured identities were offered)");
    }
    Err(RemoteError::Auth {
        user: t.user.clone(),
        host: t.label(),
        detail,
    })
}

/// Offers one identity: the agent's copy if it holds the same public key, else the
/// key file. `configured`: a missing file is worth a note.
fn try_identity(
    session: &Session,
    t: &Target,
    path: &Path,
    configured: bool,
    agent: Option<&mut AgentKeys>,
    notes: &mut Vec<String>,
    order: &mut Vec<String>,
) -> Result<Tried, RemoteError> {
    let shown = path.display();
    if let (Some(a), Some(blob)) = (agent, identity_blob(path)) {
        if let Some(i) = a.ids.iter().position(|id| id.blob() == blob.as_slice()) {
            a.used[i] = true;
            order.push(format!("{shown} (from the agent)"));
            match a.agent.userauth(&t.user, &a.ids[i]) {
                Ok(()) if session.authenticated() => return Ok(Tried::In),
                Err(e) if code(&e) == Some(ERR_TIMEOUT) => return Err(auth_timeout(t)),
                Err(e) if is_disconnect(&e) => {
                    notes.push(format!(
                        "{shown} (agent): the server closed the connection ({})",
                        e.message()
                    ));
                    return Ok(Tried::Closed);
                }
                _ => {
                    notes.push(format!("{shown} (agent): refused by the server"));
                    return Ok(Tried::No);
                }
            }
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if configured {
                notes.push(format!("{shown}: no such file"));
            }
            return Ok(Tried::No);
        }
        Err(e) => {
            notes.push(format!("{shown}: {e}"));
            return Ok(Tried::No);
        }
    };
    if keys::private_key_is_encrypted(&String::from_utf8_lossy(&bytes)) {
        notes.push(format!(
            "{shown} is encrypted (passphrase-protected) and no ssh-agent offered it: \
             load it with `ssh-add {shown}`"
        ));
        return Ok(Tried::No);
    }
    order.push(shown.to_string());
    match session.userauth_pubkey_file(&t.user, None, path, None) {
        Ok(()) if session.authenticated() => Ok(Tried::In),
        Ok(()) => {
            notes.push(format!("{shown}: accepted, but more is required"));
            Ok(Tried::No)
        }
        Err(e) if code(&e) == Some(ERR_TIMEOUT) => Err(auth_timeout(t)),
        Err(e) if is_disconnect(&e) => {
            notes.push(format!(
                "{shown}: the server closed the connection ({})",
                e.message()
            ));
            Ok(Tried::Closed)
        }
        Err(e) => {
            notes.push(match code(&e) {
                Some(ERR_AUTHENTICATION_FAILED | ERR_PUBLICKEY_UNVERIFIED) => {
                    format!("{shown}: refused by the server")
                }
                Some(ERR_FILE) => format!("{shown}: unusable key file ({})", e.message()),
                _ => format!("{shown}: {}", e.message()),
            });
            Ok(Tried::No)
        }
    }
}

/// Connects to the agent and lists its keys. Without `SSH_AUTH_SOCK`: `None`.
fn open_agent(session: &Session, notes: &mut Vec<String>) -> Option<AgentKeys> {
    if std::env::var_os("SSH_AUTH_SOCK").is_none_or(|s| s.is_empty()) {
        return None;
    }
    let mut agent = match session.agent() {
        Ok(a) => a,
        Err(e) => {
            notes.push(format!("ssh-agent: {}", e.message()));
            return None;
        }
    };
    if let Err(e) = agent.connect() {
        notes.push(format!(
            "ssh-agent: cannot reach $SSH_AUTH_SOCK ({})",
            e.message()
        ));
        return None;
    }
    match agent.list_identities().and_then(|()| agent.identities()) {
        Ok(ids) => {
            let used = vec![false; ids.len()];
            Some(AgentKeys { agent, ids, used })
        }
        Err(e) => {
            notes.push(format!("ssh-agent: cannot list keys ({})", e.message()));
            let _ = agent.disconnect();
            None
        }
    }
}

/// Offers the agent's keys not offered yet (as copies of configured identities).
fn try_agent_rest(
    session: &Session,
    t: &Target,
    a: &mut AgentKeys,
    notes: &mut Vec<String>,
    order: &mut Vec<String>,
) -> Result<Tried, RemoteError> {
    let mut refused = 0;
    for i in 0..a.ids.len() {
        if a.used[i] {
            continue;
        }
        a.used[i] = true;
        let id = &a.ids[i];
        let comment = id.comment();
        order.push(if comment.is_empty() {
            format!("agent key SHA256:{}", keys::fingerprint_sha256(id.blob()))
        } else {
            format!("agent key {comment}")
        });
        match a.agent.userauth(&t.user, id) {
            Ok(()) if session.authenticated() => return Ok(Tried::In),
            Err(e) if code(&e) == Some(ERR_TIMEOUT) => return Err(auth_timeout(t)),
            Err(e) if is_disconnect(&e) => {
                notes.push(format!(
                    "ssh-agent: the server closed the connection after {} key(s) ({})",
                    refused + 1,
                    e.message()
                ));
                return Ok(Tried::Closed);
            }
            _ => refused += 1,
        }
    }
    notes.push(if a.ids.is_empty() {
        "ssh-agent: holds no keys".to_string()
    } else {
        format!("ssh-agent: {refused} key(s) refused")
    });
    Ok(Tried::No)
}
