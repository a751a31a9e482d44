//! Logs go to files in the platform data dir (`~/.local/share/relman/`, or
//! `$XDG_DATA_HOME/relman/`), never to the screen: the console owns the terminal, and
//! `--json` owns stdout.
//!
//! One file a day (`relman.YYYY-MM-DD.log`, UTC), the newest [`KEEP`] kept, and
//! `relman.log` a symlink to the current one (for `tail -f`). Every relman process
//! appends to the same day's file (`O_APPEND`), so concurrent runs (a CI fleet) share
//! it line by line. Levels: info by default, `-v` debug, `-vv` trace; `RUST_LOG`
//! (an `EnvFilter`, e.g. `RUST_LOG=relman=trace`) replaces them when set.

use std::path::{Path, PathBuf};

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

/// How many daily files are kept (older ones are deleted when a process starts).
pub const KEEP: usize = 14;

const PREFIX: &str = "relman";
const SUFFIX: &str = "log";
/// The stable name: a symlink to the current day's file.
const LATEST: &str = "relman.log";

/// The directory the log files are in.
pub fn log_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "relman").map(|d| d.data_dir().to_path_buf())
}

/// The log's stable path (`relman.log`, a symlink to the current day's file).
pub fn log_path() -> Option<PathBuf> {
    log_dir().map(|d| d.join(LATEST))
}

/// One line for `--help`: where the log is, how it rotates, how to get more.
pub fn help_line() -> String {
    let path = log_path().map_or_else(
        || "(no data directory: logging is off)".to_string(),
        |p| p.display().to_string(),
    );
    format!(
        "Log: {path} (one file a day, relman.YYYY-MM-DD.log, the last {KEEP} kept; \
         -v debug, -vv trace, or RUST_LOG=relman=debug)"
    )
}

/// The filter: `RUST_LOG` when set (a bad one is reported, then `-v` applies),
/// else info / debug (`-v`) for relman / trace for everything (`-vv`).
fn filter(verbose: u8) -> EnvFilter {
    let from_flags = || {
        EnvFilter::new(match verbose {
            0 => "warn,relman=info",
            1 => "warn,relman=debug",
            _ => "trace",
        })
    };
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).unwrap_or_else(|e| {
            eprintln!("relman: RUST_LOG={v:?} ignored ({e}); logging as -v says");
            from_flags()
        }),
        _ => from_flags(),
    }
}

/// Starts logging into the log dir. If it can't be written, logging is off; that is
/// said on stderr only when more logging was asked for (`-v`, `RUST_LOG`).
pub fn init(verbose: u8) {
    let asked = verbose > 0 || std::env::var_os("RUST_LOG").is_some();
    let Some(dir) = log_dir() else {
        if asked {
            eprintln!("relman: no data directory (HOME unset?): no log is written");
        }
        return;
    };
    match init_in(&dir, verbose) {
        Ok(()) => {}
        Err(e) if asked => eprintln!("relman: no log is written ({}: {e})", dir.display()),
        Err(_) => {}
    }
}

fn init_in(dir: &Path, verbose: u8) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    keep_old_log(dir);
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(PREFIX)
        .filename_suffix(SUFFIX)
        .build(dir)
        .map_err(|e| e.to_string())?;
    prune(dir);
    point_latest(dir);
    // The appender writes synchronously (no background thread and guard): relman
    // ends with `process::exit`, which would drop the lines a worker still held.
    tracing_subscriber::fmt()
        .with_env_filter(filter(verbose))
        .with_ansi(false)
        .with_writer(appender)
        .try_init()
        .map_err(|e| e.to_string())
}

/// Before rotation, `relman.log` was the log itself: keep its lines under a dated-like
/// name (pruned with the others in time) instead of replacing it with the symlink.
fn keep_old_log(dir: &Path) {
    let latest = dir.join(LATEST);
    if std::fs::symlink_metadata(&latest).is_ok_and(|m| m.is_file()) {
        let _ = std::fs::rename(&latest, dir.join("relman.before-rotation.log"));
    }
}

/// Deletes the oldest daily files so that [`KEEP`] remain, today's (just opened)
/// among them. By name
/// (the date), not tracing-appender's creation times (alike on a coarse clock), and
/// quietly: concurrent starts race to delete the same file, and tracing-appender's
/// own pruning would print each lost race on stderr.
fn prune(dir: &Path) {
    let mut days = daily_files(dir);
    days.sort();
    let excess = days.len().saturating_sub(KEEP);
    for name in days.iter().take(excess) {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

fn daily_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_daily(n))
        .collect()
}

/// Points `relman.log` at the newest daily file, atomically (a temporary symlink
/// renamed over it), so concurrent starts never leave it missing.
fn point_latest(dir: &Path) {
    let newest = daily_files(dir).into_iter().max();
    let Some(newest) = newest else { return };
    let tmp = dir.join(format!(".{LATEST}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::os::unix::fs::symlink(&newest, &tmp).is_ok()
        && std::fs::rename(&tmp, dir.join(LATEST)).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// `relman.YYYY-MM-DD.log`.
fn is_daily(name: &str) -> bool {
    name.strip_prefix("relman.")
        .and_then(|r| r.strip_suffix(".log"))
        .is_some_and(|d| {
            d.len() == 10
                && d.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_names() {
        assert!(is_daily("relman.2026-12-01.log"));
        assert!(!is_daily("relman.log"));
        assert!(!is_daily("relman.before-rotation.log"));
        assert!(!is_daily("relman.2026-12-1.log"));
    }

    #[test]
    fn help_line_names_the_path() {
        let line = help_line();
        if let Some(p) = log_path() {
            assert!(line.contains(&p.display().to_string()), "{line}");
        }
        assert!(line.contains("RUST_LOG"), "{line}");
    }
}
