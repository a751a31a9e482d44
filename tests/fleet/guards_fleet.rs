//! Guarded deploys (issue 16, SPEC §7) on real sshd hosts whose deploy user is not
//! root: `deploy --smoke` (a smoke failing anywhere switches no host, marks the
//! release bad everywhere, exit 7; one passing is a normal deploy; one hanging is
//! cut at `--smoke-timeout`), the `[hooks]`, and the fleet rollback's common target.

use crate::support;

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::cli::{code, err, history, json, link, list_host, polled, relman};
use support::{DEPLOY, Fleet};

fn app(f: &Fleet, text: &str) -> String {
    let app = f.dir().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("app.jar"), text).unwrap();
    app.display().to_string()
}

/// A plain deploy of a small app to every host; the release's name.
fn deploy(f: &Fleet, text: &str) -> String {
    let app = app(f, text);
    let o = relman(f, &["--all", "deploy", "--json", &app]);
    assert_eq!(code(&o), 0, "deploy: {}", err(&o));
    json(&o)["release"].as_str().unwrap().to_string()
}

fn release<'a>(h: &'a Value, name: &str) -> &'a Value {
    h["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {h}"))
}

/// The smoke fails where `$ROOT/smoke-fails` exists (h2 only); the others pass after
/// a second, so the link is polled through the whole smoke.
const SMOKE: &str = "sleep 1; test -f app.jar || exit 9; if [ -e \"$RELEASE_DIR/../smoke-fails\" ]; \
                     then echo 'smoke: the app is broken on purpose' >&2; exit 3; fi; echo smoke ok";

#[test]
fn a_smoke_failing_on_one_host_switches_none_and_marks_the_release_bad_everywhere() {
    let f = Fleet::start_as(3, DEPLOY);
    let v1 = deploy(&f, "one");
    f.sh(1, "touch \"$ROOT/smoke-fails\"");
    let app = app(&f, "two");
    let want = vec![v1.clone(); 3];
    let (o, moved) = polled(
        &f,
        &["--all", "deploy", "--smoke", SMOKE, &app],
        &want.iter().cloned().enumerate().collect::<Vec<_>>(),
    );
    let e = err(&o);
    assert_eq!(code(&o), 7, "{e}");
    assert!(
        moved.is_empty(),
        "a link moved during a refused deploy: {moved:?}"
    );
    assert!(e.contains("h2: smoke output"), "{e}");
    assert!(
        e.contains("h2:   smoke: the app is broken on purpose"),
        "{e}"
    );
    assert!(e.contains("REFUSED"), "{e}");
    assert!(e.contains("failed (exit 3)"), "{e}");
    let v2 = (0..3)
        .map(|i| list_host(&f, i))
        .map(|h| {
            assert_eq!(h["current"], v1.as_str(), "{h}");
            let names: Vec<&str> = h["releases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap())
                .collect();
            let v2 = names[0].to_string();
            assert_ne!(v2, v1, "the refused release is kept: {names:?}");
            assert_eq!(release(&h, &v2)["bad"], true, "{h}");
            assert_eq!(release(&h, &v1)["bad"], false, "{h}");
            v2
        })
        .collect::<Vec<_>>();
    for (i, v2) in v2.iter().enumerate() {
        let h = history(&f, i);
        let last = h.last().unwrap();
        assert_eq!(last["action"], "refuse", "h{}: {h:?}", i + 1);
        assert_eq!(last["to"], v2.as_str());
        assert_eq!(last["from"], v1.as_str());
        let note = last["note"].as_str().unwrap();
        assert!(note.contains("h2 failed (exit 3)"), "{note}");
    }
    // A plain switch to it now warns it is bad; the deploy itself never moved a link.
    assert_eq!(link(f.root(0)), v1);
}

#[test]
fn a_passing_smoke_is_a_normal_deploy_and_its_run_is_in_the_ledger() {
    let f = Fleet::start_as(2, DEPLOY);
    let v1 = deploy(&f, "one");
    let app = app(&f, "two");
    let o = relman(
        &f,
        &[
            "--all",
            "deploy",
            "--json",
            "--smoke",
            "test -f app.jar && echo fine",
            &app,
        ],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v = json(&o);
    assert_eq!(v["outcome"], "deployed");
    let v2 = v["release"].as_str().unwrap().to_string();
    assert_ne!(v2, v1);
    for (i, h) in v["hosts"].as_array().unwrap().iter().enumerate() {
        assert_eq!(h["status"], "switched", "{h}");
        assert_eq!(h["smoke"]["status"], "passed", "{h}");
        assert_eq!(h["smoke"]["exit_code"], 0, "{h}");
        assert_eq!(h["smoke"]["tail"], serde_json::json!(["fine"]), "{h}");
        assert_eq!(link(f.root(i)), v2);
        let hist = history(&f, i);
        assert!(
            hist.iter().all(|l| l["action"] != "refuse"),
            "no refuse: {hist:?}"
        );
    }
    // The smoke went through the launcher: its run is recorded for the new release.
    let o = relman(&f, &["--host", f.name(0), "runs", "--json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let runs = json(&o)["hosts"][0]["runs"].clone();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["release"], v2.as_str());
    assert_eq!(runs[0]["status"], "ok");
}

#[test]
fn a_hanging_smoke_is_cut_at_its_timeout_and_refuses_the_release() {
    let f = Fleet::start_as(2, DEPLOY);
    let v1 = deploy(&f, "one");
    f.sh(0, "touch \"$ROOT/smoke-hangs\"");
    let app = app(&f, "two");
    let smoke =
        "if [ -e \"$RELEASE_DIR/../smoke-hangs\" ]; then echo hanging; sleep 317; fi; echo ok";
    let o = relman(
        &f,
        &[
            "--all",
            "deploy",
            "--json",
            "--smoke",
            smoke,
            "--smoke-timeout",
            "2s",
            &app,
        ],
    );
    assert_eq!(code(&o), 7, "{}", err(&o));
    let v = json(&o);
    assert_eq!(v["outcome"], "refused");
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts[0]["smoke"]["status"], "timed_out", "{v}");
    assert_eq!(
        hosts[0]["smoke"]["tail"],
        serde_json::json!(["hanging"]),
        "{v}"
    );
    assert_eq!(hosts[1]["smoke"]["status"], "passed", "{v}");
    for (i, h) in hosts.iter().enumerate() {
        assert_eq!(h["status"], "refused", "{h}");
        assert_eq!(h["ok"], false, "{h}");
        assert_eq!(h["switched"], false, "{h}");
        assert_eq!(h["marked_bad"], true, "{h}");
        assert_eq!(link(f.root(i)), v1);
    }
    let gone = support::wait_until(Duration::from_secs(20), || {
        !support::processes()
            .iter()
            .any(|(_, _, cmd)| cmd.contains("sleep 317"))
    });
    assert!(gone, "the hung smoke was stopped on the host");
}

#[test]
fn an_empty_smoke_command_is_a_usage_error_before_anything_is_sent() {
    let f = Fleet::start_as(1, DEPLOY);
    let app = app(&f, "one");
    let o = relman(&f, &["--all", "deploy", "--smoke", " ", &app]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    let e = err(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("--smoke needs a command"), "{e}");
    let o = relman(&f, &["--all", "deploy", "--smoke-timeout", "3s", &app]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    let e = err(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("--smoke <CMD>"),
        "a timeout without a smoke: {e}"
    );
    assert_eq!(link(f.root(0)), "", "nothing was deployed");
}

/// Adds `[hooks]` to the fleet's config file.
fn with_hooks(f: &Fleet, hooks: &str) {
    let mut text = fs::read_to_string(f.config_path()).unwrap();
    text.push_str("\n[hooks]\n");
    text.push_str(hooks);
    fs::write(f.config_path(), text).unwrap();
}

/// A hook that writes its RELMAN_* environment and its stdin to `<dir>/<name>.env`
/// and `<dir>/<name>.json`.
fn recorder(f: &Fleet, name: &str) -> String {
    let d = f.dir().display();
    support::toml_str(&format!(
        "env | grep -E '^RELMAN_(ACTION|HOSTS|FROM|TO|EXIT)=' | sort > '{d}/{name}.env'; cat > '{d}/{name}.json'"
    ))
}

fn recorded(f: &Fleet, name: &str) -> (Vec<String>, Value) {
    let env = fs::read_to_string(f.dir().join(format!("{name}.env")))
        .unwrap_or_else(|e| panic!("hook {name} did not run: {e}"));
    let json: Value =
        serde_json::from_str(&fs::read_to_string(f.dir().join(format!("{name}.json"))).unwrap())
            .unwrap();
    (env.lines().map(str::to_string).collect(), json)
}

#[test]
fn hooks_get_the_environment_and_the_json_result_of_their_command() {
    let f = Fleet::start_as(2, DEPLOY);
    let v1 = deploy(&f, "one");
    with_hooks(
        &f,
        &format!(
            "on_refuse = {}\nafter_deploy = {}\nafter_switch = {}\n",
            recorder(&f, "refuse"),
            recorder(&f, "deploy"),
            recorder(&f, "switch")
        ),
    );
    f.sh(1, "touch \"$ROOT/smoke-fails\"");
    let app = app(&f, "two");
    let o = relman(&f, &["--all", "deploy", "--smoke", SMOKE, &app]);
    assert_eq!(code(&o), 7, "{}", err(&o));
    assert!(o.stdout.is_empty() || !String::from_utf8_lossy(&o.stdout).contains("RELMAN_"));
    let v2 = list_host(&f, 0)["releases"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (env, json) = recorded(&f, "refuse");
    assert_eq!(
        env,
        vec![
            "RELMAN_ACTION=refuse".to_string(),
            format!("RELMAN_EXIT=7"),
            format!("RELMAN_FROM={v1}"),
            "RELMAN_HOSTS=h1 h2".to_string(),
            format!("RELMAN_TO={v2}"),
        ]
    );
    assert_eq!(json["outcome"], "refused", "{json}");
    assert_eq!(json["hosts"][1]["smoke"]["status"], "failed", "{json}");
    let (env, json) = recorded(&f, "deploy");
    assert!(env.contains(&"RELMAN_ACTION=deploy".to_string()), "{env:?}");
    assert!(env.contains(&"RELMAN_EXIT=7".to_string()), "{env:?}");
    assert_eq!(json["release"], v2.as_str());

    // A switch: its hook, with the switch's JSON.
    let o = relman(&f, &["--host", "h1", "switch", &v2]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let (env, json) = recorded(&f, "switch");
    assert_eq!(
        env,
        vec![
            "RELMAN_ACTION=switch".to_string(),
            "RELMAN_EXIT=0".to_string(),
            format!("RELMAN_FROM={v1}"),
            "RELMAN_HOSTS=h1".to_string(),
            format!("RELMAN_TO={v2}"),
        ]
    );
    assert_eq!(json["hosts"][0]["to"], v2.as_str(), "{json}");
    assert_eq!(json["hosts"][0]["changed"], true, "{json}");
}

#[test]
fn a_failing_or_hanging_hook_changes_no_result_and_is_reported() {
    let f = Fleet::start_as(1, DEPLOY);
    let v1 = deploy(&f, "one");
    let v2 = deploy(&f, "two");
    with_hooks(
        &f,
        "after_rollback = \"echo rollback hook ran; exit 9\"\n\
         after_switch = \"sleep 318 & sleep 318\"\ntimeout = \"1s\"\n",
    );
    let o = relman(&f, &["--host", "h1", "rollback", "--json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        json(&o)["hosts"][0]["to"],
        v1.as_str(),
        "stdout stays the JSON"
    );
    let e = err(&o);
    assert!(
        e.contains("rollback hook ran"),
        "the hook's output goes to stderr: {e}"
    );
    assert!(
        e.contains("relman: hook after_rollback failed (exit 9); the rollback result stands"),
        "{e}"
    );
    assert_eq!(link(f.root(0)), v1);

    let o = relman(&f, &["--host", "h1", "switch", &v2]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains("relman: hook after_switch still ran after 1s and was killed"),
        "{e}"
    );
    assert_eq!(link(f.root(0)), v2);
    assert!(
        !support::processes()
            .iter()
            .any(|(_, _, cmd)| cmd.starts_with("sleep 318")),
        "the hook's whole process group was killed"
    );
}

/// SPEC §7 fleet rollback: the common target is the newest release that is not bad
/// (on any host), was live before on each, and exists everywhere; without one,
/// nothing changes (link and history), exit 5, each host's lack named.
#[test]
fn a_fleet_rollback_skips_a_release_bad_on_one_host_and_without_a_target_changes_nothing() {
    const A: &str = "batch_20261126090000";
    const B: &str = "batch_20261126100000";
    const C: &str = "batch_20261126110000";
    let f = Fleet::start_as(2, DEPLOY);
    for i in 0..2 {
        for r in [A, B, C] {
            f.sh(
                i,
                &format!("mkdir -p \"$ROOT/{r}\" && echo {r} > \"$ROOT/{r}/app.jar\""),
            );
        }
        f.sh(i, &format!("ln -sfn {A} \"$ROOT/batch\""));
    }
    for r in [B, C] {
        let o = relman(&f, &["--all", "switch", r]);
        assert_eq!(code(&o), 0, "{}", err(&o));
    }
    // B refused on h2 (a guard marked it bad there).
    f.sh(
        1,
        &format!(
            "printf '%s\\n' '{{\"at\":\"2026-11-26T12:00:00Z\",\"by\":\"t@x\",\"action\":\"refuse\",\"from\":null,\"to\":\"{B}\",\"note\":\"smoke\"}}' >> \"$ROOT/.relman/history.jsonl\""
        ),
    );
    let o = relman(&f, &["--all", "rollback"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!((link(f.root(0)), link(f.root(1))), (A.into(), A.into()));

    // Now nothing older than A was live before on either host: nothing changes.
    let hist: Vec<usize> = (0..2).map(|i| history(&f, i).len()).collect();
    let o = relman(&f, &["--all", "rollback"]);
    assert_eq!(code(&o), 5, "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("h1") && e.contains("h2"), "each host named: {e}");
    assert_eq!((link(f.root(0)), link(f.root(1))), (A.into(), A.into()));
    let after: Vec<usize> = (0..2).map(|i| history(&f, i).len()).collect();
    assert_eq!(hist, after, "no history line written");
}

/// The worked example, `assets/hooks/slack.sh`, as `on_refuse`: it posts one JSON
/// `{"text"}` line to `$SLACK_WEBHOOK_URL` with curl (a fake curl here records it).
#[test]
fn the_slack_example_hook_posts_a_refused_release() {
    let f = Fleet::start_as(1, DEPLOY);
    let v1 = deploy(&f, "one");
    let bin = f.dir().join("fakebin");
    fs::create_dir_all(&bin).unwrap();
    let posted = f.dir().join("posted");
    support::write_file(
        &bin.join("curl"),
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'\n",
            posted.display()
        )
        .as_bytes(),
        0o755,
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/hooks/slack.sh");
    with_hooks(&f, &format!("on_refuse = {}\n", support::toml_str(script)));
    let app = app(&f, "two");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = f
        .relman()
        .args(["--all", "deploy", "--smoke", "echo no; exit 1", &app])
        .env("PATH", path)
        .env("SLACK_WEBHOOK_URL", "https://hooks.example/T0/B0/x")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 7, "{}", err(&o));
    let args = fs::read_to_string(&posted).expect("curl was called");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        args.last(),
        Some(&"https://hooks.example/T0/B0/x"),
        "{args:?}"
    );
    let data = args
        .iter()
        .position(|a| *a == "--data-binary")
        .map(|i| args[i + 1])
        .unwrap();
    let v: Value = serde_json::from_str(data).unwrap();
    let text = v["text"].as_str().unwrap();
    let v2 = list_host(&f, 0)["releases"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with(&format!(
            ":no_entry: relman REFUSED {v2} on h1: a guard failed, every host stays on {v1}"
        )),
        "{text}"
    );
}

/// Ctrl-C while the smoke runs calls the deploy off: the smoke is stopped on the
/// host, the published release withdrawn everywhere (it was never live), no link
/// moves and nothing is marked bad: exit 1, as a cancelled deploy.
#[test]
fn an_interrupt_during_the_smoke_withdraws_the_release_and_switches_nothing() {
    let f = Fleet::start_as(2, DEPLOY);
    let v1 = deploy(&f, "one");
    let app = app(&f, "two");
    let child = f
        .relman()
        .args([
            "--all",
            "deploy",
            "--smoke",
            "echo started; sleep 319",
            &app,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let smoking = || {
        support::processes()
            .iter()
            .filter(|(_, _, cmd)| cmd.starts_with("sleep 319"))
            .count()
    };
    assert!(
        support::wait_until(Duration::from_secs(30), || smoking() == 2),
        "the smoke runs on both hosts"
    );
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(err(&o).contains("deploy cancelled"), "{}", err(&o));
    for i in 0..2 {
        assert_eq!(link(f.root(i)), v1);
        let h = list_host(&f, i);
        let names: Vec<&str> = h["releases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec![v1.as_str()], "the smoked release was withdrawn");
        assert!(history(&f, i).iter().all(|l| l["action"] != "refuse"));
    }
    assert!(
        support::wait_until(Duration::from_secs(20), || smoking() == 0),
        "the smoke was stopped on the hosts"
    );
}

/// Where the refused release cannot be marked bad (its history is not writable),
/// it does not stay there to be switched to: it is withdrawn, and the report says so.
#[test]
fn a_refused_release_that_cannot_be_marked_bad_is_withdrawn_there() {
    let f = Fleet::start_as(2, DEPLOY);
    let v1 = deploy(&f, "one");
    f.sh(1, "chmod 0444 \"$ROOT/.relman/history.jsonl\"");
    let app = app(&f, "two");
    let o = relman(
        &f,
        &[
            "--all",
            "deploy",
            "--json",
            "--smoke",
            "echo no; exit 4",
            &app,
        ],
    );
    assert_eq!(code(&o), 7, "{}", err(&o));
    let v = json(&o);
    let v2 = v["release"].as_str().unwrap().to_string();
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts[0]["marked_bad"], true, "{v}");
    assert_eq!(hosts[1]["marked_bad"], false, "{v}");
    let w = hosts[1]["warnings"][0].as_str().unwrap_or_default();
    assert!(w.contains("could not be marked bad here"), "{w}");
    assert!(w.contains("withdrawn from this host"), "{w}");
    f.sh(1, "chmod 0644 \"$ROOT/.relman/history.jsonl\"");
    let h1 = list_host(&f, 0);
    assert_eq!(release(&h1, &v2)["bad"], true);
    let h2 = list_host(&f, 1);
    let names: Vec<&str> = h2["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec![v1.as_str()], "withdrawn on h2");
    assert_eq!((link(f.root(0)), link(f.root(1))), (v1.clone(), v1));
}
