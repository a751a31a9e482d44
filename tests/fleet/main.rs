//! The `fleet` test binary: everything that talks to real OpenSSH `sshd` hosts
//! (`support::Fleet`, one sshd per host on 127.0.0.1, root or non-root deploy
//! users): the CLI end to end (`cli_*`), deploy and prune over SSH, the fixes of
//! earlier issues (`fixes_*`), non-root hosts, the SSH transport itself
//! (`transport`, `ssh_fidelity`, `jump`), the console's worker over SSH, scale.
//!
//! Where a new test goes: a test that needs an sshd host goes here, in the module
//! of its subject (a new module for a new subject: add it below). A
//! transport-independent scenario is written once in `tests/support/scenarios.rs`
//! and called from here over SSH and from `tests/offline` over `local`. Fault
//! injection (kills, drops, hostile input campaigns) goes to `tests/hardening`,
//! tests driving the console in tmux to `tests/tui`.
//!
//! The modules run in parallel threads of this one process: each test starts its
//! own fleet (free ports, its own temporary directory) and must not change
//! process-wide state (`std::env::set_var`, the current directory, the umask); a
//! test that needs that runs itself in a child process of this binary (see
//! `transport::agent_is_tried_with_every_key_it_holds`, `support::test_path`).
//! Run one module: `cargo test --test fleet cli_link::`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod canary_fleet;
mod cli_launch;
mod cli_link;
mod cli_list;
mod cli_prune;
mod deploy_fleet;
mod fixes_deploy;
mod fixes_jobs;
mod fixes_prune;
mod fixes_switch;
mod fleet_scale;
mod guards_fleet;
mod health_fleet;
mod install;
mod jump;
mod nonroot_launch;
mod nonroot_prune;
mod probation_fleet;
mod prune_fleet;
mod prune_pipeline_fleet;
mod spring_batch;
mod ssh_fidelity;
mod transport;
mod tui_health;
mod tui_ssh;
mod upload_lanes;
mod voice;
