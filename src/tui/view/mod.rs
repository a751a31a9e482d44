//! Pure rendering: `view(&App, &mut Frame)` draws the whole console from the state.
//!
//! `tui::layout` places the parts (shared with `update`); `panes` draws hosts, releases
//! and details; `overlays` draws dialogs, prompts, help, the fleet matrix and error
//! popups. Every string that
//! comes from a host or a file goes through `model::printable` first.

mod dialog;
mod overlays;

mod panes;

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, HostProgress};
use super::keymap;
use super::theme::{self, Theme};
use crate::model::{age_since, printable};

/// Draws the console.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let a = app.areas_in(area);
    header(app, frame, a.header);
    panes::hosts(app, frame, a.hosts);
    panes::releases(app, frame, a.releases);
    panes::details(app, frame, a.details);
    if a.progress.height > 0 {
        progress(app, frame, a.progress);
    }
    footer(app, frame, a.message, a.keys);
    overlays::draw(app, frame, area);
}

fn header(app: &App, frame: &mut Frame, r: Rect) {
    let t = &app.theme;
    let mut left = vec![
        Span::styled(" relman ", t.title()),
        Span::styled(
            format!(
                " fleet: {} · {} host{} ",
                printable(&app.fleet),
                app.hosts.len(),
                if app.hosts.len() == 1 { "" } else { "s" }
            ),
            t.plain(),
        ),
    ];
    if app.readonly {
        left.push(Span::styled(" READ-ONLY ", t.badge()));
        left.push(Span::raw(" "));
    }
    if app.busy() {
        let frame_sym = theme::SPINNER[app.spinner % theme::SPINNER.len()];
        left.push(Span::styled(format!("{frame_sym} "), t.key()));
        left.push(Span::styled(busy_text(app), t.plain()));
    }
    let right = match app.oldest_update() {
        Some(at) => format!("updated {} ", since(at, app.now)),
        None => "not scanned yet ".to_string(),
    };
    frame.render_widget(Paragraph::new(Line::from(left)), r);
    frame.render_widget(
        Paragraph::new(Span::styled(right, t.dim())).alignment(Alignment::Right),
        r,
    );
}

/// "updated 12s ago": `age_since` says "0s ago" for now and the future.
fn since(at: SystemTime, now: SystemTime) -> String {
    age_since(at, now)
}

fn busy_text(app: &App) -> String {
    if let Some(f) = app.in_flight.first() {
        let more = app.in_flight.len() - 1;
        if more > 0 {
            format!("{} (+{more})", f.describe())
        } else {
            f.describe()
        }
    } else if let Some(h) = &app.plan_pending {
        format!("asking {h} for the prune plan")
    } else if let Some(h) = &app.lock_pending {
        format!("asking {h} who holds its lock")
    } else if let Some(c) = app.check.as_ref().filter(|c| c.rows.is_none()) {
        format!("checking {}", c.host)
    } else {
        let n = app.hosts.iter().filter(|h| h.scanning).count();
        format!("scanning {n} host{}", if n == 1 { "" } else { "s" })
    }
}

fn footer(app: &App, frame: &mut Frame, msg: Rect, keys: Rect) {
    let t = &app.theme;
    if let Some(m) = &app.message {
        let style = if m.error { t.error() } else { t.plain() };
        frame.render_widget(
            Paragraph::new(Span::styled(format!(" {}", printable(&m.text)), style)),
            msg,
        );
    }
    // Help and quit always show, on the right; the others fill from the left.
    // `A` shows when it has something to accept: the selected host is on probation.
    let on_probation = app
        .host()
        .and_then(|h| h.state.as_ref())
        .is_some_and(|s| s.probation.is_some());
    let hints: Vec<&keymap::Binding> = keymap::hints(app.context(), app.readonly)
        .filter(|b| b.action != keymap::Action::Accept || on_probation)
        .collect();
    let pinned =
        |b: &&keymap::Binding| matches!(b.action, keymap::Action::Help | keymap::Action::Quit);
    let width = |b: &keymap::Binding| b.hint.chars().count() + b.name.chars().count() + 3;
    let spans_of = |list: &[&keymap::Binding]| -> Vec<Span<'static>> {
        list.iter()
            .flat_map(|b| {
                [
                    Span::styled(b.hint, t.key()),
                    Span::raw(format!(" {}  ", b.name)),
                ]
            })
            .collect()
    };
    let right: Vec<&keymap::Binding> = hints.iter().copied().filter(pinned).collect();
    let right_w: usize = right.iter().map(|b| width(b)).sum();
    // Where not every hint fits, the keys that matter most stay (switch, rollback,
    // deploy, prune before moving and refreshing), shown in the table's order.
    let left = keep_fitting(
        hints.iter().copied().filter(|b| !pinned(b)).collect(),
        (keys.width as usize).saturating_sub(1 + right_w),
        width,
    );
    let mut spans = vec![Span::raw(" ")];
    spans.extend(spans_of(&left));
    frame.render_widget(Paragraph::new(Line::from(spans)), keys);
    frame.render_widget(
        Paragraph::new(Line::from(spans_of(&right))).alignment(Alignment::Right),
        keys,
    );
}

/// The hints that fit in `room` columns, the most important first
/// ([`keymap::footer_rank`]), in their original order.
fn keep_fitting(
    hints: Vec<&keymap::Binding>,
    room: usize,
    width: impl Fn(&keymap::Binding) -> usize,
) -> Vec<&keymap::Binding> {
    let mut by_rank: Vec<usize> = (0..hints.len()).collect();
    by_rank.sort_by_key(|i| keymap::footer_rank(hints[*i].action));
    let mut keep = vec![false; hints.len()];
    let mut used = 0;
    for i in by_rank {
        let w = width(hints[i]);
        if used + w <= room {
            used += w;
            keep[i] = true;
        }
    }
    hints
        .into_iter()
        .zip(keep)
        .filter_map(|(b, k)| k.then_some(b))
        .collect()
}

/// Human bytes, binary units: the one formatter the CLI uses too.
pub(crate) use crate::model::human_bytes as bytes;

fn progress(app: &App, frame: &mut Frame, r: Rect) {
    let t = &app.theme;
    let Some(run) = &app.deploy else {
        return;
    };
    let mut title = String::from(" deploy");
    if let Some(r) = &run.release {
        title.push_str(&format!(" {}", printable(r)));
    }
    if let Some((files, size)) = run.files {
        title.push_str(&format!(
            " · {}, {}",
            crate::model::plural(files as u64, "file"),
            bytes(size)
        ));
    }
    // The guards it runs under, in a word each.
    let g = &run.guards;
    let mut guards: Vec<String> = Vec::new();
    if g.smoke.is_some() {
        guards.push("smoke".into());
    }
    if let Some(c) = &g.canary {
        guards.push(format!("canary {}", printable(&c.hosts.join(" "))));
    }
    if let Some(p) = &g.probation {
        guards.push(format!(
            "probation {}",
            humantime::format_duration(p.duration)
        ));
    }
    title.push_str(match (run.finished, &run.refused) {
        (true, Some(_)) => " — REFUSED (Esc hides this) ",
        (true, None) => " — finished (Esc hides this) ",
        (false, _) => " — progress per host ",
    });
    // After the state: a narrow screen cuts these first.
    if !guards.is_empty() {
        title.push_str(&format!("· guards: {} ", guards.join(", ")));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(false))
        .title(Span::styled(title, t.title()));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let name_w = run
        .hosts
        .iter()
        .map(|p| p.host.chars().count())
        .max()
        .unwrap_or(0)
        .min(20);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(why) = &run.refused {
        // Which guard refused and why: the line that matters most, read whole.
        let line = Line::from(vec![
            Span::styled(format!("{} refused: ", theme::BAD), t.bad()),
            Span::styled(printable(why), t.error()),
        ]);
        let wrapped = super::wrap::wrap(&line, (inner.width as usize).max(20));
        lines.extend(wrapped.into_iter().take(super::layout::REFUSAL_ROWS));
    }
    // The bars give room to the longest phase still in flight ("watching: 2 of 3
    // runs, …"); a host's final result may be cut (the summary says it).
    // Once it is over, the results get the room (the bars are all full or empty).
    let longest = run
        .hosts
        .iter()
        .filter_map(|p| match &p.result {
            None => Some(p.phase.chars().count()),
            Some(r) if run.finished => Some(match r {
                Ok(s) => s.chars().count() + 6,
                Err(e) => e.chars().count() + 8,
            }),
            Some(_) => None,
        })
        .max()
        .unwrap_or(0);
    let bar_w = (inner.width as usize)
        .saturating_sub(name_w + 28 + longest)
        .clamp(10, 40);
    for p in &run.hosts {
        lines.push(progress_line(p, name_w, bar_w, t));
        // A failed smoke's output: its end, where the error is.
        for l in p.tail.iter().rev().take(super::layout::TAIL_SHOWN).rev() {
            lines.push(Line::from(Span::styled(
                format!("{:name_w$}   │ {}", "", printable(l)),
                t.dim(),
            )));
        }
    }
    // The refusal and the failing hosts first when it can't all show.
    let room = inner.height as usize;
    if lines.len() > room {
        lines.truncate(room);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn progress_line<'a>(p: &HostProgress, name_w: usize, bar_w: usize, t: &Theme) -> Line<'a> {
    let name = format!("{:<name_w$}", printable(&p.host));
    let frac = if p.total == 0 {
        if matches!(p.result, Some(Ok(_))) {
            1.0
        } else {
            0.0
        }
    } else {
        (p.sent as f64 / p.total as f64).clamp(0.0, 1.0)
    };
    let filled = (frac * bar_w as f64).round() as usize;
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(bar_w - filled));
    let (status, style) = match &p.result {
        Some(Ok(s)) => (format!("done: {}", printable(s)), t.ok()),
        // A guard's refusal says so itself ("refused: the smoke failed…").
        Some(Err(e)) if e.starts_with("refused") || e.starts_with("canary refused") => {
            (printable(e), t.bad())
        }
        Some(Err(e)) => (format!("failed: {}", printable(e)), t.error()),
        None => (printable(&p.phase), t.plain()),
    };
    Line::from(vec![
        Span::styled(name, t.title()),
        Span::raw(" "),
        Span::styled(bar, t.gauge()),
        Span::raw(format!(
            " {:>3.0}% {:>19} ",
            frac * 100.0,
            if p.total == 0 {
                String::new()
            } else {
                format!("{}/{}", bytes(p.sent), bytes(p.total))
            }
        )),
        Span::styled(status, style),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 * 1024 * 1024), "64.0 MiB");
    }
}
