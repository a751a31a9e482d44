//! Confirmation dialogs: what a pending action will do, exactly (hosts, from → to,
//! jobs on each side, the prune plan with every verdict and reason), with Cancel
//! focused and `y` (or `yes` typed, for several hosts) the only way to run it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::overlays::{boxed, fit};
use crate::model::{Job, printable};
use crate::ops::prune::Outcome;
use crate::plan::Verdict;
use crate::tui::app::{App, Button, Dialog, Pending};
use crate::tui::layout::centered;
use crate::tui::theme;
use crate::tui::wrap::wrap;

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
                format!(
                    "{} of other users could not be inspected.",
                    crate::model::plural(hidden as u64, "process")
                ),
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
        Pending::FleetSwitch {
            to,
            targets,
            skipped,
        } => {
            out.push(Line::from(vec![
                Span::raw(format!(
                    "Switch {} to ",
                    crate::model::plural(targets.len() as u64, "host")
                )),
                b(to.clone()),
            ]));
            out.push(Line::from(""));
            let w = targets
                .iter()
                .map(|x| printable(&x.host).chars().count())
                .max()
                .unwrap_or(0);
            for x in targets {
                let from = x.from.clone().unwrap_or_else(|| "(no live release)".into());
                let mut spans = vec![
                    b(format!("{:<w$}", printable(&x.host))),
                    Span::raw("  "),
                    Span::styled(from, t.live()),
                    Span::raw(format!(
                        " → {to}   jobs: {} on from, {} on to",
                        x.from_jobs, x.to_jobs
                    )),
                ];
                if x.to_bad {
                    spans.push(Span::styled(format!("  {} bad here", theme::BAD), t.bad()));
                }
                out.push(Line::from(spans));
            }
            for (host, why) in skipped {
                out.push(Line::from(Span::styled(
                    format!("{:<w$}  left alone: {}", printable(host), printable(why)),
                    t.dim(),
                )));
            }
            out.push(Line::from(""));
            out.push(Line::from(
                "Running jobs keep their release; new jobs start on the new one.",
            ));
            out.push(Line::from(
                "Each host switches only if its link still points where shown.",
            ));
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
        Pending::Prune { host, keep, report } => {
            // The host's dry-run answer, as `prune --dry-run` prints it: a deletion
            // the host's own checks keep (a launched job holds it...) shows as kept.
            let plan = &report.plan;
            let del = report.to_delete().count();
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
                let (verdict, style, why) = match (&v.verdict, report.outcome(v.name.as_str())) {
                    (Verdict::Delete(why), Some(Outcome::Kept(skip))) => (
                        "  keep".to_string(),
                        t.ok(),
                        format!("{skip} (the host's check; the plan said {why})"),
                    ),
                    (Verdict::Delete(_), Some(Outcome::Gone)) => {
                        ("  gone".to_string(), t.dim(), "already gone".to_string())
                    }
                    (Verdict::Delete(why), _) => {
                        (format!("{} delete", theme::BAD), t.bad(), why.to_string())
                    }
                    (Verdict::Keep(why), _) => {
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
                    "also removes {} in .relman/staging",
                    crate::model::plural(plan.stale_staging.len() as u64, "unfinished upload")
                )));
            }
            if !plan.expired_pins.is_empty() {
                out.push(Line::from(format!(
                    "also removes {}",
                    crate::model::plural(plan.expired_pins.len() as u64, "expired pin file")
                )));
            }
            if del == 0 && plan.expired_pins.is_empty() && plan.stale_staging.is_empty() {
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
                Span::raw(format!(
                    "Remove {} from ",
                    crate::model::plural(pins.len() as u64, "pin")
                )),
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
            prune_keep,
            guards,
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
                        "{l} → new  ({} {} running on {l})",
                        crate::model::plural(x.live_jobs as u64, "job"),
                        if x.live_jobs == 1 { "keeps" } else { "keep" }
                    )),
                    (Some(l), None) => Span::raw(format!("{l} → new")),
                    (None, None) => Span::raw("(no live release) → new".to_string()),
                };
                out.push(Line::from(vec![
                    Span::styled(format!("  {:<w$}  ", printable(&x.host)), t.title()),
                    what,
                ]));
            }
            if targets.len() > 1 {
                out.push(Line::from(
                    "Staged on every host first: if one host fails, no host changes.",
                ));
            }
            if let Some(keep) = prune_keep {
                out.push(Line::from(format!(
                    "Then prune (keep {keep}), as the config's prune_after_deploy says."
                )));
            }
            guard_lines(app, guards, &mut out);
        }
        Pending::Unlock { host, lock } => {
            out.push(Line::from(vec![
                Span::raw("Break the lock of "),
                b(printable(host)),
            ]));
            out.push(Line::from(""));
            let who = if lock.holder_known() {
                printable(&lock.by)
            } else {
                "unknown (the lock file names no holder)".into()
            };
            out.push(Line::from(vec![
                Span::styled(format!("{:<8}", "held by"), t.dim()),
                Span::styled(who, t.warn()),
            ]));
            let since = humantime::parse_rfc3339(&lock.since)
                .map(|at| {
                    format!(
                        "{} ({})",
                        printable(&lock.since),
                        crate::model::age_since(at, app.now)
                    )
                })
                .unwrap_or_else(|_| printable(&lock.since));
            out.push(Line::from(vec![
                Span::styled(format!("{:<8}", "since"), t.dim()),
                Span::raw(since),
            ]));
            out.push(Line::from(vec![
                Span::styled(format!("{:<8}", "action"), t.dim()),
                Span::raw(printable(&lock.action)),
            ]));
            out.push(Line::from(vec![
                Span::styled(format!("{:<8}", "pid"), t.dim()),
                Span::raw(lock.pid.map_or_else(|| "unknown".into(), |p| p.to_string())),
            ]));
            out.push(Line::from(""));
            out.push(Line::from(
                "Only this holder is killed, and only if it is still relman's lock holder; \
                 the history records the unlock. If it finished meanwhile, nothing is broken.",
            ));
        }
        Pending::Accept {
            host,
            release,
            previous,
            failures,
            max_failures,
            status,
        } => {
            out.push(Line::from(vec![
                Span::raw("Accept "),
                b(printable(release)),
                Span::raw(" on "),
                b(printable(host)),
                Span::raw(": end its probation now"),
            ]));
            out.push(Line::from(""));
            let failures_style = if failures > max_failures {
                t.bad()
            } else {
                t.plain()
            };
            out.push(Line::from(vec![
                Span::styled(format!("{:<10}", "failures"), t.dim()),
                Span::styled(
                    format!("{failures} so far, {max_failures} allowed"),
                    failures_style,
                ),
            ]));
            out.push(Line::from(vec![
                Span::styled(format!("{:<10}", "time"), t.dim()),
                Span::raw(printable(status)),
            ]));
            if let Some(p) = previous {
                out.push(Line::from(vec![
                    Span::styled(format!("{:<10}", "previous"), t.dim()),
                    Span::raw(format!(
                        "{} (where a failing probation goes back)",
                        printable(p)
                    )),
                ]));
            }
            out.push(Line::from(""));
            out.push(Line::from(format!(
                "{} stays live and no longer rolls back by itself. Runs only if the",
                printable(release)
            )));
            out.push(Line::from(
                "probation is still this release's; the history records the accept.",
            ));
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

/// What the deploy's guards will do, for its confirmation.
fn guard_lines(app: &App, g: &crate::tui::app::Guards, out: &mut Vec<Line<'_>>) {
    let t = &app.theme;
    if !g.any() {
        return;
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled("Guards:", t.title())));
    let item = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("  {k:<10}"), t.key()),
            Span::raw(v),
        ])
    };
    if let Some(s) = &g.smoke {
        out.push(item(
            "smoke",
            format!(
                "`{}` runs on every host before any switch (at most {}); failing on one, no host switches",
                printable(&s.command),
                humantime::format_duration(s.timeout)
            ),
        ));
    }
    if let Some(c) = &g.canary {
        out.push(item(
            "canary",
            format!(
                "{} switch first; each needs {} within {}; more than {}, or the time running out, rolls them back and the other hosts stay",
                c.hosts.iter().map(|h| printable(h)).collect::<Vec<_>>().join(", "),
                crate::model::plural(u64::from(c.min_runs), "finished run"),
                humantime::format_duration(c.watch),
                crate::model::plural(u64::from(c.max_failures), "failed run")
            ),
        ));
    }
    if let Some(p) = &g.probation {
        out.push(item(
            "probation",
            format!(
                "for {} after the switch, each host rolls itself back after more than {}",
                humantime::format_duration(p.duration),
                crate::model::plural(u64::from(p.max_failures), "failed run")
            ),
        ));
    }
    out.push(Line::from(Span::styled(
        "A guard that refuses marks the release bad and leaves every host on what it had.",
        t.dim(),
    )));
}

pub(super) fn dialog(app: &App, frame: &mut Frame, area: Rect, d: &Dialog) {
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
