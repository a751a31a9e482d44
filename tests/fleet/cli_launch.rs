//! `relman launch` against real sshd hosts, as root and as the non-root deploy user
//! (issue 14 §3): statuses, bytes on stdout, stderr and stdin unchanged, arguments
//! verbatim, a missing release, `--pin`, a host without a launcher, and an
//! interrupted relman stopping the job on the host.

use crate::support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Fleet, Kill, processes, wait_until};

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// 3 MiB of every byte value (more than the 2 MiB channel window).
fn blob() -> Vec<u8> {
    (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Deploys `app` (app.jar and blob.bin) to every host; the release's name.
fn deploy(f: &Fleet, app: &Path, build: &str) -> String {
    fs::create_dir_all(app).unwrap();
    fs::write(app.join("app.jar"), build).unwrap();
    fs::write(app.join("blob.bin"), blob()).unwrap();
    let o = f
        .relman()
        .args(["--all", "deploy", "--json"])
        .arg(app)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "deploy: {}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["release"].as_str().unwrap().to_string()
}

/// `relman --host <host 0> launch ARGS...` with stdin from /dev/null.
fn launch(f: &Fleet, args: &[&str]) -> Output {
    launch_cmd(f, args).stdin(Stdio::null()).output().unwrap()
}

fn launch_cmd(f: &Fleet, args: &[&str]) -> Command {
    let mut c = f.relman();
    c.args(["--host", f.name(0), "launch"]).args(args);
    c
}

for_users!(statuses_pass_through: root, deploy, busybox);
fn statuses_pass_through(user: &str) {
    let f = Fleet::start_as(1, user);
    let one = deploy(&f, &f.dir().join("app"), "one");
    for n in [0, 1, 3, 42] {
        let o = launch(&f, &["--", "sh", "-c", &format!("exit {n}")]);
        assert_eq!(code(&o), n, "as {user}: exit {n}: {}", err(&o));
        assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{}", err(&o));
    }
    // Killed by a signal: 128 + N, as a shell says it.
    let o = launch(&f, &["--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(code(&o), 143, "as {user}: {}", err(&o));
    // The job runs in the live release, with the launcher's environment; --release
    // picks one by name.
    let o = launch(
        &f,
        &[
            "--",
            "sh",
            "-c",
            "printf '%s %s' \"$RELEASE_NAME\" \"$(cat app.jar)\"",
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{one} one"));
    let two = deploy(&f, &f.dir().join("app"), "two");
    let o = launch(
        &f,
        &["--release", &one, "--", "sh", "-c", "cat app.jar; exit 7"],
    );
    assert_eq!(code(&o), 7, "{}", err(&o));
    assert_eq!(o.stdout, b"one");
    let o = launch(&f, &["--", "cat", "app.jar"]);
    assert_eq!(o.stdout, b"two", "{two}: {}", err(&o));
    // --release as the absolute path `resolve` prints.
    let path = fs::canonicalize(f.root(0)).unwrap().join(&one);
    let o = launch(
        &f,
        &["--release", path.to_str().unwrap(), "--", "cat", "app.jar"],
    );
    assert_eq!(o.stdout, b"one", "{}", err(&o));
    // A command that isn't there: 127 from the job's shell, as `sh -c` says.
    let o = launch(&f, &["--", "relman-no-such-command"]);
    assert_eq!(code(&o), 127, "{}", err(&o));
}

for_users!(bytes_pass_unchanged: root, deploy);
fn bytes_pass_unchanged(user: &str) {
    let f = Fleet::start_as(1, user);
    deploy(&f, &f.dir().join("app"), "one");
    let blob = blob();
    // 3 MiB on stdout and 3 MiB on stderr at once: no window deadlock, no byte changed.
    let o = launch(
        &f,
        &[
            "--",
            "sh",
            "-c",
            "cat blob.bin; cat blob.bin >&2; cat blob.bin",
        ],
    );
    assert_eq!(
        code(&o),
        0,
        "as {user}: {}",
        String::from_utf8_lossy(&o.stderr[..o.stderr.len().min(300)])
    );
    assert_eq!(o.stdout.len(), 2 * blob.len());
    assert!(o.stdout[..blob.len()] == blob[..] && o.stdout[blob.len()..] == blob[..]);
    assert!(
        o.stderr == blob,
        "stderr: {} bytes, not the blob",
        o.stderr.len()
    );
    // Stdin reaches the job, binary-safe, and its end is the job's EOF.
    let mut child = launch_cmd(&f, &["--", "sh", "-c", "cat; echo done >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = blob.clone();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        o.stdout == blob,
        "stdin came back as {} bytes",
        o.stdout.len()
    );
    assert_eq!(err(&o), "done\n");
    // No stdin at all (/dev/null): EOF at once.
    let o = launch(&f, &["--", "wc", "-c"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "0",
        "{}",
        err(&o)
    );
}

for_users!(arguments_reach_the_job_verbatim: root, deploy, busybox);
fn arguments_reach_the_job_verbatim(user: &str) {
    let f = Fleet::start_as(1, user);
    deploy(&f, &f.dir().join("app"), "one");
    let hostile = [
        "a b",
        "'single'",
        "\"double\"",
        "$(touch pwned-dollar)",
        "`touch pwned-tick`",
        "line1\nline2",
        "; touch pwned-semi",
        "*",
        "$HOME",
        "",
        "-n",
        "tab\there",
    ];
    let mut args = vec!["--", "printf", "[%s]"];
    args.extend(hostile);
    let o = launch(&f, &args);
    assert_eq!(code(&o), 0, "as {user}: {}", err(&o));
    let want: String = hostile.iter().map(|a| format!("[{a}]")).collect();
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
    // Nothing was run: no file anywhere the login shell or the job could have made.
    let made = f.sh(
        0,
        "find \"$ROOT\" \"$HOME\" . -name 'pwned-*' 2>/dev/null; true",
    );
    assert_eq!(made.trim(), "", "an argument was run");
}

for_users!(a_missing_release_is_exit_5: root, deploy);
fn a_missing_release_is_exit_5(user: &str) {
    let f = Fleet::start_as(1, user);
    let one = deploy(&f, &f.dir().join("app"), "one");
    let elsewhere = format!("/etc/{one}");
    let dotdot = format!("{}/../{one}", f.root(0).display());
    for r in [
        "batch_20000101000000",
        "logs",
        "../etc",
        &elsewhere,
        &dotdot,
    ] {
        let o = launch(
            &f,
            &["--release", r, "--", "touch", "/tmp/relman-launch-ran"],
        );
        assert_eq!(code(&o), 5, "as {user}: --release {r}: {}", err(&o));
        assert_eq!(err(&o).lines().count(), 1, "one line: {}", err(&o));
        assert!(err(&o).starts_with("relman: "), "{}", err(&o));
        assert!(o.stdout.is_empty());
    }
    assert!(!Path::new("/tmp/relman-launch-ran").exists());
    // --release and --pin together: a usage error.
    let o = launch(&f, &["--release", "x", "--pin", "1h", "--", "true"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    // No command: a usage error.
    let o = launch(&f, &[]);
    assert_eq!(code(&o), 2, "{}", err(&o));
}

for_users!(an_unreachable_host_is_exit_3: root, deploy);
fn an_unreachable_host_is_exit_3(user: &str) {
    let mut f = Fleet::start_as(1, user);
    deploy(&f, &f.dir().join("app"), "one");
    f.stop(0);
    let o = launch(&f, &["--", "true"]);
    assert_eq!(code(&o), 3, "as {user}: {}", err(&o));
    assert_eq!(err(&o).lines().count(), 1, "{}", err(&o));
}

for_users!(pin_pins_the_live_release_and_runs_on_it: root, deploy);
fn pin_pins_the_live_release_and_runs_on_it(user: &str) {
    let f = Fleet::start_as(1, user);
    let one = deploy(&f, &f.dir().join("app"), "one");
    let o = launch(
        &f,
        &[
            "--pin",
            "2h",
            "--reason",
            "ci-77",
            "--",
            "sh",
            "-c",
            "printf %s \"$RELEASE_NAME\"",
        ],
    );
    assert_eq!(code(&o), 0, "as {user}: {}", err(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), one);
    let said = err(&o);
    assert!(
        said.contains(&format!("pinned {one}")) && said.contains("pin id"),
        "{said}"
    );
    let o = f
        .relman()
        .args(["list", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rel = v["hosts"][0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == one.as_str())
        .unwrap()
        .clone();
    let pins = rel["pins"].as_array().unwrap();
    assert_eq!(pins.len(), 1, "{rel}");
    assert_eq!(pins[0]["reason"], "ci-77");
    // -q: the pin line is not printed.
    let o = launch(&f, &["-q", "--pin", "1h", "--", "true"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(err(&o), "");
}

for_users!(a_host_without_launcher_gets_one: root, deploy);
fn a_host_without_launcher_gets_one(user: &str) {
    let f = Fleet::start_as(1, user);
    deploy(&f, &f.dir().join("app"), "one");
    f.sh(0, "rm \"$ROOT/.relman/bin/launch\"");
    let o = launch(&f, &["--", "cat", "app.jar"]);
    assert_eq!(code(&o), 0, "as {user}: {}", err(&o));
    assert_eq!(o.stdout, b"one");
    assert_eq!(err(&o), "");
    assert!(f.root(0).join(".relman/bin/launch").exists());
}

/// Waits up to `secs` for relman (`child`) to end; panics with `what` if it doesn't.
fn exit_within(child: &mut Kill, secs: u64, what: &str) -> std::process::ExitStatus {
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(secs), || {
            status = child.0.try_wait().unwrap();
            status.is_some()
        }),
        "{what}"
    );
    status.unwrap()
}

/// The pids of the job `sh -c 'sleep 300; : MARK'` and of its `sleep` child.
fn job_pids(mark: &str) -> Option<(u32, u32)> {
    let ps = processes();
    let (sh, _, _) = ps
        .iter()
        .find(|(_, _, c)| c.contains(mark) && c.starts_with("sh "))?;
    let (sleep, _, _) = ps
        .iter()
        .find(|(_, pp, c)| pp == sh && c.starts_with("sleep "))?;
    Some((*sh, *sleep))
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

for_users!(an_interrupt_stops_the_job_on_the_host: root, deploy, busybox);
fn an_interrupt_stops_the_job_on_the_host(user: &str) {
    let f = Fleet::start_as(1, user);
    deploy(&f, &f.dir().join("app"), "one");
    for (sig, want) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let mark = format!("relman-launch-test-{user}-{sig}-{}", std::process::id());
        // Its stdin never ends and the job never reads it: the channel's window is
        // shut when the signal comes, and the stop must still get through.
        // With SIGHUP, a job that closed its output first (its channel sent EOF, the
        // job runs on).
        let quiet = if sig == libc::SIGHUP {
            "exec >/dev/null 2>&1; "
        } else {
            ""
        };
        let job = format!("{quiet}sleep 300; : {mark}");
        let mut child = launch_cmd(&f, &["--", "sh", "-c", &job])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            let chunk = vec![0u8; 64 * 1024];
            while stdin.write_all(&chunk).is_ok() {}
        });
        let mut child = Kill(child);
        let mut pids = None;
        assert!(
            wait_until(Duration::from_secs(20), || {
                pids = job_pids(&mark);
                pids.is_some()
            }),
            "as {user}: the job never started"
        );
        let (sh, sleep) = pids.unwrap();
        // SAFETY: a plain kill of the relman we started.
        unsafe { libc::kill(child.0.id() as libc::pid_t, sig) };
        let status = exit_within(
            &mut child,
            20,
            &format!("as {user}: relman did not end after signal {sig}"),
        );
        assert_eq!(status.code(), Some(want), "as {user}: signal {sig}");
        assert!(
            wait_until(Duration::from_secs(10), || !alive(sh) && !alive(sleep)),
            "as {user}: signal {sig}: the job (sh {sh}, sleep {sleep}) still runs on the host"
        );
        feeder.join().unwrap();
    }
}

/// A config with one `address = "local"` host (relman on the batch host itself),
/// its home and root in a temporary directory, and a release deployed there.
struct LocalHost {
    dir: tempfile::TempDir,
}

impl LocalHost {
    fn new() -> LocalHost {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("relman.toml"),
            "[[hosts]]\nname = \"here\"\naddress = \"local\"\nroot = \"deploy\"\njob_users = []\n",
        )
        .unwrap();
        let app = dir.path().join("app");
        fs::create_dir_all(&app).unwrap();
        fs::write(app.join("app.jar"), "local").unwrap();
        fs::write(app.join("blob.bin"), blob()).unwrap();
        let l = LocalHost { dir };
        let o = l
            .relman(&["--host", "here", "deploy"])
            .arg(&app)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "deploy: {}", err(&o));
        l
    }

    fn relman(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_relman"));
        c.env("RELMAN_CONFIG", self.dir.path().join("relman.toml"))
            .env("HOME", self.dir.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_STATE_HOME")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .args(args);
        c
    }
}

#[test]
fn a_local_host_launches_the_same_way() {
    let l = LocalHost::new();
    for n in [0, 1, 3, 42] {
        let o = l
            .relman(&[
                "--host",
                "here",
                "launch",
                "--",
                "sh",
                "-c",
                &format!("exit {n}"),
            ])
            .output()
            .unwrap();
        assert_eq!(code(&o), n, "{}", err(&o));
    }
    let o = l
        .relman(&[
            "--host",
            "here",
            "launch",
            "--",
            "sh",
            "-c",
            "cat blob.bin >&2; cat app.jar",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    assert_eq!(o.stdout, b"local");
    assert!(o.stderr == blob(), "stderr: {} bytes", o.stderr.len());
    let o = l
        .relman(&[
            "--host", "here", "launch", "--", "printf", "[%s]", "$(x)", "a b",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[$(x)][a b]");
    let o = l
        .relman(&[
            "--host",
            "here",
            "launch",
            "--",
            "sh",
            "-c",
            "kill -TERM $$",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 143, "{}", err(&o));
    // Stdin, and an interrupt stopping the job and its child.
    let mut c = l.relman(&["--host", "here", "launch", "--", "wc", "-c"]);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"12345").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "5");
    // The job closed its output first: it still runs, and must still be stopped.
    let mark = format!("relman-launch-local-{}", std::process::id());
    let child = l
        .relman(&[
            "--host",
            "here",
            "launch",
            "--",
            "sh",
            "-c",
            &format!("exec >/dev/null 2>&1; sleep 300; : {mark}"),
        ])
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let mut pids = None;
    assert!(wait_until(Duration::from_secs(20), || {
        pids = job_pids(&mark);
        pids.is_some()
    }));
    let (sh, sleep) = pids.unwrap();
    // SAFETY: a plain kill of the relman we started.
    unsafe { libc::kill(child.0.id() as libc::pid_t, libc::SIGINT) };
    let status = exit_within(&mut child, 20, "relman did not end");
    assert_eq!(status.code(), Some(130));
    assert!(
        wait_until(Duration::from_secs(10), || !alive(sh) && !alive(sleep)),
        "the local job still runs"
    );
}

for_users!(a_closed_stdout_stops_the_job_as_a_pipe_would: root, deploy);
fn a_closed_stdout_stops_the_job_as_a_pipe_would(user: &str) {
    // `relman launch -- yes | head -1`: once no one reads relman's stdout, the job
    // gets SIGPIPE as it would in a shell pipeline, instead of running forever.
    use std::io::Read;
    let f = Fleet::start_as(1, user);
    deploy(&f, &f.dir().join("app"), "one");
    let mut child = Kill(
        launch_cmd(&f, &["--", "yes", "relman"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = [0u8; 7];
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut first)
        .unwrap(); // and closed
    assert_eq!(&first, b"relman\n");
    let status = exit_within(
        &mut child,
        20,
        &format!("as {user}: relman kept the job running with no reader"),
    );
    assert_eq!(status.code(), Some(141), "as {user}: killed by PIPE");
}

#[test]
fn a_job_behind_a_jump_host_runs_over_relmans_connection() {
    // relman's own connection, jump host included: the target is named in relman's
    // config only with `jump = "bastion"` (an ~/.ssh/config alias), and the
    // bastion's log shows the forwarding. The target was never changed by relman:
    // the launcher is installed first.
    use support::{HostOptions, toml_str};
    let bastion = HostOptions {
        log_level: "DEBUG".into(),
        ..HostOptions::default()
    };
    let target = HostOptions {
        listen: "127.0.0.2".into(),
        ..HostOptions::default()
    };
    let f = Fleet::start_with(&[bastion, target]);
    fs::write(
        f.home().join(".ssh/config"),
        format!(
            "Host bastion\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n",
            f.port(0),
            f.user(),
            f.client_key().display()
        ),
    )
    .unwrap();
    fs::write(
        f.config_path(),
        format!(
            "connect_timeout = \"3s\"\nknown_hosts = {}\n\n[[hosts]]\nname = {}\naddress = \"127.0.0.2\"\n\
             port = {}\nuser = {}\nidentity = {}\nroot = {}\njump = \"bastion\"\n",
            toml_str(&f.known_hosts().display().to_string()),
            toml_str(f.name(1)),
            f.port(1),
            toml_str(f.user()),
            toml_str(&f.client_key().display().to_string()),
            toml_str(&f.root(1).display().to_string()),
        ),
    )
    .unwrap();
    let rel = "batch_20261126221500";
    f.sh(
        1,
        &format!("mkdir -p \"$ROOT/{rel}\" && ln -s {rel} \"$ROOT/batch\""),
    );
    let blob = blob();
    fs::write(f.root(1).join(rel).join("blob.bin"), &blob).unwrap();
    let o = f
        .relman()
        .args(["--host", f.name(1), "launch", "--", "sh", "-c"])
        .arg("printf '%s' \"$RELEASE_NAME\"; cat blob.bin >&2; exit 42")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        code(&o),
        42,
        "{}",
        String::from_utf8_lossy(&o.stderr[..o.stderr.len().min(300)])
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), rel);
    assert!(o.stderr == blob, "stderr: {} bytes", o.stderr.len());
    assert!(f.root(1).join(".relman/bin/launch").exists());
    let needle = format!("target 127.0.0.2 port {}", f.port(1));
    let forwards = f
        .log(0)
        .lines()
        .filter(|l| l.contains("server_request_direct_tcpip") && l.contains(&needle))
        .count();
    assert!(forwards >= 1, "not through the bastion");
}

for_users!(a_connection_lost_while_the_job_runs_is_exit_1: root, deploy);
fn a_connection_lost_while_the_job_runs_is_exit_1(user: &str) {
    // The host's sshd dies (and its sessions with it) while the job runs: relman
    // doesn't hang, and says in one line that the job's fate is unknown.
    let mut f = Fleet::start_as(1, user);
    deploy(&f, &f.dir().join("app"), "one");
    let mark = format!("relman-launch-lost-{user}-{}", std::process::id());
    let mut child = Kill(
        launch_cmd(&f, &["--", "sh", "-c", &format!("sleep 300; : {mark}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(wait_until(Duration::from_secs(20), || job_pids(&mark).is_some()));
    f.stop(0);
    let status = exit_within(
        &mut child,
        30,
        &format!("as {user}: relman hangs on a dead connection"),
    );
    let mut said = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut said).unwrap();
    assert_eq!(status.code(), Some(1), "as {user}: {said}");
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.starts_with("relman: ") && said.contains("connection broke while the job ran"),
        "{said}"
    );
}

for_users!(output_streams_as_it_comes: root, deploy);
fn output_streams_as_it_comes(user: &str) {
    // The job's first lines reach relman's stdout and stderr while it still runs
    // (not buffered to its end).
    use std::io::BufRead;
    let f = Fleet::start_as(1, user);
    deploy(&f, &f.dir().join("app"), "one");
    let mark = format!("relman-launch-stream-{user}-{}", std::process::id());
    let mut child = Kill(
        launch_cmd(
            &f,
            &[
                "--",
                "sh",
                "-c",
                &format!("echo out; echo err >&2; sleep 300; : {mark}"),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    for (i, r) in [
        Box::new(child.0.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.0.stderr.take().unwrap()),
    ]
    .into_iter()
    .enumerate()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(r).read_line(&mut line);
            let _ = tx.send((i, line));
        });
    }
    let mut got = [String::new(), String::new()];
    for _ in 0..2 {
        let (i, line) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a line while the job runs");
        got[i] = line;
    }
    assert_eq!(got, ["out\n".to_string(), "err\n".to_string()], "as {user}");
    assert!(
        wait_until(Duration::from_secs(20), || job_pids(&mark).is_some()),
        "the job runs on"
    );
    // SAFETY: a plain kill of the relman we started.
    unsafe { libc::kill(child.0.id() as libc::pid_t, libc::SIGTERM) };
    assert!(wait_until(Duration::from_secs(20), || job_pids(&mark).is_none()));
}
