//! The worker registry in PostgreSQL: workers register, beat (extending the leases of the jobs they
//! hold) and leave; `status` and waiting commands ask who is alive. Owns the row mapping of `workers`.
//! Every write touches only the caller's own rows (its worker row, the jobs it holds).

use super::PostgresStore;
use crate::store::{StoreResult, WorkerInfo};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn worker_from(row: &PgRow) -> WorkerInfo {
    WorkerInfo {
        id: row.get("id"),
        kind: row.get("kind"),
        pid: row.get("pid"),
        started_at: row.get("started_at"),
        seen_at: row.get("seen_at"),
    }
}

pub(super) async fn register_worker(db: &PostgresStore, w: &WorkerInfo) -> StoreResult<()> {
    sqlx::query("DELETE FROM workers WHERE seen_at < $1")
        .bind(w.seen_at - 3_600_000)
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO workers (id, kind, pid, started_at, seen_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(&w.id)
    .bind(&w.kind)
    .bind(w.pid)
    .bind(w.started_at)
    .bind(w.seen_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub(super) async fn heartbeat(
    db: &PostgresStore,
    worker: &str,
    now: i64,
    lease_until: i64,
) -> StoreResult<()> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE workers SET seen_at = $2 WHERE id = $1")
        .bind(worker)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // Its jobs locked in id order, as a batch of job ends locks them: the two never deadlock.
    let sql = format!(
        "UPDATE jobs SET lease_until = $2 WHERE id IN ({}) AND locked_by = $1 AND state = 'running'",
        super::queue::HELD_IN_ORDER
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(worker)
        .bind(lease_until)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn unregister_worker(db: &PostgresStore, worker: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM workers WHERE id = $1")
        .bind(worker)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub(super) async fn live_workers(db: &PostgresStore, since: i64) -> StoreResult<Vec<WorkerInfo>> {
    let rows = sqlx::query("SELECT * FROM workers WHERE seen_at >= $1 ORDER BY started_at, id")
        .bind(since)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.iter().map(worker_from).collect())
}
