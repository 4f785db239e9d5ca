//! The SQLite store (sqlx, embedded migrations). The embedded default: one file, no server.
//!
//! This file owns opening the database (pragmas, the writer and reader pools, migrations) and the
//! `impl Store`, which only delegates, one module per concern: `groups` (schools, groups, links,
//! import), `queue` (jobs: enqueue, grant, claim, leases, ends, and the reads that follow them),
//! `registry` (workers and heartbeats), `provisioning` (each import's outcome per school), `audit`, `runs` (nightly runs and schedule claims).
//! Each module writes through `writer` and reads through `pool`.

mod audit;
mod groups;
mod mirror;
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
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// The SQLite backend of `Store`: one database file, a writer connection and readers beside it.
pub struct SqliteStore {
    /// Readers (WAL lets them run beside the writer).
    pool: SqlitePool,
    /// One connection for every write: writers of this process queue here in order instead of
    /// contending for SQLite's lock (whose busy handler sleeps); other processes still wait on
    /// `busy_timeout`.
    writer: SqlitePool,
}

/// Lists and rosters are stored as JSON text.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

fn parse_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A statement slower than this is logged (at info).
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            // A year-end storm touches every job and link: keep the pages in memory.
            .pragma("cache_size", "-65536")
            .pragma("mmap_size", "268435456")
            .foreign_keys(true)
            // A slow statement on a busy host is news for whoever debugs, not a warning on every
            // command's stderr.
            .log_slow_statements(log::LevelFilter::Info, SLOW_STATEMENT);
        // A local file's connection does not go stale: no ping (a trip to its thread) before each use.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        // Two processes opening a new database at once race to migrate it: the loser fails on what
        // the winner just created, and finds nothing left to do when it tries again.
        let mut tries = 0;
        while let Err(e) = sqlx::migrate!("migrations/sqlite").run(&writer).await {
            tries += 1;
            if tries >= 5 {
                return Err(e.into());
            }
            tokio::time::sleep(Duration::from_millis(100 * tries)).await;
        }
        // Readers keep a small page cache each and map nothing: eight of them at the writer's
        // 64 MiB cache and 256 MiB map would count one national store's pages eight times over in
        // `serve`'s RSS; the OS page cache serves them anyway.
        // A page of up to 1,000 groups (or 100 schools and one more) is handed over without its
        // connection's thread stopping halfway for the caller to take the first 50 rows.
        let readers = options
            .pragma("cache_size", "-8192")
            .pragma("mmap_size", "0")
            .row_buffer_size(1024);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(readers)
            .await?;
        Ok(SqliteStore { pool, writer })
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
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
