//! Deploy through the `local` transport (the same scripts SSH hosts run): several
//! "hosts" are deploy roots in one temporary directory.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use relman::config::{Address, Config, HostConfig};
use relman::model::{Action, Manifest};
use relman::ops::deploy::{self, DeployEvent, DeployRequest, HostStatus, Outcome, Phase};
use relman::plan::NO_SWITCH_NOTE;

fn host(name: &str, root: &Path) -> HostConfig {
    HostConfig {
        name: name.into(),
        address: Address::Local,
        port: 22,
        user: "me".into(),
        identities: vec![],
        jump: None,
        groups: vec![],
        root: root.to_str().unwrap().into(),
        link: "batch".into(),
        prefix: "batch_".into(),
        job_scan: Default::default(),
        ssh: Default::default(),
    }
}

struct Setup {
    dir: tempfile::TempDir,
    cfg: Config,
}

impl Setup {
    fn new(n: usize) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let hosts = (0..n)
            .map(|i| {
                host(
                    &format!("h{}", i + 1),
                    &dir.path().join(format!("h{}", i + 1)),
                )
            })
            .collect();
        Setup {
            cfg: Config {
                hosts,
                ..Config::default()
            },
            dir,
        }
    }
    fn root(&self, i: usize) -> PathBuf {
        PathBuf::from(&self.cfg.hosts[i].root)
    }
    fn app(&self) -> PathBuf {
        self.dir.path().join("app")
    }
    fn deploy(&self, req: &DeployRequest) -> deploy::DeployReport {
        let hosts: Vec<&HostConfig> = self.cfg.hosts.iter().collect();
        deploy::deploy(&self.cfg, &hosts, req, &|_| {}, &AtomicBool::new(false)).unwrap()
    }
}

fn write(p: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn make_app(app: &Path) {
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(&app.join("app.jar"), &big, 0o644);
    for i in 0..5 {
        write(
            &app.join(format!("lib/dep-{i}.jar")),
            format!("dep {i}").repeat(1000).as_bytes(),
            0o644,
        );
    }
    write(&app.join("bin/run.sh"), b"#!/bin/sh\necho run\n", 0o755);
    write(&app.join("conf/with space.yml"), b"a: 1\n", 0o600);
}

fn req(app: &Path) -> DeployRequest {
    DeployRequest {
        paths: vec![app.to_path_buf()],
        message: "first".into(),
        switch: true,
        prune: false,
        smoke: None,
        canary: None,
        probation: None,
    }
}

fn link(root: &Path) -> String {
    fs::read_link(root.join("batch"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn releases(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("batch_"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_directory_lands_on_every_host_under_one_name_and_goes_live() {
    let s = Setup::new(2);
    make_app(&s.app());
    let events = Mutex::new(Vec::new());
    let hosts: Vec<&HostConfig> = s.cfg.hosts.iter().collect();
    let rep = deploy::deploy(
        &s.cfg,
        &hosts,
        &req(&s.app()),
        &|e| events.lock().unwrap().push(e.clone()),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    assert_eq!(rep.exit_code(), 0);
    let name = rep.release.clone().unwrap();
    for i in 0..2 {
        let root = s.root(i);
        assert_eq!(link(&root), name);
        let rel = root.join(&name);
        assert_eq!(
            fs::read(rel.join("app.jar")).unwrap(),
            fs::read(s.app().join("app.jar")).unwrap()
        );
        let mode = |p: &str| fs::metadata(rel.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("bin/run.sh"), 0o755);
        assert_eq!(mode("app.jar"), 0o644);
        assert_eq!(mode("conf/with space.yml"), 0o644);
        let m: Manifest =
            serde_json::from_str(&fs::read_to_string(rel.join(".relman.json")).unwrap()).unwrap();
        assert_eq!(m.name, name);
        assert_eq!(m.message, "first");
        assert_eq!(m.files.len(), 8);
        let run = m.files.iter().find(|f| f.path == "bin/run.sh").unwrap();
        assert_eq!(run.mode, 0o755);
        assert!(
            fs::read_dir(root.join(".relman/staging"))
                .unwrap()
                .next()
                .is_none()
        );
        assert!(
            root.join(".relman/bin/launch").exists(),
            "launcher installed"
        );
        let h = &rep.hosts[i];
        assert_eq!(h.status, HostStatus::Switched);
        assert_eq!(h.uploaded_files, 8);
        assert_eq!(h.linked_files, 0);
        let hist = fs::read_to_string(root.join(".relman/history.jsonl")).unwrap();
        let last: serde_json::Value = serde_json::from_str(hist.lines().last().unwrap()).unwrap();
        assert_eq!(last["action"], "deploy");
        assert_eq!(last["to"], name.as_str());
        assert_eq!(last["note"], "first");
    }
    let ev = events.into_inner().unwrap();
    assert!(matches!(ev[0], DeployEvent::Started { files: 8, .. }));
    assert!(
        ev.iter()
            .any(|e| matches!(e, DeployEvent::Named { release } if *release == name))
    );
    let total = rep.hosts[0].uploaded_bytes;
    assert!(ev.iter().any(|e| matches!(e,
        DeployEvent::Host { host, phase: Phase::Upload, sent, total: t } if host == "h1" && *sent == total && *t == total)));
}

#[test]
fn a_redeploy_links_what_did_not_change() {
    let s = Setup::new(1);
    make_app(&s.app());
    let first = s.deploy(&req(&s.app())).release.unwrap();
    write(&s.app().join("lib/dep-2.jar"), b"changed", 0o644);
    let rep = s.deploy(&req(&s.app()));
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    let second = rep.release.clone().unwrap();
    assert_ne!(first, second);
    let h = &rep.hosts[0];
    assert_eq!((h.uploaded_files, h.linked_files), (1, 7));
    assert_eq!(h.uploaded_bytes, 7);
    assert_eq!(h.from.as_deref(), Some(first.as_str()));
    let root = s.root(0);
    let ino = |r: &str, p: &str| fs::metadata(root.join(r).join(p)).unwrap().ino();
    assert_eq!(ino(&first, "app.jar"), ino(&second, "app.jar"));
    assert_eq!(ino(&first, "bin/run.sh"), ino(&second, "bin/run.sh"));
    assert_ne!(ino(&first, "lib/dep-2.jar"), ino(&second, "lib/dep-2.jar"));
    assert_eq!(
        fs::read(root.join(&first).join("lib/dep-2.jar")).unwrap(),
        b"dep 2".repeat(1000)
    );
    assert_eq!(
        fs::read(root.join(&second).join("lib/dep-2.jar")).unwrap(),
        b"changed"
    );
    assert_eq!(link(&root), second);
}

#[test]
fn a_live_file_edited_in_place_is_uploaded_not_linked() {
    let s = Setup::new(1);
    make_app(&s.app());
    let first = s.deploy(&req(&s.app())).release.unwrap();
    // Someone edits the live release by hand: its manifest now lies.
    let live = s.root(0).join(&first).join("conf/with space.yml");
    fs::write(&live, b"a: 2\n").unwrap();
    let rep = s.deploy(&req(&s.app()));
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    let second = rep.release.unwrap();
    assert_eq!(rep.hosts[0].uploaded_files, 1);
    assert_eq!(
        fs::read(s.root(0).join(&second).join("conf/with space.yml")).unwrap(),
        b"a: 1\n"
    );
    assert_eq!(fs::read(&live).unwrap(), b"a: 2\n", "live file untouched");
}

#[test]
fn a_hand_made_live_release_is_compared_on_the_host() {
    let s = Setup::new(1);
    make_app(&s.app());
    let root = s.root(0);
    let by_hand = root.join("batch_20200101000000");
    fs::create_dir_all(&by_hand).unwrap();
    fs::copy(s.app().join("app.jar"), by_hand.join("app.jar")).unwrap();
    fs::create_dir_all(by_hand.join("lib")).unwrap();
    fs::write(by_hand.join("lib/dep-1.jar"), b"other").unwrap();
    std::os::unix::fs::symlink("batch_20200101000000", root.join("batch")).unwrap();
    let rep = s.deploy(&req(&s.app()));
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    assert_eq!(rep.hosts[0].linked_files, 1, "only app.jar is identical");
    let name = rep.release.unwrap();
    assert_eq!(
        fs::metadata(by_hand.join("app.jar")).unwrap().ino(),
        fs::metadata(root.join(&name).join("app.jar"))
            .unwrap()
            .ino()
    );
}

#[test]
fn no_switch_publishes_and_leaves_the_link() {
    let s = Setup::new(2);
    make_app(&s.app());
    let first = s.deploy(&req(&s.app())).release.unwrap();
    write(&s.app().join("app.jar"), b"v2", 0o644);
    let mut r = req(&s.app());
    r.switch = false;
    r.message = "nightly".into();
    let rep = s.deploy(&r);
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    let second = rep.release.unwrap();
    for i in 0..2 {
        let root = s.root(i);
        assert_eq!(link(&root), first);
        assert!(root.join(&second).join(".relman.json").exists());
        assert_eq!(rep.hosts[i].status, HostStatus::Published);
        let hist = fs::read_to_string(root.join(".relman/history.jsonl")).unwrap();
        let e: relman::model::HistoryEntry =
            serde_json::from_str(hist.lines().last().unwrap()).unwrap();
        assert_eq!(e.action, Action::Deploy);
        assert_eq!(e.from.as_deref(), Some(first.as_str()));
        assert_eq!(e.to.as_deref(), Some(second.as_str()));
        assert_eq!(
            e.note.as_deref(),
            Some(format!("{NO_SWITCH_NOTE}: nightly").as_str())
        );
        assert!(relman::plan::history::moves_link(&e).is_none());
    }
}

#[test]
fn a_host_that_fails_staging_stops_every_host() {
    let s = Setup::new(3);
    make_app(&s.app());
    // h2's link is a real directory: it can't be switched, so it fails phase 1.
    fs::create_dir_all(s.root(1).join("batch")).unwrap();
    let rep = s.deploy(&req(&s.app()));
    assert_eq!(rep.outcome, Outcome::NotDeployed, "{rep:#?}");
    assert_eq!(
        rep.exit_code(),
        5,
        "nothing done anywhere: the cause's code, not 6"
    );
    assert!(matches!(
        rep.hosts[1].status,
        HostStatus::Failed { code: 5, .. }
    ));
    assert!(
        relman::present::deploy::host_error(&rep.hosts[1])
            .unwrap()
            .contains("not a symlink")
    );
    for i in [0, 2] {
        assert_eq!(rep.hosts[i].status, HostStatus::NotDeployed);
    }
    for i in 0..3 {
        let root = s.root(i);
        assert!(releases(&root).is_empty(), "{:?}", releases(&root));
        let staging = root.join(".relman/staging");
        if staging.exists() {
            let left: Vec<_> = fs::read_dir(&staging).unwrap().collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }
}

#[test]
fn stale_uploads_are_removed_and_their_names_skipped() {
    let s = Setup::new(1);
    make_app(&s.app());
    let first = s.deploy(&req(&s.app())).release.unwrap();
    let stale = s.root(0).join(".relman/staging/batch_29990101000000");
    fs::create_dir_all(stale.join("lib")).unwrap();
    fs::write(stale.join("lib/half.jar"), b"half").unwrap();
    let rep = s.deploy(&req(&s.app()));
    assert_eq!(rep.outcome, Outcome::Deployed);
    assert_eq!(rep.hosts[0].stale_removed, ["batch_29990101000000"]);
    assert!(!stale.exists());
    assert_eq!(releases(&s.root(0)).len(), 2);
    assert_ne!(rep.release.unwrap(), first);
}

#[test]
fn bad_input_is_refused_before_any_host_is_touched() {
    let s = Setup::new(1);
    let hosts: Vec<&HostConfig> = s.cfg.hosts.iter().collect();
    let d = s.dir.path();
    fs::create_dir_all(d.join("empty")).unwrap();
    write(&d.join("nl/a\nb"), b"x", 0o644);
    fs::create_dir_all(d.join("dangling")).unwrap();
    std::os::unix::fs::symlink(d.join("nothing"), d.join("dangling/x")).unwrap();
    for (p, want) in [
        (d.join("missing"), "no such file"),
        (d.join("empty"), "holds no files"),
        (d.join("nl"), "control character"),
        (d.join("dangling"), "dangling symlink"),
    ] {
        let r = DeployRequest {
            paths: vec![p],
            ..req(d)
        };
        let e = deploy::deploy(
            &s.cfg,
            &hosts,
            &r,
            &|_| panic!("no event"),
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
        assert!(!s.root(0).exists(), "nothing created on the host");
    }
}

#[test]
fn a_cancelled_deploy_leaves_nothing() {
    let s = Setup::new(1);
    make_app(&s.app());
    let hosts: Vec<&HostConfig> = s.cfg.hosts.iter().collect();
    let cancel = AtomicBool::new(false);
    let rep = deploy::deploy(
        &s.cfg,
        &hosts,
        &req(&s.app()),
        &|e| {
            if let DeployEvent::Host {
                phase: Phase::Upload,
                ..
            } = e
            {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap();
    assert_eq!(rep.outcome, Outcome::Cancelled, "{rep:#?}");
    assert!(releases(&s.root(0)).is_empty());
    assert!(
        fs::read_dir(s.root(0).join(".relman/staging"))
            .unwrap()
            .next()
            .is_none()
    );
    assert!(fs::symlink_metadata(s.root(0).join("batch")).is_err());
}

#[test]
fn a_switch_failing_after_others_switched_is_reported_as_divergence() {
    let s = Setup::new(2);
    make_app(&s.app());
    let first = s.deploy(&req(&s.app())).release.unwrap();
    write(&s.app().join("app.jar"), b"v2", 0o644);
    // Just before h2 switches, someone points its link elsewhere by hand: the
    // switch's compare-and-swap refuses, h1 has switched already or does.
    let other = s.root(1).join("batch_20200101000000");
    fs::create_dir_all(&other).unwrap();
    let hosts: Vec<&HostConfig> = s.cfg.hosts.iter().collect();
    let root2 = s.root(1);
    let rep = deploy::deploy(
        &s.cfg,
        &hosts,
        &req(&s.app()),
        &|e| {
            if let DeployEvent::Host {
                host,
                phase: Phase::Switch,
                ..
            } = e
                && host == "h2"
            {
                let tmp = root2.join("batch.tmp");
                std::os::unix::fs::symlink("batch_20200101000000", &tmp).unwrap();
                fs::rename(&tmp, root2.join("batch")).unwrap();
            }
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(rep.outcome, Outcome::Diverged, "{rep:#?}");
    assert_eq!(rep.exit_code(), 6);
    let second = rep.release.clone().unwrap();
    assert_eq!(rep.hosts[0].status, HostStatus::Switched);
    assert!(matches!(
        rep.hosts[1].status,
        HostStatus::SwitchFailed { code: 5, .. }
    ));
    assert_eq!(link(&s.root(0)), second);
    assert_eq!(link(&s.root(1)), "batch_20200101000000");
    assert!(s.root(1).join(&second).is_dir(), "published on h2");
    let advice = relman::present::deploy::advice(&rep).unwrap();
    assert!(advice.contains("relman rollback --host h1"), "{advice}");
    assert!(
        advice.contains(&format!("relman switch {second} --host h2")),
        "{advice}"
    );
    assert_ne!(first, second);
}

#[test]
fn a_publish_failing_on_one_host_takes_the_others_back() {
    let s = Setup::new(3);
    make_app(&s.app());
    let first = s.deploy(&req(&s.app())).release.unwrap();
    write(&s.app().join("app.jar"), b"v2", 0o644);
    let hosts: Vec<&HostConfig> = s.cfg.hosts.iter().collect();
    let root3 = s.root(2);
    let name = Mutex::new(String::new());
    let rep = deploy::deploy(
        &s.cfg,
        &hosts,
        &req(&s.app()),
        &|e| match e {
            DeployEvent::Named { release } => *name.lock().unwrap() = release.clone(),
            // Something takes the name on h3 right before it publishes.
            DeployEvent::Host {
                host,
                phase: Phase::Publish,
                ..
            } if host == "h3" => {
                fs::create_dir_all(root3.join(&*name.lock().unwrap()).join("x")).unwrap();
            }
            _ => {}
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(rep.outcome, Outcome::NotDeployed, "{rep:#?}");
    assert!(matches!(
        rep.hosts[2].status,
        HostStatus::Failed {
            phase: Phase::Publish,
            ..
        }
    ));
    let second = rep.release.unwrap();
    for i in 0..2 {
        assert_eq!(rep.hosts[i].status, HostStatus::NotDeployed);
        assert_eq!(link(&s.root(i)), first);
        assert_eq!(releases(&s.root(i)), vec![first.clone()], "withdrawn");
        assert!(
            fs::read_dir(s.root(i).join(".relman/staging"))
                .unwrap()
                .next()
                .is_none()
        );
    }
    assert_eq!(link(&s.root(2)), first);
    // The intruder's directory is not relman's to remove.
    assert!(s.root(2).join(&second).join("x").is_dir());
}

#[test]
fn a_locked_host_stops_the_deploy_with_exit_4() {
    let s = Setup::new(1);
    make_app(&s.app());
    let t = relman::remote::local::LocalTransport::new("h1");
    let held = relman::ops::lock::acquire(&t, &s.cfg.hosts[0], Action::Switch).unwrap();
    let rep = s.deploy(&req(&s.app()));
    assert_eq!(rep.outcome, Outcome::NotDeployed);
    assert_eq!(rep.exit_code(), 4);
    assert!(
        relman::present::deploy::host_error(&rep.hosts[0])
            .unwrap()
            .contains("locked by"),
        "{rep:#?}"
    );
    drop(held);
    assert_eq!(s.deploy(&req(&s.app())).outcome, Outcome::Deployed);
}

#[test]
fn hosts_with_other_prefixes_share_the_stamp() {
    let mut s = Setup::new(2);
    s.cfg.hosts[1].prefix = "app-".into();
    make_app(&s.app());
    let rep = s.deploy(&req(&s.app()));
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    let a = rep.hosts[0].release.clone().unwrap();
    let b = rep.hosts[1].release.clone().unwrap();
    assert_eq!(a.strip_prefix("batch_"), b.strip_prefix("app-"));
    assert_eq!(link(&s.root(1)), b);
}

#[test]
fn nothing_is_linked_through_a_symlinked_directory_of_the_live_release() {
    let s = Setup::new(1);
    make_app(&s.app());
    let first = s.deploy(&req(&s.app())).release.unwrap();
    // The live release's lib/ is replaced by a symlink to a copy elsewhere.
    let live = s.root(0).join(&first);
    let elsewhere = s.dir.path().join("elsewhere");
    fs::rename(live.join("lib"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, live.join("lib")).unwrap();
    let rep = s.deploy(&req(&s.app()));
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    let h = &rep.hosts[0];
    assert_eq!((h.linked_files, h.uploaded_files), (3, 5), "lib/* uploaded");
    let second = rep.release.unwrap();
    assert_ne!(
        fs::metadata(elsewhere.join("dep-0.jar")).unwrap().ino(),
        fs::metadata(s.root(0).join(&second).join("lib/dep-0.jar"))
            .unwrap()
            .ino()
    );
}

#[test]
fn odd_file_names_survive_upload_verification_and_linking() {
    let s = Setup::new(1);
    let app = s.app();
    let names = [
        " lead",
        "trail ",
        "back\\slash",
        "-dash",
        "quote'\"",
        "star*?[x]",
        "$(touch pwned)",
        "semi;colon",
        "dir with space/ünïcödé",
    ];
    for (i, n) in names.iter().enumerate() {
        // Big enough that the openssl path is taken for the batch too.
        write(&app.join(n), &vec![b'a' + i as u8; 600_000], 0o644);
    }
    let rep = s.deploy(&req(&app));
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    let first = rep.release.unwrap();
    for n in names {
        assert_eq!(
            fs::read(s.root(0).join(&first).join(n)).unwrap(),
            fs::read(app.join(n)).unwrap(),
            "{n:?}"
        );
    }
    assert!(!s.root(0).join(&first).join("pwned").exists());
    assert!(
        !Path::new(&std::env::var("HOME").unwrap())
            .join("pwned")
            .exists()
    );
    // Redeploy: every one of them is proven identical and linked.
    let rep = s.deploy(&req(&app));
    assert_eq!(rep.outcome, Outcome::Deployed, "{rep:#?}");
    assert_eq!(rep.hosts[0].linked_files, names.len());
    assert_eq!(rep.hosts[0].uploaded_files, 0);
}
