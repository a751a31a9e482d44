//! Colours and symbols of the console, in one place.
//!
//! Every piece of state is shown by a symbol or by bold/reverse first and by colour
//! second, so the console reads the same with `NO_COLOR` set: then every colour becomes
//! `Color::Reset` (crossterm's own NO_COLOR handling would also drop bold/reverse).

use ratatui::style::{Color, Modifier, Style};

/// Marker of the live release (the link's target).
pub const LIVE: &str = "●";
/// Marker of the previous release (the rollback target).
pub const PREVIOUS: &str = "↶";
/// Marker of a bad release (one a rollback moved away from).
pub const BAD: &str = "✗";
/// Marker of a release with an unexpired pin.
pub const PIN: &str = "⚑";
/// Marker of a release present on a host (fleet matrix).
pub const PRESENT: &str = "·";
/// Marker of a host that rolled itself back (probation), until the operator saw it.
pub const SELF_ROLLBACK: &str = "↺";
/// Marker of a host on probation.
pub const PROBATION: &str = "⏲";
/// Host reachable / unreachable.
pub const UP: &str = "up";
pub const DOWN: &str = "down";
/// Spinner frames, one per tick while work is pending.
pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The console's styles; `color == false` is the NO_COLOR theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme { color: true }
    }
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value (no-color.org).
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    /// A colour, or `Reset` in the NO_COLOR theme.
    pub fn fg(&self, c: Color) -> Style {
        Style::new().fg(if self.color { c } else { Color::Reset })
    }

    pub fn plain(&self) -> Style {
        Style::new()
    }

    pub fn live(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    pub fn previous(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn pin(&self) -> Style {
        self.fg(Color::Magenta)
    }

    pub fn jobs(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected row of the focused pane.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// The selected row of a pane without focus.
    pub fn selected_unfocused(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.dim()
        }
    }

    /// A host that rolled itself back (not yet seen): reversed red, unmissable
    /// without colour too (the ↺ mark says what it is).
    pub fn alarm(&self) -> Style {
        self.fg(Color::Red)
            .add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// The READ-ONLY badge: reversed, so it is unmissable even without colour.
    pub fn badge(&self) -> Style {
        self.fg(Color::Yellow)
            .add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// A dialog's frame; red for actions that change hosts.
    pub fn dialog(&self, dangerous: bool) -> Style {
        if dangerous {
            self.fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        }
    }

    /// A focused button.
    pub fn button_focused(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn gauge(&self) -> Style {
        self.fg(Color::Green)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_theme_has_no_colours_but_keeps_modifiers() {
        let t = Theme { color: false };
        for s in [
            t.live(),
            t.bad(),
            t.previous(),
            t.pin(),
            t.jobs(),
            t.error(),
        ] {
            assert!(matches!(s.fg, None | Some(Color::Reset)), "{s:?}");
        }
        assert!(t.badge().add_modifier.contains(Modifier::REVERSED));
        assert!(t.selected().add_modifier.contains(Modifier::REVERSED));
        assert_eq!(t.live().fg, Some(Color::Reset));
        assert_eq!(Theme { color: true }.live().fg, Some(Color::Green));
    }

    #[test]
    fn symbols_are_one_cell_wide() {
        use ratatui::text::Span;
        for s in [LIVE, PREVIOUS, BAD, PIN, PRESENT] {
            assert_eq!(Span::raw(s).width(), 1, "{s}");
        }
        for s in SPINNER {
            assert_eq!(Span::raw(s).width(), 1, "{s}");
        }
    }
}
