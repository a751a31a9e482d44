//! The `local` transport: the same scripts, run with `sh` on this machine, from the
//! user's home directory (as an SSH exec would be). For the batch server itself and the demo.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;

use super::{ExecOutput, Process, RemoteError, Stream, StreamEnd, Transport};

pub struct LocalTransport {
    name: String,
    home: std::path::PathBuf,
}

impl LocalTransport {
    pub fn new(name: &str) -> Self {
        let home = std::env::var_os("HOME")
            .map(Into::into)
            .unwrap_or_else(|| std::path::PathBuf::from("/"));
        LocalTransport {
            name: name.to_string(),
            home,
        }
    }

    fn command(&self, command: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command).current_dir(&self.home);
        c
    }
}

impl Transport for LocalTransport {
    fn host(&self) -> &str {
        &self.name
    }

    fn exec(
        &self,
        command: &str,
        stdin: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ExecOutput, RemoteError> {
        let mut child = self
            .command(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // Drain stdout and stderr on their own threads while stdin is fed here.
        let mut out = child.stdout.take().ok_or_else(|| not_piped("stdout"))?;
        let mut err = child.stderr.take().ok_or_else(|| not_piped("stderr"))?;
        let t_out = thread::spawn(move || {
            let mut v = Vec::new();
            out.read_to_end(&mut v).map(|_| v)
        });
        let t_err = thread::spawn(move || {
            let mut v = Vec::new();
            err.read_to_end(&mut v).map(|_| v)
        });
        let mut sink = child.stdin.take().ok_or_else(|| not_piped("stdin"))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut sent = 0u64;
        loop {
            let n = stdin.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if let Err(e) = sink.write_all(&buf[..n]) {
                // The command stopped reading (it exited early): its status says why.
                if e.kind() == io::ErrorKind::BrokenPipe {
                    break;
                }
                return Err(e.into());
            }
            sent += n as u64;
            progress(sent);
        }
        drop(sink);
        let status = child.wait()?;
        let stdout = t_out
            .join()
            .unwrap_or_else(|_| Err(reader_died("stdout")))?;
        let stderr = t_err
            .join()
            .unwrap_or_else(|_| Err(reader_died("stderr")))?;
        Ok(ExecOutput {
            status: status.code(),
            stdout,
            stderr,
        })
    }

    fn stream(&self, command: &str, io: &mut dyn Stream) -> Result<StreamEnd, RemoteError> {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
        // A process group of its own, as sshd's `setsid` gives a command: the side
        // commands' `kill -SIG -PGID` reach the job and its children, and a terminal's
        // Ctrl-C reaches relman only (which stops the job its own way).
        let mut child = self
            .command(command)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take();
        let as_file = |fd: std::os::fd::OwnedFd| std::fs::File::from(fd);
        let mut out = child.stdout.take().map(|p| as_file(p.into()));
        let mut err = child.stderr.take().map(|p| as_file(p.into()));
        for fd in [
            stdin.as_ref().map(|s| s.as_raw_fd()),
            out.as_ref().map(|s| s.as_raw_fd()),
            err.as_ref().map(|s| s.as_raw_fd()),
        ]
        .into_iter()
        .flatten()
        {
            set_nonblocking(fd)?;
        }
        let (mut pending, mut off, mut input_done) = (Vec::new(), 0usize, false);
        let mut buf = vec![0u8; 64 * 1024];
        // Until the job has exited: one that closed its output may still run, and
        // must still be stoppable.
        let status = loop {
            if out.is_none() && err.is_none() {
                if let Some(st) = child.try_wait()? {
                    break st;
                }
            }
            if let Some(cmd) = io.side_command() {
                let _ = Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            if let Some(s) = stdin.as_mut() {
                if off == pending.len() && !input_done {
                    match io.input() {
                        Some(v) if !v.is_empty() => (pending, off) = (v, 0),
                        Some(_) => {}
                        None => input_done = true,
                    }
                }
                if off < pending.len() {
                    match s.write(&pending[off..]) {
                        Ok(n) => off += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        // The job doesn't read its input (any more): the rest is moot.
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => input_done = true,
                        Err(e) => return Err(e.into()),
                    }
                    if off == pending.len() {
                        (pending, off) = (Vec::new(), 0);
                    }
                }
                if input_done && off == pending.len() {
                    stdin = None; // EOF for the job
                }
            }
            for (pipe, is_out) in [(&mut out, true), (&mut err, false)] {
                let Some(p) = pipe.as_mut() else { continue };
                loop {
                    match p.read(&mut buf) {
                        Ok(0) => {
                            *pipe = None;
                            break;
                        }
                        Ok(n) if is_out => io.stdout(&buf[..n]),
                        Ok(n) => io.stderr(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            let mut fds: Vec<libc::pollfd> = [
                (out.as_ref().map(|p| p.as_raw_fd()), libc::POLLIN),
                (err.as_ref().map(|p| p.as_raw_fd()), libc::POLLIN),
                (io.wake_fd(), libc::POLLIN),
                (
                    stdin
                        .as_ref()
                        .filter(|_| off < pending.len())
                        .map(|s| s.as_raw_fd()),
                    libc::POLLOUT,
                ),
            ]
            .into_iter()
            .filter_map(|(fd, events)| {
                fd.map(|fd| libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                })
            })
            .collect();
            let ms = if out.is_none() && err.is_none() {
                100
            } else {
                1000
            };
            // SAFETY: a valid array of pollfds of the length given.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if let Some(w) = io.wake_fd() {
                let mut b = [0u8; 64];
                // SAFETY: reading into a valid buffer of its size; the fd is non-blocking.
                while unsafe { libc::read(w, b.as_mut_ptr().cast(), b.len()) } > 0 {}
            }
        };
        drop(stdin);
        Ok(match status.signal() {
            Some(n) => StreamEnd::Signaled(signal_name(n)),
            None => StreamEnd::Exited(status.code().unwrap_or(255)),
        })
    }

    fn spawn(&self, command: &str) -> Result<Box<dyn Process>, RemoteError> {
        let mut child = self
            .command(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| not_piped("stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| not_piped("stdout"))?);
        Ok(Box::new(LocalProcess {
            child,
            stdin: Some(stdin),
            stdout,
        }))
    }
}

struct LocalProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Process for LocalProcess {
    fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut s = String::new();
        if self.stdout.read_line(&mut s)? == 0 {
            return Ok(None);
        }
        Ok(Some(s.trim_end_matches('\n').to_string()))
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.stdin {
            Some(s) => {
                s.write_all(data)?;
                s.flush()
            }
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        // Closing stdin is the signal to end; reap the child so no zombie is left.
        self.stdin.take();
        let _ = self.child.wait();
    }
}

/// A child's pipe that was asked for and is missing (cannot happen: every spawn here
/// pipes what it takes), as an error rather than a panic.
fn not_piped(what: &str) -> io::Error {
    io::Error::other(format!("the local command's {what} is not a pipe"))
}

/// A thread reading a child's output panicked (cannot happen: it only reads).
fn reader_died(what: &str) -> io::Error {
    io::Error::other(format!(
        "the thread reading the local command's {what} stopped"
    ))
}

fn set_nonblocking(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with plain int flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A signal's name as SSH says it (`TERM`), or its number for the others.
fn signal_name(n: i32) -> String {
    let name = match n {
        libc::SIGHUP => "HUP",
        libc::SIGINT => "INT",
        libc::SIGQUIT => "QUIT",
        libc::SIGILL => "ILL",
        libc::SIGABRT => "ABRT",
        libc::SIGFPE => "FPE",
        libc::SIGKILL => "KILL",
        libc::SIGSEGV => "SEGV",
        libc::SIGPIPE => "PIPE",
        libc::SIGALRM => "ALRM",
        libc::SIGTERM => "TERM",
        libc::SIGUSR1 => "USR1",
        libc::SIGUSR2 => "USR2",
        _ => return n.to_string(),
    };
    name.to_string()
}
