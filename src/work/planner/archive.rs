//! The operator's archive of one academic year now (`archive --year`), with a dry run per school.

use super::{Batch, audit, links_by_group};
use crate::app::App;
use crate::core::job::{JobKind, Lane};
use crate::core::link::LinkState;
use serde::Serialize;
use std::collections::BTreeMap;

/// Per school: how many links a year archive covers.
#[derive(Debug, Default, Serialize)]
pub struct ArchiveSummary {
    pub year: String,
    pub dry_run: bool,
    pub per_school: BTreeMap<String, u64>,
    pub enqueued: u64,
    /// Every job the archive enqueued or found already waiting, to wait for them.
    #[serde(skip)]
    pub jobs: Vec<i64>,
    pub skipped_unlinked: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveRefusal {
    #[error("no [[years]] entry for {0} in the config")]
    UnknownYear(String),
    #[error("{year} is not due for archiving until {archive_on}; use --force to archive it now")]
    NotDue {
        year: String,
        archive_on: chrono::NaiveDate,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Archives one year now (the operator's `archive`): before `archive_on` only with `force`.
pub async fn archive_year(
    app: &App,
    year: &str,
    dry_run: bool,
    force: bool,
    actor: &str,
) -> Result<ArchiveSummary, ArchiveRefusal> {
    let cal = app
        .year(year)
        .ok_or_else(|| ArchiveRefusal::UnknownYear(year.to_string()))?;
    if !cal.archive_due(app.today()) && !force && !dry_run {
        return Err(ArchiveRefusal::NotDue {
            year: year.to_string(),
            archive_on: cal.archive_on,
        });
    }
    let mut s = ArchiveSummary {
        year: cal.year.to_string(),
        dry_run,
        ..Default::default()
    };
    let mut jobs = Batch::default();
    let mut links = links_by_group(app).await?;
    for g in app.store.groups().await? {
        if app.year(&g.group.academic_year).map(|c| c.year) != Some(cal.year) {
            continue;
        }
        for link in links.remove(&g.group.id).unwrap_or_default() {
            if app.provider(link.target).is_none()
                || link.remote_id.is_none()
                || link.state() == LinkState::Archived
            {
                continue;
            }
            if !link.mis_linked() {
                s.skipped_unlinked += 1;
                continue;
            }
            *s.per_school.entry(g.group.school.clone()).or_default() += 1;
            if !dry_run {
                jobs.add(app, JobKind::Archive, &link, Lane::Operator, actor, ());
            }
        }
    }
    for (_, job, new) in jobs.enqueue(app).await? {
        s.jobs.push(job);
        s.enqueued += new as u64;
    }
    if !dry_run {
        app.store
            .audit(&audit(
                actor,
                "archive",
                None,
                None,
                "done",
                format!("year {} (force: {force}): {} jobs", s.year, s.enqueued),
            ))
            .await?;
    }
    Ok(s)
}
