//! The remote steps of a deploy on one host, each one round trip under the deploy's
//! lock: `prepare` (clean stale uploads, create the staging tree, hard-link what the
//! live release already has), `upload` (one stream for every file to send), `verify`
//! (modes, manifest, then size + mode + sha256 of every staged file), `publish`
//! (rename into the root), and the ways back (`unpublish`, `abort`).
//!
//! The host reports facts (`F idx size mode sha`); whether they are right is decided
//! here, by pure functions over plain data ([`parse_facts`], [`linkable`], [`check`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use super::local::{LocalFile, MANIFEST_NAME};
use crate::config::HostConfig;
use crate::model::{ReleaseName, printable};
use crate::ops::history::HistoryLine;
use crate::ops::launcher::with_launcher;
use crate::ops::lock::HostLock;
use crate::ops::scan::root_script;
use crate::ops::{OpError, script_error, script_exit, script_failed};
use crate::plan;
use crate::plan::upload::{Piece, ToSend};
use crate::remote::quote::quote;
use crate::remote::script::{STAGE, Script, UPLOAD};
use crate::remote::{ExecOutput, RemoteError, Transport, run};

/// What the host said about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A regular file; `sha256` is `None` when the host did not hash it (its size
    /// differed from the one expected).
    File {
        size: u64,
        mode: u32,
        sha256: Option<String>,
    },
    /// Not there, or not a regular file.
    Missing,
}

/// Parses the `F`/`M` lines of a step's output, keyed by index. Strict: a malformed
/// line, an index given twice or out of range is an error.
pub fn parse_facts(stdout: &str, count: usize) -> Result<BTreeMap<usize, Fact>, String> {
    let mut out = BTreeMap::new();
    for line in stdout.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (idx, fact) = match f.as_slice() {
            ["F", i, size, mode, sha] => {
                let size = size
                    .parse::<u64>()
                    .map_err(|_| format!("bad size in {:?}", printable(line)))?;
                let mode = u32::from_str_radix(mode, 8)
                    .map_err(|_| format!("bad mode in {:?}", printable(line)))?;
                let sha256 = match *sha {
                    "-" => None,
                    s if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        Some(s.to_ascii_lowercase())
                    }
                    // A hash that could not be computed: a fact that matches nothing.
                    _ => Some(String::new()),
                };
                (*i, Fact::File { size, mode, sha256 })
            }
            ["M", i] => (*i, Fact::Missing),
            _ => continue,
        };
        let idx: usize = idx
            .parse()
            .map_err(|_| format!("bad index in {:?}", printable(line)))?;
        if idx >= count {
            return Err(format!("index {idx} out of range"));
        }
        if out.insert(idx, fact).is_some() {
            return Err(format!("file {idx} reported twice"));
        }
    }
    Ok(out)
}

/// Whether a fact proves the host holds exactly `f` (size, mode bits, sha256).
pub fn matches(f: &LocalFile, fact: Option<&Fact>) -> bool {
    match fact {
        Some(Fact::File {
            size,
            mode,
            sha256: Some(sha),
        }) => {
            *size == f.size
                && (*mode & 0o7777) == f.mode
                && sha.len() == 64
                && sha.eq_ignore_ascii_case(&f.sha256)
        }
        _ => false,
    }
}

/// Splits link candidates (indexes into `files`) into those the host proved
/// identical (kept as hard links) and those that must be uploaded after all.
pub fn linkable(
    files: &[LocalFile],
    candidates: &[usize],
    facts: &BTreeMap<usize, Fact>,
) -> (Vec<usize>, Vec<usize>) {
    candidates
        .iter()
        .copied()
        .partition(|&i| matches(&files[i], facts.get(&i)))
}

/// Checks the verify step's facts: every file (and the manifest, index
/// `files.len()`) exactly as expected. A `linked` file was proven identical by
/// `prepare` moments before, under the same lock, and shares its inode with the live
/// release: its size and mode are checked again, its content is not re-read. Returns
/// one line per problem.
pub fn check(
    files: &[LocalFile],
    linked: &[bool],
    manifest: &LocalFile,
    facts: &BTreeMap<usize, Fact>,
) -> Result<(), Vec<String>> {
    let mut bad = Vec::new();
    for (i, f) in files.iter().chain(std::iter::once(manifest)).enumerate() {
        let fact = facts.get(&i);
        if matches(f, fact) {
            continue;
        }
        if linked.get(i).copied().unwrap_or(false)
            && let Some(Fact::File { size, mode, .. }) = fact
            && *size == f.size
            && (*mode & 0o7777) == f.mode
        {
            continue;
        }
        let why = match fact {
            None => "not reported by the host".to_string(),
            Some(Fact::Missing) => "missing".to_string(),
            Some(Fact::File { size, .. }) if *size != f.size => {
                format!("size {size}, expected {}", f.size)
            }
            Some(Fact::File { mode, .. }) if (*mode & 0o7777) != f.mode => {
                format!("mode {mode:o}, expected {:o}", f.mode)
            }
            Some(Fact::File { .. }) => "sha256 differs".to_string(),
        };
        bad.push(format!("{}: {why}", printable(&f.rel_path)));
    }
    if bad.is_empty() { Ok(()) } else { Err(bad) }
}

/// One line per record for a script parameter.
fn lines<I: IntoIterator<Item = String>>(it: I) -> String {
    let mut s = String::new();
    for l in it {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

fn step_script(host: &HostConfig, lock: &HostLock, name: &ReleaseName, step: &str) -> Script {
    root_script(STAGE, host)
        .param("TOKEN", lock.token.clone())
        .param("NAME", name.as_str())
        .param("STEP", step.to_string())
}

/// Exit status of a deploy step whose write failed on a full disk (ENOSPC); its
/// stderr then holds `NOSPACE <root> <bytes free>`.
pub const EXIT_NOSPACE: i32 = 28;

/// "the disk filled up: no space left on device on h1 (…): 0 B free" (the phase,
/// `uploading` or `verifying`, goes before it), when a step says its disk is full.
fn disk_full(host: &str, out: &ExecOutput) -> Option<OpError> {
    if out.status != Some(EXIT_NOSPACE) {
        return None;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rest = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("NOSPACE\t"))?;
    let (root, free) = rest.split_once('\t').unwrap_or((rest, ""));
    Some(OpError::Failed(format!(
        "the disk filled up: {}",
        crate::ops::lock::no_space(host, root, free)
    )))
}

/// A deploy step's failure: as every script's ([`script_error`]), except that a lost
/// lock names the step (a deploy has several).
fn fail(step: &str, out: &ExecOutput) -> OpError {
    match out.status {
        Some(script_exit::LOCK_LOST) => OpError::Failed(format!("{step}: {}", out.stderr_line())),
        _ => script_error(step, out),
    }
}

/// Whether the step's output ends with its `OK`-like last line.
fn ended_with(out: &ExecOutput, word: &str) -> bool {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .is_some_and(|l| l.split('\t').next() == Some(word))
}

/// What `prepare` did.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Candidates the host proved identical: they stay hard links.
    pub linked: Vec<usize>,
    /// Candidates that turned out different (or missing): to upload.
    pub rejected: Vec<usize>,
    /// Stale staging directories removed (`?` for a name that is not a release name).
    pub stale: Vec<String>,
    /// Stale ones that could not be removed now (still being written?).
    pub stale_left: Vec<String>,
}

/// Creates `.relman/staging/<name>` with every directory, removes stale uploads,
/// and hard-links `candidates` from `live`, keeping those the host proves identical.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    name: &ReleaseName,
    live: Option<&ReleaseName>,
    files: &[LocalFile],
    dirs: &[String],
    candidates: &[usize],
) -> Result<Prepared, OpError> {
    let cands = lines(
        candidates
            .iter()
            .map(|&i| format!("{i}\t{}\t{}", files[i].size, files[i].rel_path)),
    );
    let script = with_launcher(step_script(host, lock, name, "prepare"), host)?
        .param("LIVE", live.map_or("", |l| l.as_str()))
        .param("DIRS", lines(dirs.iter().cloned()))
        .param("CANDS", if live.is_some() { cands } else { String::new() });
    let out = run(t, &script)?;
    if let Some(e) = disk_full(&host.name, &out) {
        return Err(e);
    }
    if !out.success() || !ended_with(&out, "OK") {
        return Err(fail("staging", &out));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let facts = parse_facts(&stdout, files.len())
        .map_err(|e| OpError::Failed(format!("staging: unexpected answer from the host ({e})")))?;
    let (linked, rejected) = if live.is_some() {
        linkable(files, candidates, &facts)
    } else {
        (Vec::new(), candidates.to_vec())
    };
    let stale = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("stale\t"))
        .map(str::to_string)
        .collect();
    let stale_left = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("stale_left\t"))
        .map(str::to_string)
        .collect();
    Ok(Prepared {
        linked,
        rejected,
        stale,
        stale_left,
    })
}

/// The upload stream: per file a header line `<size> <path>` and its bytes, then `.`;
/// a part of a file cut over several lanes ([`plan::upload`]) has the header
/// `<size>@<offset> <path>`. Sends exactly the size walked: a file that shrank is an
/// error, one that grew is cut (and then fails verification).
pub struct UploadStream<'a> {
    parts: Vec<(&'a LocalFile, Piece)>,
    next: usize,
    head: Vec<u8>,
    head_pos: usize,
    body: Option<(io::Take<File>, &'a LocalFile)>,
    done: bool,
    stop: &'a (dyn Fn() -> bool + Sync),
    /// `stop` said yes: the stream ended with [`STOPPED`].
    called_off: bool,
}

impl<'a> UploadStream<'a> {
    /// Every file whole. `stop` is asked before every read: true calls the upload off.
    pub fn new(files: Vec<&'a LocalFile>, stop: &'a (dyn Fn() -> bool + Sync)) -> Self {
        let parts = files
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let whole = Piece {
                    file: i,
                    offset: 0,
                    len: f.size,
                    whole: true,
                };
                (f, whole)
            })
            .collect();
        Self::parts(parts, stop)
    }

    /// These pieces of these files, in this order.
    pub fn parts(parts: Vec<(&'a LocalFile, Piece)>, stop: &'a (dyn Fn() -> bool + Sync)) -> Self {
        UploadStream {
            parts,
            next: 0,
            head: Vec::new(),
            head_pos: 0,
            body: None,
            done: false,
            stop,
            called_off: false,
        }
    }

    /// Opens the next piece: its header, and its bytes to read.
    fn open(&mut self, f: &'a LocalFile, p: Piece) -> io::Result<()> {
        let mut file = File::open(&f.abs)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.abs.display())))?;
        if p.offset > 0 {
            file.seek(SeekFrom::Start(p.offset))?;
        }
        self.head = if p.whole {
            format!("{} {}\n", p.len, f.rel_path)
        } else {
            format!("{}@{} {}\n", p.len, p.offset, f.rel_path)
        }
        .into_bytes();
        self.head_pos = 0;
        self.body = Some((file.take(p.len), f));
        Ok(())
    }
}

/// The error an upload stream returns when the deploy is called off.
pub const STOPPED: &str = "deploy called off";

impl Read for UploadStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if (self.stop)() {
            self.called_off = true;
            return Err(io::Error::other(STOPPED));
        }
        loop {
            if self.head_pos < self.head.len() {
                let n = (self.head.len() - self.head_pos).min(buf.len());
                buf[..n].copy_from_slice(&self.head[self.head_pos..self.head_pos + n]);
                self.head_pos += n;
                return Ok(n);
            }
            if let Some((body, f)) = &mut self.body {
                if body.limit() == 0 {
                    self.body = None;
                    continue;
                }
                let n = body.read(buf)?;
                if n == 0 {
                    return Err(io::Error::other(format!(
                        "{} shrank while it was uploaded",
                        f.abs.display()
                    )));
                }
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            match self.parts.get(self.next).copied() {
                Some((f, p)) => {
                    self.next += 1;
                    self.open(f, p)?;
                }
                None => {
                    self.head = b".\n".to_vec();
                    self.head_pos = 0;
                    self.done = true;
                }
            }
        }
    }
}

/// How an upload ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Every file was received (how many).
    All(usize),
    /// `stop` called the upload off before the end.
    CalledOff,
}

/// A file to upload, and whether prepare left something at its path (a hard link
/// it made and relman rejected): such a file is sent whole, never cut over lanes.
pub type Outgoing<'a> = (&'a LocalFile, bool);

/// Streams `files` into the staging directory: one exec, or — for a big upload —
/// several at once, each carrying its lane of [`plan::upload::lanes`] (channels of
/// one connection, each with its own window). `progress` gets the stream bytes sent
/// so far; `stop` is asked before every read. `max_lanes`: at most this many
/// lanes ([`plan::upload::lanes_per_host`]).
#[allow(clippy::too_many_arguments)]
pub fn upload(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    name: &ReleaseName,
    files: Vec<Outgoing>,
    max_lanes: usize,
    stop: &(dyn Fn() -> bool + Sync),
    progress: &mut dyn FnMut(u64),
) -> Result<Sent, OpError> {
    let count = files.len();
    let script = Script::bare(UPLOAD)
        .param("ROOT", host.root.clone())
        .param("TOKEN", lock.token.clone())
        .param("NAME", name.as_str())
        .render()
        .map_err(RemoteError::from)?;
    let command = format!("sh -c {}", quote(&script).map_err(RemoteError::from)?);
    let sizes: Vec<ToSend> = files
        .iter()
        .map(|&(f, linked)| ToSend {
            size: f.size,
            cuttable: !linked,
        })
        .collect();
    let total = sizes.iter().map(|f| f.size).sum();
    let plan: Vec<Vec<Piece>> =
        plan::upload::lanes(&sizes, plan::upload::lane_count(total, max_lanes))
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect();
    let mut streams: Vec<UploadStream> = plan
        .iter()
        .map(|lane| {
            let parts = lane.iter().map(|&p| (files[p.file].0, p)).collect();
            UploadStream::parts(parts, stop)
        })
        .collect();
    let result = {
        let mut jobs: Vec<(&str, &mut dyn Read)> = streams
            .iter_mut()
            .map(|s| (command.as_str(), s as &mut dyn Read))
            .collect();
        t.exec_all(&mut jobs, progress)
    };
    let outs = match result {
        Err(_) if streams.iter().any(|s| s.called_off) => return Ok(Sent::CalledOff),
        r => r?,
    };
    let received = |out: &ExecOutput, lane: &[Piece]| {
        let expected = format!("RECEIVED\t{}", lane.len());
        out.success() && String::from_utf8_lossy(&out.stdout).lines().last() == Some(&expected)
    };
    let failed: Vec<&ExecOutput> = outs
        .iter()
        .zip(&plan)
        .filter(|(o, lane)| !received(o, lane))
        .map(|(o, _)| o)
        .collect();
    if failed.is_empty() && outs.len() == plan.len() {
        return Ok(Sent::All(count));
    }
    // The cause, not a symptom: a full disk, then a lost lock, then what the first
    // lane to fail said (a lane cut short by another's failure says less).
    if let Some(e) = failed.iter().find_map(|o| disk_full(&host.name, o)) {
        return Err(e);
    }
    if let Some(o) = failed
        .iter()
        .find(|o| o.status == Some(script_exit::LOCK_LOST))
    {
        return Err(OpError::Failed(format!("upload: {}", o.stderr_line())));
    }
    match failed.first() {
        Some(o) => Err(script_failed("upload", o)),
        None => Err(OpError::Failed(
            "upload: the host answered for fewer lanes than were sent".to_string(),
        )),
    }
}

/// Sets the uploaded files' modes, writes the manifest, and checks every staged
/// file and the manifest against what was meant (see [`check`] for linked files).
#[allow(clippy::too_many_arguments)]
pub fn verify(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    name: &ReleaseName,
    files: &[LocalFile],
    linked: &[bool],
    manifest: &LocalFile,
    manifest_text: &str,
) -> Result<(), OpError> {
    let uploaded: Vec<usize> = (0..files.len()).filter(|&i| !linked[i]).collect();
    let by_mode = |m: u32| {
        lines(
            uploaded
                .iter()
                .filter(|&&i| files[i].mode == m)
                .map(|&i| files[i].rel_path.clone()),
        )
    };
    let list = lines(
        files
            .iter()
            .chain(std::iter::once(manifest))
            .enumerate()
            .map(|(i, f)| {
                // "-": stat only (a linked file, hashed by prepare).
                let size = if linked.get(i).copied().unwrap_or(false) {
                    "-".to_string()
                } else {
                    f.size.to_string()
                };
                format!("{i}\t{size}\t{}", f.rel_path)
            }),
    );
    let script = step_script(host, lock, name, "verify")
        .param("MODE_EXEC", by_mode(0o755))
        .param("MODE_PLAIN", by_mode(0o644))
        .param("MANIFEST", manifest_text.to_string())
        .param("FILES", list);
    let out = run(t, &script)?;
    if let Some(e) = disk_full(&host.name, &out) {
        return Err(e);
    }
    if !out.success() || !ended_with(&out, "OK") {
        return Err(fail("verify", &out));
    }
    let facts = parse_facts(&String::from_utf8_lossy(&out.stdout), files.len() + 1)
        .map_err(|e| OpError::Failed(format!("verify: unexpected answer from the host ({e})")))?;
    check(files, linked, manifest, &facts).map_err(|bad| {
        let more = if bad.len() > 3 {
            format!(" (and {} more)", bad.len() - 3)
        } else {
            String::new()
        };
        OpError::Failed(format!(
            "verification failed on the host: {}{more}",
            bad[..bad.len().min(3)].join("; ")
        ))
    })
}

/// The manifest as a `LocalFile` (for verification): its text is `text` + newline.
pub fn manifest_file(text: &str) -> LocalFile {
    use sha2::{Digest, Sha256};
    let bytes = format!("{text}\n");
    LocalFile {
        rel_path: MANIFEST_NAME.to_string(),
        abs: Default::default(),
        size: bytes.len() as u64,
        mode: 0o644,
        sha256: hex::encode(Sha256::digest(bytes.as_bytes())),
    }
}

/// Renames the staged release into the root. With `history` a
/// history line is appended with the live release as `from` (a `--no-switch`
/// deploy; a switching deploy's line is written by the switch). Returns the live
/// release the host saw (None: no link at a release).
pub fn publish(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    name: &ReleaseName,
    history: Option<HistoryLine>,
) -> Result<Option<String>, OpError> {
    let script = step_script(host, lock, name, "publish");
    let script = match &history {
        Some(h) => h.param(script),
        None => script.param("HIST", ""),
    };
    let out = run(t, &script)?;
    if !out.success() || !ended_with(&out, "PUBLISHED") {
        return Err(fail("publish", &out));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let from = stdout
        .lines()
        .last()
        .and_then(|l| l.split('\t').nth(1))
        .filter(|f| *f != "-")
        .map(str::to_string);
    Ok(from)
}

/// A guard refused the published release `name`: appends `history` (a `refuse`
/// line, its `from` the host's live release) under the lock, which marks it bad;
/// the release stays and the link is not touched.
pub fn refuse(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    name: &ReleaseName,
    history: &HistoryLine,
) -> Result<(), OpError> {
    let out = run(t, &history.param(step_script(host, lock, name, "refuse")))?;
    if out.success() && ended_with(&out, "REFUSED") {
        Ok(())
    } else {
        Err(fail("marking the release bad", &out))
    }
}

/// Takes a published (not live) release back out of the root and deletes it.
pub fn unpublish(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    name: &ReleaseName,
) -> Result<(), OpError> {
    let out = run(t, &step_script(host, lock, name, "unpublish"))?;
    if out.success() && ended_with(&out, "WITHDRAWN") {
        Ok(())
    } else {
        Err(fail("withdraw", &out))
    }
}

/// Removes the staging directory of `name`.
pub fn abort(
    t: &dyn Transport,
    host: &HostConfig,
    lock: &HostLock,
    name: &ReleaseName,
) -> Result<(), OpError> {
    let out = run(t, &step_script(host, lock, name, "abort"))?;
    if out.success() && ended_with(&out, "ABORTED") {
        Ok(())
    } else {
        Err(fail("cleanup", &out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lf(path: &str, size: u64, mode: u32, sha: &str) -> LocalFile {
        LocalFile {
            rel_path: path.into(),
            abs: Default::default(),
            size,
            mode,
            sha256: sha.into(),
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn facts_parse_strictly() {
        let out = format!("stale\tbatch_1\nF\t0\t10\t644\t{A}\nM\t2\nF\t1\t5\t755\t-\nOK\n");
        let f = parse_facts(&out, 3).unwrap();
        assert_eq!(
            f[&0],
            Fact::File {
                size: 10,
                mode: 0o644,
                sha256: Some(A.into())
            }
        );
        assert_eq!(
            f[&1],
            Fact::File {
                size: 5,
                mode: 0o755,
                sha256: None
            }
        );
        assert_eq!(f[&2], Fact::Missing);
        assert!(parse_facts(&format!("F\t0\t1\t644\t{A}\nF\t0\t1\t644\t{A}\n"), 1).is_err());
        assert!(parse_facts(&format!("F\t3\t1\t644\t{A}\n"), 3).is_err());
        assert!(parse_facts(&format!("F\t0\tx\t644\t{A}\n"), 1).is_err());
        // An empty or garbled hash matches nothing, but is not a parse error.
        let f = parse_facts("F\t0\t1\t644\t\n", 1).unwrap();
        assert!(!matches(&lf("a", 1, 0o644, ""), f.get(&0)));
        assert!(!matches(&lf("a", 1, 0o644, A), f.get(&0)));
    }

    #[test]
    fn only_proven_candidates_stay_links() {
        let files = vec![
            lf("same", 10, 0o644, A),
            lf("content", 10, 0o644, A),
            lf("mode", 10, 0o755, A),
            lf("size", 10, 0o644, A),
            lf("gone", 10, 0o644, A),
            lf("unreported", 10, 0o644, A),
        ];
        let out = format!(
            "F\t0\t10\t644\t{A}\nF\t1\t10\t644\t{B}\nF\t2\t10\t644\t{A}\nF\t3\t11\t644\t-\nM\t4\n"
        );
        let facts = parse_facts(&out, files.len()).unwrap();
        let (linked, upload) = linkable(&files, &[0, 1, 2, 3, 4, 5], &facts);
        assert_eq!(linked, [0]);
        assert_eq!(upload, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn verification_names_each_problem() {
        let files = vec![lf("a.jar", 3, 0o644, A), lf("bin/run.sh", 4, 0o755, B)];
        let m = manifest_file("{}");
        let good = format!(
            "F\t0\t3\t644\t{A}\nF\t1\t4\t755\t{B}\nF\t2\t{}\t644\t{}\n",
            m.size, m.sha256
        );
        let none = [false, false];
        assert!(check(&files, &none, &m, &parse_facts(&good, 3).unwrap()).is_ok());
        let bad = format!("F\t0\t3\t644\t{B}\nF\t1\t4\t644\t{B}\n");
        let e = check(&files, &none, &m, &parse_facts(&bad, 3).unwrap()).unwrap_err();
        assert_eq!(
            e,
            [
                "a.jar: sha256 differs",
                "bin/run.sh: mode 644, expected 755",
                ".relman.json: not reported by the host"
            ]
        );
        // A linked file is stat-checked only (sha "-"), but size and mode still count.
        let linked = format!(
            "F\t0\t3\t644\t-\nF\t1\t4\t755\t{B}\nF\t2\t{}\t644\t{}\n",
            m.size, m.sha256
        );
        let facts = parse_facts(&linked, 3).unwrap();
        assert!(check(&files, &[true, false], &m, &facts).is_ok());
        assert!(check(&files, &[false, false], &m, &facts).is_err());
        let moved = format!(
            "F\t0\t3\t755\t-\nF\t1\t4\t755\t{B}\nF\t2\t{}\t644\t{}\n",
            m.size, m.sha256
        );
        let e = check(&files, &[true, false], &m, &parse_facts(&moved, 3).unwrap()).unwrap_err();
        assert_eq!(e, ["a.jar: mode 755, expected 644"]);
    }

    /// Runs upload.sh locally on `stdin` against a staging dir made by hand.
    fn receive(stdin: &[u8]) -> (ExecOutput, std::path::PathBuf, tempfile::TempDir) {
        receive_as(stdin, "t0k")
    }

    fn receive_as(
        stdin: &[u8],
        token: &str,
    ) -> (ExecOutput, std::path::PathBuf, tempfile::TempDir) {
        receive_in(stdin, token, |_| {})
    }

    /// `receive_as` with `setup` run on the staging directory first.
    fn receive_in(
        stdin: &[u8],
        token: &str,
        setup: impl FnOnce(&std::path::Path),
    ) -> (ExecOutput, std::path::PathBuf, tempfile::TempDir) {
        use crate::remote::local::LocalTransport;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("deploy");
        let stage = root.join(".relman/staging/batch_20261126221500");
        std::fs::create_dir_all(stage.join("lib")).unwrap();
        setup(&stage);
        std::fs::write(root.join(".relman/lock"), r#"{"token":"t0k"}"#).unwrap();
        let script = Script::bare(UPLOAD)
            .param("ROOT", root.to_str().unwrap())
            .param("TOKEN", token)
            .param("NAME", "batch_20261126221500")
            .render()
            .unwrap();
        let t = LocalTransport::new("l");
        let out = t
            .exec(
                &format!("sh -c {}", quote(&script).unwrap()),
                &mut &stdin[..],
                &mut |_| {},
            )
            .unwrap();
        (out, stage, d)
    }

    #[test]
    fn the_receiver_writes_exact_frames_and_refuses_a_cut_stream() {
        let big: Vec<u8> = (0..(1u32 << 20) + 5).map(|i| i as u8).collect();
        let mut s = format!("{} lib/big.jar\n", big.len()).into_bytes();
        s.extend_from_slice(&big);
        s.extend_from_slice(b"3 a b\nxyz0 empty\n.\n");
        let (out, stage, _d) = receive(&s);
        assert!(out.success(), "{}", out.stderr_line());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "RECEIVED\t3\n");
        assert_eq!(std::fs::read(stage.join("lib/big.jar")).unwrap(), big);
        assert_eq!(std::fs::read(stage.join("a b")).unwrap(), b"xyz");
        assert_eq!(std::fs::read(stage.join("empty")).unwrap(), b"");
        // Cut in the middle of a file, or before the final dot: refused.
        for cut in [&b"10 a.jar\n12345"[..], b"3 a.jar\nabc", b"3 a.jar\nabc4 b"] {
            let (out, _, _d) = receive(cut);
            assert_eq!(out.status, Some(1), "{cut:?}");
            assert!(
                out.stderr_line().contains("ended early"),
                "{}",
                out.stderr_line()
            );
        }
        // A path leaving the staging directory: refused.
        let (out, _, _d) = receive(b"1 ../x\nx.\n");
        assert_eq!(out.status, Some(1));
        assert!(out.stderr_line().contains("unsafe path"));
        // Under a lock that is not this deploy's: refused before anything is written.
        let (out, stage, _d) = receive_as(b"1 lib/x\nx.\n", "other");
        assert_eq!(out.status, Some(4));
        assert!(!stage.join("lib/x").exists());
    }

    #[test]
    fn the_receiver_writes_parts_in_place_in_any_order() {
        const MIB: usize = 1 << 20;
        let big: Vec<u8> = (0..2 * MIB + 5).map(|i| (i % 251) as u8).collect();
        // The file's end first, as another lane may well deliver it.
        let mut s = format!("{}@{MIB} lib/big.jar\n", MIB + 5).into_bytes();
        s.extend_from_slice(&big[MIB..]);
        s.extend_from_slice(format!("{MIB}@0 lib/big.jar\n").as_bytes());
        s.extend_from_slice(&big[..MIB]);
        s.extend_from_slice(b".\n");
        let (out, stage, _d) = receive(&s);
        assert!(out.success(), "{}", out.stderr_line());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "RECEIVED\t2\n");
        assert_eq!(std::fs::read(stage.join("lib/big.jar")).unwrap(), big);
        // A part never writes through a hard link (the live release's file).
        let outside = std::cell::RefCell::new(std::path::PathBuf::new());
        let mut s = format!("{MIB}@0 lib/a.jar\n").into_bytes();
        s.extend_from_slice(&big[..MIB]);
        s.extend_from_slice(b".\n");
        let (out, stage, _d) = receive_in(&s, "t0k", |stage| {
            let live = stage.join("../live.jar");
            std::fs::write(&live, b"live").unwrap();
            std::fs::hard_link(&live, stage.join("lib/a.jar")).unwrap();
            *outside.borrow_mut() = live;
        });
        assert_eq!(out.status, Some(1));
        assert!(
            out.stderr_line().contains("linked file"),
            "{}",
            out.stderr_line()
        );
        assert_eq!(std::fs::read(outside.borrow().as_path()).unwrap(), b"live");
        assert_eq!(std::fs::read(stage.join("lib/a.jar")).unwrap(), b"live");
        // Parts off a MiB boundary, under a MiB, or with a malformed offset: refused.
        for frame in [
            "5@3 x\nxxxxx.\n",
            "5@0 x\nxxxxx.\n",
            "5@-1 x\n",
            "5@01 x\n",
            "5@ x\n",
        ] {
            let (out, stage, _d) = receive(frame.as_bytes());
            assert_eq!(out.status, Some(1), "{frame:?}");
            assert!(
                out.stderr_line().contains("bad upload frame"),
                "{frame:?}: {}",
                out.stderr_line()
            );
            assert!(!stage.join("x").exists(), "{frame:?}");
        }
    }

    #[test]
    fn a_lane_stream_frames_its_parts_with_their_offsets() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a");
        std::fs::write(&p, b"0123456789").unwrap();
        let mut f = lf("lib/a", 10, 0o644, A);
        f.abs = p;
        let part = |offset, len| Piece {
            file: 0,
            offset,
            len,
            whole: false,
        };
        let mut s = UploadStream::parts(vec![(&f, part(6, 4)), (&f, part(0, 6))], &|| false);
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"4@6 lib/a\n67896@0 lib/a\n012345.\n");
    }

    #[test]
    fn the_stream_frames_each_file_and_ends_with_a_dot() {
        let d = tempfile::tempdir().unwrap();
        let p1 = d.path().join("a");
        let p2 = d.path().join("b");
        std::fs::write(&p1, b"hello").unwrap();
        std::fs::write(&p2, b"").unwrap();
        let mut f1 = lf("dir/a b", 5, 0o644, A);
        f1.abs = p1;
        let mut f2 = lf("empty", 0, 0o644, A);
        f2.abs = p2;
        let mut s = UploadStream::new(vec![&f1, &f2], &|| false);
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"5 dir/a b\nhello0 empty\n.\n");
        let mut s = UploadStream::new(vec![&f1], &|| true);
        assert!(s.read_to_end(&mut Vec::new()).is_err());
        // A file that shrank since it was walked is an error, not a short frame.
        f1.size = 9;
        let mut s = UploadStream::new(vec![&f1], &|| false);
        assert!(s.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn an_upload_called_off_says_so_in_its_type_not_in_a_message() {
        use crate::config::Address;
        use crate::model::Action;
        use crate::ops::lock::acquire;
        use crate::remote::local::LocalTransport;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("deploy");
        std::fs::create_dir_all(root.join(".relman/staging/batch_20261126221500")).unwrap();
        let host = HostConfig {
            name: "l".into(),
            address: Address::Local,
            port: 22,
            user: "me".into(),
            identities: vec![],
            jump: None,
            groups: vec![],
            root: root.to_str().unwrap().into(),
            link: "batch".into(),
            prefix: "batch_".into(),
            job_scan: Default::default(),
            ssh: Default::default(),
        };
        let t = LocalTransport::new("l");
        let lock = acquire(&t, &host, Action::Deploy).unwrap();
        let name = ReleaseName::parse("batch_", "batch_20261126221500").unwrap();
        let p = d.path().join("a");
        std::fs::write(&p, b"hello").unwrap();
        let mut f = lf("a", 5, 0o644, A);
        f.abs = p;
        let r = upload(
            &t,
            &host,
            &lock,
            &name,
            vec![(&f, false)],
            4,
            &|| true,
            &mut |_| {},
        );
        assert_eq!(r.unwrap(), Sent::CalledOff);
        let r = upload(
            &t,
            &host,
            &lock,
            &name,
            vec![(&f, false)],
            4,
            &|| false,
            &mut |_| {},
        );
        assert_eq!(r.unwrap(), Sent::All(1));
    }
}
