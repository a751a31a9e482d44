//! The local side of a deploy: which files the operator's paths name, where each
//! lands in the release, its mode, and its sha256.
//!
//! Everything that can make a deploy fail because of its input is found here, before
//! relman connects to any host: a missing path, nothing to deploy, a symlink leading
//! outside the given paths, a socket, device or FIFO, a file that can't be read, a
//! name holding a newline or another control character, two files landing on one
//! path, the manifest's own name.
//!
//! Rules (also in ARCHITECTURE.md / the README):
//! - a directory argument contributes its *contents* (its own name is not kept); a
//!   file argument lands at the top of the release under its own name;
//! - an argument that is itself a symlink is followed (the operator named it);
//! - inside a directory, a symlink to a file inside one of the given paths is
//!   deployed as a copy of that file; a symlink to anything else (outside, a
//!   directory, nothing) is refused;
//! - modes are normalised: `0755` when any execute bit is set, else `0644`;
//! - empty directories are not deployed (a manifest lists files).

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::model::ManifestFile;

/// The name of the manifest inside a release; no deployed file may take it.
pub const MANIFEST_NAME: &str = ".relman.json";

/// A file to deploy, before hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry {
    /// Where it lands in the release: relative, `/`-separated, no `.`/`..`, no control chars.
    pub rel_path: String,
    /// Where relman reads it (a symlink inside the given paths is resolved).
    pub abs: PathBuf,
    pub size: u64,
    /// `0o755` or `0o644`.
    pub mode: u32,
}

/// A file to deploy with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub rel_path: String,
    pub abs: PathBuf,
    pub size: u64,
    pub mode: u32,
    /// Lowercase hex.
    pub sha256: String,
}

impl LocalFile {
    pub fn manifest_file(&self) -> ManifestFile {
        ManifestFile {
            path: self.rel_path.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            mode: self.mode,
        }
    }
}

/// Why the local input can't be deployed. Each is one line naming the path.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("nothing to deploy: no paths given")]
    NoPaths,
    #[error("{0}: no such file or directory")]
    Missing(String),
    #[error("nothing to deploy: {0} holds no files")]
    Empty(String),
    #[error("{path}: symlink to {target}, outside the paths being deployed (refused)")]
    SymlinkOutside { path: String, target: String },
    #[error(
        "{path}: symlink to a directory ({target}); relman deploys files, not links to directories"
    )]
    SymlinkToDir { path: String, target: String },
    #[error("{0}: dangling symlink (its target does not exist)")]
    Dangling(String),
    #[error("{path}: is a {kind}; only regular files and directories can be deployed")]
    Special { path: String, kind: &'static str },
    #[error("{path}: cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{0}: the name holds a newline or another control character (refused)")]
    ControlChar(String),
    #[error("{0}: the name is not valid UTF-8 (refused)")]
    NotUtf8(String),
    #[error("two files would land at {rel}: {first} and {second}")]
    Duplicate {
        rel: String,
        first: String,
        second: String,
    },
    #[error("{rel} is both a file ({file}) and a directory in the release")]
    FileDirClash { rel: String, file: String },
    #[error("{0}: the name .relman.json is reserved for relman's manifest")]
    Reserved(String),
    #[error("{0}: changed while relman was reading it; deploy again once it is complete")]
    Changed(String),
}

/// A path as shown in an error: `{:?}`-style escapes for anything unprintable.
fn show(p: &Path) -> String {
    let s = p.to_string_lossy();
    if s.chars().any(char::is_control) {
        format!("{s:?}")
    } else {
        s.into_owned()
    }
}

/// Normalised mode: executable for everyone if any x bit is set.
pub fn normal_mode(unix_mode: u32) -> u32 {
    if unix_mode & 0o111 != 0 { 0o755 } else { 0o644 }
}

/// Checks one file name (a path component) and returns it as UTF-8.
fn component(name: &std::ffi::OsStr, whole: &Path) -> Result<String, InputError> {
    let s = name
        .to_str()
        .ok_or_else(|| InputError::NotUtf8(show(whole)))?;
    if s.chars().any(char::is_control) {
        return Err(InputError::ControlChar(show(whole)));
    }
    Ok(s.to_string())
}

fn special_kind(m: &Metadata) -> Option<&'static str> {
    let t = m.file_type();
    if t.is_socket() {
        Some("socket")
    } else if t.is_fifo() {
        Some("FIFO (named pipe)")
    } else if t.is_block_device() {
        Some("block device")
    } else if t.is_char_device() {
        Some("character device")
    } else if !t.is_file() && !t.is_dir() && !t.is_symlink() {
        Some("special file")
    } else {
        None
    }
}

/// Opens a regular file for reading, so an unreadable one is refused up front.
fn check_readable(path: &Path, shown: &Path) -> Result<(), InputError> {
    File::open(path)
        .map(drop)
        .map_err(|e| InputError::Unreadable {
            path: show(shown),
            reason: io_reason(&e),
        })
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::NotFound => "it vanished".into(),
        _ => e.to_string(),
    }
}

/// One argument, resolved.
struct Arg {
    given: PathBuf,
    /// Canonical path (symlinks resolved).
    real: PathBuf,
    is_dir: bool,
}

/// Walks the operator's paths: every file to deploy with its place in the release,
/// sorted by that place. Reads no file content (see [`hash`]), but opens each file
/// once so an unreadable one is refused before anything is sent.
pub fn walk(paths: &[PathBuf]) -> Result<Vec<LocalEntry>, InputError> {
    if paths.is_empty() {
        return Err(InputError::NoPaths);
    }
    let mut args = Vec::new();
    for p in paths {
        if let Some(name) = p.file_name() {
            component(name, p)?;
        } else if p.to_str().is_some_and(|s| s.chars().any(char::is_control)) {
            return Err(InputError::ControlChar(show(p)));
        }
        let lm = fs::symlink_metadata(p).map_err(|_| InputError::Missing(show(p)))?;
        let m = if lm.file_type().is_symlink() {
            fs::metadata(p).map_err(|_| InputError::Dangling(show(p)))?
        } else {
            lm
        };
        if let Some(kind) = special_kind(&m) {
            return Err(InputError::Special {
                path: show(p),
                kind,
            });
        }
        let real = fs::canonicalize(p).map_err(|e| InputError::Unreadable {
            path: show(p),
            reason: io_reason(&e),
        })?;
        args.push(Arg {
            given: p.clone(),
            real,
            is_dir: m.is_dir(),
        });
    }
    let roots: Vec<PathBuf> = args.iter().map(|a| a.real.clone()).collect();
    // rel path → the local path that put it there (for duplicate messages).
    let mut out: BTreeMap<String, LocalEntry> = BTreeMap::new();
    let mut shown_from: BTreeMap<String, String> = BTreeMap::new();
    for a in &args {
        let mut found = Vec::new();
        if a.is_dir {
            walk_dir(&a.given, &a.real, "", &roots, &mut found)?;
            if found.is_empty() {
                return Err(InputError::Empty(show(&a.given)));
            }
        } else {
            let name = a
                .given
                .file_name()
                .or_else(|| a.real.file_name())
                .ok_or_else(|| InputError::Missing(show(&a.given)))?;
            let rel = component(name, &a.given)?;
            if rel == "." || rel == ".." {
                return Err(InputError::Missing(show(&a.given)));
            }
            let m = fs::metadata(&a.real).map_err(|e| InputError::Unreadable {
                path: show(&a.given),
                reason: io_reason(&e),
            })?;
            check_readable(&a.real, &a.given)?;
            found.push((
                LocalEntry {
                    rel_path: rel,
                    abs: a.real.clone(),
                    size: m.len(),
                    mode: normal_mode(m.permissions().mode()),
                },
                show(&a.given),
            ));
        }
        for (e, shown) in found {
            if e.rel_path == MANIFEST_NAME {
                return Err(InputError::Reserved(shown));
            }
            if let Some(first) = shown_from.get(&e.rel_path) {
                return Err(InputError::Duplicate {
                    rel: e.rel_path.clone(),
                    first: first.clone(),
                    second: shown,
                });
            }
            shown_from.insert(e.rel_path.clone(), shown);
            out.insert(e.rel_path.clone(), e);
        }
    }
    // A file at `lib` and another at `lib/a.jar` can't both exist.
    for rel in out.keys() {
        let mut prefix = rel.as_str();
        while let Some(i) = prefix.rfind('/') {
            prefix = &prefix[..i];
            if let Some(f) = shown_from.get(prefix) {
                return Err(InputError::FileDirClash {
                    rel: prefix.to_string(),
                    file: f.clone(),
                });
            }
        }
    }
    Ok(out.into_values().collect())
}

fn walk_dir(
    shown: &Path,
    dir: &Path,
    rel: &str,
    roots: &[PathBuf],
    out: &mut Vec<(LocalEntry, String)>,
) -> Result<(), InputError> {
    let rd = fs::read_dir(dir).map_err(|e| InputError::Unreadable {
        path: show(shown),
        reason: io_reason(&e),
    })?;
    let mut entries = Vec::new();
    for e in rd {
        let e = e.map_err(|e| InputError::Unreadable {
            path: show(shown),
            reason: io_reason(&e),
        })?;
        entries.push(e.file_name());
    }
    entries.sort();
    for name in entries {
        let shown_child = shown.join(&name);
        let path = dir.join(&name);
        let n = component(&name, &shown_child)?;
        let child_rel = if rel.is_empty() {
            n
        } else {
            format!("{rel}/{n}")
        };
        let lm = fs::symlink_metadata(&path).map_err(|e| InputError::Unreadable {
            path: show(&shown_child),
            reason: io_reason(&e),
        })?;
        let (real, m) = if lm.file_type().is_symlink() {
            let target = fs::read_link(&path)
                .map(|t| show(&t))
                .unwrap_or_else(|_| "?".into());
            let Ok(real) = fs::canonicalize(&path) else {
                return Err(InputError::Dangling(show(&shown_child)));
            };
            if !roots.iter().any(|r| real.starts_with(r)) {
                return Err(InputError::SymlinkOutside {
                    path: show(&shown_child),
                    target,
                });
            }
            let m = fs::metadata(&real).map_err(|_| InputError::Dangling(show(&shown_child)))?;
            if m.is_dir() {
                return Err(InputError::SymlinkToDir {
                    path: show(&shown_child),
                    target,
                });
            }
            (real, m)
        } else {
            (path.clone(), lm)
        };
        if let Some(kind) = special_kind(&m) {
            return Err(InputError::Special {
                path: show(&shown_child),
                kind,
            });
        }
        if m.is_dir() {
            walk_dir(&shown_child, &real, &child_rel, roots, out)?;
        } else {
            check_readable(&real, &shown_child)?;
            out.push((
                LocalEntry {
                    rel_path: child_rel,
                    abs: real,
                    size: m.len(),
                    mode: normal_mode(m.permissions().mode()),
                },
                show(&shown_child),
            ));
        }
    }
    Ok(())
}

/// sha256 of one file, checking it still has the size the walk saw.
pub fn hash_file(e: &LocalEntry) -> Result<LocalFile, InputError> {
    let unreadable = |err: io::Error| InputError::Unreadable {
        path: show(&e.abs),
        reason: io_reason(&err),
    };
    let mut f = File::open(&e.abs).map_err(unreadable)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(unreadable(err)),
        };
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    if n_total != e.size {
        return Err(InputError::Changed(show(&e.abs)));
    }
    Ok(LocalFile {
        rel_path: e.rel_path.clone(),
        abs: e.abs.clone(),
        size: e.size,
        mode: e.mode,
        sha256: hex::encode(h.finalize()),
    })
}

/// Hashes every entry, on up to `threads` threads (big files dominate; the rest
/// spread). Results keep the entries' order.
pub fn hash(entries: &[LocalEntry], threads: usize) -> Result<Vec<LocalFile>, InputError> {
    // Largest first, so one big file doesn't start last.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(entries[i].size));
    let mut hashed = crate::ops::fleet::par_map(order.len(), threads, |k| {
        let i = order[k];
        (i, hash_file(&entries[i]))
    });
    hashed.sort_by_key(|(i, _)| *i);
    hashed.into_iter().map(|(_, r)| r).collect()
}

/// [`walk`] then [`hash`].
pub fn collect(paths: &[PathBuf]) -> Result<Vec<LocalFile>, InputError> {
    let entries = walk(paths)?;
    hash(&entries, hash_threads())
}

/// How many threads hash local files.
pub fn hash_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4)
}

/// The directories a set of release paths needs, parents before children.
pub fn dirs_of<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut dirs = std::collections::BTreeSet::new();
    for p in paths {
        let mut d = p;
        while let Some(i) = d.rfind('/') {
            d = &d[..i];
            dirs.insert(d.to_string());
        }
    }
    // BTreeSet order puts "a" before "a/b": parents first.
    dirs.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(p: &Path, data: &[u8], mode: u32) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn rels(v: &[LocalEntry]) -> Vec<&str> {
        v.iter().map(|e| e.rel_path.as_str()).collect()
    }

    #[test]
    fn a_dir_contributes_its_contents_and_a_file_its_name() {
        let d = tempfile::tempdir().unwrap();
        let app = d.path().join("build");
        write(&app.join("app.jar"), b"jar", 0o600);
        write(&app.join("lib/a.jar"), b"a", 0o644);
        write(&app.join("bin/run.sh"), b"#!/bin/sh\n", 0o700);
        write(&d.path().join("extra/config.yml"), b"x: 1", 0o644);
        let v = walk(&[app.clone(), d.path().join("extra/config.yml")]).unwrap();
        assert_eq!(
            rels(&v),
            ["app.jar", "bin/run.sh", "config.yml", "lib/a.jar"]
        );
        let run = v.iter().find(|e| e.rel_path == "bin/run.sh").unwrap();
        assert_eq!(run.mode, 0o755, "exec bit kept");
        assert_eq!(v[0].mode, 0o644, "0600 normalised to 0644");
        let files = hash(&v, 2).unwrap();
        assert_eq!(
            files[0].sha256,
            hex::encode(Sha256::digest(b"jar")),
            "sha256 of the content"
        );
        assert_eq!(files[2].size, 4);
    }

    #[test]
    fn inputs_that_cannot_be_deployed_are_refused_with_the_path() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        // missing
        let e = walk(&[base.join("nope")]).unwrap_err();
        assert!(matches!(e, InputError::Missing(_)), "{e}");
        assert!(e.to_string().contains("nope"));
        // empty dir (and a dir holding only empty dirs)
        fs::create_dir_all(base.join("empty/sub")).unwrap();
        let e = walk(&[base.join("empty")]).unwrap_err();
        assert!(matches!(e, InputError::Empty(_)), "{e}");
        // newline in a name
        write(&base.join("nl/a\nb.jar"), b"x", 0o644);
        let e = walk(&[base.join("nl")]).unwrap_err();
        assert!(matches!(e, InputError::ControlChar(_)), "{e}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
        // dangling symlink
        fs::create_dir_all(base.join("dang")).unwrap();
        symlink(base.join("gone"), base.join("dang/x.jar")).unwrap();
        let e = walk(&[base.join("dang")]).unwrap_err();
        assert!(matches!(e, InputError::Dangling(_)), "{e}");
        // FIFO
        fs::create_dir_all(base.join("fifo")).unwrap();
        let f = base.join("fifo/p");
        let c = std::ffi::CString::new(f.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = walk(&[base.join("fifo")]).unwrap_err();
        assert!(matches!(e, InputError::Special { .. }), "{e}");
        assert!(e.to_string().contains("FIFO"));
        // a FIFO named directly
        let e = walk(std::slice::from_ref(&f)).unwrap_err();
        assert!(matches!(e, InputError::Special { .. }), "{e}");
        // no paths
        assert!(matches!(walk(&[]), Err(InputError::NoPaths)));
    }

    #[test]
    fn symlinks_inside_are_files_outside_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let app = d.path().join("app");
        write(&app.join("lib/real.jar"), b"real", 0o644);
        symlink("lib/real.jar", app.join("current.jar")).unwrap();
        let v = walk(std::slice::from_ref(&app)).unwrap();
        assert_eq!(rels(&v), ["current.jar", "lib/real.jar"]);
        assert_eq!(v[0].size, 4);
        write(&d.path().join("secret"), b"s", 0o600);
        symlink(d.path().join("secret"), app.join("leak")).unwrap();
        let e = walk(std::slice::from_ref(&app)).unwrap_err();
        assert!(matches!(e, InputError::SymlinkOutside { .. }), "{e}");
        fs::remove_file(app.join("leak")).unwrap();
        symlink("lib", app.join("libdir")).unwrap();
        let e = walk(&[app]).unwrap_err();
        assert!(matches!(e, InputError::SymlinkToDir { .. }), "{e}");
    }

    #[test]
    fn duplicates_clashes_and_the_manifest_name_are_refused() {
        let d = tempfile::tempdir().unwrap();
        write(&d.path().join("a/app.jar"), b"1", 0o644);
        write(&d.path().join("b/app.jar"), b"2", 0o644);
        let e = walk(&[d.path().join("a"), d.path().join("b")]).unwrap_err();
        assert!(matches!(e, InputError::Duplicate { .. }), "{e}");
        let e = walk(&[d.path().join("a"), d.path().join("b/app.jar")]).unwrap_err();
        assert!(matches!(e, InputError::Duplicate { .. }), "{e}");
        write(&d.path().join("c/lib"), b"file", 0o644);
        write(&d.path().join("e/lib/x.jar"), b"x", 0o644);
        let e = walk(&[d.path().join("c"), d.path().join("e")]).unwrap_err();
        assert!(matches!(e, InputError::FileDirClash { .. }), "{e}");
        write(&d.path().join("m/.relman.json"), b"{}", 0o644);
        let e = walk(&[d.path().join("m")]).unwrap_err();
        assert!(matches!(e, InputError::Reserved(_)), "{e}");
        // Deeper down the name is harmless.
        write(&d.path().join("n/conf/.relman.json"), b"{}", 0o644);
        assert!(walk(&[d.path().join("n")]).is_ok());
    }

    #[test]
    fn a_file_that_changes_size_after_the_walk_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("app.jar");
        write(&f, b"12345", 0o644);
        let v = walk(std::slice::from_ref(&f)).unwrap();
        fs::write(&f, b"123").unwrap();
        assert!(matches!(hash(&v, 1), Err(InputError::Changed(_))));
    }

    #[test]
    fn dirs_come_parents_first() {
        assert_eq!(
            dirs_of(["a/b/c.jar", "a/d.jar", "x.jar", "z/y/w"]),
            ["a", "a/b", "z", "z/y"]
        );
    }
}
