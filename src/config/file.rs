//! Reading relman's TOML into plain values, each remembered with the line and key it came
//! from. The document is walked as a spanned tree (`toml::de::DeTable`) rather than
//! deserialised with serde, so that every error — unknown key, wrong type, bad value,
//! duplicate host — is one line naming the file, the line and the full key.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigError;
use super::validate;

/// Top-level keys, in the order they are documented.
pub const TOP_KEYS: &[&str] = &[
    "keep",
    "refresh",
    "parallel",
    "connect_timeout",
    "stall_timeout",
    "known_hosts",
    "global_known_hosts",
    "identities_only",
    "prune_after_deploy",
    "hooks",
    "defaults",
    "hosts",
];

/// Keys of `[hooks]` (SPEC §7): the four hooks and how long each may run.
pub const HOOK_KEYS: &[&str] = &[
    "after_deploy",
    "after_switch",
    "after_rollback",
    "on_refuse",
    "timeout",
];

/// Keys of a `[[hosts]]` entry.
pub const HOST_KEYS: &[&str] = &[
    "name",
    "address",
    "port",
    "user",
    "identity",
    "jump",
    "groups",
    "root",
    "link",
    "prefix",
    "job_users",
    "scan_sudo",
];

/// Keys of `[defaults]`: every host key but `name` and `address`.
pub const DEFAULT_KEYS: &[&str] = &[
    "port",
    "user",
    "identity",
    "jump",
    "groups",
    "root",
    "link",
    "prefix",
    "job_users",
    "scan_sudo",
];

/// A value with where it was written: 1-based line and full key (`hosts[1].port`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
    pub key: String,
}

/// The host keys set in one table (`[defaults]` or one `[[hosts]]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostKeys {
    pub address: Option<Located<String>>,
    pub port: Option<Located<u16>>,
    pub user: Option<Located<String>>,
    pub identity: Option<Located<String>>,
    pub jump: Option<Located<String>>,
    pub groups: Option<Located<Vec<String>>>,
    /// Already normalised by [`validate::check_root`].
    pub root: Option<Located<String>>,
    pub link: Option<Located<String>>,
    pub prefix: Option<Located<String>>,
    pub job_users: Option<Located<Vec<String>>>,
    pub scan_sudo: Option<Located<bool>>,
}

/// One `[[hosts]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawHost {
    pub name: Located<String>,
    pub keys: HostKeys,
}

/// The file's content, checked value by value; nothing merged yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawConfig {
    pub keep: Option<usize>,
    pub refresh: Option<Duration>,
    pub parallel: Option<usize>,
    pub connect_timeout: Option<Duration>,
    pub stall_timeout: Option<Duration>,
    pub known_hosts: Option<String>,
    pub global_known_hosts: Option<String>,
    pub identities_only: Option<bool>,
    pub prune_after_deploy: Option<bool>,
    pub hooks: super::Hooks,
    pub defaults: HostKeys,
    pub hosts: Vec<RawHost>,
}

/// The text being read, for turning byte offsets into lines in messages.
pub struct Doc<'a> {
    pub text: &'a str,
    pub path: &'a Path,
}

impl Doc<'_> {
    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// `PATH:LINE: KEY: MESSAGE`.
    pub fn err(&self, offset: usize, key: &str, msg: impl std::fmt::Display) -> ConfigError {
        at(self.path, self.line(offset), key, msg)
    }

    /// A short quote of the source text at `span`, for "found ..." messages.
    fn quote(&self, span: Range<usize>) -> String {
        let s = self.text.get(span).unwrap_or("").trim();
        let first = s.lines().next().unwrap_or("");
        if first.chars().count() > 40 || first.len() < s.len() {
            format!("{}...", first.chars().take(40).collect::<String>())
        } else {
            first.to_string()
        }
    }
}

/// `PATH:LINE: KEY: MESSAGE`, the one shape of every error about the file's content.
pub fn at(path: &Path, line: usize, key: &str, msg: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{}:{line}: {key}: {msg}", path.display()))
}

type Entry<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
);

/// Entries of a table in file order (the parsed map is sorted by key).
fn entries<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
    let mut v: Vec<_> = table.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// Parses the whole document into a [`RawConfig`].
pub fn read(doc: &Doc<'_>) -> Result<RawConfig, ConfigError> {
    let root = DeTable::parse(doc.text).map_err(|e| syntax_error(doc, &e))?;
    let mut raw = RawConfig::default();
    for (k, v) in entries(root.get_ref()) {
        let key = k.get_ref().as_ref();
        match key {
            "keep" => raw.keep = Some(read_count(doc, v, key, 0)?),
            "parallel" => raw.parallel = Some(read_count(doc, v, key, 1)?),
            "refresh" => raw.refresh = Some(read_duration(doc, v, key)?),
            "connect_timeout" => raw.connect_timeout = Some(read_duration(doc, v, key)?),
            "stall_timeout" => raw.stall_timeout = Some(read_duration(doc, v, key)?),
            "known_hosts" => {
                let s = read_str(doc, v, key)?;
                if s.is_empty() {
                    return Err(doc.err(v.span().start, key, "must not be empty"));
                }
                raw.known_hosts = Some(s.to_string());
            }
            "global_known_hosts" => {
                let s = read_str(doc, v, key)?;
                if s.is_empty() {
                    return Err(doc.err(v.span().start, key, "must not be empty"));
                }
                raw.global_known_hosts = Some(s.to_string());
            }
            "identities_only" => raw.identities_only = Some(read_bool(doc, v, key)?),
            "prune_after_deploy" => raw.prune_after_deploy = Some(read_bool(doc, v, key)?),
            "hooks" => {
                let t = read_table(doc, v, key, "a table ([hooks])")?;
                raw.hooks = read_hooks(doc, t)?;
            }
            "defaults" => {
                let t = read_table(doc, v, key, "a table ([defaults])")?;
                raw.defaults = read_host_keys(doc, t, "defaults", DEFAULT_KEYS)?;
            }
            "hosts" => raw.hosts = read_hosts(doc, v)?,
            _ => return Err(unknown_key(doc, k, None, TOP_KEYS)),
        }
    }
    Ok(raw)
}

/// A TOML syntax error (this includes a key written twice), on one line.
fn syntax_error(doc: &Doc<'_>, e: &toml::de::Error) -> ConfigError {
    let msg = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let line = e.span().map(|s| doc.line(s.start)).unwrap_or(1);
    let key = doc
        .text
        .lines()
        .nth(line - 1)
        .and_then(key_of_line)
        .map(|k| format!("{k}: "))
        .unwrap_or_default();
    ConfigError(format!(
        "{}:{line}: {key}invalid TOML: {msg}",
        doc.path.display()
    ))
}

/// The key a TOML line is about, if it plainly names one: `key = ...`, `[table]`,
/// `[[array]]`. Used to name the key in syntax errors.
fn key_of_line(line: &str) -> Option<&str> {
    let t = line.trim();
    let k = if let Some(h) = t.strip_prefix('[') {
        h.trim_start_matches('[').split(']').next()?
    } else {
        t.split('=').next()?
    }
    .trim();
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\'' | ' '));
    plain.then_some(k)
}

/// `unknown key "kep" (did you mean "keep"? expected one of keep, refresh, ...)`.
fn unknown_key(
    doc: &Doc<'_>,
    k: &Spanned<std::borrow::Cow<'_, str>>,
    table: Option<&str>,
    allowed: &[&str],
) -> ConfigError {
    let name = k.get_ref().as_ref();
    let hint = allowed
        .iter()
        .map(|a| (validate::edit_distance(name, a), a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| format!("did you mean \"{a}\"? "))
        .unwrap_or_default();
    let prefix = table.map(|t| format!("{t}: ")).unwrap_or_default();
    ConfigError(format!(
        "{}:{}: {prefix}unknown key {name:?} ({hint}expected one of {})",
        doc.path.display(),
        doc.line(k.span().start),
        allowed.join(", ")
    ))
}

fn wrong_type(doc: &Doc<'_>, v: &Spanned<DeValue<'_>>, key: &str, expected: &str) -> ConfigError {
    doc.err(
        v.span().start,
        key,
        format!(
            "expected {expected}, found {} {}",
            v.get_ref().type_str(),
            doc.quote(v.span())
        ),
    )
}

fn read_str<'a>(
    doc: &Doc<'_>,
    v: &'a Spanned<DeValue<'_>>,
    key: &str,
) -> Result<&'a str, ConfigError> {
    v.get_ref()
        .as_str()
        .ok_or_else(|| wrong_type(doc, v, key, "a string"))
}

fn read_bool(doc: &Doc<'_>, v: &Spanned<DeValue<'_>>, key: &str) -> Result<bool, ConfigError> {
    v.get_ref()
        .as_bool()
        .ok_or_else(|| wrong_type(doc, v, key, "true or false"))
}

/// An array of strings (`expected` names them in the error), each checked by
/// `check`, duplicates dropped (first one kept), remembered with its line and key.
fn read_names(
    doc: &Doc<'_>,
    v: &Spanned<DeValue<'_>>,
    key: &str,
    line: usize,
    expected: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<Located<Vec<String>>, ConfigError> {
    let arr = v
        .get_ref()
        .as_array()
        .ok_or_else(|| wrong_type(doc, v, key, expected))?;
    let mut names: Vec<String> = Vec::new();
    for (j, item) in arr.iter().enumerate() {
        let ikey = format!("{key}[{j}]");
        let s = read_str(doc, item, &ikey)?;
        check(s).map_err(|m| doc.err(item.span().start, &ikey, m))?;
        if !names.iter().any(|x| x == s) {
            names.push(s.to_string());
        }
    }
    Ok(Located {
        value: names,
        line,
        key: key.to_string(),
    })
}

fn read_int(doc: &Doc<'_>, v: &Spanned<DeValue<'_>>, key: &str) -> Result<i128, ConfigError> {
    let i = v
        .get_ref()
        .as_integer()
        .ok_or_else(|| wrong_type(doc, v, key, "an integer"))?;
    i128::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
        doc.err(
            v.span().start,
            key,
            format!("integer {} is out of range", doc.quote(v.span())),
        )
    })
}

/// A count with a lower bound (`keep` ≥ 0, `parallel` ≥ 1).
fn read_count(
    doc: &Doc<'_>,
    v: &Spanned<DeValue<'_>>,
    key: &str,
    min: usize,
) -> Result<usize, ConfigError> {
    let n = read_int(doc, v, key)?;
    if n < min as i128 {
        return Err(doc.err(
            v.span().start,
            key,
            format!("must be {min} or more, not {n}"),
        ));
    }
    usize::try_from(n).map_err(|_| doc.err(v.span().start, key, format!("{n} is too large")))
}

/// A humantime duration (`"10s"`, `"1m 30s"`), more than zero.
fn read_duration(
    doc: &Doc<'_>,
    v: &Spanned<DeValue<'_>>,
    key: &str,
) -> Result<Duration, ConfigError> {
    let s = v
        .get_ref()
        .as_str()
        .ok_or_else(|| wrong_type(doc, v, key, "a duration string such as \"10s\""))?;
    let d = humantime::parse_duration(s).map_err(|e| {
        doc.err(
            v.span().start,
            key,
            format!("cannot parse duration {s:?}: {e}"),
        )
    })?;
    if d.is_zero() {
        return Err(doc.err(
            v.span().start,
            key,
            format!("must be more than zero, not {s:?}"),
        ));
    }
    Ok(d)
}

fn read_table<'a, 'i>(
    doc: &Doc<'_>,
    v: &'a Spanned<DeValue<'i>>,
    key: &str,
    expected: &str,
) -> Result<&'a DeTable<'i>, ConfigError> {
    v.get_ref()
        .as_table()
        .ok_or_else(|| wrong_type(doc, v, key, expected))
}

/// `[hooks]`: each hook a command for `sh -c` (not empty, no NUL byte), `timeout`
/// a duration.
fn read_hooks(doc: &Doc<'_>, t: &DeTable<'_>) -> Result<super::Hooks, ConfigError> {
    let mut h = super::Hooks::default();
    for (k, v) in entries(t) {
        let name = k.get_ref().as_ref();
        let key = format!("hooks.{name}");
        if name == "timeout" {
            h.timeout = read_duration(doc, v, &key)?;
            continue;
        }
        let slot = match name {
            "after_deploy" => &mut h.after_deploy,
            "after_switch" => &mut h.after_switch,
            "after_rollback" => &mut h.after_rollback,
            "on_refuse" => &mut h.on_refuse,
            _ => return Err(unknown_key(doc, k, Some("hooks"), HOOK_KEYS)),
        };
        let s = read_str(doc, v, &key)?;
        if s.trim().is_empty() {
            return Err(doc.err(
                v.span().start,
                &key,
                "must not be empty (leave the key out)",
            ));
        }
        if s.contains('\0') {
            return Err(doc.err(v.span().start, &key, "must not contain a NUL byte"));
        }
        *slot = Some(s.to_string());
    }
    Ok(h)
}

fn read_hosts(doc: &Doc<'_>, v: &Spanned<DeValue<'_>>) -> Result<Vec<RawHost>, ConfigError> {
    let arr = v
        .get_ref()
        .as_array()
        .ok_or_else(|| wrong_type(doc, v, "hosts", "[[hosts]] entries (an array of tables)"))?;
    let mut hosts: Vec<RawHost> = Vec::with_capacity(arr.len());
    for (i, item) in arr.iter().enumerate() {
        let table_key = format!("hosts[{i}]");
        let t = read_table(doc, item, &table_key, "a table")?;
        let name_entry = t.iter().find(|(k, _)| k.get_ref().as_ref() == "name");
        let keys = read_host_keys(doc, t, &table_key, HOST_KEYS)?;
        let Some((_, nv)) = name_entry else {
            return Err(doc.err(
                item.span().start,
                &format!("{table_key}.name"),
                "missing: every [[hosts]] entry needs a name",
            ));
        };
        let key = format!("{table_key}.name");
        let name = read_str(doc, nv, &key)?;
        validate::check_name(name).map_err(|m| doc.err(nv.span().start, &key, m))?;
        let line = doc.line(nv.span().start);
        if let Some(first) = hosts.iter().find(|h| h.name.value == name) {
            return Err(doc.err(
                nv.span().start,
                &key,
                format!(
                    "duplicate host name {name:?} (first defined at line {})",
                    first.name.line
                ),
            ));
        }
        hosts.push(RawHost {
            name: Located {
                value: name.to_string(),
                line,
                key,
            },
            keys,
        });
    }
    Ok(hosts)
}

/// Reads the host keys of one table; `name` is skipped (the caller reads it).
fn read_host_keys(
    doc: &Doc<'_>,
    t: &DeTable<'_>,
    table_key: &str,
    allowed: &[&str],
) -> Result<HostKeys, ConfigError> {
    let mut keys = HostKeys::default();
    for (k, v) in entries(t) {
        let name = k.get_ref().as_ref();
        if !allowed.contains(&name) {
            if table_key == "defaults" && HOST_KEYS.contains(&name) {
                return Err(doc.err(
                    k.span().start,
                    &format!("defaults.{name}"),
                    "cannot be set in [defaults]: each host has its own",
                ));
            }
            return Err(unknown_key(doc, k, Some(table_key), allowed));
        }
        let key = format!("{table_key}.{name}");
        let start = v.span().start;
        let line = doc.line(start);
        let loc = |value| Located {
            value,
            line,
            key: key.clone(),
        };
        let bad = |m: String| doc.err(start, &key, m);
        match name {
            "name" => {}
            "address" => {
                let s = read_str(doc, v, &key)?;
                validate::check_word(s).map_err(bad)?;
                keys.address = Some(loc(s.to_string()));
            }
            "port" => {
                let n = read_int(doc, v, &key)?;
                let port = u16::try_from(n)
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad(format!("bad port {n} (expected 1-65535)")))?;
                keys.port = Some(Located {
                    value: port,
                    line,
                    key: key.clone(),
                });
            }
            "user" => {
                let s = read_str(doc, v, &key)?;
                validate::check_word(s).map_err(bad)?;
                keys.user = Some(loc(s.to_string()));
            }
            "identity" => {
                let s = read_str(doc, v, &key)?;
                if s.is_empty() {
                    return Err(bad("must not be empty".into()));
                }
                keys.identity = Some(loc(s.to_string()));
            }
            "jump" => {
                let s = read_str(doc, v, &key)?;
                validate::check_word(s).map_err(bad)?;
                keys.jump = Some(loc(s.to_string()));
            }
            "groups" => {
                keys.groups = Some(read_names(
                    doc,
                    v,
                    &key,
                    line,
                    "an array of group names",
                    validate::check_name,
                )?);
            }
            "root" => {
                let s = read_str(doc, v, &key)?;
                let root = validate::check_root(s).map_err(bad)?;
                keys.root = Some(loc(root));
            }
            "link" => {
                let s = read_str(doc, v, &key)?;
                validate::check_link(s).map_err(bad)?;
                keys.link = Some(loc(s.to_string()));
            }
            "prefix" => {
                let s = read_str(doc, v, &key)?;
                validate::check_entry_name(s).map_err(bad)?;
                keys.prefix = Some(loc(s.to_string()));
            }
            "job_users" => {
                keys.job_users = Some(read_names(
                    doc,
                    v,
                    &key,
                    line,
                    "an array of user names",
                    validate::check_user_name,
                )?);
            }
            "scan_sudo" => {
                keys.scan_sudo = Some(Located {
                    value: read_bool(doc, v, &key)?,
                    line,
                    key: key.clone(),
                });
            }
            _ => return Err(unknown_key(doc, k, Some(table_key), allowed)),
        }
    }
    Ok(keys)
}
