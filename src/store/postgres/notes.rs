//! Notifications between the processes on one database: new work (`NEW_WORK`, payload
//! `schema:target`) and quota windows (`QUOTA_WINDOWS`, payload `schema:{json}`). Each follower
//! listens on a connection of its own (a pool of one, so the store's pool keeps all its
//! connections); a lost connection is re-established with a growing pause while holders poll.
//! The payload names the schema, so deployments sharing a database (and the test suite's schemas)
//! do not hear each other. Owns the channels and their payloads.

use super::PostgresStore;
use crate::store::{QuotaWindow, StoreResult, WorkSignal};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The channel that says new work is waiting; its payload is `schema:target`.
pub(super) const NEW_WORK: &str = "class_sync_jobs";
/// The channel that carries quota windows; its payload is `schema:` and a `QuotaWindow` in JSON.
const QUOTA_WINDOWS: &str = "class_sync_quota";

/// The longest pause between attempts to get a lost listener back (polling covers the gap).
const RELISTEN_MAX: Duration = Duration::from_secs(30);
/// Quota windows waiting for their holder before new ones are dropped (a hint, never a block).
const WINDOWS_BUFFER: usize = 256;

/// Where a follower's notes go, and how it knows no one listens any more.
enum Sink {
    /// Any note is a wake-up; one after a reconnect too (jobs enqueued meanwhile were not announced).
    NewWork(watch::Sender<()>),
    Windows(mpsc::Sender<QuotaWindow>),
}

impl Sink {
    fn channel(&self) -> &'static str {
        match self {
            Sink::NewWork(_) => NEW_WORK,
            Sink::Windows(_) => QUOTA_WINDOWS,
        }
    }

    async fn closed(&self) {
        match self {
            Sink::NewWork(s) => s.closed().await,
            Sink::Windows(s) => s.closed().await,
        }
    }

    /// A note of this schema (its payload without the prefix); None after a reconnect.
    fn deliver(&self, payload: Option<&str>) {
        match (self, payload) {
            (Sink::NewWork(s), _) => {
                s.send_replace(());
            }
            (Sink::Windows(s), Some(json)) => match serde_json::from_str::<QuotaWindow>(json) {
                Ok(window) => {
                    if s.try_send(window).is_err() {
                        tracing::debug!("quota window dropped: its holder is behind");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "unreadable quota window ignored"),
            },
            (Sink::Windows(_), None) => {}
        }
    }
}

/// Says, at the commit of `tx`, that jobs of `target` are waiting.
pub(super) async fn notify_new_work(tx: &mut sqlx::PgConnection, target: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, coalesce(current_schema(), '') || ':' || $2)")
        .bind(NEW_WORK)
        .bind(target)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Publishes a quota window at once (no transaction: it is news, not state).
pub(super) async fn publish_quota_window(
    db: &PostgresStore,
    window: &QuotaWindow,
) -> StoreResult<()> {
    let json = serde_json::to_string(window)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    sqlx::query("SELECT pg_notify($1, coalesce(current_schema(), '') || ':' || $2)")
        .bind(QUOTA_WINDOWS)
        .bind(json)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// See `Store::wake_on_new_work`. The first LISTEN's failure is the caller's.
pub(super) async fn wake_on_new_work(db: &PostgresStore) -> StoreResult<WorkSignal> {
    let (signal, waiting) = watch::channel(());
    follow(db, Sink::NewWork(signal)).await?;
    Ok(WorkSignal::new(waiting))
}

/// See `Store::follow_quota_windows`. The first LISTEN's failure is the caller's.
pub(super) async fn follow_quota_windows(
    db: &PostgresStore,
) -> StoreResult<mpsc::Receiver<QuotaWindow>> {
    let (sink, windows) = mpsc::channel(WINDOWS_BUFFER);
    follow(db, Sink::Windows(sink)).await?;
    Ok(windows)
}

/// Listens for `sink`'s channel on a connection of its own and follows it in the background.
async fn follow(db: &PostgresStore, sink: Sink) -> StoreResult<()> {
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&db.pool)
        .await?;
    let prefix = format!("{}:", schema.unwrap_or_default());
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with((*db.pool.connect_options()).clone());
    let listener = listen(&pool, sink.channel()).await?;
    tokio::spawn(follow_until_closed(pool, listener, prefix, sink));
    Ok(())
}

async fn listen(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection is ours to get back (with a pause), not retried at once inside `try_recv`.
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    Ok(listener)
}

/// Hands this schema's notes to `sink` until no one holds its other end; a lost connection is
/// re-established with a growing pause, then reported to the sink.
async fn follow_until_closed(pool: PgPool, mut listener: PgListener, prefix: String, sink: Sink) {
    let channel = sink.channel();
    loop {
        let lost = tokio::select! {
            _ = sink.closed() => return,
            got = listener.try_recv() => match got {
                Ok(Some(note)) => {
                    if let Some(payload) = note.payload().strip_prefix(&prefix) {
                        sink.deliver(Some(payload));
                    }
                    continue;
                }
                Ok(None) => "connection lost".to_string(),
                Err(e) => e.to_string(),
            },
        };
        tracing::warn!(error = %lost, channel, "listener lost; trying to get it back");
        let mut pause = Duration::from_millis(250);
        listener = loop {
            tokio::select! {
                _ = sink.closed() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            match listen(&pool, channel).await {
                Ok(back) => break back,
                Err(e) => {
                    tracing::warn!(error = %e, channel, "listener still down");
                    pause = (pause * 2).min(RELISTEN_MAX);
                }
            }
        };
        tracing::info!(channel, "listener back");
        sink.deliver(None);
    }
}
