//! Nightly runs and schedule claims in PostgreSQL: a run's start, end and outcome for `status`; the
//! once-a-day claim (one winner per London day, a stale unsettled claim taken over, a settled one
//! never). Owns the row mapping of `runs`.
//!
//! The claim needs no lock of its own: of two INSERTs of one day, the second waits for the first
//! and does nothing (`ON CONFLICT DO NOTHING`); of two takeovers, the second waits on the row and
//! re-checks `claimed_at` against the winner's fresh claim, so it takes nothing.

use super::PostgresStore;
use crate::store::{Run, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn run_from(row: &PgRow) -> Run {
    Run {
        id: row.get("id"),
        kind: row.get("kind"),
        today: row.get("today"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        summary: row.get("summary"),
        ok: row.get("ok"),
    }
}

pub(super) async fn start_run(
    db: &PostgresStore,
    kind: &str,
    today: &str,
    now: i64,
) -> StoreResult<i64> {
    let row =
        sqlx::query("INSERT INTO runs (kind, today, started_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(kind)
            .bind(today)
            .bind(now)
            .fetch_one(&db.pool)
            .await?;
    Ok(row.get("id"))
}

pub(super) async fn finish_run(
    db: &PostgresStore,
    id: i64,
    summary: &str,
    ok: bool,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE runs SET finished_at = $2, summary = $3, ok = $4 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(summary)
        .bind(ok)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub(super) async fn last_run(
    db: &PostgresStore,
    kind: &str,
    only_ok: bool,
) -> StoreResult<Option<Run>> {
    let sql = if only_ok {
        "SELECT * FROM runs WHERE kind = $1 AND ok ORDER BY id DESC LIMIT 1"
    } else {
        "SELECT * FROM runs WHERE kind = $1 ORDER BY id DESC LIMIT 1"
    };
    let row = sqlx::query(sql).bind(kind).fetch_optional(&db.pool).await?;
    Ok(row.as_ref().map(run_from))
}

pub(super) async fn claim_schedule(
    db: &PostgresStore,
    kind: &str,
    day: &str,
    by: &str,
    now: i64,
    stale_before: i64,
) -> StoreResult<bool> {
    let mut tx = db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO schedule_claims (kind, day, claimed_at, claimed_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, day) DO NOTHING",
    )
    .bind(kind)
    .bind(day)
    .bind(now)
    .bind(by)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let claimed = inserted == 1
        || sqlx::query(
            "UPDATE schedule_claims SET claimed_at = $3, claimed_by = $4
             WHERE kind = $1 AND day = $2 AND NOT enqueued AND claimed_at < $5",
        )
        .bind(kind)
        .bind(day)
        .bind(now)
        .bind(by)
        .bind(stale_before)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn settle_schedule(db: &PostgresStore, kind: &str, day: &str) -> StoreResult<()> {
    sqlx::query("UPDATE schedule_claims SET enqueued = TRUE WHERE kind = $1 AND day = $2")
        .bind(kind)
        .bind(day)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub(super) async fn schedule_unsettled(
    db: &PostgresStore,
    kind: &str,
    day: &str,
) -> StoreResult<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM schedule_claims WHERE kind = $1 AND day = $2 AND NOT enqueued",
    )
    .bind(kind)
    .bind(day)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}
