//! Logs go to a file in the platform data dir (`~/.local/share/relman/relman.log`),
//! never to the screen: the console owns the terminal, and `--json` owns stdout.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where the log file is (created on first use).
pub fn log_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "relman").map(|d| d.data_dir().join("relman.log"))
}

/// Starts logging at info (`-v` debug, `-vv` trace); silently does nothing if the
/// data dir can't be written.
pub fn init(verbose: u8) {
    let Some(path) = log_path() else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(file) = OpenOptions::new().create(true).append(true).open(&path) else {
        return;
    };
    let level = match verbose {
        0 => tracing::Level::INFO,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
}
