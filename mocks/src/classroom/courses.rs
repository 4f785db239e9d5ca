//! Courses: the Course JSON, its field rules, and `courses.create`, `courses.get` and
//! `courses.list`, plus the ACTIVE courses benchmarks seed. `courses.patch` is in
//! `course_patch`.

use serde_json::{Map, Value, json};

use crate::backend::{Auth, Incoming};
use crate::classroom::aliases::valid_alias;
use crate::classroom::errors::{
    Answer, already_exists, failed_precondition, invalid_argument, json_body, not_found, opt_string,
};
use crate::classroom::lookups::{find_course, find_user};
use crate::classroom::model::{ClassroomState, Course, CourseState, Data};
use crate::classroom::paging::paged;
use crate::classroom::scopes::{COURSES, COURSES_RO, require_scope};
use crate::state::Shared;
use crate::state::users::{UserIdx, Users};
use crate::state::world::World;
use crate::wire::{self, Refusal};

/// Every property of the Course schema (revision 20261028).
pub(super) const COURSE_FIELDS: [&str; 21] = [
    "id",
    "name",
    "section",
    "descriptionHeading",
    "description",
    "room",
    "ownerId",
    "creationTime",
    "updateTime",
    "enrollmentCode",
    "courseState",
    "alternateLink",
    "teacherGroupEmail",
    "courseGroupEmail",
    "teacherFolder",
    "courseMaterialSets",
    "guardiansEnabled",
    "calendarId",
    "gradebookSettings",
    "subject",
    "levels",
];
/// Course fields a client may write (the rest are read-only and ignored in a body).
pub(super) const WRITABLE_STRINGS: [&str; 10] = [
    "id",
    "name",
    "section",
    "descriptionHeading",
    "description",
    "room",
    "ownerId",
    "courseState",
    "subject",
    "levels",
];

pub(super) fn course_json(c: &Course, users: &Users) -> Value {
    let owner = users.get(c.owner);
    let domain = owner
        .email
        .split_once('@')
        .map_or("example.com", |(_, d)| d);
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("name".into(), json!(c.name));
    for (key, value) in [
        ("section", &c.section),
        ("descriptionHeading", &c.description_heading),
        ("description", &c.description),
        ("room", &c.room),
        ("subject", &c.subject),
        ("levels", &c.levels),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            m.insert(key.into(), json!(v));
        }
    }
    m.insert("ownerId".into(), json!(owner.google_id));
    m.insert("creationTime".into(), json!(c.creation_time));
    m.insert("updateTime".into(), json!(c.update_time));
    m.insert("enrollmentCode".into(), json!(c.enrollment_code));
    m.insert("courseState".into(), json!(c.state.name()));
    m.insert(
        "alternateLink".into(),
        json!(format!(
            "https://classroom.google.com/c/{}",
            wire::b64url(&c.id).trim_end_matches('=')
        )),
    );
    m.insert(
        "teacherGroupEmail".into(),
        json!(format!("mock_teachers_{}@{domain}", c.id)),
    );
    m.insert(
        "courseGroupEmail".into(),
        json!(format!("mock_{}@{domain}", c.id)),
    );
    m.insert(
        "teacherFolder".into(),
        json!({"id": format!("mock-folder-{}", c.id)}),
    );
    m.insert("guardiansEnabled".into(), json!(false));
    if let Some(calendar) = &c.calendar_id {
        m.insert("calendarId".into(), json!(calendar));
    }
    m.insert(
        "gradebookSettings".into(),
        json!({"calculationType": "TOTAL_POINTS", "displaySetting": "HIDE_OVERALL_GRADE"}),
    );
    Value::Object(m)
}

/// Checks name and the optional text fields against the Course schema's limits.
pub(super) fn check_lengths(
    body: &Map<String, Value>,
    only: Option<&[String]>,
) -> Result<(), Refusal> {
    let limits = [
        ("name", 750),
        ("section", 2800),
        ("descriptionHeading", 3600),
        ("description", 30_000),
        ("room", 650),
        ("levels", 999),
    ];
    for (field, max) in limits {
        if only.is_some_and(|mask| !mask.iter().any(|m| m == field)) {
            continue;
        }
        let value = opt_string(body, field)?;
        let len = value.as_deref().map_or(0, wire::char_len);
        if field == "name" && (len == 0 || value.as_deref().is_some_and(|v| v.trim().is_empty())) {
            return Err(invalid_argument(
                "Request contains an invalid argument. (name is required: 1-750 characters)",
            ));
        }
        if len > max {
            return Err(invalid_argument(&format!(
                "Request contains an invalid argument. ({field} is longer than {max} characters)"
            )));
        }
    }
    if let Some(name) = body.get("name").and_then(Value::as_str)
        && only.is_none_or(|mask| mask.iter().any(|m| m == "name"))
        && name.contains("://")
    {
        return Err(failed_precondition(
            "@CourseTitleCannotContainUrl The course title cannot contain a URL.",
        ));
    }
    Ok(())
}

pub(super) fn create_course(w: &mut Data, req: &Incoming, auth: &Auth) -> Answer {
    require_scope(auth, &[COURSES])?;
    let body = json_body(req, &COURSE_FIELDS, "course")?;
    for field in WRITABLE_STRINGS {
        opt_string(&body, field)?;
    }
    check_lengths(&body, None)?;
    let Some(owner_id) = opt_string(&body, "ownerId")?.filter(|o| !o.is_empty()) else {
        return Err(invalid_argument(
            "Request contains an invalid argument. (ownerId is required)",
        ));
    };
    let alias = opt_string(&body, "id")?.filter(|a| !a.is_empty());
    if let Some(alias) = &alias
        && !valid_alias(alias)
    {
        return Err(invalid_argument("Request contains an invalid argument."));
    }
    let state = match opt_string(&body, "courseState")?.as_deref() {
        None | Some("") | Some("COURSE_STATE_UNSPECIFIED") => CourseState::Provisioned,
        Some(s) => match CourseState::parse(s) {
            Some(state @ (CourseState::Active | CourseState::Provisioned)) => state,
            Some(other) => {
                return Err(invalid_argument(&format!(
                    "Request contains an invalid argument. (a course cannot be created {})",
                    other.name()
                )));
            }
            None => {
                return Err(invalid_argument(&format!(
                    "Invalid value at 'course.course_state' (type.googleapis.com/google.classroom.v1.Course.CourseState), \"{s}\""
                )));
            }
        },
    };
    let owner = find_user(w.users, auth, &owner_id).ok_or_else(not_found)?;
    let c = &mut w.classroom;
    if let Some(alias) = &alias
        && c.by_alias.contains_key(alias)
    {
        return Err(already_exists());
    }
    let idx = c.courses.len();
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let mut course = Course {
        name: text("name").unwrap_or_default(),
        section: text("section"),
        description_heading: text("descriptionHeading"),
        description: text("description"),
        room: text("room"),
        subject: text("subject"),
        levels: text("levels"),
        ..Course::provisioned(idx, owner, alias.iter().cloned().collect())
    };
    course.set_state(state);
    c.by_id.insert(course.id.clone(), idx);
    if let Some(alias) = alias {
        c.by_alias.insert(alias, idx);
    }
    let body = course_json(&course, w.users);
    c.courses.push(course);
    Ok(wire::json(200, &body))
}

/// An ACTIVE course, for benchmark set-up (see `MockServices::seed_course`).
pub(crate) fn seed_course(w: &mut World, alias: &str, name: &str, owner: UserIdx) -> String {
    let c: &mut ClassroomState = w.services.get_mut();
    let idx = c.courses.len();
    let mut course = Course {
        name: name.to_string(),
        ..Course::provisioned(idx, owner, vec![alias.to_string()])
    };
    course.set_state(CourseState::Active);
    let id = course.id.clone();
    c.by_id.insert(id.clone(), idx);
    c.by_alias.insert(alias.to_string(), idx);
    c.courses.push(course);
    id
}

pub(super) fn get_course(w: &Data, auth: &Auth, id: &str) -> Answer {
    require_scope(auth, &[COURSES, COURSES_RO])?;
    let idx = find_course(w, id)?;
    Ok(wire::json(
        200,
        &course_json(&w.classroom.courses[idx], w.users),
    ))
}

/// `courses.list`, newest first, with `courseStates`, `teacherId`/`studentId` filters.
pub(super) fn list_courses(shared: &Shared, w: &Data, req: &Incoming, auth: &Auth) -> Answer {
    require_scope(auth, &[COURSES, COURSES_RO])?;
    let pairs = req.query_pairs();
    let mut states = Vec::new();
    for (_, v) in pairs.iter().filter(|(k, _)| k == "courseStates") {
        states.push(
            CourseState::parse(v)
                .ok_or_else(|| invalid_argument(&format!("Invalid courseStates value {v:?}.")))?,
        );
    }
    let teacher = wire::first(&pairs, "teacherId");
    let student = wire::first(&pairs, "studentId");
    if teacher.is_some() && student.is_some() {
        return Err(invalid_argument(
            "Request contains an invalid argument. (teacherId and studentId are exclusive)",
        ));
    }
    let teacher = teacher
        .map(|t| find_user(w.users, auth, t).ok_or_else(not_found))
        .transpose()?;
    let student = student
        .map(|s| find_user(w.users, auth, s).ok_or_else(not_found))
        .transpose()?;
    let items: Vec<Value> = w
        .classroom
        .courses
        .iter()
        .rev()
        .filter(|c| states.is_empty() || states.contains(&c.state))
        .filter(|c| teacher.is_none_or(|t| c.teachers.contains(&t)))
        .filter(|c| student.is_none_or(|s| c.students.contains(&s)))
        .map(|c| course_json(c, w.users))
        .collect();
    let size = shared.opts.page_size;
    paged(shared, req, "courses", items, size)
}
