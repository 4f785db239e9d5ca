//! The one error shape of the API, `{"error": {"code", "message"}}`, and extractors whose
//! rejections (bad JSON, wrong content type, body too big, bad path or query) use it too.
//!
//! Must not: put internals or secrets in a message; an internal error is logged here, once, and
//! answered with a generic message.

use crate::core::snapshot::Problem;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// An error answer: its code (which fixes the status) and the JSON body of CONTRACT §8.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub problems: Vec<ProblemBody>,
}

/// What went wrong, in one word a client can branch on. Each code has one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::Invalid => StatusCode::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// For `invalid`: every problem found, each with its JSON pointer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemBody>,
}

/// One validation problem of a request body.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// RFC 6901 JSON pointer into the body (`/` for the whole body).
    pub pointer: String,
    /// Line of the body where the value starts, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Conflict, message)
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Invalid, message)
    }

    /// A 400 listing every problem of a body, each with its pointer.
    pub fn problems(problems: &[Problem]) -> ApiError {
        let summary: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        ApiError {
            problems: problems
                .iter()
                .map(|p| ProblemBody {
                    pointer: if p.pointer.is_empty() {
                        "/".into()
                    } else {
                        p.pointer.clone()
                    },
                    line: p.line,
                    message: p.message.clone(),
                })
                .collect(),
            ..ApiError::invalid(format!(
                "{}; nothing was stored: {}",
                crate::core::snapshot::problem_count(problems.len()),
                summary.join("; ")
            ))
        }
    }

    /// A failure of ours: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "request failed");
        ApiError::new(
            ErrorCode::Internal,
            "internal error; the server log has the cause",
        )
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                problems: self.problems,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if self.code == ErrorCode::Unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The error for a body axum could not read: too big (413) or broken off.
fn body_error(e: &BytesRejection, limit_hint: &str) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit_hint}"),
        )
    } else {
        ApiError::invalid(format!(
            "the request body could not be read: {}",
            e.body_text()
        ))
    }
}

/// The body size limit, put in each request's extensions so rejections can name it.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

fn limit_of(req: &Request) -> String {
    req.extensions()
        .get::<BodyLimit>()
        .map(|l| format!("{} bytes", l.0))
        .unwrap_or_else(|| "the configured limit".into())
}

fn json_error(e: JsonRejection, limit: &str) -> ApiError {
    match e {
        JsonRejection::JsonDataError(e) => ApiError::invalid(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::invalid(format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::BytesRejection(e) => body_error(&e, limit),
        other => ApiError::invalid(other.body_text()),
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        "the body must be JSON, sent with `Content-Type: application/json`",
    )
}

/// A JSON body whose rejections come out in the API's error shape.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit = limit_of(&req);
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| JsonBody(v))
            .map_err(|e| json_error(e, &limit))
    }
}

/// A JSON body as text, for validators that report lines (`PUT /v1/groups/{id}`).
pub struct JsonText(pub String);

impl<S: Send + Sync> FromRequest<S> for JsonText {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(unsupported_media_type());
        }
        let limit = limit_of(&req);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| body_error(&e, &limit))?;
        String::from_utf8(bytes.to_vec())
            .map(JsonText)
            .map_err(|_| ApiError::invalid("the body is not UTF-8 text"))
    }
}

/// A path parameter whose rejection is a 400 in the API's shape.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| ApiError::invalid(e.body_text()))
    }
}

/// Query parameters whose rejection is a 400 in the API's shape.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::invalid(e.body_text()))
    }
}
