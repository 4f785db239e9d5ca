//! View Groups as one SQL statement for both backends: visibility (the restore rule, CONTRACT §3)
//! and every filter answered by indexes (`school_admins`, `group_teachers`, `groups_school_id`),
//! never by loading every group. The text uses numbered placeholders (`?1` for SQLite, `$1` for
//! PostgreSQL) so one definition serves both.
//!
//! The rule lives in `core::restore_policy::decide`; this is its index-shaped twin, and callers
//! re-check each group of a page with `decide` (a page's worth of work) so the two cannot drift
//! unnoticed (see `tests/it/store.rs`, `visible_groups_*`).

use super::records::GroupQuery;

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

/// The page (`SELECT g.* … ORDER BY g.id LIMIT limit + 1`: one more tells whether another page
/// follows) and the count of every match, for the query `q`.
pub(super) fn page_and_count(q: &GroupQuery, mark: char) -> (Sql, Sql) {
    (build(q, mark, true), build(q, mark, false))
}

fn build(q: &GroupQuery, mark: char, page: bool) -> Sql {
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
    if page && let Some(after) = &q.after {
        c.push("g.id > {}", Bind::Text(after.clone()));
    }
    let filter = if c.parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", c.parts.join(" AND "))
    };
    let text = if page {
        let limit = c.placeholder(Bind::Int(i64::from(q.limit) + 1));
        format!("SELECT g.* FROM {from}{filter} ORDER BY g.id LIMIT {limit}")
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
        let (page, count) = page_and_count(&q, '$');
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
        );
        assert_eq!(page.text, "SELECT g.* FROM groups g ORDER BY g.id LIMIT ?1");
    }
}
