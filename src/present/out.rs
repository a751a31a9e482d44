//! Stdout for the CLI: every line `println!`/`print!` writes comes here
//! (see the macros in `lib.rs`).
//!
//! A closed stdout (`relman list | head -1`: the reader had what it wanted) stops
//! the output quietly: no panic, no message, and the exit code stays the command's
//! own — what it did on the hosts is unchanged by where its report went, and a
//! pipeline's reader chose to stop reading. Any other write error (a full disk
//! under a redirect) also stops the output, but is said once on stderr at the end
//! and makes a successful command exit 1: its report was lost, not declined.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write failed: nothing more is written.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// A write error other than a closed pipe, for [`finish`].
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Whether an error means the reader has gone (EPIPE).
fn reader_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Writes `args` to stdout (flushed at each newline, as std's stdout is), unless a
/// write already failed.
pub fn print(args: fmt::Arguments) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut o = io::stdout().lock();
    if let Err(e) = o.write_fmt(args) {
        stop(e);
    }
}

fn stop(e: io::Error) {
    CLOSED.store(true, Ordering::Relaxed);
    if !reader_gone(&e) {
        let mut g = FAILED.lock().unwrap_or_else(|p| p.into_inner());
        g.get_or_insert_with(|| e.to_string());
    }
}

/// The exit code, once the command is done: flushes stdout; a write error other than
/// a closed pipe is reported on stderr and turns 0 into 1.
pub fn finish(code: i32) -> i32 {
    if !CLOSED.load(Ordering::Relaxed)
        && let Err(e) = io::stdout().lock().flush()
    {
        stop(e);
    }
    let failed = FAILED.lock().unwrap_or_else(|p| p.into_inner()).take();
    match failed {
        Some(e) => {
            eprintln!("relman: cannot write to stdout: {e}");
            if code == 0 { 1 } else { code }
        }
        None => code,
    }
}
