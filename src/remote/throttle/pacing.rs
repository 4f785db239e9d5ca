//! Smooth pacing of one bucket with governor, on the throttle's one clock (tokio's, so tests can
//! pause it).

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// Pacing leaves this share of the quota as burst room, so timer lag can be caught up without ever
/// exceeding the quota within the window the service counts it over: paced at 98% of the rate, with
/// 2% of one window's quota as burst, no window ever sees more than its quota.
pub(super) const BURST_SHARE: f64 = 0.02;

/// The throttle's one clock. tokio's `Instant::now` is the system's monotonic clock
/// (`std::time::Instant::now`) unless a test has paused tokio's time; then the throttle follows the
/// paused clock like the `tokio::time::sleep`s it waits with, so its tests are exact.
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// governor's clock, reading [`now`] (governor's default clock, quanta, cannot follow tokio's
/// paused time).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct TokioClock;

impl Clock for TokioClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        now()
    }
}

pub(super) type DirectLimiter =
    RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Instant>>;
pub(super) type KeyedLimiter =
    RateLimiter<String, DashMapStateStore<String>, TokioClock, NoOpMiddleware<Instant>>;

pub(super) enum Limiter {
    Direct(DirectLimiter),
    Keyed(KeyedLimiter),
}

impl Limiter {
    /// `window`: how long the service counts the quota over (one second for Graph, a minute for
    /// Classroom and Teams owner adds).
    pub(super) fn new(keyed: bool, per_second: f64, window: Duration) -> Limiter {
        let q = quota(per_second, window);
        if keyed {
            Limiter::Keyed(RateLimiter::dashmap_with_clock(q, TokioClock))
        } else {
            Limiter::Direct(RateLimiter::direct_with_clock(q, TokioClock))
        }
    }

    /// Spends every cell a new limiter would hand out at once (for `key`s, if keyed): a limiter made
    /// anew for a new rate starts with its burst full, and a rate that changes several times (a
    /// share re-balanced, a rate lowered) must not add a burst each time.
    pub(super) fn drain<'a>(&self, keys: impl Iterator<Item = &'a str>) {
        match self {
            Limiter::Direct(l) => while l.check().is_ok() {},
            Limiter::Keyed(l) => {
                for key in keys {
                    let key = key.to_string();
                    while l.check_key(&key).is_ok() {}
                }
            }
        }
    }

    /// A cell now, or how long until one may be free.
    pub(super) fn check(&self, key: &str) -> Result<(), Duration> {
        match self {
            Limiter::Direct(l) => l.check().map_err(|n| n.wait_time_from(l.clock().now())),
            Limiter::Keyed(l) => l
                .check_key(&key.to_string())
                .map_err(|n| n.wait_time_from(l.clock().now())),
        }
    }
}

/// A window of at least this many cells whose 2% is less than one cell still gets a second cell of
/// burst (see `quota`).
const SECOND_CELL_FROM: f64 = 30.0;

/// Smooth pacing at 98% of the rate, with a burst of 2% of one `window`'s quota: never more than
/// the quota in any window. The burst is what absorbs late wake-ups: with a burst of one cell, every
/// millisecond a timer fires late is lost for good (at 30 requests a second, about 4% of the rate).
/// So a window of 30 cells or more always gets two, and is paced a little slower to make room for
/// the second: at most `floor(paced × window) + 2` cells in any window, never more than its quota
/// (Graph's 30 writes a second: paced at 28.99/s, and no longer losing the timer's lag).
pub(super) fn quota(per_second: f64, window: Duration) -> Quota {
    let per_second = per_second.max(0.001);
    let seconds = window.as_secs_f64();
    let cells = per_second * seconds;
    let mut burst = ((cells * BURST_SHARE).floor() as u32).max(1);
    let mut paced = per_second * (1.0 - BURST_SHARE);
    if burst == 1 && cells >= SECOND_CELL_FROM {
        burst = 2;
        paced = paced.min((cells.floor() - 1.01) / seconds);
    }
    let period = Duration::from_secs_f64(1.0 / paced);
    Quota::with_period(period)
        .expect("period is positive")
        .allow_burst(NonZeroU32::new(burst).expect("burst is at least 1"))
}
