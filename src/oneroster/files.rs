//! The row readers of orgs, academicSessions, courses, classes and users: each row checked as
//! OneRoster 1.1 requires (required fields, enumerations, dates, duplicate sourcedIds) and kept
//! only as far as class-sync needs it (ids, names, addresses), never as raw text.
//!
//! References *between* files are checked as soon as what they point at has been read; those a
//! file makes to itself (an org's parent, a user's agents) once the file has been read whole.

use super::manifest::{CLASSES, COURSES, ORGS, SESSIONS, USERS};
use super::problem::Problems;
use super::table::{Column, Mode, Row, SOURCED_ID, Status, opt, read_table, req};
use crate::core::calendar::AcademicYear;
use crate::core::domain::Target;
use crate::core::snapshot::MAX_NAME_CHARS;
use crate::core::snapshot::values::{check_email, check_id, shown};
use std::collections::{HashMap, HashSet};
use std::io::Read;

pub(super) const ORG_COLUMNS: &[Column] = &[
    req("sourcedId"),
    opt("status"),
    opt("dateLastModified"),
    req("name"),
    req("type"),
    opt("identifier"),
    opt("parentSourcedId"),
];
const ORG_TYPES: &[&str] = &[
    "department",
    "school",
    "district",
    "local",
    "state",
    "national",
];

pub(super) const SESSION_COLUMNS: &[Column] = &[
    req("sourcedId"),
    opt("status"),
    opt("dateLastModified"),
    req("title"),
    req("type"),
    req("startDate"),
    req("endDate"),
    opt("parentSourcedId"),
    req("schoolYear"),
];
const SESSION_TYPES: &[&str] = &["gradingPeriod", "semester", "schoolYear", "term"];

pub(super) const COURSE_COLUMNS: &[Column] = &[
    req("sourcedId"),
    opt("status"),
    opt("dateLastModified"),
    opt("schoolYearSourcedId"),
    req("title"),
    opt("courseCode"),
    opt("grades"),
    req("orgSourcedId"),
    opt("subjects"),
    opt("subjectCodes"),
];

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

pub(super) const USER_COLUMNS: &[Column] = &[
    req("sourcedId"),
    opt("status"),
    opt("dateLastModified"),
    req("enabledUser"),
    req("orgSourcedIds"),
    req("role"),
    req("username"),
    opt("userIds"),
    req("givenName"),
    req("familyName"),
    opt("middleName"),
    opt("identifier"),
    opt("email"),
    opt("sms"),
    opt("phone"),
    opt("agentSourcedIds"),
    opt("grades"),
    opt("password"),
];
const USER_ROLES: &[&str] = &[
    "administrator",
    "aide",
    "guardian",
    "parent",
    "proctor",
    "relative",
    "student",
    "teacher",
];
const USER_USERNAME: usize = 6;
const USER_EMAIL: usize = 12;

/// What the caller knows beyond the set: for a delta, the schools and current groups the store
/// holds (a delta's rows may name them without carrying them).
#[derive(Debug, Default)]
pub struct Held {
    pub schools: HashSet<String>,
    pub groups: HashSet<String>,
}

/// How the set is read: its mode, the files present and what validation needs from outside.
pub(super) struct Scope<'a> {
    pub delta: bool,
    pub modes: HashMap<&'static str, Option<Mode>>,
    pub configured_years: &'a [String],
    pub default_targets: &'a [Target],
    pub held: &'a Held,
}

impl Scope<'_> {
    fn present(&self, file: &str) -> bool {
        self.modes.get(file).copied().flatten().is_some()
    }
}

pub(super) struct Org {
    pub school: bool,
    pub name: String,
    pub status: Status,
}

pub(super) struct Session {
    /// The `schoolYear` (OneRoster's ending year: 2026 is 2025-26); None when it was not valid.
    pub school_year: Option<i32>,
    pub line: u64,
}

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

pub(super) struct User {
    pub line: u64,
    pub status: Status,
    /// The address the user is known by (`email`, else `username`), or the column and the reason
    /// it is not one (reported only when class-sync needs the address).
    pub address: Result<String, (usize, String)>,
    /// Kept for administrators only: the schools they administer.
    pub orgs: Vec<String>,
}

/// Every row read so far, keyed by sourcedId.
#[derive(Default)]
pub(super) struct Records {
    pub orgs: HashMap<String, Org>,
    pub sessions: HashMap<String, Session>,
    pub courses: HashSet<String>,
    pub classes: Vec<Class>,
    pub class_index: HashMap<String, usize>,
    pub users: HashMap<String, User>,
    /// Administrators' sourcedIds in file order (a school's admins keep that order).
    pub admin_order: Vec<String>,
    /// Users whose address problem has been reported (once each).
    pub reported_users: HashSet<String>,
}

impl Records {
    /// The address of `user` if class-sync may use it; else reports, once, why not (at the user's
    /// own line) and answers None.
    pub(super) fn address(&mut self, user: &str, problems: &mut Problems) -> Option<String> {
        let found = self.users.get(user)?;
        match &found.address {
            Ok(address) => Some(address.clone()),
            Err((col, message)) => {
                if self.reported_users.insert(user.to_string()) {
                    problems.report(
                        USERS,
                        Some(found.line),
                        USER_COLUMNS[*col].name,
                        message.clone(),
                    );
                }
                None
            }
        }
    }
}

/// Reports a sourcedId seen before in the same file; true when it is new.
fn first_time(
    seen: &mut HashMap<String, u64>,
    row: &Row,
    id: &str,
    problems: &mut Problems,
) -> bool {
    match seen.get(id) {
        Some(first) => {
            row.report(
                problems,
                SOURCED_ID,
                format!(
                    "duplicate sourcedId `{}` (first on line {first})",
                    shown(id)
                ),
            );
            false
        }
        None => {
            seen.insert(id.to_string(), row.line);
            true
        }
    }
}

pub(super) fn orgs(
    input: &mut dyn Read,
    mode: Mode,
    scope: &Scope,
    records: &mut Records,
    problems: &mut Problems,
) -> std::io::Result<()> {
    let mut seen = HashMap::new();
    let mut parents: Vec<(u64, String)> = Vec::new();
    read_table(input, ORGS, ORG_COLUMNS, mode, problems, |row, problems| {
        let Some(id) = row.required(SOURCED_ID, problems) else {
            return;
        };
        if !first_time(&mut seen, row, id, problems) {
            return;
        }
        let strict = !(scope.delta && row.status == Status::Gone);
        let name = if strict {
            row.required(3, problems)
        } else {
            Some(row.get(3))
        };
        let kind = if strict {
            row.enumeration(4, ORG_TYPES, problems)
        } else {
            ORG_TYPES.iter().find(|t| **t == row.get(4)).copied()
        };
        let school = kind == Some("school");
        if school && let Err(message) = check_id(id) {
            row.report(
                problems,
                SOURCED_ID,
                format!("{message} (a school's sourcedId is its school id)"),
            );
        }
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
        }
        let parent = row.get(6);
        if !parent.is_empty() {
            parents.push((row.line, parent.to_string()));
        }
        records.orgs.insert(
            id.to_string(),
            Org {
                school,
                name: name.unwrap_or_default().to_string(),
                status: row.status,
            },
        );
    })?;
    // In a delta the parent may have come in an earlier set: it cannot be checked here.
    if !scope.delta {
        for (line, parent) in parents {
            if !records.orgs.contains_key(&parent) {
                problems.report(
                    ORGS,
                    Some(line),
                    "parentSourcedId",
                    format!("org `{}` is not in orgs.csv", shown(&parent)),
                );
            }
        }
    }
    Ok(())
}

pub(super) fn sessions(
    input: &mut dyn Read,
    mode: Mode,
    scope: &Scope,
    records: &mut Records,
    problems: &mut Problems,
) -> std::io::Result<()> {
    let mut seen = HashMap::new();
    let mut parents: Vec<(u64, String)> = Vec::new();
    read_table(
        input,
        SESSIONS,
        SESSION_COLUMNS,
        mode,
        problems,
        |row, problems| {
            let Some(id) = row.required(SOURCED_ID, problems) else {
                return;
            };
            if !first_time(&mut seen, row, id, problems) {
                return;
            }
            let strict = !(scope.delta && row.status == Status::Gone);
            if strict {
                row.required(3, problems);
                row.enumeration(4, SESSION_TYPES, problems);
                row.required(5, problems);
                row.required(6, problems);
            }
            row.date(5, problems);
            row.date(6, problems);
            let parent = row.get(7);
            if !parent.is_empty() {
                parents.push((row.line, parent.to_string()));
            }
            let year = row.get(8);
            let school_year = if year.is_empty() {
                if strict {
                    row.required(8, problems);
                }
                None
            } else if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) {
                year.parse().ok()
            } else {
                row.report(problems, 8, format!("`{}` is not a school year of the form YYYY (its ending year: 2026 for 2025-26)", shown(year)));
                None
            };
            records.sessions.insert(
                id.to_string(),
                Session {
                    school_year,
                    line: row.line,
                },
            );
        },
    )?;
    if !scope.delta {
        for (line, parent) in parents {
            if !records.sessions.contains_key(&parent) {
                problems.report(
                    SESSIONS,
                    Some(line),
                    "parentSourcedId",
                    format!(
                        "session `{}` is not in academicSessions.csv",
                        shown(&parent)
                    ),
                );
            }
        }
    }
    Ok(())
}

pub(super) fn courses(
    input: &mut dyn Read,
    mode: Mode,
    scope: &Scope,
    records: &mut Records,
    problems: &mut Problems,
) -> std::io::Result<()> {
    let mut seen = HashMap::new();
    read_table(
        input,
        COURSES,
        COURSE_COLUMNS,
        mode,
        problems,
        |row, problems| {
            let Some(id) = row.required(SOURCED_ID, problems) else {
                return;
            };
            if !first_time(&mut seen, row, id, problems) {
                return;
            }
            records.courses.insert(id.to_string());
            if scope.delta && row.status == Status::Gone {
                return;
            }
            row.required(4, problems);
            let org = row.required(7, problems);
            if !scope.delta {
                if let Some(org) = org
                    && !records.orgs.contains_key(org)
                {
                    row.report(
                        problems,
                        7,
                        format!("org `{}` is not in orgs.csv", shown(org)),
                    );
                }
                let year = row.get(3);
                if !year.is_empty() && !records.sessions.contains_key(year) {
                    row.report(
                        problems,
                        3,
                        format!("session `{}` is not in academicSessions.csv", shown(year)),
                    );
                }
            }
        },
    )
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
    let mut seen: HashMap<String, (String, u64)> = HashMap::new();
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

pub(super) fn users(
    input: &mut dyn Read,
    mode: Mode,
    scope: &Scope,
    records: &mut Records,
    problems: &mut Problems,
) -> std::io::Result<()> {
    let mut seen = HashMap::new();
    let mut agents: Vec<(u64, String)> = Vec::new();
    read_table(
        input,
        USERS,
        USER_COLUMNS,
        mode,
        problems,
        |row, problems| {
            let Some(id) = row.required(SOURCED_ID, problems) else {
                return;
            };
            if !first_time(&mut seen, row, id, problems) {
                return;
            }
            let strict = !(scope.delta && row.status == Status::Gone);
            if strict {
                row.required(3, problems);
                row.required(4, problems);
                row.required(6, problems);
                row.required(8, problems);
                row.required(9, problems);
            }
            row.boolean(3, problems);
            let role = if strict {
                row.enumeration(5, USER_ROLES, problems)
            } else {
                USER_ROLES.iter().find(|r| **r == row.get(5)).copied()
            };
            let orgs = row.ids(4, problems);
            if !scope.delta {
                for org in &orgs {
                    if !records.orgs.contains_key(*org) {
                        row.report(
                            problems,
                            4,
                            format!("org `{}` is not in orgs.csv", shown(org)),
                        );
                    }
                }
                for agent in row.ids(15, problems) {
                    agents.push((row.line, agent.to_string()));
                }
            }
            let administrator = role == Some("administrator");
            if administrator {
                records.admin_order.push(id.to_string());
            }
            records.users.insert(
                id.to_string(),
                User {
                    line: row.line,
                    status: row.status,
                    address: address(row),
                    orgs: if administrator {
                        orgs.iter().map(|o| o.to_string()).collect()
                    } else {
                        Vec::new()
                    },
                },
            );
        },
    )?;
    for (line, agent) in agents {
        if !records.users.contains_key(&agent) {
            problems.report(
                USERS,
                Some(line),
                "agentSourcedIds",
                format!("user `{}` is not in users.csv", shown(&agent)),
            );
        }
    }
    Ok(())
}

/// A user is known by `email`, else by `username` (CONTRACT §4), checked as JSON addresses are.
fn address(row: &Row) -> Result<String, (usize, String)> {
    let email = row.get(USER_EMAIL);
    if !email.trim().is_empty() {
        return check_email(email).map_err(|m| (USER_EMAIL, m));
    }
    let username = row.get(USER_USERNAME);
    check_email(username).map_err(|m| {
        (
            USER_USERNAME,
            format!(
                "{m} (the user has no email, so class-sync uses the username as their address)"
            ),
        )
    })
}

#[cfg(test)]
pub(super) fn header(columns: &[Column]) -> String {
    columns.iter().map(|c| c.name).collect::<Vec<_>>().join(",")
}
