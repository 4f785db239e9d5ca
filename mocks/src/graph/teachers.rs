//! A class's `teachers` collection: list, add (`$ref`) and remove. Teachers are the group's
//! owners, so these change the same list as the team's owner memberships.

use axum::response::Response;
use serde_json::Value;

use crate::backend::Incoming;
use crate::graph::errors::{bad_request, graph_error, json_object, resource_not_found};
use crate::graph::model::Data;
use crate::graph::odata::{education_user_ref, paged};
use crate::graph::users::user_json;
use crate::state::Shared;
use crate::wire;

pub(super) fn list_class_teachers(shared: &Shared, w: &Data, req: &Incoming, id: &str) -> Response {
    let Some(&idx) = w.graph.by_id.get(id) else {
        return resource_not_found(id);
    };
    let items = w.graph.classes[idx]
        .owners
        .iter()
        .map(|&u| user_json(w.users, u))
        .collect();
    paged(
        shared,
        req,
        &format!("education/classes('{id}')/teachers"),
        items,
    )
}

pub(super) fn add_class_teacher(w: &mut Data, req: &Incoming, id: &str) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(resp) => return resp.into(),
    };
    if body.len() != 1 {
        return bad_request(
            "The body of a $ref request must be exactly {\"@odata.id\": \"…/education/users/{id}\"}.",
        );
    }
    let Some(user_ref) = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .and_then(education_user_ref)
    else {
        return bad_request(
            "Invalid @odata.id: expected https://graph.microsoft.com/v1.0/education/users/{id}.",
        );
    };
    let Some(&idx) = w.graph.by_id.get(id) else {
        return resource_not_found(id);
    };
    let Some(user) = w.users.by_entra_id(&user_ref) else {
        return resource_not_found(&user_ref);
    };
    let class = &mut w.graph.classes[idx];
    if class.owners.contains(&user) {
        return graph_error(
            400,
            "Request_BadRequest",
            "One or more added object references already exist for the following modified properties: 'teachers'.",
        );
    }
    class.members.retain(|&m| m != user);
    class.owners.push(user);
    wire::empty(204)
}

/// Removes the teacher (group owner). Teachers are also in the class's members collection
/// (educationClass docs), so the user stays a plain member.
pub(super) fn remove_class_teacher(w: &mut Data, id: &str, user_id: &str) -> Response {
    let Some(&idx) = w.graph.by_id.get(id) else {
        return resource_not_found(id);
    };
    let Some(user) = w.users.by_entra_id(user_id) else {
        return resource_not_found(user_id);
    };
    let class = &mut w.graph.classes[idx];
    if !class.owners.contains(&user) {
        return resource_not_found(user_id);
    }
    class.owners.retain(|&o| o != user);
    class.members.push(user);
    wire::empty(204)
}
