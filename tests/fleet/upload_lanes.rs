//! A big deploy's upload split over several channels of one connection
//! (`plan::upload`, issue 17 target 5): every byte lands where it belongs whatever
//! lane carried it, on every kind of host, and no lane writes through the hard link
//! a classic host's live file shares with the staging directory.

use crate::support;
use support::{Fleet, noise, write_file};

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Output, Stdio};

use sha2::{Digest, Sha256};

/// 70 MB: worth four lanes (plan::upload::LANE_MIN is 16 MiB), and not a multiple
/// of a MiB, so one lane's part ends mid-MiB.
const BIG: usize = 70_000_000;

fn deploy(f: &Fleet, app: &Path) -> Output {
    f.relman()
        .args(["deploy", "--all", "--json"])
        .arg(app)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(o: &Output) -> serde_json::Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn sha(p: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(p).unwrap()))
}

/// The app: a big jar, a big data file, a few small files.
fn make_app(dir: &Path, seed: u32) -> std::path::PathBuf {
    let app = dir.join(format!("app{seed}"));
    write_file(&app.join("app.jar"), &noise(BIG, seed), 0o644);
    write_file(
        &app.join("data/ref.bin"),
        &noise(3_000_001, seed + 1),
        0o644,
    );
    for i in 0..3 {
        write_file(
            &app.join(format!("lib/dep-{i}.jar")),
            &noise(40_000 + i, seed + 2 + i as u32),
            0o644,
        );
    }
    write_file(&app.join("bin/run.sh"), b"#!/bin/sh\necho run\n", 0o755);
    app
}

fn same_tree(app: &Path, release: &Path) {
    for rel in [
        "app.jar",
        "data/ref.bin",
        "lib/dep-0.jar",
        "lib/dep-1.jar",
        "lib/dep-2.jar",
        "bin/run.sh",
    ] {
        assert_eq!(sha(&app.join(rel)), sha(&release.join(rel)), "{rel}");
    }
}

for_users!(a_big_upload_goes_over_four_channels_and_arrives_exact);
fn a_big_upload_goes_over_four_channels_and_arrives_exact(user: &str) {
    let f = Fleet::start_as(1, user);
    let small = f.dir().join("small");
    write_file(&small.join("app.jar"), &noise(1000, 9), 0o644);
    // A small deploy: one upload channel (one exec beside the session shell's).
    let before = f.exec_count(0);
    ok(&deploy(&f, &small));
    let one_lane = f.exec_count(0) - before;

    let app = make_app(f.dir(), 1);
    let before = f.exec_count(0);
    let v = ok(&deploy(&f, &app));
    let four_lanes = f.exec_count(0) - before;
    assert_eq!(
        four_lanes,
        one_lane + 3,
        "execs: {four_lanes} for the big deploy, {one_lane} for a small one"
    );
    let name = v["release"].as_str().unwrap();
    same_tree(&app, &f.root(0).join(name));

    // A new jar of the same size (not linked: its hash differs from the manifest's)
    // is cut again; the unchanged data file is a hard link.
    write_file(&app.join("app.jar"), &noise(BIG, 77), 0o644);
    let v = ok(&deploy(&f, &app));
    let name = v["release"].as_str().unwrap();
    same_tree(&app, &f.root(0).join(name));
    assert_eq!(v["hosts"][0]["linked_files"], 5, "{v}");
}

for_users!(a_classic_hosts_live_file_is_never_written_through: root, deploy, busybox);
/// A release made by the classic script (no manifest): prepare hard-links every
/// file of the same path and relman rejects those that differ, so the link sits in
/// the staging directory until its file is written afresh: it must go whole, and
/// the live release's bytes must stay as they were.
fn a_classic_hosts_live_file_is_never_written_through(user: &str) {
    let f = Fleet::start_as(1, user);
    let root = f.root(0).to_path_buf();
    let live = root.join("batch_20261201030000");
    let old = make_app(f.dir(), 5);
    fs::create_dir_all(&root).unwrap();
    fs::rename(&old, &live).unwrap();
    symlink(&live, root.join("batch")).unwrap();
    f.give_root(0);
    let live_sums: Vec<String> = ["app.jar", "data/ref.bin", "lib/dep-0.jar"]
        .iter()
        .map(|r| sha(&live.join(r)))
        .collect();

    let app = make_app(f.dir(), 6);
    // One file the same as live's: it stays a link.
    fs::copy(live.join("lib/dep-1.jar"), app.join("lib/dep-1.jar")).unwrap();
    let v = ok(&deploy(&f, &app));
    let name = v["release"].as_str().unwrap();
    same_tree(&app, &root.join(name));
    assert_eq!(v["hosts"][0]["linked_files"], 2, "{v}"); // dep-1.jar, bin/run.sh
    let after: Vec<String> = ["app.jar", "data/ref.bin", "lib/dep-0.jar"]
        .iter()
        .map(|r| sha(&live.join(r)))
        .collect();
    assert_eq!(after, live_sums, "the live release's files changed");
}

/// sshd's `MaxSessions` caps the channels of one connection: at 1 the session shell
/// holds the only one (the upload goes on a fresh connection), at 2 one upload
/// channel opens beside it. Either way the lanes run one after another on what
/// the host allows, and every byte arrives. (Two hosts: two lanes each.)
#[test]
fn a_host_that_allows_few_channels_gets_its_lanes_one_after_another() {
    let opts: Vec<support::HostOptions> = [1, 2]
        .into_iter()
        .map(|max_sessions| support::HostOptions {
            max_sessions,
            ..Default::default()
        })
        .collect();
    let f = Fleet::start_with(&opts);
    let execs = |app: &Path| {
        let before: Vec<usize> = (0..2).map(|i| f.exec_count(i)).collect();
        let v = ok(&deploy(&f, app));
        let name = v["release"].as_str().unwrap().to_string();
        let n: Vec<usize> = (0..2).map(|i| f.exec_count(i) - before[i]).collect();
        (name, n)
    };
    let small = f.dir().join("small");
    write_file(&small.join("app.jar"), &noise(1000, 9), 0o644);
    let (_, one_lane) = execs(&small);
    let app = make_app(f.dir(), 3);
    let (name, two_lanes) = execs(&app);
    for i in 0..2 {
        same_tree(&app, &f.root(i).join(&name));
        // Two hosts share the four lanes (plan::upload::lanes_per_host): two each,
        // each its own exec, as on a host that allows more channels.
        assert_eq!(two_lanes[i], one_lane[i] + 1, "host {i}");
        // And the host did refuse channels (sshd says so at VERBOSE).
        assert!(f.log(i).contains("no more sessions"), "host {i}");
    }
}
