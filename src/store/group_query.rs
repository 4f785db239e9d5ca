//! View Groups as one SQL statement for both backends: visibility (the restore rule, CONTRACT §3)
//! and every filter answered by indexes (`school_admins`, `group_teachers`, `groups_school_id`),
//! never by loading every group. The text uses numbered placeholders (`?1` for SQLite, `$1` for
//! PostgreSQL) so one definition serves both.
//!
//! The rule lives in `core::restore_policy::decide`; this is its index-shaped twin, and callers
//! re-check each group of a page with `decide` (a page's worth of work) so the two cannot drift
//! unnoticed (see `tests/it/store.rs`, `visible_groups_*`).

use super::StoreError;
use super::records::{GroupPage, GroupQuery, StoredGroup};
use crate::core::link::Link;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A value bound to a placeholder.
pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// A statement and the values of its placeholders, in order.
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) binds: Vec<Bind>,
}

/// Builds `WHERE` conditions with their binds; `mark` is `?` or `$`.
struct Conditions {
    mark: char,
    parts: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    /// `sql` with `{}` replaced by the next placeholder, bound to `value`.
    fn push(&mut self, sql: &str, value: Bind) {
        self.binds.push(value);
        let placeholder = format!("{}{}", self.mark, self.binds.len());
        self.parts.push(sql.replace("{}", &placeholder));
    }

    fn placeholder(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("{}{}", self.mark, self.binds.len())
    }
}

/// The page (`SELECT g.*, extras … ORDER BY g.id LIMIT limit + 1`: one more tells whether another
/// page follows) and the count of every match, for the query `q`. `extras` are the backend's
/// columns read with each group (its links and its school's admins, see [`LinkShown`]), so a page
/// is one statement.
pub(super) fn page_and_count(q: &GroupQuery, mark: char, extras: &str) -> (Sql, Sql) {
    (build(q, mark, Some(extras)), build(q, mark, None))
}

/// One link as a group's page shows it, as each backend's `extras` write it: a JSON array
/// `[target, state, remote_id, mis_linked, last_sync, last_error, held_changes, missing_accounts]`
/// (the flags as SQLite's 0/1 or PostgreSQL's booleans). Read in one statement with its group
/// rather than a statement per page: under fifty clients each statement is a wait for a
/// connection. The managed roster is not read: nobody is shown it.
#[derive(Deserialize)]
struct LinkShown(
    String,
    String,
    Option<String>,
    Flag,
    Option<i64>,
    Option<String>,
    Flag,
    Vec<String>,
);

/// A boolean column as JSON: `true`/`false` (PostgreSQL) or `1`/`0` (SQLite).
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Int(i64),
}

impl Flag {
    fn on(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Int(i) => *i != 0,
        }
    }
}

/// The links of group `group_id` from its `links_shown` column, in target order.
pub(super) fn links_shown(group_id: &str, json: &str) -> Result<Vec<Link>, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("links of `{group_id}`: {e}"));
    let shown: Vec<LinkShown> = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
    let mut links = shown
        .into_iter()
        .map(|l| {
            let mut link = Link::stored(
                group_id,
                l.0.parse().map_err(corrupt)?,
                l.1.parse().map_err(corrupt)?,
                l.3.on(),
            );
            link.remote_id = l.2;
            link.last_sync = l.4;
            link.last_error = l.5;
            link.held_changes = l.6.on();
            link.missing_accounts = l.7;
            Ok(link)
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    links.sort_by(|a, b| a.target.as_str().cmp(b.target.as_str()));
    Ok(links)
}

/// One row of a page as a backend decoded it: the group and the text of its `extras` columns.
pub(super) struct PageRow<'r> {
    pub(super) group: StoredGroup,
    pub(super) links_shown: &'r str,
    pub(super) school_admins: Option<&'r str>,
}

/// The page from its rows (at most `limit + 1`, in id order), with its total when the rows tell
/// it: a first page that holds every match is its own count. `None`: the caller reads the count.
pub(super) fn page_from<'r>(
    rows: impl Iterator<Item = Result<PageRow<'r>, StoreError>>,
    q: &GroupQuery,
) -> Result<(GroupPage, Option<u64>), StoreError> {
    let mut groups = Vec::new();
    let mut school_admins = BTreeMap::new();
    let mut more = false;
    for row in rows {
        if groups.len() == q.limit as usize {
            more = true;
            break;
        }
        let row = row?;
        let links = links_shown(&row.group.group.id, row.links_shown)?;
        let school = &row.group.group.school;
        if !school_admins.contains_key(school)
            && let Some(admins) = row.school_admins
        {
            let admins = serde_json::from_str(admins)
                .map_err(|e| StoreError::Corrupt(format!("admins of `{school}`: {e}")))?;
            school_admins.insert(school.clone(), admins);
        }
        groups.push((row.group, links));
    }
    let total = (q.after.is_none() && !more).then_some(groups.len() as u64);
    let page = GroupPage {
        groups,
        school_admins,
        total: total.unwrap_or(0),
        more,
    };
    Ok((page, total))
}

fn build(q: &GroupQuery, mark: char, page: Option<&str>) -> Sql {
    let mut c = Conditions {
        mark,
        parts: Vec::new(),
        binds: Vec::new(),
    };
    // The person's groups first, as a small set of ids: a school's groups through the schools
    // they administer, plus the groups they teach. Everything else filters that set.
    let from = match &q.viewer {
        Some(viewer) => {
            let as_admin = c.placeholder(Bind::Text(viewer.clone()));
            let as_teacher = c.placeholder(Bind::Text(viewer.clone()));
            format!(
                "(SELECT g2.id FROM school_admins a JOIN groups g2 ON g2.school_id = a.school_id \
                   WHERE a.email = {as_admin} \
                 UNION SELECT t.group_id FROM group_teachers t WHERE t.email = {as_teacher}) v \
                 JOIN groups g ON g.id = v.id"
            )
        }
        None => "groups g".to_string(),
    };
    if let Some(school) = &q.school {
        c.push("g.school_id = {}", Bind::Text(school.clone()));
    }
    if let Some(year) = &q.academic_year {
        c.push("g.academic_year = {}", Bind::Text(year.clone()));
    }
    if let Some(year_group) = q.year_group {
        c.push("g.year_group = {}", Bind::Int(year_group));
    }
    if let Some(teacher) = &q.teacher {
        c.push(
            "g.id IN (SELECT t2.group_id FROM group_teachers t2 WHERE t2.email = {})",
            Bind::Text(teacher.clone()),
        );
    }
    match (q.target, q.state) {
        (None, None) => {}
        (target, state) => {
            let mut link = Vec::new();
            if let Some(t) = target {
                link.push(format!(
                    "l.target = {}",
                    c.placeholder(Bind::Text(t.as_str().into()))
                ));
            }
            if let Some(s) = state {
                link.push(format!(
                    "l.state = {}",
                    c.placeholder(Bind::Text(s.as_str().into()))
                ));
            }
            c.parts.push(format!(
                "EXISTS (SELECT 1 FROM links l WHERE l.group_id = g.id AND {})",
                link.join(" AND ")
            ));
        }
    }
    if page.is_some()
        && let Some(after) = &q.after
    {
        c.push("g.id > {}", Bind::Text(after.clone()));
    }
    let filter = if c.parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", c.parts.join(" AND "))
    };
    let text = if let Some(extras) = page {
        let limit = c.placeholder(Bind::Int(i64::from(q.limit) + 1));
        format!("SELECT g.*, {extras} FROM {from}{filter} ORDER BY g.id LIMIT {limit}")
    } else {
        format!("SELECT COUNT(*) FROM {from}{filter}")
    };
    Sql {
        text,
        binds: c.binds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::domain::Target;
    use crate::core::link::LinkState;

    #[test]
    fn a_teachers_page_reads_their_groups_filtered_after_the_cursor() {
        let q = GroupQuery {
            viewer: Some("t@x".into()),
            academic_year: Some("2025-26".into()),
            target: Some(Target::Teams),
            state: Some(LinkState::Archived),
            after: Some("g9".into()),
            limit: 50,
            ..GroupQuery::default()
        };
        let (page, count) = page_and_count(&q, '$', "1 AS x");
        assert!(page.text.contains("WHERE a.email = $1"), "{}", page.text);
        assert!(page.text.contains("t.email = $2"), "{}", page.text);
        assert!(page.text.contains("g.academic_year = $3"), "{}", page.text);
        assert!(
            page.text.contains("l.target = $4 AND l.state = $5"),
            "{}",
            page.text
        );
        assert!(
            page.text.ends_with("g.id > $6 ORDER BY g.id LIMIT $7"),
            "{}",
            page.text
        );
        assert_eq!(page.binds.len(), 7);
        assert!(
            !count.text.contains("g.id >"),
            "the count covers every page"
        );
        assert_eq!(count.binds.len(), 5);
    }

    #[test]
    fn an_operator_reads_every_group() {
        let (page, _) = page_and_count(
            &GroupQuery {
                limit: 100,
                ..GroupQuery::default()
            },
            '?',
            "1 AS x",
        );
        assert_eq!(
            page.text,
            "SELECT g.*, 1 AS x FROM groups g ORDER BY g.id LIMIT ?1"
        );
    }
}

#[cfg(test)]
mod links_shown_tests {
    use super::*;
    use crate::core::domain::Target;
    use crate::core::link::LinkState;

    #[test]
    fn both_backends_flags_read_alike_and_links_come_in_target_order() {
        let sqlite = r#"[["teams","archived","t-1",1,5,null,0,["a@x"]],["classroom","failed",null,0,null,"no",1,[]]]"#;
        let postgres = r#"[["teams","archived","t-1",true,5,null,false,["a@x"]],["classroom","failed",null,false,null,"no",true,[]]]"#;
        for json in [sqlite, postgres] {
            let links = links_shown("g1", json).unwrap();
            assert_eq!(links.len(), 2);
            let (c, t) = (&links[0], &links[1]);
            assert_eq!(
                (c.target, c.state()),
                (Target::Classroom, LinkState::Failed)
            );
            assert!(!c.mis_linked() && c.held_changes);
            assert_eq!(c.last_error.as_deref(), Some("no"));
            assert_eq!((t.target, t.state()), (Target::Teams, LinkState::Archived));
            assert!(t.mis_linked() && !t.held_changes && t.restorable());
            assert_eq!(t.remote_id.as_deref(), Some("t-1"));
            assert_eq!(
                (t.last_sync, t.missing_accounts.clone()),
                (Some(5), vec!["a@x".to_string()])
            );
        }
    }

    #[test]
    fn a_damaged_link_is_corrupt_not_a_panic() {
        for json in [
            "",
            "[[\"teams\"]]",
            r#"[["fax","active",null,1,null,null,0,[]]]"#,
        ] {
            assert!(
                matches!(links_shown("g1", json), Err(StoreError::Corrupt(_))),
                "{json}"
            );
        }
    }
}
