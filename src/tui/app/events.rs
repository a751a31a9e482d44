//! What the worker reports: scans (the last good state is kept on failure),
//! prune plans, operation results (conflicts shown, hosts refreshed), deploy progress.

use super::forms::on_completions;
use super::*;

pub(super) fn on_event(app: &mut App, ev: Event) -> Vec<Cmd> {
    match ev {
        Event::Scanned { host, at, result } => {
            scanned(app, &host, at, result);
            Vec::new()
        }
        Event::Plan { host, at, result } => {
            let wanted = app.plan_pending.as_deref() == Some(host.as_str());
            if wanted {
                app.plan_pending = None;
            }
            match result {
                Ok((state, _)) if !wanted => scanned(app, &host, at, Ok(state)),
                Err(_) if !wanted => {}
                Ok((state, report)) => {
                    scanned(app, &host, at, Ok(state));
                    if app.overlay.is_some() {
                        app.warn(format!("{host}: prune plan ready, but a dialog is open"));
                    } else {
                        app.say(format!(
                            "{host}: prune would delete {}",
                            crate::model::plural(report.to_delete().count() as u64, "release")
                        ));
                        app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Prune {
                            host,
                            keep: app.keep,
                            report,
                        })));
                    }
                }
                Err(e) => {
                    let e = clean(&e);
                    app.warn(format!("{host}: cannot plan prune: {e}"));
                    show_error(app, "Prune plan failed", format!("{host}: {e}"));
                }
            }
            Vec::new()
        }
        Event::Done { host, op, result } => {
            if let Some(i) = app
                .in_flight
                .iter()
                .position(|f| f.op == op && f.hosts.contains(&host))
            {
                app.in_flight.remove(i);
            }
            match result {
                Ok(summary) => app.say(format!("{host}: {}", clean(&summary))),
                Err(f) => {
                    let msg = clean(&f.message);
                    let mut text = format!("{host}: {} failed: {msg}", op.as_str());
                    if f.is_conflict() {
                        text.push_str(
                            " — the host changed since you saw it; refreshed, look again",
                        );
                    }
                    app.warn(text.clone());
                    show_error(app, &format!("{} failed", op.as_str()), text);
                }
            }
            // Whatever happened, show the host as it is now.
            app.refresh_host(&host)
        }
        Event::Progress {
            host,
            sent,
            total,
            phase,
        } => {
            if let Some(p) = app
                .deploy
                .as_mut()
                .and_then(|d| d.hosts.iter_mut().find(|p| p.host == host))
            {
                // Phases after the upload report no bytes: the bar keeps what was sent.
                if total > 0 || p.total == 0 {
                    p.sent = sent;
                    p.total = total;
                }
                p.phase = clean(&phase);
            }
            Vec::new()
        }
        Event::DeployHost { host, result } => {
            let result = result.map(|s| clean(&s)).map_err(|e| clean(&e));
            if let Some(p) = app
                .deploy
                .as_mut()
                .and_then(|d| d.hosts.iter_mut().find(|p| p.host == host))
            {
                p.phase = if result.is_ok() { "done" } else { "failed" }.into();
                p.result = Some(result);
            }
            app.refresh_host(&host)
        }
        Event::Watch {
            host,
            finished,
            min_runs,
            failures,
            left,
        } => {
            if let Some(p) = app
                .deploy
                .as_mut()
                .and_then(|d| d.hosts.iter_mut().find(|p| p.host == host))
            {
                p.phase = crate::present::deploy::watch_line(finished, min_runs, failures, left);
            }
            Vec::new()
        }
        Event::SmokeFailed { host, how, tail } => {
            if let Some(p) = app
                .deploy
                .as_mut()
                .and_then(|d| d.hosts.iter_mut().find(|p| p.host == host))
            {
                p.phase = format!("smoke {}", clean(&how));
                p.tail = tail.iter().map(|l| crate::model::printable(l)).collect();
            }
            Vec::new()
        }
        Event::DeployRefused { why } => {
            if let Some(d) = &mut app.deploy {
                d.refused = Some(clean(&why));
            }
            Vec::new()
        }
        Event::HookFailed { line } => {
            app.warn(line.trim_start_matches("relman: ").to_string());
            Vec::new()
        }
        Event::DeployStarted { files, bytes } => {
            if let Some(d) = &mut app.deploy {
                d.files = Some((files, bytes));
            }
            Vec::new()
        }
        Event::DeployNamed { release } => {
            if let Some(d) = &mut app.deploy {
                d.release = Some(clean(&release));
            }
            Vec::new()
        }
        Event::DeployDone { alert } => {
            app.in_flight.retain(|f| f.op != OpKind::Deploy);
            if let Some(a) = alert {
                show_error(app, "Deploy", clean(&a));
            }
            if let Some(d) = &mut app.deploy {
                d.finished = true;
                let failed: Vec<String> = d
                    .hosts
                    .iter()
                    .filter(|p| !matches!(p.result, Some(Ok(_))))
                    .map(|p| p.host.clone())
                    .collect();
                let n = d.hosts.len();
                if let Some(why) = &d.refused {
                    let why = why.clone();
                    app.warn(format!("deploy refused: {why}"));
                } else if failed.is_empty() {
                    app.say(format!(
                        "deploy done on {}",
                        crate::model::plural(n as u64, "host")
                    ));
                } else {
                    app.warn(format!(
                        "deploy failed on {} of {}: {}",
                        failed.len(),
                        crate::model::plural(n as u64, "host"),
                        failed.join(", ")
                    ));
                }
            }
            Vec::new()
        }
        Event::Completions { input, candidates } => {
            on_completions(app, input, candidates);
            Vec::new()
        }
        Event::Lock { host, result } => {
            let wanted = app.lock_pending.as_deref() == Some(host.as_str());
            if wanted {
                app.lock_pending = None;
            }
            match result {
                _ if !wanted => {}
                Ok(None) => app.say(format!("{host} is not locked: nothing to unlock")),
                Ok(Some(_)) if app.overlay.is_some() => {
                    app.warn(format!(
                        "{host}: its lock holder is known, but a dialog is open"
                    ));
                }
                Ok(Some(lock)) => {
                    // The dialog says it all; "asking…" is over.
                    app.message = None;
                    app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Unlock {
                        host,
                        lock,
                    })));
                }
                Err(e) => {
                    let e = clean(&e);
                    app.warn(format!("{host}: cannot read its lock: {e}"));
                    show_error(app, "Unlock failed", format!("{host}: {e}"));
                }
            }
            Vec::new()
        }
        Event::Checked { host, at, rows } => {
            if let Some(c) = app.check.as_mut().filter(|c| c.host == host) {
                let failed = rows
                    .iter()
                    .filter(|r| r.level == crate::ops::check::Level::Fail)
                    .count();
                c.rows = Some(rows);
                c.at = Some(at);
                if failed == 0 {
                    app.say(format!("{host}: check done"));
                } else {
                    app.warn(format!(
                        "{host}: check: {} failed",
                        crate::model::plural(failed as u64, "item")
                    ));
                }
            }
            Vec::new()
        }
        Event::Runs {
            host,
            release,
            result,
        } => {
            if let Some(v) = app
                .runs
                .as_mut()
                .filter(|v| v.host == host && v.release == release)
            {
                v.result = Some(result.map_err(|e| clean(&e)));
            }
            Vec::new()
        }
    }
}

pub(super) fn show_error(app: &mut App, title: &str, text: String) {
    if app.overlay.is_none() {
        app.overlay = Some(Overlay::Error {
            title: title.to_string(),
            text,
        });
    }
}

pub(super) fn scanned(
    app: &mut App,
    host: &str,
    at: SystemTime,
    result: Result<HostState, String>,
) {
    let selected = app.host_sel;
    let sel_name = app.selected_release().map(|r| r.name.to_string());
    let Some(i) = app.hosts.iter().position(|h| h.name == host) else {
        return;
    };
    let h = &mut app.hosts[i];
    h.scanning = false;
    match result {
        Ok(state) => {
            h.state = Some(state);
            h.error = None;
            h.updated_at = Some(at);
        }
        Err(e) => {
            h.error = Some(clean(&e));
        }
    }
    // Keep the same release selected when the list changes under it.
    if i == selected {
        if let Some(name) = sel_name {
            if let Some(j) = app
                .visible_releases()
                .iter()
                .position(|r| r.name.as_str() == name)
            {
                app.release_sel = j;
                return;
            }
        }
        let n = app.visible_releases().len();
        app.release_sel = app.release_sel.min(n.saturating_sub(1));
    }
}
