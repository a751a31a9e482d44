//! The scan output format (version 1) and its strict parser.
//!
//! `scripts/scan.sh` prints one record per line, fields separated by tabs:
//!
//! ```text
//! relman-scan 1                      always first
//! now <epoch secs>                   the host's clock
//! root ok|missing|notdir|dangling <abs or link target hex> <symlink 0|1>
//! link absent|notsymlink|release|dangling|outside|notrelease <name or target hex> <absolute 0|1>
//! foreign <count>
//! release <name> <size bytes|?> ok|unreadable|empty
//! manifest <name> <.relman.json on one line>
//! staging <name>
//! lock free|held|unknown
//! lockinfo <lock file on one line>
//! pin <file name> <pin JSON on one line>
//! history <one line of history.jsonl>
//! trash <entries> <files> <bytes|?>  what a prune left in .relman/trash (only if any)
//! procs <inspected> <hidden> known|unknown
//! hidden <user> <count> self|other   processes of that user we could not inspect
//! sudo <user> ok|refused|unknown     the job scan run as that user (scan_sudo)
//! job <release> /proc/<pid>/cwd|exe|fd/<n>
//! jobarg <pid>                       a process whose argv mentions the prefix
//! jobinfo <pid> <user> <start ticks> <argv hex, NUL-separated>
//! clock <ticks per sec> <boot time>
//! health <release> <runs> <ok> <failed> <killed> <lost> <running>   from the run ledger
//! lastfail <release> <id> <at> <exit|-> <signal|-> <command, JSON-escaped>
//! probation <release> <previous> <since> <until> <max failures> <failures>
//!                                    the live release's probation (epoch secs)
//! end                                always last: a truncated output has no `end`
//! ```
//!
//! `runs.sh` (`relman runs`) answers in a format of its own, [`parse_runs`].
//!
//! Anything else — an unknown record, a wrong field count, a bad number, output
//! after `end` — is an error naming the line: a host's output is never
//! half-believed. A name the script called a release that fails
//! `ReleaseName::parse` is not believed either, but it is the host's directory, not
//! the format: it counts as foreign (with a warning), so one odd directory can never
//! make a host unmanageable. Payloads that are the host's own files (a manifest, a
//! pin, a history line) that don't parse are not fatal: the release shows its
//! manifest as unreadable, the rest becomes a warning.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use crate::model::{
    Health, HiddenUser, HistoryEntry, HostState, Job, JobVia, LastFailure, LinkState, LockInfo,
    Manifest, Origin, Pin, Probation, Release, ReleaseName, Run, RunStatus, SudoScan, Trash,
    Usability, printable,
};

pub const VERSION: &str = "1";

/// Why scan output was refused. `line` 0: the output was fine, and says the host's
/// root can't be used (the message alone is shown).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", if *.line == 0 { .msg.clone() } else { format!("scan output line {}: {}", .line, .msg) })]
pub struct WireError {
    pub line: usize,
    pub msg: String,
}

fn err(line: usize, msg: impl Into<String>) -> WireError {
    WireError {
        line,
        msg: msg.into(),
    }
}

/// Decodes lowercase hex as produced by `od -An -tx1`.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A probation as a host's script reports it: `release previous since until max
/// failures` (times in epoch seconds, host clock) → [`Probation`] (RFC 3339). The
/// scan's `probation` record and `accept.sh`'s answer.
pub fn probation(line: usize, prefix: &str, f: &[&str]) -> Result<Probation, WireError> {
    let [rel, prev, since, until, max, fails] = f else {
        return Err(err(
            line,
            format!("a probation needs 6 fields, got {}", f.len()),
        ));
    };
    let release = |what: &str, s: &str| {
        ReleaseName::parse(prefix, s)
            .map(|r| r.as_str().to_string())
            .map_err(|e| err(line, format!("probation {what} {:?}: {e}", printable(s))))
    };
    let since: u64 = num(line, "probation since", since)?;
    let until: u64 = num(line, "probation until", until)?;
    // 9999-12-31T23:59:59Z: what RFC 3339 can say.
    if until < since || until > 253_402_300_799 {
        return Err(err(
            line,
            "probation ends before it starts or after year 9999",
        ));
    }
    let at = |secs: u64| {
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
    };
    Ok(Probation {
        release: release("release", rel)?,
        previous: Some(release("previous", prev)?),
        since: at(since),
        until: at(until),
        max_failures: num(line, "probation max failures", max)?,
        failures: num(line, "probation failures", fails)?,
    })
}

fn num<T: std::str::FromStr>(line: usize, what: &str, s: &str) -> Result<T, WireError> {
    s.parse()
        .map_err(|_| err(line, format!("{what} is not a number: {:?}", printable(s))))
}

fn flag(line: usize, s: &str) -> Result<bool, WireError> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(err(
            line,
            format!("expected 0 or 1, got {:?}", printable(s)),
        )),
    }
}

#[derive(Default)]
struct JobInfo {
    user: String,
    start_ticks: u64,
    argv: Vec<String>,
}

/// Parses a scan of the root `root` (as configured) with the given link and prefix.
pub fn parse_scan(
    out: &[u8],
    root: &str,
    link: &str,
    prefix: &str,
) -> Result<HostState, WireError> {
    let text = String::from_utf8_lossy(out);
    let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, l)) if l == format!("relman-scan\t{VERSION}") => {}
        Some((_, l)) if l.starts_with("relman-scan\t") => {
            return Err(err(
                1,
                format!("unsupported scan version {:?}", printable(&l[12..])),
            ));
        }
        _ => {
            return Err(err(
                1,
                "not relman scan output (is the remote shell printing a banner?)",
            ));
        }
    }

    let mut st = HostState::empty(root, link, prefix, UNIX_EPOCH);
    let mut sizes: BTreeMap<ReleaseName, (u64, Usability)> = BTreeMap::new();
    let mut manifests: BTreeMap<String, Origin> = BTreeMap::new();
    let mut pins: Vec<Pin> = Vec::new();
    let mut job_paths: Vec<(String, u32, JobVia)> = Vec::new();
    let mut job_args: Vec<u32> = Vec::new();
    let mut infos: BTreeMap<u32, JobInfo> = BTreeMap::new();
    let mut clock: Option<(u64, u64)> = None;
    let mut health: BTreeMap<String, Health> = BTreeMap::new();
    let mut lock_held = false;
    let mut ended = false;
    // Entries reported as releases whose names relman refuses: foreign.
    let mut refused = 0;

    for (n, l) in lines.by_ref() {
        if l.is_empty() && ended {
            continue;
        }
        if ended {
            return Err(err(n, "output after `end`"));
        }
        let f: Vec<&str> = l.split('\t').collect();
        let want = |k: usize| -> Result<(), WireError> {
            if f.len() == k {
                Ok(())
            } else {
                Err(err(
                    n,
                    format!(
                        "`{}` needs {} fields, got {}",
                        printable(f[0]),
                        k - 1,
                        f.len() - 1
                    ),
                ))
            }
        };
        // A name the host's script took for a release but relman does not: `None`,
        // and the record is left out (the scripts and `ReleaseName` agree, so this
        // is a host with another relman's scripts, or a bug: never a failed scan).
        let name = |s: &str| ReleaseName::parse(prefix, s).ok();
        match f[0] {
            "now" => {
                want(2)?;
                st.scanned_at = UNIX_EPOCH + Duration::from_secs(num(n, "now", f[1])?);
            }
            "root" => {
                want(4)?;
                match f[1] {
                    "missing" => st.root_exists = false,
                    "notdir" => {
                        return Err(err(
                            0,
                            format!("the root {root} exists but is not a directory"),
                        ));
                    }
                    "dangling" => {
                        let t = unhex(f[2]).ok_or_else(|| err(n, "root target is not hex"))?;
                        return Err(err(
                            0,
                            format!(
                                "the root {root} is a symlink to {}, which does not exist",
                                printable(&String::from_utf8_lossy(&t))
                            ),
                        ));
                    }
                    "ok" => {
                        let abs = unhex(f[2]).ok_or_else(|| err(n, "root path is not hex"))?;
                        let abs =
                            String::from_utf8(abs).map_err(|_| err(n, "root path is not UTF-8"))?;
                        if !abs.starts_with('/') || abs.contains('\n') {
                            return Err(err(n, "root path is not absolute"));
                        }
                        flag(n, f[3])?;
                        st.root_exists = true;
                        st.root_abs = abs;
                    }
                    k => return Err(err(n, format!("unknown root state {:?}", printable(k)))),
                }
            }
            "link" => {
                want(4)?;
                let absolute = flag(n, f[3])?;
                let target = || -> Result<String, WireError> {
                    let b = unhex(f[2]).ok_or_else(|| err(n, "link target is not hex"))?;
                    Ok(String::from_utf8_lossy(&b).into_owned())
                };
                st.link = match f[1] {
                    "absent" => LinkState::Absent,
                    "notsymlink" => LinkState::NotSymlink,
                    "release" => match name(f[2]) {
                        Some(name) => LinkState::Release { name, absolute },
                        None => LinkState::NotRelease {
                            target: f[2].to_string(),
                        },
                    },
                    "dangling" => LinkState::Dangling { target: target()? },
                    "outside" => LinkState::Outside { target: target()? },
                    "notrelease" => LinkState::NotRelease { target: target()? },
                    k => return Err(err(n, format!("unknown link state {:?}", printable(k)))),
                };
            }
            "foreign" => {
                want(2)?;
                st.foreign = num(n, "foreign", f[1])?;
            }
            "release" => {
                want(4)?;
                let size = if f[2] == "?" {
                    0
                } else {
                    num(n, "size", f[2])?
                };
                let usable = match f[3] {
                    "ok" => Usability::Usable,
                    "unreadable" => Usability::Unreadable,
                    "empty" => Usability::Empty,
                    k => return Err(err(n, format!("unknown release state {:?}", printable(k)))),
                };
                match name(f[1]) {
                    Some(rel) => {
                        sizes.insert(rel, (size, usable));
                    }
                    None => {
                        refused += 1;
                        st.warnings.push(format!(
                            "{} is not a release name: counted as foreign",
                            printable(f[1])
                        ));
                    }
                }
            }
            "manifest" => {
                if f.len() < 3 {
                    want(3)?;
                }
                let Some(rel) = name(f[1]) else { continue };
                let json = f[2..].join(" ");
                let origin = match Manifest::parse_for(rel.as_str(), &json) {
                    Ok(m) => Origin::Relman(m),
                    Err(why) => Origin::BadManifest(why),
                };
                manifests.insert(rel.as_str().to_string(), origin);
            }
            "staging" => {
                want(2)?;
                if let Some(s) = name(f[1]) {
                    st.staging.push(s.as_str().to_string());
                }
            }
            "lock" => {
                want(2)?;
                lock_held = match f[1] {
                    "free" => false,
                    "held" => true,
                    "unknown" => {
                        st.warnings
                            .push("flock is missing on the host: lock state unknown".into());
                        false
                    }
                    k => return Err(err(n, format!("unknown lock state {:?}", printable(k)))),
                };
            }
            "lockinfo" => {
                let raw = f[1..].join(" ");
                st.lock = Some(
                    serde_json::from_str(raw.trim()).unwrap_or_else(|_| LockInfo {
                        by: "?".into(),
                        action: "?".into(),
                        since: String::new(),
                        pid: None,
                        token: String::new(),
                    }),
                );
            }
            "pin" => {
                if f.len() < 3 {
                    want(3)?;
                }
                match serde_json::from_str::<Pin>(&f[2..].join(" ")) {
                    Ok(p) => pins.push(p),
                    Err(e) => st
                        .warnings
                        .push(format!("pin file {} unreadable: {e}", printable(f[1]))),
                }
            }
            "history" => {
                let raw = f[1..].join(" ");
                match serde_json::from_str::<HistoryEntry>(&raw) {
                    Ok(h) => st.history.push(h),
                    Err(e) => st.warnings.push(format!("history line unreadable: {e}")),
                }
            }
            "trash" => {
                want(4)?;
                st.trash = Some(Trash {
                    entries: num(n, "trash entries", f[1])?,
                    files: num(n, "trash files", f[2])?,
                    bytes: match f[3] {
                        "?" => None,
                        b => Some(num(n, "trash bytes", b)?),
                    },
                });
            }
            "procs" => {
                want(4)?;
                let _inspected: usize = num(n, "procs", f[1])?;
                st.hidden_processes = num(n, "hidden", f[2])?;
                st.jobs_known = match f[3] {
                    "known" => true,
                    "unknown" => false,
                    k => return Err(err(n, format!("unknown procs state {:?}", printable(k)))),
                };
            }
            "hidden" => {
                want(4)?;
                let user = user_name(n, f[1])?;
                let count = num(n, "hidden", f[2])?;
                let own = match f[3] {
                    "self" => true,
                    "other" => false,
                    k => {
                        return Err(err(
                            n,
                            format!("expected self or other, got {:?}", printable(k)),
                        ));
                    }
                };
                if st.hidden_users.iter().any(|h| h.user == user) {
                    return Err(err(n, format!("user {user:?} counted twice")));
                }
                st.hidden_users.push(HiddenUser { user, count, own });
            }
            "sudo" => {
                want(3)?;
                let user = user_name(n, f[1])?;
                let how = match f[2] {
                    "ok" => SudoScan::Ok,
                    "refused" => SudoScan::Refused,
                    "unknown" => SudoScan::Unknown,
                    k => return Err(err(n, format!("unknown sudo state {:?}", printable(k)))),
                };
                if st.sudo_scans.iter().any(|(u, _)| *u == user) {
                    return Err(err(n, format!("sudo scan as {user:?} reported twice")));
                }
                st.sudo_scans.push((user, how));
            }
            "job" => {
                want(3)?;
                let (pid, via) = parse_proc_path(f[2]).ok_or_else(|| err(n, "bad /proc path"))?;
                if let Some(rel) = name(f[1]) {
                    job_paths.push((rel.as_str().to_string(), pid, via));
                }
            }
            "jobarg" => {
                want(2)?;
                job_args.push(num(n, "pid", f[1])?);
            }
            "jobinfo" => {
                want(5)?;
                let pid = num(n, "pid", f[1])?;
                let argv = unhex(f[4]).ok_or_else(|| err(n, "argv is not hex"))?;
                let argv = argv
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                infos.insert(
                    pid,
                    JobInfo {
                        user: printable(f[2]),
                        start_ticks: num(n, "start", f[3])?,
                        argv,
                    },
                );
            }
            "clock" => {
                want(3)?;
                clock = Some((num(n, "ticks", f[1])?, num(n, "btime", f[2])?));
            }
            "probation" => {
                want(7)?;
                if st.probation.is_some() {
                    return Err(err(n, "probation reported twice"));
                }
                st.probation = Some(probation(n, prefix, &f[1..])?);
            }
            "health" => {
                want(8)?;
                let Some(rel) = name(f[1]) else { continue };
                let h = health.entry(rel.as_str().to_string()).or_default();
                if h.runs > 0 {
                    return Err(err(n, format!("health of {rel} reported twice")));
                }
                let c = |i: usize, what: &str| num::<u32>(n, what, f[i]);
                *h = Health {
                    runs: c(2, "runs")?,
                    ok: c(3, "ok")?,
                    failed: c(4, "failed")?,
                    killed: c(5, "killed")?,
                    lost: c(6, "lost")?,
                    running: c(7, "running")?,
                    last_failure: None,
                };
                let sum = [h.ok, h.failed, h.killed, h.lost, h.running]
                    .iter()
                    .map(|&x| u64::from(x))
                    .sum::<u64>();
                if sum != u64::from(h.runs) || h.runs == 0 {
                    return Err(err(n, "health counts do not add up to the runs"));
                }
            }
            "lastfail" => {
                want(7)?;
                let Some(rel) = name(f[1]) else { continue };
                let Some(h) = health.get_mut(rel.as_str()) else {
                    return Err(err(n, format!("lastfail of {rel} before its health")));
                };
                if h.failures() == 0 || h.last_failure.is_some() {
                    return Err(err(n, format!("unexpected lastfail of {rel}")));
                }
                let (exit_code, signal) = end_fields(n, f[4], f[5])?;
                h.last_failure = Some(LastFailure {
                    id: run_id(n, f[2])?,
                    at: opt(f[3]).map(printable).unwrap_or_default(),
                    exit_code,
                    signal,
                    command: json_text(f[6]),
                });
            }
            "end" => {
                want(1)?;
                ended = true;
            }
            other => return Err(err(n, format!("unknown record {:?}", printable(other)))),
        }
    }
    if !ended {
        return Err(err(
            text.split('\n').count(),
            "output ended early (no `end` record)",
        ));
    }
    st.foreign += refused;
    if !lock_held {
        st.lock = None;
    } else if st.lock.is_none() {
        st.lock = Some(LockInfo {
            by: "?".into(),
            action: "?".into(),
            since: String::new(),
            pid: None,
            token: String::new(),
        });
    }

    // Jobs: by /proc link first (precise), then by command line naming the release.
    let mut jobs: BTreeMap<String, BTreeMap<u32, JobVia>> = BTreeMap::new();
    for (rel, pid, via) in job_paths {
        let e = jobs.entry(rel).or_default().entry(pid).or_insert(via);
        *e = (*e).min(via);
    }
    let spellings = root_spellings(root, &st.root_abs);
    for pid in job_args {
        let Some(info) = infos.get(&pid) else {
            continue;
        };
        for rel in sizes.keys() {
            if info
                .argv
                .iter()
                .any(|a| mentions(a, &spellings, rel.as_str()))
            {
                jobs.entry(rel.as_str().to_string())
                    .or_default()
                    .entry(pid)
                    .or_insert(JobVia::Cmdline);
            }
        }
    }
    let started = |ticks: u64| {
        clock.and_then(|(hz, btime)| {
            (hz > 0).then(|| {
                UNIX_EPOCH + Duration::from_secs(btime) + Duration::from_millis(ticks * 1000 / hz)
            })
        })
    };

    let mut releases: Vec<Release> = sizes
        .into_iter()
        .map(|(name, (size_bytes, usable))| {
            let key = name.as_str().to_string();
            let jobs = jobs
                .remove(&key)
                .unwrap_or_default()
                .into_iter()
                // The launcher waiting for its job holds the release too: the job is
                // the job, its launcher not one more.
                .filter(|(pid, _)| !infos.get(pid).is_some_and(|i| is_launcher(&i.argv)))
                .map(|(pid, via)| {
                    let info = infos.get(&pid);
                    Job {
                        pid,
                        user: info.map(|i| i.user.clone()).unwrap_or_else(|| "?".into()),
                        started_at: info.and_then(|i| started(i.start_ticks)),
                        command: info
                            .map(|i| printable(&i.argv.join(" ")))
                            .unwrap_or_default(),
                        via,
                    }
                })
                .collect();
            Release {
                health: health.remove(&key).unwrap_or_default(),
                origin: manifests.remove(&key).unwrap_or(Origin::Unknown),
                pins: pins.iter().filter(|p| p.release == key).cloned().collect(),
                name,
                size_bytes,
                usable,
                jobs,
            }
        })
        .collect();
    releases.sort_by(|a, b| b.name.cmp(&a.name));
    st.releases = releases;
    Ok(st)
}

/// A process running relman's launcher (`sh <root>/.relman/bin/launch ...`, or the
/// launcher as its own program).
fn is_launcher(argv: &[String]) -> bool {
    argv.iter()
        .take(2)
        .any(|a| a.ends_with("/.relman/bin/launch"))
}

/// `-` is "none" in the ledger records.
fn opt(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

/// A run id as the launcher makes it: `<epoch secs>-<pid>`.
fn run_id(line: usize, s: &str) -> Result<String, WireError> {
    match s.split_once('-') {
        Some((a, b))
            if !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit()) =>
        {
            Ok(s.to_string())
        }
        _ => Err(err(line, format!("bad run id {:?}", printable(s)))),
    }
}

/// An end record's exit code and signal (`-` for none; not both).
fn end_fields(
    line: usize,
    exit: &str,
    signal: &str,
) -> Result<(Option<i32>, Option<String>), WireError> {
    let exit = opt(exit)
        .map(|e| num::<i32>(line, "exit code", e))
        .transpose()?;
    let signal = match opt(signal) {
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Some(s.to_string())
        }
        Some(s) => return Err(err(line, format!("bad signal {:?}", printable(s)))),
        None => None,
    };
    if exit.is_some() && signal.is_some() {
        return Err(err(line, "a run has an exit code and a signal"));
    }
    Ok((exit, signal))
}

/// The text of a JSON string's inside, as the launcher escaped it (`\\`, `\"`);
/// anything that is not valid JSON escaping is shown as it came, printable.
fn json_text(s: &str) -> String {
    serde_json::from_str::<String>(&format!("\"{s}\""))
        .map(|t| printable(&t))
        .unwrap_or_else(|_| printable(s))
}

/// Parses `runs.sh`'s answer: `relman-runs 1`, `run` lines, `end`.
///
/// ```text
/// run <id> <release> <pid> <user> <started_at> <ended_at|-> <exit|-> <signal|-> <status> <command>
/// ```
///
/// Strict like the scan: anything else, or no `end`, is an error naming the line.
/// Runs of names that are not releases under `prefix` are left out.
pub fn parse_runs(out: &[u8], prefix: &str) -> Result<Vec<Run>, WireError> {
    let text = String::from_utf8_lossy(out);
    let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, "relman-runs\t1")) => {}
        _ => {
            return Err(err(
                1,
                "not relman runs output (is the remote shell printing a banner?)",
            ));
        }
    }
    let mut runs: Vec<Run> = Vec::new();
    let mut tails: std::collections::HashMap<(String, String), Vec<String>> = Default::default();
    let mut ended = false;
    for (n, l) in lines {
        if l.is_empty() {
            // The newline after the last record (or after all there was).
            continue;
        }
        if ended {
            return Err(err(n, "output after `end`"));
        }
        if let Some(rest) = l.strip_prefix("tail\t") {
            // tail <release> <id> <line>: the line may hold tabs (the last field).
            let mut f = rest.splitn(3, '\t');
            let (Some(rel), Some(id), Some(line)) = (f.next(), f.next(), f.next()) else {
                return Err(err(n, "`tail` has a wrong field count"));
            };
            if ReleaseName::parse(prefix, rel).is_err() {
                continue;
            }
            let id = run_id(n, id)?;
            let line: String = line
                .chars()
                .filter(|c| *c == '\t' || !c.is_control())
                .collect();
            tails.entry((rel.to_string(), id)).or_default().push(line);
            continue;
        }
        let f: Vec<&str> = l.split('\t').collect();
        match f[0] {
            "end" if f.len() == 1 => ended = true,
            "run" if f.len() == 11 => {
                if ReleaseName::parse(prefix, f[2]).is_err() {
                    continue;
                }
                let status = RunStatus::parse(f[9])
                    .ok_or_else(|| err(n, format!("unknown run status {:?}", printable(f[9]))))?;
                let (exit_code, signal) = end_fields(n, f[7], f[8])?;
                let ended_at = opt(f[6]).map(printable);
                if ended_at.is_some()
                    != matches!(
                        status,
                        RunStatus::Ok | RunStatus::Failed | RunStatus::Killed
                    )
                {
                    return Err(err(n, "a run's end does not match its status"));
                }
                runs.push(Run {
                    id: run_id(n, f[1])?,
                    release: f[2].to_string(),
                    pid: num(n, "pid", f[3])?,
                    user: opt(f[4]).map(printable).unwrap_or_else(|| "?".into()),
                    started_at: opt(f[5]).map(printable).unwrap_or_default(),
                    ended_at,
                    status,
                    exit_code,
                    signal,
                    command: json_text(f[10]),
                    tail: None,
                });
            }
            "run" | "end" => return Err(err(n, format!("`{}` has a wrong field count", f[0]))),
            other => return Err(err(n, format!("unknown record {:?}", printable(other)))),
        }
    }
    if !ended {
        return Err(err(
            text.split('\n').count(),
            "output ended early (no `end` record)",
        ));
    }
    for r in &mut runs {
        r.tail = tails.remove(&(r.release.clone(), r.id.clone()));
    }
    Ok(runs)
}

/// A user name as `stat -c %U` prints it: non-empty, no control characters.
fn user_name(line: usize, s: &str) -> Result<String, WireError> {
    if s.is_empty() || s.chars().any(|c| c.is_control() || c == ' ') {
        return Err(err(line, format!("bad user name {:?}", printable(s))));
    }
    Ok(s.to_string())
}

fn parse_proc_path(p: &str) -> Option<(u32, JobVia)> {
    let rest = p.strip_prefix("/proc/")?;
    let (pid, what) = rest.split_once('/')?;
    let pid = pid.parse().ok()?;
    let via = match what {
        "cwd" => JobVia::Cwd,
        "exe" => JobVia::Exe,
        w if w
            .strip_prefix("fd/")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            JobVia::Fd
        }
        _ => return None,
    };
    Some((pid, via))
}

/// The ways an argument can name the root: its real path, and the configured path.
fn root_spellings(root: &str, root_abs: &str) -> Vec<String> {
    let mut v = vec![root_abs.to_string()];
    if root != root_abs && !root.is_empty() {
        v.push(root.trim_end_matches('/').to_string());
    }
    v.retain(|s| !s.is_empty());
    v
}

/// True when `arg` holds `<root>/<release>` followed by the end, `/`, or a character
/// that can't continue a release name (so `batch_1` doesn't match `batch_10`).
fn mentions(arg: &str, roots: &[String], release: &str) -> bool {
    roots.iter().any(|r| {
        let needle = format!("{r}/{release}");
        arg.match_indices(&needle)
            .any(|(i, _)| match arg[i + needle.len()..].chars().next() {
                None => true,
                Some(c) => !(c.is_ascii_digit() || c == '.'),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexs(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn sample() -> String {
        let argv = hexs("java\0-jar\0/srv/deploy/batch_20261126093000/app.jar\0");
        let other = hexs("tail\0-f\0/srv/deploy/batch_20261126093000.log\0");
        [
            "relman-scan\t1".to_string(),
            "now\t1795000000".into(),
            format!("root\tok\t{}\t0", hexs("/srv/deploy")),
            "link\trelease\tbatch_20261126221500\t1".into(),
            "foreign\t2".into(),
            "release\tbatch_20261126093000\t1000\tok".into(),
            "release\tbatch_20261126221500\t?\tok".into(),
            r#"manifest	batch_20261126221500	{"name":"batch_20261126221500","created_at":"2026-11-26T22:15:00Z","created_by":"ci@jenkins","message":"fix","files":[]}"#.into(),
            "lock\tfree".into(),
            r#"pin	p1.json	{"id":"p1","release":"batch_20261126093000","by":"a@b","created_at":"2026-11-26T22:00:00Z","expires_at":"2026-11-27T22:00:00Z","reason":"pipeline"}"#.into(),
            r#"history	{"at":"2026-11-26T22:15:00Z","by":"a@b","action":"deploy","from":null,"to":"batch_20261126221500","note":null}"#.into(),
            "history\tnot json".into(),
            "procs\t10\t3\tknown".into(),
            "job\tbatch_20261126093000\t/proc/42/fd/7".into(),
            "job\tbatch_20261126093000\t/proc/42/cwd".into(),
            "jobarg\t77".into(),
            "jobarg\t78".into(),
            format!("jobinfo\t42\tbatch\t100\t{argv}"),
            format!("jobinfo\t77\tbatch\t200\t{argv}"),
            format!("jobinfo\t78\tbatch\t200\t{other}"),
            "clock\t100\t1794990000".into(),
            "end".into(),
            "".into(),
        ]
        .join("\n")
    }

    #[test]
    fn the_launcher_waiting_for_its_job_is_not_a_job_itself() {
        let launcher = hexs("/bin/sh\0/srv/deploy/.relman/bin/launch\0--\0java\0");
        let out = sample().replace(
            "clock\t",
            &format!(
                "job\tbatch_20261126093000\t/proc/43/fd/8\njobinfo\t43\tbatch\t100\t{launcher}\nclock\t"
            ),
        );
        let st = parse_scan(out.as_bytes(), "/srv/deploy", "batch", "batch_").unwrap();
        let pids: Vec<u32> = st.releases[1].jobs.iter().map(|j| j.pid).collect();
        assert_eq!(pids, [42, 77]);
    }

    #[test]
    fn a_full_scan_parses() {
        let st = parse_scan(sample().as_bytes(), "/srv/deploy", "batch", "batch_").unwrap();
        assert!(st.root_exists);
        assert_eq!(st.root_abs, "/srv/deploy");
        assert_eq!(st.current().unwrap().as_str(), "batch_20261126221500");
        assert_eq!(st.foreign, 2);
        assert_eq!(st.hidden_processes, 3);
        let names: Vec<_> = st.releases.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["batch_20261126221500", "batch_20261126093000"],
            "newest first"
        );
        assert!(matches!(st.releases[0].origin, Origin::Relman(_)));
        assert_eq!(st.releases[1].origin, Origin::Unknown);
        assert_eq!(st.releases[1].pins.len(), 1);
        let jobs = &st.releases[1].jobs;
        assert_eq!(
            jobs.iter().map(|j| (j.pid, j.via)).collect::<Vec<_>>(),
            [(42, JobVia::Cwd), (77, JobVia::Cmdline)]
        );
        assert_eq!(
            jobs[0].command,
            "java -jar /srv/deploy/batch_20261126093000/app.jar"
        );
        assert_eq!(
            jobs[0].started_at,
            Some(UNIX_EPOCH + Duration::from_secs(1794990001))
        );
        assert!(
            st.releases[0].jobs.is_empty(),
            "the .log of another name is not a job"
        );
        assert_eq!(st.history.len(), 1);
        assert_eq!(st.warnings.len(), 1, "{:?}", st.warnings);
    }

    #[test]
    fn trash_left_by_a_prune_is_read_strictly() {
        let with = |rec: &str| sample().replace("procs\t", &format!("{rec}\nprocs\t"));
        let st = parse_scan(sample().as_bytes(), "/srv/deploy", "batch", "batch_").unwrap();
        assert_eq!(st.trash, None, "no record: an empty trash");
        let st = parse_scan(
            with("trash\t2\t17\t4096").as_bytes(),
            "/srv/deploy",
            "batch",
            "batch_",
        )
        .unwrap();
        assert_eq!(
            st.trash,
            Some(Trash {
                entries: 2,
                files: 17,
                bytes: Some(4096)
            })
        );
        let st = parse_scan(with("trash\t1\t0\t?").as_bytes(), "r", "batch", "batch_").unwrap();
        assert_eq!(st.trash.unwrap().bytes, None);
        for bad in [
            "trash\t1\t2",
            "trash\tx\t1\t1",
            "trash\t1\t-1\t1",
            "trash\t1\t1\t1k",
        ] {
            let e = parse_scan(with(bad).as_bytes(), "r", "batch", "batch_").unwrap_err();
            assert!(e.line > 0, "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_probation_is_read_strictly() {
        let with = |rec: &str| sample().replace("procs\t", &format!("{rec}\nprocs\t"));
        let parse = |rec: &str| parse_scan(with(rec).as_bytes(), "/srv/deploy", "batch", "batch_");
        let st = parse(
            "probation\tbatch_20261126221500\tbatch_20261126093000\t1796174356\t1796174956\t1\t2",
        )
        .unwrap();
        assert_eq!(
            st.probation,
            Some(Probation {
                release: "batch_20261126221500".into(),
                previous: Some("batch_20261126093000".into()),
                since: "2026-12-02T01:19:16Z".into(),
                until: "2026-12-02T01:29:16Z".into(),
                max_failures: 1,
                failures: 2,
            })
        );
        assert!(st.probation.as_ref().unwrap().due());
        let none = parse_scan(sample().as_bytes(), "/srv/deploy", "batch", "batch_").unwrap();
        assert_eq!(none.probation, None, "none reported: none");
        let ok = "probation\tbatch_20261126221500\tbatch_20261126093000\t10\t20\t0\t0";
        for (rec, needle) in [
            (ok.replace("\t0\t0", "\t0"), "needs 6 fields"),
            (format!("{ok}\n{ok}"), "twice"),
            (ok.replace("\t10\t", "\tx\t"), "not a number"),
            (ok.replace("\t10\t20", "\t20\t10"), "ends before"),
            (ok.replace("\t20\t", "\t999999999999\t"), "9999"),
            (ok.replace("\t0\t0", "\t-1\t0"), "not a number"),
            (
                ok.replace("batch_20261126093000", "app_20261126093000"),
                "previous",
            ),
            (
                ok.replace("probation\tbatch_", "probation\tbatch-"),
                "release",
            ),
        ] {
            let e = parse(&rec).unwrap_err();
            assert!(e.line > 0 && e.msg.contains(needle), "{rec:?}: {e}");
        }
    }

    #[test]
    fn release_health_is_read_strictly() {
        let with = |rec: &str| sample().replace("procs\t", &format!("{rec}\nprocs\t"));
        let rel = "batch_20261126221500";
        let st = parse_scan(
            with(&format!(
                "health\t{rel}\t7\t2\t1\t1\t2\t1\n\
                 lastfail\t{rel}\t1796174356-4818\t2026-12-02T01:19:16.781Z\t-\tTERM\tsh -c \\\"exit 3\\\" \\\\n\n\
                 health\tbatch_20260101000000\t1\t1\t0\t0\t0\t0"
            ))
            .as_bytes(),
            "/srv/deploy",
            "batch",
            "batch_",
        )
        .unwrap();
        let r = st.releases.iter().find(|r| r.name.as_str() == rel).unwrap();
        assert_eq!(
            r.health,
            Health {
                runs: 7,
                ok: 2,
                failed: 1,
                killed: 1,
                lost: 2,
                running: 1,
                last_failure: Some(LastFailure {
                    id: "1796174356-4818".into(),
                    at: "2026-12-02T01:19:16.781Z".into(),
                    exit_code: None,
                    signal: Some("TERM".into()),
                    command: "sh -c \"exit 3\" \\n".into(),
                }),
            }
        );
        let other = st.releases.iter().find(|r| r.name.as_str() != rel).unwrap();
        assert_eq!(other.health, Health::default(), "no runs: zero health");
        for (rec, needle) in [
            (format!("health\t{rel}\t3\t1\t1\t0\t0\t0"), "add up"),
            (format!("health\t{rel}\t1\t1\t0\t0\t0"), "needs 7 fields"),
            (format!("health\t{rel}\tx\t1\t0\t0\t0\t0"), "not a number"),
            (
                format!("health\t{rel}\t1\t1\t0\t0\t0\t0\nhealth\t{rel}\t1\t1\t0\t0\t0\t0"),
                "twice",
            ),
            (
                format!("lastfail\t{rel}\t1-2\t-\t1\t-\tx"),
                "before its health",
            ),
            (
                format!("health\t{rel}\t1\t1\t0\t0\t0\t0\nlastfail\t{rel}\t1-2\t-\t1\t-\tx"),
                "unexpected lastfail",
            ),
            (
                format!("health\t{rel}\t1\t0\t1\t0\t0\t0\nlastfail\t{rel}\tx-2\t-\t1\t-\tx"),
                "bad run id",
            ),
            (
                format!("health\t{rel}\t1\t0\t1\t0\t0\t0\nlastfail\t{rel}\t1-2\t-\t1\tTERM\tx"),
                "exit code and a signal",
            ),
        ] {
            let e =
                parse_scan(with(&rec).as_bytes(), "/srv/deploy", "batch", "batch_").unwrap_err();
            assert!(e.msg.contains(needle), "{rec:?}: {e}");
        }
    }

    #[test]
    fn runs_output_is_read_strictly() {
        let ok = "relman-runs\t1\n\
            run\t1796174356-4818\tbatch_20261126221500\t4856\tdeploy\t2026-12-02T01:19:16.502Z\t2026-12-02T01:19:17.502Z\t3\t-\tfailed\techo \\\"$(id)\\\"\n\
            run\t1796174357-4819\tbatch_20261126221500\t4857\tdeploy\t2026-12-02T01:19:17.502Z\t-\t-\t-\trunning\tsleep 9\n\
            run\t1796174358-4820\tnot_a_release\t4858\tdeploy\t2026-12-02T01:19:17.502Z\t-\t-\t-\tlost\tx\n\
            end\n";
        let runs = parse_runs(ok.as_bytes(), "batch_").unwrap();
        assert_eq!(runs.len(), 2, "a name that is not a release is left out");
        assert_eq!(runs[0].status, RunStatus::Failed);
        assert_eq!(runs[0].exit_code, Some(3));
        assert_eq!(runs[0].command, "echo \"$(id)\"");
        assert_eq!(runs[0].duration_ms(), Some(1000));
        assert_eq!(runs[1].status, RunStatus::Running);
        assert_eq!(runs[1].ended_at, None);
        for (bad, needle) in [
            ("", "not relman runs output"),
            ("relman-runs\t1\n", "ended early"),
            ("relman-runs\t1\nend\nx\n", "after `end`"),
            ("relman-runs\t1\nrun\t1-2\n", "wrong field count"),
            ("relman-runs\t1\nwhat\nend\n", "unknown record"),
            (
                "relman-runs\t1\nrun\t1-2\tbatch_20261126221500\t1\tu\tt\t-\t-\t-\tok\tx\nend\n",
                "does not match its status",
            ),
            (
                "relman-runs\t1\nrun\t1-2\tbatch_20261126221500\t1\tu\tt\t-\t-\t-\tweird\tx\nend\n",
                "unknown run status",
            ),
        ] {
            let e = parse_runs(bad.as_bytes(), "batch_").unwrap_err();
            assert!(e.msg.contains(needle), "{bad:?}: {e}");
        }
    }

    #[test]
    fn runs_output_attaches_kept_tails_to_their_runs() {
        let ok = "relman-runs\t1\n\
            run\t1796174356-4818\tbatch_20261126221500\t4856\tdeploy\t2026-12-02T01:19:16.502Z\t2026-12-02T01:19:17.502Z\t3\t-\tfailed\tx\n\
            run\t1796174357-4819\tbatch_20261126221500\t4857\tdeploy\t2026-12-02T01:19:17.502Z\t2026-12-02T01:19:18Z\t0\t-\tok\ty\n\
            tail\tbatch_20261126221500\t1796174356-4818\tException in main\n\
            tail\tbatch_20261126221500\t1796174356-4818\t\tat a\tb\u{1b}[0m\n\
            tail\tbatch_20261126221500\t1796174356-4818\t\n\
            tail\tbatch_20261127221500\t1796174356-4818\tanother release's run\n\
            tail\tnot_a_release\t1-1\tleft out\n\
            end\n";
        let runs = parse_runs(ok.as_bytes(), "batch_").unwrap();
        assert_eq!(
            runs[0].tail.as_deref(),
            Some(
                &[
                    "Exception in main".to_string(),
                    "\tat a\tb[0m".into(),
                    "".into()
                ][..]
            ),
            "in order, tabs kept, other control characters removed"
        );
        assert_eq!(runs[1].tail, None, "a run without a kept tail");
        for (bad, needle) in [
            (
                "relman-runs\t1\ntail\tbatch_20261126221500\nend\n",
                "`tail` has a wrong field count",
            ),
            (
                "relman-runs\t1\ntail\tbatch_20261126221500\tx-1\tl\nend\n",
                "run id",
            ),
            (
                "relman-runs\t1\nend\ntail\tbatch_20261126221500\t1-1\tl\n",
                "after `end`",
            ),
        ] {
            let e = parse_runs(bad.as_bytes(), "batch_").unwrap_err();
            assert!(e.msg.contains(needle), "{bad:?}: {e}");
        }
    }

    #[test]
    fn hidden_processes_by_user_and_sudo_scans() {
        let out = "relman-scan\t1\nprocs\t5\t9\tknown\nhidden\troot\t6\tother\n\
                   hidden\tdeploy\t1\tself\nhidden\tbatch\t2\tother\nsudo\tbatch\tok\n\
                   sudo\tetl\trefused\nend\n";
        let st = parse_scan(out.as_bytes(), "r", "batch", "batch_").unwrap();
        assert_eq!(st.hidden_processes, 9);
        assert_eq!(
            st.hidden_users,
            [
                HiddenUser {
                    user: "root".into(),
                    count: 6,
                    own: false
                },
                HiddenUser {
                    user: "deploy".into(),
                    count: 1,
                    own: true
                },
                HiddenUser {
                    user: "batch".into(),
                    count: 2,
                    own: false
                },
            ]
        );
        assert_eq!(
            st.sudo_scans,
            [
                ("batch".into(), SudoScan::Ok),
                ("etl".into(), SudoScan::Refused)
            ]
        );
        assert_eq!(st.unseen_job_processes(), (6, vec!["root".to_string()]));
        for (bad, needle) in [
            ("hidden\troot\t6\n", "needs 3 fields"),
            ("hidden\troot\tx\tother\n", "not a number"),
            ("hidden\troot\t6\tmine\n", "expected self or other"),
            ("hidden\t\t6\tother\n", "bad user name"),
            (
                "hidden\troot\t6\tother\nhidden\troot\t1\tother\n",
                "counted twice",
            ),
            ("sudo\tbatch\tmaybe\n", "unknown sudo state"),
            ("sudo\tbatch\tok\nsudo\tbatch\tok\n", "reported twice"),
        ] {
            let out = format!("relman-scan\t1\n{bad}end\n");
            let e = parse_scan(out.as_bytes(), "r", "batch", "batch_").unwrap_err();
            assert!(e.msg.contains(needle), "{bad:?} gave {e}");
        }
    }

    #[test]
    fn truncated_or_garbage_output_is_refused() {
        let s = sample();
        let cut = &s[..s.rfind("\nend").unwrap()];
        assert!(
            parse_scan(cut.as_bytes(), "r", "batch", "batch_")
                .unwrap_err()
                .msg
                .contains("ended early")
        );
        for (bad, needle) in [
            ("", "not relman scan output"),
            (
                "Welcome to host!\nrelman-scan\t1\nend\n",
                "not relman scan output",
            ),
            ("relman-scan\t2\nend\n", "unsupported scan version"),
            ("relman-scan\t1\nbogus\t1\nend\n", "unknown record"),
            ("relman-scan\t1\nforeign\t1\t2\nend\n", "needs 1 fields"),
            ("relman-scan\t1\nforeign\tx\nend\n", "not a number"),
            (
                "relman-scan\t1\nrelease\tbatch_20261126093000\t1\nend\n",
                "needs 3 fields",
            ),
            (
                "relman-scan\t1\nrelease\tbatch_20261126093000\t1\tmaybe\nend\n",
                "unknown release state",
            ),
            ("relman-scan\t1\nend\nforeign\t1\n", "after `end`"),
            (
                "relman-scan\t1\njob\tbatch_20261126093000\t/etc/passwd\nend\n",
                "bad /proc path",
            ),
            ("relman-scan\t1\nroot\tok\tzz\t0\nend\n", "not hex"),
        ] {
            let e = parse_scan(bad.as_bytes(), "r", "batch", "batch_").unwrap_err();
            assert!(e.msg.contains(needle), "{bad:?} gave {e}");
        }
    }

    /// A name the script took for a release that relman does not (another
    /// version's scripts, a bug) is a foreign entry, never a failed scan.
    #[test]
    fn names_relman_refuses_are_foreign_not_fatal() {
        let out = [
            "relman-scan\t1",
            "link\trelease\tbatch_20261301000000\t0",
            "release\tbatch_20261301000000\t1\tok",
            "release\tbatch_20260229000000\t1\tok",
            "release\tbatch_1;rm -rf /\t1\tok",
            "release\t../etc\t1\tok",
            "release\tbatch_20261126093000.12345678901\t1\tok",
            "release\tbatch_20261126093000\t7\tunreadable",
            "release\tbatch_20261126100000\t0\tempty",
            "manifest\tbatch_20261301000000\t{}",
            "staging\tbatch_20261126240000",
            "job\tbatch_20261126240000\t/proc/42/cwd",
            "foreign\t2",
            "end",
        ]
        .join("\n");
        let st = parse_scan(out.as_bytes(), "r", "batch", "batch_").unwrap();
        let names: Vec<_> = st
            .releases
            .iter()
            .map(|r| (r.name.as_str(), r.usable))
            .collect();
        assert_eq!(
            names,
            [
                ("batch_20261126100000", Usability::Empty),
                ("batch_20261126093000", Usability::Unreadable)
            ]
        );
        assert_eq!(
            st.foreign,
            2 + 5,
            "foreign counts what the host said and the refused"
        );
        assert_eq!(st.warnings.len(), 5, "{:?}", st.warnings);
        assert_eq!(
            st.link,
            LinkState::NotRelease {
                target: "batch_20261301000000".into()
            }
        );
        assert!(st.staging.is_empty());
    }

    #[test]
    fn a_missing_root_is_an_empty_host() {
        let st = parse_scan(
            b"relman-scan\t1\nnow\t5\nroot\tmissing\t\t0\nend\n",
            "deploy",
            "batch",
            "batch_",
        )
        .unwrap();
        assert!(!st.root_exists);
        assert!(st.releases.is_empty());
        assert_eq!(st.link, LinkState::Absent);
    }

    #[test]
    fn an_unusable_root_is_said_plainly() {
        let e = parse_scan(
            b"relman-scan\t1\nroot\tnotdir\t\t0\nend\n",
            "deploy",
            "batch",
            "batch_",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the root deploy exists but is not a directory"
        );
        let out = format!(
            "relman-scan\t1\nroot\tdangling\t{}\t1\nend\n",
            hexs("/gone\nx")
        );
        let e = parse_scan(out.as_bytes(), "deploy", "batch", "batch_").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the root deploy is a symlink to /gone?x, which does not exist"
        );
        let e = parse_scan(
            b"relman-scan\t1\nroot\tdangling\tzz\t1\nend\n",
            "d",
            "b",
            "b_",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("scan output line 2:"), "{e}");
    }

    #[test]
    fn odd_links_are_shown_as_what_they_are() {
        let t = hexs("/etc\nx");
        let out = format!("relman-scan\t1\nlink\toutside\t{t}\t1\nend\n");
        let st = parse_scan(out.as_bytes(), "r", "batch", "batch_").unwrap();
        assert_eq!(
            st.link,
            LinkState::Outside {
                target: "/etc\nx".into()
            }
        );
        assert_eq!(st.current(), None);
    }

    #[test]
    fn a_manifest_reaching_outside_its_release_shows_as_invalid() {
        let rel = "batch_20261126093000";
        for bad in ["../../x", "/etc/passwd", "lib/../../../x"] {
            let m = format!(
                r#"{{"name":"{rel}","created_at":"x","created_by":"a@b","message":"","files":[{{"path":"{bad}","size":1,"sha256":"00","mode":420}}]}}"#
            );
            let out = format!("relman-scan\t1\nrelease\t{rel}\t5\tok\nmanifest\t{rel}\t{m}\nend\n");
            let st = parse_scan(out.as_bytes(), "r", "batch", "batch_").unwrap();
            match &st.releases[0].origin {
                Origin::BadManifest(why) => assert!(why.contains("unsafe path"), "{why}"),
                o => panic!("{bad}: {o:?}"),
            }
            assert!(st.releases[0].manifest().is_none());
        }
    }

    #[test]
    fn argv_matching_respects_name_boundaries() {
        let roots = vec!["/srv/deploy".to_string()];
        assert!(mentions(
            "/srv/deploy/batch_20261126093000",
            &roots,
            "batch_20261126093000"
        ));
        assert!(mentions(
            "-Dhome=/srv/deploy/batch_20261126093000/x",
            &roots,
            "batch_20261126093000"
        ));
        assert!(!mentions(
            "/srv/deploy/batch_20261126093000.1",
            &roots,
            "batch_20261126093000"
        ));
        assert!(!mentions(
            "/other/batch_20261126093000",
            &roots,
            "batch_20261126093000"
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics_on_arbitrary_bytes(b in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse_scan(&b, "r", "batch", "batch_");
        }

        #[test]
        fn never_panics_on_mutated_sample(cut in 0usize..1500, junk in "[\\t\\na-z0-9/?]{0,20}") {
            let s = sample();
            let cut = cut.min(s.len());
            let mut m = s.as_bytes()[..cut].to_vec();
            m.extend_from_slice(junk.as_bytes());
            m.extend_from_slice(&s.as_bytes()[cut..]);
            let _ = parse_scan(&m, "r", "batch", "batch_");
        }
    }
}
