//! The console in a real terminal (tmux), on the demo fleet: it opens on the hosts pane,
//! shows the releases with their markers, a switch dialog cancels on Enter, `y` runs a
//! rollback on the host, `q` quits and the terminal leaves the alternate screen.
//!
//! The test re-runs its own binary inside tmux as the console (`console_child`).

use std::path::PathBuf;
use std::time::Duration;

use relman::tui::{Demo, TuiOptions};

use crate::support;
use support::tmux::Tmux;

const CHILD: &str = "RELMAN_TUI_TEST_CHILD";

/// Not a test on its own: the console the tmux test starts (does nothing otherwise).
#[test]
fn console_child() {
    let Some(marker) = std::env::var_os(CHILD) else {
        return;
    };
    let demo = Demo::build().expect("demo");
    std::fs::write(&marker, demo.root().to_string_lossy().as_bytes()).expect("marker");
    let opts = TuiOptions {
        readonly: false,
        demo: true,
    };
    relman::tui::run(demo.config(), opts).expect("console");
}

#[test]
fn console_in_a_real_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker: PathBuf = dir.path().join("root");
    let exe = std::env::current_exe().expect("test binary");
    let script = format!(
        "{CHILD}='{}' '{}' --exact {} --nocapture --test-threads=1; echo EXITED $?; sleep 60",
        marker.display(),
        exe.display(),
        support::test_path(module_path!(), "console_child")
    );
    let socket = format!(
        "relman-tui-{}-{}",
        std::process::id(),
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let tmux = Tmux::start(socket, 100, 30, &script, &[]);

    let long = Duration::from_secs(60);
    let s = tmux.wait_for("fleet: demo", long);
    assert!(s.contains("hosts"), "{s}");
    // The demo fleet: three hosts, the first one selected.
    for host in relman::tui::demo::HOSTS {
        assert!(s.contains(host), "{host} in the hosts pane:\n{s}");
    }
    let s = tmux.wait_for("releases — batch-1 (6)", long);
    assert!(s.contains("●"), "live marker:\n{s}");
    assert!(s.contains("✗"), "bad marker:\n{s}");
    assert!(s.contains("⚑"), "pin marker:\n{s}");
    assert!(s.contains("3h 12m ago"), "ages:\n{s}");
    assert!(tmux.alternate_on());

    let root = PathBuf::from(std::fs::read_to_string(&marker).expect("marker"));
    let live_before = std::fs::read_link(root.join("batch")).expect("link");

    // A switch dialog: Enter (on Cancel) changes nothing.
    tmux.keys(&["Tab", "g", "s"]);
    tmux.wait_for("Switch — confirm", long);
    tmux.keys(&["Enter"]);
    tmux.wait_for("cancelled: nothing was changed", long);
    assert_eq!(std::fs::read_link(root.join("batch")).unwrap(), live_before);

    // A rollback with y: the link moves on the host.
    tmux.keys(&["r"]);
    tmux.wait_for("Roll back — confirm", long);
    tmux.keys(&["y"]);
    tmux.wait_for("batch-1: rolled back", long);
    assert_ne!(std::fs::read_link(root.join("batch")).unwrap(), live_before);

    // A deploy from the prompt: path, message, this host, y.
    let build = dir.path().join("build");
    std::fs::create_dir(&build).unwrap();
    std::fs::write(build.join("app.jar"), b"jar").unwrap();
    tmux.keys(&["d"]);
    tmux.wait_for("Deploy — local path(s)", long);
    tmux.keys(&["-l", &build.join("app.jar").display().to_string()]);
    tmux.keys(&["Enter"]);
    tmux.keys(&["-l", "from tmux"]);
    tmux.keys(&["Enter"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Deploy — confirm", long);
    tmux.keys(&["y"]);
    tmux.wait_for("deploy done on 1 host", long);
    let live = std::fs::read_link(root.join("batch")).unwrap();
    assert_eq!(
        std::fs::read(root.join(&live).join("app.jar")).unwrap(),
        b"jar"
    );

    // Help, then quit: the terminal is restored.
    tmux.keys(&["?"]);
    tmux.wait_for("Help — every key", long);
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux.keys(&["q"]);
    let s = tmux.wait_for("EXITED 0", long);
    assert!(!tmux.alternate_on(), "left the alternate screen:\n{s}");
}
