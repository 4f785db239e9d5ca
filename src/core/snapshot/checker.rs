//! Collecting problems while the rules walk a JSON value, and handing them back located: the guard
//! that a slip in validation can never come out as "valid", line numbers looked up only when there
//! are problems, and the shape checks (object, array, required field) every rule starts from.

use super::lines::LineIndex;
use super::{MAX_PROBLEMS_LISTED, Problem, child, unlisted_message};
use serde_json::{Map, Value};

/// Collects problems while walking the value. Every check returns `None` exactly when it has
/// reported a problem, so a `None` anywhere means the result is not used.
#[derive(Default)]
pub(super) struct Checker {
    problems: Vec<Problem>,
    /// Problems past [`MAX_PROBLEMS_LISTED`]: counted, not kept (a hostile file's millions of
    /// problems must not cost memory in proportion).
    unlisted: u64,
}

impl Checker {
    /// Records a problem at `pointer`; its line is looked up in [`Checker::finish`], if it comes to that.
    pub(super) fn report(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        if self.problems.len() >= MAX_PROBLEMS_LISTED {
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
        self.problems.push(Problem {
            pointer: pointer.into(),
            line: None,
            message,
        });
    }

    /// The result if nothing was reported; else every problem, located and sorted by line.
    pub(super) fn finish<T>(mut self, text: &str, value: Option<T>) -> Result<T, Vec<Problem>> {
        match value {
            Some(value) if self.problems.is_empty() => Ok(value),
            _ => {
                if self.problems.is_empty() {
                    // Unreachable by the `None` rule above; kept so that a slip can never mean "valid".
                    self.report("", "invalid (no reason recorded; please report this)");
                }
                let index = LineIndex::build(text);
                for problem in &mut self.problems {
                    problem.line = problem.line.or_else(|| index.line_of(&problem.pointer));
                }
                // Stable: problems on one line keep the order they were found in.
                self.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
                if self.unlisted > 0 {
                    self.problems.push(Problem {
                        pointer: String::new(),
                        line: None,
                        message: unlisted_message(self.unlisted),
                    });
                }
                Err(self.problems)
            }
        }
    }

    pub(super) fn object<'v>(
        &mut self,
        value: &'v Value,
        at: &str,
        expected: &str,
    ) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(obj) => Some(obj),
            other => {
                self.report(at, format!("expected {expected}, found {}", kind(other)));
                None
            }
        }
    }

    pub(super) fn array<'v>(
        &mut self,
        value: &'v Value,
        at: &str,
        expected: &str,
    ) -> Option<&'v Vec<Value>> {
        match value {
            Value::Array(items) => Some(items),
            other => {
                self.report(at, format!("expected {expected}, found {}", kind(other)));
                None
            }
        }
    }

    pub(super) fn required<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        at: &str,
        key: &str,
        expected: &str,
    ) -> Option<&'v Value> {
        let value = obj.get(key);
        if value.is_none() {
            self.report(
                child(at, key),
                format!("required field is missing (expected {expected})"),
            );
        }
        value
    }

    /// A required string field, with the pointer to it for further problems.
    pub(super) fn required_string<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        at: &str,
        key: &str,
        expected: &str,
    ) -> Option<(&'v str, String)> {
        let value = self.required(obj, at, key, expected)?;
        let pointer = child(at, key);
        match value {
            Value::String(s) => Some((s, pointer)),
            other => {
                self.report(
                    pointer,
                    format!("expected a string ({expected}), found {}", kind(other)),
                );
                None
            }
        }
    }
}

/// How a JSON value is named in "expected …, found …" messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::parse_snapshot;
    use crate::core::snapshot::tests::{TEMPLATE, check, ctx, years};

    #[test]
    fn a_slip_that_reports_nothing_still_comes_out_invalid() {
        // A rule that returned `None` without reporting must not make the whole input "valid".
        let problems = Checker::default().finish("{\n}", None::<()>).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].pointer.as_str(), problems[0].line),
            ("", Some(1))
        );
        assert!(problems[0].message.contains("no reason recorded"));
        // A value with a problem reported beside it is not returned either.
        let mut checker = Checker::default();
        checker.report("/x", "bad");
        assert!(checker.finish("{\"x\": 1}", Some(())).is_err());
    }

    #[test]
    fn every_problem_is_reported_sorted_by_line() {
        let text = r#"{
  "groups": [
    {"id": "g1", "school": "s9", "academic_year": "2030-31", "name": "G",
     "teachers": ["t@x.cymru", "T@X.cymru"], "learners": "none"},
    {"id": "g1", "school": "s1", "academic_year": "2025-26", "name": "",
     "teachers": [], "learners": [], "targets": ["zoom", 3]}
  ],
  "schools": [
    {"id": "s1", "name": "S", "admins": ["bad"]},
    {"id": "s 2", "name": 2}
  ]
}"#;
        check(
            text,
            &[
                ("/groups/0/school", 3, "school `s9` is not listed"),
                (
                    "/groups/0/academic_year",
                    3,
                    "no [[years]] entry for 2030-31 in the config",
                ),
                ("/groups/0/teachers/1", 4, "listed twice"),
                ("/groups/0/learners", 4, "found a string"),
                ("/groups/1/id", 5, "duplicate group id `g1`"),
                ("/groups/1/name", 5, "the name is empty"),
                ("/groups/1/targets/0", 6, "unknown target `zoom`"),
                ("/groups/1/targets/1", 6, "found a number"),
                ("/schools/0/admins/0", 9, "`bad` is not an email address"),
                ("/schools/1/id", 10, "it contains a space"),
                ("/schools/1/name", 10, "found a number"),
            ],
        );
    }

    #[test]
    fn mutated_snapshots_never_panic_and_every_problem_has_a_line() {
        // A fixed pseudo-random walk (no extra crate): delete, duplicate or replace single characters.
        let years = years();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let alphabet: Vec<char> = "{}[],:\"\\ \n0-1eé~/a@.".chars().collect();
        for _ in 0..3000 {
            let mut chars: Vec<char> = TEMPLATE.chars().collect();
            for _ in 0..1 + next(3) {
                let at = next(chars.len());
                match next(3) {
                    0 => drop(chars.remove(at)),
                    1 => chars.insert(at, chars[at]),
                    _ => chars[at] = alphabet[next(alphabet.len())],
                }
            }
            let text: String = chars.into_iter().collect();
            if let Err(problems) = parse_snapshot(&text, &ctx(&years)) {
                assert!(!problems.is_empty());
                for problem in &problems {
                    assert!(problem.line.is_some(), "{problem:?} in {text}");
                }
            }
        }
    }
}
