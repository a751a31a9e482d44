//! `relman launch`: relman's own end of a launched job — its stdin read on a thread,
//! the job's bytes written to stdout and stderr as they come, and SIGINT, SIGTERM,
//! SIGHUP turned into a stop of the remote job (see `ops::launch`).

use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
use std::time::Duration;

use crate::config::{Config, HostConfig};
use crate::model::Pin;
use crate::ops::{self, OpError};

/// The write end of the wake-up pipe (the signal handler writes to it).
static WAKE_W: AtomicI32 = AtomicI32::new(-1);
/// Signals received, the first one, the latest one.
static COUNT: AtomicUsize = AtomicUsize::new(0);
static FIRST: AtomicI32 = AtomicI32::new(0);
static LATEST: AtomicI32 = AtomicI32::new(0);
/// Set once a job may exist on the host: before, a signal ends relman at once.
static ARMED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    LATEST.store(sig, Ordering::SeqCst);
    // Nothing started on the host yet, or a third interrupt: leave now, as a shell
    // would (only async-signal-safe calls here).
    if !ARMED.load(Ordering::SeqCst) || n >= 3 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + FIRST.load(Ordering::SeqCst)) };
    }
    let fd = WAKE_W.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; a full pipe already means "wake up".
        unsafe { libc::write(fd, b"s".as_ptr().cast(), 1) };
    }
}

fn install_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a plain handler and an empty mask is valid.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// A non-blocking pipe: (read end, write end).
fn wake_pipe() -> std::io::Result<(RawFd, RawFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: a valid array of two ints for pipe2.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

fn wake(fd: RawFd) {
    // SAFETY: writing one byte from a valid buffer; EAGAIN (full) is fine.
    unsafe { libc::write(fd, b"i".as_ptr().cast(), 1) };
}

/// relman's terminal or pipes.
struct Term {
    input: Receiver<Vec<u8>>,
    wake_r: RawFd,
    seen: usize,
    quiet: bool,
}

impl Term {
    fn new(quiet: bool) -> std::io::Result<Term> {
        let (wake_r, wake_w) = wake_pipe()?;
        WAKE_W.store(wake_w, Ordering::SeqCst);
        // Up to 16 pieces read ahead: a job that reads slowly holds relman's stdin back.
        let (tx, rx) = sync_channel::<Vec<u8>>(16);
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                        wake(wake_w);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // An unreadable stdin (closed, a directory) is an empty one.
                    Err(_) => break,
                }
            }
            drop(tx);
            wake(wake_w);
        });
        Ok(Term {
            input: rx,
            wake_r,
            seen: 0,
            quiet,
        })
    }
}

impl ops::launch::Local for Term {
    fn stdout(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut o = std::io::stdout().lock();
        o.write_all(data)?;
        o.flush()
    }

    fn stderr(&mut self, data: &[u8]) {
        let _ = std::io::stderr().lock().write_all(data);
    }

    fn input(&mut self) -> Option<Vec<u8>> {
        match self.input.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Empty) => Some(Vec::new()),
            Err(TryRecvError::Disconnected) => None,
        }
    }

    fn signal(&mut self) -> Option<i32> {
        let n = COUNT.load(Ordering::SeqCst);
        if n <= self.seen {
            return None;
        }
        self.seen += 1;
        Some(if self.seen == 1 {
            FIRST.load(Ordering::SeqCst)
        } else {
            LATEST.load(Ordering::SeqCst)
        })
    }

    fn wake_fd(&self) -> Option<RawFd> {
        Some(self.wake_r)
    }

    fn arm(&mut self) {
        ARMED.store(true, Ordering::SeqCst);
    }

    fn pinned(&mut self, host: &str, pin: &Pin) {
        if !self.quiet {
            eprintln!(
                "relman: {host}: pinned {} until {} (pin id {})",
                pin.release, pin.expires_at, pin.id
            );
        }
    }
}

/// Runs the job; returns relman's exit code (the job's, or relman's own on failure).
pub fn run(
    cfg: &Config,
    host: &HostConfig,
    release: Option<&str>,
    pin: Option<(Duration, &str)>,
    tail: Option<u16>,
    command: &[String],
    quiet: bool,
) -> i32 {
    install_handlers();
    let fail = |e: OpError| {
        eprintln!("relman: {}: {e}", host.name);
        e.exit_code()
    };
    let mut term = match Term::new(quiet) {
        Ok(t) => t,
        Err(e) => {
            return fail(OpError::Failed(format!(
                "cannot set up the job's input: {e}"
            )));
        }
    };
    let t = match crate::remote::open(cfg, host) {
        Ok(t) => t,
        Err(e) => return fail(e.into()),
    };
    let req = ops::launch::LaunchRequest {
        release,
        pin,
        command,
        tail,
    };
    match ops::launch::launch(&*t, host, &req, &mut term) {
        Ok(l) => l.exit_code(),
        Err(e) => fail(e),
    }
}
