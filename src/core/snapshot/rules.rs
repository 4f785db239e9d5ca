//! The rules of a snapshot and of one group (CONTRACT §4): which fields are required and what each
//! may hold, unique ids, schools that exist, academic years that are configured. Each rule reports
//! through the [`Checker`] and returns `None` exactly when it has reported a problem.

use super::checker::{Checker, kind};
use super::values::{check_email, check_id, shown};
use super::{ValidationContext, child, index};
use crate::core::calendar::AcademicYear;
use crate::core::domain::{Group, School, Snapshot, Target};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// The longest name (of a group) class-sync accepts; Teams and Classroom both cap display names.
pub const MAX_NAME_CHARS: usize = 256;
const YEAR_GROUPS: std::ops::RangeInclusive<i64> = 0..=14;

/// Which school ids a group may name, and how to say it does not.
pub(super) enum Schools<'a> {
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

impl Checker {
    pub(super) fn snapshot(&mut self, root: &Value, ctx: &ValidationContext) -> Option<Snapshot> {
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
    pub(super) fn group(
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
}

#[derive(Clone, Copy)]
enum Presence {
    Required,
    /// Absent or null means empty.
    Optional,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::parse_group;
    use crate::core::snapshot::tests::{
        Expected, TEMPLATE, check, check_ok, ctx, replace_field, with_group_field,
        without_group_field, years,
    };

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
    fn a_group_of_a_school_with_other_problems_is_not_also_unknown() {
        let text = TEMPLATE.replace(r#""name": "Ysgol Enghraifft""#, r#""name": """#);
        check(&text, &[("/schools/0/name", 3, "the name is empty")]);
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
}
