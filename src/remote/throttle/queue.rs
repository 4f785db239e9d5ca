//! Callers waiting for a cell of one bucket (or one key of a keyed bucket), in lane order: the
//! highest lane first, oldest first within it, and every `FAIR_EVERY`th cell to the oldest waiter.

use super::pacing::Limiter;
use crate::core::job::Lane;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Every this many cells of a queue, the oldest waiter goes first whatever its lane (no starvation).
pub(super) const FAIR_EVERY: u64 = 8;

/// One caller waiting for a cell.
pub(super) struct Waiter {
    pub(super) lane: Lane,
    pub(super) notify: Notify,
    /// Set (and the waiter removed from its queue) when a cell was granted to it.
    pub(super) granted: AtomicBool,
}

/// Callers waiting on one queue (a bucket, or one key of a keyed bucket).
#[derive(Default)]
pub(super) struct Queue {
    /// Ticket number → waiter.
    pub(super) waiting: BTreeMap<u64, Arc<Waiter>>,
    pub(super) granted: u64,
}

impl Queue {
    /// Who gets the next cell: the highest lane, oldest first; every `FAIR_EVERY`th cell the oldest.
    pub(super) fn head(&self) -> Option<u64> {
        if self.granted % FAIR_EVERY == FAIR_EVERY - 1 {
            return self.waiting.keys().next().copied();
        }
        self.waiting
            .iter()
            .max_by_key(|(seq, w)| (w.lane, std::cmp::Reverse(**seq)))
            .map(|(seq, _)| *seq)
    }

    pub(super) fn wake_head(&self) {
        if let Some(w) = self.head().and_then(|h| self.waiting.get(&h)) {
            w.notify.notify_one();
        }
    }

    /// Hands every cell the limiter has now to waiters in `head` order (each granted waiter wakes
    /// on its own, so a fast bucket never waits on one task waking the next); then how long until
    /// the next cell, if anyone still waits.
    pub(super) fn dispatch(&mut self, limiter: &Limiter, key: &str) -> Option<Duration> {
        while let Some(h) = self.head() {
            match limiter.check(key) {
                Ok(()) => {
                    if let Some(w) = self.waiting.remove(&h) {
                        self.granted += 1;
                        w.granted.store(true, Ordering::Release);
                        w.notify.notify_one();
                    }
                }
                Err(wait) => {
                    self.wake_head();
                    return Some(wait);
                }
            }
        }
        None
    }
}
