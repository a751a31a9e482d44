//! Choosing hosts for a command from `--host`, `--group` and `--all` (SPEC §3).

use super::{Config, ConfigError, HostConfig};

/// What the operator chose on the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--host NAME`, repeatable.
    pub hosts: Vec<String>,
    /// `--group NAME`, repeatable.
    pub groups: Vec<String>,
    /// `--all`.
    pub all: bool,
}

impl Selection {
    /// Nothing named and no `--all`.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.groups.is_empty() && !self.all
    }
}

/// The message when a changing command gets no selection.
pub const NO_HOSTS_CHOSEN: &str = "no hosts chosen: this command changes hosts, so name them with --host NAME, --group NAME or --all";

/// At most this many known names are listed in an "unknown" message.
const LIST_AT_MOST: usize = 10;

impl Config {
    /// The hosts chosen by `sel`, in config order, each once: the named hosts plus the
    /// members of the named groups. `--all` (or, when nothing is named, `default_all`,
    /// which read-only commands pass) chooses every host. An unknown host or group name is
    /// an error naming it; so is an empty result.
    pub fn select(
        &self,
        sel: &Selection,
        default_all: bool,
    ) -> Result<Vec<&HostConfig>, ConfigError> {
        let nothing_named = sel.hosts.is_empty() && sel.groups.is_empty();
        if self.hosts.is_empty() {
            return Err(ConfigError(format!(
                "no hosts in {}: add [[hosts]] entries",
                self.display_path()
            )));
        }
        for h in &sel.hosts {
            if self.host(h).is_none() {
                let names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
                let hint = if self.groups().contains(&h.as_str()) {
                    format!("; there is a group {h:?}: use --group {h}")
                } else {
                    String::new()
                };
                return Err(ConfigError(format!(
                    "unknown host {h:?} in {} (known hosts: {}){hint}",
                    self.display_path(),
                    short_list(&names)
                )));
            }
        }
        for g in &sel.groups {
            if !self.groups().contains(&g.as_str()) {
                let groups = self.groups();
                let known = if groups.is_empty() {
                    "no host has groups".to_string()
                } else {
                    format!("known groups: {}", short_list(&groups))
                };
                let hint = if self.host(g).is_some() {
                    format!("; there is a host {g:?}: use --host {g}")
                } else {
                    String::new()
                };
                return Err(ConfigError(format!(
                    "unknown group {g:?} in {} ({known}){hint}",
                    self.display_path()
                )));
            }
        }
        if sel.all || (nothing_named && default_all) {
            return Ok(self.hosts.iter().collect());
        }
        if nothing_named {
            return Err(ConfigError(NO_HOSTS_CHOSEN.to_string()));
        }
        Ok(self
            .hosts
            .iter()
            .filter(|h| {
                sel.hosts.contains(&h.name) || h.groups.iter().any(|g| sel.groups.contains(g))
            })
            .collect())
    }

    /// Every group name, in order of first appearance.
    pub fn groups(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for g in self.hosts.iter().flat_map(|h| h.groups.iter()) {
            if !out.contains(&g.as_str()) {
                out.push(g);
            }
        }
        out
    }
}

/// `a, b, c` or `a, b, ... (12 more)`.
fn short_list(names: &[&str]) -> String {
    if names.len() <= LIST_AT_MOST {
        names.join(", ")
    } else {
        format!(
            "{}, ... ({} more)",
            names[..LIST_AT_MOST].join(", "),
            names.len() - LIST_AT_MOST
        )
    }
}
