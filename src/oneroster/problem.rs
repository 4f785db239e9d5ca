//! A problem in a OneRoster set, located by file, physical line and column (CONTRACT §5:
//! `FILE:LINE: column: reason`), and the collector every reader reports to.

use crate::core::snapshot::values::shown;
use crate::core::snapshot::{MAX_PROBLEMS_LISTED, unlisted_message};
use std::fmt;

/// The files of a set in the order they are read and their problems are listed.
pub(super) const FILE_ORDER: [&str; 7] = [
    "manifest.csv",
    "orgs.csv",
    "academicSessions.csv",
    "courses.csv",
    "classes.csv",
    "users.csv",
    "enrollments.csv",
];

/// One problem. `file` is the entry's name in the set (`classes.csv`); `line` the CSV physical
/// line (the header is line 1; None for a problem of the set itself, such as an unsafe zip entry);
/// `column` the column header (or the manifest property) at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<u64>,
    pub column: String,
    pub message: String,
}

impl Problem {
    /// `SET/FILE:LINE: column: reason`, the shape `import` prints; `set` is the folder or zip as
    /// the operator named it.
    pub fn render(&self, set: &str) -> String {
        let set = set.trim_end_matches(['/', '\\']);
        let file = if self.file.is_empty() {
            set.to_string()
        } else {
            format!("{set}/{}", self.file)
        };
        match self.line {
            Some(line) => format!("{file}:{line}: {}: {}", self.column, self.message),
            None => format!("{file}: {}: {}", self.column, self.message),
        }
    }
}

impl fmt::Display for Problem {
    /// The problem with its file but without the set's path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}: {}", self.file, self.column, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.column, self.message),
        }
    }
}

/// Collects problems from every file; [`Problems::into_sorted`] hands them back in file order,
/// then line order (a problem found late, such as a bad address seen only when an enrollment
/// uses it, still comes out at its own line).
#[derive(Default)]
pub(super) struct Problems {
    list: Vec<Problem>,
    /// Problems past [`MAX_PROBLEMS_LISTED`]: counted, not kept.
    unlisted: u64,
}

impl Problems {
    pub(super) fn report(
        &mut self,
        file: &str,
        line: Option<u64>,
        column: &str,
        message: impl Into<String>,
    ) {
        if self.list.len() >= MAX_PROBLEMS_LISTED {
            self.unlisted += 1;
            return;
        }
        let message: String = message.into();
        // Messages quote input; a control character in them could garble a terminal or a log line.
        let message = if message.chars().any(char::is_control) {
            message.chars().flat_map(char::escape_default).collect()
        } else {
            message
        };
        self.list.push(Problem {
            file: file.to_string(),
            line,
            column: shown(column),
            message,
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn into_sorted(mut self) -> Vec<Problem> {
        let rank = |file: &str| {
            FILE_ORDER
                .iter()
                .position(|f| *f == file)
                .unwrap_or(usize::MAX)
        };
        // Stable: problems on one line keep the order they were found in.
        self.list
            .sort_by_key(|p| (!p.file.is_empty(), rank(&p.file), p.line.unwrap_or(0)));
        if self.unlisted > 0 {
            self.list.push(Problem {
                file: String::new(),
                line: None,
                column: "-".into(),
                message: unlisted_message(self.unlisted),
            });
        }
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_render_with_the_set_path() {
        let p = Problem {
            file: "classes.csv".into(),
            line: Some(3),
            column: "title".into(),
            message: "required field is empty".into(),
        };
        assert_eq!(
            p.render("/data/set/"),
            "/data/set/classes.csv:3: title: required field is empty"
        );
        assert_eq!(
            p.to_string(),
            "classes.csv:3: title: required field is empty"
        );
        let zip = Problem {
            file: String::new(),
            line: None,
            column: "../evil.csv".into(),
            message: "unsafe".into(),
        };
        assert_eq!(zip.render("set.zip"), "set.zip: ../evil.csv: unsafe");
    }

    #[test]
    fn problems_come_out_in_file_then_line_order() {
        let mut problems = Problems::default();
        problems.report("users.csv", Some(4), "email", "b");
        problems.report("classes.csv", Some(9), "title", "a");
        problems.report("users.csv", Some(2), "role", "c");
        problems.report("", None, "../x", "d");
        let order: Vec<String> = problems
            .into_sorted()
            .iter()
            .map(|p| p.message.clone())
            .collect();
        assert_eq!(order, vec!["d", "a", "c", "b"]);
    }

    #[test]
    fn past_the_cap_problems_are_counted_in_one_last_line() {
        let mut problems = Problems::default();
        for line in 2..(MAX_PROBLEMS_LISTED as u64 + 12) {
            problems.report("users.csv", Some(line), "email", "bad");
        }
        let list = problems.into_sorted();
        assert_eq!(list.len(), MAX_PROBLEMS_LISTED + 1);
        assert_eq!(list[0].line, Some(2));
        assert_eq!(
            list.last().unwrap().render("set.zip"),
            format!(
                "set.zip: -: and 10 more problem(s), not listed: the first {MAX_PROBLEMS_LISTED} found are above"
            )
        );
    }
}
