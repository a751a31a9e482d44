//! The smoke test of a deploy (`--smoke CMD`, SPEC §7): once the new release is
//! published on every host and before any switch, `CMD` runs on each host through
//! its launcher, `launch --release NEW -- sh -c CMD` (so the run is in the host's
//! ledger like any job), with relman's own connection ([`crate::ops::launch`]).
//! Its stdout and stderr are kept as one bounded tail ([`Tail`]) for the report;
//! past its timeout it gets `TERM` (and `KILL` after
//! [`KILL_AFTER`](crate::ops::launch::KILL_AFTER)), and counts as failed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::HostConfig;
use crate::model::{Pin, printable};
use crate::ops::launch::{LaunchRequest, Local, launch, status_code};
use crate::remote::Transport;

/// What `--smoke` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smoke {
    /// Run with `sh -c` on each host, in the new release (the launcher's cwd).
    pub command: String,
    /// How long it may run on a host before it is stopped and counts as failed.
    pub timeout: Duration,
}

/// `--smoke-timeout` when not given: long enough for a real check of a batch
/// release (import a module, read the config, a dry run), short enough that a hung
/// smoke is noticed within a coffee break.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Lines of the smoke's output kept for the report (its end: where the error is).
pub const TAIL_LINES: usize = 20;

/// A kept line is cut to this many characters.
pub const LINE_MAX: usize = 400;

/// How a host's smoke ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmokeStatus {
    /// Exit 0.
    Passed,
    /// It exited non-zero (or was killed by a signal: 128 + N, as a shell says).
    Failed { exit_code: i32 },
    /// It ran past the timeout and was stopped.
    TimedOut,
    /// It could not be run (the launcher refused, the connection broke): not a pass.
    Error(String),
    /// The operator called the deploy off while it ran.
    CalledOff,
}

/// A host's smoke: how it ended, the tail of its output, how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeResult {
    pub status: SmokeStatus,
    pub tail: Vec<String>,
    pub duration: Duration,
}

impl SmokeStatus {
    /// How it ended, as the `refuse` history note and the report say it:
    /// "failed (exit 3)", "timed out".
    pub fn describe(&self) -> String {
        match self {
            SmokeStatus::Passed => "passed".into(),
            SmokeStatus::Failed { exit_code } => format!("failed (exit {exit_code})"),
            SmokeStatus::TimedOut => "timed out".into(),
            SmokeStatus::Error(e) => format!("could not run: {e}"),
            SmokeStatus::CalledOff => "was called off".into(),
        }
    }
}

impl SmokeResult {
    pub fn passed(&self) -> bool {
        self.status == SmokeStatus::Passed
    }
}

/// The last [`TAIL_LINES`] lines of a stream, each made printable and cut to
/// [`LINE_MAX`] characters; memory stays bounded whatever the command writes.
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

impl Tail {
    pub fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' {
                let line = std::mem::take(&mut self.partial);
                self.push(&line);
            } else if self.partial.len() < LINE_MAX * 4 {
                // A line longer than this is cut anyway: the rest is dropped.
                self.partial.push(b);
            }
        }
    }

    fn push(&mut self, line: &[u8]) {
        let text = printable(String::from_utf8_lossy(line).trim_end_matches('\r'));
        let text: String = text.chars().take(LINE_MAX).collect();
        self.lines.push_back(text);
        while self.lines.len() > TAIL_LINES {
            self.lines.pop_front();
        }
    }

    /// The kept lines, a last line without its newline included.
    pub fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.push(&line);
        }
        self.lines.into()
    }
}

/// relman's end of a smoke run: output into the tail, no input, a `TERM` at the
/// deadline (or when the deploy is called off).
struct SmokeLocal<'a> {
    tail: Tail,
    deadline: Instant,
    stop: &'a (dyn Fn() -> bool + Sync),
    timed_out: bool,
    called_off: bool,
}

impl Local for SmokeLocal<'_> {
    fn stdout(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.tail.feed(data);
        Ok(())
    }

    fn stderr(&mut self, data: &[u8]) {
        self.tail.feed(data);
    }

    fn input(&mut self) -> Option<Vec<u8>> {
        None
    }

    fn signal(&mut self) -> Option<i32> {
        if self.timed_out || self.called_off {
            return None;
        }
        if Instant::now() >= self.deadline {
            self.timed_out = true;
            Some(libc::SIGTERM)
        } else if (self.stop)() {
            self.called_off = true;
            Some(libc::SIGINT)
        } else {
            None
        }
    }

    fn wake_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }

    fn pinned(&mut self, _host: &str, _pin: &Pin) {}
}

/// Runs the smoke on one host, on release `release` (published, not live).
pub fn run(
    t: &dyn Transport,
    host: &HostConfig,
    release: &str,
    smoke: &Smoke,
    stop: &(dyn Fn() -> bool + Sync),
) -> SmokeResult {
    let t0 = Instant::now();
    let command = vec!["sh".to_string(), "-c".to_string(), smoke.command.clone()];
    let mut local = SmokeLocal {
        tail: Tail::default(),
        deadline: t0 + smoke.timeout,
        stop,
        timed_out: false,
        called_off: false,
    };
    let req = LaunchRequest {
        release: Some(release),
        pin: None,
        command: &command,
        tail: None,
    };
    let res = launch(t, host, &req, &mut local);
    let status = match res {
        _ if local.timed_out => SmokeStatus::TimedOut,
        _ if local.called_off => SmokeStatus::CalledOff,
        Ok(l) => match status_code(&l.end) {
            0 => SmokeStatus::Passed,
            n => SmokeStatus::Failed { exit_code: n },
        },
        Err(e) => SmokeStatus::Error(e.to_string()),
    };
    SmokeResult {
        status,
        tail: local.tail.finish(),
        duration: t0.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_bounded_and_printable() {
        let mut t = Tail::default();
        for i in 0..50 {
            t.feed(format!("line {i}\n").as_bytes());
        }
        t.feed(b"no newline \x1b[31mred");
        let lines = t.finish();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], "line 31");
        assert_eq!(lines[TAIL_LINES - 2], "line 49");
        let last = &lines[TAIL_LINES - 1];
        assert!(last.starts_with("no newline "), "{last}");
        assert!(!last.contains('\x1b'), "{last:?}");
    }

    #[test]
    fn a_long_line_is_cut_and_pieces_join_across_feeds() {
        let mut t = Tail::default();
        t.feed(&vec![b'x'; LINE_MAX * 10]);
        t.feed(b"\nab");
        t.feed(b"c\r\n");
        let lines = t.finish();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), LINE_MAX);
        assert_eq!(lines[1], "abc");
    }

    #[test]
    fn only_a_pass_is_a_pass() {
        let r = |status| SmokeResult {
            status,
            tail: Vec::new(),
            duration: Duration::ZERO,
        };
        assert!(r(SmokeStatus::Passed).passed());
        for s in [
            SmokeStatus::Failed { exit_code: 1 },
            SmokeStatus::TimedOut,
            SmokeStatus::Error("x".into()),
            SmokeStatus::CalledOff,
        ] {
            assert!(!r(s).passed());
        }
    }
}
