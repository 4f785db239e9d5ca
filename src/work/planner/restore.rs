//! The Restore button: who may press it, the atomic grant (MIS-unlinked for good), the restore job.

use super::audit;
use crate::app::App;
use crate::core::domain::Target;
use crate::core::job::{JobKind, Lane};
use crate::core::restore_policy::{RestoreSubject, decide};
use crate::store::NewJob;
use serde::Serialize;

/// A Restore press accepted: the job that does it.
#[derive(Debug, Serialize)]
pub struct RestoreAccepted {
    pub job: i64,
    /// False when the same pending request was pressed again.
    pub new: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreRefusal {
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The Restore button (CONTRACT §3): checks who pressed it against our own data, then MIS-unlinks the
/// link for good and enqueues its restore in the highest lane. Every outcome is audited.
pub async fn restore(
    app: &App,
    group_id: &str,
    target: Target,
    actor: &str,
) -> Result<RestoreAccepted, RestoreRefusal> {
    let actor_n = crate::core::domain::normalise_email(actor);
    let refuse = |outcome: &str, detail: String| {
        audit(
            &actor_n,
            "restore",
            Some(group_id),
            Some(target),
            outcome,
            detail,
        )
    };
    let Some(group) = app.store.group(group_id).await? else {
        app.store
            .audit(&refuse("not_found", "unknown group".into()))
            .await?;
        return Err(RestoreRefusal::NotFound(format!("no group `{group_id}`")));
    };
    let Some(link) = app.store.link(group_id, target).await? else {
        app.store
            .audit(&refuse("not_found", format!("the group has no {target} link")).clone())
            .await?;
        return Err(RestoreRefusal::NotFound(format!(
            "group `{group_id}` has no {target} link"
        )));
    };
    let admins = app
        .store
        .school(&group.group.school)
        .await?
        .map(|s| s.admins)
        .unwrap_or_default();
    let grant = match decide(
        &actor_n,
        &RestoreSubject {
            school_admins: &admins,
            group_teachers: &group.group.teachers,
        },
    ) {
        Ok(g) => g,
        Err(reason) => {
            app.store.audit(&refuse("refused", reason.clone())).await?;
            return Err(RestoreRefusal::Forbidden(reason));
        }
    };
    // MIS-unlinked from this moment (in the same transaction as the job): no import, resync or
    // nightly archive touches it again. A link that is not `Link::restorable` (checked in that same
    // transaction, so a press racing another one's finished restore) is a conflict.
    let job = NewJob {
        kind: JobKind::Restore,
        group_id: group_id.to_string(),
        target,
        lane: Lane::Restore,
        requested_by: Some(actor_n.clone()),
        max_attempts: app.config.worker.max_attempts,
    };
    let Some((job, new)) = app.store.grant_restore(&job, App::now_ms()).await? else {
        let state = app
            .store
            .link(group_id, target)
            .await?
            .map_or(link.state(), |l| l.state());
        let reason = format!("the {target} link is {state}, not archived");
        app.store.audit(&refuse("conflict", reason.clone())).await?;
        return Err(RestoreRefusal::Conflict(reason));
    };
    app.store
        .audit(&audit(
            &actor_n,
            "restore",
            Some(group_id),
            Some(target),
            "granted",
            format!(
                "as {}; job {job}{}",
                grant.as_str(),
                if new { "" } else { " (already pending)" }
            ),
        ))
        .await?;
    Ok(RestoreAccepted { job, new })
}
