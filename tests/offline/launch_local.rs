//! The job launcher `.relman/bin/launch`, as relman installs it, run directly (as a
//! scheduler on the host would): which release it picks, what the job sees, exit
//! codes, the lock it holds, and every hostile `--release` it must refuse.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use relman::config::HostConfig;
use relman::model::Action;
use relman::ops;
use relman::remote::local::LocalTransport;

fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

fn host(root: &Path) -> HostConfig {
    HostConfig::local("local", root.to_str().unwrap())
}

struct Root {
    _dir: tempfile::TempDir,
    root: PathBuf,
    launch: PathBuf,
    t: LocalTransport,
    h: HostConfig,
}

/// r1..r3, live r2; the launcher installed as relman does on a write.
fn setup() -> Root {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    for i in 1..=3 {
        fs::create_dir_all(root.join(r(i))).unwrap();
        fs::write(root.join(r(i)).join("app.jar"), r(i)).unwrap();
    }
    let h = host(&root);
    let t = LocalTransport::new("local");
    ops::switch(&t, &h, &r(2), None).unwrap();
    {
        let lock = ops::lock::acquire(&t, &h, Action::Pin).unwrap();
        ops::launcher::ensure_launcher(&t, &h, &lock).unwrap();
    }
    let root = fs::canonicalize(&root).unwrap();
    Root {
        launch: root.join(".relman/bin/launch"),
        _dir: dir,
        root,
        t,
        h,
    }
}

fn launch(l: &Path, args: &[&str]) -> Output {
    Command::new(l)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SHOW: &str = r#"printf '%s|%s|%s|%s\n' "$RELEASE_DIR" "$RELEASE_NAME" "$(pwd)" "$*""#;

#[test]
fn runs_in_the_live_release_or_the_one_given() {
    let x = setup();
    let dir = |i| x.root.join(r(i)).display().to_string();

    let o = launch(&x.launch, &["--", "sh", "-c", SHOW, "job", "a b", "c"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{}|{}|{}|a b c\n", dir(2), r(2), dir(2))
    );

    // The command may follow without `--`.
    let o = launch(&x.launch, &["sh", "-c", SHOW, "job"]);
    assert_eq!(stdout(&o), format!("{}|{}|{}|\n", dir(2), r(2), dir(2)));

    for given in [r(1), dir(1), format!("{}/", dir(1))] {
        let o = launch(
            &x.launch,
            &["--release", &given, "--", "sh", "-c", SHOW, "job"],
        );
        assert!(o.status.success(), "{given}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            format!("{}|{}|{}|\n", dir(1), r(1), dir(1)),
            "{given}"
        );
    }
    let o = launch(
        &x.launch,
        &[
            &format!("--release={}", r(3)),
            "--",
            "sh",
            "-c",
            SHOW,
            "job",
        ],
    );
    assert_eq!(stdout(&o), format!("{}|{}|{}|\n", dir(3), r(3), dir(3)));

    // Through a symlink to the launcher (e.g. from a bin directory), and by a
    // path that reaches the root through a symlink.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&x.launch, bin.path().join("launch")).unwrap();
    let alias = bin.path().join("deploy-alias");
    std::os::unix::fs::symlink(&x.root, &alias).unwrap();
    let via = alias.join(r(3)).display().to_string();
    let o = launch(
        &bin.path().join("launch"),
        &["--release", &via, "--", "sh", "-c", SHOW, "j"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{}|{}|{}|\n", dir(3), r(3), dir(3)));
}

#[test]
fn exit_codes_pass_through() {
    let x = setup();
    for code in [0, 1, 3, 42, 255] {
        let o = launch(&x.launch, &["--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(o.status.code(), Some(code));
    }
    // A command killed by a signal: launch, its parent, exits 128+N (SPEC §7).
    let o = launch(&x.launch, &["--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(128 + libc::SIGTERM));
    let o = launch(&x.launch, &["--", "no-such-command-here"]);
    assert_eq!(o.status.code(), Some(127));
}

#[test]
fn the_job_holds_a_shared_lock_and_the_link_is_read_once() {
    let x = setup();
    // The hold is a flock on the release directory itself (no lock file).
    let lock = x.root.join(r(2));
    // Inside the job: its release's lock is held (an exclusive try fails), a second
    // job can share it, and switching the link does not move the running job.
    let script = format!(
        "flock -n -x '{lock}' true && echo EXCLUSIVE-FREE; \
         '{launch}' --release {r2} -- true && echo SHARED-OK; \
         ln -sfn {r3} '{root}/batch'; pwd -P",
        lock = lock.display(),
        launch = x.launch.display(),
        r2 = r(2),
        r3 = r(3),
        root = x.root.display(),
    );
    let o = launch(&x.launch, &["--", "sh", "-c", &script]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("SHARED-OK\n{}\n", x.root.join(r(2)).display())
    );
    // After the job: free again, and new jobs get the new link target.
    let ok = Command::new("flock")
        .args(["-n", "-x"])
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(
        !x.root.join(format!(".relman/run/{}.lock", r(2))).exists(),
        "no lock file of its own"
    );
    let o = launch(&x.launch, &["--", "sh", "-c", "pwd -P"]);
    assert_eq!(stdout(&o), format!("{}\n", x.root.join(r(3)).display()));
}

#[test]
fn hostile_releases_are_refused() {
    let x = setup();
    let marker = x.root.parent().unwrap().join("ran");
    let touch = format!("touch '{}'", marker.display());
    // A directory named like a release outside the root, a release-named symlink
    // inside it pointing away, a foreign directory.
    let outside = x.root.parent().unwrap().join("elsewhere");
    fs::create_dir_all(outside.join(r(1))).unwrap();
    std::os::unix::fs::symlink(outside.join(r(1)), x.root.join(r(8))).unwrap();
    std::os::unix::fs::symlink("/etc", x.root.join(r(7))).unwrap();
    fs::create_dir_all(x.root.join("logs")).unwrap();
    let root = x.root.display().to_string();
    let hostile = [
        "../../etc".to_string(),
        "/etc".into(),
        "..".into(),
        ".".into(),
        "".into(),
        "batch".into(),
        "logs".into(),
        format!("{root}/logs"),
        format!("{root}/.."),
        format!("{root}/{}/..", r(1)),
        format!("{root}/{}/../{}", r(1), r(2)),
        format!("{root}/./{}", r(1)),
        format!("{root}//{}", r(1)),
        format!("{root}/{}/lib", r(1)),
        format!("deploy/{}", r(1)),
        format!("../deploy/{}", r(1)),
        outside.join(r(1)).display().to_string(),
        r(8),
        format!("{root}/{}", r(7)),
        format!("{}; touch x", r(1)),
        format!("$({touch})"),
        format!("{}\n", r(1)),
        format!("{}.0", r(1)),
        "batch_2026112600000".into(),
        "-x".into(),
    ];
    for bad in &hostile {
        let o = launch(&x.launch, &["--release", bad, "--", "sh", "-c", &touch]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with("launch: ") && e.lines().count() == 1,
            "{bad:?}: {e}"
        );
        assert!(!marker.exists(), "{bad:?} ran the command");
    }
    // A release name that is not there (pruned): its own code.
    let o = launch(&x.launch, &["--release", &r(9), "--", "sh", "-c", &touch]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"));
    // Usage errors.
    for args in [
        vec!["--release"],
        vec!["--"],
        vec![],
        vec!["--relase", &r(1), "--", "true"],
    ] {
        let o = launch(&x.launch, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert!(!marker.exists());
    assert!(Path::new("/etc/passwd").exists());
}

#[test]
fn no_live_release_is_exit_5() {
    let x = setup();
    fs::remove_file(x.root.join("batch")).unwrap();
    let o = launch(&x.launch, &["--", "true"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("no live release"));
    std::os::unix::fs::symlink("/etc", x.root.join("batch")).unwrap();
    let o = launch(&x.launch, &["--", "true"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    std::os::unix::fs::symlink(r(9), x.root.join("batch2")).unwrap();
    fs::rename(x.root.join("batch2"), x.root.join("batch")).unwrap();
    let o = launch(&x.launch, &["--", "true"]);
    assert_eq!(o.status.code(), Some(5), "dangling: {}", stderr(&o));
}

#[test]
fn the_launcher_is_rewritten_only_when_it_differs() {
    let x = setup();
    let text = fs::read_to_string(&x.launch).unwrap();
    assert!(text.contains("RELMAN_LINK='batch'"));
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
    let before = ino(&x.launch);
    {
        let lock = ops::lock::acquire(&x.t, &x.h, Action::Pin).unwrap();
        ops::launcher::ensure_launcher(&x.t, &x.h, &lock).unwrap();
    }
    assert_eq!(ino(&x.launch), before, "current: left alone");
    fs::write(&x.launch, "#!/bin/sh\necho tampered\n").unwrap();
    // Any mutating op of this module puts it back (here: a pin).
    ops::pin::pin(&x.t, &x.h, &r(1), std::time::Duration::from_secs(60), "").unwrap();
    assert_eq!(fs::read_to_string(&x.launch).unwrap(), text);
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&x.launch).unwrap().permissions())
            & 0o777,
        0o755
    );
}

/// Whether INT is ignored in the job's own process (SigIgn of /proc/self/status; INT
/// is signal 2, bit 1), the job launched by `dash launch`.
fn int_ignored(x: &Root) -> bool {
    let o = Command::new("dash")
        .arg(&x.launch)
        .args(["--", "grep", "^SigIgn:", "/proc/self/status"])
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = stdout(&o);
    let mask = u64::from_str_radix(line.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    mask & 0b10 != 0
}

#[test]
fn the_env_probe_is_recorded_at_install_and_read_by_every_launch() {
    let x = setup();
    let rec = x.root.join(".relman/bin/env-default-signal");
    // This machine's GNU env has --default-signal: relman probed and recorded it,
    // with the env's absolute path.
    let yes = fs::read_to_string(&rec).unwrap();
    assert!(
        yes.starts_with("yes /") && yes.ends_with("/env\n"),
        "{yes:?}"
    );
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&rec).unwrap().permissions()) & 0o777,
        0o644,
        "every job user reads it"
    );
    assert!(
        !int_ignored(&x),
        "dash job: INT back to default through env"
    );
    // The launcher believes the record (no probe of its own): "no" leaves INT ignored
    // as dash starts an asynchronous command.
    fs::write(&rec, "no\n").unwrap();
    assert!(
        int_ignored(&x),
        "the recorded answer is what the launcher uses"
    );
    // A current launcher keeps the recorded answer; a rewritten one probes again.
    {
        let lock = ops::lock::acquire(&x.t, &x.h, Action::Pin).unwrap();
        ops::launcher::ensure_launcher(&x.t, &x.h, &lock).unwrap();
    }
    assert_eq!(fs::read_to_string(&rec).unwrap(), "no\n");
    let text = fs::read_to_string(&x.launch).unwrap();
    fs::write(&x.launch, "#!/bin/sh\necho old\n").unwrap();
    {
        let lock = ops::lock::acquire(&x.t, &x.h, Action::Pin).unwrap();
        ops::launcher::ensure_launcher(&x.t, &x.h, &lock).unwrap();
    }
    assert_eq!(fs::read_to_string(&x.launch).unwrap(), text);
    assert_eq!(fs::read_to_string(&rec).unwrap(), yes);
    // No answer recorded (a root set up by an older relman): the launcher probes.
    fs::remove_file(&rec).unwrap();
    assert!(!int_ignored(&x), "no record: probed at launch");
    for bad in ["garbage\n", "yes\n", "yes env\n", "yes /nonexistent/env\n"] {
        fs::write(&rec, bad).unwrap();
        assert!(!int_ignored(&x), "{bad:?}: probed at launch");
    }
}

#[test]
fn a_job_user_whose_path_finds_another_env_gets_the_recorded_one() {
    let x = setup();
    // The job user's PATH finds busybox's env (no --default-signal) first: the
    // launcher runs the env relman recorded, by its path, and the job runs.
    let tools = tempfile::tempdir().unwrap();
    let bin = tool_path(tools.path(), &["env"]);
    std::os::unix::fs::symlink("/usr/bin/busybox", bin.join("env")).unwrap();
    let o = Command::new("dash")
        .arg(&x.launch)
        .args(["--", "grep", "^SigIgn:", "/proc/self/status"])
        .env("PATH", &bin)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mask =
        u64::from_str_radix(stdout(&o).trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(mask & 0b10, 0, "INT back to default");
}

/// A PATH directory holding (links to) the tools a launch may use, but those named
/// in `leave_out`.
fn tool_path(dir: &Path, leave_out: &[&str]) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for tool in [
        "awk", "flock", "date", "env", "wc", "mv", "tr", "mkdir", "readlink", "grep", "true",
        "cat", "sh", "dash", "id", "test", "sleep",
    ] {
        if leave_out.contains(&tool) {
            continue;
        }
        let p = ["/usr/local/bin", "/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} not found"));
        std::os::unix::fs::symlink(p, bin.join(tool)).unwrap();
    }
    bin
}

fn ledger(x: &Root, rel: &str) -> String {
    fs::read_to_string(x.root.join(".relman/runs").join(format!("{rel}.jsonl"))).unwrap()
}

#[test]
fn the_ledger_names_the_user_without_id() {
    let x = setup();
    let me = Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
    let tools = tempfile::tempdir().unwrap();
    let bin = tool_path(tools.path(), &["id"]);
    let o = Command::new("dash")
        .arg(&x.launch)
        .args(["--", "true"])
        .env("PATH", &bin)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let l = ledger(&x, &r(2));
    assert!(
        l.contains(&format!("\"user\":\"{me}\"")),
        "the user named from /proc and /etc/passwd, no id on PATH: {l}"
    );
}

#[test]
fn the_ledger_is_rotated_after_the_job_not_before_it_starts() {
    let x = setup();
    let runs = x.root.join(".relman/runs");
    let cur = runs.join(format!("{}.jsonl", r(2)));
    let old = runs.join(format!("{}.jsonl.old", r(2)));
    // Past the 512 KiB bound (lines the scan skips).
    fs::write(&cur, "x\n".repeat(300_000)).unwrap();
    let probe = r#"if [ -e "$1" ]; then echo rotated; else echo not-yet; fi"#;
    let o = launch(
        &x.launch,
        &["--", "sh", "-c", probe, "sh", old.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "not-yet\n",
        "no size check before the job starts"
    );
    // The bound holds: rotated once the job ended, its records kept (in .old).
    let o_text = fs::read_to_string(&old).unwrap();
    assert!(o_text.starts_with("x\n"));
    let tail: Vec<&str> = o_text.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(tail.len(), 2, "start and end records: {tail:?}");
    assert!(tail[0].contains("\"event\":\"start\"") && tail[1].contains("\"event\":\"end\""));
    assert!(!cur.exists(), "the current file starts afresh");
    // The next run goes to a new file, under the bound: no rotation.
    let o = launch(&x.launch, &["--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ledger(&x, &r(2)).lines().count(), 2);
    assert_eq!(fs::read_to_string(&old).unwrap(), o_text);
}

// ---- launch --tail N: the output tail of a failed run (opt-in) ------------------------

/// The shells the tail must work under: dash and bash with this machine's tools, and
/// busybox sh with a PATH of busybox applets only (util-linux flock, as on the fleet).
fn tail_shells(dir: &Path) -> Vec<(&'static str, Vec<String>, Option<PathBuf>)> {
    let bb = dir.join("bb");
    fs::create_dir_all(&bb).unwrap();
    let list = Command::new("busybox").arg("--list").output().unwrap();
    let busybox = fs::canonicalize("/usr/bin/busybox")
        .or_else(|_| fs::canonicalize("/bin/busybox"))
        .unwrap();
    for a in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        std::os::unix::fs::symlink(&busybox, bb.join(a)).unwrap();
    }
    let flock = ["/usr/bin/flock", "/bin/flock"]
        .iter()
        .find(|p| Path::new(p).exists())
        .unwrap();
    fs::remove_file(bb.join("flock")).ok();
    std::os::unix::fs::symlink(flock, bb.join("flock")).unwrap();
    vec![
        ("dash", vec!["dash".into()], None),
        ("bash", vec!["bash".into()], None),
        (
            "busybox",
            vec![busybox.display().to_string(), "sh".into()],
            Some(bb),
        ),
    ]
}

/// `SHELL launch ARGS`, stdin empty, from /.
fn launch_with(shell: &[String], path: Option<&Path>, l: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(&shell[0]);
    c.args(&shell[1..])
        .arg(l)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null());
    if let Some(p) = path {
        c.env("PATH", p);
    }
    c.output().unwrap()
}

fn tails_dir(x: &Root, rel: &str) -> PathBuf {
    x.root.join(".relman/runs").join(format!("{rel}.tails"))
}

/// The kept tails of `rel`: (id, text), oldest id first.
fn tails(x: &Root, rel: &str) -> Vec<(String, String)> {
    let Ok(rd) = fs::read_dir(tails_dir(x, rel)) else {
        return Vec::new();
    };
    let mut v: Vec<(String, String)> = rd
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                String::from_utf8_lossy(&fs::read(e.path()).unwrap()).into_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// No temporary FIFO directory is left behind in runs/.
fn no_temp_left(x: &Root) {
    let left: Vec<String> = fs::read_dir(x.root.join(".relman/runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tail."))
        .collect();
    assert!(left.is_empty(), "temporary directories left: {left:?}");
}

#[test]
fn with_tail_every_byte_passes_unchanged_and_statuses_stay_exact() {
    let x = setup();
    let tmp = tempfile::tempdir().unwrap();
    // Binary data with NUL and no trailing newline, stdout and stderr each to its own.
    let job = r#"printf 'out\000put\377\nlast'; printf 'err\000\001or' >&2; exit "$1""#;
    for (name, shell, path) in tail_shells(tmp.path()) {
        let _ = fs::remove_dir_all(tails_dir(&x, &r(2)));
        for (code, want) in [("0", 0), ("1", 1)] {
            let o = launch_with(
                &shell,
                path.as_deref(),
                &x.launch,
                &["--tail", "5", "--", "sh", "-c", job, "job", code],
            );
            assert_eq!(o.status.code(), Some(want), "{name}: {}", stderr(&o));
            assert_eq!(o.stdout, b"out\0put\xff\nlast", "{name}: stdout unchanged");
            assert_eq!(
                o.stderr, b"err\0\x01or",
                "{name}: stderr unchanged, nothing of launch's"
            );
        }
        // Killed by TERM: 143, as without --tail.
        let o = launch_with(
            &shell,
            path.as_deref(),
            &x.launch,
            &["--tail=5", "--", "sh", "-c", "echo dying; kill -TERM $$"],
        );
        assert_eq!(o.status.code(), Some(143), "{name}: {}", stderr(&o));
        assert_eq!(stdout(&o), "dying\n", "{name}");
        // The failed run and the killed one kept a tail, the ok one none: control
        // characters but tab and newline removed; the last line without its newline
        // gets one. stdout and stderr are merged in the order tee wrote them.
        let kept = tails(&x, &r(2));
        assert_eq!(kept.len(), 2, "{name}: {kept:?}");
        let failed = &kept.iter().find(|(_, t)| t.contains("put")).unwrap().1;
        let lines: Vec<&str> = failed.lines().collect();
        assert!(
            failed.contains("output\u{FFFD}") || failed.contains("output"),
            "{name}: {failed:?}"
        );
        assert!(
            !failed.contains('\0') && !failed.contains('\u{1}'),
            "{name}: {failed:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("error")),
            "{name}: {failed:?}"
        );
        assert!(kept.iter().any(|(_, t)| t == "dying\n"), "{name}: {kept:?}");
        // The ledger's end records say the same statuses.
        let led = ledger(&x, &r(2));
        assert!(led.contains("\"exit_code\":1,"), "{name}");
        assert!(led.contains("\"signal\":\"TERM\""), "{name}");
        no_temp_left(&x);
    }
}

#[test]
fn without_tail_nothing_changes_the_job_writes_to_launchs_own_output() {
    let x = setup();
    // The job's stdout is launch's own (a file here), not a pipe: fstat says regular.
    let out = tempfile::NamedTempFile::new().unwrap();
    let o = Command::new("dash")
        .arg(&x.launch)
        .args([
            "--",
            "sh",
            "-c",
            "[ -f /dev/stdout ] && [ ! -p /dev/stdout ] && echo file; exit 1",
        ])
        .stdout(out.reopen().unwrap())
        .stdin(Stdio::null())
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(fs::read_to_string(out.path()).unwrap(), "file\n");
    assert!(tails(&x, &r(2)).is_empty(), "no tail without --tail");
    // With it, the job's stdout is a pipe (what the operator opts into).
    let o = launch(
        &x.launch,
        &[
            "--tail",
            "3",
            "--",
            "sh",
            "-c",
            "[ -p /dev/stdout ] && echo pipe",
        ],
    );
    assert_eq!(stdout(&o), "pipe\n", "{}", stderr(&o));
}

#[test]
fn a_tail_is_bounded_in_bytes_and_lines_and_the_newest_20_are_kept() {
    let x = setup();
    let tmp = tempfile::tempdir().unwrap();
    for (name, shell, path) in tail_shells(tmp.path()) {
        let _ = fs::remove_dir_all(tails_dir(&x, &r(2)));
        // 10 MiB of output, line after line, then a failure.
        let job = "i=0; yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 10485760; echo THE-END; exit 3";
        let o = launch_with(
            &shell,
            path.as_deref(),
            &x.launch,
            &["--tail", "200", "--", "sh", "-c", job],
        );
        assert_eq!(o.status.code(), Some(3), "{name}: {}", stderr(&o));
        assert_eq!(
            o.stdout.len(),
            10 * 1024 * 1024 + 8,
            "{name}: every byte passed"
        );
        let kept = tails(&x, &r(2));
        assert_eq!(kept.len(), 1, "{name}");
        let t = &kept[0].1;
        assert!(t.len() <= 65536, "{name}: {} bytes", t.len());
        assert_eq!(t.lines().count(), 200, "{name}");
        assert!(t.ends_with("THE-END\n"), "{name}");
        // Short tails: the last N lines only.
        let o = launch_with(
            &shell,
            path.as_deref(),
            &x.launch,
            &["--tail", "2", "--", "sh", "-c", "seq 1 50; exit 1"],
        );
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert!(
            tails(&x, &r(2)).iter().any(|(_, t)| t == "49\n50\n"),
            "{name}"
        );
        no_temp_left(&x);
    }
    // The newest 20 per release: 23 more failed runs leave 20, the last one's among.
    for i in 0..23 {
        let o = launch(
            &x.launch,
            &[
                "--tail",
                "1",
                "--",
                "sh",
                "-c",
                &format!("echo run-{i}; exit 1"),
            ],
        );
        assert_eq!(o.status.code(), Some(1));
    }
    let kept = tails(&x, &r(2));
    assert_eq!(kept.len(), 20, "{kept:?}");
    assert!(kept.iter().any(|(_, t)| t == "run-22\n"));
    assert!(
        !kept
            .iter()
            .any(|(_, t)| t == "run-0\n" || t == "run-1\n" || t == "run-2\n"),
        "{kept:?}"
    );
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(p).unwrap().permissions()) & 0o7777
    };
    assert_eq!(
        mode(&tails_dir(&x, &r(2))),
        0o1777,
        "shared by every job user, like runs/"
    );
    assert_eq!(
        mode(&tails_dir(&x, &r(2)).join(&kept[0].0)),
        0o666,
        "like the ledger"
    );
}

/// The newest 20 are the newest written, not the highest run ids: a run id's pid wraps
/// (a CI run kept run-0..17 and lost the newest when 32737 was followed by 474).
#[test]
fn the_tails_kept_are_the_newest_written_whatever_their_ids_say() {
    let x = setup();
    let tmp = tempfile::tempdir().unwrap();
    for (name, shell, path) in tail_shells(tmp.path()) {
        let dir = tails_dir(&x, &r(2));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        // 20 older tails whose ids sort after any run of today (as if the pid had
        // wrapped since), each older than the one before: 9999999999-19 is the oldest.
        let now = std::time::SystemTime::now();
        for i in 0..20u64 {
            let f = dir.join(format!("9999999999-{i}"));
            fs::write(&f, format!("old-{i}\n")).unwrap();
            let at = now - Duration::from_secs(3600 + 60 * i);
            fs::File::options()
                .write(true)
                .open(&f)
                .unwrap()
                .set_modified(at)
                .unwrap();
        }
        let o = launch_with(
            &shell,
            path.as_deref(),
            &x.launch,
            &["--tail", "1", "--", "sh", "-c", "echo fresh; exit 1"],
        );
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let kept = tails(&x, &r(2));
        let texts: Vec<&str> = kept.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(kept.len(), 20, "{name}: {kept:?}");
        assert!(
            texts.contains(&"fresh\n"),
            "{name}: the newest run's tail: {kept:?}"
        );
        assert!(
            !texts.contains(&"old-19\n"),
            "{name}: the oldest written went: {kept:?}"
        );
        assert!(texts.contains(&"old-0\n"), "{name}: {kept:?}");
    }
}

/// `SHELL launch ARGS` (a job that says "up" first) in a process group of its own,
/// and once it is up, TERM to the whole group, as relman launch's stop (`kill -TERM
/// -PGID`) and many schedulers send it. The child, and its stdout after "up\n".
fn term_the_group_once_up(
    shell: &[String],
    path: Option<&Path>,
    l: &Path,
    args: &[&str],
    stderr: Stdio,
) -> (std::process::Child, std::process::ChildStdout) {
    use std::io::Read as _;
    let mut c = Command::new(&shell[0]);
    c.args(&shell[1..])
        .arg(l)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    if let Some(p) = path {
        c.env("PATH", p);
    }
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    let mut child = c.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 3];
    out.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"up\n");
    // SAFETY: kill(2) on the child's own process group.
    assert_eq!(
        unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) },
        0
    );
    (child, out)
}

/// A TERM to the whole group as the job ends must not cost the job's status: bash's
/// `wait` lost it to the trap in 82 of 200 such runs (said -1 or 0, or hung in
/// waitpid with --tail, the keeper waiting for launch). Every shell, with and
/// without --tail, many rounds: the race needs the signal and the job's end together.
#[test]
fn a_group_term_as_the_job_ends_never_costs_its_status() {
    let x = setup();
    let tmp = tempfile::tempdir().unwrap();
    for (name, shell, path) in tail_shells(tmp.path()) {
        for tail in [false, true] {
            for round in 0..25 {
                let mut args = vec![];
                if tail {
                    args.extend(["--tail", "5"]);
                }
                args.extend([
                    "--",
                    "sh",
                    "-c",
                    "trap 'trap \"\" TERM; exit 7' TERM; echo up; while :; do :; done",
                ]);
                let (mut child, _out) = term_the_group_once_up(
                    &shell,
                    path.as_deref(),
                    &x.launch,
                    &args,
                    Stdio::null(),
                );
                let t0 = std::time::Instant::now();
                let st = loop {
                    if let Some(st) = child.try_wait().unwrap() {
                        break st;
                    }
                    if t0.elapsed() > Duration::from_secs(30) {
                        // SAFETY: kill(2) on the child's own process group.
                        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                        let _ = child.wait();
                        panic!("{name} tail={tail} round {round}: launch hangs");
                    }
                    std::thread::sleep(Duration::from_millis(5));
                };
                assert_eq!(
                    st.code(),
                    Some(7),
                    "{name} tail={tail} round {round}: the job's own status"
                );
            }
        }
    }
    no_temp_left(&x);
}

#[test]
fn with_tail_term_is_forwarded_and_the_last_words_are_kept() {
    use std::io::Read as _;
    let x = setup();
    let tmp = tempfile::tempdir().unwrap();
    for (name, shell, path) in tail_shells(tmp.path()) {
        let _ = fs::remove_dir_all(tails_dir(&x, &r(2)));
        let (mut child, mut out) = term_the_group_once_up(
            &shell,
            path.as_deref(),
            &x.launch,
            &[
                "--tail",
                "10",
                "--",
                "sh",
                "-c",
                // The job gets TERM twice (the group's, and the one launch
                // forwards): like a JVM's shutdown hook, it says goodbye once.
                "trap 'trap \"\" TERM; echo bye; exit 7' TERM; echo up; while :; do sleep 0.05; done",
            ],
            Stdio::piped(),
        );
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(7), "{name}: the job's own status");
        assert!(rest.starts_with("bye\n"), "{name}: {rest:?}");
        let kept = tails(&x, &r(2));
        assert_eq!(kept.len(), 1, "{name}: {kept:?}");
        // (sh may say on stderr that its sleep was Terminated, before or after:
        // stdout and stderr go through tees of their own.)
        let words: Vec<&str> = kept[0].1.lines().filter(|l| *l != "Terminated").collect();
        assert_eq!(words, ["up", "bye"], "{name}: {kept:?}");
        no_temp_left(&x);
    }
}

#[test]
fn bad_tail_values_are_refused_and_nothing_runs() {
    let x = setup();
    for bad in [
        &["--tail", "0"][..],
        &["--tail", "201"],
        &["--tail", "007"],
        &["--tail", "x"],
        &["--tail=-1"],
        &["--tail"],
    ] {
        let mut args = bad.to_vec();
        args.extend(["--", "sh", "-c", "echo ran"]);
        let o = launch(&x.launch, &args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{bad:?}");
        assert!(
            stderr(&o).starts_with("launch: --tail"),
            "{bad:?}: {}",
            stderr(&o)
        );
        assert_eq!(stderr(&o).lines().count(), 1, "{bad:?}");
    }
}

#[test]
fn a_tail_that_cannot_be_written_changes_nothing_but_one_warning() {
    let x = setup();
    // The tails directory is a file: nothing can be kept there.
    let runs = x.root.join(".relman/runs");
    fs::create_dir_all(&runs).unwrap();
    fs::write(tails_dir(&x, &r(2)), "").unwrap();
    let o = launch(
        &x.launch,
        &["--tail", "3", "--", "sh", "-c", "echo out; exit 4"],
    );
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(stdout(&o), "out\n");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("launch: warning: --tail: "), "{err}");
    no_temp_left(&x);
}

#[test]
fn runs_reads_the_kept_tails_of_the_runs_it_lists() {
    let x = setup();
    let o = launch(
        &x.launch,
        &[
            "--tail",
            "4",
            "--",
            "sh",
            "-c",
            "printf 'x\\na\\tb\\none\\ntwo\\nthree'; exit 9",
        ],
    );
    assert_eq!(o.status.code(), Some(9));
    let o = launch(&x.launch, &["--tail", "3", "--", "true"]);
    assert_eq!(o.status.code(), Some(0));
    // A file planted in the shared directory with a bad name, and a symlink: ignored.
    fs::write(tails_dir(&x, &r(2)).join("not-an-id"), "x\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", tails_dir(&x, &r(2)).join("1-1")).unwrap();
    for release in [Some(r(2)), None] {
        let q = ops::runs::RunsQuery {
            release: release.clone(),
            limit: 10,
            failed_only: false,
        };
        let runs = ops::runs::runs(&x.t, &x.h, &q).unwrap();
        assert_eq!(runs.len(), 2, "{release:?}");
        let failed = runs.iter().find(|r| r.exit_code == Some(9)).unwrap();
        assert_eq!(
            failed.tail.as_deref(),
            Some(
                &[
                    "a\tb".to_string(),
                    "one".into(),
                    "two".into(),
                    "three".into()
                ][..]
            ),
            "{release:?}"
        );
        assert_eq!(
            runs.iter().find(|r| r.exit_code == Some(0)).unwrap().tail,
            None
        );
    }
}

#[test]
fn the_tails_helpers_are_not_jobs_of_the_release() {
    let x = setup();
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("go");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // The job waits with the shell's own `read` (no child) in the release.
    let script = format!("read _go < '{}'; exit 1", fifo.display());
    let mut seen = Vec::new();
    for tail in [false, true] {
        let mut args = vec![];
        if tail {
            args.extend(["--tail", "3"]);
        }
        args.extend(["--", "sh", "-c", script.as_str()]);
        let mut child = Command::new(&x.launch)
            .args(&args)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let n = if tail { 2 } else { 1 };
        let t0 = std::time::Instant::now();
        let led = x.root.join(".relman/runs").join(format!("{}.jsonl", r(2)));
        let starts = || {
            fs::read_to_string(&led)
                .unwrap_or_default()
                .matches("\"event\":\"start\"")
                .count()
        };
        while starts() < n {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(20),
                "no start record"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let st = ops::scan(&x.t, &x.h).unwrap();
        let jobs: Vec<String> = st
            .release(&r(2))
            .unwrap()
            .jobs
            .iter()
            .map(|j| j.command.clone())
            .collect();
        fs::write(&fifo, "go\n").unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(1));
        assert!(
            !jobs
                .iter()
                .any(|c| c.starts_with("tee") || c.starts_with("tail")),
            "{jobs:?}"
        );
        seen.push(jobs.len());
    }
    assert_eq!(seen[0], seen[1], "the same jobs with and without --tail");
    assert!(seen[0] >= 1, "the job itself is seen");
}

#[test]
fn a_killed_launchers_fifo_directory_is_removed_by_the_next_tail() {
    let x = setup();
    let runs = x.root.join(".relman/runs");
    fs::create_dir_all(&runs).unwrap();
    // Above any pid_max: that launcher is gone. Our own pid: alive, kept.
    let gone = runs.join(".tail.4194999.AbCdEf");
    let alive = runs.join(format!(".tail.{}.AbCdEf", std::process::id()));
    for d in [&gone, &alive] {
        fs::create_dir_all(d).unwrap();
        fs::write(d.join("t"), "x").unwrap();
    }
    let o = launch(&x.launch, &["--", "true"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(gone.exists(), "without --tail: not one step more");
    let o = launch(&x.launch, &["--tail", "2", "--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!gone.exists(), "a dead launcher's directory is removed");
    assert!(alive.join("t").exists(), "a live launcher's stays");
    fs::remove_dir_all(&alive).unwrap();
    no_temp_left(&x);
}
