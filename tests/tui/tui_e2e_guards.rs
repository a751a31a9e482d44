//! The console's deploy guards for real (issue 16 item 6): the real `relman` binary in
//! tmux against two real sshd hosts whose SSH user is the non-root deploy user. A
//! deploy with `h1` as its canary, whose new release's job fails when started through
//! the launcher as cron would: the canary goes back to the release it had, `h2` never
//! leaves it (polled), and the console says the deploy was refused by the canary.

use crate::support;

use std::fs;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::tmux::Tmux;
use support::{DEPLOY, Fleet};

const OLD: &str = "batch_20261126100000";

const WAIT: Duration = Duration::from_secs(60);

fn console(f: &Fleet, tag: &str) -> Tmux {
    let script = format!(
        "RELMAN_CONFIG='{}' HOME='{}' NO_COLOR=1 '{}'; echo EXITED $?; sleep 30",
        f.config_path().display(),
        f.home().display(),
        env!("CARGO_BIN_EXE_relman"),
    );
    let socket = format!("relman-e2e-{}-{tag}", std::process::id());
    Tmux::start(socket, 120, 40, &script, &["SSH_AUTH_SOCK"])
}

/// Sets its flag when dropped.
struct Stop<'a>(&'a AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn link_of(f: &Fleet, i: usize) -> String {
    fs::read_link(f.root(i).join("batch"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[test]
fn a_canary_whose_jobs_fail_is_refused_and_the_other_host_never_moves() {
    let f = Fleet::start_as(2, DEPLOY);
    for i in 0..2 {
        f.sh(
            i,
            &format!(
                "mkdir -p \"$ROOT/{OLD}\" && echo old > \"$ROOT/{OLD}/app.jar\" \
                 && ln -s {OLD} \"$ROOT/batch\""
            ),
        );
    }
    let build = tempfile::tempdir().unwrap();
    fs::write(build.path().join("app.jar"), b"new, failing").unwrap();

    let t = console(&f, "canary");
    t.wait_for("releases — h1 (1)", WAIT);
    assert!(
        support::wait_until(Duration::from_secs(30), || t
            .screen()
            .lines()
            .any(|l| l.contains("h2") && l.contains(OLD))),
        "h2 never scanned:\n{}",
        t.screen()
    );

    // d: the path, no message, all hosts (← from "this host"), h1 as the canary with
    // a bounded watch; Enter on a guard confirms, the dialog states the guards.
    t.keys(&["d"]);
    t.wait_for("Deploy — local path(s)", WAIT);
    t.keys(&[&build.path().join("app.jar").display().to_string()]);
    t.keys(&["Enter", "Enter", "Left", "Down", "Down"]);
    t.keys(&["h1", "Down"]);
    t.keys(&["BSpace", "BSpace", "BSpace", "2m", "Enter"]);
    let s = t.wait_for("Deploy — confirm", WAIT);
    assert!(s.contains("canary") && s.contains("h1 switch first"), "{s}");
    assert_eq!((link_of(&f, 0), link_of(&f, 1)), (OLD.into(), OLD.into()));

    // While the deploy runs: h2's link must never move; once h1 is on the new release,
    // its job fails, started through the launcher from cron's cwd.
    let done = AtomicBool::new(false);
    let (h2_links, canary_moved) = std::thread::scope(|sc| {
        let watcher = sc.spawn(|| {
            let mut seen = vec![link_of(&f, 1)];
            while !done.load(Ordering::SeqCst) {
                let l = link_of(&f, 1);
                if seen.last() != Some(&l) {
                    seen.push(l);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        });
        // However this ends (a wait that panics too), the watcher stops: the scope
        // joins it before it lets a panic go on.
        let stop = Stop(&done);
        t.keys(&["y", "e", "s", "Enter"]);
        let moved = support::wait_until(WAIT, || {
            let l = link_of(&f, 0);
            l != OLD && l.starts_with("batch_")
        });
        if moved {
            for _ in 0..2 {
                let out = f
                    .launcher_as(0, DEPLOY)
                    .args(["--", "sh", "-c", "echo import failed >&2; exit 3"])
                    .stdout(Stdio::null())
                    .output()
                    .unwrap();
                assert_eq!(
                    out.status.code(),
                    Some(3),
                    "the launcher keeps the job's status"
                );
            }
        }
        t.wait_for("REFUSED", WAIT);
        drop(stop);
        (watcher.join().unwrap(), moved)
    });
    assert!(canary_moved, "the canary never switched:\n{}", t.screen());
    assert_eq!(h2_links, vec![OLD.to_string()], "h2 left its release");
    assert!(
        support::wait_until(Duration::from_secs(20), || link_of(&f, 0) == OLD),
        "the canary is not back on {OLD}: {}",
        link_of(&f, 0)
    );
    let s = t.screen();
    assert!(
        s.contains("refused: a canary's runs failed (canary h1: "),
        "{s}"
    );
    assert!(s.contains("deploy refused"), "{s}");

    // (q alone: an Escape right before it would read as Alt-q.)
    t.keys(&["q"]);
    t.wait_for("EXITED 0", WAIT);
}
