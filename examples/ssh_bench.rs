//! Measures the SSH transport against one configured host: connect, exec round trip,
//! upload and download throughput.
//!
//! `cargo run --release --example ssh_bench -- CONFIG HOST [MiB]`
//! (for the test fleet's hosts, any relman.toml of a running fleet works).

use std::path::Path;
use std::time::Instant;

use relman::config::Config;
use relman::remote::Transport;
use relman::remote::ssh::SshTransport;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, host, rest @ ..] = args.as_slice() else {
        return Err("usage: ssh_bench CONFIG HOST [MiB]".into());
    };
    let mib: usize = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let cfg = Config::load(Path::new(config))?;
    let h = cfg.host(host).ok_or("no such host in the config")?;

    let t0 = Instant::now();
    let t = SshTransport::connect(&cfg, h)?;
    println!("connect+auth      {:>10.1?}", t0.elapsed());

    let n = 20;
    let t0 = Instant::now();
    for _ in 0..n {
        t.exec("true", &mut std::io::empty(), &mut |_| {})?;
    }
    println!("exec `true`       {:>10.1?} each", t0.elapsed() / n);

    let data = vec![0x5au8; mib << 20];
    let t0 = Instant::now();
    let out = t.exec("cat >/dev/null", &mut &data[..], &mut |_| {})?;
    let s = t0.elapsed().as_secs_f64();
    println!(
        "upload {mib} MiB    {:>10.1} MB/s (status {:?})",
        data.len() as f64 / s / 1e6,
        out.status
    );

    let t0 = Instant::now();
    let out = t.exec(
        &format!("head -c {} /dev/zero", data.len()),
        &mut std::io::empty(),
        &mut |_| {},
    )?;
    let s = t0.elapsed().as_secs_f64();
    println!(
        "download {mib} MiB  {:>10.1} MB/s ({} bytes)",
        out.stdout.len() as f64 / s / 1e6,
        out.stdout.len()
    );
    let t0 = Instant::now();
    for _ in 0..n {
        t.exec("true", &mut std::io::empty(), &mut |_| {})?;
    }
    println!("exec `true` again {:>10.1?} each", t0.elapsed() / n);
    println!("handshakes        {:>10}", t.handshakes());
    Ok(())
}
