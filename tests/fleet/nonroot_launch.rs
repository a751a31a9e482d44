//! The job launcher `.relman/bin/launch` on real sshd hosts, as relman installs it
//! there for each fleet user (root, the non-root deploy user, umask 077, busybox
//! tools), run as production runs jobs: by the deploy user's crontab, and by another
//! user's ([`support::JOBS`]). One test per fleet user (`<scenario>::deploy`, ...).

use crate::support;

use std::fs;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;
use support::Fleet;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Deploys `app` (its app.jar saying `build`) to every host; the release's name.
fn deploy(f: &Fleet, app: &Path, build: &str) -> String {
    fs::create_dir_all(app.join("bin")).unwrap();
    fs::write(app.join("app.jar"), build).unwrap();
    fs::write(app.join("bin/run.sh"), "#!/bin/sh\ncat app.jar\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(app.join("bin/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    }
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

/// What a job prints: its release, its cwd, app.jar, through bin/run.sh.
const JOB: &str = "printf '%s %s ' \"$RELEASE_NAME\" \"$(pwd -P)\"; ./bin/run.sh";

for_users!(the_deploy_users_jobs_run_in_the_release_they_started_in);
fn the_deploy_users_jobs_run_in_the_release_they_started_in(user: &str) {
    let f = Fleet::start_as(1, user);
    let app = f.dir().join("app");
    let one = deploy(&f, &app, "one");
    let root = fs::canonicalize(f.root(0)).unwrap();
    let o = f
        .launcher_as(0, user)
        .args(["--", "sh", "-c", JOB])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "as {user}: {}", err(&o));
    assert_eq!(out(&o), format!("{one} {} one", root.join(&one).display()));

    let two = deploy(&f, &app, "two");
    let o = f
        .launcher_as(0, user)
        .args(["--", "sh", "-c", JOB])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "as {user}: {}", err(&o));
    assert_eq!(out(&o), format!("{two} {} two", root.join(&two).display()));
    // --release by name, and by its absolute path; the job's status is launch's.
    for r in [one.clone(), root.join(&one).display().to_string()] {
        let o = f
            .launcher_as(0, user)
            .args(["--release", &r, "--", "sh", "-c", &format!("{JOB}; exit 7")])
            .output()
            .unwrap();
        assert_eq!(code(&o), 7, "as {user}: --release {r}: {}", err(&o));
        assert_eq!(out(&o), format!("{one} {} one", root.join(&one).display()));
    }
    // Not a release of the root: exit 2, one line.
    let o = f
        .launcher_as(0, user)
        .args(["--release", "../etc", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "as {user}: {}", err(&o));
    assert_eq!(err(&o).trim().lines().count(), 1, "{}", err(&o));
}

for_users!(another_users_jobs_launch_after_every_deploy);
fn another_users_jobs_launch_after_every_deploy(user: &str) {
    // Jobs of a second user (a batch account that is not the deploy user) start
    // through the same launcher, after the first deploy and after every later one
    // (issue 12, items 2 and 3: the lock file only existed once the deploy user had
    // launched there; a deploy user with umask 077 made the root unreachable).
    let f = Fleet::start_as(1, user);
    let app = f.dir().join("app");
    for build in ["one", "two", "three"] {
        let name = deploy(&f, &app, build);
        let root = fs::canonicalize(f.root(0)).unwrap();
        let o = f
            .launcher_as(0, support::JOBS)
            .args(["--", "sh", "-c", JOB])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "deployed by {user}: {} cannot run the launcher: {e}",
                    support::JOBS
                )
            });
        assert_eq!(
            code(&o),
            0,
            "deployed by {user}, launched by {}: {}",
            support::JOBS,
            err(&o)
        );
        assert_eq!(
            out(&o),
            format!("{name} {} {build}", root.join(&name).display())
        );
    }
}
