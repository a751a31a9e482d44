//! `relman prune / pin / unpin / resolve` through the real binary against sshd hosts
//! (the policy itself is tested in plan/ and in tests/prune_*.rs).

use crate::support;

use std::fs;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::Fleet;

fn r(i: u32) -> String {
    format!("batch_2026112610{i:04}")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Five releases r1..r5, live r5, and logs/ (foreign).
fn layout(f: &Fleet, i: usize) {
    for n in 1..=5 {
        f.sh(
            i,
            &format!(
                "mkdir -p \"$ROOT/{}\" && echo {n} > \"$ROOT/{}/app.jar\"",
                r(n),
                r(n)
            ),
        );
    }
    f.sh(
        i,
        &format!("mkdir -p \"$ROOT/logs\" && ln -s {} \"$ROOT/batch\"", r(5)),
    );
}

#[test]
fn dry_run_shows_the_plan_then_prune_does_it() {
    let f = Fleet::start(1);
    layout(&f, 0);
    let out = f
        .relman()
        .args(["prune", "--keep", "1", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rels = v["hosts"][0]["releases"].as_array().unwrap();
    let verdicts: Vec<(String, String)> = rels
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (r(5), "keep".into()),
            (r(4), "keep".into()),
            (r(3), "delete".into()),
            (r(2), "delete".into()),
            (r(1), "delete".into())
        ],
        "live (the newest 1: keep counts it), previous, then old"
    );
    assert!(
        rels[0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "live")
    );
    for n in 1..=5 {
        assert!(f.root(0).join(r(n)).exists(), "a dry run deletes nothing");
    }

    // Pin r2: prune keeps it; prune needs a host selection.
    let out = f.relman().args(["prune", "--keep", "1"]).output().unwrap();
    assert_eq!(
        code(&out),
        2,
        "a changing command without --host: {}",
        err(&out)
    );
    let out = f
        .relman()
        .args(["--all", "pin", &r(2), "--for", "1h", "--reason", "audit"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    let out = f
        .relman()
        .args(["--all", "prune", "--keep", "1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pinned until") && text.contains("audit"),
        "{text}"
    );
    assert!(f.root(0).join(r(2)).exists());
    assert!(!f.root(0).join(r(1)).exists());
    assert!(
        f.root(0).join("logs").exists(),
        "foreign entries are never touched"
    );

    // A bad pin id: one line, exit 2, nothing run on the host.
    let execs = f.exec_count(0);
    let out = f
        .relman()
        .args(["--all", "unpin", &r(2), "--id", "x;touch pwned"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert!(err(&out).contains("is not a pin id"), "{}", err(&out));
    assert_eq!(
        err(&out).trim_end().lines().count(),
        1,
        "one line: {}",
        err(&out)
    );
    // A missing argument too: one line naming it.
    let out = f.relman().args(["unpin"]).output().unwrap();
    assert_eq!(code(&out), 2, "{}", err(&out));
    assert_eq!(
        err(&out).trim_end().lines().count(),
        1,
        "one line: {}",
        err(&out)
    );
    assert!(err(&out).contains("<RELEASE>"), "{}", err(&out));
    assert_eq!(f.exec_count(0), execs, "nothing ran for a bad pin id");

    // Unpin: the next prune removes it.
    let out = f.relman().args(["--all", "unpin", &r(2)]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    let out = f
        .relman()
        .args(["--all", "prune", "--keep", "1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert!(!f.root(0).join(r(2)).exists());
    let hist = fs::read_to_string(f.root(0).join(".relman/history.jsonl")).unwrap();
    for a in ["\"pin\"", "\"unpin\"", "\"prune\""] {
        assert!(hist.contains(a), "{a} in history: {hist}");
    }
}

#[test]
fn resolve_prints_the_path_and_pins_in_one_step() {
    let f = Fleet::start(2);
    layout(&f, 0);
    layout(&f, 1);
    let out = f.relman().args(["resolve"]).output().unwrap();
    assert_eq!(
        code(&out),
        2,
        "resolve takes exactly one host: {}",
        err(&out)
    );

    // 8 s: two switches and a prune must fit in it on a loaded machine (2 s did not).
    let pinned_at = std::time::Instant::now();
    let out = f
        .relman()
        .args([
            "--host", "h1", "resolve", "--pin", "8s", "--reason", "build-42",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let real = fs::canonicalize(f.root(0).join(r(5))).unwrap();
    assert_eq!(path, real.display().to_string(), "the path alone on stdout");

    // Switch away twice: the pinned release is neither live nor previous, still kept.
    for n in [1, 2] {
        let out = f
            .relman()
            .args(["--host", "h1", "switch", &r(n)])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", err(&out));
    }
    let out = f
        .relman()
        .args(["--host", "h1", "prune", "--keep", "0"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert!(f.root(0).join(r(5)).exists(), "pinned");
    let expiry = Duration::from_millis(8500);
    std::thread::sleep(expiry.saturating_sub(pinned_at.elapsed()));
    let out = f
        .relman()
        .args(["--host", "h1", "prune", "--keep", "0"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", err(&out));
    assert!(!f.root(0).join(r(5)).exists(), "the pin expired");

    // No live release: exit 5.
    f.sh(1, "rm \"$ROOT/batch\"");
    let out = f
        .relman()
        .args(["--host", "h2", "resolve"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 5, "{}", err(&out));
}
