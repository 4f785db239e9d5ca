//! `courses.patch`: the update mask, the state transitions the Course docs allow, ownership
//! transfer to a co-teacher, and which fields a course that is not modifiable still accepts.

use serde_json::Value;

use crate::backend::{Auth, Incoming};
use crate::classroom::courses::{COURSE_FIELDS, WRITABLE_STRINGS, check_lengths, course_json};
use crate::classroom::errors::{
    Answer, failed_precondition, invalid_argument, json_body, not_found, not_modifiable, opt_string,
};
use crate::classroom::lookups::{find_course, find_user};
use crate::classroom::model::{CourseState, Data};
use crate::classroom::scopes::{COURSES, require_scope};
use crate::wire;

/// Fields `courses.patch` accepts in `updateMask`.
const MASKABLE: [&str; 10] = [
    "courseState",
    "description",
    "descriptionHeading",
    "name",
    "ownerId",
    "room",
    "section",
    "subject",
    "learningStandardSettings",
    "levels",
];

/// A field mask entry in camelCase (`course_state` → `courseState`).
fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for ch in field.trim().chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// `courses.patch`. A patch that sets the state the course already has succeeds without
/// change (the docs are silent; this keeps archive/restore retries idempotent).
pub(super) fn patch_course(w: &mut Data, req: &Incoming, auth: &Auth, id: &str) -> Answer {
    require_scope(auth, &[COURSES])?;
    let idx = find_course(w, id)?;
    let pairs = req.query_pairs();
    let mask_text = wire::first(&pairs, "updateMask").unwrap_or("");
    let mut mask: Vec<String> = mask_text
        .split(',')
        .filter(|f| !f.trim().is_empty())
        .map(camel)
        .collect();
    mask.dedup();
    if mask.is_empty() {
        return Err(invalid_argument(
            "Request contains an invalid argument. (updateMask is required)",
        ));
    }
    if let Some(bad) = mask.iter().find(|f| !MASKABLE.contains(&f.as_str())) {
        let why = if COURSE_FIELDS.contains(&bad.as_str()) {
            "is read-only"
        } else {
            "is not a Course field"
        };
        return Err(invalid_argument(&format!(
            "Request contains an invalid argument. (updateMask field {bad} {why})"
        )));
    }
    let body = json_body(req, &COURSE_FIELDS, "course")?;
    for field in WRITABLE_STRINGS {
        opt_string(&body, field)?;
    }
    check_lengths(&body, Some(&mask))?;
    let in_mask = |f: &str| mask.iter().any(|m| m == f);

    let current = w.classroom.courses[idx].state;
    let target = if in_mask("courseState") {
        let requested = opt_string(&body, "courseState")?.unwrap_or_default();
        let state = CourseState::parse(&requested).filter(|s| *s != CourseState::Suspended).ok_or_else(|| {
            invalid_argument(&format!("Request contains an invalid argument. (courseState {requested:?} cannot be set)"))
        })?;
        if state != current && !current.may_become(state) {
            return Err(failed_precondition(&format!(
                "@CourseNotModifiable The course state cannot change from {} to {}.",
                current.name(),
                state.name()
            )));
        }
        state
    } else {
        current
    };
    let other_fields = mask.iter().any(|f| f != "courseState");
    if other_fields && !current.modifiable() && !(target != current && target.modifiable()) {
        return Err(not_modifiable());
    }
    let new_owner = if in_mask("ownerId") {
        let requested = opt_string(&body, "ownerId")?.unwrap_or_default();
        let owner = find_user(w.users, auth, &requested).ok_or_else(not_found)?;
        let course = &w.classroom.courses[idx];
        if owner == course.owner {
            return Err(failed_precondition(
                "@UserAlreadyOwner The user is already the course owner.",
            ));
        }
        if !course.teachers.contains(&owner) {
            return Err(failed_precondition(
                "@IneligibleOwner Only a co-teacher can be invited as owner of the course.",
            ));
        }
        Some(owner)
    } else {
        None
    };

    let course = &mut w.classroom.courses[idx];
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let mut changed = target != current || new_owner.is_some();
    for field in &mask {
        let slot = match field.as_str() {
            "name" => {
                course.name = text("name").unwrap_or_default();
                changed = true;
                continue;
            }
            "section" => &mut course.section,
            "descriptionHeading" => &mut course.description_heading,
            "description" => &mut course.description,
            "room" => &mut course.room,
            "subject" => &mut course.subject,
            "levels" => &mut course.levels,
            _ => continue,
        };
        *slot = text(field);
        changed = true;
    }
    if let Some(owner) = new_owner {
        course.owner = owner;
    }
    if target != current {
        course.set_state(target);
    }
    if changed {
        course.update_time = wire::timestamp(false);
    }
    Ok(wire::json(200, &course_json(course, w.users)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_accept_snake_case() {
        assert_eq!(camel("course_state"), "courseState");
        assert_eq!(camel("ownerId"), "ownerId");
    }
}
