//! The Jenkins pipeline of `assets/jenkins/Jenkinsfile`, step by step, with the real
//! binaries: `relman resolve --pin` at the start, each job run as
//! `ssh host launch --release "$R" -- CMD` (OpenSSH client), deploys and
//! `relman prune --keep 0` in between. The pinned release survives the gap between
//! the jobs; a running launched job keeps it after the pin is gone; then it goes.
//! Also the brief's scenario through `relman prune` (table and JSON).

use crate::support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Fleet, Kill, launcher_lock_held, root_entries, wait_until};

fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn relman(f: &Fleet, args: &[&str]) -> Output {
    let o = f.relman().args(args).output().unwrap();
    assert_eq!(code(&o), 0, "relman {args:?}: {}", err(&o));
    o
}

fn mkrelease(f: &Fleet, i: u32) {
    f.sh(
        0,
        &format!(
            "mkdir -p \"$ROOT/{0}\" && echo {0} > \"$ROOT/{0}/app.jar\"",
            r(i)
        ),
    );
}

/// `ssh host REMOTE_COMMAND` with the fleet's key and known_hosts, as Jenkins would.
fn ssh(f: &Fleet, remote: &str) -> Command {
    let mut c = Command::new("ssh");
    c.arg("-i")
        .arg(f.client_key())
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", f.known_hosts().display()))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-F",
            "/dev/null",
            "-p",
        ])
        .arg(f.port(0).to_string())
        .arg(format!("{}@127.0.0.1", f.user()))
        .arg(remote)
        .env("HOME", f.home())
        .env_remove("SSH_AUTH_SOCK");
    c
}

#[test]
fn a_pipeline_keeps_its_release_from_job1_to_job2() {
    let f = Fleet::start(1);
    for i in 1..=3 {
        mkrelease(&f, i);
        relman(&f, &["--host", "h1", "switch", &r(i)]);
    }
    let root: PathBuf = fs::canonicalize(f.root(0)).unwrap();
    let launch = root.join(".relman/bin/launch").display().to_string();

    // Pipeline start, the Jenkinsfile's way:
    // readJSON(relman resolve --host h1 --pin 2h --reason "$BUILD_TAG" --json).
    let resolve = |tag: &str, json: bool| {
        let mut a = vec!["--host", "h1", "resolve", "--pin", "2h", "--reason", tag];
        if json {
            a.push("--json");
        }
        relman(&f, &a)
    };
    let v: Value = serde_json::from_slice(&resolve("jenkins-app-42", true).stdout).unwrap();
    let release = v["hosts"][0]["path"].as_str().unwrap().to_string();
    let pin_id = v["hosts"][0]["pin"]["id"].as_str().unwrap().to_string();
    assert_eq!(PathBuf::from(&release), root.join(r(3)));
    // Another pipeline starts on the same release, the shell's way: R=$(relman resolve ...).
    let o = resolve("jenkins-app-43", false);
    assert_eq!(out(&o).trim_end(), release);
    assert_eq!(out(&o).lines().count(), 1, "only the path on stdout");
    let pins_of_r3 = || -> Vec<String> {
        let v: Value =
            serde_json::from_slice(&relman(&f, &["--host", "h1", "list", "--json"]).stdout)
                .unwrap();
        v["hosts"][0]["releases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["name"] == r(3))
            .flat_map(|x| x["pins"].as_array().unwrap().clone())
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let other_pin = pins_of_r3()
        .into_iter()
        .find(|id| *id != pin_id)
        .expect("the second pipeline's pin");

    // Job1.
    let job1 = format!(
        "{launch} --release '{release}' -- sh -c 'echo \"$RELEASE_NAME\"; cat app.jar; exit 3'"
    );
    let o = ssh(&f, &job1).output().unwrap();
    assert_eq!(code(&o), 3, "the job's exit status: {}", err(&o));
    assert_eq!(out(&o), format!("{0}\n{0}\n", r(3)));

    // Meanwhile: two deploys, and the classic prune after each.
    for i in 4..=5 {
        mkrelease(&f, i);
        relman(&f, &["--host", "h1", "switch", &r(i)]);
    }
    let o = relman(&f, &["--host", "h1", "prune", "--keep", "0"]);
    assert!(out(&o).contains("pinned until"), "{}", out(&o));
    assert_eq!(
        root_entries(&root),
        ["batch".to_string(), r(3), r(4), r(5)],
        "r1, r2 gone; the pipeline's release kept"
    );

    // Job2, an hour later, on the same release; it runs for a while (waits on stdin).
    // By name this time: here the "agent" is the host itself, and an ssh client whose
    // argv holds the release's path would itself count as a job of it (the /proc scan
    // reads command lines): this job must be protected by the launcher's lock alone.
    let job2 = format!(
        "{launch} --release {} -- sh -c 'cd / && echo started \"$RELEASE_NAME\" && read line && echo done'",
        r(3)
    );
    let mut child = Kill(
        ssh(&f, &job2)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), format!("started {}", r(3)));
    assert!(launcher_lock_held(&root, &r(3)));

    // The pipelines end (the Jenkinsfile's post step): each unpins its own pin only.
    relman(&f, &["--host", "h1", "unpin", &r(3), "--id", &pin_id]);
    assert_eq!(
        pins_of_r3(),
        [other_pin.as_str()],
        "the other pipeline's pin stays"
    );
    relman(&f, &["--host", "h1", "unpin", &r(3), "--id", &other_pin]);
    assert!(pins_of_r3().is_empty());
    // Pins gone; the running job still holds the release.
    let o = relman(&f, &["--host", "h1", "prune", "--keep", "0", "--dry-run"]);
    // The launcher's hold is a descriptor on the release directory, which the /proc
    // scan sees too: the plan itself keeps it (another user's job, hidden from the
    // scan, is kept by the lock alone: fixes_jobs).
    assert!(
        out(&o).contains(&format!("{}  keep: running job (pid ", r(3))),
        "the dry run already knows: {}",
        out(&o)
    );
    let o = relman(&f, &["--host", "h1", "prune", "--keep", "0", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let host = &v["hosts"][0];
    assert_eq!(host["ok"], true, "{v}");
    let rel = host["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == r(3))
        .unwrap();
    assert_eq!(rel["verdict"], "keep");
    assert!(
        rel["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("running job (pid "),
        "{rel}"
    );
    assert!(root.join(r(3)).join("app.jar").exists());

    // Job2 ends; the next prune removes the release.
    let mut stdin = child.0.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    assert_eq!(lines.next().unwrap().unwrap(), "done");
    assert!(child.0.wait().unwrap().success());
    assert!(wait_until(Duration::from_secs(10), || !launcher_lock_held(
        &root,
        &r(3)
    )));
    let o = relman(&f, &["--host", "h1", "prune", "--keep", "0"]);
    assert!(
        out(&o).contains(&format!("deleted 1 release: {}", r(3))),
        "{}",
        out(&o)
    );
    assert_eq!(root_entries(&root), ["batch".to_string(), r(4), r(5)]);

    // A later job asking for the pruned release is told so (exit 5), not run elsewhere.
    let o = ssh(&f, &format!("{launch} --release '{release}' -- true"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 5, "{}", err(&o));
    // Hostile values over ssh: refused, exit 2.
    let o = ssh(&f, &format!("{launch} --release ../../etc -- true"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains("refused"), "{}", err(&o));
}

#[test]
fn the_brief_scenario_through_the_binary() {
    let f = Fleet::start(1);
    for i in 1..=8 {
        mkrelease(&f, i);
        relman(&f, &["--host", "h1", "switch", &r(i)]);
    }
    relman(&f, &["--host", "h1", "rollback"]);
    relman(&f, &["--host", "h1", "rollback"]);
    let root: PathBuf = f.root(0).to_path_buf();
    let job = Kill(
        Command::new("sleep")
            .arg("60")
            .current_dir(root.join(r(1)))
            .spawn()
            .unwrap(),
    );
    let pid = job.0.id();
    let o = relman(
        &f,
        &[
            "--host",
            "h1",
            "pin",
            &r(2),
            "--for",
            "2h",
            "--reason",
            "nightly",
        ],
    );
    assert!(out(&o).contains("pinned"), "{}", out(&o));
    f.sh(
        0,
        "mkdir -p \"$ROOT/logs\" \"$ROOT/tools\" && echo x > \"$ROOT/logs/a.log\"",
    );
    assert!(wait_until(Duration::from_secs(10), || {
        let o = relman(&f, &["--host", "h1", "prune", "--keep", "3", "--dry-run"]);
        out(&o).contains(&format!("running job (pid {pid})"))
    }));

    let o = relman(&f, &["--host", "h1", "prune", "--keep", "3", "--dry-run"]);
    let text = out(&o);
    let verdicts: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let (name, rest) = l.split_once(' ')?;
            name.starts_with("batch_")
                .then(|| (name.to_string(), rest.trim().to_string()))
        })
        .collect();
    let pinned = verdicts[6].1.clone();
    assert!(
        pinned.starts_with("keep: pinned until ") && pinned.ends_with("(nightly)"),
        "{pinned}"
    );
    assert_eq!(
        verdicts,
        [
            (r(8), "delete: bad (rolled back from)".to_string()),
            (r(7), "delete: bad (rolled back from)".into()),
            (r(6), "keep: live".into()),
            (r(5), "keep: previous (rollback target)".into()),
            // keep 3 counts live r6 and previous r5 (SPEC §4): r4 is the third.
            (r(4), "keep: among newest 3".into()),
            (r(3), "delete: old".into()),
            (r(2), pinned),
            (r(1), format!("keep: running job (pid {pid})")),
        ],
        "{text}"
    );

    let o = relman(&f, &["--host", "h1", "prune", "--keep", "3", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["hosts"][0]["deleted"],
        serde_json::json!([r(7), r(8), r(3)]),
        "{v}"
    );
    let mut left: Vec<String> = [1, 2, 4, 5, 6].into_iter().map(r).collect();
    left.extend(["batch".into(), "logs".into(), "tools".into()]);
    left.sort();
    assert_eq!(root_entries(&root), left);
    assert!(root.join("logs/a.log").exists());
    drop(job);
}
