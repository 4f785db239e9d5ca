//! The read side at national scale in SQLite: View Groups a page at a time (`store::group_query`)
//! and one group's status, each in one statement; links counted by year and state. Reads only,
//! through the reader pool.

use super::SqliteStore;
use super::groups::group_from;
use crate::core::link::Link;
use crate::store::group_query::{self, Bind, PageRow, Sql};
use crate::store::{GroupPage, GroupQuery, StoreResult, StoredGroup};
use sqlx::Row;
use sqlx::sqlite::{Sqlite, SqliteArguments};

fn query(sql: &Sql) -> sqlx::query::Query<'_, Sqlite, SqliteArguments> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text.as_str()));
    for b in &sql.binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

/// A group's links as pages show them (see `group_query::links_shown`).
const LINKS_SHOWN: &str = "(SELECT json_group_array(json_array(l.target, l.state, l.remote_id, \
     l.mis_linked, l.last_sync, l.last_error, l.held_changes, json(l.missing_accounts))) \
     FROM links l WHERE l.group_id = g.id) AS links_shown";
/// The admins of a group's school, for the caller's re-check of the restore rule.
const SCHOOL_ADMINS: &str =
    "(SELECT s.admins FROM schools s WHERE s.id = g.school_id) AS school_admins";

pub(super) async fn visible_groups(db: &SqliteStore, q: &GroupQuery) -> StoreResult<GroupPage> {
    let (page, count) =
        group_query::page_and_count(q, '?', &format!("{LINKS_SHOWN}, {SCHOOL_ADMINS}"));
    let rows = query(&page).fetch_all(&db.pool).await?;
    let (mut page, total) = group_query::page_from(
        rows.iter().map(|row| {
            Ok(PageRow {
                group: group_from(row)?,
                links_shown: row.get("links_shown"),
                school_admins: row.get("school_admins"),
            })
        }),
        q,
    )?;
    page.total = match total {
        Some(total) => total,
        None => query(&count)
            .fetch_one(&db.pool)
            .await?
            .get::<i64, _>(0)
            .max(0) as u64,
    };
    Ok(page)
}

pub(super) async fn group_shown(
    db: &SqliteStore,
    id: &str,
) -> StoreResult<Option<(StoredGroup, Vec<Link>)>> {
    let sql = format!("SELECT g.*, {LINKS_SHOWN} FROM groups g WHERE g.id = ?1");
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    let g = group_from(&row)?;
    let links = group_query::links_shown(id, row.get("links_shown"))?;
    Ok(Some((g, links)))
}

pub(super) async fn link_counts(db: &SqliteStore) -> StoreResult<Vec<(String, String, u64)>> {
    let rows = sqlx::query(
        "SELECT g.academic_year AS year, l.state AS state, COUNT(*) AS n
         FROM links l JOIN groups g ON g.id = l.group_id
         GROUP BY g.academic_year, l.state ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get("year"),
                r.get("state"),
                r.get::<i64, _>("n").max(0) as u64,
            )
        })
        .collect())
}
