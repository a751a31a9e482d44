//! Running relman against a test fleet and reading what it said: the helpers the
//! guard, canary, probation and health suites share (exit code, stderr, JSON,
//! history, a link polled while a command runs).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::Fleet;

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as JSON; panics with stdout and stderr when it is not.
pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            err(o)
        )
    })
}

/// relman with the fleet's config, stdin closed.
pub fn relman(f: &Fleet, args: &[&str]) -> Output {
    f.relman().args(args).stdin(Stdio::null()).output().unwrap()
}

/// relman that must exit 0; its JSON.
pub fn relman_json(f: &Fleet, args: &[&str]) -> Value {
    let o = relman(f, args);
    assert_eq!(code(&o), 0, "{args:?}: {}", err(&o));
    json(&o)
}

/// What the root's link `batch` names ("" when there is none).
pub fn link(root: &Path) -> String {
    fs::read_link(root.join("batch"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Host `i`'s history, oldest first.
pub fn history(f: &Fleet, i: usize) -> Vec<Value> {
    let text = fs::read_to_string(f.root(i).join(".relman/history.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Host `i` as `list --json` shows it.
pub fn list_host(f: &Fleet, i: usize) -> Value {
    let o = relman(f, &["--host", f.name(i), "list", "--json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    json(&o)["hosts"][0].clone()
}

/// Runs `args` while a thread polls the links of `watched` (host index, the release
/// it must name at every instant); the output and every other value seen.
pub fn polled(f: &Fleet, args: &[&str], watched: &[(usize, String)]) -> (Output, Vec<String>) {
    let roots: Vec<(PathBuf, String)> = watched
        .iter()
        .map(|(i, w)| (f.root(*i).to_path_buf(), w.clone()))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let poller = {
        let (done, seen) = (done.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut polls = 0u64;
            while !done.load(Ordering::Relaxed) {
                for (r, w) in &roots {
                    let l = link(r);
                    if &l != w {
                        seen.lock().unwrap().push(format!("{}: {l}", r.display()));
                    }
                }
                polls += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            polls
        })
    };
    let o = relman(f, args);
    done.store(true, Ordering::Relaxed);
    let polls = poller.join().unwrap();
    assert!(polls > 1, "the links were polled while the command ran");
    let seen = seen.lock().unwrap().clone();
    (o, seen)
}
