//! The audit log in SQLite: append a line; read the latest, newest first. Owns the row mapping of `audit`.

use super::SqliteStore;
use crate::store::{AuditEntry, AuditFilter, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn audit_from(row: &SqliteRow) -> AuditEntry {
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

pub(super) async fn audit(db: &SqliteStore, e: &AuditEntry) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit (at, actor, action, group_id, target, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.group_id)
        .bind(&e.target)
        .bind(&e.outcome)
        .bind(&e.detail)
        .execute(&db.writer)
        .await?;
    Ok(())
}

pub(super) async fn audit_log(db: &SqliteStore, limit: u32) -> StoreResult<Vec<AuditEntry>> {
    let rows = sqlx::query("SELECT * FROM audit ORDER BY id DESC LIMIT ?1")
        .bind(limit as i64)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.iter().map(audit_from).collect())
}

pub(super) async fn audit_page(
    db: &SqliteStore,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<(Vec<(i64, AuditEntry)>, u64)> {
    let rows =
        sqlx::query("SELECT * FROM audit WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2")
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
    db: &SqliteStore,
    f: &AuditFilter,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<(i64, AuditEntry)>> {
    // Newest first by id; each filter is an equality on a column, or off.
    let rows = sqlx::query(
        "SELECT * FROM audit WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR actor = ?2) AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR outcome = ?4) AND (?5 IS NULL OR group_id = ?5) ORDER BY id DESC LIMIT ?6",
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
