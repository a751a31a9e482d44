//! The scan's summary cache of the run ledger (ledger.sh `ledger_health`, issue 15's
//! benchmark): `ledger_read health` through the `<file>.sum` summaries must print
//! exactly what `ledger_read health-full` (one awk over every line) prints, after
//! appends, a rotation, a replaced or truncated file, with a corrupt, foreign-owned,
//! stale or planted summary, with open runs that end or get lost between scans, and
//! when the summaries cannot be written. Every scenario runs under dash and under
//! busybox sh with busybox's own awk, ls, tail, mktemp and mv.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use relman::config::HostConfig;
use relman::ops;
use relman::remote::local::LocalTransport;

use crate::support;
use support::Kill;

const LEDGER: &str = include_str!("../../src/remote/scripts/ledger.sh");

fn rel(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

/// A shell to run ledger.sh with: dash with this machine's tools, or busybox sh with
/// a PATH of busybox applets only.
enum Shell {
    Dash,
    Busybox(tempfile::TempDir),
}

fn shells() -> Vec<Shell> {
    let bb = tempfile::tempdir().unwrap();
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("busybox (tests/setup-hosts.sh installs it)");
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for a in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        std::os::unix::fs::symlink(busybox, bb.path().join(a)).unwrap();
    }
    vec![Shell::Dash, Shell::Busybox(bb)]
}

impl Shell {
    fn name(&self) -> &'static str {
        match self {
            Shell::Dash => "dash",
            Shell::Busybox(_) => "busybox",
        }
    }

    fn command(&self) -> Command {
        match self {
            Shell::Dash => Command::new("dash"),
            Shell::Busybox(bb) => {
                let mut c = Command::new(bb.path().join("sh"));
                c.env("PATH", bb.path());
                c
            }
        }
    }
}

/// `ledger_read MODE` in `root` (the scan's cwd); stdout. Fails on stderr output.
fn read_as(mut c: Command, root: &Path, mode: &str) -> String {
    let o = c
        .arg("-c")
        .arg(format!("{LEDGER}\nledger_read {mode}"))
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.is_empty(),
        "ledger_read {mode}: {o:?}"
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The cached answer, twice (the second from the summaries the first wrote), checked
/// against the full read.
fn check(sh: &Shell, root: &Path, what: &str) -> String {
    let full = read_as(sh.command(), root, "health-full");
    let cached = read_as(sh.command(), root, "health");
    assert_eq!(cached, full, "{} {what}: cached vs full read", sh.name());
    let again = read_as(sh.command(), root, "health");
    assert_eq!(again, full, "{} {what}: the warm cache", sh.name());
    assert!(full.starts_with("health\t"), "{what}: {full}");
    full
}

struct Root {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Root {
    fn new() -> Root {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("deploy");
        fs::create_dir_all(root.join(".relman/runs")).unwrap();
        Root { _dir: dir, root }
    }

    fn runs(&self) -> PathBuf {
        self.root.join(".relman/runs")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.runs().join(name)
    }

    fn append(&self, name: &str, text: &str) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.file(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// The summary's header: (inode, offset).
    fn sum_header(&self, name: &str) -> (u64, u64) {
        let s = fs::read_to_string(self.file(&format!("{name}.sum")))
            .unwrap_or_else(|e| panic!("{name}.sum: {e}"));
        let h: Vec<&str> = s.lines().next().unwrap().split('\t').collect();
        assert_eq!(h[..2], ["relman-ledger-sum", "2"], "{s}");
        (h[2].parse().unwrap(), h[3].parse().unwrap())
    }

    fn len_ino(&self, name: &str) -> (u64, u64) {
        let m = fs::metadata(self.file(name)).unwrap();
        (m.len(), m.ino())
    }
}

fn start(id: &str, rel: &str, pid: u32, pid_start: u64, at: &str, cmd: &str) -> String {
    format!(
        "{{\"event\":\"start\",\"id\":\"{id}\",\"release\":\"{rel}\",\"pid\":{pid},\"pid_start\":{pid_start},\
         \"user\":\"batch\",\"started_at\":\"{at}\",\"command\":\"{cmd}\",\"trigger\":null}}\n"
    )
}

fn end(id: &str, rel: &str, pid: u32, at: &str, exit: Option<i32>, signal: Option<&str>) -> String {
    let exit = exit.map_or("null".to_string(), |e| e.to_string());
    let signal = signal.map_or("null".to_string(), |s| format!("\"{s}\""));
    format!(
        "{{\"event\":\"end\",\"id\":\"{id}\",\"release\":\"{rel}\",\"pid\":{pid},\"ended_at\":\"{at}\",\
         \"exit_code\":{exit},\"signal\":{signal}}}\n"
    )
}

/// n settled or lost runs of release `r`, numbered from k0: ok, failed (exit 1; every
/// other one ending at the same instant, so the newest failure is decided by ledger
/// order), killed (TERM); every 7th has no end and a pid that is not its process
/// (lost); a line the launcher never writes now and then.
fn runs(r: &str, k0: u32, n: u32) -> String {
    let mut s = String::new();
    for k in k0..k0 + n {
        let id = format!("{}-{}", 1_796_000_000 + k, 1000 + k);
        let pid = 4_190_000 + k;
        let at = format!(
            "2026-12-01T{:02}:{:02}:{:02}.000Z",
            k / 3600 % 24,
            k / 60 % 60,
            k % 60
        );
        let done = format!(
            "2026-12-01T{:02}:{:02}:{:02}.500Z",
            k / 3600 % 24,
            k / 60 % 60,
            k % 60
        );
        s += &start(&id, r, pid, 1, &at, &format!("java -jar app.jar --run={k}"));
        if k % 7 == 6 {
            continue;
        }
        s += &match k % 5 {
            3 if k % 2 == 0 => end(&id, r, pid, "2026-12-02T00:00:00.000Z", Some(1), None),
            3 => end(&id, r, pid, &done, Some(1), None),
            4 => end(&id, r, pid, &done, None, Some("TERM")),
            _ => end(&id, r, pid, &done, Some(0), None),
        };
        if k % 11 == 0 {
            s += "not a record\n";
        }
    }
    s
}

/// A process's start time (/proc/PID/stat field 22), as the launcher records it.
fn pid_start(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(") ").unwrap() + 2..];
    after.split(' ').nth(19).unwrap().parse().unwrap()
}

fn sleeper() -> Kill {
    Kill(
        Command::new("sleep")
            .arg("300")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn counts(out: &str, r: &str) -> Vec<u64> {
    let l = out
        .lines()
        .find(|l| l.starts_with(&format!("health\t{r}\t")))
        .unwrap_or_else(|| panic!("no health of {r}: {out}"));
    l.split('\t').skip(2).map(|x| x.parse().unwrap()).collect()
}

/// Overwrites bytes in place (same inode, same size): what the cache must not see
/// again once summarized (the ledger is append-only).
fn poke(path: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let text = fs::read_to_string(path).unwrap();
    let at = text.find(from).unwrap();
    let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at as u64)).unwrap();
    f.write_all(to.as_bytes()).unwrap();
}

#[test]
fn appends_are_read_from_where_the_summary_left_off() {
    for sh in shells() {
        let x = Root::new();
        let (r1, r2) = (rel(1), rel(2));
        let f1 = format!("{r1}.jsonl");
        x.append(&f1, &runs(&r1, 0, 60));
        x.append(&format!("{r2}.jsonl"), &runs(&r2, 500, 25));
        let first = check(&sh, &x.root, "first scan");
        let (len, ino) = x.len_ino(&f1);
        assert_eq!(
            x.sum_header(&f1),
            (ino, len),
            "{}: the summary covers the file",
            sh.name()
        );

        x.append(&f1, &runs(&r1, 60, 13));
        let second = check(&sh, &x.root, "after appends");
        assert_ne!(first, second);
        assert_eq!(counts(&second, &r1)[0], 73, "{second}");
        let (len2, _) = x.len_ino(&f1);
        assert_eq!(x.sum_header(&f1), (ino, len2));
        // Nothing new: nothing written (a write is a new file, renamed over).
        let sum_ino = fs::metadata(x.file(&format!("{f1}.sum"))).unwrap().ino();
        read_as(sh.command(), &x.root, "health");
        assert_eq!(
            fs::metadata(x.file(&format!("{f1}.sum"))).unwrap().ino(),
            sum_ino,
            "{}",
            sh.name()
        );

        // The summarized bytes are not read again: an ok run turned failed in place
        // (which the launcher never does) changes the full read, not the cached answer.
        poke(&x.file(&f1), "\"exit_code\":0,", "\"exit_code\":9,");
        let full = read_as(sh.command(), &x.root, "health-full");
        let cached = read_as(sh.command(), &x.root, "health");
        assert_ne!(full, second, "the poke shows in a full read");
        assert_eq!(cached, second, "{}: the cache answered", sh.name());

        // A torn last line (no newline yet) counts as in the full read and stays
        // out of the summary until it is whole.
        x.append(
            &f1,
            start(
                "1796999999-7",
                &r1,
                4_199_999,
                1,
                "2026-12-03T00:00:00.000Z",
                "x",
            )
            .trim_end(),
        );
        poke(&x.file(&f1), "\"exit_code\":9,", "\"exit_code\":0,");
        read_as(sh.command(), &x.root, "health");
        assert_eq!(
            x.sum_header(&f1).1,
            len2,
            "{}: the torn line is not summarized",
            sh.name()
        );
        let torn = check(&sh, &x.root, "a torn last line");
        x.append(&f1, "\n");
        let whole = check(&sh, &x.root, "the line made whole");
        assert_eq!(torn, whole);
        assert_eq!(x.sum_header(&f1).1, x.len_ino(&f1).0);
    }
}

#[test]
fn a_rotation_keeps_every_run_and_ends_match_their_start_in_the_old_file() {
    for sh in shells() {
        let x = Root::new();
        let r1 = rel(1);
        let cur = format!("{r1}.jsonl");
        let old = format!("{cur}.old");
        let job = sleeper();
        let pid = job.0.id();
        let id = format!("1796100000-{pid}");
        x.append(&cur, &runs(&r1, 0, 40));
        x.append(
            &cur,
            &start(
                &id,
                &r1,
                pid,
                pid_start(pid),
                "2026-12-01T05:00:00.000Z",
                "sleep 300",
            ),
        );
        let before = check(&sh, &x.root, "before the rotation");
        assert_eq!(counts(&before, &r1)[5], 1, "running: {before}");
        let (_, ino) = x.len_ino(&cur);

        // The launcher's rotation: the current file becomes .old, the next run starts
        // a new file. The .old is summarized by the former current file's summary
        // (same inode): a poke in the summarized bytes stays unseen.
        poke(&x.file(&cur), "\"exit_code\":0,", "\"exit_code\":9,");
        fs::rename(x.file(&cur), x.file(&old)).unwrap();
        let rotated = read_as(sh.command(), &x.root, "health");
        assert_eq!(
            rotated,
            before,
            "{}: .old summarized by the former .jsonl.sum",
            sh.name()
        );
        assert_eq!(x.sum_header(&old).0, ino);
        poke(&x.file(&old), "\"exit_code\":9,", "\"exit_code\":0,");
        check(&sh, &x.root, "after the rotation");

        // The job's end lands in the new file: it matches its start in .old.
        x.append(
            &cur,
            &end(&id, &r1, pid, "2026-12-01T05:10:00.000Z", Some(0), None),
        );
        x.append(&cur, &runs(&r1, 40, 10));
        let after = check(&sh, &x.root, "the end in the new file");
        let (b, a) = (counts(&before, &r1), counts(&after, &r1));
        assert_eq!(a[0], b[0] + 10, "{after}");
        assert_eq!(a[5], 0, "no longer running: {after}");
        assert!(a[1] > b[1], "the run ended ok: {before} -> {after}");

        // Another rotation replaces the .old (a new inode there): read afresh.
        fs::rename(x.file(&cur), x.file(&old)).unwrap();
        let again = check(&sh, &x.root, "a second rotation");
        assert_eq!(counts(&again, &r1)[0], 10, "{again}");
        drop(job);
    }
}

#[test]
fn a_replaced_or_truncated_file_is_read_afresh() {
    for sh in shells() {
        let x = Root::new();
        let r1 = rel(1);
        let f1 = format!("{r1}.jsonl");
        x.append(&f1, &runs(&r1, 0, 30));
        check(&sh, &x.root, "first");
        // Replaced by a longer file (new inode).
        let tmp = x.file("replacement");
        fs::write(&tmp, runs(&r1, 100, 45)).unwrap();
        fs::rename(&tmp, x.file(&f1)).unwrap();
        let replaced = check(&sh, &x.root, "replaced");
        assert_eq!(counts(&replaced, &r1)[0], 45, "{replaced}");
        // Truncated in place (same inode), shorter.
        fs::OpenOptions::new()
            .write(true)
            .open(x.file(&f1))
            .unwrap()
            .set_len(0)
            .unwrap();
        x.append(&f1, &runs(&r1, 200, 5));
        let short = check(&sh, &x.root, "truncated, shorter");
        assert_eq!(counts(&short, &r1)[0], 5, "{short}");
        // Truncated in place and grown past the summarized offset with other runs.
        let (len, ino) = x.len_ino(&f1);
        fs::OpenOptions::new()
            .write(true)
            .open(x.file(&f1))
            .unwrap()
            .set_len(0)
            .unwrap();
        x.append(&f1, &runs(&r1, 300, 20));
        assert_eq!(x.len_ino(&f1).1, ino);
        assert!(x.len_ino(&f1).0 > len);
        let regrown = check(&sh, &x.root, "truncated, regrown");
        assert_eq!(counts(&regrown, &r1)[0], 20, "{regrown}");
        // Truncated in place to its first line (the same first line) and grown past
        // the summarized offset: the byte before the offset is no newline any more.
        let first = runs(&r1, 300, 1);
        let first = &first[..first.find('\n').unwrap() + 1];
        let (len, _) = x.len_ino(&f1);
        fs::OpenOptions::new()
            .write(true)
            .open(x.file(&f1))
            .unwrap()
            .set_len(first.len() as u64)
            .unwrap();
        let long = "y".repeat(len as usize);
        x.append(
            &f1,
            &start(
                "1796400000-1",
                &r1,
                4_199_100,
                1,
                "2026-12-02T00:00:00.000Z",
                &long,
            ),
        );
        let cut = check(&sh, &x.root, "cut to its first line, regrown");
        assert_eq!(counts(&cut, &r1)[0], 2, "{cut}");
        // Removed: no health line, and its summary is not used for anything.
        fs::remove_file(x.file(&f1)).unwrap();
        x.append(&format!("{}.jsonl", rel(2)), &runs(&rel(2), 0, 3));
        let gone = check(&sh, &x.root, "removed");
        assert!(!gone.contains(&r1), "{gone}");
    }
}

/// Summary text with each `r` line's count fields (runs ok failed killed) moved by d.
fn edit_r(s: &str, d: [u64; 4]) -> String {
    s.lines()
        .map(|l| {
            let mut f: Vec<String> = l.split('\t').map(str::to_string).collect();
            if f[0] == "r" {
                for (i, d) in d.iter().enumerate() {
                    f[3 + i] = (f[3 + i].parse::<u64>().unwrap() + d).to_string();
                }
            }
            f.join("\t") + "\n"
        })
        .collect()
}

/// A summary that lies consistently about release 1 (100 more ok runs): taken only
/// when it is ours, not writable by others, and not a symlink.
fn lying_summary(x: &Root, f1: &str) -> String {
    edit_r(
        &fs::read_to_string(x.file(&format!("{f1}.sum"))).unwrap(),
        [100, 100, 0, 0],
    )
}

#[test]
fn a_corrupt_foreign_stale_or_planted_summary_is_ignored() {
    let (deploy_uid, deploy_gid, _) = support::user_ids(support::DEPLOY);
    for sh in shells() {
        let x = Root::new();
        let r1 = rel(1);
        let f1 = format!("{r1}.jsonl");
        let sum = x.file(&format!("{f1}.sum"));
        x.append(&f1, &runs(&r1, 0, 40));
        let truth = check(&sh, &x.root, "first");
        let good = fs::read_to_string(&sum).unwrap();
        let lie = lying_summary(&x, &f1);
        // The lie is taken when it is ours and whole: the cache is used at all.
        fs::write(&sum, &lie).unwrap();
        let lied = read_as(sh.command(), &x.root, "health");
        assert_eq!(
            counts(&lied, &r1)[0],
            counts(&truth, &r1)[0] + 100,
            "{lied}"
        );

        let header_end = good.find('\n').unwrap();
        let (ino, off) = x.sum_header(&f1);
        let mut cases: Vec<(&str, String)> = vec![
            ("garbage", "garbage\n\x00\x01".to_string()),
            ("empty", String::new()),
            (
                "no end line",
                lie.lines()
                    .filter(|l| !l.starts_with("end"))
                    .map(|l| format!("{l}\n"))
                    .collect(),
            ),
            ("a wrong line count", lie.replace("\nend\t", "\nend\t9")),
            ("counts that do not add up", edit_r(&lie, [0, 1, 0, 0])),
            (
                "another inode",
                lie.replacen(&format!("\t{ino}\t"), &format!("\t{}\t", ino + 1), 1),
            ),
            (
                "past the end of the file",
                lie.replacen(&format!("\t{off}\t"), &format!("\t{}\t", off + 10), 1),
            ),
            (
                "another first line",
                lie.replacen("/1796000000-1000", "/1796000000-1001", 1),
            ),
            (
                "a newer version",
                lie.replacen("relman-ledger-sum\t2\t", "relman-ledger-sum\t3\t", 1),
            ),
            (
                "lines after the end",
                format!("{lie}r\t{r1}\t0\t0\t0\t0\t0\n"),
            ),
        ];
        cases.push(("a cut header", lie[..header_end - 3].to_string()));
        for (what, text) in &cases {
            fs::write(&sum, text).unwrap();
            check(&sh, &x.root, what);
        }
        // Planted: owned by another user (runs/ is 1777), writable by others, a symlink.
        fs::write(&sum, &lie).unwrap();
        std::os::unix::fs::chown(&sum, Some(deploy_uid), Some(deploy_gid)).unwrap();
        check(&sh, &x.root, "owned by another user");
        fs::remove_file(&sum).unwrap();
        fs::write(&sum, &lie).unwrap();
        fs::set_permissions(&sum, fs::Permissions::from_mode(0o666)).unwrap();
        check(&sh, &x.root, "writable by others");
        fs::remove_file(&sum).unwrap();
        let elsewhere = x.root.join("elsewhere.sum");
        fs::write(&elsewhere, &lie).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &sum).unwrap();
        check(&sh, &x.root, "a symlink");
        assert_eq!(
            fs::read_to_string(&elsewhere).unwrap(),
            lie,
            "the symlink's target untouched"
        );
        // A file whose name is no release name: read whole, never summarized.
        fs::remove_file(&sum).unwrap();
        x.append("we ird;$(x).jsonl", &runs(&r1, 900, 4));
        let odd = check(&sh, &x.root, "an odd file name");
        assert_eq!(counts(&odd, &r1)[0], 44, "{odd}");
        let sums: Vec<String> = fs::read_dir(x.runs())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".sum"))
            .collect();
        assert_eq!(
            sums,
            [format!("{f1}.sum")],
            "{}: no temporary left, no odd summary",
            sh.name()
        );
    }
}

#[test]
fn open_runs_are_looked_up_in_proc_on_every_scan() {
    for sh in shells() {
        let x = Root::new();
        let r1 = rel(1);
        let f1 = format!("{r1}.jsonl");
        x.append(&f1, &runs(&r1, 0, 20));
        let mut lost_job = sleeper();
        let ending = sleeper();
        let (lp, ep) = (lost_job.0.id(), ending.0.id());
        let (lid, eid) = (format!("1796200000-{lp}"), format!("1796200001-{ep}"));
        x.append(
            &f1,
            &start(
                &lid,
                &r1,
                lp,
                pid_start(lp),
                "2026-12-02T06:00:00.000Z",
                "sleep 300",
            ),
        );
        x.append(
            &f1,
            &start(
                &eid,
                &r1,
                ep,
                pid_start(ep),
                "2026-12-02T06:00:01.000Z",
                "sleep 300",
            ),
        );
        // A pid that lives but is another process (pids are reused): lost from the start.
        let reused = format!("1796200002-{lp}");
        x.append(
            &f1,
            &start(
                &reused,
                &r1,
                lp,
                pid_start(lp) + 1,
                "2026-12-01T06:00:00.000Z",
                "old",
            ),
        );
        let both = check(&sh, &x.root, "two running");
        let c = counts(&both, &r1);
        assert_eq!(c[5], 2, "{both}");
        // One ends (its end record is appended), one is lost (its launcher died: no
        // record, the process is gone) with no byte added to the ledger.
        x.append(
            &f1,
            &end(&eid, &r1, ep, "2026-12-02T06:05:00.000Z", Some(0), None),
        );
        drop(ending);
        let after = check(&sh, &x.root, "one ended");
        assert_eq!(counts(&after, &r1)[5], 1, "{after}");
        assert_eq!(counts(&after, &r1)[1], c[1] + 1, "{after}");
        let len = x.len_ino(&f1).0;
        lost_job.0.kill().unwrap();
        lost_job.0.wait().unwrap();
        let lost = check(&sh, &x.root, "one lost");
        assert_eq!(x.len_ino(&f1).0, len, "nothing appended");
        assert_eq!(x.sum_header(&f1).1, len);
        let l = counts(&lost, &r1);
        assert_eq!((l[4], l[5]), (c[4] + 1, 0), "{lost}");
        assert!(
            lost.contains(&format!(
                "lastfail\t{r1}\t{lid}\t2026-12-02T06:00:00.000Z\t-\t-\tsleep 300\n"
            )),
            "the lost run is the newest failure: {lost}"
        );
    }
}

#[test]
fn summaries_that_cannot_be_written_give_the_same_answer() {
    // The deploy user scans a root whose runs/ it may read but not write (and whose
    // summaries, root's, it must not trust).
    let x = Root::new();
    for d in [x._dir.path(), &x.root, &x.root.join(".relman"), &x.runs()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let r1 = rel(1);
    let f1 = format!("{r1}.jsonl");
    x.append(&f1, &runs(&r1, 0, 30));
    fs::set_permissions(x.file(&f1), fs::Permissions::from_mode(0o644)).unwrap();
    let as_deploy =
        |mode: &str| read_as(support::command_as(support::DEPLOY, "dash"), &x.root, mode);
    let full = as_deploy("health-full");
    assert_eq!(as_deploy("health"), full);
    assert!(!x.file(&format!("{f1}.sum")).exists());
    // root's summary, lying: not the deploy user's, so not used.
    let root_sh = &shells()[0];
    check(root_sh, &x.root, "root's scan");
    fs::write(x.file(&format!("{f1}.sum")), lying_summary(&x, &f1)).unwrap();
    assert_eq!(as_deploy("health"), full);
    let left: Vec<_> = fs::read_dir(x.runs()).unwrap().collect();
    assert_eq!(left.len(), 2, "nothing else written: {left:?}");
}

#[test]
fn the_scan_reports_health_through_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    let r1 = rel(1);
    fs::create_dir_all(root.join(&r1)).unwrap();
    fs::write(root.join(&r1).join("app.jar"), "x").unwrap();
    fs::create_dir_all(root.join(".relman/runs")).unwrap();
    fs::write(
        root.join(".relman/runs").join(format!("{r1}.jsonl")),
        runs(&r1, 0, 35),
    )
    .unwrap();
    let h = HostConfig::local("local", root.to_str().unwrap());
    let t = LocalTransport::new("local");
    let a = ops::scan(&t, &h)
        .unwrap()
        .release(&r1)
        .unwrap()
        .health
        .clone();
    assert!(
        root.join(".relman/runs")
            .join(format!("{r1}.jsonl.sum"))
            .exists()
    );
    let b = ops::scan(&t, &h)
        .unwrap()
        .release(&r1)
        .unwrap()
        .health
        .clone();
    assert_eq!(a, b);
    assert_eq!(a.runs, 35, "{a:?}");
    assert_eq!(a.runs, a.ok + a.failed + a.killed + a.lost + a.running);
}

#[test]
fn of_failures_at_the_same_instant_the_last_in_ledger_order_is_the_newest() {
    let t = "2026-12-02T03:00:00Z";
    for sh in shells() {
        let x = Root::new();
        let r1 = rel(1);
        let (cur, old) = (format!("{r1}.jsonl"), format!("{r1}.jsonl.old"));
        // .old: L (lost, started at t), then S (failed, ended at t): S is the newest.
        x.append(&old, &start("1796300000-1", &r1, 4_199_001, 1, t, "lost"));
        x.append(
            &old,
            &start(
                "1796300001-2",
                &r1,
                4_199_002,
                1,
                "2026-12-02T02:00:00Z",
                "settled",
            ),
        );
        x.append(&old, &end("1796300001-2", &r1, 4_199_002, t, Some(1), None));
        let one = check(&sh, &x.root, "a lost and a failed run at the same instant");
        assert!(one.contains("\t1796300001-2\t"), "{one}");
        // The current file: A starts, B starts, B fails at t, then A fails at t:
        // B started later, so B is the newest, whatever order they ended in.
        x.append(
            &cur,
            &start(
                "1796300002-3",
                &r1,
                4_199_003,
                1,
                "2026-12-02T02:30:00Z",
                "a",
            ),
        );
        x.append(
            &cur,
            &start(
                "1796300003-4",
                &r1,
                4_199_004,
                1,
                "2026-12-02T02:31:00Z",
                "b",
            ),
        );
        x.append(&cur, &end("1796300003-4", &r1, 4_199_004, t, Some(1), None));
        let two = check(&sh, &x.root, "B failed");
        assert!(two.contains("\t1796300003-4\t"), "{two}");
        x.append(&cur, &end("1796300002-3", &r1, 4_199_003, t, Some(2), None));
        let three = check(&sh, &x.root, "A failed at the same instant");
        assert!(three.contains("\t1796300003-4\t"), "{three}");
        // Read in one go (no summaries) it is the same.
        for f in [&cur, &old] {
            fs::remove_file(x.file(&format!("{f}.sum"))).unwrap();
        }
        assert_eq!(check(&sh, &x.root, "afresh"), three);
    }
}

/// Between a job's end (launch reaped it) and its end record, the job's pid is gone
/// while launch lives: the run is still running, not lost (a canary poll or the
/// probation count would otherwise see a failure that never happened). Lost once the
/// launcher is gone too.
#[test]
fn a_run_whose_launcher_lives_is_running_even_when_its_job_is_gone() {
    for sh in shells() {
        let x = Root::new();
        let r1 = rel(1);
        let f1 = format!("{r1}.jsonl");
        let mut launcher = sleeper();
        let mut job = sleeper();
        let (lp, jp) = (launcher.0.id(), job.0.id());
        let (lps, jps) = (pid_start(lp), pid_start(jp));
        job.0.kill().unwrap();
        job.0.wait().unwrap();
        let id = format!("1796300000-{jp}");
        let line = start(&id, &r1, jp, jps, "2026-12-02T06:00:00.000Z", "true").replacen(
            ",\"user\":",
            &format!(",\"launcher_pid\":{lp},\"launcher_start\":{lps},\"user\":"),
            1,
        );
        x.append(&f1, &line);
        let out = check(&sh, &x.root, "the launcher lives");
        assert_eq!(counts(&out, &r1), [1, 0, 0, 0, 0, 1], "{out}");
        let runs = read_as(sh.command(), &x.root, "runs");
        assert!(runs.contains("\trunning\t"), "{runs}");
        launcher.0.kill().unwrap();
        launcher.0.wait().unwrap();
        let out = check(&sh, &x.root, "both gone");
        assert_eq!(counts(&out, &r1), [1, 0, 0, 0, 1, 0], "{out}");
        let runs = read_as(sh.command(), &x.root, "runs");
        assert!(runs.contains("\tlost\t"), "{runs}");
    }
}
