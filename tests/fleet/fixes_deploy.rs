//! Issue 12, deploy's part, against real sshd hosts whose deploy user is not root:
//! a seed that names releases in the host's local time (item 7), a frozen host
//! (item 8), and the messages of a full, nearly full and read-only root and of a
//! closed stdout.

use crate::support;
use support::{noise, write_file};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use relman::model::ReleaseName;
use serde_json::Value;
use support::{DEPLOY, Fleet, wait_until};

/// A small app (readable by the deploy user: relman runs as root here, reads locally).
fn make_app(dir: &Path, jar: usize, seed: u32) -> PathBuf {
    let app = dir.join(format!("app-{seed}"));
    write_file(&app.join("app.jar"), &noise(jar, seed), 0o644);
    write_file(&app.join("bin/run.sh"), b"#!/bin/sh\necho run\n", 0o755);
    app
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): stdout {} stderr {}", stdout(o), stderr(o)))
}

fn run(f: &Fleet, args: &[&str]) -> Output {
    f.relman().args(args).stdin(Stdio::null()).output().unwrap()
}

fn releases(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.starts_with("batch_"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn link(root: &Path) -> Option<String> {
    fs::read_link(root.join("batch"))
        .ok()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
}

fn staging(root: &Path) -> Vec<String> {
    fs::read_dir(root.join(".relman/staging"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// The lines of stderr that carry a host's error (`h1: ...`).
fn host_lines<'a>(err: &'a str, host: &str) -> Vec<&'a str> {
    err.lines()
        .filter(|l| l.trim_start().starts_with(&format!("{host}:")))
        .collect()
}

/// The host's lock is free (list reports no holder), within 15 s.
fn lock_frees(f: &Fleet) -> bool {
    wait_until(Duration::from_secs(15), || {
        let o = run(f, &["list", "--json"]);
        o.status.code() == Some(0) && json(&o)["hosts"][0]["locked"].is_null()
    })
}

// ---------------------------------------------------------------------------
// Item 7: releases named in the host's local time (KST, 9 h ahead of UTC).

#[test]
fn a_seed_named_nine_hours_ahead_is_followed_listed_in_the_future_and_warned_about() {
    let f = Fleet::start_as(1, DEPLOY);
    let now = SystemTime::now();
    // 9 h ahead of UTC, give or take: the newest 9 h 5 m ahead (so it reads "in 9h …"
    // for the next 5 minutes), one 8 h 5 m ahead, one two days back.
    let kst = |ahead: i64| {
        let at = if ahead >= 0 {
            now + Duration::from_secs(ahead as u64)
        } else {
            now - Duration::from_secs(ahead.unsigned_abs())
        };
        ReleaseName::new("batch_", at, 0).to_string()
    };
    let seeds = [
        kst(9 * 3600 - 2 * 86400),
        kst(8 * 3600 + 300),
        kst(9 * 3600 + 300),
    ];
    let newest_seed = seeds[2].clone();
    let mut script = String::from("mkdir -p \"$ROOT\"\n");
    for s in &seeds {
        script.push_str(&format!(
            "mkdir \"$ROOT/{s}\" && echo v >\"$ROOT/{s}/app.jar\"\n"
        ));
    }
    // An absolute link target, as the classic script writes it.
    script.push_str(&format!("ln -s \"$ROOT/{newest_seed}\" \"$ROOT/batch\"\n"));
    f.sh(0, &script);

    // list: the seed's newest is in the future, and says so.
    let o = run(&f, &["list"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = stdout(&o);
    let row = table
        .lines()
        .find(|l| l.contains(&newest_seed) && !l.contains('→'))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("in 9h"), "{row}");
    assert!(!row.contains("0s ago"), "{row}");
    let row = table
        .lines()
        .find(|l| l.contains(&seeds[1]) && !l.contains('→'))
        .unwrap();
    assert!(row.contains("in 8h"), "{row}");
    // --json is unchanged: the name's time, RFC 3339.
    let o = run(&f, &["list", "--json"]);
    let v = json(&o);
    assert_eq!(v["hosts"][0]["releases"][0]["name"], newest_seed.as_str());

    // check warns, naming the release and what relman will do.
    let o = run(&f, &["check", "--host", "h1"]);
    let out = stdout(&o);
    let warn = out
        .lines()
        .find(|l| l.contains("release names"))
        .unwrap_or_else(|| panic!("no release-name warning: {out}"));
    assert!(warn.trim_start().starts_with("WARN"), "{warn}");
    assert!(
        warn.contains(&format!("the newest release {newest_seed} is named 9h"))
            && warn.contains("in the future")
            && warn.contains("relman names new releases after it"),
        "{warn}"
    );

    // deploy: the new release sorts after every seed release, and is live.
    let app = make_app(f.dir(), 1000, 1);
    let o = run(&f, &["deploy", "--all", "--json", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let new = json(&o)["release"].as_str().unwrap().to_string();
    assert!(
        seeds.iter().all(|s| *s < new),
        "{new} must sort after {seeds:?}"
    );
    let o = run(&f, &["list", "--json"]);
    let v = json(&o);
    let rels = v["hosts"][0]["releases"].as_array().unwrap();
    assert_eq!(rels[0]["name"], new.as_str(), "newest by name");
    assert_eq!(rels[0]["current"], true);
    assert_eq!(v["hosts"][0]["previous"], newest_seed.as_str());
    assert_eq!(link(f.root(0)).as_deref(), Some(new.as_str()));

    // A second deploy follows the first (not a `.N` below it).
    let app2 = make_app(f.dir(), 1000, 2);
    let o = run(&f, &["deploy", "--all", "--json", app2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let second = json(&o)["release"].as_str().unwrap().to_string();
    assert!(second > new, "{second} after {new}");

    // Rollback goes to the release live before (the first deploy's), then to the seed's.
    let o = run(&f, &["rollback", "--all"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(link(f.root(0)).as_deref(), Some(new.as_str()));
    let o = run(&f, &["rollback", "--all"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(link(f.root(0)).as_deref(), Some(newest_seed.as_str()));
}

// ---------------------------------------------------------------------------
// Item 8: a frozen host.

/// The pid of host i's listening sshd.
fn sshd_pid(f: &Fleet, i: usize) -> u32 {
    let cfg = f.host(i).dir.join("sshd_config");
    let cfg = cfg.to_str().unwrap();
    support::processes()
        .into_iter()
        .find(|(_, _, cmd)| cmd.contains("sshd") && cmd.contains(cfg))
        .map(|(pid, _, _)| pid)
        .expect("the host's sshd")
}

/// Every descendant of `pid` (not `pid` itself).
fn descendants(pid: u32) -> Vec<u32> {
    let procs = support::processes();
    let mut out = vec![];
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for (c, pp, _) in &procs {
            if *pp == p {
                out.push(*c);
                frontier.push(*c);
            }
        }
    }
    out
}

fn signal(pids: &[u32], sig: libc::c_int) {
    for &p in pids {
        // SAFETY: a plain kill(2) on processes of this test's sshd.
        unsafe {
            libc::kill(p as libc::pid_t, sig);
        }
    }
}

/// SIGCONTs what it stopped, whatever happens to the test.
struct Frozen(Vec<u32>);

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(&self.0, libc::SIGCONT);
    }
}

#[test]
fn a_host_frozen_mid_deploy_fails_after_stall_timeout_and_its_lock_dies() {
    let f = Fleet::start_as(1, DEPLOY);
    let text = format!("stall_timeout = \"2s\"\n{}", f.config_toml());
    fs::write(f.config_path(), text).unwrap();
    let small = make_app(f.dir(), 1000, 1);
    let o = run(&f, &["deploy", "--all", small.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let root = f.root(0).to_path_buf();
    let before = (link(&root), releases(&root));
    let listener = sshd_pid(&f, 0);
    // Freeze every session of the host while the upload receiver runs; a machine so
    // fast that the deploy ends first gets a bigger file.
    for (k, size) in [64_000_000usize, 200_000_000].into_iter().enumerate() {
        let app = make_app(f.dir(), size, 10 + k as u32);
        let mut child = support::Kill(
            f.relman()
                .args(["deploy", "--all", app.to_str().unwrap()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut frozen = Frozen(vec![]);
        let mut exited = false;
        wait_until(Duration::from_secs(60), || {
            if let Ok(Some(_)) = child.0.try_wait() {
                exited = true;
                return true;
            }
            let tree = descendants(listener);
            let procs = support::processes();
            let receiving = procs
                .iter()
                .any(|(p, _, cmd)| tree.contains(p) && cmd.contains("RECEIVED"));
            if receiving {
                signal(&tree, libc::SIGSTOP);
                frozen.0 = tree;
            }
            receiving
        });
        if exited {
            continue;
        }
        assert!(!frozen.0.is_empty(), "never saw the upload receiver");
        // relman gives up by itself (the deadline only keeps the test from hanging).
        let gave_up = wait_until(Duration::from_secs(60), || {
            matches!(child.0.try_wait(), Ok(Some(_)))
        });
        assert!(gave_up, "relman still waits on a frozen host");
        let status = child.0.wait().unwrap();
        let mut err = String::new();
        use std::io::Read as _;
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(1), "{err}");
        let lines = host_lines(&err, "h1");
        assert!(
            lines.iter().any(|l| l.contains("h1 (127.0.0.1:")
                && l.contains(
                    "went silent: no byte for 2s while a command ran there (stall_timeout)"
                )),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        drop(frozen); // SIGCONT
        assert!(lock_frees(&f), "the host's lock outlived relman");
        assert_eq!((link(&root), releases(&root)), before, "nothing published");
        // And the host works again: the next deploy goes through.
        let o = run(&f, &["deploy", "--all", small.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        return;
    }
    panic!("every deploy ended before the host could be frozen");
}

// ---------------------------------------------------------------------------
// Full, nearly full and read-only roots: a tmpfs mounted as the host's root.

/// A tmpfs of `size` mounted at `path` for the deploy user; unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        let (uid, gid, _) = support::user_ids(DEPLOY);
        fs::create_dir_all(path).unwrap();
        support::run(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o"])
                .arg(format!("size={size},mode=0755,uid={uid},gid={gid}"))
                .arg("tmpfs")
                .arg(path),
        );
        Tmpfs(path.to_path_buf())
    }

    fn remount_ro(&self) {
        support::run(
            Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(&self.0),
        );
    }

    /// Bytes free, as df says.
    fn free(&self) -> u64 {
        let out = support::run(Command::new("df").args(["-P", "-k"]).arg(&self.0));
        let kb: u64 = out
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .nth(3)
            .unwrap()
            .parse()
            .unwrap();
        kb * 1024
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A host whose root is a fresh tmpfs of `size`, with one release deployed (live).
fn tmpfs_host(size: &str) -> (Fleet, Tmpfs) {
    let f = Fleet::start_as(1, DEPLOY);
    let m = Tmpfs::mount(f.root(0), size);
    let app = make_app(f.dir(), 1000, 1);
    let o = run(&f, &["deploy", "--all", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (f, m)
}

#[test]
fn a_full_disk_says_so_in_one_line_and_changes_nothing() {
    let (f, m) = tmpfs_host("2m");
    let root = f.root(0).to_path_buf();
    // Every page taken (a foreign file: relman never touches it).
    f.sh(
        0,
        "dd if=/dev/zero of=\"$ROOT/fill\" bs=4096 2>/dev/null; true",
    );
    assert_eq!(m.free(), 0);
    let before = (link(&root), releases(&root));
    let app = make_app(f.dir(), 1000, 2);
    let o = run(&f, &["deploy", "--all", app.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let want = format!(
        "h1: locking: no space left on device on h1 ({}): 0 B free",
        root.display()
    );
    assert_eq!(host_lines(&err, "h1"), vec![want.as_str()], "{err}");
    assert!(!err.contains("lock was lost"), "{err}");
    assert!(!err.contains("could not remove"), "{err}");
    assert_eq!((link(&root), releases(&root)), before);
    assert!(staging(&root).is_empty());
    // Every mutating command says the same.
    let o = run(&f, &["switch", "--all", &before.1[0]]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "no space left on device on h1 ({}): 0 B free",
            root.display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_disk_that_fills_up_during_the_upload_says_so() {
    let (f, m) = tmpfs_host("6m");
    let root = f.root(0).to_path_buf();
    f.sh(
        0,
        "dd if=/dev/zero of=\"$ROOT/fill\" bs=1M count=4 2>/dev/null",
    );
    let before = (link(&root), releases(&root));
    // 3 MB to send, under 2 MB free: the receiver's write fails.
    assert!(m.free() < 2_100_000);
    let app = make_app(f.dir(), 3_000_000, 3);
    let o = run(&f, &["deploy", "--all", app.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let want = format!(
        "h1: uploading: the disk filled up: no space left on device on h1 ({}): 0 B free",
        root.display()
    );
    assert_eq!(host_lines(&err, "h1"), vec![want.as_str()], "{err}");
    assert!(
        !err.contains("sha256") && !err.contains("not reported"),
        "{err}"
    );
    assert_eq!((link(&root), releases(&root)), before);
    assert!(staging(&root).is_empty(), "the partial upload is removed");

    // The upload just fits, and the manifest (or the verify step's lists) do not:
    // that used to read "sha256 differs" / "not reported by the host".
    let free = m.free();
    // One page goes to the lock's owner line.
    let app = make_app(f.dir(), (free - 4096) as usize, 4);
    let o = run(&f, &["deploy", "--all", app.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let want = format!(
        "h1: verifying: the disk filled up: no space left on device on h1 ({}): 0 B free",
        root.display()
    );
    assert_eq!(host_lines(&err, "h1"), vec![want.as_str()], "{err}");
    assert_eq!((link(&root), releases(&root)), before);
    assert!(staging(&root).is_empty(), "{:?}", staging(&root));
}

#[test]
fn a_read_only_root_says_so_for_every_mutating_command() {
    let (f, m) = tmpfs_host("4m");
    let root = f.root(0).to_path_buf();
    let before = (link(&root), releases(&root));
    m.remount_ro();
    let said = format!(
        "the root {} on h1 is on a read-only file system: relman can lock and change nothing there",
        root.display()
    );
    let app = make_app(f.dir(), 1000, 2);
    let rel = before.1[0].clone();
    for args in [
        vec!["deploy", "--all", app.to_str().unwrap()],
        vec!["switch", "--all", rel.as_str()],
        vec!["rollback", "--all"],
        vec!["prune", "--all", "--keep", "0"],
        vec!["pin", "--all", rel.as_str(), "--for", "1h"],
    ] {
        let o = run(&f, &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(&said), "{args:?}: {err}");
        assert!(!err.contains("unexpected answer"), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(&said)).collect();
        assert_eq!(lines.len(), 1, "{args:?}: said once, on one line: {err}");
        assert!(
            lines[0].starts_with("h1"),
            "{args:?}: names the host: {err}"
        );
    }
    // Reading still works.
    let o = run(&f, &["list"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!((link(&root), releases(&root)), before);
}

// ---------------------------------------------------------------------------
// A closed stdout.

/// A host with enough releases that `list` writes far more than a pipe holds.
fn busy_host() -> Fleet {
    let f = Fleet::start_as(1, DEPLOY);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let names: Vec<String> = (0..1500)
        .map(|i| ReleaseName::new("batch_", t0 + Duration::from_secs(i * 60), 0).to_string())
        .collect();
    f.sh(
        0,
        &format!(
            "mkdir -p \"$ROOT\" && cd \"$ROOT\" && mkdir {} && ln -s {} batch",
            names.join(" "),
            names.last().unwrap()
        ),
    );
    f
}

#[test]
fn a_closed_stdout_ends_relman_quietly() {
    let f = busy_host();
    let ok = run(&f, &["list"]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(ok.stdout.len() > 100_000, "{}", ok.stdout.len());
    for args in [vec!["list"], vec!["list", "--json"], vec!["history"]] {
        // The reader goes away before relman writes anything.
        let mut child = f
            .relman()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: quiet, not {err:?}");
    }
    // `| head -1` and `| head -c 10`: the reader leaves after its first bytes.
    for (args, head) in [
        (vec!["list"], vec!["-1"]),
        (vec!["list", "--json"], vec!["-c", "10"]),
    ] {
        let mut child = f
            .relman()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let head_out = Command::new("head")
            .args(&head)
            .stdin(child.stdout.take().unwrap())
            .output()
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && err.is_empty(),
            "{args:?}: {err}"
        );
        assert!(!head_out.stdout.is_empty());
    }
}
