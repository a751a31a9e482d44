//! The `local` transport: the same scripts, run with `sh` on this machine, from the
//! user's home directory (as an SSH exec would be). For the batch server itself and the demo.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;

use super::{ExecOutput, Process, RemoteError, Transport};

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
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let t_out = thread::spawn(move || {
            let mut v = Vec::new();
            out.read_to_end(&mut v).map(|_| v)
        });
        let t_err = thread::spawn(move || {
            let mut v = Vec::new();
            err.read_to_end(&mut v).map(|_| v)
        });
        let mut sink = child.stdin.take().expect("piped");
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
        let stdout = t_out.join().expect("reader thread")?;
        let stderr = t_err.join().expect("reader thread")?;
        Ok(ExecOutput {
            status: status.code(),
            stdout,
            stderr,
        })
    }

    fn spawn(&self, command: &str) -> Result<Box<dyn Process>, RemoteError> {
        let mut child = self
            .command(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
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
