//! The `offline` test binary: everything that needs no sshd. The `local` transport
//! (the same scripts SSH hosts run, through `sh` on this machine), the console
//! drawn into a test backend, parsers under proptest, the CLI's own messages.
//! tmux is fine here (tui_language drives the demo in one); a real sshd is not.
//!
//! Where a new test goes: a test that starts no `Fleet` goes here, in the module
//! of its subject (`<subject>_local.rs` for `local`-transport scenarios, `tui_*.rs`
//! for the console); a scenario that must also run over SSH is written once in
//! `tests/support/scenarios.rs` and called from a `_local` module here and from
//! its twin in `tests/fleet`. A test that starts sshd belongs in `tests/fleet`,
//! a fault-injection campaign in `tests/hardening`, a console in tmux in `tests/tui`.
//!
//! The modules run in parallel threads of this one process: nothing here may
//! change process-wide state (`std::env::set_var`, the current directory, the
//! umask, signal handlers); a test that needs that runs itself in a child process
//! (see prune_jobscan_local). Run one module: `cargo test --test offline tui_view::`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod cli_deploy_guards;
mod cli_language;
mod deploy_local;
mod history_lines;
mod jobscan_crowd_local;
mod launch_local;
mod ledger_cache_local;
mod link_local;
mod prop_parsers;
mod prune_jobscan_local;
mod prune_local;
mod prune_recheck_local;
mod scan_local;
mod tui_guards;
mod tui_health;
mod tui_keys;
mod tui_language;
mod tui_svg;
mod tui_view;
mod tui_worker;
