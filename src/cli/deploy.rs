//! `relman deploy PATH... [--message TEXT] [--no-switch] [--prune] [--smoke CMD
//! [--smoke-timeout D]] [--canary HOST... [--min-runs K] [--watch D]] [--probation D]
//! [--max-failures F]`: checks the guard flags ([`GuardFlags::check`]), runs
//! `ops::deploy`, shows its progress (indicatif bars on stderr, only when stderr is
//! a terminal: one per host and one overall, with throughput and ETA; a watched
//! canary's line says "watching: 2 of 3 runs, 0 failed, 4m left"), then one summary
//! line per host (`present::deploy`), or the `--json` object, then the `[hooks]`.
//! Ctrl-C calls the deploy off while nothing is published yet or while the smoke
//! runs (the staged or published uploads are removed), or during the canary watch
//! (the canaries go back to the release they had, the release is marked bad, no
//! other host switches); a second Ctrl-C quits at once.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Global;
use crate::config::{Config, HostConfig};
use crate::model::ProbationSpec;
use crate::ops::deploy::{self, DeployEvent, DeployRequest, Phase, Smoke};
use crate::ops::hooks;
use crate::present::deploy::{progress_step, watch_line};
use crate::present::{self, size};

/// Set by the SIGINT handler.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches the first Ctrl-C (SA_RESETHAND: the second one kills as usual).
fn catch_sigint() {
    // SAFETY: installs a handler that only stores to an atomic (async-signal-safe).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as *const () as usize;
        sa.sa_flags = libc::SA_RESETHAND;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}

fn release_sigint() {
    // SAFETY: restores the default disposition.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// `relman deploy`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    cfg: &Config,
    hosts: &[&HostConfig],
    g: &Global,
    paths: Vec<PathBuf>,
    message: String,
    no_switch: bool,
    prune: bool,
    smoke: Option<Smoke>,
    guards: GuardFlags,
) -> i32 {
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let (canary, probation) = match guards.check(no_switch, &names) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("relman: deploy: {e} (nothing was sent)");
            return 2;
        }
    };
    if let Some(s) = &smoke {
        if s.command.trim().is_empty() {
            eprintln!("relman: deploy: --smoke needs a command (nothing was sent)");
            return 2;
        }
        if s.command.contains('\0') {
            eprintln!(
                "relman: deploy: --smoke: a command cannot hold a NUL byte (nothing was sent)"
            );
            return 2;
        }
    }
    let req = DeployRequest {
        paths,
        message,
        switch: !no_switch,
        prune,
        smoke,
        canary,
        probation,
    };
    let show = std::io::stderr().is_terminal() && !g.quiet && !g.json;
    let bars = Bars::new(show);
    let cancel = AtomicBool::new(false);
    catch_sigint();
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        // Passes a Ctrl-C on to the deploy (the handler itself can only set a flag).
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if INTERRUPTED.swap(false, Ordering::SeqCst) {
                    cancel.store(true, Ordering::Relaxed);
                    bars.println(
                        "relman: interrupted: calling the deploy off (staged uploads are \
                         removed, canaries go back to the release they had; Ctrl-C again to \
                         quit at once)",
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let r = deploy::deploy(cfg, hosts, &req, &|e| bars.event(e), &cancel);
        done.store(true, Ordering::Relaxed);
        r
    });
    release_sigint();
    bars.finish();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relman: deploy: {e} (nothing was sent)");
            return 2;
        }
    };
    let json = present::deploy::report_json(&report);
    if g.json {
        // A `Value`'s alternate Display is `to_string_pretty`, and cannot fail.
        println!("{json:#}");
    } else {
        present::deploy::print_human(&report, g.quiet);
    }
    let input = hooks::deploy_input(&report, json.to_string());
    for hook in hooks::deploy_hooks(&report) {
        hooks::run_and_report(&cfg.hooks, hook, &input);
    }
    input.exit
}

/// The guard flags of `deploy` as given (`--canary`, `--min-runs`,
/// `--max-failures`, `--watch`, `--probation`), checked by [`GuardFlags::check`].
#[derive(Debug, Clone, Default)]
pub struct GuardFlags {
    pub canary: Vec<String>,
    pub min_runs: Option<u32>,
    pub max_failures: Option<u32>,
    pub watch: Option<Duration>,
    pub probation: Option<Duration>,
}

/// `--watch` when not given (SPEC §7).
pub const DEFAULT_WATCH: Duration = Duration::from_secs(10 * 60);

impl GuardFlags {
    /// The canary and probation the flags ask for, or the usage error (one line):
    /// a flag that means nothing without another, a canary that is not one of the
    /// chosen `hosts`.
    #[allow(clippy::type_complexity)]
    pub fn check(
        self,
        no_switch: bool,
        hosts: &[&str],
    ) -> Result<(Option<deploy::Canary>, Option<ProbationSpec>), String> {
        let canary = !self.canary.is_empty();
        if canary && no_switch {
            return Err(
                "--canary switches the canaries first: it cannot go with --no-switch".into(),
            );
        }
        if self.probation.is_some() && no_switch {
            return Err("--probation guards a switch: it cannot go with --no-switch".into());
        }
        if !canary {
            if self.min_runs.is_some() {
                return Err("--min-runs counts a canary's runs: it needs --canary HOST".into());
            }
            if self.watch.is_some() {
                return Err(
                    "--watch is how long the canaries are watched: it needs --canary HOST".into(),
                );
            }
            if self.max_failures.is_some() && self.probation.is_none() {
                return Err(
                    "--max-failures bounds a canary's or a probation's failures: it needs \
                     --canary HOST or --probation DURATION"
                        .into(),
                );
            }
        }
        if self.min_runs == Some(0) {
            return Err(
                "--min-runs must be at least 1 (a canary with no runs proves nothing)".into(),
            );
        }
        let max_failures = self.max_failures.unwrap_or(0);
        let probation = self.probation.map(|duration| ProbationSpec {
            duration,
            max_failures,
        });
        if !canary {
            return Ok((None, probation));
        }
        let mut names: Vec<String> = Vec::new();
        for c in self.canary {
            if !hosts.contains(&c.as_str()) {
                return Err(format!(
                    "--canary {}: not one of the chosen hosts ({})",
                    crate::model::printable(&c),
                    hosts.join(", ")
                ));
            }
            if !names.contains(&c) {
                names.push(c);
            }
        }
        let canary = deploy::Canary {
            hosts: names,
            min_runs: self.min_runs.unwrap_or(1),
            max_failures,
            watch: self.watch.unwrap_or(DEFAULT_WATCH),
        };
        Ok((Some(canary), probation))
    }
}

/// What a progress line shows for a host (or all hosts) in a given state: a spinner
/// with the step until bytes flow, then a bar of what was sent. A bar is never drawn
/// for an upload of 0 B (indicatif draws an empty length as a full bar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// A step that moves no bytes yet (or any more): a spinner and the step.
    Spinner(&'static str),
    /// Bytes are flowing: a bar of `sent` of `total`.
    Bar { sent: u64, total: u64 },
    /// The host is done with the deploy (done, failed, not deployed): the step, no spinner.
    Finished(&'static str),
}

/// What one host's line shows in `phase` with `sent` of `total` bytes sent.
pub fn look(phase: Phase, sent: u64, total: u64) -> Look {
    match phase {
        Phase::Done | Phase::Failed | Phase::Aborted | Phase::Refuse => {
            Look::Finished(progress_step(phase))
        }
        Phase::Upload if total > 0 && sent > 0 => Look::Bar { sent, total },
        Phase::Upload if total == 0 => Look::Spinner("linking (nothing to send)"),
        p => Look::Spinner(progress_step(p)),
    }
}

/// What the "all hosts" line shows: a spinner with `step` until some host's bytes
/// flow, then a bar of the bytes sent of all uploads so far.
pub fn overall_look(step: &'static str, sent: u64, total: u64) -> Look {
    if total > 0 && sent > 0 {
        Look::Bar { sent, total }
    } else {
        Look::Spinner(step)
    }
}

/// Shows `look` on `pb` (`bar` is the style for bytes).
fn apply(pb: &ProgressBar, look: &Look, bar: fn() -> ProgressStyle) {
    match look {
        Look::Spinner(s) => {
            pb.set_style(spinner_style());
            pb.set_message(*s);
            pb.enable_steady_tick(Duration::from_millis(120));
        }
        Look::Bar { sent, total } => {
            pb.disable_steady_tick();
            pb.set_style(bar());
            pb.set_message("uploading");
            pb.set_length(*total);
            pb.set_position(*sent);
        }
        Look::Finished(s) => {
            pb.disable_steady_tick();
            pb.set_style(finished_style());
            pb.set_message(*s);
            pb.abandon();
        }
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>12} {spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn finished_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>12}   {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// The progress display: nothing unless stderr is a terminal.
struct Bars {
    inner: Option<Mutex<BarState>>,
}

struct BarState {
    multi: MultiProgress,
    overall: ProgressBar,
    hosts: HashMap<String, ProgressBar>,
    /// Per host: (sent, total) of its upload.
    bytes: HashMap<String, (u64, u64)>,
}

/// The bars' colours, unless NO_COLOR is set.
fn colour(spec: &'static str) -> &'static str {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        ""
    } else {
        spec
    }
}

fn host_style() -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{{prefix:>12}} {{msg:<12}} [{{bar:28{}}}] {{bytes:>10}}/{{total_bytes:<10}} {{bytes_per_sec:>12}} {{eta:>4}}",
        colour(".cyan/blue")
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn overall_style() -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{{prefix:>12}} {{msg:<12}} [{{bar:28{}}}] {{bytes:>10}}/{{total_bytes:<10}} {{bytes_per_sec:>12}} eta {{eta}}",
        colour(".green/blue")
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

impl Bars {
    fn new(show: bool) -> Bars {
        if !show {
            return Bars { inner: None };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(0));
        overall.set_prefix("all hosts");
        apply(
            &overall,
            &Look::Spinner("reading and hashing the local files"),
            overall_style,
        );
        Bars {
            inner: Some(Mutex::new(BarState {
                multi,
                overall,
                hosts: HashMap::new(),
                bytes: HashMap::new(),
            })),
        }
    }

    fn println(&self, line: &str) {
        match &self.inner {
            Some(m) => {
                let st = m.lock().unwrap_or_else(|p| p.into_inner());
                let _ = st.multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn event(&self, e: &DeployEvent) {
        let Some(m) = &self.inner else { return };
        let mut st = m.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            DeployEvent::Started {
                hosts,
                files,
                bytes,
            } => {
                let _ = st.multi.println(format!(
                    "{}, {}",
                    crate::model::plural(*files as u64, "file"),
                    size(*bytes)
                ));
                apply(
                    &st.overall,
                    &Look::Spinner("hashing, connecting"),
                    overall_style,
                );
                for h in hosts {
                    let pb = st.multi.insert_before(&st.overall, ProgressBar::new(0));
                    pb.set_prefix(h.clone());
                    apply(&pb, &Look::Spinner("waiting"), host_style);
                    st.hosts.insert(h.clone(), pb);
                }
            }
            DeployEvent::Watch {
                host,
                finished,
                min_runs,
                failures,
                left,
            } => {
                if let Some(pb) = st.hosts.get(host) {
                    let line = watch_line(*finished, *min_runs, *failures, *left);
                    pb.set_style(spinner_style());
                    pb.set_message(line);
                    pb.enable_steady_tick(Duration::from_millis(120));
                }
            }
            DeployEvent::Named { release } => {
                let _ = st.multi.println(format!("deploying {release}"));
                apply(&st.overall, &Look::Spinner("staging"), overall_style);
            }
            DeployEvent::Host {
                host,
                phase,
                sent,
                total,
            } => {
                if let Some(pb) = st.hosts.get(host) {
                    // Throughput and ETA count from the start of the upload.
                    if *phase == Phase::Upload && *sent == 0 {
                        pb.reset();
                    }
                    apply(pb, &look(*phase, *sent, *total), host_style);
                }
                if *phase == Phase::Upload {
                    if st.bytes.is_empty() {
                        st.overall.reset();
                    }
                    st.bytes.insert(host.clone(), (*sent, *total));
                    let (s, t) = st
                        .bytes
                        .values()
                        .fold((0, 0), |(a, b), (s, t)| (a + s, b + t));
                    apply(&st.overall, &overall_look("uploading", s, t), overall_style);
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(m) = &self.inner {
            let st = m.lock().unwrap_or_else(|p| p.into_inner());
            for pb in st.hosts.values() {
                pb.abandon();
            }
            st.overall.finish_and_clear();
            let _ = st.multi.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinner_names_the_step_until_bytes_flow() {
        assert_eq!(look(Phase::Connect, 0, 0), Look::Spinner("connecting"));
        assert_eq!(look(Phase::Lock, 0, 0), Look::Spinner("locking"));
        assert_eq!(look(Phase::Stage, 0, 0), Look::Spinner("scanning"));
        assert_eq!(look(Phase::Verify, 10, 10), Look::Spinner("hashing"));
        // The upload starts: still a spinner until a byte is sent.
        assert_eq!(look(Phase::Upload, 0, 1000), Look::Spinner("uploading"));
        assert_eq!(
            look(Phase::Upload, 10, 1000),
            Look::Bar {
                sent: 10,
                total: 1000
            }
        );
        assert_eq!(look(Phase::Done, 0, 0), Look::Finished("done"));
        assert_eq!(look(Phase::Aborted, 0, 0), Look::Finished("not deployed"));
    }

    #[test]
    fn nothing_to_send_never_draws_a_full_bar() {
        // An upload of 0 B (every file linked from the live release).
        for sent in [0, 5] {
            assert!(
                matches!(look(Phase::Upload, sent, 0), Look::Spinner(_)),
                "{sent}"
            );
            assert!(matches!(
                overall_look("uploading", sent, 0),
                Look::Spinner("uploading")
            ));
        }
        assert_eq!(
            overall_look("uploading", 3, 9),
            Look::Bar { sent: 3, total: 9 }
        );
    }
}
