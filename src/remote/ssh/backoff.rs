//! Not paying a connect timeout on every refresh for a host that is down: after a
//! connection attempt that failed *slowly* (no answer until a timeout, or a failure
//! that took at least [`SLOW`]), the next attempts to the same host are refused at once
//! until 1 s, 2 s, 4 s ... (at most 30 s) have passed; a success forgets the failures.
//!
//! A host that refuses at once (sshd stopped, port closed) costs one round trip and is
//! retried every time, so a restarted sshd is found again at the very next refresh.
//! Host key and authentication failures are never held back: they fail fast and the
//! operator may fix them between two refreshes.
//!
//! The state is process-wide (the console drops a transport whose connection failed and
//! opens a new one at the next refresh), keyed by everything that makes a connection
//! (address, port, user, jump host, known_hosts file). The schedule itself is the pure
//! [`Backoff`].

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The first wait after a slow failure.
pub(super) const FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub(super) const MAX: Duration = Duration::from_secs(30);
/// A failure that took at least this long counts as slow (whatever the timeout).
pub(super) const SLOW: Duration = Duration::from_secs(1);

/// The wait after `failures` slow failures in a row (1 s, 2 s, 4 s ... 30 s).
pub(super) fn delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = (failures - 1).min(16);
    FIRST.saturating_mul(1u32 << exp).min(MAX)
}

/// Whether a failed attempt that took `elapsed`, with a connect timeout of `timeout`,
/// is worth holding back the next ones for.
pub(super) fn is_slow(elapsed: Duration, timeout: Duration, timed_out: bool) -> bool {
    timed_out || elapsed >= SLOW.min(timeout / 2)
}

/// One host's schedule of slow failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Backoff {
    pub failures: u32,
    pub last: Instant,
    pub retry_at: Instant,
    /// What the last attempt said (one line), repeated while we wait.
    pub error: String,
}

impl Backoff {
    /// The schedule after one more slow failure at `now`.
    pub fn after_failure(prev: Option<&Backoff>, now: Instant, error: String) -> Backoff {
        let failures = prev.map_or(0, |b| b.failures).saturating_add(1);
        Backoff {
            failures,
            last: now,
            retry_at: now + delay(failures),
            error,
        }
    }

    /// How long to wait still at `now` (None: an attempt may be made).
    pub fn wait_at(&self, now: Instant) -> Option<Duration> {
        (now < self.retry_at).then(|| self.retry_at - now)
    }

    /// The one-line message for an attempt refused at `now`.
    pub fn message(&self, now: Instant) -> String {
        let ago = now.saturating_duration_since(self.last);
        let wait = self.wait_at(now).unwrap_or_default();
        format!(
            "not retried yet: the last attempt {} ago failed ({}); next attempt in {}",
            secs(ago),
            self.error,
            secs(wait)
        )
    }
}

/// `1.2s` — whole tenths, for messages.
fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn registry() -> &'static Mutex<HashMap<String, Backoff>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Backoff>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The wait still due for `key`, as a message, if an attempt must not be made now.
pub(super) fn check(key: &str) -> Option<String> {
    let map = registry().lock().unwrap_or_else(PoisonError::into_inner);
    let now = Instant::now();
    let b = map.get(key)?;
    b.wait_at(now).map(|_| b.message(now))
}

/// Records the outcome of an attempt to `key`.
pub(super) fn record(key: &str, outcome: Outcome) {
    let mut map = registry().lock().unwrap_or_else(PoisonError::into_inner);
    match outcome {
        Outcome::Connected => {
            map.remove(key);
        }
        // A fast failure neither adds to the schedule nor clears it.
        Outcome::FastFailure => {}
        Outcome::SlowFailure(error) => {
            let next = Backoff::after_failure(map.get(key), Instant::now(), error);
            map.insert(key.to_string(), next);
        }
    }
}

/// What an attempt came to.
pub(super) enum Outcome {
    Connected,
    FastFailure,
    SlowFailure(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_thirty_seconds() {
        let d: Vec<u64> = (0..9).map(|n| delay(n).as_secs()).collect();
        assert_eq!(d, [0, 1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(delay(u32::MAX), MAX);
    }

    #[test]
    fn slow_means_timed_out_or_long() {
        let t = Duration::from_secs(10);
        assert!(is_slow(Duration::from_millis(10), t, true));
        assert!(is_slow(Duration::from_secs(1), t, false));
        assert!(!is_slow(Duration::from_millis(5), t, false));
        // A short connect timeout: half of it is already slow.
        assert!(is_slow(
            Duration::from_millis(300),
            Duration::from_millis(500),
            false
        ));
    }

    #[test]
    fn schedule_grows_then_allows_an_attempt() {
        let t0 = Instant::now();
        let b1 = Backoff::after_failure(None, t0, "no answer".into());
        assert_eq!(b1.failures, 1);
        assert_eq!(b1.wait_at(t0), Some(Duration::from_secs(1)));
        assert_eq!(b1.wait_at(t0 + Duration::from_secs(1)), None);
        let t1 = t0 + Duration::from_secs(2);
        let b2 = Backoff::after_failure(Some(&b1), t1, "no answer".into());
        assert_eq!(b2.wait_at(t1), Some(Duration::from_secs(2)));
        let m = b2.message(t1 + Duration::from_millis(500));
        assert!(m.contains("0.5s ago failed (no answer)"), "{m}");
        assert!(m.contains("next attempt in 1.5s"), "{m}");
    }

    #[test]
    fn registry_holds_back_only_slow_failures_and_forgets_on_success() {
        let key = "test-key-registry\0unique";
        record(key, Outcome::FastFailure);
        assert_eq!(check(key), None);
        record(key, Outcome::SlowFailure("timed out".into()));
        let m = check(key).expect("held back");
        assert!(m.contains("timed out"), "{m}");
        record(key, Outcome::Connected);
        assert_eq!(check(key), None);
    }
}
