//! Plain data describing one host's deploy root, as a scan sees it: release names
//! (validated and ordered), releases, jobs, pins, the lock holder and the history.
//!
//! Nothing here does I/O. Everything the rest of relman decides is a function of
//! these types (see `plan`), and everything it shows is rendered from them.

use std::cmp::Ordering;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A validated release name: `<prefix><YYYYMMDDHHMMSS>[.N]`.
///
/// The one definition, which `is_release` in `scripts/lib.sh` and
/// `_relman_is_release` in `scripts/launch.sh` implement the same way (a test runs
/// both against this on the same names): the timestamp is a real UTC calendar time
/// (year 1970–9999, month 01–12, a day the month has, leap years included, hour
/// 00–23, minute and second 00–59: no leap second), and `.N` is a positive integer
/// of at most 9 digits without a leading zero (it fits a `u32`). Anything else in a
/// root is foreign.
///
/// Ordering is by timestamp, then by N (a name without `.N` sorts before `.1`),
/// never by anything the filesystem says (mtime).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReleaseName {
    raw: String,
    stamp: u64,
    seq: u32,
    /// The stamp as a time, computed once at parse (views read it for every row).
    at: SystemTime,
}

/// Why a string is not a release name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("'{0}' does not start with the release prefix '{1}'")]
    Prefix(String, String),
    #[error("'{0}' is not <prefix>YYYYMMDDHHMMSS[.N]")]
    Shape(String),
    #[error("'{0}' has an impossible date or time")]
    Date(String),
}

/// The most digits `.N` may have: 999999999 fits a `u32`.
pub const MAX_SEQ_DIGITS: usize = 9;

impl ReleaseName {
    /// Parses `s` as a release name with the given prefix. Strict: anything else is an error.
    pub fn parse(prefix: &str, s: &str) -> Result<Self, NameError> {
        let rest = s
            .strip_prefix(prefix)
            .ok_or_else(|| NameError::Prefix(printable(s), prefix.to_string()))?;
        let shape = || NameError::Shape(printable(s));
        let (digits, seq) = match rest.split_once('.') {
            Some((d, n)) => {
                let ok = !n.is_empty()
                    && n.len() <= MAX_SEQ_DIGITS
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && !n.starts_with('0');
                if !ok {
                    return Err(shape());
                }
                (d, n.parse::<u32>().map_err(|_| shape())?)
            }
            None => (rest, 0),
        };
        if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape());
        }
        let Some(at) = stamp_to_time(digits) else {
            return Err(NameError::Date(printable(s)));
        };
        Ok(ReleaseName {
            raw: s.to_string(),
            stamp: decimal(digits),
            seq,
            at,
        })
    }
    /// The name for a deploy made at `at` (UTC), with clash counter `seq` (0 = none).
    pub fn new(prefix: &str, at: SystemTime, seq: u32) -> Self {
        let rfc = humantime::format_rfc3339_seconds(at).to_string();
        let digits: String = rfc.chars().filter(|c| c.is_ascii_digit()).collect();
        let raw = if seq == 0 {
            format!("{prefix}{digits}")
        } else {
            format!("{prefix}{digits}.{seq}")
        };
        // Built, not parsed: a formatted time is a valid stamp by construction.
        ReleaseName {
            raw,
            stamp: decimal(&digits),
            seq,
            at: stamp_to_time(&digits).unwrap_or(at),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The clash counter N of `.N`, 0 when absent.
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// The same timestamp with another clash counter.
    pub fn with_seq(&self, prefix: &str, seq: u32) -> Self {
        let digits = format!("{:014}", self.stamp);
        let raw = if seq == 0 {
            format!("{prefix}{digits}")
        } else {
            format!("{prefix}{digits}.{seq}")
        };
        ReleaseName {
            raw,
            stamp: self.stamp,
            seq,
            at: self.at,
        }
    }

    /// The UTC time encoded in the name.
    pub fn time(&self) -> SystemTime {
        self.at
    }

    /// The stamp as the number YYYYMMDDHHMMSS: orders like the time, costs nothing.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }
}

/// The value of a string of ASCII digits (checked by the caller).
fn decimal(d: &str) -> u64 {
    d.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10)
            .saturating_add(u64::from(b.wrapping_sub(b'0')))
    })
}

/// 14 ASCII digits `YYYYMMDDHHMMSS` as a UTC time, if they are a real calendar
/// time of years 1970–9999 (see [`ReleaseName`]).
fn stamp_to_time(d: &str) -> Option<SystemTime> {
    let f = |a: usize, b: usize| -> u64 { decimal(&d[a..b]) };
    let (y, mo, day, h, mi, sec) = (f(0, 4), f(4, 6), f(6, 8), f(8, 10), f(10, 12), f(12, 14));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in_month = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1970..=9999).contains(&y)
        || day == 0
        || day > days_in_month
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    let days = days_from_civil(y, mo, day);
    Some(UNIX_EPOCH + Duration::from_secs(days * 86400 + h * 3600 + mi * 60 + sec))
}

/// Days from 1970-01-01 to a date of 1970 or later (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

impl Ord for ReleaseName {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.stamp, self.seq, &self.raw).cmp(&(other.stamp, other.seq, &other.raw))
    }
}

impl PartialOrd for ReleaseName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ReleaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Replaces control characters so a hostile string can't garble a terminal or a log line.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `.relman.json` inside a release made by relman.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub created_at: String,
    pub created_by: String,
    #[serde(default)]
    pub message: String,
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    /// Parses `.relman.json` as read from release `release` on a host, which is
    /// external data: it must be a manifest, name that release, and list only
    /// clean relative paths (a path like `../../x` or `/etc/passwd` could make a
    /// consumer of the manifest reach outside the release). Err says why, for
    /// the operator (the release then shows its origin as invalid).
    pub fn parse_for(release: &str, json: &str) -> Result<Manifest, String> {
        let m: Manifest =
            serde_json::from_str(json).map_err(|e| format!("unreadable manifest: {e}"))?;
        if m.name != release {
            return Err(format!(
                "manifest names another release ({})",
                printable(&m.name)
            ));
        }
        if let Some(p) = m
            .files
            .iter()
            .map(|f| f.path.as_str())
            .find(|p| !is_clean_path(p))
        {
            return Err(format!("manifest lists an unsafe path {:?}", printable(p)));
        }
        Ok(m)
    }
}

/// A path relative to a release that stays inside it: non-empty, not absolute, no
/// empty, `.` or `..` component, no control character.
pub fn is_clean_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.chars().any(char::is_control)
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub mode: u32,
}

/// Where a release came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Made by relman; the manifest says by whom and why.
    Relman(Manifest),
    /// No manifest: made by hand or by the classic script.
    Unknown,
    /// A manifest is there but could not be read; the text says why.
    BadManifest(String),
}

/// How a process was seen to use a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobVia {
    Cwd,
    Exe,
    Fd,
    Cmdline,
}

/// A process on the host that uses a release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub pid: u32,
    pub user: String,
    pub started_at: Option<SystemTime>,
    pub command: String,
    pub via: JobVia,
}

/// A lease that keeps a release from being pruned until it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub id: String,
    pub release: String,
    pub by: String,
    pub created_at: String,
    pub expires_at: String,
    #[serde(default)]
    pub reason: String,
}

impl Pin {
    pub fn expires(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.expires_at).ok()
    }

    /// A pin whose expiry can't be read counts as expired: it protects nothing it can't prove.
    pub fn is_active(&self, now: SystemTime) -> bool {
        self.expires().is_some_and(|t| t > now)
    }
}

/// Who holds a host's lock, as written in `.relman/lock` by the holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub by: String,
    pub action: String,
    pub since: String,
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing)]
    pub token: String,
}

impl LockInfo {
    /// Whether the lock file named who holds it (an unreadable or empty one does not:
    /// the scan records it as `?`).
    pub fn holder_known(&self) -> bool {
        !matches!(self.by.trim(), "" | "?")
    }

    /// The lock as one phrase: `LOCKED by carol@laptop (deploy 3m ago)`, or
    /// `locked (holder unknown)` when the lock file says nothing readable.
    pub fn describe(&self, now: SystemTime) -> String {
        if !self.holder_known() {
            return "locked (holder unknown)".into();
        }
        let mut what: Vec<String> = Vec::new();
        if !matches!(self.action.trim(), "" | "?") {
            what.push(printable(&self.action));
        }
        if let Some(d) = self.age(now) {
            what.push(age(d));
        }
        if what.is_empty() {
            format!("LOCKED by {}", printable(&self.by))
        } else {
            format!("LOCKED by {} ({})", printable(&self.by), what.join(" "))
        }
    }

    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        humantime::parse_rfc3339(&self.since)
            .ok()
            .and_then(|t| now.duration_since(t).ok())
    }
}

/// What a history entry records (and a lock's owner is doing). Serialized as its
/// lowercase name, exactly as [`Action::as_str`] spells it; history lines are built
/// from it by `ops::history::HistoryLine`, never from a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Deploy,
    Switch,
    Rollback,
    Prune,
    Pin,
    Unpin,
    Unlock,
    /// A guard marked `to` bad without switching to it (SPEC §7).
    Refuse,
    /// A probation was set on the live release (SPEC §7).
    Probation,
    /// A probation was ended early by `relman accept` (SPEC §7).
    Accept,
    /// Only in a lock's owner, never in history: `relman launch` installing the launcher.
    Launch,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Switch => "switch",
            Action::Rollback => "rollback",
            Action::Prune => "prune",
            Action::Pin => "pin",
            Action::Unpin => "unpin",
            Action::Unlock => "unlock",
            Action::Refuse => "refuse",
            Action::Probation => "probation",
            Action::Accept => "accept",
            Action::Launch => "launch",
        }
    }
}

/// One line of `.relman/history.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: String,
    pub by: String,
    pub action: Action,
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// What the link is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// No link at all (a fresh root).
    Absent,
    /// A symlink to a release of this root (`absolute` when its target is an absolute path).
    Release { name: ReleaseName, absolute: bool },
    /// A symlink whose target does not exist.
    Dangling { target: String },
    /// A symlink to something outside the root.
    Outside { target: String },
    /// A symlink to an entry of the root that is not a release.
    NotRelease { target: String },
    /// A real directory or file where the link should be: relman refuses to switch it.
    NotSymlink,
}

/// Whether the deploy user can use a release as the live one, as the scan saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Usability {
    /// Readable and searchable (r and x) and not empty.
    #[default]
    Usable,
    /// The deploy user may not read or enter it (e.g. a root-owned `chmod 000`).
    Unreadable,
    /// Holds nothing.
    Empty,
}

impl Usability {
    /// Why a release can't be switched to, for the operator (None when it can).
    pub fn problem(self) -> Option<&'static str> {
        match self {
            Usability::Usable => None,
            Usability::Unreadable => Some("the deploy user cannot read it"),
            Usability::Empty => Some("it is empty"),
        }
    }
}

/// One release directory as scanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub name: ReleaseName,
    pub size_bytes: u64,
    /// Whether it can be switched to (readable, not empty).
    pub usable: Usability,
    pub origin: Origin,
    pub jobs: Vec<Job>,
    pub pins: Vec<Pin>,
    /// What the run ledger says about the jobs started on it through the launcher.
    pub health: Health,
}

impl Release {
    pub fn manifest(&self) -> Option<&Manifest> {
        match &self.origin {
            Origin::Relman(m) => Some(m),
            _ => None,
        }
    }
}

/// How a run recorded by the launcher ended (SPEC §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Exit 0.
    Ok,
    /// A non-zero exit.
    Failed,
    /// Ended by a signal.
    Killed,
    /// No end record, its process alive.
    Running,
    /// No end record, its process gone (launch was killed, the host rebooted).
    Lost,
}

impl RunStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Self::Ok,
            "failed" => Self::Failed,
            "killed" => Self::Killed,
            "running" => Self::Running,
            "lost" => Self::Lost,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Killed => "killed",
            Self::Running => "running",
            Self::Lost => "lost",
        }
    }

    /// Failed, killed or lost: what guards and `--failed` count.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Killed | Self::Lost)
    }
}

/// The newest failed, killed or lost run of a release.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LastFailure {
    pub id: String,
    /// When it ended (when it started, for a lost run), RFC 3339.
    pub at: String,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub command: String,
}

/// A release's runs by outcome, from the run ledger (SPEC §3 `health`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    pub runs: u32,
    pub ok: u32,
    pub failed: u32,
    pub killed: u32,
    pub lost: u32,
    pub running: u32,
    pub last_failure: Option<LastFailure>,
}

impl Health {
    /// Failed, killed and lost runs.
    pub fn failures(&self) -> u32 {
        self.failed + self.killed + self.lost
    }
}

/// One run recorded by the launcher (`relman runs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub id: String,
    pub release: String,
    pub pid: u32,
    pub user: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub command: String,
    /// The last lines of its output, kept by `launch --tail N` when the run failed or
    /// was killed (`.relman/runs/<release>.tails/<id>`); `None`: none kept.
    pub tail: Option<Vec<String>>,
}

impl Run {
    /// From start to end, when both times parse and the run has ended.
    pub fn duration_ms(&self) -> Option<u64> {
        let s = humantime::parse_rfc3339(&self.started_at).ok()?;
        let e = humantime::parse_rfc3339(self.ended_at.as_deref()?).ok()?;
        Some(e.duration_since(s).unwrap_or_default().as_millis() as u64)
    }
}

/// Everything one scan learns about one host's deploy root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostState {
    /// The root as configured.
    pub root: String,
    /// The root's absolute, symlink-free path on the host (empty when the root is missing).
    pub root_abs: String,
    pub root_exists: bool,
    pub link_name: String,
    pub prefix: String,
    pub link: LinkState,
    /// Releases, newest first.
    pub releases: Vec<Release>,
    /// Entries in the root that are neither releases, the link nor `.relman`.
    pub foreign: usize,
    pub lock: Option<LockInfo>,
    /// History, oldest first, as in the file (the newest lines when the file is long).
    pub history: Vec<HistoryEntry>,
    /// Processes relman could not inspect (other users'); their jobs are invisible.
    pub hidden_processes: usize,
    /// False when /proc could not be read at all: no release may then be called job-free.
    pub jobs_known: bool,
    /// The processes relman could not inspect, by owner (`hidden_processes` split).
    pub hidden_users: Vec<HiddenUser>,
    /// The scans run as job users through sudo (`scan_sudo`), and how each went.
    pub sudo_scans: Vec<(String, SudoScan)>,
    /// The host's `job_users` (None: every user's processes may use a release).
    /// Set from the config by the scan, so the plan can tell which hidden processes
    /// matter.
    pub job_users: Option<Vec<String>>,
    /// Names of directories under `.relman/staging/`.
    pub staging: Vec<String>,
    /// When the host said the scan ran (host clock).
    pub scanned_at: SystemTime,
    /// Things the scan could not read but that don't stop the host from being listed
    /// (a history line that is not JSON, an unreadable pin file).
    pub warnings: Vec<String>,
    /// What a prune moved out of the root but could not remove (`None`: the trash is
    /// empty).
    pub trash: Option<Trash>,
    /// The live release's probation (`.relman/probation`, SPEC §7), while one is set
    /// and has not expired.
    pub probation: Option<Probation>,
}

/// What an operator asks for with `--probation DURATION [--max-failures F]`: after
/// the switch, the host rolls itself back when the new release has more than
/// `max_failures` failed, killed or lost runs within `duration` (SPEC §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbationSpec {
    pub duration: std::time::Duration,
    pub max_failures: u32,
}

/// A host's probation as the scan found it (`list --json` `probation`, SPEC §3).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Probation {
    /// The release on probation (the live one).
    pub release: String,
    /// The release a rollback goes back to (live before it).
    pub previous: Option<String>,
    /// RFC 3339, host clock: when the probation started (the switch).
    pub since: String,
    /// RFC 3339, host clock: when it ends by itself.
    pub until: String,
    pub max_failures: u32,
    /// Failed, killed and lost runs of `release` started since `since`.
    pub failures: u32,
}

impl Probation {
    /// More failures than allowed: the host rolls back at the next chance (a launch by
    /// a user who may switch, or relman's next contact). Shown as due until then.
    pub fn due(&self) -> bool {
        self.failures > self.max_failures
    }
}

/// `.relman/trash` when a prune could not empty it (files of another user inside a
/// release): no longer releases, but still taking space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trash {
    /// Entries directly in `.relman/trash` (one per release moved there).
    pub entries: usize,
    /// Files (not directories) left, as far as the SSH user can see.
    pub files: u64,
    /// Their size, when `du` could tell.
    pub bytes: Option<u64>,
}

/// Processes of one user that the scan could not inspect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HiddenUser {
    pub user: String,
    pub count: usize,
    /// The SSH user's own (non-dumpable: its sshd sessions, setuid programs).
    pub own: bool,
}

/// How a scan run as a job user through `sudo -n` went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SudoScan {
    /// It ran: that user's processes were inspected.
    Ok,
    /// sudo refused (a password needed, not allowed, no sudo).
    Refused,
    /// It ran but could not inspect (or its output was cut short).
    Unknown,
}

impl HostState {
    /// Processes that may use a release and that no scan could inspect: those of other
    /// users who may run jobs (all users without `job_users`), not covered by a sudo
    /// scan that worked. Total count and the users, by name. The SSH user's own
    /// hidden processes are not counted (a job of the SSH user runs an ordinary,
    /// inspectable program; what it can't inspect of its own are its sshd sessions).
    pub fn unseen_job_processes(&self) -> (usize, Vec<String>) {
        let mut n = 0;
        let mut users = Vec::new();
        for h in &self.hidden_users {
            if h.own || h.count == 0 {
                continue;
            }
            if let Some(list) = &self.job_users
                && !list.contains(&h.user)
            {
                continue;
            }
            let seen = self
                .sudo_scans
                .iter()
                .any(|(u, s)| *u == h.user && *s == SudoScan::Ok);
            if !seen {
                n += h.count;
                users.push(h.user.clone());
            }
        }
        users.sort();
        users.dedup();
        (n, users)
    }

    /// A host with nothing in its root yet (the root missing); scans fill it in.
    pub fn empty(root: &str, link: &str, prefix: &str, scanned_at: SystemTime) -> Self {
        HostState {
            root: root.to_string(),
            root_abs: String::new(),
            root_exists: false,
            link_name: link.to_string(),
            prefix: prefix.to_string(),
            link: LinkState::Absent,
            releases: Vec::new(),
            foreign: 0,
            lock: None,
            history: Vec::new(),
            hidden_processes: 0,
            jobs_known: true,
            hidden_users: Vec::new(),
            sudo_scans: Vec::new(),
            job_users: None,
            staging: Vec::new(),
            scanned_at,
            warnings: Vec::new(),
            trash: None,
            probation: None,
        }
    }

    /// The release the link points at, if it points at one.
    pub fn current(&self) -> Option<&ReleaseName> {
        match &self.link {
            LinkState::Release { name, .. } => Some(name),
            _ => None,
        }
    }

    pub fn release(&self, name: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.name.as_str() == name)
    }

    /// The newest release, by name order.
    pub fn newest(&self) -> Option<&ReleaseName> {
        self.releases.first().map(|r| &r.name)
    }

    /// The absolute path of a release on the host.
    pub fn release_path(&self, name: &ReleaseName) -> String {
        format!("{}/{}", self.root_abs, name)
    }
}

/// A byte count as people read it, in binary (IEC) units: `0 B`, `1.5 KiB`,
/// `400.0 MiB`. The one size formatter of the CLI and the console, so the same
/// release reads the same in both.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A count with its noun in the right form: `1 file`, `2 files`, `1 process`,
/// `3 processes`, `0 releases`. For the regular English nouns relman prints (an
/// `s`, or `es` after s/x/ch/sh); nothing prints `(s)`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        return format!("1 {noun}");
    }
    let es = ["s", "x", "ch", "sh"].iter().any(|e| noun.ends_with(e));
    format!("{n} {noun}{}", if es { "es" } else { "s" })
}

/// How many terminal columns `s` takes (wide CJK and emoji count 2, combining
/// marks 0), for tables that line up whatever they hold.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` columns, ending in `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// `s` padded with spaces to `w` columns (left-aligned; no cut).
pub fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// `s` padded on the left to `w` columns (right-aligned; no cut).
pub fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

/// "3h 12m ago": the two largest units of a duration, as operators read ages.
pub fn age(d: Duration) -> String {
    format!("{} ago", span(d))
}

/// "3h 12m": the two largest units of a duration.
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if days > 0 {
        if hours > 0 {
            format!("{days}d {hours}h")
        } else {
            format!("{days}d")
        }
    } else if hours > 0 {
        if mins > 0 {
            format!("{hours}h {mins}m")
        } else {
            format!("{hours}h")
        }
    } else if mins > 0 {
        if secs > 0 {
            format!("{mins}m {secs}s")
        } else {
            format!("{mins}m")
        }
    } else {
        format!("{secs}s")
    }
}

/// How far ahead of `now` a time may be and still read as "0s ago": two clocks a
/// little apart (the operator's and a host's) are not news.
pub const FUTURE_SLACK: Duration = Duration::from_secs(60);

/// Age of a time relative to `now` ("3h 12m ago"), for the CLI and the console
/// alike. A time more than [`FUTURE_SLACK`] ahead reads as such ("in 9h": a release
/// named by a clock in another time zone), anything closer as "0s ago".
pub fn age_since(t: SystemTime, now: SystemTime) -> String {
    match t.duration_since(now) {
        Ok(ahead) if ahead > FUTURE_SLACK => format!("in {}", span(ahead)),
        _ => age(now.duration_since(t).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_names_read_back_as_the_same_names() {
        // `new` and `with_seq` build a name from its parts; parse must agree.
        let at = humantime::parse_rfc3339("2026-11-27T00:03:09Z").unwrap();
        for seq in [0, 1, 42] {
            let n = ReleaseName::new("batch_", at, seq);
            assert_eq!(ReleaseName::parse("batch_", n.as_str()), Ok(n.clone()));
            assert_eq!(n.time(), at);
            assert_eq!(n.stamp(), 20261127000309);
            let m = n.with_seq("batch_", seq + 3);
            assert_eq!(ReleaseName::parse("batch_", m.as_str()), Ok(m.clone()));
        }
    }

    #[test]
    fn a_lock_without_owner_says_so() {
        let now = humantime::parse_rfc3339("2026-11-27T00:03:00Z").unwrap();
        let mut l = LockInfo {
            by: "?".into(),
            action: "?".into(),
            since: String::new(),
            pid: None,
            token: String::new(),
        };
        assert_eq!(l.describe(now), "locked (holder unknown)");
        l.by = "carol@laptop".into();
        assert_eq!(l.describe(now), "LOCKED by carol@laptop");
        l.action = "deploy".into();
        l.since = "2026-11-27T00:00:00Z".into();
        assert_eq!(l.describe(now), "LOCKED by carol@laptop (deploy 3m ago)");
    }

    #[test]
    fn one_size_unit_binary() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12_000), "11.7 KiB");
        assert_eq!(human_bytes(400 * 1024 * 1024), "400.0 MiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn plurals_read_as_english() {
        assert_eq!(plural(1, "file"), "1 file");
        assert_eq!(plural(0, "file"), "0 files");
        assert_eq!(plural(3, "release"), "3 releases");
        assert_eq!(plural(1, "process"), "1 process");
        assert_eq!(plural(2, "process"), "2 processes");
        assert_eq!(plural(2, "pin"), "2 pins");
    }

    #[test]
    fn widths_and_ellipsis() {
        assert_eq!(width("batch_1"), 7);
        assert_eq!(width("日本"), 4);
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdefg", 6), "abcde…");
        assert_eq!(truncate("日本語です", 5), "日本…");
        assert_eq!(width(&truncate("日本語です", 5)), 5);
        assert_eq!(pad("日本", 6), "日本  ");
        assert_eq!(pad_left("7", 3), "  7");
    }

    #[test]
    fn names_parse_strictly() {
        let n = ReleaseName::parse("batch_", "batch_20261126221500").unwrap();
        assert_eq!(n.seq(), 0);
        assert_eq!(n.as_str(), "batch_20261126221500");
        assert_eq!(
            ReleaseName::parse("batch_", "batch_20261126221500.2")
                .unwrap()
                .seq(),
            2
        );
        for bad in [
            "batch_20261301000000",
            "batch_20260229000000",
            "batch_20261126240000",
            "batch_20261126236000",
            "batch_20261126235960",
            "batch_20261100000000",
            "batch_20260431000000",
            "batch_19691231235959",
            "batch_00000101000000",
            "batch_20261126221500.12345678901",
            "batch_20261126221500.1234567890",
            "batch_+2026112622150",
            "batch_ 2026112622150",
            "batch_2026112622150\u{0663}",
            "batch_2026112622150",
            "batch_202611262215000",
            "batch_20261126221500.",
            "batch_20261126221500.0",
            "batch_20261126221500.01",
            "batch_20261126221500.x",
            "batch_20261126221500/..",
            "batch_2026112622150a",
            "other_20261126221500",
            "batch_20261326221500",
            "batch_20260230221500",
            "batch_20261126221500;rm",
            "batch_20261126221500\n",
            "",
        ] {
            assert!(
                ReleaseName::parse("batch_", bad).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn names_are_real_calendar_times() {
        for good in [
            "batch_20280229000000",
            "batch_20000229120000",
            "batch_20261126235959",
            "batch_19700101000000",
            "batch_99991231235959",
            "batch_20261231000000.999999999",
            "batch_20261126221500.1",
        ] {
            assert!(ReleaseName::parse("batch_", good).is_ok(), "{good} refused");
        }
        for (bad, year) in [
            ("batch_21000229000000", "2100"),
            ("batch_20260229000000", "2026"),
        ] {
            assert!(
                matches!(ReleaseName::parse("batch_", bad), Err(NameError::Date(_))),
                "{year} is not a leap year"
            );
        }
        let n = ReleaseName::parse("batch_", "batch_20280229235959").unwrap();
        assert_eq!(
            n.time(),
            humantime::parse_rfc3339("2028-02-29T23:59:59Z").unwrap()
        );
        let n = ReleaseName::parse("batch_", "batch_19700101000000").unwrap();
        assert_eq!(n.time(), UNIX_EPOCH);
    }

    proptest::proptest! {
        /// A name's time is the time it was made from, for every second humantime
        /// can format (1970 to 9999).
        #[test]
        fn name_times_round_trip(secs in 0u64..253_402_300_800) {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            let n = ReleaseName::new("b_", t, 0);
            proptest::prop_assert_eq!(n.time(), t);
        }
    }

    #[test]
    fn names_order_by_stamp_then_counter() {
        let p = |s| ReleaseName::parse("b_", s).unwrap();
        let mut v = [
            p("b_20261126221500.10"),
            p("b_20261126221500"),
            p("b_20251126221500"),
            p("b_20261126221500.2"),
        ];
        v.sort();
        let s: Vec<_> = v.iter().map(|n| n.as_str()).collect();
        assert_eq!(
            s,
            [
                "b_20251126221500",
                "b_20261126221500",
                "b_20261126221500.2",
                "b_20261126221500.10"
            ]
        );
    }

    #[test]
    fn new_names_use_utc_time() {
        let t = humantime::parse_rfc3339("2026-11-26T22:15:00Z").unwrap();
        assert_eq!(
            ReleaseName::new("batch_", t, 0).as_str(),
            "batch_20261126221500"
        );
        assert_eq!(
            ReleaseName::new("batch_", t, 3).as_str(),
            "batch_20261126221500.3"
        );
        assert_eq!(ReleaseName::new("batch_", t, 0).time(), t);
    }

    #[test]
    fn ages_read_like_an_operator_says_them() {
        assert_eq!(
            age(Duration::from_secs(3 * 3600 + 12 * 60 + 5)),
            "3h 12m ago"
        );
        assert_eq!(age(Duration::from_secs(42)), "42s ago");
        assert_eq!(age(Duration::from_secs(130)), "2m 10s ago");
        assert_eq!(age(Duration::from_secs(2 * 86400 + 3600)), "2d 1h ago");
        assert_eq!(age(Duration::from_secs(7200)), "2h ago");
        // A time in the future says so; a clock a few seconds apart does not.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ahead = |s| now + Duration::from_secs(s);
        assert_eq!(age_since(ahead(9 * 3600), now), "in 9h");
        assert_eq!(age_since(ahead(8 * 3600 + 59 * 60 + 30), now), "in 8h 59m");
        assert_eq!(age_since(ahead(5), now), "0s ago");
        assert_eq!(age_since(ahead(61), now), "in 1m 1s");
        assert_eq!(age_since(now - Duration::from_secs(42), now), "42s ago");
    }

    #[test]
    fn pins_without_readable_expiry_protect_nothing() {
        let now = humantime::parse_rfc3339("2026-11-26T22:15:00Z").unwrap();
        let mut p = Pin {
            id: "x".into(),
            release: "b_20261126221500".into(),
            by: "a@b".into(),
            created_at: "2026-11-26T22:00:00Z".into(),
            expires_at: "2026-11-26T23:00:00Z".into(),
            reason: String::new(),
        };
        assert!(p.is_active(now));
        p.expires_at = "soon".into();
        assert!(!p.is_active(now));
    }
}

/// The manifest parser against hostile and arbitrary input (hardening).
#[cfg(test)]
mod manifest_tests {
    use super::*;
    use proptest::prelude::*;

    const NAME: &str = "batch_20261126221500";

    fn manifest(paths: &[&str]) -> String {
        let files: Vec<ManifestFile> = paths
            .iter()
            .map(|p| ManifestFile {
                path: p.to_string(),
                size: 1,
                sha256: "0".repeat(64),
                mode: 0o644,
            })
            .collect();
        serde_json::to_string(&Manifest {
            name: NAME.into(),
            created_at: "2026-11-26T22:15:00Z".into(),
            created_by: "a@b".into(),
            message: String::new(),
            files,
        })
        .unwrap()
    }

    #[test]
    fn clean_paths_pass_and_escapes_are_refused() {
        let m = Manifest::parse_for(
            NAME,
            &manifest(&["app.jar", "lib/a b.jar", "..x/y..", ".hidden"]),
        );
        assert_eq!(m.unwrap().files.len(), 4);
        for bad in [
            "../../x",
            "..",
            "/etc/passwd",
            "a/../../b",
            "a/./b",
            ".",
            "",
            "a//b",
            "a/",
            "a\nb",
            "a\0b",
            "lib/..",
        ] {
            let e = Manifest::parse_for(NAME, &manifest(&["ok.jar", bad])).unwrap_err();
            assert!(e.contains("unsafe path"), "{bad:?}: {e}");
            assert!(!e.contains('\n') && !e.contains('\0'), "printable: {e:?}");
        }
    }

    #[test]
    fn other_names_and_garbage_are_refused_with_a_reason() {
        let other = manifest(&["a"]).replace(NAME, "batch_20200101000000");
        assert!(
            Manifest::parse_for(NAME, &other)
                .unwrap_err()
                .contains("another release")
        );
        for bad in [
            "",
            "{",
            "null",
            "[]",
            "{\"name\":1}",
            &manifest(&["a"])[..40],
            &manifest(&["a"]).replace("\"files\"", "\"files\":[],\"extra\":1,\"x\""),
        ] {
            assert!(Manifest::parse_for(NAME, bad).is_err(), "{bad:?}");
        }
    }

    fn clean_component() -> impl Strategy<Value = String> {
        "[A-Za-z0-9 ._;$`'\"()*?\\\\é-]{1,12}".prop_filter("not . or ..", |c| c != "." && c != "..")
    }

    fn clean_path() -> impl Strategy<Value = String> {
        proptest::collection::vec(clean_component(), 1..4).prop_map(|v| v.join("/"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC{0,200}") {
            let _ = Manifest::parse_for(NAME, &s);
        }

        #[test]
        fn never_panics_on_mutated_manifests(cut in 0usize..300, junk in "[{}\\[\\]\":,a-z0-9./\\\\]{0,12}") {
            let s = manifest(&["app.jar", "lib/x.jar"]);
            let cut = cut.min(s.len());
            let m = format!("{}{}{}", &s[..cut], junk, &s[cut..]);
            let _ = Manifest::parse_for(NAME, &m);
        }

        #[test]
        fn valid_manifests_round_trip(paths in proptest::collection::vec(clean_path(), 0..8),
                                      message in "\\PC{0,40}") {
            let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
            let mut m: Manifest = serde_json::from_str(&manifest(&refs)).unwrap();
            m.message = message;
            let text = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(Manifest::parse_for(NAME, &text), Ok(m));
        }

        #[test]
        fn any_escaping_path_is_refused(prefix in clean_path(), suffix in clean_path(),
                                        how in 0usize..5) {
            let bad = match how {
                0 => format!("{prefix}/../{suffix}"),
                1 => format!("/{prefix}"),
                2 => format!("../{suffix}"),
                3 => format!("{prefix}/./{suffix}"),
                _ => format!("{prefix}//{suffix}"),
            };
            prop_assert!(!is_clean_path(&bad));
            let e = Manifest::parse_for(NAME, &manifest(&["a", &bad])).unwrap_err();
            prop_assert!(e.contains("unsafe path"));
        }
    }
}
