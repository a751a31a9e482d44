//! ProxyJump: reaching a host through one jump host (a bastion), as `ssh -J` does.
//!
//! - One authenticated session to each bastion per process, shared by every host behind
//!   it (a registry keyed by the bastion's user, address, port and known_hosts file).
//!   Its host key is checked against known_hosts under its own name (`[host]:port` off
//!   port 22), before the target's, which is checked under the target's name as usual.
//! - Each connection to a target is a `direct-tcpip` channel on the bastion's session,
//!   bridged to one end of a local socket pair; the target's own SSH session (a second,
//!   end-to-end encrypted one) runs over the other end, exactly as over TCP.
//! - One thread per bastion owns its session (non-blocking) and moves the bytes of all
//!   its channels, since a libssh2 session must not be driven from two threads.
//! - The bastion is authenticated with the agent, then the IdentityFiles `~/.ssh/config`
//!   gives it, then the target host's configured identities, then the default keys.
//! - A chain `jump = "a,b"`: the session to `b` is itself reached through `a` (its
//!   bastion target has `a` as its jump host), so every hop is one shared session.
//! - A bastion session idle (no channel) for [`LINGER`] is closed; a broken one is
//!   replaced at the next connection.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Channel};

use super::conn::{self, Conn, ERR_EAGAIN, Jump, Open, Target, code};

use crate::remote::RemoteError;

/// How long a bastion session with no channel stays open for the next connection.
pub(super) const LINGER: Duration = Duration::from_secs(30);
/// How long the pump sleeps at most when nothing moves (keepalives are checked then).
const TICK: Duration = Duration::from_millis(1000);
/// Minimum time between keepalive attempts on the bastion session.
const KEEPALIVE_CHECK: Duration = Duration::from_secs(5);
/// How long closing one channel may take before it is given up.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);
/// Bytes moved per direction and channel before the pump turns to the next one.
const TURN_BUDGET: usize = 256 * 1024;
/// libssh2: a channel open the server refused (connect failed, prohibited...).
const ERR_CHANNEL_FAILURE: i32 = -21;

/// The bastion as a host to connect to: its own name, address, user and identities
/// (then the target's identities, which OpenSSH users often share with the bastion).
fn bastion_target(t: &Target, j: &Jump) -> Target {
    let mut identities = j.hop.identities.clone();
    for id in &t.identities {
        if !identities.contains(id) {
            identities.push(id.clone());
        }
    }
    Target {
        name: format!("jump host {}", j.hop.spec),
        host: j.hop.host.clone(),
        port: j.hop.port,
        user: j.hop.user.clone(),
        identities,
        known_hosts: t.known_hosts.clone(),
        global_known_hosts: t.global_known_hosts.clone(),
        identities_only: t.identities_only,
        timeout: t.timeout,
        stall: t.stall,
        home: t.home.clone(),
        jump: Jump::chain(j.before.clone()),
        proxy_command: None,
    }
}

/// Opens a byte stream to `t` (its host and port, as the bastion resolves them)
/// through its jump host. The stream is a local socket; the returned bastion handle
/// must live as long as the stream is used.
pub(super) fn connect(
    t: &Target,
    j: &Jump,
    open: Open,
) -> Result<(UnixStream, Arc<Bastion>), RemoteError> {
    let bt = bastion_target(t, j);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let b = bastion(&bt, open)?;
        match b.open(&t.host, t.port, t.timeout) {
            Ok(s) => return Ok((s, b)),
            // The shared session broke or closed while idle: one fresh try.
            Err(OpenError::Gone(_)) if attempt == 1 => {
                b.closed.store(true, Ordering::SeqCst);
            }
            Err(OpenError::Gone(msg)) => {
                return Err(RemoteError::Connect {
                    addr: t.addr(),
                    msg: format!("the connection to {} broke: {msg}", bt.label()),
                });
            }
            Err(OpenError::Refused(msg)) => {
                return Err(RemoteError::Connect {
                    addr: t.addr(),
                    msg: format!("{} could not open a connection to it: {msg}", bt.label()),
                });
            }
            Err(OpenError::Timeout) => {
                return Err(RemoteError::Timeout {
                    what: format!(
                        "opening a connection to {} through {}",
                        t.addr(),
                        bt.label()
                    ),
                    secs: t.timeout.as_secs(),
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The registry of bastion sessions.

/// One bastion's entry: its live session, or the last failure (so hosts that waited
/// for the same attempt get its answer instead of trying again one after the other).
#[derive(Default)]
struct Slot {
    live: Option<Arc<Bastion>>,
    failed: Option<(Instant, String)>,
}

fn registry() -> &'static Mutex<HashMap<String, Arc<Mutex<Slot>>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Mutex<Slot>>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The shared session to the bastion `bt`, opened if there is none (or it broke).
fn bastion(bt: &Target, open: Open) -> Result<Arc<Bastion>, RemoteError> {
    let asked = Instant::now();
    let slot = registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(bt.key())
        .or_default()
        .clone();
    // Held while connecting: hosts behind the same bastion wait for one handshake.
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(b) = &slot.live {
        if !b.closed.load(Ordering::SeqCst) {
            return Ok(b.clone());
        }
        slot.live = None;
    }
    if let Some((at, msg)) = &slot.failed {
        if *at >= asked {
            return Err(RemoteError::Connect {
                addr: bt.label(),
                msg: msg.clone(),
            });
        }
    }
    match open(bt, &AtomicU64::new(0)) {
        Ok(conn) => {
            let b = Arc::new(Bastion::start(conn, bt.label()).map_err(|e| {
                RemoteError::Session(format!("{}: cannot start its relay: {e}", bt.label()))
            })?);
            slot.failed = None;
            slot.live = Some(b.clone());
            Ok(b)
        }
        Err(e) => {
            let e = bastion_error(bt, e);
            slot.failed = Some((Instant::now(), e.to_string()));
            Err(e)
        }
    }
}

/// An error reaching the bastion, worded as such (the target's name is added by the
/// caller's per-host report). Host key problems stay "unreachable" errors, but say
/// how to add a bastion's key (`relman trust` adds the keys of configured hosts).
fn bastion_error(bt: &Target, e: RemoteError) -> RemoteError {
    let (host, port, kh) = (&bt.host, bt.port, bt.known_hosts.display());
    let add = format!(
        "check it, then add it to {kh} (`ssh-keyscan -p {port} {host} >> {kh}`, or log in \
         once with `ssh -p {port} {}@{host}`)",
        bt.user
    );
    match e {
        RemoteError::UnknownHostKey { fingerprint, .. } => RemoteError::Connect {
            addr: bt.label(),
            msg: format!(
                "its host key is unknown (not in {kh}); its fingerprint is SHA256:{fingerprint}: {add}"
            ),
        },
        RemoteError::HostKeyTypeMismatch {
            key_type,
            fingerprint,
            ..
        } => RemoteError::Connect {
            addr: bt.label(),
            msg: format!(
                "its host key is known in {kh} only under another key type; it offers \
                 {key_type} SHA256:{fingerprint}. Refused: {add}"
            ),
        },
        RemoteError::CertAuthorityHost { at, key, .. } => RemoteError::Connect {
            addr: bt.label(),
            msg: format!(
                "its host key is not in known_hosts; {at} trusts a @cert-authority for it, but \
                 relman cannot verify host certificates, so its plain key {key} is unknown: {add}"
            ),
        },
        RemoteError::Connect { msg, .. } => RemoteError::Connect {
            addr: bt.label(),
            msg,
        },
        e => e,
    }
}

// ---------------------------------------------------------------------------
// One bastion session and its relay thread.

/// Why a channel could not be opened.
#[derive(Debug)]
enum OpenError {
    /// The bastion refused or could not reach the target.
    Refused(String),
    /// The bastion session is closed or broken.
    Gone(String),
    /// No answer within the connect timeout.
    Timeout,
}

struct OpenRequest {
    host: String,
    port: u16,
    reply: SyncSender<Result<UnixStream, OpenError>>,
}

/// A shared, authenticated session to a bastion, driven by its own thread.
pub(super) struct Bastion {
    requests: Sender<OpenRequest>,
    /// Written to wake the relay thread from `poll`.
    wake: UnixStream,
    closed: Arc<AtomicBool>,
}

impl Bastion {
    fn start(conn: Conn, label: String) -> io::Result<Bastion> {
        let (wake, wake_rx) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        let (requests, rx) = mpsc::channel();
        let closed = Arc::new(AtomicBool::new(false));
        let relay = Relay {
            conn,
            label,
            requests: rx,
            wake: wake_rx,
            closed: closed.clone(),
            opens: VecDeque::new(),
            links: Vec::new(),
            scratch: vec![0u8; 64 * 1024],
        };
        std::thread::Builder::new()
            .name("relman-jump".into())
            .spawn(move || relay.run())?;
        Ok(Bastion {
            requests,
            wake,
            closed,
        })
    }

    /// A local stream bridged to `host:port` as seen from the bastion.
    fn open(&self, host: &str, port: u16, timeout: Duration) -> Result<UnixStream, OpenError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let req = OpenRequest {
            host: host.to_string(),
            port,
            reply,
        };
        if self.requests.send(req).is_err() {
            return Err(OpenError::Gone("its session is closed".into()));
        }
        // A full pipe already holds a wake-up.
        let _ = (&self.wake).write(&[1]);
        match answer.recv_timeout(timeout) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(OpenError::Timeout),
            Err(RecvTimeoutError::Disconnected) => {
                Err(OpenError::Gone("its session was closed".into()))
            }
        }
    }
}

/// One target connection: a direct-tcpip channel and our end of the socket pair.
struct Link {
    ch: Channel,
    sock: UnixStream,
    /// From the socket, not yet taken by the channel.
    up: Vec<u8>,
    /// From the channel, not yet taken by the socket (from `down_off`).
    down: Vec<u8>,
    down_off: usize,
    local_eof: bool,
    eof_sent: bool,
    /// The remote EOF was passed on (our socket's write side shut).
    shut_wr: bool,
    closing: Option<Instant>,
    done: bool,
}

impl Link {
    fn new(ch: Channel, sock: UnixStream) -> Link {
        Link {
            ch,
            sock,
            up: Vec::new(),
            down: Vec::new(),
            down_off: 0,
            local_eof: false,
            eof_sent: false,
            shut_wr: false,
            closing: None,
            done: false,
        }
    }

    fn close(&mut self) {
        if self.closing.is_none() {
            self.closing = Some(Instant::now());
            let _ = self.sock.shutdown(Shutdown::Both);
        }
    }

    /// Moves what can move now. True if anything did.
    fn step(&mut self, scratch: &mut [u8]) -> bool {
        if self.closing.is_some() {
            return self.step_close();
        }
        let mut moved = self.step_down(scratch);
        moved |= self.step_up(scratch);
        if self.local_eof && self.up.is_empty() && !self.eof_sent {
            match self.ch.send_eof() {
                Ok(()) => {
                    self.eof_sent = true;
                    moved = true;
                }
                Err(e) if code(&e) == Some(ERR_EAGAIN) => {}
                Err(_) => self.close(),
            }
        }
        if self.eof_sent && self.shut_wr {
            self.close();
        }
        if self.closing.is_some() {
            moved |= self.step_close();
        }
        moved
    }

    /// Channel → socket.
    fn step_down(&mut self, scratch: &mut [u8]) -> bool {
        let mut moved = false;
        let mut budget = TURN_BUDGET;
        while budget > 0 {
            if self.down_off == self.down.len() {
                self.down.clear();
                self.down_off = 0;
                if self.shut_wr {
                    break;
                }
                match self.ch.read(scratch) {
                    Ok(0) => {
                        if self.ch.eof() {
                            let _ = self.sock.shutdown(Shutdown::Write);
                            self.shut_wr = true;
                            moved = true;
                        }
                        break;
                    }
                    Ok(n) => {
                        self.down.extend_from_slice(&scratch[..n]);
                        moved = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        self.close();
                        return true;
                    }
                }
            }
            match self.sock.write(&self.down[self.down_off..]) {
                Ok(n) => {
                    self.down_off += n;
                    budget = budget.saturating_sub(n.max(1));
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The local side is gone (its session was dropped).
                Err(_) => {
                    self.close();
                    return true;
                }
            }
            if self.down_off < self.down.len() {
                break;
            }
        }
        if self.down.is_empty() && self.down.capacity() > scratch.len() {
            self.down = Vec::new();
        }
        moved
    }

    /// Socket → channel.
    fn step_up(&mut self, scratch: &mut [u8]) -> bool {
        let mut moved = false;
        let mut budget = TURN_BUDGET;
        while budget > 0 {
            if self.up.is_empty() {
                if self.local_eof {
                    break;
                }
                match self.sock.read(scratch) {
                    Ok(0) => {
                        self.local_eof = true;
                        moved = true;
                        break;
                    }
                    Ok(n) => {
                        self.up.extend_from_slice(&scratch[..n]);
                        moved = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.close();
                        return true;
                    }
                }
            }
            // After EAGAIN libssh2 may hold a half-sent packet of these bytes: they
            // are offered again, unchanged, until taken.
            match self.ch.write(&self.up) {
                Ok(0) => break,
                Ok(n) => {
                    self.up.drain(..n);
                    budget = budget.saturating_sub(n);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.close();
                    return true;
                }
            }
            if !self.up.is_empty() {
                break;
            }
        }
        if self.up.is_empty() && self.up.capacity() > scratch.len() {
            self.up = Vec::new();
        }
        moved
    }

    fn step_close(&mut self) -> bool {
        match self.ch.close() {
            Err(e) if code(&e) == Some(ERR_EAGAIN) => {
                if self
                    .closing
                    .is_some_and(|since| since.elapsed() >= CLOSE_LIMIT)
                {
                    self.done = true;
                }
                false
            }
            _ => {
                self.done = true;
                true
            }
        }
    }

    /// Whether bytes libssh2 already received wait to be moved (no socket event will
    /// say so).
    fn has_queued(&self) -> bool {
        self.closing.is_none()
            && self.down_off == self.down.len()
            && !self.shut_wr
            && (self.ch.read_window().available > 0 || self.ch.eof())
    }

    /// Whether this link waits on something the bastion's socket will bring.
    fn wants_bastion(&self) -> bool {
        self.closing.is_some()
            || (self.down_off == self.down.len() && !self.shut_wr)
            || !self.up.is_empty()
            || (self.local_eof && !self.eof_sent)
    }

    fn poll_events(&self) -> libc::c_short {
        if self.closing.is_some() {
            return 0;
        }
        let mut ev = 0;
        if self.up.is_empty() && !self.local_eof {
            ev |= libc::POLLIN;
        }
        if self.down_off < self.down.len() {
            ev |= libc::POLLOUT;
        }
        ev
    }
}

/// The thread that owns a bastion session.
struct Relay {
    conn: Conn,
    label: String,
    requests: Receiver<OpenRequest>,
    wake: UnixStream,
    closed: Arc<AtomicBool>,
    opens: VecDeque<OpenRequest>,
    links: Vec<Link>,
    scratch: Vec<u8>,
}

/// Whether a libssh2 error means the session itself is gone.
fn is_fatal(e: &ssh2::Error) -> bool {
    matches!(
        code(e),
        Some(conn::ERR_SOCKET_DISCONNECT | conn::ERR_SOCKET_RECV | conn::ERR_SOCKET_SEND)
    ) || code(e).is_none()
}

impl Relay {
    fn run(mut self) {
        self.conn.session.set_blocking(false);
        let why = self.serve();
        tracing::debug!(bastion = %self.label, "relay ends: {why}");
        self.closed.store(true, Ordering::SeqCst);
        for l in &mut self.links {
            let _ = l.sock.shutdown(Shutdown::Both);
        }
        for req in self.opens.drain(..) {
            let _ = req.reply.send(Err(OpenError::Gone(why.clone())));
        }
        while let Ok(req) = self.requests.try_recv() {
            let _ = req.reply.send(Err(OpenError::Gone(why.clone())));
        }
        // Dropping `conn` says goodbye to the bastion (at most 2 s).
    }

    /// Relays until the session breaks or stays idle for `LINGER`; says why it ended.
    fn serve(&mut self) -> String {
        let mut idle_since = Instant::now();
        let mut last_keepalive = Instant::now();
        loop {
            loop {
                match self.requests.try_recv() {
                    Ok(req) => self.opens.push_back(req),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        if self.links.is_empty() && self.opens.is_empty() {
                            return "no longer used".into();
                        }
                        break;
                    }
                }
            }
            let mut moved = match self.step_open() {
                Ok(m) => m,
                Err(why) => return why,
            };
            for l in &mut self.links {
                moved |= l.step(&mut self.scratch);
            }
            self.links.retain(|l| !l.done);
            if self.links.is_empty() && self.opens.is_empty() {
                if idle_since.elapsed() >= LINGER {
                    return "idle".into();
                }
            } else {
                idle_since = Instant::now();
            }
            if last_keepalive.elapsed() >= KEEPALIVE_CHECK {
                last_keepalive = Instant::now();
                if super::pump::writable(self.conn.fd) {
                    // Sent only once the keepalive interval has passed.
                    let _ = self.conn.session.keepalive_send();
                }
            }
            if moved || self.links.iter().any(Link::has_queued) {
                continue;
            }
            if let Err(why) = self.wait(idle_since) {
                return why;
            }
        }
    }

    /// Drives the oldest open request (libssh2 opens one direct-tcpip at a time).
    fn step_open(&mut self) -> Result<bool, String> {
        // Taken out while it is tried, put back (still the oldest) if it must wait.
        let Some(req) = self.opens.pop_front() else {
            return Ok(false);
        };
        match self
            .conn
            .session
            .channel_direct_tcpip(&req.host, req.port, None)
        {
            Ok(ch) => {
                match UnixStream::pair().and_then(|(ours, theirs)| {
                    ours.set_nonblocking(true)?;
                    Ok((ours, theirs))
                }) {
                    Ok((ours, theirs)) => {
                        let mut link = Link::new(ch, ours);
                        if req.reply.send(Ok(theirs)).is_err() {
                            // Whoever asked has given up.
                            link.close();
                        }
                        self.links.push(link);
                    }
                    Err(e) => {
                        let _ = req
                            .reply
                            .send(Err(OpenError::Refused(format!("local socket pair: {e}"))));
                        let mut ch = ch;
                        let _ = ch.close();
                    }
                }
                Ok(true)
            }
            Err(e) if code(&e) == Some(ERR_EAGAIN) => {
                self.opens.push_front(req);
                Ok(false)
            }
            Err(e) if code(&e) == Some(ERR_CHANNEL_FAILURE) || !is_fatal(&e) => {
                let _ = req.reply.send(Err(OpenError::Refused(e.message().into())));
                Ok(true)
            }
            Err(e) => {
                self.opens.push_front(req);
                Err(format!("the session broke: {}", e.message()))
            }
        }
    }

    /// Sleeps until a socket is ready, a request arrives or a tick passes.
    fn wait(&mut self, idle_since: Instant) -> Result<(), String> {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(self.links.len() + 2);
        let mut bastion_ev: libc::c_short = 0;
        if !self.opens.is_empty() || self.links.iter().any(Link::wants_bastion) {
            bastion_ev |= libc::POLLIN;
        }
        if matches!(
            self.conn.session.block_directions(),
            BlockDirections::Outbound | BlockDirections::Both
        ) {
            bastion_ev |= libc::POLLOUT;
        }
        fds.push(libc::pollfd {
            fd: self.conn.fd,
            events: bastion_ev,
            revents: 0,
        });
        fds.push(libc::pollfd {
            fd: self.wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        for l in &self.links {
            fds.push(libc::pollfd {
                fd: l.sock.as_raw_fd(),
                events: l.poll_events(),
                revents: 0,
            });
        }
        let mut tick = TICK;
        if self.links.is_empty() && self.opens.is_empty() {
            tick = tick.min(LINGER.saturating_sub(idle_since.elapsed()));
        }
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds for the call.
        let rc = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                tick.as_millis().min(i32::MAX as u128) as libc::c_int,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("poll: {e}"));
            }
            return Ok(());
        }
        if fds[0].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return Err("the jump host closed the connection".into());
        }
        if fds[1].revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 64];
            while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use conn::resolve_jump as resolve;
    use std::path::PathBuf;

    fn cfg(ssh_config: &str) -> Config {
        Config {
            ssh_config: crate::config::SshConfig::parse(ssh_config, "ssh_config").unwrap(),
            env: crate::config::Env {
                home: None,
                user: Some("me".into()),
            },
            ..Config::default()
        }
    }

    #[test]
    fn none_and_empty_mean_no_jump() {
        let c = cfg("");
        assert!(resolve(&c, "h", "none").unwrap().is_none());
        assert!(resolve(&c, "h", " ").unwrap().is_none());
    }

    #[test]
    fn one_hop_is_resolved() {
        let c = cfg("Host bastion\n HostName 10.0.0.1\n Port 2222\n User ops\n");
        let j = resolve(&c, "h", "bastion").unwrap().unwrap();
        assert_eq!(j.hop.host, "10.0.0.1");
        assert_eq!(j.hop.port, 2222);
        assert_eq!(j.hop.user, "ops");
        let j = resolve(&c, "h", "u@gw:22").unwrap().unwrap();
        assert_eq!((j.hop.user.as_str(), j.hop.host.as_str()), ("u", "gw"));
    }

    /// The host `name` at 10.1.1.1:22 as deployer, reached through `jump`.
    fn target(name: &str, identities: Vec<PathBuf>, jump: &Jump) -> Target {
        Target {
            name: name.into(),
            host: "10.1.1.1".into(),
            port: 22,
            user: "deployer".into(),
            identities,
            known_hosts: PathBuf::from("/kh"),
            global_known_hosts: PathBuf::from("/gkh"),
            identities_only: false,
            timeout: Duration::from_secs(3),
            stall: Duration::from_secs(60),
            home: None,
            jump: Some(jump.clone()),
            proxy_command: None,
        }
    }

    #[test]
    fn chains_go_hop_by_hop() {
        let c = cfg("Host b\n HostName 10.0.0.2\n");
        let j = resolve(&c, "h1", "a, b").unwrap().unwrap();
        assert_eq!(j.hop.host, "10.0.0.2");
        assert_eq!(j.before.len(), 1);
        let t = target("h1", vec![], &j);
        // The host through b; b through a; a directly.
        let b = bastion_target(&t, &j);
        assert_eq!(b.label(), "jump host b (10.0.0.2:22 via jump host a)");
        let ja = b.jump.clone().unwrap();
        let a = bastion_target(&b, &ja);
        assert_eq!(a.label(), "jump host a (a:22)");
        assert!(a.jump.is_none());
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn bastion_uses_its_own_name_and_then_the_targets_identities() {
        let c = cfg("Host bastion\n HostName 10.0.0.1\n IdentityFile /k/b\n");
        let j = resolve(&c, "h", "bastion").unwrap().unwrap();
        let t = target("h", vec![PathBuf::from("/k/t"), PathBuf::from("/k/b")], &j);
        let b = bastion_target(&t, &j);
        assert_eq!(b.label(), "jump host bastion (10.0.0.1:22)");
        assert_eq!(b.user, "me");
        assert_eq!(
            b.identities,
            [PathBuf::from("/k/b"), PathBuf::from("/k/t")].to_vec()
        );
        assert!(b.jump.is_none());
        assert_eq!(t.label(), "h (10.1.1.1:22 via jump host bastion)");
        assert_ne!(b.key(), t.key());
    }

    #[test]
    fn bastion_key_errors_say_how_to_add_its_key() {
        let c = cfg("");
        let j = resolve(&c, "h", "ops@gw:2200").unwrap().unwrap();
        let t = target("h", vec![], &j);
        let bt = bastion_target(&t, &j);
        let e = bastion_error(
            &bt,
            RemoteError::UnknownHostKey {
                name: "x".into(),
                host: bt.label(),
                known_hosts: "/kh".into(),
                fingerprint: "abc".into(),
            },
        );
        assert!(e.is_unreachable());
        let m = e.to_string();
        assert!(m.contains("jump host ops@gw:2200 (gw:2200)"), "{m}");
        assert!(m.contains("SHA256:abc"), "{m}");
        assert!(m.contains("ssh-keyscan -p 2200 gw >> /kh"), "{m}");
    }
}
