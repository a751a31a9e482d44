//! The `hardening` test binary: the fault-injection and hostile-input campaigns
//! (SIGKILL and SIGSTOP at random moments, dropped connections, concurrent
//! relmans, hostile names and configs, authentication failures, the soak), over a
//! real sshd fleet, with their shared checks in `hardening_support`. Each run prints
//! its seed (`RELMAN_HARDENING_SEED` replays it) and its `FIGURES` lines.
//!
//! Where a new test goes: a campaign that injects faults or hostile input and then
//! checks that nothing was lost goes here (`hardening_<what>.rs`, a module added
//! below); an ordinary scenario over SSH goes to `tests/fleet`, one without sshd
//! to `tests/offline`.
//!
//! The modules run in parallel threads of this one process (two at a time on two
//! cores, as each campaign's own root and deploy runs did before): nothing here may
//! change process-wide state. Run one: `cargo test --test hardening hardening_crash::`;
//! the long soak: `RELMAN_SOAK_CYCLES=500 cargo test --test hardening hardening_soak::`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;
mod hardening_support;

mod hardening_auth;
mod hardening_concurrency;
mod hardening_crash;
mod hardening_hostile;
mod hardening_soak;
