//! The one path every call to Microsoft and Google takes: throttle, token, send, classify, retry.
//!
//! Architecture Invariant: nothing else in class-sync sends a request to Graph or Classroom.
//! A request that is not safe to repeat (`retry_safe: false`, e.g. creating an education class) is
//! never re-sent after an answer that might hide a success (5xx, reset, timeout); its caller looks
//! the thing up again instead. A 429 is always safe to repeat: the service did nothing.

use crate::remote::auth::TokenCache;
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::retry::RetryPolicy;
use crate::remote::throttle::{BucketKey, Throttle, parse_retry_after};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Which service's error shape to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Graph,
    Classroom,
}

/// One request, with the buckets it spends.
pub struct Call {
    pub api: Api,
    pub method: reqwest::Method,
    pub url: String,
    pub body: Option<Value>,
    pub buckets: Vec<BucketKey>,
    pub retry_safe: bool,
}

impl Call {
    pub fn new(
        api: Api,
        method: reqwest::Method,
        url: impl Into<String>,
        buckets: Vec<BucketKey>,
    ) -> Self {
        Call {
            api,
            method,
            url: url.into(),
            body: None,
            buckets,
            retry_safe: true,
        }
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Marks a request whose repetition could create a second thing.
    pub fn not_retry_safe(mut self) -> Self {
        self.retry_safe = false;
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// `Location` header (Graph async operations).
    pub location: Option<String>,
    pub body: Value,
}

/// Shared by all provider code of one process.
pub struct Remote {
    http: reqwest::Client,
    throttle: Arc<Throttle>,
    retry: RetryPolicy,
    attempts: u32,
    timeout: Duration,
}

impl Remote {
    pub fn new(
        http: reqwest::Client,
        throttle: Arc<Throttle>,
        retry: RetryPolicy,
        attempts: u32,
        timeout: Duration,
    ) -> Self {
        Remote {
            http,
            throttle,
            retry,
            attempts: attempts.max(1),
            timeout,
        }
    }

    pub fn throttle(&self) -> &Arc<Throttle> {
        &self.throttle
    }

    /// Sends `call`, retrying throttling and (when safe) transient faults, and refreshing the token once on a 401.
    pub async fn send(&self, call: &Call, tokens: &TokenCache) -> Result<Reply, ProviderError> {
        let mut schedule = self.retry.schedule();
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.attempts;
            // The token first: a slow token fetch must not sit between the throttle's gate check and the send.
            let bearer = tokens.bearer().await?;
            self.throttle.acquire(&call.buckets).await;
            let mut req = self
                .http
                .request(call.method.clone(), &call.url)
                .timeout(self.timeout)
                .bearer_auth(bearer.token.expose_secret());
            if let Some(b) = &call.body {
                req = req.json(b);
            } else if call.method == reqwest::Method::POST {
                req = req.header(reqwest::header::CONTENT_LENGTH, "0");
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let location = resp
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    match resp.bytes().await {
                        Ok(bytes) => Ok((status, retry_after, location, bytes)),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let (status, retry_after, location, bytes) = match outcome {
                Ok(parts) => parts,
                Err(e) => {
                    let err = ProviderError::transient(format!(
                        "{} {}: {}",
                        call.method,
                        path_of(&call.url),
                        e.without_url()
                    ));
                    tracing::debug!(method = %call.method, path = %path_of(&call.url), error = %err, "request failed");
                    if !call.retry_safe || last {
                        return Err(err);
                    }
                    crate::remote::job_context::without_slot(tokio::time::sleep(
                        schedule.next_delay(),
                    ))
                    .await;
                    continue;
                }
            };
            tracing::debug!(method = %call.method, path = %path_of(&call.url), status, "remote call");
            if (200..300).contains(&status) {
                let body = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
                };
                return Ok(Reply {
                    status,
                    location,
                    body,
                });
            }
            let mut err = service_error(call.api, status, &bytes);
            err.retry_after = retry_after;
            match err.kind {
                ErrorKind::Forbidden if status == 401 && !refreshed => {
                    // The token expired or was revoked early: fetch a new one, once.
                    refreshed = true;
                    tokens.invalidate(bearer.generation).await;
                    attempt -= 1;
                    continue;
                }
                ErrorKind::Throttled => {
                    // Close the buckets for everyone: no request of theirs goes out inside the window.
                    let wait = retry_after.unwrap_or_else(|| schedule.next_delay());
                    tracing::info!(method = %call.method, path = %path_of(&call.url), wait_ms = wait.as_millis() as u64, "throttled");
                    self.throttle.close(&call.buckets, wait);
                    if last {
                        return Err(err);
                    }
                }
                ErrorKind::Transient => {
                    if !call.retry_safe || last {
                        return Err(err);
                    }
                    // A fault, not throttling: this request waits (its `Retry-After`, if the
                    // service sent one, e.g. Graph's 503), the bucket stays open for everyone else.
                    let wait = retry_after.unwrap_or_else(|| schedule.next_delay());
                    crate::remote::job_context::without_slot(tokio::time::sleep(wait)).await;
                }
                _ => return Err(err),
            }
        }
    }
}

/// The path of a URL, for logs: never the query (it may hold ids) nor credentials.
fn path_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Reads the service's error body: Graph `{"error":{"code","message"}}`, Classroom `{"error":{"code","message","status"}}`.
pub fn service_error(api: Api, status: u16, body: &[u8]) -> ProviderError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = &v["error"];
    let message = e["message"].as_str().unwrap_or("").to_string();
    let (code, kind) = match api {
        Api::Graph => {
            let code = e["code"].as_str().unwrap_or("").to_string();
            (code, ErrorKind::from_status(status))
        }
        Api::Classroom => {
            let code = e["status"].as_str().unwrap_or("").to_string();
            let kind = match code.as_str() {
                "FAILED_PRECONDITION" | "ALREADY_EXISTS" | "ABORTED" => ErrorKind::Conflict,
                "RESOURCE_EXHAUSTED" => ErrorKind::Throttled,
                "UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED" => ErrorKind::Transient,
                _ => ErrorKind::from_status(status),
            };
            (code, kind)
        }
    };
    let code = if code.is_empty() {
        format!("http_{status}")
    } else {
        code
    };
    ProviderError {
        kind,
        status: Some(status),
        code,
        message,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classroom_errors_classify_by_status_word() {
        let b = br#"{"error":{"code":400,"message":"@CourseNotModifiable The course is not modifiable.","status":"FAILED_PRECONDITION"}}"#;
        let e = service_error(Api::Classroom, 400, b);
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert_eq!(e.code, "FAILED_PRECONDITION");
        assert!(e.message.starts_with("@CourseNotModifiable "));
        let e = service_error(
            Api::Classroom,
            429,
            br#"{"error":{"code":429,"message":"x","status":"RESOURCE_EXHAUSTED"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Throttled);
    }

    #[test]
    fn graph_errors_keep_the_service_code() {
        let b = br#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist"}}"#;
        let e = service_error(Api::Graph, 404, b);
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::NotFound, "Request_ResourceNotFound")
        );
        let e = service_error(Api::Graph, 503, b"<html>");
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::Transient, "http_503")
        );
    }
}
