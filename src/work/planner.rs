//! The operator- and portal-facing actions: decide what work an import, a forced resync, the nightly
//! job, a year archive or a Restore press implies, record it, and enqueue it.
//!
//! Architecture Invariant: this module decides and enqueues; it never calls a provider. The calendar
//! rules are applied here (so summaries can say what was held back) and again when each job runs.

use crate::app::App;
use crate::core::calendar::{HeldBack, mis_work_allowed};
use crate::core::domain::{Group, Snapshot, Target};
use crate::core::job::{JobKind, Lane};
use crate::core::link::LinkState;
use crate::core::restore_policy::{RestoreSubject, decide};
use crate::store::{AuditEntry, ImportApplied, Link, NewJob, StoreResult};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Counts of work held back, by reason.
pub type HeldCounts = BTreeMap<&'static str, u64>;

#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub withdrawn: usize,
    pub enqueued: u64,
    pub held_back: HeldCounts,
    #[serde(skip)]
    pub applied: ImportApplied,
    /// Every job the import enqueued or found already waiting, to wait for them.
    #[serde(skip)]
    pub jobs: Vec<i64>,
}

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
        *held.entry("target not configured").or_default() += 1;
        return false;
    }
    let Some(cal) = app.year(year) else {
        *held.entry("year not configured").or_default() += 1;
        return false;
    };
    let exists = link.remote_id.is_some() && link.state != LinkState::Pending;
    match mis_work_allowed(cal, app.today(), link.mis_linked, exists) {
        Ok(()) => true,
        Err(h) => {
            *held.entry(h.as_str()).or_default() += 1;
            false
        }
    }
}

/// Enqueues the MIS work one stored group needs (its links that changed, wait for creation or
/// for accounts), as the calendar allows; counts what it held back. `touched`: the group's data just
/// changed. After the cutoff a change is recorded on the link (`held_changes`), never applied.
async fn enqueue_group_work(
    app: &App,
    g: &Group,
    touched: bool,
    held: &mut HeldCounts,
    jobs: &mut Vec<i64>,
) -> StoreResult<u64> {
    let mut enqueued = 0;
    for link in app.store.links_of(&g.id).await? {
        if !g.targets.contains(&link.target) {
            continue;
        }
        let needs_work = touched
            || matches!(link.state, LinkState::Pending | LinkState::Failed)
            || !link.missing_accounts.is_empty();
        if !needs_work {
            continue;
        }
        if mis_gate(app, &g.academic_year, &link, held) {
            let (job, fresh) =
                enqueue(app, JobKind::Reconcile, &g.id, link.target, Lane::Mis, None).await?;
            jobs.push(job);
            enqueued += fresh as u64;
        } else if touched && link.mis_linked && link.state != LinkState::Pending {
            // Recorded, not applied: the link says so until a later sync could apply it (never, after the cutoff).
            app.store.note_held_changes(&g.id, link.target).await?;
        }
    }
    Ok(enqueued)
}

/// What pushing one group (the API's `PUT /v1/groups/{id}`) did.
#[derive(Debug, Serialize)]
pub struct PutGroupSummary {
    /// `added`, `changed` or `unchanged`.
    pub outcome: &'static str,
    pub enqueued: u64,
    pub held_back: HeldCounts,
}

/// Stores one validated group of a known school and enqueues the work it implies, exactly as an
/// import does for each of its groups (CONTRACT §2: after the cutoff it is recorded, not applied).
/// Unlike an import, it withdraws nothing: one group is not the full state of its school.
pub async fn put_group(app: &App, group: &Group, actor: &str) -> StoreResult<PutGroupSummary> {
    let outcome = match app.store.put_group(group).await? {
        Some(true) => "added",
        Some(false) => "changed",
        None => "unchanged",
    };
    let mut held_back = HeldCounts::new();
    let mut jobs = Vec::new();
    let enqueued = enqueue_group_work(
        app,
        group,
        outcome != "unchanged",
        &mut held_back,
        &mut jobs,
    )
    .await?;
    app.store
        .audit(&audit(
            actor,
            "put_group",
            Some(&group.id),
            None,
            "done",
            format!("{outcome}; {enqueued} jobs"),
        ))
        .await?;
    Ok(PutGroupSummary {
        outcome,
        enqueued,
        held_back,
    })
}

/// Applies a validated snapshot and enqueues the work it implies (CONTRACT §4, §2).
pub async fn import(app: &App, snapshot: &Snapshot, actor: &str) -> StoreResult<ImportSummary> {
    let applied = app.store.import_snapshot(snapshot).await?;
    let touched: HashSet<&str> = applied
        .added
        .iter()
        .chain(&applied.changed)
        .map(String::as_str)
        .collect();
    let mut s = ImportSummary {
        added: applied.added.len(),
        changed: applied.changed.len(),
        unchanged: applied.unchanged.len(),
        withdrawn: applied.withdrawn.len(),
        ..Default::default()
    };
    for g in &snapshot.groups {
        s.enqueued += enqueue_group_work(
            app,
            g,
            touched.contains(g.id.as_str()),
            &mut s.held_back,
            &mut s.jobs,
        )
        .await?;
    }
    app.store
        .audit(&audit(
            actor,
            "import",
            None,
            None,
            "done",
            format!(
                "{} added, {} changed, {} unchanged, {} withdrawn, {} jobs",
                s.added, s.changed, s.unchanged, s.withdrawn, s.enqueued
            ),
        ))
        .await?;
    s.applied = applied;
    Ok(s)
}

/// What a forced resync selected.
#[derive(Debug, Default, Serialize)]
pub struct SyncSummary {
    pub enqueued: u64,
    /// Every job the resync enqueued or found already waiting, to wait for them.
    #[serde(skip)]
    pub jobs: Vec<i64>,
    pub skipped: HeldCounts,
    pub unknown_schools: Vec<String>,
    pub unknown_groups: Vec<String>,
}

/// The operator's forced resync: reconcile the matching links now, ahead of bulk work. With no
/// school and no group named, every link is considered. Failed links are retried.
pub async fn sync(
    app: &App,
    schools: &[String],
    groups: &[String],
    target: Option<Target>,
    actor: &str,
) -> StoreResult<SyncSummary> {
    let mut s = SyncSummary::default();
    let known_schools: HashSet<String> = app.store.school_ids().await?.into_iter().collect();
    s.unknown_schools = schools
        .iter()
        .filter(|id| !known_schools.contains(*id))
        .cloned()
        .collect();
    let all = app.store.groups().await?;
    let known_groups: HashSet<&str> = all.iter().map(|g| g.group.id.as_str()).collect();
    s.unknown_groups = groups
        .iter()
        .filter(|id| !known_groups.contains(id.as_str()))
        .cloned()
        .collect();
    let everything = schools.is_empty() && groups.is_empty();
    for g in &all {
        let picked =
            everything || schools.contains(&g.group.school) || groups.contains(&g.group.id);
        if !picked {
            continue;
        }
        if g.withdrawn {
            *s.skipped.entry("group withdrawn").or_default() += g.group.targets.len() as u64;
            continue;
        }
        for link in app.store.links_of(&g.group.id).await? {
            if target.is_some_and(|t| t != link.target) || !g.group.targets.contains(&link.target) {
                continue;
            }
            if link.state == LinkState::Archived && link.mis_linked {
                *s.skipped.entry("archived").or_default() += 1;
                continue;
            }
            if mis_gate(app, &g.group.academic_year, &link, &mut s.skipped) {
                let (job, fresh) = enqueue(
                    app,
                    JobKind::Reconcile,
                    &g.group.id,
                    link.target,
                    Lane::Operator,
                    Some(actor),
                )
                .await?;
                s.jobs.push(job);
                s.enqueued += fresh as u64;
            }
        }
    }
    let scope = if everything {
        "everything".to_string()
    } else {
        format!("schools {schools:?} groups {groups:?}")
    };
    app.store
        .audit(&audit(
            actor,
            "sync",
            None,
            target,
            "done",
            format!("{scope}: {} jobs", s.enqueued),
        ))
        .await?;
    Ok(s)
}

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
            *s.skipped.entry("year not configured").or_default() += 1;
            continue;
        };
        for link in links.remove(&g.group.id).unwrap_or_default() {
            if app.provider(link.target).is_none() {
                continue;
            }
            if cal.archive_due(app.today()) {
                if !link.mis_linked {
                    *s.skipped.entry(HeldBack::Unlinked.as_str()).or_default() += 1;
                } else if link.remote_id.is_some() && link.state != LinkState::Archived {
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
            let due = matches!(link.state, LinkState::Pending | LinkState::Failed)
                || !link.missing_accounts.is_empty();
            if due && mis_gate(app, &g.group.academic_year, &link, &mut s.skipped) {
                let counted = if link.state == LinkState::Pending {
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
                || link.state == LinkState::Archived
            {
                continue;
            }
            if !link.mis_linked {
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

/// Whether Restore can be pressed on this link (by someone allowed to): it is archived, or a
/// restore of it failed and may be tried again.
pub fn restorable(link: &Link) -> bool {
    link.state == LinkState::Archived
        || (link.state == LinkState::Failed && !link.mis_linked && link.remote_id.is_some())
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
    // nightly archive touches it again. A link that is not `restorable` (checked in that same
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
            .map_or(link.state, |l| l.state);
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
