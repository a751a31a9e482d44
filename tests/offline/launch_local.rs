//! The job launcher `.relman/bin/launch`, as relman installs it, run directly (as a
//! scheduler on the host would): which release it picks, what the job sees, exit
//! codes, the lock it holds, and every hostile `--release` it must refuse.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
