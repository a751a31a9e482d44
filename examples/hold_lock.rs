//! Test helper: takes host locks like a long operation would, then sleeps until
//! killed. The lock tests SIGKILL it to prove a dead relman leaves no lock behind.
//!
//! Usage: hold_lock HOST... (config from $RELMAN_CONFIG). Prints `held` when all are held.

use std::io::Write;

use relman::config::Config;
use relman::model::Action;
use relman::ops::lock;
use relman::remote;

fn main() {
    let path = Config::locate(None).expect("config");
    let cfg = Config::load(&path).expect("config");
    let mut held = Vec::new();
    for name in std::env::args().skip(1) {
        let host = cfg.host(&name).expect("known host").clone();
        let t = remote::open(&cfg, &host).expect("connect");
        let l = lock::acquire(t.as_ref(), &host, Action::Deploy).expect("lock");
        held.push((t, l));
    }
    println!("held");
    std::io::stdout().flush().ok();
    std::thread::sleep(std::time::Duration::from_secs(3600));
}
