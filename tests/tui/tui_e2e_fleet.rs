//! The real `relman` binary's console in tmux, against real sshd hosts: `s` + `y`
//! switches the link on disk, `r` + `y` rolls back, `p` shows the prune plan,
//! `--readonly` refuses `s`, `q` exits and the terminal leaves the alternate screen;
//! in the fleet view, `s` + `yes` switches every host that has the release.

use crate::support;

use std::fs;
use std::time::Duration;

use support::Fleet;
use support::tmux::Tmux;

const A: &str = "batch_20261126090000";
const B: &str = "batch_20261126100000";
const C: &str = "batch_20261126110000";

const WAIT: Duration = Duration::from_secs(30);

/// The real binary with `args` in a terminal, on the fleet's config.
fn console(f: &Fleet, args: &str, tag: &str) -> Tmux {
    let script = format!(
        "RELMAN_CONFIG='{}' HOME='{}' NO_COLOR=1 '{}' {args}; echo EXITED $?; sleep 30",
        f.config_path().display(),
        f.home().display(),
        env!("CARGO_BIN_EXE_relman"),
    );
    let socket = format!("relman-e2e-{}-{tag}", std::process::id());
    Tmux::start(socket, 120, 32, &script, &["SSH_AUTH_SOCK"])
}

fn layout(f: &Fleet) {
    layout_host(f, 0, B);
}

fn layout_host(f: &Fleet, i: usize, live: &str) {
    for r in [A, B, C] {
        f.sh(
            i,
            &format!("mkdir -p \"$ROOT/{r}\" && echo {r} > \"$ROOT/{r}/app.jar\""),
        );
    }
    f.sh(i, &format!("ln -s {live} \"$ROOT/batch\""));
}

fn link(f: &Fleet) -> String {
    link_of(f, 0)
}

fn link_of(f: &Fleet, i: usize) -> String {
    fs::read_link(f.root(i).join("batch"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn operator_switches_rolls_back_and_sees_the_prune_plan() {
    let f = Fleet::start(1);
    layout(&f);
    let t = console(&f, "", "rw");
    t.wait_for("releases — h1 (3)", WAIT);
    assert!(t.alternate_on());

    // Releases pane, newest (C) selected: s opens the dialog, y runs it.
    t.keys(&["Tab", "g", "s"]);
    let s = t.wait_for("Switch — confirm", WAIT);
    assert!(s.contains(B) && s.contains(C), "from → to shown:\n{s}");
    assert_eq!(link(&f), B, "nothing before y");
    t.keys(&["y"]);
    assert!(
        support::wait_until(Duration::from_secs(20), || link(&f) == C),
        "link never moved"
    );
    t.settled("switch", WAIT);

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
    t.wait_for("Roll back — confirm", WAIT);
    t.keys(&["y"]);
    assert!(
        support::wait_until(Duration::from_secs(20), || link(&f) == B),
        "rollback never happened"
    );
    t.settled("rollback", WAIT);

    // p: the prune plan with verdicts and reasons; Esc changes nothing.
    t.keys(&["p"]);
    // The dialog's own words: the status line says "keep 3" while the host answers.
    let s = t.wait_for("Prune — confirm", WAIT);
    assert!(s.contains("live"), "plan shows reasons:\n{s}");
    t.keys(&["Escape"]);
    // The dialog must be gone before `q`: an Esc and a `q` read together are Alt-q
    // to the terminal (it happened: the dialog stayed, and q never quit).
    assert!(
        support::wait_until(WAIT, || !t.screen().contains("Prune — confirm")),
        "Esc closes the prune dialog:\n{}",
        t.screen()
    );
    for r in [A, B, C] {
        assert!(f.root(0).join(r).exists());
    }

    t.keys(&["q"]);
    t.wait_for("EXITED 0", WAIT);
    assert!(!t.alternate_on(), "terminal restored");
}

#[test]
fn readonly_refuses_switch() {
    let f = Fleet::start(1);
    layout(&f);
    let t = console(&f, "tui --readonly", "ro");
    let s = t.wait_for("releases — h1 (3)", WAIT);
    assert!(s.contains("READ-ONLY"), "{s}");
    t.keys(&["Tab", "g", "s"]);
    t.wait_for("read-only", WAIT);
    assert_eq!(link(&f), B);
    t.keys(&["q"]);
    t.wait_for("EXITED 0", WAIT);
}

#[test]
fn fleet_view_switches_every_host_after_yes() {
    let f = Fleet::start(2);
    layout_host(&f, 0, B);
    layout_host(&f, 1, A);
    let t = console(&f, "", "fleet");
    t.wait_for("releases — h1 (3)", WAIT);
    assert!(
        support::wait_until(Duration::from_secs(20), || t
            .screen()
            .lines()
            .any(|l| l.contains("h2") && l.contains(A))),
        "h2 never scanned:\n{}",
        t.screen()
    );
    // The fleet view, newest release (C) selected: s asks for yes (two hosts).
    t.keys(&["a"]);
    t.wait_for("Fleet — releases × hosts", WAIT);
    t.keys(&["s"]);
    let s = t.wait_for("Switch hosts — confirm", WAIT);
    assert!(s.contains("Switch 2 hosts to") && s.contains(C), "{s}");
    t.keys(&["y"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        (link_of(&f, 0), link_of(&f, 1)),
        (B.into(), A.into()),
        "y alone is not yes"
    );
    t.keys(&["e", "s", "Enter"]);
    assert!(
        support::wait_until(Duration::from_secs(20), || link_of(&f, 0) == C
            && link_of(&f, 1) == C),
        "links: {} {}; screen:\n{}",
        link_of(&f, 0),
        link_of(&f, 1),
        t.screen()
    );
    // Both switches reported back.
    t.settled("switch", WAIT);
    t.keys(&["q"]);
    t.wait_for("EXITED 0", WAIT);
}
