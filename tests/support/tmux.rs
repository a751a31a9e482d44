//! A terminal for end-to-end console tests: a private tmux server running one
//! command in a window of a given size, read back with `capture-pane` and driven
//! with `send-keys`. The server is killed when the `Tmux` is dropped.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `script` (a shell command line) in a `width`×`height` window on a
    /// tmux server of its own, named by `socket`. `env_remove` is unset for it.
    pub fn start(
        socket: String,
        width: u16,
        height: u16,
        script: &str,
        env_remove: &[&str],
    ) -> Tmux {
        let t = Tmux { socket };
        let mut c = t.cmd();
        c.args(["new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(script)
            .env("TERM", "xterm-256color");
        for v in env_remove {
            c.env_remove(v);
        }
        assert!(c.status().expect("tmux").success(), "tmux new-session");
        t
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `tmux send-keys` with these arguments (key names, or `-l` and literal text).
    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Waits until the screen shows `what` (then returns it), failing with the
    /// screen after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "waited {timeout:?} for {what:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the console's header no longer shows `op` in flight (e.g.
    /// "switch on"): the worker reported back, so the next key is not refused as
    /// busy.
    pub fn settled(&self, op: &str, timeout: Duration) {
        let busy = format!("{op} on");
        assert!(
            super::wait_until(timeout, || !self
                .screen()
                .lines()
                .next()
                .unwrap_or("")
                .contains(&busy)),
            "{op} still in flight:\n{}",
            self.screen()
        );
    }

    /// Whether the program runs on the alternate screen.
    pub fn alternate_on(&self) -> bool {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", "t", "#{alternate_on}"])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}
