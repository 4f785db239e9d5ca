//! Entra's errors: an [`Aadsts`] (the OAuth `error`, the AADSTS number and its sentence) and the
//! JSON body the token and metadata endpoints answer with (graph-teams-api.md §1). The
//! authorize endpoint shows the same errors as a page (`pages`) or sends them back to the app
//! in its redirect (`authorize`).

use axum::response::Response;
use serde_json::json;

use crate::wire;

/// One Entra error: the OAuth `error` code, the AADSTS number and its sentence.
pub(super) struct Aadsts {
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl Aadsts {
    pub fn new(error: &'static str, code: u32, message: impl Into<String>) -> Aadsts {
        Aadsts {
            error,
            code,
            message: message.into(),
        }
    }

    /// `AADSTS{code}: {message}`.
    pub fn text(&self) -> String {
        format!("AADSTS{}: {}", self.code, self.message)
    }

    /// The `error_description` Entra sends: the text, a trace id and a timestamp.
    pub fn description(&self) -> String {
        described(&self.text(), &wire::guid())
    }

    /// The JSON error body with this status.
    pub fn json(&self, status: u16) -> Response {
        entra_error(status, self.error, &self.text(), &[self.code])
    }
}

/// `invalid_request` AADSTS900144: a required parameter is missing (or empty).
pub(super) fn missing(name: &str) -> Aadsts {
    Aadsts::new(
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// `unauthorized_client` AADSTS700016: no app with this id in the tenant.
pub(super) fn unknown_client(client_id: &str, tenant: &str) -> Aadsts {
    Aadsts::new(
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
        ),
    )
}

/// The AADSTS error for a bare status (faults and quotas), as the services send it.
pub(super) fn for_status(status: u16) -> Aadsts {
    let (error, code, message) = match status {
        400 => ("invalid_request", 900144, "The request is not valid."),
        401 => ("invalid_client", 7000215, "Invalid client secret provided."),
        413 => (
            "invalid_request",
            90015,
            "Requested query string is too long.",
        ),
        429 => (
            "temporarily_unavailable",
            50196,
            "The server terminated an operation because it encountered a client request loop.",
        ),
        500..=599 => (
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        ),
        _ => (
            "invalid_request",
            90000,
            "The request could not be processed.",
        ),
    };
    Aadsts::new(error, code, message)
}

/// Entra's error body (graph-teams-api.md §1).
pub(super) fn entra_error(status: u16, error: &str, description: &str, codes: &[u32]) -> Response {
    let trace = wire::guid();
    let body = json!({
        "error": error,
        "error_description": described(description, &trace),
        "error_codes": codes,
        "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": trace,
        "correlation_id": wire::guid(),
        "error_uri": "https://login.microsoftonline.com/error",
    });
    wire::json(status, &body)
}

fn described(text: &str, trace: &str) -> String {
    format!(
        "{text}\r\nTrace ID: {trace}\r\nTimestamp: {}",
        wire::timestamp(false)
    )
}
