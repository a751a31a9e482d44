//! The README's picture of the console, `assets/console.svg`, is rendered from the
//! fixture fleet; this test fails when the picture no longer matches the console.
//! Regenerate it with `RELMAN_UPDATE_ASSETS=1 cargo test --test offline tui_svg::`.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use relman::tui::app::{Event, Msg, update};
use relman::tui::view;

use crate::support;
use support::{fixture, svg};

const W: u16 = 120;
const H: u16 = 32;

fn picture() -> String {
    // The fixture fleet with the run ledger's health: runs per release, a host whose
    // live release fails more than the one before it.
    let mut app = fixture::health_app();
    update(&mut app, Msg::Resize(W, H));
    // The releases pane in focus on the live release, its jobs in the details.
    for code in [KeyCode::Tab, KeyCode::Char('j')] {
        update(&mut app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
    // The worker's answer for the live release's recent runs.
    let live = fixture::R[4];
    update(
        &mut app,
        Msg::Worker(Event::Runs {
            host: "batch-1".into(),
            release: live.into(),
            result: Ok(fixture::live_runs()),
        }),
    );
    let mut term = Terminal::new(TestBackend::new(W, H)).expect("test backend");
    term.draw(|f| view::view(&app, f)).expect("draw");
    svg::buffer_to_svg(term.backend().buffer())
}

#[test]
fn console_svg_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/console.svg");
    let want = picture();
    if std::env::var_os("RELMAN_UPDATE_ASSETS").is_some() {
        std::fs::write(&path, &want).expect("write assets/console.svg");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "assets/console.svg is stale: run `RELMAN_UPDATE_ASSETS=1 cargo test --test offline tui_svg::` and commit it"
    );
}

/// The SVG writer itself (moved with it from src/tui/svg.rs): text, colours, escapes.
#[test]
fn cells_become_text_with_colours_and_escapes() {
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, 12, 2));
    buf.set_string(
        0,
        0,
        "a<b & c",
        ratatui::style::Style::new().fg(ratatui::style::Color::Green),
    );
    buf.set_string(
        0,
        1,
        "sel",
        ratatui::style::Style::new().add_modifier(ratatui::style::Modifier::REVERSED),
    );
    let out = svg::buffer_to_svg(&buf);
    assert!(out.starts_with("<svg"));
    assert!(out.contains("a&lt;b &amp; c"));
    assert!(out.contains(r##"fill="#0dbc79""##));
    // Reversed: a light background rectangle and dark text.
    assert!(out.contains(&format!(r#"fill="{}"/>"#, svg::FG)));
    assert!(out.contains(&format!(r#"fill="{}">sel</text>"#, svg::BG)));
    assert!(out.trim_end().ends_with("</svg>"));
}
