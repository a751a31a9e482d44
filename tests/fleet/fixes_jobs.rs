//! Issue 12, jobs: what relman can't see of other users' jobs, the launcher's hold
//! for any user, a umask 077 deploy user, relman's own processes in the job scan, and
//! the job scan on a busybox host. Against real sshd hosts and real users
//! (`tests/setup-hosts.sh`): the deploy user [`DEPLOY`], a second user [`JOBS`]
//! who runs jobs, [`UMASK`] and [`BUSYBOX`].

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use relman::config::{HostConfig, JobScan};
use relman::model::{Action, JobVia};
use relman::ops;
use relman::ops::prune::{Outcome, PruneReport, Skip};
use relman::plan::prune::prune_plan;
use relman::remote::Transport;
use support::{BUSYBOX, DEPLOY, Fleet, JOBS, Kill, UMASK, command_as, wait_until};

fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

/// Host 0 with releases r(1)..=r(n) made by its deploy user, each switched to in
/// turn (r(n) live, r(n-1) previous).
fn layout(f: &Fleet, n: u32) -> (HostConfig, Box<dyn Transport>) {
    support::switched_layout(f, &(1..=n).map(r).collect::<Vec<_>>())
}

/// A long job of `user` with its cwd in `dir` (not through launch).
fn job_in(user: &str, dir: &Path) -> Kill {
    Kill(
        command_as(user, "sleep")
            .arg("300")
            .current_dir(dir)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn cwd_is(pid: u32, dir: &Path) -> bool {
    fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|p| p == dir)
}

fn texts(rep: &PruneReport) -> Vec<String> {
    rep.rows().iter().map(|x| x.text()).collect()
}

fn with_scan(h: &HostConfig, users: Option<&[&str]>, sudo: bool) -> HostConfig {
    let mut h = h.clone();
    h.job_scan = JobScan {
        users: users.map(|u| u.iter().map(|s| s.to_string()).collect()),
        sudo,
    };
    h
}

/// Item 1: another user's job (cwd in an old release, not launched) that the deploy
/// user can't inspect keeps every release by default; `job_users` + `scan_sudo`
/// see it; `job_users` without that user ignores it, by decision.
#[test]
fn another_users_hidden_job_keeps_its_release() {
    let f = Fleet::start_as(1, DEPLOY);
    let (h, t) = layout(&f, 4);
    let t = t.as_ref();
    let root = f.root(0);
    let job = job_in(JOBS, &root.join(r(1)));
    let pid = job.0.id();
    assert!(wait_until(Duration::from_secs(10), || cwd_is(
        pid,
        &root.join(r(1))
    )));

    // Default (no job_users): JOBS's processes can't be inspected: all kept, said why.
    let st = ops::scan(t, &h).unwrap();
    assert!(st.jobs_known);
    assert!(
        st.release(&r(1)).unwrap().jobs.is_empty(),
        "hidden from DEPLOY"
    );
    let jobs_hidden = st
        .hidden_users
        .iter()
        .find(|u| u.user == JOBS)
        .expect("JOBS's processes are counted as hidden");
    assert!(jobs_hidden.count >= 1 && !jobs_hidden.own);
    assert!(st.hidden_processes >= jobs_hidden.count);
    for dry in [true, false] {
        let rep = ops::prune::prune(t, &h, 0, dry).unwrap();
        assert!(rep.deleted().is_empty(), "dry {dry}: {:?}", texts(&rep));
        for row in texts(&rep) {
            assert!(
                row.starts_with("keep: ")
                    && row.contains("of other users (")
                    && row.contains(JOBS)
                    && row.ends_with("could not be inspected"),
                "dry {dry}: {row}"
            );
        }
    }
    for i in 1..=4 {
        assert!(root.join(r(i)).join("app.jar").exists());
    }

    // The re-check under the lock applies the same rule: a plan made as if nothing
    // were hidden is refused by the host for every release.
    {
        let hj = with_scan(&h, Some(&[JOBS]), false);
        let lock = ops::lock::acquire(t, &hj, Action::Prune).unwrap();
        let mut st = ops::scan(t, &hj).unwrap();
        st.hidden_users.clear();
        let mut rep = PruneReport {
            host: hj.name.clone(),
            dry_run: false,
            plan: prune_plan(&st, 0, st.scanned_at),
            outcomes: vec![],
            pins_removed: vec![],
            staging_removed: vec![],
            warnings: vec![],
        };
        assert_eq!(rep.plan.deletions().count(), 2);
        ops::prune::execute(t, &hj, &lock, &mut rep).unwrap();
        assert_eq!(
            rep.outcomes,
            [
                (r(1), Outcome::Kept(Skip::JobsUnknown)),
                (r(2), Outcome::Kept(Skip::JobsUnknown)),
            ]
        );
    }

    // job_users = [JOBS], scan_sudo: the scan runs as JOBS too and sees the job.
    let hs = with_scan(&h, Some(&[JOBS]), true);
    let st = ops::scan(t, &hs).unwrap();
    assert!(st.warnings.is_empty(), "{:?}", st.warnings);
    let seen: Vec<(u32, JobVia, String)> = st
        .release(&r(1))
        .unwrap()
        .jobs
        .iter()
        .map(|j| (j.pid, j.via, j.user.clone()))
        .collect();
    assert_eq!(seen, [(pid, JobVia::Cwd, JOBS.to_string())]);
    let dry = ops::prune::prune(t, &hs, 0, true).unwrap();
    assert_eq!(
        texts(&dry)[3],
        format!("keep: running job (pid {pid})"),
        "{:?}",
        texts(&dry)
    );
    let rep = ops::prune::prune(t, &hs, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(2)], "{:?}", texts(&rep));
    assert!(root.join(r(1)).join("app.jar").exists());

    // scan_sudo for a user sudo refuses (no rule for UMASK): unknown, kept, said.
    let hr = with_scan(&h, Some(&[JOBS, UMASK]), true);
    let umask_job = job_in(UMASK, Path::new("/"));
    assert!(wait_until(Duration::from_secs(10), || cwd_is(
        umask_job.0.id(),
        Path::new("/")
    )));
    let st = ops::scan(t, &hr).unwrap();
    assert!(
        st.warnings
            .iter()
            .any(|w| w.contains("relman-umask") && w.contains("refused")),
        "{:?}",
        st.warnings
    );
    let rep = ops::prune::prune(t, &hr, 0, true).unwrap();
    assert!(
        texts(&rep)
            .iter()
            .all(|x| x.contains("(relman-umask) could not be inspected")),
        "{:?}",
        texts(&rep)
    );
    drop(umask_job);

    // job_users = [DEPLOY]: the operator says only the deploy user runs jobs, so
    // JOBS's processes are ignored (still counted): its release goes. Documented.
    let hd = with_scan(&h, Some(&[DEPLOY]), false);
    let st = ops::scan(t, &hd).unwrap();
    assert!(st.hidden_users.iter().any(|u| u.user == JOBS));
    let rep = ops::prune::prune(t, &hd, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(1)], "{:?}", texts(&rep));
    drop(job);
}

/// The launcher command `launch ARGS...` on host 0, run as `user` from `/`.
fn launch_as(f: &Fleet, user: &str, args: &str) -> std::process::Output {
    let launch = f.root(0).join(".relman/bin/launch");
    command_as(user, "sh")
        .arg("-c")
        .arg(format!("'{}' {args}", launch.display()))
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn deploy(f: &Fleet, app: &Path) {
    let out = f
        .relman()
        .args(["--all", "deploy", app.to_str().unwrap(), "-m", "x"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Item 2: another user's launched jobs run after every deploy (the hold needs no
/// file of its own), and prune keeps a release another user's launched job holds.
#[test]
fn another_users_launched_job_holds_its_release() {
    let f = Fleet::start_as(1, DEPLOY);
    let app = f.dir().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("app.jar"), "v1").unwrap();
    for round in 0..3 {
        deploy(&f, &app);
        let o = launch_as(&f, JOBS, "-- sh -c 'pwd -P; cat app.jar'");
        assert!(
            o.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(Duration::from_millis(1100)); // a new release name
    }
    let st = {
        let cfg = f.config();
        let t = relman::remote::open(&cfg, &cfg.hosts[0]).unwrap();
        ops::scan(t.as_ref(), &cfg.hosts[0]).unwrap()
    };
    let oldest = st.releases.last().unwrap().name.to_string();
    assert_eq!(st.releases.len(), 3);

    // A JOBS job launched on the oldest release that left it: only the lock holds it.
    let stop = f.dir().join("stop");
    let mut job = Kill(
        command_as(
            JOBS,
            &f.root(0).join(".relman/bin/launch").display().to_string(),
        )
        .args(["--release", &oldest, "--", "sh", "-c"])
        .arg(format!(
            "cd / && while [ ! -e '{}' ]; do sleep 0.05; done",
            stop.display()
        ))
        .current_dir("/")
        .stdin(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let pid = job.0.id();
    assert!(wait_until(Duration::from_secs(10), || {
        support::launcher_lock_held(f.root(0), &oldest) && cwd_is(pid, Path::new("/"))
    }));
    let cfg = f.config();
    // JOBS's processes ignored by job_users: only the launcher's lock can keep it.
    let h = with_scan(&cfg.hosts[0], Some(&[DEPLOY]), false);
    let t = relman::remote::open(&cfg, &h).unwrap();
    for dry in [true, false] {
        let rep = ops::prune::prune(t.as_ref(), &h, 0, dry).unwrap();
        assert_eq!(
            texts(&rep)[2],
            "delete: old → kept: in use by a launched job",
            "dry {dry}: {:?}",
            texts(&rep)
        );
        assert!(rep.deleted().is_empty());
    }
    assert!(f.root(0).join(&oldest).join("app.jar").exists());
    fs::write(&stop, "").unwrap();
    assert!(job.0.wait().unwrap().success());
    let rep = ops::prune::prune(t.as_ref(), &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [oldest.as_str()]);
}

/// Item 3: a umask 077 deploy user: another user's job runs through launch after a
/// deploy; `check` warns when a root made 0700 by hand locks them out.
#[test]
fn a_umask_077_deploy_user_lets_other_users_jobs_run() {
    let f = Fleet::start_as(1, UMASK);
    let app = f.dir().join("app");
    fs::create_dir_all(app.join("lib")).unwrap();
    fs::write(app.join("lib/a.jar"), "a").unwrap();
    deploy(&f, &app);
    let o = launch_as(&f, JOBS, "-- sh -c 'cat lib/a.jar'");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "a");
    let check = |f: &Fleet| {
        let out = f.relman().args(["--all", "check"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        !check(&f).contains("can't use the launcher"),
        "{}",
        check(&f)
    );

    f.sh(0, "chmod 0700 \"$ROOT\"");
    let out = check(&f);
    assert!(
        out.lines().any(|l| l.contains("can't use the launcher")
            && l.contains(&format!("{} (no o+x)", f.root(0).display()))),
        "{out}"
    );
    let o = launch_as(&f, JOBS, "-- true");
    assert!(!o.status.success(), "the warning was right");
}

/// Item 11: relman's own processes are never jobs — a process carrying relman's
/// marker with its cwd in a release and an argv naming it (what a concurrent
/// scan's find looked like), and the new scan's own argv naming only the root.
#[test]
fn relmans_own_processes_are_not_jobs() {
    let f = Fleet::start_as(1, DEPLOY);
    let (h, t) = layout(&f, 4);
    let root = f.root(0);
    let named = |i: u32| format!("{}/{}", root.display(), r(i));
    // Marked as relman's: not a job, whatever its cwd and argv say.
    let own = Kill(
        command_as(DEPLOY, "sh")
            .args(["-c", "sleep 300", "find", "-lname", &named(1), "-lname"])
            .arg(format!("{}/*", named(2)))
            .env("RELMAN_SELF", "relman-own-process")
            .current_dir(root.join(r(1)))
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // What a concurrent scan's find is now: the root's pattern, no release name.
    let like_scan = Kill(
        command_as(DEPLOY, "sh")
            .args([
                "-c",
                "sleep 300",
                "find",
                "/proc/1/cwd",
                "-maxdepth",
                "1",
                "-lname",
            ])
            .arg(format!("{}/*", root.display()))
            .args(["-printf", "%p\t%l\n"])
            .current_dir(root)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_until(Duration::from_secs(10), || cwd_is(
        own.0.id(),
        &root.join(r(1))
    ) && cwd_is(
        like_scan.0.id(),
        root
    )));
    let h = with_scan(&h, Some(&[]), false);
    let st = ops::scan(t.as_ref(), &h).unwrap();
    for rel in &st.releases {
        assert!(rel.jobs.is_empty(), "{}: {:?}", rel.name, rel.jobs);
    }
    let rep = ops::prune::prune(t.as_ref(), &h, 0, false).unwrap();
    assert_eq!(rep.deleted(), [r(1), r(2)], "{:?}", texts(&rep));

    // A real concurrent scan loop during prunes: never a "running job".
    drop(own);
    for i in 5..=8 {
        f.sh(
            0,
            &format!("mkdir -p \"$ROOT/{0}\" && echo x > \"$ROOT/{0}/a\"", r(i)),
        );
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scanner = {
        let (cfg, h, done) = (f.config(), h.clone(), done.clone());
        std::thread::spawn(move || {
            let t = relman::remote::open(&cfg, &h).unwrap();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = ops::scan(t.as_ref(), &h);
            }
        })
    };
    let rep = ops::prune::prune(t.as_ref(), &h, 0, false).unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    scanner.join().unwrap();
    assert!(
        !texts(&rep).iter().any(|x| x.contains("running job")),
        "{:?}",
        texts(&rep)
    );
    drop(like_scan);
}

/// Item 12: on a busybox host (find without -lname/-printf) the job scan works: a
/// job with its cwd and one with an open file in releases are seen and kept.
#[test]
fn the_job_scan_works_on_a_busybox_host() {
    let f = Fleet::start_as(1, BUSYBOX);
    let (h, t) = layout(&f, 4);
    let t = t.as_ref();
    let root = f.root(0);
    let cwd_job = job_in(BUSYBOX, &root.join(r(1)));
    let file = root.join(r(2)).join("app.jar");
    let fd_job = Kill(
        command_as(BUSYBOX, "sh")
            .arg("-c")
            .arg("exec 3<\"$1\"; cd / && exec sleep 300")
            .arg("job")
            .arg(&file)
            .current_dir("/")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let fd_pid = fd_job.0.id();
    assert!(wait_until(Duration::from_secs(10), || {
        cwd_is(cwd_job.0.id(), &root.join(r(1)))
            && fs::read_link(format!("/proc/{fd_pid}/fd/3")).is_ok_and(|p| p == file)
    }));
    // Only the deploy user's jobs matter here (root's daemons are hidden from it).
    let h = with_scan(&h, Some(&[]), false);
    let st = ops::scan(t, &h).unwrap();
    assert!(st.jobs_known, "the job scan must work on busybox");
    let jobs = |i| {
        st.release(&r(i))
            .unwrap()
            .jobs
            .iter()
            .map(|j| (j.pid, j.via))
            .collect::<Vec<_>>()
    };
    assert_eq!(jobs(1), [(cwd_job.0.id(), JobVia::Cwd)]);
    assert_eq!(jobs(2), [(fd_pid, JobVia::Fd)]);
    let rep = ops::prune::prune(t, &h, 0, false).unwrap();
    assert!(rep.deleted().is_empty(), "{:?}", texts(&rep));
    assert_eq!(
        texts(&rep)[3],
        format!("keep: running job (pid {})", cwd_job.0.id())
    );
    assert_eq!(texts(&rep)[2], format!("keep: running job (pid {fd_pid})"));

    let list = f.relman().args(["--all", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(!list.contains("jobs UNKNOWN"), "{list}");
    let check = f.relman().args(["--all", "check"]).output().unwrap();
    let check = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check
            .lines()
            .any(|l| l.contains("job scan") && l.contains("ls -ld")),
        "{check}"
    );
}
