//! The classes reader: each class row checked as OneRoster 1.1 requires and as a group must be
//! (its id, its name, one configured school year from its terms, a school of the set or, in a
//! delta, one the store holds, its targets from `metadata.ump.targets`), kept as the group's data.

use super::fast::HashMap;
use super::files::{Records, Scope, Session};
use super::manifest::{CLASSES, COURSES, SESSIONS};
use super::problem::Problems;
use super::table::{Column, Mode, Row, SOURCED_ID, Status, opt, read_table, req};
use crate::core::calendar::AcademicYear;
use crate::core::domain::Target;
use crate::core::snapshot::MAX_NAME_CHARS;
use crate::core::snapshot::values::{check_id, shown};
use std::io::Read;

pub(super) const CLASS_COLUMNS: &[Column] = &[
    req("sourcedId"),
    opt("status"),
    opt("dateLastModified"),
    req("title"),
    opt("grades"),
    req("courseSourcedId"),
    opt("classCode"),
    req("classType"),
    opt("location"),
    req("schoolSourcedId"),
    req("termSourcedIds"),
    opt("subjects"),
    opt("subjectCodes"),
    opt("periods"),
];
const CLASS_TYPES: &[&str] = &["homeroom", "scheduled"];
/// The extension column naming a class's targets, space-separated (CONTRACT §4).
pub(super) const TARGETS_COLUMN: &str = "metadata.ump.targets";

pub(super) struct Class {
    pub id: String,
    pub line: u64,
    pub status: Status,
    pub modified: Option<String>,
    pub school: String,
    /// Everything the group needs, or None when a problem was reported.
    pub data: Option<ClassData>,
}

pub(super) struct ClassData {
    pub name: String,
    pub academic_year: String,
    pub targets: Vec<Target>,
}

pub(super) fn classes(
    input: &mut dyn Read,
    mode: Mode,
    scope: &Scope,
    records: &mut Records,
    problems: &mut Problems,
) -> std::io::Result<()> {
    // Group ids are compared ignoring case, as a JSON snapshot's are: Teams' `externalId` filter,
    // `mailNickname` and Classroom aliases do not tell `7a` from `7A`.
    let mut seen: HashMap<String, (String, u64)> = HashMap::default();
    let courses_checked = scope.present(COURSES) && !scope.delta;
    read_table(
        input,
        CLASSES,
        CLASS_COLUMNS,
        mode,
        problems,
        |row, problems| {
            let Some(id) = row.required(SOURCED_ID, problems) else {
                return;
            };
            let key = id.to_ascii_lowercase();
            if let Some((first_id, first_line)) = seen.get(&key) {
                let message = if first_id == id {
                    format!(
                        "duplicate sourcedId `{}` (first on line {first_line})",
                        shown(id)
                    )
                } else {
                    format!(
                        "duplicate sourcedId `{}`: it differs from `{}` (line {first_line}) only in letter case, which Teams and Classroom do not distinguish",
                        shown(id),
                        shown(first_id)
                    )
                };
                row.report(problems, SOURCED_ID, message);
                return;
            }
            seen.insert(key, (id.to_string(), row.line));
            let mut ok = true;
            if let Err(message) = check_id(id) {
                row.report(
                    problems,
                    SOURCED_ID,
                    format!("{message} (a class's sourcedId is its group id)"),
                );
                ok = false;
            }
            let class = Class {
                id: id.to_string(),
                line: row.line,
                status: row.status,
                modified: row.modified.map(str::to_string),
                school: row.get(9).to_string(),
                data: None,
            };
            if scope.delta && row.status == Status::Gone {
                // Withdrawing needs nothing but the id.
                push_class(records, class);
                return;
            }
            let name = row.required(3, problems);
            if let Some(name) = name
                && name.chars().count() > MAX_NAME_CHARS
            {
                row.report(
                    problems,
                    3,
                    format!(
                        "the name is {} characters long; at most {MAX_NAME_CHARS} are allowed",
                        name.chars().count()
                    ),
                );
                ok = false;
            }
            let course = row.required(5, problems);
            if courses_checked
                && let Some(course) = course
                && !records.courses.contains(course)
            {
                row.report(
                    problems,
                    5,
                    format!("course `{}` is not in courses.csv", shown(course)),
                );
            }
            row.enumeration(7, CLASS_TYPES, problems);
            let school_ok = school_of_class(row, scope, records, problems);
            let year = academic_year(row, scope, records, problems);
            let targets = targets(row, scope, problems);
            ok &= name.is_some() && school_ok;
            let data = match (ok, year, targets) {
                (true, Some(academic_year), Some(targets)) => Some(ClassData {
                    name: name.unwrap_or_default().to_string(),
                    academic_year,
                    targets,
                }),
                _ => None,
            };
            push_class(records, Class { data, ..class });
        },
    )
}

fn push_class(records: &mut Records, class: Class) {
    records
        .class_index
        .insert(class.id.clone(), records.classes.len());
    records.classes.push(class);
}

/// The class's school must be a school org of the set (or, in a delta, a school the store holds).
fn school_of_class(row: &Row, scope: &Scope, records: &Records, problems: &mut Problems) -> bool {
    const COL: usize = 9;
    let Some(school) = row.required(COL, problems) else {
        return false;
    };
    match records.orgs.get(school) {
        // A delta's class of a school the same delta deletes, which the store does not hold:
        // there would be no school to store it under. (In a bulk set the class is left out.)
        Some(org)
            if org.school
                && org.status == Status::Gone
                && scope.delta
                && !scope.held.schools.contains(school) =>
        {
            row.report(
                problems,
                COL,
                format!(
                    "org `{}` is `tobedeleted` in orgs.csv and not a school class-sync holds",
                    shown(school)
                ),
            );
            false
        }
        Some(org) if org.school => true,
        Some(_) => {
            row.report(
                problems,
                COL,
                format!(
                    "org `{}` is not a school (its type in orgs.csv is not `school`)",
                    shown(school)
                ),
            );
            false
        }
        None if scope.delta && scope.held.schools.contains(school) => true,
        None if scope.delta => {
            row.report(
                problems,
                COL,
                format!(
                    "org `{}` is neither in orgs.csv nor a school class-sync holds",
                    shown(school)
                ),
            );
            false
        }
        None => {
            row.report(
                problems,
                COL,
                format!("org `{}` is not in orgs.csv", shown(school)),
            );
            false
        }
    }
}

/// The academic year of the class's terms (their sessions' `schoolYear`, the ending year:
/// 2026 → 2025-26; titles are free text and never read), which must be configured.
fn academic_year(
    row: &Row,
    scope: &Scope,
    records: &Records,
    problems: &mut Problems,
) -> Option<String> {
    const COL: usize = 10;
    row.required(COL, problems)?;
    let terms = row.ids(COL, problems);
    let mut years: Vec<(i32, &str)> = Vec::new();
    let mut ok = true;
    for term in &terms {
        match records.sessions.get(*term) {
            None => {
                let message = if scope.present(SESSIONS) {
                    format!(
                        "session `{}` is not in academicSessions.csv, so the class's school year cannot be found",
                        shown(term)
                    )
                } else {
                    format!(
                        "session `{}`: this set has no academicSessions.csv, so the class's school year cannot be found",
                        shown(term)
                    )
                };
                row.report(problems, COL, message);
                ok = false;
            }
            Some(Session {
                school_year: None,
                line,
            }) => {
                row.report(
                    problems,
                    COL,
                    format!("the school year of session `{}` cannot be found: its schoolYear (academicSessions.csv line {line}) is not valid", shown(term)),
                );
                ok = false;
            }
            Some(Session {
                school_year: Some(year),
                ..
            }) => {
                if !years.iter().any(|(y, _)| y == year) {
                    years.push((*year, term));
                }
            }
        }
    }
    if !ok {
        return None;
    }
    match years.as_slice() {
        [(ending, term)] => {
            let year = AcademicYear::starting(ending - 1).to_string();
            if scope.configured_years.contains(&year) {
                Some(year)
            } else {
                row.report(
                    problems,
                    COL,
                    format!("no [[years]] entry for {year} in the config (session `{}` has schoolYear {ending})", shown(term)),
                );
                None
            }
        }
        [(a, ta), (b, tb), ..] => {
            row.report(
                problems,
                COL,
                format!(
                    "the class's terms are in different school years: `{}` in {a}, `{}` in {b}; a group belongs to one academic year",
                    shown(ta),
                    shown(tb)
                ),
            );
            None
        }
        [] => None,
    }
}

/// `metadata.ump.targets` (space-separated), or the configured default when blank or absent.
fn targets(row: &Row, scope: &Scope, problems: &mut Problems) -> Option<Vec<Target>> {
    let value = row.extension(TARGETS_COLUMN);
    if value.trim().is_empty() {
        return Some(scope.default_targets.to_vec());
    }
    let mut targets = Vec::new();
    for word in value.split_whitespace() {
        let message = match word.parse::<Target>() {
            Ok(t) if targets.contains(&t) => format!("target `{t}` is listed twice"),
            Ok(t) => {
                targets.push(t);
                continue;
            }
            Err(_) => format!(
                "unknown target `{}`: expected `teams` or `classroom`, separated by spaces",
                shown(word)
            ),
        };
        problems.report(CLASSES, Some(row.line), TARGETS_COLUMN, message);
        return None;
    }
    Some(targets)
}
