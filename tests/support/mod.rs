//! The test fleet: real OpenSSH `sshd` processes on 127.0.0.1, one per host, each
//! with its own ed25519 host key and deploy root, a client key they all accept, a
//! known_hosts file and a relman config for them. Shared by the test binaries
//! (`tests/<binary>/main.rs`) as `#[macro_use] #[path = "../support/mod.rs"] mod support;`;
//! their modules `use crate::support;`.
//!
//! Hosts are indexed from 0: host `i` is named `h{i+1}` (`fleet.name(0) == "h1"`).
//! Everything lives in one temporary directory, removed (and every sshd killed)
//! when the `Fleet` is dropped.
//!
//! `Fleet::start_with` starts hosts with other options (listen address, log level:
//! e.g. a target only a jump host reaches, a bastion whose log shows forwardings);
//! `latency` puts a delaying TCP proxy in front of hosts.
//! `fixture` (a fixed fleet at a fixed time) and `svg` (a console buffer as a picture)
//! serve the console's snapshot tests and the README image.

#![allow(dead_code)]

pub mod cli;
pub mod fixture;
pub mod latency;
pub mod scenarios;
pub mod screen;
pub mod svg;
pub mod tmux;

use std::fmt::Write as _;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relman::config::{Address, Config, Env, HostConfig};

const SSHD: &str = "/usr/sbin/sshd";

/// A child process killed (and reaped) when dropped: a test's job or agent.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The entries of a deploy root, sorted, without `.relman`.
pub fn root_entries(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != ".relman")
        .collect();
    v.sort();
    v
}

/// Whether someone holds the launcher lock of release `name` (shared or not).
pub fn launcher_lock_held(root: &Path, name: &str) -> bool {
    // The launcher holds a shared flock on the release directory itself.
    let d = root.join(name);
    d.is_dir()
        && !Command::new("flock")
            .args(["-n", "-x"])
            .arg(&d)
            .arg("true")
            .status()
            .unwrap()
            .success()
}

/// A prune report as (release, "verdict: reasons") rows.
pub fn prune_table(rep: &relman::ops::prune::PruneReport) -> Vec<(String, String)> {
    rep.rows()
        .into_iter()
        .map(|x| {
            (
                x.name.clone(),
                format!("{}: {}", x.verdict, x.reasons.join(", ")),
            )
        })
        .collect()
}

/// The name the test harness gives test `name` of the module at `module_path`
/// (`module_path!()`, e.g. `fleet::cli_link`): without the binary's crate name,
/// as `--exact` wants it (`cli_link::name`). For tests that re-run their own binary.
pub fn test_path(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_, inner)) => format!("{inner}::{name}"),
        None => name.to_string(),
    }
}

/// Tools replaced on PATH for one scenario: `#!/bin/sh` scripts in a directory of
/// their own, put first on the PATH of a child that re-runs one test alone (PATH is
/// process-wide and a binary's tests share a process). The scenario test starts
/// with `if std::env::var_os(child_env).is_some() { return scenario(); }`.
pub struct FakeTools {
    dir: tempfile::TempDir,
}

impl FakeTools {
    pub fn new() -> FakeTools {
        FakeTools {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// Where the real `name` is (`/usr/bin` or `/bin`), for a fake that `exec`s it.
    pub fn real(name: &str) -> String {
        ["/usr/bin", "/bin"]
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| panic!("no {name} in /usr/bin or /bin"))
    }

    /// Adds the fake `name`: `body` after a `#!/bin/sh` line.
    pub fn add(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.path().join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}")).expect("write the fake tool");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod the fake tool");
    }

    /// Re-runs test `name` of module `module_path` alone, with `child_env` set and
    /// the fakes first on PATH; panics with the child's output unless it passed.
    pub fn rerun(&self, module_path: &str, name: &str, child_env: &str) {
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "--exact",
                &test_path(module_path, name),
                "--test-threads=1",
                "--nocapture",
            ])
            .env(child_env, "1")
            .env("PATH", path)
            .output()
            .expect("run the test binary");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "the scenario failed:\n{said}");
        assert!(
            said.contains("1 passed"),
            "the scenario did not run:\n{said}"
        );
    }
}

/// Polls `f` every 20 ms until it returns true (then true) or `timeout` passes
/// (then false).
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a program, panics with its stderr if it fails, returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Generates an unencrypted ed25519 key pair at `path` (and `path.pub`).
pub fn keygen(path: &Path, comment: &str) {
    if Command::new("ssh-keygen")
        .arg("-?")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        panic!("cannot run ssh-keygen — install openssh-client (or run tests/run.sh as root)");
    }
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path));
}

/// The fingerprint `ssh-keygen -lf` prints for a public key file (`SHA256:...`).
pub fn fingerprint(pub_file: &Path) -> String {
    let out = run(Command::new("ssh-keygen").arg("-lf").arg(pub_file));
    out.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected ssh-keygen -lf output: {out}"))
        .to_string()
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A port nobody listens on right now (it may be taken before we bind it: callers retry).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// How one host's sshd is started (`HostOptions::default()` is what `Fleet::start` uses).
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// The address sshd listens on (any of 127.0.0.0/8), also the host's address in
    /// the config and known_hosts.
    pub listen: String,
    /// sshd's `LogLevel`: `DEBUG` logs each direct-tcpip forwarding a jump host makes.
    pub log_level: String,
    /// The SSH (deploy) user relman logs in as; `None`: the user running the tests.
    /// The users of `tests/setup-hosts.sh` are production's: [`DEPLOY`] (non-root,
    /// dash), [`UMASK`] (umask 077), [`BUSYBOX`] (busybox applets on PATH).
    pub user: Option<String>,
    /// Extra lines written into this host's `[[hosts]]` entry of the config (e.g.
    /// `job_users = ["relman-deploy"]`), verbatim, each ending in a newline.
    pub extra_toml: String,
    /// sshd's `MaxSessions`: channels one connection may have open at once.
    pub max_sessions: u32,
}

/// The user the tests run as, root (tests/run.sh runs them as root): `Fleet::start_as(n,
/// ROOT)` is the old root fleet.
pub const ROOT: &str = "root";
/// A non-root deploy user whose login shell is dash (made by `tests/setup-hosts.sh`).
pub const DEPLOY: &str = "relman-deploy";
/// Another user who runs batch jobs (not the deploy user).
pub const JOBS: &str = "relman-jobs";
/// A non-root deploy user whose umask is 077.
pub const UMASK: &str = "relman-umask";
/// A non-root deploy user whose tools are busybox applets (and util-linux's flock).
pub const BUSYBOX: &str = "relman-bbox";

/// (uid, gid, home) of a local user; panics naming the setup script when the user
/// does not exist.
pub fn user_ids(user: &str) -> (u32, u32, PathBuf) {
    let out = Command::new("getent")
        .args(["passwd", user])
        .output()
        .unwrap_or_else(|e| panic!("cannot run getent: {e}"));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let f: Vec<&str> = line.trim().split(':').collect();
    assert!(
        out.status.success() && f.len() >= 7,
        "the test user {user} does not exist: run `sh tests/setup-hosts.sh` as root \
         (or the README's test command, tests/run.sh, which runs it)"
    );
    (
        f[2].parse().expect("uid"),
        f[3].parse().expect("gid"),
        PathBuf::from(f[5]),
    )
}

/// A command that runs as `user` (the tests run as root), with that user's HOME.
pub fn command_as(user: &str, program: &str) -> Command {
    use std::os::unix::process::CommandExt as _;
    let (uid, gid, home) = user_ids(user);
    let mut c = Command::new(program);
    if current_user() != user {
        c.uid(uid).gid(gid);
    }
    c.env("HOME", home).env("USER", user).env("LOGNAME", user);
    c
}

/// `chown -R user:` of `path` (the tests run as root).
pub fn chown_to(path: &Path, user: &str) {
    run(Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:"))
        .arg(path));
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            listen: "127.0.0.1".to_string(),
            log_level: "VERBOSE".to_string(),
            max_sessions: 100,
            user: None,
            extra_toml: String::new(),
        }
    }
}

/// The extra `[[hosts]]` lines ([`HostOptions::extra_toml`]) of every host that
/// [`Fleet::start_as`] starts for deploy user `user`: the one place to give every
/// fleet of the suites a host setting (e.g. which users' jobs relman may inspect).
///
/// A non-root deploy user cannot inspect root's processes (sshd, cron...), and
/// by default every process relman cannot inspect keeps every release from prune
/// (issue 12.1). The suites' jobs run as the deploy user or through `launch` (whose
/// hold protects them), so these fleets say so: `job_users = []`. The jobs of a
/// user relman cannot see are `tests/fleet/fixes_jobs.rs`'s business.
pub fn host_extra_toml(user: &str) -> String {
    if user == ROOT {
        String::new()
    } else {
        "job_users = []\n".to_string()
    }
}

/// The fleet user a scenario runs as, by short name: `root`, `deploy`, `umask`,
/// `busybox` ([`ROOT`], [`DEPLOY`], [`UMASK`], [`BUSYBOX`]).
#[macro_export]
macro_rules! fleet_user {
    (root) => {
        $crate::support::ROOT
    };
    (deploy) => {
        $crate::support::DEPLOY
    };
    (umask) => {
        $crate::support::UMASK
    };
    (busybox) => {
        $crate::support::BUSYBOX
    };
}

/// One `#[test]` per fleet user for a scenario `fn name(user: &str)`: a module `name`
/// holding the tests `name::root`, `name::deploy`, `name::umask`, `name::busybox` (or
/// only the users listed: `for_users!(name: root, deploy)`). `cargo test name` runs
/// them all, `cargo test ::deploy` every scenario as the non-root deploy user.
#[macro_export]
macro_rules! for_users {
    ($scenario:ident) => {
        $crate::for_users!($scenario: root, deploy, umask, busybox);
    };
    ($scenario:ident: $($who:ident),+ $(,)?) => {
        mod $scenario {
            $(
                #[test]
                fn $who() {
                    super::$scenario($crate::fleet_user!($who))
                }
            )+
        }
    };
}

/// The user the tests run as (the fleet's SSH user).
fn current_user() -> String {
    run(Command::new("id").arg("-un")).trim().to_string()
}

/// (pid, ppid, command line with NULs as spaces) of every process, from /proc.
pub fn processes() -> Vec<(u32, u32, String)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(e.path().join("stat")).ok()?;
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let after = &stat[stat.rfind(')')? + 1..];
        let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
        let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
        Some((pid, ppid, String::from_utf8_lossy(&cmd).replace('\0', " ")))
    })
    .collect()
}

/// Parent pid of every process.
fn process_parents() -> Vec<(u32, u32)> {
    processes()
        .into_iter()
        .map(|(pid, ppid, _)| (pid, ppid))
        .collect()
}

/// `pid` and all its descendants.
fn process_tree(pid: u32) -> Vec<u32> {
    let parents = process_parents();
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

fn kill(pid: u32, sig: libc::c_int) {
    // SAFETY: plain syscall on a pid we started (or its descendants).
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// One sshd of the fleet.
pub struct FleetHost {
    pub name: String,
    pub port: u16,
    /// The address sshd listens on.
    pub listen: String,
    log_level: String,
    max_sessions: u32,
    /// Extra lines of this host's `[[hosts]]` entry ([`HostOptions::extra_toml`]).
    extra_toml: String,
    /// The SSH user relman logs in as on this host.
    pub user: String,
    /// `<fleetdir>/hN`: host key, sshd config and log live here.
    pub dir: PathBuf,
    /// The deploy root, `<fleetdir>/hN/deploy` (not created).
    pub root: PathBuf,
    pub host_key: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl FleetHost {
    /// `SetEnv SHLVL=1`: Debian's bash sources ~/.bashrc for commands run by sshd
    /// only at shell level 1; this machine's root .bashrc (pyenv) costs ~350 ms per
    /// exec, which would swamp every test. relman itself is unchanged by it.
    /// `BENCH_HEAVY_RC=1` (benchmarks only) leaves it out, so a login shell pays its
    /// rc file as on a host with a `pyenv` line in `.bashrc` (root's, here).
    fn write_config(&self, authorized_keys: &Path) {
        let shlvl = if std::env::var_os("BENCH_HEAVY_RC").is_some_and(|v| v == "1") {
            ""
        } else {
            "SetEnv SHLVL=1\n"
        };
        let text = format!(
            "Port {port}\n\
             ListenAddress {listen}\n\
             HostKey {key}\n\
             PidFile none\n\
             UsePAM no\n\
             StrictModes no\n\
             PermitRootLogin yes\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             AuthorizedKeysFile {ak}\n\
             Subsystem sftp internal-sftp\n\
             LogLevel {log_level}\n\
             UseDNS no\n\
             PrintMotd no\n\
             MaxStartups 200\n\
             MaxSessions {max_sessions}\n\
             {shlvl}",
            port = self.port,
            listen = self.listen,
            log_level = self.log_level,
            max_sessions = self.max_sessions,
            key = self.host_key.display(),
            ak = authorized_keys.display(),
        );
        fs::write(&self.config, text).expect("write sshd_config");
    }

    /// Starts sshd on `self.port`; Err(log) if it did not come up.
    fn try_start(&mut self, authorized_keys: &Path) -> Result<(), String> {
        self.write_config(authorized_keys);
        let before = fs::read_to_string(&self.log).unwrap_or_default().len();
        let stderr = fs::File::create(self.dir.join("sshd.stderr")).expect("sshd.stderr");
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(&self.config)
            .arg("-E")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                format!("cannot start {SSHD}: {e} — install openssh-server (or run tests/run.sh as root)")
            })?;
        let listening = format!("Server listening on {} port {}", self.listen, self.port);
        let mut exited = false;
        let up = wait_until(Duration::from_secs(20), || {
            if let Ok(Some(_)) = child.try_wait() {
                exited = true;
                return true;
            }
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            log.get(before..).is_some_and(|l| l.contains(&listening))
                && TcpStream::connect((self.listen.as_str(), self.port)).is_ok()
        });
        if up && !exited {
            self.child = Some(child);
            return Ok(());
        }
        let _ = child.kill();
        let _ = child.wait();
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let err = fs::read_to_string(self.dir.join("sshd.stderr")).unwrap_or_default();
        Err(format!(
            "{}: sshd on port {} did not start:\n{}{}",
            self.name,
            self.port,
            log.get(before..).unwrap_or(""),
            err
        ))
    }

    /// Kills the sshd and every process it started (sessions, their commands).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let tree = process_tree(child.id());
            for pid in tree {
                kill(pid, libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

/// n sshd hosts on 127.0.0.1 plus the client side (key, known_hosts, relman config).
pub struct Fleet {
    dir: tempfile::TempDir,
    hosts: Vec<FleetHost>,
    user: String,
    client_key: PathBuf,
    authorized_keys: PathBuf,
    known_hosts: PathBuf,
    config_path: PathBuf,
    home: PathBuf,
}

impl Fleet {
    /// Starts `n` sshd hosts `h1..hn` and writes known_hosts and relman.toml.
    pub fn start(n: usize) -> Fleet {
        Fleet::start_with(&vec![HostOptions::default(); n])
    }

    /// Starts `n` hosts whose SSH (deploy) user is `user` (e.g. [`DEPLOY`]).
    pub fn start_as(n: usize, user: &str) -> Fleet {
        let o = HostOptions {
            user: Some(user.to_string()),
            extra_toml: host_extra_toml(user),
            ..HostOptions::default()
        };
        Fleet::start_with(&vec![o; n])
    }

    /// Starts one sshd host per entry of `opts` (`h1..hn`), then writes known_hosts
    /// and relman.toml.
    pub fn start_with(opts: &[HostOptions]) -> Fleet {
        let dir = tempfile::Builder::new()
            .prefix("relman-fleet-")
            .tempdir()
            .expect("tempdir");
        let base = dir.path().to_path_buf();
        let home = base.join("home");
        fs::create_dir_all(home.join(".ssh")).expect("home/.ssh");
        let client_key = base.join("client_key");
        keygen(&client_key, "relman-test-client");
        let authorized_keys = base.join("authorized_keys");
        fs::copy(client_key.with_extension("pub"), &authorized_keys).expect("authorized_keys");
        {
            // sshd reads authorized_keys as the logging-in user: other users must be
            // able to reach it (the tempdir is 0700).
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).expect("chmod fleet");
            fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644))
                .expect("chmod authorized_keys");
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let _ = fs::create_dir_all("/run/sshd");
        }
        let mut fleet = Fleet {
            hosts: Vec::new(),
            user: current_user(),
            known_hosts: home.join(".ssh").join("known_hosts"),
            config_path: base.join("relman.toml"),
            client_key,
            authorized_keys,
            home,
            dir,
        };
        for (i, o) in opts.iter().enumerate() {
            let name = format!("h{}", i + 1);
            let hdir = base.join(&name);
            fs::create_dir_all(&hdir).expect("host dir");
            let host_key = hdir.join("ssh_host_ed25519_key");
            keygen(&host_key, &name);
            let user = o.user.clone().unwrap_or_else(|| fleet.user.clone());
            if user != fleet.user {
                // The deploy user owns the host's directory (its root is created
                // there); the host key stays root's.
                user_ids(&user);
                // SAFETY: geteuid has no preconditions.
                assert!(
                    unsafe { libc::geteuid() } == 0,
                    "a fleet whose deploy user is {user} needs the tests to run as root \
                     (they run as {}): run tests/run.sh",
                    fleet.user
                );
                run(Command::new("chown").arg(format!("{user}:")).arg(&hdir));
            }
            let mut host = FleetHost {
                name,
                port: 0,
                listen: o.listen.clone(),
                log_level: o.log_level.clone(),
                max_sessions: o.max_sessions,
                extra_toml: o.extra_toml.clone(),
                user,
                root: hdir.join("deploy"),
                config: hdir.join("sshd_config"),
                log: hdir.join("sshd.log"),
                host_key,
                dir: hdir,
                child: None,
            };
            let mut last = String::new();
            for _ in 0..20 {
                host.port = free_port();
                match host.try_start(&fleet.authorized_keys) {
                    Ok(()) => break,
                    Err(e) => last = e,
                }
            }
            assert!(host.child.is_some(), "{last}");
            fleet.hosts.push(host);
        }
        fs::write(&fleet.known_hosts, fleet.known_hosts_text()).expect("known_hosts");
        fs::write(&fleet.config_path, fleet.config_toml()).expect("relman.toml");
        fleet
    }

    /// known_hosts lines for every host (`[127.0.0.1]:port type key`).
    pub fn known_hosts_text(&self) -> String {
        self.hosts
            .iter()
            .map(|h| self.known_hosts_line(h))
            .collect()
    }

    fn known_hosts_line(&self, h: &FleetHost) -> String {
        let public = fs::read_to_string(h.host_key.with_extension("pub")).expect("host key .pub");
        let mut f = public.split_whitespace();
        let (t, k) = (f.next().expect("key type"), f.next().expect("key"));
        format!("[{}]:{} {t} {k}\n", h.listen, h.port)
    }

    /// A known_hosts line for host i's key reached at 127.0.0.1:`port` (a proxy in
    /// front of it).
    pub fn known_hosts_line_at(&self, i: usize, port: u16) -> String {
        let h = &self.hosts[i];
        let public = fs::read_to_string(h.host_key.with_extension("pub")).expect("host key .pub");
        let mut f = public.split_whitespace();
        let (t, k) = (f.next().expect("key type"), f.next().expect("key"));
        format!("[127.0.0.1]:{port} {t} {k}\n")
    }

    /// The relman config for the fleet, as written to `config_path()`.
    pub fn config_toml(&self) -> String {
        let ports: Vec<(String, u16)> = self
            .hosts
            .iter()
            .map(|h| (h.listen.clone(), h.port))
            .collect();
        self.config_toml_at(&ports)
    }

    /// The relman config with host i reached at `addrs[i]` (address, port) instead,
    /// e.g. a latency proxy's port on 127.0.0.1.
    pub fn config_toml_at(&self, addrs: &[(String, u16)]) -> String {
        let mut s = format!(
            "connect_timeout = \"3s\"\nknown_hosts = {}\n",
            toml_str(&self.known_hosts.display().to_string())
        );
        for (h, (addr, port)) in self.hosts.iter().zip(addrs) {
            let _ = write!(
                s,
                "\n[[hosts]]\nname = {}\naddress = {}\nport = {}\nuser = {}\n\
                 identity = {}\nroot = {}\ngroups = [\"fleet\"]\n",
                toml_str(&h.name),
                toml_str(addr),
                port,
                toml_str(&h.user),
                toml_str(&self.client_key.display().to_string()),
                toml_str(&h.root.display().to_string()),
            );
            s.push_str(&h.extra_toml);
            if !h.extra_toml.is_empty() && !h.extra_toml.ends_with('\n') {
                s.push('\n');
            }
        }
        s
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }
    pub fn host(&self, i: usize) -> &FleetHost {
        &self.hosts[i]
    }
    /// `h{i+1}`.
    pub fn name(&self, i: usize) -> &str {
        &self.hosts[i].name
    }
    pub fn port(&self, i: usize) -> u16 {
        self.hosts[i].port
    }
    /// Host i's deploy root (absolute, not created).
    pub fn root(&self, i: usize) -> &Path {
        &self.hosts[i].root
    }
    /// Host i's public host key file.
    pub fn host_key_pub(&self, i: usize) -> PathBuf {
        self.hosts[i].host_key.with_extension("pub")
    }
    /// `ssh-keygen -lf` of host i's key: `SHA256:...`.
    pub fn host_fingerprint(&self, i: usize) -> String {
        fingerprint(&self.host_key_pub(i))
    }
    /// The fleet's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// `<fleetdir>/home`, the HOME of `relman()`.
    pub fn home(&self) -> &Path {
        &self.home
    }
    /// The user running the tests (relman's local user).
    pub fn user(&self) -> &str {
        &self.user
    }
    /// Host i's SSH (deploy) user.
    pub fn host_user(&self, i: usize) -> &str {
        &self.hosts[i].user
    }
    /// The client private key every host accepts.
    pub fn client_key(&self) -> &Path {
        &self.client_key
    }
    /// `<fleetdir>/home/.ssh/known_hosts`, listing every host's key.
    pub fn known_hosts(&self) -> &Path {
        &self.known_hosts
    }
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }
    /// Host i's sshd log so far.
    pub fn log(&self, i: usize) -> String {
        fs::read_to_string(&self.hosts[i].log).unwrap_or_default()
    }

    fn count_log(&self, i: usize, needle: &str) -> usize {
        self.log(i).lines().filter(|l| l.contains(needle)).count()
    }
    /// Commands host i has started (exec requests), over all its runs.
    pub fn exec_count(&self, i: usize) -> usize {
        self.count_log(i, "Starting session: command")
    }
    /// Successful logins on host i, over all its runs.
    pub fn auth_count(&self, i: usize) -> usize {
        self.count_log(i, "Accepted publickey")
    }

    /// Stops host i: kills its sshd and every session and command under it.
    pub fn stop(&mut self, i: usize) {
        self.hosts[i].stop();
    }

    /// Stops host i if it runs, then starts it again on the same port with the same key.
    pub fn restart(&mut self, i: usize) {
        self.hosts[i].stop();
        let ak = self.authorized_keys.clone();
        let host = &mut self.hosts[i];
        let mut last = String::new();
        for _ in 0..50 {
            match host.try_start(&ak) {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{last}");
    }

    /// Whether host i's sshd is running.
    pub fn is_running(&mut self, i: usize) -> bool {
        match self.hosts[i].child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The relman binary with the fleet's config and home, no agent, no colour.
    pub fn relman(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_relman"));
        c.env("RELMAN_CONFIG", &self.config_path)
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_CACHE_HOME")
            .current_dir(self.dir.path());
        c
    }

    /// Host i as the loader would build it from `config_toml()`.
    pub fn host_config(&self, i: usize) -> HostConfig {
        let h = &self.hosts[i];
        HostConfig {
            name: h.name.clone(),
            address: Address::Ssh {
                host: h.listen.clone(),
            },
            port: h.port,
            user: h.user.clone(),
            identities: vec![self.client_key.clone()],
            jump: None,
            groups: vec!["fleet".to_string()],
            root: h.root.display().to_string(),
            link: "batch".to_string(),
            prefix: "batch_".to_string(),
            job_scan: Default::default(),
            ssh: Default::default(),
        }
    }

    /// The fleet's config, built directly (not through the loader).
    pub fn config(&self) -> Config {
        Config {
            path: Some(self.config_path.clone()),
            connect_timeout: Duration::from_secs(3),
            known_hosts: self.known_hosts.clone(),
            hosts: (0..self.hosts.len()).map(|i| self.host_config(i)).collect(),
            env: Env {
                home: Some(self.home.clone()),
                user: Some(self.user.clone()),
            },
            ..Config::default()
        }
    }

    /// Runs a shell snippet locally "on" host i (hosts share this machine) as the
    /// host's deploy user: cwd is the host's directory, `$ROOT` its deploy root,
    /// `$HOST` its name. Panics if it fails; returns its stdout.
    pub fn sh(&self, i: usize, script: &str) -> String {
        let user = self.hosts[i].user.clone();
        self.sh_as(i, &user, script)
    }

    /// Gives `path` (and everything under it, symlinks themselves, never what they
    /// name) to host i's deploy user: what a test wrote there as root becomes what
    /// the deploy user would have made. Nothing happens on a root fleet or when
    /// `path` does not exist.
    pub fn give(&self, i: usize, path: &Path) {
        let user = &self.hosts[i].user;
        if *user == self.user || fs::symlink_metadata(path).is_err() {
            return;
        }
        run(Command::new("chown")
            .args(["-R", "-h", "-P"])
            .arg(format!("{user}:"))
            .arg(path));
    }

    /// [`Fleet::give`] of host i's deploy root.
    pub fn give_root(&self, i: usize) {
        self.give(i, &self.hosts[i].root.clone());
    }

    /// [`Fleet::give_root`] of every host.
    pub fn give_roots(&self) {
        for i in 0..self.hosts.len() {
            self.give_root(i);
        }
    }

    /// Host i's job launcher, run as `user` (the deploy user, or [`JOBS`]) from `/`.
    pub fn launcher_as(&self, i: usize, user: &str) -> Command {
        let l = self.hosts[i].root.join(".relman/bin/launch");
        let mut c = command_as(user, l.to_str().expect("a UTF-8 path"));
        c.current_dir("/").stdin(Stdio::null());
        c
    }

    /// [`Fleet::sh`] as `user` (e.g. root for a hostile setup, [`JOBS`] for a job).
    pub fn sh_as(&self, i: usize, user: &str, script: &str) -> String {
        let h = &self.hosts[i];
        run(command_as(user, "sh")
            .arg("-c")
            .arg(script)
            .current_dir(&h.dir)
            .env("ROOT", &h.root)
            .env("HOST", &h.name))
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            h.stop();
        }
    }
}

/// Host 0 of `f` with a release per name (`app.jar`, `lib/`), made by its deploy
/// user, each switched to in turn over a transport opened like relman's: the last
/// name is live, the one before it previous.
pub fn switched_layout(
    f: &Fleet,
    names: &[String],
) -> (HostConfig, Box<dyn relman::remote::Transport>) {
    for n in names {
        f.sh(
            0,
            &format!("mkdir -p \"$ROOT/{n}/lib\" && echo {n} > \"$ROOT/{n}/app.jar\""),
        );
    }
    let cfg = f.config();
    let h = cfg.hosts[0].clone();
    let t = relman::remote::open(&cfg, &h).expect("open host 0");
    for n in names {
        relman::ops::switch(t.as_ref(), &h, n, None).expect("switch");
    }
    (h, t)
}

/// Writes `data` to `p` (parents created) with permission bits `mode`.
pub fn write_file(p: &Path, data: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::create_dir_all(p.parent().expect("a parent")).expect("create parents");
    fs::write(p, data).expect("write");
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// `n` deterministic, incompressible-looking bytes (xorshift from `seed`).
pub fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
