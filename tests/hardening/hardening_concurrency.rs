//! Concurrency: two relman processes deploying to the same hosts at once, one
//! pruning while another deploys, and the case the crash suite found: a remote
//! script that outlives its relman (a command keeps running after its SSH session
//! is gone) must finish before the next operation takes the host's lock.
//!
//! Each case runs with root as the deploy user and with the non-root deploy user
//! (`<test>::root`, `<test>::deploy`; the cheap ones for every fleet user).

use crate::hardening_support;
use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hardening_support::*;
use relman::model::Action;
use relman::ops::lock::acquire;
use relman::ops::scan::root_script;
use relman::remote;
use support::Fleet;

/// A script body that checks its token like every mutating script, says it
/// started, then works for a while and leaves a mark when done.
fn slow_mutation(mark: &Path) -> &'static str {
    Box::leak(
        format!(
            "resolve_root || exit 5\ncd -P -- \"$ROOT_ABS\" || exit 1\ncheck_token\n\
             : > '{m}.started'\nsleep 2\n: > '{m}'\n",
            m = mark.display()
        )
        .into_boxed_str(),
    )
}

for_users!(a_script_outliving_its_lock_finishes_before_the_next_operation_starts);
fn a_script_outliving_its_lock_finishes_before_the_next_operation_starts(user: &str) {
    // Regression (found by hardening_crash): relman SIGKILLed during `prune` left
    // its remote `rm -rf` running while the host's lock was already free; the
    // next operation saw a half-deleted release (and could switch to it).
    let f = Fleet::start_as(1, user);
    let cfg = f.config();
    let host = cfg.hosts[0].clone();
    // The script writes its marks as the deploy user: in the host's directory.
    let mark = f.host(0).dir.join("script-done");
    let t1 = remote::open(&cfg, &host).unwrap();
    let lock = acquire(t1.as_ref(), &host, Action::Prune).unwrap();
    let script = root_script(slow_mutation(&mark), &host).param("TOKEN", lock.token.clone());
    let worker = std::thread::spawn(move || remote::run(t1.as_ref(), &script).map(|o| o.status));
    // Wait until the script runs under the lock, then let the lock go as a dying
    // relman would (its holder sees EOF), the script still running.
    let started = PathBuf::from(format!("{}.started", mark.display()));
    assert!(
        support::wait_until(Duration::from_secs(20), || started.exists()),
        "the script never started"
    );
    drop(lock);
    let t2 = remote::open(&cfg, &host).unwrap();
    let next = acquire(t2.as_ref(), &host, Action::Switch).expect("the next operation locks");
    assert!(
        mark.exists(),
        "the next operation got the lock while the previous operation's script still ran"
    );
    drop(next);
    assert_eq!(worker.join().unwrap().unwrap(), Some(0));
}

for_users!(a_script_whose_lock_was_taken_over_stops);
fn a_script_whose_lock_was_taken_over_stops(user: &str) {
    // The token check happens under the operations lock: a script of an operation
    // that lost the host lock to another one stops with exit 4, changing nothing.
    let f = Fleet::start_as(1, user);
    let cfg = f.config();
    let host = cfg.hosts[0].clone();
    let mark = f.host(0).dir.join("must-not-exist");
    let t = remote::open(&cfg, &host).unwrap();
    let old = acquire(t.as_ref(), &host, Action::Deploy).unwrap();
    let token = old.token.clone();
    drop(old);
    let _new = acquire(t.as_ref(), &host, Action::Switch).unwrap();
    let script = root_script(slow_mutation(&mark), &host).param("TOKEN", token);
    let out = remote::run(t.as_ref(), &script).unwrap();
    assert_eq!(out.status, Some(4), "{}", out.stderr_line());
    assert!(
        out.stderr_line().contains("lock was lost"),
        "{}",
        out.stderr_line()
    );
    assert!(!mark.exists());
}

// ---- two relman processes at once ----

fn payload(dir: &Path, tag: &str, rng: &mut Rng) -> PathBuf {
    let app = dir.join(format!("app-{tag}"));
    fs::create_dir_all(app.join("lib")).unwrap();
    fs::write(app.join("app.jar"), rng.bytes(1_500_000)).unwrap();
    fs::write(app.join("lib/common.jar"), vec![1u8; 200_000]).unwrap();
    fs::write(app.join("tag.txt"), tag).unwrap();
    app
}

fn seed_layout(f: &Fleet, n: usize, book: &mut Handmade) {
    for i in 0..n {
        fs::create_dir_all(f.root(i)).unwrap();
        for r in ["batch_20260101000000", "batch_20260102000000"] {
            make_handmade(f.root(i), r, &[("app.jar", r.as_bytes())], book);
        }
        f.give_root(i);
        f.sh(i, "ln -s batch_20260102000000 \"$ROOT/batch\"");
    }
}

/// The loser of a race: exit 4 naming the holder (`locked by <who> (<action>...`).
fn assert_loser(o: &std::process::Output, what: &str) {
    let e = stderr(o);
    assert!(
        e.contains("locked by") && e.contains('(') && e.contains("ago"),
        "{what}: the loser must name the holder, the action and its age: {e}"
    );
}

/// Starts `relman --all deploy <payload>` without waiting for it.
fn start_deploy(f: &Fleet, payload: &Path) -> std::process::Child {
    f.relman()
        .args(["--all", "deploy", "-m", "race"])
        .arg(payload)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

for_users!(two_deploys_at_once_one_wins_or_both_succeed_in_turn_never_both_lose: root, deploy);
fn two_deploys_at_once_one_wins_or_both_succeed_in_turn_never_both_lose(user: &str) {
    let f = Fleet::start_as(3, user);
    let mut book = Handmade::new();
    seed_layout(&f, 3, &mut book);
    let mut rng = Rng::from_env("two deploys");
    let mut tally = (0usize, 0usize); // both ok, one locked out
    for round in 0..10 {
        let a = payload(f.dir(), &format!("a{round}"), &mut rng);
        let b = payload(f.dir(), &format!("b{round}"), &mut rng);
        let (pa, pb) = (start_deploy(&f, &a), start_deploy(&f, &b));
        let oa = wait_within(pa, Duration::from_secs(120)).unwrap();
        let ob = wait_within(pb, Duration::from_secs(120)).unwrap();
        let codes = (code(&oa), code(&ob));
        match codes {
            (0, 0) => tally.0 += 1,
            (0, 4) => {
                assert_loser(&ob, "b");
                tally.1 += 1
            }
            (4, 0) => {
                assert_loser(&oa, "a");
                tally.1 += 1
            }
            // Both giving up (each locked part of the fleet) was a bug: every
            // deploy locks the first host by name before the others, so one wins.
            // 6/1 would be worse: hosts would differ.
            _ => panic!(
                "round {round}: exits {codes:?}\nA: {}\nB: {}",
                stderr(&oa),
                stderr(&ob)
            ),
        }
        // No corruption: every host on the same complete release, and that release
        // is the one a winner deployed (its tag).
        let mut lives = Vec::new();
        for i in 0..3 {
            let c = check_host(f.root(i), &book, true).unwrap();
            lives.push(c.live.clone().unwrap());
        }
        assert!(
            lives.windows(2).all(|w| w[0] == w[1]),
            "hosts differ: {lives:?}"
        );
        let tag = fs::read_to_string(f.root(0).join("batch/tag.txt")).unwrap_or_default();
        match codes {
            (0, 4) => assert_eq!(tag, format!("a{round}")),
            (4, 0) => assert_eq!(tag, format!("b{round}")),
            _ => {}
        }
        let out =
            output_within(f.relman().args(["list", "--json"]), Duration::from_secs(60)).unwrap();
        let v = json(&out);
        for i in 0..3 {
            check_listing(&v, i, f.root(i)).unwrap();
        }
    }
    eprintln!(
        "FIGURES concurrent deploys as {user}: {} rounds both succeeded in turn, {} one locked out (exit 4), 0 both locked out",
        tally.0, tally.1
    );
}

for_users!(a_deploy_that_finds_the_first_host_locked_waits_there_and_touches_no_other: root, deploy);
fn a_deploy_that_finds_the_first_host_locked_waits_there_and_touches_no_other(user: &str) {
    // Regression: two deploys to the same hosts each locked part of the fleet and
    // both gave up. Now every deploy locks the first host by name (the leader)
    // before any other; the second one waits there and, if the first one takes
    // longer than the wait, leaves with exit 4 naming it, having run nothing on
    // the other hosts.
    let f = Fleet::start_as(3, user);
    let mut book = Handmade::new();
    seed_layout(&f, 3, &mut book);
    let mut rng = Rng::from_env("leader");
    let leader = (0..3).min_by_key(|&i| f.name(i).to_string()).unwrap();
    let a = payload(f.dir(), "a", &mut rng);
    let b = payload(f.dir(), "b", &mut rng);
    let pa = start_deploy(&f, &a);
    // Freeze A while it holds every host's lock (for less than the 8 s its lock
    // holders wait for a heartbeat).
    assert!(
        support::wait_until(Duration::from_secs(60), || (0..3)
            .all(|i| !lock_free(f.root(i)))),
        "the first deploy never locked every host"
    );
    signal(&pa, libc::SIGSTOP);
    // A request the frozen deploy sent just before it stopped may reach a host's
    // log a moment later: count from when the logs have settled (no new command
    // for 500 ms), so only the second deploy's commands are counted after.
    let mut before: Vec<usize> = (0..3).map(|i| f.exec_count(i)).collect();
    // (At most 2 s: the frozen deploy's lock holders give up after 8 s.)
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(500));
        let now: Vec<usize> = (0..3).map(|i| f.exec_count(i)).collect();
        if now == before {
            break;
        }
        before = now;
    }
    let ob = output_within(
        f.relman().args(["--all", "deploy", "-m", "second"]).arg(&b),
        Duration::from_secs(60),
    )
    .unwrap();
    let after: Vec<usize> = (0..3).map(|i| f.exec_count(i)).collect();
    signal(&pa, libc::SIGCONT);
    let oa = wait_within(pa, Duration::from_secs(120)).unwrap();
    eprintln!("the second deploy said:\n{}", stderr(&ob));
    assert_eq!(code(&ob), 4, "the second deploy: {}", stderr(&ob));
    assert_loser(&ob, "the second deploy");
    assert!(
        stderr(&ob).contains(f.name(leader)),
        "the loser names the leader host: {}",
        stderr(&ob)
    );
    for i in (0..3).filter(|&i| i != leader) {
        assert_eq!(
            after[i],
            before[i],
            "the second deploy ran commands on {} though the leader was locked",
            f.name(i)
        );
    }
    assert_eq!(code(&oa), 0, "the first deploy: {}", stderr(&oa));
    for i in 0..3 {
        check_host(f.root(i), &book, true).unwrap();
        assert_eq!(
            fs::read_to_string(f.root(i).join("batch/tag.txt")).unwrap(),
            "a"
        );
    }
}

for_users!(prune_while_deploying_keeps_what_the_deploy_needs);
fn prune_while_deploying_keeps_what_the_deploy_needs(user: &str) {
    let f = Fleet::start_as(2, user);
    let mut book = Handmade::new();
    seed_layout(&f, 2, &mut book);
    let mut rng = Rng::from_env("prune vs deploy");
    let mut results = Vec::new();
    for round in 0..6 {
        let app = payload(f.dir(), &format!("d{round}"), &mut rng);
        let dep = f
            .relman()
            .args(["--all", "deploy", "-m", "with prune"])
            .arg(&app)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Start the prune at a random moment of the deploy.
        std::thread::sleep(Duration::from_millis(rng.below(400)));
        let pr = f
            .relman()
            .args(["--all", "prune", "--keep", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let od = wait_within(dep, Duration::from_secs(120)).unwrap();
        let op = wait_within(pr, Duration::from_secs(120)).unwrap();
        let (cd, cp) = (code(&od), code(&op));
        assert!(
            matches!(cd, 0 | 4) && matches!(cp, 0 | 4 | 6),
            "round {round}: deploy {cd} prune {cp}\n{}\n{}",
            stderr(&od),
            stderr(&op)
        );
        if cd == 4 {
            assert_loser(&od, "deploy");
        }
        if cp == 4 {
            assert_loser(&op, "prune");
        }
        for i in 0..2 {
            let c = check_host(f.root(i), &book, true).unwrap();
            if cd == 0 {
                let tag = fs::read_to_string(f.root(i).join("batch/tag.txt")).unwrap();
                assert_eq!(tag, format!("d{round}"), "the deployed release is live");
            }
            assert!(c.live.is_some());
        }
        results.push((cd, cp));
    }
    eprintln!("FIGURES prune during deploy as {user} (deploy, prune exits): {results:?}");
}
