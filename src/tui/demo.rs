//! `relman --demo`: a real deploy root in a temporary directory, so the console can be
//! tried without SSH or a config. Six releases (each with `app.jar`, `lib/*.jar`,
//! `bin/run.sh` and a `.relman.json` manifest with real sizes, modes and sha256), the
//! link, a history with deploys and a rollback (so one release is bad), a pin, and a
//! real running job: a `sleep` whose working directory is an older release. Dropping
//! the `Demo` kills the job and deletes the directory.

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::model::{Action, HistoryEntry, Manifest, ManifestFile, Pin, ReleaseName};

/// Link and prefix of the demo root (relman's defaults).
pub const LINK: &str = "batch";
pub const PREFIX: &str = "batch_";

/// A demo deploy root and its running job.
pub struct Demo {
    root: TempDir,
    job: Child,
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

fn make_release(
    root: &Path,
    name: &str,
    made: SystemTime,
    message: &str,
    i: usize,
) -> io::Result<()> {
    let dir = root.join(name);
    fs::create_dir(&dir)?;
    let run_sh = "#!/bin/sh\n# Started by cron every minute: runs one Spring Batch job.\n\
                  cd \"$(dirname \"$0\")/..\" && exec java -jar app.jar \"$@\"\n";
    let mut files = vec![
        write_file(
            &dir,
            "app.jar",
            &filler(&format!("{name}/app"), 96 * 1024 + i * 4096),
            0o644,
        )?,
        write_file(&dir, "bin/run.sh", run_sh.as_bytes(), 0o755)?,
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

impl Demo {
    /// Builds the demo root under a new temporary directory and starts its job.
    pub fn build() -> io::Result<Demo> {
        let tmp = tempfile::Builder::new().prefix("relman-demo-").tempdir()?;
        let root = tmp.path().join("deploy");
        fs::create_dir(&root)?;
        let now = SystemTime::now();
        // Whole seconds, and names in the same UTC second order as the ages.
        let made: Vec<SystemTime> = AGES.iter().map(|a| now - Duration::from_secs(*a)).collect();
        let names: Vec<String> = made
            .iter()
            .map(|t| ReleaseName::new(PREFIX, *t, 0).to_string())
            .collect();
        for (i, name) in names.iter().enumerate() {
            make_release(&root, name, made[i], MESSAGES[i], i)?;
        }
        // Something that is not a release: counted as foreign, never touched.
        fs::write(root.join("README.ops"), "batch releases; see relman\n")?;

        // History: six deploys, then a rollback from the newest: it is bad.
        let state = root.join(".relman");
        fs::create_dir_all(state.join("pins"))?;
        let mut history = Vec::new();
        for (i, name) in names.iter().enumerate() {
            history.push(HistoryEntry {
                at: rfc(made[i] + Duration::from_secs(20)),
                by: "ci@jenkins-2".into(),
                action: Action::Deploy,
                from: i.checked_sub(1).map(|p| names[p].clone()),
                to: Some(name.clone()),
                note: Some(MESSAGES[i].into()),
            });
        }
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
        let mut text = String::new();
        for e in &history {
            text.push_str(&to_json(e)?);
            text.push('\n');
        }
        fs::write(state.join("history.jsonl"), text)?;

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

        // The link, relative, at the release the rollback went back to.
        symlink(&names[4], root.join(LINK))?;

        // A real job running from an older release.
        let job = spawn_job(&root.join(&names[1]))?;
        Ok(Demo {
            root: tmp,
            job,
            releases: names,
        })
    }

    /// The deploy root (absolute).
    pub fn root(&self) -> PathBuf {
        self.root.path().join("deploy")
    }

    /// The release names, oldest first.
    pub fn releases(&self) -> &[String] {
        &self.releases
    }

    /// The running job's pid.
    pub fn job_pid(&self) -> u32 {
        self.job.id()
    }
}

fn spawn_job(dir: &Path) -> io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("cd \"$1\" && exec sleep 86400")
        .arg("relman-demo-job")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn()
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.job.kill();
        let _ = self.job.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for n in &names {
            let m: Manifest =
                serde_json::from_slice(&fs::read(root.join(n).join(".relman.json")).unwrap())
                    .unwrap();
            assert_eq!(&m.name, n);
            for f in &m.files {
                let data = fs::read(root.join(n).join(&f.path)).unwrap();
                assert_eq!(data.len() as u64, f.size);
                assert_eq!(hex::encode(Sha256::digest(&data)), f.sha256);
                let mode = fs::metadata(root.join(n).join(&f.path))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o7777, f.mode, "{}", f.path);
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
}
