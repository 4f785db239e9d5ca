//! The job queue in PostgreSQL, for many workers on many machines: enqueue with dedup, the atomic
//! Restore grant, claims under a lease (`FOR UPDATE SKIP LOCKED`), release, and job ends saved
//! together with their links; and the reads that follow jobs (status, `/metrics`, commands waiting
//! for their batch). Owns the row mapping of `jobs`.
//!
//! Concurrency, where SQLite relies on its single writer:
//! - Enqueue deduplicates by select-then-insert. Two enqueuers of one job could both find nothing
//!   and both insert, so every enqueue (and grant) first takes one transaction-scoped advisory lock
//!   (`ENQUEUE_LOCK`): enqueues run one after the other, as in SQLite, and each sees the jobs the
//!   previous committed. A lock per dedup key would let more run at once, but a nightly
//!   `enqueue_many` of 100k+ jobs would hold 100k+ locks and exhaust the server's lock table.
//!   `enqueue_many` goes in chunks: find the equal jobs waiting, lift them, insert the rest.
//!   Claims, heartbeats and ends do not take it. The unique index `jobs_live_restore` backs up
//!   "one pending restore per link".
//! - The Restore grant locks the link row (`FOR UPDATE`) under that lock, decides with
//!   `Link::grant_restore` on the row as it is, and writes it back in the same transaction; a job
//!   end saving the same link waits for it and cannot turn `mis_linked` back on (`save_link_in`).
//! - A claim is one statement per batch: pick the best runnable jobs, one per link (`FOR UPDATE
//!   SKIP LOCKED`, so claimers never wait for each other), and mark them running. "Jobs of one link never run at the
//!   same time" is enforced by the unique index `jobs_running_link` (one running job per link);
//!   the pick's NOT EXISTS avoids it, and when two claimers race for two jobs of one link, the
//!   loser's statement fails on the index and is simply retried (its next pick sees the winner's
//!   running job). Each batch is its own transaction, so claimed jobs are visible at once.
//! - New work wakes idle workers on every machine: enqueue, the grant and release `NOTIFY`
//!   new work inside their transaction (delivered at commit, so a woken worker finds the job);
//!   `notes` owns the channel and its listener.
//! - No deadlocks: rows are locked in one order everywhere. A job end locks its link before its job
//!   (as the grant does: link, then the queued restore job), and a batch of ends goes in job-id
//!   order; a heartbeat or a release locks its worker's jobs in id order too.

use super::PostgresStore;
use super::groups::{link_for_update, save_link_in};
use crate::core::domain::Target;
use crate::core::job::{JobKind, JobState, Lane};
use crate::store::{FinishedJob, Job, JobEnd, JobFinish, NewJob, StoreError, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;
use std::collections::HashMap;

/// The key of the advisory lock every enqueue takes (any constant of our own; "class-sync enqueue").
const ENQUEUE_LOCK: i64 = 0x636c_6173_7365_6e71;

/// How many times one claim retries a pick that lost a race on `jobs_running_link` before giving
/// up with what it has (each loss means another worker just took a job of that link).
const CLAIM_RACES: usize = 16;

fn job_from(row: &PgRow) -> StoreResult<Job> {
    Ok(Job {
        id: row.get("id"),
        kind: JobKind::parse(row.get("kind"))?,
        group_id: row.get("group_id"),
        target: row
            .get::<&str, _>("target")
            .parse()
            .map_err(StoreError::Corrupt)?,
        lane: Lane::from_i64(row.get("lane")),
        state: JobState::parse(row.get("state"))?,
        attempts: row.get::<i64, _>("attempts") as u32,
        max_attempts: row.get::<i64, _>("max_attempts") as u32,
        last_error: row.get("last_error"),
        requested_by: row.get("requested_by"),
    })
}

/// Takes the enqueue lock for the rest of the transaction (see the module's comment).
async fn lock_enqueues(tx: &mut sqlx::PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ENQUEUE_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// What makes two jobs equal: kind, target and group.
fn dedup_key(job: &NewJob) -> String {
    format!(
        "{}:{}:{}",
        job.kind.as_str(),
        job.target.as_str(),
        job.group_id
    )
}

/// Enqueues one job inside `tx`, which holds the enqueue lock (see `Store::enqueue`).
async fn enqueue_in(
    tx: &mut sqlx::PgConnection,
    job: &NewJob,
    now: i64,
) -> StoreResult<(i64, bool)> {
    let key = dedup_key(job);
    // A reconcile already running may have read the group before this change: only a waiting
    // one absorbs it. A restore absorbs any restore not yet finished (one pending restore per link).
    let live_states: &[&str] = if job.kind == JobKind::Restore {
        &["queued", "running"]
    } else {
        &["queued"]
    };
    let existing = sqlx::query(
        "SELECT id FROM jobs WHERE dedup_key = $1 AND state = ANY($2) ORDER BY id LIMIT 1",
    )
    .bind(&key)
    .bind(live_states)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = existing {
        let id: i64 = row.get("id");
        // A more urgent request lifts the waiting job into its lane.
        sqlx::query("UPDATE jobs SET lane = GREATEST(lane, $2) WHERE id = $1 AND state = 'queued'")
            .bind(id)
            .bind(job.lane as i64)
            .execute(&mut *tx)
            .await?;
        return Ok((id, false));
    }
    let row = sqlx::query(
        "INSERT INTO jobs (kind, group_id, target, lane, state, attempts, max_attempts, run_at, requested_by, dedup_key, created_at)
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $8, $6) RETURNING id",
    )
    .bind(job.kind.as_str())
    .bind(&job.group_id)
    .bind(job.target.as_str())
    .bind(job.lane as i64)
    .bind(job.max_attempts as i64)
    .bind(now)
    .bind(&job.requested_by)
    .bind(&key)
    .fetch_one(&mut *tx)
    .await?;
    Ok((row.get("id"), true))
}

/// Says, at the commit of `tx`, that jobs of `targets` are waiting (see the module's comment).
async fn notify_new_work(
    tx: &mut sqlx::PgConnection,
    targets: impl IntoIterator<Item = Target>,
) -> StoreResult<()> {
    let mut told: Vec<Target> = Vec::new();
    for target in targets {
        if told.contains(&target) {
            continue;
        }
        super::notes::notify_new_work(tx, target.as_str()).await?;
        told.push(target);
    }
    Ok(())
}

pub(super) async fn enqueue_many(
    db: &PostgresStore,
    jobs: &[NewJob],
    now: i64,
) -> StoreResult<Vec<(i64, bool)>> {
    let mut tx = db.pool.begin().await?;
    lock_enqueues(&mut tx).await?;
    let mut out = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(ENQUEUE_CHUNK) {
        out.extend(enqueue_chunk(&mut tx, chunk, now).await?);
    }
    let added: Vec<Target> = jobs
        .iter()
        .zip(&out)
        .filter(|(_, (_, new))| *new)
        .map(|(job, _)| job.target)
        .collect();
    notify_new_work(&mut tx, added).await?;
    tx.commit().await?;
    Ok(out)
}

/// Jobs enqueued together by `enqueue_many`: three statements a chunk, not two a job (a nightly
/// run enqueues 100k+).
const ENQUEUE_CHUNK: usize = 5_000;

/// `enqueue_in` for many jobs at once, inside `tx`, which holds the enqueue lock; the same answers
/// as enqueuing them one by one: the first job of a key not already waiting is new, every other
/// equal job answers its id, and the job that stays waits in the most urgent lane asked.
async fn enqueue_chunk(
    tx: &mut sqlx::PgConnection,
    jobs: &[NewJob],
    now: i64,
) -> StoreResult<Vec<(i64, bool)>> {
    let keys: Vec<String> = jobs.iter().map(dedup_key).collect();
    // Per key: the first job asking for it, and the most urgent lane any of them asks.
    let mut firsts: Vec<usize> = Vec::new();
    let mut lanes: HashMap<&str, i64> = HashMap::new();
    for (i, (job, key)) in jobs.iter().zip(&keys).enumerate() {
        let lane = lanes.entry(key.as_str()).or_insert_with(|| {
            firsts.push(i);
            job.lane as i64
        });
        *lane = (*lane).max(job.lane as i64);
    }
    let unique: Vec<&str> = firsts.iter().map(|&i| keys[i].as_str()).collect();
    // Equal jobs already waiting (for a restore: waiting or running; the key names the kind).
    let waiting: HashMap<String, i64> = sqlx::query(
        "SELECT DISTINCT ON (dedup_key) dedup_key, id FROM jobs
         WHERE dedup_key = ANY($1) AND (state = 'queued' OR (state = 'running' AND kind = 'restore'))
         ORDER BY dedup_key, id",
    )
    .bind(&unique)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|row| (row.get("dedup_key"), row.get("id")))
    .collect();
    if !waiting.is_empty() {
        // A more urgent request lifts the waiting job into its lane.
        let (ids, lifts): (Vec<i64>, Vec<i64>) = waiting
            .iter()
            .map(|(key, id)| (*id, lanes[key.as_str()]))
            .unzip();
        sqlx::query(
            "UPDATE jobs SET lane = GREATEST(jobs.lane, v.lane)
             FROM unnest($1::bigint[], $2::bigint[]) AS v(id, lane)
             WHERE jobs.id = v.id AND jobs.state = 'queued'",
        )
        .bind(&ids)
        .bind(&lifts)
        .execute(&mut *tx)
        .await?;
    }
    let new: Vec<usize> = firsts
        .iter()
        .copied()
        .filter(|&i| !waiting.contains_key(&keys[i]))
        .collect();
    let mut ids: HashMap<String, i64> = waiting;
    if !new.is_empty() {
        let column = |f: &dyn Fn(&NewJob) -> String| -> Vec<String> {
            new.iter().map(|&i| f(&jobs[i])).collect()
        };
        let rows = sqlx::query(
            "INSERT INTO jobs (kind, group_id, target, lane, state, attempts, max_attempts, run_at, requested_by, dedup_key, created_at)
             SELECT kind, group_id, target, lane, 'queued', 0, max_attempts, $7, requested_by, dedup_key, $7
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $8::text[])
                  AS v(kind, group_id, target, lane, max_attempts, requested_by, dedup_key)
             RETURNING id, dedup_key",
        )
        .bind(column(&|j| j.kind.as_str().to_string()))
        .bind(column(&|j| j.group_id.clone()))
        .bind(column(&|j| j.target.as_str().to_string()))
        .bind(new.iter().map(|&i| lanes[keys[i].as_str()]).collect::<Vec<i64>>())
        .bind(new.iter().map(|&i| jobs[i].max_attempts as i64).collect::<Vec<i64>>())
        .bind(new.iter().map(|&i| jobs[i].requested_by.clone()).collect::<Vec<Option<String>>>())
        .bind(now)
        .bind(new.iter().map(|&i| keys[i].clone()).collect::<Vec<String>>())
        .fetch_all(&mut *tx)
        .await?;
        ids.extend(rows.iter().map(|row| (row.get("dedup_key"), row.get("id"))));
    }
    let new: std::collections::HashSet<usize> = new.into_iter().collect();
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let id = ids
                .get(key)
                .copied()
                .ok_or_else(|| StoreError::Corrupt(format!("enqueue found no job for {key}")))?;
            Ok((id, new.contains(&i)))
        })
        .collect()
}

pub(super) async fn grant_restore(
    db: &PostgresStore,
    job: &NewJob,
    now: i64,
) -> StoreResult<Option<(i64, bool)>> {
    let mut tx = db.pool.begin().await?;
    lock_enqueues(&mut tx).await?;
    // Decided by `Link::grant_restore` (the one statement of the rule) on the link as it is, locked,
    // inside this transaction, so the unlinking and the enqueue are one atomic step.
    let link = link_for_update(&mut tx, &job.group_id, job.target).await?;
    let Some(link) = link.and_then(|mut l| l.grant_restore().then_some(l)) else {
        tx.rollback().await?;
        return Ok(None);
    };
    save_link_in(&mut tx, &link).await?;
    let enqueued = enqueue_in(&mut tx, job, now).await?;
    if enqueued.1 {
        notify_new_work(&mut tx, [job.target]).await?;
    }
    tx.commit().await?;
    Ok(Some(enqueued))
}

/// Picks up to `$6` of the best runnable jobs of `$2` at `$1` and marks them running for `$3` until
/// `$4`: highest lane first, then oldest, among queued jobs and orphaned running ones, taken over as
/// they are (a restore whose worker died goes before queued archives). Orphaned: its holder is not a
/// worker seen at or after `$5` (dead, or never registered), or its lease ran out. Each branch walks
/// its own index to its first `$6` unlocked, runnable rows; one job per link is kept (the target is
/// fixed, so the group names the link), and the best `$6` win. A link with any running job (live,
/// or orphaned and waiting to be taken over) has no queued job picked.
///
/// A holder is judged by the last heartbeat committed when the statement starts (one beating at
/// that moment and still inside its window keeps its jobs); a beat committing later re-checks
/// `locked_by` on the locked rows and finds a taken-over job no longer its own.
const CLAIM_MANY: &str = "
WITH candidates AS (
  SELECT id, group_id, lane, run_at FROM (
    SELECT j.id, j.group_id, j.lane, j.run_at FROM jobs j
    WHERE j.state = 'queued' AND j.target = $2 AND j.run_at <= $1
      AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state = 'running'
                      AND r.group_id = j.group_id AND r.target = j.target)
    ORDER BY j.lane DESC, j.run_at, j.id LIMIT $6
    FOR UPDATE SKIP LOCKED) queued
  UNION ALL
  SELECT id, group_id, lane, run_at FROM (
    SELECT j.id, j.group_id, j.lane, j.run_at FROM jobs j
    WHERE j.state = 'running' AND j.target = $2
      AND (j.lease_until < $1
           OR (j.locked_by <> $3
               AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = j.locked_by AND w.seen_at >= $5)))
    ORDER BY j.lane DESC, j.run_at, j.id LIMIT $6
    FOR UPDATE SKIP LOCKED) expired
),
one_per_link AS (
  SELECT DISTINCT ON (group_id) id, lane, run_at FROM candidates
  ORDER BY group_id, lane DESC, run_at, id
),
picked AS (
  SELECT id FROM one_per_link ORDER BY lane DESC, run_at, id LIMIT $6
),
claimed AS (
  UPDATE jobs SET state = 'running', locked_by = $3, lease_until = $4, attempts = attempts + 1
  WHERE id IN (SELECT id FROM picked)
  RETURNING *
)
SELECT * FROM claimed ORDER BY lane DESC, run_at, id";

pub(super) async fn claim(
    db: &PostgresStore,
    worker: &str,
    target: Target,
    limit: usize,
    now: i64,
    lease_ms: i64,
    live_since: i64,
) -> StoreResult<Vec<Job>> {
    let mut claimed: Vec<Job> = Vec::new();
    let mut races = 0;
    // A batch a statement (a storm claims hundreds of jobs a second, and each statement is a round
    // trip). Each statement sees the jobs claimed before it, by this worker and every other.
    while claimed.len() < limit {
        let want = limit - claimed.len();
        let picked = sqlx::query(CLAIM_MANY)
            .bind(now)
            .bind(target.as_str())
            .bind(worker)
            .bind(now + lease_ms)
            .bind(live_since)
            .bind(want as i64)
            .fetch_all(&db.pool)
            .await;
        match picked {
            Ok(rows) => {
                let got = rows.len();
                for row in &rows {
                    claimed.push(job_from(row)?);
                }
                if got < want {
                    break;
                }
            }
            // Another worker took a job of the same link between our pick and our write.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && races < CLAIM_RACES => {
                races += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(claimed)
}

/// Locks the row of `link` for the rest of the transaction (see the module's comment on order).
async fn lock_link(tx: &mut sqlx::PgConnection, link: &crate::core::link::Link) -> StoreResult<()> {
    sqlx::query("SELECT 1 AS one FROM links WHERE group_id = $1 AND target = $2 FOR UPDATE")
        .bind(&link.group_id)
        .bind(link.target.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    Ok(())
}

/// The jobs `$1` holds, locked in id order (see the module's comment on order).
pub(super) const HELD_IN_ORDER: &str =
    "SELECT id FROM jobs WHERE locked_by = $1 AND state = 'running' ORDER BY id FOR UPDATE";

pub(super) async fn release_held(db: &PostgresStore, worker: &str) -> StoreResult<u64> {
    let sql = format!(
        "UPDATE jobs SET state = 'queued', lease_until = NULL, locked_by = NULL, attempts = GREATEST(attempts - 1, 0)
         WHERE id IN ({HELD_IN_ORDER}) AND locked_by = $1 AND state = 'running'
         RETURNING target"
    );
    let mut tx = db.pool.begin().await?;
    let released = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(worker)
        .fetch_all(&mut *tx)
        .await?;
    let targets = released
        .iter()
        .map(|r| {
            r.get::<&str, _>("target")
                .parse()
                .map_err(StoreError::Corrupt)
        })
        .collect::<StoreResult<Vec<Target>>>()?;
    notify_new_work(&mut tx, targets).await?;
    tx.commit().await?;
    Ok(released.len() as u64)
}

pub(super) async fn finish_many(
    db: &PostgresStore,
    worker: &str,
    ends: &[JobFinish],
    now: i64,
) -> StoreResult<()> {
    let mut ordered: Vec<&JobFinish> = ends.iter().collect();
    ordered.sort_by_key(|f| f.job_id);
    let mut tx = db.pool.begin().await?;
    for f in ordered {
        if let Some(link) = &f.link {
            lock_link(&mut tx, link).await?;
        }
        // Each ends only a job this worker still holds (the worker is always the last parameter).
        // The UPDATE locks the job row: a takeover racing with it either happened before (this
        // ends nothing) or waits and then finds the job no longer running.
        let q = match &f.end {
            JobEnd::Done => sqlx::query(
                "UPDATE jobs SET state = 'done', finished_at = $2, lease_until = NULL, last_error = NULL
                 WHERE id = $1 AND locked_by = $3 AND state = 'running'",
            )
            .bind(f.job_id)
            .bind(now),
            JobEnd::Retry {
                run_at,
                error,
                counts,
            } => sqlx::query(
                "UPDATE jobs SET state = 'queued', run_at = $2, lease_until = NULL, locked_by = NULL, last_error = $3,
                   attempts = attempts - $4
                 WHERE id = $1 AND locked_by = $5 AND state = 'running'",
            )
            .bind(f.job_id)
            .bind(*run_at)
            .bind(error.clone())
            .bind(!*counts as i64),
            JobEnd::Failed { error } => sqlx::query(
                "UPDATE jobs SET state = 'failed', finished_at = $2, lease_until = NULL, last_error = $3
                 WHERE id = $1 AND locked_by = $4 AND state = 'running'",
            )
            .bind(f.job_id)
            .bind(now)
            .bind(error.clone()),
        };
        let still_ours = q.bind(worker).execute(&mut *tx).await?.rows_affected() == 1;
        // A job taken over by another worker is theirs to end, and so is its link.
        if still_ours && let Some(link) = &f.link {
            save_link_in(&mut tx, link).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn job(db: &PostgresStore, id: i64) -> StoreResult<Option<Job>> {
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(job_from).transpose()
}

pub(super) async fn pending_work(db: &PostgresStore) -> StoreResult<(u64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(CASE WHEN state = 'queued' THEN run_at ELSE lease_until END) AS next
         FROM jobs WHERE state IN ('queued', 'running')",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok((row.get::<i64, _>("n") as u64, row.get("next")))
}

pub(super) async fn job_counts(db: &PostgresStore) -> StoreResult<Vec<(String, String, u64)>> {
    let rows = sqlx::query(
        "SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("kind"), r.get("state"), r.get::<i64, _>("n") as u64))
        .collect())
}

pub(super) async fn queue_depth(db: &PostgresStore) -> StoreResult<Vec<(Lane, JobKind, u64)>> {
    let rows = sqlx::query(
        "SELECT lane, kind, COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running') GROUP BY lane, kind ORDER BY lane, kind",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                Lane::from_i64(r.get("lane")),
                JobKind::parse(r.get("kind"))?,
                r.get::<i64, _>("n") as u64,
            ))
        })
        .collect()
}

pub(super) async fn jobs_finished_between(
    db: &PostgresStore,
    after: i64,
    upto: i64,
) -> StoreResult<Vec<FinishedJob>> {
    let rows = sqlx::query(
        "SELECT id, kind, state, created_at, finished_at FROM jobs
         WHERE finished_at > $1 AND finished_at <= $2 AND state IN ('done', 'failed') ORDER BY finished_at, id",
    )
    .bind(after)
    .bind(upto)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FinishedJob {
                id: r.get("id"),
                kind: JobKind::parse(r.get("kind"))?,
                state: JobState::parse(r.get("state"))?,
                created_at: r.get("created_at"),
                finished_at: r.get("finished_at"),
            })
        })
        .collect()
}

pub(super) async fn job_states(
    db: &PostgresStore,
    ids: &[i64],
) -> StoreResult<Vec<(JobState, u64)>> {
    // One bound array instead of one parameter per id: a nightly run can hold thousands.
    let rows =
        sqlx::query("SELECT state, COUNT(*) AS n FROM jobs WHERE id = ANY($1) GROUP BY state")
            .bind(ids)
            .fetch_all(&db.pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok((
                JobState::parse(r.get("state"))?,
                r.get::<i64, _>("n") as u64,
            ))
        })
        .collect()
}

pub(super) async fn failed_among(db: &PostgresStore, ids: &[i64]) -> StoreResult<Vec<Job>> {
    let rows =
        sqlx::query("SELECT * FROM jobs WHERE state = 'failed' AND id = ANY($1) ORDER BY id")
            .bind(ids)
            .fetch_all(&db.pool)
            .await?;
    rows.iter().map(job_from).collect()
}
