//! The real `relman` binary's console in tmux, against real sshd hosts: `s` + `y`
//! switches the link on disk, `r` + `y` rolls back, `p` shows the prune plan,
//! `--readonly` refuses `s`, `q` exits and the terminal leaves the alternate screen.

mod support;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Fleet;

const A: &str = "batch_20261126090000";
const B: &str = "batch_20261126100000";
const C: &str = "batch_20261126110000";

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(f: &Fleet, args: &str, tag: &str) -> Tmux {
        let t = Tmux {
            socket: format!("relman-e2e-{}-{tag}", std::process::id()),
        };
        let script = format!(
            "RELMAN_CONFIG='{}' HOME='{}' NO_COLOR=1 '{}' {args}; echo EXITED $?; sleep 30",
            f.config_path().display(),
            f.home().display(),
            env!("CARGO_BIN_EXE_relman"),
        );
        let ok = t
            .cmd()
            .args(["new-session", "-d", "-s", "t", "-x", "120", "-y", "32"])
            .arg(script)
            .env("TERM", "xterm-256color")
            .env_remove("SSH_AUTH_SOCK")
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        assert!(
            self.cmd()
                .args(["send-keys", "-t", "t"])
                .args(keys)
                .status()
                .unwrap()
                .success()
        );
    }

    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for {what:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alternate_on(&self) -> bool {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", "t", "#{alternate_on}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn layout(f: &Fleet) {
    for r in [A, B, C] {
        f.sh(
            0,
            &format!("mkdir -p \"$ROOT/{r}\" && echo {r} > \"$ROOT/{r}/app.jar\""),
        );
    }
    f.sh(0, &format!("ln -s {B} \"$ROOT/batch\""));
}

fn link(f: &Fleet) -> String {
    fs::read_link(f.root(0).join("batch"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn operator_switches_rolls_back_and_sees_the_prune_plan() {
    let f = Fleet::start(1);
    layout(&f);
    let t = Tmux::start(&f, "", "rw");
    t.wait_for("releases — h1 (3)");
    assert!(t.alternate_on());

    // Releases pane, newest (C) selected: s opens the dialog, y runs it.
    t.keys(&["Tab", "g", "s"]);
    let s = t.wait_for("Switch — confirm");
    assert!(s.contains(B) && s.contains(C), "from → to shown:\n{s}");
    assert_eq!(link(&f), B, "nothing before y");
    t.keys(&["y"]);
    assert!(
        support::wait_until(Duration::from_secs(20), || link(&f) == C),
        "link never moved"
    );

    // r: roll back to the release live before (B).
    assert!(
        support::wait_until(Duration::from_secs(20), || t
            .screen()
            .lines()
            .any(|l| l.contains('●') && l.contains(C))),
        "the console never showed C live:\n{}",
        t.screen()
    );
    t.keys(&["r"]);
    t.wait_for("Roll back — confirm");
    t.keys(&["y"]);
    assert!(
        support::wait_until(Duration::from_secs(20), || link(&f) == B),
        "rollback never happened"
    );

    // p: the prune plan with verdicts and reasons; Esc changes nothing.
    t.keys(&["p"]);
    let s = t.wait_for("keep");
    assert!(s.contains("live"), "plan shows reasons:\n{s}");
    t.keys(&["Escape"]);
    for r in [A, B, C] {
        assert!(f.root(0).join(r).exists());
    }

    t.keys(&["q"]);
    t.wait_for("EXITED 0");
    assert!(!t.alternate_on(), "terminal restored");
}

#[test]
fn readonly_refuses_switch() {
    let f = Fleet::start(1);
    layout(&f);
    let t = Tmux::start(&f, "tui --readonly", "ro");
    let s = t.wait_for("releases — h1 (3)");
    assert!(s.contains("READ-ONLY"), "{s}");
    t.keys(&["Tab", "g", "s"]);
    t.wait_for("read-only");
    assert_eq!(link(&f), B);
    t.keys(&["q"]);
    t.wait_for("EXITED 0");
}
