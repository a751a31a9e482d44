//! A small reader for OpenSSH's client config (`~/.ssh/config`), enough to resolve what
//! relman needs for one host: `HostName`, `User`, `Port`, `IdentityFile` and `ProxyJump`.
//!
//! Supported, following `ssh_config(5)` and checked against `ssh -G` behaviour:
//! - `Keyword value`, `Keyword=value`, keywords case-insensitive, `#` comments (whole line,
//!   or an unquoted argument starting with `#`), double-quoted arguments.
//! - Lines before the first `Host` apply to every host.
//! - `Host` with several patterns per line, `*` and `?` wildcards and `!` negation: a block
//!   applies when at least one plain pattern matches and no negated one does. The host
//!   name is lowercased before matching, as `ssh` does; patterns are taken as written.
//! - First value wins for every key, except `IdentityFile`, whose values accumulate in order.
//! - `ProxyJump none` means "no jump host" (and, being the first value, wins).
//! - `Include` (several paths, `~` and paths relative to `~/.ssh`, `*`/`?` wildcards in the
//!   last path component, sorted, nested up to 16 levels): read by
//!   [`SshConfig::resolve_includes`], the only part that does I/O. An `Include` inside a
//!   `Host` block that does not apply contributes nothing, and the block state after the
//!   `Include` is the one before it, as in OpenSSH. Missing files are skipped silently.
//! - `%` tokens: `%%` and `%h` in `HostName`; `%%`, `%d`, `%h`, `%n`, `%p`, `%r`, `%u` in
//!   `IdentityFile`. Other tokens are left as written.
//!
//! Not supported: `Match` blocks (their contents never apply), `CanonicalizeHostname`,
//! environment variables `${VAR}`. When the OpenSSH client is installed, `ssh -G`
//! answers instead ([`SshConfig::set_resolved`], [`parse_ssh_g`]); this reader is the
//! fallback, and [`SshConfig::not_applied`] names what relman ignores.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// How deep `Include` may nest (OpenSSH's limit).
const MAX_INCLUDE_DEPTH: usize = 16;

/// A parsed ssh client config file (and, once resolved, the files it includes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshConfig {
    /// The name used in error messages (a path, or `~/.ssh/config`).
    name: String,
    items: Vec<Item>,
    /// OpenSSH's own answer per host (`ssh -G`, lowercased host): when present,
    /// [`SshConfig::lookup`] returns it instead of this reader's.
    resolved: std::collections::BTreeMap<String, SshHostSettings>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    /// `Host pattern...`
    Host(Vec<String>),
    /// `Match ...`: unsupported here (`ssh -G` answers for it), its block never applies.
    Match { line: usize },
    /// `Include path...` and the files it resolved to (empty until resolved).
    Include {
        paths: Vec<String>,
        files: Vec<SshConfig>,
    },
    /// Any other keyword, lowercased, with its arguments.
    Option {
        line: usize,
        key: String,
        args: Vec<String>,
    },
}

/// What `~/.ssh/config` says about one host; `None`/empty where it says nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshHostSettings {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// IdentityFile values in order, `~` and tokens not yet expanded.
    pub identity_files: Vec<String>,
    /// ProxyJump as written; `Some("none")` is turned into `None` by [`SshConfig::lookup`].
    pub proxy_jump: Option<String>,
    /// `IdentitiesOnly yes|no`.
    pub identities_only: Option<bool>,
    /// `ProxyCommand`, tokens not yet expanded; `none` is `None`.
    pub proxy_command: Option<String>,
    /// The first `UserKnownHostsFile`, `~` not expanded; `None` when it is OpenSSH's
    /// default (`~/.ssh/known_hosts ~/.ssh/known_hosts2`) or not set.
    pub user_known_hosts: Option<String>,
}

/// Keywords that change how a connection is made which relman does not apply: a
/// host using them may behave differently under relman than under `ssh`.
const NOT_APPLIED: &[&str] = &[
    "addressfamily",
    "bindaddress",
    "bindinterface",
    "canonicalizehostname",
    "certificatefile",
    "ciphers",
    "connecttimeout",
    "controlmaster",
    "controlpath",
    "globalknownhostsfile",
    "hostkeyalgorithms",
    "hostkeyalias",
    "identityagent",
    "kexalgorithms",
    "macs",
    "pkcs11provider",
    "preferredauthentications",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "securitykeyprovider",
    "stricthostkeychecking",
];

/// Parses `ssh -G` output (`keyword value` lines, keywords lowercased) into the
/// settings relman uses. The default identity files `ssh` lists when none is
/// configured are dropped (relman tries its own defaults then).
pub fn parse_ssh_g(output: &str) -> SshHostSettings {
    const DEFAULT_IDS: &[&str] = &[
        "~/.ssh/id_rsa",
        "~/.ssh/id_ecdsa",
        "~/.ssh/id_ecdsa_sk",
        "~/.ssh/id_ed25519",
        "~/.ssh/id_ed25519_sk",
        "~/.ssh/id_xmss",
        "~/.ssh/id_dsa",
    ];
    let mut out = SshHostSettings::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once(' ') else {
            continue;
        };
        let value = value.trim();
        let none = value.eq_ignore_ascii_case("none");
        match key {
            "hostname" => out.hostname = Some(value.to_string()),
            "user" => out.user = Some(value.to_string()),
            "port" => out.port = value.parse().ok().filter(|p| *p != 0),
            "identityfile" => out.identity_files.push(value.to_string()),
            "identitiesonly" => out.identities_only = Some(value == "yes"),
            "proxyjump" if !none => out.proxy_jump = Some(value.to_string()),
            "proxycommand" if !none => out.proxy_command = Some(value.to_string()),
            "userknownhostsfile" if value != "~/.ssh/known_hosts ~/.ssh/known_hosts2" => {
                out.user_known_hosts = value.split_whitespace().next().map(str::to_string)
            }
            _ => {}
        }
    }
    if out
        .identity_files
        .iter()
        .all(|f| DEFAULT_IDS.contains(&f.as_str()))
    {
        out.identity_files.clear();
    }
    out
}

/// Values for the `%` tokens of `IdentityFile`.
#[derive(Clone, Debug, Default)]
pub struct TokenValues<'a> {
    /// `%d`: the local home directory.
    pub home: Option<&'a Path>,
    /// `%u`: the local user name.
    pub local_user: Option<&'a str>,
    /// `%r`: the remote user name.
    pub remote_user: &'a str,
    /// `%h`: the host name connected to (after HostName).
    pub host: &'a str,
    /// `%n`: the host name as given (relman's address).
    pub original_host: &'a str,
    /// `%p`: the port.
    pub port: u16,
}

impl SshConfig {
    /// An empty config (no `~/.ssh/config`).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses `text`; `name` is used in error messages. Pure: `Include` lines are recorded
    /// but not read (see [`SshConfig::resolve_includes`]).
    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        let mut items = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let line = idx + 1;
            let Some((key, args)) =
                split_line(raw).map_err(|msg| ConfigError(format!("{name}:{line}: {msg}")))?
            else {
                continue;
            };
            let item = match key.as_str() {
                "host" => Item::Host(args),
                "match" => Item::Match { line },
                "include" => Item::Include {
                    paths: args,
                    files: Vec::new(),
                },
                _ => Item::Option { line, key, args },
            };
            items.push(item);
        }
        Ok(Self {
            name: name.to_string(),
            items,
            resolved: Default::default(),
        })
    }

    /// Records OpenSSH's answer (`ssh -G`) for `host`: [`SshConfig::lookup`] returns it.
    pub fn set_resolved(&mut self, host: &str, settings: SshHostSettings) {
        self.resolved.insert(host.to_lowercase(), settings);
    }

    /// Whether `lookup(host)` answers with `ssh -G`'s settings.
    pub fn is_resolved(&self, host: &str) -> bool {
        self.resolved.contains_key(&host.to_lowercase())
    }

    /// What this reader sees for `host` that relman does not apply, one line each
    /// (`file:line: Keyword ...`): keywords of [`NOT_APPLIED`] in blocks that apply,
    /// and, unless `ssh -G` answered for the host, every `Match` block (skipped).
    pub fn not_applied(&self, host: &str) -> Vec<String> {
        let host = host.to_lowercase();
        let mut out = Vec::new();
        self.collect_not_applied(&host, true, self.is_resolved(&host), &mut out);
        out
    }

    fn collect_not_applied(&self, host: &str, mut active: bool, g: bool, out: &mut Vec<String>) {
        let never = !active;
        let mut in_match = false;
        for item in &self.items {
            match item {
                Item::Host(patterns) => {
                    in_match = false;
                    active = !never && host_matches(host, patterns);
                }
                Item::Match { line } => {
                    in_match = true;
                    active = false;
                    if !g && !never {
                        out.push(format!(
                            "{}:{line}: Match: not supported without the OpenSSH client \
                             (`ssh -G`): its block is ignored",
                            self.name
                        ));
                    }
                }
                Item::Include { files, .. } => {
                    for f in files {
                        f.collect_not_applied(host, active, g, out);
                    }
                }
                Item::Option { line, key, args } => {
                    let applies = active || (in_match && g && !never);
                    if applies && NOT_APPLIED.contains(&key.as_str()) {
                        out.push(format!(
                            "{}:{line}: {key} {}: not applied by relman",
                            self.name,
                            args.join(" ")
                        ));
                    }
                }
            }
        }
    }

    /// Reads the files named by `Include` lines (recursively), relative paths being
    /// relative to `ssh_dir` (`~/.ssh`), `~` meaning `home`. Missing files are skipped.
    pub fn resolve_includes(
        &mut self,
        ssh_dir: &Path,
        home: Option<&Path>,
    ) -> Result<(), ConfigError> {
        self.resolve_includes_depth(ssh_dir, home, 0)
    }

    fn resolve_includes_depth(
        &mut self,
        ssh_dir: &Path,
        home: Option<&Path>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let name = self.name.clone();
        for item in &mut self.items {
            let Item::Include { paths, files } = item else {
                continue;
            };
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(ConfigError(format!(
                    "{name}: Include nested more than {MAX_INCLUDE_DEPTH} levels deep"
                )));
            }
            files.clear();
            for pattern in paths.iter() {
                for file in expand_include(pattern, ssh_dir, home) {
                    let text = match std::fs::read_to_string(&file) {
                        Ok(t) => t,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => continue,
                        Err(e) => {
                            return Err(ConfigError(format!(
                                "{}: cannot read (included from {name}): {e}",
                                file.display()
                            )));
                        }
                    };
                    let mut sub = SshConfig::parse(&text, &file.display().to_string())?;
                    sub.resolve_includes_depth(ssh_dir, home, depth + 1)?;
                    files.push(sub);
                }
            }
        }
        Ok(())
    }

    /// What the config says for `host` (relman's address, i.e. the alias given to ssh).
    /// Errors (a bad `Port` value) name the file and line.
    pub fn lookup(&self, host: &str) -> Result<SshHostSettings, ConfigError> {
        let host = host.to_lowercase();
        if let Some(s) = self.resolved.get(&host) {
            return Ok(s.clone());
        }
        let mut out = SshHostSettings::default();
        self.apply(&host, true, &mut out)?;
        if out
            .proxy_jump
            .as_deref()
            .is_some_and(|j| j.eq_ignore_ascii_case("none"))
        {
            out.proxy_jump = None;
        }
        if let Some(h) = out.hostname.take() {
            out.hostname = Some(expand_hostname(&h, &host));
        }
        if out
            .proxy_command
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("none"))
        {
            out.proxy_command = None;
        }
        Ok(out)
    }

    /// Walks the items with `active` as the state at the top of the file; returns the
    /// state at the end (which the caller discards, as OpenSSH does after an Include).
    fn apply(
        &self,
        host: &str,
        mut active: bool,
        out: &mut SshHostSettings,
    ) -> Result<(), ConfigError> {
        // Once an Include is read from an inactive block, nothing in it may apply.
        let never = !active;
        for item in &self.items {
            match item {
                Item::Host(patterns) => active = !never && host_matches(host, patterns),
                Item::Match { .. } => active = false,
                Item::Include { files, .. } => {
                    for f in files {
                        f.apply(host, active, out)?;
                    }
                }
                Item::Option { line, key, args } => {
                    if !active {
                        continue;
                    }
                    let Some(first) = args.first() else { continue };
                    match key.as_str() {
                        "hostname" if out.hostname.is_none() => out.hostname = Some(first.clone()),
                        "user" if out.user.is_none() => out.user = Some(first.clone()),
                        "port" if out.port.is_none() => {
                            let port = first.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(
                                || {
                                    ConfigError(format!(
                                        "{}:{line}: Port: bad port {first:?} (expected 1-65535)",
                                        self.name
                                    ))
                                },
                            )?;
                            out.port = Some(port);
                        }
                        "identityfile" => out.identity_files.push(first.clone()),
                        "proxyjump" if out.proxy_jump.is_none() => {
                            out.proxy_jump = Some(first.clone())
                        }
                        "userknownhostsfile" if out.user_known_hosts.is_none() => {
                            out.user_known_hosts = Some(first.clone())
                        }
                        "proxycommand" if out.proxy_command.is_none() => {
                            out.proxy_command = Some(args.join(" "))
                        }
                        "identitiesonly" if out.identities_only.is_none() => {
                            out.identities_only = Some(first.eq_ignore_ascii_case("yes"))
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// Splits one line into a lowercased keyword and its arguments; `None` for blank and
/// comment lines.
fn split_line(raw: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let s = raw.trim_start();
    if s.is_empty() || s.starts_with('#') {
        return Ok(None);
    }
    let end = s
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(s.len());
    let key = s[..end].to_ascii_lowercase();
    let mut rest = s[end..].trim_start();
    if let Some(r) = rest.strip_prefix('=') {
        rest = r;
    }
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        if c == '#' {
            break;
        }
        let mut arg = String::new();
        if c == '"' {
            chars.next();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                arg.push(c);
            }
            if !closed {
                return Err(format!("{}: unterminated quote", s[..end].trim()));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg);
    }
    Ok(Some((key, args)))
}

/// Whether a `Host` line's patterns select `host`.
fn host_matches(host: &str, patterns: &[String]) -> bool {
    let mut positive = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(neg, host) {
                return false;
            }
        } else if wildcard_match(p, host) {
            positive = true;
        }
    }
    positive
}

/// Glob match with `*` (any run) and `?` (one character), nothing else special.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// `%h` and `%%` in HostName.
fn expand_hostname(value: &str, host: &str) -> String {
    expand_tokens(value, |c| match c {
        'h' => Some(host.to_string()),
        _ => None,
    })
}

/// `%d %h %n %p %r %u %%` in IdentityFile, then `~` expansion.
pub fn expand_identity(value: &str, t: &TokenValues<'_>) -> PathBuf {
    let expanded = expand_tokens(value, |c| match c {
        'd' => t.home.map(|h| h.display().to_string()),
        'h' => Some(t.host.to_string()),
        'n' => Some(t.original_host.to_string()),
        'p' => Some(t.port.to_string()),
        'r' => Some(t.remote_user.to_string()),
        'u' => t.local_user.map(str::to_string),
        _ => None,
    });
    super::expand_tilde(&expanded, t.home)
}

/// `%h` (host connected to), `%p` (port), `%r` (remote user), `%n` (the alias as
/// given) and `%%` in a ProxyCommand, as OpenSSH expands them; other tokens stay as
/// written. The values are put in single quotes when they hold anything a shell
/// would read specially (they come from relman's or ssh's config, but are not sh).
pub fn expand_proxy_command(cmd: &str, host: &str, port: u16, user: &str, alias: &str) -> String {
    let q = |s: &str| {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:@[]/+,".contains(c))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    expand_tokens(cmd, |c| match c {
        'h' => Some(q(host)),
        'p' => Some(port.to_string()),
        'r' => Some(q(user)),
        'n' => Some(q(alias)),
        _ => None,
    })
}

/// Replaces `%c` by `value(c)` and `%%` by `%`; unknown tokens stay as written.
fn expand_tokens(s: &str, value: impl Fn(char) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(t) => match value(t) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('%');
                    out.push(t);
                }
            },
            None => out.push('%'),
        }
    }
    out
}

/// The files an `Include` argument names, sorted as glob(3) would.
fn expand_include(pattern: &str, ssh_dir: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    let path = if pattern == "~" || pattern.starts_with("~/") {
        match home {
            Some(_) => super::expand_tilde(pattern, home),
            None => return Vec::new(),
        }
    } else if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        ssh_dir.join(pattern)
    };
    let Some(file_name) = path.file_name().and_then(|f| f.to_str()) else {
        return vec![path];
    };
    if !file_name.contains(['*', '?']) {
        return vec![path];
    }
    let Some(dir) = path.parent() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        // glob(3) does not match a leading dot with a wildcard.
        .filter(|n| !n.starts_with('.') || file_name.starts_with('.'))
        .filter(|n| wildcard_match(file_name, n))
        .collect();
    names.sort();
    names.into_iter().map(|n| dir.join(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_g_output_is_read_and_default_identities_dropped() {
        let out = "user root\nhostname 127.0.0.9\nport 2299\nidentitiesonly yes\n\
                   identityfile ~/.ssh/id_rsa\nidentityfile ~/.ssh/id_ed25519\n\
                   proxycommand nc %h %p\nproxyjump none\naddkeystoagent false\n";
        let s = parse_ssh_g(out);
        assert_eq!(s.hostname.as_deref(), Some("127.0.0.9"));
        assert_eq!(s.user.as_deref(), Some("root"));
        assert_eq!(s.port, Some(2299));
        assert_eq!(s.identities_only, Some(true));
        assert!(s.identity_files.is_empty());
        assert_eq!(s.proxy_command.as_deref(), Some("nc %h %p"));
        assert_eq!(s.proxy_jump, None);
        assert_eq!(s.user_known_hosts, None);
        let s = parse_ssh_g(
            "identityfile ~/.ssh/id_rsa\nidentityfile ~/k/%h\nproxyjump a,b\n\
             userknownhostsfile ~/kh/a ~/kh/b\n",
        );
        assert_eq!(s.user_known_hosts.as_deref(), Some("~/kh/a"));
        assert_eq!(s.identity_files, ["~/.ssh/id_rsa", "~/k/%h"]);
        assert_eq!(s.proxy_jump.as_deref(), Some("a,b"));
    }

    #[test]
    fn ssh_g_answers_replace_the_own_reader() {
        let mut c = SshConfig::parse("Match host x\n HostName 10.0.0.1\n", "cfg").unwrap();
        assert_eq!(c.lookup("x").unwrap().hostname, None);
        assert_eq!(c.not_applied("x").len(), 1);
        assert!(c.not_applied("x")[0].starts_with("cfg:1: Match"));
        c.set_resolved("X", parse_ssh_g("hostname 10.0.0.1\n"));
        assert_eq!(c.lookup("x").unwrap().hostname.as_deref(), Some("10.0.0.1"));
        assert!(c.not_applied("x").is_empty());
    }

    #[test]
    fn not_applied_names_file_and_line() {
        let c = SshConfig::parse(
            "Host a\n  CertificateFile ~/.ssh/c\n  User u\nHost b\n  HostKeyAlias z\n",
            "cfg",
        )
        .unwrap();
        assert_eq!(
            c.not_applied("a"),
            ["cfg:2: certificatefile ~/.ssh/c: not applied by relman"]
        );
        assert!(c.not_applied("c").is_empty());
    }

    #[test]
    fn proxy_command_tokens_as_openssh() {
        assert_eq!(
            expand_proxy_command("nc %h %p # %r %n %% %x", "10.0.0.1", 22, "me", "alias"),
            "nc 10.0.0.1 22 # me alias % %x"
        );
        assert_eq!(
            expand_proxy_command("ssh -W %h:%p gw", "a b", 2, "x", "y"),
            "ssh -W 'a b':2 gw"
        );
        assert_eq!(
            expand_proxy_command("x %r", "h", 1, "it's", "y"),
            "x 'it'\\''s'"
        );
    }

    fn lookup(text: &str, host: &str) -> SshHostSettings {
        SshConfig::parse(text, "~/.ssh/config")
            .expect("parse")
            .lookup(host)
            .expect("lookup")
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "abc"));
        assert!(wildcard_match("batch-?", "batch-1"));
        assert!(!wildcard_match("batch-?", "batch-12"));
        assert!(wildcard_match("*.prod.example.com", "b1.prod.example.com"));
        assert!(!wildcard_match("*.prod.example.com", "prod.example.com"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(wildcard_match("10.0.0.*", "10.0.0.5"));
        assert!(!wildcard_match("abc", "abcd"));
    }

    #[test]
    fn line_splitting() {
        assert_eq!(split_line("   # comment"), Ok(None));
        assert_eq!(split_line(""), Ok(None));
        assert_eq!(
            split_line("  HostName=example.com"),
            Ok(Some(("hostname".into(), vec!["example.com".into()])))
        );
        assert_eq!(
            split_line("Port = 2222 # trailing"),
            Ok(Some(("port".into(), vec!["2222".into()])))
        );
        assert_eq!(
            split_line("IdentityFile \"~/my keys/id\""),
            Ok(Some(("identityfile".into(), vec!["~/my keys/id".into()])))
        );
        assert_eq!(
            split_line("Host a b\t!c"),
            Ok(Some((
                "host".into(),
                vec!["a".into(), "b".into(), "!c".into()]
            )))
        );
        assert!(split_line("User \"oops").is_err());
    }

    #[test]
    fn first_value_wins_and_host_star_defaults() {
        let cfg = "\
Host batch-1
    HostName 10.0.0.5
    User deployer
    IdentityFile ~/.ssh/batch

Host batch-*
    User nobody
    Port 2222
    IdentityFile ~/.ssh/fleet

Host *
    User fallback
    Port 22
    ProxyJump bastion
";
        let s = lookup(cfg, "batch-1");
        assert_eq!(s.hostname.as_deref(), Some("10.0.0.5"));
        assert_eq!(s.user.as_deref(), Some("deployer"));
        assert_eq!(s.port, Some(2222));
        assert_eq!(s.identity_files, vec!["~/.ssh/batch", "~/.ssh/fleet"]);
        assert_eq!(s.proxy_jump.as_deref(), Some("bastion"));

        let s = lookup(cfg, "other");
        assert_eq!(s.hostname, None);
        assert_eq!(s.user.as_deref(), Some("fallback"));
        assert_eq!(s.port, Some(22));
    }

    #[test]
    fn negation_and_several_patterns() {
        let cfg = "\
Host *.prod !db*.prod web
    User prod
Host *
    User other
";
        assert_eq!(lookup(cfg, "app.prod").user.as_deref(), Some("prod"));
        assert_eq!(lookup(cfg, "db1.prod").user.as_deref(), Some("other"));
        assert_eq!(lookup(cfg, "web").user.as_deref(), Some("prod"));
        // A Host line with only negations never matches.
        assert_eq!(lookup("Host !x\n User n\n", "y").user, None);
    }

    #[test]
    fn host_is_lowercased_before_matching() {
        assert_eq!(
            lookup("Host batch\n User u\n", "BATCH").user.as_deref(),
            Some("u")
        );
    }

    #[test]
    fn global_lines_before_first_host_apply_to_all() {
        let s = lookup("User early\nHost x\n User late\n", "x");
        assert_eq!(s.user.as_deref(), Some("early"));
    }

    #[test]
    fn match_blocks_never_apply() {
        let cfg = "Match host x\n User m\nHost x\n User h\n";
        assert_eq!(lookup(cfg, "x").user.as_deref(), Some("h"));
    }

    #[test]
    fn proxy_jump_none_wins() {
        let cfg = "Host inner\n ProxyJump none\nHost *\n ProxyJump bastion\n";
        assert_eq!(lookup(cfg, "inner").proxy_jump, None);
        assert_eq!(lookup(cfg, "x").proxy_jump.as_deref(), Some("bastion"));
    }

    #[test]
    fn hostname_tokens() {
        let s = lookup("Host *.lan\n HostName %h.example.com\n", "b1.lan");
        assert_eq!(s.hostname.as_deref(), Some("b1.lan.example.com"));
        let s = lookup("Host x\n HostName 100%%\n", "x");
        assert_eq!(s.hostname.as_deref(), Some("100%"));
    }

    #[test]
    fn identity_tokens_and_tilde() {
        let home = PathBuf::from("/home/op");
        let t = TokenValues {
            home: Some(&home),
            local_user: Some("op"),
            remote_user: "deployer",
            host: "10.0.0.5",
            original_host: "batch-1",
            port: 2222,
        };
        assert_eq!(
            expand_identity("~/.ssh/%n-%r@%h:%p-%u-%x", &t),
            PathBuf::from("/home/op/.ssh/batch-1-deployer@10.0.0.5:2222-op-%x")
        );
        assert_eq!(expand_identity("%d/k", &t), PathBuf::from("/home/op/k"));
    }

    #[test]
    fn bad_port_names_file_and_line() {
        let cfg = SshConfig::parse("Host x\n  Port nope\n", "/h/.ssh/config").expect("parse");
        let err = cfg.lookup("x").expect_err("bad port").to_string();
        assert!(err.starts_with("/h/.ssh/config:2: Port:"), "{err}");
        // ...but only when it applies.
        assert!(cfg.lookup("y").is_ok());
    }

    #[test]
    fn unterminated_quote_names_line() {
        let err = SshConfig::parse("Host x\nUser \"a\n", "cfg").expect_err("bad");
        assert!(err.to_string().starts_with("cfg:2: "), "{err}");
    }

    #[test]
    fn includes_are_resolved_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ssh = dir.path().join(".ssh");
        std::fs::create_dir_all(ssh.join("conf.d")).expect("mkdir");
        std::fs::write(ssh.join("conf.d/10-a"), "Host a\n User from-a\n").expect("write");
        std::fs::write(
            ssh.join("conf.d/20-b"),
            "Host a b\n User from-b\n Port 2200\n",
        )
        .expect("write");
        std::fs::write(ssh.join("conf.d/.hidden"), "Host *\n User hidden\n").expect("write");
        std::fs::write(ssh.join("inner"), "User inner\n").expect("write");
        let main = "\
Include conf.d/* missing-file
Host c
  Include ~/.ssh/inner
  Port 2300
Host d
  Port 2400
";
        let mut cfg = SshConfig::parse(main, "~/.ssh/config").expect("parse");
        cfg.resolve_includes(&ssh, Some(dir.path()))
            .expect("resolve");
        let a = cfg.lookup("a").expect("a");
        assert_eq!(a.user.as_deref(), Some("from-a"));
        assert_eq!(a.port, Some(2200));
        assert_eq!(cfg.lookup("b").expect("b").user.as_deref(), Some("from-b"));
        // Include inside `Host c` applies to c only, and the block state is kept after it.
        let c = cfg.lookup("c").expect("c");
        assert_eq!(c.user.as_deref(), Some("inner"));
        assert_eq!(c.port, Some(2300));
        let d = cfg.lookup("d").expect("d");
        assert_eq!(d.user, None);
        assert_eq!(d.port, Some(2400));
    }

    #[test]
    fn include_state_is_restored_after_the_included_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The included file opens its own Host block that does not match...
        std::fs::write(dir.path().join("extra"), "Host elsewhere\n User e\n").expect("write");
        let main = "Host x\n Include extra\n User after\n";
        let mut cfg = SshConfig::parse(main, "cfg").expect("parse");
        cfg.resolve_includes(dir.path(), None).expect("resolve");
        // ...but the lines after the Include are still in `Host x`.
        assert_eq!(cfg.lookup("x").expect("x").user.as_deref(), Some("after"));
    }

    #[test]
    fn include_recursion_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("loop"), "Include loop\n").expect("write");
        let mut cfg = SshConfig::parse("Include loop\n", "cfg").expect("parse");
        let err = cfg.resolve_includes(dir.path(), None).expect_err("loop");
        assert!(err.to_string().contains("nested"), "{err}");
    }
}
