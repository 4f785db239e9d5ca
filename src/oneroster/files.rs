//! The row readers of orgs, academicSessions, courses and users (classes have their own file):
//! each row checked as OneRoster 1.1 requires (required fields, enumerations, dates, duplicate
//! sourcedIds) and kept only as far as class-sync needs it (ids, names, addresses), never as raw text.
//!
//! References *between* files are checked as soon as what they point at has been read; those a
//! file makes to itself (an org's parent, a user's agents) once the file has been read whole.

use super::classes::Class;
use super::fast::{HashMap, HashSet};
use super::manifest::{COURSES, ORGS, SESSIONS, USERS};
use super::problem::Problems;
use super::table::{Column, Mode, Row, SOURCED_ID, Status, opt, read_table, req};
use crate::core::domain::Target;
use crate::core::snapshot::MAX_NAME_CHARS;
use crate::core::snapshot::values::{check_email, check_id, shown};
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
    pub schools: std::collections::HashSet<String>,
    pub groups: std::collections::HashSet<String>,
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
    pub(super) fn present(&self, file: &str) -> bool {
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
    let mut seen = HashMap::default();
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
    let mut seen = HashMap::default();
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
    let mut seen = HashMap::default();
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

pub(super) fn users(
    input: &mut dyn Read,
    mode: Mode,
    scope: &Scope,
    records: &mut Records,
    problems: &mut Problems,
) -> std::io::Result<()> {
    let mut seen = HashMap::default();
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
