//! Dangerous actions as data: a key builds a `Pending` action (what will happen,
//! exactly: hosts, from → to, jobs on each side, the prune plan) inside a `Dialog`
//! that starts on Cancel; only `y` (or `yes` typed, for more than one host) turns it
//! into `Cmd`s.

use super::*;

/// A dangerous action, waiting for the operator's confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    Switch {
        host: String,
        from: Option<String>,
        to: String,
        from_jobs: Vec<Job>,
        to_jobs: Vec<Job>,
        to_bad: bool,
        hidden: usize,
    },
    /// From the fleet view: every host that has `to` and runs something else.
    FleetSwitch {
        to: String,
        targets: Vec<FleetTarget>,
        /// Hosts left out, and why ("does not have it", "already live", an error).
        skipped: Vec<(String, String)>,
    },
    Rollback {
        host: String,
        from: String,
        to: String,
        from_jobs: Vec<Job>,
        to_jobs: Vec<Job>,
        hidden: usize,
    },
    Prune {
        host: String,
        keep: usize,
        /// The host's dry-run answer: the plan and its checks of each deletion.
        report: Box<PruneReport>,
    },
    Pin {
        host: String,
        release: String,
        duration: Duration,
        duration_text: String,
        reason: String,
    },
    Unpin {
        host: String,
        release: String,
        pins: Vec<Pin>,
    },
    Deploy {
        targets: Vec<DeployTarget>,
        target_label: String,
        paths: Vec<String>,
        message: String,
        /// `Some(keep)`: the config prunes after the deploy.
        prune_keep: Option<usize>,
        guards: Guards,
    },
    /// End the host's probation early: the release on probation as last seen.
    Accept {
        host: String,
        release: String,
        previous: Option<String>,
        failures: u32,
        max_failures: u32,
        /// "8m left", "due", as the hosts pane says it.
        status: String,
    },
    /// Break the host's lock: the holder as the host named it just now.
    Unlock {
        host: String,
        lock: crate::model::LockInfo,
    },
    Quit {
        in_flight: Vec<String>,
    },
}

/// A host a fleet switch changes, as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetTarget {
    pub host: String,
    pub from: Option<String>,
    pub from_jobs: usize,
    pub to_jobs: usize,
    pub to_bad: bool,
}

/// A host a deploy goes to, as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployTarget {
    pub host: String,
    pub live: Option<String>,
    pub live_jobs: usize,
    pub error: Option<String>,
}

impl Pending {
    pub fn hosts(&self) -> Vec<&str> {
        match self {
            Pending::Switch { host, .. }
            | Pending::Rollback { host, .. }
            | Pending::Prune { host, .. }
            | Pending::Pin { host, .. }
            | Pending::Unpin { host, .. }
            | Pending::Unlock { host, .. }
            | Pending::Accept { host, .. } => vec![host.as_str()],
            Pending::Deploy { targets, .. } => targets.iter().map(|t| t.host.as_str()).collect(),
            Pending::FleetSwitch { targets, .. } => {
                targets.iter().map(|t| t.host.as_str()).collect()
            }
            Pending::Quit { .. } => Vec::new(),
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Pending::Switch { .. } => "Switch",
            Pending::FleetSwitch { .. } => "Switch hosts",
            Pending::Rollback { .. } => "Roll back",
            Pending::Prune { .. } => "Prune",
            Pending::Pin { .. } => "Pin",
            Pending::Unpin { .. } => "Unpin",
            Pending::Deploy { .. } => "Deploy",
            Pending::Unlock { .. } => "Unlock",
            Pending::Accept { .. } => "Accept probation",
            Pending::Quit { .. } => "Quit",
        }
    }

    /// Changes hosts (a red dialog; Quit does not).
    pub fn dangerous(&self) -> bool {
        !matches!(self, Pending::Quit { .. })
    }

    /// The confirmed action as work for the worker.
    fn into_cmds(self) -> Vec<Cmd> {
        match self {
            Pending::Switch { host, from, to, .. } => vec![Cmd::Switch {
                host,
                release: to,
                expect: from,
            }],
            // Each host with its own compare-and-swap: a host that changed since the
            // operator looked is refused, the others go on.
            Pending::FleetSwitch { to, targets, .. } => targets
                .into_iter()
                .map(|t| Cmd::Switch {
                    host: t.host,
                    release: to.clone(),
                    expect: t.from,
                })
                .collect(),
            Pending::Rollback { host, to, .. } => vec![Cmd::Rollback { host, to: Some(to) }],
            Pending::Prune { host, keep, .. } => vec![Cmd::Prune { host, keep }],
            Pending::Pin {
                host,
                release,
                duration,
                reason,
                ..
            } => vec![Cmd::Pin {
                host,
                release,
                duration,
                reason,
            }],
            Pending::Unpin { host, release, .. } => vec![Cmd::Unpin { host, release }],
            Pending::Deploy {
                targets,
                paths,
                message,
                guards,
                ..
            } => vec![Cmd::Deploy {
                paths: paths.into_iter().map(PathBuf::from).collect(),
                message,
                hosts: targets.into_iter().map(|t| t.host).collect(),
                guards,
            }],
            Pending::Accept { host, release, .. } => vec![Cmd::Accept { host, release }],
            Pending::Unlock { host, lock } => vec![Cmd::Unlock { host, lock }],
            Pending::Quit { .. } => vec![Cmd::Quit],
        }
    }
}

/// The two buttons of a dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Button {
    Cancel,
    Confirm,
}

/// A confirmation dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    pub pending: Pending,
    pub focus: Button,
    /// `Some` when the operator must type `yes` (more than one host): what was typed.
    pub typed: Option<String>,
    /// A hint shown in the dialog ("press y to run it").
    pub note: Option<String>,
}

impl Dialog {
    pub fn new(pending: Pending) -> Dialog {
        let typed = (pending.hosts().len() > 1).then(String::new);
        Dialog {
            pending,
            focus: Button::Cancel,
            typed,
            note: None,
        }
    }
}

pub(super) fn quit(app: &mut App) -> Vec<Cmd> {
    if app.in_flight.is_empty() {
        return vec![Cmd::Quit];
    }
    // A second Ctrl-C (or q) while the quit question is up means it.
    if let Some(Overlay::Confirm(Dialog {
        pending: Pending::Quit { .. },
        ..
    })) = app.overlay
    {
        return vec![Cmd::Quit];
    }
    let in_flight = app.in_flight.iter().map(InFlight::describe).collect();
    app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Quit { in_flight })));
    Vec::new()
}

pub(super) fn jobs_of(state: &HostState, name: &str) -> Vec<Job> {
    state
        .release(name)
        .map(|r| r.jobs.clone())
        .unwrap_or_default()
}

pub(super) fn open_switch(app: &mut App) -> Vec<Cmd> {
    let Some(to) = app.selected_release().map(|r| r.name.to_string()) else {
        app.warn("no release selected");
        return Vec::new();
    };
    let Some((host, state)) = host_state(app) else {
        return Vec::new();
    };
    let from = state.current().map(|c| c.to_string());
    if from.as_deref() == Some(to.as_str()) {
        app.say(format!("{to} is already live on {host}"));
        return Vec::new();
    }
    let pending = Pending::Switch {
        from_jobs: from
            .as_deref()
            .map(|f| jobs_of(&state, f))
            .unwrap_or_default(),
        to_jobs: jobs_of(&state, &to),
        to_bad: plan::bad_releases(&state.history).contains(&to),
        hidden: state.hidden_processes,
        host,
        from,
        to,
    };
    app.overlay = Some(Overlay::Confirm(Dialog::new(pending)));
    Vec::new()
}

/// `s` in the fleet view: the selected release on every host that has it.
pub(super) fn open_fleet_switch(app: &mut App) -> Vec<Cmd> {
    let Some(Overlay::Fleet { sel, .. }) = app.overlay else {
        return Vec::new();
    };
    let Some(to) = app.fleet_releases().get(sel).map(|n| n.to_string()) else {
        app.warn("no release selected");
        return Vec::new();
    };
    let pending = fleet_switch_plan(&app.hosts, &to);
    match &pending {
        Pending::FleetSwitch {
            targets, skipped, ..
        } if targets.is_empty() => {
            let why: Vec<String> = skipped.iter().map(|(h, w)| format!("{h}: {w}")).collect();
            app.warn(format!("{to}: no host to switch ({})", why.join("; ")));
        }
        _ => app.overlay = Some(Overlay::Confirm(Dialog::new(pending))),
    }
    Vec::new()
}

/// What switching every host to `to` would do, from the hosts as last seen.
pub(crate) fn fleet_switch_plan(hosts: &[HostView], to: &str) -> Pending {
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    for h in hosts {
        let Some(state) = h.state.as_ref() else {
            let why = h.error.clone().unwrap_or_else(|| "not scanned yet".into());
            skipped.push((h.name.clone(), why));
            continue;
        };
        if state.release(to).is_none() {
            skipped.push((h.name.clone(), "does not have it".into()));
            continue;
        }
        let from = state.current().map(|c| c.to_string());
        if from.as_deref() == Some(to) {
            skipped.push((h.name.clone(), "already live".into()));
            continue;
        }
        targets.push(FleetTarget {
            host: h.name.clone(),
            from_jobs: from.as_deref().map_or(0, |f| jobs_of(state, f).len()),
            to_jobs: jobs_of(state, to).len(),
            to_bad: plan::bad_releases(&state.history).contains(to),
            from,
        });
    }
    Pending::FleetSwitch {
        to: to.to_string(),
        targets,
        skipped,
    }
}

pub(super) fn open_rollback(app: &mut App) -> Vec<Cmd> {
    let Some((host, state)) = host_state(app) else {
        return Vec::new();
    };
    let Some(from) = state.current().map(|c| c.to_string()) else {
        app.warn(format!(
            "{host}: the link points at no release; nothing to roll back"
        ));
        return Vec::new();
    };
    let to = match plan::rollback_target(&state) {
        Ok(n) => n.to_string(),
        Err(why) => {
            app.warn(format!("{host}: nothing to roll back to: {why}"));
            return Vec::new();
        }
    };
    let pending = Pending::Rollback {
        from_jobs: jobs_of(&state, &from),
        to_jobs: jobs_of(&state, &to),
        hidden: state.hidden_processes,
        host,
        from,
        to,
    };
    app.overlay = Some(Overlay::Confirm(Dialog::new(pending)));
    Vec::new()
}

/// `A`: accept the selected host's probation, after confirming it (the host, the
/// release, its failures and time left as last seen). The worker ends it only if it
/// is still that release's.
pub(super) fn open_accept(app: &mut App) -> Vec<Cmd> {
    let Some((host, state)) = host_state(app) else {
        return Vec::new();
    };
    let Some(p) = state.probation.clone() else {
        app.say(format!("{host} has no probation to accept"));
        return Vec::new();
    };
    let status = app
        .host()
        .and_then(|h| app.probation_status(h))
        .map(|st| {
            if st.due {
                "due: the host rolls back at its next chance".to_string()
            } else {
                format!("{} left", crate::plan::health::left_words(st.left))
            }
        })
        .unwrap_or_else(|| format!("until {}", printable(&p.until)));
    app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Accept {
        host,
        release: p.release,
        previous: p.previous,
        failures: p.failures,
        max_failures: p.max_failures,
        status,
    })));
    Vec::new()
}

pub(super) fn ask_prune_plan(app: &mut App) -> Vec<Cmd> {
    let Some((host, _)) = host_state(app) else {
        return Vec::new();
    };
    app.say(format!(
        "{host}: asking the host for the prune plan (keep {}, a dry run)…",
        app.keep
    ));
    app.plan_pending = Some(host.clone());
    vec![Cmd::PrunePlan {
        host,
        keep: app.keep,
    }]
}

/// `u`: ask the host who holds its lock now; the dialog opens on the answer
/// (`events`), showing that holder, and only that holder is broken.
pub(super) fn ask_lock(app: &mut App) -> Vec<Cmd> {
    let Some((host, _)) = host_state(app) else {
        return Vec::new();
    };
    app.say(format!("{host}: asking the host who holds its lock…"));
    app.lock_pending = Some(host.clone());
    vec![Cmd::LockQuery { host }]
}

pub(super) fn confirm(app: &mut App) -> Vec<Cmd> {
    let Some(Overlay::Confirm(d)) = app.overlay.take() else {
        return Vec::new();
    };
    if d.typed.is_some() {
        // Typed confirmations only run from Submit with `yes`.
        app.overlay = Some(Overlay::Confirm(d));
        return Vec::new();
    }
    run_pending(app, d.pending)
}

pub(super) fn run_pending(app: &mut App, pending: Pending) -> Vec<Cmd> {
    if pending.dangerous() && app.readonly {
        // Defence in depth: no dialog should exist in read-only mode.
        app.warn("read-only: nothing was changed");
        return Vec::new();
    }
    let hosts: Vec<String> = pending.hosts().iter().map(|h| h.to_string()).collect();
    let op = match &pending {
        Pending::Switch { .. } | Pending::FleetSwitch { .. } => Some(OpKind::Switch),
        Pending::Rollback { .. } => Some(OpKind::Rollback),
        Pending::Prune { .. } => Some(OpKind::Prune),
        Pending::Pin { .. } => Some(OpKind::Pin),
        Pending::Unpin { .. } => Some(OpKind::Unpin),
        Pending::Deploy { .. } => Some(OpKind::Deploy),
        Pending::Unlock { .. } => Some(OpKind::Unlock),
        Pending::Accept { .. } => Some(OpKind::Accept),
        Pending::Quit { .. } => None,
    };
    if let Some(op) = op {
        let f = InFlight {
            op,
            hosts: hosts.clone(),
        };
        app.say(format!("{}…", f.describe()));
        if matches!(pending, Pending::FleetSwitch { .. }) {
            // One switch per host, each done on its own.
            app.in_flight.extend(hosts.iter().map(|h| InFlight {
                op,
                hosts: vec![h.clone()],
            }));
        } else {
            app.in_flight.push(f);
        }
        if let Pending::Deploy { guards, .. } = &pending {
            app.deploy = Some(DeployRun {
                hosts: hosts
                    .iter()
                    .map(|h| HostProgress {
                        host: h.clone(),
                        sent: 0,
                        total: 0,
                        phase: "waiting".into(),
                        result: None,
                        tail: Vec::new(),
                    })
                    .collect(),
                release: None,
                files: None,
                finished: false,
                guards: guards.clone(),
                refused: None,
            });
        }
    }
    pending.into_cmds()
}

pub(super) fn cancel(app: &mut App) -> Vec<Cmd> {
    if app.filter_editing && app.overlay.is_none() {
        app.filter_editing = false;
        app.filter.clear();
        app.release_sel = 0;
        return Vec::new();
    }
    if app.overlay.take().is_some() {
        app.say("cancelled: nothing was changed");
    }
    Vec::new()
}
