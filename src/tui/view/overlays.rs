//! What is drawn over the panes: confirmation dialogs (what will happen, exactly),
//! the deploy and pin prompts, help, the fleet matrix and error popups.

use std::collections::BTreeSet;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::layout::centered;
use crate::model::{Job, ReleaseName, printable};
use crate::plan::{self, Verdict};
use crate::tui::app::{
    App, Button, DeployField, DeployForm, Dialog, Overlay, Pending, PinField, PinForm,
};
use crate::tui::keymap;
use crate::tui::theme::{self, Theme};

pub(super) fn draw(app: &App, frame: &mut Frame, area: Rect) {
    match &app.overlay {
        None => {}
        Some(Overlay::Help { scroll }) => help(app, frame, area, *scroll),
        Some(Overlay::Fleet { scroll }) => fleet(app, frame, area, *scroll),
        Some(Overlay::Confirm(d)) => dialog(app, frame, area, d),
        Some(Overlay::Deploy(f)) => deploy_form(app, frame, area, f),
        Some(Overlay::Pin(f)) => pin_form(app, frame, area, f),
        Some(Overlay::Error { title, text }) => error(app, frame, area, title, text),
    }
}

/// Clears `r` and draws a bordered box; returns the inside.
fn boxed(frame: &mut Frame, r: Rect, title: &str, style: Style) -> Rect {
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
fn fit<'a>(mut lines: Vec<Line<'a>>, rows: usize, t: &Theme) -> Vec<Line<'a>> {
    if lines.len() > rows && rows > 0 {
        let cut = lines.len() - rows + 1;
        lines.truncate(rows - 1);
        lines.push(Line::from(Span::styled(
            format!("… {cut} more line(s): enlarge the terminal"),
            t.warn(),
        )));
    }
    lines
}

fn jobs_text(jobs: &[Job]) -> String {
    if jobs.is_empty() {
        return "none".into();
    }
    let pids: Vec<String> = jobs.iter().take(8).map(|j| j.pid.to_string()).collect();
    let more = if jobs.len() > 8 { ", …" } else { "" };
    format!("{} (pid {}{more})", jobs.len(), pids.join(", "))
}

/// What a pending action will do, line by line.
pub(crate) fn describe<'a>(app: &App, p: &Pending) -> Vec<Line<'a>> {
    let t = &app.theme;
    let b = |s: String| Span::styled(s, t.title());
    let mut out: Vec<Line> = Vec::new();
    let hidden_note = |hidden: usize, out: &mut Vec<Line>| {
        if hidden > 0 {
            out.push(Line::from(Span::styled(
                format!("{hidden} process(es) of other users could not be inspected."),
                t.warn(),
            )));
        }
    };
    match p {
        Pending::Switch {
            host,
            from,
            to,
            from_jobs,
            to_jobs,
            to_bad,
            hidden,
        } => {
            let from_s = from.clone().unwrap_or_else(|| "(no live release)".into());
            out.push(Line::from(vec![
                Span::raw("Switch "),
                b(printable(host)),
                Span::raw(" from "),
                Span::styled(from_s.clone(), t.live()),
                Span::raw(" → "),
                b(to.clone()),
            ]));
            out.push(Line::from(""));
            if from.is_some() {
                out.push(Line::from(format!(
                    "jobs on {from_s} (from): {}; they keep running on it",
                    jobs_text(from_jobs)
                )));
            }
            out.push(Line::from(format!(
                "jobs on {to} (to): {}",
                jobs_text(to_jobs)
            )));
            hidden_note(*hidden, &mut out);
            if *to_bad {
                out.push(Line::from(Span::styled(
                    format!(
                        "{} {to} is bad (rolled back from); switching to it clears that.",
                        theme::BAD
                    ),
                    t.bad(),
                )));
            }
            out.push(Line::from(""));
            match from {
                Some(f) => out.push(Line::from(format!(
                    "New jobs start on {to}. Runs only if the link still points at {f}."
                ))),
                None => out.push(Line::from(format!("New jobs start on {to}."))),
            }
        }
        Pending::Rollback {
            host,
            from,
            to,
            from_jobs,
            to_jobs,
            hidden,
        } => {
            out.push(Line::from(vec![
                Span::raw("Roll back "),
                b(printable(host)),
                Span::raw(" from "),
                Span::styled(from.clone(), t.live()),
                Span::raw(" → "),
                b(to.clone()),
            ]));
            out.push(Line::from(""));
            out.push(Line::from(format!(
                "jobs on {from} (from): {}; they keep running on it",
                jobs_text(from_jobs)
            )));
            out.push(Line::from(format!(
                "jobs on {to} (to): {}",
                jobs_text(to_jobs)
            )));
            hidden_note(*hidden, &mut out);
            out.push(Line::from(""));
            out.push(Line::from(vec![
                Span::styled(format!("{} ", theme::BAD), t.bad()),
                Span::raw(format!(
                    "{from} becomes bad: rollback skips it, prune deletes it first."
                )),
            ]));
            out.push(Line::from(format!("New jobs start on {to}.")));
        }
        Pending::Prune { host, keep, plan } => {
            let del = plan.deletions().count();
            out.push(Line::from(vec![
                Span::raw("Prune "),
                b(printable(host)),
                Span::raw(format!(
                    " (keep {keep}): delete {del}, keep {}",
                    plan.verdicts.len() - del
                )),
            ]));
            out.push(Line::from(""));
            let w = plan
                .verdicts
                .iter()
                .map(|v| v.name.as_str().chars().count())
                .max()
                .unwrap_or(0);
            for v in &plan.verdicts {
                let (verdict, style, why) = match &v.verdict {
                    Verdict::Delete(why) => {
                        (format!("{} delete", theme::BAD), t.bad(), why.to_string())
                    }
                    Verdict::Keep(why) => {
                        let why: Vec<String> = why.iter().map(|w| w.to_string()).collect();
                        ("  keep".to_string(), t.ok(), why.join(", "))
                    }
                };
                out.push(Line::from(vec![
                    Span::styled(format!("{verdict:<8}"), style),
                    Span::raw(format!(" {:<w$}  {}", v.name.as_str(), printable(&why))),
                ]));
            }
            if !plan.stale_staging.is_empty() {
                out.push(Line::from(format!(
                    "also removes {} unfinished upload(s) in .relman/staging",
                    plan.stale_staging.len()
                )));
            }
            if !plan.expired_pins.is_empty() {
                out.push(Line::from(format!(
                    "also removes {} expired pin file(s)",
                    plan.expired_pins.len()
                )));
            }
            if plan.is_noop() {
                out.push(Line::from(Span::styled("Nothing to delete.", t.dim())));
            } else if del > 0 {
                out.push(Line::from("Order: bad releases first, then the oldest."));
            }
            out.push(Line::from(
                "Jobs are checked again under the lock before each deletion.",
            ));
        }
        Pending::Pin {
            host,
            release,
            duration,
            duration_text,
            reason,
        } => {
            let until = humantime::format_rfc3339_seconds(app.now + *duration);
            out.push(Line::from(vec![
                Span::raw("Pin "),
                b(release.clone()),
                Span::raw(" on "),
                b(printable(host)),
            ]));
            out.push(Line::from(""));
            out.push(Line::from(format!(
                "for {duration_text} (until about {until})"
            )));
            out.push(Line::from(format!(
                "reason: {}",
                if reason.is_empty() {
                    "(none)".to_string()
                } else {
                    printable(reason)
                }
            )));
            out.push(Line::from(""));
            out.push(Line::from(
                "Prune keeps this release until the pin expires.",
            ));
        }
        Pending::Unpin {
            host,
            release,
            pins,
        } => {
            out.push(Line::from(vec![
                Span::raw(format!("Remove {} pin(s) from ", pins.len())),
                b(release.clone()),
                Span::raw(" on "),
                b(printable(host)),
            ]));
            out.push(Line::from(""));
            for p in pins {
                let reason = if p.reason.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", printable(&p.reason))
                };
                out.push(Line::from(vec![
                    Span::styled(theme::PIN, t.pin()),
                    Span::raw(format!(
                        " by {}, until {}{reason}",
                        printable(&p.by),
                        printable(&p.expires_at)
                    )),
                ]));
            }
            out.push(Line::from(""));
            out.push(Line::from("Prune may then delete this release."));
        }
        Pending::Deploy {
            targets,
            target_label,
            paths,
            message,
        } => {
            out.push(Line::from(vec![
                Span::raw("Deploy to "),
                b(format!(
                    "{} host{}",
                    targets.len(),
                    if targets.len() == 1 { "" } else { "s" }
                )),
                Span::raw(format!(" ({})", printable(target_label))),
            ]));
            out.push(Line::from(""));
            let quoted: Vec<String> = paths.iter().map(|p| printable(p)).collect();
            out.push(Line::from(format!("paths:   {}", quoted.join("  "))));
            out.push(Line::from(format!(
                "message: {}",
                if message.is_empty() {
                    "(none)".to_string()
                } else {
                    printable(message)
                }
            )));
            out.push(Line::from(
                "Each host gets a new release named for the UTC time of the deploy",
            ));
            out.push(Line::from("and switches to it; running jobs keep theirs:"));
            let w = targets
                .iter()
                .map(|x| x.host.chars().count())
                .max()
                .unwrap_or(0);
            for x in targets {
                let what = match (&x.live, &x.error) {
                    (_, Some(e)) => {
                        Span::styled(format!("unreachable now: {}", printable(e)), t.error())
                    }
                    (Some(l), None) if x.live_jobs > 0 => Span::raw(format!(
                        "{l} → new  ({} job(s) keep running on {l})",
                        x.live_jobs
                    )),
                    (Some(l), None) => Span::raw(format!("{l} → new")),
                    (None, None) => Span::raw("(no live release) → new".to_string()),
                };
                out.push(Line::from(vec![
                    Span::styled(format!("  {:<w$}  ", printable(&x.host)), t.title()),
                    what,
                ]));
            }
        }
        Pending::Quit { in_flight } => {
            out.push(Line::from("Still in flight:"));
            for f in in_flight {
                out.push(Line::from(format!("  {}", printable(f))));
            }
            out.push(Line::from(""));
            out.push(Line::from(
                "Quit anyway? The operation stops where it is; the host frees its lock.",
            ));
        }
    }
    out
}

fn dialog(app: &App, frame: &mut Frame, area: Rect, d: &Dialog) {
    let t = &app.theme;
    let lines = describe(app, &d.pending);
    let hosts = d.pending.hosts().len();
    let mut bottom: Vec<Line> = vec![Line::from("")];
    match &d.typed {
        Some(typed) => {
            bottom.push(Line::from(vec![
                Span::styled(format!("This runs on {hosts} hosts. Type "), t.warn()),
                Span::styled("yes", t.title()),
                Span::styled(" and press Enter: ", t.warn()),
                Span::styled(format!("{}▏", printable(typed)), t.button_focused()),
            ]));
            bottom.push(Line::from(Span::styled("Esc cancels.", t.dim())));
        }
        None => {
            let btn = |label: &str, focused: bool| {
                Span::styled(
                    format!("[ {label} ]"),
                    if focused {
                        t.button_focused()
                    } else {
                        t.plain()
                    },
                )
            };
            let run = if d.pending.dangerous() {
                "y: run it"
            } else {
                "y: quit"
            };
            bottom.push(Line::from(vec![
                btn("Cancel", d.focus == Button::Cancel),
                Span::raw("   "),
                btn(run, d.focus == Button::Confirm),
                Span::styled("   n/Esc cancels · Enter never confirms", t.dim()),
            ]));
        }
    }
    if let Some(n) = &d.note {
        bottom.push(Line::from(Span::styled(printable(n), t.warn())));
    }
    let widest = lines
        .iter()
        .chain(bottom.iter())
        .map(|l| l.width())
        .max()
        .unwrap_or(20) as u16
        + 4;
    let max_w = area.width.saturating_sub(2).max(1);
    let width = widest.max(40).min(max_w);
    // Inside: borders and one column of padding on each side.
    let text_w = width.saturating_sub(4).max(1) as usize;
    let lines: Vec<Line> = lines.iter().flat_map(|l| wrap(l, text_w)).collect();
    let bottom: Vec<Line> = bottom.iter().flat_map(|l| wrap(l, text_w)).collect();
    let max_rows = area.height.saturating_sub(2) as usize;
    let height = (lines.len() + bottom.len() + 2).min(max_rows.max(3)) as u16;
    let r = centered(area, width, height);
    let title = if d.pending.dangerous() {
        format!("{} — confirm", d.pending.title())
    } else {
        d.pending.title().to_string()
    };
    let inner = boxed(frame, r, &title, t.dialog(d.pending.dangerous()));
    let room = (inner.height as usize).saturating_sub(bottom.len());
    let mut lines = fit(lines, room, t);
    lines.extend(bottom);
    let text = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    frame.render_widget(Paragraph::new(lines), text);
}

/// Word-wraps a styled line to `width` cells, keeping each span's style. Words longer
/// than a line go on over several; continuation lines are indented by two cells.
pub(crate) fn wrap<'a>(line: &Line<'a>, width: usize) -> Vec<Line<'a>> {
    wrap_indented(line, width, 2)
}

/// `wrap` with continuation lines indented by `indent` cells.
pub(crate) fn wrap_indented<'a>(line: &Line<'a>, width: usize, indent: usize) -> Vec<Line<'a>> {
    let cells = |s: &str| Span::raw(s).width();
    let indent = indent.min(width / 2);
    let pad = " ".repeat(indent);
    if line.width() <= width || width < 8 {
        return vec![line.clone()];
    }
    let mut out: Vec<Line<'a>> = Vec::new();
    let mut cur: Vec<Span<'a>> = Vec::new();
    let mut used = 0usize;
    for span in &line.spans {
        // Words with their trailing spaces.
        let text = span.content.as_ref();
        let mut words: Vec<&str> = Vec::new();
        let mut start = 0;
        for (i, c) in text.char_indices() {
            if c == ' ' && !text[i + 1..].starts_with(' ') {
                words.push(&text[start..=i]);
                start = i + 1;
            }
        }
        if start < text.len() {
            words.push(&text[start..]);
        }
        for w in words {
            if used + cells(w.trim_end()) > width && used > indent {
                out.push(Line::from(std::mem::take(&mut cur)));
                cur.push(Span::raw(pad.clone()));
                used = indent;
            }
            // A word longer than what is left of a line goes on in pieces.
            let mut rest = w;
            loop {
                if used + cells(rest) <= width {
                    used += cells(rest);
                    cur.push(Span::styled(rest.to_string(), span.style));
                    break;
                }
                let trimmed = rest.trim_end();
                if used + cells(trimmed) <= width {
                    // Only the trailing space overflows: drop it.
                    used = width;
                    cur.push(Span::styled(trimmed.to_string(), span.style));
                    break;
                }
                let mut cut = 0;
                for (i, c) in rest.char_indices() {
                    if used + cells(&rest[..i + c.len_utf8()]) > width {
                        break;
                    }
                    cut = i + c.len_utf8();
                }
                if cut == 0 && used <= indent {
                    // Not even one character fits: give up on this word.
                    break;
                }
                cur.push(Span::styled(rest[..cut].to_string(), span.style));
                out.push(Line::from(std::mem::take(&mut cur)));
                cur.push(Span::raw(pad.clone()));
                used = indent;
                rest = &rest[cut..];
            }
        }
    }
    if !cur.is_empty() {
        out.push(Line::from(cur));
    }
    out
}

fn field_line<'a>(t: &Theme, label: &str, value: &str, focused: bool) -> Line<'a> {
    let mut spans = vec![Span::styled(
        format!("{label:<9}"),
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
        "Tab completes a path · Enter: next field, then confirm · ←→ target · Esc cancels",
        t.dim(),
    )));
    form_box(
        frame,
        area,
        96,
        "Deploy — local path(s), message, target",
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

/// Every help line, wrapped to the popup's width, and the rows it shows at once.
fn help_lines<'a>(app: &App, area: Rect) -> (Vec<Line<'a>>, usize) {
    let t = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    for (title, bindings) in keymap::help_sections() {
        if !lines.is_empty() {
            lines.push(Line::from(""));
        }
        lines.push(Line::from(Span::styled(title, t.title())));
        for bnd in bindings {
            let mut spans = vec![
                Span::styled(format!("  {:<8}", bnd.label), t.key()),
                Span::raw(bnd.help),
            ];
            if bnd.mutating && app.readonly {
                spans.push(Span::styled("  (disabled: read-only)", t.warn()));
            }
            lines.push(Line::from(spans));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled("Markers  ", t.title()),
        Span::styled(theme::LIVE, t.live()),
        Span::raw(" live  "),
        Span::styled(theme::PREVIOUS, t.previous()),
        Span::raw(" previous (rollback target)  "),
        Span::styled(theme::BAD, t.bad()),
        Span::raw(" bad (rolled back from)  "),
        Span::styled(theme::PIN, t.pin()),
        Span::raw(" pinned"),
    ]));
    let text_w = help_rect(area).width.saturating_sub(2).max(1) as usize;
    let lines: Vec<Line> = lines
        .iter()
        .flat_map(|l| wrap_indented(l, text_w, 10))
        .collect();
    (lines, help_rect(area).height.saturating_sub(2) as usize)
}

fn help_rect(area: Rect) -> Rect {
    centered(
        area,
        area.width.saturating_sub(4).min(100),
        area.height.saturating_sub(2),
    )
}

/// How far help or the fleet view can scroll at the current size (0 otherwise).
pub fn max_scroll(app: &App) -> usize {
    match &app.overlay {
        Some(Overlay::Help { .. }) => {
            let (lines, rows) = help_lines(app, app.size);
            lines.len().saturating_sub(rows)
        }
        Some(Overlay::Fleet { .. }) => {
            let rows = fleet_names(app).len();
            rows.saturating_sub(fleet_room(app.size))
        }
        _ => 0,
    }
}

fn help(app: &App, frame: &mut Frame, area: Rect, scroll: usize) {
    let t = &app.theme;
    let (lines, rows) = help_lines(app, area);
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

fn fleet_names(app: &App) -> BTreeSet<&ReleaseName> {
    app.hosts
        .iter()
        .filter_map(|h| h.state.as_ref())
        .flat_map(|s| s.releases.iter().map(|r| &r.name))
        .collect()
}

fn fleet_rect(area: Rect) -> Rect {
    Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    }
}

/// Release rows the fleet view shows at once (inside: header row and legend row).
fn fleet_room(area: Rect) -> usize {
    (fleet_rect(area).height as usize).saturating_sub(4)
}

fn fleet(app: &App, frame: &mut Frame, area: Rect, scroll: usize) {
    let t = &app.theme;
    let inner = boxed(
        frame,
        fleet_rect(area),
        "Fleet — releases × hosts (Esc closes)",
        t.dialog(false),
    );
    let names = fleet_names(app);
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
    let mut head = vec![Span::styled(format!("{:<name_w$}", "release"), t.dim())];
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
    for n in names.iter().rev() {
        let mut spans = vec![Span::raw(format!("{:<name_w$}", n.as_str()))];
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wrap_keeps_words_and_width() {
        let line = Line::from(vec![
            Span::raw("jobs on batch_20261126190300 (from): 2 (pid 4242, 4250); "),
            Span::styled("they keep running on it", Style::new().bold()),
        ]);
        for w in [8, 13, 20, 33, 50, 79, 200] {
            let out = wrap(&line, w);
            for l in &out {
                assert!(l.width() <= w, "{w}: {:?}", plain(&out));
            }
            let joined: String = plain(&out).join(" ");
            let words = |s: &str| s.split_whitespace().collect::<String>();
            assert_eq!(words(&joined), words(&line.to_string()), "{w}");
        }
        let out = wrap(&line, 33);
        assert!(out.iter().any(|l| l.spans.iter().any(|s| {
            s.style
                .add_modifier
                .contains(ratatui::style::Modifier::BOLD)
        })));
    }

    #[test]
    fn wrap_splits_a_long_word() {
        let long = "/very/long/path/".repeat(10);
        let out = wrap(&Line::from(format!("paths {long}")), 30);
        assert!(out.len() > 4);
        assert!(out.iter().all(|l| l.width() <= 30));
    }
}
