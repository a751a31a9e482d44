//! The session shell: one long-lived `sh` per connection (`scripts/session.sh`) that
//! runs relman's scripts one after another, each framed on its stdin and its output
//! ended by a marker, instead of one channel and one login shell per script. Each
//! script is preceded by a ping (an empty frame: one round trip, no fork).
//!
//! Why: sshd runs every command through the user's login shell, and bash reads
//! `~/.bashrc` even for `ssh host cmd`; a `pyenv`/`nvm` line there costs 0.1–0.35 s
//! per command (BENCHMARKS.md, issue 17). A deploy runs ~5 scripts; a console
//! refreshes every few seconds. Through the session shell the rc file runs once per
//! connection, and a script opens no channel (its ping takes the round trip a
//! channel open took).
//!
//! Only scripts (`Transport::run_script`) go this way: commands with their own stdin
//! (the upload), the lock holder and streamed jobs keep a channel of their own.
//! `RELMAN_SESSION_SHELL=0` turns it off (for A/B benchmarks in one build).
//!
//! Failure rules, as for a plain exec ([`ExecError`]): a shell found ended before
//! the script was sent, or a write refused before its first byte, is `NotStarted`
//! (a fresh connection may run it); anything after is `Started`, and the connection
//! with its shell is dropped.

use std::io::{self, Write};
use std::time::Duration;

use ssh2::Channel;

use super::conn::Conn;
use super::pump::{ExecError, Idle, Stall, drain, start};
use crate::remote::{ExecOutput, RemoteError};

/// The driver, run with `sh -c`.
const DRIVER: &str = include_str!("../scripts/session.sh");

/// What a stalled script is said to be doing.
const RUNNING: &str = "a script ran in its session shell";

/// Whether scripts go through the session shell (`RELMAN_SESSION_SHELL=0`: no).
pub(super) fn enabled() -> bool {
    std::env::var_os("RELMAN_SESSION_SHELL").is_none_or(|v| v != "0")
}

/// A started session shell on one connection.
pub(super) struct Shell {
    ch: Channel,
    /// Names this shell's end markers (with `seq`): random, so no script output
    /// can contain one by chance.
    nonce: String,
    seq: u64,
}

impl Shell {
    /// Starts the driver on `conn`.
    pub(super) fn start(conn: &Conn, limit: Duration) -> Result<Shell, ExecError> {
        let command = format!(
            "sh -c {}",
            crate::remote::quote::quote(DRIVER)
                .map_err(|e| ExecError::NotStarted(RemoteError::from(e)))?
        );
        let ch = start(conn, &command, limit)?;
        Ok(Shell {
            ch,
            nonce: crate::ops::lock::token(),
            seq: 0,
        })
    }

    /// Runs one rendered script; its stdout, stderr and status as an exec gives them.
    pub(super) fn run(
        &mut self,
        conn: &Conn,
        script: &str,
        mut stall: Stall,
    ) -> Result<ExecOutput, ExecError> {
        // Reading first takes in what came while idle: a connection that died (sshd
        // restarted, host rebooted) or a shell that ended shows here, before
        // anything is sent (as a plain exec's channel open would fail).
        let mut stray = Vec::new();
        let mut rbuf = vec![0u8; 4096];
        let idle_state = drain(&self.ch, 0, &mut stray, &mut rbuf)
            .and_then(|_| drain(&self.ch, 1, &mut stray, &mut rbuf));
        if let Err(e) = idle_state {
            return Err(ExecError::NotStarted(e));
        }
        if self.ch.eof() {
            return Err(ExecError::NotStarted(RemoteError::Session(
                "the session shell has ended".into(),
            )));
        }
        // A ping first (one round trip, no fork on the host): through a proxy, or
        // after sshd restarted, only a round trip shows that the connection is gone,
        // and a script sent into a dead connection would fail as "state unknown"
        // instead of running on a fresh one (a plain exec's channel open was that
        // round trip). Nothing of the script is sent yet: a failure is `NotStarted`.
        let ping = self.frame("");
        self.send(conn, ping.bytes(), &mut stall)
            .map_err(|e| ExecError::NotStarted(e.into_inner()))?;
        self.collect(conn, ping.token(), &mut stall)
            .map_err(ExecError::NotStarted)?;
        let frame = self.frame(script);
        stall.moved();
        self.send(conn, frame.bytes(), &mut stall)?;
        self.collect(conn, frame.token(), &mut stall)
            .map_err(ExecError::Started)
    }

    /// The next script's header and text, and its token.
    fn frame(&mut self, script: &str) -> Frame {
        self.seq += 1;
        let token = format!("relman-{}-{}", self.nonce, self.seq);
        let mut bytes = format!("{} {token}\n", script.len()).into_bytes();
        bytes.extend_from_slice(script.as_bytes());
        Frame { bytes, token }
    }

    /// Writes all of `data`, draining nothing (the script runs only once read whole).
    fn send(&mut self, conn: &Conn, data: &[u8], stall: &mut Stall) -> Result<(), ExecError> {
        let mut idle = Idle::new();
        let mut done = 0;
        while done < data.len() {
            match self.ch.write(&data[done..]) {
                // A packet's worth at a time: write on at once.
                Ok(n) if n > 0 => {
                    done += n;
                    stall.moved();
                    continue;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    let e = RemoteError::Session(format!("sending a script: {e}"));
                    return Err(if done == 0 {
                        ExecError::NotStarted(e)
                    } else {
                        ExecError::Started(e)
                    });
                }
            }
            {
                let started = |e| {
                    if done == 0 {
                        ExecError::NotStarted(e)
                    } else {
                        ExecError::Started(e)
                    }
                };
                stall.check(RUNNING).map_err(started)?;
                idle.wait(conn, stall.tick()).map_err(started)?;
            }
        }
        Ok(())
    }

    /// Reads stdout and stderr up to their end markers.
    fn collect(
        &mut self,
        conn: &Conn,
        token: &str,
        stall: &mut Stall,
    ) -> Result<ExecOutput, RemoteError> {
        let out_mark = format!("\n{token} ").into_bytes();
        let err_mark = format!("\n{token}\n").into_bytes();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut rbuf = vec![0u8; 32 * 1024];
        let mut idle = Idle::new();
        let (mut status, mut err_end) = (None, None);
        loop {
            // Each stream is searched again only when more of it came.
            let got_out = drain(&self.ch, 0, &mut out, &mut rbuf)?;
            let got_err = drain(&self.ch, 1, &mut err, &mut rbuf)?;
            let moved = got_out || got_err;
            if status.is_none() && got_out {
                status = end_status(&out, &out_mark);
            }
            if err_end.is_none() && got_err {
                err_end = find(&err, &err_mark);
            }
            if let (Some((at, code)), Some(e)) = (status, err_end) {
                out.truncate(at);
                err.truncate(e);
                return Ok(ExecOutput {
                    status: Some(code),
                    stdout: out,
                    stderr: err,
                });
            }
            if self.ch.eof() {
                return Err(RemoteError::Session(
                    "the session shell ended while a script ran".into(),
                ));
            }
            if moved {
                stall.moved();
            } else if self.ch.read_window().available > 0 {
                // Reading one stream can take in the other's packets: libssh2 holds
                // them, and the socket has nothing more to wake a `poll` (no close
                // follows the markers, unlike an exec's end).
                continue;
            } else {
                stall.check(RUNNING)?;
                idle.wait(conn, stall.tick())?;
            }
        }
    }
}

/// One script as sent: header and text, and the token that ends its output.
struct Frame {
    bytes: Vec<u8>,
    token: String,
}

impl Frame {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn token(&self) -> &str {
        &self.token
    }
}

/// Where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `Some((where stdout ends, status))` once `\n<token> <status>\n` has arrived.
fn end_status(out: &[u8], mark: &[u8]) -> Option<(usize, i32)> {
    let at = find(out, mark)?;
    let rest = &out[at + mark.len()..];
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let code = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    Some((at, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_marker_needs_its_whole_line() {
        let mark = b"\nrelman-ab-1 ";
        assert_eq!(end_status(b"x\n\nrelman-ab-1 3\n", mark), Some((2, 3)));
        assert_eq!(end_status(b"\nrelman-ab-1 0\n", mark), Some((0, 0)));
        assert_eq!(
            end_status(b"x\n\nrelman-ab-1 3", mark),
            None,
            "status not whole yet"
        );
        assert_eq!(
            end_status(b"x\nrelman-ab-2 0\n", mark),
            None,
            "another script's"
        );
        assert_eq!(end_status(b"x\n\nrelman-ab-1 z\n", mark), None);
    }

    #[test]
    fn the_driver_is_short_and_names_nothing_of_a_host() {
        // Its text is in argv for the connection's life: the job scan greps argv.
        assert!(DRIVER.len() < 2048);
        assert!(!DRIVER.contains("batch"));
    }
}
