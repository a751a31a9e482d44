//! The console's state and its one pure transition: `update(&mut App, Msg) -> Vec<Cmd>`.
//!
//! Keys, worker events and clock ticks come in as `Msg`; what the worker must do goes
//! out as `Cmd`. Nothing here does I/O or reads the clock, so every behaviour of the
//! console (selection, dialogs, read-only refusals, conflicts) is tested without a
//! terminal or a host. Dangerous actions are data (`Pending`): a key opens a
//! confirmation dialog holding one, and only `y` in that dialog (or `yes` typed, for
//! more than one host) turns it into a `Cmd`.
//!
//! `confirm` holds the dangerous actions and their dialogs (unlock among them: `u` asks
//! the host for its lock holder first, the dialog shows that one), `forms` the deploy
//! and pin prompts, `events` what the worker reports. Data the details pane shows on
//! demand is asked for the same way: `c` sends `Cmd::Check`; the selected release's
//! recent runs are asked for by `update` itself (`want_runs`) whenever the selection,
//! or its health in the last scan, differs from what was fetched.

mod confirm;
mod events;
mod forms;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::help;
use super::keymap::{self, Action, Ctx, Key};
use super::layout::{self, Areas};
use super::theme::Theme;
use crate::model::{HostState, Job, Pin, Release, ReleaseName, printable};
use crate::ops::prune::PruneReport;
use crate::plan;

pub use super::protocol::{Cmd, Event, Failure, Guards, OpKind};

pub use confirm::{Button, DeployTarget, Dialog, Pending};
use confirm::{
    ask_lock, ask_prune_plan, cancel, confirm, open_accept, open_fleet_switch, open_rollback,
    open_switch, quit,
};
use events::on_event;
pub use forms::{
    DeployField, DeployForm, PinField, PinForm, TargetChoice, parse_guards, split_paths,
};
use forms::{complete, cycle, erase, move_field, open_deploy, open_pin, submit, type_char};

/// One configured host as the console knows it.
#[derive(Clone, Debug)]
pub struct HostView {
    pub name: String,
    pub groups: Vec<String>,
    /// The last good scan; kept when a later scan fails.
    pub state: Option<HostState>,
    /// The last scan's error, if it failed.
    pub error: Option<String>,
    /// When the last good scan arrived.
    pub updated_at: Option<SystemTime>,
    pub scanning: bool,
}

impl HostView {
    pub fn new(name: &str, groups: &[String]) -> HostView {
        HostView {
            name: name.to_string(),
            groups: groups.to_vec(),
            state: None,
            error: None,
            updated_at: None,
            scanning: false,
        }
    }
}

/// The three panes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Hosts,
    Releases,
    Details,
}

/// What the details pane shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailsMode {
    Release,
    History,
    /// The selected host's check (`c`).
    Check,
}

/// The check the details pane shows (`c`): for one host, running or done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckView {
    pub host: String,
    /// The CLI's rows; `None` while the check runs.
    pub rows: Option<Vec<crate::present::check::Row>>,
    /// When the answer came.
    pub at: Option<SystemTime>,
}

/// The recent runs the details pane shows for the selected release, fetched on demand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunsView {
    pub host: String,
    pub release: String,
    /// The release's health when they were asked for: a scan with other counts asks again.
    pub health: crate::model::Health,
    /// `None` while the host is asked.
    pub result: Option<Result<Vec<crate::model::Run>, String>>,
}

/// Everything that can happen to the console.
// A scan is large and a key is small; messages are moved once each, so boxing would
// only add noise to every test that builds one.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// A click or a turn of the wheel: a click selects the row under it (and focuses
    /// its pane), the wheel scrolls the pane under the pointer (or the open overlay).
    Mouse(crossterm::event::MouseEvent),
    /// The clock moved on (ages, "updated Ns ago").
    Tick(SystemTime),
    /// The spinner's next frame (sent only while busy).
    Spin,
    /// The auto-refresh timer fired.
    AutoRefresh,
    Resize(u16, u16),
    Worker(Event),
}

/// What is drawn over the panes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help {
        scroll: usize,
    },
    /// The release × host matrix; `sel` is the selected release row (newest first).
    Fleet {
        scroll: usize,
        sel: usize,
    },
    Confirm(Dialog),
    Deploy(DeployForm),
    Pin(PinForm),
    Error {
        title: String,
        text: String,
    },
}

/// An operation in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub op: OpKind,
    pub hosts: Vec<String>,
}

impl InFlight {
    pub fn describe(&self) -> String {
        match self.hosts.as_slice() {
            [one] => format!("{} on {one}", self.op.as_str()),
            many => format!("{} on {} hosts", self.op.as_str(), many.len()),
        }
    }
}

/// One host's deploy progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostProgress {
    pub host: String,
    pub sent: u64,
    pub total: u64,
    pub phase: String,
    /// Set when the deploy ended on this host.
    pub result: Option<Result<String, String>>,
    /// `--smoke` failed here: its output's last lines.
    pub tail: Vec<String>,
}

/// The deploy shown in the progress area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployRun {
    pub hosts: Vec<HostProgress>,
    /// The new release, once named.
    pub release: Option<String>,
    /// Local files and bytes, once walked.
    pub files: Option<(usize, u64)>,
    pub finished: bool,
    /// The guards the operator confirmed.
    pub guards: Guards,
    /// A guard refused the release: which one and why.
    pub refused: Option<String>,
}

/// The footer's last message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
}

/// The whole console state.
#[derive(Clone, Debug)]
pub struct App {
    /// What the header calls the fleet (the config file's name, or "demo").
    pub fleet: String,
    pub hosts: Vec<HostView>,
    pub focus: Pane,
    pub host_sel: usize,
    /// Index into the selected host's visible (filtered) releases.
    pub release_sel: usize,
    pub details_scroll: usize,
    pub details_mode: DetailsMode,
    pub overlay: Option<Overlay>,
    pub filter: String,
    pub filter_editing: bool,
    pub in_flight: Vec<InFlight>,
    /// A prune plan being computed for this host.
    pub plan_pending: Option<String>,
    /// The lock of this host being looked up (for the unlock dialog).
    pub lock_pending: Option<String>,
    /// The last check asked for (`c`).
    pub check: Option<CheckView>,
    /// The selected release's recent runs (the details pane).
    pub runs: Option<RunsView>,
    pub spinner: usize,
    pub deploy: Option<DeployRun>,
    pub message: Option<Flash>,
    pub readonly: bool,
    pub keep: usize,
    /// The config prunes after each deploy (`prune_after_deploy`): the deploy dialog says so.
    pub prune_after_deploy: bool,
    /// Self-rollbacks the operator has seen (host, the history line's `at`): the
    /// hosts pane marks a host that rolled itself back until its history is opened.
    pub seen_rollbacks: Vec<(String, String)>,
    /// The clock, as the last tick said.
    pub now: SystemTime,
    pub size: Rect,
    pub theme: Theme,
}

impl App {
    pub fn new(fleet: &str, hosts: Vec<HostView>, now: SystemTime) -> App {
        App {
            fleet: fleet.to_string(),
            hosts,
            focus: Pane::Hosts,
            host_sel: 0,
            release_sel: 0,
            details_scroll: 0,
            details_mode: DetailsMode::Release,
            overlay: None,
            filter: String::new(),
            filter_editing: false,
            in_flight: Vec::new(),
            plan_pending: None,
            lock_pending: None,
            check: None,
            runs: None,
            spinner: 0,
            deploy: None,
            message: None,
            readonly: false,
            keep: 3,
            prune_after_deploy: false,
            seen_rollbacks: Vec::new(),
            now,
            size: Rect::new(0, 0, 80, 24),
            theme: Theme::default(),
        }
    }

    /// The commands to send when the console opens: scan every host.
    pub fn start(&mut self) -> Vec<Cmd> {
        self.refresh_all()
    }

    /// Where keys go now.
    pub fn context(&self) -> Ctx {
        match &self.overlay {
            Some(Overlay::Help { .. }) => Ctx::Help,
            Some(Overlay::Fleet { .. }) => Ctx::Fleet,
            Some(Overlay::Confirm(d)) if d.typed.is_some() => Ctx::Typed,
            Some(Overlay::Confirm(_)) => Ctx::Dialog,
            Some(Overlay::Deploy(_)) | Some(Overlay::Pin(_)) => Ctx::Form,
            Some(Overlay::Error { .. }) => Ctx::Error,
            None if self.filter_editing => Ctx::Filter,
            None => match self.focus {
                Pane::Hosts => Ctx::Hosts,
                Pane::Releases => Ctx::Releases,
                Pane::Details => Ctx::Details,
            },
        }
    }

    /// Work is pending (the spinner turns).
    pub fn busy(&self) -> bool {
        !self.in_flight.is_empty()
            || self.plan_pending.is_some()
            || self.lock_pending.is_some()
            || self.check.as_ref().is_some_and(|c| c.rows.is_none())
            || self.hosts.iter().any(|h| h.scanning)
    }

    pub fn host(&self) -> Option<&HostView> {
        self.hosts.get(self.host_sel)
    }

    /// The selected host's releases that pass the filter, newest first.
    pub fn visible_releases(&self) -> Vec<&Release> {
        let Some(state) = self.host().and_then(|h| h.state.as_ref()) else {
            return Vec::new();
        };
        let f = self.filter.to_lowercase();
        state
            .releases
            .iter()
            .filter(|r| {
                f.is_empty()
                    || r.name.as_str().to_lowercase().contains(&f)
                    || r.manifest()
                        .is_some_and(|m| m.message.to_lowercase().contains(&f))
            })
            .collect()
    }

    /// Every release name any host has, newest first: the fleet view's rows.
    pub fn fleet_releases(&self) -> Vec<&ReleaseName> {
        let names: std::collections::BTreeSet<&ReleaseName> = self
            .hosts
            .iter()
            .filter_map(|h| h.state.as_ref())
            .flat_map(|s| s.releases.iter().map(|r| &r.name))
            .collect();
        names.into_iter().rev().collect()
    }

    pub fn selected_release(&self) -> Option<&Release> {
        self.visible_releases().get(self.release_sel).copied()
    }

    /// The screen layout for the current size.
    pub fn areas(&self) -> Areas {
        self.areas_in(self.size)
    }

    /// The screen layout for a screen of `area`: the releases pane as tall as the
    /// selected host's (filtered) releases need, the details below it get the rest.
    pub fn areas_in(&self, area: Rect) -> Areas {
        let rows = self.deploy.as_ref().map_or(0, |d| {
            let tails: usize = d
                .hosts
                .iter()
                .map(|p| p.tail.len().min(layout::TAIL_SHOWN))
                .sum();
            d.hosts.len()
                + tails
                + if d.refused.is_some() {
                    layout::REFUSAL_ROWS
                } else {
                    0
                }
        });
        let releases = self.visible_releases().len();
        Areas::fit(area, self.hosts.len(), releases, rows)
    }

    /// The host's self-rollback (its newest history line), while the operator has
    /// not opened its history since.
    pub fn unseen_rollback(&self, h: &HostView) -> Option<plan::health::SelfRollback> {
        let so = plan::health::self_rollback(h.state.as_ref()?)?;
        let seen = self
            .seen_rollbacks
            .iter()
            .any(|(host, at)| *host == h.name && *at == so.at);
        (!seen).then_some(so)
    }

    /// The host's probation, as the hosts pane says it: time left on the host's clock
    /// at the scan, less the time since the scan arrived.
    pub fn probation_status(&self, h: &HostView) -> Option<plan::health::ProbationStatus> {
        let s = h.state.as_ref()?;
        let p = s.probation.as_ref()?;
        let since_scan = h
            .updated_at
            .and_then(|u| self.now.duration_since(u).ok())
            .unwrap_or_default();
        plan::health::probation_status(p, s.scanned_at, since_scan)
    }

    /// The oldest "updated" time among hosts that have been scanned.
    pub fn oldest_update(&self) -> Option<SystemTime> {
        self.hosts.iter().filter_map(|h| h.updated_at).min()
    }

    fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Flash {
            text: clean(&text.into()),
            error: false,
        });
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.message = Some(Flash {
            text: clean(&text.into()),
            error: true,
        });
    }

    fn refresh_all(&mut self) -> Vec<Cmd> {
        let hosts: Vec<String> = self
            .hosts
            .iter_mut()
            .filter(|h| !h.scanning)
            .map(|h| {
                h.scanning = true;
                h.name.clone()
            })
            .collect();
        if hosts.is_empty() {
            Vec::new()
        } else {
            vec![Cmd::Refresh { hosts }]
        }
    }

    fn refresh_host(&mut self, name: &str) -> Vec<Cmd> {
        match self.hosts.iter_mut().find(|h| h.name == name) {
            Some(h) => {
                h.scanning = true;
                vec![Cmd::Refresh {
                    hosts: vec![name.to_string()],
                }]
            }
            None => Vec::new(),
        }
    }

    fn host_busy(&self, name: &str) -> Option<&InFlight> {
        self.in_flight
            .iter()
            .find(|f| f.hosts.iter().any(|h| h == name))
    }
}

/// One line, printable: errors from hosts and files can't garble the screen.
pub fn clean(s: &str) -> String {
    let one: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    printable(&one.join(" "))
}

/// The console's transition function.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    let mut cmds = update_inner(app, msg);
    cmds.extend(want_runs(app));
    cmds
}

/// Asks for the selected release's recent runs when the details pane would show them
/// and what is there is for another release, or from before the last scan changed its
/// health (a refresh that saw new runs asks again). Releases with no recorded run ask
/// nothing: their health says there is nothing to list.
fn want_runs(app: &mut App) -> Vec<Cmd> {
    if app.details_mode != DetailsMode::Release {
        return Vec::new();
    }
    let Some((host, release, health)) = app.host().and_then(|h| {
        let r = app.selected_release()?;
        Some((h.name.clone(), r.name.to_string(), r.health.clone()))
    }) else {
        return Vec::new();
    };
    if health.runs == 0 {
        return Vec::new();
    }
    if app
        .runs
        .as_ref()
        .is_some_and(|v| v.host == host && v.release == release && v.health == health)
    {
        return Vec::new();
    }
    app.runs = Some(RunsView {
        host: host.clone(),
        release: release.clone(),
        health,
        result: None,
    });
    vec![Cmd::Runs { host, release }]
}

fn update_inner(app: &mut App, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(ev) => match Key::from_event(&ev) {
            Some(key) => on_key(app, key),
            None => Vec::new(),
        },
        Msg::Mouse(ev) => on_mouse(app, ev),
        Msg::Tick(now) => {
            app.now = now;
            Vec::new()
        }
        Msg::Spin => {
            if app.busy() {
                app.spinner = app.spinner.wrapping_add(1);
            }
            Vec::new()
        }
        Msg::AutoRefresh => app.refresh_all(),
        Msg::Resize(w, h) => {
            app.size = Rect::new(0, 0, w, h);
            Vec::new()
        }
        Msg::Worker(ev) => on_event(app, ev),
    }
}

fn on_key(app: &mut App, key: Key) -> Vec<Cmd> {
    let had_overlay = app.overlay.is_some();
    let said = app.message.clone();
    let cmds = on_key_inner(app, key);
    // A dialog that opens starts clean: the last status line (an old success or
    // failure) no longer shows under it, unless the key itself said something new.
    if !had_overlay && app.overlay.is_some() && app.message == said {
        app.message = None;
    }
    cmds
}

fn on_key_inner(app: &mut App, key: Key) -> Vec<Cmd> {
    let ctx = app.context();
    match keymap::lookup(ctx, key) {
        Some(b) if b.mutating && app.readonly => {
            app.warn(keymap::readonly_message(b));
            Vec::new()
        }
        Some(b) => act(app, b.action),
        None => {
            if let Some(c) = key.text().filter(|_| ctx.is_text()) {
                type_char(app, c);
            }
            Vec::new()
        }
    }
}

fn act(app: &mut App, action: Action) -> Vec<Cmd> {
    match action {
        Action::Up => move_by(app, -1),
        Action::Down => move_by(app, 1),
        Action::PageUp => {
            let p = page(app) as isize;
            move_by(app, -p)
        }
        Action::PageDown => {
            let p = page(app) as isize;
            move_by(app, p)
        }
        Action::Top => move_by(app, isize::MIN / 2),
        Action::Bottom => move_by(app, isize::MAX / 2),
        Action::NextPane => {
            app.focus = match app.focus {
                Pane::Hosts => Pane::Releases,
                Pane::Releases => Pane::Details,
                Pane::Details => Pane::Hosts,
            };
            Vec::new()
        }
        Action::PrevPane => {
            app.focus = match app.focus {
                Pane::Hosts => Pane::Details,
                Pane::Releases => Pane::Hosts,
                Pane::Details => Pane::Releases,
            };
            Vec::new()
        }
        Action::Details => {
            app.details_mode = DetailsMode::Release;
            app.details_scroll = 0;
            app.focus = if app.focus == Pane::Hosts {
                Pane::Releases
            } else {
                Pane::Details
            };
            Vec::new()
        }
        Action::History => {
            // Opening a host's history is seeing what it did by itself.
            let seen = app
                .host()
                .and_then(|h| app.unseen_rollback(h).map(|so| (h.name.clone(), so.at)));
            if let Some(seen) = seen.filter(|_| app.details_mode != DetailsMode::History) {
                app.seen_rollbacks.push(seen);
            }
            app.details_mode = match app.details_mode {
                DetailsMode::Release | DetailsMode::Check => DetailsMode::History,
                DetailsMode::History => DetailsMode::Release,
            };
            app.details_scroll = 0;
            Vec::new()
        }
        Action::Fleet => {
            app.overlay = Some(Overlay::Fleet { scroll: 0, sel: 0 });
            Vec::new()
        }
        Action::Help => {
            app.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Action::Filter => {
            // A new filter: `/` then typing never appends to the last one.
            app.filter_editing = true;
            app.filter.clear();
            app.release_sel = 0;
            Vec::new()
        }
        Action::ClearFilter => {
            // Esc while a dialog's data is on its way calls the dialog off: it must
            // not open by itself later, after the operator has moved on.
            if let Some(host) = app.plan_pending.take().or_else(|| app.lock_pending.take()) {
                app.say(format!("{host}: called off"));
            } else if !app.filter.is_empty() {
                app.filter.clear();
                app.release_sel = 0;
                app.say("filter cleared");
            } else if app.deploy.as_ref().is_some_and(|d| d.finished) {
                app.deploy = None;
            }
            Vec::new()
        }
        Action::Refresh => {
            app.say("refreshing every host");
            // The runs shown are asked for again too.
            app.runs = None;
            app.refresh_all()
        }
        Action::Unlock => ask_lock(app),
        Action::Accept => open_accept(app),
        Action::Check => check_host(app),
        Action::Quit => quit(app),
        Action::Switch => open_switch(app),
        Action::FleetSwitch => open_fleet_switch(app),
        Action::Rollback => open_rollback(app),
        Action::Prune => ask_prune_plan(app),
        Action::Pin => open_pin(app),
        Action::Deploy => open_deploy(app),
        Action::Confirm => confirm(app),
        Action::Cancel => cancel(app),
        Action::ToggleButton => {
            if let Some(Overlay::Confirm(d)) = &mut app.overlay {
                d.focus = match d.focus {
                    Button::Cancel => Button::Confirm,
                    Button::Confirm => Button::Cancel,
                };
            }
            Vec::new()
        }
        Action::Activate => {
            if let Some(Overlay::Confirm(d)) = &mut app.overlay {
                match d.focus {
                    Button::Cancel => return cancel(app),
                    Button::Confirm => {
                        d.note = Some("Enter does not confirm: press y to run it".into())
                    }
                }
            }
            Vec::new()
        }
        Action::Submit => submit(app),
        Action::Erase => {
            erase(app);
            Vec::new()
        }
        Action::Complete => complete(app),
        Action::PrevField => {
            move_field(app, -1);
            Vec::new()
        }
        Action::NextField => {
            move_field(app, 1);
            Vec::new()
        }
        Action::CycleNext => {
            cycle(app, 1);
            Vec::new()
        }
        Action::CyclePrev => {
            cycle(app, -1);
            Vec::new()
        }
        Action::Close => {
            app.overlay = None;
            Vec::new()
        }
    }
}

/// The pane at screen cell (`x`, `y`), if any.
fn pane_at(a: &Areas, x: u16, y: u16) -> Option<(Pane, Rect)> {
    let inside = |r: Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
    [
        (Pane::Hosts, a.hosts),
        (Pane::Releases, a.releases),
        (Pane::Details, a.details),
    ]
    .into_iter()
    .find(|(_, r)| inside(*r))
}

fn on_mouse(app: &mut App, ev: crossterm::event::MouseEvent) -> Vec<Cmd> {
    use crossterm::event::{MouseButton, MouseEventKind as K};
    let wheel = match ev.kind {
        K::ScrollDown => 1,
        K::ScrollUp => -1,
        K::Down(MouseButton::Left) => 0,
        _ => return Vec::new(),
    };
    if app.overlay.is_some() || app.filter_editing {
        // Dialogs are answered with keys; the wheel still scrolls help and the matrix.
        return if wheel != 0 && app.overlay.is_some() {
            move_by(app, wheel)
        } else {
            Vec::new()
        };
    }
    let a = app.areas();
    let Some((pane, r)) = pane_at(&a, ev.column, ev.row) else {
        return Vec::new();
    };
    app.focus = pane;
    if wheel != 0 {
        let by = if pane == Pane::Details {
            3 * wheel
        } else {
            wheel
        };
        return move_by(app, by);
    }
    let (sel, len) = match pane {
        Pane::Hosts => (app.host_sel, app.hosts.len()),
        Pane::Releases => (app.release_sel, app.visible_releases().len()),
        Pane::Details => return Vec::new(),
    };
    if let Some(i) = layout::row_at(r, sel, ev.row).filter(|i| *i < len) {
        return move_by(app, i as isize - sel as isize);
    }
    Vec::new()
}

/// Rows a PgUp/PgDn moves in the focused pane (or overlay).
fn page(app: &App) -> usize {
    let a = app.areas();
    let rows = match (&app.overlay, app.focus) {
        (Some(_), _) => app.size.height.saturating_sub(4) as usize,
        (None, Pane::Hosts) => layout::table_rows(a.hosts),
        (None, Pane::Releases) => layout::table_rows(a.releases),
        (None, Pane::Details) => layout::inner_rows(a.details),
    };
    rows.max(1)
}

fn step(i: usize, by: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let j = (i as isize).saturating_add(by);
    j.clamp(0, len as isize - 1) as usize
}

fn move_by(app: &mut App, by: isize) -> Vec<Cmd> {
    match &mut app.overlay {
        Some(Overlay::Help { .. }) => {
            let max = help::max_scroll(&app.theme, app.readonly, app.size);
            if let Some(Overlay::Help { scroll }) = &mut app.overlay {
                *scroll = step(*scroll, by, max + 1);
            }
            return Vec::new();
        }
        Some(Overlay::Fleet { .. }) => {
            let len = app.fleet_releases().len();
            let room = layout::fleet_room(app.size).max(1);
            if let Some(Overlay::Fleet { scroll, sel }) = &mut app.overlay {
                *sel = step(*sel, by, len);
                // Keep the selection in sight.
                if *sel < *scroll {
                    *scroll = *sel;
                } else if *sel >= *scroll + room {
                    *scroll = *sel + 1 - room;
                }
            }
            return Vec::new();
        }
        Some(_) => return Vec::new(),
        None => {}
    }
    match app.focus {
        Pane::Hosts => {
            let j = step(app.host_sel, by, app.hosts.len());
            if j != app.host_sel {
                app.host_sel = j;
                app.release_sel = 0;
                app.details_scroll = 0;
            }
        }
        Pane::Releases => {
            let j = step(app.release_sel, by, app.visible_releases().len());
            if j != app.release_sel {
                app.release_sel = j;
                app.details_scroll = 0;
            }
        }
        Pane::Details => {
            app.details_scroll = step(app.details_scroll, by, 10_000);
        }
    }
    Vec::new()
}

/// `c`: check the selected host (reachable or not: a failed connection is the
/// check's first row); the details pane shows the report. `c` again: back.
fn check_host(app: &mut App) -> Vec<Cmd> {
    if app.details_mode == DetailsMode::Check {
        app.details_mode = DetailsMode::Release;
        app.details_scroll = 0;
        return Vec::new();
    }
    let Some(host) = app.host().map(|h| h.name.clone()) else {
        app.warn("no host selected");
        return Vec::new();
    };
    app.details_mode = DetailsMode::Check;
    app.details_scroll = 0;
    if app
        .check
        .as_ref()
        .is_some_and(|c| c.host == host && c.rows.is_none())
    {
        return Vec::new();
    }
    app.check = Some(CheckView {
        host: host.clone(),
        rows: None,
        at: None,
    });
    app.say(format!("{host}: checking…"));
    vec![Cmd::Check { host }]
}

/// The selected host's name and state, or a message saying why there is none.
fn host_state(app: &mut App) -> Option<(String, HostState)> {
    let Some(h) = app.host() else {
        app.warn("no host selected");
        return None;
    };
    let name = h.name.clone();
    match (&h.state, &h.error) {
        (Some(s), _) => {
            let s = s.clone();
            if let Some(f) = app.host_busy(&name) {
                let what = f.describe();
                app.warn(format!("{name}: wait, {what} is still running"));
                return None;
            }
            Some((name, s))
        }
        (None, Some(e)) => {
            let e = e.clone();
            app.warn(format!("{name} is unreachable: {e}"));
            None
        }
        (None, None) => {
            app.warn(format!("{name} has not been scanned yet"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::forms::common_prefix;
    use super::*;

    #[test]
    fn paths_split_on_spaces_and_respect_quotes() {
        assert_eq!(split_paths(" a  b/c "), vec!["a", "b/c"]);
        assert_eq!(split_paths("'my dir' x"), vec!["my dir", "x"]);
        assert_eq!(split_paths("\"\""), vec![""]);
        assert!(split_paths("   ").is_empty());
    }

    #[test]
    fn common_prefixes() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(common_prefix(&v(&["build/", "bin/"])), "b");
        assert_eq!(common_prefix(&v(&["target/"])), "target/");
        assert_eq!(common_prefix(&v(&[])), "");
        assert_eq!(common_prefix(&v(&["é1", "é2"])), "é");
    }

    fn form(canary: &str, watch: &str, min_runs: &str, probation: &str, max: &str) -> DeployForm {
        DeployForm {
            paths: "x".into(),
            message: String::new(),
            choices: Vec::new(),
            choice: 0,
            field: DeployField::Target,
            smoke: String::new(),
            canary: canary.into(),
            watch: watch.into(),
            min_runs: min_runs.into(),
            probation: probation.into(),
            max_failures: max.into(),
            candidates: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn guards_parse_from_the_form() {
        let hosts = vec!["b1".to_string(), "b2".to_string()];
        let g = parse_guards(&form("", "10m", "1", "", "0"), &hosts).unwrap();
        assert_eq!(g, Guards::default());
        assert!(!g.any());
        let g = parse_guards(&form("b2, b2 b1", " 5m ", "2", "1h", "3"), &hosts).unwrap();
        let c = g.canary.clone().unwrap();
        assert_eq!(c.hosts, vec!["b2".to_string(), "b1".to_string()]);
        assert_eq!((c.min_runs, c.max_failures), (2, 3));
        assert_eq!(c.watch, Duration::from_secs(300));
        let p = g.probation.unwrap();
        assert_eq!((p.duration, p.max_failures), (Duration::from_secs(3600), 3));
        let err = |f: DeployForm| parse_guards(&f, &hosts).unwrap_err();
        assert_eq!(err(form("b3", "10m", "1", "", "0")).0, DeployField::Canary);
        assert_eq!(err(form("b1", "soon", "1", "", "0")).0, DeployField::Watch);
        assert_eq!(err(form("b1", "10m", "x", "", "0")).0, DeployField::MinRuns);
        assert_eq!(
            err(form("", "10m", "1", "0s", "0")).0,
            DeployField::Probation
        );
        assert_eq!(
            err(form("", "10m", "1", "", "")).0,
            DeployField::MaxFailures
        );
        assert_eq!(err(form("", "10m", "2", "", "0")).0, DeployField::Canary);
    }

    #[test]
    fn clean_makes_one_printable_line() {
        assert_eq!(clean("a\n b\x1b[2J\n"), "a b?[2J");
    }
}
