//! relman: a release manager for batch hosts. Each deploy goes into a new directory,
//! a symlink names the live release, and relman switches it atomically over SSH.
//!
//! The data flows one way (see ARCHITECTURE.md):
//! config → remote (transport + scripts) → scan → model → plan → ops → cli / tui.

#![deny(clippy::unwrap_used)]
#![warn(clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

// Every line relman prints to stdout goes through `present::out` (a closed stdout
// ends the output quietly, SPEC §3): these two shadow std's macros in the whole
// crate, so a `println!` in cli/ or present/ can't panic with "failed printing to
// stdout". The console draws through crossterm and never uses them.
macro_rules! println {
    () => {
        $crate::present::out::print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::present::out::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::present::out::print(format_args!($($arg)*))
    };
}

pub mod cli;
pub mod config;
pub mod logging;
pub mod model;
pub mod ops;
pub mod plan;
pub mod present;
pub mod remote;
pub mod tui;

#[cfg(test)]
mod layering;
