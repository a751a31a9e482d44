//! The CLI's administrative commands: `unlock`, `trust`, `check`, and starting the console.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::{Value, json};

use super::Global;
use crate::config::{Address, Config, HostConfig};
use crate::model::{Action, printable};
use crate::ops::{self, OpError, fleet};
use crate::remote::script::{CHECK, UNLOCK};
use crate::remote::{self, run, ssh};

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
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "hosts": out })).expect("json")
        );
    }
    fleet::exit_code_of(&codes)
}

/// `relman unlock [--force]`.
pub fn unlock(cfg: &Config, hosts: &[&HostConfig], force: bool, as_json: bool) -> i32 {
    each_host_prompting(hosts, as_json, |h| unlock_one(cfg, h, force))
}

fn unlock_one(cfg: &Config, h: &HostConfig, force: bool) -> Result<String, OpError> {
    let t = remote::open(cfg, h)?;
    let st = ops::scan(t.as_ref(), h)?;
    let Some(l) = st.lock else {
        return Ok("not locked".into());
    };
    let ago = l
        .age(std::time::SystemTime::now())
        .map(crate::model::age)
        .unwrap_or_default();
    let who = format!(
        "locked by {} ({}, {ago}), holder pid {}",
        printable(&l.by),
        printable(&l.action),
        l.pid.map_or("?".into(), |p| p.to_string())
    );
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
    let hist = json!({"at": ops::now_rfc3339(), "by": ops::operator(), "action": Action::Unlock.as_str(),
        "from": null, "to": null, "note": format!("broke the lock of {} ({})", l.by, l.action)});
    let script = ops::scan::root_script(UNLOCK, h)
        .param("PID", l.pid.map(|p| p.to_string()).unwrap_or_default())
        .param("HIST", hist.to_string());
    let out = run(t.as_ref(), &script)?;
    match (out.status, String::from_utf8_lossy(&out.stdout).trim()) {
        (Some(0), "UNLOCKED") => Ok(format!("unlocked (was {who})")),
        (Some(0), "FREE") => Ok("not locked (released meanwhile)".into()),
        _ => Err(OpError::Failed(format!(
            "unlock failed: {}",
            out.stderr_line()
        ))),
    }
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
    let results = fleet::for_each_host(
        cfg,
        hosts,
        |t, h| {
            let out = run(t, &ops::scan::root_script(CHECK, h))?;
            let mut checks = vec![("config".to_string(), "ok".to_string(), cfg.display_path())];
            checks.push(("connect, host key, auth".into(), "ok".into(), String::new()));
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = l.splitn(4, '\t').collect();
                if let ["check", what, state, detail] = f.as_slice() {
                    checks.push((printable(what), printable(state), printable(detail)));
                }
            }
            if !out.success() {
                checks.push(("check script".into(), "fail".into(), out.stderr_line()));
            }
            if let Ok(state) = ops::scan::scan(t, h) {
                checks.extend(future_name_check(&state, std::time::SystemTime::now()));
            }
            Ok(checks)
        },
        |_, _| {},
    );
    let mut codes = Vec::new();
    let mut hosts_json: Vec<Value> = Vec::new();
    for r in &results {
        let (code, checks) = match &r.result {
            Ok(c) => (
                if c.iter().any(|(_, s, _)| s == "fail") {
                    1
                } else {
                    0
                },
                c.clone(),
            ),
            Err(e) => (
                e.exit_code(),
                vec![(
                    "connect, host key, auth".into(),
                    "fail".into(),
                    e.to_string(),
                )],
            ),
        };
        // What ~/.ssh/config says that relman does not apply: named, never silent.
        let mut checks = checks;
        if let Some(h) = cfg.host(&r.host) {
            let at = usize::from(!checks.is_empty() && checks[0].0 == "config");
            for (i, note) in h.ssh.not_applied.iter().enumerate() {
                checks.insert(
                    at + i,
                    ("ssh config".into(), "warn".into(), printable(note)),
                );
            }
        }
        codes.push(code);
        if as_json {
            hosts_json.push(json!({"name": r.host, "ok": code == 0,
                "error": r.result.as_ref().err().map(|e| e.to_string()),
                "checks": checks.iter().map(|(w, s, d)| json!({"what": w, "state": s, "detail": d})).collect::<Vec<_>>()}));
        } else {
            println!("{}", r.host);
            for (w, s, d) in &checks {
                println!("  {:<5} {:<24} {}", s.to_uppercase(), w, d);
            }
        }
    }
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "hosts": hosts_json })).expect("json")
        );
    }
    fleet::exit_code_of(&codes)
}

/// `check`'s warning for a newest release named in the future (a seed script that
/// names releases in the host's local time, a clock set wrong), saying what relman
/// does about it.
fn future_name_check(
    state: &crate::model::HostState,
    now: std::time::SystemTime,
) -> Option<(String, String, String)> {
    let f = crate::plan::deploy::future_name(state, now)?;
    Some((
        "release names".into(),
        "warn".into(),
        format!(
            "the newest release {} is named {} in the future (named by a clock that is not \
             UTC, or set wrong?); relman names new releases after it (now: {}) so they sort \
             newest, and lists it as \"in {}\" until the clocks agree",
            f.newest,
            crate::model::span(f.ahead),
            f.next,
            crate::model::span(f.ahead)
        ),
    ))
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
        run(Config::local_demo(d.root()), opts)
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
