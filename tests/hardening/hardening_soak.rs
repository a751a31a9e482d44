//! Soak: deploy / switch / rollback / prune cycles on three real sshd hosts while
//! jobs start all the time through each host's `.relman/bin/launch` (as cron would)
//! and a pipeline pins a release and runs its jobs on it (as Jenkins would).
//!
//! Must hold: zero failed job starts; every job reads the same, right bytes from its
//! release for its whole life; after every cycle every release is complete, the
//! link points at one, and nothing the policy keeps (live, previous, newest `keep`,
//! pinned, in use) was deleted.
//!
//! Runs with root as the deploy user (`::root`) and with the non-root deploy user
//! (`::deploy`; its jobs run as that user). `RELMAN_SOAK_CYCLES` (default 20 as
//! root, 10 as the deploy user) sets the number of cycles:
//! `RELMAN_SOAK_CYCLES=500 cargo test --test hardening hardening_soak:: -- --nocapture`.

use crate::hardening_support;
use crate::support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hardening_support::*;
use support::Fleet;

const HOSTS: usize = 3;
const KEEP: usize = 2;
const LIMIT: Duration = Duration::from_secs(120);
const A: &str = "batch_20260101000000";
const B: &str = "batch_20260102000000";

/// What the job launchers saw.
#[derive(Default)]
struct Jobs {
    started: AtomicUsize,
    failed: Mutex<Vec<String>>,
    /// (host, release, sha256 of app.jar at start, after a pause)
    reads: Mutex<Vec<(usize, String, String, String)>>,
}

/// A job: through the launcher, read app.jar, wait, read it again.
fn job_command(root: &Path, user: &str, release: Option<&str>) -> Command {
    let launcher = root.join(".relman/bin/launch");
    let mut c = support::command_as(user, launcher.to_str().unwrap());
    if let Some(r) = release {
        c.args(["--release", r]);
    }
    c.args([
        "--",
        "sh",
        "-c",
        "a=$(sha256sum app.jar) || exit 91; sleep 0.15; b=$(sha256sum app.jar) || exit 92; \
         printf '%s %s %s\\n' \"$RELEASE_NAME\" \"${a%% *}\" \"${b%% *}\"",
    ])
    .current_dir("/")
    .stdin(Stdio::null());
    c
}

fn record(jobs: &Jobs, host: usize, what: &str, out: std::io::Result<std::process::Output>) {
    jobs.started.fetch_add(1, Ordering::Relaxed);
    match out {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout);
            let f: Vec<&str> = s.split_whitespace().collect();
            if f.len() == 3 {
                jobs.reads.lock().unwrap().push((
                    host,
                    f[0].to_string(),
                    f[1].to_string(),
                    f[2].to_string(),
                ));
            } else {
                jobs.failed
                    .lock()
                    .unwrap()
                    .push(format!("h{}: {what}: odd output {s:?}", host + 1));
            }
        }
        Ok(o) => jobs.failed.lock().unwrap().push(format!(
            "h{}: {what}: exit {:?}: {}",
            host + 1,
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => jobs
            .failed
            .lock()
            .unwrap()
            .push(format!("h{}: {what}: {e}", host + 1)),
    }
}

struct Soak {
    f: Fleet,
    book: Handmade,
    /// Release name → sha256 of its app.jar (every release ever made).
    jar: BTreeMap<String, String>,
    app: PathBuf,
    rng: Rng,
}

impl Soak {
    fn run(&self, args: &[&str]) -> std::process::Output {
        output_within(self.f.relman().args(args), LIMIT).unwrap()
    }

    fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.run(args);
        assert_eq!(
            code(&out),
            0,
            "{args:?}: {}{}",
            stderr(&out),
            String::from_utf8_lossy(&out.stdout)
        );
        out
    }

    fn deploy(&mut self, n: usize) {
        let size = 200_000 + self.rng.below(800_000) as usize;
        let jar = self.rng.bytes(size);
        fs::write(self.app.join("app.jar"), &jar).unwrap();
        fs::write(self.app.join("conf/n.txt"), n.to_string()).unwrap();
        let out = self.ok(&[
            "--all",
            "deploy",
            "-m",
            &format!("soak {n}"),
            self.app.to_str().unwrap(),
            "--json",
        ]);
        let v = json(&out);
        let name = v["release"].as_str().unwrap().to_string();
        self.jar.insert(name, sha256_hex(&jar));
    }

    /// Releases every host has.
    fn common(&self) -> Vec<String> {
        let mut c = release_dirs(self.f.root(0), "batch_");
        for i in 1..HOSTS {
            let o = release_dirs(self.f.root(i), "batch_");
            c.retain(|r| o.contains(r));
        }
        c
    }

    /// What prune must keep on each host: live, previous, the newest KEEP good ones
    /// (counting live and previous among them), pinned ones (from `list --json`,
    /// before the prune).
    fn protected(&self) -> Vec<Vec<String>> {
        let v = json(&self.ok(&["list", "--json"]));
        (0..HOSTS)
            .map(|i| {
                let mut p = Vec::new();
                let mut good = 0;
                for r in v["hosts"][i]["releases"].as_array().unwrap() {
                    let name = r["name"].as_str().unwrap().to_string();
                    // A pin protects only while it lasts: count those that last
                    // well past this prune (the pipeline's pins are short).
                    let soon = std::time::SystemTime::now() + Duration::from_secs(15);
                    let pinned = r["pins"].as_array().unwrap().iter().any(|p| {
                        p["expires_at"]
                            .as_str()
                            .and_then(|t| humantime::parse_rfc3339(t).ok())
                            .is_some_and(|t| t > soon)
                    });
                    // The newest KEEP good releases, protected ones among them (SPEC §4).
                    let newest = r["bad"] != true && good < KEEP;
                    if newest {
                        good += 1;
                    }
                    if r["current"] == true || r["previous"] == true || pinned || newest {
                        p.push(name);
                    }
                }
                p
            })
            .collect()
    }

    fn check(&self, when: &str) {
        for i in 0..HOSTS {
            check_host(self.f.root(i), &self.book, true)
                .unwrap_or_else(|e| panic!("{when}: h{}: {e}", i + 1));
        }
        let v = json(&self.ok(&["list", "--json"]));
        for i in 0..HOSTS {
            check_listing(&v, i, self.f.root(i)).unwrap_or_else(|e| panic!("{when}: {e}"));
        }
    }
}

for_users!(soak_cycles_with_jobs_starting_all_the_time: root, deploy);
fn soak_cycles_with_jobs_starting_all_the_time(user: &str) {
    let full = if user == support::ROOT { 20 } else { 10 };
    let cycles = env_usize("RELMAN_SOAK_CYCLES", full);
    let f = Fleet::start_as(HOSTS, user);
    let mut book = Handmade::new();
    for i in 0..HOSTS {
        fs::create_dir_all(f.root(i)).unwrap();
        make_handmade(f.root(i), A, &[("app.jar", b"hand-made A")], &mut book);
        make_handmade(f.root(i), B, &[("app.jar", b"hand-made B")], &mut book);
        f.give_root(i);
        f.sh(i, &format!("ln -s {B} \"$ROOT/batch\""));
    }
    let app = f.dir().join("soak-app");
    fs::create_dir_all(app.join("conf")).unwrap();
    fs::create_dir_all(app.join("lib")).unwrap();
    fs::write(app.join("lib/common.jar"), vec![3u8; 100_000]).unwrap();
    let mut jar = BTreeMap::new();
    jar.insert(A.to_string(), sha256_hex(b"hand-made A"));
    jar.insert(B.to_string(), sha256_hex(b"hand-made B"));
    let mut s = Soak {
        f,
        book,
        jar,
        app,
        rng: Rng::from_env("soak"),
    };
    // The first write installs the launcher everywhere.
    s.deploy(0);

    let stop = Arc::new(AtomicBool::new(false));
    let jobs = Arc::new(Jobs::default());
    let mut threads = Vec::new();
    // Cron: job loops on every host, each starting a job as soon as the last ended.
    let loops = env_usize("RELMAN_SOAK_JOB_LOOPS", 1);
    for i in 0..HOSTS {
        for _ in 0..loops {
            let (stop, jobs) = (stop.clone(), jobs.clone());
            let root = s.f.root(i).to_path_buf();
            let user = user.to_string();
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let out = job_command(&root, &user, None).output();
                    record(&jobs, i, "launch", out);
                }
            }));
        }
    }
    // Jenkins on h1: resolve --pin, then the pipeline's jobs on that release.
    let pipelines = Arc::new(AtomicUsize::new(0));
    {
        let (stop, jobs, pipelines) = (stop.clone(), jobs.clone(), pipelines.clone());
        let root = s.f.root(0).to_path_buf();
        let user = user.to_string();
        let mut relman = s.f.relman();
        relman.args([
            "--host",
            "h1",
            "resolve",
            "--pin",
            "20s",
            "--reason",
            "soak pipeline",
        ]);
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let out = match output_within(&mut relman, LIMIT) {
                    Ok(o) => o,
                    Err(e) => {
                        jobs.failed.lock().unwrap().push(format!("resolve: {e}"));
                        continue;
                    }
                };
                if !out.status.success() {
                    jobs.failed
                        .lock()
                        .unwrap()
                        .push(format!("resolve --pin: {}", stderr(&out)));
                    continue;
                }
                let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
                for _ in 0..3 {
                    let out = job_command(&root, &user, Some(&path)).output();
                    record(&jobs, 0, "pipeline job", out);
                    std::thread::sleep(Duration::from_millis(200));
                }
                pipelines.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let t0 = Instant::now();
    let mut ops = BTreeMap::<&str, usize>::new();
    let mut nothing_to_roll_back = 0;
    let mut spent = BTreeMap::<&str, Duration>::new();
    for n in 1..=cycles {
        let t = Instant::now();
        s.deploy(n);
        *spent.entry("deploy").or_default() += t.elapsed();
        *ops.entry("deploy").or_default() += 1;
        let common = s.common();
        let pick = common[s.rng.below(common.len() as u64) as usize].clone();
        let t = Instant::now();
        s.ok(&["--all", "switch", &pick]);
        *spent.entry("switch").or_default() += t.elapsed();
        let t = Instant::now();
        *ops.entry("switch").or_default() += 1;
        let out = s.run(&["--all", "rollback", "--json"]);
        match code(&out) {
            0 => *ops.entry("rollback").or_default() += 1,
            5 | 6
                if json(&out)["hosts"].as_array().unwrap().iter().all(|h| {
                    h["ok"] == true
                        || h["error"]
                            .as_str()
                            .is_some_and(|e| e.contains("nothing to roll back to"))
                }) =>
            {
                nothing_to_roll_back += 1
            }
            c => panic!("cycle {n}: rollback exit {c}: {}", stderr(&out)),
        }
        *spent.entry("rollback").or_default() += t.elapsed();
        let t = Instant::now();
        let protected = s.protected();
        *spent.entry("list").or_default() += t.elapsed();
        let t = Instant::now();
        let pruned = s.ok(&["--all", "prune", "--keep", &KEEP.to_string()]);
        *ops.entry("prune").or_default() += 1;
        *spent.entry("prune").or_default() += t.elapsed();
        for (i, p) in protected.iter().enumerate() {
            let left = release_dirs(s.f.root(i), "batch_");
            for r in p {
                assert!(
                    left.contains(r),
                    "cycle {n}: h{}: prune deleted {r}, which the policy keeps ({p:?}):\n{}",
                    i + 1,
                    String::from_utf8_lossy(&pruned.stdout)
                );
            }
        }
        let t = Instant::now();
        s.check(&format!("cycle {n}"));
        *spent.entry("check").or_default() += t.elapsed();
        let failed = jobs.failed.lock().unwrap().clone();
        assert!(
            failed.is_empty(),
            "cycle {n}: failed job starts: {failed:#?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let failed = jobs.failed.lock().unwrap().clone();
    assert!(failed.is_empty(), "failed job starts: {failed:#?}");
    // Every job read its own release's app.jar, the same bytes twice.
    let reads = jobs.reads.lock().unwrap();
    for (h, rel, a, b) in reads.iter() {
        assert_eq!(a, b, "h{}: {rel} changed under a running job", h + 1);
        let want = s
            .jar
            .get(rel)
            .unwrap_or_else(|| panic!("h{}: a job ran in {rel}, which no deploy made", h + 1));
        assert_eq!(a, want, "h{}: {rel}: a job read the wrong app.jar", h + 1);
    }
    let started = jobs.started.load(Ordering::Relaxed);
    assert!(started > cycles, "the launchers ran ({started} jobs)");
    eprintln!("soak: time spent per step: {spent:?}");
    eprintln!(
        "FIGURES soak as {user}: {cycles} cycles on {HOSTS} hosts in {:?}: ops {ops:?} (+{nothing_to_roll_back} rollbacks with nothing to roll back to), \
         {started} job starts (0 failed), {} jobs read their release twice and got the right bytes, \
         {} pipelines (resolve --pin + 3 jobs each), {} releases made, 0 kept releases lost",
        t0.elapsed(),
        reads.len(),
        pipelines.load(Ordering::Relaxed),
        s.jar.len() - 2,
    );
}
