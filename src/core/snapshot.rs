//! The UMP snapshot (CONTRACT §4) as JSON text in, a validated [`Snapshot`] out.
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
//! wrong does a small scanner ([`LineIndex`]) walk the text once to map each pointer to the line its
//! value starts on. A valid file therefore pays nothing for line numbers.

use crate::core::calendar::AcademicYear;
use crate::core::domain::{Group, School, Snapshot, Target, normalise_email};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;

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

/// Parse and validate a whole snapshot. Every problem is reported (not only the first), sorted by
/// line; nothing partial is returned.
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

/// The longest name (of a group) class-sync accepts; Teams and Classroom both cap display names.
const MAX_NAME_CHARS: usize = 256;
/// RFC 5321's limit on a forward path, the practical limit on an address.
const MAX_EMAIL_CHARS: usize = 254;
const MAX_ID_CHARS: usize = 100;
const YEAR_GROUPS: std::ops::RangeInclusive<i64> = 0..=14;

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

/// Which school ids a group may name, and how to say it does not.
enum Schools<'a> {
    /// The schools listed in the same snapshot (a snapshot is the full state of its schools).
    Snapshot(&'a HashSet<String>),
    /// The schools class-sync already knows (a single group pushed through the API).
    Known(&'a [String]),
    /// The snapshot's `schools` is missing or not an array: that is reported once, not again for every group.
    Unreadable,
}

impl Schools<'_> {
    fn contains(&self, id: &str) -> bool {
        match self {
            Schools::Snapshot(ids) => ids.contains(id),
            Schools::Known(ids) => ids.iter().any(|known| known == id),
            Schools::Unreadable => true,
        }
    }

    fn unknown(&self, id: &str) -> String {
        match self {
            Schools::Snapshot(_) | Schools::Unreadable => format!(
                "school `{}` is not listed in this snapshot's `schools`",
                shown(id)
            ),
            Schools::Known(_) => format!(
                "unknown school `{}`: class-sync knows no school with this id (import a snapshot that lists it first)",
                shown(id)
            ),
        }
    }
}

/// Collects problems while walking the value. Every check returns `None` exactly when it has
/// reported a problem, so a `None` anywhere means the result is not used.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn report(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
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
    fn finish<T>(mut self, text: &str, value: Option<T>) -> Result<T, Vec<Problem>> {
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
                Err(self.problems)
            }
        }
    }

    fn snapshot(&mut self, root: &Value, ctx: &ValidationContext) -> Option<Snapshot> {
        let obj = self.object(root, "", "an object with `schools` and `groups`")?;
        let schools = self.required(obj, "", "schools", "an array of schools");
        let schools = schools.and_then(|v| self.array(v, "/schools", "an array of schools"));
        let groups = self.required(obj, "", "groups", "an array of groups");
        let groups = groups.and_then(|v| self.array(v, "/groups", "an array of groups"));

        // Every well-formed school id counts as listed, even if that school has other problems,
        // so that its groups are not also reported as naming an unknown school.
        let mut school_ids: HashMap<String, String> = HashMap::new();
        let mut valid_schools = Vec::new();
        let mut schools_ok = true;
        for (i, value) in schools.into_iter().flatten().enumerate() {
            let at = format!("/schools/{i}");
            if let Some(id) = value.get("id").and_then(Value::as_str)
                && check_id(id).is_ok()
            {
                if let Some(first) = school_ids.get(id) {
                    self.report(
                        format!("{at}/id"),
                        format!("duplicate school id `{id}` (first used at {first})"),
                    );
                    schools_ok = false;
                } else {
                    school_ids.insert(id.to_string(), at.clone());
                }
            }
            match self.school(value, &at) {
                Some(school) => valid_schools.push(school),
                None => schools_ok = false,
            }
        }

        let listed: HashSet<String> = school_ids.into_keys().collect();
        let scope = match schools {
            Some(_) => Schools::Snapshot(&listed),
            None => Schools::Unreadable,
        };
        // Group ids are compared ignoring case: the Teams `externalId` filter, the `mailNickname`
        // and Classroom aliases do not tell `7a` from `7A`, so two such groups would share one team.
        let mut group_ids: HashMap<String, (String, String)> = HashMap::new();
        let mut valid_groups = Vec::new();
        let mut groups_ok = true;
        for (i, value) in groups.into_iter().flatten().enumerate() {
            let at = format!("/groups/{i}");
            if let Some(id) = value.get("id").and_then(Value::as_str)
                && check_id(id).is_ok()
            {
                let key = id.to_ascii_lowercase();
                if let Some((first_id, first_at)) = group_ids.get(&key) {
                    let message = if first_id == id {
                        format!("duplicate group id `{id}` (first used at {first_at})")
                    } else {
                        format!(
                            "duplicate group id `{id}`: it differs from `{first_id}` (at {first_at}) only in letter case, \
                             which Teams and Classroom do not distinguish"
                        )
                    };
                    self.report(format!("{at}/id"), message);
                    groups_ok = false;
                } else {
                    group_ids.insert(key, (id.to_string(), at.clone()));
                }
            }
            match self.group(value, &at, &scope, ctx, None) {
                Some(group) => valid_groups.push(group),
                None => groups_ok = false,
            }
        }

        let complete = schools.is_some() && groups.is_some() && schools_ok && groups_ok;
        complete.then_some(Snapshot {
            schools: valid_schools,
            groups: valid_groups,
        })
    }

    fn school(&mut self, value: &Value, at: &str) -> Option<School> {
        let obj = self.object(value, at, "a school object")?;
        let id = self.id(obj, at);
        let name = self.name(obj, at, None);
        let admins = self.emails(obj, at, "admins", Presence::Optional);
        Some(School {
            id: id?,
            name: name?,
            admins: admins?,
        })
    }

    /// A group at pointer `at`. `path_id` is set for a group pushed through the API, whose id is in the URL.
    fn group(
        &mut self,
        value: &Value,
        at: &str,
        schools: &Schools,
        ctx: &ValidationContext,
        path_id: Option<&str>,
    ) -> Option<Group> {
        let obj = self.object(value, at, "a group object")?;
        let id = match path_id {
            None => self.id(obj, at),
            Some(path_id) => self.id_matching_path(obj, at, path_id),
        };
        let school = self.school_ref(obj, at, schools);
        let academic_year = self.academic_year(obj, at, ctx);
        let name = self.name(obj, at, Some(MAX_NAME_CHARS));
        let year_group = self.year_group(obj, at);
        let subject = self.subject(obj, at);
        let targets = self.targets(obj, at, ctx);
        let teachers = self.emails(obj, at, "teachers", Presence::Required);
        let learners = self.emails(obj, at, "learners", Presence::Required);
        Some(Group {
            id: id?,
            school: school?,
            academic_year: academic_year?,
            name: name?,
            year_group: year_group?,
            subject: subject?,
            targets: targets?,
            teachers: teachers?,
            learners: learners?,
        })
    }

    fn id(&mut self, obj: &Map<String, Value>, at: &str) -> Option<String> {
        let (id, pointer) = self.required_string(obj, at, "id", "an id")?;
        match check_id(id) {
            Ok(()) => Some(id.to_string()),
            Err(message) => {
                self.report(pointer, message);
                None
            }
        }
    }

    /// The API puts the id in the path too; the two must agree, and a body may leave it out.
    fn id_matching_path(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        path_id: &str,
    ) -> Option<String> {
        if !obj.contains_key("id") {
            return match check_id(path_id) {
                Ok(()) => Some(path_id.to_string()),
                Err(message) => {
                    self.report(at, format!("the id in the path: {message}"));
                    None
                }
            };
        }
        let id = self.id(obj, at)?;
        if id != path_id {
            self.report(
                child(at, "id"),
                format!(
                    "the body's id `{id}` differs from the id in the path `{}`",
                    shown(path_id)
                ),
            );
            return None;
        }
        Some(id)
    }

    fn school_ref(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        schools: &Schools,
    ) -> Option<String> {
        let (id, pointer) = self.required_string(obj, at, "school", "a school id")?;
        if schools.contains(id) {
            Some(id.to_string())
        } else {
            self.report(pointer, schools.unknown(id));
            None
        }
    }

    fn academic_year(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        ctx: &ValidationContext,
    ) -> Option<String> {
        let (text, pointer) =
            self.required_string(obj, at, "academic_year", "an academic year like 2025-26")?;
        match text.parse::<AcademicYear>() {
            Err(_) if text.chars().count() > 40 => {
                self.report(
                    pointer,
                    format!(
                        "`{}` is not an academic year of the form YYYY-YY",
                        shown(text)
                    ),
                );
                None
            }
            Err(message) => {
                self.report(pointer, message);
                None
            }
            Ok(year) => {
                let year = year.to_string();
                if ctx.configured_years.contains(&year) {
                    Some(year)
                } else {
                    self.report(
                        pointer,
                        format!("no [[years]] entry for {year} in the config"),
                    );
                    None
                }
            }
        }
    }

    /// A display name: required, not blank, and at most `max` characters if given.
    fn name(&mut self, obj: &Map<String, Value>, at: &str, max: Option<usize>) -> Option<String> {
        let (name, pointer) = self.required_string(obj, at, "name", "a name")?;
        let chars = name.chars().count();
        if name.trim().is_empty() {
            self.report(pointer, "the name is empty");
            None
        } else if let Some(max) = max
            && chars > max
        {
            self.report(
                pointer,
                format!("the name is {chars} characters long; at most {max} are allowed"),
            );
            None
        } else {
            Some(name.to_string())
        }
    }

    /// Optional; `Some(None)` when absent or null.
    fn year_group(&mut self, obj: &Map<String, Value>, at: &str) -> Option<Option<i64>> {
        let value = match obj.get("year_group") {
            None | Some(Value::Null) => return Some(None),
            Some(value) => value,
        };
        let (first, last) = (YEAR_GROUPS.start(), YEAR_GROUPS.end());
        let message = match value.as_i64() {
            Some(n) if YEAR_GROUPS.contains(&n) => return Some(Some(n)),
            Some(n) => format!("year group {n} is out of range: expected {first} to {last}"),
            None if value.is_number() => {
                format!("expected a whole number from {first} to {last}, found {value}")
            }
            None => format!("expected a whole number or null, found {}", kind(value)),
        };
        self.report(child(at, "year_group"), message);
        None
    }

    /// Optional; `Some(None)` when absent, null or blank (a blank subject says nothing).
    fn subject(&mut self, obj: &Map<String, Value>, at: &str) -> Option<Option<String>> {
        match obj.get("subject") {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(other) => {
                self.report(
                    child(at, "subject"),
                    format!("expected a string or null, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// Absent or null: the configured default. Else a non-empty list of distinct targets.
    fn targets(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        ctx: &ValidationContext,
    ) -> Option<Vec<Target>> {
        let value = match obj.get("targets") {
            None | Some(Value::Null) => return Some(ctx.default_targets.to_vec()),
            Some(value) => value,
        };
        let pointer = child(at, "targets");
        let items = self.array(
            value,
            &pointer,
            "an array of targets (`teams`, `classroom`)",
        )?;
        if items.is_empty() {
            self.report(
                pointer,
                "the list of targets is empty: give `teams`, `classroom` or both",
            );
            return None;
        }
        let mut targets = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let message = match item {
                Value::String(s) => match s.parse::<Target>() {
                    Ok(target) if targets.contains(&target) => {
                        format!("target `{target}` is listed twice")
                    }
                    Ok(target) => {
                        targets.push(target);
                        continue;
                    }
                    Err(_) => format!(
                        "unknown target `{}`: expected `teams` or `classroom`",
                        shown(s)
                    ),
                },
                other => format!(
                    "expected a string (`teams` or `classroom`), found {}",
                    kind(other)
                ),
            };
            self.report(index(&pointer, i), message);
            ok = false;
        }
        ok.then_some(targets)
    }

    /// A list of email addresses, stored normalised; the same address twice (ignoring case) is an
    /// error at the second one, as it is almost certainly a mistake upstream.
    fn emails(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        key: &str,
        presence: Presence,
    ) -> Option<Vec<String>> {
        const WHAT: &str = "an array of email addresses";
        let value = match (obj.get(key), presence) {
            (None | Some(Value::Null), Presence::Optional) => return Some(Vec::new()),
            (Some(value), _) => value,
            (None, Presence::Required) => {
                self.report(
                    child(at, key),
                    format!("required field is missing (expected {WHAT})"),
                );
                return None;
            }
        };
        let pointer = child(at, key);
        let items = self.array(value, &pointer, WHAT)?;
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        let mut emails = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let message = match item {
                Value::String(s) => match check_email(s) {
                    Ok(email) => match first_seen.get(&email) {
                        Some(first) => {
                            format!("`{email}` is listed twice (first at {pointer}/{first})")
                        }
                        None => {
                            first_seen.insert(email.clone(), i);
                            emails.push(email);
                            continue;
                        }
                    },
                    Err(message) => message,
                },
                other => format!(
                    "expected a string (an email address), found {}",
                    kind(other)
                ),
            };
            self.report(index(&pointer, i), message);
            ok = false;
        }
        ok.then_some(emails)
    }

    fn object<'v>(
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

    fn array<'v>(&mut self, value: &'v Value, at: &str, expected: &str) -> Option<&'v Vec<Value>> {
        match value {
            Value::Array(items) => Some(items),
            other => {
                self.report(at, format!("expected {expected}, found {}", kind(other)));
                None
            }
        }
    }

    fn required<'v>(
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
    fn required_string<'v>(
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

#[derive(Clone, Copy)]
enum Presence {
    Required,
    /// Absent or null means empty.
    Optional,
}

/// `id`s are used in URLs, `externalId`s and Classroom aliases, hence the narrow alphabet (CONTRACT §4).
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(
            "the id is empty: use 1–100 characters of A–Z, a–z, 0–9, `.`, `_`, `-`".to_string(),
        );
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{}` is not a valid id: it contains {}; use only A–Z, a–z, 0–9, `.`, `_`, `-`",
            shown(id),
            describe_char(bad)
        ));
    }
    if id.len() > MAX_ID_CHARS {
        return Err(format!(
            "the id is {} characters long; at most {MAX_ID_CHARS} are allowed",
            id.len()
        ));
    }
    Ok(())
}

/// An email address as users are identified by (the Microsoft UPN and the Google account): checked
/// for shape only, and returned normalised (trimmed, lower-case) so that comparisons ignore case.
fn check_email(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    let not_email = |why: &str| format!("`{}` is not an email address: {why}", shown(email));
    if email.is_empty() {
        return Err("the email address is empty".to_string());
    }
    let chars = email.chars().count();
    if chars > MAX_EMAIL_CHARS {
        return Err(format!(
            "the email address is {chars} characters long; at most {MAX_EMAIL_CHARS} are allowed"
        ));
    }
    if let Some(bad) = email.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(not_email(&format!("it contains {}", describe_char(bad))));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(not_email("it has no `@`"));
    };
    if domain.contains('@') {
        return Err(not_email("it has more than one `@`"));
    }
    if local.is_empty() {
        return Err(not_email("nothing comes before the `@`"));
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(not_email(
            "the part after the `@` is not a domain name like hwbcymru.net",
        ));
    }
    Ok(normalise_email(email))
}

/// A name for a character in a message, readable even when the character is invisible.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

/// Input quoted in a message, cut short so that one absurd value cannot flood the output.
fn shown(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", s.get(..cut).unwrap_or(s)),
        None => s.to_string(),
    }
}

/// How a JSON value is named in "expected …, found …" messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The pointer to member `key` of the value at `parent`, escaped per RFC 6901.
fn child(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// The pointer to element `i` of the array at `parent`.
fn index(parent: &str, i: usize) -> String {
    format!("{parent}/{i}")
}

/// The line each value of a JSON text starts on, by JSON pointer.
///
/// A minimal scanner rather than a parser: it runs only on text `serde_json` has accepted, so it
/// need not diagnose anything, only never panic and never recurse (it keeps its own stack). With
/// duplicate keys the last one wins, as it does in `serde_json::Value`.
struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    fn build(text: &str) -> LineIndex {
        /// An open object or array; `parent_len` is where to cut the current pointer when it closes.
        struct Frame {
            is_array: bool,
            parent_len: usize,
            next_index: usize,
            key: Option<String>,
        }

        let bytes = text.as_bytes();
        let mut lines = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        // The pointer of the innermost open container.
        let mut pointer = String::new();
        let mut line = 1;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\n' => {
                    line += 1;
                    i += 1;
                }
                b' ' | b'\t' | b'\r' | b':' => i += 1,
                b',' => {
                    if let Some(frame) = stack.last_mut() {
                        if frame.is_array {
                            frame.next_index += 1;
                        } else {
                            frame.key = None;
                        }
                    }
                    i += 1;
                }
                b'}' | b']' => {
                    if let Some(frame) = stack.pop() {
                        pointer.truncate(frame.parent_len);
                    }
                    i += 1;
                }
                _ => {
                    let start_line = line;
                    // A string in an object that has no pending key is that key, not a value.
                    if b == b'"'
                        && let Some(frame) = stack.last_mut()
                        && !frame.is_array
                        && frame.key.is_none()
                    {
                        let end = string_end(bytes, i, &mut line);
                        let raw = text.get(i..end).unwrap_or_default();
                        let key = serde_json::from_str::<String>(raw)
                            .unwrap_or_else(|_| raw.trim_matches('"').to_string());
                        frame.key = Some(key);
                        i = end;
                        continue;
                    }
                    let value_pointer = match stack.last() {
                        None => String::new(),
                        Some(frame) if frame.is_array => index(&pointer, frame.next_index),
                        Some(frame) => child(&pointer, frame.key.as_deref().unwrap_or_default()),
                    };
                    match b {
                        b'{' | b'[' => {
                            stack.push(Frame {
                                is_array: b == b'[',
                                parent_len: pointer.len(),
                                next_index: 0,
                                key: None,
                            });
                            pointer.clone_from(&value_pointer);
                            i += 1;
                        }
                        b'"' => i = string_end(bytes, i, &mut line),
                        _ => {
                            while let Some(&c) = bytes.get(i) {
                                if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                                    break;
                                }
                                i += 1;
                            }
                        }
                    }
                    lines.insert(value_pointer, start_line);
                }
            }
        }
        LineIndex { lines }
    }

    /// The line of the value at `pointer`, or of its nearest ancestor that exists (a missing field is
    /// located at the object that lacks it).
    fn line_of(&self, pointer: &str) -> Option<usize> {
        let mut pointer = pointer;
        loop {
            if let Some(&line) = self.lines.get(pointer) {
                return Some(line);
            }
            let cut = pointer.rfind('/')?;
            pointer = pointer.get(..cut)?;
        }
    }
}

/// The index just past the string that opens at `start` (a `"`), honouring backslash escapes.
fn string_end(bytes: &[u8], start: usize, line: &mut usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CONTRACT §4 example laid out one group field per line, so that tests can replace a field
    /// and know its line (`id` is on line 7 … `learners` on line 15).
    const TEMPLATE: &str = r#"{
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

    fn years() -> Vec<String> {
        vec!["2024-25".to_string(), "2025-26".to_string()]
    }

    fn ctx(years: &[String]) -> ValidationContext<'_> {
        ValidationContext {
            configured_years: years,
            default_targets: &[Target::Teams],
        }
    }

    /// The template with the value of group field `key` replaced by `json`.
    fn with_group_field(key: &str, json: &str) -> String {
        replace_field(TEMPLATE, &format!("      \"{key}\": "), json)
    }

    /// The template with group field `key` renamed out of the way (unknown fields are ignored).
    fn without_group_field(key: &str) -> String {
        TEMPLATE.replace(
            &format!("      \"{key}\": "),
            &format!("      \"old_{key}\": "),
        )
    }

    fn replace_field(text: &str, prefix: &str, json: &str) -> String {
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
    type Expected<'a> = (&'a str, usize, &'a str);

    /// Asserts that `text` is refused with exactly these problems, in this order.
    #[track_caller]
    fn check(text: &str, expected: &[Expected]) {
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
    fn check_ok(text: &str) -> Snapshot {
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
        let snapshot = check_ok(include_str!("../../tests/it/fixtures/snapshot-valid.json"));
        assert_eq!(snapshot.schools.len(), 2);
        assert_eq!(snapshot.groups.len(), 3);
    }

    #[test]
    fn the_invalid_fixture_file_reports_each_problem() {
        check(
            include_str!("../../tests/it/fixtures/snapshot-invalid.json"),
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
    fn optional_fields_default() {
        let mut text = TEMPLATE.to_string();
        for key in ["year_group", "subject", "targets"] {
            text = text.replace(&format!("\"{key}\": "), &format!("\"old_{key}\": "));
        }
        text = text.replace(r#", "admins": ["admin.a@hwbcymru.net"]"#, "");
        let snapshot = check_ok(&text);
        assert_eq!(snapshot.schools[0].admins, Vec::<String>::new());
        let group = &snapshot.groups[0];
        assert_eq!((group.year_group, group.subject.as_deref()), (None, None));
        assert_eq!(group.targets, vec![Target::Teams], "the configured default");

        let snapshot = check_ok(&replace_field(
            &replace_field(
                &with_group_field("year_group", "null"),
                "      \"subject\": ",
                "null",
            ),
            "      \"targets\": ",
            "null",
        ));
        let group = &snapshot.groups[0];
        assert_eq!((group.year_group, group.subject.as_deref()), (None, None));
        assert_eq!(group.targets, vec![Target::Teams]);

        assert_eq!(
            check_ok(&with_group_field("subject", r#""  ""#)).groups[0].subject,
            None
        );
        assert_eq!(
            check_ok(&with_group_field("teachers", "[]")).groups[0].teachers,
            Vec::<String>::new()
        );
        assert_eq!(
            check_ok(&with_group_field("learners", "[]")).groups[0].learners,
            Vec::<String>::new()
        );
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let snapshot = check_ok(&with_group_field(
            "teachers",
            r#"[" JonesA12@HwbCymru.net ", "o'brien+x@ysgol.cymru"]"#,
        ));
        assert_eq!(
            snapshot.groups[0].teachers,
            vec!["jonesa12@hwbcymru.net", "o'brien+x@ysgol.cymru"]
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let text = TEMPLATE
            .replacen(
                "{\n  \"schools\"",
                "{\n  \"version\": {\"v\": [2]}, \"schools\"",
                1,
            )
            .replace("\"admins\"", "\"colour\": 3, \"admins\"")
            .replace("      \"subject\"", "      \"room\": null, \"subject\"");
        assert_eq!(check_ok(&text), check_ok(TEMPLATE));
    }

    #[test]
    fn the_root_must_be_an_object_with_two_arrays() {
        check(
            " [1, 2]",
            &[(
                "",
                1,
                "expected an object with `schools` and `groups`, found an array",
            )],
        );
        check("\n\"x\"", &[("", 2, "found a string")]);
        check(
            "{\n}",
            &[
                ("/schools", 1, "required field is missing"),
                ("/groups", 1, "required field is missing"),
            ],
        );
        check(
            "{\"schools\": {},\n \"groups\": 3}",
            &[
                (
                    "/schools",
                    1,
                    "expected an array of schools, found an object",
                ),
                ("/groups", 2, "found a number"),
            ],
        );
        let without_schools = TEMPLATE.replace("\"schools\"", "\"old_schools\"");
        check(
            &without_schools,
            &[("/schools", 1, "required field is missing")],
        );
        check(
            "{\"schools\": [], \"groups\": null}",
            &[("/groups", 1, "found null")],
        );
        assert_eq!(
            check_ok(r#"{"schools": [], "groups": []}"#),
            Snapshot::default()
        );
    }

    #[test]
    fn school_rules() {
        // No groups, so that a bad school id does not also make a group's school unknown.
        let school =
            |json: &str| format!("{{\n  \"groups\": [], \"schools\": [\n    {json}\n  ]\n}}");
        let long_id = "9".repeat(101);
        #[rustfmt::skip]
        let cases: &[(String, &[Expected])] = &[
            (school("7"), &[("/schools/0", 3, "expected a school object, found a number")]),
            (school(r#"{"id": "66 12", "name": "Y"}"#), &[("/schools/0/id", 3, "contains a space")]),
            (school(r#"{"id": "", "name": "Y"}"#), &[("/schools/0/id", 3, "the id is empty")]),
            (school(&format!(r#"{{"id": "{long_id}", "name": "Y"}}"#)), &[("/schools/0/id", 3, "at most 100")]),
            (school(r#"{"id": 6612001, "name": "Y"}"#), &[("/schools/0/id", 3, "expected a string (an id), found a number")]),
            (school(r#"{"name": "Y"}"#), &[("/schools/0/id", 3, "required field is missing")]),
            (school(r#"{"id": "6612001"}"#), &[("/schools/0/name", 3, "required field is missing")]),
            (school(r#"{"id": "6612001", "name": " "}"#), &[("/schools/0/name", 3, "the name is empty")]),
            (school(r#"{"id": "6612001", "name": "Y", "admins": "a@b.cymru"}"#), &[("/schools/0/admins", 3, "expected an array of email addresses, found a string")]),
            (school(r#"{"id": "6612001", "name": "Y", "admins": ["a@b.cymru", false]}"#), &[("/schools/0/admins/1", 3, "found a boolean")]),
            (school(r#"{"id": "6612001", "name": "Y", "admins": ["nobody"]}"#), &[("/schools/0/admins/0", 3, "`nobody` is not an email address: it has no `@`")]),
            (school(r#"{"id": "6612001", "name": "Y", "admins": ["a@b.cymru", "A@B.cymru"]}"#), &[("/schools/0/admins/1", 3, "`a@b.cymru` is listed twice (first at /schools/0/admins/0)")]),
        ];
        for (text, expected) in cases {
            check(text, expected);
        }
    }

    #[test]
    fn a_duplicate_school_points_at_the_second() {
        let text = TEMPLATE.replace(
            "  ],\n  \"groups\"",
            "  ,\n    {\"id\": \"6612001\", \"name\": \"Again\"}\n  ],\n  \"groups\"",
        );
        check(
            &text,
            &[(
                "/schools/1/id",
                5,
                "duplicate school id `6612001` (first used at /schools/0)",
            )],
        );
    }

    #[test]
    fn a_duplicate_group_points_at_the_second_even_in_another_case() {
        let second = r#"{"id": "6612001-2025-26-7A-MA1", "school": "6612001", "academic_year": "2025-26", "name": "N", "teachers": [], "learners": []}"#;
        let text = TEMPLATE.replace("    }\n  ]\n}", &format!("    }},\n    {second}\n  ]\n}}"));
        check(
            &text,
            &[(
                "/groups/1/id",
                17,
                "differs from `6612001-2025-26-7A-Ma1` (at /groups/0) only in letter case",
            )],
        );
        let text = text.replace("7A-MA1", "7A-Ma1");
        check(
            &text,
            &[(
                "/groups/1/id",
                17,
                "duplicate group id `6612001-2025-26-7A-Ma1` (first used at /groups/0)",
            )],
        );
        check_ok(&text.replace("7A-Ma1\", \"school", "7B-Ma1\", \"school"));
    }

    #[test]
    fn group_rules() {
        let long = "x".repeat(101);
        let long_name = format!("\"{}\"", "é".repeat(257));
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str, usize, &str)] = &[
            // (field, new value, pointer, line, message)
            ("id", r#""7A/Ma1""#, "/groups/0/id", 7, "it contains `/`"),
            ("id", r#""""#, "/groups/0/id", 7, "the id is empty"),
            ("id", &format!("\"{long}\""), "/groups/0/id", 7, "at most 100"),
            ("id", "7", "/groups/0/id", 7, "expected a string (an id), found a number"),
            ("school", r#""9999""#, "/groups/0/school", 8, "school `9999` is not listed in this snapshot's `schools`"),
            ("school", "[]", "/groups/0/school", 8, "found an array"),
            ("academic_year", r#""2026-27""#, "/groups/0/academic_year", 9, "no [[years]] entry for 2026-27 in the config"),
            ("academic_year", r#""2025-2026""#, "/groups/0/academic_year", 9, "of the form YYYY-YY"),
            ("academic_year", r#""2025-27""#, "/groups/0/academic_year", 9, "the second year must follow the first"),
            ("academic_year", "2025", "/groups/0/academic_year", 9, "found a number"),
            ("name", r#""""#, "/groups/0/name", 10, "the name is empty"),
            ("name", &long_name, "/groups/0/name", 10, "the name is 257 characters long; at most 256"),
            ("name", "{}", "/groups/0/name", 10, "found an object"),
            ("year_group", "15", "/groups/0/year_group", 11, "year group 15 is out of range: expected 0 to 14"),
            ("year_group", "-1", "/groups/0/year_group", 11, "out of range"),
            ("year_group", "7.5", "/groups/0/year_group", 11, "expected a whole number from 0 to 14, found 7.5"),
            ("year_group", "18446744073709551615", "/groups/0/year_group", 11, "whole number from 0 to 14"),
            ("year_group", "1e300", "/groups/0/year_group", 11, "whole number from 0 to 14"),
            ("year_group", r#""7""#, "/groups/0/year_group", 11, "expected a whole number or null, found a string"),
            ("subject", "3", "/groups/0/subject", 12, "expected a string or null, found a number"),
            ("targets", "[]", "/groups/0/targets", 13, "the list of targets is empty"),
            ("targets", r#""teams""#, "/groups/0/targets", 13, "expected an array of targets"),
            ("targets", r#"["teams", "zoom"]"#, "/groups/0/targets/1", 13, "unknown target `zoom`: expected `teams` or `classroom`"),
            ("targets", r#"["Teams"]"#, "/groups/0/targets/0", 13, "unknown target `Teams`"),
            ("targets", r#"["teams", 1]"#, "/groups/0/targets/1", 13, "found a number"),
            ("targets", r#"["classroom", "classroom"]"#, "/groups/0/targets/1", 13, "target `classroom` is listed twice"),
            ("teachers", r#"["a@b.cymru", "c@d.cymru", " A@B.CYMRU"]"#, "/groups/0/teachers/2", 14, "`a@b.cymru` is listed twice (first at /groups/0/teachers/0)"),
            ("teachers", "{}", "/groups/0/teachers", 14, "expected an array of email addresses, found an object"),
            ("learners", "null", "/groups/0/learners", 15, "found null"),
            ("learners", r#"[["a@b.cymru"]]"#, "/groups/0/learners/0", 15, "expected a string (an email address), found an array"),
        ];
        for (key, json, pointer, line, message) in cases {
            check(&with_group_field(key, json), &[(*pointer, *line, *message)]);
        }
    }

    #[test]
    fn missing_required_group_fields_point_at_the_field_and_the_objects_line() {
        for key in [
            "id",
            "school",
            "academic_year",
            "name",
            "teachers",
            "learners",
        ] {
            let pointer = format!("/groups/0/{key}");
            check(
                &without_group_field(key),
                &[(&pointer, 6, "required field is missing")],
            );
        }
    }

    #[test]
    fn email_rules() {
        let long = format!("{}@hwbcymru.net", "a".repeat(242));
        assert_eq!(long.len(), 255);
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("", "the email address is empty"),
            ("   ", "the email address is empty"),
            ("jonesa12", "it has no `@`"),
            ("a@b@hwbcymru.net", "more than one `@`"),
            ("@hwbcymru.net", "nothing comes before the `@`"),
            ("a@localhost", "not a domain name"),
            ("a@hwbcymru.", "not a domain name"),
            ("a@.net", "not a domain name"),
            ("a@hwb..net", "not a domain name"),
            ("jones a@hwbcymru.net", "it contains a space"),
            ("jones\ta@hwbcymru.net", "it contains the character U+0009"),
            ("jones\u{7}a@hwbcymru.net", "it contains the character U+0007"),
            (&long, "255 characters long; at most 254"),
        ];
        for (email, message) in cases {
            assert_eq!(
                check_email(email)
                    .as_deref()
                    .map_err(|e| e.contains(message)),
                Err(true),
                "{email:?}"
            );
        }
        assert_eq!(check_email(&long[1..]).as_deref(), Ok(&long[1..]));
        // Through the JSON, a control character arrives escaped and is shown escaped.
        let text = with_group_field("learners", r#"["a\u001b[31m@b.cymru"]"#);
        let years = years();
        let problems = parse_snapshot(&text, &ctx(&years)).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            !problems[0].message.chars().any(char::is_control),
            "{:?}",
            problems[0].message
        );
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
    fn a_group_of_a_school_with_other_problems_is_not_also_unknown() {
        let text = TEMPLATE.replace(r#""name": "Ysgol Enghraifft""#, r#""name": """#);
        check(&text, &[("/schools/0/name", 3, "the name is empty")]);
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
    fn the_line_index_handles_nesting_escapes_and_strings_that_look_like_structure() {
        let text = "{\"a/b\": {\"c~d\":\n [1,\n  {\"e\\\"f\": \"x\\\\\\\"y\", \"\\u0041\": [[], {}, \"]}\"]}\n ]},\n \"\": 2,\n \"g\":\n  \"{[,\"\n, \"dup\": 1, \"dup\":\n 2}";
        serde_json::from_str::<Value>(text).expect("the test text is valid JSON");
        let index = LineIndex::build(text);
        let expected: &[(&str, usize)] = &[
            ("", 1),
            ("/a~1b", 1),
            ("/a~1b/c~0d", 2),
            ("/a~1b/c~0d/0", 2),
            ("/a~1b/c~0d/1", 3),
            ("/a~1b/c~0d/1/e\"f", 3),
            ("/a~1b/c~0d/1/A", 3),
            ("/a~1b/c~0d/1/A/0", 3),
            ("/a~1b/c~0d/1/A/2", 3),
            ("/", 5),
            ("/g", 7),
            ("/dup", 9),
        ];
        for (pointer, line) in expected {
            assert_eq!(
                index.lines.get(*pointer),
                Some(line),
                "{pointer:?} in {:#?}",
                index.lines
            );
        }
        assert_eq!(
            index.lines.len(),
            expected.len() + 1,
            "/a~1b/c~0d/1/A/1 too: {:#?}",
            index.lines
        );
        // A missing member is located at the nearest value that exists.
        assert_eq!(index.line_of("/a~1b/c~0d/1/missing/deeper"), Some(3));
        assert_eq!(index.line_of("/nothing"), Some(1));
    }

    #[test]
    fn the_line_index_never_panics_on_odd_text() {
        for text in [
            "",
            "\"",
            "\"\\",
            "}}]]",
            "{\"a\"",
            "[,,,",
            "{\"a\":\"é\\",
            "é",
            "{\"\u{1F600}\": [x",
        ] {
            let index = LineIndex::build(text);
            let _ = index.line_of("/a/0");
        }
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

    fn group_body(fields: &str) -> String {
        format!(
            r#"{{{fields}
  "school": "6612001",
  "academic_year": "2025-26",
  "name": "7A/Ma1 Mathematics",
  "teachers": ["jonesa12@hwbcymru.net"],
  "learners": ["bad address"]
}}"#
        )
    }

    #[test]
    fn parse_group_checks_the_path_id_and_the_known_schools() {
        let years = years();
        let ctx = ctx(&years);
        let known = vec!["6612001".to_string()];
        let parse =
            |text: &str, path_id: &str, known: &[String]| parse_group(text, path_id, known, &ctx);

        let valid =
            group_body("\n  \"id\": \"g-1\",").replace("bad address", "evansb34@hwbcymru.net");
        let group = parse(&valid, "g-1", &known).expect("valid");
        assert_eq!(
            (group.id.as_str(), group.targets.as_slice()),
            ("g-1", &[Target::Teams][..])
        );

        let without_id = group_body("").replace("bad address", "evansb34@hwbcymru.net");
        assert_eq!(parse(&without_id, "g-1", &known).expect("valid").id, "g-1");

        let problems = parse(&group_body("\n  \"id\": \"g-2\","), "g-1", &[]).unwrap_err();
        let found: Vec<(&str, Option<usize>)> = problems
            .iter()
            .map(|p| (p.pointer.as_str(), p.line))
            .collect();
        assert_eq!(
            found,
            vec![
                ("/id", Some(2)),
                ("/school", Some(3)),
                ("/learners/0", Some(7))
            ]
        );
        assert!(
            problems[0]
                .message
                .contains("the body's id `g-2` differs from the id in the path `g-1`")
        );
        assert!(problems[1].message.contains("unknown school `6612001`"));

        let problems = parse(&group_body(""), "g/1", &known).unwrap_err();
        assert_eq!(problems[0].pointer, "");
        assert!(
            problems[0]
                .message
                .starts_with("the id in the path: `g/1` is not a valid id")
        );

        let problems = parse("[]", "g-1", &known).unwrap_err();
        assert_eq!(
            (problems[0].line, problems[0].message.as_str()),
            (Some(1), "expected a group object, found an array")
        );
        let problems = parse("", "g-1", &known).unwrap_err();
        assert!(problems[0].message.contains("expected a group object"));
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
}
