//! Fake Microsoft Graph v1.0: users, education classes and the Teams subset class-sync uses
//! (graph-teams-api.md §2–§7).
//!
//! Model: an education class *is* its Microsoft 365 group (same id). The group has owners (the
//! class's teachers, so `teachers` and `owners` are one list here) and non-owner members. The
//! team exists once a teamify operation has succeeded; team membership is the group's.
//!
//! This file is the Graph [`Backend`]: quota buckets, the bearer-token check, the error shape
//! and the routing table. The handlers live with their resource (`users`, `classes`,
//! `teachers`, `teams`, `operations`, `members`) over the data in `model`; `errors` and `odata`
//! are the wire conventions they share, `views` what tests see.

mod classes;
mod errors;
mod members;
mod model;
mod odata;
mod operations;
mod teachers;
mod teams;
mod users;
mod views;

use std::time::Instant;

use axum::http::Method;
use axum::response::Response;

use crate::backend::{Auth, Backend, Classified, Incoming};
use crate::graph::classes::{create_class, get_class, list_classes};
use crate::graph::errors::{graph_error, too_many_requests, unknown_route};
use crate::graph::members::{add_member, add_members, list_members, remove_member};
use crate::graph::model::{Data, OpKind};
use crate::graph::operations::get_operation;
use crate::graph::teachers::{add_class_teacher, list_class_teachers, remove_class_teacher};
use crate::graph::teams::{archive, create_team, get_team};
use crate::graph::users::get_user;
use crate::state::Shared;
use crate::state::calls::Service;
use crate::wire::{self, Refusal};

pub(crate) use crate::graph::classes::seed_team;
pub use crate::graph::views::TeamView;
pub(crate) use crate::graph::views::team_views;

/// The Graph fake, as the pipeline and the composition root see it.
pub(crate) struct Graph;

/// Path segments after `/v1.0`, OData keys split out, empty segments dropped.
fn route(req: &Incoming) -> Option<Vec<String>> {
    let (first, rest) = req.segments.split_first()?;
    if first != "v1.0" {
        return None;
    }
    let rest: Vec<String> = rest.iter().filter(|s| !s.is_empty()).cloned().collect();
    Some(wire::split_odata_keys(&rest))
}

impl Backend for Graph {
    const SERVICE: Service = Service::Graph;

    fn classify(_: &Shared, req: &Incoming) -> Classified {
        let Some(segs) = route(req) else {
            return Classified::default();
        };
        let first = segs
            .first()
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default();
        let (bucket, team) = match first.as_str() {
            "teams" if segs.len() == 1 && req.method == Method::POST => ("teams_create", None),
            "teams" if req.method == Method::GET => ("teams_read", segs.get(1).cloned()),
            "teams" => ("teams_write", segs.get(1).cloned()),
            "education" | "users" => ("education", None),
            _ => return Classified::default(),
        };
        let mut keys = vec![bucket.to_string()];
        if let Some(team) = &team {
            keys.push(format!("per_team:{team}"));
        }
        Classified {
            bucket: Some(bucket.into()),
            team,
            user: None,
            keys,
        }
    }

    fn authenticate(shared: &Shared, req: &Incoming) -> Result<Auth, Refusal> {
        let Some(token) = wire::bearer(&req.headers) else {
            return Err(
                graph_error(401, "InvalidAuthenticationToken", "Access token is empty.").into(),
            );
        };
        let valid = shared
            .world()
            .ms_tokens
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires);
        if valid {
            Ok(Auth::default())
        } else {
            Err(graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            )
            .into())
        }
    }

    fn status_error(_: &Shared, _: &Incoming, status: u16) -> Response {
        let (code, message) = match status {
            400 => ("BadRequest", "Bad request."),
            401 => (
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            ),
            403 => ("Forbidden", "Forbidden"),
            404 => ("NotFound", "Not found."),
            409 => ("Conflict", "Conflict."),
            413 => ("BadRequest", "Request body too large."),
            429 => return too_many_requests(),
            500 => ("generalException", "An unspecified error has occurred."),
            503 => (
                "serviceNotAvailable",
                "The service is temporarily unavailable. Try the request again after a delay.",
            ),
            504 => ("UnknownError", "Gateway timeout."),
            _ => ("UnknownError", "Unexpected error."),
        };
        graph_error(status, code, message)
    }

    fn handle(shared: &Shared, req: &Incoming, _: &Auth) -> Response {
        let Some(segs) = route(req) else {
            return unknown_route(req);
        };
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let shape: Vec<&str> = lower.iter().map(String::as_str).collect();
        let mut world = shared.world();
        let w = &mut Data::of(&mut world);
        w.graph.settle(Instant::now(), shared.opts.operation_delay);
        let id = |i: usize| segs[i].as_str();
        match (&req.method, shape.as_slice()) {
            (&Method::GET, ["users", _]) => get_user(w, req, id(1)),
            (&Method::GET, ["education", "classes"]) => list_classes(shared, w, req),
            (&Method::POST, ["education", "classes"]) => create_class(shared, w, req),
            (&Method::GET, ["education", "classes", _]) => get_class(w, id(2)),
            (&Method::GET, ["education", "classes", _, "teachers"]) => {
                list_class_teachers(shared, w, req, id(2))
            }
            (&Method::POST, ["education", "classes", _, "teachers", "$ref"]) => {
                add_class_teacher(w, req, id(2))
            }
            (&Method::DELETE, ["education", "classes", _, "teachers", _, "$ref"]) => {
                remove_class_teacher(w, id(2), id(4))
            }
            (&Method::POST, ["teams"]) => create_team(shared, w, req),
            (&Method::GET, ["teams", _]) => get_team(shared, w, id(1)),
            (&Method::GET, ["teams", _, "operations", _]) => get_operation(shared, w, id(1), id(3)),
            (&Method::POST, ["teams", _, "archive"]) => {
                archive(shared, w, req, id(1), OpKind::Archive)
            }
            (&Method::POST, ["teams", _, "unarchive"]) => {
                archive(shared, w, req, id(1), OpKind::Unarchive)
            }
            (&Method::GET, ["teams", _, "members"]) => list_members(shared, w, req, id(1)),
            (&Method::POST, ["teams", _, "members"]) => add_member(shared, w, req, id(1)),
            (&Method::POST, ["teams", _, "members", "add"]) => add_members(w, req, id(1)),
            (&Method::DELETE, ["teams", _, "members", _]) => remove_member(w, id(1), id(3)),
            _ => unknown_route(req),
        }
    }
}
