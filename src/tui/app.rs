//! The console's state and its one pure transition: `update(&mut App, Msg) -> Vec<Cmd>`.
//!
//! Keys, worker events and clock ticks come in as `Msg`; what the worker must do goes
//! out as `Cmd`. Nothing here does I/O or reads the clock, so every behaviour of the
//! console (selection, dialogs, read-only refusals, conflicts) is tested without a
//! terminal or a host. Dangerous actions are data (`Pending`): a key opens a
//! confirmation dialog holding one, and only `y` in that dialog (or `yes` typed, for
//! more than one host) turns it into a `Cmd`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::keymap::{self, Action, Ctx, Key};
use super::theme::Theme;
use super::view::layout::{self, Areas};
use crate::model::{HostState, Job, Pin, Release, printable};
use crate::plan::{self, PrunePlan};

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
}

/// Operations the worker runs on the operator's request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Switch,
    Rollback,
    Prune,
    Pin,
    Unpin,
    Deploy,
    PrunePlan,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Switch => "switch",
            OpKind::Rollback => "rollback",
            OpKind::Prune => "prune",
            OpKind::Pin => "pin",
            OpKind::Unpin => "unpin",
            OpKind::Deploy => "deploy",
            OpKind::PrunePlan => "prune plan",
        }
    }
}

/// What the console asks the worker to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Scan these hosts.
    Refresh {
        hosts: Vec<String>,
    },
    /// Switch only if the link still points at `expect` (what the operator saw live).
    Switch {
        host: String,
        release: String,
        expect: Option<String>,
    },
    Rollback {
        host: String,
        to: Option<String>,
    },
    /// Scan, then compute the prune plan for the dialog.
    PrunePlan {
        host: String,
        keep: usize,
    },
    Prune {
        host: String,
        keep: usize,
    },
    Pin {
        host: String,
        release: String,
        duration: Duration,
        reason: String,
    },
    Unpin {
        host: String,
        release: String,
    },
    Deploy {
        paths: Vec<PathBuf>,
        message: String,
        hosts: Vec<String>,
    },
    /// List local paths completing `input` (the deploy prompt's Tab).
    Complete {
        input: String,
    },
    Quit,
}

/// Why an operation failed, as the worker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// The CLI's exit code for it (5 = conflict: the host changed since it was seen).
    pub code: i32,
}

impl Failure {
    pub fn is_conflict(&self) -> bool {
        self.code == 5
    }
}

/// What the worker reports.
#[derive(Clone, Debug)]
pub enum Event {
    Scanned {
        host: String,
        at: SystemTime,
        result: Result<HostState, String>,
    },
    /// A fresh scan and the prune plan computed from it.
    Plan {
        host: String,
        at: SystemTime,
        result: Result<(HostState, PrunePlan), String>,
    },
    /// A single-host operation ended; `Ok` carries a one-line summary.
    Done {
        host: String,
        op: OpKind,
        result: Result<String, Failure>,
    },
    /// Deploy progress on one host.
    Progress {
        host: String,
        sent: u64,
        total: u64,
        phase: String,
    },
    /// The deploy ended on one host.
    DeployHost {
        host: String,
        result: Result<String, String>,
    },
    /// The whole deploy ended.
    DeployDone,
    Completions {
        input: String,
        candidates: Vec<String>,
    },
}

/// Everything that can happen to the console.
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// The clock moved on (ages, "updated Ns ago").
    Tick(SystemTime),
    /// The spinner's next frame (sent only while busy).
    Spin,
    /// The auto-refresh timer fired.
    AutoRefresh,
    Resize(u16, u16),
    Worker(Event),
}

/// A dangerous action, waiting for the operator's confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    Switch {
        host: String,
        from: Option<String>,
        to: String,
        from_jobs: Vec<Job>,
        to_jobs: Vec<Job>,
        to_bad: bool,
        hidden: usize,
    },
    Rollback {
        host: String,
        from: String,
        to: String,
        from_jobs: Vec<Job>,
        to_jobs: Vec<Job>,
        hidden: usize,
    },
    Prune {
        host: String,
        keep: usize,
        plan: PrunePlan,
    },
    Pin {
        host: String,
        release: String,
        duration: Duration,
        duration_text: String,
        reason: String,
    },
    Unpin {
        host: String,
        release: String,
        pins: Vec<Pin>,
    },
    Deploy {
        targets: Vec<DeployTarget>,
        target_label: String,
        paths: Vec<String>,
        message: String,
    },
    Quit {
        in_flight: Vec<String>,
    },
}

/// A host a deploy goes to, as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployTarget {
    pub host: String,
    pub live: Option<String>,
    pub live_jobs: usize,
    pub error: Option<String>,
}

impl Pending {
    pub fn hosts(&self) -> Vec<&str> {
        match self {
            Pending::Switch { host, .. }
            | Pending::Rollback { host, .. }
            | Pending::Prune { host, .. }
            | Pending::Pin { host, .. }
            | Pending::Unpin { host, .. } => vec![host.as_str()],
            Pending::Deploy { targets, .. } => targets.iter().map(|t| t.host.as_str()).collect(),
            Pending::Quit { .. } => Vec::new(),
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Pending::Switch { .. } => "Switch",
            Pending::Rollback { .. } => "Roll back",
            Pending::Prune { .. } => "Prune",
            Pending::Pin { .. } => "Pin",
            Pending::Unpin { .. } => "Unpin",
            Pending::Deploy { .. } => "Deploy",
            Pending::Quit { .. } => "Quit",
        }
    }

    /// Changes hosts (a red dialog; Quit does not).
    pub fn dangerous(&self) -> bool {
        !matches!(self, Pending::Quit { .. })
    }

    /// The confirmed action as work for the worker.
    fn into_cmds(self) -> Vec<Cmd> {
        match self {
            Pending::Switch { host, from, to, .. } => vec![Cmd::Switch {
                host,
                release: to,
                expect: from,
            }],
            Pending::Rollback { host, to, .. } => vec![Cmd::Rollback { host, to: Some(to) }],
            Pending::Prune { host, keep, .. } => vec![Cmd::Prune { host, keep }],
            Pending::Pin {
                host,
                release,
                duration,
                reason,
                ..
            } => vec![Cmd::Pin {
                host,
                release,
                duration,
                reason,
            }],
            Pending::Unpin { host, release, .. } => vec![Cmd::Unpin { host, release }],
            Pending::Deploy {
                targets,
                paths,
                message,
                ..
            } => vec![Cmd::Deploy {
                paths: paths.into_iter().map(PathBuf::from).collect(),
                message,
                hosts: targets.into_iter().map(|t| t.host).collect(),
            }],
            Pending::Quit { .. } => vec![Cmd::Quit],
        }
    }
}

/// The two buttons of a dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Button {
    Cancel,
    Confirm,
}

/// A confirmation dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    pub pending: Pending,
    pub focus: Button,
    /// `Some` when the operator must type `yes` (more than one host): what was typed.
    pub typed: Option<String>,
    /// A hint shown in the dialog ("press y to run it").
    pub note: Option<String>,
}

impl Dialog {
    pub fn new(pending: Pending) -> Dialog {
        let typed = (pending.hosts().len() > 1).then(String::new);
        Dialog {
            pending,
            focus: Button::Cancel,
            typed,
            note: None,
        }
    }
}

/// A choice of hosts for a deploy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetChoice {
    pub label: String,
    pub hosts: Vec<String>,
}

/// Fields of the deploy prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployField {
    Paths,
    Message,
    Target,
}

/// The deploy prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployForm {
    pub paths: String,
    pub message: String,
    pub choices: Vec<TargetChoice>,
    pub choice: usize,
    pub field: DeployField,
    /// Candidates of the last Tab completion, when there were several.
    pub candidates: Vec<String>,
    pub error: Option<String>,
}

/// Fields of the pin prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinField {
    Duration,
    Reason,
}

/// The pin prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinForm {
    pub host: String,
    pub release: String,
    pub duration: String,
    pub reason: String,
    pub field: PinField,
    pub error: Option<String>,
}

/// What is drawn over the panes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help { scroll: usize },
    Fleet { scroll: usize },
    Confirm(Dialog),
    Deploy(DeployForm),
    Pin(PinForm),
    Error { title: String, text: String },
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
}

/// The deploy shown in the progress area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployRun {
    pub hosts: Vec<HostProgress>,
    pub finished: bool,
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
    pub spinner: usize,
    pub deploy: Option<DeployRun>,
    pub message: Option<Flash>,
    pub readonly: bool,
    pub keep: usize,
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
            spinner: 0,
            deploy: None,
            message: None,
            readonly: false,
            keep: 3,
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

    pub fn selected_release(&self) -> Option<&Release> {
        self.visible_releases().get(self.release_sel).copied()
    }

    /// The screen layout for the current size.
    pub fn areas(&self) -> Areas {
        let rows = self.deploy.as_ref().map_or(0, |d| d.hosts.len());
        Areas::compute(self.size, self.hosts.len(), rows)
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
    match msg {
        Msg::Key(ev) => match Key::from_event(&ev) {
            Some(key) => on_key(app, key),
            None => Vec::new(),
        },
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
            app.details_mode = match app.details_mode {
                DetailsMode::Release => DetailsMode::History,
                DetailsMode::History => DetailsMode::Release,
            };
            app.details_scroll = 0;
            Vec::new()
        }
        Action::Fleet => {
            app.overlay = Some(Overlay::Fleet { scroll: 0 });
            Vec::new()
        }
        Action::Help => {
            app.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Action::Filter => {
            app.filter_editing = true;
            Vec::new()
        }
        Action::ClearFilter => {
            if !app.filter.is_empty() {
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
            app.refresh_all()
        }
        Action::Quit => quit(app),
        Action::Switch => open_switch(app),
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

/// Changes the deploy target (on the target field; ←/→ elsewhere do nothing).
fn cycle(app: &mut App, by: isize) {
    if let Some(Overlay::Deploy(f)) = &mut app.overlay {
        let n = f.choices.len() as isize;
        if f.field == DeployField::Target && n > 0 {
            f.choice = ((f.choice as isize + by).rem_euclid(n)) as usize;
        }
    }
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
        Some(Overlay::Help { .. }) | Some(Overlay::Fleet { .. }) => {
            let max = super::view::max_scroll(app);
            if let Some(Overlay::Help { scroll }) | Some(Overlay::Fleet { scroll }) =
                &mut app.overlay
            {
                *scroll = step(*scroll, by, max + 1);
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

fn quit(app: &mut App) -> Vec<Cmd> {
    if app.in_flight.is_empty() {
        return vec![Cmd::Quit];
    }
    // A second Ctrl-C (or q) while the quit question is up means it.
    if let Some(Overlay::Confirm(Dialog {
        pending: Pending::Quit { .. },
        ..
    })) = app.overlay
    {
        return vec![Cmd::Quit];
    }
    let in_flight = app.in_flight.iter().map(InFlight::describe).collect();
    app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Quit { in_flight })));
    Vec::new()
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

fn jobs_of(state: &HostState, name: &str) -> Vec<Job> {
    state
        .release(name)
        .map(|r| r.jobs.clone())
        .unwrap_or_default()
}

fn open_switch(app: &mut App) -> Vec<Cmd> {
    let Some(to) = app.selected_release().map(|r| r.name.to_string()) else {
        app.warn("no release selected");
        return Vec::new();
    };
    let Some((host, state)) = host_state(app) else {
        return Vec::new();
    };
    let from = state.current().map(|c| c.to_string());
    if from.as_deref() == Some(to.as_str()) {
        app.say(format!("{to} is already live on {host}"));
        return Vec::new();
    }
    let pending = Pending::Switch {
        from_jobs: from
            .as_deref()
            .map(|f| jobs_of(&state, f))
            .unwrap_or_default(),
        to_jobs: jobs_of(&state, &to),
        to_bad: plan::bad_releases(&state.history).contains(&to),
        hidden: state.hidden_processes,
        host,
        from,
        to,
    };
    app.overlay = Some(Overlay::Confirm(Dialog::new(pending)));
    Vec::new()
}

fn open_rollback(app: &mut App) -> Vec<Cmd> {
    let Some((host, state)) = host_state(app) else {
        return Vec::new();
    };
    let Some(from) = state.current().map(|c| c.to_string()) else {
        app.warn(format!(
            "{host}: the link points at no release; nothing to roll back"
        ));
        return Vec::new();
    };
    let to = match plan::rollback_target(&state) {
        Ok(n) => n.to_string(),
        Err(why) => {
            app.warn(format!("{host}: nothing to roll back to: {why}"));
            return Vec::new();
        }
    };
    let pending = Pending::Rollback {
        from_jobs: jobs_of(&state, &from),
        to_jobs: jobs_of(&state, &to),
        hidden: state.hidden_processes,
        host,
        from,
        to,
    };
    app.overlay = Some(Overlay::Confirm(Dialog::new(pending)));
    Vec::new()
}

fn ask_prune_plan(app: &mut App) -> Vec<Cmd> {
    let Some((host, _)) = host_state(app) else {
        return Vec::new();
    };
    app.say(format!(
        "{host}: computing the prune plan (keep {})…",
        app.keep
    ));
    app.plan_pending = Some(host.clone());
    vec![Cmd::PrunePlan {
        host,
        keep: app.keep,
    }]
}

fn open_pin(app: &mut App) -> Vec<Cmd> {
    let Some(rel) = app.selected_release().cloned() else {
        app.warn("no release selected");
        return Vec::new();
    };
    let Some((host, _)) = host_state(app) else {
        return Vec::new();
    };
    let active: Vec<Pin> = rel
        .pins
        .iter()
        .filter(|p| p.is_active(app.now))
        .cloned()
        .collect();
    if active.is_empty() {
        app.overlay = Some(Overlay::Pin(PinForm {
            host,
            release: rel.name.to_string(),
            duration: "2h".into(),
            reason: String::new(),
            field: PinField::Duration,
            error: None,
        }));
    } else {
        app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Unpin {
            host,
            release: rel.name.to_string(),
            pins: active,
        })));
    }
    Vec::new()
}

fn open_deploy(app: &mut App) -> Vec<Cmd> {
    let Some(h) = app.host() else {
        app.warn("no host selected");
        return Vec::new();
    };
    let mut choices = vec![TargetChoice {
        label: format!("this host: {}", h.name),
        hosts: vec![h.name.clone()],
    }];
    let mut groups: Vec<String> = h.groups.clone();
    for other in &app.hosts {
        for g in &other.groups {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
    }
    for g in groups {
        let hosts: Vec<String> = app
            .hosts
            .iter()
            .filter(|x| x.groups.contains(&g))
            .map(|x| x.name.clone())
            .collect();
        choices.push(TargetChoice {
            label: format!("group {g}"),
            hosts,
        });
    }
    if app.hosts.len() > 1 {
        choices.push(TargetChoice {
            label: "all hosts".into(),
            hosts: app.hosts.iter().map(|x| x.name.clone()).collect(),
        });
    }
    app.overlay = Some(Overlay::Deploy(DeployForm {
        paths: String::new(),
        message: String::new(),
        choices,
        choice: 0,
        field: DeployField::Paths,
        candidates: Vec::new(),
        error: None,
    }));
    Vec::new()
}

fn confirm(app: &mut App) -> Vec<Cmd> {
    let Some(Overlay::Confirm(d)) = app.overlay.take() else {
        return Vec::new();
    };
    if d.typed.is_some() {
        // Typed confirmations only run from Submit with `yes`.
        app.overlay = Some(Overlay::Confirm(d));
        return Vec::new();
    }
    run_pending(app, d.pending)
}

fn run_pending(app: &mut App, pending: Pending) -> Vec<Cmd> {
    if pending.dangerous() && app.readonly {
        // Defence in depth: no dialog should exist in read-only mode.
        app.warn("read-only: nothing was changed");
        return Vec::new();
    }
    let hosts: Vec<String> = pending.hosts().iter().map(|h| h.to_string()).collect();
    let op = match &pending {
        Pending::Switch { .. } => Some(OpKind::Switch),
        Pending::Rollback { .. } => Some(OpKind::Rollback),
        Pending::Prune { .. } => Some(OpKind::Prune),
        Pending::Pin { .. } => Some(OpKind::Pin),
        Pending::Unpin { .. } => Some(OpKind::Unpin),
        Pending::Deploy { .. } => Some(OpKind::Deploy),
        Pending::Quit { .. } => None,
    };
    if let Some(op) = op {
        app.in_flight.push(InFlight {
            op,
            hosts: hosts.clone(),
        });
        app.say(format!("{} on {}…", op.as_str(), hosts.join(", ")));
        if op == OpKind::Deploy {
            app.deploy = Some(DeployRun {
                hosts: hosts
                    .iter()
                    .map(|h| HostProgress {
                        host: h.clone(),
                        sent: 0,
                        total: 0,
                        phase: "waiting".into(),
                        result: None,
                    })
                    .collect(),
                finished: false,
            });
        }
    }
    pending.into_cmds()
}

fn cancel(app: &mut App) -> Vec<Cmd> {
    if app.filter_editing && app.overlay.is_none() {
        app.filter_editing = false;
        app.filter.clear();
        app.release_sel = 0;
        return Vec::new();
    }
    if app.overlay.take().is_some() {
        app.say("cancelled: nothing was changed");
    }
    Vec::new()
}

fn submit(app: &mut App) -> Vec<Cmd> {
    if app.filter_editing && app.overlay.is_none() {
        app.filter_editing = false;
        return Vec::new();
    }
    match app.overlay.take() {
        Some(Overlay::Confirm(mut d)) => match d.typed.as_deref() {
            Some("yes") => run_pending(app, d.pending),
            _ => {
                d.note = Some(format!(
                    "type yes, then Enter, to run on {} hosts (Esc cancels)",
                    d.pending.hosts().len()
                ));
                d.typed = Some(String::new());
                app.overlay = Some(Overlay::Confirm(d));
                Vec::new()
            }
        },
        Some(Overlay::Deploy(f)) => submit_deploy(app, f),
        Some(Overlay::Pin(f)) => submit_pin(app, f),
        other => {
            app.overlay = other;
            Vec::new()
        }
    }
}

fn submit_deploy(app: &mut App, mut f: DeployForm) -> Vec<Cmd> {
    if f.field != DeployField::Target {
        f.field = match f.field {
            DeployField::Paths => DeployField::Message,
            _ => DeployField::Target,
        };
        f.candidates.clear();
        app.overlay = Some(Overlay::Deploy(f));
        return Vec::new();
    }
    let paths = split_paths(&f.paths);
    if paths.is_empty() {
        f.error = Some("give at least one local path to deploy".into());
        f.field = DeployField::Paths;
        app.overlay = Some(Overlay::Deploy(f));
        return Vec::new();
    }
    let Some(choice) = f.choices.get(f.choice).cloned() else {
        return Vec::new();
    };
    if let Some(busy) = choice.hosts.iter().find_map(|h| app.host_busy(h)) {
        let what = busy.describe();
        f.error = Some(format!("wait: {what} is still running"));
        app.overlay = Some(Overlay::Deploy(f));
        return Vec::new();
    }
    let targets = choice
        .hosts
        .iter()
        .map(|name| {
            let hv = app.hosts.iter().find(|h| &h.name == name);
            let state = hv.and_then(|h| h.state.as_ref());
            let live = state.and_then(|s| s.current()).map(|c| c.to_string());
            let live_jobs = match (state, &live) {
                (Some(s), Some(l)) => jobs_of(s, l).len(),
                _ => 0,
            };
            DeployTarget {
                host: name.clone(),
                live,
                live_jobs,
                error: hv.and_then(|h| h.error.clone()),
            }
        })
        .collect();
    app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Deploy {
        targets,
        target_label: choice.label,
        paths,
        message: f.message.trim().to_string(),
    })));
    Vec::new()
}

fn submit_pin(app: &mut App, mut f: PinForm) -> Vec<Cmd> {
    if f.field == PinField::Duration {
        f.field = PinField::Reason;
        app.overlay = Some(Overlay::Pin(f));
        return Vec::new();
    }
    match humantime::parse_duration(f.duration.trim()) {
        Ok(d) if d.as_secs() > 0 => {
            app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Pin {
                host: f.host,
                release: f.release,
                duration: d,
                duration_text: humantime::format_duration(d).to_string(),
                reason: f.reason.trim().to_string(),
            })));
        }
        _ => {
            f.error = Some(format!(
                "'{}' is not a duration (e.g. 30m, 2h, 1d)",
                printable(f.duration.trim())
            ));
            f.field = PinField::Duration;
            app.overlay = Some(Overlay::Pin(f));
        }
    }
    Vec::new()
}

/// Splits the paths field: whitespace separates, quotes group.
pub fn split_paths(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The text field that has focus, if any.
fn field_mut(app: &mut App) -> Option<&mut String> {
    if app.filter_editing && app.overlay.is_none() {
        return Some(&mut app.filter);
    }
    match &mut app.overlay {
        Some(Overlay::Confirm(d)) => d.typed.as_mut(),
        Some(Overlay::Deploy(f)) => match f.field {
            DeployField::Paths => Some(&mut f.paths),
            DeployField::Message => Some(&mut f.message),
            DeployField::Target => None,
        },
        Some(Overlay::Pin(f)) => match f.field {
            PinField::Duration => Some(&mut f.duration),
            PinField::Reason => Some(&mut f.reason),
        },
        _ => None,
    }
}

const MAX_FIELD: usize = 1024;

fn type_char(app: &mut App, c: char) {
    let filtering = app.filter_editing && app.overlay.is_none();
    if let Some(field) = field_mut(app) {
        if field.chars().count() < MAX_FIELD {
            field.push(c);
        }
    } else if let Some(Overlay::Deploy(f)) = &mut app.overlay {
        // On the target field, space cycles like →.
        if c == ' ' && !f.choices.is_empty() {
            f.choice = (f.choice + 1) % f.choices.len();
        }
    }
    if filtering {
        app.release_sel = 0;
    }
    clear_form_error(app);
}

fn erase(app: &mut App) {
    if let Some(field) = field_mut(app) {
        field.pop();
    }
    if app.filter_editing && app.overlay.is_none() {
        app.release_sel = 0;
    }
    clear_form_error(app);
}

fn clear_form_error(app: &mut App) {
    match &mut app.overlay {
        Some(Overlay::Deploy(f)) => {
            f.error = None;
            f.candidates.clear();
        }
        Some(Overlay::Pin(f)) => f.error = None,
        _ => {}
    }
}

fn move_field(app: &mut App, by: isize) {
    match &mut app.overlay {
        Some(Overlay::Deploy(f)) => {
            let order = [
                DeployField::Paths,
                DeployField::Message,
                DeployField::Target,
            ];
            let i = order.iter().position(|x| *x == f.field).unwrap_or(0);
            f.field = order[step(i, by, order.len())];
            f.candidates.clear();
        }
        Some(Overlay::Pin(f)) => {
            f.field = if by < 0 {
                PinField::Duration
            } else {
                PinField::Reason
            };
        }
        _ => {}
    }
}

/// The last word of the paths field (what Tab completes).
fn last_word(s: &str) -> &str {
    match s.rfind(char::is_whitespace) {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

fn complete(app: &mut App) -> Vec<Cmd> {
    match &mut app.overlay {
        Some(Overlay::Deploy(f)) if f.field == DeployField::Paths => {
            vec![Cmd::Complete {
                input: last_word(&f.paths).to_string(),
            }]
        }
        Some(_) => {
            move_field(app, 1);
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn on_completions(app: &mut App, input: String, candidates: Vec<String>) {
    let Some(Overlay::Deploy(f)) = &mut app.overlay else {
        return;
    };
    if f.field != DeployField::Paths || last_word(&f.paths) != input {
        return; // the operator typed on: stale
    }
    let common = common_prefix(&candidates);
    if common.len() > input.len() {
        let keep = f.paths.len() - input.len();
        f.paths.truncate(keep);
        f.paths.push_str(&common);
    }
    f.candidates = if candidates.len() > 1 {
        candidates
    } else {
        Vec::new()
    };
    if f.candidates.is_empty() && common.is_empty() {
        f.error = Some(format!("no local path starts with '{}'", printable(&input)));
    }
}

fn common_prefix(v: &[String]) -> String {
    let Some(first) = v.first() else {
        return String::new();
    };
    let mut n = first.len();
    for s in &v[1..] {
        n = first
            .char_indices()
            .zip(s.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(n);
    }
    first[..n].to_string()
}

fn on_event(app: &mut App, ev: Event) -> Vec<Cmd> {
    match ev {
        Event::Scanned { host, at, result } => {
            scanned(app, &host, at, result);
            Vec::new()
        }
        Event::Plan { host, at, result } => {
            if app.plan_pending.as_deref() == Some(host.as_str()) {
                app.plan_pending = None;
            }
            match result {
                Ok((state, plan)) => {
                    scanned(app, &host, at, Ok(state));
                    if app.overlay.is_some() {
                        app.warn(format!("{host}: prune plan ready, but a dialog is open"));
                    } else {
                        app.say(format!(
                            "{host}: prune would delete {} release(s)",
                            plan.deletions().count()
                        ));
                        app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Prune {
                            host,
                            keep: app.keep,
                            plan,
                        })));
                    }
                }
                Err(e) => {
                    let e = clean(&e);
                    app.warn(format!("{host}: cannot plan prune: {e}"));
                    show_error(app, "Prune plan failed", format!("{host}: {e}"));
                }
            }
            Vec::new()
        }
        Event::Done { host, op, result } => {
            if let Some(i) = app
                .in_flight
                .iter()
                .position(|f| f.op == op && f.hosts.iter().any(|h| *h == host))
            {
                app.in_flight.remove(i);
            }
            match result {
                Ok(summary) => app.say(format!("{host}: {}", clean(&summary))),
                Err(f) => {
                    let msg = clean(&f.message);
                    let mut text = format!("{host}: {} failed: {msg}", op.as_str());
                    if f.is_conflict() {
                        text.push_str(
                            " — the host changed since you saw it; refreshed, look again",
                        );
                    }
                    app.warn(text.clone());
                    show_error(app, &format!("{} failed", op.as_str()), text);
                }
            }
            // Whatever happened, show the host as it is now.
            app.refresh_host(&host)
        }
        Event::Progress {
            host,
            sent,
            total,
            phase,
        } => {
            if let Some(p) = app
                .deploy
                .as_mut()
                .and_then(|d| d.hosts.iter_mut().find(|p| p.host == host))
            {
                p.sent = sent;
                p.total = total;
                p.phase = clean(&phase);
            }
            Vec::new()
        }
        Event::DeployHost { host, result } => {
            let result = result.map(|s| clean(&s)).map_err(|e| clean(&e));
            if let Some(p) = app
                .deploy
                .as_mut()
                .and_then(|d| d.hosts.iter_mut().find(|p| p.host == host))
            {
                p.phase = if result.is_ok() { "done" } else { "failed" }.into();
                p.result = Some(result);
            }
            app.refresh_host(&host)
        }
        Event::DeployDone => {
            app.in_flight.retain(|f| f.op != OpKind::Deploy);
            if let Some(d) = &mut app.deploy {
                d.finished = true;
                let failed: Vec<String> = d
                    .hosts
                    .iter()
                    .filter(|p| !matches!(p.result, Some(Ok(_))))
                    .map(|p| p.host.clone())
                    .collect();
                let n = d.hosts.len();
                if failed.is_empty() {
                    app.say(format!("deploy done on {n} host(s)"));
                } else {
                    app.warn(format!(
                        "deploy failed on {} of {n} host(s): {}",
                        failed.len(),
                        failed.join(", ")
                    ));
                }
            }
            Vec::new()
        }
        Event::Completions { input, candidates } => {
            on_completions(app, input, candidates);
            Vec::new()
        }
    }
}

fn show_error(app: &mut App, title: &str, text: String) {
    if app.overlay.is_none() {
        app.overlay = Some(Overlay::Error {
            title: title.to_string(),
            text,
        });
    }
}

fn scanned(app: &mut App, host: &str, at: SystemTime, result: Result<HostState, String>) {
    let selected = app.host_sel;
    let sel_name = app.selected_release().map(|r| r.name.to_string());
    let Some(i) = app.hosts.iter().position(|h| h.name == host) else {
        return;
    };
    let h = &mut app.hosts[i];
    h.scanning = false;
    match result {
        Ok(state) => {
            h.state = Some(state);
            h.error = None;
            h.updated_at = Some(at);
        }
        Err(e) => {
            h.error = Some(clean(&e));
        }
    }
    // Keep the same release selected when the list changes under it.
    if i == selected {
        if let Some(name) = sel_name {
            if let Some(j) = app
                .visible_releases()
                .iter()
                .position(|r| r.name.as_str() == name)
            {
                app.release_sel = j;
                return;
            }
        }
        let n = app.visible_releases().len();
        app.release_sel = app.release_sel.min(n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn clean_makes_one_printable_line() {
        assert_eq!(clean("a\n b\x1b[2J\n"), "a b?[2J");
    }
}
