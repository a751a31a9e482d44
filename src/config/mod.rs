//! The config file (SPEC §2): where it is found, `[defaults]` merged into each host,
//! `~/.ssh/config` applied, everything validated, and host selection for commands.

use std::path::PathBuf;
use std::time::Duration;

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
    pub known_hosts: PathBuf,
    pub prune_after_deploy: bool,
    pub hosts: Vec<HostConfig>,
}

/// A bad config: one line naming the file, the line and the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);
