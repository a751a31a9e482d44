//! Drawing the console into a test backend and driving it with keys: what the
//! offline console suites share (no terminal, no host).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use relman::tui::app::{App, Cmd, Msg, update};
use relman::tui::view::view;

/// The frame `app` draws at `w`×`h`, as text.
pub fn text(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| view(app, f)).expect("draw");
    term.backend().to_string()
}

/// The frame `app` draws at `w`×`h`, with its styles.
pub fn render(app: &App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| view(app, f)).expect("draw");
    term.backend().buffer().clone()
}

/// Row `y` of `buf` as text.
pub fn row(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

/// Where `needle` starts in `buf` (column in characters, row).
pub fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    (0..buf.area.height).find_map(|y| {
        let r = row(buf, y);
        r.find(needle).map(|i| (r[..i].chars().count() as u16, y))
    })
}

/// `app` told that the terminal is `w`×`h`.
pub fn resized(mut app: App, w: u16, h: u16) -> App {
    update(&mut app, Msg::Resize(w, h));
    app
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn ch(app: &mut App, c: char) -> Vec<Cmd> {
    key(app, KeyCode::Char(c))
}
