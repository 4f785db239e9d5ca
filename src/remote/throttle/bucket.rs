//! One bucket: its limiter, its waiters' queues, its `Retry-After` gates per key, and its rate
//! lowered after repeated throttling and recovered slowly.

use super::buckets::BucketId;
use super::pacing::{Limiter, now};
use super::queue::{Queue, Waiter};
use crate::core::job::Lane;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Throttling episodes within this time that make the rate go down.
pub(super) const EPISODES_TO_LOWER: usize = 3;
pub(super) const EPISODE_WINDOW: Duration = Duration::from_secs(30);
/// Lowering multiplies the rate by this; never below `FLOOR_SHARE` of the ceiling.
pub(super) const LOWER_BY: f64 = 0.75;
pub(super) const FLOOR_SHARE: f64 = 0.1;
/// Recovery: after this long without a 429, the rate climbs back by `RECOVER_SHARE` of the ceiling.
pub(super) const RECOVER_AFTER: Duration = Duration::from_secs(15);
pub(super) const RECOVER_SHARE: f64 = 0.05;

/// Counters per bucket, for the benchmark table and `/metrics`.
#[derive(Default)]
pub struct BucketStats {
    pub calls: AtomicU64,
    pub throttled: AtomicU64,
}

/// How the rate of a bucket follows the service's answers.
pub(super) struct Adaptive {
    pub(super) episodes: VecDeque<Instant>,
    /// A 429 before this instant belongs to the episode already counted.
    pub(super) episode_until: Instant,
    pub(super) last_change: Instant,
    pub(super) last_throttled: Option<Instant>,
}

pub(super) struct Bucket {
    pub(super) id: BucketId,
    /// The tenant's quota for this bucket, as configured (requests per second).
    pub(super) configured: f64,
    /// This process's share of the tenant's quota (f64 bits), 1 when it works alone; see
    /// `Throttle::set_share`. The ceiling of the rate is `configured × share`.
    pub(super) share: AtomicU64,
    /// Current rate (f64 bits), lowered by repeated throttling.
    pub(super) current: AtomicU64,
    pub(super) limiter: RwLock<Arc<Limiter>>,
    pub(super) adaptive: Mutex<Adaptive>,
    pub(super) queues: Mutex<HashMap<String, Queue>>,
    pub(super) next_ticket: AtomicU64,
    /// Closed until this instant, per key ("" for unkeyed buckets).
    pub(super) gates: Mutex<HashMap<String, Instant>>,
    pub(super) stats: BucketStats,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes a waiter out of its queue if its wait ends without a cell (the call was dropped).
pub(super) struct Ticket<'a> {
    pub(super) bucket: &'a Bucket,
    pub(super) key: &'a str,
    pub(super) seq: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut queues = lock(&self.bucket.queues);
        if let Some(q) = queues.get_mut(self.key) {
            q.waiting.remove(&self.seq);
            if q.waiting.is_empty() {
                queues.remove(self.key);
            } else {
                q.wake_head();
            }
        }
    }
}

impl Bucket {
    pub(super) fn new(id: BucketId, per_second: f64) -> Bucket {
        let now = now();
        Bucket {
            id,
            configured: per_second,
            share: AtomicU64::new(1f64.to_bits()),
            current: AtomicU64::new(per_second.to_bits()),
            limiter: RwLock::new(Arc::new(Limiter::new(id.keyed(), per_second, id.window()))),
            adaptive: Mutex::new(Adaptive {
                episodes: VecDeque::new(),
                episode_until: now,
                last_change: now,
                last_throttled: None,
            }),
            queues: Mutex::new(HashMap::new()),
            next_ticket: AtomicU64::new(0),
            gates: Mutex::new(HashMap::new()),
            stats: BucketStats::default(),
        }
    }

    pub(super) fn current_rate(&self) -> f64 {
        f64::from_bits(self.current.load(Ordering::Relaxed))
    }

    pub(super) fn share(&self) -> f64 {
        f64::from_bits(self.share.load(Ordering::Relaxed))
    }

    /// The most this process may send: its share of the configured quota.
    pub(super) fn ceiling(&self) -> f64 {
        self.configured * self.share()
    }

    /// Takes `share` of the configured quota. The rate keeps its place relative to the ceiling (a
    /// bucket lowered by throttling stays lowered by as much), so a re-balance never undoes it.
    pub(super) fn set_share(&self, share: f64) {
        let old = self.share.swap(share.to_bits(), Ordering::Relaxed);
        let old = f64::from_bits(old);
        if old == share {
            return;
        }
        let scaled = self.current_rate() / old * share;
        tracing::debug!(
            bucket = self.id.name(),
            share,
            rate = scaled,
            "new share of the quota"
        );
        self.set_rate(scaled);
    }

    pub(super) fn gate(&self, key: &str) -> Option<Instant> {
        lock(&self.gates)
            .get(key)
            .copied()
            .filter(|until| *until > now())
    }

    /// Waits in `lane` for a cell of this bucket (for `key`). Whoever is at the head of the queue
    /// dispatches: it waits out the gate and the pacing and hands out cells as they come.
    pub(super) async fn take(&self, key: &str, lane: Lane) {
        let seq = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let me = Arc::new(Waiter {
            lane,
            notify: Notify::new(),
            granted: AtomicBool::new(false),
        });
        {
            let mut queues = lock(&self.queues);
            let q = queues.entry(key.to_string()).or_default();
            q.waiting.insert(seq, me.clone());
            q.wake_head();
        }
        let _ticket = Ticket {
            bucket: self,
            key,
            seq,
        };
        loop {
            me.notify.notified().await;
            loop {
                if me.granted.load(Ordering::Acquire) {
                    self.maybe_recover();
                    return;
                }
                if let Some(until) = self.gate(key) {
                    tokio::time::sleep_until(until.into()).await;
                    continue;
                }
                let limiter = self
                    .limiter
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                let next = {
                    let mut queues = lock(&self.queues);
                    let Some(q) = queues.get_mut(key) else { break };
                    if q.head() != Some(seq) {
                        None
                    } else {
                        q.dispatch(&limiter, key)
                    }
                };
                if me.granted.load(Ordering::Acquire) {
                    continue;
                }
                match next {
                    // Still at the head: wait for the next cell (a more urgent caller may take it).
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => break,
                }
            }
        }
    }

    /// A new limiter at `rate`, starting without burst for the keys in use (see `Limiter::drain`).
    pub(super) fn set_rate(&self, rate: f64) {
        self.current.store(rate.to_bits(), Ordering::Relaxed);
        let limiter = Limiter::new(self.id.keyed(), rate, self.id.window());
        {
            let queues = lock(&self.queues);
            let gates = lock(&self.gates);
            limiter.drain(queues.keys().chain(gates.keys()).map(String::as_str));
        }
        *self.limiter.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(limiter);
    }

    /// A 429: counts a throttling episode; several in a row lower the rate.
    pub(super) fn throttled(&self, window_end: Instant) {
        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        let now = now();
        let mut a = lock(&self.adaptive);
        a.last_throttled = Some(now);
        if now < a.episode_until {
            return;
        }
        a.episode_until = window_end;
        a.episodes.push_back(now);
        while a
            .episodes
            .front()
            .is_some_and(|t| now - *t > EPISODE_WINDOW)
        {
            a.episodes.pop_front();
        }
        if a.episodes.len() >= EPISODES_TO_LOWER {
            let lowered = (self.current_rate() * LOWER_BY).max(self.ceiling() * FLOOR_SHARE);
            a.episodes.clear();
            a.last_change = now;
            drop(a);
            tracing::warn!(
                bucket = self.id.name(),
                rate = lowered,
                configured = self.configured,
                "throttled again and again: lowering the rate"
            );
            self.set_rate(lowered);
        }
    }

    /// Climbs back towards the ceiling while the service stops throttling.
    pub(super) fn maybe_recover(&self) {
        let rate = self.current_rate();
        let ceiling = self.ceiling();
        if rate >= ceiling {
            return;
        }
        let now = now();
        let mut a = lock(&self.adaptive);
        let quiet = a.last_throttled.is_none_or(|t| now - t >= RECOVER_AFTER);
        if quiet && now - a.last_change >= RECOVER_AFTER {
            a.last_change = now;
            drop(a);
            let raised = (rate + ceiling * RECOVER_SHARE).min(ceiling);
            tracing::info!(
                bucket = self.id.name(),
                rate = raised,
                "raising the rate again"
            );
            self.set_rate(raised);
        }
    }
}
