//! Spring Batch (issue 15.7): a real JVM job, run through the launcher as cron runs it,
//! whose exit code says whether its job failed, and what the ledger makes of it.
//!
//! No Spring here (no network for Maven): `Main.java` is a plain main compiled with
//! `javac` that exits the way a Spring Boot batch app does with
//! `System.exit(SpringApplication.exit(ctx))` and Boot's `JobExecutionExitCodeGenerator`:
//! the job's `BatchStatus` ordinal, 0 for COMPLETED, 5 for FAILED (see
//! `assets/spring-batch/`). Its job reads `input.csv` from its working directory (the
//! release launch starts it in) and fails on a row that is not a number: the first
//! release's input is good, the next one's is not.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{DEPLOY, Fleet, JOBS, command_as};

/// The stand-in for a Spring Boot batch app (Java 8+, no dependencies).
const MAIN_JAVA: &str = r#"import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;

/** A one-step "import" job whose exit code is its BatchStatus ordinal, as Spring Boot's
 *  JobExecutionExitCodeGenerator makes it: COMPLETED = 0, FAILED = 5. */
public class Main {
    enum BatchStatus { COMPLETED, STARTING, STARTED, STOPPING, STOPPED, FAILED, ABANDONED, UNKNOWN }

    static BatchStatus runJob() {
        try {
            List<String> rows = Files.readAllLines(Paths.get("input.csv"), StandardCharsets.UTF_8);
            long sum = 0;
            for (String row : rows) {
                sum += Long.parseLong(row.trim());
            }
            System.out.println("import: " + rows.size() + " rows, sum " + sum);
            return BatchStatus.COMPLETED;
        } catch (Exception e) {
            System.err.println("import: step failed: " + e);
            return BatchStatus.FAILED;
        }
    }

    public static void main(String[] args) {
        BatchStatus status = runJob();
        System.out.println("Job: [import] completed with the following status: [" + status + "]");
        System.exit(status.ordinal());
    }
}
"#;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A build of the app: `Main.class` compiled here, and its input.
fn build(dir: &Path, input: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("Main.java"), MAIN_JAVA).unwrap();
    let o = Command::new("javac")
        .args(["-d", "."])
        .arg("Main.java")
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run javac ({e}): run `sh tests/setup-hosts.sh` as root (it installs a JDK)"
            )
        });
    assert!(o.status.success(), "javac: {}", err(&o));
    fs::remove_file(dir.join("Main.java")).unwrap();
    fs::write(dir.join("input.csv"), input).unwrap();
}

fn deploy(f: &Fleet, dir: &Path) -> String {
    let o = f
        .relman()
        .args(["--all", "deploy", "--json"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "deploy: {}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["release"].as_str().unwrap().to_string()
}

/// The crontab line, as cron runs it: `sh -c` as the job user, from its home, every
/// signal at its default, no scheduler variables.
fn cron(f: &Fleet) -> Output {
    let line = format!(
        "'{}/.relman/bin/launch' -- java -Xmx64m -cp . Main",
        f.root(0).display()
    );
    let mut c = command_as(JOBS, "sh");
    c.arg("-c").arg(line).current_dir("/").stdin(Stdio::null());
    c.env_remove("BUILD_TAG").env_remove("JOB_NAME");
    c.output().unwrap()
}

fn relman_json(f: &Fleet, args: &[&str]) -> Value {
    let o = f.relman().args(args).stdin(Stdio::null()).output().unwrap();
    assert_eq!(code(&o), 0, "{args:?}: {}", err(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn health(f: &Fleet, release: &str) -> Value {
    let v = relman_json(f, &["--all", "list", "--json"]);
    v["hosts"][0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == release)
        .unwrap_or_else(|| panic!("{release} not listed: {v}"))["health"]
        .clone()
}

#[test]
fn a_spring_batch_style_job_fails_on_the_next_release_and_the_ledger_says_so() {
    let f = Fleet::start_as(1, DEPLOY);

    // Release 1: good input. The job completes: exit 0, its output passes through.
    let good = f.dir().join("build-good");
    build(&good, "1\n2\n3\n");
    let first = deploy(&f, &good);
    let o = cron(&f);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("import: 3 rows, sum 6"), "{out}");
    assert!(out.contains("status: [COMPLETED]"), "{out}");
    assert!(!err(&o).contains("warning"), "recorded: {}", err(&o));

    // Release 2: a bad row. The job fails: the JVM exits 5 (BatchStatus.FAILED), and
    // cron sees exactly that.
    let bad = f.dir().join("build-bad");
    build(&bad, "1\ntwo\n3\n");
    let second = deploy(&f, &bad);
    assert_ne!(first, second);
    let o = cron(&f);
    assert_eq!(code(&o), 5, "{}", err(&o));
    assert!(err(&o).contains("NumberFormatException"), "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("status: [FAILED]"));

    // The ledger: ok on the first release, failed on the second.
    let h1 = health(&f, &first);
    for (k, n) in [("runs", 1), ("ok", 1), ("failed", 0), ("running", 0)] {
        assert_eq!(h1[k], n, "{first} {k}: {h1}");
    }
    assert_eq!(h1["last_failure"], Value::Null, "{h1}");
    let h2 = health(&f, &second);
    for (k, n) in [
        ("runs", 1),
        ("ok", 0),
        ("failed", 1),
        ("killed", 0),
        ("lost", 0),
    ] {
        assert_eq!(h2[k], n, "{second} {k}: {h2}");
    }
    assert_eq!(h2["last_failure"]["exit_code"], 5, "{h2}");
    assert_eq!(h2["last_failure"]["command"], "java -Xmx64m -cp . Main");

    let v = relman_json(&f, &["--all", "runs", "--json"]);
    let runs = v["hosts"][0]["runs"].as_array().unwrap();
    let seen: Vec<(&str, &str, &Value, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["release"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                &r["exit_code"],
                r["user"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (second.as_str(), "failed", &Value::from(5), JOBS),
            (first.as_str(), "ok", &Value::from(0), JOBS),
        ],
        "newest first: {v}"
    );
    let v = relman_json(&f, &["--all", "runs", "--json", "--failed"]);
    assert_eq!(v["hosts"][0]["runs"].as_array().unwrap().len(), 1, "{v}");
}
