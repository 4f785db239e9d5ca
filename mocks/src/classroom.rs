//! Fake Google Classroom v1: courses, aliases, teachers and students (classroom-api.md §2–§5,
//! schemas from the discovery document `classroom.v1.json`).
//!
//! Like the real API it omits empty lists (`{}` rather than `{"teachers": []}`) and unknown
//! JSON fields are refused with INVALID_ARGUMENT.

use std::collections::HashMap;
use std::time::Instant;

use axum::http::Method;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::backend::{Auth, Backend, Classified, Incoming};
use crate::state::Shared;
use crate::state::calls::Service;
use crate::state::users::{UserIdx, Users};
use crate::state::world::World;
use crate::wire::{self, Refusal};

const COURSES: &str = "https://www.googleapis.com/auth/classroom.courses";
const COURSES_RO: &str = "https://www.googleapis.com/auth/classroom.courses.readonly";
const ROSTERS: &str = "https://www.googleapis.com/auth/classroom.rosters";
const ROSTERS_RO: &str = "https://www.googleapis.com/auth/classroom.rosters.readonly";
const PROFILE_EMAILS: &str = "https://www.googleapis.com/auth/classroom.profile.emails";
/// Roster lists default to 30 (discovery doc).
const DEFAULT_ROSTER_PAGE: usize = 30;
/// Every property of the Course schema (revision 20261028).
const COURSE_FIELDS: [&str; 21] = [
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
const WRITABLE_STRINGS: [&str; 10] = [
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

pub(crate) struct Classroom;

/// All courses and their aliases.
#[derive(Default)]
pub(crate) struct ClassroomState {
    courses: Vec<Course>,
    by_id: HashMap<String, usize>,
    by_alias: HashMap<String, usize>,
}

/// What a Classroom handler works on: the user directory and the Classroom data, borrowed from
/// the world together.
struct Data<'a> {
    users: &'a Users,
    classroom: &'a mut ClassroomState,
}

impl<'a> Data<'a> {
    fn of(world: &'a mut World) -> Data<'a> {
        Data {
            users: &world.users,
            classroom: world.services.get_mut(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CourseState {
    Active,
    Archived,
    Provisioned,
    Declined,
    Suspended,
}

impl CourseState {
    fn name(self) -> &'static str {
        match self {
            CourseState::Active => "ACTIVE",
            CourseState::Archived => "ARCHIVED",
            CourseState::Provisioned => "PROVISIONED",
            CourseState::Declined => "DECLINED",
            CourseState::Suspended => "SUSPENDED",
        }
    }

    /// A state a client may ask for (`COURSE_STATE_UNSPECIFIED` is never valid input).
    fn parse(s: &str) -> Option<CourseState> {
        Some(match s {
            "ACTIVE" => CourseState::Active,
            "ARCHIVED" => CourseState::Archived,
            "PROVISIONED" => CourseState::Provisioned,
            "DECLINED" => CourseState::Declined,
            "SUSPENDED" => CourseState::Suspended,
            _ => return None,
        })
    }

    /// ARCHIVED, DECLINED and SUSPENDED courses cannot be modified except for their state.
    fn modifiable(self) -> bool {
        matches!(self, CourseState::Active | CourseState::Provisioned)
    }

    /// The transitions the Course docs allow: ACTIVE↔ARCHIVED, PROVISIONED→ACTIVE/DECLINED,
    /// DECLINED→PROVISIONED.
    fn may_become(self, to: CourseState) -> bool {
        use CourseState::*;
        matches!(
            (self, to),
            (Active, Archived)
                | (Archived, Active)
                | (Provisioned, Active)
                | (Provisioned, Declined)
                | (Declined, Provisioned)
        )
    }
}

struct Course {
    id: String,
    name: String,
    section: Option<String>,
    description_heading: Option<String>,
    description: Option<String>,
    room: Option<String>,
    subject: Option<String>,
    levels: Option<String>,
    owner: UserIdx,
    state: CourseState,
    creation_time: String,
    update_time: String,
    enrollment_code: String,
    /// Created the first time the course becomes ACTIVE, as Google documents.
    calendar_id: Option<String>,
    aliases: Vec<String>,
    teachers: Vec<UserIdx>,
    students: Vec<UserIdx>,
}

impl Course {
    /// A new PROVISIONED course (the `idx`th) owned by `owner`, with no text fields yet.
    fn provisioned(idx: usize, owner: UserIdx, aliases: Vec<String>) -> Course {
        let now = wire::timestamp(false);
        Course {
            id: (700_000_000_001u64 + idx as u64).to_string(),
            name: String::new(),
            section: None,
            description_heading: None,
            description: None,
            room: None,
            subject: None,
            levels: None,
            owner,
            state: CourseState::Provisioned,
            creation_time: now.clone(),
            update_time: now,
            enrollment_code: wire::enrollment_code(),
            calendar_id: None,
            aliases,
            teachers: vec![owner],
            students: Vec::new(),
        }
    }

    fn set_state(&mut self, state: CourseState) {
        self.state = state;
        if state == CourseState::Active && self.calendar_id.is_none() {
            self.calendar_id = Some(format!("classroom{}@group.calendar.google.com", self.id));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Teacher,
    Student,
}

impl Role {
    fn list_key(self) -> &'static str {
        match self {
            Role::Teacher => "teachers",
            Role::Student => "students",
        }
    }
}

impl Backend for Classroom {
    const SERVICE: Service = Service::Classroom;

    fn classify(shared: &Shared, req: &Incoming) -> Classified {
        let user = wire::bearer(&req.headers).and_then(|token| {
            shared
                .world()
                .google_tokens
                .get(token)
                .map(|t| t.subject.clone())
        });
        let mut keys = vec!["per_client".to_string()];
        if let Some(user) = &user {
            keys.push(format!("per_user:{user}"));
        }
        Classified {
            bucket: Some("per_client".into()),
            team: None,
            user,
            keys,
        }
    }

    fn authenticate(shared: &Shared, req: &Incoming) -> Result<Auth, Refusal> {
        let world = shared.world();
        let token = wire::bearer(&req.headers).and_then(|token| world.google_tokens.get(token));
        match token {
            Some(t) if Instant::now() < t.expires => Ok(Auth {
                user: Some(t.subject.clone()),
                scopes: t.scopes.clone(),
            }),
            _ => Err(error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            )),
        }
    }

    fn status_error(_: &Shared, status: u16) -> Response {
        let message = match status {
            400 => "Request contains an invalid argument.",
            401 => "Request had invalid authentication credentials.",
            403 => "The caller does not have permission",
            404 => "Requested entity was not found.",
            409 => "Requested entity already exists",
            413 => "Request payload size exceeds the limit.",
            429 => "Resource has been exhausted (e.g. check quota).",
            500 => "Internal error encountered.",
            503 => "The service is currently unavailable.",
            _ => "Unknown error.",
        };
        error(status, message).into()
    }

    fn handle(shared: &Shared, req: &Incoming, auth: &Auth) -> Response {
        let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
        let mut world = shared.world();
        let w = &mut Data::of(&mut world);
        let result = match (&req.method, segs.as_slice()) {
            (&Method::POST, ["v1", "courses"]) => create_course(w, req, auth),
            (&Method::GET, ["v1", "courses"]) => list_courses(shared, w, req, auth),
            (&Method::GET, ["v1", "courses", id]) => get_course(w, auth, id),
            (&Method::PATCH, ["v1", "courses", id]) => patch_course(w, req, auth, id),
            (&Method::GET, ["v1", "courses", id, "aliases"]) => {
                list_aliases(shared, w, req, auth, id)
            }
            (&Method::POST, ["v1", "courses", id, "teachers"]) => {
                add_to_roster(w, req, auth, id, Role::Teacher)
            }
            (&Method::POST, ["v1", "courses", id, "students"]) => {
                add_to_roster(w, req, auth, id, Role::Student)
            }
            (&Method::GET, ["v1", "courses", id, "teachers"]) => {
                list_roster(shared, w, req, auth, id, Role::Teacher)
            }
            (&Method::GET, ["v1", "courses", id, "students"]) => {
                list_roster(shared, w, req, auth, id, Role::Student)
            }
            (&Method::GET, ["v1", "courses", id, "teachers", user]) => {
                get_from_roster(w, auth, id, user, Role::Teacher)
            }
            (&Method::GET, ["v1", "courses", id, "students", user]) => {
                get_from_roster(w, auth, id, user, Role::Student)
            }
            (&Method::DELETE, ["v1", "courses", id, "teachers", user]) => {
                remove_from_roster(w, auth, id, user, Role::Teacher)
            }
            (&Method::DELETE, ["v1", "courses", id, "students", user]) => {
                remove_from_roster(w, auth, id, user, Role::Student)
            }
            _ => Err(invalid_argument(&format!(
                "Mock Classroom does not support {} {} (query: {:?}).",
                req.method, req.path, req.query
            ))),
        };
        result.unwrap_or_else(Response::from)
    }
}

type Answer = Result<Response, Refusal>;

// ---------------------------------------------------------------------------------------------
// Errors

/// Google's error body with the canonical status for `code` (classroom-api.md §5).
fn error(code: u16, message: &str) -> Refusal {
    let status = match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        413 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };
    error_with(code, status, message)
}

fn error_with(code: u16, status: &str, message: &str) -> Refusal {
    wire::json(
        code,
        &json!({"error": {"code": code, "message": message, "status": status}}),
    )
    .into()
}

fn invalid_argument(message: &str) -> Refusal {
    error_with(400, "INVALID_ARGUMENT", message)
}

fn failed_precondition(message: &str) -> Refusal {
    error_with(400, "FAILED_PRECONDITION", message)
}

fn not_found() -> Refusal {
    error_with(404, "NOT_FOUND", "Requested entity was not found.")
}

fn already_exists() -> Refusal {
    error_with(409, "ALREADY_EXISTS", "Requested entity already exists")
}

fn not_modifiable() -> Refusal {
    failed_precondition("@CourseNotModifiable The course is not modifiable.")
}

/// 403 unless the token carries one of `scopes`.
fn require_scope(auth: &Auth, scopes: &[&str]) -> Result<(), Refusal> {
    if auth.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
        Ok(())
    } else {
        Err(error_with(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
        ))
    }
}

/// The request's JSON object body; unknown fields (not in `allowed`) are refused as Google's
/// JSON parser does.
fn json_body(
    req: &Incoming,
    allowed: &[&str],
    message: &str,
) -> Result<Map<String, Value>, Refusal> {
    if !wire::is_json(&req.headers) && !req.body.is_empty() {
        return Err(invalid_argument(
            "Invalid JSON payload received. Content-Type must be application/json.",
        ));
    }
    let body = if req.body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice::<Value>(&req.body)
            .map_err(|e| invalid_argument(&format!("Invalid JSON payload received. {e}")))?
    };
    let Value::Object(map) = body else {
        return Err(invalid_argument(&format!(
            "Invalid JSON payload received. Expected an object for '{message}'."
        )));
    };
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid_argument(&format!(
            "Invalid JSON payload received. Unknown name \"{key}\" at '{message}': Cannot find field."
        )));
    }
    Ok(map)
}

/// A string field; null and absent are None, other types are an error.
fn opt_string(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid_argument(&format!(
            "Invalid value at 'course.{name}' (TYPE_STRING), {other}"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Lookups

/// A course by numeric id or alias (`d:…`, `p:…`).
fn find_course(w: &Data, id: &str) -> Result<usize, Refusal> {
    let found = if id.starts_with("d:") || id.starts_with("p:") {
        w.classroom.by_alias.get(id)
    } else {
        w.classroom.by_id.get(id)
    };
    found.copied().ok_or_else(not_found)
}

/// A user by numeric id, email or `"me"` (the impersonated admin).
fn find_user(users: &Users, auth: &Auth, id: &str) -> Option<UserIdx> {
    if id == "me" {
        return auth.user.as_deref().and_then(|me| users.by_email(me));
    }
    users.by_google_id(id)
}

// ---------------------------------------------------------------------------------------------
// Courses

fn course_json(c: &Course, users: &Users) -> Value {
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
fn check_lengths(body: &Map<String, Value>, only: Option<&[String]>) -> Result<(), Refusal> {
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

fn create_course(w: &mut Data, req: &Incoming, auth: &Auth) -> Answer {
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

/// `d:` (domain) or `p:` (project) followed by a name, at most 256 characters in all.
fn valid_alias(alias: &str) -> bool {
    (alias.starts_with("d:") || alias.starts_with("p:"))
        && alias.len() > 2
        && wire::char_len(alias) <= 256
}

fn get_course(w: &Data, auth: &Auth, id: &str) -> Answer {
    require_scope(auth, &[COURSES, COURSES_RO])?;
    let idx = find_course(w, id)?;
    Ok(wire::json(
        200,
        &course_json(&w.classroom.courses[idx], w.users),
    ))
}

/// `courses.list`, newest first, with `courseStates`, `teacherId`/`studentId` filters.
fn list_courses(shared: &Shared, w: &Data, req: &Incoming, auth: &Auth) -> Answer {
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

fn list_aliases(shared: &Shared, w: &Data, req: &Incoming, auth: &Auth, id: &str) -> Answer {
    require_scope(auth, &[COURSES, COURSES_RO])?;
    let idx = find_course(w, id)?;
    let items = w.classroom.courses[idx]
        .aliases
        .iter()
        .map(|a| json!({"alias": a}))
        .collect();
    paged(shared, req, "aliases", items, shared.opts.page_size)
}

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
fn patch_course(w: &mut Data, req: &Incoming, auth: &Auth, id: &str) -> Answer {
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

// ---------------------------------------------------------------------------------------------
// Rosters

fn roster_json(course: &Course, users: &Users, user: UserIdx, auth: &Auth) -> Value {
    let u = users.get(user);
    let mut name = json!({"givenName": u.given_name, "fullName": u.display_name});
    if !u.family_name.is_empty() {
        name["familyName"] = json!(u.family_name);
    }
    let mut profile = json!({"id": u.google_id, "name": name});
    // Without this scope Google leaves emailAddress out (classroom-api.md §1).
    if auth.scopes.iter().any(|s| s == PROFILE_EMAILS) {
        profile["emailAddress"] = json!(u.email);
    }
    json!({"courseId": course.id, "userId": u.google_id, "profile": profile})
}

fn roster(course: &mut Course, role: Role) -> &mut Vec<UserIdx> {
    match role {
        Role::Teacher => &mut course.teachers,
        Role::Student => &mut course.students,
    }
}

fn add_to_roster(w: &mut Data, req: &Incoming, auth: &Auth, id: &str, role: Role) -> Answer {
    require_scope(auth, &[ROSTERS])?;
    let allowed: &[&str] = match role {
        Role::Teacher => &["userId", "courseId", "profile"],
        Role::Student => &["userId", "courseId", "profile", "studentWorkFolder"],
    };
    let body = json_body(req, allowed, role.list_key().trim_end_matches('s'))?;
    let Some(user_id) = body
        .get("userId")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    else {
        return Err(invalid_argument(
            "Request contains an invalid argument. (userId is required)",
        ));
    };
    let idx = find_course(w, id)?;
    let user = find_user(w.users, auth, user_id).ok_or_else(not_found)?;
    let course = &mut w.classroom.courses[idx];
    if !course.state.modifiable() {
        return Err(not_modifiable());
    }
    if course.teachers.contains(&user) || course.students.contains(&user) {
        return Err(already_exists());
    }
    roster(course, role).push(user);
    Ok(wire::json(200, &roster_json(course, w.users, user, auth)))
}

fn list_roster(
    shared: &Shared,
    w: &Data,
    req: &Incoming,
    auth: &Auth,
    id: &str,
    role: Role,
) -> Answer {
    require_scope(auth, &[ROSTERS, ROSTERS_RO])?;
    let idx = find_course(w, id)?;
    let course = &w.classroom.courses[idx];
    let list = match role {
        Role::Teacher => &course.teachers,
        Role::Student => &course.students,
    };
    let items = list
        .iter()
        .map(|&u| roster_json(course, w.users, u, auth))
        .collect();
    paged(shared, req, role.list_key(), items, DEFAULT_ROSTER_PAGE)
}

fn get_from_roster(w: &Data, auth: &Auth, id: &str, user_id: &str, role: Role) -> Answer {
    require_scope(auth, &[ROSTERS, ROSTERS_RO])?;
    let idx = find_course(w, id)?;
    let course = &w.classroom.courses[idx];
    let list = match role {
        Role::Teacher => &course.teachers,
        Role::Student => &course.students,
    };
    let user = find_user(w.users, auth, user_id)
        .filter(|u| list.contains(u))
        .ok_or_else(not_found)?;
    Ok(wire::json(200, &roster_json(course, w.users, user, auth)))
}

fn remove_from_roster(w: &mut Data, auth: &Auth, id: &str, user_id: &str, role: Role) -> Answer {
    require_scope(auth, &[ROSTERS])?;
    let idx = find_course(w, id)?;
    let user = find_user(w.users, auth, user_id);
    let course = &mut w.classroom.courses[idx];
    if !course.state.modifiable() {
        return Err(not_modifiable());
    }
    let Some(user) = user.filter(|u| roster(course, role).contains(u)) else {
        return Err(not_found());
    };
    if role == Role::Teacher && user == course.owner {
        return Err(failed_precondition(
            "@CannotRemoveCourseOwner The course owner cannot be removed; transfer ownership first.",
        ));
    }
    roster(course, role).retain(|&u| u != user);
    Ok(wire::json(200, &json!({})))
}

// ---------------------------------------------------------------------------------------------
// Paging

/// One page per `pageSize` (`default` when 0 or absent, capped by the `page_size` option) and
/// `pageToken`; `nextPageToken` only when more remain, and the list key only when non-empty.
fn paged(shared: &Shared, req: &Incoming, key: &str, items: Vec<Value>, default: usize) -> Answer {
    let pairs = req.query_pairs();
    let requested = match wire::first(&pairs, "pageSize") {
        None => 0,
        Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            invalid_argument(&format!(
                "Invalid value at 'page_size' (TYPE_INT32), \"{v}\""
            ))
        })?,
    };
    let requested = if requested == 0 {
        default
    } else {
        usize::try_from(requested).unwrap_or(usize::MAX)
    };
    let size = requested.min(shared.opts.page_size).max(1);
    let start = match wire::first(&pairs, "pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => wire::b64url_decode(token)
            .and_then(|t| {
                t.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(|| {
                invalid_argument("Request contains an invalid argument. (bad pageToken)")
            })?,
    };
    let start = start.min(items.len());
    let end = (start + size).min(items.len());
    let mut body = Map::new();
    if end > start {
        body.insert(key.into(), Value::Array(items[start..end].to_vec()));
    }
    if end < items.len() {
        body.insert(
            "nextPageToken".into(),
            json!(wire::b64url(&format!("offset:{end}"))),
        );
    }
    Ok(wire::json(200, &Value::Object(body)))
}

// ---------------------------------------------------------------------------------------------
// Views for tests

/// A Classroom course as the mock holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseView {
    /// Numeric course id.
    pub id: String,
    pub aliases: Vec<String>,
    pub name: String,
    pub section: Option<String>,
    /// Owner's email.
    pub owner: String,
    /// `ACTIVE`, `ARCHIVED`, `PROVISIONED`, `DECLINED` or `SUSPENDED`.
    pub state: String,
    /// Emails, sorted (the owner included).
    pub teachers: Vec<String>,
    /// Emails, sorted.
    pub students: Vec<String>,
}

/// Every course (or the one with `alias`), in creation order.
pub(crate) fn course_views(shared: &Shared, alias: Option<&str>) -> Vec<CourseView> {
    let mut world = shared.world();
    let w = Data::of(&mut world);
    let emails = |list: &[UserIdx]| {
        let mut out: Vec<String> = list.iter().map(|&u| w.users.email(u)).collect();
        out.sort();
        out
    };
    let view = |c: &Course| CourseView {
        id: c.id.clone(),
        aliases: c.aliases.clone(),
        name: c.name.clone(),
        section: c.section.clone(),
        owner: w.users.email(c.owner),
        state: c.state.name().to_string(),
        teachers: emails(&c.teachers),
        students: emails(&c.students),
    };
    match alias {
        Some(alias) => w
            .classroom
            .by_alias
            .get(alias)
            .map(|&i| view(&w.classroom.courses[i]))
            .into_iter()
            .collect(),
        None => w.classroom.courses.iter().map(view).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_rules_follow_the_course_docs() {
        use CourseState::*;
        assert!(Active.may_become(Archived) && Archived.may_become(Active));
        assert!(
            Provisioned.may_become(Active)
                && Provisioned.may_become(Declined)
                && Declined.may_become(Provisioned)
        );
        assert!(
            !Provisioned.may_become(Archived)
                && !Archived.may_become(Provisioned)
                && !Suspended.may_become(Active)
        );
    }

    #[test]
    fn masks_accept_snake_case() {
        assert_eq!(camel("course_state"), "courseState");
        assert_eq!(camel("ownerId"), "ownerId");
    }

    #[test]
    fn aliases_need_a_scope_prefix() {
        assert!(valid_alias("d:ump-1") && valid_alias("p:x"));
        assert!(!valid_alias("ump-1") && !valid_alias("d:") && !valid_alias("x:y"));
    }
}
