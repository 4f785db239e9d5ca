//! The enrollments reader: the largest file (millions of rows nationally), streamed and resolved
//! row by row against the classes and users already read, so that only each class's member
//! addresses are held — as a bulk roster, or as a delta's additions and removals.

use super::fast::HashMap;
use super::files::{Records, Scope};
use super::manifest::{ENROLLMENTS, USERS};
use super::problem::Problems;
use super::table::{Column, Mode, Row, SOURCED_ID, Status, opt, read_table, req};
use crate::core::delta::MemberChanges;
use crate::core::snapshot::values::shown;
use std::io::Read;

pub(super) const ENROLLMENT_COLUMNS: &[Column] = &[
    req("sourcedId"),
    opt("status"),
    opt("dateLastModified"),
    req("classSourcedId"),
    req("schoolSourcedId"),
    req("userSourcedId"),
    req("role"),
    opt("primary"),
    opt("beginDate"),
    opt("endDate"),
];
const ROLES: &[&str] = &["administrator", "proctor", "student", "teacher"];
const CLASS: usize = 3;
const SCHOOL: usize = 4;
const USER: usize = 5;
const ROLE: usize = 6;

/// One class's members in a bulk set, each with the line that enrolled them, in file order (the
/// first teacher is the preferred owner).
#[derive(Default)]
pub(super) struct Roster {
    pub teachers: Vec<(String, u64)>,
    pub learners: Vec<(String, u64)>,
}

/// What the enrollments file did to each class, by class sourcedId.
#[derive(Default)]
pub(super) struct Enrolled {
    /// Bulk: the whole roster of each class of the set.
    pub rosters: HashMap<String, Roster>,
    /// Delta: members added and removed, with the latest `dateLastModified` of those rows.
    pub changes: HashMap<String, (MemberChanges, Option<String>)>,
}

pub(super) fn enrollments(
    input: &mut dyn Read,
    mode: Mode,
    scope: &Scope,
    records: &mut Records,
    problems: &mut Problems,
) -> std::io::Result<Enrolled> {
    let mut seen: HashMap<Box<str>, u64> = HashMap::default();
    let mut out = Enrolled::default();
    read_table(
        input,
        ENROLLMENTS,
        ENROLLMENT_COLUMNS,
        mode,
        problems,
        |row, problems| {
            let Some(id) = row.required(SOURCED_ID, problems) else {
                return;
            };
            if let Some(first) = seen.get(id) {
                row.report(
                    problems,
                    SOURCED_ID,
                    format!(
                        "duplicate sourcedId `{}` (first on line {first})",
                        shown(id)
                    ),
                );
                return;
            }
            seen.insert(id.into(), row.line);
            let class = row.required(CLASS, problems);
            let school = row.required(SCHOOL, problems);
            let user = row.required(USER, problems);
            let role = row.enumeration(ROLE, ROLES, problems);
            row.boolean(7, problems);
            row.date(8, problems);
            row.date(9, problems);
            let class_usable =
                class.is_some_and(|c| class_exists(row, c, school, scope, records, problems));
            let user_known = user.is_some_and(|u| {
                let known = records.users.contains_key(u);
                if !known {
                    let message = match scope.present(USERS) {
                        true => format!("user `{}` is not in users.csv", shown(u)),
                        false => format!(
                            "user `{}`: this set has no users.csv, so the user's address cannot be found",
                            shown(u)
                        ),
                    };
                    row.report(problems, USER, message);
                }
                known
            });
            let (Some(class), Some(user), Some(role @ ("teacher" | "student"))) =
                (class, user, role)
            else {
                return;
            };
            if !class_usable || !user_known {
                return;
            }
            if scope.delta {
                delta_row(row, class, user, role, records, problems, &mut out);
            } else {
                bulk_row(row, class, user, role, records, problems, &mut out);
            }
        },
    )?;
    Ok(out)
}

/// The enrollment's class must be in the set (or, in a delta, a current group the store holds),
/// and its school must be the class's.
fn class_exists(
    row: &Row,
    class: &str,
    school: Option<&str>,
    scope: &Scope,
    records: &Records,
    problems: &mut Problems,
) -> bool {
    if let Some(at) = records.class_index.get(class) {
        let found = &records.classes[*at];
        if let Some(school) = school
            && !found.school.is_empty()
            && found.school != school
        {
            row.report(
                problems,
                SCHOOL,
                format!(
                    "class `{}` belongs to org `{}` (classes.csv line {}), not `{}`",
                    shown(class),
                    shown(&found.school),
                    found.line,
                    shown(school)
                ),
            );
            return false;
        }
        return true;
    }
    if scope.delta && scope.held.groups.contains(class) {
        if let Some(school) = school
            && !records.orgs.contains_key(school)
            && !scope.held.schools.contains(school)
        {
            row.report(
                problems,
                SCHOOL,
                format!(
                    "org `{}` is neither in orgs.csv nor a school class-sync holds",
                    shown(school)
                ),
            );
            return false;
        }
        return true;
    }
    let message = if scope.delta {
        format!(
            "class `{}` is neither in classes.csv nor a current group class-sync holds",
            shown(class)
        )
    } else {
        format!("class `{}` is not in classes.csv", shown(class))
    };
    row.report(problems, CLASS, message);
    false
}

/// A bulk row adds its member to the class's roster, if the row, the class, its school and the
/// user are all current (rows `tobedeleted` or `inactive` are left out, CONTRACT §4).
fn bulk_row(
    row: &Row,
    class: &str,
    user: &str,
    role: &str,
    records: &mut Records,
    problems: &mut Problems,
    out: &mut Enrolled,
) {
    let found = &records.classes[records.class_index[class]];
    let school_current = records
        .orgs
        .get(&found.school)
        .is_some_and(|o| o.status == Status::Active);
    let user_current = records.users[user].status == Status::Active;
    if row.status != Status::Active
        || found.status != Status::Active
        || found.data.is_none()
        || !school_current
        || !user_current
    {
        return;
    }
    let Some(address) = records.address(user, problems) else {
        return;
    };
    let roster = out.rosters.entry(class.to_string()).or_default();
    let (list, noun) = match role {
        "teacher" => (&mut roster.teachers, "teacher"),
        _ => (&mut roster.learners, "student"),
    };
    if let Some((_, first)) = list.iter().find(|(a, _)| *a == address) {
        row.report(
            problems,
            USER,
            format!(
                "`{address}` is already a {noun} of class `{}` (enrollments.csv line {first})",
                shown(class)
            ),
        );
        return;
    }
    list.push((address, row.line));
}

/// A delta row adds its member (an `active` row of a current user) or removes it (a row
/// `tobedeleted`, or a user `tobedeleted`); rows of a class the delta withdraws change nothing.
fn delta_row(
    row: &Row,
    class: &str,
    user: &str,
    role: &str,
    records: &mut Records,
    problems: &mut Problems,
    out: &mut Enrolled,
) {
    if let Some(at) = records.class_index.get(class)
        && records.classes[*at].status != Status::Active
    {
        return;
    }
    let Some(address) = records.address(user, problems) else {
        return;
    };
    let add = row.status == Status::Active && records.users[user].status == Status::Active;
    let (changes, modified) = out.changes.entry(class.to_string()).or_default();
    let list = match (role, add) {
        ("teacher", true) => &mut changes.add_teachers,
        ("teacher", false) => &mut changes.remove_teachers,
        (_, true) => &mut changes.add_learners,
        (_, false) => &mut changes.remove_learners,
    };
    if !list.contains(&address) {
        list.push(address);
    }
    *modified = super::latest(modified.take(), row.modified);
}
