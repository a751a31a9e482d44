//! The deploy and pin prompts: text fields, the deploy target (this host, a group,
//! all hosts), the deploy's guards (smoke, canaries, probation: [`parse_guards`]
//! checks them before the dialog), local path completion (asked of the worker,
//! applied here), and the step from a filled prompt to its confirmation dialog.

use super::confirm::{jobs_of, run_pending};
use super::*;

/// A choice of hosts for a deploy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetChoice {
    pub label: String,
    pub hosts: Vec<String>,
}

/// Fields of the deploy prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployField {
    Paths,
    Message,
    Target,
    /// The guards (SPEC §7), after the target: Enter there confirms like on the target.
    Smoke,
    Canary,
    Watch,
    MinRuns,
    Probation,
    MaxFailures,
}

/// The deploy prompt's fields, in order.
pub const DEPLOY_FIELDS: [DeployField; 9] = [
    DeployField::Paths,
    DeployField::Message,
    DeployField::Target,
    DeployField::Smoke,
    DeployField::Canary,
    DeployField::Watch,
    DeployField::MinRuns,
    DeployField::Probation,
    DeployField::MaxFailures,
];

/// The canary's watch when the operator leaves it (the CLI's `--watch` default).
pub const DEFAULT_WATCH: &str = "10m";
/// `--min-runs` when not given.
pub const DEFAULT_MIN_RUNS: &str = "1";
/// `--max-failures` when not given.
pub const DEFAULT_MAX_FAILURES: &str = "0";

/// The deploy prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployForm {
    pub paths: String,
    pub message: String,
    pub choices: Vec<TargetChoice>,
    pub choice: usize,
    pub field: DeployField,
    /// `--smoke CMD` (empty: none).
    pub smoke: String,
    /// `--canary HOST...`: names separated by spaces or commas (empty: none).
    pub canary: String,
    /// `--watch`, `--min-runs` (used with canaries).
    pub watch: String,
    pub min_runs: String,
    /// `--probation DURATION` (empty: none).
    pub probation: String,
    /// `--max-failures` (the canaries' and the probation's).
    pub max_failures: String,
    /// Candidates of the last Tab completion, when there were several.
    pub candidates: Vec<String>,
    pub error: Option<String>,
}

/// Fields of the pin prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinField {
    Duration,
    Reason,
}

/// The pin prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinForm {
    pub host: String,
    pub release: String,
    pub duration: String,
    pub reason: String,
    pub field: PinField,
    pub error: Option<String>,
}

/// Changes the deploy target (on the target field; ←/→ elsewhere do nothing).
pub(super) fn cycle(app: &mut App, by: isize) {
    if let Some(Overlay::Deploy(f)) = &mut app.overlay {
        let n = f.choices.len() as isize;
        if f.field == DeployField::Target && n > 0 {
            f.choice = ((f.choice as isize + by).rem_euclid(n)) as usize;
        }
    }
}

pub(super) fn open_pin(app: &mut App) -> Vec<Cmd> {
    let Some(rel) = app.selected_release().cloned() else {
        app.warn("no release selected");
        return Vec::new();
    };
    let Some((host, _)) = host_state(app) else {
        return Vec::new();
    };
    let active: Vec<Pin> = rel
        .pins
        .iter()
        .filter(|p| p.is_active(app.now))
        .cloned()
        .collect();
    if active.is_empty() {
        app.overlay = Some(Overlay::Pin(PinForm {
            host,
            release: rel.name.to_string(),
            duration: "2h".into(),
            reason: String::new(),
            field: PinField::Duration,
            error: None,
        }));
    } else {
        app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Unpin {
            host,
            release: rel.name.to_string(),
            pins: active,
        })));
    }
    Vec::new()
}

pub(super) fn open_deploy(app: &mut App) -> Vec<Cmd> {
    let Some(h) = app.host() else {
        app.warn("no host selected");
        return Vec::new();
    };
    let mut choices = vec![TargetChoice {
        label: format!("this host: {}", h.name),
        hosts: vec![h.name.clone()],
    }];
    let mut groups: Vec<String> = h.groups.clone();
    for other in &app.hosts {
        for g in &other.groups {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
    }
    for g in groups {
        let hosts: Vec<String> = app
            .hosts
            .iter()
            .filter(|x| x.groups.contains(&g))
            .map(|x| x.name.clone())
            .collect();
        choices.push(TargetChoice {
            label: format!("group {g}"),
            hosts,
        });
    }
    if app.hosts.len() > 1 {
        choices.push(TargetChoice {
            label: "all hosts".into(),
            hosts: app.hosts.iter().map(|x| x.name.clone()).collect(),
        });
    }
    app.overlay = Some(Overlay::Deploy(DeployForm {
        paths: String::new(),
        message: String::new(),
        choices,
        choice: 0,
        field: DeployField::Paths,
        smoke: String::new(),
        canary: String::new(),
        watch: DEFAULT_WATCH.into(),
        min_runs: DEFAULT_MIN_RUNS.into(),
        probation: String::new(),
        max_failures: DEFAULT_MAX_FAILURES.into(),
        candidates: Vec::new(),
        error: None,
    }));
    Vec::new()
}

fn duration_of(what: &str, text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.as_secs() > 0 => Ok(d),
        _ => Err(format!(
            "{what}: '{}' is not a duration (e.g. 10m, 2h)",
            printable(text.trim())
        )),
    }
}

fn count_of(what: &str, text: &str, least: u32) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n >= least => Ok(n),
        _ => Err(format!(
            "{what}: '{}' is not a whole number{}",
            printable(text.trim()),
            if least > 0 {
                format!(" of at least {least}")
            } else {
                String::new()
            }
        )),
    }
}

/// The deploy's guards from the prompt's fields, for a deploy to `hosts`; or the field
/// at fault and a one-line message. Canaries must be among `hosts`; watch and min
/// runs only mean something with canaries, so changing them without any is refused
/// (the operator meant a canary and forgot to name it); max failures is the
/// canaries' and the probation's, as `--max-failures` is.
pub fn parse_guards(f: &DeployForm, hosts: &[String]) -> Result<Guards, (DeployField, String)> {
    let smoke = f.smoke.trim();
    let smoke = (!smoke.is_empty()).then(|| crate::ops::deploy::Smoke {
        command: smoke.to_string(),
        timeout: crate::ops::deploy::smoke::DEFAULT_TIMEOUT,
    });
    let mut canaries: Vec<String> = Vec::new();
    for name in f
        .canary
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
    {
        if !hosts.iter().any(|h| h == name) {
            return Err((
                DeployField::Canary,
                format!(
                    "canary {} is not among this deploy's hosts ({})",
                    printable(name),
                    hosts.join(", ")
                ),
            ));
        }
        if !canaries.iter().any(|c| c == name) {
            canaries.push(name.to_string());
        }
    }
    let max_failures =
        count_of("max failures", &f.max_failures, 0).map_err(|e| (DeployField::MaxFailures, e))?;
    let canary = if canaries.is_empty() {
        if f.watch.trim() != DEFAULT_WATCH || f.min_runs.trim() != DEFAULT_MIN_RUNS {
            return Err((
                DeployField::Canary,
                "watch and min runs are for canaries: name canary hosts, or leave them at 10m and 1"
                    .into(),
            ));
        }
        None
    } else {
        Some(crate::ops::deploy::Canary {
            hosts: canaries,
            min_runs: count_of("min runs", &f.min_runs, 1)
                .map_err(|e| (DeployField::MinRuns, e))?,
            max_failures,
            watch: duration_of("watch", &f.watch).map_err(|e| (DeployField::Watch, e))?,
        })
    };
    let probation = if f.probation.trim().is_empty() {
        None
    } else {
        Some(crate::model::ProbationSpec {
            duration: duration_of("probation", &f.probation)
                .map_err(|e| (DeployField::Probation, e))?,
            max_failures,
        })
    };
    Ok(Guards {
        smoke,
        canary,
        probation,
    })
}

pub(super) fn submit(app: &mut App) -> Vec<Cmd> {
    if app.filter_editing && app.overlay.is_none() {
        app.filter_editing = false;
        return Vec::new();
    }
    match app.overlay.take() {
        Some(Overlay::Confirm(mut d)) => match d.typed.as_deref() {
            Some("yes") => run_pending(app, d.pending),
            _ => {
                d.note = Some(format!(
                    "type yes, then Enter, to run on {} hosts (Esc cancels)",
                    d.pending.hosts().len()
                ));
                d.typed = Some(String::new());
                app.overlay = Some(Overlay::Confirm(d));
                Vec::new()
            }
        },
        Some(Overlay::Deploy(f)) => submit_deploy(app, f),
        Some(Overlay::Pin(f)) => submit_pin(app, f),
        other => {
            app.overlay = other;
            Vec::new()
        }
    }
}

pub(super) fn submit_deploy(app: &mut App, mut f: DeployForm) -> Vec<Cmd> {
    // Enter walks paths → message → target; on the target or a guard it confirms.
    if matches!(f.field, DeployField::Paths | DeployField::Message) {
        f.field = match f.field {
            DeployField::Paths => DeployField::Message,
            _ => DeployField::Target,
        };
        f.candidates.clear();
        app.overlay = Some(Overlay::Deploy(f));
        return Vec::new();
    }
    let paths = split_paths(&f.paths);
    if paths.is_empty() {
        f.error = Some("give at least one local path to deploy".into());
        f.field = DeployField::Paths;
        app.overlay = Some(Overlay::Deploy(f));
        return Vec::new();
    }
    let Some(choice) = f.choices.get(f.choice).cloned() else {
        return Vec::new();
    };
    let guards = match parse_guards(&f, &choice.hosts) {
        Ok(g) => g,
        Err((field, e)) => {
            f.error = Some(e);
            f.field = field;
            app.overlay = Some(Overlay::Deploy(f));
            return Vec::new();
        }
    };
    if let Some(busy) = choice.hosts.iter().find_map(|h| app.host_busy(h)) {
        let what = busy.describe();
        f.error = Some(format!("wait: {what} is still running"));
        app.overlay = Some(Overlay::Deploy(f));
        return Vec::new();
    }
    let targets = choice
        .hosts
        .iter()
        .map(|name| {
            let hv = app.hosts.iter().find(|h| &h.name == name);
            let state = hv.and_then(|h| h.state.as_ref());
            let live = state.and_then(|s| s.current()).map(|c| c.to_string());
            let live_jobs = match (state, &live) {
                (Some(s), Some(l)) => jobs_of(s, l).len(),
                _ => 0,
            };
            DeployTarget {
                host: name.clone(),
                live,
                live_jobs,
                error: hv.and_then(|h| h.error.clone()),
            }
        })
        .collect();
    app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Deploy {
        targets,
        target_label: choice.label,
        paths,
        message: f.message.trim().to_string(),
        prune_keep: app.prune_after_deploy.then_some(app.keep),
        guards,
    })));
    Vec::new()
}

pub(super) fn submit_pin(app: &mut App, mut f: PinForm) -> Vec<Cmd> {
    if f.field == PinField::Duration {
        f.field = PinField::Reason;
        app.overlay = Some(Overlay::Pin(f));
        return Vec::new();
    }
    match humantime::parse_duration(f.duration.trim()) {
        Ok(d) if d.as_secs() > 0 => {
            app.overlay = Some(Overlay::Confirm(Dialog::new(Pending::Pin {
                host: f.host,
                release: f.release,
                duration: d,
                duration_text: humantime::format_duration(d).to_string(),
                reason: f.reason.trim().to_string(),
            })));
        }
        _ => {
            f.error = Some(format!(
                "'{}' is not a duration (e.g. 30m, 2h, 1d)",
                printable(f.duration.trim())
            ));
            f.field = PinField::Duration;
            app.overlay = Some(Overlay::Pin(f));
        }
    }
    Vec::new()
}

/// Splits the paths field: whitespace separates, quotes group.
pub fn split_paths(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The text field that has focus, if any.
pub(super) fn field_mut(app: &mut App) -> Option<&mut String> {
    if app.filter_editing && app.overlay.is_none() {
        return Some(&mut app.filter);
    }
    match &mut app.overlay {
        Some(Overlay::Confirm(d)) => d.typed.as_mut(),
        Some(Overlay::Deploy(f)) => match f.field {
            DeployField::Paths => Some(&mut f.paths),
            DeployField::Message => Some(&mut f.message),
            DeployField::Target => None,
            DeployField::Smoke => Some(&mut f.smoke),
            DeployField::Canary => Some(&mut f.canary),
            DeployField::Watch => Some(&mut f.watch),
            DeployField::MinRuns => Some(&mut f.min_runs),
            DeployField::Probation => Some(&mut f.probation),
            DeployField::MaxFailures => Some(&mut f.max_failures),
        },
        Some(Overlay::Pin(f)) => match f.field {
            PinField::Duration => Some(&mut f.duration),
            PinField::Reason => Some(&mut f.reason),
        },
        _ => None,
    }
}

const MAX_FIELD: usize = 1024;

pub(super) fn type_char(app: &mut App, c: char) {
    let filtering = app.filter_editing && app.overlay.is_none();
    if let Some(field) = field_mut(app) {
        if field.chars().count() < MAX_FIELD {
            field.push(c);
        }
    } else if let Some(Overlay::Deploy(f)) = &mut app.overlay {
        // On the target field, space cycles like →.
        if c == ' ' && !f.choices.is_empty() {
            f.choice = (f.choice + 1) % f.choices.len();
        }
    }
    if filtering {
        app.release_sel = 0;
    }
    clear_form_error(app);
}

pub(super) fn erase(app: &mut App) {
    if let Some(field) = field_mut(app) {
        field.pop();
    }
    if app.filter_editing && app.overlay.is_none() {
        app.release_sel = 0;
    }
    clear_form_error(app);
}

pub(super) fn clear_form_error(app: &mut App) {
    match &mut app.overlay {
        Some(Overlay::Deploy(f)) => {
            f.error = None;
            f.candidates.clear();
        }
        Some(Overlay::Pin(f)) => f.error = None,
        _ => {}
    }
}

pub(super) fn move_field(app: &mut App, by: isize) {
    match &mut app.overlay {
        Some(Overlay::Deploy(f)) => {
            let order = DEPLOY_FIELDS;
            let i = order.iter().position(|x| *x == f.field).unwrap_or(0);
            f.field = order[step(i, by, order.len())];
            f.candidates.clear();
        }
        Some(Overlay::Pin(f)) => {
            f.field = if by < 0 {
                PinField::Duration
            } else {
                PinField::Reason
            };
        }
        _ => {}
    }
}

/// The last word of the paths field (what Tab completes).
pub(super) fn last_word(s: &str) -> &str {
    match s.rfind(char::is_whitespace) {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

pub(super) fn complete(app: &mut App) -> Vec<Cmd> {
    match &mut app.overlay {
        Some(Overlay::Deploy(f)) if f.field == DeployField::Paths => {
            vec![Cmd::Complete {
                input: last_word(&f.paths).to_string(),
            }]
        }
        Some(Overlay::Deploy(f)) if f.field == DeployField::Canary => {
            complete_canary(f);
            Vec::new()
        }
        Some(_) => {
            move_field(app, 1);
            Vec::new()
        }
        None => Vec::new(),
    }
}

/// Tab on the canary field: completes the last name with the deploy's hosts not
/// named yet (all of them offered when the field ends in a separator).
fn complete_canary(f: &mut DeployForm) {
    let hosts = f
        .choices
        .get(f.choice)
        .map(|c| c.hosts.clone())
        .unwrap_or_default();
    let word = f
        .canary
        .rsplit(|c: char| c == ',' || c.is_whitespace())
        .next()
        .unwrap_or("")
        .to_string();
    let named: Vec<&str> = f
        .canary
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty() && *n != word)
        .collect();
    let candidates: Vec<String> = hosts
        .into_iter()
        .filter(|h| h.starts_with(&word) && !named.contains(&h.as_str()))
        .collect();
    let common = common_prefix(&candidates);
    if common.len() > word.len() || candidates.len() == 1 {
        let keep = f.canary.len() - word.len();
        f.canary.truncate(keep);
        f.canary.push_str(&common);
        if candidates.len() == 1 {
            // One host: done with it, on to the next.
            f.canary.push(' ');
        }
    }
    let none = candidates.is_empty();
    f.candidates = if candidates.len() > 1 {
        candidates
    } else {
        Vec::new()
    };
    if none {
        f.error = Some(format!(
            "no other host of this deploy starts with '{}'",
            printable(&word)
        ));
    }
}

pub(super) fn on_completions(app: &mut App, input: String, candidates: Vec<String>) {
    let Some(Overlay::Deploy(f)) = &mut app.overlay else {
        return;
    };
    if f.field != DeployField::Paths || last_word(&f.paths) != input {
        return; // the operator typed on: stale
    }
    let common = common_prefix(&candidates);
    if common.len() > input.len() {
        let keep = f.paths.len() - input.len();
        f.paths.truncate(keep);
        f.paths.push_str(&common);
    }
    f.candidates = if candidates.len() > 1 {
        candidates
    } else {
        Vec::new()
    };
    if f.candidates.is_empty() && common.is_empty() {
        f.error = Some(format!("no local path starts with '{}'", printable(&input)));
    }
}

pub(super) fn common_prefix(v: &[String]) -> String {
    let Some(first) = v.first() else {
        return String::new();
    };
    let mut n = first.len();
    for s in &v[1..] {
        n = first
            .char_indices()
            .zip(s.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(n);
    }
    first[..n].to_string()
}
