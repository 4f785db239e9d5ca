//! The words of the guide and of CONTRACT.md as plain data: schools, groups, targets, links.
//!
//! Architecture Invariant: nothing here does I/O, reads a clock or can fail at run time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a group can live: a Microsoft class team or a Google Classroom course.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Teams,
    Classroom,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Teams, Target::Classroom];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Teams => "teams",
            Target::Classroom => "classroom",
        }
    }

    /// What the target calls one class, for sentences: "team" or "course".
    pub fn noun(self) -> &'static str {
        match self {
            Target::Teams => "team",
            Target::Classroom => "course",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "teams" => Ok(Target::Teams),
            "classroom" => Ok(Target::Classroom),
            other => Err(format!(
                "unknown target `{other}` (expected `teams` or `classroom`)"
            )),
        }
    }
}

/// A school as the UMP lists it; `admins` are the Hwb administrators who may restore any of its classes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct School {
    pub id: String,
    pub name: String,
    pub admins: Vec<String>,
}

/// A UMP class group: one school's class for one academic year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Group {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}$")]
    pub id: String,
    #[schema(min_length = 1)]
    pub school: String,
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}$")]
    pub academic_year: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    pub year_group: Option<i64>,
    pub subject: Option<String>,
    #[schema(min_items = 1)]
    pub targets: Vec<Target>,
    pub teachers: Vec<String>,
    pub learners: Vec<String>,
}

impl Group {
    /// The roster MIS wants, teachers and learners, as one value the diff can compare.
    pub fn roster(&self) -> crate::core::roster::Roster {
        crate::core::roster::Roster::new(
            self.teachers.iter().cloned(),
            self.learners.iter().cloned(),
        )
    }
}

/// A validated UMP snapshot: the full state of the schools it lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub schools: Vec<School>,
    pub groups: Vec<Group>,
}

/// Emails compare case-insensitively everywhere (UPNs and Google accounts do), so they are stored lower-case.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}
