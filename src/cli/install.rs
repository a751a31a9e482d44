//! What an installed relman needs beside its commands: shell completions that know
//! the config's hosts and groups, and the man page.
//!
//! The completion scripts are clap_complete's dynamic ones: the shell calls
//! `RELMAN_COMPLETE=SHELL relman -- WORDS...` at each Tab and relman answers from the
//! config (so a host added to the config completes at once, no script to regenerate).

use std::ffi::OsString;
use std::path::PathBuf;

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::EnvCompleter;

use crate::config::Config;

/// The variable the completion scripts set: relman's own, not clap's default
/// `COMPLETE`, which a CI environment may well have set for something else (and
/// every relman command would then fail with "unknown shell").
pub const COMPLETE_VAR: &str = "RELMAN_COMPLETE";

/// Answers the shell's completion request and exits, when this run is one.
pub(super) fn complete_if_asked() {
    clap_complete::CompleteEnv::with_factory(super::command)
        .var(COMPLETE_VAR)
        .complete();
}

/// `relman completions SHELL`: the script that registers relman's completer.
pub(super) fn print_script(shell: clap_complete::Shell) -> i32 {
    use clap_complete::Shell;
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &clap_complete::env::Bash,
        Shell::Zsh => &clap_complete::env::Zsh,
        Shell::Fish => &clap_complete::env::Fish,
        Shell::Elvish => &clap_complete::env::Elvish,
        Shell::PowerShell => &clap_complete::env::Powershell,
        other => {
            eprintln!("relman: no completions for {other}");
            return 2;
        }
    };
    let mut text = Vec::new();
    if let Err(e) =
        completer.write_registration(COMPLETE_VAR, "relman", "relman", "relman", &mut text)
    {
        eprintln!("relman: completions: {e}");
        return 1;
    }
    print!("{}", String::from_utf8_lossy(&text));
    0
}

/// The command line the man page describes: `--help`'s, with the log's path as
/// documentation (not this user's home) so the page is the same everywhere.
pub fn man_command() -> clap::Command {
    super::command().after_help(format!(
        "Log: ~/.local/share/relman/relman.log ($XDG_DATA_HOME/relman/ when set): one \
         file a day, relman.YYYY-MM-DD.log, the last {} kept; -v debug, -vv trace, or \
         RUST_LOG=relman=debug. Config: --config, else $RELMAN_CONFIG, else \
         ~/.config/relman/config.toml.",
        crate::logging::KEEP
    ))
}

/// The man page, roff: one page, the global options, then every command with its
/// own arguments (clap_mangen's own list would point at relman-CMD(1) pages that
/// don't exist).
pub fn man_page() -> Vec<u8> {
    let cmd = man_command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut text = Vec::new();
    let mut render = || -> std::io::Result<()> {
        man.render_title(&mut text)?;
        man.render_name_section(&mut text)?;
        man.render_synopsis_section(&mut text)?;
        man.render_description_section(&mut text)?;
        man.render_options_section(&mut text)?;
        commands_section(&cmd, &mut text);
        man.render_extra_section(&mut text)?;
        man.render_version_section(&mut text)
    };
    // Writing into a Vec cannot fail; were it to, the page would be cut short, not lost.
    if let Err(e) = render() {
        tracing::warn!("man page: {e}");
    }
    text
}

/// Text for roff: backslashes and dashes escaped, no line read as a request.
fn roff_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('-', "\\-")
        .replace('\'', "\\(aq")
        .lines()
        .map(|l| {
            if l.starts_with('.') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `.SH COMMANDS`: each visible command, its usage and its own arguments.
fn commands_section(cmd: &clap::Command, out: &mut Vec<u8>) {
    use std::fmt::Write as _;
    let mut s = String::from(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = sub.get_name();
        if name == "help" {
            continue;
        }
        let mut usage = format!("relman {name}");
        for a in sub.get_positionals() {
            let mut v = a
                .get_value_names()
                .and_then(|v| v.first())
                .map_or_else(|| a.get_id().as_str().to_uppercase(), |v| v.to_string());
            if matches!(a.get_action(), clap::ArgAction::Append) {
                v.push_str("...");
            }
            usage.push_str(&if a.is_required_set() {
                format!(" {v}")
            } else {
                format!(" [{v}]")
            });
        }
        let _ = writeln!(s, ".SS \"{}\"", roff_text(&usage));
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            let _ = writeln!(s, "{}", roff_text(&about.to_string()));
        }
        for a in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let mut head = Vec::new();
            if let Some(c) = a.get_short() {
                head.push(format!("\\fB\\-{c}\\fR"));
            }
            if let Some(l) = a.get_long() {
                head.push(format!("\\fB\\-\\-{}\\fR", roff_text(l)));
            }
            let value = a
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
            let takes_value = a.get_num_args().is_none_or(|n| n.takes_values())
                && !matches!(
                    a.get_action(),
                    clap::ArgAction::SetTrue | clap::ArgAction::Count
                );
            let mut line = head.join(", ");
            if a.is_positional() {
                line = format!("\\fI{}\\fR", roff_text(&value));
            } else if takes_value {
                line.push_str(&format!(" \\fI<{}>\\fR", roff_text(&value)));
            }
            let help = a
                .get_long_help()
                .or(a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            let _ = writeln!(s, ".TP\n{line}\n{}", roff_text(&help));
        }
    }
    out.extend_from_slice(s.as_bytes());
}

/// `relman man`: the man page on stdout.
pub(super) fn print_man() -> i32 {
    print!("{}", String::from_utf8_lossy(&man_page()));
    0
}

/// The config the command line being completed names (`--config PATH` or
/// `--config=PATH` among the words), else the default one.
fn config_for_completion(words: &[OsString]) -> Option<Config> {
    let mut explicit: Option<PathBuf> = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let w = w.to_string_lossy();
        if w == "--config" {
            explicit = it.next().map(PathBuf::from);
        } else if let Some(p) = w.strip_prefix("--config=") {
            explicit = Some(PathBuf::from(p));
        }
    }
    let path = Config::locate(explicit.as_deref()).ok()?;
    Config::load(&path).ok()
}

/// Candidates for `--host`: the config's host names (their groups as the help).
pub(super) fn host_names() -> Vec<CompletionCandidate> {
    let words: Vec<OsString> = std::env::args_os().collect();
    let Some(cfg) = config_for_completion(&words) else {
        return Vec::new();
    };
    cfg.hosts
        .iter()
        .map(|h| {
            let c = CompletionCandidate::new(&h.name);
            if h.groups.is_empty() {
                c
            } else {
                c.help(Some(h.groups.join(", ").into()))
            }
        })
        .collect()
}

/// Candidates for `--group`: every group a host of the config is in.
pub(super) fn group_names() -> Vec<CompletionCandidate> {
    let words: Vec<OsString> = std::env::args_os().collect();
    let Some(cfg) = config_for_completion(&words) else {
        return Vec::new();
    };
    let mut groups: Vec<&str> = cfg
        .hosts
        .iter()
        .flat_map(|h| h.groups.iter().map(String::as_str))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups.into_iter().map(CompletionCandidate::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_flag_is_found_in_either_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[[hosts]]\nname = \"alpha\"\naddress = \"local\"\ngroups = [\"g1\"]\n",
        )
        .unwrap();
        for words in [
            vec![
                "relman".into(),
                "--config".into(),
                path.clone().into_os_string(),
            ],
            vec![format!("--config={}", path.display()).into()],
        ] {
            let cfg = config_for_completion(&words).expect("config");
            assert_eq!(cfg.hosts[0].name, "alpha");
        }
    }

    #[test]
    fn man_page_names_the_commands_and_the_log() {
        let page = String::from_utf8(man_page()).unwrap();
        assert!(page.contains(".TH relman 1"), "{page}");
        for word in ["deploy", "rollback", "prune", "relman.log", "\\-\\-expect"] {
            assert!(page.contains(word), "no {word}");
        }
        assert!(
            !page.contains("relman man"),
            "the hidden `man` command is listed"
        );
        assert!(
            !page.contains("relman\\-list(1)"),
            "points at pages that don't exist"
        );
    }
}
