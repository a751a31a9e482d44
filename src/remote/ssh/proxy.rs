//! ProxyCommand: the SSH session runs over a command's stdin and stdout (`nc %h %p`,
//! `ssh -W %h:%p bastion`, `aws ssm start-session ...`, `cloudflared access ssh ...`),
//! as OpenSSH does. The command gets one end of a socket pair as both its stdin and
//! its stdout; libssh2 drives the other end like a TCP socket. It runs as `sh -c CMD`
//! in a session (and process group) of its own, without a controlling terminal (it
//! cannot prompt: use an agent or keys), killed when the connection is dropped.
//! What it writes to stderr is kept (the last 4 KiB) for the error message.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

/// How much of the command's stderr is kept for messages.
const STDERR_KEEP: usize = 4096;

/// A running ProxyCommand; killed (its whole process group) on drop.
pub(super) struct ProxyChild {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl ProxyChild {
    /// Starts `sh -c cmd` (tokens already expanded) with its stdin and stdout on a
    /// socket pair; returns our end.
    pub fn spawn(cmd: &str) -> io::Result<(UnixStream, ProxyChild)> {
        let (ours, theirs) = UnixStream::pair()?;
        let theirs_out = theirs.try_clone()?;
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(OwnedFd::from(theirs_out)))
            .stderr(Stdio::piped());
        // A session of its own: no controlling terminal, so a command that would
        // prompt (a password for `ssh -W`) fails at once and says so, instead of
        // stopping on SIGTTIN or writing over the console; its process group is ours
        // to kill.
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let keep = stderr.clone();
            let _ = std::thread::Builder::new()
                .name("relman-proxycmd".into())
                .spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = pipe.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let mut k = keep.lock().unwrap_or_else(PoisonError::into_inner);
                        k.extend_from_slice(&buf[..n]);
                        if k.len() > STDERR_KEEP {
                            let cut = k.len() - STDERR_KEEP;
                            k.drain(..cut);
                        }
                    }
                });
        }
        Ok((ours, ProxyChild { child, stderr }))
    }

    /// The command's stderr so far, on one line (empty if it said nothing); says
    /// so if it already exited.
    pub fn said(&mut self) -> String {
        // Give a command that is failing a moment to say why and exit.
        for _ in 0..20 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let text = self
            .stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let text = String::from_utf8_lossy(&text);
        let mut said: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if said.len() > 3 {
            said.drain(..said.len() - 3);
        }
        let mut out = crate::model::printable(&said.join(" / "));
        if let Ok(Some(st)) = self.child.try_wait() {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&format!("it exited ({st})"));
        }
        out
    }
}

impl Drop for ProxyChild {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child's process group; no memory involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
