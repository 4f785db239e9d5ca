//! The operator- and portal-facing actions: decide what work an import, a forced resync, the nightly
//! job, a year archive or a Restore press implies, record it, and enqueue it.
//!
//! Architecture Invariant: this module decides and enqueues; it never calls a provider. The calendar
//! rules are applied here (so summaries can say what was held back) and again when each job runs.

mod archive;
mod import;
mod nightly;
mod restore;
mod sync;
#[cfg(test)]
mod tests;

pub use archive::{ArchiveRefusal, ArchiveSummary, archive_year};
pub use import::{
    GroupChange, ImportSource, ImportSummary, PutGroupSummary, import, import_delta, import_from,
    put_group,
};
pub use nightly::{NightlySummary, nightly};
pub use restore::{RestoreAccepted, RestoreRefusal, restore};
pub use sync::{SyncSummary, sync};

use crate::app::App;
use crate::core::calendar::{HeldBack, mis_work_allowed};
use crate::core::domain::{Group, Target};
use crate::core::job::{JobKind, Lane};
use crate::core::link::Link;
use crate::core::link::LinkState;
use crate::store::{AuditEntry, NewJob, StoreResult};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Why the work a link needed was not enqueued, as summaries count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// A calendar rule or the MIS link holds it back.
    Calendar(HeldBack),
    /// No `[microsoft]` / `[google]` table for the link's target.
    TargetNotConfigured,
    /// No `[[years]]` entry for the group's academic year.
    YearNotConfigured,
    /// The group is no longer in the UMP's data.
    GroupWithdrawn,
    /// Archived: a resync leaves an archived team or course as it is.
    Archived,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Calendar(held) => held.as_str(),
            SkipReason::TargetNotConfigured => "target not configured",
            SkipReason::YearNotConfigured => "year not configured",
            SkipReason::GroupWithdrawn => "group withdrawn",
            SkipReason::Archived => "archived",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SkipReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Counts of work held back, by reason.
pub type HeldCounts = BTreeMap<SkipReason, u64>;

/// Enqueues one job now; returns its id and whether it is new (an equal one may already wait).
async fn enqueue(
    app: &App,
    kind: JobKind,
    group_id: &str,
    target: Target,
    lane: Lane,
    by: Option<&str>,
) -> StoreResult<(i64, bool)> {
    let job = NewJob {
        kind,
        group_id: group_id.to_string(),
        target,
        lane,
        requested_by: by.map(str::to_string),
        max_attempts: app.config.worker.max_attempts,
    };
    app.store.enqueue(&job, App::now_ms()).await
}

fn audit(
    actor: &str,
    action: &str,
    group: Option<&str>,
    target: Option<Target>,
    outcome: &str,
    detail: String,
) -> AuditEntry {
    AuditEntry {
        at: App::now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        group_id: group.map(str::to_string),
        target: target.map(|t| t.as_str().to_string()),
        outcome: outcome.to_string(),
        detail,
    }
}

/// Decides whether MIS work on `link` may go ahead today and counts why not.
fn mis_gate(app: &App, year: &str, link: &Link, held: &mut HeldCounts) -> bool {
    if app.provider(link.target).is_none() {
        *held.entry(SkipReason::TargetNotConfigured).or_default() += 1;
        return false;
    }
    let Some(cal) = app.year(year) else {
        *held.entry(SkipReason::YearNotConfigured).or_default() += 1;
        return false;
    };
    let exists = link.remote_id.is_some() && link.state() != LinkState::Pending;
    match mis_work_allowed(cal, app.today(), link.mis_linked(), exists) {
        Ok(()) => true,
        Err(h) => {
            *held.entry(SkipReason::Calendar(h)).or_default() += 1;
            false
        }
    }
}

/// What MIS work one link of a stored group needs today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkWork {
    /// A reconcile in the MIS lane.
    Reconcile,
    /// Changes arrived after the cutoff: recorded on the link (`held_changes`), never applied.
    NoteHeld,
    /// Nothing (the link is current, or the calendar holds its work back: counted in `held`).
    Nothing,
}

/// Decides the MIS work one link of `g` needs (its group changed, it waits for creation or for
/// accounts), as the calendar allows; counts what it held back. `touched`: the group's data just
/// changed. After the cutoff a change is recorded on the link, never applied.
fn link_work(app: &App, g: &Group, link: &Link, touched: bool, held: &mut HeldCounts) -> LinkWork {
    if !g.targets.contains(&link.target) {
        return LinkWork::Nothing;
    }
    let needs_work = touched
        || matches!(link.state(), LinkState::Pending | LinkState::Failed)
        || !link.missing_accounts.is_empty();
    if !needs_work {
        return LinkWork::Nothing;
    }
    if mis_gate(app, &g.academic_year, link, held) {
        LinkWork::Reconcile
    } else if touched && link.mis_linked() && link.state() != LinkState::Pending {
        LinkWork::NoteHeld
    } else {
        LinkWork::Nothing
    }
}

/// Enqueues the MIS work one stored group needs (see [`link_work`]) and counts what it held back.
async fn enqueue_group_work(
    app: &App,
    g: &Group,
    touched: bool,
    held: &mut HeldCounts,
    jobs: &mut Vec<i64>,
) -> StoreResult<u64> {
    let mut enqueued = 0;
    for link in app.store.links_of(&g.id).await? {
        match link_work(app, g, &link, touched, held) {
            LinkWork::Reconcile => {
                let (job, fresh) =
                    enqueue(app, JobKind::Reconcile, &g.id, link.target, Lane::Mis, None).await?;
                jobs.push(job);
                enqueued += fresh as u64;
            }
            LinkWork::NoteHeld => app.store.note_held_changes(&g.id, link.target).await?,
            LinkWork::Nothing => {}
        }
    }
    Ok(enqueued)
}

/// Every link, by group: one read instead of one per group on bulk runs.
async fn links_by_group(app: &App) -> StoreResult<HashMap<String, Vec<Link>>> {
    let mut by_group: HashMap<String, Vec<Link>> = HashMap::new();
    for link in app.store.all_links().await? {
        by_group
            .entry(link.group_id.clone())
            .or_default()
            .push(link);
    }
    Ok(by_group)
}

/// Jobs a bulk run decided on, enqueued together in a few transactions; `T` says what each counts as.
struct Batch<T> {
    jobs: Vec<NewJob>,
    tags: Vec<T>,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Batch {
            jobs: Vec::new(),
            tags: Vec::new(),
        }
    }
}

impl<T: Copy> Batch<T> {
    fn add(&mut self, app: &App, kind: JobKind, link: &Link, lane: Lane, by: &str, tag: T) {
        self.jobs.push(NewJob {
            kind,
            group_id: link.group_id.clone(),
            target: link.target,
            lane,
            requested_by: Some(by.to_string()),
            max_attempts: app.config.worker.max_attempts,
        });
        self.tags.push(tag);
    }

    /// Enqueues in chunks (short write transactions); each tag with its job and whether it is new.
    async fn enqueue(self, app: &App) -> StoreResult<Vec<(T, i64, bool)>> {
        let mut out = Vec::with_capacity(self.jobs.len());
        for (jobs, tags) in self.jobs.chunks(1000).zip(self.tags.chunks(1000)) {
            let ids = app.store.enqueue_many(jobs, App::now_ms()).await?;
            out.extend(tags.iter().zip(ids).map(|(tag, (id, new))| (*tag, id, new)));
        }
        Ok(out)
    }
}
