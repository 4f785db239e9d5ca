//! `group_teachers` and `school_admins` in PostgreSQL: the JSON lists of `groups.teachers` and
//! `schools.admins` as rows, so that View Groups finds a person's groups by index. Written inside
//! the transaction that writes the groups and schools they mirror, never on their own.

use crate::core::domain::{Group, School, normalise_email};
use crate::store::StoreResult;
use sqlx::PgConnection;

/// Replaces the mirrored teachers of `groups`.
pub(super) async fn teachers(tx: &mut PgConnection, groups: &[&Group]) -> StoreResult<()> {
    let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    let (emails, owners): (Vec<String>, Vec<&str>) = groups
        .iter()
        .flat_map(|g| {
            g.teachers
                .iter()
                .map(|t| (normalise_email(t), g.id.as_str()))
        })
        .unzip();
    replace(tx, "group_teachers", "group_id", &ids, &emails, &owners).await
}

/// Replaces the mirrored admins of `schools`.
pub(super) async fn admins(tx: &mut PgConnection, schools: &[&School]) -> StoreResult<()> {
    let ids: Vec<&str> = schools.iter().map(|s| s.id.as_str()).collect();
    let (emails, owners): (Vec<String>, Vec<&str>) = schools
        .iter()
        .flat_map(|s| s.admins.iter().map(|a| (normalise_email(a), s.id.as_str())))
        .unzip();
    replace(tx, "school_admins", "school_id", &ids, &emails, &owners).await
}

async fn replace(
    tx: &mut PgConnection,
    table: &str,
    owner: &str,
    ids: &[&str],
    emails: &[String],
    owners: &[&str],
) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let delete = format!("DELETE FROM {table} WHERE {owner} = ANY($1)");
    sqlx::query(sqlx::AssertSqlSafe(delete))
        .bind(ids)
        .execute(&mut *tx)
        .await?;
    let insert = format!(
        "INSERT INTO {table} (email, {owner}) SELECT * FROM unnest($1::text[], $2::text[])
         ON CONFLICT DO NOTHING"
    );
    sqlx::query(sqlx::AssertSqlSafe(insert))
        .bind(emails)
        .bind(owners)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
