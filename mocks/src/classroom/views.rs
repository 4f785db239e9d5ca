//! What tests and benchmarks see of the Classroom fake: [`CourseView`] snapshots, read through
//! the facade rather than over HTTP, so they never count as calls.

use crate::classroom::model::{Course, Data};
use crate::state::Shared;
use crate::state::users::UserIdx;

/// A Classroom course as the mock holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseView {
    /// Numeric course id.
    pub id: String,
    pub aliases: Vec<String>,
    pub name: String,
    pub section: Option<String>,
    /// Owner's email.
    pub owner: String,
    /// `ACTIVE`, `ARCHIVED`, `PROVISIONED`, `DECLINED` or `SUSPENDED`.
    pub state: String,
    /// Emails, sorted (the owner included).
    pub teachers: Vec<String>,
    /// Emails, sorted.
    pub students: Vec<String>,
}

/// Every course (or the one with `alias`), in creation order.
pub(crate) fn course_views(shared: &Shared, alias: Option<&str>) -> Vec<CourseView> {
    let mut world = shared.world();
    let w = Data::of(&mut world);
    let emails = |list: &[UserIdx]| {
        let mut out: Vec<String> = list.iter().map(|&u| w.users.email(u)).collect();
        out.sort();
        out
    };
    let view = |c: &Course| CourseView {
        id: c.id.clone(),
        aliases: c.aliases.clone(),
        name: c.name.clone(),
        section: c.section.clone(),
        owner: w.users.email(c.owner),
        state: c.state.name().to_string(),
        teachers: emails(&c.teachers),
        students: emails(&c.students),
    };
    match alias {
        Some(alias) => w
            .classroom
            .by_alias
            .get(alias)
            .map(|&i| view(&w.classroom.courses[i]))
            .into_iter()
            .collect(),
        None => w.classroom.courses.iter().map(view).collect(),
    }
}
