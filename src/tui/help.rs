//! The help overlay's text, wrapped to the popup: the view draws it and `update` needs
//! its length to know how far help scrolls. Imports neither the app nor the view.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::keymap;
use super::layout::help_rect;
use super::theme::{self, Theme};
use super::wrap::wrap_indented;

/// Every help line, wrapped to the popup's width, and the rows it shows at once.
pub fn lines<'a>(t: &Theme, readonly: bool, area: Rect) -> (Vec<Line<'a>>, usize) {
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
            if bnd.mutating && readonly {
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

/// How far help scrolls at this size.
pub fn max_scroll(t: &Theme, readonly: bool, area: Rect) -> usize {
    let (lines, rows) = lines(t, readonly, area);
    lines.len().saturating_sub(rows)
}
