//! Property tests for what stands between relman and hostile text: the scan-output
//! parser (a host's answer), and shell quoting (anything relman sends to a shell).
//!
//! The scan parser: any well-formed answer round-trips (names, sizes, manifests,
//! links with any bytes in their target); any answer cut short is refused (never
//! half-believed), whatever the cut. Quoting: any string (but NUL) reaches the
//! shell as exactly one word with exactly its bytes, as a script parameter too.
//! Release names: the shell's `is_release` (lib.sh) and the launcher's
//! `_relman_is_release`, run by dash and busybox sh, agree with `ReleaseName::parse`
//! on every name.

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use relman::model::{LinkState, Origin, ReleaseName};
use relman::remote::quote::quote;
use relman::remote::script::Script;
use relman::remote::wire::parse_scan;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One release as a host would report it.
#[derive(Debug, Clone)]
struct Rel {
    name: String,
    size: Option<u64>,
    manifest_message: Option<String>,
}

#[derive(Debug, Clone)]
enum Link {
    Absent,
    Release(usize, bool),
    Dangling(Vec<u8>),
    Outside(Vec<u8>),
    NotRelease(Vec<u8>),
    NotSymlink,
}

#[derive(Debug, Clone)]
struct Scan {
    root: Vec<u8>,
    rels: Vec<Rel>,
    link: Link,
    foreign: usize,
    held_by: Option<String>,
    history_notes: Vec<String>,
}

fn release_name() -> impl Strategy<Value = String> {
    (
        2000u32..2100,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..60,
        prop_oneof![Just(0u32), 1u32..1000],
    )
        .prop_map(|(y, mo, d, h, mi, s, n)| {
            let base = format!("batch_{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}");
            if n == 0 { base } else { format!("{base}.{n}") }
        })
}

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..40)
}

fn scan_strategy() -> impl Strategy<Value = Scan> {
    (
        proptest::collection::vec(any::<u8>(), 0..30),
        proptest::collection::btree_set(release_name(), 0..6),
        proptest::collection::vec(
            (
                proptest::option::of(0u64..u64::MAX / 2),
                proptest::option::of("\\PC{0,30}"),
            ),
            6,
        ),
        0usize..6,
        any_bytes(),
        any::<bool>(),
        0usize..1000,
        proptest::option::of("\\PC{0,20}"),
        proptest::collection::vec("\\PC{0,30}", 0..4),
    )
        .prop_map(
            |(root, names, extra, link_kind, target, abs, foreign, held_by, notes)| {
                let rels: Vec<Rel> = names
                    .into_iter()
                    .zip(extra)
                    .map(|(name, (size, msg))| Rel {
                        name,
                        size,
                        manifest_message: msg,
                    })
                    .collect();
                let link = match link_kind {
                    0 => Link::Absent,
                    1 if !rels.is_empty() => Link::Release(foreign % rels.len(), abs),
                    1 | 2 => Link::Dangling(target),
                    3 => Link::Outside(target),
                    4 => Link::NotRelease(target),
                    _ => Link::NotSymlink,
                };
                let mut r = b"/".to_vec();
                r.extend(root.into_iter().filter(|b| *b != b'\n' && *b != 0));
                let root = String::from_utf8_lossy(&r).into_owned().into_bytes();
                Scan {
                    root,
                    rels,
                    link,
                    foreign,
                    held_by,
                    history_notes: notes,
                }
            },
        )
}

/// The scan output (format v1) a host would print for `s`.
fn render(s: &Scan) -> String {
    let mut o = String::from("relman-scan\t1\nnow\t1795000000\n");
    o += &format!("root\tok\t{}\t0\n", hex(&s.root));
    o += &match &s.link {
        Link::Absent => "link\tabsent\t\t0\n".into(),
        Link::NotSymlink => "link\tnotsymlink\t\t0\n".into(),
        Link::Release(i, abs) => {
            format!("link\trelease\t{}\t{}\n", s.rels[*i].name, u8::from(*abs))
        }
        Link::Dangling(t) => format!("link\tdangling\t{}\t0\n", hex(t)),
        Link::Outside(t) => format!("link\toutside\t{}\t1\n", hex(t)),
        Link::NotRelease(t) => format!("link\tnotrelease\t{}\t0\n", hex(t)),
    };
    o += &format!("foreign\t{}\n", s.foreign);
    for r in &s.rels {
        let size = r.size.map_or("?".to_string(), |n| n.to_string());
        o += &format!("release\t{}\t{size}\tok\n", r.name);
        if let Some(msg) = &r.manifest_message {
            let m = serde_json::json!({
                "name": r.name, "created_at": "2026-01-01T00:00:00Z", "created_by": "a@b",
                "message": msg,
                "files": [{"path": "app.jar", "size": 1, "sha256": "00", "mode": 420}],
            });
            // As scan.sh sends it: tabs, newlines and CRs of the file become spaces.
            let line = m.to_string().replace(['\t', '\n', '\r'], " ");
            o += &format!("manifest\t{}\t{line}\n", r.name);
        }
    }
    match &s.held_by {
        None => o += "lock\tfree\n",
        Some(by) => {
            let info =
                serde_json::json!({"by": by, "action": "deploy", "since": "2026-01-01T00:00:00Z"});
            o += &format!(
                "lock\theld\nlockinfo\t{}\n",
                info.to_string().replace(['\t', '\n', '\r'], " ")
            );
        }
    }
    for n in &s.history_notes {
        let h = serde_json::json!({"at": "2026-01-01T00:00:00Z", "by": "a@b", "action": "switch",
            "from": null, "to": "batch_20260101000000", "note": n});
        o += &format!("history\t{}\n", h.to_string().replace(['\t', '\r'], " "));
    }
    o += "procs\t10\t0\tknown\nclock\t100\t1794990000\nend\n";
    o
}

fn run_sh(script: &str) -> Vec<u8> {
    let mut c = Command::new("sh")
        .arg("-s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write");
    c.wait_with_output().expect("sh output").stdout
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_well_formed_scan_round_trips(s in scan_strategy()) {
        let text = render(&s);
        let st = parse_scan(text.as_bytes(), "deploy", "batch", "batch_")
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(st.root_abs.as_bytes(), &s.root[..]);
        prop_assert_eq!(st.foreign, s.foreign);
        let mut want: Vec<ReleaseName> = s.rels.iter()
            .map(|r| ReleaseName::parse("batch_", &r.name).unwrap()).collect();
        want.sort();
        want.reverse();
        let got: Vec<ReleaseName> = st.releases.iter().map(|r| r.name.clone()).collect();
        prop_assert_eq!(got, want, "newest first");
        for r in &s.rels {
            let g = st.release(&r.name).unwrap();
            prop_assert_eq!(g.size_bytes, r.size.unwrap_or(0));
            match (&r.manifest_message, &g.origin) {
                (None, Origin::Unknown) => {}
                (Some(m), Origin::Relman(man)) => {
                    // What the host could carry on one line: tabs and newlines as spaces.
                    prop_assert_eq!(&man.message, &m.replace(['\t', '\n', '\r'], " "));
                }
                (want, got) => prop_assert!(false, "{want:?} vs {got:?}"),
            }
        }
        let lossy = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
        match (&s.link, &st.link) {
            (Link::Absent, LinkState::Absent) | (Link::NotSymlink, LinkState::NotSymlink) => {}
            (Link::Release(i, abs), LinkState::Release { name, absolute }) => {
                prop_assert_eq!(name.as_str(), s.rels[*i].name.as_str());
                prop_assert_eq!(abs, absolute);
            }
            (Link::Dangling(t), LinkState::Dangling { target })
            | (Link::Outside(t), LinkState::Outside { target })
            | (Link::NotRelease(t), LinkState::NotRelease { target }) => {
                prop_assert_eq!(target, &lossy(t));
            }
            (a, b) => prop_assert!(false, "{a:?} vs {b:?}"),
        }
        prop_assert_eq!(st.lock.as_ref().map(|l| l.by.clone()), s.held_by.clone());
        prop_assert_eq!(st.history.len(), s.history_notes.len());
        prop_assert!(st.warnings.is_empty(), "{:?}", st.warnings);
    }

    #[test]
    fn any_cut_short_scan_is_refused(s in scan_strategy(), at in any::<proptest::sample::Index>()) {
        let text = render(&s);
        // Everything before the final "end": the answer is incomplete.
        let body = text.len() - "end\n".len();
        let cut = at.index(body);
        let r = parse_scan(&text.as_bytes()[..cut], "deploy", "batch", "batch_");
        prop_assert!(r.is_err(), "a scan cut at byte {} of {} was accepted", cut, text.len());
    }

    #[test]
    fn a_scan_missing_any_structural_line_is_refused(s in scan_strategy(), at in any::<proptest::sample::Index>()) {
        // Dropping the header or the end record is always noticed.
        let text = render(&s);
        let lines: Vec<&str> = text.lines().collect();
        let i = if at.index(2) == 0 { 0 } else { lines.len() - 1 };
        let mut kept: Vec<&str> = lines.clone();
        kept.remove(i);
        let t = kept.join("\n") + "\n";
        prop_assert!(parse_scan(t.as_bytes(), "deploy", "batch", "batch_").is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn quoted_words_reach_the_shell_whole(a in "[^\\x00]{0,60}", b in "\\PC{0,20}") {
        // Two quoted words stay two arguments with exactly their text.
        let script = format!("printf '%s\\0' {} {}", quote(&a).unwrap(), quote(&b).unwrap());
        let out = run_sh(&script);
        let want = format!("{a}\0{b}\0");
        prop_assert_eq!(String::from_utf8_lossy(&out), want);
    }

    #[test]
    fn script_parameters_arrive_exactly(v in "[^\\x00]{0,80}", w in "('|\\\\|\\$\\(|`|\\n|;|\"|[a-z ])*") {
        // As every remote script gets its parameters: `NAME='...'` lines, then the body.
        let body: &'static str = "printf '%s\\0%s' \"$X\" \"$Y\"";
        let text = Script::bare(body).param("X", v.clone()).param("Y", w.clone()).render().unwrap();
        let out = run_sh(&text);
        prop_assert_eq!(String::from_utf8_lossy(&out), format!("{v}\0{w}"));
    }

    #[test]
    fn nul_is_always_refused(a in "\\PC{0,10}", b in "\\PC{0,10}") {
        let s = format!("{a}\0{b}");
        prop_assert!(quote(&s).is_err());
        prop_assert!(Script::bare("true").param("X", s).render().is_err());
    }
}

/// Runs `is_release` (lib.sh) and the launcher's `_relman_is_release` under `shell`
/// (e.g. `["dash"]`, `["busybox", "sh"]`) on each name: `(lib, launcher)` per name.
fn shell_verdicts(shell: &[&str], names: &[String]) -> Vec<(bool, bool)> {
    let launch = relman::remote::script::LAUNCH;
    let start = launch
        .find("_relman_is_release() {")
        .expect("the launcher defines _relman_is_release");
    let len = launch[start..].find("\n}\n").expect("its end") + 3;
    let mut script = String::from("PREFIX=batch_\nRELMAN_PREFIX=batch_\n");
    script += relman::remote::script::LIB;
    script += "\n";
    script += &launch[start..start + len];
    for n in names {
        let q = quote(n).unwrap();
        script += &format!(
            "if is_release {q}; then printf 1; else printf 0; fi\n\
             if _relman_is_release {q}; then echo 1; else echo 0; fi\n"
        );
    }
    let mut c = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-s")
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
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<(bool, bool)> = text
        .lines()
        .map(|l| (l.as_bytes()[0] == b'1', l.as_bytes()[1] == b'1'))
        .collect();
    assert_eq!(
        v.len(),
        names.len(),
        "{shell:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

fn assert_names_agree(names: &[String]) -> Result<(), TestCaseError> {
    for shell in [&["dash"][..], &["busybox", "sh"][..]] {
        for (n, (lib, launcher)) in names.iter().zip(shell_verdicts(shell, names)) {
            let rust = ReleaseName::parse("batch_", n).is_ok();
            prop_assert_eq!(
                lib,
                rust,
                "{:?}: lib.sh is_release ({:?}) vs ReleaseName",
                n,
                shell
            );
            prop_assert_eq!(
                launcher,
                rust,
                "{:?}: launcher _relman_is_release ({:?}) vs ReleaseName",
                n,
                shell
            );
        }
    }
    Ok(())
}

#[test]
fn shell_and_rust_agree_on_edge_case_names() {
    let names: Vec<String> = [
        ("batch_20280229000000", true),
        ("batch_20260229000000", false),
        ("batch_20000229000000", true),
        ("batch_21000229000000", false),
        ("batch_20261126235959", true),
        ("batch_20261126240000", false),
        ("batch_20261126236000", false),
        ("batch_20261126235960", false),
        ("batch_20261301000000", false),
        ("batch_20261200000000", false),
        ("batch_20261231000000", true),
        ("batch_20260431000000", false),
        ("batch_20260430000000", true),
        ("batch_19700101000000", true),
        ("batch_19691231235959", false),
        ("batch_99991231235959", true),
        ("batch_00000101000000", false),
        ("batch_08000229000000", false),
        ("batch_20261126221500.0", false),
        ("batch_20261126221500.01", false),
        ("batch_20261126221500.1", true),
        ("batch_20261126221500.999999999", true),
        ("batch_20261126221500.1234567890", false),
        ("batch_20261126221500.12345678901", false),
        ("batch_20261126221500.", false),
        ("batch_20261126221500.1.2", false),
        ("batch_20261126221500.1a", false),
        ("batch_2026112622150", false),
        ("batch_202611262215000", false),
        ("batch_2026112622150a", false),
        ("batch_ 2026112622150", false),
        ("batch_+2026112622150", false),
        ("batch_-2026112622150", false),
        ("batch_20261126221500/", false),
        ("batch_20261126221500\n", false),
        ("batch_2026112622150\u{0663}", false),
        ("batch_", false),
        ("batch_*", false),
        ("other_20261126221500", false),
        ("", false),
    ]
    .iter()
    .map(|(n, want)| {
        assert_eq!(
            ReleaseName::parse("batch_", n).is_ok(),
            *want,
            "ReleaseName on {n:?}"
        );
        n.to_string()
    })
    .collect();
    assert_names_agree(&names).unwrap();
}

/// Names near the edges of every field: digits of any value in each place, `.N`
/// of any length, with and without leading zeros.
fn edgy_name() -> impl Strategy<Value = String> {
    (
        prop_oneof![1960u32..2110, 0u32..10000],
        0u32..14,
        0u32..33,
        0u32..26,
        prop_oneof![0u32..61, 0u32..100],
        prop_oneof![0u32..61, 0u32..100],
        prop_oneof![
            Just(String::new()),
            "\\.[0-9]{0,11}",
            "\\.[1-9][0-9]{0,10}",
            "[.a-z ]{1,3}"
        ],
    )
        .prop_map(|(y, mo, d, h, mi, s, tail)| {
            format!("batch_{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{tail}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn shell_and_rust_agree_on_generated_names(names in proptest::collection::vec(edgy_name(), 150)) {
        assert_names_agree(&names)?;
    }
}
