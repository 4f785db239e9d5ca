//! Rosters: a course's teachers and students (`courses.teachers.*`, `courses.students.*`),
//! one implementation for both, told apart by [`Role`].

use serde_json::{Value, json};

use crate::backend::{Auth, Incoming};
use crate::classroom::errors::{
    Answer, already_exists, failed_precondition, invalid_argument, json_body, not_found,
    not_modifiable,
};
use crate::classroom::lookups::{find_course, find_user};
use crate::classroom::model::{Course, Data, Role};
use crate::classroom::paging::paged;
use crate::classroom::scopes::{PROFILE_EMAILS, ROSTERS, ROSTERS_RO, require_scope};
use crate::state::Shared;
use crate::state::users::{UserIdx, Users};
use crate::wire;

/// Roster lists default to 30 (discovery doc).
const DEFAULT_ROSTER_PAGE: usize = 30;

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

pub(super) fn add_to_roster(
    w: &mut Data,
    req: &Incoming,
    auth: &Auth,
    id: &str,
    role: Role,
) -> Answer {
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

pub(super) fn list_roster(
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

pub(super) fn get_from_roster(
    w: &Data,
    auth: &Auth,
    id: &str,
    user_id: &str,
    role: Role,
) -> Answer {
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

pub(super) fn remove_from_roster(
    w: &mut Data,
    auth: &Auth,
    id: &str,
    user_id: &str,
    role: Role,
) -> Answer {
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
