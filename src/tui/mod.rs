//! The operator's console (SPEC §5): a ratatui TUI over the same operations as the CLI.
//!
//! Shape: one `App` state and a pure `update(&mut App, Msg) -> Vec<Cmd>` (`app`), a
//! pure `view(&App, &mut Frame)` (`view`), one key table (`keymap`), colours and
//! symbols (`theme`), and a `worker` that owns the host connections and runs every
//! operation off the UI thread. `run` wires them to the terminal; `demo` builds the
//! `--demo` fleet (three local deploy roots).

pub mod app;
pub mod demo;
pub mod help;
pub mod keymap;
pub mod layout;
pub mod protocol;
pub mod theme;
pub mod view;
pub mod worker;
mod wrap;

use std::time::{Duration, SystemTime};

use anyhow::Context;
use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};

use crate::config::Config;
use app::{App, Cmd, HostView, Msg, update};

pub use demo::Demo;

/// How the console runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TuiOptions {
    /// Disable every key that changes a host; the header says READ-ONLY.
    pub readonly: bool,
    /// Opened on `relman --demo`'s temporary fleet (the header calls the fleet "demo").
    pub demo: bool,
}

/// Spinner frame interval while work is pending.
const SPIN: Duration = Duration::from_millis(80);

/// Runs the console until the operator quits. Builds its own tokio runtime, so call it
/// from plain (non-async) code. The terminal is restored on every exit, panics included.
pub fn run(cfg: Config, opts: TuiOptions) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the console's runtime")?;
    let result = rt.block_on(run_async(cfg, opts));
    // Operations still running in blocking threads are abandoned (the operator said
    // quit); the hosts release their locks when the connections close.
    rt.shutdown_background();
    result
}

/// Restores the terminal when dropped: on return, on `?` and on unwinding. Quietly:
/// a terminal that was closed (SIGHUP) can't be restored, and saying so on its
/// closed stderr would panic (and a second panic while unwinding aborts, leaving
/// the demo's temporary root behind).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        let _ = ratatui::try_restore();
    }
}

/// Ends the console's terminal without a word: ratatui's `Terminal` says "Failed to
/// show the cursor" on stderr when dropped on a closed terminal, which panics there.
fn close(mut terminal: ratatui::DefaultTerminal) {
    if terminal.show_cursor().is_err() {
        // The terminal is gone: nothing to restore, nothing to say.
        std::mem::forget(terminal);
    }
}

fn fleet_name(cfg: &Config, opts: TuiOptions) -> String {
    if opts.demo {
        return "demo".into();
    }
    cfg.path
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into())
}

/// The console's state for a config, before any scan.
pub fn new_app(cfg: &Config, opts: TuiOptions, now: SystemTime) -> App {
    let hosts = cfg
        .hosts
        .iter()
        .map(|h| HostView::new(&h.name, &h.groups))
        .collect();
    let mut app = App::new(&fleet_name(cfg, opts), hosts, now);
    app.readonly = opts.readonly;
    app.keep = cfg.keep;
    app.prune_after_deploy = cfg.prune_after_deploy;
    app.theme = theme::Theme::from_env();
    app
}

async fn run_async(cfg: Config, opts: TuiOptions) -> anyhow::Result<()> {
    let mut app = new_app(&cfg, opts, SystemTime::now());
    let refresh_every = cfg.refresh.max(Duration::from_secs(1));

    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let _restore = Restore;
    crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)
        .context("cannot set up the mouse")?;
    let r = event_loop(&mut terminal, &mut app, cfg, refresh_every).await;
    close(terminal);
    r
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    cfg: Config,
    refresh_every: Duration,
) -> anyhow::Result<()> {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let cmd_tx = worker::spawn(cfg, ev_tx);
    let size = terminal.size().context("cannot read the terminal size")?;
    update(app, Msg::Resize(size.width, size.height));

    let mut keys = EventStream::new();
    let mut spin = interval(SPIN);
    spin.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut clock = interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut refresh = interval(refresh_every);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    refresh.reset(); // the first scan is `start()`'s

    #[cfg(unix)]
    let mut term_signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).context("SIGTERM handler")?,
            signal(SignalKind::hangup()).context("SIGHUP handler")?,
        )
    };

    let mut pending: Vec<Cmd> = app.start();
    let mut dirty = true;
    loop {
        for cmd in pending.drain(..) {
            if cmd == Cmd::Quit {
                return Ok(());
            }
            // The worker only stops when this sender is dropped: a send can't fail
            // while we run.
            let _ = cmd_tx.send(cmd);
        }
        if dirty {
            match terminal.draw(|f| view::view(app, f)) {
                Ok(_) => {}
                // The terminal was closed under us: as a quit (the hangup follows).
                Err(e) if gone(&e) => return Ok(()),
                Err(e) => return Err(e).context("cannot draw"),
            }
            dirty = false;
        }
        let busy = app.busy();
        let msg = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => Msg::Key(k),
                Some(Ok(TermEvent::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(TermEvent::Mouse(m))) => Msg::Mouse(m),
                Some(Ok(_)) => continue,
                Some(Err(e)) if gone(&e) => return Ok(()),
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                None => return Ok(()),
            },
            Some(ev) = ev_rx.recv() => Msg::Worker(ev),
            _ = spin.tick(), if busy => Msg::Spin,
            _ = clock.tick() => Msg::Tick(SystemTime::now()),
            _ = refresh.tick() => Msg::AutoRefresh,
            _ = term_signal(&mut term_signals) => return Ok(()),
        };
        // Only redraw what can look different: every message here can.
        pending = update(app, msg);
        dirty = true;
    }
}

/// The error of a terminal that was closed (EIO, ENXIO).
fn gone(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EIO) | Some(libc::ENXIO))
}

#[cfg(unix)]
async fn term_signal(
    s: &mut (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
) -> Option<()> {
    tokio::select! {
        v = s.0.recv() => v,
        v = s.1.recv() => v,
    }
}
