//! The pipeline every request of every fake passes through, in this order: violation check,
//! fault injection, authentication, quota, handler, call log. It is generic over
//! [`Backend`] and knows no concrete service; the handlers never see faults or quotas.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;

use crate::backend::{Backend, Incoming};
use crate::conn::ConnHandle;
use crate::state::Shared;
use crate::state::calls::CallRecord;
use crate::state::faults::{FaultKind, random_fault};
use crate::state::throttle::parse_retry_after;
use crate::wire;

/// Largest request body the fakes read; the real services' limits are of this order.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The pipeline every request of every fake goes through: violation check, fault, auth, quota,
/// handler, call log.
pub(crate) async fn serve<B: Backend>(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    request: Request,
) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let raw_path = parts.uri.path().to_string();
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let req = Incoming {
        method: parts.method,
        path: wire::percent_decode(&raw_path),
        segments: raw_path
            .split('/')
            .skip(1)
            .map(wire::percent_decode)
            .collect(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body: body.as_ref().cloned().unwrap_or_default(),
    };
    let class = B::classify(&shared, &req);
    let log = |status: u16, user: Option<String>| {
        shared.calls.record(CallRecord {
            service: B::SERVICE,
            method: req.method.to_string(),
            path: req.path.clone(),
            query: req.query.clone(),
            status,
            bucket: class.bucket.clone(),
            at,
            user: user.or_else(|| class.user.clone()),
            team: class.team.clone(),
        })
    };
    if body.is_err() {
        let resp = B::status_error(&shared, &req, 413);
        log(413, None);
        return resp;
    }
    shared.throttle.check_violations(&class.keys, at);

    let mut then_500 = false;
    let fault = shared
        .faults
        .take(B::SERVICE, req.method.as_str(), &req.path)
        .or_else(|| random_fault(shared.opts.random_faults, B::SERVICE));
    match fault {
        Some(FaultKind::Status {
            status,
            retry_after,
        }) => {
            let mut resp = B::status_error(&shared, &req, status);
            if let Some(value) = &retry_after {
                resp = wire::with_header(resp, "retry-after", value);
            }
            if status == 429 {
                let wait = retry_after.as_deref().and_then(parse_retry_after);
                shared.throttle.note_throttled(class.keys.first(), wait);
            }
            log(status, None);
            return resp;
        }
        Some(FaultKind::Reset) => {
            conn.kill();
            log(0, None);
            return wire::empty(500);
        }
        Some(FaultKind::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(FaultKind::SucceedThen500) => then_500 = true,
        Some(FaultKind::OperationFailed) | None => {}
    }

    let auth = match B::authenticate(&shared, &req) {
        Ok(auth) => auth,
        Err(refusal) => {
            let resp = Response::from(refusal);
            log(resp.status().as_u16(), None);
            return resp;
        }
    };
    if let Some(quotas) = &shared.opts.quotas {
        let full = shared.throttle.admit(quotas, &class.keys, Instant::now());
        if let Some(key) = full {
            let secs = quotas.retry_after_secs;
            shared
                .throttle
                .note_throttled(Some(&key), Some(Duration::from_secs(secs.into())));
            let resp = wire::with_header(
                B::status_error(&shared, &req, 429),
                "retry-after",
                &secs.to_string(),
            );
            log(429, auth.user.clone());
            return resp;
        }
    }
    let mut resp = B::handle(&shared, &req, &auth);
    if then_500 {
        resp = B::status_error(&shared, &req, 500);
    }
    log(resp.status().as_u16(), auth.user.clone());
    resp
}
