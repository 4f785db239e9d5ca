//! Provisioning status in PostgreSQL: each import's outcome per school (`school_imports`), a school's
//! history, and every school with its latest import. Owns the row mapping of `school_imports`.

use super::{PostgresStore, json, parse_json};
use crate::store::{ChangeCounts, SchoolImport, SchoolLastImport, StoreResult};
use sqlx::Row;
use sqlx::postgres::PgRow;

/// The columns of `school_imports`, in the order `import_from` reads them.
const COLUMNS: &str = "i.school_id, i.at, i.day, i.format, i.file, i.actor, i.added, i.changed, \
                       i.unchanged, i.withdrawn, i.enqueued, i.held_back";

/// Each school's latest import (the row with its highest id), one index probe a school
/// (`school_imports_by_school`); a correlated `MAX(id)` in the join condition was planned as a
/// scan of every import.
const LATEST: &str = "LEFT JOIN LATERAL (SELECT * FROM school_imports WHERE school_id = s.id \
                      ORDER BY id DESC LIMIT 1) i ON TRUE";

fn import_from(row: &PgRow) -> StoreResult<SchoolImport> {
    let count = |c: &str| row.get::<i64, _>(c).max(0) as u64;
    Ok(SchoolImport {
        school_id: row.get("school_id"),
        at: row.get("at"),
        day: row.get("day"),
        format: row.get("format"),
        file: row.get("file"),
        actor: row.get("actor"),
        counts: ChangeCounts {
            added: count("added"),
            changed: count("changed"),
            unchanged: count("unchanged"),
            withdrawn: count("withdrawn"),
        },
        enqueued: count("enqueued"),
        held_back: parse_json(row.get("held_back"), "school_imports.held_back")?,
    })
}

pub(super) async fn record_school_imports(
    db: &PostgresStore,
    imports: &[SchoolImport],
) -> StoreResult<()> {
    let mut tx = db.pool.begin().await?;
    for i in imports {
        sqlx::query(
            "INSERT INTO school_imports (school_id, at, day, format, file, actor, added, changed, unchanged, withdrawn, enqueued, held_back)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&i.school_id)
        .bind(i.at)
        .bind(&i.day)
        .bind(&i.format)
        .bind(&i.file)
        .bind(&i.actor)
        .bind(i.counts.added as i64)
        .bind(i.counts.changed as i64)
        .bind(i.counts.unchanged as i64)
        .bind(i.counts.withdrawn as i64)
        .bind(i.enqueued as i64)
        .bind(json(&i.held_back))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn school_imports(
    db: &PostgresStore,
    school: &str,
    limit: u32,
) -> StoreResult<Vec<SchoolImport>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM school_imports i WHERE i.school_id = $1 ORDER BY i.id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(school)
        .bind(limit as i64)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(import_from).collect()
}

pub(super) async fn schools_with_last_import(
    db: &PostgresStore,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<SchoolLastImport>> {
    let sql = format!(
        "SELECT s.id AS known_id, s.name AS known_name, i.id AS import_id, {COLUMNS}
         FROM schools s {LATEST}
         WHERE s.id > COALESCE($1::TEXT, '') ORDER BY s.id LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SchoolLastImport {
                school_id: row.get("known_id"),
                name: row.get("known_name"),
                last: match row.get::<Option<i64>, _>("import_id") {
                    Some(_) => Some(import_from(row)?),
                    None => None,
                },
            })
        })
        .collect()
}

pub(super) async fn last_import_days(
    db: &PostgresStore,
) -> StoreResult<Vec<(String, Option<(String, i64)>)>> {
    let sql = format!("SELECT s.id AS known_id, i.day, i.at FROM schools s {LATEST} ORDER BY s.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let day: Option<String> = row.get("day");
            let at: Option<i64> = row.get("at");
            (row.get("known_id"), day.zip(at))
        })
        .collect())
}
