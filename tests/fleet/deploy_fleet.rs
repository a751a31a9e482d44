//! `relman deploy` end to end against real sshd hosts (tests/support).

use crate::support;
use support::{noise, write_file};

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use relman::model::Manifest;
use serde_json::Value;
use support::{Fleet, wait_until};

/// The app of the issue: a 20 MB jar, lib/*.jar, an executable bin/run.sh.
fn make_app(dir: &Path) -> PathBuf {
    let app = dir.join("app");
    write_file(&app.join("app.jar"), &noise(20_000_000, 1), 0o644);
    for i in 0..4 {
        write_file(
            &app.join(format!("lib/dep-{i}.jar")),
            &noise(50_000 + i * 1000, 10 + i as u32),
            0o644,
        );
    }
    write_file(
        &app.join("bin/run.sh"),
        b"#!/bin/sh\nexec java -jar app.jar\n",
        0o755,
    );
    app
}

fn out_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn deploy(f: &Fleet, args: &[&str]) -> Output {
    f.relman()
        .arg("deploy")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn releases(root: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(root) else {
        return vec![];
    };
    let mut v: Vec<String> = rd
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("batch_"))
        .collect();
    v.sort();
    v
}

fn link(root: &Path) -> Option<String> {
    fs::read_link(root.join("batch"))
        .ok()
        .map(|p| p.to_str().unwrap().to_string())
}

fn staging(root: &Path) -> Vec<String> {
    fs::read_dir(root.join(".relman/staging"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

for_users!(a_directory_goes_to_three_hosts_under_one_name: root, deploy, umask);
fn a_directory_goes_to_three_hosts_under_one_name(user: &str) {
    let f = Fleet::start_as(3, user);
    let app = make_app(f.dir());
    let o = deploy(
        &f,
        &["--all", "--json", "-m", "first cut", app.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = out_json(&o);
    let name = v["release"].as_str().unwrap().to_string();
    assert_eq!(v["hosts"].as_array().unwrap().len(), 3);
    for i in 0..3 {
        let h = &v["hosts"][i];
        assert_eq!(h["name"], f.name(i));
        assert_eq!(h["ok"], true, "{h}");
        assert_eq!(h["error"], Value::Null);
        assert_eq!(h["release"], name.as_str(), "same name on every host");
        assert_eq!(h["switched"], true);
        assert_eq!(h["linked_files"], 0);
        assert_eq!(h["uploaded_files"], 6);
        let root = f.root(i);
        assert_eq!(link(root).as_deref(), Some(name.as_str()));
        assert_eq!(releases(root), vec![name.clone()]);
        let rel = root.join(&name);
        for p in ["app.jar", "lib/dep-0.jar", "lib/dep-3.jar", "bin/run.sh"] {
            assert_eq!(
                fs::read(rel.join(p)).unwrap(),
                fs::read(app.join(p)).unwrap(),
                "{p} byte-identical on {}",
                f.name(i)
            );
        }
        let mode = fs::metadata(rel.join("bin/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "exec bit kept");
        let m: Manifest =
            serde_json::from_str(&fs::read_to_string(rel.join(".relman.json")).unwrap()).unwrap();
        assert_eq!(m.name, name);
        assert_eq!(m.message, "first cut");
        assert!(m.created_by.contains('@'));
        assert!(humantime::parse_rfc3339(&m.created_at).is_ok());
        let paths: Vec<&str> = m.files.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "app.jar",
                "bin/run.sh",
                "lib/dep-0.jar",
                "lib/dep-1.jar",
                "lib/dep-2.jar",
                "lib/dep-3.jar"
            ]
        );
        let jar = &m.files[0];
        assert_eq!(jar.size, 20_000_000);
        use sha2::Digest;
        assert_eq!(
            jar.sha256,
            hex::encode(sha2::Sha256::digest(fs::read(app.join("app.jar")).unwrap()))
        );
        assert_eq!(m.files[1].mode, 0o755);
        let hist = fs::read_to_string(root.join(".relman/history.jsonl")).unwrap();
        let e: Value = serde_json::from_str(hist.lines().last().unwrap()).unwrap();
        assert_eq!(e["action"], "deploy");
        assert_eq!(e["from"], Value::Null);
        assert_eq!(e["to"], name.as_str());
        assert!(staging(root).is_empty());
    }
    // relman list agrees.
    let o = f.relman().args(["list", "--json"]).output().unwrap();
    let v = out_json(&o);
    for i in 0..3 {
        assert_eq!(v["hosts"][i]["current"], name.as_str());
        assert_eq!(v["hosts"][i]["releases"][0]["origin"], "relman");
    }
}

for_users!(redeploy_links_unchanged_files_and_sends_only_the_change);
fn redeploy_links_unchanged_files_and_sends_only_the_change(user: &str) {
    let f = Fleet::start_as(2, user);
    let app = make_app(f.dir());
    let o = deploy(&f, &["--all", "--json", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = out_json(&o)["release"].as_str().unwrap().to_string();
    // --no-switch: staged and published, link untouched.
    write_file(&app.join("lib/dep-1.jar"), &noise(51_000, 99), 0o644);
    let o = deploy(
        &f,
        &[
            "--all",
            "--json",
            "--no-switch",
            "-m",
            "canary",
            app.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = out_json(&o);
    let second = v["release"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    for i in 0..2 {
        let h = &v["hosts"][i];
        assert_eq!(h["switched"], false);
        assert_eq!(h["status"], "published");
        assert_eq!(h["uploaded_files"], 1);
        assert_eq!(h["uploaded_bytes"], 51_000, "only the changed file is sent");
        assert_eq!(h["linked_files"], 5);
        let root = f.root(i);
        assert_eq!(
            link(root).as_deref(),
            Some(first.as_str()),
            "link not moved"
        );
        assert_eq!(releases(root), [first.clone(), second.clone()]);
        let ino = |r: &str, p: &str| fs::metadata(root.join(r).join(p)).unwrap().ino();
        assert_eq!(ino(&first, "app.jar"), ino(&second, "app.jar"), "hard link");
        assert_eq!(ino(&first, "bin/run.sh"), ino(&second, "bin/run.sh"));
        assert_ne!(ino(&first, "lib/dep-1.jar"), ino(&second, "lib/dep-1.jar"));
        let hist = fs::read_to_string(root.join(".relman/history.jsonl")).unwrap();
        let e: Value = serde_json::from_str(hist.lines().last().unwrap()).unwrap();
        assert_eq!(e["action"], "deploy");
        assert_eq!(e["note"], "no-switch: canary");
        assert_eq!(e["from"], first.as_str());
    }
    // A third deploy (switching): its delta is against the live release (the first).
    let o = deploy(&f, &["--host", "h1", "--json", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = out_json(&o);
    assert_eq!(v["hosts"].as_array().unwrap().len(), 1);
    assert_eq!(v["hosts"][0]["uploaded_bytes"], 51_000);
    assert_eq!(v["hosts"][0]["from"], first.as_str());
    let third = v["release"].as_str().unwrap();
    assert_eq!(link(f.root(0)).as_deref(), Some(third));
    assert_eq!(link(f.root(1)).as_deref(), Some(first.as_str()));
}

for_users!(one_host_down_means_no_host_changes: root, deploy);
fn one_host_down_means_no_host_changes(user: &str) {
    let mut f = Fleet::start_as(3, user);
    let app = make_app(f.dir());
    let o = deploy(&f, &["--all", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before: Vec<_> = (0..3)
        .map(|i| (link(f.root(i)), releases(f.root(i))))
        .collect();
    f.stop(1);
    write_file(&app.join("app.jar"), &noise(1000, 5), 0o644);
    let o = deploy(&f, &["--all", "--json", app.to_str().unwrap()]);
    let code = o.status.code().unwrap();
    assert!(code != 0, "exit {code}");
    assert_eq!(code, 3, "the only failure is an unreachable host");
    let v = out_json(&o);
    assert_eq!(v["outcome"], "not_deployed");
    let h2 = &v["hosts"][1];
    assert_eq!(h2["name"], "h2");
    assert_eq!(h2["ok"], false);
    assert!(h2["error"].as_str().unwrap().contains("connect"), "{h2}");
    for i in [0, 2] {
        assert_eq!(v["hosts"][i]["ok"], false);
        assert_eq!(v["hosts"][i]["status"], "not_deployed");
    }
    for (i, was) in before.iter().enumerate() {
        assert_eq!(
            &(link(f.root(i)), releases(f.root(i))),
            was,
            "host {i} unchanged"
        );
        assert!(staging(f.root(i)).is_empty());
    }
    // The human report names the host.
    let o = deploy(&f, &["--all", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(
        err.contains("h2:") && err.contains("NOT deployed on any host"),
        "{err}"
    );
}

for_users!(sigkill_mid_upload_leaves_no_release_and_no_lock: root, deploy);
fn sigkill_mid_upload_leaves_no_release_and_no_lock(user: &str) {
    let f = Fleet::start_as(1, user);
    let app = make_app(f.dir());
    let o = deploy(&f, &["--all", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let root = f.root(0).to_path_buf();
    // A bigger jar, so the upload takes long enough to be caught in the middle; if
    // this machine is too fast for that, the deploy finished: it becomes the new
    // baseline and a bigger file is tried.
    for (k, size) in [48_000_000usize, 160_000_000].into_iter().enumerate() {
        let before = (link(&root), releases(&root));
        write_file(&app.join("app.jar"), &noise(size, 100 + k as u32), 0o644);
        let mut child = f
            .relman()
            .args(["deploy", "--all", app.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut exited = false;
        let seen = wait_until(Duration::from_secs(30), || {
            if let Ok(Some(_)) = child.try_wait() {
                exited = true;
                return true;
            }
            // app.jar partly written into a staging directory.
            staging(&root).iter().any(|n| {
                fs::metadata(root.join(".relman/staging").join(n).join("app.jar"))
                    .is_ok_and(|m| m.len() > 0 && m.len() < size as u64)
            })
        });
        if seen && !exited {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            assert_killed_cleanly(&f, &app, before);
            return;
        }
        let _ = child.wait();
    }
    panic!("never caught an upload in flight");
}

fn assert_killed_cleanly(f: &Fleet, app: &Path, before: (Option<String>, Vec<String>)) {
    let root = f.root(0).to_path_buf();
    assert_eq!(
        (link(&root), releases(&root)),
        before,
        "no new release, link unchanged"
    );
    // The lock dies with the connection: free within 10 s.
    let start = Instant::now();
    let free = wait_until(Duration::from_secs(10), || {
        let o = f.relman().args(["list", "--json"]).output().unwrap();
        out_json(&o)["hosts"][0]["locked"].is_null()
    });
    assert!(free, "lock still held after {:?}", start.elapsed());
    // list shows no half release.
    let o = f.relman().args(["list", "--json"]).output().unwrap();
    let v = out_json(&o);
    let listed: Vec<&str> = v["hosts"][0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), before.1.len(), "{listed:?}");
    // The next deploy succeeds and removes the stale upload.
    write_file(&app.join("app.jar"), &noise(1000, 3), 0o644);
    let o = deploy(f, &["--all", "--json", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = out_json(&o);
    assert_eq!(v["hosts"][0]["stale_removed"].as_array().unwrap().len(), 1);
    assert!(staging(&root).is_empty());
    assert_eq!(releases(&root).len(), before.1.len() + 1);
}

for_users!(jobs_launched_during_twenty_deploys_always_see_a_whole_release: root, deploy, busybox);
fn jobs_launched_during_twenty_deploys_always_see_a_whole_release(user: &str) {
    let f = Fleet::start_as(1, user);
    let app = f.dir().join("app");
    let version = |n: usize| format!("version {n}\n");
    let put = |n: usize| {
        for i in 0..4 {
            write_file(
                &app.join(format!("lib/part-{i}.jar")),
                version(n).repeat(100 + i).as_bytes(),
                0o644,
            );
        }
        write_file(&app.join("version"), version(n).as_bytes(), 0o644);
    };
    put(0);
    let o = deploy(&f, &["--all", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(f.root(0).join(".relman/bin/launch").exists());
    // The job: every file of the release it started in carries the same version.
    let job = "v=$(cat version) || exit 11; for p in lib/part-*.jar; do \
               [ \"$(sort -u \"$p\")\" = \"$v\" ] || exit 12; done";
    let stop = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let looper = {
        let (stop, runs, failures) = (stop.clone(), runs.clone(), failures.clone());
        // The jobs run as the deploy user, as its crontab would start them.
        let mut launcher = f.launcher_as(0, user);
        launcher.args(["--", "sh", "-c", job]);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let o = launcher.output().unwrap();
                runs.fetch_add(1, Ordering::Relaxed);
                if !o.status.success() {
                    failures.lock().unwrap().push(format!(
                        "{:?}: {}",
                        o.status.code(),
                        String::from_utf8_lossy(&o.stderr)
                    ));
                }
                std::thread::sleep(Duration::from_millis(3));
            }
        })
    };
    for n in 1..=20 {
        put(n);
        let o = deploy(&f, &["--all", "--prune", app.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "deploy {n}: {}", stderr(&o));
    }
    stop.store(true, Ordering::Relaxed);
    looper.join().unwrap();
    let failures = failures.lock().unwrap();
    eprintln!(
        "{} jobs ran during the deploys",
        runs.load(Ordering::Relaxed)
    );
    assert!(
        failures.is_empty(),
        "{} of {} jobs failed: {:?}",
        failures.len(),
        runs.load(Ordering::Relaxed),
        &failures[..failures.len().min(5)]
    );
    assert!(runs.load(Ordering::Relaxed) >= 20, "the loop ran");
    // --prune kept the releases to the keep policy (the newest 3, live and previous
    // among them, + any a job still held).
    let left = releases(f.root(0));
    assert!(left.len() <= 5, "{left:?}");
    assert_eq!(
        fs::read_to_string(f.root(0).join("batch/version")).unwrap(),
        version(20)
    );
}

for_users!(bad_inputs_are_refused_before_anything_is_sent: root, deploy);
fn bad_inputs_are_refused_before_anything_is_sent(user: &str) {
    let f = Fleet::start_as(1, user);
    let d = f.dir();
    fs::create_dir_all(d.join("empty/sub")).unwrap();
    write_file(&d.join("nl/a\nb.jar"), b"x", 0o644);
    fs::create_dir_all(d.join("unreadable")).unwrap();
    std::os::unix::fs::symlink(d.join("nothing"), d.join("unreadable/app.jar")).unwrap();
    fs::create_dir_all(d.join("fifo")).unwrap();
    let fifo = std::ffi::CString::new(d.join("fifo/pipe").to_str().unwrap()).unwrap();
    // SAFETY: a plain mkfifo on a path we own.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let logins = f.auth_count(0);
    for (p, want) in [
        (d.join("missing"), "no such file or directory"),
        (d.join("empty"), "holds no files"),
        (d.join("nl"), "control character"),
        (d.join("unreadable"), "dangling symlink"),
        (d.join("fifo"), "FIFO"),
    ] {
        let o = deploy(&f, &["--all", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{p:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(want), "{p:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(o.stdout.is_empty());
    }
    // No host selected: exit 2 too, nothing sent.
    let o = deploy(&f, &[d.join("empty").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--host"), "{}", stderr(&o));
    assert_eq!(f.auth_count(0), logins, "no connection was made");
    assert!(!f.root(0).exists());
}
