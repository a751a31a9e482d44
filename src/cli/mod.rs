//! The command line (SPEC §3): arguments, host selection, dispatch to `ops`, and
//! exit codes. Human output is a table on stdout; `--json` prints one JSON object on
//! stdout and nothing else; errors and progress go to stderr.

mod admin;
mod deploy;
mod install;
mod launch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use clap_complete::engine::ArgValueCandidates;

use crate::config::{Config, Selection};
use crate::ops::hooks::{self, Hook};
use crate::ops::{self, fleet};
use crate::present;

/// relman: release manager for batch hosts (atomic symlink switches over SSH).
#[derive(Parser, Debug)]
#[command(name = "relman", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Open the console on a local demo deploy root (no SSH, no config needed).
    #[arg(long)]
    pub demo: bool,
    /// Open the console read-only: every key that changes a host is disabled.
    #[arg(long)]
    pub readonly: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Config file (default: $RELMAN_CONFIG, then ~/.config/relman/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Work on this host (repeatable).
    #[arg(long = "host", global = true, value_name = "NAME",
          add = ArgValueCandidates::new(install::host_names))]
    pub hosts: Vec<String>,
    /// Work on every host of this group (repeatable).
    #[arg(long = "group", global = true, value_name = "NAME",
          add = ArgValueCandidates::new(install::group_names))]
    pub groups: Vec<String>,
    /// Work on every host (the default for commands that only read).
    #[arg(long, global = true)]
    pub all: bool,
    /// Machine output: one JSON object on stdout, nothing else.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail in the log file (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The operator console (what `relman` alone opens).
    Tui {
        /// Read-only: every key that changes a host is disabled.
        #[arg(long)]
        readonly: bool,
        /// On a local demo deploy root (no SSH, no config needed).
        #[arg(long)]
        demo: bool,
    },
    /// Releases per host: age, size, live/previous/bad markers, jobs, pins, origin.
    List,
    /// Upload files/dirs as a new release on the chosen hosts and switch to it.
    Deploy {
        /// Files and directories (a directory contributes its contents).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Why: recorded in the manifest and the history.
        #[arg(long, short = 'm', value_name = "TEXT", default_value = "")]
        message: String,
        /// Stage and publish the release, but leave the link where it is.
        #[arg(long)]
        no_switch: bool,
        /// Prune old releases afterwards (under the same lock).
        #[arg(long)]
        prune: bool,
        /// Before any switch, run CMD (`sh -c`) on every host in the new release,
        /// through its launcher; any non-zero exit: no host switches, the release is
        /// marked bad everywhere, exit 7.
        #[arg(long, value_name = "CMD")]
        smoke: Option<String>,
        /// How long the smoke may run on a host before it counts as failed.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m",
              requires = "smoke")]
        smoke_timeout: std::time::Duration,
        /// Switch HOST first (repeatable; hosts of the selection) and watch its jobs'
        /// runs of the new release; only if they pass do the other hosts switch.
        #[arg(long, value_name = "HOST")]
        canary: Vec<String>,
        /// With --canary: finished runs each canary needs (default 1).
        #[arg(long, value_name = "K")]
        min_runs: Option<u32>,
        /// Failed, killed or lost runs allowed on a canary or a host on probation
        /// (default 0).
        #[arg(long, value_name = "F")]
        max_failures: Option<u32>,
        /// With --canary: how long to wait for the canaries' runs (default 10m).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        watch: Option<std::time::Duration>,
        /// After the switch, every host rolls itself back if the new release fails
        /// more than --max-failures times within DURATION, with or without relman.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        probation: Option<std::time::Duration>,
    },
    /// Point the link at RELEASE.
    Switch {
        /// The release to make live (its full name, as `relman list` shows it).
        release: String,
        /// Only if the link still points at this release (compare-and-swap).
        #[arg(long, value_name = "CURRENT")]
        expect: Option<String>,
        /// Switch each host on its own (a host that can't is left behind) instead
        /// of checking every host first and changing none unless all can.
        #[arg(long)]
        each: bool,
        /// Switch even to a release the deploy user can't read, an empty one, or
        /// one whose files don't match its manifest.
        #[arg(long)]
        force: bool,
        /// After the switch, each host guards itself for DURATION: more than
        /// --max-failures failed, killed or lost runs of the release, and its
        /// launcher switches back to the release live before.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        probation: Option<std::time::Duration>,
        /// The failures a probation allows (more roll the host back).
        #[arg(long, value_name = "F", default_value_t = 0, requires = "probation")]
        max_failures: u32,
    },
    /// End the live release's probation early (the release stays live).
    Accept,
    /// Back to the release live before the current one.
    Rollback {
        /// Roll back to this release instead.
        #[arg(long, value_name = "RELEASE")]
        to: Option<String>,
        /// Roll each host back on its own, to its own previous release, instead of
        /// one target every host has.
        #[arg(long)]
        each: bool,
        /// Skip the checks of the target (readable, not empty, complete by its
        /// manifest); rollback without --to still never picks an unusable release.
        #[arg(long)]
        force: bool,
    },
    /// Delete old releases under the keep policy, printing each verdict and reason.
    Prune {
        /// Releases kept besides the protected ones (default: `keep` from the config).
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// Show exactly what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Protect a release from prune until the pin expires.
    Pin {
        /// The release to protect (its full name, as `relman list` shows it).
        release: String,
        /// How long (e.g. 2h, 30m, 1d).
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        duration: std::time::Duration,
        /// Why it is pinned (shown by `list` and the console).
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
    },
    /// Remove the pins of a release (or, with --id, one of them).
    Unpin {
        /// The release whose pins are removed.
        release: String,
        /// Only this pin (its id, as `list --json` and `resolve --pin --json` show it):
        /// a pipeline releasing its own pin leaves other pipelines' pins alone.
        #[arg(long, value_name = "ID", value_parser = parse_pin_id)]
        id: Option<String>,
    },
    /// Print the absolute path of the live release (one host); with --pin, pin it too.
    Resolve {
        /// Pin the live release for this long, in the same locked step.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        pin: Option<std::time::Duration>,
        /// Why it is pinned (with --pin).
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
    },
    /// Run a job on one host through its launcher, over relman's connection: output
    /// streamed, stdin forwarded, the job's exit status passed through, the job
    /// stopped on the host when relman is interrupted (SIGINT, SIGTERM, SIGHUP).
    Launch {
        /// Run on this release (its name, or its absolute path as `resolve` prints it)
        /// instead of the live one, read once when the job starts.
        #[arg(long, value_name = "NAME", conflicts_with = "pin")]
        release: Option<String>,
        /// Pin the live release for this long first (as `resolve --pin`) and run on it.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        pin: Option<std::time::Duration>,
        /// Why, recorded with the pin.
        #[arg(long, value_name = "TEXT", default_value = "", requires = "pin")]
        reason: String,
        /// Keep the last N lines (1-200) of the job's output on the host when it fails
        /// or is killed, shown by `runs` and the console. Opt-in: the job's stdout and
        /// stderr become pipes (tee copies every byte on unchanged).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=200))]
        tail: Option<u16>,
        /// The job's command and arguments, after `--`, passed verbatim.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// The host's history, newest first.
    History {
        /// How many entries to show, newest first.
        #[arg(short = 'n', value_name = "N", default_value_t = 20)]
        n: usize,
    },
    /// The runs recorded by the launcher, newest first.
    Runs {
        /// Only this release's runs.
        #[arg(long, value_name = "NAME")]
        release: Option<String>,
        /// How many runs to show per host, newest first.
        #[arg(short = 'n', value_name = "N", default_value_t = 20)]
        n: usize,
        /// Only failed, killed and lost runs.
        #[arg(long)]
        failed: bool,
    },
    /// Break a lock left behind, after showing who holds it.
    Unlock {
        /// Don't ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Add the host's key to known_hosts after showing its fingerprint.
    Trust {
        /// Don't ask for confirmation (needs --host or --group: never the whole fleet blind).
        #[arg(long)]
        yes: bool,
    },
    /// Config, connectivity, auth, host key, root/link sanity, remote tools, per host.
    Check,
    /// Print shell completions (host and group names come from the config):
    /// e.g. `source <(relman completions bash)` in ~/.bashrc.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout: `relman man | man -l -`.
    #[command(hide = true)]
    Man,
}

/// A line on stderr as each host finishes (only when stderr is a terminal).
struct ProgressLine(bool);

impl ProgressLine {
    fn call<T>(&self, h: &crate::config::HostConfig, r: &Result<T, ops::OpError>) {
        if self.0 {
            match r {
                Ok(_) => eprintln!("  {} done", h.name),
                Err(e) => eprintln!("  {} failed: {e}", h.name),
            }
        }
    }
}

fn progress_line(on: bool) -> ProgressLine {
    ProgressLine(on)
}

fn parse_pin_id(s: &str) -> Result<String, String> {
    ops::pin::check_pin_id(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// Runs the switch's or rollback's hook (if configured) with its result.
fn link_hook(
    cfg: &Config,
    hook: Hook,
    results: &[ops::fleet::HostResult<ops::LinkChange>],
    asked: Option<&str>,
    exit: i32,
) {
    let input = hooks::link_input(
        results,
        asked,
        exit,
        present::link_results_json(results).to_string(),
    );
    hooks::run_and_report(&cfg.hooks, hook, &input);
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration (like 2h, 30m): {e}"))?;
    if d.is_zero() {
        return Err("a duration must be more than zero".into());
    }
    Ok(d)
}

/// clap's usage error as one line: what was wrong (and, for a missing argument,
/// which), without the usage block and the pointer to --help.
fn usage_error_line(rendered: &str) -> String {
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    parts
        .join(" ")
        .replace(": Usage:", "; usage:")
        .replace(" Usage:", "; usage:")
}

/// Global flags that mean nothing to a subcommand: not offered in its help or its
/// completions, and refused when given (`completions --json` has no JSON to print).
const NOT_FOR: &[(&str, &[&str])] = &[
    ("completions", &["hosts", "groups", "all", "json", "quiet"]),
    ("tui", &["hosts", "groups", "all", "json", "quiet"]),
];

/// clap's command tree as relman offers it: [`Cli`] with the global flags that make
/// no sense for a subcommand hidden there ([`NOT_FOR`]), and the log's path at the
/// end of `--help`.
pub fn command() -> clap::Command {
    let mut c = Cli::command().after_help(crate::logging::help_line());
    for (sub, ids) in NOT_FOR {
        // A subcommand's own copy of a global flag, hidden, stands in for the one
        // clap would propagate to it (it propagates none the subcommand has).
        let hidden: Vec<clap::Arg> = c
            .get_arguments()
            .filter(|a| ids.contains(&a.get_id().as_str()))
            .map(|a| a.clone().hide(true))
            .collect();
        c = c.mut_subcommand(*sub, |sc| sc.args(hidden));
    }
    c
}

/// `Some(line)` when a flag of [`NOT_FOR`] was given to its subcommand.
fn misplaced_flag(m: &clap::ArgMatches) -> Option<String> {
    let (sub, sm) = m.subcommand()?;
    let (_, ids) = NOT_FOR.iter().find(|(s, _)| *s == sub)?;
    let c = command();
    let sc = c.find_subcommand(sub)?;
    ids.iter()
        .find(|id| sm.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| {
            let flag = sc
                .get_arguments()
                .find(|a| a.get_id() == *id)
                .and_then(|a| a.get_long())
                .unwrap_or(id);
            format!("--{flag} means nothing to `relman {sub}`: leave it out")
        })
}

/// Why relman stops before (or instead of) running a command. `main` prints it, once,
/// as `relman: <error>` on stderr, and exits with [`Fatal::exit_code`]; every other
/// outcome is the command's own exit code, its report already written.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    /// The command line is wrong, or asks for something refused before any host is
    /// touched (a bad selection, `trust --yes` with no host named).
    #[error("{0}")]
    Usage(String),
    /// The config could not be found or read.
    #[error("{0}")]
    Config(String),
    /// A first run: no config at the default path; the text says how to start.
    #[error("{}", first_run_text(.0))]
    FirstRun(PathBuf),
}

impl Fatal {
    /// The exit code (SPEC §3): 2, bad input or config, for all of them.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Fatal::Usage(_) | Fatal::Config(_) | Fatal::FirstRun(_) => ExitCode::from(2),
        }
    }
}

/// [`first_run`]'s lines as one error (its `relman: ` is the one `main` prints).
fn first_run_text(path: &std::path::Path) -> String {
    let lines = first_run(path);
    let text = lines.join("\n");
    text.strip_prefix("relman: ").unwrap_or(&text).to_string()
}

/// A command's exit code as the process's: the low 8 bits, as `exit(2)` keeps them.
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from((code & 0xff) as u8)
}

/// Runs relman with the process's arguments: the command's exit code, or the error
/// that stopped it for `main` to print (see [`Fatal`]).
pub fn main() -> Result<ExitCode, Fatal> {
    // `RELMAN_COMPLETE=bash relman -- ...`: the shell asking for completions (the
    // scripts `relman completions SHELL` prints); answers and exits.
    install::complete_if_asked();
    let parsed = command()
        .try_get_matches()
        .and_then(|m| Ok((misplaced_flag(&m), Cli::from_arg_matches(&m)?)));
    let cli = match parsed {
        Ok((Some(line), _)) => return Err(Fatal::Usage(line)),
        Ok((None, c)) => c,
        Err(e) if !e.use_stderr() => {
            // --help, --version.
            let _ = e.print();
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(Fatal::Usage(usage_error_line(&e.render().to_string()))),
    };
    crate::logging::init(cli.global.verbose);
    let code = run(cli)?;
    Ok(exit_code(crate::present::out::finish(code)))
}

/// The command's name for the log (`list`, `deploy`, ...).
fn command_name(cmd: &Command) -> String {
    let debug = format!("{cmd:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

fn run(cli: Cli) -> Result<i32, Fatal> {
    let g = cli.global.clone();
    Ok(match cli.command {
        Some(Command::Completions { shell }) => install::print_script(shell),
        Some(Command::Man) => install::print_man(),
        None => tui(&g, cli.readonly, cli.demo)?,
        Some(Command::Tui { readonly, demo }) => {
            tui(&g, readonly || cli.readonly, demo || cli.demo)?
        }
        Some(cmd) => {
            let cfg = load_config(&g)?;
            let name = command_name(&cmd);
            tracing::info!(command = %name, config = ?cfg.path, "relman {name} starts");
            tracing::debug!("arguments: {cmd:?}, selection: {g:?}");
            let code = dispatch(&cfg, &g, cmd)?;
            tracing::info!(command = %name, code, "relman {name} ends: exit code {code}");
            code
        }
    })
}

/// Loads the config. A config that isn't there (a first run) says how to start.
fn load_config(g: &Global) -> Result<Config, Fatal> {
    let path = Config::locate(g.config.as_deref()).map_err(|e| Fatal::Config(e.to_string()))?;
    // A first run (no --config, no RELMAN_CONFIG, nothing at the default path) says
    // how to start; a path the operator named that isn't there is a one-line error.
    let named = g.config.is_some() || std::env::var_os("RELMAN_CONFIG").is_some();
    if !named && !path.exists() {
        return Err(Fatal::FirstRun(path));
    }
    Config::load(&path).map_err(|e| Fatal::Config(e.to_string()))
}

/// [`load_config`] for a command that reports its own errors (the console): prints
/// the error once and gives its exit code.
fn load(g: &Global) -> Result<Config, i32> {
    load_config(g).map_err(|e| {
        eprintln!("relman: {e}");
        2
    })
}

/// What `relman` says when there is no config at `path`: the error, then how to start.
pub fn first_run(path: &std::path::Path) -> Vec<String> {
    vec![
        format!("relman: no config file at {}", path.display()),
        "  to look around first: relman --demo (a local demo root, no config, no SSH)".into(),
        format!(
            "  to start: copy assets/config.example.toml from relman's source to {} \
             and name your hosts in it (or point --config PATH / RELMAN_CONFIG at a config)",
            path.display()
        ),
    ]
}

/// Whether the console can run here: it draws on stdout and reads keys from stdin
/// or, failing that, the controlling terminal.
fn has_terminal() -> bool {
    std::io::stdout().is_terminal()
        && (std::io::stdin().is_terminal() || std::fs::File::open("/dev/tty").is_ok())
}

fn select<'a>(
    cfg: &'a Config,
    g: &Global,
    changes: bool,
) -> Result<Vec<&'a crate::config::HostConfig>, Fatal> {
    let sel = Selection {
        hosts: g.hosts.clone(),
        groups: g.groups.clone(),
        all: g.all,
    };
    cfg.select(&sel, !changes)
        .map_err(|e| Fatal::Usage(e.to_string()))
}

fn dispatch(cfg: &Config, g: &Global, cmd: Command) -> Result<i32, Fatal> {
    let changes = matches!(
        cmd,
        Command::Switch { .. }
            | Command::Rollback { .. }
            | Command::Unlock { .. }
            | Command::Accept
            | Command::Deploy { .. }
            | Command::Prune { dry_run: false, .. }
            | Command::Pin { .. }
            | Command::Unpin { .. }
    );
    if matches!(cmd, Command::Trust { yes: true }) && g.hosts.is_empty() && g.groups.is_empty() {
        return Err(Fatal::Usage(
            "trust --yes needs --host NAME or --group NAME: trusting every host's key \
             unseen is refused (without --yes, each key is shown and confirmed)"
                .into(),
        ));
    }
    let hosts = select(cfg, g, changes)?;
    let one_host = match cmd {
        Command::Resolve { .. } => Some("resolve"),
        Command::Launch { .. } => Some("launch"),
        _ => None,
    };
    if let Some(what) = one_host
        && hosts.len() != 1
    {
        return Err(Fatal::Usage(format!(
            "{what} takes exactly one host (--host NAME); {} chosen",
            hosts.len()
        )));
    }
    let progress = std::io::stderr().is_terminal() && !g.quiet && !g.json;
    let on_done = progress_line(progress);
    Ok(match cmd {
        Command::List => {
            let results = fleet::for_each_host(cfg, &hosts, ops::scan, |_, _| {});
            present::list(cfg, &hosts, &results, g.json);
            fleet::exit_code(&results)
        }
        Command::Switch {
            release,
            expect,
            each,
            force,
            probation,
            max_failures,
        } => {
            let probation = probation.map(|duration| crate::model::ProbationSpec {
                duration,
                max_failures,
            });
            if hosts.len() > 1 && !each {
                let req = ops::link::LinkRequest::Switch {
                    release: &release,
                    expect: expect.as_deref(),
                    probation,
                };
                let f = ops::link::fleet_link(cfg, &hosts, req, force, &|h, r| on_done.call(h, r));
                present::fleet_link(&f, g.json, g.quiet);
                let code = f.exit_code();
                link_hook(cfg, Hook::AfterSwitch, &f.results, Some(&release), code);
                return Ok(code);
            }
            let results = fleet::for_each_host(
                cfg,
                &hosts,
                |t, h| {
                    ops::link::switch_guarded(t, h, &release, expect.as_deref(), force, probation)
                },
                |h, r| on_done.call(h, r),
            );
            present::link_changes(&results, g.json, g.quiet);
            let code = fleet::exit_code(&results);
            link_hook(cfg, Hook::AfterSwitch, &results, Some(&release), code);
            code
        }
        Command::Rollback { to, each, force } => {
            if hosts.len() > 1 && !each {
                let req = ops::link::LinkRequest::Rollback { to: to.as_deref() };
                let f = ops::link::fleet_link(cfg, &hosts, req, force, &|h, r| on_done.call(h, r));
                present::fleet_link(&f, g.json, g.quiet);
                let code = f.exit_code();
                link_hook(cfg, Hook::AfterRollback, &f.results, to.as_deref(), code);
                return Ok(code);
            }
            let results = fleet::for_each_host(
                cfg,
                &hosts,
                |t, h| ops::link::rollback_with(t, h, to.as_deref(), force),
                |h, r| on_done.call(h, r),
            );
            present::link_changes(&results, g.json, g.quiet);
            let code = fleet::exit_code(&results);
            link_hook(cfg, Hook::AfterRollback, &results, to.as_deref(), code);
            code
        }
        Command::History { n } => {
            let results = fleet::for_each_host(cfg, &hosts, ops::scan, |_, _| {});
            present::history(&results, n, g.json);
            fleet::exit_code(&results)
        }
        Command::Runs { release, n, failed } => {
            let q = ops::runs::RunsQuery {
                release,
                limit: n,
                failed_only: failed,
            };
            let results =
                fleet::for_each_host(cfg, &hosts, |t, h| ops::runs::runs(t, h, &q), |_, _| {});
            present::runs::print(&results, g.json);
            fleet::exit_code(&results)
        }
        Command::Deploy {
            paths,
            message,
            no_switch,
            prune,
            smoke,
            smoke_timeout,
            canary,
            min_runs,
            max_failures,
            watch,
            probation,
        } => {
            let smoke = smoke.map(|command| ops::deploy::Smoke {
                command,
                timeout: smoke_timeout,
            });
            let guards = deploy::GuardFlags {
                canary,
                min_runs,
                max_failures,
                watch,
                probation,
            };
            deploy::run(
                cfg, &hosts, g, paths, message, no_switch, prune, smoke, guards,
            )
        }
        Command::Prune { keep, dry_run } => {
            let keep = keep.unwrap_or(cfg.keep);
            let results = fleet::for_each_host(
                cfg,
                &hosts,
                |t, h| ops::prune::prune(t, h, keep, dry_run),
                |h, r| on_done.call(h, r),
            );
            present::prune(&results, g.json, g.quiet);
            let failed = results
                .iter()
                .any(|r| r.result.as_ref().is_ok_and(|p| p.failed()));
            match fleet::exit_code(&results) {
                0 if failed => 1,
                c => c,
            }
        }
        Command::Pin {
            release,
            duration,
            reason,
        } => {
            let results = fleet::for_each_host(
                cfg,
                &hosts,
                |t, h| ops::pin::pin(t, h, &release, duration, &reason),
                |h, r| on_done.call(h, r),
            );
            present::pins(&results, g.json, g.quiet);
            fleet::exit_code(&results)
        }
        Command::Unpin { release, id } => {
            let results = fleet::for_each_host(
                cfg,
                &hosts,
                |t, h| ops::pin::unpin(t, h, &release, id.as_deref()),
                |h, r| on_done.call(h, r),
            );
            present::unpins(&results, &release, g.json, g.quiet);
            fleet::exit_code(&results)
        }
        Command::Resolve { pin, reason } => {
            let results = fleet::for_each_host(
                cfg,
                &hosts,
                |t, h| ops::pin::resolve_full(t, h, pin.map(|d| (d, reason.as_str()))),
                |_, _| {},
            );
            present::resolved(&results, g.json);
            fleet::exit_code(&results)
        }
        Command::Launch {
            release,
            pin,
            reason,
            tail,
            command,
        } => launch::run(
            cfg,
            hosts[0],
            release.as_deref(),
            pin.map(|d| (d, reason.as_str())),
            tail,
            &command,
            g.quiet,
        ),
        Command::Unlock { force } => admin::unlock(cfg, &hosts, force, g.json),
        Command::Accept => admin::accept(cfg, &hosts, g.json, g.quiet),
        Command::Trust { yes } => admin::trust(cfg, &hosts, yes, g.json),
        Command::Check => admin::check(cfg, &hosts, g.json),
        Command::Tui { .. } | Command::Completions { .. } | Command::Man => {
            unreachable!("handled before loading the config")
        }
    })
}

fn tui(g: &Global, readonly: bool, demo: bool) -> Result<i32, Fatal> {
    if !has_terminal() {
        return Err(Fatal::Usage(
            "the console needs a terminal (stdout is not one); for the releases \
             as a table run `relman list` (`relman list --json` for scripts)"
                .into(),
        ));
    }
    Ok(crate::cli::admin::tui(g, readonly, demo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fatal_error_prints_as_before_and_exits_2() {
        // main prints `relman: {e}`: the first-run hint reads exactly as its lines.
        let path = std::path::Path::new("/home/op/.config/relman/config.toml");
        let e = Fatal::FirstRun(path.to_path_buf());
        assert_eq!(format!("relman: {e}"), first_run(path).join("\n"));
        for e in [e, Fatal::Usage("x".into()), Fatal::Config("y".into())] {
            assert_eq!(e.exit_code(), ExitCode::from(2));
        }
        assert_eq!(format!("{}", Fatal::Usage("bad flag".into())), "bad flag");
    }

    #[test]
    fn exit_codes_keep_their_low_byte() {
        assert_eq!(exit_code(0), ExitCode::SUCCESS);
        assert_eq!(exit_code(5), ExitCode::from(5));
        assert_eq!(exit_code(130), ExitCode::from(130));
        assert_eq!(exit_code(256 + 3), ExitCode::from(3));
        assert_eq!(exit_code(-1), ExitCode::from(255));
    }
}
