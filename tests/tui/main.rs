//! The `tui` test binary: the console run for real inside tmux (a pseudo-terminal,
//! keys sent and the screen read back), on the demo and on a real sshd fleet.
//! Kept apart from `tests/offline` because these tests wait on a real terminal and
//! take the longest per test; `cargo test --test tui` runs just them.
//!
//! Where a new test goes: a test that starts the console in tmux goes here. A test
//! of what the console draws or how it answers keys without a terminal goes to
//! `tests/offline` (`tui_view`, `tui_keys`, `tui_language`).

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod tui_e2e_fleet;
mod tui_e2e_guards;
mod tui_tmux;
