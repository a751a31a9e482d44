//! Scenarios that do not depend on the transport, written once and run over both:
//! `local` from `tests/offline` (`link_local`, `prune_local`) and SSH from
//! `tests/fleet` (`cli_link`, `prune_fleet`). A scenario takes what it runs on (a
//! transport and its host, or a closure that performs the operation) and the
//! deploy root to look at: the fleet's hosts share this machine, so both read the
//! root directly.
//!
//! A new scenario that should hold whatever the transport goes here, with one
//! caller in each binary.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use relman::config::HostConfig;
use relman::ops;
use relman::remote::Transport;

use super::{Kill, prune_table, root_entries, wait_until};

/// `batch_202611260000NN`: release `i` of the prune scenarios.
pub fn r(i: u32) -> String {
    format!("batch_202611260000{i:02}")
}

/// What the link of the deploy root at `root` names.
fn link(root: &Path) -> String {
    fs::read_link(root.join("batch"))
        .unwrap()
        .display()
        .to_string()
}

/// Every entry of `dir`, sorted (`.relman` included).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// How a scenario switches the host: `switch(target, expect)`, `Err((exit code,
/// message))` when refused. `local` calls `ops::switch` (the message: the error's
/// text); SSH runs `relman switch` (the message: stderr without its final newline).
pub type Switch<'a> = &'a dyn Fn(&str, Option<&str>) -> Result<(), (i32, String)>;

/// Release arguments `switch` must refuse with exit 5 whatever the transport: not
/// release names (`logs`, `..`, `/etc`, shell syntax, spaces, newlines, quotes) and
/// a well-formed name that is not there. `pwned` is what an injection would create.
pub const HOSTILE_TARGETS: &[&str] = &[
    "logs",
    "..",
    "/etc",
    "batch_20261126100000;touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "a b",
    "batch_20261126100000\nx",
    "batch_20261126100000\n",
    "'",
    "'\"",
    "batch_20991126100000",
];

/// A host with releases `a`, `b`, `c` and `logs` whose link names `b`: a switch to
/// `c` expecting `a` is a conflict (exit 5, "expected"), and every hostile target is
/// refused with exit 5 in one line. The link stays at `b`, nothing appears in the
/// root or in any of `watched` (e.g. the deploy user's home) and no `pwned` file
/// anywhere among them. The caller then switches for real.
pub fn hostile_switch_targets_change_nothing(
    switch: Switch<'_>,
    root: &Path,
    watched: &[&Path],
    [a, b, c]: [&str; 3],
) {
    let e = switch(c, Some(a)).expect_err("a switch expecting the wrong release");
    assert_eq!(e.0, 5, "{}", e.1);
    assert!(e.1.contains("expected"), "{}", e.1);
    assert_eq!(link(root), b);

    let before = listing(root);
    let watched_before: Vec<Vec<String>> = watched.iter().map(|d| listing(d)).collect();
    for bad in HOSTILE_TARGETS {
        let (code, msg) = switch(bad, None).expect_err(bad);
        assert_eq!(code, 5, "{bad:?}: {msg}");
        assert!(
            !msg.trim().is_empty() && !msg.contains('\n'),
            "{bad:?}: one line: {msg:?}"
        );
        assert_eq!(link(root), b, "{bad:?}");
    }
    assert_eq!(listing(root), before, "nothing created in the root");
    for (d, was) in watched.iter().zip(&watched_before) {
        assert_eq!(&listing(d), was, "nothing created in {}", d.display());
        assert!(!d.join("pwned").exists(), "{}", d.display());
    }
    assert!(!root.join("pwned").exists());
}

/// A job (`sleep 60`) started in directory `dir`, killed with its process group
/// when dropped.
fn job_in(dir: &Path) -> Kill {
    use std::os::unix::process::CommandExt as _;
    Kill(
        Command::new("sleep")
            .arg("60")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap(),
    )
}

fn history(root: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(root.join(".relman/history.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn rows(v: &[(u32, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(i, s)| (r(*i), s.to_string())).collect()
}

/// SPEC's prune scenario on host `h` whose root holds r(1)..=r(8), each switched to
/// in turn: rollbacks 8→7→6 leave r6 live and r7, r8 bad; a job in r(1), a pin on
/// r(2), foreign `logs` and `tools`, a release-named symlink r(9) pointing away. The
/// dry run and the prune give the same table with every reason, delete r7, r8, r3,
/// follow no symlink, write one history line, and a second prune does nothing.
pub fn prune_the_brief_scenario(t: &dyn Transport, h: &HostConfig) {
    let root = Path::new(&h.root);
    ops::rollback(t, h, None).unwrap();
    ops::rollback(t, h, None).unwrap();
    // A job in the oldest, a pin on the second oldest, foreign things around.
    let job = job_in(&root.join(r(1)));
    let pin = ops::pin::pin(t, h, &r(2), Duration::from_secs(3600), "nightly").unwrap();
    fs::create_dir_all(root.join("logs")).unwrap();
    fs::write(root.join("logs/batch.log"), "x").unwrap();
    fs::create_dir_all(root.join("tools")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("precious"), "x").unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), root.join(r(9))).unwrap();
    let pid = job.0.id();
    assert!(
        wait_until(Duration::from_secs(20), || {
            ops::scan(t, h)
                .unwrap()
                .release(&r(1))
                .is_some_and(|x| !x.jobs.is_empty())
        }),
        "timed out waiting for the job to be visible"
    );

    let before = root_entries(root);
    let hist_before = history(root).len();
    let dry = ops::prune::prune(t, h, 3, true).unwrap();
    assert!(dry.dry_run);
    assert_eq!(
        dry.outcomes,
        [
            (r(7), ops::prune::Outcome::WouldDelete),
            (r(8), ops::prune::Outcome::WouldDelete),
            (r(3), ops::prune::Outcome::WouldDelete)
        ],
        "the host's own checks agree"
    );
    // keep 3 counts the live r6 and the previous r5 (SPEC §4): r4 is the third.
    let want = rows(&[
        (8, "delete: bad (rolled back from)"),
        (7, "delete: bad (rolled back from)"),
        (6, "keep: live"),
        (5, "keep: previous (rollback target)"),
        (4, "keep: among newest 3"),
        (3, "delete: old"),
        (
            2,
            &format!(
                "keep: pinned until {} by {} (nightly)",
                pin.expires_at, pin.by
            ),
        ),
        (1, &format!("keep: running job (pid {pid})")),
    ]);
    assert_eq!(prune_table(&dry), want);
    assert_eq!(root_entries(root), before, "a dry run changes nothing");
    assert_eq!(history(root).len(), hist_before);

    let rep = ops::prune::prune(t, h, 3, false).unwrap();
    assert_eq!(
        prune_table(&rep),
        want,
        "the same plan, made under the lock"
    );
    assert_eq!(
        rep.deleted(),
        [r(7), r(8), r(3)],
        "bad ones, oldest first, then old"
    );
    assert!(!rep.failed());
    let mut left = vec![
        "batch".to_string(),
        r(1),
        r(2),
        r(4),
        r(5),
        r(6),
        r(9),
        "logs".into(),
        "tools".into(),
    ];
    left.sort();
    assert_eq!(root_entries(root), left);
    assert!(root.join("logs/batch.log").exists());
    assert!(
        elsewhere.path().join("precious").exists(),
        "symlink not followed"
    );
    assert_eq!(fs::read_link(root.join("batch")).unwrap(), Path::new(&r(6)));
    let last = history(root).pop().unwrap();
    assert_eq!(last["action"], "prune");
    assert_eq!(last["from"], serde_json::Value::Null);
    assert_eq!(
        last["note"],
        format!("deleted {}, {}, {}", r(7), r(8), r(3)),
        "{last}"
    );
    // The launcher was installed on the way.
    let l = root.join(".relman/bin/launch");
    assert_eq!(
        fs::metadata(&l).unwrap().permissions().mode() & 0o777,
        0o755
    );

    // JSON: every release with verdict, reasons and result.
    let v = serde_json::to_value(&rep).unwrap();
    assert_eq!(v["keep"], 3);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["deleted"], serde_json::json!([r(7), r(8), r(3)]));
    assert_eq!(v["releases"][0]["name"], r(8));
    assert_eq!(v["releases"][0]["verdict"], "delete");
    assert_eq!(v["releases"][0]["result"], "deleted");
    assert_eq!(v["releases"][2]["reasons"], serde_json::json!(["live"]));
    assert_eq!(v["releases"][2]["result"], serde_json::Value::Null);

    // Nothing left to do: no new history line.
    let n = history(root).len();
    let again = ops::prune::prune(t, h, 3, false).unwrap();
    assert!(again.deleted().is_empty());
    assert_eq!(history(root).len(), n);
    drop(job);
}

/// On host `h` whose root holds r(1)..=r(5), each switched to in turn: the oldest
/// release just written to and the two newest looking ancient change nothing of
/// what `keep 1` keeps (names order releases, not mtimes).
pub fn prune_the_mtime_trap(t: &dyn Transport, h: &HostConfig) {
    let root = Path::new(&h.root);
    fs::write(root.join(r(1)).join("job.log"), "today").unwrap();
    let old = Command::new("touch")
        .args(["-h", "-d", "2001-01-01"])
        .arg(root.join(r(5)))
        .arg(root.join(r(4)))
        .status()
        .unwrap();
    assert!(old.success());
    let rep = ops::prune::prune(t, h, 1, false).unwrap();
    assert_eq!(
        prune_table(&rep),
        rows(&[
            (5, "keep: live"),
            (4, "keep: previous (rollback target)"),
            (3, "delete: old"),
            (2, "delete: old"),
            (1, "delete: old"),
        ])
    );
    assert_eq!(rep.deleted(), [r(1), r(2), r(3)]);
    assert_eq!(root_entries(root), ["batch".to_string(), r(4), r(5)]);
}

/// A script the lock holder runs in its answer (`lock::acquire_then`, the scan a
/// change makes under its lock): it runs once the lock is held, from the user's
/// home; its whole stdout arrives (more than a pipe or an SSH window holds at once,
/// lines with tabs), then its status and last line of stderr; the lock stays held
/// after it, and a busy lock runs nothing.
pub fn a_script_in_the_locks_answer_runs_under_it(t: &dyn Transport, h: &HostConfig) {
    use relman::model::Action;
    use relman::ops::lock::{acquire, acquire_then};
    use relman::remote::script::Script;
    // `flock -n` on a descriptor of its own conflicts with the holder's.
    let script = Script::new(
        "cd -- \"$ROOT\" || exit 9\n\
         if flock -n .relman/lock true; then echo free; else echo held; fi\n\
         i=0; while [ $i -lt 3000 ]; do printf 'line\\t%s\\t%s\\n' $i \"$ROOT\"; i=$((i + 1)); done\n\
         echo first >&2; echo 'the last one' >&2\n\
         exit 3\n",
    )
    .param("ROOT", h.root.clone());
    let (lock, out) = acquire_then(t, h, Action::Deploy, &script).expect("locked");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("held"), "the script ran under the lock");
    let rest: Vec<&str> = lines.collect();
    assert_eq!(rest.len(), 3000, "every line arrived");
    assert_eq!(rest[2999], format!("line\t2999\t{}", h.root));
    assert_eq!(out.status, Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "the last one");
    assert!(
        ops::scan(t, h).expect("scan").lock.is_some(),
        "still held after the script"
    );
    let busy = acquire_then(t, h, Action::Switch, &script)
        .err()
        .expect("busy");
    assert_eq!(busy.exit_code(), 4, "{busy}");
    drop(lock);
    let (lock, out) = acquire_then(t, h, Action::Switch, &Script::new("pwd -P")).unwrap();
    assert_eq!(out.status, Some(0));
    let home = String::from_utf8(out.stdout).unwrap();
    assert!(
        !home.trim().is_empty() && !home.trim().ends_with(h.root.trim_end_matches('/')),
        "from the home, not the root: {home}"
    );
    drop(lock);
    assert!(acquire(t, h, Action::Deploy).is_ok(), "released");
}
