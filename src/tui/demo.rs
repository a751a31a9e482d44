//! `relman --demo`: a small fleet of real deploy roots in a temporary directory, so the
//! console can be tried without SSH or a config. Three hosts on the `local` transport
//! ([`HOSTS`]), each its own root under the one temporary directory:
//!
//! - `batch-1`: six releases (each with `app.jar`, `lib/*.jar`, `bin/run.sh` and a
//!   `.relman.json` manifest with real sizes, modes and sha256), a history with deploys
//!   and a rollback away from the newest release (so it is bad), a pin, and the link at
//!   the release rolled back to;
//! - `batch-2`: still live on that newest release, which fails: its runs (and the ok
//!   runs of the release live before it) make the host stand out;
//! - `batch-3`: on an older release (drift), on probation (set as `switch
//!   --probation` sets it: 30m, one failure allowed; its runs are ok), its lock held by
//!   a real holder process.
//!
//! Every run in the ledgers is real: the demo installs relman's own launcher into each
//! root and runs the releases' `bin/run.sh` jobs through it (the newest release's import
//! job fails, one of its runs is killed by TERM), then leaves one long job per host
//! running through `launch` (`bin/run.sh follow`, on an older release on `batch-1`).
//! Dropping the `Demo` kills the jobs and the lock holder (each in its own process
//! group, so the launcher's child goes too) and deletes the directory. The long jobs
//! and the holder also end by themselves when relman dies without dropping it (kill
//! -9): each reads a pipe from relman and stops at its end of file.

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::config::{Config, HostConfig};
use crate::model::{Action, HistoryEntry, Manifest, ManifestFile, Pin, ReleaseName};
use crate::ops::launcher::{LAUNCHER_PATH, launcher_text};

/// Link and prefix of the demo roots (relman's defaults).
pub const LINK: &str = "batch";
pub const PREFIX: &str = "batch_";

/// The demo fleet's hosts, in the console's order.
pub const HOSTS: [&str; 3] = ["batch-1", "batch-2", "batch-3"];

/// The release the newest deploy made: it fails (rolled back on `batch-1`, still live
/// on `batch-2`).
pub const FAILING: usize = 5;

/// Which releases each host has (indexes into the release names, oldest first) and
/// which one its link points at.
const LAYOUT: [(&[usize], usize); 3] = [
    (&[0, 1, 2, 3, 4, 5], 4),
    (&[2, 3, 4, 5], 5),
    (&[1, 2, 3], 3),
];

/// The finished runs of each host: (release, job). `bin/run.sh` decides the outcome:
/// `import` fails on the failing release, `export` is killed by TERM there.
const RUNS: [&[(usize, &str)]; 3] = [
    &[
        (4, "import"),
        (4, "import"),
        (4, "reconcile"),
        (5, "import"),
        (5, "reconcile"),
        (5, "import"),
    ],
    &[
        (4, "import"),
        (4, "import"),
        (4, "reconcile"),
        (5, "import"),
        (5, "reconcile"),
        (5, "import"),
        (5, "export"),
        (5, "import"),
    ],
    &[(3, "import"), (3, "reconcile")],
];

/// The release each host's long-running job runs in.
const RUNNING: [usize; 3] = [1, 5, 3];

/// A demo fleet: its roots, its running jobs and its lock holder.
pub struct Demo {
    dir: TempDir,
    /// Jobs through the launcher, and the lock holder: each leads its process group.
    children: Vec<Child>,
    releases: Vec<String>,
}

/// How old each release is, oldest first.
const AGES: [u64; 6] = [
    9 * 86400,
    5 * 86400 + 3 * 3600,
    2 * 86400,
    26 * 3600,
    3 * 3600 + 12 * 60,
    40 * 60,
];

const MESSAGES: [&str; 6] = [
    "nightly 4790",
    "nightly 4801: new reconcile job",
    "nightly 4810",
    "nightly 4811: faster import",
    "nightly 4812",
    "nightly 4813: hotfix import",
];

fn rfc(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn to_json<T: serde::Serialize>(v: &T) -> io::Result<String> {
    serde_json::to_string(v).map_err(io::Error::other)
}

/// Deterministic filler so each file has its own content (and sha256).
fn filler(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = Sha256::digest(seed.as_bytes()).to_vec();
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    out.truncate(len);
    out
}

fn write_file(dir: &Path, rel: &str, data: &[u8], mode: u32) -> io::Result<ManifestFile> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&path, data)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    Ok(ManifestFile {
        path: rel.to_string(),
        size: data.len() as u64,
        sha256: hex::encode(Sha256::digest(data)),
        mode,
    })
}

/// The demo's `bin/run.sh`: a stand-in for `exec java -jar app.jar JOB` that needs no
/// JVM. On the failing release, `import` fails and `export` is killed by TERM.
fn run_sh(failing: bool) -> String {
    let mut s = String::from(
        "#!/bin/sh\n\
         # Started by cron through relman's launcher: runs one batch job of this release.\n\
         # (The demo's stand-in for `exec java -jar app.jar \"$@\"`.)\n\
         job=${1:-import}\n\
         # follow: runs until its input ends (the demo's long job: relman holds the pipe).\n\
         if [ \"$job\" = follow ]; then exec cat >/dev/null; fi\n",
    );
    if failing {
        s.push_str(
            "case $job in\n\
             import) echo 'import: ERROR: column \"amount_cents\" does not exist' >&2; exit 1 ;;\n\
             export) kill -TERM $$ ;;\n\
             esac\n",
        );
    }
    s.push_str("echo \"$job: done\"\n");
    s
}

fn make_release(
    root: &Path,
    name: &str,
    made: SystemTime,
    message: &str,
    i: usize,
) -> io::Result<()> {
    let dir = root.join(name);
    fs::create_dir(&dir)?;
    let mut files = vec![
        write_file(
            &dir,
            "app.jar",
            &filler(&format!("{name}/app"), 96 * 1024 + i * 4096),
            0o644,
        )?,
        write_file(&dir, "bin/run.sh", run_sh(i == FAILING).as_bytes(), 0o755)?,
        write_file(
            &dir,
            "lib/postgresql-42.7.4.jar",
            &filler("pg", 40 * 1024),
            0o644,
        )?,
        write_file(
            &dir,
            "lib/spring-batch-core-5.1.2.jar",
            &filler("spring", 64 * 1024),
            0o644,
        )?,
    ];
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        name: name.to_string(),
        created_at: rfc(made),
        created_by: "ci@jenkins-2".into(),
        message: message.to_string(),
        files,
    };
    fs::write(dir.join(".relman.json"), to_json(&manifest)? + "\n")
}

fn write_history(state: &Path, history: &[HistoryEntry]) -> io::Result<()> {
    let mut text = String::new();
    for e in history {
        text.push_str(&to_json(e)?);
        text.push('\n');
    }
    fs::write(state.join("history.jsonl"), text)
}

/// The deploys of `have` (indexes, oldest first), one history entry each.
fn deploys(names: &[String], made: &[SystemTime], have: &[usize]) -> Vec<HistoryEntry> {
    have.iter()
        .enumerate()
        .map(|(k, &i)| HistoryEntry {
            at: rfc(made[i] + Duration::from_secs(20 + 7 * k as u64)),
            by: "ci@jenkins-2".into(),
            action: Action::Deploy,
            from: k.checked_sub(1).map(|p| names[have[p]].clone()),
            to: Some(names[i].clone()),
            note: Some(MESSAGES[i].into()),
        })
        .collect()
}

/// `cmd` in its own process group (so the whole group can be killed), no terminal.
fn grouped(mut cmd: Command) -> Command {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    cmd
}

/// The launcher running the job `args` on `release`, with the launcher's options `opts`.
fn launch(root: &Path, release: &str, opts: &[&str], args: &[&str]) -> Command {
    let mut cmd = Command::new(root.join(LAUNCHER_PATH));
    cmd.arg("--release")
        .arg(release)
        .args(opts)
        .arg("--")
        .args(args);
    cmd.env("JOB_NAME", "cron");
    grouped(cmd)
}

/// Kills `child`'s process group (the launcher and its job, or the lock holder).
fn kill_group(child: &mut Child) {
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's process group; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let _ = child.wait();
}

/// Lines in the ledger files of `root` (start and end records).
fn ledger_lines(root: &Path) -> usize {
    let Ok(dir) = fs::read_dir(root.join(".relman/runs")) else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .map(|t| t.lines().count())
        .sum()
}

/// A real holder of `root`'s host lock, as `lock.sh` takes it: an flock on
/// `.relman/lock` with its owner written in; returns once the lock is held.
fn hold_lock(root: &Path, owner: &str) -> io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(
            "cd \"$1\" || exit 1; exec 9>>.relman/lock; flock -n 9 || exit 1; \
             printf '%s,\"pid\":%s}\\n' \"$2\" \"$$\" >.relman/lock; echo LOCKED; exec cat >/dev/null",
        )
        .arg("relman-demo-lock")
        .arg(root)
        .arg(owner)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    if line.trim() != "LOCKED" {
        kill_group(&mut child);
        return Err(io::Error::other(
            "the demo's lock holder could not take the lock",
        ));
    }
    Ok(child)
}

impl Demo {
    /// Builds the demo fleet under a new temporary directory and starts its jobs.
    pub fn build() -> io::Result<Demo> {
        let dir = tempfile::Builder::new().prefix("relman-demo-").tempdir()?;
        let mut demo = Demo {
            dir,
            children: Vec::new(),
            releases: Vec::new(),
        };
        // On an error, dropping `demo` stops whatever already runs.
        demo.populate()?;
        Ok(demo)
    }

    fn populate(&mut self) -> io::Result<()> {
        let now = SystemTime::now();
        // Whole seconds, and names in the same UTC second order as the ages.
        let made: Vec<SystemTime> = AGES.iter().map(|a| now - Duration::from_secs(*a)).collect();
        let names: Vec<String> = made
            .iter()
            .map(|t| ReleaseName::new(PREFIX, *t, 0).to_string())
            .collect();
        self.releases = names.clone();
        let cfg = self.config();
        for (h, host) in cfg.hosts.iter().enumerate() {
            let root = PathBuf::from(&host.root);
            fs::create_dir(&root)?;
            let (have, live) = LAYOUT[h];
            for &i in have {
                make_release(&root, &names[i], made[i], MESSAGES[i], i)?;
            }
            let state = root.join(".relman");
            fs::create_dir_all(state.join("pins"))?;
            fs::create_dir_all(state.join("bin"))?;
            let launcher = root.join(LAUNCHER_PATH);
            let text = launcher_text(host).map_err(|e| io::Error::other(e.to_string()))?;
            fs::write(&launcher, text)?;
            fs::set_permissions(&launcher, fs::Permissions::from_mode(0o755))?;
            let history = match h {
                0 => first_host_history(&state, &names, &made, now)?,
                _ => deploys(&names, &made, have),
            };
            write_history(&state, &history)?;
            // The link, relative.
            symlink(&names[live], root.join(LINK))?;
        }
        // batch-3 guards itself, before its runs and its lock holder.
        self.put_on_probation(2);
        // Something that is not a release: counted as foreign, never touched.
        fs::write(
            self.root_of(0).join("README.ops"),
            "batch releases; see relman\n",
        )?;

        // The finished runs, all at once, through the real launcher, keeping a failed
        // run's output tail (`launch --tail`: the details pane shows it).
        let mut runs = Vec::new();
        for (h, list) in RUNS.iter().enumerate() {
            let root = self.root_of(h);
            for (i, job) in list.iter() {
                let tail = ["--tail", "20"];
                runs.push(launch(&root, &names[*i], &tail, &["bin/run.sh", job]).spawn()?);
            }
        }
        for mut r in runs {
            r.wait()?;
        }
        // One long job per host, and a lock held on the last host.
        for (h, &i) in RUNNING.iter().enumerate() {
            let root = self.root_of(h);
            let mut cmd = launch(&root, &names[i], &[], &["bin/run.sh", "follow"]);
            // relman keeps the write end: the job ends when relman does, however.
            let child = cmd.stdin(Stdio::piped()).spawn()?;
            self.children.push(child);
        }
        let since = rfc(now - Duration::from_secs(4 * 60));
        let owner = format!(
            "{{\"by\":\"alice@ops-laptop\",\"action\":\"deploy\",\"since\":{}",
            to_json(&since)?
        );
        // Without flock on this machine there is no lock to show: the demo goes on.
        if let Ok(holder) = hold_lock(&self.root_of(2), &owner) {
            self.children.push(holder);
        }
        // The long jobs' start records are in before the console's first scan (unless
        // a job ended: launch refused to start it, e.g. without flock).
        let deadline = Instant::now() + Duration::from_secs(2);
        for (h, list) in RUNS.iter().enumerate() {
            let root = self.root_of(h);
            while ledger_lines(&root) < 2 * list.len() + 1
                && Instant::now() < deadline
                && matches!(
                    self.children.get_mut(h).map(Child::try_wait),
                    Some(Ok(None))
                )
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }

    /// Puts host `h`'s live release on probation the way `switch --probation` does
    /// (under the host lock, through the host's own scripts), so the console shows one.
    /// Best effort: without flock there is no lock, and the demo goes on without it.
    fn put_on_probation(&self, h: usize) {
        use crate::ops::link::{Expect, switch_locked_on_probation};
        let cfg = self.config();
        let Some(host) = cfg.hosts.get(h) else {
            return;
        };
        let Some(live) = LAYOUT
            .get(h)
            .and_then(|(_, live)| self.releases.get(*live))
            .and_then(|n| ReleaseName::parse(PREFIX, n).ok())
        else {
            return;
        };
        let spec = crate::model::ProbationSpec {
            duration: Duration::from_secs(30 * 60),
            max_failures: 1,
        };
        let done = crate::remote::open(&cfg, host)
            .map_err(crate::ops::OpError::Remote)
            .and_then(|t| {
                let lock = crate::ops::lock::acquire(t.as_ref(), host, Action::Switch)?;
                switch_locked_on_probation(
                    t.as_ref(),
                    host,
                    &lock,
                    &live,
                    Expect::Anything,
                    Action::Switch,
                    Some("demo: on probation"),
                    Some(&spec),
                )
            });
        if let Err(e) = done {
            tracing::warn!(host = %host.name, "demo: no probation: {e}");
        }
    }

    /// The demo's built-in config: its hosts, on this machine, each with its own root.
    pub fn config(&self) -> Config {
        let mut cfg = Config::local_demo(self.root_of(0));
        let first = cfg.hosts.first().cloned();
        cfg.hosts = HOSTS
            .iter()
            .enumerate()
            .map(|(h, name)| {
                let root = self.root_of(h).to_string_lossy().into_owned();
                let mut host = HostConfig::local(name, &root);
                if let Some(f) = &first {
                    host.user = f.user.clone();
                }
                host
            })
            .collect();
        cfg
    }

    /// The deploy root of the first host (absolute).
    pub fn root(&self) -> PathBuf {
        self.root_of(0)
    }

    /// The deploy root of host `h` (its index in [`HOSTS`]).
    pub fn root_of(&self, h: usize) -> PathBuf {
        self.dir
            .path()
            .join(HOSTS.get(h).copied().unwrap_or("none"))
    }

    /// The release names, oldest first (the first host has them all).
    pub fn releases(&self) -> &[String] {
        &self.releases
    }

    /// The pid of the first host's running job (in an older release), as its start
    /// record in the ledger says (the launcher's child); 0 if it is not recorded.
    pub fn job_pid(&self) -> u32 {
        let ledger = self.root_of(0).join(".relman/runs").join(format!(
            "{}.jsonl",
            self.releases.get(RUNNING[0]).map_or("", |n| n)
        ));
        fs::read_to_string(ledger)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event"] == "start")
            .filter_map(|v| v["pid"].as_u64())
            .filter_map(|p| u32::try_from(p).ok())
            .next()
            .unwrap_or(0)
    }
}

/// The first host's history: its deploys, a pin, and a rollback from the newest
/// release (which makes it bad); writes the pin.
fn first_host_history(
    state: &Path,
    names: &[String],
    made: &[SystemTime],
    now: SystemTime,
) -> io::Result<Vec<HistoryEntry>> {
    let mut history = deploys(names, made, &[0, 1, 2, 3, 4, 5]);
    let pin_created = now - Duration::from_secs(75 * 60);
    history.insert(
        5,
        HistoryEntry {
            at: rfc(pin_created),
            by: "ci@jenkins-2".into(),
            action: Action::Pin,
            from: None,
            to: Some(names[2].clone()),
            note: Some("pipeline nightly-4810".into()),
        },
    );
    history.push(HistoryEntry {
        at: rfc(now - Duration::from_secs(20 * 60)),
        by: "alice@ops-laptop".into(),
        action: Action::Rollback,
        from: Some(names[5].clone()),
        to: Some(names[4].clone()),
        note: Some("import job failing".into()),
    });
    // A pin on an older release, for a pipeline.
    let id = format!("p-{}-demo", &names[2][PREFIX.len()..]);
    let pin = Pin {
        id: id.clone(),
        release: names[2].clone(),
        by: "ci@jenkins-2".into(),
        created_at: rfc(pin_created),
        expires_at: rfc(now + Duration::from_secs(6 * 3600)),
        reason: "pipeline nightly-4810".into(),
    };
    fs::write(
        state.join("pins").join(format!("{id}.json")),
        to_json(&pin)? + "\n",
    )?;
    Ok(history)
}

impl Drop for Demo {
    fn drop(&mut self) {
        for child in &mut self.children {
            kill_group(child);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HostState, LinkState};
    use crate::remote::local::LocalTransport;

    #[test]
    fn builds_a_root_relman_can_read() {
        let demo = Demo::build().expect("demo");
        let root = demo.root();
        let names = demo.releases().to_vec();
        assert_eq!(names.len(), 6);
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| ReleaseName::parse(PREFIX, n).expect("valid name"));
        assert_eq!(sorted, names, "ages and names agree");
        assert_eq!(
            fs::read_link(root.join(LINK)).unwrap(),
            PathBuf::from(&names[4]),
            "relative link at the release rolled back to"
        );
        for (h, (have, _)) in LAYOUT.iter().enumerate() {
            for &i in *have {
                let dir = demo.root_of(h).join(&names[i]);
                let m: Manifest =
                    serde_json::from_slice(&fs::read(dir.join(".relman.json")).unwrap()).unwrap();
                assert_eq!(m.name, names[i]);
                for f in &m.files {
                    let data = fs::read(dir.join(&f.path)).unwrap();
                    assert_eq!(data.len() as u64, f.size);
                    assert_eq!(hex::encode(Sha256::digest(&data)), f.sha256);
                    let mode = fs::metadata(dir.join(&f.path))
                        .unwrap()
                        .permissions()
                        .mode();
                    assert_eq!(mode & 0o7777, f.mode, "{}", f.path);
                }
            }
        }
        let history = fs::read_to_string(root.join(".relman/history.jsonl")).unwrap();
        let entries: Vec<HistoryEntry> = history
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let bad = crate::plan::bad_releases(&entries);
        assert!(bad.contains(&names[5]), "{bad:?}");
        let pins: Vec<_> = fs::read_dir(root.join(".relman/pins")).unwrap().collect();
        assert_eq!(pins.len(), 1);
        // The job runs in an older release.
        let pid = demo.job_pid();
        let mut cwd = PathBuf::new();
        for _ in 0..200 {
            cwd = fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            if cwd.ends_with(&names[1]) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(cwd.ends_with(&names[1]), "{cwd:?}");
        drop(demo);
        assert!(!root.exists(), "the demo cleans up");
        // Killed and reaped: /proc/<pid> is gone (or reused by something else).
        let still = fs::read_link(format!("/proc/{pid}/cwd")).ok();
        assert_ne!(still, Some(cwd));
    }

    fn live(st: &HostState) -> String {
        match &st.link {
            LinkState::Release { name, .. } => name.to_string(),
            other => panic!("no live release: {other:?}"),
        }
    }

    fn release<'a>(st: &'a HostState, name: &str) -> &'a crate::model::Release {
        st.releases
            .iter()
            .find(|r| r.name.to_string() == name)
            .unwrap_or_else(|| panic!("{name} on {}", st.root))
    }

    /// Processes whose command line mentions `needle` (the demo's jobs and holder).
    fn processes_with(needle: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cwd = fs::read_link(e.path().join("cwd")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(needle)
                || cwd.to_string_lossy().contains(needle)
            {
                out.push(pid);
            }
        }
        out
    }

    /// The fleet a newcomer sees, through relman's own scan of each host: three hosts,
    /// drift (three different live releases, one host on an older one), a lock held by
    /// a live process, the failing release's real runs (failed, killed, ok), jobs
    /// running through the launcher; and nothing left behind when the demo ends.
    #[test]
    fn the_demo_is_a_fleet_with_drift_a_lock_and_a_failing_release() {
        let demo = Demo::build().expect("demo");
        let names = demo.releases().to_vec();
        let cfg = demo.config();
        let hosts: Vec<&str> = cfg.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(hosts, HOSTS);
        let states: Vec<HostState> = cfg
            .hosts
            .iter()
            .map(|h| crate::ops::scan::scan(&LocalTransport::new(&h.name), h).expect("scan"))
            .collect();
        let lives: Vec<String> = states.iter().map(live).collect();
        assert_eq!(
            lives,
            [names[4].clone(), names[5].clone(), names[3].clone()],
            "drift"
        );
        assert_eq!(states[2].releases.len(), 3, "an older host, fewer releases");

        // The lock, held by a real process.
        assert!(states[0].lock.is_none() && states[1].lock.is_none());
        let lock = states[2].lock.as_ref().expect("batch-3's lock is held");
        assert_eq!(
            (lock.by.as_str(), lock.action.as_str()),
            ("alice@ops-laptop", "deploy")
        );
        let holder = lock.pid.expect("the holder's pid");
        assert!(Path::new(&format!("/proc/{holder}")).exists());

        // The failing release: rolled back on batch-1, still live on batch-2.
        let h1 = &release(&states[0], &names[FAILING]).health;
        assert_eq!(
            (h1.runs, h1.ok, h1.failed, h1.killed),
            (3, 1, 2, 0),
            "{h1:?}"
        );
        let h2 = &release(&states[1], &names[FAILING]).health;
        assert_eq!(
            (h2.runs, h2.ok, h2.failed, h2.killed, h2.running),
            (6, 1, 3, 1, 1),
            "{h2:?}"
        );
        assert!(h2.last_failure.is_some(), "{h2:?}");
        // The failed import's output tail, kept for the details pane.
        let q = crate::ops::runs::RunsQuery {
            release: Some(names[FAILING].clone()),
            limit: 20,
            failed_only: true,
        };
        let h = &cfg.hosts[1];
        let failed = crate::ops::runs::runs(&LocalTransport::new(&h.name), h, &q).expect("runs");
        assert!(
            failed.iter().any(|r| r
                .tail
                .as_ref()
                .is_some_and(|t| t.iter().any(|l| l.contains("import: ERROR: column")))),
            "{failed:?}"
        );
        let before = &release(&states[1], &names[4]).health;
        assert_eq!((before.runs, before.ok, before.failures()), (3, 3, 0));
        // Jobs running through the launcher, on each host.
        for (h, &i) in RUNNING.iter().enumerate() {
            let r = release(&states[h], &names[i]);
            assert_eq!(r.health.running, 1, "{}: {:?}", HOSTS[h], r.health);
            assert!(!r.jobs.is_empty(), "{}: the job is seen", HOSTS[h]);
        }
        let dir = demo.dir.path().to_path_buf();
        let alive = processes_with(&dir.to_string_lossy());
        assert!(alive.len() >= 4, "jobs and the holder: {alive:?}");
        drop(demo);
        assert!(!dir.exists(), "the demo cleans up");
        let left = processes_with(&dir.to_string_lossy());
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}
