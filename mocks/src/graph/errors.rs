//! Graph's error answers (graph-teams-api.md §6–§7), and reading a JSON request body, which
//! fails with one of them.

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::backend::Incoming;
use crate::wire::{self, Refusal};

/// Graph's error body (graph-teams-api.md §7).
pub(super) fn graph_error(status: u16, code: &str, message: &str) -> Response {
    wire::json(
        status,
        &json!({"error": {"code": code, "message": message, "innerError": inner_error()}}),
    )
}

fn inner_error() -> Value {
    json!({
        "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        "request-id": wire::guid(),
        "client-request-id": wire::guid(),
    })
}

/// The documented 429 body (graph-teams-api.md §6); `Retry-After` is added by the pipeline.
pub(super) fn too_many_requests() -> Response {
    let mut inner = inner_error();
    inner["code"] = json!("429");
    inner["message"] = json!("Please retry after");
    inner["status"] = json!("429");
    wire::json(
        429,
        &json!({"error": {"code": "TooManyRequests", "innerError": inner, "message": "Please retry again later."}}),
    )
}

pub(super) fn bad_request(message: &str) -> Response {
    graph_error(400, "BadRequest", message)
}

pub(super) fn unknown_route(req: &Incoming) -> Response {
    bad_request(&format!(
        "Mock Graph does not support {} {} (query: {:?}).",
        req.method, req.path, req.query
    ))
}

pub(super) fn resource_not_found(id: &str) -> Response {
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

pub(super) fn team_not_found(id: &str) -> Response {
    graph_error(
        404,
        "NotFound",
        &format!("No team found with Group Id {id}"),
    )
}

/// The request's JSON object body, or Graph's 400 for a missing content type or bad JSON.
pub(super) fn json_object(req: &Incoming) -> Result<Map<String, Value>, Refusal> {
    let unreadable = || {
        bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    };
    if !wire::is_json(&req.headers) {
        return Err(unreadable().into());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(unreadable().into()),
    }
}
