//! Fake Google Classroom v1: courses, aliases, teachers and students (classroom-api.md §2–§5,
//! schemas from the discovery document `classroom.v1.json`).
//!
//! Like the real API it omits empty lists (`{}` rather than `{"teachers": []}`) and unknown
//! JSON fields are refused with INVALID_ARGUMENT.
//!
//! This file is the Classroom [`Backend`]: quota buckets (per client and per impersonated user),
//! the token check, the error shape and the routing table. The handlers live with their
//! resource (`courses`, `course_patch`, `aliases`, `rosters`) over the data in `model`;
//! `errors`, `scopes`, `lookups` and `paging` are what they share, `views` what tests see.

mod aliases;
mod course_patch;
mod courses;
mod errors;
mod lookups;
mod model;
mod paging;
mod rosters;
mod scopes;
mod views;

use std::time::Instant;

use axum::http::Method;
use axum::response::Response;

use crate::backend::{Auth, Backend, Classified, Incoming};
use crate::classroom::aliases::list_aliases;
use crate::classroom::course_patch::patch_course;
use crate::classroom::courses::{create_course, get_course, list_courses};
use crate::classroom::errors::{error, invalid_argument};
use crate::classroom::model::{Data, Role};
use crate::classroom::rosters::{add_to_roster, get_from_roster, list_roster, remove_from_roster};
use crate::state::Shared;
use crate::state::calls::Service;
use crate::wire::{self, Refusal};

pub(crate) use crate::classroom::courses::seed_course;
pub use crate::classroom::views::CourseView;
pub(crate) use crate::classroom::views::course_views;

/// The Classroom fake, as the pipeline and the composition root see it.
pub(crate) struct Classroom;

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

    fn status_error(_: &Shared, _: &Incoming, status: u16) -> Response {
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
