//! Fleet benchmarks (issue 7), each a ratio against a baseline measured in the same run:
//!
//! - `refresh`: 20 real sshd hosts behind a proxy adding 25 ms of round trip. A refresh
//!   of 20 hosts vs 1 host (the console's lasting sessions, and the CLI's cold
//!   `relman list`), the classic `for h in hosts; do ssh h '...'; done` loop vs
//!   `relman list`, and the second (warm) refresh vs the first (cold).
//! - `tui`: one console frame (ratatui TestBackend) for 100 hosts x 100 releases vs the
//!   4-host fixture.
//! - `rss`: peak RSS of `relman list` and of a process keeping 200 SSH sessions (200
//!   configured hosts on 20 sshds, 10 hosts each) vs the same for 1 host.
//! - `deploy`: 64 MB to 5 hosts at 25 ms RTT: `relman deploy` vs OpenSSH `scp` one host
//!   after the other, and `scp` to all 5 in parallel.
//!
//! `cargo bench --bench fleet [-- SECTION...]` (all sections without arguments).
//! `BENCH_RUNS=N` changes the number of runs per figure (medians are reported).
//! Results go to stdout as markdown, ready for BENCHMARKS.md.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use relman::config::Config;
use relman::model::ReleaseName;
use relman::ops;
use relman::remote::{self, Transport};
use support::latency::Delayed;
use support::{Fleet, toml_str};

const ONE_WAY: Duration = Duration::from_micros(12_500);
/// Releases per host in the refresh fleet (a realistic root, not an empty one).
const RELEASES: usize = 8;

fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// Runs a command to completion; panics with its stderr if it fails. Returns its
/// wall time.
fn run_timed(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let o = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let wall = t.elapsed();
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    wall
}

/// The peak RSS (KiB) of `cmd`, measured by GNU time: a child forked from this (big)
/// process would inherit our high-water mark in its rusage, one forked by `time` does not.
fn peak_rss(cmd: &Command) -> u64 {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let mut t = Command::new("/usr/bin/time");
    t.arg("-f").arg("%M").arg("-o").arg(out.path());
    t.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        t.current_dir(d);
    }
    run_timed(&mut t);
    fs::read_to_string(out.path())
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .expect("GNU time wrote the peak RSS")
}

fn seed(f: &Fleet, releases: usize) {
    for i in 0..f.len() {
        let mut s = String::from("set -e\n");
        for k in 0..releases {
            let name = format!("batch_202611{:02}093000", 1 + k);
            let _ = writeln!(
                s,
                "mkdir -p \"$ROOT/{name}/lib\"; head -c 4096 /dev/zero > \"$ROOT/{name}/app.jar\""
            );
        }
        let _ = writeln!(
            s,
            "ln -sfn batch_202611{:02}093000 \"$ROOT/batch\"",
            releases
        );
        f.sh(i, &s);
    }
}

/// Runs `w` on every host's lasting transport, `parallel` at a time (as the console).
fn refresh(cfg: &Config, ts: &[Box<dyn Transport>], w: Work) {
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..cfg.parallel.min(ts.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(t) = ts.get(i) else { break };
                    if let Err(e) = work(w, t.as_ref(), &cfg.hosts[i]) {
                        failed
                            .lock()
                            .unwrap()
                            .push(format!("{}: {e}", cfg.hosts[i].name));
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    assert!(failed.is_empty(), "{failed:?}");
}

/// Opens every host's transport, `parallel` at a time.
fn open_all(cfg: &Config) -> Vec<Box<dyn Transport>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Box<dyn Transport>>>> =
        cfg.hosts.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..cfg.parallel.min(cfg.hosts.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(h) = cfg.hosts.get(i) else { break };
                    let t = remote::open(cfg, h).unwrap_or_else(|e| panic!("{}: {e}", h.name));
                    *slots[i].lock().unwrap() = Some(t);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|s| s.into_inner().unwrap().expect("opened"))
        .collect()
}

// ---------------------------------------------------------------------------

/// What one refresh runs per host.
#[derive(Clone, Copy)]
enum Work {
    /// `ops::scan`: the whole deploy root, jobs, pins, lock, history (one exec).
    Scan,
    /// The classic loop's command, `ls -t deploy; readlink -f deploy/batch` (one exec).
    Light,
}

fn work(w: Work, t: &dyn Transport, h: &relman::config::HostConfig) -> Result<(), String> {
    match w {
        Work::Scan => ops::scan(t, h).map(|_| ()).map_err(|e| e.to_string()),
        Work::Light => {
            let dir = Path::new(&h.root).parent().expect("root has a parent");
            let cmd = format!(
                "cd '{}' && ls -t deploy; readlink -f deploy/batch",
                dir.display()
            );
            let o = t
                .exec(&cmd, &mut std::io::empty(), &mut |_| {})
                .map_err(|e| e.to_string())?;
            if o.success() {
                Ok(())
            } else {
                Err(o.stderr_line())
            }
        }
    }
}

/// A console's refresh measured in a process of its own (no proxy threads, no bench
/// harness in it): cold = connect + `w` on every host, warm = `w` again on the open
/// sessions. Medians over `n` processes (3 warm refreshes each).
struct Console {
    cold: Duration,
    warm: Duration,
    /// relman's own CPU time (user + sys) for one warm refresh.
    warm_cpu: Duration,
    /// relman's own CPU time for the cold refresh (connect included).
    cold_cpu: Duration,
}

fn console(f: &Fleet, config: &Path, w: Work, n: usize) -> Console {
    let (mut cold, mut warm, mut cpu, mut ccpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let r = hold_child(f, config, w, 3);
        cold.push(Duration::from_micros(r[1]));
        warm.push(Duration::from_micros(r[2]));
        cpu.push(Duration::from_micros(r[3]));
        ccpu.push(Duration::from_micros(r[7]));
    }
    Console {
        cold: median(cold),
        warm: median(warm),
        warm_cpu: median(cpu),
        cold_cpu: median(ccpu),
    }
}

/// Runs this binary in `hold` mode; returns its numbers (see `hold`).
fn hold_child(f: &Fleet, config: &Path, w: Work, rounds: usize) -> Vec<u64> {
    let o = Command::new(std::env::current_exe().unwrap())
        .env("RELMAN_BENCH_HOLD", config)
        .env(
            "RELMAN_BENCH_WORK",
            match w {
                Work::Scan => "scan",
                Work::Light => "light",
            },
        )
        .env("RELMAN_BENCH_ROUNDS", rounds.to_string())
        .env("HOME", f.home())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("RELMAN_CONFIG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect()
}

/// A copy of a relman config with `parallel` set and only the first `hosts` hosts.
fn config_variant(src: &Path, dst: &Path, parallel: usize, hosts: usize) -> PathBuf {
    let text = fs::read_to_string(src).unwrap();
    let cut = text
        .match_indices("[[hosts]]")
        .nth(hosts)
        .map_or(text.len(), |(i, _)| i);
    fs::write(dst, format!("parallel = {parallel}\n{}", &text[..cut])).unwrap();
    dst.to_path_buf()
}

fn bench_refresh(out: &mut String) {
    let n = runs();
    let f = Fleet::start(20);
    seed(&f, RELEASES);
    let d = Delayed::start(&f, ONE_WAY);
    let dir = f.dir();
    let delayed1 = config_variant(&d.config_path, &dir.join("d1.toml"), 20, 1);
    let delayed20 = config_variant(&d.config_path, &dir.join("d20.toml"), 20, 20);
    let delayed16 = config_variant(&d.config_path, &dir.join("d16.toml"), 16, 20);
    let loop1 = config_variant(f.config_path(), &dir.join("l1.toml"), 20, 1);
    let loop20 = config_variant(f.config_path(), &dir.join("l20.toml"), 20, 20);
    let _ = writeln!(
        out,
        "### Refresh at 25 ms RTT (20 real sshd hosts, {RELEASES} releases each)\n"
    );

    // The console: lasting sessions, measured in a process of its own.
    let scan = "full scan (`ops::scan`)";
    let light = "the loop's command (`ls -t deploy; readlink -f deploy/batch`)";
    let mut rows: Vec<(&str, &str, Console, Console)> = Vec::new();
    for (what, link, one, all, w) in [
        (scan, "25 ms", &delayed1, &delayed20, Work::Scan),
        (scan, "none (loopback)", &loop1, &loop20, Work::Scan),
        (light, "25 ms", &delayed1, &delayed20, Work::Light),
        (light, "none (loopback)", &loop1, &loop20, Work::Light),
    ] {
        rows.push((what, link, console(&f, one, w, n), console(&f, all, w, n)));
    }
    let p16 = console(&f, &delayed16, Work::Scan, n);
    let _ = writeln!(
        out,
        "**Console** (one lasting session per host, 20 hosts at a time, in a process of its own; \
         cold = connect + command, warm = the command again on the open sessions; medians of {n} \
         cold and {n} warm; relman CPU = user + system time of the relman process for one warm refresh):\n"
    );
    let _ = writeln!(
        out,
        "| per host | added RTT | warm, 1 host | warm, 20 hosts | 20 vs 1 (warm) | relman CPU, 1 / 20 hosts | cold, 1 host | cold, 20 hosts | 20 vs 1 (cold) | warm vs cold (20 hosts) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for (what, link, one, all) in &rows {
        let _ = writeln!(
            out,
            "| {what} | {link} | {} | {} | **{:.2}x** | {:.1} / {:.1} ms | {} | {} | {:.2}x | {:.2}x ({:.1}x faster) |",
            ms(one.warm),
            ms(all.warm),
            ratio(all.warm, one.warm),
            one.warm_cpu.as_secs_f64() * 1e3,
            all.warm_cpu.as_secs_f64() * 1e3,
            ms(one.cold),
            ms(all.cold),
            ratio(all.cold, one.cold),
            ratio(all.warm, all.cold),
            ratio(all.cold, all.warm)
        );
    }
    let _ = writeln!(
        out,
        "\nFull scan at 25 ms RTT with the default `parallel = 16` (two waves): warm {} ({:.2}x 1 host), cold {}.\n",
        ms(p16.warm),
        ratio(p16.warm, rows[0].2.warm),
        ms(p16.cold)
    );
    let _ = writeln!(
        out,
        "relman's own CPU, 20 hosts, full scan at 25 ms RTT: cold (connect + scan) {:.0} ms = {:.1} ms per host; \
         warm {:.0} ms = {:.1} ms per host. Latency added by the 25 ms RTT (25 ms row minus loopback row, warm): \
         full scan {} for 1 host, {} for 20; the loop's command {} for 1 host, {} for 20.\n",
        rows[0].3.cold_cpu.as_secs_f64() * 1e3,
        rows[0].3.cold_cpu.as_secs_f64() * 1e3 / 20.0,
        rows[0].3.warm_cpu.as_secs_f64() * 1e3,
        rows[0].3.warm_cpu.as_secs_f64() * 1e3 / 20.0,
        ms(rows[0].2.warm.saturating_sub(rows[1].2.warm)),
        ms(rows[0].3.warm.saturating_sub(rows[1].3.warm)),
        ms(rows[2].2.warm.saturating_sub(rows[3].2.warm)),
        ms(rows[2].3.warm.saturating_sub(rows[3].3.warm)),
    );

    // The CLI: a fresh process per refresh.
    let cfg20 = delayed20.clone();
    let list = |config: &Path, args: &[&str]| {
        let mut c = d.relman(&f);
        c.env("RELMAN_CONFIG", config).arg("list").args(args);
        c
    };
    let (mut l1, mut l16, mut l20) = (Vec::new(), Vec::new(), Vec::new());
    let mut busy16 = Vec::new();
    for _ in 0..n {
        l1.push(run_timed(&mut list(
            &d.config_path,
            &["--json", "--host", "h1"],
        )));
        let b0 = machine_busy();
        let t = run_timed(&mut list(&d.config_path, &["--json"]));
        busy16.push(machine_busy().saturating_sub(b0).as_secs_f64() / t.as_secs_f64());
        l16.push(t);
        l20.push(run_timed(&mut list(&cfg20, &["--json"])));
    }
    let (l1, l16, l20) = (median(l1), median(l16), median(l20));
    busy16.sort_by(f64::total_cmp);
    let busy16 = busy16[busy16.len() / 2];

    // The classic loop: OpenSSH, one host after the other, through the same proxies.
    let mut script = String::new();
    for i in 0..f.len() {
        let _ = writeln!(
            script,
            "ssh -F /dev/null -i {key} -o IdentitiesOnly=yes -o BatchMode=yes \
             -o StrictHostKeyChecking=yes -o UserKnownHostsFile={kh} -o ControlMaster=no \
             -p {port} {user}@127.0.0.1 'cd {dir} && ls -t deploy; readlink -f deploy/batch' >/dev/null",
            key = f.client_key().display(),
            kh = f.known_hosts().display(),
            port = d.port(i),
            user = f.user(),
            dir = f.host(i).dir.display(),
        );
    }
    let loops = n.min(3);
    let mut classic = Vec::new();
    for _ in 0..loops {
        classic.push(run_timed(
            Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("HOME", f.home())
                .env_remove("SSH_AUTH_SOCK"),
        ));
    }
    let classic = median(classic);
    let light_cold = rows[2].3.cold;
    let _ = writeln!(
        out,
        "**CLI and the classic loop** (`relman list --json`: a new process, connect + full scan, \
         median of {n}; the classic loop: OpenSSH `ssh` per host one after the other through the \
         same proxies, median of {loops}):\n"
    );
    let _ = writeln!(out, "| run | time | vs 1 host | classic loop / this |");
    let _ = writeln!(out, "|---|---|---|---|");
    for (label, t, base) in [
        ("`relman list` 1 host", l1, l1),
        ("`relman list` 20 hosts, parallel = 16 (default)", l16, l1),
        ("`relman list` 20 hosts, parallel = 20", l20, l1),
        (
            "relman's transport, cold, the loop's own command on 20 hosts (console process)",
            light_cold,
            rows[2].2.cold,
        ),
        (
            "classic `for h in hosts; do ssh h 'ls -t deploy; readlink -f deploy/batch'; done`",
            classic,
            classic / 20,
        ),
    ] {
        let _ = writeln!(
            out,
            "| {label} | {} | {:.2}x | **{:.1}x** |",
            ms(t),
            ratio(t, base),
            ratio(classic, t)
        );
    }
    let _ = writeln!(
        out,
        "\nWhile `relman list` of 20 hosts (parallel = 16) ran, the whole machine (relman, \
         the 20 sshds, their login shells and scans) kept **{busy16:.2} of {} cores** busy \
         on average (from /proc/stat).\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}

/// Core-seconds the whole machine has been busy (user, nice, system, irq, softirq),
/// from /proc/stat: over a run, how much CPU everything on it took.
fn machine_busy() -> Duration {
    let text = fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            [0, 1, 2, 5, 6].iter().filter_map(|&i| f.get(i)).sum()
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

// ---------------------------------------------------------------------------

fn big_app(hosts: usize, releases: usize) -> relman::tui::app::App {
    use relman::tui::app::{App, HostView};
    use support::fixture;
    let groups = vec!["prod".to_string()];
    let base = fixture::batch1();
    let now = fixture::now();
    let views: Vec<HostView> = (0..hosts)
        .map(|h| {
            let mut v = HostView::new(&format!("batch-{:03}", h + 1), &groups);
            let mut st = base.clone();
            st.releases = (0..releases)
                .map(|k| {
                    let mut r = fixture::release(k % fixture::R.len());
                    if k > 0 {
                        let at = now - Duration::from_secs(86_400 * k as u64);
                        r.name = ReleaseName::new("batch_", at, 0);
                    } else {
                        r = fixture::release(fixture::R.len() - 1);
                    }
                    r
                })
                .collect();
            v.state = Some(st);
            v.updated_at = Some(now - Duration::from_secs(4));
            v
        })
        .collect();
    let mut app = App::new("bench.toml", views, now);
    app.host_sel = hosts / 2;
    app
}

fn frame_time(app: &mut relman::tui::app::App, w: u16, h: u16, frames: usize) -> Duration {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::layout::Rect;
    app.size = Rect::new(0, 0, w, h);
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    // Warm up (first frame fills the buffers).
    for _ in 0..5 {
        term.draw(|f| relman::tui::view::view(app, f)).unwrap();
    }
    let mut v = Vec::with_capacity(frames);
    for i in 0..frames {
        // Alternate the selection so every frame differs from the last (no empty diff).
        app.release_sel = i % 2;
        v.push(timed(|| {
            term.draw(|f| relman::tui::view::view(app, f)).unwrap();
        }));
    }
    median(v)
}

fn bench_tui(out: &mut String) {
    let frames = 200;
    let mut small = support::fixture::app();
    let mut big = big_app(100, 100);
    let _ = writeln!(
        out,
        "### Console frame (ratatui TestBackend, median of {frames} frames)\n"
    );
    let _ = writeln!(
        out,
        "| terminal | 4 hosts (fixture) | 100 hosts x 100 releases | ratio |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (w, h) in [(120u16, 40u16), (240, 70)] {
        let s = frame_time(&mut small, w, h, frames);
        let b = frame_time(&mut big, w, h, frames);
        let _ = writeln!(
            out,
            "| {w}x{h} | {:.3} ms | {:.3} ms | {:.2}x |",
            s.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            ratio(b, s)
        );
    }
    // The part of a frame spent recomputing the fleet's drift (every host's releases).
    let drift = median(
        (0..frames)
            .map(|_| {
                timed(|| {
                    std::hint::black_box(relman::plan::Fleet::of(
                        big.hosts.iter().filter_map(|h| h.state.as_ref()),
                    ));
                })
            })
            .collect(),
    );
    let _ = writeln!(
        out,
        "\nOf which `plan::Fleet::of` over 100 x 100 releases (the hosts pane recomputes it every frame): {:.3} ms.",
        drift.as_secs_f64() * 1e3
    );
    let _ = writeln!(out);
}

// ---------------------------------------------------------------------------

/// In the child: opens every host of the config (lasting sessions) and runs the work
/// (`RELMAN_BENCH_WORK`, scan or light) on all of them, then `RELMAN_BENCH_ROUNDS` times
/// again. Prints `hosts cold_us warm_us warm_cpu_us fds threads vmhwm_kb` (warm figures
/// are medians over the rounds), then `cold_cpu_us`.
fn hold(config: &str) {
    let cfg = Config::load(Path::new(config)).expect("config");
    let w = match std::env::var("RELMAN_BENCH_WORK").as_deref() {
        Ok("light") => Work::Light,
        _ => Work::Scan,
    };
    let rounds: usize = std::env::var("RELMAN_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut ts = Vec::new();
    let c0 = cpu_time();
    let cold = timed(|| {
        ts = open_all(&cfg);
        refresh(&cfg, &ts, w);
    });
    let cold_cpu = cpu_time() - c0;
    let (mut warm, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        let c0 = cpu_time();
        warm.push(timed(|| refresh(&cfg, &ts, w)));
        cpu.push(cpu_time() - c0);
    }
    let fds = fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("0")
            .to_string()
    };
    println!(
        "{} {} {} {} {} {} {} {}",
        ts.len(),
        cold.as_micros(),
        median(warm).as_micros(),
        median(cpu).as_micros(),
        fds,
        field("Threads:"),
        field("VmHWM:"),
        cold_cpu.as_micros()
    );
}

/// This process's CPU time so far (user + system).
fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid out pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn bench_rss(out: &mut String) {
    const SSHDS: usize = 20;
    const PER: usize = 10;
    let f = Fleet::start(SSHDS);
    let mut toml = format!(
        "connect_timeout = \"10s\"\nknown_hosts = {}\n",
        toml_str(&f.known_hosts().display().to_string())
    );
    for i in 0..SSHDS {
        for k in 0..PER {
            let root = f.host(i).dir.join(format!("deploy{k}"));
            let name = format!("h{}-{k}", i + 1);
            let _ = write!(
                toml,
                "\n[[hosts]]\nname = {}\naddress = \"127.0.0.1\"\nport = {}\nuser = {}\n\
                 identity = {}\nroot = {}\n",
                toml_str(&name),
                f.port(i),
                toml_str(f.user()),
                toml_str(&f.client_key().display().to_string()),
                toml_str(&root.display().to_string()),
            );
            fs::create_dir_all(root.join("batch_20261126093000")).unwrap();
            let _ = std::os::unix::fs::symlink("batch_20261126093000", root.join("batch"));
        }
    }
    let config = f.dir().join("relman-200.toml");
    fs::write(&config, toml).unwrap();
    let one = f.dir().join("relman-1.toml");
    let text = fs::read_to_string(&config).unwrap();
    let first_two = text
        .match_indices("[[hosts]]")
        .nth(1)
        .map(|(i, _)| i)
        .unwrap();
    fs::write(&one, &text[..first_two]).unwrap();

    let list = |c: &Path| {
        let mut cmd = f.relman();
        cmd.env("RELMAN_CONFIG", c).args(["list", "--json"]);
        cmd
    };
    let (t1, t200) = (run_timed(&mut list(&one)), run_timed(&mut list(&config)));
    let (rss1, rss200) = (peak_rss(&list(&one)), peak_rss(&list(&config)));

    let hold_in = |c: &Path| {
        let r = hold_child(&f, c, Work::Scan, 2);
        (r[0], r[4], r[5], r[6])
    };
    let (_, fd1, th1, hwm1) = hold_in(&one);
    let (n200, fd200, th200, hwm200) = hold_in(&config);

    let _ = writeln!(
        out,
        "### Peak RSS with 200 hosts (200 SSH hosts on {SSHDS} sshds, {PER} deploy roots each)\n"
    );
    let _ = writeln!(out, "| process | 1 host | 200 hosts | ratio |");
    let _ = writeln!(out, "|---|---|---|---|");
    let _ = writeln!(
        out,
        "| `relman list --json` peak RSS (GNU time) | {:.1} MB | {:.1} MB | {:.2}x |",
        rss1 as f64 / 1024.0,
        rss200 as f64 / 1024.0,
        rss200 as f64 / rss1 as f64
    );
    let _ = writeln!(
        out,
        "| `relman list --json` wall time (no added latency) | {} | {} | {:.1}x |",
        ms(t1),
        ms(t200),
        ratio(t200, t1)
    );
    let _ = writeln!(
        out,
        "| lasting sessions, two refreshes: VmHWM | {:.1} MB | {:.1} MB ({n200} sessions open) | {:.2}x |",
        hwm1 as f64 / 1024.0,
        hwm200 as f64 / 1024.0,
        hwm200 as f64 / hwm1 as f64
    );
    let _ = writeln!(
        out,
        "| lasting sessions: open fds / threads | {fd1} / {th1} | {fd200} / {th200} | per session: {:.2} fd, {:.0} KB |",
        (fd200 - fd1) as f64 / 199.0,
        (hwm200.saturating_sub(hwm1)) as f64 / 199.0
    );
    let _ = writeln!(out);
}

// ---------------------------------------------------------------------------

fn bench_deploy(out: &mut String) {
    // `BENCH_DEPLOY_HOSTS=20` for issue 17's target 2.
    let hosts: usize = std::env::var("BENCH_DEPLOY_HOSTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    // `BENCH_DEPLOY_MB=256 BENCH_RTT_MS=50 BENCH_DEPLOY_HOSTS=1` for target 5.
    let env_num = |k: &str, default: usize| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(default)
            .max(1)
    };
    let mb = env_num("BENCH_DEPLOY_MB", 64);
    let rtt_ms = env_num("BENCH_RTT_MS", 25);
    let n = runs().min(3);
    let f = Fleet::start(hosts);
    let d = Delayed::start(&f, Duration::from_micros(rtt_ms as u64 * 500));
    let src = f.dir().join("app.jar");
    // Incompressible bytes (SSH compression is off anyway), different each run's file name.
    let mut data = vec![0u8; mb << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    fs::write(&src, &data).unwrap();
    drop(data);
    for i in 0..hosts {
        fs::create_dir_all(f.root(i)).unwrap();
    }
    let scp = |i: usize, dest: &str| {
        format!(
            "scp -q -F /dev/null -i {key} -o IdentitiesOnly=yes -o BatchMode=yes \
             -o StrictHostKeyChecking=yes -o UserKnownHostsFile={kh} -P {port} {src} \
             {user}@127.0.0.1:{root}/{dest}",
            key = f.client_key().display(),
            kh = f.known_hosts().display(),
            port = d.port(i),
            src = src.display(),
            user = f.user(),
            root = f.root(i).display(),
        )
    };
    let (mut seq, mut par, mut rel) = (Vec::new(), Vec::new(), Vec::new());
    let (mut busy_par, mut busy_rel) = (Vec::new(), Vec::new());
    let busy = |b0: Duration, t: Duration| {
        machine_busy().saturating_sub(b0).as_secs_f64() / t.as_secs_f64()
    };
    for run in 0..n {
        let s: Vec<String> = (0..hosts)
            .map(|i| scp(i, &format!("seq{run}.jar")))
            .collect();
        seq.push(run_timed(
            Command::new("sh")
                .arg("-c")
                .arg(s.join("\n"))
                .env("HOME", f.home()),
        ));
        let p: Vec<String> = (0..hosts)
            .map(|i| format!("{} &", scp(i, &format!("par{run}.jar"))))
            .collect();
        let b0 = machine_busy();
        let t = run_timed(
            Command::new("sh")
                .arg("-c")
                .arg(format!("{}\nwait", p.join("\n")))
                .env("HOME", f.home()),
        );
        busy_par.push(busy(b0, t));
        par.push(t);
        // A new file each run, so no delta against the last release makes it cheap.
        let dir = f.dir().join(format!("rel{run}"));
        fs::create_dir_all(&dir).unwrap();
        let jar = dir.join("app.jar");
        fs::copy(&src, &jar).unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(&jar)
            .and_then(|mut j| std::io::Write::write_all(&mut j, format!("{run}").as_bytes()))
            .unwrap();
        let b0 = machine_busy();
        let t = run_timed(d.relman(&f).args(["deploy", "--all", "-q"]).arg(&jar));
        busy_rel.push(busy(b0, t));
        rel.push(t);
    }
    let (seq, par, rel) = (median(seq), median(par), median(rel));
    let _ = writeln!(
        out,
        "### Deploy of {mb} MB to {hosts} hosts at {rtt_ms} ms RTT (median of {n})\n"
    );
    let _ = writeln!(out, "| run | time | this / relman |");
    let _ = writeln!(out, "|---|---|---|");
    for (label, t) in [
        ("`relman deploy --all` (staged, verified, switched)", rel),
        ("OpenSSH `scp`, one host after the other", seq),
        ("OpenSSH `scp`, all hosts in parallel", par),
    ] {
        let _ = writeln!(out, "| {label} | {} | **{:.2}x** |", ms(t), ratio(t, rel));
    }
    // Throughput per host (the whole command: connect, upload, verify, switch).
    let mbps = |t: Duration| (mb * hosts) as f64 / t.as_secs_f64();
    let _ = writeln!(
        out,
        "\nThroughput, all hosts together: relman {:.1} MB/s, parallel scp {:.1} MB/s \
         (relman / scp {:.2}x).",
        mbps(rel),
        mbps(par),
        mbps(rel) / mbps(par)
    );
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let _ = writeln!(
        out,
        "\nCores busy on average (whole machine, of {}): {:.2} during relman's deploy, \
         {:.2} during the parallel scp.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        mid(busy_rel),
        mid(busy_par)
    );
}

/// Where a warm refresh's time goes on one host: an empty command vs the scan, on
/// loopback and at 25 ms RTT.
fn bench_exec(out: &mut String) {
    let n = runs() * 4;
    let f = Fleet::start(1);
    seed(&f, RELEASES);
    let d = Delayed::start(&f, ONE_WAY);
    let _ = writeln!(
        out,
        "### One host, lasting session: an empty command vs the scan (median of {n})\n"
    );
    let _ = writeln!(
        out,
        "| link | exec `true` | exec `sh -s` (empty script) | scan (`scan.sh`) | scan vs `true` |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (label, cfg) in [("loopback", f.config()), ("25 ms RTT", d.config(&f))] {
        let t = remote::open(&cfg, &cfg.hosts[0]).unwrap();
        let sample = |f: &mut dyn FnMut()| median((0..n).map(|_| timed(&mut *f)).collect());
        let tt = sample(&mut || {
            t.exec("true", &mut std::io::empty(), &mut |_| {}).unwrap();
        });
        let ts = sample(&mut || {
            t.exec("sh -s", &mut std::io::empty(), &mut |_| {}).unwrap();
        });
        let sc = sample(&mut || {
            ops::scan(t.as_ref(), &cfg.hosts[0]).unwrap();
        });
        let _ = writeln!(
            out,
            "| {label} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1}x |",
            tt.as_secs_f64() * 1e3,
            ts.as_secs_f64() * 1e3,
            sc.as_secs_f64() * 1e3,
            ratio(sc, tt)
        );
    }
    let _ = writeln!(out);
}

/// Through a jump host vs directly, on loopback: an exec round trip and a 64 MiB upload.
fn bench_jump(out: &mut String) {
    use support::HostOptions;
    let n = runs() * 4;
    let target = HostOptions {
        listen: "127.0.0.2".into(),
        ..HostOptions::default()
    };
    let f = Fleet::start_with(&[HostOptions::default(), target]);
    let direct = f.config();
    let mut via = f.config();
    via.hosts[1].jump = Some(format!("{}@127.0.0.1:{}", f.user(), f.port(0)));
    let data = vec![0x5au8; 64 << 20];
    let mut rows = Vec::new();
    for (label, cfg) in [("direct", &direct), ("through the jump host", &via)] {
        let t = remote::open(cfg, &cfg.hosts[1]).unwrap();
        let rt = median(
            (0..n)
                .map(|_| {
                    timed(|| {
                        t.exec("true", &mut std::io::empty(), &mut |_| {}).unwrap();
                    })
                })
                .collect(),
        );
        let up = median(
            (0..3)
                .map(|_| {
                    timed(|| {
                        let o = t
                            .exec("cat >/dev/null", &mut &data[..], &mut |_| {})
                            .unwrap();
                        assert!(o.success());
                    })
                })
                .collect(),
        );
        rows.push((label, rt, up));
    }
    let _ = writeln!(
        out,
        "### Jump host (loopback: bastion sshd + target sshd on 127.0.0.2)\n"
    );
    let _ = writeln!(
        out,
        "| path | exec `true` (median of {n}) | upload 64 MiB (`cat >/dev/null`, median of 3) | vs direct |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (label, rt, up) in &rows {
        let _ = writeln!(
            out,
            "| {label} | {:.1} ms | {} ({:.0} MB/s) | {:.2}x / {:.2}x |",
            rt.as_secs_f64() * 1e3,
            ms(*up),
            data.len() as f64 / up.as_secs_f64() / 1e6,
            ratio(*rt, rows[0].1),
            ratio(*up, rows[0].2)
        );
    }
    let _ = writeln!(out);
}

fn main() {
    if let Ok(root) = std::env::var("RELMAN_BENCH_DUMP_SCAN") {
        let h = relman::config::HostConfig {
            name: "x".into(),
            address: relman::config::Address::Local,
            port: 22,
            user: "u".into(),
            identities: vec![],
            jump: None,
            groups: vec![],
            root,
            link: "batch".into(),
            prefix: "batch_".into(),
            job_scan: Default::default(),
            ssh: Default::default(),
        };
        print!(
            "{}",
            ops::scan::root_script(relman::remote::script::SCAN, &h)
                .render()
                .unwrap()
        );
        return;
    }
    if let Ok(config) = std::env::var("RELMAN_BENCH_HOLD") {
        hold(&config);
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    println!(
        "<!-- cargo bench --bench fleet; {} cores; {} -->\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        humantime::format_rfc3339_seconds(SystemTime::now())
    );
    type Section = (&'static str, fn(&mut String));
    let sections: [Section; 6] = [
        ("exec", bench_exec),
        ("refresh", bench_refresh),
        ("tui", bench_tui),
        ("rss", bench_rss),
        ("deploy", bench_deploy),
        ("jump", bench_jump),
    ];
    for (name, f) in sections {
        if want(name) {
            eprintln!("bench: {name}...");
            let mut part = String::new();
            f(&mut part);
            print!("{part}");
        }
    }
}
