//! Rate limits per documented bucket, and the shared `Retry-After` gate.
//!
//! Every remote call names the buckets it spends (`BucketKey`s); `Throttle::acquire` waits until each is
//! open and has a cell. A 429 closes the buckets of the request for every caller until its
//! `Retry-After` has passed (governor itself cannot be paused, so the gate sits in front of it).
//!
//! Architecture Invariant: no request of a bucket is sent while that bucket's gate is closed.

use crate::config::{GoogleLimits, MicrosoftLimits};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The documented buckets (graph-teams-api.md §6, classroom-api.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BucketId {
    TeamsCreate,
    TeamsWrite,
    TeamsRead,
    /// Keyed by team id: 4 requests per second on any one team.
    PerTeam,
    Education,
    /// Classroom, per client (project).
    ClassroomClient,
    /// Classroom, keyed by impersonated user.
    ClassroomUser,
}

impl BucketId {
    pub const ALL: [BucketId; 7] = [
        BucketId::TeamsCreate,
        BucketId::TeamsWrite,
        BucketId::TeamsRead,
        BucketId::PerTeam,
        BucketId::Education,
        BucketId::ClassroomClient,
        BucketId::ClassroomUser,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BucketId::TeamsCreate => "microsoft.teams_create",
            BucketId::TeamsWrite => "microsoft.teams_write",
            BucketId::TeamsRead => "microsoft.teams_read",
            BucketId::PerTeam => "microsoft.per_team",
            BucketId::Education => "microsoft.education",
            BucketId::ClassroomClient => "google.per_client",
            BucketId::ClassroomUser => "google.per_user",
        }
    }

    fn keyed(self) -> bool {
        matches!(self, BucketId::PerTeam | BucketId::ClassroomUser)
    }
}

/// One bucket a request spends: the bucket and, for keyed ones, the key (team id, user).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BucketKey {
    pub id: BucketId,
    pub key: Option<String>,
}

impl BucketKey {
    pub fn of(id: BucketId) -> Self {
        BucketKey { id, key: None }
    }

    pub fn keyed(id: BucketId, key: impl Into<String>) -> Self {
        BucketKey {
            id,
            key: Some(key.into()),
        }
    }
}

enum Limiter {
    Direct(DefaultDirectRateLimiter),
    Keyed(DefaultKeyedRateLimiter<String>),
}

/// Counters per bucket, for the benchmark table and `/metrics`.
#[derive(Default)]
pub struct BucketStats {
    pub calls: AtomicU64,
    pub throttled: AtomicU64,
}

struct Bucket {
    per_second: f64,
    limiter: Limiter,
    /// Closed until this instant, per key ("" for unkeyed buckets).
    gates: Mutex<HashMap<String, Instant>>,
    stats: BucketStats,
}

/// All buckets of one process. Shared by every worker task through an `Arc`.
pub struct Throttle {
    buckets: HashMap<BucketId, Bucket>,
}

/// Smooth pacing: one cell every 1/rate seconds, with a burst of about 100 ms worth of requests,
/// never a whole minute's quota at once.
fn quota(per_second: f64) -> Quota {
    let period = Duration::from_secs_f64(1.0 / per_second.max(0.001));
    let burst = ((per_second / 10.0).ceil() as u32).max(1);
    Quota::with_period(period)
        .expect("period is positive")
        .allow_burst(NonZeroU32::new(burst).expect("burst is at least 1"))
}

impl Throttle {
    /// Buckets for the configured providers; a provider that is not configured has no buckets.
    pub fn new(microsoft: Option<&MicrosoftLimits>, google: Option<&GoogleLimits>) -> Self {
        let mut rates = Vec::new();
        if let Some(m) = microsoft {
            rates.extend([
                (BucketId::TeamsCreate, m.teams_create),
                (BucketId::TeamsWrite, m.teams_write),
                (BucketId::TeamsRead, m.teams_read),
                (BucketId::PerTeam, m.per_team),
                (BucketId::Education, m.education),
            ]);
        }
        if let Some(g) = google {
            rates.extend([
                (BucketId::ClassroomClient, g.per_client / 60.0),
                (BucketId::ClassroomUser, g.per_user / 60.0),
            ]);
        }
        let buckets = rates
            .into_iter()
            .map(|(id, per_second)| {
                let q = quota(per_second);
                let limiter = if id.keyed() {
                    Limiter::Keyed(RateLimiter::keyed(q))
                } else {
                    Limiter::Direct(RateLimiter::direct(q))
                };
                (
                    id,
                    Bucket {
                        per_second,
                        limiter,
                        gates: Mutex::new(HashMap::new()),
                        stats: BucketStats::default(),
                    },
                )
            })
            .collect();
        Throttle { buckets }
    }

    /// Waits until every bucket in `keys` is open and has granted a cell. Keyed (narrow) buckets
    /// are taken first so that a busy team does not hold a cell of the tenant-wide bucket.
    pub async fn acquire(&self, keys: &[BucketKey]) {
        let mut ordered: Vec<&BucketKey> = keys.iter().collect();
        ordered.sort_by_key(|k| !k.id.keyed());
        loop {
            self.wait_gates(keys).await;
            for k in &ordered {
                let Some(b) = self.buckets.get(&k.id) else {
                    continue;
                };
                match (&b.limiter, &k.key) {
                    (Limiter::Keyed(l), Some(key)) => l.until_key_ready(key).await,
                    (Limiter::Keyed(l), None) => l.until_key_ready(&String::new()).await,
                    (Limiter::Direct(l), _) => l.until_ready().await,
                }
            }
            // A 429 may have closed a gate while we waited for cells: never send inside the window.
            if self.closed_until(keys).is_none() {
                for k in keys {
                    if let Some(b) = self.buckets.get(&k.id) {
                        b.stats.calls.fetch_add(1, Ordering::Relaxed);
                    }
                }
                return;
            }
        }
    }

    async fn wait_gates(&self, keys: &[BucketKey]) {
        while let Some(until) = self.closed_until(keys) {
            tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
        }
    }

    /// The latest instant any of `keys` is closed until, if one is closed now.
    fn closed_until(&self, keys: &[BucketKey]) -> Option<Instant> {
        let now = Instant::now();
        keys.iter()
            .filter_map(|k| {
                let b = self.buckets.get(&k.id)?;
                let gates = b.gates.lock().unwrap_or_else(|e| e.into_inner());
                gates.get(k.key.as_deref().unwrap_or("")).copied()
            })
            .filter(|until| *until > now)
            .max()
    }

    /// Closes `keys` for every caller for `wait` (extends, never shortens, a closure already in force).
    pub fn close(&self, keys: &[BucketKey], wait: Duration) {
        let until = Instant::now() + wait;
        for k in keys {
            if let Some(b) = self.buckets.get(&k.id) {
                b.stats.throttled.fetch_add(1, Ordering::Relaxed);
                let mut gates = b.gates.lock().unwrap_or_else(|e| e.into_inner());
                let slot = gates
                    .entry(k.key.clone().unwrap_or_default())
                    .or_insert(until);
                if *slot < until {
                    *slot = until;
                }
            }
        }
    }

    /// (bucket name, configured requests per second, calls sent, 429s received), for reports.
    pub fn report(&self) -> Vec<(&'static str, f64, u64, u64)> {
        let mut rows: Vec<_> = self
            .buckets
            .iter()
            .map(|(id, b)| {
                (
                    id.name(),
                    b.per_second,
                    b.stats.calls.load(Ordering::Relaxed),
                    b.stats.throttled.load(Ordering::Relaxed),
                )
            })
            .collect();
        rows.sort_by_key(|r| r.0);
        rows
    }
}

/// `Retry-After` as delta-seconds (fractions allowed, Graph has sent `2.128`) or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(3600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after(" 2.5 ", now),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        let later = now + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(later), now).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        let past = now - Duration::from_secs(30);
        assert_eq!(
            parse_retry_after(&httpdate::fmt_http_date(past), now),
            Some(Duration::ZERO)
        );
    }

    #[tokio::test]
    async fn a_closed_bucket_holds_every_caller() {
        let t = Throttle::new(Some(&MicrosoftLimits::default()), None);
        let keys = [BucketKey::of(BucketId::TeamsWrite)];
        t.close(&keys, Duration::from_millis(300));
        let started = Instant::now();
        t.acquire(&keys).await;
        assert!(started.elapsed() >= Duration::from_millis(290));
        // Other buckets stay open.
        let started = Instant::now();
        t.acquire(&[BucketKey::of(BucketId::TeamsRead)]).await;
        assert!(started.elapsed() < Duration::from_millis(200));
    }

    #[tokio::test]
    async fn closing_never_shortens() {
        let t = Throttle::new(Some(&MicrosoftLimits::default()), None);
        let keys = [BucketKey::keyed(BucketId::PerTeam, "team-1")];
        t.close(&keys, Duration::from_secs(60));
        t.close(&keys, Duration::from_millis(1));
        assert!(t.closed_until(&keys).unwrap() > Instant::now() + Duration::from_secs(50));
        assert!(
            t.closed_until(&[BucketKey::keyed(BucketId::PerTeam, "team-2")])
                .is_none()
        );
    }
}
