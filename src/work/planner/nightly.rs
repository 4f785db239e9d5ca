//! The nightly run: archive what is due, create what may now be created, retry missing accounts.

use super::{Batch, HeldCounts, SkipReason, links_by_group, mis_gate};
use crate::app::App;
use crate::core::calendar::HeldBack;
use crate::core::job::{JobKind, Lane};
use crate::core::link::LinkState;
use crate::store::StoreResult;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct NightlySummary {
    pub run_id: i64,
    /// Every job the run enqueued or found already waiting, to follow them to their end.
    #[serde(skip)]
    pub jobs: Vec<i64>,
    pub archive_enqueued: u64,
    pub create_enqueued: u64,
    pub retry_enqueued: u64,
    pub skipped: HeldCounts,
}

/// The nightly job: archive every due link (except MIS-unlinked ones), and create links whose
/// creation date has come; links waiting for accounts are retried while MIS changes still apply.
pub async fn nightly(app: &App, actor: &str) -> StoreResult<NightlySummary> {
    let mut s = NightlySummary {
        run_id: app
            .store
            .start_run("nightly", &app.today().to_string(), App::now_ms())
            .await?,
        ..Default::default()
    };
    #[derive(Clone, Copy)]
    enum Counted {
        Archive,
        Create,
        Retry,
    }
    let mut jobs = Batch::default();
    let mut links = links_by_group(app).await?;
    for g in app.store.groups().await? {
        let Some(cal) = app.year(&g.group.academic_year) else {
            *s.skipped.entry(SkipReason::YearNotConfigured).or_default() += 1;
            continue;
        };
        for link in links.remove(&g.group.id).unwrap_or_default() {
            if app.provider(link.target).is_none() {
                continue;
            }
            if cal.archive_due(app.today()) {
                if !link.mis_linked() {
                    *s.skipped
                        .entry(SkipReason::Calendar(HeldBack::Unlinked))
                        .or_default() += 1;
                } else if link.remote_id.is_some() && link.state() != LinkState::Archived {
                    jobs.add(
                        app,
                        JobKind::Archive,
                        &link,
                        Lane::Nightly,
                        actor,
                        Counted::Archive,
                    );
                }
                continue;
            }
            if g.withdrawn || !g.group.targets.contains(&link.target) {
                continue;
            }
            let due = matches!(link.state(), LinkState::Pending | LinkState::Failed)
                || !link.missing_accounts.is_empty();
            if due && mis_gate(app, &g.group.academic_year, &link, &mut s.skipped) {
                let counted = if link.state() == LinkState::Pending {
                    Counted::Create
                } else {
                    Counted::Retry
                };
                jobs.add(app, JobKind::Reconcile, &link, Lane::Mis, actor, counted);
            }
        }
    }
    for (counted, job, fresh) in jobs.enqueue(app).await? {
        s.jobs.push(job);
        let n = match counted {
            Counted::Archive => &mut s.archive_enqueued,
            Counted::Create => &mut s.create_enqueued,
            Counted::Retry => &mut s.retry_enqueued,
        };
        *n += fresh as u64;
    }
    Ok(s)
}
