//! A fixed fleet at a fixed time, for the console's snapshot tests and the README image.
//! Nothing here reads the clock or a host, so what it renders never changes by itself.

use std::time::{Duration, SystemTime};

use relman::model::{
    Action, Health, HistoryEntry, HostState, Job, JobVia, LastFailure, LinkState, LockInfo,
    Manifest, ManifestFile, Origin, Pin, Probation, Release, ReleaseName, Run, RunStatus,
};
use relman::tui::app::{App, HostView};
use relman::tui::theme::Theme;

/// The fixture's "now": 2026-11-26 22:15:00 UTC.
pub fn now() -> SystemTime {
    at("2026-11-26T22:15:00Z")
}

fn at(rfc: &str) -> SystemTime {
    humantime::parse_rfc3339(rfc).expect("fixture times are valid")
}

fn ago(secs: u64) -> SystemTime {
    now() - Duration::from_secs(secs)
}

fn rfc(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The six releases of batch-1, oldest first.
pub const R: [&str; 6] = [
    "batch_20261117221500",
    "batch_20261121221500",
    "batch_20261124221500",
    "batch_20261125201500",
    "batch_20261126190300",
    "batch_20261126213500",
];

const MESSAGES: [&str; 6] = [
    "nightly 4790",
    "",
    "nightly 4810",
    "nightly 4811: faster reconcile",
    "nightly 4812",
    "nightly 4813: hotfix import",
];

fn name(s: &str) -> ReleaseName {
    ReleaseName::parse("batch_", s).expect("fixture names are valid")
}

fn files(i: usize) -> Vec<ManifestFile> {
    let sha = |seed: usize| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(seed.to_string().as_bytes()))
    };
    vec![
        ManifestFile {
            path: "app.jar".into(),
            size: 48 * 1024 * 1024 + i as u64 * 4096,
            sha256: sha(i * 10),
            mode: 0o644,
        },
        ManifestFile {
            path: "bin/run.sh".into(),
            size: 912,
            sha256: sha(i * 10 + 1),
            mode: 0o755,
        },
        ManifestFile {
            path: "lib/postgresql-42.7.4.jar".into(),
            size: 1_086_687,
            sha256: sha(7),
            mode: 0o644,
        },
        ManifestFile {
            path: "lib/spring-batch-core-5.1.2.jar".into(),
            size: 15 * 1024 * 1024,
            sha256: sha(8),
            mode: 0o644,
        },
    ]
}

/// Release `i` of `R` (0 = oldest), made by relman except `R[1]` (made by hand).
pub fn release(i: usize) -> Release {
    let n = name(R[i]);
    let origin = if i == 1 {
        Origin::Unknown
    } else {
        Origin::Relman(Manifest {
            name: R[i].into(),
            created_at: rfc(n.time()),
            created_by: "ci@jenkins-2".into(),
            message: MESSAGES[i].into(),
            files: files(i),
        })
    };
    let size = match &origin {
        Origin::Relman(m) => m.files.iter().map(|f| f.size).sum(),
        _ => 61_203_113,
    };
    Release {
        name: n,
        size_bytes: size,
        usable: Default::default(),
        origin,
        jobs: Vec::new(),
        pins: Vec::new(),
        health: Default::default(),
    }
}

pub fn job(pid: u32, started_secs_ago: u64, command: &str) -> Job {
    Job {
        pid,
        user: "batch".into(),
        started_at: Some(ago(started_secs_ago)),
        command: command.into(),
        via: JobVia::Cwd,
    }
}

fn entry(
    action: Action,
    secs_ago: u64,
    from: Option<&str>,
    to: Option<&str>,
    note: &str,
) -> HistoryEntry {
    HistoryEntry {
        at: rfc(ago(secs_ago)),
        by: if action == Action::Rollback {
            "alice@ops-laptop".into()
        } else {
            "ci@jenkins-2".into()
        },
        action,
        from: from.map(Into::into),
        to: to.map(Into::into),
        note: (!note.is_empty()).then(|| note.to_string()),
    }
}

/// batch-1: six releases; live R[4] (3h 12m old) with two jobs, R[5] bad (rolled back
/// from), R[3] previous, R[2] pinned, R[1] made by hand with a long-running job.
pub fn batch1() -> HostState {
    let mut s = HostState::empty("deploy", "batch", "batch_", now());
    s.root_abs = "/home/batch/deploy".into();
    s.root_exists = true;
    s.link = LinkState::Release {
        name: name(R[4]),
        absolute: false,
    };
    let mut rels: Vec<Release> = (0..6).map(release).collect();
    rels[4].jobs = vec![
        job(4242, 3600, "java -jar app.jar --job=import"),
        job(4250, 300, "java -jar app.jar --job=export"),
    ];
    rels[1].jobs = vec![job(
        3117,
        5 * 86400,
        "java -jar app.jar --job=reconcile-archive",
    )];
    rels[2].pins = vec![Pin {
        id: "p-20261126210000-ci".into(),
        release: R[2].into(),
        by: "ci@jenkins-2".into(),
        created_at: rfc(ago(4500)),
        expires_at: rfc(now() + Duration::from_secs(6 * 3600)),
        reason: "pipeline nightly-4810".into(),
    }];
    rels.reverse();
    s.releases = rels;
    s.foreign = 1;
    let d = 86400;
    s.history = vec![
        entry(Action::Deploy, 9 * d, None, Some(R[0]), "nightly 4790"),
        entry(Action::Deploy, 5 * d, Some(R[0]), Some(R[1]), "by hand"),
        entry(
            Action::Deploy,
            2 * d,
            Some(R[1]),
            Some(R[2]),
            "nightly 4810",
        ),
        entry(
            Action::Deploy,
            d + 7200,
            Some(R[2]),
            Some(R[3]),
            "nightly 4811",
        ),
        entry(
            Action::Deploy,
            3 * 3600 + 720,
            Some(R[3]),
            Some(R[4]),
            "nightly 4812",
        ),
        entry(Action::Pin, 4500, None, Some(R[2]), "pipeline nightly-4810"),
        entry(Action::Deploy, 2400, Some(R[4]), Some(R[5]), "nightly 4813"),
        entry(
            Action::Rollback,
            1200,
            Some(R[5]),
            Some(R[4]),
            "import job failing",
        ),
    ];
    s
}

/// batch-2: the newest release live, locked by another operator's deploy.
pub fn batch2() -> HostState {
    let mut s = HostState::empty("deploy", "batch", "batch_", now());
    s.root_abs = "/home/batch/deploy".into();
    s.root_exists = true;
    s.link = LinkState::Release {
        name: name(R[5]),
        absolute: false,
    };
    s.releases = (2..6).rev().map(release).collect();
    s.lock = Some(LockInfo {
        by: "carol@laptop".into(),
        action: "deploy".into(),
        since: rfc(ago(75)),
        pid: Some(881),
        token: String::new(),
    });
    s.history = vec![
        entry(Action::Deploy, 2 * 86400, None, Some(R[2]), ""),
        entry(Action::Deploy, 86400 + 7200, Some(R[2]), Some(R[3]), ""),
        entry(Action::Deploy, 3 * 3600 + 720, Some(R[3]), Some(R[4]), ""),
        entry(Action::Deploy, 2400, Some(R[4]), Some(R[5]), ""),
    ];
    s
}

/// batch-4: two releases behind, processes of other users hidden.
pub fn batch4() -> HostState {
    let mut s = HostState::empty("/srv/deploy", "batch", "batch_", now());
    s.root_abs = "/srv/deploy".into();
    s.root_exists = true;
    s.link = LinkState::Release {
        name: name(R[3]),
        absolute: false,
    };
    s.releases = (1..4).rev().map(release).collect();
    s.hidden_processes = 3;
    s.history = vec![
        entry(Action::Deploy, 2 * 86400, None, Some(R[2]), ""),
        entry(Action::Deploy, 86400 + 7200, Some(R[2]), Some(R[3]), ""),
    ];
    s
}

/// The unreachable host's error.
pub const DOWN: &str = "cannot connect to 10.0.0.7:22: Connection refused (os error 111)";

/// Four hosts: batch-1..3 in group prod, batch-4 in staging; batch-3 is down.
pub fn app() -> App {
    let prod = vec!["prod".to_string()];
    let staging = vec!["staging".to_string()];
    let mut hosts = vec![
        HostView::new("batch-1", &prod),
        HostView::new("batch-2", &prod),
        HostView::new("batch-3", &prod),
        HostView::new("batch-4", &staging),
    ];
    hosts[0].state = Some(batch1());
    hosts[0].updated_at = Some(ago(4));
    hosts[1].state = Some(batch2());
    hosts[1].updated_at = Some(ago(4));
    hosts[2].error = Some(DOWN.into());
    hosts[3].state = Some(batch4());
    hosts[3].updated_at = Some(ago(6));
    let mut app = App::new("prod.toml", hosts, now());
    app.theme = Theme { color: true };
    app
}

/// A release's health: `ok`, `failed`, `killed`, `lost`, `running` runs (the last
/// failure, when there is one, a failed `--job=import` 10 minutes ago).
pub fn health(ok: u32, failed: u32, killed: u32, lost: u32, running: u32) -> Health {
    Health {
        runs: ok + failed + killed + lost + running,
        ok,
        failed,
        killed,
        lost,
        running,
        last_failure: (failed + killed + lost > 0).then(|| LastFailure {
            id: "1796174356-4818".into(),
            at: rfc(ago(600)),
            exit_code: Some(3),
            signal: None,
            command: "java -jar app.jar --job=import".into(),
        }),
    }
}

fn set_health(s: &mut HostState, release: &str, h: Health) {
    if let Some(r) = s.releases.iter_mut().find(|r| r.name.as_str() == release) {
        r.health = h;
    }
}

/// [`app`] with the launcher's runs recorded: on batch-1 the live R[4] fails 3 of its
/// 5 finished runs (one more running) where R[3], live before it, failed 1 of 12; the
/// bad R[5] failed both its runs. batch-2's live R[5] ran 4 times, all ok.
pub fn health_app() -> App {
    let mut app = app();
    if let Some(s) = app.hosts[0].state.as_mut() {
        set_health(s, R[4], health(2, 2, 1, 0, 1));
        set_health(s, R[3], health(11, 1, 0, 0, 0));
        set_health(s, R[5], health(0, 2, 0, 0, 0));
        set_health(s, R[2], health(30, 0, 0, 0, 0));
    }
    if let Some(s) = app.hosts[1].state.as_mut() {
        set_health(s, R[5], health(4, 0, 0, 0, 0));
    }
    app
}

fn run(n: u32, started_secs_ago: u64, secs: Option<u64>, status: RunStatus, command: &str) -> Run {
    let started = ago(started_secs_ago);
    let ended = secs.map(|d| started + Duration::from_millis(d));
    Run {
        id: format!("1796174356-{}", 4800 + n),
        release: R[4].into(),
        pid: 4800 + n,
        user: "batch".into(),
        started_at: humantime::format_rfc3339_millis(started).to_string(),
        ended_at: ended.map(|e| humantime::format_rfc3339_millis(e).to_string()),
        status,
        exit_code: match status {
            RunStatus::Ok => Some(0),
            RunStatus::Failed => Some(3),
            _ => None,
        },
        signal: (status == RunStatus::Killed).then(|| "TERM".into()),
        command: command.into(),
        tail: None,
    }
}

/// The recent runs of batch-1's live R[4] (its health in [`health_app`]), newest first.
pub fn live_runs() -> Vec<Run> {
    vec![
        run(
            6,
            120,
            None,
            RunStatus::Running,
            "java -jar app.jar --job=export",
        ),
        run(
            5,
            600,
            Some(2_279),
            RunStatus::Failed,
            "java -jar app.jar --job=import",
        ),
        run(
            4,
            1800,
            Some(61_000),
            RunStatus::Killed,
            "java -jar app.jar --job=reconcile",
        ),
        run(
            3,
            3600,
            Some(840),
            RunStatus::Failed,
            "java -jar app.jar --job=import",
        ),
        run(
            2,
            7200,
            Some(95_500),
            RunStatus::Ok,
            "java -jar app.jar --job=export",
        ),
        run(
            1,
            10_800,
            Some(12_030),
            RunStatus::Ok,
            "java -jar app.jar --job=import",
        ),
    ]
}

/// batch-2's probation in [`guards_app`]: its live R[5] since the deploy 40m ago, 8m
/// left on the host's clock, no failure of the two allowed.
pub fn probation() -> Probation {
    Probation {
        release: R[5].into(),
        previous: Some(R[4].into()),
        since: rfc(ago(2400)),
        until: rfc(now() + Duration::from_secs(480)),
        max_failures: 2,
        failures: 0,
    }
}

/// The note batch-4's launcher wrote when it rolled itself back in [`guards_app`].
pub const SELF_ROLLBACK_NOTE: &str = "probation: 3 failed runs of batch_20261125201500 (2 allowed)";

/// [`app`] with the guards at work: batch-2 on probation ([`probation`]), and batch-4
/// rolled back by its own launcher 3 minutes ago (22:12) from R[3], which failed 3
/// runs on probation, to R[2]. The hosts the README shows are left as they are.
pub fn guards_app() -> App {
    let mut app = app();
    if let Some(s) = app.hosts[1].state.as_mut() {
        s.probation = Some(probation());
    }
    if let Some(s) = app.hosts[3].state.as_mut() {
        s.link = LinkState::Release {
            name: name(R[2]),
            absolute: false,
        };
        s.history.push(HistoryEntry {
            at: rfc(ago(180)),
            by: "launch@batch-4".into(),
            action: Action::Rollback,
            from: Some(R[3].into()),
            to: Some(R[2].into()),
            note: Some(SELF_ROLLBACK_NOTE.into()),
        });
    }
    app
}
