//! The UMP snapshot (CONTRACT §4) as JSON text in, a validated [`Snapshot`] out: the public API
//! ([`parse_snapshot`], [`parse_group`], [`ValidationContext`], [`Problem`]) and the JSON parse that
//! comes before any rule.
//!
//! Architecture Invariant: all or nothing. `import` must store nothing when any part of the file is
//! wrong, so validation never stops at the first problem and never returns a partial snapshot: it
//! returns every [`Problem`], each located by JSON pointer and line, sorted by line.
//!
//! Unknown fields are ignored, at every level, so that the UMP can add fields before class-sync
//! knows them (forward compatibility). Known fields are checked strictly.
//!
//! How lines are found: the text is parsed with `serde_json` into a `Value` (which keeps no
//! positions), the rules run on that `Value` and report JSON pointers, and only when something is
//! wrong does a small scanner ([`LineIndex`](lines::LineIndex)) walk the text once to map each
//! pointer to the line its value starts on. A valid file therefore pays nothing for line numbers.
//!
//! The parts: `checker` collects problems and hands them back located (and never as "valid");
//! `rules` walks a snapshot or one group; `values` checks single values (ids, email addresses);
//! `lines` maps JSON pointers to lines.

mod checker;
mod lines;
mod rules;
pub mod values;

use crate::core::domain::{Group, Snapshot, Target};
use checker::Checker;
pub use rules::MAX_NAME_CHARS;
use rules::Schools;
use serde_json::Value;
use std::fmt;

/// How many problems a refused file lists at most; past it they are counted in one last problem
/// ([`unlisted_message`]). Far above any real file's mistakes, it bounds what a hostile or broken
/// file of millions of bad rows costs in memory and on a terminal. Shared with the OneRoster reader.
pub const MAX_PROBLEMS_LISTED: usize = 10_000;

/// The last problem of a list cut at [`MAX_PROBLEMS_LISTED`].
pub fn unlisted_message(unlisted: u64) -> String {
    format!(
        "and {unlisted} more problem(s), not listed: the first {MAX_PROBLEMS_LISTED} found are above"
    )
}

/// "N problem(s)" for a refused file's closing line, given how many problems were listed: a list
/// cut at [`MAX_PROBLEMS_LISTED`] (its last entry the count of the rest) says "more than".
pub fn problem_count(listed: usize) -> String {
    if listed > MAX_PROBLEMS_LISTED {
        format!("more than {MAX_PROBLEMS_LISTED} problems")
    } else {
        format!("{listed} problem(s)")
    }
}

/// What validation needs from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct ValidationContext<'a> {
    /// Academic years that have a `[[years]]` entry, e.g. `"2025-26"`: a group of any other year has no calendar.
    pub configured_years: &'a [String],
    /// Used when a group has no `targets` field (`[import] default_targets`).
    pub default_targets: &'a [Target],
}

/// One problem, located: `pointer` is the RFC 6901 JSON pointer (e.g. `/groups/3/teachers/0`; `""`
/// for the root), `line` the 1-based line in the text where that value starts (`None` only if unknown).
///
/// A missing field is reported at the pointer the field would have, with the line of the object
/// that lacks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub pointer: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    /// `FILE:LINE: POINTER: message` (or `FILE: POINTER: message` without a line; pointer `""` shown as `/`),
    /// the shape `import` prints (CONTRACT §5).
    pub fn render(&self, file: &str) -> String {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        match self.line {
            Some(line) => format!("{file}:{line}: {pointer}: {}", self.message),
            None => format!("{file}: {pointer}: {}", self.message),
        }
    }
}

impl fmt::Display for Problem {
    /// The problem without a file name, e.g. for an HTTP 400 body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        match self.line {
            Some(line) => write!(f, "line {line}: {pointer}: {}", self.message),
            None => write!(f, "{pointer}: {}", self.message),
        }
    }
}

/// Parse and validate a whole snapshot. Every problem is reported (not only the first; past
/// [`MAX_PROBLEMS_LISTED`], counted), sorted by line; nothing partial is returned.
pub fn parse_snapshot(text: &str, ctx: &ValidationContext) -> Result<Snapshot, Vec<Problem>> {
    let text = without_bom(text);
    let root = parse_json(text, "an object with `schools` and `groups`")?;
    let mut checker = Checker::default();
    let snapshot = checker.snapshot(&root, ctx);
    checker.finish(text, snapshot)
}

/// One group object (the body of the API's `PUT /v1/groups/{id}`): the same rules as a group in a
/// snapshot. `path_id` must equal the body's `id` (a body without `id` takes `path_id`);
/// `known_schools` are the school ids class-sync knows (the group's school must be one of them).
pub fn parse_group(
    text: &str,
    path_id: &str,
    known_schools: &[String],
    ctx: &ValidationContext,
) -> Result<Group, Vec<Problem>> {
    let text = without_bom(text);
    let root = parse_json(text, "a group object")?;
    let mut checker = Checker::default();
    let schools = Schools::Known(known_schools);
    let group = checker.group(&root, "", &schools, ctx, Some(path_id));
    checker.finish(text, group)
}

/// The line the value at `pointer` starts on in `text`, or its nearest ancestor's: how problems are
/// located. Public (hidden from the docs) for the fuzz targets: the scanner must never panic, whatever
/// the text.
#[doc(hidden)]
pub fn line_of(text: &str, pointer: &str) -> Option<usize> {
    lines::LineIndex::build(text).line_of(pointer)
}

/// Windows tools like to start UTF-8 files with a byte-order mark; JSON does not allow one, but it
/// carries no meaning, so it is skipped rather than refused. It is not a line break, so lines stay right.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The text as a JSON value, or the one problem that stops everything else (bad JSON has no structure
/// to validate). `serde_json` also refuses nesting deeper than 128 levels and numbers beyond `f64`,
/// so nothing later has to fear either.
fn parse_json(text: &str, expected: &str) -> Result<Value, Vec<Problem>> {
    if text.trim().is_empty() {
        return Err(vec![Problem {
            pointer: String::new(),
            line: Some(1),
            message: format!("not valid JSON: the text is empty (expected {expected})"),
        }]);
    }
    serde_json::from_str(text).map_err(|e| {
        vec![Problem {
            pointer: String::new(),
            line: (e.line() > 0).then_some(e.line()),
            message: format!("not valid JSON: {e}"),
        }]
    })
}

/// The pointer to member `key` of the value at `parent`, escaped per RFC 6901.
fn child(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// The pointer to element `i` of the array at `parent`.
fn index(parent: &str, i: usize) -> String {
    format!("{parent}/{i}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::domain::School;

    /// The CONTRACT §4 example laid out one group field per line, so that tests can replace a field
    /// and know its line (`id` is on line 7 … `learners` on line 15).
    pub(super) const TEMPLATE: &str = r#"{
  "schools": [
    {"id": "6612001", "name": "Ysgol Enghraifft", "admins": ["admin.a@hwbcymru.net"]}
  ],
  "groups": [
    {
      "id": "6612001-2025-26-7A-Ma1",
      "school": "6612001",
      "academic_year": "2025-26",
      "name": "7A/Ma1 Mathematics",
      "year_group": 7,
      "subject": "Mathematics",
      "targets": ["teams", "classroom"],
      "teachers": ["jonesa12@hwbcymru.net"],
      "learners": ["evansb34@hwbcymru.net"]
    }
  ]
}"#;

    pub(super) fn years() -> Vec<String> {
        vec!["2024-25".to_string(), "2025-26".to_string()]
    }

    pub(super) fn ctx(years: &[String]) -> ValidationContext<'_> {
        ValidationContext {
            configured_years: years,
            default_targets: &[Target::Teams],
        }
    }

    /// The template with the value of group field `key` replaced by `json`.
    pub(super) fn with_group_field(key: &str, json: &str) -> String {
        replace_field(TEMPLATE, &format!("      \"{key}\": "), json)
    }

    /// The template with group field `key` renamed out of the way (unknown fields are ignored).
    pub(super) fn without_group_field(key: &str) -> String {
        TEMPLATE.replace(
            &format!("      \"{key}\": "),
            &format!("      \"old_{key}\": "),
        )
    }

    pub(super) fn replace_field(text: &str, prefix: &str, json: &str) -> String {
        let lines: Vec<String> = text
            .lines()
            .map(|line| match line.strip_prefix(prefix) {
                Some(rest) => {
                    let comma = if rest.ends_with(',') { "," } else { "" };
                    format!("{prefix}{json}{comma}")
                }
                None => line.to_string(),
            })
            .collect();
        assert_ne!(lines.join("\n"), text, "no line starts with {prefix:?}");
        lines.join("\n")
    }

    /// One expected problem: pointer, line, part of the message.
    pub(super) type Expected<'a> = (&'a str, usize, &'a str);

    /// Asserts that `text` is refused with exactly these problems, in this order.
    #[track_caller]
    pub(super) fn check(text: &str, expected: &[Expected]) {
        let years = years();
        let problems = match parse_snapshot(text, &ctx(&years)) {
            Ok(snapshot) => panic!("expected problems {expected:?}, but it parsed: {snapshot:?}"),
            Err(problems) => problems,
        };
        let found: Vec<(&str, Option<usize>)> = problems
            .iter()
            .map(|p| (p.pointer.as_str(), p.line))
            .collect();
        let wanted: Vec<(&str, Option<usize>)> =
            expected.iter().map(|(p, l, _)| (*p, Some(*l))).collect();
        assert_eq!(found, wanted, "problems: {problems:#?}");
        for (problem, (_, _, fragment)) in problems.iter().zip(expected) {
            assert!(
                problem.message.contains(fragment),
                "{:?} does not contain {fragment:?}",
                problem.message
            );
        }
    }

    #[track_caller]
    pub(super) fn check_ok(text: &str) -> Snapshot {
        let years = years();
        match parse_snapshot(text, &ctx(&years)) {
            Ok(snapshot) => snapshot,
            Err(problems) => panic!("expected it to parse, got {problems:#?}"),
        }
    }

    #[test]
    fn the_contract_example_parses() {
        let snapshot = check_ok(TEMPLATE);
        assert_eq!(
            snapshot,
            Snapshot {
                schools: vec![School {
                    id: "6612001".into(),
                    name: "Ysgol Enghraifft".into(),
                    admins: vec!["admin.a@hwbcymru.net".into()],
                }],
                groups: vec![Group {
                    id: "6612001-2025-26-7A-Ma1".into(),
                    school: "6612001".into(),
                    academic_year: "2025-26".into(),
                    name: "7A/Ma1 Mathematics".into(),
                    year_group: Some(7),
                    subject: Some("Mathematics".into()),
                    targets: vec![Target::Teams, Target::Classroom],
                    teachers: vec!["jonesa12@hwbcymru.net".into()],
                    learners: vec!["evansb34@hwbcymru.net".into()],
                }],
            }
        );
    }

    #[test]
    fn the_fixture_file_parses() {
        let snapshot = check_ok(include_str!(
            "../../../tests/it/fixtures/snapshot-valid.json"
        ));
        assert_eq!(snapshot.schools.len(), 2);
        assert_eq!(snapshot.groups.len(), 3);
    }

    #[test]
    fn the_invalid_fixture_file_reports_each_problem() {
        check(
            include_str!("../../../tests/it/fixtures/snapshot-invalid.json"),
            &[
                ("/groups/0/school", 8, "school `6612999` is not listed"),
                ("/groups/0/targets/1", 12, "unknown target `zoom`"),
                (
                    "/groups/0/teachers/1",
                    13,
                    "`jonesa12@hwbcymru.net` is listed twice",
                ),
                (
                    "/groups/0/learners/0",
                    14,
                    "`evansb34` is not an email address",
                ),
                (
                    "/groups/1/academic_year",
                    19,
                    "no [[years]] entry for 2026-27 in the config",
                ),
            ],
        );
    }

    #[test]
    fn malformed_json_is_one_problem_with_serde_jsons_line() {
        let text =
            "{\n  \"schools\": [],\n  \"groups\": [\n    {\"id\": \"g\" \"school\": \"s\"}\n  ]\n}";
        check(
            text,
            &[(
                "",
                4,
                "not valid JSON: expected `,` or `}` at line 4 column 16",
            )],
        );
        check("", &[("", 1, "not valid JSON: the text is empty")]);
        check(" \n\t\n", &[("", 1, "not valid JSON: the text is empty")]);
        check(
            "{\"schools\": [], \"groups\": []} x",
            &[("", 1, "trailing characters")],
        );
        check(
            "{\"schools\": [], \"groups\": [\n",
            &[("", 2, "EOF while parsing")],
        );
        check(
            "{\"schools\": [], \"groups\": [1e400]}",
            &[("", 1, "number out of range")],
        );
        check(
            "{\"schools\": [], \"groups\": [\"\\ud800\"]}",
            &[("", 1, "not valid JSON")],
        );
        // Deep nesting is refused by serde_json's recursion limit, not by a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        check(&deep, &[("", 1, "recursion limit exceeded")]);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        check_ok(&format!("\u{feff}{TEMPLATE}"));
        check(
            &format!("\u{feff}{}", with_group_field("school", "\"x\"")),
            &[("/groups/0/school", 8, "not listed")],
        );
    }

    #[test]
    fn problems_render_as_import_prints_them() {
        let problem = Problem {
            pointer: "/groups/3/teachers/0".into(),
            line: Some(12),
            message: "bad".into(),
        };
        assert_eq!(
            problem.render("snap.json"),
            "snap.json:12: /groups/3/teachers/0: bad"
        );
        let root = Problem {
            pointer: String::new(),
            line: None,
            message: "empty".into(),
        };
        assert_eq!(root.render("snap.json"), "snap.json: /: empty");
        assert_eq!(problem.to_string(), "line 12: /groups/3/teachers/0: bad");
    }

    #[test]
    fn a_file_of_endless_mistakes_lists_the_first_ones_and_counts_the_rest() {
        // One bad learner address per line: 12,345 problems in all.
        let bad = MAX_PROBLEMS_LISTED + 2_345;
        let learners: Vec<String> = (0..bad)
            .map(|i| format!("\"not-an-address-{i}\""))
            .collect();
        let text = with_group_field("learners", &format!("[\n{}\n]", learners.join(",\n")));
        let problems = parse_snapshot(&text, &ctx(&years())).unwrap_err();
        assert_eq!(problems.len(), MAX_PROBLEMS_LISTED + 1);
        assert_eq!(problems[0].pointer, "/groups/0/learners/0");
        assert_eq!(problems[0].line, Some(16));
        let last = problems.last().unwrap();
        assert_eq!(
            last.render("snap.json"),
            format!(
                "snap.json: /: and 2345 more problem(s), not listed: the first {MAX_PROBLEMS_LISTED} found are above"
            )
        );
    }
}
