//! Where each part of the screen goes, as plain rectangle arithmetic. A leaf: the view
//! draws into these rectangles and `update` uses them too (PgUp/PgDn move by the height
//! of the focused pane, clicks land in a pane, overlays scroll as far as they show).

use ratatui::layout::Rect;

/// The screen's areas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub hosts: Rect,
    pub releases: Rect,
    pub details: Rect,
    /// Per-host deploy progress (zero height when no deploy is shown).
    pub progress: Rect,
    pub message: Rect,
    pub keys: Rect,
}

/// Lines of a failed smoke's output the deploy progress shows per host (its end).
pub const TAIL_SHOWN: usize = 5;

/// Rows the deploy progress gives the refusal (which guard, why), wrapped.
pub const REFUSAL_ROWS: usize = 2;

/// Wide enough to put releases and details side by side.
pub const WIDE: u16 = 120;

impl Areas {
    /// The layout for a screen of `area` with `hosts` hosts and `progress_rows` deploy rows
    /// (the releases pane as if it had room for all it may show).
    pub fn compute(area: Rect, hosts: usize, progress_rows: usize) -> Areas {
        Areas::fit(area, hosts, usize::MAX, progress_rows)
    }

    /// The layout for a screen of `area` with `hosts` hosts, `releases` releases to
    /// list and `progress_rows` deploy rows. Stacked (narrow screens), the releases
    /// pane takes no more rows than its releases need: the details get the rest.
    pub fn fit(area: Rect, hosts: usize, releases: usize, progress_rows: usize) -> Areas {
        let (x, w) = (area.x, area.width);
        let row = |y: u16, h: u16| Rect::new(x, y, w, h);
        let h = area.height;
        let header = row(area.y, h.min(1));
        let footer_h = h.saturating_sub(1).min(2);
        let body_y = area.y + header.height;
        let body_h = h.saturating_sub(header.height + footer_h);
        let message = row(body_y + body_h, footer_h.min(1));
        let keys = row(body_y + body_h + message.height, footer_h.saturating_sub(1));

        let progress_h = if progress_rows == 0 {
            0
        } else {
            (progress_rows as u16 + 2).min(body_h / 3)
        };
        let main_h = body_h - progress_h;
        let progress = row(body_y + main_h, progress_h);

        // Hosts: one row each plus borders and a header row, at most a third of the body.
        let want = hosts as u16 + 3;
        let hosts_h = want.min((main_h / 3).max(5)).min(main_h);
        let hosts_r = row(body_y, hosts_h);
        let rest_y = body_y + hosts_h;
        let rest_h = main_h - hosts_h;
        let (releases, details) = if w >= WIDE {
            let rw = w * 3 / 5;
            (
                Rect::new(x, rest_y, rw, rest_h),
                Rect::new(x + rw, rest_y, w - rw, rest_h),
            )
        } else {
            let share = rest_h - rest_h * 2 / 5;
            // Borders and the header row, then one row a release (at least two shown).
            let want = u16::try_from(releases.max(2))
                .unwrap_or(u16::MAX)
                .saturating_add(3);
            let rh = share.min(want);
            (row(rest_y, rh), row(rest_y + rh, rest_h - rh))
        };
        Areas {
            header,
            hosts: hosts_r,
            releases,
            details,
            progress,
            message,
            keys,
        }
    }
}

/// Rows of content inside a bordered pane that has a header row.
pub fn table_rows(r: Rect) -> usize {
    r.height.saturating_sub(3) as usize
}

/// The index of the table row drawn at screen row `y` in a bordered pane with a
/// header row, `sel` selected. ratatui scrolls such a table (its offset starts at 0
/// every frame) just far enough to show the selection on the last row.
pub fn row_at(r: Rect, sel: usize, y: u16) -> Option<usize> {
    let rows = table_rows(r);
    let top = r.y + 2;
    if rows == 0 || y < top || y >= top + rows as u16 {
        return None;
    }
    let first = sel.saturating_sub(rows - 1);
    Some(first + (y - top) as usize)
}

/// Rows of content inside a bordered pane.
pub fn inner_rows(r: Rect) -> usize {
    r.height.saturating_sub(2) as usize
}

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The help popup's box.
pub fn help_rect(area: Rect) -> Rect {
    centered(
        area,
        area.width.saturating_sub(4).min(100),
        area.height.saturating_sub(2),
    )
}

/// The fleet view's box.
pub fn fleet_rect(area: Rect) -> Rect {
    Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    }
}

/// Release rows the fleet view shows at once (inside: header row and legend row).
pub fn fleet_room(area: Rect) -> usize {
    (fleet_rect(area).height as usize).saturating_sub(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_tile_the_screen_at_80x24() {
        let a = Areas::compute(Rect::new(0, 0, 80, 24), 3, 0);
        assert_eq!(a.header.height, 1);
        assert_eq!(a.message.y, 22);
        assert_eq!(a.keys.y, 23);
        let total = a.header.height
            + a.hosts.height
            + a.releases.height
            + a.details.height
            + a.progress.height
            + a.message.height
            + a.keys.height;
        assert_eq!(total, 24);
        assert!(table_rows(a.releases) >= 6, "{a:?}");
    }

    #[test]
    fn wide_screens_put_details_beside_releases() {
        let a = Areas::compute(Rect::new(0, 0, 160, 48), 5, 3);
        assert_eq!(a.releases.y, a.details.y);
        assert_eq!(a.releases.width + a.details.width, 160);
        assert_eq!(a.progress.height, 5);
    }

    #[test]
    fn details_get_the_rows_releases_do_not_need() {
        // 100×30 with 4 hosts and 5 releases: the releases pane is 5 + 3 rows, not 13.
        let a = Areas::fit(Rect::new(0, 0, 100, 30), 4, 5, 0);
        assert_eq!(table_rows(a.releases), 5, "{a:?}");
        assert_eq!(a.details.height, 12, "{a:?}");
        // Many releases: the old share (the details keep two fifths).
        let b = Areas::fit(Rect::new(0, 0, 100, 30), 4, 50, 0);
        assert_eq!(b, Areas::compute(Rect::new(0, 0, 100, 30), 4, 0));
        assert!(b.details.height >= 8, "{b:?}");
    }

    #[test]
    fn tiny_screens_do_not_panic() {
        for (w, h) in [(0, 0), (1, 1), (10, 3), (20, 5), (80, 2)] {
            let _ = Areas::compute(Rect::new(0, 0, w, h), 30, 30);
            let _ = Areas::fit(Rect::new(0, 0, w, h), 30, 0, 30);
        }
    }
}
