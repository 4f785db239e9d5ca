//! The HTTP API of `serve` (CONTRACT §8): the router, its state, bearer-token auth and the OpenAPI
//! document.
//!
//! Owns: turning requests into calls of `planner` and `status`, and their answers into JSON.
//! Must not: decide anything `planner` decides (permissions, calendar), call a provider, or wait
//! for a job: handlers enqueue and return, the worker does the work. Must not log a token.

mod error;
mod groups;
pub mod lanes;
pub mod listen;
mod operator;
mod schools;

pub use error::{ApiError, BodyLimit, ErrorBody, ErrorCode};
pub use lanes::PageReads;

use crate::app::App;
use crate::config::ApiTokens;
use crate::observability::Metrics;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Router};
use secrecy::ExposeSecret;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use utoipa::OpenApi;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub app: Arc<App>,
    pub tokens: Arc<ApiTokens>,
    pub metrics: Arc<Metrics>,
    /// The status counts, shared by every request for a second or two.
    pub counts: crate::status::CountsCache,
    /// The permits page reads take (`lanes`), shared with the console's pages.
    pub page_reads: PageReads,
}

/// Whose token came with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The UMP: may restore, push groups and read.
    Portal,
    /// Operators: may do everything.
    Operator,
}

/// The authenticated caller of a request (any valid token).
pub struct Caller {
    pub role: Role,
}

impl Caller {
    /// The actor recorded in the audit log for work this caller asked for.
    pub fn actor(&self, name: Option<&str>) -> String {
        let base = match self.role {
            Role::Portal => "ump",
            Role::Operator => "operator",
        };
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => format!("{base}:{n}"),
            None => base.to_string(),
        }
    }
}

/// The token of an `Authorization: Bearer TOKEN` value; "" when it is not a bearer credential.
/// The scheme is case-insensitive (RFC 9110 §11.1). Public (hidden from the docs) for the fuzz
/// targets.
#[doc(hidden)]
pub fn bearer_token(value: &header::HeaderValue) -> &str {
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or("")
}

/// Equal in constant time: how long the comparison takes says nothing about the token.
fn same_token(presented: &str, expected: &secrecy::SecretString) -> bool {
    presented
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into()
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "send `Authorization: Bearer TOKEN` with the portal's or the operator's token",
            ));
        };
        let presented = bearer_token(value);
        // Both comparisons always run, so timing does not say which token came close.
        let operator = same_token(presented, &state.tokens.operator);
        let portal = same_token(presented, &state.tokens.ump);
        match (operator, portal) {
            (true, _) => Ok(Caller {
                role: Role::Operator,
            }),
            (false, true) => Ok(Caller { role: Role::Portal }),
            _ => Err(ApiError::unauthorized("the bearer token is not valid")),
        }
    }
}

/// A caller with the operator's token (forced resync, year archive).
pub struct Operator(pub Caller);

impl FromRequestParts<ApiState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.role != Role::Operator {
            return Err(ApiError::forbidden(
                "this route needs the operator's token; the portal's token may restore, push groups and read",
            ));
        }
        Ok(Operator(caller))
    }
}

/// Every route of CONTRACT §8, each path with its handlers. The router serves these and nothing
/// else, and each handler is one of [`ApiDoc`]'s paths. Page reads take a permit of `pages` first
/// (`lanes`).
fn routes(pages: &PageReads) -> Vec<(&'static str, MethodRouter<ApiState>)> {
    let page = |route: MethodRouter<ApiState>| {
        route.layer(axum::middleware::from_fn_with_state(
            pages.clone(),
            lanes::page_read,
        ))
    };
    vec![
        ("/v1/groups", page(get(groups::list))),
        ("/v1/groups/{id}", get(groups::get_one).put(groups::put)),
        ("/v1/groups/{id}/restore", post(groups::restore)),
        ("/v1/sync", post(operator::sync)),
        ("/v1/archive", post(operator::archive)),
        ("/v1/jobs/{id}", get(operator::job)),
        ("/v1/status", page(get(operator::status))),
        ("/v1/audit", page(get(operator::audit))),
        ("/v1/schools", page(get(schools::list))),
        ("/v1/schools/{id}", get(schools::get_one)),
        ("/healthz", get(operator::healthz)),
        ("/metrics", get(operator::metrics)),
        ("/openapi.json", get(openapi_json)),
    ]
}

/// The paths the router serves, with `{id}` parameters as OpenAPI writes them: what a test probes
/// to find every method the router answers, so none goes undocumented.
pub fn served_paths() -> Vec<&'static str> {
    routes(&PageReads::new(1))
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

/// Every route of CONTRACT §8.
pub fn router(state: ApiState) -> Router {
    let limit = state.app.config.api.max_body_bytes;
    routes(&state.page_reads)
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
        .fallback(|req: Request| async move {
            ApiError::not_found(format!("no route {} {}", req.method(), req.uri().path()))
        })
        .method_not_allowed_fallback(|req: Request| async move {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed on {}", req.method(), req.uri().path()),
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(Extension(BodyLimit(limit)))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// One log line per request: method, path (no query: it names people), status, duration. Never
/// headers, which carry the bearer token.
pub(crate) async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// The OpenAPI document itself (no token needed).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object))
)]
async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// The OpenAPI 3.1 description of every route and body.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "class-sync",
        description = "Syncs UMP class groups into Microsoft Teams and Google Classroom: the portal's and operators' API (CONTRACT §8)."
    ),
    paths(
        groups::restore,
        groups::list,
        groups::get_one,
        groups::put,
        operator::sync,
        operator::archive,
        operator::job,
        operator::status,
        operator::audit,
        schools::list,
        schools::get_one,
        operator::healthz,
        operator::metrics,
        openapi_json,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "groups", description = "The portal's View Groups, Restore and group pushes"),
        (name = "operators", description = "Forced resync, year archive, jobs and status"),
        (name = "schools", description = "Provisioning status: each school's last import"),
        (name = "service", description = "Liveness, metrics and this document")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The portal's token (restore, push groups, read) or the operator's token (everything)",
                    ))
                    .build(),
            ),
        );
    }
}
