//! History lines (issue 13 item 1): built one way in Rust (`ops::history::HistoryLine`)
//! and completed one way on the host (`hist_append` in lib.sh).
//!
//! - `hist_append` itself, run by dash, busybox sh and bash on lines `HistoryLine`
//!   built: whatever the value the host fills in, the result is one valid JSON line
//!   that the history parser reads back as what was meant.
//! - switch, pin, unpin, resolve --pin and prune through the `local` transport (the
//!   scripts SSH hosts run): every line they write has the six keys of SPEC §1, in
//!   order, with the field the host filled in right.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use relman::config::HostConfig;
use relman::model::{Action, HistoryEntry};
use relman::ops;
use relman::ops::history::{HistoryLine, HostField};
use relman::remote::local::LocalTransport;
use relman::remote::quote::quote;

const SHELLS: [&[&str]; 3] = [&["dash"], &["busybox", "sh"], &["bash", "--posix"]];

/// Runs `calls` (shell lines calling hist_append) after lib.sh in `shell`, in a
/// fresh directory with `.relman/`; returns (exit status, history.jsonl).
fn run_lib(shell: &[&str], calls: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".relman")).unwrap();
    // lib.sh starts with `cd` (to HOME): point HOME at the directory.
    let script = format!(
        "{{\nset -u\nPREFIX=batch_\n{}\n{calls}\n}}\n",
        relman::remote::script::LIB
    );
    let mut c = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-s")
        .env("HOME", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shell:?}: {e} (install dash and busybox)"));
    c.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = c.wait_with_output().unwrap();
    let hist = fs::read_to_string(dir.path().join(".relman/history.jsonl")).unwrap_or_default();
    (out.status.code(), hist)
}

fn parse(line: &str) -> HistoryEntry {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a history line: {line:?}: {e}"))
}

/// The keys of a JSON object line, in the order written.
fn keys(line: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let serde_json::Value::Object(m) = v else {
        panic!("not an object: {line}")
    };
    let mut ks: Vec<(usize, String)> = m
        .keys()
        .map(|k| (line.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    ks.sort();
    ks.into_iter().map(|(_, k)| k).collect()
}

const SPEC_KEYS: [&str; 6] = ["at", "by", "action", "from", "to", "note"];

fn base() -> HistoryLine {
    HistoryLine::at("2026-12-02T01:00:00Z", "ops@desk", Action::Prune)
}

#[test]
fn hist_append_escapes_what_it_fills_in_under_every_shell() {
    let values = [
        "batch_20261126090000",
        "plain words; deleted a b c",
        "a \"quoted\" word",
        "back\\slash\\",
        "two\nlines",
        "a\ttab and a\rreturn",
        "bell \u{7} escape \u{1b} unit \u{1f} del \u{7f}",
        "é ü 日本",
        "\"from\":null,\"note\":null",
        "$(echo no) `echo no` ${HOME}",
    ];
    for shell in SHELLS {
        for field in [HostField::From, HostField::To, HostField::Note] {
            let line = base().on_host(field);
            let calls: String = values
                .iter()
                .map(|v| {
                    format!(
                        "hist_append {} {} {} || exit 9\n",
                        quote(&line.to_json()).unwrap(),
                        field.key(),
                        quote(v).unwrap()
                    )
                })
                .collect();
            let (status, hist) = run_lib(shell, &calls);
            assert_eq!(status, Some(0), "{shell:?} {field:?}: {hist}");
            let lines: Vec<&str> = hist.lines().collect();
            assert_eq!(lines.len(), values.len(), "{shell:?} {field:?}: {hist}");
            for (l, v) in lines.iter().zip(values) {
                let e = parse(l);
                let got = match field {
                    HostField::From => &e.from,
                    HostField::To => &e.to,
                    HostField::Note => &e.note,
                };
                assert_eq!(got.as_deref(), Some(v), "{shell:?} {field:?}: {l}");
                let mut want = line.entry().clone();
                match field {
                    HostField::From => want.from = Some(v.to_string()),
                    HostField::To => want.to = Some(v.to_string()),
                    HostField::Note => want.note = Some(v.to_string()),
                }
                assert_eq!(e, want, "{shell:?}: only {field:?} is the host's: {l}");
                assert_eq!(keys(l), SPEC_KEYS, "{shell:?}: {l}");
            }
        }
    }
}

#[test]
fn hist_append_keeps_null_for_an_empty_value_and_appends_a_complete_line_as_is() {
    let open = base()
        .to(Some("batch_20261126090000"))
        .on_host(HostField::From);
    let done = base().note(Some("a \"done\" line\n"));
    for shell in SHELLS {
        let calls = format!(
            "hist_append {} from '' || exit 9\nhist_append {} || exit 9\n",
            quote(&open.to_json()).unwrap(),
            quote(&done.to_json()).unwrap()
        );
        let (status, hist) = run_lib(shell, &calls);
        assert_eq!(status, Some(0), "{shell:?}: {hist}");
        let lines: Vec<&str> = hist.lines().collect();
        assert_eq!(lines.len(), 2, "{shell:?}: {hist}");
        assert_eq!(&parse(lines[0]), open.entry(), "{shell:?}");
        assert_eq!(lines[1], done.to_json(), "{shell:?}: byte for byte");
    }
}

#[test]
fn hist_append_refuses_a_line_without_the_null_it_should_fill() {
    // relman set `from` itself: the host has nothing to fill, so nothing is written.
    let line = base().from(Some("batch_20261126090000"));
    for shell in SHELLS {
        let calls = format!(
            "if hist_append {} from batch_20261126100000; then exit 0; else exit 7; fi\n",
            quote(&line.to_json()).unwrap()
        );
        let (status, hist) = run_lib(shell, &calls);
        assert_eq!(status, Some(7), "{shell:?}");
        assert_eq!(hist, "", "{shell:?}: nothing appended");
    }
}

const A: &str = "batch_20261126090000";
const B: &str = "batch_20261126100000";
const C: &str = "batch_20261126110000";
/// Oldest and never live: what the prune below deletes.
const OLD: &str = "batch_20261126080000";

fn history(root: &Path) -> Vec<String> {
    fs::read_to_string(root.join(".relman/history.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_operation_writes_spec_lines_with_the_host_field_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    for r in [OLD, A, B, C] {
        fs::create_dir_all(root.join(r)).unwrap();
        fs::write(root.join(r).join("app.jar"), r).unwrap();
    }
    let h = HostConfig::local("local", root.to_str().unwrap());
    let t = LocalTransport::new("local");

    ops::switch(&t, &h, A, None).unwrap();
    ops::switch(&t, &h, B, None).unwrap();
    let pin = ops::pin::pin(&t, &h, A, Duration::from_secs(3600), "say \"hi\"\\").unwrap();
    assert_eq!(ops::pin::unpin(&t, &h, A, Some(&pin.id)).unwrap(), 1);
    let res = ops::pin::resolve_full(&t, &h, Some((Duration::from_secs(60), "ci"))).unwrap();
    assert_eq!(res.release, B);
    ops::pin::unpin(&t, &h, B, None).unwrap();
    ops::prune::prune(&t, &h, 1, false).unwrap();

    let lines = history(&root);
    let entries: Vec<HistoryEntry> = lines.iter().map(|l| parse(l)).collect();
    for l in &lines {
        assert_eq!(keys(l), SPEC_KEYS, "{l}");
    }
    let summary: Vec<(Action, Option<&str>, Option<&str>)> = entries
        .iter()
        .map(|e| (e.action, e.from.as_deref(), e.to.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (Action::Switch, None, Some(A)),
            (Action::Switch, Some(A), Some(B)),
            (Action::Pin, None, Some(A)),
            (Action::Unpin, None, Some(A)),
            (Action::Pin, None, Some(B)),
            (Action::Unpin, None, Some(B)),
            (Action::Prune, None, None),
        ],
        "{lines:#?}"
    );
    let notes: Vec<Option<&str>> = entries.iter().map(|e| e.note.as_deref()).collect();
    assert_eq!(notes[0], None);
    assert_eq!(notes[2], Some("for 1h: say \"hi\"\\"));
    assert_eq!(
        notes[3],
        Some(format!("removed 1 pin(s) (id {})", pin.id).as_str())
    );
    assert_eq!(notes[4], Some("resolve --pin for 1m: ci"));
    assert_eq!(notes[5], Some("removed 1 pin(s)"));
    // keep = 1: C (the newest), live B and previous A stay; the note is the host's
    // account of what it deleted.
    assert_eq!(notes[6], Some(format!("deleted {OLD}").as_str()));
    for e in &entries {
        assert_eq!(e.by, ops::operator());
    }
}
