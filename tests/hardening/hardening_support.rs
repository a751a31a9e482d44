//! Shared by the hardening suites (`tests/hardening/hardening_*.rs`): a seeded random source,
//! the checks run after every fault (every release complete, the link at a complete
//! release, no lock left), relman runs with a deadline (a hang is a failure), and
//! dropping a host's SSH sessions by killing the sshd processes that serve them.
//!
//! Hosts of the test fleet share this machine, so "on the host" checks read the
//! deploy roots directly.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use relman::model::{Manifest, ReleaseName};
use sha2::{Digest, Sha256};

/// xorshift64*: reproducible from its seed, which every suite prints.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `RELMAN_HARDENING_SEED` if set, else from the clock. Prints the
    /// seed so a failing run can be replayed.
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("RELMAN_HARDENING_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("{what}: RELMAN_HARDENING_SEED={seed}");
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// An env var as a number, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// sha256 of a file, remembered per inode and change time (releases hold the same
/// files again and again, hard-linked): a file written to since is hashed again.
pub fn sha256_file(p: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    use std::sync::Mutex;
    type Key = (u64, u64, u64, i64, i64, i64, i64);
    static CACHE: Mutex<BTreeMap<Key, String>> = Mutex::new(BTreeMap::new());
    let m = fs::metadata(p)?;
    let key = (
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    );
    if let Some(h) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(h.clone());
    }
    let h = sha256_file_uncached(p)?;
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, h.clone());
    Ok(h)
}

fn sha256_file_uncached(p: &Path) -> std::io::Result<String> {
    let mut f = fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The files of releases made by hand (no manifest): release name → path → sha256.
pub type Handmade = BTreeMap<String, BTreeMap<String, String>>;

/// Writes a hand-made release `root/name` with `files` (path, content) and records it.
pub fn make_handmade(root: &Path, name: &str, files: &[(&str, &[u8])], book: &mut Handmade) {
    let dir = root.join(name);
    let mut m = BTreeMap::new();
    for (p, data) in files {
        let f = dir.join(p);
        fs::create_dir_all(f.parent().expect("a parent")).expect("mkdir");
        fs::write(&f, data).expect("write");
        m.insert(p.to_string(), sha256_hex(data));
    }
    book.insert(name.to_string(), m);
}

/// A release directory is complete: every file its manifest lists is there with the
/// listed size and sha256 (for a hand-made one: the files the test wrote).
pub fn verify_release(dir: &Path, handmade: &Handmade) -> Result<(), String> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: no name", dir.display()))?;
    let mpath = dir.join(".relman.json");
    if mpath.exists() {
        let text = fs::read_to_string(&mpath).map_err(|e| format!("{name}: manifest: {e}"))?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| format!("{name}: manifest unreadable ({e}): {text:?}"))?;
        if m.name != name {
            return Err(format!("{name}: its manifest names {}", m.name));
        }
        for f in &m.files {
            let p = dir.join(&f.path);
            let meta = fs::symlink_metadata(&p).map_err(|e| format!("{name}/{}: {e}", f.path))?;
            if !meta.is_file() {
                return Err(format!("{name}/{}: not a regular file", f.path));
            }
            if meta.len() != f.size {
                return Err(format!(
                    "{name}/{}: {} bytes, manifest says {}",
                    f.path,
                    meta.len(),
                    f.size
                ));
            }
            let h = sha256_file(&p).map_err(|e| format!("{name}/{}: {e}", f.path))?;
            if h != f.sha256 {
                return Err(format!(
                    "{name}/{}: sha256 differs from the manifest",
                    f.path
                ));
            }
        }
        return Ok(());
    }
    let want = handmade
        .get(name)
        .ok_or_else(|| format!("{name}: a release without a manifest that no one made by hand"))?;
    for (p, sha) in want {
        let h = sha256_file(&dir.join(p)).map_err(|e| format!("{name}/{p}: {e}"))?;
        if &h != sha {
            return Err(format!("{name}/{p}: content changed"));
        }
    }
    Ok(())
}

/// Names of the real release directories directly in `root`, sorted by release order.
pub fn release_dirs(root: &Path, prefix: &str) -> Vec<String> {
    let Ok(rd) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut v: Vec<ReleaseName> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| ReleaseName::parse(prefix, &n).ok())
        .collect();
    v.sort();
    v.into_iter().map(|n| n.as_str().to_string()).collect()
}

/// The release the link `root/link` points at (its relative or absolute target's
/// last component), or None when there is no link.
pub fn link_target(root: &Path, link: &str) -> Option<String> {
    let t = fs::read_link(root.join(link)).ok()?;
    Some(t.file_name()?.to_string_lossy().into_owned())
}

/// What the checks after a fault found on one host.
#[derive(Debug, Default, Clone)]
pub struct HostCheck {
    pub releases: usize,
    pub live: Option<String>,
    /// How long the lock stayed held after the fault (None: never seen held).
    pub lock_wait: Option<Duration>,
    /// How long a script of the interrupted operation still ran after the lock went.
    pub ops_wait: Option<Duration>,
}

/// Whether `.relman/lock` of `root` is free now (`flock -n` succeeds at once).
pub fn lock_free(root: &Path) -> bool {
    flock_free(&root.join(".relman/lock"))
}

/// Whether nobody holds an flock on `file` (absent: free).
pub fn flock_free(file: &Path) -> bool {
    if !file.exists() {
        return true;
    }
    Command::new("flock")
        .args(["-n", "-x"])
        .arg(file)
        .arg("true")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Waits until the lock of `root` is free; Err after `limit` (SPEC: 10 s).
pub fn wait_lock_free(root: &Path, limit: Duration) -> Result<Option<Duration>, String> {
    let t0 = Instant::now();
    if lock_free(root) {
        return Ok(None);
    }
    loop {
        std::thread::sleep(Duration::from_millis(25));
        if lock_free(root) {
            return Ok(Some(t0.elapsed()));
        }
        if t0.elapsed() > limit {
            return Err(format!(
                "{}: lock still held {:?} after the fault",
                root.display(),
                t0.elapsed()
            ));
        }
    }
}

/// The invariants after a fault, on one host's root (link `batch`, prefix `batch_`):
/// the lock goes within 10 s; every release directory is complete; the link points
/// at one of them (or is absent when `link_required` is false); nothing in staging
/// has a release's place.
pub fn check_host(
    root: &Path,
    handmade: &Handmade,
    link_required: bool,
) -> Result<HostCheck, String> {
    let lock_wait = wait_lock_free(root, Duration::from_secs(10))?;
    // Then what the next operation's lock.sh waits for: the last script of an
    // interrupted operation (a remote command outlives its session) to end.
    let ops = root.join(".relman/lock.ops");
    let t0 = Instant::now();
    let mut waited = false;
    while !flock_free(&ops) {
        waited = true;
        if t0.elapsed() > Duration::from_secs(30) {
            return Err("an interrupted operation's script still runs after 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let ops_wait = waited.then(|| t0.elapsed());
    // No temporary link of an interrupted switch is left behind.
    if let Ok(rd) = fs::read_dir(root) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(".relman-link.") {
                return Err(format!(
                    "a switch's temporary link was left: {:?}",
                    e.path()
                ));
            }
        }
    }
    let rels = release_dirs(root, "batch_");
    for r in &rels {
        let p = root.join(r);
        if fs::symlink_metadata(&p)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
        {
            continue;
        }
        verify_release(&p, handmade)?;
    }
    let live = link_target(root, "batch");
    match &live {
        Some(l) => {
            if !rels.contains(l) {
                return Err(format!(
                    "the link points at {l:?}, which is not a release dir"
                ));
            }
            let target = fs::read_link(root.join("batch")).map_err(|e| e.to_string())?;
            if target.is_absolute() || target.components().count() != 1 {
                return Err(format!("the link target {target:?} is not a plain name"));
            }
        }
        None if link_required => return Err("the link is gone".into()),
        None => {}
    }
    Ok(HostCheck {
        releases: rels.len(),
        live,
        lock_wait,
        ops_wait,
    })
}

/// The releases `relman list --json` shows for host index `i` must be exactly the
/// release directories of its root (nothing from staging, nothing missing).
pub fn check_listing(list: &serde_json::Value, i: usize, root: &Path) -> Result<(), String> {
    let h = &list["hosts"][i];
    if h["ok"] != true {
        return Err(format!("list failed for host {i}: {}", h["error"]));
    }
    let mut shown: Vec<String> = h["releases"]
        .as_array()
        .ok_or("no releases array")?
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("?").to_string())
        .collect();
    shown.reverse();
    let dirs = release_dirs(root, "batch_");
    if shown != dirs {
        return Err(format!("listed {shown:?} but the root holds {dirs:?}"));
    }
    Ok(())
}

/// Runs a command to its end or kills it after `limit` (then Err: a hang).
pub fn output_within(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    wait_within(child, limit).map_err(|e| format!("{cmd:?}: {e}"))
}

/// Waits for a spawned child (stdout/stderr piped) for at most `limit`.
pub fn wait_within(mut child: Child, limit: Duration) -> Result<Output, String> {
    // Drain the pipes on threads so a chatty child can't block on a full pipe.
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let to = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let te = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {limit:?}: killed (hang)"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        status,
        stdout: to.join().unwrap_or_default(),
        stderr: te.join().unwrap_or_default(),
    })
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

/// The listening sshd of the fleet host whose directory is `host_dir` (its command
/// line names `<host_dir>/sshd_config`, its parent is this test process).
pub fn sshd_listener(host_dir: &Path) -> Option<u32> {
    let cfg = host_dir.join("sshd_config").display().to_string();
    let me = std::process::id();
    crate::support::processes()
        .into_iter()
        .find(|(_, ppid, cmd)| *ppid == me && cmd.contains(&cfg))
        .map(|(pid, _, _)| pid)
}

/// Drops every SSH connection of a fleet host the hard way: SIGKILL to the sshd
/// processes serving them (every `sshd…` process under the listener: a non-root
/// user's session has two, the privileged monitor and the user's own process that
/// holds the connection). The commands they ran are left orphaned, as after a
/// network loss. Returns how many session processes were killed.
pub fn drop_sessions(host_dir: &Path) -> usize {
    let Some(listener) = sshd_listener(host_dir) else {
        return 0;
    };
    let procs = crate::support::processes();
    let mut tree = vec![listener];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(
            procs
                .iter()
                .filter(|(_, ppid, cmd)| *ppid == p && cmd.starts_with("sshd"))
                .map(|(pid, _, _)| *pid),
        );
        i += 1;
    }
    let kids: Vec<u32> = tree[1..].to_vec();
    for &k in &kids {
        // SAFETY: a plain syscall on a pid under our own sshd.
        unsafe {
            libc::kill(k as libc::pid_t, libc::SIGKILL);
        }
    }
    kids.len()
}

/// SIGKILL to one process we started.
pub fn sigkill(child: &mut Child) {
    // SAFETY: a plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
}

/// A snapshot of a directory tree (paths → kind, size, content hash or link target),
/// to prove a canary outside the deploy root was not touched.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, p: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(m) = fs::symlink_metadata(p) else {
            return;
        };
        let rel = p.strip_prefix(base).unwrap_or(p).to_path_buf();
        let ft = m.file_type();
        if ft.is_symlink() {
            let t = fs::read_link(p)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            out.insert(rel, format!("link {t}"));
        } else if ft.is_dir() {
            out.insert(rel, "dir".into());
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    walk(base, &e.path(), out);
                }
            }
        } else if ft.is_file() {
            let h = sha256_file(p).unwrap_or_default();
            out.insert(rel, format!("file {} {h}", m.len()));
        } else if ft.is_fifo() || ft.is_socket() {
            out.insert(rel, "special".into());
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Every path under `dir` whose name contains `pwned` (the marker hostile input
/// tries to create).
pub fn find_pwned(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_keys()
        .filter(|p| p.to_string_lossy().contains("pwned"))
        .map(|p| dir.join(p))
        .collect()
}

/// Writes a release as relman would have made it (files + a valid `.relman.json`).
pub fn make_relman_release(root: &Path, name: &str, files: &[(&str, &[u8])]) {
    let dir = root.join(name);
    let mut listed = Vec::new();
    for (p, data) in files {
        let f = dir.join(p);
        fs::create_dir_all(f.parent().expect("a parent")).expect("mkdir");
        fs::write(&f, data).expect("write");
        listed.push(relman::model::ManifestFile {
            path: p.to_string(),
            size: data.len() as u64,
            sha256: sha256_hex(data),
            mode: 0o644,
        });
    }
    let m = Manifest {
        name: name.to_string(),
        created_at: "2026-01-01T00:00:00Z".into(),
        created_by: "test@hardening".into(),
        message: String::new(),
        files: listed,
    };
    fs::write(
        dir.join(".relman.json"),
        serde_json::to_string(&m).expect("json"),
    )
    .expect("manifest");
}

/// A relman config with one host `local` (address "local") whose root is `root`.
pub fn local_config(dir: &Path, root: &Path) -> PathBuf {
    let p = dir.join("relman-local.toml");
    fs::write(
        &p,
        format!(
            "[[hosts]]\nname = \"local\"\naddress = \"local\"\nroot = \"{}\"\n",
            root.display()
        ),
    )
    .expect("config");
    p
}

/// The relman binary with `config`, a clean environment for a local host.
pub fn relman_local(config: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relman"));
    c.env("RELMAN_CONFIG", config)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .current_dir(home);
    c
}

/// Sends `sig` to a child process (SIGSTOP/SIGCONT to freeze and thaw relman).
pub fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: a plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}
