//! Word wrapping of styled lines for dialogs, prompts and help (each span keeps its
//! style; a word longer than a line goes on over several).

use ratatui::text::{Line, Span};

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

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

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
