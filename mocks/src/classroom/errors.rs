//! Google's error answers with their canonical statuses (classroom-api.md §5), and reading a
//! JSON request body the way Google's parser does, which fails with one of them.

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::backend::Incoming;
use crate::wire::{self, Refusal};

pub(super) type Answer = Result<Response, Refusal>;

/// Google's error body with the canonical status for `code` (classroom-api.md §5).
pub(super) fn error(code: u16, message: &str) -> Refusal {
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

pub(super) fn error_with(code: u16, status: &str, message: &str) -> Refusal {
    wire::json(
        code,
        &json!({"error": {"code": code, "message": message, "status": status}}),
    )
    .into()
}

pub(super) fn invalid_argument(message: &str) -> Refusal {
    error_with(400, "INVALID_ARGUMENT", message)
}

pub(super) fn failed_precondition(message: &str) -> Refusal {
    error_with(400, "FAILED_PRECONDITION", message)
}

pub(super) fn not_found() -> Refusal {
    error_with(404, "NOT_FOUND", "Requested entity was not found.")
}

pub(super) fn already_exists() -> Refusal {
    error_with(409, "ALREADY_EXISTS", "Requested entity already exists")
}

pub(super) fn not_modifiable() -> Refusal {
    failed_precondition("@CourseNotModifiable The course is not modifiable.")
}

/// The request's JSON object body; unknown fields (not in `allowed`) are refused as Google's
/// JSON parser does.
pub(super) fn json_body(
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
pub(super) fn opt_string(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid_argument(&format!(
            "Invalid value at 'course.{name}' (TYPE_STRING), {other}"
        ))),
    }
}
