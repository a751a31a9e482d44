//! The CLI's administrative commands: `unlock`, `trust`, `check`, and starting the console.
//! `unlock` and `check` are `ops` (the console uses them too); this file prompts,
//! dispatches and prints.

use std::io::{BufRead, IsTerminal, Write};
use std::time::SystemTime;

use serde_json::{Value, json};

use super::Global;
use crate::config::{Address, Config, HostConfig};
use crate::ops::{self, OpError, fleet};
use crate::present::{self, summary};
use crate::remote::{self, ssh};

/// Asks the operator to type `yes` on stdin; false without a terminal answer.
fn confirm(question: &str) -> bool {
    eprint!("{question} Type yes to go on: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
}

/// Runs an interactive per-host step one host at a time (it may prompt), printing
/// one line per host, or the `{"hosts":[...]}` JSON; returns the exit code.
fn each_host_prompting(
    hosts: &[&HostConfig],
    as_json: bool,
    mut step: impl FnMut(&HostConfig) -> Result<String, OpError>,
) -> i32 {
    let mut out = Vec::new();
    let mut codes = Vec::new();
    for h in hosts {
        let r = step(h);
        codes.push(r.as_ref().map_or_else(|e| e.exit_code(), |_| 0));
        match &r {
            Ok(msg) if !as_json => println!("{}: {msg}", h.name),
            Err(e) if !as_json => eprintln!("{}: {e}", h.name),
            _ => {}
        }
        out.push(match r {
            Ok(msg) => json!({"name": h.name, "ok": true, "error": null, "result": msg}),
            Err(e) => json!({"name": h.name, "ok": false, "error": e.to_string(), "result": null}),
        });
    }
    if as_json {
        // A Value's pretty Display: what to_string_pretty gives, and it cannot fail.
        println!("{:#}", json!({ "hosts": out }));
    }
    fleet::exit_code_of(&codes)
}

/// `relman unlock [--force]`.
pub fn unlock(cfg: &Config, hosts: &[&HostConfig], force: bool, as_json: bool) -> i32 {
    each_host_prompting(hosts, as_json, |h| unlock_one(cfg, h, force))
}

fn unlock_one(cfg: &Config, h: &HostConfig, force: bool) -> Result<String, OpError> {
    let t = remote::open(cfg, h)?;
    let Some(l) = ops::unlock::current(t.as_ref(), h)? else {
        return Ok(summary::NOT_LOCKED.into());
    };
    let who = summary::lock_holder(&l, SystemTime::now());
    if !force {
        if !std::io::stdin().is_terminal() {
            return Err(OpError::Invalid(format!(
                "{who}; use --force to break it without a prompt"
            )));
        }
        if !confirm(&format!("{}: {who}. Break the lock?", h.name)) {
            return Err(OpError::Failed("not unlocked: not confirmed".into()));
        }
    }
    let done = ops::unlock::unlock(t.as_ref(), h, &l)?;
    Ok(summary::unlocked(&done, SystemTime::now()))
}

/// `relman trust [--yes]`.
pub fn trust(cfg: &Config, hosts: &[&HostConfig], yes: bool, as_json: bool) -> i32 {
    each_host_prompting(hosts, as_json, |h| trust_one(cfg, h, yes, as_json))
}

fn trust_one(cfg: &Config, h: &HostConfig, yes: bool, as_json: bool) -> Result<String, OpError> {
    if h.address == Address::Local {
        return Ok("local: no host key needed".into());
    }
    let key = ssh::host_key(cfg, h)?;
    let shown = format!("{} offers {} {}", h.name, key.key_type, key.fingerprint);
    if let Some(at) = key.revoked_at {
        return Err(OpError::Remote(remote::RemoteError::RevokedHostKey {
            host: h.name.clone(),
            key_type: key.key_type,
            fingerprint: key.fingerprint.trim_start_matches("SHA256:").to_string(),
            at,
        }));
    }
    if let Some(at) = key.known_at {
        return Ok(format!(
            "{} {} is already known ({at}): not added again",
            key.key_type, key.fingerprint
        ));
    }
    if key.changed {
        return Err(OpError::Remote(remote::RemoteError::ChangedHostKey {
            host: h.name.clone(),
            known_hosts: h.known_hosts(cfg).display().to_string(),
            fingerprint: key.fingerprint.trim_start_matches("SHA256:").to_string(),
        }));
    }
    if !as_json {
        eprintln!("{shown}");
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(OpError::Invalid(format!(
                "{shown}; not added: confirm on a terminal or pass --yes"
            )));
        }
        if !confirm("Add this key to known_hosts?") {
            return Err(OpError::Failed("not trusted: not confirmed".into()));
        }
    }
    ssh::append_known_host(h.known_hosts(cfg), &key.known_hosts_line).map_err(|e| {
        OpError::Failed(format!(
            "cannot write {}: {e}",
            h.known_hosts(cfg).display()
        ))
    })?;
    Ok(format!(
        "added {} {} to {}",
        key.key_type,
        key.fingerprint,
        h.known_hosts(cfg).display()
    ))
}

/// `relman check`: per host, each thing relman needs, with ok / warn / fail.
pub fn check(cfg: &Config, hosts: &[&HostConfig], as_json: bool) -> i32 {
    let results = fleet::for_each_host(cfg, hosts, ops::check::check, |_, _| {});
    let mut codes = Vec::new();
    let mut hosts_json: Vec<Value> = Vec::new();
    for r in &results {
        let not_applied = cfg
            .host(&r.host)
            .map(|h| h.ssh.not_applied.clone())
            .unwrap_or_default();
        let rows = present::check::rows(&cfg.display_path(), &not_applied, &r.result);
        let code = present::check::exit_code(&r.result);
        codes.push(code);
        if as_json {
            hosts_json.push(json!({"name": r.host, "ok": code == 0,
                "error": r.result.as_ref().err().map(|e| e.to_string()),
                "checks": rows.iter().map(|c| json!({"what": c.what, "state": c.level.as_str(), "detail": c.detail})).collect::<Vec<_>>()}));
        } else {
            println!("{}", r.host);
            for c in &rows {
                println!(
                    "  {:<5} {:<24} {}",
                    c.level.as_str().to_uppercase(),
                    c.what,
                    c.detail
                );
            }
        }
    }
    if as_json {
        println!("{:#}", json!({ "hosts": hosts_json }));
    }
    fleet::exit_code_of(&codes)
}

/// The console (and `--demo`: a temporary local deploy root, no SSH, no config).
pub fn tui(g: &Global, readonly: bool, demo: bool) -> i32 {
    use crate::tui::{Demo, TuiOptions, run};
    let opts = TuiOptions { readonly, demo };
    let result = if demo {
        let d = match Demo::build() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("relman: cannot build the demo root: {e}");
                return 1;
            }
        };
        // `d` lives until the console returns; dropping it stops the demo job.
        run(d.config(), opts)
    } else {
        let cfg = match super::load(g) {
            Ok(c) => c,
            Err(code) => return code,
        };
        run(cfg, opts)
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("relman: {e:#}");
            1
        }
    }
}

/// `relman accept`: ends the live release's probation on each host (under its lock,
/// history `accept`); a host without one is fine ("no probation", nothing written).
pub fn accept(cfg: &Config, hosts: &[&HostConfig], as_json: bool, quiet: bool) -> i32 {
    let results = fleet::for_each_host(cfg, hosts, ops::probation::accept, |_, _| {});
    present::accepted(&results, as_json, quiet);
    fleet::exit_code(&results)
}
