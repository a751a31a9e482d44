//! Running one operation on many hosts: at most `parallel` at once, each host's
//! result kept apart, one host's failure never stopping the others.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::OpError;
use crate::config::{Config, HostConfig};
use crate::remote::{self, Transport};

/// One host's outcome.
pub struct HostResult<T> {
    pub host: String,
    pub result: Result<T, OpError>,
}

/// Opens each host's transport and runs `f` on it, `cfg.parallel` hosts at a time.
/// Results come back in the order of `hosts`; `on_done` sees each as it completes.
pub fn for_each_host<T: Send>(
    cfg: &Config,
    hosts: &[&HostConfig],
    f: impl Fn(&dyn Transport, &HostConfig) -> Result<T, OpError> + Sync,
    on_done: impl Fn(&HostConfig, &Result<T, OpError>) + Sync,
) -> Vec<HostResult<T>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<T, OpError>>>> =
        hosts.iter().map(|_| Mutex::new(None)).collect();
    let workers = cfg.parallel.max(1).min(hosts.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(host) = hosts.get(i) else { break };
                    let r = remote::open(cfg, host)
                        .map_err(OpError::from)
                        .and_then(|t| f(t.as_ref(), host));
                    on_done(host, &r);
                    *slots[i].lock().expect("slot") = Some(r);
                }
            });
        }
    });
    hosts
        .iter()
        .zip(slots)
        .map(|(h, slot)| HostResult {
            host: h.name.clone(),
            result: slot.into_inner().expect("slot").expect("every host ran"),
        })
        .collect()
}

/// The exit code for a set of per-host outcomes (SPEC §3): 0 all done; 6 some done and
/// some not; when none was done, the common code of the failures (3 when all were
/// unreachable, 4 when all locked...), else 1.
pub fn exit_code<T>(results: &[HostResult<T>]) -> i32 {
    let codes: Vec<i32> = results
        .iter()
        .map(|r| r.result.as_ref().map_or_else(|e| e.exit_code(), |_| 0))
        .collect();
    exit_code_of(&codes)
}

/// [`exit_code`] over plain codes (0 = done on that host).
pub fn exit_code_of(codes: &[i32]) -> i32 {
    let failed: Vec<i32> = codes.iter().copied().filter(|c| *c != 0).collect();
    if failed.is_empty() {
        0
    } else if failed.len() < codes.len() {
        6
    } else if failed.iter().all(|c| *c == failed[0]) {
        failed[0]
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::exit_code_of;

    #[test]
    fn exit_codes_follow_the_spec() {
        assert_eq!(exit_code_of(&[0, 0]), 0);
        assert_eq!(exit_code_of(&[0, 3]), 6);
        assert_eq!(exit_code_of(&[3, 3]), 3);
        assert_eq!(exit_code_of(&[4]), 4);
        assert_eq!(exit_code_of(&[3, 5]), 1);
        assert_eq!(exit_code_of(&[]), 0);
    }
}
