//! The job scan among many unrelated processes (issue 17, target 3: its cost must not
//! buy a wrong answer): one job of each kind (cwd, exe, open file, argv) is found with
//! exactly that kind, and nothing else is reported — not the crowd, not the decoys
//! that use the root outside any release.
//!
//! The benchmark (bench/jobscan.sh) uses 2,000 processes, half of them holding 50
//! open files; here 300 (150 `tail -f` over 50 files each, 150 `sleep`): the same
//! shapes for the scan (every /proc/<pid>/fd link read and matched), without a test
//! that forks 2,000 processes and 100,000 descriptors on a machine its suite shares.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use relman::config::HostConfig;
use relman::model::JobVia;
use relman::ops;
use relman::remote::local::LocalTransport;

use crate::support::Kill;

const OLD: &str = "batch_20261126093000";
const LIVE: &str = "batch_20261126221500";

fn spawn(cmd: &mut Command) -> Kill {
    Kill(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn jobs_of(st: &relman::model::HostState, rel: &str) -> Vec<(u32, JobVia)> {
    let mut v: Vec<_> = st
        .release(rel)
        .unwrap()
        .jobs
        .iter()
        .map(|j| (j.pid, j.via))
        .collect();
    v.sort();
    v
}

#[test]
fn each_kind_of_job_is_found_exactly_among_hundreds_of_unrelated_processes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    for r in [OLD, LIVE] {
        fs::create_dir_all(root.join(r).join("bin")).unwrap();
        fs::write(root.join(r).join("app.jar"), r).unwrap();
    }
    std::os::unix::fs::symlink(LIVE, root.join("batch")).unwrap();
    // The root's own non-release directory: what uses it is not a job of any release.
    fs::create_dir_all(root.join("logs")).unwrap();
    fs::write(root.join("logs").join("x.log"), "x").unwrap();
    let old = root.join(OLD);
    let sleep = ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sleep");
    fs::copy(sleep, old.join("bin").join("worker")).unwrap();

    // The crowd: files outside the root, held open 50 at a time.
    let files = dir.path().join("files");
    fs::create_dir_all(&files).unwrap();
    let names: Vec<String> = (0..50)
        .map(|i| {
            let f = files.join(format!("f{i}"));
            fs::write(&f, "").unwrap();
            f.to_str().unwrap().to_string()
        })
        .collect();
    let mut crowd = Vec::new();
    for _ in 0..150 {
        crowd.push(spawn(
            Command::new("tail").arg("-f").args(&names).current_dir("/"),
        ));
        crowd.push(spawn(Command::new("sleep").arg("300").current_dir("/")));
    }
    // Decoys: cwd, an open file and an argument inside the root, in no release.
    let logs = root.join("logs");
    crowd.push(spawn(Command::new("sleep").arg("300").current_dir(&logs)));
    crowd.push(spawn(
        Command::new("tail")
            .arg("-f")
            .arg(logs.join("x.log"))
            .current_dir("/"),
    ));
    crowd.push(spawn(
        Command::new("sh")
            .args(["-c", "sleep 300; :", "decoy"])
            .arg(root.join(format!("{OLD}.5")).join("app.jar"))
            .current_dir("/"),
    ));

    // One job of each kind, in the old release.
    let cwd_job = spawn(Command::new("sleep").arg("300").current_dir(&old));
    let exe_job = spawn(
        Command::new(old.join("bin").join("worker"))
            .arg("300")
            .current_dir("/"),
    );
    // An open file, by a process whose cwd and argv are elsewhere...
    let fd_job = spawn(
        Command::new("sh")
            .arg("-c")
            .arg("exec 3<\"$1\"; cd /; exec sleep 300")
            .arg("fd")
            .arg("app.jar")
            .current_dir(&old),
    );
    // ...and one whose argv names the file too: the open file is what it is.
    let tail_job = spawn(
        Command::new("tail")
            .arg("-f")
            .arg(old.join("app.jar"))
            .current_dir("/"),
    );
    let arg_job = spawn(
        Command::new("sh")
            .args(["-c", "sleep 300; :", "job"])
            .arg(old.join("app.jar"))
            .current_dir("/"),
    );

    let h = HostConfig::local("local", root.to_str().unwrap());
    let t = LocalTransport::new("local");
    let mut want = vec![
        (cwd_job.0.id(), JobVia::Cwd),
        (exe_job.0.id(), JobVia::Exe),
        (fd_job.0.id(), JobVia::Fd),
        (tail_job.0.id(), JobVia::Fd),
        (arg_job.0.id(), JobVia::Cmdline),
    ];
    want.sort();
    let mut last = Vec::new();
    for _ in 0..100 {
        let st = ops::scan(&t, &h).unwrap();
        assert!(st.jobs_known, "the scan could not inspect the processes");
        assert!(jobs_of(&st, LIVE).is_empty(), "{:?}", jobs_of(&st, LIVE));
        last = jobs_of(&st, OLD);
        if last == want {
            assert!(crowd.len() > 300);
            return;
        }
        // (until every process has exec'd and opened its file)
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("jobs of {OLD}: {last:?}, want {want:?}");
}
