//! The three panes: hosts, releases of the selected host, details.

use std::collections::BTreeSet;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::bytes;
use crate::model::{HostState, LinkState, Origin, Release, age_since, printable};
use crate::ops::check::{Level, TOOLS};
use crate::plan::{self, Drift, Fleet};
use crate::present::runs::health_cell;
use crate::tui::app::{App, DetailsMode, HostView, Pane};
use crate::tui::theme::{self, Theme};

fn pane_block<'a>(app: &App, pane: Pane, title: String) -> Block<'a> {
    let t = &app.theme;
    let focused = app.focus == pane && app.overlay.is_none();
    Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(focused))
        .title(Span::styled(
            title,
            if focused { t.title() } else { t.plain() },
        ))
}

fn highlight(app: &App, pane: Pane) -> Style {
    if app.focus == pane {
        app.theme.selected()
    } else {
        app.theme.selected_unfocused()
    }
}

/// Total jobs on a host, "?" when /proc could not be read.
fn job_count(s: &HostState) -> String {
    if !s.jobs_known {
        return "?".into();
    }
    let n: usize = s.releases.iter().map(|r| r.jobs.len()).sum();
    if s.hidden_processes > 0 {
        format!("{n}+?")
    } else {
        n.to_string()
    }
}

fn live_text(s: &HostState) -> (String, bool) {
    match &s.link {
        LinkState::Release { name, .. } => (name.to_string(), true),
        LinkState::Absent => ("(no link)".into(), false),
        LinkState::Dangling { target } => (format!("dangling → {}", printable(target)), false),
        LinkState::Outside { target } => (format!("outside → {}", printable(target)), false),
        LinkState::NotRelease { target } => {
            (format!("not a release → {}", printable(target)), false)
        }
        LinkState::NotSymlink => ("not a symlink!".into(), false),
    }
}

pub(super) fn hosts(app: &App, frame: &mut Frame, r: Rect) {
    let t = &app.theme;
    let fleet = Fleet::of(app.hosts.iter().filter_map(|h| h.state.as_ref()));
    // A host that rolled itself back wears a mark before its name.
    let marked = app.hosts.iter().any(|h| app.unseen_rollback(h).is_some());
    let name_w = app
        .hosts
        .iter()
        .map(|h| h.name.chars().count() + if marked { 2 } else { 0 })
        .max()
        .unwrap_or(4)
        .clamp(4, 22) as u16;
    let live_w = app
        .hosts
        .iter()
        .filter_map(|h| h.state.as_ref())
        .map(|s| live_text(s).0.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 28) as u16;
    // Narrow screens show only who holds a lock; the details say the rest.
    let wide = r.width >= 100;
    let lock_w = app
        .hosts
        .iter()
        .filter_map(|h| h.state.as_ref()?.lock.as_ref())
        .map(|l| lock_text(app, l, wide).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 30) as u16;
    let rows: Vec<Row> = app
        .hosts
        .iter()
        .map(|h| host_row(app, h, &fleet, wide, marked, t))
        .collect();
    let header =
        Row::new(["host", "state", "live", "jobs", "lock", "drift / status"]).style(t.dim());
    let table = Table::new(
        rows,
        [
            Constraint::Length(name_w),
            Constraint::Length(5),
            Constraint::Length(live_w),
            Constraint::Length(4),
            Constraint::Length(lock_w),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .column_spacing(1)
    .row_highlight_style(highlight(app, Pane::Hosts))
    .highlight_symbol("▸ ")
    .block(pane_block(app, Pane::Hosts, " hosts ".into()));
    let mut st = TableState::default().with_selected(Some(app.host_sel));
    frame.render_stateful_widget(table, r, &mut st);
}

/// "carol@laptop: deploy 1m 15s".
fn lock_text(app: &App, l: &crate::model::LockInfo, wide: bool) -> String {
    if !l.holder_known() {
        return "holder unknown".into();
    }
    if !wide {
        return printable(&l.by);
    }
    let ago = l
        .age(app.now)
        .map(|d| format!(" {}", crate::model::age(d).replace(" ago", "")))
        .unwrap_or_default();
    format!("{}: {}{ago}", printable(&l.by), printable(&l.action))
}

/// `marked`: some host wears the self-rollback mark (the others' names line up).
fn host_row<'a>(
    app: &App,
    h: &HostView,
    fleet: &Fleet,
    wide: bool,
    marked: bool,
    t: &Theme,
) -> Row<'a> {
    let rolled = app.unseen_rollback(h);
    let name = match (&rolled, marked) {
        (Some(_), _) => Cell::from(Span::styled(
            format!("{} {}", theme::SELF_ROLLBACK, printable(&h.name)),
            t.alarm(),
        )),
        (None, true) => Cell::from(format!("  {}", printable(&h.name))),
        (None, false) => Cell::from(printable(&h.name)),
    };
    let state_cell = match (&h.state, &h.error) {
        (_, Some(_)) => Cell::from(Span::styled(theme::DOWN, t.error())),
        (Some(_), None) => Cell::from(Span::styled(theme::UP, t.ok())),
        (None, None) => Cell::from(Span::styled("…", t.dim())),
    };
    let Some(s) = &h.state else {
        let status = match &h.error {
            Some(e) => Span::styled(printable(e), t.error()),
            None => Span::styled("scanning…", t.dim()),
        };
        return Row::new(vec![
            name,
            state_cell,
            Cell::from("—"),
            Cell::from("—"),
            Cell::from(""),
            Cell::from(status),
        ]);
    };
    let (live, ok) = live_text(s);
    let live = Cell::from(Span::styled(live, if ok { t.live() } else { t.warn() }));
    let jobs = Cell::from(Span::styled(job_count(s), t.jobs()));
    let lock = match &s.lock {
        Some(l) => Cell::from(Span::styled(lock_text(app, l, wide), t.warn())),
        None => Cell::from(Span::styled("free", t.dim())),
    };
    let status_span = match &h.error {
        Some(e) => Span::styled(
            format!(
                "{} (last good {})",
                printable(e),
                h.updated_at
                    .map(|u| age_since(u, app.now))
                    .unwrap_or_default()
            ),
            t.error(),
        ),
        None => match plan::drift(fleet, s) {
            Drift::UpToDate => Span::styled("newest", t.ok()),
            Drift::Behind { by } => Span::styled(format!("{by} behind newest"), t.warn()),
            Drift::NoLive => Span::styled("no live release", t.warn()),
        },
    };
    let (first, after) = live_health(s, t);
    // What needs the operator first: a rollback the host made by itself, a failing
    // live release, a probation (due: red); then the drift and the runs.
    let mut status: Vec<Span> = Vec::new();
    if let Some(so) = &rolled {
        status.push(Span::styled(
            format!(
                "{} rolled back by itself at {} (h)",
                theme::SELF_ROLLBACK,
                so.clock()
            ),
            t.alarm(),
        ));
    }
    status.extend(first);
    if let Some(ps) = app.probation_status(h) {
        status.push(Span::styled(
            format!("{} {}", theme::PROBATION, ps.words()),
            if ps.due { t.error() } else { t.warn() },
        ));
    }
    let mut with_dots: Vec<Span> = Vec::new();
    for sp in status {
        if !with_dots.is_empty() {
            with_dots.push(Span::raw(" · "));
        }
        with_dots.push(sp);
    }
    let mut status = with_dots;
    if !status.is_empty() {
        status.push(Span::raw(" · "));
    }
    status.push(status_span);
    if let Some(a) = after {
        status.push(Span::raw(" · "));
        status.push(a);
    }
    Row::new(vec![
        name,
        state_cell,
        live,
        jobs,
        lock,
        Cell::from(Line::from(status)),
    ])
}

/// The live release's health: when it fails more than the release live before it,
/// the standout ("✗ failing since … went live, 3 of 5 runs", put first: it matters
/// most); else its runs at a glance ("runs 4 ok"). Nothing when the launcher recorded
/// no run on it.
fn live_health<'a>(s: &HostState, t: &Theme) -> (Option<Span<'a>>, Option<Span<'a>>) {
    if let Some(so) = plan::health::standout(s) {
        return (Some(Span::styled(standout_text(&so), t.error())), None);
    }
    match s.current().and_then(|c| s.release(c.as_str())) {
        Some(r) if r.health.runs > 0 => {
            let style = if r.health.failures() > 0 {
                t.warn()
            } else {
                t.dim()
            };
            (
                None,
                Some(Span::styled(format!("runs {}", glance(&r.health)), style)),
            )
        }
        _ => (None, None),
    }
}

/// "✗ failing since batch_… went live, 3 of 5 runs".
fn standout_text(so: &plan::health::Standout) -> String {
    format!(
        "{} failing since {} went live, {} of {}",
        theme::BAD,
        so.live,
        so.failures,
        crate::model::plural(u64::from(so.finished), "run")
    )
}

/// A release's runs at a glance: "12 ok · 2 failed" (failed, killed and lost count as
/// failed here, as the guards count them; the details pane tells them apart), or
/// "3 running" while none has finished; "-" without runs.
pub(crate) fn glance(h: &crate::model::Health) -> String {
    let mut parts = Vec::new();
    if h.ok > 0 {
        parts.push(format!("{} ok", h.ok));
    }
    if h.failures() > 0 {
        parts.push(format!("{} failed", h.failures()));
    }
    if parts.is_empty() && h.running > 0 {
        parts.push(format!("{} running", h.running));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" · ")
    }
}

/// The marker column of a release: live, previous, bad, pinned.
fn markers<'a>(
    r: &Release,
    s: &HostState,
    prev: Option<&crate::model::ReleaseName>,
    bad: &BTreeSet<String>,
    app: &App,
) -> Line<'a> {
    let t = &app.theme;
    let slot = |on: bool, sym: &'static str, style: Style| {
        if on {
            Span::styled(sym, style)
        } else {
            Span::raw(" ")
        }
    };
    Line::from(vec![
        slot(s.current() == Some(&r.name), theme::LIVE, t.live()),
        slot(prev == Some(&r.name), theme::PREVIOUS, t.previous()),
        slot(bad.contains(r.name.as_str()), theme::BAD, t.bad()),
        slot(
            r.pins.iter().any(|p| p.is_active(app.now)),
            theme::PIN,
            t.pin(),
        ),
    ])
}

fn origin_text(r: &Release) -> String {
    match &r.origin {
        Origin::Relman(m) if m.message.is_empty() => format!("by {}", printable(&m.created_by)),
        Origin::Relman(m) => format!("{} — {}", printable(&m.message), printable(&m.created_by)),
        Origin::Unknown => "(origin unknown: no manifest)".into(),
        Origin::BadManifest(e) => format!("bad manifest: {}", printable(e)),
    }
}

pub(super) fn releases(app: &App, frame: &mut Frame, r: Rect) {
    let t = &app.theme;
    let Some(h) = app.host() else {
        frame.render_widget(pane_block(app, Pane::Releases, " releases ".into()), r);
        return;
    };
    let mut title = format!(" releases — {} ", printable(&h.name));
    if let Some(s) = &h.state {
        let shown = app.visible_releases().len();
        if shown == s.releases.len() {
            title.push_str(&format!("({shown}) "));
        } else {
            title.push_str(&format!("({shown} of {}) ", s.releases.len()));
        }
        if s.foreign > 0 {
            title.push_str(&format!("· {} foreign ", s.foreign));
        }
    }
    if app.filter_editing || !app.filter.is_empty() {
        let cursor = if app.filter_editing { "▏" } else { "" };
        title.push_str(&format!("· filter /{}{cursor} ", printable(&app.filter)));
    }
    if h.error.is_some() && h.state.is_some() {
        title.push_str("· STALE ");
    }
    let block = pane_block(app, Pane::Releases, title);
    let Some(s) = &h.state else {
        let text = match &h.error {
            Some(e) => vec![
                Line::from(Span::styled(
                    format!("{} is unreachable:", printable(&h.name)),
                    t.error(),
                )),
                Line::from(printable(e)),
                Line::from(Span::styled(
                    "R retries; the other hosts keep working.",
                    t.dim(),
                )),
            ],
            None => vec![Line::from(Span::styled("scanning…", t.dim()))],
        };
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
            r,
        );
        return;
    };
    let bad = plan::bad_releases(&s.history);
    let prev = plan::previous(s);
    let visible = app.visible_releases();
    if visible.is_empty() {
        let why = if s.releases.is_empty() {
            if s.root_exists {
                format!("no releases in {}", printable(&s.root))
            } else {
                format!(
                    "{} does not exist yet: deploy creates it",
                    printable(&s.root)
                )
            }
        } else {
            "no release matches the filter (Esc clears it)".to_string()
        };
        frame.render_widget(Paragraph::new(Span::styled(why, t.dim())).block(block), r);
        return;
    }
    // The runs column shows once the launcher recorded a run of any release listed.
    let with_runs = visible.iter().any(|r| r.health.runs > 0);
    let runs_w = visible
        .iter()
        .map(|r| glance(&r.health).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 20) as u16;
    let rows: Vec<Row> = visible
        .iter()
        .map(|rel| {
            let jobs = if rel.jobs.is_empty() {
                Cell::from("")
            } else {
                Cell::from(Span::styled(rel.jobs.len().to_string(), t.jobs()))
            };
            let style_name = if s.current() == Some(&rel.name) {
                t.live()
            } else if bad.contains(rel.name.as_str()) {
                t.bad()
            } else {
                t.plain()
            };
            let mut cells = vec![
                Cell::from(markers(rel, s, prev.as_ref(), &bad, app)),
                Cell::from(Span::styled(rel.name.to_string(), style_name)),
                jobs,
            ];
            if with_runs {
                let style = if rel.health.failures() > 0 {
                    t.bad()
                } else {
                    t.dim()
                };
                cells.push(Cell::from(Span::styled(glance(&rel.health), style)));
            }
            cells.extend([
                Cell::from(age_since(rel.name.time(), app.now)),
                Cell::from(bytes(rel.size_bytes)),
                Cell::from(Span::styled(origin_text(rel), t.dim())),
            ]);
            Row::new(cells)
        })
        .collect();
    let name_w = visible
        .iter()
        .map(|r| r.name.as_str().chars().count())
        .max()
        .unwrap_or(20) as u16;
    let mut head = vec!["", "release", "jobs"];
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(name_w),
        Constraint::Length(4),
    ];
    if with_runs {
        head.push("runs");
        widths.push(Constraint::Length(runs_w));
    }
    head.extend(["age", "size", "origin / message"]);
    widths.extend([
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Fill(1),
    ]);
    let header = Row::new(head).style(t.dim());
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(highlight(app, Pane::Releases))
        .highlight_symbol("▸ ")
        .block(block);
    let mut st = TableState::default().with_selected(Some(app.release_sel));
    frame.render_stateful_widget(table, r, &mut st);
}

pub(super) fn details(app: &App, frame: &mut Frame, r: Rect) {
    let Some(h) = app.host() else {
        frame.render_widget(pane_block(app, Pane::Details, " details ".into()), r);
        return;
    };
    let (title, lines) = match (app.details_mode, &h.state) {
        (DetailsMode::Check, _) => (
            format!(" check — {} (c: back) ", printable(&h.name)),
            check_lines(app, &h.name),
        ),
        (_, None) => (
            " details ".to_string(),
            match &h.error {
                Some(e) => vec![Line::from(Span::styled(
                    format!("no data: {}", printable(e)),
                    app.theme.dim(),
                ))],
                None => vec![Line::from(Span::styled("scanning…", app.theme.dim()))],
            },
        ),
        (DetailsMode::History, Some(s)) => (
            format!(" history — {} (newest first; h: back) ", printable(&h.name)),
            history_lines(app, s),
        ),
        (DetailsMode::Release, Some(s)) => match app.selected_release() {
            Some(rel) => (
                format!(" details — {} ", rel.name),
                release_lines(app, s, rel, runs_section(app, &h.name, s, rel, r.width)),
            ),
            None => (" details ".to_string(), host_lines(app, s)),
        },
    };
    let lines: Vec<Line> = lines.into_iter().skip(app.details_scroll).collect();
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(app, Pane::Details, title)),
        r,
    );
}

fn kv<'a>(t: &Theme, k: &str, v: String) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{k:<9}"), t.dim()), Span::raw(v)])
}

/// A release's details; `runs` (its recent runs) go after its jobs and pins, before
/// its files.
fn release_lines<'a>(app: &App, s: &HostState, r: &Release, runs: Vec<Line<'a>>) -> Vec<Line<'a>> {
    let t = &app.theme;
    let mut out = Vec::new();
    let bad = plan::bad_releases(&s.history);
    let mut state = Vec::new();
    if s.current() == Some(&r.name) {
        state.push(Span::styled(format!("{} live", theme::LIVE), t.live()));
    }
    if plan::previous(s).as_ref() == Some(&r.name) {
        state.push(Span::styled(
            format!("{} previous (rollback target)", theme::PREVIOUS),
            t.previous(),
        ));
    }
    if bad.contains(r.name.as_str()) {
        state.push(Span::styled(
            format!("{} bad (rolled back from)", theme::BAD),
            t.bad(),
        ));
    }
    let mut first = vec![Span::styled(format!("{:<9}", "release"), t.dim())];
    first.push(Span::raw(format!(
        "{}  {}  {}",
        r.name,
        bytes(r.size_bytes),
        age_since(r.name.time(), app.now)
    )));
    for sp in state {
        first.push(Span::raw("  "));
        first.push(sp);
    }
    out.push(Line::from(first));
    out.push(kv(t, "path", printable(&s.release_path(&r.name))));
    out.extend(lock_line(app, s));
    out.extend(guard_lines(app, s, Some(r)));
    match &r.origin {
        Origin::Relman(m) => {
            out.push(kv(
                t,
                "made",
                format!(
                    "{} by {}",
                    printable(&m.created_at),
                    printable(&m.created_by)
                ),
            ));
            if !m.message.is_empty() {
                out.push(kv(t, "message", printable(&m.message)));
            }
        }
        Origin::Unknown => out.push(kv(t, "origin", "unknown (no .relman.json)".into())),
        Origin::BadManifest(e) => out.push(Line::from(Span::styled(
            format!("{:<9}{}", "manifest", printable(e)),
            t.error(),
        ))),
    }
    // Jobs.
    if r.jobs.is_empty() {
        let none = if s.jobs_known {
            "none seen".to_string()
        } else {
            "unknown: /proc could not be read".to_string()
        };
        out.push(kv(t, "jobs", none));
    } else {
        out.push(Line::from(Span::styled(
            format!("jobs ({})", r.jobs.len()),
            t.jobs(),
        )));
        for j in &r.jobs {
            let age = j
                .started_at
                .map(|a| age_since(a, app.now))
                .unwrap_or_else(|| "?".into());
            out.push(Line::from(format!(
                "  pid {:<7} {:<10} {:<12} {}",
                j.pid,
                printable(&j.user),
                age,
                printable(&j.command)
            )));
        }
    }
    if s.hidden_processes > 0 {
        out.push(Line::from(Span::styled(
            format!(
                "  {} of other users could not be inspected",
                crate::model::plural(s.hidden_processes as u64, "process")
            ),
            t.warn(),
        )));
    }
    // Pins.
    if r.pins.is_empty() {
        out.push(kv(t, "pins", "none".into()));
    } else {
        for p in &r.pins {
            let until = match p.expires() {
                Some(e) if p.is_active(app.now) => format!(
                    "expires in {}",
                    crate::model::age(e.duration_since(app.now).unwrap_or_default())
                        .replace(" ago", "")
                ),
                Some(_) => "expired".to_string(),
                None => "unreadable expiry: protects nothing".to_string(),
            };
            let reason = if p.reason.is_empty() {
                String::new()
            } else {
                format!(" — {}", printable(&p.reason))
            };
            out.push(Line::from(vec![
                Span::styled(format!("{:<9}", "pin"), t.dim()),
                Span::styled(theme::PIN, t.pin()),
                Span::raw(format!(" by {}, {until}{reason}", printable(&p.by))),
            ]));
        }
    }
    out.extend(runs);
    // Files.
    if let Some(m) = r.manifest() {
        out.push(Line::from(Span::styled(
            format!("files ({})", m.files.len()),
            t.dim(),
        )));
        for f in &m.files {
            let sha: String = f.sha256.chars().take(12).collect();
            out.push(Line::from(format!(
                "  {:04o} {:>10}  {}  {}",
                f.mode & 0o7777,
                bytes(f.size),
                printable(&sha),
                printable(&f.path)
            )));
        }
    }
    out
}

/// The selected release's recent runs: its health, then the runs the worker fetched
/// (the CLI's `relman runs` table). Nothing for a release with no recorded run.
fn runs_section<'a>(
    app: &App,
    host: &str,
    s: &HostState,
    r: &Release,
    width: u16,
) -> Vec<Line<'a>> {
    let t = &app.theme;
    if r.health.runs == 0 {
        return Vec::new();
    }
    let style = if r.health.failures() > 0 {
        t.bad()
    } else {
        t.dim()
    };
    let mut out = vec![Line::from(vec![
        Span::styled(format!("{:<9}", "runs"), t.dim()),
        Span::styled(health_cell(&r.health), style),
    ])];
    if let Some(so) = plan::health::standout(s).filter(|so| so.live == r.name) {
        let before = match so.before.as_ref().and_then(|b| s.release(b.as_str())) {
            Some(b) => format!(
                "before it {}: {} of {} failed",
                b.name,
                b.health.failures(),
                crate::model::plural(u64::from(plan::health::finished(&b.health)), "run")
            ),
            None => "no release live before it to compare with".into(),
        };
        out.push(Line::from(vec![
            Span::raw(" ".repeat(9)),
            Span::styled(
                format!(
                    "{} failing since it went live, {} of {}",
                    theme::BAD,
                    so.failures,
                    crate::model::plural(u64::from(so.finished), "run")
                ),
                t.error(),
            ),
        ]));
        out.push(Line::from(vec![
            Span::raw(" ".repeat(11)),
            Span::styled(before, t.dim()),
        ]));
    }
    let shown = app
        .runs
        .as_ref()
        .filter(|v| v.host == host && v.release == r.name.as_str());
    match shown.and_then(|v| v.result.as_ref()) {
        None => out.push(Line::from(Span::styled("  asking the host…", t.dim()))),
        Some(Err(e)) => out.push(Line::from(Span::styled(
            format!("  cannot read the runs: {}", printable(e)),
            t.error(),
        ))),
        Some(Ok(runs)) if runs.is_empty() => {
            out.push(Line::from(Span::styled("  no runs recorded", t.dim())))
        }
        Some(Ok(runs)) => {
            let room = (width as usize).saturating_sub(2);
            let lines = run_rows(runs, app.now, room);
            for (i, l) in lines.into_iter().enumerate() {
                let style = match i.checked_sub(1).and_then(|j| runs.get(j)) {
                    None => t.dim(),
                    Some(run) if run.status.is_failure() => t.bad(),
                    Some(run) if run.status == crate::model::RunStatus::Running => t.jobs(),
                    Some(_) => t.plain(),
                };
                out.push(Line::from(Span::styled(printable(&l), style)));
            }
            out.extend(tail_section(app, runs, r, room));
        }
    }
    out
}

/// At most this many lines of a run's output tail in the details pane (the rest:
/// `relman runs`).
const TAIL_SHOWN: usize = 20;

/// The newest failed (or killed) run's output tail, kept by `launch --tail`: its
/// last [`TAIL_SHOWN`] lines under a heading. Nothing when no listed run has one.
fn tail_section<'a>(
    app: &App,
    runs: &[crate::model::Run],
    r: &Release,
    room: usize,
) -> Vec<Line<'a>> {
    let t = &app.theme;
    let Some((run, tail)) = runs
        .iter()
        .filter(|x| x.status.is_failure())
        .find_map(|x| x.tail.as_ref().map(|tl| (x, tl)))
    else {
        return Vec::new();
    };
    let age = humantime::parse_rfc3339(&run.started_at)
        .map_or_else(|_| "?".into(), |s| crate::model::age_since(s, app.now));
    let how = match (&run.signal, run.exit_code) {
        (Some(sig), _) => format!("SIG{}", printable(sig)),
        (None, Some(c)) => format!("exit {c}"),
        (None, None) => run.status.as_str().to_string(),
    };
    let mut out = vec![Line::from(Span::styled(
        crate::model::truncate(
            &format!(
                "  output of the {} run {age} ({how}), its last lines:",
                run.status.as_str()
            ),
            room,
        ),
        t.dim(),
    ))];
    let skip = tail.len().saturating_sub(TAIL_SHOWN);
    if skip > 0 {
        out.push(Line::from(Span::styled(
            crate::model::truncate(
                &format!("    … {skip} earlier: relman runs --release {}", r.name),
                room,
            ),
            t.dim(),
        )));
    }
    for l in crate::present::runs::tail_lines(&tail[skip..], "    | ", Some(room)) {
        out.push(Line::from(Span::styled(l, t.plain())));
    }
    out
}

/// The selected release's recent runs, in the CLI's words (`present::runs`).
fn run_rows(runs: &[crate::model::Run], now: std::time::SystemTime, width: usize) -> Vec<String> {
    use crate::present::runs::{RunColumns, runs_lines};
    runs_lines(runs, now, Some(width), RunColumns::OfRelease)
}

/// The host's check (`c`): the CLI's rows, tools first (found, or missing), then the
/// rest with their level.
fn check_lines<'a>(app: &App, host: &str) -> Vec<Line<'a>> {
    let t = &app.theme;
    let Some(rows) = app
        .check
        .as_ref()
        .filter(|c| c.host == host)
        .map(|c| c.rows.as_ref())
    else {
        return vec![Line::from(Span::styled("c checks this host", t.dim()))];
    };
    let Some(rows) = rows else {
        return vec![Line::from(Span::styled("checking…", t.dim()))];
    };
    let level = |l: Level| {
        let style = match l {
            Level::Ok => t.ok(),
            Level::Warn => t.warn(),
            Level::Fail => t.error(),
        };
        Span::styled(format!("{:<5}", l.as_str().to_uppercase()), style)
    };
    let (tools, sanity): (Vec<_>, Vec<_>) =
        rows.iter().partition(|r| TOOLS.contains(&r.what.as_str()));
    let mut out = Vec::new();
    if !tools.is_empty() {
        let missing: Vec<String> = tools
            .iter()
            .filter(|r| r.level != Level::Ok)
            .map(|r| printable(&r.what))
            .collect();
        let found = tools.len() - missing.len();
        let mut line = vec![
            level(if missing.is_empty() {
                Level::Ok
            } else {
                Level::Fail
            }),
            Span::raw(format!(" tools: {found} of {} found", tools.len())),
        ];
        if !missing.is_empty() {
            line.push(Span::styled(
                format!("; missing: {}", missing.join(", ")),
                t.error(),
            ));
        }
        out.push(Line::from(line));
    }
    for r in sanity {
        out.push(Line::from(vec![
            level(r.level),
            Span::raw(format!(" {:<24} ", printable(&r.what))),
            Span::styled(printable(&r.detail), t.dim()),
        ]));
    }
    if !tools.is_empty() {
        out.push(Line::from(Span::styled("tools", t.dim())));
        for r in tools {
            out.push(Line::from(vec![
                level(r.level),
                Span::raw(format!(" {:<24} ", printable(&r.what))),
                Span::styled(printable(&r.detail), t.dim()),
            ]));
        }
    }
    out
}

/// The host's lock holder, when locked.
fn lock_line<'a>(app: &App, s: &HostState) -> Option<Line<'a>> {
    let l = s.lock.as_ref()?;
    let pid = l.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    Some(Line::from(vec![
        Span::styled(format!("{:<9}", "locked"), app.theme.dim()),
        Span::styled(
            format!("{}{pid}", lock_text(app, l, true)),
            app.theme.warn(),
        ),
    ]))
}

/// The host's guards as the details say them: its probation (on the live release's
/// details, or the host's) and a rollback it made by itself (on the details of either
/// release it names, or the host's).
fn guard_lines<'a>(app: &App, s: &HostState, r: Option<&Release>) -> Vec<Line<'a>> {
    let t = &app.theme;
    let mut out = Vec::new();
    let Some(h) = app.host() else {
        return out;
    };
    let about = |name: Option<&str>| match (r, name) {
        (None, _) => true,
        (Some(r), Some(n)) => r.name.as_str() == n,
        (Some(_), None) => false,
    };
    if let Some(so) = plan::health::self_rollback(s) {
        if about(so.from.as_deref()) || about(so.to.as_deref()) {
            let what = so
                .note
                .as_deref()
                .map(|n| format!(": {}", printable(n)))
                .unwrap_or_default();
            out.push(Line::from(vec![
                Span::styled(format!("{:<9}", "guard"), t.dim()),
                Span::styled(
                    format!(
                        "{} rolled back by itself at {}{what}",
                        theme::SELF_ROLLBACK,
                        so.clock()
                    ),
                    t.bad(),
                ),
            ]));
            if let (Some(f), Some(to)) = (&so.from, &so.to) {
                out.push(kv(
                    t,
                    "",
                    format!("left {} (bad now) for {}", printable(f), printable(to)),
                ));
            }
        }
    }
    if let (Some(p), Some(ps)) = (s.probation.as_ref(), app.probation_status(h)) {
        if about(Some(p.release.as_str())) {
            out.push(Line::from(vec![
                Span::styled(format!("{:<9}", "guard"), t.dim()),
                Span::styled(
                    format!("{} {}", theme::PROBATION, ps.words()),
                    if ps.due { t.error() } else { t.warn() },
                ),
            ]));
            out.push(kv(
                t,
                "",
                format!(
                    "{} since {}, until {}",
                    printable(&p.release),
                    printable(&p.since),
                    printable(&p.until)
                ),
            ));
            out.push(kv(
                t,
                "",
                format!(
                    "failing, it goes back to {}; A accepts it",
                    p.previous
                        .as_deref()
                        .map(printable)
                        .unwrap_or_else(|| "no release (none before)".into())
                ),
            ));
        }
    }
    // The details pane does not wrap: these lines must be read whole.
    let width = app.areas().details.width.saturating_sub(2).max(20) as usize;
    out.iter()
        .flat_map(|l| crate::tui::wrap::wrap_indented(l, width, 9))
        .collect()
}

fn host_lines<'a>(app: &App, s: &HostState) -> Vec<Line<'a>> {
    let t = &app.theme;
    let mut out = vec![
        kv(t, "root", printable(&s.root_abs)),
        kv(t, "link", printable(&s.link_name)),
    ];
    out.extend(guard_lines(app, s, None));
    if s.foreign > 0 {
        out.push(kv(
            t,
            "foreign",
            format!("{} entries (never touched)", s.foreign),
        ));
    }
    for w in &s.warnings {
        out.push(Line::from(Span::styled(printable(w), t.warn())));
    }
    out
}

fn history_lines<'a>(app: &App, s: &HostState) -> Vec<Line<'a>> {
    let t = &app.theme;
    if s.history.is_empty() {
        return vec![Line::from(Span::styled("no history yet", t.dim()))];
    }
    let mut out = guard_lines(app, s, None);
    if !out.is_empty() {
        out.push(Line::from(""));
    }
    out.extend(s.history.iter().rev().map(|e| {
        let when = humantime::parse_rfc3339(&e.at)
            .map(|at| age_since(at, app.now))
            .unwrap_or_else(|_| printable(&e.at));
        let arrow = match (&e.from, &e.to) {
            (Some(f), Some(to)) => format!("{} → {}", printable(f), printable(to)),
            (None, Some(to)) => format!("→ {}", printable(to)),
            (Some(f), None) => printable(f),
            (None, None) => String::new(),
        };
        let action_style = match e.action {
            crate::model::Action::Rollback => t.bad(),
            crate::model::Action::Deploy | crate::model::Action::Switch => t.live(),
            _ => t.plain(),
        };
        let mut spans = vec![
            Span::styled(format!("{when:<12}"), t.dim()),
            Span::styled(format!("{:<9}", e.action.as_str()), action_style),
            Span::raw(arrow),
            Span::styled(format!("  {}", printable(&e.by)), t.dim()),
        ];
        if let Some(n) = e.note.as_deref().filter(|n| !n.is_empty()) {
            spans.push(Span::raw(format!("  {}", printable(n))));
        }
        Line::from(spans)
    }));
    out
}
