//! The leader lock of a fleet operation: which host is locked first, and how the
//! others wait for it.

use std::sync::{Condvar, Mutex};

use crate::config::HostConfig;

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
