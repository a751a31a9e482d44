//! relman: a release manager for batch hosts. Each deploy goes into a new directory,
//! a symlink names the live release, and relman switches it atomically over SSH.
//!
//! The data flows one way (see ARCHITECTURE.md):
//! config → remote (transport + scripts) → scan → model → plan → ops → cli / tui.

#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

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
