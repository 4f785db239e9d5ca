//! Fake Microsoft identity platform token endpoint: the OAuth 2 client-credentials grant of
//! graph-teams-api.md §1, with Entra's error bodies.

use std::time::Instant;

use axum::http::Method;
use axum::response::Response;
use serde_json::{Value, json};

use crate::backend::{Auth, Backend, Classified, Incoming};
use crate::state::Shared;
use crate::state::calls::Service;
use crate::wire::{self, Refusal};

/// The only scope an app-only Graph token may ask for.
const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

pub(crate) struct MicrosoftLogin;

impl Backend for MicrosoftLogin {
    const SERVICE: Service = Service::MicrosoftLogin;

    fn classify(_: &Shared, _: &Incoming) -> Classified {
        Classified {
            keys: vec!["microsoft_login".into()],
            ..Classified::default()
        }
    }

    fn authenticate(_: &Shared, _: &Incoming) -> Result<Auth, Refusal> {
        Ok(Auth::default())
    }

    fn status_error(_: &Shared, status: u16) -> Response {
        let (error, text) = match status {
            400 => ("invalid_request", "AADSTS900144: The request is not valid."),
            401 => (
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            ),
            413 => (
                "invalid_request",
                "AADSTS90015: Requested query string is too long.",
            ),
            429 => (
                "temporarily_unavailable",
                "AADSTS50196: The server terminated an operation because it encountered a client request loop.",
            ),
            500..=599 => (
                "temporarily_unavailable",
                "AADSTS90033: A transient error has occurred. Please try again.",
            ),
            _ => (
                "invalid_request",
                "AADSTS90000: The request could not be processed.",
            ),
        };
        entra_error(status, error, text, &[])
    }

    fn handle(shared: &Shared, req: &Incoming, _: &Auth) -> Response {
        let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
        let tenant = match (&req.method, segs.as_slice()) {
            (&Method::POST, [tenant, "oauth2", "v2.0", "token"]) => *tenant,
            _ => {
                return entra_error(
                    404,
                    "invalid_request",
                    &format!(
                        "AADSTS90002: mock login has no endpoint for {} {}",
                        req.method, req.path
                    ),
                    &[90002],
                );
            }
        };
        if tenant != shared.opts.tenant_id {
            return entra_error(
                400,
                "invalid_request",
                &format!(
                    "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
                &[90002],
            );
        }
        issue_token(shared, req)
    }
}

fn issue_token(shared: &Shared, req: &Incoming) -> Response {
    let form = wire::form_pairs(&req.body);
    let param = |name: &str| wire::first(&form, name).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        entra_error(
            400,
            "invalid_request",
            &format!(
                "AADSTS900144: The request body must contain the following parameter: '{name}'."
            ),
            &[900144],
        )
    };

    let Some(grant_type) = param("grant_type") else {
        return missing("grant_type");
    };
    if grant_type != "client_credentials" {
        return entra_error(
            400,
            "unsupported_grant_type",
            &format!("AADSTS70003: The app requested an unsupported grant type '{grant_type}'."),
            &[70003],
        );
    }
    // Credentials may come in the body or as HTTP Basic (graph-teams-api.md §1).
    let basic = wire::basic_auth(&req.headers);
    let client_id = param("client_id")
        .map(str::to_string)
        .or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let Some(client_id) = client_id else {
        return missing("client_id");
    };
    if client_id != shared.opts.client_id {
        return entra_error(
            400,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{}'.",
                shared.opts.tenant_id
            ),
            &[700016],
        );
    }
    let secret = param("client_secret")
        .map(str::to_string)
        .or_else(|| basic.map(|b| b.1));
    let Some(secret) = secret else {
        return entra_error(
            401,
            "invalid_client",
            "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            &[7000216],
        );
    };
    if secret != shared.opts.client_secret {
        return entra_error(
            401,
            "invalid_client",
            &format!(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
            &[7000215],
        );
    }
    let Some(scope) = param("scope") else {
        return missing("scope");
    };
    if scope != GRAPH_DEFAULT_SCOPE {
        return entra_error(
            400,
            "invalid_scope",
            &format!(
                "AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. For the client credentials flow the only valid scope is {GRAPH_DEFAULT_SCOPE}."
            ),
            &[70011],
        );
    }

    let token = wire::opaque_token("mock-graph-");
    let lifetime = shared.opts.token_lifetime;
    shared
        .world()
        .ms_tokens
        .insert(token.clone(), Instant::now() + lifetime);
    wire::json(
        200,
        &json!({
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "ext_expires_in": lifetime.as_secs(),
            "access_token": token,
        }),
    )
}

/// Entra's error body (graph-teams-api.md §1).
fn entra_error(status: u16, error: &str, description: &str, codes: &[u32]) -> Response {
    let trace = wire::guid();
    let body: Value = json!({
        "error": error,
        "error_description": format!("{description}\r\nTrace ID: {trace}\r\nTimestamp: {}", wire::timestamp(false)),
        "error_codes": codes,
        "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": trace,
        "correlation_id": wire::guid(),
        "error_uri": "https://login.microsoftonline.com/error",
    });
    wire::json(status, &body)
}
