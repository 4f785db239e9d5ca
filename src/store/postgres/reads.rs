//! The read side at national scale in PostgreSQL: View Groups a page at a time (`store::group_query`),
//! links counted by year and state. Reads only, through the reader pool.

use super::PostgresStore;
use super::groups::{group_from, links_of_groups};
use crate::store::group_query::{self, Bind, Sql};
use crate::store::{GroupPage, GroupQuery, StoreResult};
use sqlx::Row;
use sqlx::postgres::{PgArguments, Postgres};

fn query(sql: &Sql) -> sqlx::query::Query<'_, Postgres, PgArguments> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text.as_str()));
    for b in &sql.binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

pub(super) async fn visible_groups(db: &PostgresStore, q: &GroupQuery) -> StoreResult<GroupPage> {
    let (page, count) = group_query::page_and_count(q, '$');
    let rows = query(&page).fetch_all(&db.pool).await?;
    let mut groups = rows
        .iter()
        .map(group_from)
        .collect::<StoreResult<Vec<_>>>()?;
    let more = groups.len() > q.limit as usize;
    groups.truncate(q.limit as usize);
    let total: i64 = query(&count).fetch_one(&db.pool).await?.get(0);
    let ids: Vec<&str> = groups.iter().map(|g| g.group.id.as_str()).collect();
    let mut links = links_of_groups(db, &ids).await?.into_iter().peekable();
    let mut page = Vec::with_capacity(groups.len());
    // Both come in id order: each group takes the links that follow for it.
    for g in groups {
        let mut own = Vec::new();
        while let Some(l) = links.next_if(|l| l.group_id == g.group.id) {
            own.push(l);
        }
        page.push((g, own));
    }
    Ok(GroupPage {
        groups: page,
        total: total.max(0) as u64,
        more,
    })
}

pub(super) async fn link_counts(db: &PostgresStore) -> StoreResult<Vec<(String, String, u64)>> {
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
