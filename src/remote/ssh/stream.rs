//! A streamed command (`relman launch`): stdout and stderr handed to the caller as
//! they come, the caller's input fed to its stdin, and side commands (the signal
//! path: a `kill` of the job's process group) run on other channels of the same
//! session while it runs.
//!
//! The same libssh2 rules as `pump`: the session is non-blocking, a write that
//! returned EAGAIN with an open window is retried before anything else is sent (so
//! a side command only starts while no write is half-sent), both output streams are
//! drained every turn (a job writing megabytes to stderr can't shut the window).
//! Unlike `exec`, there is no stall limit: a batch job may be silent for hours. A
//! vanished network still ends it (TCP keepalive and user timeout on the socket,
//! SSH keepalives sent while idle).

use std::io::{self, Read, Write as _};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Channel};

use super::conn::{Conn, ERR_EAGAIN, code};
use super::pump::{self, ExecError};
use crate::remote::{RemoteError, Stream, StreamEnd};

/// How long one `poll` sleeps at most before the loop looks around.
const TICK: Duration = Duration::from_millis(1000);
/// Minimum time between keepalive attempts.
const KEEPALIVE_CHECK: Duration = Duration::from_secs(5);
/// Output is read in pieces of this size.
const READ_BUF: usize = 64 * 1024;

fn is_eagain(e: &ssh2::Error) -> bool {
    code(e) == Some(ERR_EAGAIN)
}

fn broke(what: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::Started(RemoteError::Session(format!("{what}: {e}")))
}

/// At most this many reads of one stream per turn of the loop: a job that writes as
/// fast as relman reads (`yes` on loopback) must not keep the loop from its other
/// work (stderr, a stop requested by a closed stdout, the signal channels). Unbounded,
/// `relman launch -- yes | head -1` ran on forever in 2 of 6 runs.
const READS_PER_TURN: usize = 16;

/// Reads what one stream of `ch` has now (at most [`READS_PER_TURN`] pieces) and
/// hands it to `sink`. True if bytes came.
fn drain(
    ch: &Channel,
    stream: i32,
    buf: &mut [u8],
    sink: &mut dyn FnMut(&[u8]),
) -> Result<bool, ExecError> {
    let mut got = false;
    let mut s = ch.stream(stream);
    for _ in 0..READS_PER_TURN {
        match s.read(buf) {
            Ok(0) => return Ok(got),
            Ok(n) => {
                sink(&buf[..n]);
                got = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(got),
            Err(e) => return Err(broke("reading the job's output", e)),
        }
    }
    Ok(got)
}

/// Sleeps until the socket is ready for what libssh2 waits for, or `wake` is
/// readable (its bytes are read and dropped), at most `max`.
fn wait(conn: &Conn, wake: Option<RawFd>, max: Duration) -> Result<(), ExecError> {
    let events = match conn.session.block_directions() {
        BlockDirections::Outbound => libc::POLLOUT,
        BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
        BlockDirections::Inbound | BlockDirections::None => libc::POLLIN,
    };
    let mut fds = [
        libc::pollfd {
            fd: conn.fd,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = max.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: two valid pollfds (a negative fd is ignored by poll).
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(broke("waiting on the socket", e));
        }
    }
    if let Some(fd) = wake {
        if fds[1].revents & libc::POLLIN != 0 {
            let mut b = [0u8; 64];
            // SAFETY: reading into a valid buffer of its size; the fd is non-blocking.
            while unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) } > 0 {}
        }
    }
    Ok(())
}

/// Runs `command` on a new channel of `conn`, streaming it through `io` until the
/// remote side closes the channel. `limit` bounds opening channels and starting
/// commands (the job itself runs as long as it runs).
pub(super) fn stream(
    conn: &Conn,
    command: &str,
    io: &mut dyn Stream,
    limit: Duration,
) -> Result<StreamEnd, ExecError> {
    let mut ch = pump::start(conn, command, limit)?;
    let wake = io.wake_fd();
    let mut buf = vec![0u8; READ_BUF];
    let (mut pending, mut off) = (Vec::new(), 0usize);
    let mut input_done = false;
    let mut eof_sent = false;
    let mut write_pending = false;
    // Side commands started (their output is dropped; closed at the end).
    let mut sides: Vec<Channel> = Vec::new();
    let mut queued: Vec<String> = Vec::new();
    let mut last_keepalive = Instant::now();
    loop {
        let mut moved = false;
        if let Some(cmd) = io.side_command() {
            queued.push(cmd);
        }
        // A side command may only go out while none of our writes is half-sent.
        if !write_pending && !queued.is_empty() {
            for cmd in queued.drain(..) {
                match pump::start(conn, &cmd, limit) {
                    Ok(side) => sides.push(side),
                    Err(ExecError::NotStarted(e) | ExecError::Started(e)) => {
                        return Err(ExecError::Started(e));
                    }
                }
            }
            moved = true;
        }
        // While a side command waits, only a half-sent write is completed.
        if !eof_sent && (queued.is_empty() || write_pending) {
            if off == pending.len() && !input_done && queued.is_empty() {
                match io.input() {
                    Some(v) if !v.is_empty() => (pending, off) = (v, 0),
                    Some(_) => {}
                    None => input_done = true,
                }
            }
            if off < pending.len() {
                match ch.write(&pending[off..]) {
                    Ok(n) => {
                        write_pending = false;
                        off += n;
                        moved |= n > 0;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        write_pending = ch.write_window().remaining > 0;
                    }
                    Err(e) => return Err(broke("sending input to the job", e)),
                }
            }
            if off == pending.len() && input_done && !write_pending && queued.is_empty() {
                match ch.send_eof() {
                    Ok(()) => {
                        eof_sent = true;
                        moved = true;
                    }
                    Err(e) if is_eagain(&e) => {}
                    Err(e) => return Err(broke("closing the job's input", e.message())),
                }
            }
        }
        moved |= drain(&ch, 0, &mut buf, &mut |b| io.stdout(b))?;
        moved |= drain(&ch, 1, &mut buf, &mut |b| io.stderr(b))?;
        for side in &sides {
            let mut sink = |_: &[u8]| {};
            drain(side, 0, &mut buf, &mut sink)?;
            drain(side, 1, &mut buf, &mut sink)?;
        }
        if ch.eof() && !write_pending {
            match ch.wait_close() {
                Ok(()) => break,
                Err(e) if is_eagain(&e) => {}
                Err(e) => return Err(broke("waiting for the job to end", e.message())),
            }
        }
        if !moved {
            wait(conn, wake, TICK)?;
            if last_keepalive.elapsed() >= KEEPALIVE_CHECK && !write_pending {
                last_keepalive = Instant::now();
                if pump::writable(conn.fd) {
                    let _ = conn.session.keepalive_send();
                }
            }
        }
    }
    let signal = ch
        .exit_signal()
        .map_err(|e| broke("reading the exit signal", e.message()))?;
    let end = match signal.exit_signal {
        Some(name) => StreamEnd::Signaled(name),
        None => StreamEnd::Exited(
            ch.exit_status()
                .map_err(|e| broke("reading the exit status", e.message()))?,
        ),
    };
    // Bounded goodbyes: the job has ended, the side commands are short.
    conn.session.set_blocking(true);
    conn.session.set_timeout(2000);
    let _ = ch.close();
    for mut side in sides {
        let _ = side.wait_close();
    }
    conn.session.set_blocking(false);
    Ok(end)
}
