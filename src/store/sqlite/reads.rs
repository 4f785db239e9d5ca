//! The read side at national scale in SQLite: View Groups a page at a time (`store::group_query`)
//! and one group's status, each in one statement; links counted by year and state. Reads only,
//! through the reader pool.

use super::groups::group_from;
use super::{SqliteStore, parse_json};
use crate::core::link::Link;
use crate::store::group_query::{self, Bind, Sql};
use crate::store::{GroupPage, GroupQuery, StoreResult, StoredGroup};
use sqlx::Row;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use std::collections::BTreeMap;

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
    let more = rows.len() > q.limit as usize;
    let mut groups = Vec::with_capacity(rows.len().min(q.limit as usize));
    let mut school_admins = BTreeMap::new();
    for row in rows.iter().take(q.limit as usize) {
        let g = group_from(row)?;
        let links = group_query::links_shown(&g.group.id, row.get("links_shown"))?;
        if !school_admins.contains_key(&g.group.school)
            && let Some(admins) = row.get::<Option<&str>, _>("school_admins")
        {
            school_admins.insert(g.group.school.clone(), parse_json(admins, "school admins")?);
        }
        groups.push((g, links));
    }
    let total = if q.after.is_none() && !more {
        // A first page that holds every match is its own count.
        groups.len() as u64
    } else {
        query(&count)
            .fetch_one(&db.pool)
            .await?
            .get::<i64, _>(0)
            .max(0) as u64
    };
    Ok(GroupPage {
        groups,
        school_admins,
        total,
        more,
    })
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
