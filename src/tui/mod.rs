//! The operator's console (SPEC §5): a ratatui TUI over the same operations as the CLI.
//!
//! Shape: one `App` state, a pure `update(&mut App, Msg) -> Vec<Cmd>` (`app`), a pure
//! `view(&App, &mut Frame)` (`view`), one key table (`keymap`), and a `worker` that owns
//! the host connections and runs operations off the UI thread. `run` wires them to the
//! terminal; `demo` builds the `--demo` deploy root.

pub mod app;
#[doc(hidden)]
pub mod fixture;
pub mod keymap;
pub mod theme;
pub mod view;
