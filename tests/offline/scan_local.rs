//! The scan script against real layouts on this machine (the `local` transport runs the
//! very same script SSH hosts get): hand-made layouts, jobs via cwd/fd/argv, odd links.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use relman::config::HostConfig;
use relman::model::{JobVia, LinkState, Origin};
use relman::ops;
use relman::remote::local::LocalTransport;

use crate::support;
use support::Kill;

fn host(root: &Path) -> HostConfig {
    HostConfig::local("local", root.to_str().unwrap())
}

fn wait_for_job(
    t: &LocalTransport,
    h: &HostConfig,
    rel: &str,
    via: JobVia,
) -> relman::model::HostState {
    for _ in 0..100 {
        let st = ops::scan(t, h).unwrap();
        if st
            .release(rel)
            .is_some_and(|r| r.jobs.iter().any(|j| j.via == via))
        {
            return st;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("job via {via:?} never seen in {rel}");
}

#[test]
fn a_hand_made_layout_lists_newest_first_with_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    for r in ["batch_20261126093000", "batch_20261126221500"] {
        fs::create_dir_all(root.join(r).join("lib")).unwrap();
        fs::write(root.join(r).join("app.jar"), r).unwrap();
    }
    fs::create_dir_all(root.join("logs")).unwrap();
    fs::create_dir_all(root.join("old-stuff")).unwrap();
    // The classic script writes an absolute target.
    std::os::unix::fs::symlink(root.join("batch_20261126221500"), root.join("batch")).unwrap();
    let h = host(&root);
    let t = LocalTransport::new("local");

    let old = root.join("batch_20261126093000");
    let cwd_job = Kill(
        Command::new("sleep")
            .arg("300")
            .current_dir(&old)
            .spawn()
            .unwrap(),
    );
    let fd_job = Kill(
        Command::new("sh")
            .arg("-c")
            .arg("exec 3<app.jar; cd /; exec sleep 300")
            .current_dir(&old)
            .spawn()
            .unwrap(),
    );
    let arg_job = Kill(
        Command::new("sh")
            .args(["-c", "sleep 300; :", "job"])
            .arg(old.join("app.jar"))
            .current_dir("/")
            .spawn()
            .unwrap(),
    );

    let st = wait_for_job(&t, &h, "batch_20261126093000", JobVia::Fd);
    assert!(st.root_exists);
    assert_eq!(st.foreign, 2, "logs/ and old-stuff/ are foreign");
    assert_eq!(
        st.link,
        LinkState::Release {
            name: relman::model::ReleaseName::parse("batch_", "batch_20261126221500").unwrap(),
            absolute: true
        }
    );
    let names: Vec<_> = st.releases.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["batch_20261126221500", "batch_20261126093000"]);
    assert_eq!(st.releases[0].origin, Origin::Unknown);
    assert!(st.releases[0].size_bytes > 0);
    assert!(st.releases[0].jobs.is_empty());
    let jobs = &st.releases[1].jobs;
    let find = |pid: u32| jobs.iter().find(|j| j.pid == pid).map(|j| j.via);
    assert_eq!(find(cwd_job.0.id()), Some(JobVia::Cwd), "{jobs:?}");
    assert_eq!(find(fd_job.0.id()), Some(JobVia::Fd), "{jobs:?}");
    assert_eq!(find(arg_job.0.id()), Some(JobVia::Cmdline), "{jobs:?}");
    let j = jobs.iter().find(|j| j.pid == cwd_job.0.id()).unwrap();
    assert_eq!(j.command, "sleep 300");
    assert!(j.started_at.is_some());
}

#[test]
fn a_missing_root_is_an_empty_host() {
    let dir = tempfile::tempdir().unwrap();
    let st = ops::scan(&LocalTransport::new("l"), &host(&dir.path().join("nope"))).unwrap();
    assert!(!st.root_exists);
    assert!(st.releases.is_empty());
}

#[test]
fn odd_links_and_hostile_names_are_shown_as_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    fs::create_dir_all(&root).unwrap();
    let h = host(&root);
    let t = LocalTransport::new("l");
    for name in [
        "batch_2026112622150$(touch pwned)",
        "batch_20261126221500\nx",
        "batch_20261126221500;id",
        "batch_20261126221500.0",
    ] {
        fs::create_dir_all(root.join(name)).unwrap();
    }
    std::os::unix::fs::symlink("/", root.join("batch_20261126221501")).unwrap();

    std::os::unix::fs::symlink("batch_20991126221500", root.join("batch")).unwrap();
    let st = ops::scan(&t, &h).unwrap();
    assert_eq!(
        st.link,
        LinkState::Dangling {
            target: "batch_20991126221500".into()
        }
    );
    assert!(
        st.releases.is_empty(),
        "a symlink to / is not a release: {:?}",
        st.releases
    );
    assert_eq!(st.foreign, 5);
    assert!(!root.join("pwned").exists() && !Path::new("pwned").exists());

    fs::remove_file(root.join("batch")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("batch")).unwrap();
    assert_eq!(
        ops::scan(&t, &h).unwrap().link,
        LinkState::Outside {
            target: "/etc".into()
        }
    );

    fs::remove_file(root.join("batch")).unwrap();
    fs::create_dir(root.join("batch")).unwrap();
    assert_eq!(ops::scan(&t, &h).unwrap().link, LinkState::NotSymlink);
}

#[test]
fn each_release_gets_its_own_size() {
    // The sizes come from one `du` over every release, paired by name.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    let sizes = [
        ("batch_20260101000000", 200_000usize),
        ("batch_20260102000000", 1_000),
        ("batch_20260103000000", 50_000),
    ];
    for (r, n) in sizes {
        fs::create_dir_all(root.join(r)).unwrap();
        fs::write(root.join(r).join("app.jar"), vec![7u8; n]).unwrap();
    }
    let st = ops::scan(&LocalTransport::new("l"), &host(&root)).unwrap();
    for (r, n) in sizes {
        let got = st.release(r).unwrap().size_bytes;
        assert!(
            got >= n as u64 && got < n as u64 + 65_536,
            "{r}: {got} bytes listed for {n} bytes of files"
        );
    }
}

#[test]
fn zombies_and_odd_process_names_are_not_hidden_processes() {
    // The /proc walk skips zombies (they have no cwd to inspect) and reads a
    // process name holding ") Z 2 (" as a name, not as its state and parent.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    let rel = root.join("batch_20260101000000");
    fs::create_dir_all(&rel).unwrap();
    let h = host(&root);
    let t = LocalTransport::new("l");
    let before = ops::scan(&t, &h).unwrap().hidden_processes;
    // Five zombies: children of a process that never reaps them.
    let zombies = Kill(
        Command::new("sh")
            .arg("-c")
            .arg("for i in 1 2 3 4 5; do sleep 0 & done; exec sleep 300")
            .spawn()
            .unwrap(),
    );
    let odd = dir.path().join("x) Z 2 (y");
    fs::copy("/bin/sleep", &odd).unwrap();
    let odd_job = Kill(
        Command::new(&odd)
            .arg("300")
            .current_dir(&rel)
            .spawn()
            .unwrap(),
    );
    let st = wait_for_job(&t, &h, "batch_20260101000000", JobVia::Cwd);
    let zombie_count = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
        .filter(|s| s.contains(&format!(" {} ", zombies.0.id())))
        .count();
    assert!(zombie_count >= 5, "the zombies exist ({zombie_count})");
    assert!(st.jobs_known);
    assert!(
        st.hidden_processes < before + 3,
        "zombies counted as hidden processes: {} before, {} with 5 zombies",
        before,
        st.hidden_processes
    );
    let jobs = &st.release("batch_20260101000000").unwrap().jobs;
    assert!(jobs.iter().any(|j| j.pid == odd_job.0.id()), "{jobs:?}");
}
