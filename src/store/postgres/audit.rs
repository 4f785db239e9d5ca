//! The audit log in PostgreSQL: append a line; read the latest, newest first. Owns the row mapping
//! of `audit`. Appends need no coordination: each is one INSERT with its own identity.

use super::PostgresStore;
use crate::store::{AuditEntry, AuditFilter, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

fn audit_from(row: &PgRow) -> AuditEntry {
    AuditEntry {
        at: row.get("at"),
        actor: row.get("actor"),
        action: row.get("action"),
        group_id: row.get("group_id"),
        target: row.get("target"),
        outcome: row.get("outcome"),
        detail: row.get("detail"),
    }
}

pub(super) async fn audit(db: &PostgresStore, e: &AuditEntry) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit (at, actor, action, group_id, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.group_id)
        .bind(&e.target)
        .bind(&e.outcome)
        .bind(&e.detail)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub(super) async fn audit_log(db: &PostgresStore, limit: u32) -> StoreResult<Vec<AuditEntry>> {
    let rows = sqlx::query("SELECT * FROM audit ORDER BY id DESC LIMIT $1")
        .bind(limit as i64)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.iter().map(audit_from).collect())
}

pub(super) async fn audit_page(
    db: &PostgresStore,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<(Vec<(i64, AuditEntry)>, u64)> {
    let rows = sqlx::query(
        "SELECT * FROM audit WHERE $1::BIGINT IS NULL OR id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit")
        .fetch_one(&db.pool)
        .await?;
    let page = rows.iter().map(|r| (r.get("id"), audit_from(r))).collect();
    Ok((page, total.max(0) as u64))
}

pub(super) async fn audit_search(
    db: &PostgresStore,
    f: &AuditFilter,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<(i64, AuditEntry)>> {
    // Newest first by id; each filter is an equality on a column, or off.
    let rows = sqlx::query(
        "SELECT * FROM audit WHERE ($1::BIGINT IS NULL OR id < $1) AND ($2::TEXT IS NULL OR actor = $2) AND ($3::TEXT IS NULL OR action = $3) AND ($4::TEXT IS NULL OR outcome = $4) AND ($5::TEXT IS NULL OR group_id = $5) ORDER BY id DESC LIMIT $6",
    )
    .bind(before)
    .bind(&f.actor)
    .bind(&f.action)
    .bind(&f.outcome)
    .bind(&f.group_id)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(|r| (r.get("id"), audit_from(r))).collect())
}
