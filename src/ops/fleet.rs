//! Running one operation on many hosts: at most `parallel` at once, each host's
//! result kept apart, one host's failure never stopping the others.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use super::OpError;
use super::lock::{HostLock, acquire};
use crate::config::{Config, HostConfig};
use crate::model::Action;
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
                    let started = std::time::Instant::now();
                    let r = remote::open(cfg, host)
                        .map_err(OpError::from)
                        .and_then(|t| f(t.as_ref(), host));
                    let ms = started.elapsed().as_millis();
                    match &r {
                        Ok(_) => tracing::info!(host = %host.name, ms, "done"),
                        Err(e) => tracing::warn!(host = %host.name, ms, "failed: {e}"),
                    }
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

/// The host whose lock a fleet operation (deploy, fleet switch and rollback) takes
/// before any other: the first of the chosen hosts by name. Two operations racing
/// for the same hosts would otherwise each lock part of the fleet and both give up
/// (exit 4); this way the one that locks the leader goes on and the other waits
/// there, touching nothing else.
pub(crate) struct Leader {
    pub(crate) index: usize,
    pub(crate) name: String,
    /// `None` until the leader's lock is settled; then whether it was taken.
    locked: Mutex<Option<bool>>,
    settled: Condvar,
}

impl Leader {
    pub(crate) fn of(hosts: &[&HostConfig]) -> Self {
        let index = (0..hosts.len())
            .min_by(|&a, &b| hosts[a].name.cmp(&hosts[b].name))
            .unwrap_or(0);
        Leader {
            index,
            name: hosts.get(index).map(|h| h.name.clone()).unwrap_or_default(),
            locked: Mutex::new(None),
            settled: Condvar::new(),
        }
    }

    pub(crate) fn settle(&self, locked: bool) {
        let mut g = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        g.get_or_insert(locked);
        self.settled.notify_all();
    }

    /// Waits until the leader's lock is settled: whether it was taken.
    pub(crate) fn wait(&self) -> bool {
        let mut g = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match *g {
                Some(locked) => return locked,
                None => g = self.settled.wait(g).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

/// Settles the leader as "not locked" if its connect returns early.
pub(crate) struct SettleOnDrop<'a>(pub(crate) Option<&'a Leader>);

impl Drop for SettleOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(l) = self.0 {
            l.settle(false);
        }
    }
}

/// Runs `f(i)` for every `i` in `0..n`, `parallel` at a time, `first` before any other.
pub(crate) fn par_each_from(n: usize, parallel: usize, first: usize, f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    let workers = parallel.max(1).min(n.max(1));
    let nth = |k: usize| match k {
        0 => first,
        k if k <= first => k - 1,
        k => k,
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = nth(next.fetch_add(1, Ordering::Relaxed));
                    if i >= n {
                        break;
                    }
                    f(i);
                }
            });
        }
    });
}

/// `f(i)` for every `i` in `0..n`, `parallel` at a time; the results in order.
pub(crate) fn par_map<R: Send>(n: usize, parallel: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let slots: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    par_each_from(n, parallel, 0, |i| {
        let r = f(i);
        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every index ran")
        })
        .collect()
}

/// One host of a fleet operation, connected and locked.
pub struct Held {
    pub t: Box<dyn Transport>,
    pub lock: HostLock,
}

/// Connects to every host and takes its lock for `action`, the [`Leader`]'s first:
/// the others are locked only once it is held. `None`: not tried, because the
/// leader could not be locked (its own entry says why).
pub fn lock_fleet(
    cfg: &Config,
    hosts: &[&HostConfig],
    action: Action,
) -> Vec<Option<Result<Held, OpError>>> {
    let leader = Leader::of(hosts);
    let slots: Vec<Mutex<Option<Result<Held, OpError>>>> =
        hosts.iter().map(|_| Mutex::new(None)).collect();
    par_each_from(hosts.len(), cfg.parallel, leader.index, |i| {
        let host = hosts[i];
        let is_leader = i == leader.index;
        let mut settle = SettleOnDrop(is_leader.then_some(&leader));
        let r = remote::open(cfg, host)
            .map_err(OpError::from)
            .and_then(|t| {
                if !is_leader && !leader.wait() {
                    return Ok(None);
                }
                let lock = acquire(t.as_ref(), host, action)?;
                if let Some(l) = settle.0.take() {
                    l.settle(true);
                }
                Ok(Some(Held { t, lock }))
            });
        drop(settle);
        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = r.transpose();
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
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
