//! Release health (issue 15): the launcher as the job's parent and witness, its run
//! ledger, and what the scan (`list --json` `health`) and `relman runs` make of it,
//! on real sshd hosts. The launcher runs as production runs jobs (cron on the host):
//! as the deploy user, under dash (`deploy`) and under busybox sh with a PATH of
//! busybox applets (`busybox`).

use crate::support;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::cli::{code, err};
use support::{BUSYBOX, DEPLOY, Fleet, JOBS, Kill, command_as, noise, wait_until};

const BBOX_BIN: &str = "/usr/local/lib/relman-test/bbox-bin";

/// Deploys a small app to every host; the release's name.
fn deploy(f: &Fleet) -> String {
    let app = f.dir().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("app.jar"), "jar").unwrap();
    let o = f
        .relman()
        .args(["--all", "deploy", "--json"])
        .arg(&app)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "deploy: {}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["release"].as_str().unwrap().to_string()
}

/// Host i's launcher as `user` runs it: dash for the deploy user, busybox sh with
/// only busybox applets (and flock) on PATH for the busybox user.
fn launch(f: &Fleet, i: usize, user: &str) -> Command {
    let l = f.root(i).join(".relman/bin/launch");
    let mut c = if user == BUSYBOX {
        let mut c = command_as(user, &format!("{BBOX_BIN}/sh"));
        c.env("PATH", BBOX_BIN);
        c
    } else {
        command_as(user, "dash")
    };
    c.arg(l).current_dir("/").stdin(Stdio::null());
    // As cron or a scheduler starts a job: every signal at its default (a test run
    // from a background shell inherits INT and QUIT ignored, which no sh can undo).
    // SAFETY: signal(2) only, between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt as _;
        c.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    c.env_remove("BUILD_TAG").env_remove("JOB_NAME");
    c
}

/// Every line of host i's ledger files, parsed (panics on a line that is not JSON).
fn ledger(f: &Fleet, i: usize) -> Vec<Value> {
    let dir = f.root(i).join(".relman/runs");
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(&dir) else {
        return out;
    };
    let mut files: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    files.sort();
    for p in files {
        // The ledger files, not the scan's summaries of them (`<file>.sum`).
        let name = p.to_string_lossy();
        if !(name.ends_with(".jsonl") || name.ends_with(".jsonl.old")) {
            continue;
        }
        let text = fs::read_to_string(&p).unwrap();
        for l in text.lines() {
            out.push(
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l:?}", p.display())),
            );
        }
    }
    out
}

fn starts(f: &Fleet, i: usize) -> Vec<Value> {
    ledger(f, i)
        .into_iter()
        .filter(|v| v["event"] == "start")
        .collect()
}

/// Waits until host i's ledger has `n` start records; the newest one.
fn started(f: &Fleet, i: usize, n: usize) -> Value {
    assert!(
        wait_until(Duration::from_secs(20), || starts(f, i).len() >= n),
        "no start record {n}: {:?}",
        ledger(f, i)
    );
    starts(f, i).pop().unwrap()
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) with a pid of a child this test spawned.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

fn relman_json(f: &Fleet, args: &[&str]) -> Value {
    let o = f.relman().args(args).stdin(Stdio::null()).output().unwrap();
    assert_eq!(code(&o), 0, "{args:?}: {}", err(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn health(f: &Fleet, release: &str) -> Value {
    let v = relman_json(f, &["--all", "list", "--json"]);
    let rels = v["hosts"][0]["releases"].as_array().unwrap().clone();
    rels.into_iter()
        .find(|r| r["name"] == release)
        .unwrap_or_else(|| panic!("{release} not listed: {v}"))["health"]
        .clone()
}

/// The first job on a host may be another user's, who may not write `.relman`:
/// relman makes the ledger's directory when it installs the launcher, so that
/// job is recorded too (before, it ran unrecorded with a warning).
#[test]
fn another_users_first_job_is_recorded() {
    let f = Fleet::start_as(1, DEPLOY);
    let rel = deploy(&f);
    let o = launch(&f, 0, JOBS)
        .args(["--", "sh", "-c", "exit 4"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 4);
    assert!(!err(&o).contains("warning"), "{}", err(&o));
    let h = health(&f, &rel);
    assert_eq!(
        (h["runs"].as_u64(), h["failed"].as_u64()),
        (Some(1), Some(1)),
        "{h}"
    );
    assert_eq!(h["last_failure"]["exit_code"], 4, "{h}");
}

for_users!(statuses_streams_and_signals_pass_through: deploy, busybox);
fn statuses_streams_and_signals_pass_through(user: &str) {
    let f = Fleet::start_as(1, user);
    let rel = deploy(&f);
    for want in [0, 1, 3, 127, 130, 143] {
        let o = launch(&f, 0, user)
            .args(["--", "sh", "-c", &format!("exit {want}")])
            .output()
            .unwrap();
        assert_eq!(code(&o), want, "{user}: {}", err(&o));
        assert_eq!(err(&o), "", "nothing of launch's own on stderr");
    }
    // stdin reaches the job; stdout and stderr bytes come out unchanged.
    let bytes = noise(300_000, 7);
    for (script, to_stdout) in [("cat", true), ("cat >&2", false)] {
        let mut c = launch(&f, 0, user);
        let mut child = c
            .args(["--", "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = bytes.clone();
        let w = std::thread::spawn(move || stdin.write_all(&data).unwrap());
        let o = child.wait_with_output().unwrap();
        w.join().unwrap();
        assert_eq!(code(&o), 0, "{user} {script}: {}", err(&o));
        let (got, other) = if to_stdout {
            (&o.stdout, &o.stderr)
        } else {
            (&o.stderr, &o.stdout)
        };
        assert!(*got == bytes, "{user} {script}: {} bytes came", got.len());
        assert!(other.is_empty(), "{user} {script}");
    }
    // Signals to launch reach the job: it ends by them, launch says 128+N, the
    // ledger says which. INT and QUIT: busybox sh starts a background command with
    // them ignored and only GNU env can undo that (not on a busybox PATH).
    let mut sigs = vec![
        (libc::SIGTERM, "TERM"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGUSR1, "USR1"),
    ];
    if user != BUSYBOX {
        sigs.push((libc::SIGINT, "INT"));
        sigs.push((libc::SIGQUIT, "QUIT"));
    }
    for (sig, name) in sigs {
        let n = starts(&f, 0).len();
        let mut child = Kill(
            launch(&f, 0, user)
                .args(["--", "sleep", "60"])
                .spawn()
                .unwrap(),
        );
        let start = started(&f, 0, n + 1);
        assert_eq!(start["release"], rel.as_str());
        // Until the job is `sleep` (env has reset INT and QUIT and exec'd it), an INT
        // or QUIT would find them still ignored: a documented start-up window.
        let job = start["pid"].as_u64().unwrap();
        assert!(
            wait_until(Duration::from_secs(20), || {
                fs::read_to_string(format!("/proc/{job}/comm")).is_ok_and(|c| c.trim() == "sleep")
            }),
            "{user} {name}: the job never became sleep"
        );
        signal(child.0.id(), sig);
        let st = child.0.wait().unwrap();
        assert_eq!(st.code(), Some(128 + sig), "{user} {name}");
        let end = ledger(&f, 0)
            .into_iter()
            .find(|v| v["event"] == "end" && v["id"] == start["id"])
            .unwrap_or_else(|| panic!("{user} {name}: no end record"));
        assert_eq!(end["signal"], name, "{user}");
        assert_eq!(end["exit_code"], Value::Null);
        let pid = start["pid"].as_u64().unwrap();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{user} {name}: the job is gone"
        );
    }
}

for_users!(health_counts_every_outcome_exactly: deploy, busybox);
fn health_counts_every_outcome_exactly(user: &str) {
    let f = Fleet::start_as(1, user);
    let rel = deploy(&f);
    let h = health(&f, &rel);
    assert_eq!(h["runs"], 0, "{h}");
    assert_eq!(h["last_failure"], Value::Null);

    let run = |args: &[&str]| launch(&f, 0, user).args(args).output().unwrap();
    assert_eq!(code(&run(&["--", "true"])), 0);
    assert_eq!(code(&run(&["--", "sh", "-c", "exit 3"])), 3);
    // killed: TERM to launch.
    let mut k = Kill(
        launch(&f, 0, user)
            .args(["--", "sleep", "60"])
            .spawn()
            .unwrap(),
    );
    started(&f, 0, 3);
    signal(k.0.id(), libc::SIGTERM);
    assert_eq!(k.0.wait().unwrap().code(), Some(143));
    // lost: launch SIGKILLed, its job finishing later (no end record ever comes).
    let mut l = Kill(
        launch(&f, 0, user)
            .args(["--", "sh", "-c", "sleep 1; exit 0"])
            .spawn()
            .unwrap(),
    );
    let lost = started(&f, 0, 4);
    signal(l.0.id(), libc::SIGKILL);
    let _ = l.0.wait();
    let pid = lost["pid"].as_u64().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || !Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()),
        "the lost run's job ends by itself"
    );
    // running.
    let _r = Kill(
        launch(&f, 0, user)
            .args(["--", "sleep", "60"])
            .spawn()
            .unwrap(),
    );
    let running = started(&f, 0, 5);

    let h = health(&f, &rel);
    for (k, n) in [
        ("runs", 5),
        ("ok", 1),
        ("failed", 1),
        ("killed", 1),
        ("lost", 1),
        ("running", 1),
    ] {
        assert_eq!(h[k], n, "{user} {k}: {h}");
    }
    let lf = &h["last_failure"];
    assert_eq!(
        lf["id"], lost["id"],
        "the newest failure is the lost run: {h}"
    );
    assert_eq!(lf["exit_code"], Value::Null);
    assert_eq!(lf["signal"], Value::Null);
    assert_eq!(lf["command"], "sh -c sleep 1; exit 0");
    assert_eq!(lf["at"], lost["started_at"]);

    let v = relman_json(&f, &["--all", "runs", "--json"]);
    let runs = v["hosts"][0]["runs"].as_array().unwrap();
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["running", "lost", "killed", "failed", "ok"],
        "newest first: {v}"
    );
    assert_eq!(runs[0]["id"], running["id"]);
    assert_eq!(runs[0]["ended_at"], Value::Null);
    assert_eq!(runs[0]["duration_ms"], Value::Null);
    assert_eq!(runs[2]["signal"], "TERM");
    assert_eq!(runs[2]["exit_code"], Value::Null);
    assert_eq!(runs[3]["exit_code"], 3);
    assert_eq!(runs[3]["command"], "sh -c exit 3");
    assert_eq!(runs[4]["exit_code"], 0);
    assert_eq!(runs[4]["release"], rel.as_str());
    assert!(runs[4]["duration_ms"].as_u64().is_some(), "{v}");
    let user_name = if user == BUSYBOX { BUSYBOX } else { DEPLOY };
    assert!(runs.iter().all(|r| r["user"] == user_name), "{v}");

    let v = relman_json(&f, &["--all", "runs", "--json", "--failed", "-n", "2"]);
    let s: Vec<&str> = v["hosts"][0]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(s, ["lost", "killed"]);
    let v = relman_json(&f, &["--all", "runs", "--json", "--release", &rel]);
    assert_eq!(v["hosts"][0]["runs"].as_array().unwrap().len(), 5);
    // The table, for people.
    let o = f
        .relman()
        .args(["--all", "runs"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("SIGTERM") && t.contains("lost"), "{t}");
    // A release name that is not one: exit 5, like every release argument.
    let o = f
        .relman()
        .args(["--all", "runs", "--release", "../etc"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 5, "{}", err(&o));
    signal(running["pid"].as_u64().unwrap() as u32, libc::SIGKILL);
}

#[test]
fn fifty_jobs_at_once_leave_fifty_whole_start_and_end_records() {
    let f = Fleet::start_as(1, DEPLOY);
    let rel = deploy(&f);
    let kids: Vec<Kill> = (0..50)
        .map(|i| {
            Kill(
                launch(&f, 0, DEPLOY)
                    .args([
                        "--",
                        "sh",
                        "-c",
                        &format!("exit {}", i % 3),
                        "x".repeat(i * 20).as_str(),
                    ])
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    for mut k in kids {
        assert!(k.0.wait().unwrap().code().is_some());
    }
    let all = ledger(&f, 0); // every line parsed as JSON, or a panic
    assert_eq!(all.len(), 100);
    let mut ids: Vec<&str> = all
        .iter()
        .filter(|v| v["event"] == "start")
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 50);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "ids are unique");
    assert_eq!(all.iter().filter(|v| v["event"] == "end").count(), 50);
    let h = health(&f, &rel);
    assert_eq!(h["runs"], 50, "{h}");
    assert_eq!(h["ok"], 17);
    assert_eq!(h["failed"], 33);
}

#[test]
fn argv_is_recorded_as_data_never_run() {
    let f = Fleet::start_as(1, DEPLOY);
    deploy(&f);
    let mark = f.dir().join("pwned");
    let hostile = [
        "'q'".to_string(),
        format!("$(touch {})", mark.display()),
        format!("`touch {}`", mark.display()),
        "l1\nl2".to_string(),
        "\"dq\" \\ end".to_string(),
    ];
    let mut c = launch(&f, 0, DEPLOY);
    c.args(["--", "printf", "[%s]"]).args(&hostile);
    c.env("BUILD_TAG", "jenkins-\"nightly\"-42");
    let o = c.output().unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    let want_out: String = hostile.iter().map(|a| format!("[{a}]")).collect();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        want_out,
        "the job got its argv"
    );
    assert!(!mark.exists(), "nothing was run");
    let s = started(&f, 0, 1);
    let want = format!("printf [%s] {}", hostile.join(" ").replace('\n', ""));
    assert_eq!(s["command"], want.as_str());
    assert_eq!(s["trigger"], "jenkins-\"nightly\"-42");
    let v = relman_json(&f, &["--all", "runs", "--json"]);
    assert_eq!(v["hosts"][0]["runs"][0]["command"], want.as_str());
    assert!(!mark.exists(), "nothing was run by the scan either");
}

/// Unmounts a tmpfs when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_filesystem_under_the_root_never_fails_the_job() {
    let f = Fleet::start_as(1, DEPLOY);
    let root = f.root(0).to_path_buf();
    fs::create_dir_all(&root).unwrap();
    let (uid, gid, _) = support::user_ids(DEPLOY);
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o"])
        .arg(format!("size=2m,mode=0755,uid={uid},gid={gid}"))
        .arg("tmpfs")
        .arg(&root)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "mount a tmpfs at the root (tests run as root)"
    );
    let _m = Mount(root.clone());
    let rel = deploy(&f);
    // Fill it.
    let _ = command_as(DEPLOY, "dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", root.join("fill").display()))
        .arg("bs=4k")
        .stderr(Stdio::null())
        .status();
    let o = launch(&f, 0, DEPLOY)
        .args(["--", "sh", "-c", "echo hi; echo oops >&2; exit 3"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "the job's own status");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
    let e = err(&o);
    // The job's line and launch's one warning (in either order: both write at once).
    let mut lines: Vec<&str> = e.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 2, "one warning and the job's line: {e:?}");
    assert!(
        lines[0].starts_with("launch: warning: cannot write the run ledger"),
        "{e}"
    );
    assert_eq!(lines[1], "oops");
    // With --tail: the same bytes and status, still one warning at most, and no
    // temporary FIFOs left behind.
    let o = launch(&f, 0, DEPLOY)
        .args([
            "--tail",
            "5",
            "--",
            "sh",
            "-c",
            "echo hi; echo oops >&2; exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "the job's own status");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
    let e = err(&o);
    let mut lines: Vec<&str> = e.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 2, "one warning and the job's line: {e:?}");
    assert!(lines[0].starts_with("launch: warning: "), "{e}");
    assert_eq!(lines[1], "oops");
    let left: Vec<_> = fs::read_dir(root.join(".relman/runs"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name())
                .filter(|n| n.to_string_lossy().starts_with(".tail."))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    // The scan still works; nothing half-written counts as a run.
    let h = health(&f, &rel);
    assert_eq!(h["runs"], 0, "{h}");
}

/// `relman launch` over SSH: the run is recorded with the job's own command (not
/// relman's wrapper), and an interrupted relman stops it on the host (TERM to the
/// process group): the ledger says `killed`.
#[test]
fn relman_launch_is_recorded_and_an_interrupt_records_killed() {
    let f = Fleet::start_as(1, DEPLOY);
    let rel = deploy(&f);
    let o = f
        .relman()
        .args(["--host", f.name(0), "launch", "--", "sh", "-c", "exit 4"])
        .env("BUILD_TAG", "jenkins-batch-'17'")
        .env_remove("JOB_NAME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", err(&o));
    let first = started(&f, 0, 1);
    assert_eq!(first["command"], "sh -c exit 4");
    // Jenkins runs jobs through relman launch: its BUILD_TAG is the run's trigger.
    assert_eq!(first["trigger"], "jenkins-batch-'17'", "{first}");
    let mut child = Kill(
        f.relman()
            .args(["--host", f.name(0), "launch", "--", "sleep", "300"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let s = started(&f, 0, 2);
    assert_eq!(s["command"], "sleep 300");
    signal(child.0.id(), libc::SIGINT);
    assert_eq!(child.0.wait().unwrap().code(), Some(130));
    assert!(
        wait_until(Duration::from_secs(20), || ledger(&f, 0)
            .iter()
            .any(|v| v["event"] == "end" && v["id"] == s["id"])),
        "no end record: {:?}",
        ledger(&f, 0)
    );
    let h = health(&f, &rel);
    assert_eq!(h["runs"], 2, "{h}");
    assert_eq!(h["failed"], 1, "{h}");
    assert_eq!(h["killed"], 1, "{h}");
    assert_eq!(h["last_failure"]["signal"], "TERM", "{h}");
}

for_users!(the_scan_summarizes_the_ledger_and_trusts_only_its_own: deploy, busybox);
/// The scan's summary cache of the ledger (ledger.sh) over SSH: written by the deploy
/// user beside each ledger file, extended as the launcher appends, carried over a
/// real rotation, and never taken from another user (runs/ is 1777).
fn the_scan_summarizes_the_ledger_and_trusts_only_its_own(user: &str) {
    use std::os::unix::fs::MetadataExt as _;
    let f = Fleet::start_as(1, user);
    let rel = deploy(&f);
    let runs = f.root(0).join(".relman/runs");
    let cur = runs.join(format!("{rel}.jsonl"));
    let sum = runs.join(format!("{rel}.jsonl.sum"));
    let run = |args: &[&str]| code(&launch(&f, 0, user).args(args).output().unwrap());
    assert_eq!(run(&["--", "true"]), 0);
    assert_eq!(run(&["--", "sh", "-c", "exit 2"]), 2);
    let h = health(&f, &rel);
    assert_eq!(
        (h["runs"].as_u64(), h["failed"].as_u64()),
        (Some(2), Some(1)),
        "{h}"
    );
    let (uid, _, _) = support::user_ids(user);
    let m = fs::metadata(&sum).unwrap();
    assert_eq!(
        (m.uid(), m.mode() & 0o777),
        (uid, 0o600),
        "the deploy user's own summary"
    );
    // Appends are picked up.
    assert_eq!(run(&["--", "true"]), 0);
    let h = health(&f, &rel);
    assert_eq!(
        (h["runs"].as_u64(), h["ok"].as_u64()),
        (Some(3), Some(2)),
        "{h}"
    );
    // The launcher's own rotation (past 512 KiB: lines the scan skips): every run kept.
    {
        let mut w = fs::OpenOptions::new().append(true).open(&cur).unwrap();
        w.write_all("x\n".repeat(300_000).as_bytes()).unwrap();
    }
    assert_eq!(run(&["--", "true"]), 0);
    assert!(runs.join(format!("{rel}.jsonl.old")).exists());
    assert!(!cur.exists());
    assert_eq!(run(&["--", "sh", "-c", "exit 5"]), 5);
    let h = health(&f, &rel);
    assert_eq!(
        (h["runs"].as_u64(), h["ok"].as_u64(), h["failed"].as_u64()),
        (Some(5), Some(3), Some(2)),
        "{h}"
    );
    assert_eq!(h["last_failure"]["exit_code"], 5, "{h}");
    assert!(runs.join(format!("{rel}.jsonl.old.sum")).exists());
    // Another user's summary, claiming 100 more ok runs, consistent otherwise: ignored.
    let text = fs::read_to_string(&sum).unwrap();
    let lie: String = text
        .lines()
        .map(|l| {
            let mut x: Vec<String> = l.split('\t').map(str::to_string).collect();
            if x[0] == "r" {
                for i in [3, 4] {
                    x[i] = (x[i].parse::<u64>().unwrap() + 100).to_string();
                }
            }
            x.join("\t") + "\n"
        })
        .collect();
    fs::remove_file(&sum).unwrap();
    fs::write(&sum, lie).unwrap();
    let (juid, jgid, _) = support::user_ids(JOBS);
    std::os::unix::fs::chown(&sum, Some(juid), Some(jgid)).unwrap();
    let h2 = health(&f, &rel);
    assert_eq!(h2, h, "another user's summary is not used");
}

/// `launch --tail N` over SSH: `relman launch --tail` passes it on, the job's bytes
/// reach relman unchanged, a failed run's tail (and a killed one's) is kept, an ok
/// run's is not, and `relman runs --json` says `"tail"` per run — also of runs
/// another user launched by hand under busybox sh.
#[test]
fn a_failed_runs_output_tail_is_kept_and_read_by_runs_json() {
    let f = Fleet::start_as(1, DEPLOY);
    let rel = deploy(&f);
    let job = "echo one; printf 'two\\000\\n' >&2; exit 3";
    let o = f
        .relman()
        .args([
            "--host",
            f.name(0),
            "launch",
            "--tail",
            "5",
            "--",
            "sh",
            "-c",
            job,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert_eq!(o.stdout, b"one\n");
    assert_eq!(
        o.stderr, b"two\0\n",
        "the job's stderr, nothing of relman's or launch's"
    );
    let o = f
        .relman()
        .args([
            "--host",
            f.name(0),
            "launch",
            "--tail",
            "5",
            "--",
            "echo",
            "fine",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        (code(&o), o.stdout.as_slice()),
        (0, &b"fine\n"[..]),
        "{}",
        err(&o)
    );
    // Another user's job, by hand, under busybox sh with busybox applets only.
    let o = launch(&f, 0, BUSYBOX)
        .args(["--tail", "2", "--", "sh", "-c", "seq 1 9; exit 1"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1\n2\n3\n4\n5\n6\n7\n8\n9\n"
    );
    // A third user's job (dash) writes its tail beside the others' (the tails
    // directory is shared, 1777), readable by the deploy user's runs.
    let o = launch(&f, 0, JOBS)
        .args(["--tail", "1", "--", "sh", "-c", "echo theirs; exit 6"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 6, "{}", err(&o));
    // Bad values: refused by relman before anything runs.
    let o = f
        .relman()
        .args(["--host", f.name(0), "launch", "--tail", "0", "--", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert_eq!(starts(&f, 0).len(), 4, "nothing ran");

    let v = relman_json(
        &f,
        &["--host", f.name(0), "runs", "--json", "--release", &rel],
    );
    let runs = v["hosts"][0]["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 4, "{v}");
    let by_cmd = |c: &str| {
        runs.iter()
            .find(|r| r["command"] == c)
            .unwrap_or_else(|| panic!("{c}: {v}"))["tail"]
            .clone()
    };
    // stdout and stderr each through its tee: either order in the merged tail.
    let mut t: Vec<String> = serde_json::from_value(by_cmd(&format!("sh -c {job}"))).unwrap();
    t.sort();
    assert_eq!(t, ["one", "two"], "{v}");
    assert_eq!(by_cmd("echo fine"), Value::Null, "an ok run keeps no tail");
    assert_eq!(
        by_cmd("sh -c seq 1 9; exit 1"),
        serde_json::json!(["8", "9"])
    );
    // The table prints a tail under its run.
    let o = f
        .relman()
        .args(["--host", f.name(0), "runs", "--release", &rel])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("      | 8\n      | 9\n"), "{table}");
}

/// An interrupted `relman launch --tail`: relman stops the job's whole process group
/// on the host (kill -TERM -PGID); the tees outlive it, so the job's last words reach
/// relman and are kept.
#[test]
fn an_interrupted_launch_with_tail_keeps_the_jobs_last_words() {
    use std::io::Read as _;
    let f = Fleet::start_as(1, DEPLOY);
    let rel = deploy(&f);
    // The job gets TERM twice (the group's, and the one launch forwards): like a JVM's
    // shutdown hook, it says goodbye once (1 of 13 runs said "bye" twice).
    let job = "trap 'trap \"\" TERM; echo bye; exit 9' TERM; echo up; while :; do sleep 0.1; done";
    let mut child = Kill(
        f.relman()
            .args([
                "--host",
                f.name(0),
                "launch",
                "--tail",
                "5",
                "--",
                "sh",
                "-c",
                job,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = child.0.stdout.take().unwrap();
    let mut up = [0u8; 3];
    out.read_exact(&mut up).unwrap();
    assert_eq!(&up, b"up\n");
    signal(child.0.id(), libc::SIGINT);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(child.0.wait().unwrap().code(), Some(130));
    assert_eq!(rest, "bye\n", "the job's last words reach relman");
    let mut tail = Value::Null;
    assert!(
        wait_until(Duration::from_secs(20), || {
            let v = relman_json(
                &f,
                &["--host", f.name(0), "runs", "--json", "--release", &rel],
            );
            tail = v["hosts"][0]["runs"][0]["tail"].clone();
            !tail.is_null()
        }),
        "no tail: {:?}",
        ledger(&f, 0)
    );
    // (sh may say on stderr that its sleep was Terminated, before or after: stdout
    // and stderr go through tees of their own.)
    let tail: Vec<String> = serde_json::from_value(tail).unwrap();
    let words: Vec<&str> = tail
        .iter()
        .map(String::as_str)
        .filter(|l| *l != "Terminated")
        .collect();
    assert_eq!(words, ["up", "bye"], "{tail:?}");
    let end = ledger(&f, 0)
        .into_iter()
        .find(|v| v["event"] == "end")
        .unwrap();
    assert_eq!(end["exit_code"], 9, "the job's own status: {end}");
}

/// A host whose launcher is from before `--tail` (relman upgraded, the host not
/// changed since): `relman launch --tail` brings it up to date and runs the job.
#[test]
fn relman_launch_tail_updates_a_launcher_from_before_it() {
    let f = Fleet::start_as(1, DEPLOY);
    let rel = deploy(&f);
    let l = f.root(0).join(".relman/bin/launch");
    let now = fs::read_to_string(&l).unwrap();
    let old = now.replace("--tail | --tail=*)", "--no-tail-yet)");
    assert_ne!(old, now);
    fs::write(&l, &old).unwrap();
    let o = launch(&f, 0, DEPLOY)
        .args(["--tail", "3", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "the old launcher refuses --tail");
    let o = f
        .relman()
        .args([
            "--host",
            f.name(0),
            "launch",
            "--tail",
            "3",
            "--",
            "sh",
            "-c",
            "echo x; exit 1",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_eq!(o.stdout, b"x\n");
    assert_eq!(err(&o), "", "no word of the old launcher's refusal");
    assert_eq!(fs::read_to_string(&l).unwrap(), now, "rewritten");
    let v = relman_json(
        &f,
        &["--host", f.name(0), "runs", "--json", "--release", &rel],
    );
    assert_eq!(
        v["hosts"][0]["runs"][0]["tail"],
        serde_json::json!(["x"]),
        "{v}"
    );
}
