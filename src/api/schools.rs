//! Provisioning status (CONTRACT §8): every school with its last import, a page at a time, and one
//! school with its recent history. The portal's and the operators' token may read them.

use super::error::{ApiPath, ApiQuery, ErrorBody};
use super::{ApiError, ApiState, Caller};
use crate::status::{SchoolStatusDocument, SchoolsDocument, Staleness};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

/// Schools a page holds unless `limit` says otherwise, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchoolsQuery {
    /// Schools on this page (default 100, 1 to 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next` of the previous page: schools come in id order, after this one.
    pub after: Option<String>,
}

fn staleness(s: &ApiState) -> Staleness {
    Staleness {
        today: s.app.today(),
        after_days: s.app.config.import.stale_after_days,
    }
}

/// Every known school with its last import (when, source, counts) and whether it is stale.
#[utoipa::path(
    get,
    path = "/v1/schools",
    tag = "schools",
    params(SchoolsQuery),
    responses(
        (status = 200, description = "A page of schools in id order", body = SchoolsDocument),
        (status = 400, description = "`limit` is not a whole number from 1 to 1000", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(s): State<ApiState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<SchoolsQuery>,
) -> Result<Json<SchoolsDocument>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: {limit} is out of range: from 1 to {MAX_LIMIT}"
        )));
    }
    let doc =
        crate::status::schools(&*s.app.store, staleness(&s), q.after.as_deref(), limit).await?;
    Ok(Json(doc))
}

/// One school's provisioning status: its last import, whether it is stale, its recent imports.
#[utoipa::path(
    get,
    path = "/v1/schools/{id}",
    tag = "schools",
    params(("id" = String, Path, description = "The school id")),
    responses(
        (status = 200, description = "The school's provisioning status with its history", body = SchoolStatusDocument),
        (status = 400, description = "The id is not UTF-8 text", body = ErrorBody),
        (status = 401, description = "No or a wrong bearer token", body = ErrorBody),
        (status = 404, description = "No such school", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_one(
    State(s): State<ApiState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SchoolStatusDocument>, ApiError> {
    crate::status::school(&*s.app.store, &id, staleness(&s))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no school `{id}`")))
}
