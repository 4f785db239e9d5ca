//! The PostgreSQL store (sqlx, embedded migrations): for several workers on several machines
//! sharing one queue and one tenant quota. `database_url = "postgres://…"` selects it.
//!
//! This file owns connecting (a pool, migrations under sqlx's advisory lock) and the `impl Store`,
//! which only delegates, one module per concern as in `sqlite`: `groups` (schools, groups, links,
//! import), `queue` (jobs: enqueue, grant, claim, leases, ends, and the reads that follow them),
//! `registry` (workers and heartbeats), `provisioning` (each import's outcome per school), `audit`, `runs` (nightly runs and schedule claims).
//!
//! Where the SQLite backend relies on its single writer, this one says how it stays correct with
//! many writers at once (row locks, advisory locks, unique partial indexes); each module explains.

mod audit;
mod groups;
mod mirror;
mod notes;
mod provisioning;
mod queue;
mod reads;
mod registry;
mod runs;
mod sessions;

use crate::core::delta::Delta;
use crate::core::domain::{Group, School, Snapshot, Target};
use crate::core::job::{JobKind, JobState, Lane};
use crate::core::link::Link;
use crate::store::{
    AuditEntry, AuditFilter, ConsoleSession, FinishedJob, GroupChange, GroupPage, GroupQuery,
    ImportApplied, Job, JobFinish, NewJob, PendingSignIn, Run, SchoolImport, SchoolLastImport,
    Store, StoreError, StoreResult, StoredGroup, WorkerInfo,
};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// How long opening waits for the server's first answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL backend of `Store`: one pool; the server arbitrates between processes.
pub struct PostgresStore {
    pool: PgPool,
}

/// Lists and rosters are stored as JSON text.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

fn parse_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl PostgresStore {
    /// Connects to the database at `url` and brings its schema up to date. A failure to reach the
    /// server names the URL without its password.
    pub async fn open(url: &str) -> StoreResult<PostgresStore> {
        let unreachable = |source: sqlx::Error| StoreError::Connect {
            url: super::redacted(url),
            source,
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(unreachable)?
            // A slow statement on a busy server is logged at info, not warned on every stderr.
            .log_slow_statements(log::LevelFilter::Info, Duration::from_secs(1));
        // One connection first, tried once: a server that is not there fails the start at once
        // with its (redacted) URL, where the pool would keep retrying until its acquire timeout.
        let mut first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                let silent = std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer");
                unreachable(sqlx::Error::Io(silent))
            })?
            .map_err(unreachable)?;
        // Two processes starting on a new database at once: sqlx's PostgreSQL migrator takes a
        // session advisory lock (`pg_advisory_lock`, keyed by the database's name) before it even
        // creates its `_sqlx_migrations` table, so the second waits and then finds nothing to do.
        sqlx::migrate!("migrations/postgres")
            .run(&mut first)
            .await?;
        first.close().await?;
        // No ping before each use: it is a round trip per query for both sides, and a connection
        // that did die fails its next statement, which the caller sees as any store error.
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(options);
        Ok(PostgresStore { pool })
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    // Schools, groups and links: `groups`.
    async fn import_snapshot(&self, snapshot: &Snapshot) -> StoreResult<ImportApplied> {
        groups::import_snapshot(self, snapshot).await
    }

    async fn apply_delta(&self, delta: &Delta) -> StoreResult<ImportApplied> {
        groups::apply_delta(self, delta).await
    }

    async fn put_group(&self, group: &Group) -> StoreResult<GroupChange> {
        groups::put_group(self, group).await
    }

    async fn school(&self, id: &str) -> StoreResult<Option<School>> {
        groups::school(self, id).await
    }

    async fn school_ids(&self) -> StoreResult<Vec<String>> {
        groups::school_ids(self).await
    }

    async fn school_count(&self) -> StoreResult<u64> {
        groups::school_count(self).await
    }

    async fn group(&self, id: &str) -> StoreResult<Option<StoredGroup>> {
        groups::group(self, id).await
    }

    async fn groups(&self) -> StoreResult<Vec<StoredGroup>> {
        groups::groups(self).await
    }

    async fn link(&self, group_id: &str, target: Target) -> StoreResult<Option<Link>> {
        groups::link(self, group_id, target).await
    }

    async fn links_of(&self, group_id: &str) -> StoreResult<Vec<Link>> {
        groups::links_of(self, group_id).await
    }

    async fn links_of_groups(&self, group_ids: &[&str]) -> StoreResult<Vec<Link>> {
        groups::links_of_groups(self, group_ids).await
    }

    async fn visible_groups(&self, query: &GroupQuery) -> StoreResult<GroupPage> {
        reads::visible_groups(self, query).await
    }

    async fn group_shown(&self, id: &str) -> StoreResult<Option<(StoredGroup, Vec<Link>)>> {
        reads::group_shown(self, id).await
    }

    async fn link_counts(&self) -> StoreResult<Vec<(String, String, u64)>> {
        reads::link_counts(self).await
    }

    async fn all_links(&self) -> StoreResult<Vec<Link>> {
        groups::all_links(self).await
    }

    async fn save_link(&self, link: &Link) -> StoreResult<()> {
        groups::save_link(self, link).await
    }

    async fn note_held_changes(&self, group_id: &str, target: Target) -> StoreResult<()> {
        groups::note_held_changes(self, group_id, target).await
    }

    // The job queue and the reads that follow jobs: `queue`.
    async fn enqueue_many(&self, jobs: &[NewJob], now_ms: i64) -> StoreResult<Vec<(i64, bool)>> {
        queue::enqueue_many(self, jobs, now_ms).await
    }

    async fn grant_restore(&self, job: &NewJob, now_ms: i64) -> StoreResult<Option<(i64, bool)>> {
        queue::grant_restore(self, job, now_ms).await
    }

    async fn claim(
        &self,
        worker: &str,
        target: Target,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
        live_since_ms: i64,
    ) -> StoreResult<Vec<Job>> {
        queue::claim(self, worker, target, limit, now_ms, lease_ms, live_since_ms).await
    }

    async fn wake_on_new_work(&self) -> StoreResult<Option<crate::store::WorkSignal>> {
        notes::wake_on_new_work(self).await.map(Some)
    }

    async fn publish_quota_window(&self, window: &crate::store::QuotaWindow) -> StoreResult<()> {
        notes::publish_quota_window(self, window).await
    }

    async fn follow_quota_windows(
        &self,
    ) -> StoreResult<Option<tokio::sync::mpsc::Receiver<crate::store::QuotaWindow>>> {
        notes::follow_quota_windows(self).await.map(Some)
    }

    async fn release_held(&self, worker: &str) -> StoreResult<u64> {
        queue::release_held(self, worker).await
    }

    async fn finish_many(&self, worker: &str, ends: &[JobFinish], now_ms: i64) -> StoreResult<()> {
        queue::finish_many(self, worker, ends, now_ms).await
    }

    async fn job(&self, id: i64) -> StoreResult<Option<Job>> {
        queue::job(self, id).await
    }

    async fn pending_work(&self) -> StoreResult<(u64, Option<i64>)> {
        queue::pending_work(self).await
    }

    async fn job_counts(&self) -> StoreResult<Vec<(String, String, u64)>> {
        queue::job_counts(self).await
    }

    async fn queue_depth(&self) -> StoreResult<Vec<(Lane, JobKind, u64)>> {
        queue::queue_depth(self).await
    }

    async fn jobs_finished_between(
        &self,
        after_ms: i64,
        upto_ms: i64,
    ) -> StoreResult<Vec<FinishedJob>> {
        queue::jobs_finished_between(self, after_ms, upto_ms).await
    }

    async fn job_states(&self, ids: &[i64]) -> StoreResult<Vec<(JobState, u64)>> {
        queue::job_states(self, ids).await
    }

    async fn failed_among(&self, ids: &[i64]) -> StoreResult<Vec<Job>> {
        queue::failed_among(self, ids).await
    }

    // The worker registry: `registry`.
    async fn register_worker(&self, info: &WorkerInfo) -> StoreResult<()> {
        registry::register_worker(self, info).await
    }

    async fn heartbeat(&self, worker: &str, now_ms: i64, lease_until_ms: i64) -> StoreResult<()> {
        registry::heartbeat(self, worker, now_ms, lease_until_ms).await
    }

    async fn unregister_worker(&self, worker: &str) -> StoreResult<()> {
        registry::unregister_worker(self, worker).await
    }

    async fn live_workers(&self, since_ms: i64) -> StoreResult<Vec<WorkerInfo>> {
        registry::live_workers(self, since_ms).await
    }

    // Provisioning status: `provisioning`.
    async fn record_school_imports(&self, imports: &[SchoolImport]) -> StoreResult<()> {
        provisioning::record_school_imports(self, imports).await
    }

    async fn school_imports(&self, school: &str, limit: u32) -> StoreResult<Vec<SchoolImport>> {
        provisioning::school_imports(self, school, limit).await
    }

    async fn schools_with_last_import(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SchoolLastImport>> {
        provisioning::schools_with_last_import(self, after, limit).await
    }

    async fn last_import_days(&self) -> StoreResult<Vec<(String, Option<(String, i64)>)>> {
        provisioning::last_import_days(self).await
    }

    // The audit log: `audit`.
    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        audit::audit(self, entry).await
    }

    async fn audit_page(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<(Vec<(i64, AuditEntry)>, u64)> {
        audit::audit_page(self, before, limit).await
    }

    async fn audit_search(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, AuditEntry)>> {
        audit::audit_search(self, filter, before, limit).await
    }

    async fn audit_log(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        audit::audit_log(self, limit).await
    }

    // Nightly runs and schedule claims: `runs`.
    async fn start_run(&self, kind: &str, today: &str, now_ms: i64) -> StoreResult<i64> {
        runs::start_run(self, kind, today, now_ms).await
    }

    async fn finish_run(&self, id: i64, summary: &str, ok: bool, now_ms: i64) -> StoreResult<()> {
        runs::finish_run(self, id, summary, ok, now_ms).await
    }

    async fn last_run(&self, kind: &str, only_ok: bool) -> StoreResult<Option<Run>> {
        runs::last_run(self, kind, only_ok).await
    }

    async fn claim_schedule(
        &self,
        kind: &str,
        day: &str,
        by: &str,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> StoreResult<bool> {
        runs::claim_schedule(self, kind, day, by, now_ms, stale_before_ms).await
    }

    async fn settle_schedule(&self, kind: &str, day: &str) -> StoreResult<()> {
        runs::settle_schedule(self, kind, day).await
    }

    async fn schedule_unsettled(&self, kind: &str, day: &str) -> StoreResult<bool> {
        runs::schedule_unsettled(self, kind, day).await
    }

    // The web console: `sessions`.
    async fn put_sign_in(&self, sign_in: &PendingSignIn, now_ms: i64) -> StoreResult<()> {
        sessions::put_sign_in(self, sign_in, now_ms).await
    }

    async fn take_sign_in(&self, state: &str, now_ms: i64) -> StoreResult<Option<PendingSignIn>> {
        sessions::take_sign_in(self, state, now_ms).await
    }

    async fn put_session(&self, session: &ConsoleSession, now_ms: i64) -> StoreResult<()> {
        sessions::put_session(self, session, now_ms).await
    }

    async fn session(&self, id_hash: &str, now_ms: i64) -> StoreResult<Option<ConsoleSession>> {
        sessions::session(self, id_hash, now_ms).await
    }

    async fn end_session(&self, id_hash: &str) -> StoreResult<()> {
        sessions::end_session(self, id_hash).await
    }
}
