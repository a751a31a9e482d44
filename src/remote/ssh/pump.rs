//! Moving bytes over an open session without deadlocks: the session runs
//! non-blocking, and one loop feeds stdin, drains stdout and stderr and waits on
//! the socket with `poll` when nothing moved (so a command that fills one stream
//! while we wait on the other cannot stall the channel window).
//!
//! libssh2 rules this relies on (see libssh2's channel.c / transport.c):
//! - a write that returned EAGAIN must be retried with the same data before
//!   anything else is sent on the session, so it is retried every turn;
//! - `Channel::flush` *discards* unread incoming data: never called;
//! - libssh2 does not notice a remote close on write: after the remote EOF we
//!   check for the close before waiting on a window that will never open.
//!
//! A frozen host (its sshd stopped, a hung VM, a black-holing middlebox) keeps the
//! TCP connection open, so neither TCP nor our keepalives (libssh2 swallows their
//! replies) ever fail. So a started command that moves no byte — nothing taken from
//! its stdin, nothing read from its stdout or stderr — for `stall_timeout` is given
//! up ([`Stall`]): relman returns `RemoteError::Stalled` naming the host, and the
//! connection (with any lock holder on it) is dropped.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Channel, Session};

use super::conn::{Conn, ERR_EAGAIN, code};
use crate::remote::{ExecOutput, Process, RemoteError};

/// Size of the stdin chunks read locally and handed to libssh2.
const CHUNK: usize = 1 << 20;
/// The buffers an exec starts with; they grow (to `CHUNK` for input, `MAX_READ` for
/// output) only when a read fills them, so the many small commands of a refresh of
/// hundreds of hosts don't each hold 1.25 MiB.
const FIRST_BUF: usize = 32 * 1024;
/// The largest output buffer.
const MAX_READ: usize = 256 * 1024;
/// How long one `poll` waits before the loop looks around (keepalives).
const TICK: Duration = Duration::from_millis(1000);
/// Minimum time between keepalive attempts while idle.
const KEEPALIVE_CHECK: Duration = Duration::from_secs(5);

fn is_eagain(e: &ssh2::Error) -> bool {
    code(e) == Some(ERR_EAGAIN)
}

fn ssh_err(what: &str, e: &ssh2::Error) -> RemoteError {
    RemoteError::Session(format!("{what}: {}", e.message()))
}

fn io_err(what: &str, e: io::Error) -> RemoteError {
    RemoteError::Session(format!("{what}: {e}"))
}

/// Waits until the socket is ready for what libssh2 last blocked on, at most `max`.
fn wait_socket(session: &Session, fd: std::os::fd::RawFd, max: Duration) -> io::Result<()> {
    let events = match session.block_directions() {
        BlockDirections::Outbound => libc::POLLOUT,
        BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
        BlockDirections::Inbound | BlockDirections::None => libc::POLLIN,
    };
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = max.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut p, 1, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// Whether the socket has room to send right now.
pub(super) fn writable(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1, no wait.
    unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLOUT != 0 }
}

/// Waits for the socket and sends a keepalive now and then while idle. A keepalive
/// is only attempted when the socket has room: libssh2 keeps a half-sent keepalive
/// pending and would refuse every other packet.
pub(super) struct Idle {
    last_keepalive: Instant,
}

impl Idle {
    pub(super) fn new() -> Self {
        Idle {
            last_keepalive: Instant::now(),
        }
    }

    pub(super) fn wait(&mut self, conn: &Conn, max: Duration) -> Result<(), RemoteError> {
        wait_socket(&conn.session, conn.fd, max).map_err(|e| io_err("waiting on the socket", e))?;
        if self.last_keepalive.elapsed() >= KEEPALIVE_CHECK {
            self.last_keepalive = Instant::now();
            if writable(conn.fd) {
                // Sends only when the keepalive interval has passed; EAGAIN is harmless.
                let _ = conn.session.keepalive_send();
            }
        }
        Ok(())
    }
}

/// How long since a started command last moved a byte; past `limit`, it is given up.
pub(super) struct Stall {
    limit: Duration,
    last: Instant,
    host: String,
}

impl Stall {
    pub fn new(host: &str, limit: Duration) -> Self {
        Stall {
            limit,
            last: Instant::now(),
            host: host.to_string(),
        }
    }

    /// A byte moved: the command is alive.
    pub(super) fn moved(&mut self) {
        self.last = Instant::now();
    }

    /// `Err(Stalled)` once nothing moved for the limit.
    pub(super) fn check(&self, what: &str) -> Result<(), RemoteError> {
        if self.last.elapsed() < self.limit {
            return Ok(());
        }
        Err(RemoteError::Stalled {
            host: self.host.clone(),
            what: what.to_string(),
            silent: humantime::format_duration(self.limit).to_string(),
        })
    }

    /// How long to wait at most before looking again.
    pub(super) fn tick(&self) -> Duration {
        TICK.min(self.limit.saturating_sub(self.last.elapsed()))
            .max(Duration::from_millis(10))
    }
}

/// What a started command is said to be doing when it stalls.
const RUNNING: &str = "a command ran there";

/// Repeats a libssh2 call while it says EAGAIN, for at most `limit`.
pub(super) fn retry<T>(
    conn: &Conn,
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Result<T, ssh2::Error>,
) -> Result<T, RemoteError> {
    let deadline = Instant::now() + limit;
    let mut idle = Idle::new();
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if is_eagain(&e) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(RemoteError::Timeout {
                        what: what.to_string(),
                        secs: limit.as_secs(),
                    });
                }
                idle.wait(conn, (deadline - now).min(TICK))?;
            }
            Err(e) => return Err(ssh_err(what, &e)),
        }
    }
}

/// Like `retry`, for the end of a command that has run (its close may take as long
/// as the host needs): given up only when nothing comes for the stall limit.
fn retry_stalling<T>(
    conn: &Conn,
    stall: &Stall,
    what: &str,
    mut f: impl FnMut() -> Result<T, ssh2::Error>,
) -> Result<T, RemoteError> {
    let mut idle = Idle::new();
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if is_eagain(&e) => {
                stall.check(RUNNING)?;
                idle.wait(conn, stall.tick())?
            }
            Err(e) => return Err(ssh_err(what, &e)),
        }
    }
}

/// Why an exec failed: before the command could have started (safe to retry on a
/// fresh connection) or after.
pub(super) enum ExecError {
    NotStarted(RemoteError),
    Started(RemoteError),
}

impl ExecError {
    /// The error to show. A connection lost once the command may have started says
    /// so: what the command did on the host is unknown until it is looked at again.
    pub fn into_inner(self) -> RemoteError {
        match self {
            ExecError::Started(RemoteError::Session(msg)) => RemoteError::Session(format!(
                "{msg} (the connection broke while the command ran: run `relman list` to see the host's state)"
            )),
            ExecError::NotStarted(e) | ExecError::Started(e) => e,
        }
    }
}

/// Opens a session channel and starts `command` on it.
pub(super) fn start(conn: &Conn, command: &str, limit: Duration) -> Result<Channel, ExecError> {
    conn.session.set_blocking(false);
    let mut ch = retry(conn, "opening a channel", limit, || {
        conn.session.channel_session()
    })
    .map_err(ExecError::NotStarted)?;
    retry(conn, "starting the command", limit, || ch.exec(command)).map_err(ExecError::Started)?;
    Ok(ch)
}

/// Reads everything available now from one stream into `dst`. True if bytes came.
pub(super) fn drain(
    ch: &Channel,
    stream: i32,
    dst: &mut Vec<u8>,
    buf: &mut Vec<u8>,
) -> Result<bool, RemoteError> {
    let mut got = false;
    let mut s = ch.stream(stream);
    loop {
        match s.read(buf) {
            Ok(0) => return Ok(got),
            Ok(n) => {
                dst.extend_from_slice(&buf[..n]);
                if n == buf.len() && buf.len() < MAX_READ {
                    buf.resize((buf.len() * 4).min(MAX_READ), 0);
                }
                got = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(got),
            Err(e) => return Err(io_err("reading the command's output", e)),
        }
    }
}

/// Whether the remote side has closed the channel (only meaningful after its EOF).
fn remote_closed(ch: &mut Channel) -> Result<bool, RemoteError> {
    match ch.wait_close() {
        Ok(()) => Ok(true),
        Err(e) if is_eagain(&e) => Ok(false),
        Err(e) => Err(ssh_err("waiting for the command to end", &e)),
    }
}

/// Runs one command: stdin streamed in 1 MiB chunks then EOF, stdout and stderr
/// drained together, status from exit-status / exit-signal after the close. Given
/// up when no byte moves for `stall`'s limit.
pub(super) fn exec(
    conn: &Conn,
    command: &str,
    stdin: &mut dyn Read,
    progress: &mut dyn FnMut(u64),
    limit: Duration,
    mut stall: Stall,
) -> Result<ExecOutput, ExecError> {
    let ch = start(conn, command, limit)?;
    stall.moved();
    let mut lane = Lane::new(ch, stdin);
    let mut rbuf = vec![0u8; FIRST_BUF];
    let mut idle = Idle::new();
    let run = || -> Result<ExecOutput, RemoteError> {
        loop {
            let turn = lane.turn(&mut rbuf, true)?;
            if turn.sent > 0 {
                progress(lane.sent);
            }
            if turn.ended {
                break;
            }
            if turn.moved {
                stall.moved();
            } else {
                stall.check(RUNNING)?;
                idle.wait(conn, stall.tick())?;
            }
        }
        lane.finish(conn, &mut stall)
    };
    run().map_err(ExecError::Started)
}

/// Runs every command at once, each on a channel of its own on `conn` (each channel
/// gets a window of its own from sshd), each fed its own stdin, as [`exec`] runs
/// one. The channels are opened one after another (libssh2 opens one at a time),
/// the commands started together. When the host refuses a channel (sshd's
/// `MaxSessions`), the commands left wait for a channel that ends. `progress` gets
/// the stdin bytes sent over all. Outputs in the commands' order.
pub(super) fn exec_all(
    conn: &Conn,
    jobs: &mut [(&str, &mut dyn Read)],
    progress: &mut dyn FnMut(u64),
    limit: Duration,
    mut stall: Stall,
) -> Result<Vec<ExecOutput>, ExecError> {
    let n = jobs.len();
    let mut queue: std::collections::VecDeque<Job> = jobs
        .iter_mut()
        .enumerate()
        .map(|(i, (c, r))| (i, *c, &mut **r as &mut dyn Read))
        .collect();
    let mut results: Vec<Option<ExecOutput>> = (0..n).map(|_| None).collect();
    let mut lanes: Vec<(usize, Lane)> = start_lanes(conn, &mut queue, limit)?;
    let mut run = || -> Result<(), RemoteError> {
        stall.moved();
        let mut rbuf = vec![0u8; FIRST_BUF];
        let mut idle = Idle::new();
        let mut first = 0usize;
        let mut sent_before = 0u64; // by lanes already finished
        while !lanes.is_empty() {
            let mut moved = false;
            // Lanes take turns at going first; a lane holding a half-sent packet is
            // the only one that may send until it has sent it.
            let k = lanes.len();
            first = (first + 1) % k;
            for j in 0..k {
                let at = (first + j) % k;
                let may_write = !lanes
                    .iter()
                    .enumerate()
                    .any(|(o, (_, l))| o != at && l.write_pending);
                let turn = lanes[at].1.turn(&mut rbuf, may_write)?;
                moved |= turn.moved;
            }
            let total = sent_before + lanes.iter().map(|(_, l)| l.sent).sum::<u64>();
            if moved {
                progress(total);
            }
            // An ended lane is closed once no other lane has a packet half-sent
            // (the close is a packet too); its channel then takes a waiting job.
            if let Some(at) = lanes.iter().position(|(_, l)| l.ended)
                && !lanes.iter().any(|(_, l)| l.write_pending)
            {
                let (i, lane) = lanes.swap_remove(at);
                sent_before += lane.sent;
                results[i] = Some(lane.finish(conn, &mut stall)?);
                if let Some((i, cmd, stdin)) = queue.pop_front() {
                    let ch = start(conn, cmd, limit).map_err(ExecError::into_inner)?;
                    lanes.push((i, Lane::new(ch, stdin)));
                }
                stall.moved();
                continue;
            }
            if moved {
                stall.moved();
            } else {
                stall.check(RUNNING)?;
                idle.wait(conn, stall.tick())?;
            }
        }
        Ok(())
    };
    run().map_err(ExecError::Started)?;
    Ok(results.into_iter().map(Option::unwrap_or_default).collect())
}

/// A command to run: its index among the jobs, its text, its stdin.
type Job<'c, 'a> = (usize, &'c str, &'a mut dyn Read);

/// Opens a channel for each job in `queue` and starts its command, as many as the
/// host allows (the rest stay queued). libssh2 must never have two exec requests in
/// flight at once: it takes any CHANNEL_SUCCESS it reads for the one it waits for,
/// and a reply meant for another channel fails the wait ("Failed waiting for
/// channel success", packet.c `ssh2_packet_requirev`; seen in 2 of 8 runs). Nor two
/// opens (one open state per session). An open and an exec wait for replies of
/// different types, so the next channel's open goes out while this one's exec
/// waits: k lanes start in about k + 1 round trips. A packet half-sent (EAGAIN
/// while sending) is finished by the same call before anything else is sent.
/// Error `NotStarted` only if the first channel could not be opened.
fn start_lanes<'c, 'a>(
    conn: &Conn,
    queue: &mut std::collections::VecDeque<Job<'c, 'a>>,
    limit: Duration,
) -> Result<Vec<(usize, Lane<'a>)>, ExecError> {
    #[derive(PartialEq)]
    enum Half {
        Open,
        Exec,
    }
    conn.session.set_blocking(false);
    let sending = || {
        matches!(
            conn.session.block_directions(),
            BlockDirections::Outbound | BlockDirections::Both
        )
    };
    let mut lanes = Vec::new();
    let mut opening: Option<Job> = None;
    let mut starting: Option<(Job, Channel)> = None;
    let mut opened: std::collections::VecDeque<(Job, Channel)> = Default::default();
    let mut refused = false; // the host allows no more channels now
    let mut half: Option<Half> = None; // whose packet is half-sent
    let deadline = Instant::now() + limit;
    let mut idle = Idle::new();
    loop {
        if starting.is_none() {
            starting = opened.pop_front();
        }
        if opening.is_none() && !refused {
            opening = queue.pop_front();
        }
        if opening.is_none() && starting.is_none() {
            return Ok(lanes);
        }
        let mut blocked = false;
        if half.as_ref().is_none_or(|h| *h == Half::Exec)
            && let Some(((i, cmd, stdin), mut ch)) = starting.take()
        {
            match ch.exec(cmd) {
                Ok(()) => {
                    half = None;
                    lanes.push((i, Lane::new(ch, stdin)));
                }
                Err(e) if is_eagain(&e) => {
                    half = sending().then_some(Half::Exec);
                    starting = Some(((i, cmd, stdin), ch));
                    blocked = true;
                }
                Err(e) => {
                    return Err(ExecError::Started(ssh_err("starting the command", &e)));
                }
            }
        }
        if half.as_ref().is_none_or(|h| *h == Half::Open)
            && let Some(job) = opening.take()
        {
            match conn.session.channel_session() {
                Ok(ch) => {
                    half = None;
                    opened.push_back((job, ch));
                }
                Err(e) if is_eagain(&e) => {
                    half = sending().then_some(Half::Open);
                    opening = Some(job);
                    blocked = true;
                }
                Err(e) => {
                    half = None;
                    let first = lanes.is_empty() && starting.is_none() && opened.is_empty();
                    if first {
                        return Err(ExecError::NotStarted(ssh_err("opening a channel", &e)));
                    }
                    // No more channels now: the rest wait for one that ends.
                    refused = true;
                    queue.push_front(job);
                }
            }
        }
        if !blocked {
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            let what = if starting.is_some() {
                "starting the command"
            } else {
                "opening a channel"
            };
            let e = RemoteError::Timeout {
                what: what.to_string(),
                secs: limit.as_secs(),
            };
            return Err(if lanes.is_empty() && starting.is_none() {
                ExecError::NotStarted(e)
            } else {
                ExecError::Started(e)
            });
        }
        idle.wait(conn, (deadline - now).min(TICK))
            .map_err(ExecError::Started)?;
    }
}

/// One command's channel as the pump moves it: its stdin fed in chunks then EOF,
/// its stdout and stderr drained.
struct Lane<'a> {
    ch: Channel,
    stdin: &'a mut dyn Read,
    out: ExecOutput,
    inbuf: Vec<u8>,
    start: usize,
    end: usize,
    /// Local stdin reached its end.
    input_done: bool,
    /// EOF sent, or the rest of stdin given up.
    stdin_closed: bool,
    /// libssh2 holds a half-sent packet of ours.
    write_pending: bool,
    /// The command's output has ended (and its input with it).
    ended: bool,
    sent: u64,
}

/// What one turn of a lane did.
struct Turn {
    moved: bool,
    sent: u64,
    ended: bool,
}

impl<'a> Lane<'a> {
    fn new(ch: Channel, stdin: &'a mut dyn Read) -> Self {
        Lane {
            ch,
            stdin,
            out: ExecOutput::default(),
            inbuf: vec![0u8; FIRST_BUF],
            start: 0,
            end: 0,
            input_done: false,
            stdin_closed: false,
            write_pending: false,
            ended: false,
            sent: 0,
        }
    }

    /// Feeds up to a chunk while the channel takes it (when `may_write`), sends EOF
    /// after the input's end, then drains the output.
    fn turn(&mut self, rbuf: &mut Vec<u8>, may_write: bool) -> Result<Turn, RemoteError> {
        let mut moved = false;
        let before = self.sent;
        if self.ended {
            return Ok(Turn {
                moved,
                sent: 0,
                ended: true,
            });
        }
        if !self.stdin_closed && may_write {
            let mut budget = CHUNK;
            while budget > 0 {
                if self.start == self.end && !self.input_done {
                    let n = read_input(self.stdin, &mut self.inbuf)?;
                    if n == 0 {
                        self.input_done = true;
                    } else {
                        (self.start, self.end) = (0, n);
                        // A full read: a big input, read it in bigger chunks.
                        if n == self.inbuf.len() && self.inbuf.len() < CHUNK {
                            self.inbuf.resize((self.inbuf.len() * 4).min(CHUNK), 0);
                        }
                    }
                }
                if self.start == self.end {
                    break;
                }
                match self.ch.write(&self.inbuf[self.start..self.end]) {
                    Ok(n) => {
                        self.write_pending = false;
                        if n == 0 {
                            break;
                        }
                        self.start += n;
                        self.sent += n as u64;
                        budget = budget.saturating_sub(n);
                        moved = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // EAGAIN with an open window: a packet is half-sent and must be
                        // completed by the same write; with a shut window: nothing is.
                        self.write_pending = self.ch.write_window().remaining > 0;
                        break;
                    }
                    Err(e) => return Err(io_err("sending input to the command", e)),
                }
            }
            if self.start == self.end && self.input_done {
                match self.ch.send_eof() {
                    Ok(()) => {
                        self.stdin_closed = true;
                        moved = true;
                    }
                    Err(e) if is_eagain(&e) => {}
                    Err(e) => return Err(ssh_err("closing the command's input", &e)),
                }
            }
        }
        moved |= drain(&self.ch, 0, &mut self.out.stdout, rbuf)?;
        moved |= drain(&self.ch, 1, &mut self.out.stderr, rbuf)?;
        if self.ch.eof() {
            // Ended with its input sent; or ended while we still have input for it:
            // if it has exited (the server closed the channel), the rest of the
            // input is moot, its status says what happened.
            if self.stdin_closed || (!self.write_pending && remote_closed(&mut self.ch)?) {
                self.ended = true;
            }
        }
        Ok(Turn {
            moved,
            sent: self.sent - before,
            ended: self.ended,
        })
    }

    /// Waits for the server's close (it follows the exit status), closes ours, and
    /// gives the output with the status.
    fn finish(mut self, conn: &Conn, stall: &mut Stall) -> Result<ExecOutput, RemoteError> {
        stall.moved();
        let ch = &mut self.ch;
        retry_stalling(conn, stall, "waiting for the command to end", || {
            ch.wait_close()
        })?;
        retry_stalling(conn, stall, "closing the channel", || ch.close())?;
        let signal = ch
            .exit_signal()
            .map_err(|e| ssh_err("reading the exit signal", &e))?;
        self.out.status = match signal.exit_signal {
            Some(_) => None,
            None => Some(
                ch.exit_status()
                    .map_err(|e| ssh_err("reading the exit status", &e))?,
            ),
        };
        Ok(self.out)
    }
}

fn read_input(stdin: &mut dyn Read, buf: &mut [u8]) -> Result<usize, RemoteError> {
    loop {
        match stdin.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RemoteError::Io(e)),
        }
    }
}

/// A command on a connection of its own, with line-oriented stdout and stdin.
pub(super) struct SshProcess {
    // Declared before `conn`: the channel goes first.
    channel: Option<Channel>,
    conn: Conn,
    buf: Vec<u8>,
    eof: bool,
    rbuf: Vec<u8>,
    /// The host's label and stall limit, for each read and write.
    host: String,
    stall: Duration,
    /// Silence the next `read_line` may see on top of the stall limit.
    allowance: Duration,
}

impl SshProcess {
    pub fn start(
        conn: Conn,
        command: &str,
        limit: Duration,
        host: &str,
        stall: Duration,
    ) -> Result<Self, RemoteError> {
        Self::try_start(conn, command, limit, host, stall).map_err(ExecError::into_inner)
    }

    /// [`SshProcess::start`], saying whether the command could have started.
    pub fn try_start(
        conn: Conn,
        command: &str,
        limit: Duration,
        host: &str,
        stall: Duration,
    ) -> Result<Self, ExecError> {
        let ch = start(&conn, command, limit)?;
        Ok(SshProcess {
            channel: Some(ch),
            conn,
            buf: Vec::new(),
            eof: false,
            rbuf: vec![0u8; FIRST_BUF],
            host: host.to_string(),
            stall,
            allowance: Duration::ZERO,
        })
    }
}

fn to_io(e: RemoteError) -> io::Error {
    match e {
        RemoteError::Io(e) => e,
        RemoteError::Timeout { .. } => io::Error::new(io::ErrorKind::TimedOut, e.to_string()),
        e => io::Error::other(e.to_string()),
    }
}

impl Process for SshProcess {
    fn read_line(&mut self) -> io::Result<Option<String>> {
        let Some(ch) = self.channel.as_mut() else {
            return Ok(None);
        };
        let mut idle = Idle::new();
        let mut stderr = Vec::new();
        let mut stall = Stall::new(&self.host, self.stall + self.allowance);
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(Some(String::from_utf8_lossy(&line[..i]).into_owned()));
            }
            if self.eof {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.buf);
                return Ok(Some(String::from_utf8_lossy(&rest).into_owned()));
            }
            let mut moved = drain(ch, 0, &mut self.buf, &mut self.rbuf).map_err(to_io)?;
            // Stderr is read and dropped so it cannot fill the window.
            moved |= drain(ch, 1, &mut stderr, &mut self.rbuf).map_err(to_io)?;
            stderr.clear();
            if ch.eof() {
                self.eof = true;
                continue;
            }
            if moved {
                stall.moved();
            } else {
                stall.check(RUNNING).map_err(to_io)?;
                idle.wait(&self.conn, stall.tick()).map_err(to_io)?;
            }
        }
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(ch) = self.channel.as_mut() else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        // Like a pipe to a dead process: once the command has ended (the server
        // closed the channel), writing fails instead of vanishing into the void.
        if ch.eof() && remote_closed(ch).map_err(to_io)? {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the remote command has ended",
            ));
        }
        let mut idle = Idle::new();
        let mut done = 0;
        let stall = Stall::new(&self.host, self.stall);
        while done < data.len() {
            match ch.write(&data[done..]) {
                Ok(n) if n > 0 => {
                    done += n;
                    continue;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let pending = ch.write_window().remaining > 0;
                    if !pending && ch.eof() && remote_closed(ch).map_err(to_io)? {
                        return Err(io::Error::new(
                            io::ErrorKind::BrokenPipe,
                            "the remote command has ended",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
            stall.check(RUNNING).map_err(to_io)?;
            idle.wait(&self.conn, stall.tick()).map_err(to_io)?;
        }
        Ok(())
    }

    fn allow_silence(&mut self, extra: Duration) {
        self.allowance = extra;
    }
}

impl Drop for SshProcess {
    fn drop(&mut self) {
        // EOF on its stdin ends a well-behaved command; the close and the
        // disconnect (Conn's drop) end the rest. Bounded: 2 s per step.
        self.conn.session.set_blocking(true);
        self.conn.session.set_timeout(2000);
        if let Some(mut ch) = self.channel.take() {
            let _ = ch.send_eof();
            let _ = ch.close();
        }
    }
}
