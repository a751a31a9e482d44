//! The module graph stays one-way (issue 13): reads the sources of `tui` and
//! `remote::ssh` and fails on any import circle among their modules, naming it.
//!
//! A module is a file (`tui/keymap.rs`) or a directory (`tui/app/`, its files
//! together). An edge is a path that names a sibling: `super::x` in a top-level file or
//! a directory's `mod.rs`, `super::super::x` below that, or `crate::tui::x`. The
//! parent's own `mod.rs` declares and wires every child, so it is not a node; a child
//! naming one of the parent's own items (`super::Item` that is no sibling) is an edge
//! to the parent, which then counts as depending on every child it names.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const PARENT: &str = "(mod.rs)";

/// Every sibling module name found in `path`s after `prefix` (`super::`, ...).
fn named_after(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(prefix) {
        // `super::super::x` is not `super::x` one level down.
        if prefix == "super::" && text[i + prefix.len()..].starts_with("super::") {
            continue;
        }
        if prefix == "super::" && text[..i].ends_with("super::") {
            continue;
        }
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for part in group.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out.retain(|n| !n.is_empty() && n != "self");
    out
}

/// Code only: comments may name anything, and a file's own `mod tests` (at its end,
/// by the project's layout) sits one level deeper.
fn code_of(path: &Path) -> String {
    let mut text = fs::read_to_string(path).unwrap();
    if let Some(i) = text.find("#[cfg(test)]\nmod tests") {
        text.truncate(i);
    }
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The sibling graph of the modules under `dir` (crate path `crate_path`).
fn graph(dir: &Path, crate_path: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, Vec<(PathBuf, bool)>> = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            for f in fs::read_dir(&p).unwrap() {
                let f = f.unwrap().path();
                let top = f.file_name().is_some_and(|n| n == "mod.rs");
                files.entry(name.clone()).or_default().push((f, top));
            }
        } else if name != "mod" && p.extension().is_some_and(|e| e == "rs") {
            files.entry(name).or_default().push((p, true));
        }
    }
    let names: BTreeSet<String> = files.keys().cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |from: &str, to: &str| {
        if from != to {
            edges.entry(from.into()).or_default().insert(to.into());
        }
    };
    for (module, paths) in &files {
        for (path, top) in paths {
            let code = code_of(path);
            let up = if *top { "super::" } else { "super::super::" };
            for n in named_after(&code, up) {
                if names.contains(&n) {
                    add(module, &n);
                } else if n != "*" {
                    add(module, PARENT);
                }
            }
            for n in named_after(&code, &format!("{crate_path}::")) {
                if names.contains(&n) {
                    add(module, &n);
                }
            }
        }
    }
    let parent = code_of(&dir.join("mod.rs"));
    for n in &names {
        let named = named_after(&parent, &format!("{n}::"));
        if !named.is_empty() || parent.contains(&format!("use {n}::")) {
            add(PARENT, n);
        }
    }
    edges
}

/// One circle in `edges`, as `a -> b -> a`, if there is any.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c.join(" -> "));
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn tui_modules_import_one_way() {
    let g = graph(&src().join("tui"), "crate::tui");
    assert_eq!(circle(&g), None, "import circle among tui modules: {g:?}");
    // The app never asks the view anything; the worker never imports the app.
    assert!(!g["app"].contains("view"), "tui::app imports tui::view");
    assert!(!g["worker"].contains("app"), "tui::worker imports tui::app");
}

#[test]
fn ssh_modules_import_one_way() {
    let g = graph(&src().join("remote/ssh"), "crate::remote::ssh");
    assert_eq!(circle(&g), None, "import circle among ssh modules: {g:?}");
    assert!(!g["conn"].iter().any(|m| m != "proxy"), "conn is a leaf");
}

#[test]
fn the_check_sees_a_circle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("app".into()).or_default().insert("view".into());
    g.entry("view".into()).or_default().insert("layout".into());
    assert_eq!(circle(&g), None);
    g.entry("layout".into()).or_default().insert("app".into());
    assert_eq!(circle(&g).as_deref(), Some("app -> view -> layout -> app"));
    let n = named_after(
        "use super::{keymap, theme::Theme};\nsuper::super::x",
        "super::",
    );
    assert_eq!(n, ["keymap", "theme"]);
}

#[test]
fn test_only_code_lives_in_tests() {
    // The console's fixture fleet and SVG writer are for tests (tests/support/).
    let tui = code_of(&src().join("tui/mod.rs"));
    for m in ["fixture", "svg"] {
        assert!(
            !tui.contains(&format!("mod {m};")),
            "tui::{m} is back in the library"
        );
        assert!(
            !src().join(format!("tui/{m}.rs")).exists(),
            "src/tui/{m}.rs"
        );
    }
}
