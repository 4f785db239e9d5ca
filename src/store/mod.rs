//! The durable store behind a narrow trait: schools, groups, links, jobs, audit log, runs.
//!
//! Architecture Invariant: callers never see SQL; a snapshot import is one transaction (nothing is
//! half-applied); a job is claimed by one worker at a time, under a lease; another worker takes it
//! over once its holder is not live (not seen within the liveness window) or the lease expired;
//! jobs of one link never run at the same time.
//!
//! `Store` is the seam; `records` holds the plain data it takes and answers with; `sqlite` is the
//! embedded backend (the default), `postgres` the one several machines share. Every backend passes
//! the same suite (`tests/it/store.rs`). `copy` moves a whole store into an empty PostgreSQL one
//! (`store copy`).

pub mod copy;
mod group_query;
mod postgres;
mod records;
mod sqlite;

pub use postgres::PostgresStore;
pub use records::{
    AuditEntry, AuditFilter, ChangeCounts, ConsoleSession, FinishedJob, GroupChange, GroupPage,
    GroupQuery, ImportApplied, Job, JobEnd, JobFinish, NewJob, PendingSignIn, QuotaWindow, Run,
    SchoolImport, SchoolLastImport, StoredGroup, WorkerInfo,
};
pub use sqlite::SqliteStore;

use crate::core::delta::Delta;
use crate::core::domain::{Group, School, Snapshot, Target};
use crate::core::job::{JobKind, JobState, Lane};
use crate::core::link::Link;

pub type StoreResult<T> = Result<T, StoreError>;

/// Why the store could not answer: the database refused, its schema could not be brought up to
/// date, or what it holds is not ours (a name no version of class-sync writes).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database server could not be reached or refused us; `url` has no password in it.
    #[error("cannot connect to {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl From<crate::core::job::UnknownName> for StoreError {
    fn from(e: crate::core::job::UnknownName) -> Self {
        StoreError::Corrupt(e.0)
    }
}

/// The store seam: SQLite (embedded, one machine) and PostgreSQL (several workers) implement it.
///
/// Times are Unix milliseconds, passed in by the caller wherever they decide something (leases,
/// run times, schedule claims), so tests and the scheduler choose the clock.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    // ---- Schools, groups and links: what the UMP sent, one link per group × target ----

    /// Applies a validated snapshot in one transaction; creates a pending link for every group × target.
    async fn import_snapshot(&self, snapshot: &Snapshot) -> StoreResult<ImportApplied>;
    /// Applies a delta (a OneRoster delta set) in one transaction: each school and group it names
    /// is read, merged with its change (`core::delta`) and written back, each group keeping the
    /// delta's `dateLastModified`; a named group gets a pending link for each target that has none;
    /// the groups in `withdrawn` are withdrawn. Groups it does not name are left as they are (unlike
    /// a snapshot, a delta is not the full state of its schools). A change of members only, to a
    /// group that is missing or withdrawn, changes nothing.
    async fn apply_delta(&self, delta: &Delta) -> StoreResult<ImportApplied>;
    /// Adds or replaces one group (the API's PUT), in one transaction, and makes a pending link for
    /// each of its targets that has none. Withdraws nothing: one group is not its school's full state.
    /// Its school must be known (the caller checks `school_ids`): an unknown school is refused by
    /// the schema, as an error, and nothing is stored.
    async fn put_group(&self, group: &Group) -> StoreResult<GroupChange>;
    async fn school(&self, id: &str) -> StoreResult<Option<School>>;
    /// Every known school's id, in id order.
    async fn school_ids(&self) -> StoreResult<Vec<String>>;
    /// How many schools are known (without reading their ids).
    async fn school_count(&self) -> StoreResult<u64>;
    async fn group(&self, id: &str) -> StoreResult<Option<StoredGroup>>;
    /// Every group, withdrawn ones included, in id order.
    async fn groups(&self) -> StoreResult<Vec<StoredGroup>>;
    async fn link(&self, group_id: &str, target: Target) -> StoreResult<Option<Link>>;
    async fn links_of(&self, group_id: &str) -> StoreResult<Vec<Link>>;
    /// A group with its links as a page shows them (see `GroupPage`), in one read: its status.
    async fn group_shown(&self, id: &str) -> StoreResult<Option<(StoredGroup, Vec<Link>)>>;
    /// The links of every group in `group_ids`, in (group, target) order: one read for a batch of
    /// an import, not one per group.
    async fn links_of_groups(&self, group_ids: &[&str]) -> StoreResult<Vec<Link>>;
    /// Every link, in (group, target) order.
    async fn all_links(&self) -> StoreResult<Vec<Link>>;
    /// View Groups: one page of the groups `query` names (visibility and filters answered by
    /// indexes), in id order, each with its links, and the count of all that match.
    async fn visible_groups(&self, query: &GroupQuery) -> StoreResult<GroupPage>;
    /// (academic year, link state, links) over every link: the status counts, without the links.
    async fn link_counts(&self) -> StoreResult<Vec<(String, String, u64)>>;
    /// Saves every field of a link, except that it never turns `mis_linked` back on: a restore
    /// granted while a job held a stale copy wins.
    async fn save_link(&self, link: &Link) -> StoreResult<()>;
    /// Records that MIS changes arrived after the cutoff on an MIS-linked, created link (one field,
    /// so it never overwrites what a job wrote meanwhile).
    async fn note_held_changes(&self, group_id: &str, target: Target) -> StoreResult<()>;

    // ---- The job queue: enqueue, claim under a lease, end ----

    /// Enqueues unless an equal job is already waiting (a restore: waiting or running); returns
    /// the job's id and whether it is new. An equal waiting job is lifted into a more urgent lane.
    async fn enqueue(&self, job: &NewJob, now_ms: i64) -> StoreResult<(i64, bool)> {
        let ids = self.enqueue_many(std::slice::from_ref(job), now_ms).await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("enqueue returned no job".into()))
    }
    /// `enqueue` for many jobs in one transaction (a nightly run enqueues 100k+); answers in order.
    async fn enqueue_many(&self, jobs: &[NewJob], now_ms: i64) -> StoreResult<Vec<(i64, bool)>>;
    /// The Restore grant, atomically: MIS-unlinks the link if it can be restored (archived, or a
    /// failed restore) and enqueues its restore job (or finds the pending one). None: not restorable.
    async fn grant_restore(&self, job: &NewJob, now_ms: i64) -> StoreResult<Option<(i64, bool)>>;
    /// Takes up to `limit` runnable jobs of `target` (highest lane first, never two of one link),
    /// leasing them until `now + lease`. Runnable: queued and due; or running but orphaned, taken
    /// over as it is: its holder is not a live worker (not registered, or not seen at or after
    /// `live_since_ms`: it died without a word), or its lease ran out (the fallback). The lane
    /// order holds across all three. A job whose holder is live and whose lease holds is never taken.
    async fn claim(
        &self,
        worker: &str,
        target: Target,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
        live_since_ms: i64,
    ) -> StoreResult<Vec<Job>>;
    /// A signal that new work was enqueued, granted or handed back (by any process), for an idle
    /// worker's wait; None when the backend cannot signal (SQLite: workers poll). A signal is a
    /// hint and may be lost (a listener reconnecting): holders keep polling as well.
    async fn wake_on_new_work(&self) -> StoreResult<Option<WorkSignal>> {
        Ok(None)
    }
    /// Passes a quota window on to every process on this store, within milliseconds (PostgreSQL:
    /// `NOTIFY`). SQLite carries none: it is the one-host store, where several processes still share
    /// the quota by the registry but not each other's windows.
    async fn publish_quota_window(&self, _window: &QuotaWindow) -> StoreResult<()> {
        Ok(())
    }
    /// The quota windows processes on this store publish from now on (this one's included); None
    /// when the backend cannot carry them. Like `wake_on_new_work`, a hint that may be lost while a
    /// listener reconnects.
    async fn follow_quota_windows(
        &self,
    ) -> StoreResult<Option<tokio::sync::mpsc::Receiver<QuotaWindow>>> {
        Ok(None)
    }
    /// Puts every job `worker` holds back in the queue at once, not counting the attempt (graceful
    /// shutdown); returns how many.
    async fn release_held(&self, worker: &str) -> StoreResult<u64>;
    /// Ends claimed jobs and saves the links they leave behind, all in one transaction (a storm
    /// ends hundreds of jobs a second: one write each would be the bottleneck).
    /// Only jobs `worker` still holds are ended: a job whose lease was taken over is the new holder's.
    async fn finish_many(&self, worker: &str, ends: &[JobFinish], now_ms: i64) -> StoreResult<()>;

    // ---- Following jobs: for commands that wait, `status` and `/metrics` ----

    async fn job(&self, id: i64) -> StoreResult<Option<Job>>;
    /// Jobs queued or running (leased), and the earliest time a queued one may run.
    async fn pending_work(&self) -> StoreResult<(u64, Option<i64>)>;
    /// (kind, state, count) over all jobs.
    async fn job_counts(&self) -> StoreResult<Vec<(String, String, u64)>>;
    /// (lane, kind, count) of jobs queued or running, for `/metrics`.
    async fn queue_depth(&self) -> StoreResult<Vec<(Lane, JobKind, u64)>>;
    /// Jobs that ended (done or failed) in `(after_ms, upto_ms]`, for `/metrics`.
    async fn jobs_finished_between(
        &self,
        after_ms: i64,
        upto_ms: i64,
    ) -> StoreResult<Vec<FinishedJob>>;
    /// (state, count) over the jobs `ids`, to follow a batch (a nightly run's jobs) to its end.
    async fn job_states(&self, ids: &[i64]) -> StoreResult<Vec<(JobState, u64)>>;
    /// The failed jobs among `ids`, with their errors.
    async fn failed_among(&self, ids: &[i64]) -> StoreResult<Vec<Job>>;

    // ---- The worker registry: who is alive, and the leases they keep fresh ----

    /// Registers a worker process (and forgets workers not seen for an hour).
    async fn register_worker(&self, info: &WorkerInfo) -> StoreResult<()>;
    /// The worker is alive: records it and extends the leases of every job it holds to `lease_until`.
    async fn heartbeat(&self, worker: &str, now_ms: i64, lease_until_ms: i64) -> StoreResult<()>;
    async fn unregister_worker(&self, worker: &str) -> StoreResult<()>;
    /// Workers seen at or after `since_ms`.
    async fn live_workers(&self, since_ms: i64) -> StoreResult<Vec<WorkerInfo>>;

    // ---- The audit log ----

    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// The `limit` latest entries, newest first.
    async fn audit_log(&self, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// A page of the log, newest first: up to `limit` entries older than the entry `before` (from
    /// the newest when None), each with its id, and how many entries there are in all.
    async fn audit_page(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<(Vec<(i64, AuditEntry)>, u64)>;
    /// Up to `limit` entries that match `filter`, newest first, older than the entry `before`.
    async fn audit_search(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, AuditEntry)>>;

    // ---- Provisioning status: what each import did to each school ----

    /// Records one import's outcome for each school it covered, in one transaction.
    async fn record_school_imports(&self, imports: &[SchoolImport]) -> StoreResult<()>;
    /// One school's latest `limit` imports, newest first.
    async fn school_imports(&self, school: &str, limit: u32) -> StoreResult<Vec<SchoolImport>>;
    /// Known schools in id order, after `after` (exclusive), at most `limit`, each with its latest
    /// import.
    async fn schools_with_last_import(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SchoolLastImport>>;
    /// Every known school's id with the day and time of its latest import (None: never), in id
    /// order: what staleness and `/metrics` need, without the rest.
    async fn last_import_days(&self) -> StoreResult<Vec<(String, Option<(String, i64)>)>>;

    // ---- Runs of the nightly job, and the once-a-day schedule claim ----

    /// Records a run starting; returns its id for `finish_run`.
    async fn start_run(&self, kind: &str, today: &str, now_ms: i64) -> StoreResult<i64>;
    async fn finish_run(&self, id: i64, summary: &str, ok: bool, now_ms: i64) -> StoreResult<()>;
    /// The latest run of `kind` (finished or not); with `only_ok`, the latest that succeeded.
    async fn last_run(&self, kind: &str, only_ok: bool) -> StoreResult<Option<Run>>;
    /// Claims the scheduled job `kind` for one London `day`; true for the one caller that got it
    /// (across processes). A claim not settled (`settle_schedule`) by `stale_before_ms` is taken
    /// over: its process died before it had enqueued the night's work.
    async fn claim_schedule(
        &self,
        kind: &str,
        day: &str,
        by: &str,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> StoreResult<bool>;
    /// The day's run has enqueued all its work: the claim can no longer be taken over.
    async fn settle_schedule(&self, kind: &str, day: &str) -> StoreResult<()>;
    /// Whether the day is claimed but not yet settled (someone is enqueuing, or died doing it).
    async fn schedule_unsettled(&self, kind: &str, day: &str) -> StoreResult<bool>;

    // ---- The web console's sign-ins and sessions (shared by every `serve` host) ----

    /// Keeps a sign-in in flight; forgets those that expired before `now_ms`.
    async fn put_sign_in(&self, sign_in: &PendingSignIn, now_ms: i64) -> StoreResult<()>;
    /// Takes the sign-in `state` names: answered once, and only before it expires.
    async fn take_sign_in(&self, state: &str, now_ms: i64) -> StoreResult<Option<PendingSignIn>>;
    /// Starts a session; forgets sessions that expired before `now_ms`.
    async fn put_session(&self, session: &ConsoleSession, now_ms: i64) -> StoreResult<()>;
    /// The session whose secret hashes to `id_hash`, unless it expired by `now_ms`.
    async fn session(&self, id_hash: &str, now_ms: i64) -> StoreResult<Option<ConsoleSession>>;
    /// Ends a session (sign-out); ending one that is gone is not an error.
    async fn end_session(&self, id_hash: &str) -> StoreResult<()>;
}

/// New work may be waiting (see `Store::wake_on_new_work`): wakes an idle worker before its next poll.
pub struct WorkSignal {
    new_work: tokio::sync::watch::Receiver<()>,
}

impl WorkSignal {
    /// A signal that fires each time the backend sends on the other end of `new_work`.
    fn new(new_work: tokio::sync::watch::Receiver<()>) -> WorkSignal {
        WorkSignal { new_work }
    }

    /// Resolves at the next signal, or at once if one came since the last call; never once the
    /// backend has stopped signalling (the holder's polls carry on).
    pub async fn notified(&mut self) {
        if self.new_work.changed().await.is_err() {
            std::future::pending::<()>().await
        }
    }
}

/// Opens the store named by `database_url` and brings its schema up to date: `postgres://` (or
/// `postgresql://`) is PostgreSQL, anything else SQLite (the config admits only `sqlite:` besides).
pub async fn open(database_url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    if is_postgres(database_url) {
        Ok(std::sync::Arc::new(
            PostgresStore::open(database_url).await?,
        ))
    } else {
        Ok(std::sync::Arc::new(SqliteStore::open(database_url).await?))
    }
}

/// Whether `database_url` names a PostgreSQL server.
pub fn is_postgres(database_url: &str) -> bool {
    database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")
}

pub use crate::config::redacted;

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn redacted_urls_keep_everything_but_the_password() {
        let cases = [
            (
                "postgres://app:s3cret@db.example:5432/sync",
                "postgres://app:***@db.example:5432/sync",
            ),
            (
                "postgres://app@db.example/sync",
                "postgres://app@db.example/sync",
            ),
            (
                "postgres://db/sync?user=app&password=s3cret",
                "postgres://db/sync?user=app&password=***",
            ),
            ("sqlite://class-sync.db", "sqlite://class-sync.db"),
            ("not a url s3cret", "(a database_url that is not a URL)"),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted(url), shown, "{url}");
        }
    }
}
