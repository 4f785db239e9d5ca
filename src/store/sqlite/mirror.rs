//! `group_teachers` and `school_admins` in SQLite: the JSON lists of `groups.teachers` and
//! `schools.admins` as rows, so that View Groups finds a person's groups by index. Written inside
//! the transaction that writes the groups and schools they mirror, never on their own.

use crate::core::domain::{Group, School, normalise_email};
use crate::store::StoreResult;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// Rows one INSERT writes at most (two parameters each: far inside SQLite's limit).
const ROWS: usize = 5_000;

/// Replaces the mirrored teachers of `groups`.
pub(super) async fn teachers(tx: &mut SqliteConnection, groups: &[&Group]) -> StoreResult<()> {
    let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    replace(
        tx,
        "group_teachers",
        "group_id",
        &ids,
        groups
            .iter()
            .flat_map(|g| {
                g.teachers
                    .iter()
                    .map(|t| (normalise_email(t), g.id.as_str()))
            })
            .collect(),
    )
    .await
}

/// Replaces the mirrored admins of `schools`.
pub(super) async fn admins(tx: &mut SqliteConnection, schools: &[&School]) -> StoreResult<()> {
    let ids: Vec<&str> = schools.iter().map(|s| s.id.as_str()).collect();
    replace(
        tx,
        "school_admins",
        "school_id",
        &ids,
        schools
            .iter()
            .flat_map(|s| s.admins.iter().map(|a| (normalise_email(a), s.id.as_str())))
            .collect(),
    )
    .await
}

async fn replace(
    tx: &mut SqliteConnection,
    table: &str,
    owner: &str,
    owners: &[&str],
    rows: Vec<(String, &str)>,
) -> StoreResult<()> {
    if owners.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(owners).expect("ids serialise");
    let delete = format!("DELETE FROM {table} WHERE {owner} IN (SELECT value FROM json_each(?1))");
    sqlx::query(sqlx::AssertSqlSafe(delete))
        .bind(ids)
        .execute(&mut *tx)
        .await?;
    for chunk in rows.chunks(ROWS) {
        let mut insert =
            QueryBuilder::<Sqlite>::new(format!("INSERT OR IGNORE INTO {table} (email, {owner}) "));
        insert.push_values(chunk, |mut row, (email, id)| {
            row.push_bind(email.as_str()).push_bind(*id);
        });
        insert.build().execute(&mut *tx).await?;
    }
    Ok(())
}
