//! Running one operation on many hosts: at most `parallel` at once, each host's
//! result kept apart, one host's failure never stopping the others.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::OpError;
use super::leader::{Leader, SettleOnDrop};
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
    let results = par_map(hosts.len(), cfg.parallel, |i| {
        let host = hosts[i];
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
        r
    });
    hosts
        .iter()
        .zip(results)
        .map(|(h, result)| HostResult {
            host: h.name.clone(),
            result,
        })
        .collect()
}

/// The crate's one fan-out: `f(i)` for every `i` in `0..n`, at most `parallel` at
/// once, `first` started before any other (then the others in order); the results
/// in index order. Every fleet operation (scan, switch, lock, deploy...) runs on it.
pub(crate) fn par_map_from<R: Send>(
    n: usize,
    parallel: usize,
    first: usize,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let workers = parallel.max(1).min(n.max(1));
    let nth = |k: usize| match k {
        0 => first,
        k if k <= first => k - 1,
        k => k,
    };
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = nth(next.fetch_add(1, Ordering::Relaxed));
                        if i >= n {
                            break mine;
                        }
                        mine.push((i, f(i)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    // Each index ran exactly once (`next` hands each out once), so this is `0..n`.
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// [`par_map_from`] starting at index 0.
pub(crate) fn par_map<R: Send>(n: usize, parallel: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    par_map_from(n, parallel, 0, f)
}

/// [`par_map_from`] over `items`, each lent mutably to `f`.
pub(crate) fn par_each_mut<T: Send>(
    items: &mut [T],
    parallel: usize,
    first: usize,
    f: impl Fn(&mut T) + Sync,
) {
    let cells: Vec<Mutex<&mut T>> = items.iter_mut().map(Mutex::new).collect();
    par_map_from(cells.len(), parallel, first, |i| {
        let mut item = cells[i].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut item)
    });
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
    par_map_from(hosts.len(), cfg.parallel, leader.index, |i| {
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
        r.transpose()
    })
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
    use super::{exit_code_of, par_each_mut, par_map, par_map_from};
    use std::sync::Mutex;

    #[test]
    fn the_fan_out_runs_every_index_once_first_first_results_in_order() {
        let order = Mutex::new(Vec::new());
        let r = par_map_from(4, 1, 2, |i| {
            order.lock().unwrap().push(i);
            i * 10
        });
        assert_eq!(r, [0, 10, 20, 30]);
        assert_eq!(*order.lock().unwrap(), [2, 0, 1, 3]);
        for parallel in [0, 1, 3, 16] {
            assert_eq!(par_map(5, parallel, |i| i), [0, 1, 2, 3, 4]);
        }
        assert!(par_map(0, 4, |i| i).is_empty());
        let mut items = vec![1, 2, 3];
        par_each_mut(&mut items, 2, 1, |x| *x *= 2);
        assert_eq!(items, [2, 4, 6]);
    }

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
