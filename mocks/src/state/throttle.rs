//! Quotas and `Retry-After`: per-bucket request counts (fixed one-second windows for Graph,
//! 60-second sliding windows for Classroom), the windows the mock announced with its 429s, and
//! the counters of 429s sent and of requests that came back too early. Its lock is never held
//! together with any other.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::options::Quotas;

/// The quota windows and the `Retry-After` bookkeeping, shared by all fakes.
#[derive(Default)]
pub(crate) struct Throttle {
    windows: Mutex<Windows>,
    violations: AtomicU64,
    throttled: AtomicU64,
}

impl Throttle {
    fn lock(&self) -> MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets the request through (counting it in every bucket) or names the bucket that is full.
    pub fn admit(&self, quotas: &Quotas, keys: &[String], now: Instant) -> Option<String> {
        self.lock().admit(quotas, keys, now)
    }

    /// Counts the request once if any of its buckets is inside an announced `Retry-After`.
    pub fn check_violations(&self, keys: &[String], at: Instant) {
        let windows = self.lock();
        if windows.closed.is_empty() {
            return;
        }
        if keys
            .iter()
            .any(|k| windows.closed.get(k).is_some_and(|until| at < *until))
        {
            self.violations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a 429 and, when it carried a wait, closes the bucket for that long.
    pub fn note_throttled(&self, key: Option<&String>, wait: Option<Duration>) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        if let (Some(key), Some(wait)) = (key, wait) {
            let until = Instant::now() + wait;
            let mut windows = self.lock();
            let entry = windows.closed.entry(key.clone()).or_insert(until);
            *entry = (*entry).max(until);
        }
    }

    pub fn violations(&self) -> u64 {
        self.violations.load(Ordering::Relaxed)
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

/// Per-bucket request counts, and the `Retry-After` windows the mock announced.
#[derive(Default)]
struct Windows {
    /// Graph: bucket key → (window start, requests let through in it).
    fixed: HashMap<String, (Instant, u32)>,
    /// Classroom: bucket key → arrival times of requests let through in the last minute.
    sliding: HashMap<String, VecDeque<Instant>>,
    /// Bucket key → end of the announced `Retry-After`.
    closed: HashMap<String, Instant>,
}

/// How a bucket is limited.
enum Window {
    Second,
    Minute,
}

/// Limit of a bucket key, None when unlimited.
fn limit_for(quotas: &Quotas, key: &str) -> Option<(u32, Window)> {
    let (limit, window) = match key.split_once(':').map_or(key, |(kind, _)| kind) {
        "teams_create" => (quotas.teams_create_per_sec, Window::Second),
        "teams_write" => (quotas.teams_write_per_sec, Window::Second),
        "teams_read" => (quotas.teams_read_per_sec, Window::Second),
        "education" => (quotas.education_per_sec, Window::Second),
        "per_team" => (quotas.per_team_per_sec, Window::Second),
        "per_client" => (quotas.classroom_per_client_per_min, Window::Minute),
        "per_user" => (quotas.classroom_per_user_per_min, Window::Minute),
        _ => return None,
    };
    (limit > 0).then_some((limit, window))
}

impl Windows {
    /// Lets the request through (counting it in every bucket) or names the bucket that is full.
    fn admit(&mut self, quotas: &Quotas, keys: &[String], now: Instant) -> Option<String> {
        for key in keys {
            let Some((limit, window)) = limit_for(quotas, key) else {
                continue;
            };
            let used = match window {
                Window::Second => match self.fixed.get(key) {
                    Some((start, count)) if now.duration_since(*start) < Duration::from_secs(1) => {
                        *count
                    }
                    _ => 0,
                },
                Window::Minute => {
                    let log = self.sliding.entry(key.clone()).or_default();
                    while log
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
                    {
                        log.pop_front();
                    }
                    log.len() as u32
                }
            };
            if used >= limit {
                return Some(key.clone());
            }
        }
        for key in keys {
            let Some((_, window)) = limit_for(quotas, key) else {
                continue;
            };
            match window {
                Window::Second => {
                    let entry = self.fixed.entry(key.clone()).or_insert((now, 0));
                    if now.duration_since(entry.0) >= Duration::from_secs(1) {
                        *entry = (now, 0);
                    }
                    entry.1 += 1;
                }
                Window::Minute => self.sliding.entry(key.clone()).or_default().push_back(now),
            }
        }
        None
    }
}

/// `Retry-After` as delta-seconds (fractions allowed, as Graph has sent `2.128`) or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (date.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            None,
            "a date in the past is no wait"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn fixed_windows_refuse_over_the_limit() {
        let quotas = Quotas {
            teams_create_per_sec: 2,
            ..Quotas::documented()
        };
        let mut throttle = Windows::default();
        let now = Instant::now();
        let keys = vec!["teams_create".to_string()];
        assert_eq!(throttle.admit(&quotas, &keys, now), None);
        assert_eq!(throttle.admit(&quotas, &keys, now), None);
        assert_eq!(
            throttle.admit(&quotas, &keys, now),
            Some("teams_create".into())
        );
        assert_eq!(
            throttle.admit(&quotas, &keys, now + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn sliding_windows_forget_after_a_minute() {
        let quotas = Quotas {
            classroom_per_user_per_min: 1,
            ..Quotas::documented()
        };
        let mut throttle = Windows::default();
        let now = Instant::now();
        let keys = vec!["per_client".to_string(), "per_user:a@x".to_string()];
        assert_eq!(throttle.admit(&quotas, &keys, now), None);
        assert_eq!(
            throttle.admit(&quotas, &keys, now + Duration::from_secs(59)),
            Some("per_user:a@x".into())
        );
        assert_eq!(
            throttle.admit(&quotas, &keys, now + Duration::from_secs(60)),
            None
        );
    }
}
