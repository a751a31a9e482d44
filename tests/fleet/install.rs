//! relman as an installed tool (issue 14 §2): the log file (levels, `RUST_LOG`,
//! rotation, its path in `--help`), shell completions that complete the config's
//! host and group names, the man page (`assets/relman.1`, checked current), and the
//! install metadata (release profile, README's install line).
//! Regenerate the man page with `RELMAN_UPDATE_ASSETS=1 cargo test --test fleet install::`.

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::Fleet;

const BIN: &str = env!("CARGO_BIN_EXE_relman");
const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// A home with a config of local hosts (`address = "local"`, deploy roots inside it).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(hosts: &[(&str, &[&str])]) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let mut toml = String::new();
        for (name, groups) in hosts {
            let root = dir.path().join(format!("root-{name}"));
            fs::create_dir_all(&root).unwrap();
            let groups: Vec<String> = groups.iter().map(|g| format!("{g:?}")).collect();
            toml.push_str(&format!(
                "[[hosts]]\nname = \"{name}\"\naddress = \"local\"\nroot = {:?}\ngroups = [{}]\n",
                root.display().to_string(),
                groups.join(", ")
            ));
        }
        fs::write(dir.path().join("config.toml"), toml).unwrap();
        Home { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn log_dir(&self) -> PathBuf {
        self.dir.path().join(".local/share/relman")
    }

    fn relman(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("HOME", self.dir.path())
            .env("RELMAN_CONFIG", self.config())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("RELMAN_COMPLETE")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .current_dir(self.dir.path());
        c
    }
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The log as `tail -f ~/.local/share/relman/relman.log` shows it.
fn log_text(dir: &Path) -> String {
    fs::read_to_string(dir.join("relman.log")).unwrap_or_default()
}

/// The daily files (`relman.YYYY-MM-DD.log`) and other regular `relman*.log` files.
fn log_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("relman") && n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

// ---- logging -------------------------------------------------------------------

#[test]
fn verbose_list_on_a_real_fleet_host_logs_the_operation_and_the_host() {
    let f = Fleet::start(1);
    ok(f.relman()
        .args(["-v", "list"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap());
    let dir = f.home().join(".local/share/relman");
    let log = log_text(&dir);
    let host = f.name(0);
    assert!(log.contains("relman list starts"), "log:\n{log}");
    assert!(log.contains("relman list ends: exit code 0"), "log:\n{log}");
    // -v is debug: the connection step is there, naming the host.
    assert!(
        log.lines()
            .any(|l| l.contains("DEBUG") && l.contains("connecting") && l.contains(host)),
        "log:\n{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("done") && l.contains(host)),
        "log:\n{log}"
    );
}

#[test]
fn the_default_level_is_info_and_rust_log_replaces_it() {
    let home = Home::new(&[("h1", &[])]);
    ok(home.relman().arg("list").output().unwrap());
    let log = log_text(&home.log_dir());
    assert!(log.contains("relman list starts"), "log:\n{log}");
    assert!(!log.contains("DEBUG"), "info by default, no debug:\n{log}");

    ok(home
        .relman()
        .arg("list")
        .env("RUST_LOG", "relman=debug")
        .output()
        .unwrap());
    let log = log_text(&home.log_dir());
    assert!(
        log.lines()
            .any(|l| l.contains("DEBUG") && l.contains("connecting") && l.contains("h1")),
        "RUST_LOG=relman=debug gives debug lines:\n{log}"
    );

    let before = log_text(&home.log_dir()).lines().count();
    ok(home
        .relman()
        .args(["-vv", "list"])
        .env("RUST_LOG", "relman=warn")
        .output()
        .unwrap());
    assert_eq!(
        log_text(&home.log_dir()).lines().count(),
        before,
        "RUST_LOG=relman=warn wins over -vv: a good list writes nothing"
    );
}

#[test]
fn a_bad_rust_log_is_named_on_stderr_and_the_flags_apply() {
    let home = Home::new(&[("h1", &[])]);
    let out = home
        .relman()
        .arg("list")
        .env("RUST_LOG", "relman=loud")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    ok(out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("RUST_LOG") && err.contains("ignored"), "{err}");
    assert!(log_text(&home.log_dir()).contains("relman list starts"));
}

#[test]
fn the_log_rotates_daily_keeping_a_bounded_number_of_files() {
    let home = Home::new(&[("h1", &[])]);
    let dir = home.log_dir();
    fs::create_dir_all(&dir).unwrap();
    // The log as it was before rotation (one growing file), then 20 old days.
    fs::write(dir.join("relman.log"), "an old line\n").unwrap();
    for day in 1..=20 {
        fs::write(dir.join(format!("relman.2020-01-{day:02}.log")), "old\n").unwrap();
    }
    let foreign = dir.join("notes.txt");
    fs::write(&foreign, "mine\n").unwrap();

    ok(home.relman().arg("list").output().unwrap());

    let mut files = log_files(&dir);
    let before = files.iter().position(|n| n == "relman.before-rotation.log");
    files.remove(before.expect("the old relman.log is kept"));
    assert!(files.len() <= 14, "at most 14 daily files kept: {files:?}");
    let link = fs::read_link(dir.join("relman.log")).expect("relman.log is a symlink");
    let today = link.to_string_lossy().to_string();
    assert!(
        files.contains(&today),
        "relman.log -> {today}, one of {files:?}"
    );
    assert!(!today.starts_with("relman.2020-"), "{today}");
    assert!(log_text(&dir).contains("relman list starts"));
    // The oldest days went, by the date in their names; other files stay.
    assert_eq!(files.len(), 14, "{files:?}");
    for day in 1..=7 {
        assert!(
            !files.contains(&format!("relman.2020-01-{day:02}.log")),
            "{files:?}"
        );
    }
    for day in 8..=20 {
        assert!(
            files.contains(&format!("relman.2020-01-{day:02}.log")),
            "{files:?}"
        );
    }
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "mine\n");
}

#[test]
fn the_log_from_before_rotation_is_kept_not_replaced_by_the_symlink() {
    let home = Home::new(&[("h1", &[])]);
    let dir = home.log_dir();
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("relman.log"), "an old line\n").unwrap();
    ok(home.relman().arg("list").output().unwrap());
    assert_eq!(
        fs::read_to_string(dir.join("relman.before-rotation.log")).unwrap(),
        "an old line\n"
    );
    assert!(
        fs::symlink_metadata(dir.join("relman.log"))
            .unwrap()
            .is_symlink()
    );
}

#[test]
fn help_names_the_log_files_path() {
    let home = Home::new(&[("h1", &[])]);
    let help = ok(home.relman().arg("--help").output().unwrap());
    let path = home.log_dir().join("relman.log");
    assert!(
        help.contains(&format!("Log: {}", path.display())),
        "--help does not name {}:\n{help}",
        path.display()
    );
    let xdg = home.dir.path().join("xdg");
    let help = ok(home
        .relman()
        .arg("--help")
        .env("XDG_DATA_HOME", &xdg)
        .output()
        .unwrap());
    assert!(
        help.contains(&xdg.join("relman/relman.log").display().to_string()),
        "{help}"
    );
}

// ---- completions ---------------------------------------------------------------

const FLEET: &[(&str, &[&str])] = &[
    ("alpha", &["web"]),
    ("beta", &["web", "db"]),
    ("gamma", &[]),
];

/// What the completer answers for `relman WORDS...` (the last word is the one at
/// the cursor), as fish asks it: one candidate a line, a tab before its help.
fn complete(home: &Home, words: &[&str]) -> Vec<String> {
    let out = ok(home
        .relman()
        .env("RELMAN_COMPLETE", "fish")
        .arg("--")
        .arg("relman")
        .args(words)
        .output()
        .unwrap());
    out.lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn host_completes_the_configs_host_names() {
    let home = Home::new(FLEET);
    assert_eq!(
        complete(&home, &["list", "--host", ""]),
        ["alpha", "beta", "gamma"]
    );
    assert_eq!(complete(&home, &["list", "--host", "b"]), ["beta"]);
    assert_eq!(complete(&home, &["--host", "g"]), ["gamma"]);
}

#[test]
fn group_completes_the_configs_group_names() {
    let home = Home::new(FLEET);
    assert_eq!(complete(&home, &["switch", "--group", ""]), ["db", "web"]);
}

#[test]
fn completion_reads_the_config_named_on_the_line() {
    let home = Home::new(&[("elsewhere", &[])]);
    let other = Home::new(FLEET);
    let path = other.config().display().to_string();
    assert_eq!(
        complete(&home, &["--config", &path, "list", "--host", "a"]),
        ["alpha"]
    );
    assert_eq!(
        complete(&home, &[&format!("--config={path}"), "list", "--host", ""]),
        ["alpha", "beta", "gamma"]
    );
    assert_eq!(complete(&home, &["list", "--host", ""]), ["elsewhere"]);
}

#[test]
fn the_bash_script_completes_host_names_in_a_real_bash() {
    let home = Home::new(FLEET);
    let script = ok(home
        .relman()
        .args(["completions", "bash"])
        .output()
        .unwrap());
    let script_path = home.dir.path().join("relman.bash");
    fs::write(&script_path, &script).unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // What bash does at `relman list --host b<Tab>`: COMP_* set, the function called.
    let probe = format!(
        ". {script}\n\
         COMP_WORDS=(relman list --host b); COMP_CWORD=3; COMP_LINE='relman list --host b'; \
         COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9\n\
         f=$(complete -p relman | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')\n\
         \"$f\" relman b --host\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script_path.display()
    );
    let out = ok(Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(&probe)
        .env("HOME", home.dir.path())
        .env("RELMAN_CONFIG", home.config())
        .env("PATH", path)
        .env_remove("RELMAN_COMPLETE")
        .output()
        .unwrap());
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["beta"], "bash offered {out:?}");
}

#[test]
fn completions_for_every_shell_still_print_a_script() {
    let home = Home::new(FLEET);
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(home.relman().args(["completions", shell]).output().unwrap());
        assert!(script.contains("relman"), "{shell}: {script}");
        assert!(
            script.contains("RELMAN_COMPLETE"),
            "{shell} script is not the dynamic one"
        );
    }
}

// ---- man page ------------------------------------------------------------------

#[test]
fn the_man_page_asset_is_current() {
    let home = Home::new(FLEET);
    let want = ok(home.relman().arg("man").output().unwrap());
    assert!(
        want.starts_with(".ie") || want.contains(".TH relman 1"),
        "{want}"
    );
    let path = Path::new(MANIFEST).join("assets/relman.1");
    if std::env::var_os("RELMAN_UPDATE_ASSETS").is_some() {
        fs::write(&path, &want).expect("write assets/relman.1");
        return;
    }
    let have = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "assets/relman.1 is stale: run `RELMAN_UPDATE_ASSETS=1 cargo test --test fleet install::` and commit it"
    );
}

#[test]
fn the_man_page_reads_the_same_for_every_user() {
    let a = ok(Home::new(FLEET).relman().arg("man").output().unwrap());
    let b = ok(Home::new(&[]).relman().arg("man").output().unwrap());
    assert_eq!(a, b, "the man page depends on the user's home or config");
}

// ---- install metadata ----------------------------------------------------------

fn manifest() -> toml::Table {
    toml::from_str(&fs::read_to_string(Path::new(MANIFEST).join("Cargo.toml")).unwrap()).unwrap()
}

#[test]
fn the_release_profile_strips_debug_info_and_bench_keeps_symbols() {
    let m = manifest();
    let profile = &m["profile"];
    let release = &profile["release"];
    assert_eq!(release.get("debug").and_then(|d| d.as_bool()), Some(false));
    assert_eq!(
        release.get("strip").and_then(|d| d.as_str()),
        Some("debuginfo")
    );
    for p in ["bench", "profiling"] {
        assert_eq!(
            profile[p].get("debug").and_then(|d| d.as_str()),
            Some("line-tables-only"),
            "{p}"
        );
        assert_eq!(
            profile[p].get("strip").and_then(|d| d.as_str()),
            Some("none")
        );
    }
    let bench = fs::read_to_string(Path::new(MANIFEST).join("bench/deploy.sh")).unwrap();
    assert!(bench.contains("--profile profiling"), "bench/deploy.sh");
}

#[test]
fn the_package_says_what_it_is_and_the_readme_how_to_install_it() {
    let m = manifest();
    let package = &m["package"];
    for key in ["description", "license", "readme", "keywords", "categories"] {
        assert!(
            package.get(key).is_some(),
            "Cargo.toml has no package.{key}"
        );
    }
    assert!(Path::new(MANIFEST).join("LICENSE").exists());
    let readme = fs::read_to_string(Path::new(MANIFEST).join("README.md")).unwrap();
    assert!(readme.contains("cargo install --locked --path ."), "README");
    assert!(readme.contains("assets/build-portable.sh"), "README");
}

#[test]
fn concurrent_runs_share_the_days_log_quietly() {
    let home = Home::new(&[("h1", &[])]);
    let dir = home.log_dir();
    fs::create_dir_all(&dir).unwrap();
    for day in 1..=20 {
        fs::write(dir.join(format!("relman.2020-02-{day:02}.log")), "old\n").unwrap();
    }
    // Eight starts at once race to prune the same old files and to repoint the link.
    let children: Vec<_> = (0..8)
        .map(|_| {
            home.relman()
                .arg("list")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "a lost race is not news"
        );
    }
    let log = log_text(&dir);
    assert_eq!(log.matches("relman list starts").count(), 8, "log:\n{log}");
    assert!(
        fs::symlink_metadata(dir.join("relman.log"))
            .unwrap()
            .is_symlink()
    );
    assert!(log_files(&dir).len() <= 14, "{:?}", log_files(&dir));
}

#[test]
fn a_complete_variable_meant_for_something_else_is_not_a_completion_request() {
    let home = Home::new(FLEET);
    for value in ["1", "true", "bash"] {
        let out = home
            .relman()
            .arg("--version")
            .env("COMPLETE", value)
            .output()
            .unwrap();
        assert_eq!(
            ok(out).trim(),
            format!("relman {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
