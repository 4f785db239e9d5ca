//! Retry timing: exponential backoff with jitter.
//!
//! The `backoff` crate was asked for and is used here, and only here. It is unmaintained
//! (RUSTSEC-2025-0012); swapping it for `backon` means changing this one module.

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff;
use std::time::Duration;

/// How long to wait between tries: starts at `initial`, doubles, never above `max`, ±50 % jitter.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn new(initial_seconds: f64, max_seconds: f64) -> Self {
        RetryPolicy {
            initial: Duration::from_secs_f64(initial_seconds),
            max: Duration::from_secs_f64(max_seconds),
        }
    }

    /// A fresh schedule for one sequence of tries.
    pub fn schedule(&self) -> RetrySchedule {
        RetrySchedule(ExponentialBackoff {
            current_interval: self.initial,
            initial_interval: self.initial,
            randomization_factor: 0.5,
            multiplier: 2.0,
            max_interval: self.max,
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        })
    }

    /// The delay before try `attempt + 1` when only the attempt count survives (jobs in the store).
    pub fn delay_for_attempt(&self, attempt: u32) -> Duration {
        let mut s = self.schedule();
        let mut d = self.initial;
        for _ in 0..attempt.clamp(1, 32) {
            d = s.next_delay();
        }
        d
    }
}

/// One sequence of backoff delays.
pub struct RetrySchedule(ExponentialBackoff);

impl RetrySchedule {
    pub fn next_delay(&mut self) -> Duration {
        // With max_elapsed_time = None the schedule never ends.
        self.0.next_backoff().unwrap_or(self.0.max_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_and_stay_capped() {
        let p = RetryPolicy::new(1.0, 8.0);
        let mut s = p.schedule();
        let first = s.next_delay();
        assert!(
            first >= Duration::from_millis(500) && first <= Duration::from_millis(1500),
            "{first:?}"
        );
        for _ in 0..20 {
            assert!(s.next_delay() <= Duration::from_secs(12), "max plus jitter");
        }
        assert!(p.delay_for_attempt(10) >= Duration::from_secs(4));
    }
}
