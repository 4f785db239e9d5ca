//! The portal's routes: View Groups, one group, a group pushed, and the Restore button.
//!
//! Must not: judge who may see or restore anything itself: `restore_policy::decide` (the same rule
//! as the CLI, over our own data) decides both.

use super::error::{ApiPath, ApiQuery, ErrorBody, JsonBody, JsonText};
use super::{ApiError, ApiState, Caller};
use crate::core::domain::{Group, Target, normalise_email};
use crate::core::job::JobState;
use crate::core::link::LinkState;
use crate::core::restore_policy::{RestoreSubject, decide};
use crate::core::snapshot::{ValidationContext, parse_group};
use crate::status::GroupDocument;
use crate::store::GroupQuery;
use crate::work::planner::{self, GroupChange, RestoreRefusal};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::{RefOr, schema::Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// The Restore button pressed in the portal.
#[derive(Deserialize, ToSchema)]
pub struct RestoreRequest {
    /// `teams` or `classroom`; any other word is answered 400.
    #[schema(value_type = Target, example = "teams")]
    pub target: String,
    /// The email of the person who pressed Restore; checked against our own data.
    #[schema(example = "jonesa12@hwbcymru.net", min_length = 1, pattern = r"\S")]
    pub requested_by: String,
}

/// A restore accepted: the job that does it (follow it at `GET /v1/jobs/{job}`).
#[derive(Serialize, ToSchema)]
pub struct RestoreAnswer {
    pub job: i64,
    /// `queued` or `running` (or already `done` if the worker was quick).
    pub state: JobState,
    /// False when the same restore was already pending: the same job is returned.
    pub new: bool,
}

fn parse_target(field: &str, value: &str) -> Result<Target, ApiError> {
    value
        .parse()
        .map_err(|reason: String| ApiError::invalid(format!("/{field}: {reason}")))
}

/// Press Restore on one group's team or course.
#[utoipa::path(
    post,
    path = "/v1/groups/{id}/restore",
    tag = "groups",
    params(("id" = String, Path, description = "The group id")),
    request_body = RestoreRequest,
    responses(
        (status = 202, description = "Accepted; the same pending request again returns the same job", body = RestoreAnswer),
        (status = 400, description = "Malformed body or unknown target", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
        (status = 403, description = "The person is neither an admin of the school nor a teacher of the group; nothing changed", body = ErrorBody),
        (status = 404, description = "No such group, or it has no link to that target", body = ErrorBody),
        (status = 409, description = "The link is not archived", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn restore(
    State(s): State<ApiState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<RestoreRequest>,
) -> Result<Response, ApiError> {
    let target = parse_target("target", &req.target)?;
    if req.requested_by.trim().is_empty() {
        return Err(ApiError::invalid(
            "/requested_by: must be the email of the person who pressed Restore",
        ));
    }
    let accepted = planner::restore(&s.app, &id, target, &req.requested_by)
        .await
        .map_err(|refusal| match refusal {
            RestoreRefusal::Forbidden(r) => ApiError::forbidden(r),
            RestoreRefusal::Conflict(r) => ApiError::conflict(r),
            RestoreRefusal::NotFound(r) => ApiError::not_found(r),
            RestoreRefusal::Store(e) => ApiError::from(e),
        })?;
    let state = s
        .app
        .store
        .job(accepted.job)
        .await?
        .map_or(JobState::Queued, |j| j.state);
    let answer = RestoreAnswer {
        job: accepted.job,
        state,
        new: accepted.new,
    };
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/v1/jobs/{}", accepted.job))],
        Json(answer),
    )
        .into_response())
}

/// The portal's View Groups filters. `as` is required: the groups are the ones that person may see.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupFilter {
    /// The person looking: a school admin sees every group of the school, a teacher their own.
    #[serde(rename = "as")]
    #[param(rename = "as", min_length = 1, pattern = r"\S")]
    pub viewer: String,
    pub school: Option<String>,
    /// `YYYY-YY`.
    pub academic_year: Option<String>,
    pub year_group: Option<i64>,
    /// Only groups this person teaches.
    pub teacher: Option<String>,
    /// `teams` or `classroom`: only groups with a link there, and only those links.
    #[param(value_type = Option<Target>)]
    pub target: Option<String>,
    /// Only groups with a link in this state.
    #[param(value_type = Option<LinkState>)]
    pub state: Option<String>,
    /// Groups on this page (default 100, 1 to 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next` of the previous page: groups come in id order, after this one.
    pub after: Option<String>,
}

/// One link as View Groups shows it.
#[derive(Serialize, ToSchema)]
pub struct LinkView {
    pub target: Target,
    pub state: LinkState,
    pub remote_id: Option<String>,
    pub mis_linked: bool,
    /// Restore may be pressed now (the viewer may restore every group they see).
    pub restorable: bool,
}

/// One group as View Groups shows it: the group's own fields, then where it stands.
#[derive(Serialize, ToSchema)]
pub struct GroupView {
    #[serde(flatten)]
    pub group: Group,
    /// Absent from the school's latest snapshot; its team/course is left as it is.
    pub withdrawn: bool,
    pub links: Vec<LinkView>,
}

/// One page of View Groups.
#[derive(Serialize, ToSchema)]
pub struct GroupList {
    /// The viewer, normalised.
    #[serde(rename = "as")]
    pub viewer: String,
    pub groups: Vec<GroupView>,
    /// The id to pass as `after` for the next page; null on the last page.
    pub next: Option<String>,
    /// Groups the viewer may see that match the filters, on every page.
    pub total: u64,
}

/// Groups a page holds unless `limit` says otherwise, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// View Groups: the groups a person may see, filtered, a page at a time in id order, each with
/// its links and whether each can be restored.
#[utoipa::path(
    get,
    path = "/v1/groups",
    tag = "groups",
    params(GroupFilter),
    responses(
        (status = 200, description = "A page of the groups the person may see (an unknown person sees none)", body = GroupList),
        (status = 400, description = "`as` missing, a filter value not understood, or `limit` not from 1 to 1000", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(s): State<ApiState>,
    _caller: Caller,
    ApiQuery(f): ApiQuery<GroupFilter>,
) -> Result<Json<GroupList>, ApiError> {
    let viewer = normalise_email(&f.viewer);
    if viewer.is_empty() {
        return Err(ApiError::invalid("`as` must name the person looking"));
    }
    let target = f
        .target
        .as_deref()
        .map(|t| parse_target("target", t))
        .transpose()?;
    let state: Option<LinkState> = f
        .state
        .as_deref()
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::invalid(format!(
                    "state `{v}` is not one of pending, active, archived, restored, failed"
                ))
            })
        })
        .transpose()?;
    let limit = f.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: {limit} is out of range: from 1 to {MAX_LIMIT}"
        )));
    }
    let query = GroupQuery {
        viewer: Some(viewer.clone()),
        school: f.school,
        academic_year: f.academic_year,
        year_group: f.year_group,
        teacher: f.teacher.as_deref().map(normalise_email),
        target,
        state,
        after: f.after,
        limit,
    };
    let store = &s.app.store;
    let page = store.visible_groups(&query).await?;
    let last = page.groups.last().map(|(g, _)| g.group.id.clone());
    // The store answers by the restore rule's index-shaped twin; each group is checked against
    // the rule itself (CONTRACT §3) before it is shown.
    let mut groups = Vec::with_capacity(page.groups.len());
    for (stored, links) in page.groups {
        let g = stored.group;
        let subject = RestoreSubject {
            school_admins: page.school_admins.get(&g.school).map_or(&[], Vec::as_slice),
            group_teachers: &g.teachers,
        };
        if decide(&viewer, &subject).is_err() {
            tracing::error!(group = %g.id, "the store showed a group the restore rule hides");
            continue;
        }
        let shown: Vec<LinkView> = links
            .iter()
            .filter(|l| target.is_none_or(|t| t == l.target))
            .map(|l| LinkView {
                target: l.target,
                state: l.state(),
                remote_id: l.remote_id.clone(),
                mis_linked: l.mis_linked(),
                restorable: l.restorable(),
            })
            .collect();
        groups.push(GroupView {
            group: g,
            withdrawn: stored.withdrawn,
            links: shown,
        });
    }
    let next = if page.more { last } else { None };
    Ok(Json(GroupList {
        viewer,
        groups,
        next,
        total: page.total,
    }))
}

/// One group's links: state, remote id, MIS link, last sync, last error.
#[utoipa::path(
    get,
    path = "/v1/groups/{id}",
    tag = "groups",
    params(("id" = String, Path, description = "The group id")),
    responses(
        (status = 200, description = "The `status --json GROUP` document", body = GroupDocument),
        (status = 400, description = "The id is not UTF-8 text", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_one(
    State(s): State<ApiState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GroupDocument>, ApiError> {
    crate::status::group(&*s.app.store, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no group `{id}`")))
}

/// The body of `PUT /v1/groups/{id}`, for the OpenAPI document: CONTRACT §4's group object.
///
/// Its schema is the one of [`Group`], the type `parse_group` turns the body into, with what
/// `parse_group` adds: `id` may be left out (the path names the group), and `targets` may be left
/// out or null (then `[import] default_targets`). The body is read by `parse_group` rather than by
/// serde so that every problem comes back at once, with its JSON pointer and line.
pub struct GroupPush;

impl PartialSchema for GroupPush {
    fn schema() -> RefOr<Schema> {
        let mut schema = Group::schema();
        if let RefOr::T(Schema::Object(group)) = &mut schema {
            group
                .required
                .retain(|field| field != "id" && field != "targets");
            group
                .properties
                .insert("targets".into(), Option::<Vec<Target>>::schema());
            group.description = Some(
                "A UMP class group (CONTRACT §4). `id` (1–100 characters of `[A-Za-z0-9._-]`) may \
                 be left out: the path's id is used, and a body's own id must equal it. `targets` \
                 may be left out or null: then `[import] default_targets`. The school must be one \
                 class-sync knows and the academic year one with a `[[years]]` entry."
                    .into(),
            );
        }
        schema
    }
}

impl ToSchema for GroupPush {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <Group as ToSchema>::schemas(schemas);
    }
}

/// What a push stored and enqueued.
#[derive(Serialize, ToSchema)]
pub struct PutAnswer {
    pub group: String,
    /// `added`, `changed` or `unchanged`.
    pub outcome: GroupChange,
    /// Jobs enqueued for the worker.
    pub enqueued: u64,
    /// Work not done now, by reason (e.g. `after mis_sync_cutoff`: recorded, never applied).
    pub held_back: BTreeMap<String, u64>,
    /// In words, for people.
    pub message: String,
}

/// Add or replace one group; its teams/courses follow as the calendar allows.
#[utoipa::path(
    put,
    path = "/v1/groups/{id}",
    tag = "groups",
    params(("id" = String, Path, description = "The group id")),
    request_body = GroupPush,
    responses(
        (status = 201, description = "A new group, stored; what it enqueued", body = PutAnswer),
        (status = 200, description = "A known group, changed or unchanged; what it enqueued", body = PutAnswer),
        (status = 400, description = "Every problem of the body, each with its JSON pointer; nothing stored", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonText(text): JsonText,
) -> Result<Response, ApiError> {
    let app = &s.app;
    let known_schools = app.store.school_ids().await?;
    let years = app.config.year_names();
    let ctx = ValidationContext {
        configured_years: &years,
        default_targets: &app.config.import.default_targets,
    };
    let group =
        parse_group(&text, &id, &known_schools, &ctx).map_err(|p| ApiError::problems(&p))?;
    let done = planner::put_group(app, &group, &caller.actor(None)).await?;
    let cutoff = planner::SkipReason::Calendar(crate::core::calendar::HeldBack::Cutoff);
    let message = match (done.outcome, done.held_back.get(&cutoff)) {
        (GroupChange::Unchanged, _) if done.enqueued == 0 => "unchanged; nothing to do".to_string(),
        (_, Some(_)) => format!(
            "{}; recorded but not applied: the year's MIS sync cutoff has passed",
            done.outcome
        ),
        (outcome, None) => format!("{outcome}; {} job(s) enqueued", done.enqueued),
    };
    let status = if done.outcome == GroupChange::Added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = PutAnswer {
        group: group.id,
        outcome: done.outcome,
        enqueued: done.enqueued,
        held_back: done
            .held_back
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        message,
    };
    Ok((status, Json(answer)).into_response())
}
