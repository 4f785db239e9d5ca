//! Operators' routes (forced resync, year archive), and the read-only ones: jobs, status, health,
//! metrics.

use super::error::{ApiPath, ApiQuery, ErrorBody, JsonBody};
use super::{ApiError, ApiState, Caller, Operator};
use crate::core::domain::Target;
use crate::core::job::{JobKind, JobState};
use crate::status::StatusDocument;
use crate::work::planner::{self, ArchiveRefusal};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// A forced resync: the named schools and groups (everything when both are empty).
#[derive(Deserialize, ToSchema)]
pub struct SyncRequest {
    #[serde(default)]
    pub schools: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// `teams`, `classroom`, or null for both; any other word is answered 400.
    #[schema(value_type = Option<Target>)]
    pub target: Option<String>,
    /// Who asked, for the audit log.
    pub requested_by: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SyncAnswer {
    /// Links enqueued for a reconcile, ahead of bulk work.
    pub enqueued: u64,
    /// Links not enqueued, by reason.
    pub skipped: BTreeMap<String, u64>,
    pub unknown_schools: Vec<String>,
    pub unknown_groups: Vec<String>,
}

fn counts(c: &planner::HeldCounts) -> BTreeMap<String, u64> {
    c.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Force a resync of schools or groups (operators only).
#[utoipa::path(
    post,
    path = "/v1/sync",
    tag = "operators",
    request_body = SyncRequest,
    responses(
        (status = 202, description = "Enqueued; skipped links counted with their reason", body = SyncAnswer),
        (status = 400, description = "Malformed body or unknown target", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
        (status = 403, description = "Not the operator's token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn sync(
    State(s): State<ApiState>,
    Operator(caller): Operator,
    JsonBody(req): JsonBody<SyncRequest>,
) -> Result<Response, ApiError> {
    let target: Option<Target> = req
        .target
        .as_deref()
        .map(|t| {
            t.parse()
                .map_err(|r: String| ApiError::invalid(format!("/target: {r}")))
        })
        .transpose()?;
    let actor = caller.actor(req.requested_by.as_deref());
    let done = planner::sync(&s.app, &req.schools, &req.groups, target, &actor).await?;
    let answer = SyncAnswer {
        enqueued: done.enqueued,
        skipped: counts(&done.skipped),
        unknown_schools: done.unknown_schools,
        unknown_groups: done.unknown_groups,
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// Archive one academic year now (operators only).
#[derive(Deserialize, ToSchema)]
pub struct ArchiveRequest {
    /// `YYYY-YY`, with a `[[years]]` entry.
    #[schema(example = "2025-26", pattern = r"^[0-9]{4}-[0-9]{2}$")]
    pub year: String,
    /// Only list, per school, what would be archived.
    #[serde(default)]
    pub dry_run: bool,
    /// Archive before the year's `archive_on`.
    #[serde(default)]
    pub force: bool,
    /// Who asked, for the audit log.
    pub requested_by: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ArchiveAnswer {
    pub year: String,
    pub dry_run: bool,
    /// Links archived (or that would be), per school.
    pub per_school: BTreeMap<String, u64>,
    /// Jobs enqueued (0 on a dry run).
    pub enqueued: u64,
    /// Restored (MIS-unlinked) links, left alone.
    pub skipped_unlinked: u64,
}

/// Archive a year now, or list what would be archived.
#[utoipa::path(
    post,
    path = "/v1/archive",
    tag = "operators",
    request_body = ArchiveRequest,
    responses(
        (status = 202, description = "Archive jobs enqueued", body = ArchiveAnswer),
        (status = 200, description = "Dry run: what would be archived, per school", body = ArchiveAnswer),
        (status = 400, description = "Malformed body or a year with no `[[years]]` entry", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
        (status = 403, description = "Not the operator's token", body = ErrorBody),
        (status = 409, description = "Before the year's archive_on, without force", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn archive(
    State(s): State<ApiState>,
    Operator(caller): Operator,
    JsonBody(req): JsonBody<ArchiveRequest>,
) -> Result<Response, ApiError> {
    let actor = caller.actor(req.requested_by.as_deref());
    let done = planner::archive_year(&s.app, &req.year, req.dry_run, req.force, &actor)
        .await
        .map_err(|refusal| match refusal {
            ArchiveRefusal::NotDue { .. } => {
                ApiError::conflict(format!("{refusal}; send \"force\": true to archive it now"))
            }
            ArchiveRefusal::UnknownYear(_) => ApiError::invalid(format!("/year: {refusal}")),
            ArchiveRefusal::Store(e) => ApiError::from(e),
        })?;
    let status = if done.dry_run {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let answer = ArchiveAnswer {
        year: done.year,
        dry_run: done.dry_run,
        per_school: done.per_school,
        enqueued: done.enqueued,
        skipped_unlinked: done.skipped_unlinked,
    };
    Ok((status, Json(answer)).into_response())
}

/// One job, as a restore answer's `job` follows it.
#[derive(Serialize, ToSchema)]
pub struct JobView {
    pub job: i64,
    pub kind: JobKind,
    pub group: String,
    pub target: Target,
    pub state: JobState,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// A job's state, attempts and last error.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "operators",
    params(("id" = i64, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn job(
    State(s): State<ApiState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<JobView>, ApiError> {
    let j = s
        .app
        .store
        .job(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    Ok(Json(JobView {
        job: j.id,
        kind: j.kind,
        group: j.group_id,
        target: j.target,
        state: j.state,
        attempts: j.attempts,
        last_error: j.last_error,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// How many of the latest audit entries to include (default 20, 1 to 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub audit: Option<u32>,
}

/// Links by year and state, the queue, the last nightly runs and the audit log.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "operators",
    params(StatusQuery),
    responses(
        (status = 200, description = "The `status --json` document", body = StatusDocument),
        (status = 400, description = "`audit` is not a whole number from 1 to 1000", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn status(
    State(s): State<ApiState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> Result<Json<StatusDocument>, ApiError> {
    let audit = q.audit.unwrap_or(20);
    if !(1..=1000).contains(&audit) {
        return Err(ApiError::invalid(format!(
            "audit: {audit} is out of range: from 1 to 1000"
        )));
    }
    let query = crate::work::worker::status_query(&s.app, audit);
    let counts = s.counts.get(&s.app.store).await?;
    Ok(Json(
        crate::status::overall_with(&*s.app.store, query, &counts).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries on this page (default 100, 1 to 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next` of the previous page: entries older than this one.
    pub after: Option<i64>,
}

/// The audit log, newest first, a page at a time (operators only): every Restore granted or
/// refused, forced resync, archive, import and push, with who asked.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "operators",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the log, newest first", body = crate::status::AuditPageDocument),
        (status = 400, description = "`limit` not from 1 to 1000, or `after` not a whole number", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
        (status = 403, description = "Not the operator's token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn audit(
    State(s): State<ApiState>,
    Operator(_caller): Operator,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<crate::status::AuditPageDocument>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: {limit} is out of range: from 1 to 1000"
        )));
    }
    Ok(Json(
        crate::status::audit_page(&*s.app.store, q.after, limit).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Liveness: the process answers (no token needed).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "Alive", body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Prometheus text: queue depth by lane and kind, remote calls and 429s per bucket, bucket rates,
/// job outcomes, restore latency, last nightly run (no token needed; nothing secret in it).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let text = s.metrics.render(&s.app).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
