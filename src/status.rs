//! The read side for operators: the `status` documents, overall (links by year and state, the
//! queue, live workers, the last nightly runs, recent audit) or for one group.
//!
//! These types are what `GET /v1/status` and `GET /v1/groups/{id}` return, what `status --json`
//! prints and what the OpenAPI document describes: one definition, so the three cannot drift.
//! Printing them for people and choosing exit statuses belongs to `cli`.

use crate::core::domain::Target;
use crate::core::link::Link;
use crate::core::link::LinkState;
use crate::store::{AuditEntry, Run, Store, StoreResult, WorkerInfo};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One link as `status --json GROUP` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinkDocument {
    pub target: Target,
    pub state: LinkState,
    /// The team's group id or the course id, once created.
    pub remote_id: Option<String>,
    /// False once restored: MIS data never touches the link again.
    pub mis_linked: bool,
    /// RFC 3339.
    pub last_sync: Option<String>,
    pub last_error: Option<String>,
    /// Members whose accounts do not exist yet; retried on later runs.
    pub missing_accounts: Vec<String>,
    /// MIS changes arrived after the cutoff: recorded, not applied.
    pub held_changes: bool,
}

/// The `status --json GROUP` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupDocument {
    pub group: String,
    pub school: String,
    pub academic_year: String,
    pub name: String,
    /// No longer in the UMP's data (its remote team or course is left as it is).
    pub withdrawn: bool,
    pub links: Vec<LinkDocument>,
}

/// One recorded nightly run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunDocument {
    /// The London day the run was for.
    pub today: String,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339; null while its jobs are still running.
    pub finished_at: Option<String>,
    /// Null while running; false when some of its jobs failed.
    pub ok: Option<bool>,
    pub summary: String,
}

/// One audit line: restores granted and refused, forced resyncs, archives, imports, pushes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditDocument {
    /// RFC 3339.
    pub at: Option<String>,
    pub actor: String,
    pub action: String,
    pub group: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: String,
}

/// A worker process seen within its liveness window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerDocument {
    pub id: String,
    /// `serve`, `work` or a waiting command.
    pub kind: String,
    pub pid: i64,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339: its last heartbeat.
    pub seen_at: Option<String>,
}

/// The overall `status --json` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusDocument {
    /// The date the calendar rules use.
    pub today: String,
    /// Links by academic year, then by state (`pending`, `active`, …), counted.
    pub links: BTreeMap<String, BTreeMap<String, u64>>,
    /// Jobs by kind (`reconcile`, `archive`, `restore`), then by state, counted.
    pub queue: BTreeMap<String, BTreeMap<String, u64>>,
    /// Workers alive now: who is doing the queue.
    pub workers: Vec<WorkerDocument>,
    pub last_nightly: Option<RunDocument>,
    pub last_successful_nightly: Option<RunDocument>,
    /// Newest first.
    pub recent_audit: Vec<AuditDocument>,
}

/// What the overall document is asked for.
#[derive(Clone, Copy, Debug)]
pub struct StatusQuery {
    /// The date the calendar rules use, reported as `today`.
    pub today: NaiveDate,
    /// Workers seen at or after this time (ms) count as alive.
    pub workers_seen_since_ms: i64,
    /// How many of the latest audit entries to include.
    pub audit_entries: u32,
}

/// One group's document, or None when there is no such group.
pub async fn group(store: &dyn Store, group_id: &str) -> StoreResult<Option<GroupDocument>> {
    let Some(g) = store.group(group_id).await? else {
        return Ok(None);
    };
    let links = store.links_of(group_id).await?.iter().map(link).collect();
    Ok(Some(GroupDocument {
        group: g.group.id,
        school: g.group.school,
        academic_year: g.group.academic_year,
        name: g.group.name,
        withdrawn: g.withdrawn,
        links,
    }))
}

/// The overall document.
pub async fn overall(store: &dyn Store, query: StatusQuery) -> StoreResult<StatusDocument> {
    let groups = store.groups().await?;
    let year_of: BTreeMap<&str, &str> = groups
        .iter()
        .map(|g| (g.group.id.as_str(), g.group.academic_year.as_str()))
        .collect();
    let mut links: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for l in store.all_links().await? {
        let year = year_of.get(l.group_id.as_str()).copied().unwrap_or("?");
        *links
            .entry(year.to_string())
            .or_default()
            .entry(l.state().as_str().to_string())
            .or_default() += 1;
    }
    let mut queue: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (kind, state, n) in store.job_counts().await? {
        queue.entry(kind).or_default().insert(state, n);
    }
    Ok(StatusDocument {
        today: query.today.to_string(),
        links,
        queue,
        workers: store
            .live_workers(query.workers_seen_since_ms)
            .await?
            .into_iter()
            .map(worker)
            .collect(),
        last_nightly: store.last_run("nightly", false).await?.map(run),
        last_successful_nightly: store.last_run("nightly", true).await?.map(run),
        recent_audit: store
            .audit_log(query.audit_entries)
            .await?
            .into_iter()
            .map(audit)
            .collect(),
    })
}

/// A stored time (ms since the epoch) as RFC 3339, to the second.
pub fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn link(l: &Link) -> LinkDocument {
    LinkDocument {
        target: l.target,
        state: l.state(),
        remote_id: l.remote_id.clone(),
        mis_linked: l.mis_linked(),
        last_sync: l.last_sync.and_then(rfc3339),
        last_error: l.last_error.clone(),
        missing_accounts: l.missing_accounts.clone(),
        held_changes: l.held_changes,
    }
}

fn run(r: Run) -> RunDocument {
    RunDocument {
        today: r.today,
        started_at: rfc3339(r.started_at),
        finished_at: r.finished_at.and_then(rfc3339),
        ok: r.ok,
        summary: r.summary,
    }
}

fn audit(a: AuditEntry) -> AuditDocument {
    AuditDocument {
        at: rfc3339(a.at),
        actor: a.actor,
        action: a.action,
        group: a.group_id,
        target: a.target,
        outcome: a.outcome,
        detail: a.detail,
    }
}

fn worker(w: WorkerInfo) -> WorkerDocument {
    WorkerDocument {
        id: w.id,
        kind: w.kind,
        pid: w.pid,
        started_at: rfc3339(w.started_at),
        seen_at: rfc3339(w.seen_at),
    }
}
