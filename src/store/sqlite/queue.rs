//! The job queue in SQLite: enqueue with dedup, the atomic Restore grant, claims under a lease,
//! release, and job ends saved together with their links; and the reads that follow jobs (status,
//! `/metrics`, commands waiting for their batch). Owns the row mapping of `jobs`.
//!
//! SQLite has no `SKIP LOCKED`: a claim picks and updates one job at a time inside a
//! `BEGIN IMMEDIATE` transaction, which serialises claimers on the database's write lock.

use super::groups::{link_in, save_link_in};
use super::{SqliteStore, json};
use crate::core::domain::Target;
use crate::core::job::{JobKind, JobState, Lane};
use crate::store::{FinishedJob, Job, JobEnd, JobFinish, NewJob, StoreError, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn job_from(row: &SqliteRow) -> StoreResult<Job> {
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

/// Enqueues one job inside `tx` (see `Store::enqueue`).
async fn enqueue_in(
    tx: &mut sqlx::SqliteConnection,
    job: &NewJob,
    now: i64,
) -> StoreResult<(i64, bool)> {
    let key = format!(
        "{}:{}:{}",
        job.kind.as_str(),
        job.target.as_str(),
        job.group_id
    );
    // A reconcile already running may have read the group before this change: only a waiting
    // one absorbs it. A restore absorbs any restore not yet finished (one pending restore per link).
    let live_states = if job.kind == JobKind::Restore {
        "('queued','running')"
    } else {
        "('queued')"
    };
    let sql = format!(
        "SELECT id, lane FROM jobs WHERE dedup_key = ?1 AND state IN {live_states} ORDER BY id LIMIT 1"
    );
    let existing = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(row) = existing {
        let id: i64 = row.get("id");
        // A more urgent request lifts the waiting job into its lane.
        sqlx::query("UPDATE jobs SET lane = MAX(lane, ?2) WHERE id = ?1 AND state = 'queued'")
            .bind(id)
            .bind(job.lane as i64)
            .execute(&mut *tx)
            .await?;
        return Ok((id, false));
    }
    let row = sqlx::query(
        "INSERT INTO jobs (kind, group_id, target, lane, state, attempts, max_attempts, run_at, requested_by, dedup_key, created_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?6, ?7, ?8, ?6) RETURNING id",
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

pub(super) async fn enqueue_many(
    db: &SqliteStore,
    jobs: &[NewJob],
    now: i64,
) -> StoreResult<Vec<(i64, bool)>> {
    let mut tx = db.writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        out.push(enqueue_in(&mut tx, job, now).await?);
    }
    tx.commit().await?;
    Ok(out)
}

pub(super) async fn grant_restore(
    db: &SqliteStore,
    job: &NewJob,
    now: i64,
) -> StoreResult<Option<(i64, bool)>> {
    let mut tx = db.writer.begin_with("BEGIN IMMEDIATE").await?;
    // Decided by `Link::grant_restore` (the one statement of the rule) on the link as it is inside
    // this write transaction, so the unlinking and the enqueue are one atomic step.
    let link = link_in(&mut tx, &job.group_id, job.target).await?;
    let Some(link) = link.and_then(|mut l| l.grant_restore().then_some(l)) else {
        tx.rollback().await?;
        return Ok(None);
    };
    save_link_in(&mut tx, &link).await?;
    let enqueued = enqueue_in(&mut tx, job, now).await?;
    tx.commit().await?;
    Ok(Some(enqueued))
}

pub(super) async fn claim(
    db: &SqliteStore,
    worker: &str,
    target: Target,
    limit: usize,
    now: i64,
    lease_ms: i64,
    live_since: i64,
) -> StoreResult<Vec<Job>> {
    let mut tx = db.writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut claimed = Vec::new();
    // Queued jobs first (walks `jobs_queue` in lane order), then jobs whose worker died. One at
    // a time, so each pick sees the ones before it: jobs of one link never run together.
    while claimed.len() < limit {
        // The best runnable job, highest lane first, among queued ones and orphaned ones: held by
        // another worker the registry has not seen since `live_since` (or at all), or whose lease
        // ran out (the claimer's own jobs only so: it is alive, whatever the registry says). A restore whose worker died goes before a queued archive. Heartbeats write under
        // the same write lock, so a holder's liveness cannot change during this pick.
        let mut best: Option<(i64, i64, i64)> = None; // (lane, run_at, id)
        for candidates in [
            "SELECT j.id, j.lane, j.run_at FROM jobs j WHERE j.state = 'queued' AND j.run_at <= ?1",
            "SELECT j.id, j.lane, j.run_at FROM jobs j WHERE j.state = 'running'
               AND (j.lease_until < ?1
                    OR (j.locked_by <> ?4
                        AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = j.locked_by AND w.seen_at >= ?3)))",
        ] {
            let sql = format!(
                "{candidates} AND j.target = ?2
                   AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.lease_until >= ?1
                                   AND r.group_id = j.group_id AND r.target = j.target AND r.id <> j.id)
                 ORDER BY j.lane DESC, j.run_at, j.id LIMIT 1"
            );
            let picked = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(target.as_str())
                .bind(live_since)
                .bind(worker)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = picked {
                let key = (row.get("lane"), row.get("run_at"), row.get("id"));
                let better = |b: &(i64, i64, i64)| {
                    (key.0, std::cmp::Reverse(key.1), std::cmp::Reverse(key.2))
                        > (b.0, std::cmp::Reverse(b.1), std::cmp::Reverse(b.2))
                };
                if best.as_ref().is_none_or(better) {
                    best = Some(key);
                }
            }
        }
        let Some((_, _, id)) = best else { break };
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', locked_by = ?2, lease_until = ?3, attempts = attempts + 1
             WHERE id = ?1 RETURNING *",
        )
        .bind(id)
        .bind(worker)
        .bind(now + lease_ms)
        .fetch_one(&mut *tx)
        .await?;
        claimed.push(job_from(&row)?);
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn release_held(db: &SqliteStore, worker: &str) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'queued', lease_until = NULL, locked_by = NULL, attempts = MAX(attempts - 1, 0)
         WHERE locked_by = ?1 AND state = 'running'",
    )
    .bind(worker)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn finish_many(
    db: &SqliteStore,
    worker: &str,
    ends: &[JobFinish],
    now: i64,
) -> StoreResult<()> {
    let mut tx = db.writer.begin_with("BEGIN IMMEDIATE").await?;
    for f in ends {
        // Each ends only a job this worker still holds (the worker is always the last parameter).
        let q = match &f.end {
            JobEnd::Done => sqlx::query(
                "UPDATE jobs SET state = 'done', finished_at = ?2, lease_until = NULL, last_error = NULL
                 WHERE id = ?1 AND locked_by = ?3 AND state = 'running'",
            )
            .bind(f.job_id)
            .bind(now),
            JobEnd::Retry {
                run_at,
                error,
                counts,
            } => sqlx::query(
                "UPDATE jobs SET state = 'queued', run_at = ?2, lease_until = NULL, locked_by = NULL, last_error = ?3,
                   attempts = attempts - ?4
                 WHERE id = ?1 AND locked_by = ?5 AND state = 'running'",
            )
            .bind(f.job_id)
            .bind(*run_at)
            .bind(error.clone())
            .bind(!*counts as i64),
            JobEnd::Failed { error } => sqlx::query(
                "UPDATE jobs SET state = 'failed', finished_at = ?2, lease_until = NULL, last_error = ?3
                 WHERE id = ?1 AND locked_by = ?4 AND state = 'running'",
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

pub(super) async fn job(db: &SqliteStore, id: i64) -> StoreResult<Option<Job>> {
    let row = sqlx::query("SELECT * FROM jobs WHERE id = ?1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(job_from).transpose()
}

pub(super) async fn pending_work(db: &SqliteStore) -> StoreResult<(u64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(CASE WHEN state = 'queued' THEN run_at ELSE lease_until END) AS next
         FROM jobs WHERE state IN ('queued', 'running')",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok((row.get::<i64, _>("n") as u64, row.get("next")))
}

pub(super) async fn job_counts(db: &SqliteStore) -> StoreResult<Vec<(String, String, u64)>> {
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

pub(super) async fn queue_depth(db: &SqliteStore) -> StoreResult<Vec<(Lane, JobKind, u64)>> {
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
    db: &SqliteStore,
    after: i64,
    upto: i64,
) -> StoreResult<Vec<FinishedJob>> {
    let rows = sqlx::query(
        "SELECT id, kind, state, created_at, finished_at FROM jobs
         WHERE finished_at > ?1 AND finished_at <= ?2 AND state IN ('done', 'failed') ORDER BY finished_at",
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

pub(super) async fn job_states(db: &SqliteStore, ids: &[i64]) -> StoreResult<Vec<(JobState, u64)>> {
    // One bound JSON array instead of one parameter per id: a nightly run can hold thousands.
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM jobs WHERE id IN (SELECT value FROM json_each(?1)) GROUP BY state",
    )
    .bind(json(&ids))
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

pub(super) async fn failed_among(db: &SqliteStore, ids: &[i64]) -> StoreResult<Vec<Job>> {
    let rows = sqlx::query(
        "SELECT * FROM jobs WHERE state = 'failed' AND id IN (SELECT value FROM json_each(?1)) ORDER BY id",
    )
    .bind(json(&ids))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(job_from).collect()
}
