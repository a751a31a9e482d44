//! A rendered console buffer as an SVG picture (monospace text with its colours), for
//! the README's image of the console. Pure: a `Buffer` in, a string out.

use std::fmt::Write as _;

use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 18.0;
const PAD: f32 = 12.0;
const FONT_SIZE: f32 = 14.0;
pub const FG: &str = "#d4d4d4";
pub const BG: &str = "#1e1e1e";

/// A terminal palette (VS Code dark), so the picture looks like a terminal.
fn hex(c: Color, default: &'static str) -> String {
    let named = |s: &'static str| s.to_string();
    match c {
        Color::Reset => named(default),
        Color::Black => named("#000000"),
        Color::Red => named("#cd3131"),
        Color::Green => named("#0dbc79"),
        Color::Yellow => named("#e5e510"),
        Color::Blue => named("#2472c8"),
        Color::Magenta => named("#bc3fbc"),
        Color::Cyan => named("#11a8cd"),
        Color::Gray => named("#e5e5e5"),
        Color::DarkGray => named("#767676"),
        Color::LightRed => named("#f14c4c"),
        Color::LightGreen => named("#23d18b"),
        Color::LightYellow => named("#f5f543"),
        Color::LightBlue => named("#3b8eea"),
        Color::LightMagenta => named("#d670d6"),
        Color::LightCyan => named("#29b8db"),
        Color::White => named("#ffffff"),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(_) => named(default),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What a run of cells looks like.
#[derive(Clone, PartialEq, Eq)]
struct Look {
    fg: String,
    bg: Option<String>,
    bold: bool,
    dim: bool,
    underline: bool,
}

fn look(c: &Cell) -> Look {
    let (mut fg, mut bg) = (hex(c.fg, FG), hex(c.bg, BG));
    if c.modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    Look {
        fg,
        bg: (bg != BG).then_some(bg),
        bold: c.modifier.contains(Modifier::BOLD),
        dim: c.modifier.contains(Modifier::DIM),
        underline: c.modifier.contains(Modifier::UNDERLINED),
    }
}

/// The buffer as a standalone SVG document.
pub fn buffer_to_svg(buf: &Buffer) -> String {
    let (w, h) = (buf.area.width as usize, buf.area.height as usize);
    let width = w as f32 * CELL_W + 2.0 * PAD;
    let height = h as f32 * CELL_H + 2.0 * PAD;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.1} {height:.1}">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" rx="6" fill="{BG}"/>"#
    );
    let _ = writeln!(
        out,
        r#"<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT_SIZE}" xml:space="preserve">"#
    );
    for y in 0..h {
        let cells: Vec<&Cell> = (0..w).map(|x| &buf[(x as u16, y as u16)]).collect();
        let mut x = 0;
        while x < w {
            let l = look(cells[x]);
            let start = x;
            let mut text = String::new();
            while x < w && look(cells[x]) == l {
                text.push_str(cells[x].symbol());
                x += 1;
            }
            let n = x - start;
            let px = PAD + start as f32 * CELL_W;
            let py = PAD + y as f32 * CELL_H;
            if let Some(bg) = &l.bg {
                let _ = writeln!(
                    out,
                    r#"<rect x="{px:.1}" y="{py:.1}" width="{:.1}" height="{CELL_H:.1}" fill="{bg}"/>"#,
                    n as f32 * CELL_W
                );
            }
            if text.trim().is_empty() {
                continue;
            }
            let mut attrs = format!(r#" fill="{}""#, l.fg);
            if l.bold {
                attrs.push_str(r#" font-weight="bold""#);
            }
            if l.dim {
                attrs.push_str(r#" opacity="0.6""#);
            }
            if l.underline {
                attrs.push_str(r#" text-decoration="underline""#);
            }
            let _ = writeln!(
                out,
                r#"<text x="{px:.1}" y="{:.1}" textLength="{:.1}" lengthAdjust="spacingAndGlyphs"{attrs}>{}</text>"#,
                py + CELL_H * 0.75,
                n as f32 * CELL_W,
                escape(&text)
            );
        }
    }
    out.push_str("</g>\n</svg>\n");
    out
}
