//! One tenant quota, several workers: how the processes on one store share every bucket without a
//! coordinator of their own (ARCHITECTURE.md, "One quota, several workers").
//!
//! - **Shares from the registry.** Each beat, a worker counts the live workers and takes `1/N` of
//!   every shared bucket (`Throttle::set_share`); with work enough for all, their sum is the quota.
//!   A worker that leaves (drained or dead) gives its share back within a beat (drained) or the
//!   liveness window (dead); a worker that joins waits `JOIN_WAIT` before it claims, so that every
//!   peer has counted it and shrunk its own share first: the sum never goes over.
//! - **Windows passed on.** A 429's window closes the buckets here and is published through the
//!   store (PostgreSQL `NOTIFY`); every other worker closes the same buckets for the same window.
//! - **Held while unseen.** A worker whose beats fail for two beats holds all its calls: its peers
//!   will count it dead one beat later and take its share.

use crate::app::App;
use crate::remote::throttle::{BucketId, BucketKey, ClosedWindow};
use crate::store::QuotaWindow;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A worker's share of every shared bucket when `live` workers (itself included) share the quota.
pub fn share(live: usize) -> f64 {
    1.0 / live.max(1) as f64
}

/// How long a joining worker waits, in beats, before it claims: every peer beats (and re-counts)
/// within one beat, and the margin covers a slow beat.
pub const JOIN_WAIT_BEATS: f64 = 1.25;

/// Counts the live workers (seen within `live_window`) and takes this worker's share; returns the count.
pub async fn rebalance(app: &App, live_window: Duration) -> anyhow::Result<usize> {
    let since = App::now_ms() - live_window.as_millis() as i64;
    let live = app.store.live_workers(since).await?.len().max(1);
    app.throttle.set_share(share(live));
    Ok(live)
}

/// The store's form of a window closed here.
fn published(from: &str, window: &ClosedWindow, now_ms: i64) -> QuotaWindow {
    QuotaWindow {
        from: from.to_string(),
        buckets: window
            .keys
            .iter()
            .map(|k| (k.id.name().to_string(), k.key.clone()))
            .collect(),
        until_ms: now_ms + window.wait.as_millis() as i64,
    }
}

/// The buckets of a peer's window this process knows, and how long from `now_ms` they stay closed
/// (None once it has passed).
fn honoured(window: &QuotaWindow, now_ms: i64) -> Option<(Vec<BucketKey>, Duration)> {
    let left = window.until_ms - now_ms;
    if left <= 0 {
        return None;
    }
    let keys = window
        .buckets
        .iter()
        .filter_map(|(name, key)| {
            Some(BucketKey {
                id: BucketId::from_name(name)?,
                key: key.clone(),
            })
        })
        .collect();
    Some((keys, Duration::from_millis(left as u64)))
}

/// Passes every window closed here on to the peers, and honours theirs, until aborted. A store
/// that carries no windows (SQLite) leaves only the first half.
pub async fn share_windows(app: std::sync::Arc<App>, worker: String) {
    let mut ours = app.throttle.windows();
    let mut theirs = match app.store.follow_quota_windows().await {
        Ok(windows) => windows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot follow the peers' quota windows; sharing only by the registry");
            None
        }
    };
    loop {
        tokio::select! {
            got = ours.recv() => match got {
                Ok(window) => {
                    let note = published(&worker, &window, App::now_ms());
                    if let Err(e) = app.store.publish_quota_window(&note).await {
                        tracing::warn!(error = %e, "could not pass a quota window on");
                    }
                }
                Err(RecvError::Lagged(n)) => tracing::warn!(windows = n, "quota windows not passed on: too many at once"),
                Err(RecvError::Closed) => return,
            },
            Some(note) = async { match theirs.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => {
                if note.from != worker
                    && let Some((keys, wait)) = honoured(&note, App::now_ms())
                {
                    tracing::debug!(from = %note.from, wait_ms = wait.as_millis() as u64, "a peer's quota window");
                    app.throttle.honour_peer_window(&keys, wait);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_split_the_quota_evenly() {
        assert_eq!(share(0), 1.0);
        assert_eq!(share(1), 1.0);
        assert_eq!(share(3) * 3.0, 1.0);
    }

    #[test]
    fn a_window_travels_by_name_and_wall_clock() {
        let window = ClosedWindow {
            keys: vec![
                BucketKey::of(BucketId::TeamsWrite),
                BucketKey::keyed(BucketId::ClassroomUser, "admin@x"),
            ],
            wait: Duration::from_millis(1500),
        };
        let note = published("w1", &window, 10_000);
        assert_eq!(note.until_ms, 11_500);
        let (keys, wait) = honoured(&note, 10_400).unwrap();
        assert_eq!(keys, window.keys);
        assert_eq!(wait, Duration::from_millis(1100));
        assert_eq!(honoured(&note, 11_500), None, "passed");
        let unknown = QuotaWindow {
            buckets: vec![("nobody.knows".into(), None)],
            ..note
        };
        assert_eq!(honoured(&unknown, 10_000).unwrap().0, vec![]);
    }
}
