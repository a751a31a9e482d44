//! Hostile input, against real sshd hosts: release names and paths on the command
//! line, config values, deploy file names, and deploy roots laid out to trap relman
//! (links leading outside, symlinks named like releases, a manifest listing
//! `../../x`, relman's own state replaced by symlinks...). Each case must end in a
//! clear error or be shown as what it is, with no effect outside the deploy root
//! (a canary tree beside it stays byte for byte the same, and nothing named
//! `pwned…` appears anywhere) and nothing deleted that the policy keeps.
//!
//! Every case is counted; the totals are printed (`FIGURES hostile ...`). Each case
//! runs with root as the deploy user and with the non-root deploy users
//! (`<test>::deploy`, `::umask`, `::busybox`): what a test plants in a deploy root is
//! given to that user before relman runs (as if the deploy user had made it), and
//! the canary too, so that relman, not the file modes, is what keeps it intact.

use crate::hardening_support;
use crate::support;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hardening_support::*;
use support::{Fleet, scenarios};

const A: &str = "batch_20260101000000";
const B: &str = "batch_20260102000000";
const C: &str = "batch_20260103000000";
const LIMIT: Duration = Duration::from_secs(60);

/// A fleet with a canary tree beside the deploy roots and a unique marker name that
/// hostile payloads try to create.
struct Arena {
    f: Fleet,
    canary: PathBuf,
    canary_before: BTreeMap<PathBuf, String>,
    tag: String,
    book: Handmade,
    cases: usize,
    /// The deploy user's home (where a payload run on the host would land).
    user_home: PathBuf,
}

impl Arena {
    fn new(hosts: usize, user: &str) -> Arena {
        let f = Fleet::start_as(hosts, user);
        let canary = f.dir().join("canary");
        fs::create_dir_all(canary.join("sub")).unwrap();
        fs::write(canary.join("precious.txt"), "do not touch").unwrap();
        fs::write(canary.join("sub/app.jar"), "canary jar").unwrap();
        fs::write(canary.join(".relman.json"), "{}").unwrap();
        let mut rng = Rng::from_env("hostile");
        let tag = format!("pwned{}", rng.below(1 << 40));
        let mut book = Handmade::new();
        for i in 0..hosts {
            fs::create_dir_all(f.root(i)).unwrap();
            for r in [A, B, C] {
                make_handmade(f.root(i), r, &[("app.jar", r.as_bytes())], &mut book);
            }
            symlink(B, f.root(i).join("batch")).unwrap();
        }
        let canary_before = tree(&canary);
        let a = Arena {
            user_home: support::user_ids(f.host_user(0)).2,
            f,
            canary,
            canary_before,
            tag,
            book,
            cases: 0,
        };
        a.give_all();
        a
    }

    /// Gives what the test planted (the roots, the canary, a real root behind a
    /// symlinked one, the unlock bait) to the deploy user (nothing on a root fleet).
    fn give_all(&self) {
        self.f.give_roots();
        for p in ["canary", "real-root", "bait.json"] {
            self.f.give(0, &self.f.dir().join(p));
        }
    }

    fn relman(&self) -> Command {
        self.f.relman()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.give_all();
        output_within(self.relman().args(args), LIMIT).unwrap()
    }

    /// Nothing outside the roots changed, and no file named like the marker (what a
    /// payload's `touch` would create) exists in the fleet, the home or /tmp.
    fn assert_contained(&self, what: &str) {
        assert_eq!(
            tree(&self.canary),
            self.canary_before,
            "{what}: the canary outside the root changed"
        );
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        for dir in [
            self.f.dir().to_path_buf(),
            PathBuf::from(&home),
            self.user_home.clone(),
            PathBuf::from("/tmp"),
        ] {
            let hits: Vec<_> = fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_name().to_string_lossy() == self.tag)
                        .map(|e| e.path())
                        .collect()
                })
                .unwrap_or_default();
            assert!(hits.is_empty(), "{what}: created {hits:?}");
        }
        let deep: Vec<_> = tree(self.f.dir())
            .into_keys()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy() == self.tag)
            })
            .collect();
        assert!(deep.is_empty(), "{what}: created {deep:?}");
    }
}

/// The hostile release names the command line gets (`tag` is the marker name).
fn hostile_names(tag: &str, root: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        format!("{B};touch {tag}"),
        format!("$(touch {tag})"),
        format!("`touch {tag}`"),
        format!("{B}' ; touch {tag} ; '"),
        format!("{B}\" ; touch {tag} ; \""),
        format!("{B} {A}"),
        format!("{B}\ntouch {tag}"),
        format!("{B}\t"),
        "..".into(),
        ".".into(),
        format!("../deploy/{B}"),
        format!("{B}/.."),
        format!("{B}/../.."),
        "/etc".into(),
        "/".into(),
        root.join(B).display().to_string(),
        format!("batch_{}", "1".repeat(4090)),
        format!("{B}{}", "x".repeat(4000)),
        String::new(),
        "*".into(),
        "batch_*".into(),
        "~".into(),
        "batch_2026010200000?".into(),
        "batch_20261302000000".into(),
        format!("{B}.0"),
        format!("{B}.01"),
        "logs".into(),
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    // The targets every transport refuses (`support::scenarios`) that are not release
    // names at all, through each command (a well-formed absent name is no release to
    // switch to, but nothing to unpin either: exit 0).
    v.extend(
        scenarios::HOSTILE_TARGETS
            .iter()
            .filter(|n| relman::model::ReleaseName::parse("batch_", n).is_err())
            .map(OsString::from),
    );
    v.push(OsString::from_vec(b"batch_2026010200000\xff".to_vec()));
    v.push(OsString::from_vec(b"\xfe\xff".to_vec()));
    v
}

for_users!(hostile_release_arguments_are_refused_before_anything_runs: root, deploy);
fn hostile_release_arguments_are_refused_before_anything_runs(user: &str) {
    let mut a = Arena::new(1, user);
    let root = a.f.root(0).to_path_buf();
    let entries_before = tree(&root);
    let execs = a.f.exec_count(0);
    let names = hostile_names(&a.tag, &root);
    let mut codes: BTreeMap<i32, usize> = BTreeMap::new();
    for name in &names {
        let n = name.clone();
        let cmds: Vec<Vec<OsString>> = vec![
            vec!["switch".into(), n.clone()],
            vec!["switch".into(), C.into(), "--expect".into(), n.clone()],
            vec!["rollback".into(), "--to".into(), n.clone()],
            vec!["pin".into(), n.clone(), "--for".into(), "1h".into()],
            vec!["unpin".into(), n.clone()],
        ];
        for args in cmds {
            let out = output_within(a.relman().arg("--host").arg("h1").args(&args), LIMIT).unwrap();
            let c = code(&out);
            let e = stderr(&out);
            assert!(c == 5 || c == 2, "{args:?}: exit {c} (want 5 or 2): {e}");
            assert!(
                !e.trim().is_empty() && !e.contains("panicked"),
                "{args:?}: {e}"
            );
            if c == 5 {
                assert_eq!(e.trim().lines().count(), 1, "{args:?}: one line: {e}");
                // The message shows the name without control characters.
                assert!(!e.trim().contains('\t'), "{args:?}: {e:?}");
            }
            *codes.entry(c).or_default() += 1;
            a.cases += 1;
        }
    }
    assert_eq!(a.f.exec_count(0), execs, "nothing ran on the host");
    assert_eq!(tree(&root), entries_before, "nothing changed in the root");
    a.assert_contained("release arguments");
    eprintln!(
        "FIGURES hostile release arguments as {user}: {} cases ({} names x 5 commands), exits {codes:?}, 0 commands run on the host",
        a.cases,
        names.len()
    );
}

for_users!(hostile_host_and_group_selections_are_refused: root, deploy);
fn hostile_host_and_group_selections_are_refused(user: &str) {
    let a = Arena::new(1, user);
    let execs = a.f.exec_count(0);
    let mut n = 0;
    for sel in [
        format!("h1;touch {}", a.tag),
        format!("$(touch {})", a.tag),
        "h1 h2".into(),
        "../h1".into(),
        String::new(),
        "*".into(),
    ] {
        for flag in ["--host", "--group"] {
            let out = output_within(a.relman().args([flag, &sel, "switch", C]), LIMIT).unwrap();
            assert_eq!(code(&out), 2, "{flag} {sel:?}: {}", stderr(&out));
            n += 1;
        }
    }
    assert_eq!(a.f.exec_count(0), execs);
    assert_eq!(link_target(a.f.root(0), "batch").as_deref(), Some(B));
    a.assert_contained("selections");
    eprintln!("FIGURES hostile selections as {user}: {n} cases, all exit 2");
}

for_users!(hostile_config_values_are_refused_with_file_line_and_key: root, deploy);
fn hostile_config_values_are_refused_with_file_line_and_key(user: &str) {
    let a = Arena::new(1, user);
    let base = fs::read_to_string(a.f.config_path()).unwrap();
    let t = &a.tag;
    // (the host block's line to replace, its replacement, the key the error names)
    let cases: Vec<(&str, String, &str)> = vec![
        ("name = \"h1\"", format!("name = \"h1;touch {t}\""), "name"),
        ("name = \"h1\"", format!("name = \"$(touch {t})\""), "name"),
        ("name = \"h1\"", "name = \"\"".into(), "name"),
        (
            "name = \"h1\"",
            "name = \"h1\"\nname2 = \"x\"".into(),
            "name2",
        ),
        ("root = ", format!("root = \"deploy;touch {t}\"\n#"), "root"),
        ("root = ", format!("root = \"$(touch {t})\"\n#"), "root"),
        ("root = ", "root = \"../../etc\"\n#".into(), "root"),
        ("root = ", "root = \"/\"\n#".into(), "root"),
        ("root = ", "root = \"-rf\"\n#".into(), "root"),
        ("root = ", "root = \"a\\nb\"\n#".into(), "root"),
        (
            "name = \"h1\"",
            "name = \"h1\"\nlink = \"../outside\"".into(),
            "link",
        ),
        (
            "name = \"h1\"",
            "name = \"h1\"\nlink = \".relman\"".into(),
            "link",
        ),
        (
            "name = \"h1\"",
            format!("name = \"h1\"\nprefix = \"b;touch {t};\""),
            "prefix",
        ),
        (
            "name = \"h1\"",
            "name = \"h1\"\nprefix = \"*\"".into(),
            "prefix",
        ),
        (
            "address = \"127.0.0.1\"",
            format!("address = \"-oProxyCommand=touch {t}\""),
            "address",
        ),
        (
            "address = \"127.0.0.1\"",
            "address = \"a b\"".into(),
            "address",
        ),
        (
            "user = ",
            format!("user = \"-oProxyCommand=touch {t}\"\n#"),
            "user",
        ),
        (
            "name = \"h1\"",
            format!("name = \"h1\"\njump = \"-oProxyCommand=touch {t}\""),
            "jump",
        ),
        ("port = ", "port = 70000\n#".into(), "port"),
        ("port = ", "port = -1\n#".into(), "port"),
        (
            "connect_timeout = \"3s\"",
            "connect_timeout = \"soon\"".into(),
            "connect_timeout",
        ),
    ];
    let execs = a.f.exec_count(0);
    for (i, (find, repl, key)) in cases.iter().enumerate() {
        let at = base
            .find(find)
            .unwrap_or_else(|| panic!("{find:?} not in the fleet config"));
        let text = format!("{}{}{}", &base[..at], repl, &base[at + find.len()..]);
        let path = a.f.dir().join(format!("hostile-{i}.toml"));
        fs::write(&path, &text).unwrap();
        for args in [&["list"][..], &["--all", "switch", C][..]] {
            let out =
                output_within(a.relman().env("RELMAN_CONFIG", &path).args(args), LIMIT).unwrap();
            let e = stderr(&out);
            assert_eq!(code(&out), 2, "case {i} {repl:?} {args:?}: {e}");
            assert!(
                e.contains(&format!("hostile-{i}.toml")) && e.contains(key),
                "case {i} {repl:?}: the error names the file and `{key}`: {e}"
            );
            assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
        }
    }
    assert_eq!(a.f.exec_count(0), execs, "nothing ran with a bad config");
    a.assert_contained("config");
    eprintln!(
        "FIGURES hostile config as {user}: {} values x 2 commands, all exit 2 naming file, line and key",
        cases.len()
    );
}

fn write_file(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

for_users!(deploy_of_hostile_file_names_lands_them_verbatim_inside_the_release);
fn deploy_of_hostile_file_names_lands_them_verbatim_inside_the_release(user: &str) {
    let mut a = Arena::new(1, user);
    let t = a.tag.clone();
    let app = a.f.dir().join("hostile-app");
    let names = [
        format!(";touch {t}"),
        format!("$(touch {t})"),
        format!("`touch {t}`"),
        "it's \"quoted\" $HOME".to_string(),
        "a b  c".into(),
        " leading space".into(),
        "-rf".into(),
        "--help".into(),
        "*".into(),
        "?".into(),
        "back\\slash".into(),
        "..dots".into(),
        "dots..".into(),
        "é-ünïcode-名前".into(),
        A.into(),
        format!("dir with space/{};touch {t}", "x"),
        "$(rm -rf ~)/inner".into(),
        "n".repeat(250),
        format!("deep/{}/file", "d/".repeat(20)),
    ];
    let mut want = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        let body = format!("file {i}: {n}");
        write_file(&app.join(n), body.as_bytes());
        want.insert(n.clone(), sha256_hex(body.as_bytes()));
    }
    let msg = format!("$(touch {t}) `x` \"q\" 'q'\nsecond line\ttab");
    let out = a.run(&[
        "--all",
        "deploy",
        "-m",
        &msg,
        app.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let root = a.f.root(0).to_path_buf();
    let live = link_target(&root, "batch").unwrap();
    let rel = root.join(&live);
    verify_release(&rel, &a.book).unwrap();
    for (n, sha) in &want {
        assert_eq!(&sha256_file(&rel.join(n)).unwrap(), sha, "{n:?}");
        a.cases += 1;
    }
    // The message is kept verbatim, and history stays one JSON object per line.
    let m: relman::model::Manifest =
        serde_json::from_str(&fs::read_to_string(rel.join(".relman.json")).unwrap()).unwrap();
    assert_eq!(m.message, msg);
    for l in fs::read_to_string(root.join(".relman/history.jsonl"))
        .unwrap()
        .lines()
    {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
    a.cases += 1;
    // The human listing shows the message on one line, not garbled.
    let out = a.run(&["list"]);
    assert_eq!(code(&out), 0);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\nsecond line"));
    a.assert_contained("hostile file names");

    // Inputs that can't be deployed: refused before anything is sent.
    let execs = a.f.exec_count(0);
    let bad = a.f.dir().join("bad-inputs");
    let mut refused = Vec::new();
    let mut case = |label: &str, setup: &dyn Fn(&Path), needle: &str| {
        let d = bad.join(label);
        fs::create_dir_all(&d).unwrap();
        write_file(&d.join("ok.jar"), b"ok");
        setup(&d);
        let out = output_within(a.relman().args(["--all", "deploy"]).arg(&d), LIMIT).unwrap();
        assert_eq!(code(&out), 2, "{label}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(needle),
            "{label}: wanted {needle:?} in {}",
            stderr(&out)
        );
        refused.push(label.to_string());
    };
    case(
        "newline",
        &|d| write_file(&d.join(format!("a\ntouch {t}")), b"x"),
        "control character",
    );
    case(
        "tab",
        &|d| write_file(&d.join("a\tb"), b"x"),
        "control character",
    );
    case(
        "not-utf8",
        &|d| {
            use std::os::unix::ffi::OsStrExt;
            let n = std::ffi::OsStr::from_bytes(b"bad\xff");
            write_file(&d.join(n), b"x")
        },
        "not valid UTF-8",
    );
    case(
        "link-to-etc",
        &|d| symlink("/etc/passwd", d.join("passwd")).unwrap(),
        "outside",
    );
    case(
        "link-to-root",
        &|d| symlink("/", d.join("slash")).unwrap(),
        "refused",
    );
    let canary = a.canary.clone();
    case(
        "link-to-canary",
        &|d| symlink(&canary, d.join("c")).unwrap(),
        "refused",
    );
    case(
        "dangling",
        &|d| symlink("/nonexistent/x", d.join("gone")).unwrap(),
        "dangling",
    );
    case(
        "fifo",
        &|d| {
            let p = d.join("fifo");
            let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            // SAFETY: mkfifo on a path we own.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        },
        "FIFO",
    );
    case(
        "manifest-name",
        &|d| write_file(&d.join(".relman.json"), b"{}"),
        "reserved",
    );
    // A 4 KB path argument: a clear error, not a crash.
    let long = bad.join("x".repeat(4096));
    let out = output_within(a.relman().args(["--all", "deploy"]).arg(&long), LIMIT).unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
    refused.push("4k-path".into());
    assert_eq!(a.f.exec_count(0), execs, "refused before anything ran");
    assert_eq!(link_target(&root, "batch").as_deref(), Some(live.as_str()));
    a.assert_contained("refused inputs");
    eprintln!(
        "FIGURES hostile deploy inputs as {user}: {} hostile names landed verbatim inside the release, \
         {} inputs refused before anything ran ({refused:?})",
        names.len(),
        refused.len()
    );
}

// ---- deploy roots laid out to trap relman ----

/// What a step must end in.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Exit 0.
    Ok,
    /// One of these exit codes, with this text in the error.
    Refused(&'static [i32], &'static str),
}

impl Arena {
    /// A fresh root for host 0: releases A, B, C made by hand, the link at B.
    fn reset(&mut self) {
        let root = self.f.root(0).to_path_buf();
        if fs::symlink_metadata(&root).is_ok() {
            if fs::symlink_metadata(&root).unwrap().is_dir() {
                fs::remove_dir_all(&root).unwrap();
            } else {
                fs::remove_file(&root).unwrap();
            }
        }
        fs::create_dir_all(&root).unwrap();
        for r in [A, B, C] {
            make_handmade(&root, r, &[("app.jar", r.as_bytes())], &mut self.book);
        }
        symlink(B, root.join("batch")).unwrap();
    }

    /// Entries of the root that are neither releases, the link nor `.relman`
    /// (foreign: never touched), with their trees.
    fn foreign(&self) -> BTreeMap<PathBuf, String> {
        let root = self.f.root(0);
        let Ok(rd) = fs::read_dir(root) else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for e in rd.flatten() {
            let n = e.file_name();
            let s = n.to_string_lossy();
            let is_release = e.file_type().map(|t| t.is_dir()).unwrap_or(false)
                && relman::model::ReleaseName::parse("batch_", &s).is_ok();
            if is_release || s == "batch" || s == ".relman" {
                continue;
            }
            out.insert(PathBuf::from(&n), format!("{:?}", tree(&e.path())));
            if let Ok(t) = fs::read_link(e.path()) {
                out.insert(PathBuf::from(&n).join("->"), t.display().to_string());
            }
        }
        out
    }

    /// The releases prune must keep with `--keep keep`, from `list --json`: the live
    /// one, the previous one, the newest `keep` good ones (counting those two).
    fn protected(&self, keep: usize) -> Vec<String> {
        let out = self.run(&["list", "--json"]);
        let v = json(&out);
        let h = &v["hosts"][0];
        let mut p = Vec::new();
        let mut good = 0;
        for r in h["releases"].as_array().cloned().unwrap_or_default() {
            let name = r["name"].as_str().unwrap().to_string();
            // The newest `keep` good releases, live and previous among them (SPEC §4).
            let newest = r["bad"] != true && good < keep;
            if newest {
                good += 1;
            }
            if r["current"] == true || r["previous"] == true || newest {
                p.push(name);
            }
        }
        p
    }

    /// Runs one step of a case and checks what must hold after any step.
    fn step(&mut self, case: &str, args: &[&str], want: Want) {
        let foreign = self.foreign();
        let protected = if args.contains(&"prune") {
            // Without --keep, only live and previous are sure to stay (keep 0).
            let keep = args
                .iter()
                .position(|a| *a == "--keep")
                .and_then(|i| args.get(i + 1))
                .map_or(0, |k| k.parse::<usize>().unwrap());
            self.protected(keep)
        } else {
            Vec::new()
        };
        let out = self.run(args);
        let (c, e) = (code(&out), stderr(&out));
        match want {
            Want::Ok => assert_eq!(c, 0, "{case}: {args:?}: {e}"),
            Want::Refused(codes, needle) => {
                assert!(
                    codes.contains(&c),
                    "{case}: {args:?}: exit {c}, want {codes:?}: {e}"
                );
                assert!(
                    e.contains(needle),
                    "{case}: {args:?}: want {needle:?} in: {e}"
                );
                assert!(!e.contains("panicked"), "{case}: {e}");
                eprintln!("{case}: {args:?} → exit {c}: {}", e.trim());
            }
        }
        assert_eq!(
            self.foreign(),
            foreign,
            "{case}: {args:?} touched a foreign entry"
        );
        let left = release_dirs(self.f.root(0), "batch_");
        for p in &protected {
            assert!(
                left.contains(p),
                "{case}: {args:?} deleted {p}, which the policy keeps"
            );
        }
        self.assert_contained(&format!("{case}: {args:?}"));
        self.cases += 1;
    }

    fn link(&self) -> Option<String> {
        link_target(self.f.root(0), "batch")
    }
}

fn list_host(a: &Arena) -> serde_json::Value {
    let out = a.run(&["list", "--json"]);
    json(&out)["hosts"][0].clone()
}

for_users!(links_and_roots_that_lead_elsewhere);
fn links_and_roots_that_lead_elsewhere(user: &str) {
    let mut a = Arena::new(1, user);
    let root = a.f.root(0).to_path_buf();
    let canary = a.canary.clone();

    // The link points outside the root (absolute, then relative): shown as such,
    // never followed for a change; switch replaces the link, not its target.
    for (case, target) in [
        ("link to the canary", canary.clone()),
        ("link ../../canary", PathBuf::from("../../canary")),
        ("link to /", PathBuf::from("/")),
    ] {
        a.reset();
        fs::remove_file(root.join("batch")).unwrap();
        symlink(&target, root.join("batch")).unwrap();
        let h = list_host(&a);
        assert_eq!(h["ok"], true, "{case}: {h}");
        assert!(h["current"].is_null(), "{case}: {h}");
        let out = a.run(&["list"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("OUTSIDE"),
            "{case}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        a.step(case, &["--all", "prune", "--keep", "1"], Want::Ok);
        a.step(case, &["--all", "switch", C], Want::Ok);
        assert_eq!(a.link().as_deref(), Some(C));
        assert_eq!(fs::read_link(root.join("batch")).unwrap(), PathBuf::from(C));
    }

    // The link points at a file, at .relman, at itself: not a release; switch fixes it.
    for (case, target) in [
        ("link to a file", "notes.txt"),
        ("link to .relman", ".relman"),
        ("link to itself", "batch"),
        ("link to ..", ".."),
    ] {
        a.reset();
        fs::write(root.join("notes.txt"), "notes").unwrap();
        fs::remove_file(root.join("batch")).unwrap();
        symlink(target, root.join("batch")).unwrap();
        let h = list_host(&a);
        assert_eq!(h["ok"], true, "{case}: {h}");
        assert!(h["current"].is_null(), "{case}: {h}");
        a.step(case, &["--all", "switch", A], Want::Ok);
        assert_eq!(a.link().as_deref(), Some(A));
        assert_eq!(fs::read_to_string(root.join("notes.txt")).unwrap(), "notes");
    }

    // The link is a real directory: relman refuses to replace it, and never deletes it.
    a.reset();
    fs::remove_file(root.join("batch")).unwrap();
    fs::create_dir(root.join("batch")).unwrap();
    fs::write(root.join("batch/app.jar"), "the real thing").unwrap();
    let app = a.f.dir().join("small-app");
    write_file(&app.join("app.jar"), b"new");
    a.step(
        "link is a directory",
        &["--all", "switch", C],
        Want::Refused(&[5], "not a symlink"),
    );
    a.step(
        "link is a directory",
        &["--all", "deploy", app.to_str().unwrap()],
        Want::Refused(&[5], "not a symlink"),
    );
    a.step(
        "link is a directory",
        &["--all", "prune", "--keep", "0"],
        Want::Ok,
    );
    assert_eq!(
        fs::read_to_string(root.join("batch/app.jar")).unwrap(),
        "the real thing"
    );
    assert!(
        fs::read_dir(root.join(".relman/staging"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "a refused deploy leaves no upload behind"
    );

    // The root is a symlink to a real directory: relman works in the real one.
    let real = a.f.dir().join("real-root");
    if fs::symlink_metadata(&root).is_ok() {
        fs::remove_dir_all(&root).unwrap();
    }
    fs::create_dir_all(&real).unwrap();
    for r in [A, B] {
        make_handmade(&real, r, &[("app.jar", r.as_bytes())], &mut a.book);
    }
    symlink(A, real.join("batch")).unwrap();
    symlink(&real, &root).unwrap();
    let h = list_host(&a);
    assert_eq!(h["root"], real.display().to_string(), "{h}");
    assert_eq!(h["current"], A);
    a.step("root is a symlink", &["--all", "switch", B], Want::Ok);
    a.step(
        "root is a symlink",
        &["--all", "deploy", app.to_str().unwrap()],
        Want::Ok,
    );
    assert!(
        fs::symlink_metadata(&root)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    check_host(&real, &a.book, true).unwrap();
    fs::remove_file(&root).unwrap();

    // The root is a file, or a dangling symlink: a clear error, nothing created.
    for case in ["root is a file", "root is a dangling symlink"] {
        if fs::symlink_metadata(&root).is_ok() {
            fs::remove_file(&root).unwrap();
        }
        let gone = canary.join("not-yet");
        if case.contains("file") {
            fs::write(&root, "I am a file").unwrap();
        } else {
            symlink(&gone, &root).unwrap();
        }
        let h = list_host(&a);
        assert_eq!(h["ok"], false, "{case}: {h}");
        let said = if case.contains("file") {
            "exists but is not a directory"
        } else {
            "which does not exist"
        };
        assert!(h["error"].as_str().unwrap().contains(said), "{case}: {h}");
        let said: &'static str = if case.contains("file") {
            "is not a directory"
        } else {
            "which does not exist"
        };
        a.step(case, &["--all", "switch", A], Want::Refused(&[1, 5], said));
        a.step(
            case,
            &["--all", "deploy", app.to_str().unwrap()],
            Want::Refused(&[1, 5], said),
        );
        a.step(
            case,
            &["--all", "prune", "--keep", "0"],
            Want::Refused(&[1, 5], said),
        );
        a.step(case, &["--all", "rollback"], Want::Refused(&[1, 5], said));
        assert!(!gone.exists(), "{case}: created the symlink's target");
        if case.contains("file") {
            assert_eq!(fs::read_to_string(&root).unwrap(), "I am a file");
        }
    }
    fs::remove_file(&root).unwrap();
    eprintln!(
        "FIGURES hostile links and roots as {user}: {} steps",
        a.cases
    );
}

for_users!(entries_named_like_releases_and_hostile_names_on_the_host);
fn entries_named_like_releases_and_hostile_names_on_the_host(user: &str) {
    let mut a = Arena::new(1, user);
    let root = a.f.root(0).to_path_buf();
    let canary = a.canary.clone();
    let t = a.tag.clone();
    const D: &str = "batch_20260104000000";
    const E: &str = "batch_20260105000000";

    // Release-named symlinks to / and to the canary, and a release-named file:
    // foreign, never a release, never a switch target, never deleted or followed.
    for (case, make) in [
        ("release-named symlink to /", 0),
        ("release-named symlink to the canary", 1),
        ("release-named file", 2),
    ] {
        a.reset();
        match make {
            0 => symlink("/", root.join(D)).unwrap(),
            1 => symlink(&canary, root.join(D)).unwrap(),
            _ => fs::write(root.join(D), "a file").unwrap(),
        }
        let h = list_host(&a);
        let names: Vec<&str> = h["releases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [C, B, A], "{case}: {h}");
        assert_eq!(h["foreign"], 1, "{case}: {h}");
        a.step(
            case,
            &["--all", "switch", D],
            Want::Refused(&[5], "not a release directory"),
        );
        a.step(
            case,
            &["--all", "rollback", "--to", D],
            Want::Refused(&[5], D),
        );
        a.step(
            case,
            &["--all", "pin", D, "--for", "1h"],
            Want::Refused(&[5], D),
        );
        a.step(case, &["--all", "prune", "--keep", "0"], Want::Ok);
        a.step(case, &["--all", "rollback"], Want::Ok);
        assert!(
            fs::symlink_metadata(root.join(D)).is_ok(),
            "{case}: removed"
        );
    }

    // Directories whose names try to break the scan's line format or a shell:
    // counted as foreign, listed nowhere as releases, untouched by prune.
    a.reset();
    let hostile: Vec<OsString> = vec![
        format!("{A};touch {t}").into(),
        format!("$(touch {t})").into(),
        format!("`touch {t}`").into(),
        format!("{D}\n{E}").into(),
        format!("{E}\trelease\t{D}\t1").into(),
        format!("{D}\nend").into(),
        "-rf".into(),
        "*".into(),
        "batch_*".into(),
        format!("{D} ").into(),
        format!(" {D}").into(),
        "n".repeat(255).into(),
        OsString::from_vec(b"batch_2026010400000\xff".to_vec()),
        OsString::from_vec(b"\xff\xfe".to_vec()),
    ];
    for n in &hostile {
        let d = root.join(n);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("app.jar"), "hostile").unwrap();
    }
    let h = list_host(&a);
    assert_eq!(h["ok"], true, "{h}");
    assert_eq!(h["foreign"], hostile.len(), "{h}");
    assert_eq!(h["releases"].as_array().unwrap().len(), 3, "{h}");
    let out = a.run(&["list"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(!table.contains(&t) && !table.contains("-rf"), "{table}");
    a.step(
        "hostile names",
        &["--all", "prune", "--keep", "0"],
        Want::Ok,
    );
    a.step("hostile names", &["--all", "switch", A], Want::Ok);
    let app = a.f.dir().join("small-app");
    write_file(&app.join("app.jar"), b"new");
    a.step(
        "hostile names",
        &["--all", "deploy", app.to_str().unwrap()],
        Want::Ok,
    );
    for n in &hostile {
        assert!(root.join(n).join("app.jar").exists(), "{n:?} touched");
    }

    // A release (not live) holding hostile files, symlinks out of it and a hard
    // link to the canary: prune deletes the release, never what its links name.
    a.reset();
    let r = root.join(A);
    fs::write(r.join(format!("x\ny;touch {t}")), "x").unwrap();
    fs::write(r.join("-rf"), "x").unwrap();
    symlink("/", r.join("slash")).unwrap();
    symlink(&canary, r.join("canary-dir")).unwrap();
    symlink(canary.join("precious.txt"), r.join("precious-link")).unwrap();
    fs::hard_link(canary.join("sub/app.jar"), r.join("hard.jar")).unwrap();
    a.step("release with traps", &["--all", "switch", C], Want::Ok);
    a.step(
        "release with traps",
        &["--all", "prune", "--keep", "0"],
        Want::Ok,
    );
    assert!(!r.exists(), "the release was pruned");
    assert!(Path::new("/etc/passwd").exists());

    // A manifest listing paths outside its release: the release shows as invalid,
    // and a deploy over it (live) touches nothing it names.
    a.reset();
    for (rel, bad) in [(B, "../../../canary/precious.txt"), (C, "/etc/passwd")] {
        let m = format!(
            r#"{{"name":"{rel}","created_at":"2026-01-01T00:00:00Z","created_by":"x@y","message":"","files":[{{"path":"app.jar","size":{},"sha256":"{}","mode":420}},{{"path":"{bad}","size":12,"sha256":"{}","mode":420}}]}}"#,
            rel.len(),
            sha256_hex(rel.as_bytes()),
            sha256_hex(b"do not touch"),
        );
        fs::write(root.join(rel).join(".relman.json"), m).unwrap();
    }
    let h = list_host(&a);
    for r in h["releases"].as_array().unwrap() {
        let want = if r["name"] == A { "unknown" } else { "invalid" };
        assert_eq!(r["origin"], want, "{r}");
    }
    let app = a.f.dir().join("escape-app");
    write_file(&app.join("app.jar"), B.as_bytes());
    write_file(&app.join("precious.txt"), b"replaced!");
    write_file(&app.join("canary/precious.txt"), b"replaced!");
    a.step(
        "manifest ../../x",
        &["--all", "deploy", app.to_str().unwrap()],
        Want::Ok,
    );
    a.step(
        "manifest ../../x",
        &["--all", "prune", "--keep", "0"],
        Want::Ok,
    );
    a.step("manifest ../../x", &["--all", "rollback"], Want::Ok);
    eprintln!(
        "FIGURES hostile entries and names as {user}: {} steps",
        a.cases
    );
}

for_users!(relmans_own_state_replaced_by_traps);
fn relmans_own_state_replaced_by_traps(user: &str) {
    let mut a = Arena::new(1, user);
    let root = a.f.root(0).to_path_buf();
    let canary = a.canary.clone();
    let app = a.f.dir().join("small-app");
    write_file(&app.join("app.jar"), b"new");
    let precious = canary.join("precious.txt");

    // Symlinks where relman writes its state: every change refuses to write through
    // them (and says which one), reads still work.
    type Plant<'a> = Box<dyn Fn(&Path) + 'a>;
    let traps: Vec<(&str, Plant<'_>)> = vec![
        (
            ".relman",
            Box::new(|r: &Path| symlink(&canary, r.join(".relman")).unwrap()),
        ),
        (
            ".relman/lock",
            Box::new(|r: &Path| symlink(&precious, r.join(".relman/lock")).unwrap()),
        ),
        (
            ".relman/history.jsonl",
            Box::new(|r: &Path| symlink(&precious, r.join(".relman/history.jsonl")).unwrap()),
        ),
        (
            ".relman/lock.ops",
            Box::new(|r: &Path| symlink(&precious, r.join(".relman/lock.ops")).unwrap()),
        ),
        (
            ".relman/staging",
            Box::new(|r: &Path| symlink(&canary, r.join(".relman/staging")).unwrap()),
        ),
        (
            ".relman/trash",
            Box::new(|r: &Path| symlink(&canary, r.join(".relman/trash")).unwrap()),
        ),
        (
            ".relman/pins",
            Box::new(|r: &Path| symlink(&canary, r.join(".relman/pins")).unwrap()),
        ),
        (
            ".relman/bin",
            Box::new(|r: &Path| symlink(&canary, r.join(".relman/bin")).unwrap()),
        ),
    ];
    for (what, plant) in &traps {
        a.reset();
        if *what != ".relman" {
            fs::create_dir_all(root.join(".relman")).unwrap();
        }
        plant(&root);
        let h = list_host(&a);
        assert_eq!(h["ok"], true, "{what}: reading still works: {h}");
        let case = format!("{what} is a symlink");
        for args in [
            &["--all", "switch", C][..],
            &["--all", "rollback"][..],
            &["--all", "prune", "--keep", "0"][..],
            &["--all", "pin", A, "--for", "1h"][..],
            &["--all", "deploy", app.to_str().unwrap()][..],
        ] {
            a.step(
                &case,
                args,
                Want::Refused(&[1], "will not write through it"),
            );
        }
        assert_eq!(a.link().as_deref(), Some(B), "{case}");
        if matches!(*what, ".relman" | ".relman/lock" | ".relman/history.jsonl") {
            let out = a.run(&["--all", "unlock", "--force"]);
            assert!(
                !stderr(&out).contains("panicked"),
                "{case}: {}",
                stderr(&out)
            );
            a.assert_contained(&format!("{case}: unlock --force"));
            a.cases += 1;
        }
    }

    // Symlinks deeper in the state: an upload in progress, a launcher lock, a pin,
    // the launcher itself. Changes go on, and never through them.
    a.reset();
    let rd = root.join(".relman");
    for d in ["staging", "run", "pins", "bin"] {
        fs::create_dir_all(rd.join(d)).unwrap();
    }
    symlink(&canary, rd.join("staging").join(D)).unwrap();
    symlink(&precious, rd.join("run").join(format!("{A}.lock"))).unwrap();
    symlink(&precious, rd.join("pins/p1.json")).unwrap();
    symlink(&precious, rd.join("bin/launch")).unwrap();
    a.step("deep traps", &["--all", "prune", "--keep", "0"], Want::Ok);
    assert!(
        root.join(A).exists(),
        "a release whose launcher lock is a symlink is kept"
    );
    a.step(
        "deep traps",
        &["--all", "deploy", app.to_str().unwrap()],
        Want::Ok,
    );
    a.step("deep traps", &["--all", "pin", B, "--for", "1h"], Want::Ok);
    assert!(
        !fs::symlink_metadata(rd.join("bin/launch"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the launcher was rewritten as a file"
    );

    // Garbage in relman's files: shown as warnings, never a crash; changes go on.
    a.reset();
    fs::create_dir_all(rd.join("pins")).unwrap();
    let mut junk = b"{\"at\":1}\nnot json\n\x00\x01\x02\xff\xfe\n".to_vec();
    junk.extend(std::iter::repeat_n(b'x', 1 << 20));
    junk.extend_from_slice(b"\n\t\t\t\n");
    fs::write(rd.join("history.jsonl"), &junk).unwrap();
    fs::write(rd.join("lock"), b"\x00garbage\n\t{\"by\":").unwrap();
    fs::write(rd.join("pins/p2.json"), b"{\"release\":\"../../x\"").unwrap();
    fs::write(rd.join("pins/we ird.json"), b"{}").unwrap();
    let h = list_host(&a);
    assert_eq!(h["ok"], true, "{h}");
    assert!(
        h["locked"].is_null(),
        "an unheld lock file is not a lock: {h}"
    );
    a.step("garbage state", &["--all", "switch", C], Want::Ok);
    a.step(
        "garbage state",
        &["--all", "prune", "--keep", "0"],
        Want::Ok,
    );
    let out = a.run(&["history", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    eprintln!("FIGURES hostile relman state as {user}: {} steps", a.cases);
}

const D: &str = "batch_20260104000000";

for_users!(unlock_never_truncates_what_a_planted_lock_symlink_names);
fn unlock_never_truncates_what_a_planted_lock_symlink_names(user: &str) {
    use std::os::unix::process::CommandExt;
    // `unlock --force` empties .relman/lock after killing its holder: with
    // .relman/lock a symlink to a file outside the root (held, naming a pid whose
    // argv says relman/lock), that file must not be emptied.
    let mut a = Arena::new(1, user);
    a.reset();
    let root = a.f.root(0).to_path_buf();
    let bait = a.f.dir().join("bait.json");
    fs::write(&bait, "").unwrap();
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 9>>\"$1\"; flock 9; : > \"$1.held\"; sleep 60 9>&-")
        .arg("relman/lock")
        .arg(&bait)
        .process_group(0)
        .spawn()
        .unwrap();
    let held = PathBuf::from(format!("{}.held", bait.display()));
    assert!(support::wait_until(Duration::from_secs(10), || held.exists()));
    let text = format!(
        "{{\"by\":\"bait\",\"action\":\"deploy\",\"since\":\"2026-01-01T00:00:00Z\",\"pid\":{}}}\n",
        holder.id()
    );
    fs::write(&bait, &text).unwrap();
    fs::create_dir_all(root.join(".relman")).unwrap();
    symlink(&bait, root.join(".relman/lock")).unwrap();
    let out = a.run(&["--all", "unlock", "--force"]);
    let alive = holder.try_wait().unwrap().is_none();
    // SAFETY: kills the process group we started (the holder and its sleep).
    unsafe {
        libc::kill(-(holder.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = holder.wait();
    assert_eq!(
        fs::read_to_string(&bait).unwrap(),
        text,
        "unlock emptied a file outside the root (exit {}: {})",
        code(&out),
        stderr(&out)
    );
    assert!(alive, "unlock killed a process through a planted symlink");
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("will not write through it"),
        "{}",
        stderr(&out)
    );
    a.assert_contained("unlock through a symlink");
}
