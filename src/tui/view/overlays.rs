//! What is drawn over the panes: confirmation dialogs (what will happen, exactly),
//! the deploy and pin prompts, help, the fleet matrix and error popups.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::dialog::dialog;
use crate::model::printable;
use crate::plan;
use crate::tui::app::{App, DeployField, DeployForm, Overlay, PinField, PinForm};
use crate::tui::help;
use crate::tui::layout::{centered, fleet_rect, fleet_room, help_rect};
use crate::tui::theme::{self, Theme};
use crate::tui::wrap::wrap;

pub(super) fn draw(app: &App, frame: &mut Frame, area: Rect) {
    match &app.overlay {
        None => {}
        Some(Overlay::Help { scroll }) => help(app, frame, area, *scroll),
        Some(Overlay::Fleet { scroll, sel }) => fleet(app, frame, area, *scroll, *sel),
        Some(Overlay::Confirm(d)) => dialog(app, frame, area, d),
        Some(Overlay::Deploy(f)) => deploy_form(app, frame, area, f),
        Some(Overlay::Pin(f)) => pin_form(app, frame, area, f),
        Some(Overlay::Error { title, text }) => error(app, frame, area, title, text),
    }
}

/// Clears `r` and draws a bordered box; returns the inside.
pub(super) fn boxed(frame: &mut Frame, r: Rect, title: &str, style: Style) -> Rect {
    frame.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(format!(" {title} "), style));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    inner
}

/// Fits `lines` into `rows`, saying how many were cut.
pub(super) fn fit<'a>(mut lines: Vec<Line<'a>>, rows: usize, t: &Theme) -> Vec<Line<'a>> {
    if lines.len() > rows && rows > 0 {
        let cut = lines.len() - rows + 1;
        lines.truncate(rows - 1);
        lines.push(Line::from(Span::styled(
            format!(
                "… {} more: enlarge the terminal",
                crate::model::plural(cut as u64, "line")
            ),
            t.warn(),
        )));
    }
    lines
}

fn field_line<'a>(t: &Theme, label: &str, value: &str, focused: bool) -> Line<'a> {
    field_line_w(t, label, value, focused, 9)
}

fn field_line_w<'a>(t: &Theme, label: &str, value: &str, focused: bool, w: usize) -> Line<'a> {
    let mut spans = vec![Span::styled(
        format!("{label:<w$}"),
        if focused { t.key() } else { t.dim() },
    )];
    spans.push(Span::styled(
        printable(value),
        if focused { t.title() } else { t.plain() },
    ));
    if focused {
        spans.push(Span::styled("▏", t.key()));
    }
    Line::from(spans)
}

fn deploy_form(app: &App, frame: &mut Frame, area: Rect, f: &DeployForm) {
    let t = &app.theme;
    let mut lines = vec![
        field_line(t, "paths", &f.paths, f.field == DeployField::Paths),
        field_line(t, "message", &f.message, f.field == DeployField::Message),
    ];
    let target = f
        .choices
        .get(f.choice)
        .map(|c| {
            let n = c.hosts.len();
            let s = if n == 1 { "" } else { "s" };
            format!("{} ({n} host{s})", printable(&c.label))
        })
        .unwrap_or_default();
    let on_target = f.field == DeployField::Target;
    lines.push(Line::from(vec![
        Span::styled(
            format!("{:<9}", "target"),
            if on_target { t.key() } else { t.dim() },
        ),
        Span::styled(
            format!("◀ {target} ▶"),
            if on_target {
                t.button_focused()
            } else {
                t.plain()
            },
        ),
        Span::styled(
            format!("  ({} of {})", f.choice + 1, f.choices.len()),
            t.dim(),
        ),
    ]));
    // The guards (SPEC §7): all optional.
    lines.push(Line::from(Span::styled(
        "guards (optional; leave empty for none)",
        t.dim(),
    )));
    let guard = |label: &str, value: &str, field: DeployField, hint: &str| {
        let mut l = field_line_w(t, label, value, f.field == field, 13);
        if !hint.is_empty() {
            l.push_span(Span::styled(format!("  {hint}"), t.dim()));
        }
        l
    };
    let hosts = f
        .choices
        .get(f.choice)
        .map(|c| c.hosts.join(" "))
        .unwrap_or_default();
    lines.push(guard(
        "smoke",
        &f.smoke,
        DeployField::Smoke,
        "command run in the new release before any switch",
    ));
    lines.push(guard(
        "canary",
        &f.canary,
        DeployField::Canary,
        &format!(
            "hosts that switch first (Tab completes), of: {}",
            printable(&hosts)
        ),
    ));
    lines.push(guard(
        "watch",
        &f.watch,
        DeployField::Watch,
        "with canaries",
    ));
    lines.push(guard(
        "min runs",
        &f.min_runs,
        DeployField::MinRuns,
        "with canaries",
    ));
    lines.push(guard(
        "probation",
        &f.probation,
        DeployField::Probation,
        "e.g. 30m: each host rolls itself back on failures",
    ));
    lines.push(guard(
        "max failures",
        &f.max_failures,
        DeployField::MaxFailures,
        "failed runs allowed (canary, probation)",
    ));
    lines.push(Line::from(""));
    if !f.candidates.is_empty() {
        let shown: Vec<String> = f.candidates.iter().take(12).map(|c| printable(c)).collect();
        lines.push(Line::from(Span::styled(
            format!("completions: {}", shown.join("  ")),
            t.dim(),
        )));
    }
    if let Some(e) = &f.error {
        lines.push(Line::from(Span::styled(printable(e), t.error())));
    }
    lines.push(Line::from(Span::styled(
        "A directory deploys its contents; a file lands at the top of the release.",
        t.dim(),
    )));
    lines.push(Line::from(Span::styled(
        "Tab completes a path, ↓ next field · Enter on target or a guard confirms · ←→ target · Esc cancels",
        t.dim(),
    )));
    form_box(
        frame,
        area,
        96,
        "Deploy — local path(s), message, target, guards",
        &lines,
        t.dialog(false),
    );
}

/// A prompt's box: at most `max_w` wide, lines wrapped, as tall as they need.
fn form_box(frame: &mut Frame, area: Rect, max_w: u16, title: &str, lines: &[Line], style: Style) {
    let w = area.width.saturating_sub(4).min(max_w);
    let text_w = w.saturating_sub(2).max(1) as usize;
    let lines: Vec<Line> = lines.iter().flat_map(|l| wrap(l, text_w)).collect();
    let r = centered(area, w, lines.len() as u16 + 2);
    let inner = boxed(frame, r, title, style);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn pin_form(app: &App, frame: &mut Frame, area: Rect, f: &PinForm) {
    let t = &app.theme;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{:<9}", "release"), t.dim()),
            Span::raw(format!("{} on {}", f.release, printable(&f.host))),
        ]),
        field_line(t, "for", &f.duration, f.field == PinField::Duration),
        field_line(t, "reason", &f.reason, f.field == PinField::Reason),
        Line::from(""),
    ];
    if let Some(e) = &f.error {
        lines.push(Line::from(Span::styled(printable(e), t.error())));
    }
    lines.push(Line::from(Span::styled(
        "durations: 30m, 2h, 1d · Enter: next field, then confirm · Esc cancels",
        t.dim(),
    )));
    form_box(
        frame,
        area,
        80,
        "Pin — protect from prune",
        &lines,
        t.dialog(false),
    );
}

fn error(app: &App, frame: &mut Frame, area: Rect, title: &str, text: &str) {
    let t = &app.theme;
    let lines = vec![
        Line::from(printable(text)),
        Line::from(""),
        Line::from(Span::styled("Esc or Enter closes", t.dim())),
    ];
    form_box(frame, area, 90, title, &lines, t.error());
}

fn help(app: &App, frame: &mut Frame, area: Rect, scroll: usize) {
    let t = &app.theme;
    let (lines, rows) = help::lines(&app.theme, app.readonly, area);
    let max_scroll = lines.len().saturating_sub(rows);
    let scroll = scroll.min(max_scroll);
    let title = if scroll < max_scroll {
        "Help — every key (Esc closes; j/k scroll, more below)"
    } else {
        "Help — every key (Esc closes; j/k scroll)"
    };
    let inner = boxed(frame, help_rect(area), title, t.dialog(false));
    let lines: Vec<Line> = lines.into_iter().skip(scroll).collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn fleet(app: &App, frame: &mut Frame, area: Rect, scroll: usize, sel: usize) {
    let t = &app.theme;
    let inner = boxed(
        frame,
        fleet_rect(area),
        "Fleet — releases × hosts (Esc closes)",
        t.dialog(false),
    );
    let names = app.fleet_releases();
    let name_w = names
        .iter()
        .map(|n| n.as_str().chars().count())
        .max()
        .unwrap_or(8);
    let col_w = app
        .hosts
        .iter()
        .map(|h| h.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 12);
    let mut lines: Vec<Line> = Vec::new();
    let mut head = vec![Span::styled(format!("  {:<name_w$}", "release"), t.dim())];
    for h in &app.hosts {
        let name: String = printable(&h.name).chars().take(col_w).collect();
        let style = if h.error.is_some() {
            t.error()
        } else {
            t.title()
        };
        head.push(Span::styled(format!(" {name:^col_w$}"), style));
    }
    lines.push(Line::from(head));
    let bad: Vec<_> = app
        .hosts
        .iter()
        .map(|h| {
            h.state
                .as_ref()
                .map(|s| plan::bad_releases(&s.history))
                .unwrap_or_default()
        })
        .collect();
    let prev: Vec<_> = app
        .hosts
        .iter()
        .map(|h| h.state.as_ref().and_then(plan::previous))
        .collect();
    let mut rows: Vec<Line> = Vec::new();
    for (row, n) in names.iter().enumerate() {
        let (mark, name_style) = if row == sel {
            ("▸ ", t.selected())
        } else {
            ("  ", t.plain())
        };
        let mut spans = vec![Span::styled(
            format!("{mark}{:<name_w$}", n.as_str()),
            name_style,
        )];
        for (i, h) in app.hosts.iter().enumerate() {
            let (sym, style) = match &h.state {
                None => ("?", t.dim()),
                Some(s) if s.current() == Some(*n) => (theme::LIVE, t.live()),
                Some(s) if s.release(n.as_str()).is_none() => (" ", t.plain()),
                Some(_) if bad[i].contains(n.as_str()) => (theme::BAD, t.bad()),
                Some(_) if prev[i].as_ref() == Some(*n) => (theme::PREVIOUS, t.previous()),
                Some(_) => (theme::PRESENT, t.plain()),
            };
            spans.push(Span::raw(" "));
            spans.push(Span::styled(format!("{sym:^col_w$}"), style));
        }
        rows.push(Line::from(spans));
    }
    let room = fleet_room(area);
    let max_scroll = rows.len().saturating_sub(room);
    lines.extend(rows.into_iter().skip(scroll.min(max_scroll)).take(room));
    while lines.len() < inner.height.saturating_sub(1) as usize {
        lines.push(Line::from(""));
    }
    lines.push(Line::from(vec![
        Span::styled(theme::LIVE, t.live()),
        Span::raw(" live  "),
        Span::styled(theme::PREVIOUS, t.previous()),
        Span::raw(" previous  "),
        Span::styled(theme::BAD, t.bad()),
        Span::raw(" bad  "),
        Span::raw(format!("{} present  ? not scanned", theme::PRESENT)),
    ]));
    frame.render_widget(Paragraph::new(lines), inner);
}
