//! The config file (SPEC §2): where it is found, `[defaults]` merged into each host,
//! `~/.ssh/config` applied, everything validated, and host selection for commands.
//!
//! The core is pure: [`Config::parse`] / [`Config::parse_with`] take the text of the file
//! and of `~/.ssh/config`; only [`Config::load`] and [`Config::locate`] touch the disk and
//! the environment. Every error is one line naming the file, the line and the key
//! (`/x/relman.toml:7: hosts[1].name: duplicate host name "batch-1" (first defined at line 3)`).
//!
//! Decisions (where SPEC §2 is silent):
//! - **Location**: `--config PATH`, else `$RELMAN_CONFIG` (if non-empty), else
//!   `directories`' config dir + `config.toml` (`$XDG_CONFIG_HOME/relman/config.toml` or
//!   `~/.config/relman/config.toml` on Linux).
//! - **Keys**: unknown keys are errors at every level, with a "did you mean" hint.
//!   `keep` ≥ 0 (default 3); `parallel` ≥ 1 (default 16); `refresh` and
//!   `connect_timeout` are humantime strings (`"10s"`, `"1m 30s"`), more than zero
//!   (default 10 s each); `known_hosts` (default `~/.ssh/known_hosts`) and `identity`
//!   expand a leading `~` with `$HOME`; a relative `identity` is relative to the config
//!   file's directory. `prune_after_deploy` defaults to false. `stall_timeout`
//!   (default 60 s, more than zero): a remote command that moves no byte for that
//!   long fails, naming the host.
//! - **`[hooks]`** (SPEC §7): `after_deploy`, `after_switch`, `after_rollback`,
//!   `on_refuse`, each a non-empty command for `sh -c` on this machine; `timeout`
//!   (default 60 s, more than zero) bounds each run.
//! - **`[defaults]`** may hold every host key except `name` and `address`. A key set on a
//!   host replaces the default entirely (`groups` too: lists are not merged).
//! - **Names**: host and group names are `[A-Za-z0-9._-]+`; host names are unique.
//!   `address` defaults to the name; `address = "local"` means this machine, no SSH.
//! - **root** (default `deploy`): non-empty, only `[A-Za-z0-9._+@/-]`, relative to the
//!   SSH user's home or absolute; a leading `~/` is stripped (same meaning); a trailing
//!   `/` is stripped; refused: `~` or `/` alone, a `..` component, `//`, a leading `-`.
//! - **link** (default `batch`) and **prefix** (default `batch_`): `[A-Za-z0-9._-]+`, not
//!   starting with `.` or `-`; the link is not `.relman` and must not look like a release
//!   under the prefix (prefix + 14 digits).
//! - **user, address, jump**: one word, no whitespace, not starting with `-`. `port` 1-65535.
//! - **`~/.ssh/config`** (see [`ssh_config`]) is applied to SSH hosts, matched on the
//!   address: `HostName` replaces the address to connect to, `User`, `Port`, `ProxyJump`
//!   fill what relman's config leaves unset, and `IdentityFile`s come after relman's
//!   `identity`. Anything written in relman's config — on the host *or* in `[defaults]` —
//!   wins over `~/.ssh/config`. Then: user `$USER`, else `root`; port 22. When the
//!   OpenSSH client (`ssh`) is on PATH and `~/.ssh/config` exists, OpenSSH itself
//!   answers (`ssh -G -F ~/.ssh/config ALIAS`, one per address and jump hop, in
//!   parallel, cached per process): `Match`, tokens, `Include` and canonicalisation as
//!   `ssh` does them, plus `IdentitiesOnly` and `ProxyCommand`. Without `ssh`, the own
//!   reader answers (`Match` blocks never apply); what relman does not apply is listed
//!   per host (`HostConfig::ssh.not_applied`) for `relman check`.
//! - **`global_known_hosts`** (default `/etc/ssh/ssh_known_hosts`, read after
//!   `known_hosts`, a missing file is empty) and **`identities_only`** (bool, default
//!   false: `IdentitiesOnly yes` for every host) are top-level keys.
//! - **`job_users`** (a list of user names, `[A-Za-z0-9._-]`, not starting with `-`)
//!   and **`scan_sudo`** (bool, needs `job_users`): see [`JobScan`]; host or `[defaults]`.
//! - **Empty fleet**: a config without hosts is valid (e.g. to try `relman --demo`);
//!   [`Config::select`] then says there is nothing to choose from.

mod file;
mod select;
pub mod ssh_config;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use select::Selection;
pub use ssh_config::SshConfig;

use file::{Doc, HostKeys, Located, RawHost};

/// Default number of releases kept by prune, besides the protected ones.
pub const DEFAULT_KEEP: usize = 3;
/// Default TUI auto-refresh period.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(10);
/// Default number of hosts worked on at once.
pub const DEFAULT_PARALLEL: usize = 16;
/// Default SSH connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a command may go without any progress (no byte sent or received)
/// before relman gives up on the host (`stall_timeout`).
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Default known_hosts file, before `~` expansion.
pub const DEFAULT_KNOWN_HOSTS: &str = "~/.ssh/known_hosts";
/// The system-wide known_hosts file OpenSSH reads after the user's (`global_known_hosts`).
pub const DEFAULT_GLOBAL_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";
/// Default deploy root (relative to the SSH user's home).
pub const DEFAULT_ROOT: &str = "deploy";
/// Default link name.
pub const DEFAULT_LINK: &str = "batch";
/// Default release prefix.
pub const DEFAULT_PREFIX: &str = "batch_";
/// Default SSH port.
pub const DEFAULT_PORT: u16 = 22;
/// The name `~/.ssh/config` goes by in messages when its text is given directly.
pub const SSH_CONFIG_NAME: &str = "~/.ssh/config";

/// How to reach a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// This machine, without SSH (`address = "local"`).
    Local,
    /// A hostname or IP to connect to (after `~/.ssh/config` HostName is applied).
    Ssh { host: String },
}

/// One `[[hosts]]` entry, with defaults and `~/.ssh/config` applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    pub name: String,
    pub address: Address,
    pub port: u16,
    pub user: String,
    /// Identity files to try after the agent, in order (configured first, then ~/.ssh/config's).
    pub identities: Vec<PathBuf>,
    /// ProxyJump, as written (`alias` or `user@host:port`).
    pub jump: Option<String>,
    pub groups: Vec<String>,
    pub root: String,
    pub link: String,
    pub prefix: String,
    /// Whose processes the job check must see (`job_users`, `scan_sudo`).
    pub job_scan: JobScan,
    /// What `~/.ssh/config` (or `ssh -G`) says beyond the fields above.
    pub ssh: SshOptions,
}

/// OpenSSH client settings of one host that relman applies beyond address, user,
/// port, identities and jump host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshOptions {
    /// `IdentitiesOnly yes`: offer only the configured identities (and the agent's
    /// copies of them), never the agent's other keys or the default keys.
    pub identities_only: bool,
    /// `ProxyCommand`, `%` tokens not yet expanded (see [`ssh_config::expand_proxy_command`]).
    pub proxy_command: Option<String>,
    /// `UserKnownHostsFile` (its first file, `~` expanded) when `~/.ssh/config` sets
    /// one and relman's config has no `known_hosts`: this host's known_hosts.
    pub user_known_hosts: Option<PathBuf>,
    /// What the OpenSSH client config says for this host that relman does not
    /// apply (`file:line: ...`), for `relman check`.
    pub not_applied: Vec<String>,
}

/// How the job scan treats processes the SSH user may not inspect (other users').
///
/// `users`: `None` (no `job_users`): any user's process may use a release, so hidden
/// processes of any other user make prune keep everything. `Some(list)`: only those
/// users' hidden processes count (the others are still counted and shown). `sudo`:
/// the scan also runs as each listed user through `sudo -n -H -u USER /bin/sh -s`,
/// in the same round trip, so their processes are seen; where sudo refuses, that
/// user's jobs are unknown and prune keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobScan {
    pub users: Option<Vec<String>>,
    pub sudo: bool,
}

impl HostConfig {
    /// The known_hosts file for this host: `UserKnownHostsFile` from `~/.ssh/config`
    /// when relman's config names none, else the config's `known_hosts`.
    pub fn known_hosts<'a>(&'a self, cfg: &'a Config) -> &'a Path {
        self.ssh
            .user_known_hosts
            .as_deref()
            .unwrap_or(&cfg.known_hosts)
    }

    /// A `local` host (this machine, no SSH) with the default link and prefix: the
    /// demo's host, and the usual host of tests that need no sshd.
    pub fn local(name: &str, root: &str) -> HostConfig {
        HostConfig {
            name: name.to_string(),
            address: Address::Local,
            port: DEFAULT_PORT,
            user: String::new(),
            identities: Vec::new(),
            jump: None,
            groups: Vec::new(),
            root: root.to_string(),
            link: DEFAULT_LINK.to_string(),
            prefix: DEFAULT_PREFIX.to_string(),
            job_scan: JobScan::default(),
            ssh: SshOptions::default(),
        }
    }
}

/// The whole, validated config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it came from (`None` for a built-in config such as the demo's).
    pub path: Option<PathBuf>,
    pub keep: usize,
    pub refresh: Duration,
    pub parallel: usize,
    pub connect_timeout: Duration,
    /// A command that moves no byte (stdin, stdout, stderr) for this long fails: a
    /// frozen host keeps TCP alive, and would otherwise hang relman (and its lock).
    pub stall_timeout: Duration,
    pub known_hosts: PathBuf,
    /// The system-wide known_hosts, read after `known_hosts` as OpenSSH does
    /// (`global_known_hosts`, default `/etc/ssh/ssh_known_hosts`; a missing file is empty).
    pub global_known_hosts: PathBuf,
    /// `identities_only = true`: `IdentitiesOnly yes` for every host.
    pub identities_only: bool,
    pub prune_after_deploy: bool,
    /// `[hooks]` (SPEC §7): local commands run after an operation.
    pub hooks: Hooks,
    pub hosts: Vec<HostConfig>,
    /// `~/.ssh/config` as read, kept to resolve ProxyJump hops ([`Config::resolve_jump`]).
    pub ssh_config: SshConfig,
    /// `$HOME` and `$USER` as seen when the config was made.
    pub env: Env,
}

impl Default for Config {
    /// The built-in defaults, no file, no hosts (handy for tests:
    /// `Config { hosts, ..Config::default() }`).
    fn default() -> Self {
        let env = Env::from_process();
        Config {
            path: None,
            keep: DEFAULT_KEEP,
            refresh: DEFAULT_REFRESH,
            parallel: DEFAULT_PARALLEL,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            known_hosts: expand_tilde(DEFAULT_KNOWN_HOSTS, env.home.as_deref()),
            global_known_hosts: PathBuf::from(DEFAULT_GLOBAL_KNOWN_HOSTS),
            identities_only: false,
            prune_after_deploy: false,
            hooks: Hooks::default(),
            hosts: Vec::new(),
            ssh_config: SshConfig::empty(),
            env,
        }
    }
}

/// One hop of a ProxyJump chain, resolved like a host (`~/.ssh/config` applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JumpHost {
    /// What was written for this hop (`bastion`, `ops@gw:2222`).
    pub spec: String,
    /// The host name or IP to connect to.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// IdentityFiles from `~/.ssh/config` for this hop (the agent is tried first).
    pub identities: Vec<PathBuf>,
}

/// A bad config: one line naming the file, the line and the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// What the config reads from the environment, passed in so parsing stays pure.
/// `[hooks]`: commands run on this machine with `sh -c`, once per command
/// ([`crate::ops::hooks`]); `timeout` (default 60 s) bounds each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hooks {
    pub after_deploy: Option<String>,
    pub after_switch: Option<String>,
    pub after_rollback: Option<String>,
    pub on_refuse: Option<String>,
    pub timeout: Duration,
}

/// How long a hook may run before its process group is killed.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            after_deploy: None,
            after_switch: None,
            after_rollback: None,
            on_refuse: None,
            timeout: DEFAULT_HOOK_TIMEOUT,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    /// `$HOME`, for `~` expansion.
    pub home: Option<PathBuf>,
    /// `$USER`, the default SSH user.
    pub user: Option<String>,
}

impl Env {
    /// `$HOME` (else the home directory `directories` finds) and `$USER`.
    pub fn from_process() -> Self {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()));
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty());
        Self { home, user }
    }

    fn default_user(&self) -> String {
        self.user.clone().unwrap_or_else(|| "root".to_string())
    }
}

/// `~` → home, `~/x` → home/x; anything else (or no home known) unchanged.
pub fn expand_tilde(s: &str, home: Option<&Path>) -> PathBuf {
    match home {
        Some(h) if s == "~" => h.to_path_buf(),
        Some(h) => match s.strip_prefix("~/") {
            Some(rest) => h.join(rest),
            None => PathBuf::from(s),
        },
        None => PathBuf::from(s),
    }
}

impl Config {
    /// Parses relman's config `text` (read from `path`, used in messages), applying
    /// `ssh_config` (the text of `~/.ssh/config`, its `Include`s not followed). Reads
    /// `$HOME` and `$USER` but no file; see [`Config::parse_with`] for a fully pure call.
    pub fn parse(text: &str, path: &Path, ssh_config: Option<&str>) -> Result<Config, ConfigError> {
        let ssh = match ssh_config {
            Some(t) => SshConfig::parse(t, SSH_CONFIG_NAME)?,
            None => SshConfig::empty(),
        };
        Self::parse_with(text, path, &ssh, &Env::from_process())
    }

    /// [`Config::parse`] with the ssh config already parsed and the environment given.
    pub fn parse_with(
        text: &str,
        path: &Path,
        ssh: &SshConfig,
        env: &Env,
    ) -> Result<Config, ConfigError> {
        let doc = Doc { text, path };
        let raw = file::read(&doc)?;
        let home = env.home.as_deref();
        let base_dir = path.parent().unwrap_or(Path::new(""));
        let mut hosts = raw
            .hosts
            .iter()
            .map(|h| resolve_host(path, h, &raw.defaults, ssh, env, base_dir))
            .collect::<Result<Vec<_>, _>>()?;
        // relman's own `known_hosts` wins over UserKnownHostsFile, as its keys do.
        if raw.known_hosts.is_some() {
            for h in &mut hosts {
                h.ssh.user_known_hosts = None;
            }
        }
        Ok(Config {
            path: Some(path.to_path_buf()),
            keep: raw.keep.unwrap_or(DEFAULT_KEEP),
            refresh: raw.refresh.unwrap_or(DEFAULT_REFRESH),
            parallel: raw.parallel.unwrap_or(DEFAULT_PARALLEL),
            connect_timeout: raw.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            stall_timeout: raw.stall_timeout.unwrap_or(DEFAULT_STALL_TIMEOUT),
            known_hosts: expand_tilde(
                raw.known_hosts.as_deref().unwrap_or(DEFAULT_KNOWN_HOSTS),
                home,
            ),
            global_known_hosts: expand_tilde(
                raw.global_known_hosts
                    .as_deref()
                    .unwrap_or(DEFAULT_GLOBAL_KNOWN_HOSTS),
                home,
            ),
            identities_only: raw.identities_only.unwrap_or(false),
            prune_after_deploy: raw.prune_after_deploy.unwrap_or(false),
            hooks: raw.hooks.clone(),
            hosts,
            ssh_config: ssh.clone(),
            env: env.clone(),
        })
    }

    /// Where the config file is: `explicit` (`--config`), else `$RELMAN_CONFIG`, else
    /// the platform config dir's `config.toml`. Does not check that it exists.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
        let default = directories::ProjectDirs::from("", "", "relman")
            .map(|d| d.config_dir().join("config.toml"));
        locate_from(explicit, std::env::var_os("RELMAN_CONFIG"), default)
    }

    /// Reads the config at `path`, and `$HOME/.ssh/config` (with its `Include`s) if it
    /// exists, then [`Config::parse_with`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError(format!(
                    "config file {}: not found (use --config PATH or RELMAN_CONFIG)",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(ConfigError(format!(
                    "config file {}: cannot read: {e}",
                    path.display()
                )));
            }
        };
        let env = Env::from_process();
        let mut ssh = match env.home.as_deref() {
            Some(home) => load_ssh_config(home)?,
            None => SshConfig::empty(),
        };
        if let Some(home) = env.home.as_deref() {
            // A file that does not parse is reported by `parse_with` below.
            if let Ok(raw) = file::read(&Doc { text: &text, path }) {
                resolve_with_ssh_g(
                    &mut ssh,
                    &home.join(".ssh").join("config"),
                    &ssh_aliases(&raw),
                )?;
            }
        }
        Self::parse_with(&text, path, &ssh, &env)
    }

    /// The built-in config of `relman --demo`: one host `demo` on this machine, its root
    /// the given absolute path, default link and prefix, keep 3, refresh 10 s.
    pub fn local_demo(root: PathBuf) -> Config {
        let defaults = Config::default();
        let mut host = HostConfig::local("demo", &root.to_string_lossy());
        host.user = defaults.env.default_user();
        Config {
            hosts: vec![host],
            ..defaults
        }
    }

    /// Resolves a ProxyJump value (`host.jump`) into its hops, first hop first:
    /// comma-separated `[ssh://][user@]host[:port]` entries (`[v6addr]:port` too), each
    /// looked up in `~/.ssh/config` for HostName, User, Port and IdentityFile; what the
    /// hop spells out wins. A hop's own ProxyJump in `~/.ssh/config` is not followed
    /// (write the whole chain instead: `jump = "outer,inner"`).
    pub fn resolve_jump(&self, spec: &str) -> Result<Vec<JumpHost>, ConfigError> {
        spec.split(',')
            .map(|hop| self.resolve_hop(hop.trim(), spec))
            .collect()
    }

    fn resolve_hop(&self, hop: &str, spec: &str) -> Result<JumpHost, ConfigError> {
        let bad = |why: &str| ConfigError(format!("jump host {spec:?}: {why}"));
        let (user, host, port) = split_hop(hop).map_err(|m| bad(&m))?;
        let s = self.ssh_config.lookup(&host)?;
        let port = port.or(s.port).unwrap_or(DEFAULT_PORT);
        let user = user
            .or(s.user.clone())
            .unwrap_or_else(|| self.env.default_user());
        let target = s.hostname.clone().unwrap_or_else(|| host.clone());
        let tokens = ssh_config::TokenValues {
            home: self.env.home.as_deref(),
            local_user: self.env.user.as_deref(),
            remote_user: &user,
            host: &target,
            original_host: &host,
            port,
        };
        let mut identities: Vec<PathBuf> = Vec::new();
        for f in &s.identity_files {
            let p = ssh_config::expand_identity(f, &tokens);
            if !identities.contains(&p) {
                identities.push(p);
            }
        }
        Ok(JumpHost {
            spec: hop.to_string(),
            host: target,
            port,
            user,
            identities,
        })
    }

    /// A host by name.
    pub fn host(&self, name: &str) -> Option<&HostConfig> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The file name used in messages (`built-in config` for the demo's).
    pub fn display_path(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "built-in config".to_string(),
        }
    }
}

/// [`Config::locate`] with the environment given.
fn locate_from(
    explicit: Option<&Path>,
    env_var: Option<std::ffi::OsString>,
    default: Option<PathBuf>,
) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = env_var.filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    default.ok_or_else(|| {
        ConfigError(
            "config file: no home directory to look in (use --config PATH or RELMAN_CONFIG)"
                .to_string(),
        )
    })
}

/// `[ssh://][user@]host[:port]` → (user, host, port); `[v6]:port` accepted.
fn split_hop(hop: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
    let hop = hop.strip_suffix('/').unwrap_or(hop);
    let (user, rest) = match hop.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err("empty user before '@'".into()),
        None => (None, hop),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in the address".to_string())?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(format!("unexpected {after:?} after ']'")),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) || host.starts_with('-') {
        return Err(format!("bad host {host:?}"));
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("bad port {p:?} (expected 1-65535)"))
        })
        .transpose()?;
    Ok((user, host.to_string(), port))
}

/// `home/.ssh/config` with its includes, or an empty config if there is none.
fn load_ssh_config(home: &Path) -> Result<SshConfig, ConfigError> {
    let ssh_dir = home.join(".ssh");
    let path = ssh_dir.join("config");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SshConfig::empty()),
        Err(e) => {
            return Err(ConfigError(format!("{}: cannot read: {e}", path.display())));
        }
    };
    let mut ssh = SshConfig::parse(&text, &path.display().to_string())?;
    ssh.resolve_includes(&ssh_dir, Some(home))?;
    Ok(ssh)
}

/// The aliases relman will look up in `~/.ssh/config`: each SSH host's address and
/// each jump hop's host, from the raw file (before anything is applied).
fn ssh_aliases(raw: &file::RawConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |a: &str| {
        if !a.is_empty() && !a.starts_with('-') && a != "local" && !out.iter().any(|o| o == a) {
            out.push(a.to_string());
        }
    };
    for h in &raw.hosts {
        let addr = h
            .keys
            .address
            .as_ref()
            .map_or(h.name.value.as_str(), |a| a.value.as_str());
        add(addr);
        let jump = h.keys.jump.as_ref().or(raw.defaults.jump.as_ref());
        for hop in jump.map_or("", |j| j.value.as_str()).split(',') {
            if let Ok((_, host, _)) = split_hop(hop.trim()) {
                add(&host);
            }
        }
    }
    out
}

/// Fills `ssh` with OpenSSH's own answer (`ssh -G -F FILE ALIAS`, in parallel, cached
/// per process) for each alias, when the `ssh` client is on PATH and `file` exists.
/// Without `ssh`, relman's own reader answers (no `Match`, see [`ssh_config`]).
fn resolve_with_ssh_g(
    ssh: &mut SshConfig,
    file: &Path,
    aliases: &[String],
) -> Result<(), ConfigError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Cache = Mutex<HashMap<(PathBuf, String), ssh_config::SshHostSettings>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    if aliases.is_empty() || !file.is_file() || !ssh_client_installed() {
        return Ok(());
    }
    let cache = CACHE.get_or_init(Default::default);
    // At most SSH_G_PARALLEL `ssh -G` at once (each ~6 ms), workers taking the next alias.
    const SSH_G_PARALLEL: usize = 16;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<ssh_config::SshHostSettings, ConfigError>)>> =
        Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..SSH_G_PARALLEL.min(aliases.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(alias) = aliases.get(i) else { break };
                    let key = (file.to_path_buf(), alias.clone());
                    let cached = cache.lock().ok().and_then(|c| c.get(&key).cloned());
                    let r = match cached {
                        Some(s) => Ok(s),
                        None => {
                            let r = ssh_g(file, alias);
                            if let (Ok(s), Ok(mut c)) = (&r, cache.lock()) {
                                c.insert(key, s.clone());
                            }
                            r
                        }
                    };
                    if let Ok(mut out) = results.lock() {
                        out.push((i, r));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let results = results.into_iter().map(|(i, r)| (aliases[i].clone(), r));
    for (alias, r) in results {
        ssh.set_resolved(&alias, r?);
    }
    Ok(())
}

/// Whether the OpenSSH client (`ssh`) is on PATH.
fn ssh_client_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::metadata(d.join("ssh"))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// `ssh -G -F FILE -- ALIAS`, parsed.
fn ssh_g(file: &Path, alias: &str) -> Result<ssh_config::SshHostSettings, ConfigError> {
    let out = std::process::Command::new("ssh")
        .arg("-G")
        .arg("-F")
        .arg(file)
        .arg("--")
        .arg(alias)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            ConfigError(format!(
                "{}: cannot run `ssh -G {alias}`: {e}",
                file.display()
            ))
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let why = err
            .lines()
            .filter(|l| !l.starts_with("Pseudo-terminal"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ConfigError(format!(
            "{}: `ssh -G {alias}` refused the file: {why}",
            file.display()
        )));
    }
    Ok(ssh_config::parse_ssh_g(&String::from_utf8_lossy(
        &out.stdout,
    )))
}

/// The host's value if set, else the default's.
fn pick<'a, T>(
    host: &'a Option<Located<T>>,
    default: &'a Option<Located<T>>,
) -> Option<&'a Located<T>> {
    host.as_ref().or(default.as_ref())
}

/// One host: its keys, then `[defaults]`, then `~/.ssh/config`, then built-in defaults.
fn resolve_host(
    path: &Path,
    raw: &RawHost,
    defaults: &HostKeys,
    ssh: &SshConfig,
    env: &Env,
    base_dir: &Path,
) -> Result<HostConfig, ConfigError> {
    let k = &raw.keys;
    let name = raw.name.value.clone();
    let root = pick(&k.root, &defaults.root);
    let link = pick(&k.link, &defaults.link);
    let prefix = pick(&k.prefix, &defaults.prefix);
    let link_s = link.map_or(DEFAULT_LINK, |l| l.value.as_str());
    let prefix_s = prefix.map_or(DEFAULT_PREFIX, |p| p.value.as_str());
    if validate::link_looks_like_release(link_s, prefix_s) {
        let (line, key) = match (link, prefix) {
            (Some(l), _) => (l.line, l.key.clone()),
            (None, Some(p)) => (p.line, p.key.clone()),
            (None, None) => (raw.name.line, raw.name.key.clone()),
        };
        return Err(file::at(
            path,
            line,
            &key,
            format!("link {link_s:?} would look like a release with prefix {prefix_s:?}"),
        ));
    }

    let job_users = pick(&k.job_users, &defaults.job_users);
    let scan_sudo = pick(&k.scan_sudo, &defaults.scan_sudo);
    if let (Some(s), None) = (scan_sudo, job_users)
        && s.value
    {
        return Err(file::at(
            path,
            s.line,
            &s.key,
            "scan_sudo needs job_users (the users to scan as)",
        ));
    }
    let job_scan = JobScan {
        users: job_users.map(|u| u.value.clone()),
        sudo: scan_sudo.is_some_and(|s| s.value),
    };
    let port = pick(&k.port, &defaults.port).map(|p| p.value);
    let user = pick(&k.user, &defaults.user).map(|u| u.value.clone());
    let jump = pick(&k.jump, &defaults.jump).map(|j| j.value.clone());
    let groups = pick(&k.groups, &defaults.groups).map_or_else(Vec::new, |g| g.value.clone());
    let home = env.home.as_deref();
    let mut identities: Vec<PathBuf> = pick(&k.identity, &defaults.identity)
        .map(|i| {
            let p = expand_tilde(&i.value, home);
            if p.is_relative() { base_dir.join(p) } else { p }
        })
        .into_iter()
        .collect();
    let addr = k
        .address
        .as_ref()
        .map_or(name.as_str(), |a| a.value.as_str());

    let mut ssh_opts = SshOptions::default();
    let (address, port, user, jump) = if addr == "local" {
        let user = user.unwrap_or_else(|| env.default_user());
        (Address::Local, port.unwrap_or(DEFAULT_PORT), user, jump)
    } else {
        let s = ssh.lookup(addr).map_err(|e| {
            ConfigError(format!("{} (for host {name:?} of {})", e.0, path.display()))
        })?;
        let host = s.hostname.clone().unwrap_or_else(|| addr.to_string());
        let port = port.or(s.port).unwrap_or(DEFAULT_PORT);
        let user = user
            .or_else(|| s.user.clone())
            .unwrap_or_else(|| env.default_user());
        let tokens = ssh_config::TokenValues {
            home,
            local_user: env.user.as_deref(),
            remote_user: &user,
            host: &host,
            original_host: addr,
            port,
        };
        for f in &s.identity_files {
            let p = ssh_config::expand_identity(f, &tokens);
            if !identities.contains(&p) {
                identities.push(p);
            }
        }
        let jump = jump.or_else(|| s.proxy_jump.clone());
        ssh_opts.identities_only = s.identities_only.unwrap_or(false);
        ssh_opts.proxy_command = s.proxy_command.clone();
        ssh_opts.user_known_hosts = s.user_known_hosts.as_deref().map(|f| expand_tilde(f, home));
        ssh_opts.not_applied = ssh.not_applied(addr);
        (Address::Ssh { host }, port, user, jump)
    };

    Ok(HostConfig {
        name,
        address,
        port,
        user,
        identities,
        jump,
        groups,
        root: root.map_or_else(|| DEFAULT_ROOT.to_string(), |r| r.value.clone()),
        link: link_s.to_string(),
        prefix: prefix_s.to_string(),
        job_scan,
        ssh: ssh_opts,
    })
}

#[cfg(test)]
mod tests;
