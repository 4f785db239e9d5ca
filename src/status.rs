//! The read side for operators: the `status` documents, overall (links by year and state, the
//! queue, live workers, the last nightly runs, recent audit, stale schools), for one group, and the
//! provisioning status of schools (each one's last import, whether its data has stopped arriving).
//!
//! These types are what `GET /v1/status` and `GET /v1/groups/{id}` return, what `status --json`
//! prints and what the OpenAPI document describes: one definition, so the three cannot drift.
//! Printing them for people and choosing exit statuses belongs to `cli`.

use crate::core::domain::Target;
use crate::core::link::Link;
use crate::core::link::LinkState;
use crate::store::{AuditEntry, Run, SchoolImport, Store, StoreResult, WorkerInfo};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
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
    /// The entry's place in the log (`GET /v1/audit` pages by it); absent in the status document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
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
    /// Provisioning status in brief: how many schools are known and how many are stale.
    pub schools: SchoolsSummaryDocument,
}

/// The schools whose data has stopped arriving, for the overall status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolsSummaryDocument {
    pub known: u64,
    /// Schools with no import for `stale_after_days` or more (or none ever recorded).
    pub stale: u64,
    pub stale_after_days: u32,
    /// The stalest schools first (never imported, then the oldest import), at most
    /// `STALE_LISTED`; `GET /v1/schools` has them all.
    pub stalest: Vec<String>,
}

/// Stale schools named in the overall status; the rest are counted.
pub const STALE_LISTED: usize = 20;

/// One import as one school saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolImportDocument {
    /// RFC 3339: when it ran.
    pub at: Option<String>,
    /// The date the calendar rules used (`YYYY-MM-DD`), from which staleness is counted.
    pub day: String,
    /// `json`, `oneroster bulk` or `oneroster delta`.
    pub format: String,
    /// The file, folder or zip imported; null when it came from elsewhere.
    pub file: Option<String>,
    pub actor: String,
    /// The school's groups it added, changed, left unchanged and withdrew.
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    /// Jobs it enqueued for the school's groups.
    pub enqueued: u64,
    /// Links whose work it held back, by reason (`before new_groups_from`,
    /// `after mis_sync_cutoff`, `restored (MIS-unlinked)`, `target not configured`,
    /// `year not configured`).
    pub held_back: BTreeMap<String, u64>,
}

/// A school's provisioning status: its last import and whether its data has stopped arriving;
/// with its recent history when one school is asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolStatusDocument {
    pub school: String,
    pub name: String,
    /// Null when no import has been recorded for it.
    pub last_import: Option<SchoolImportDocument>,
    /// Whole days from the last import's day to today; null when none.
    pub days_since_import: Option<i64>,
    /// No import for `[import] stale_after_days` or more, or none recorded.
    pub stale: bool,
    /// Newest first (`GET /v1/schools/{id}`, `status --school`); absent in lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<SchoolImportDocument>>,
}

/// `GET /v1/schools`: every known school with its last import, a page at a time, in id order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolsDocument {
    /// The date staleness is counted to.
    pub today: String,
    pub stale_after_days: u32,
    pub schools: Vec<SchoolStatusDocument>,
    /// The id to pass as `after` for the next page; null on the last page.
    pub next: Option<String>,
    /// Known schools in all.
    pub total: u64,
}

/// How provisioning status is judged: the date to count to and the configured limit.
#[derive(Clone, Copy, Debug)]
pub struct Staleness {
    pub today: NaiveDate,
    pub after_days: u32,
}

impl Staleness {
    /// Whole days since `day` (a stored `YYYY-MM-DD`); None when it is not a date.
    pub fn days_since(&self, day: &str) -> Option<i64> {
        // `NaiveDate`'s own ISO 8601 parser: a format string would be parsed again for each of a
        // national status page's 1,500 schools.
        let day: NaiveDate = day.parse().ok()?;
        Some((self.today - day).num_days())
    }

    /// A school is stale when its last import is `after_days` or more days old, or it has none: the
    /// provisioning client runs weekly, so a day past a week means a missed run.
    pub fn is_stale(&self, last_day: Option<&str>) -> bool {
        match last_day.map(|d| self.days_since(d)) {
            Some(Some(days)) => days >= i64::from(self.after_days),
            // No import, or a day no version writes: nothing tells us its data is current.
            _ => true,
        }
    }
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
    /// `[import] stale_after_days`.
    pub stale_after_days: u32,
}

/// One group's document, or None when there is no such group.
pub async fn group(store: &dyn Store, group_id: &str) -> StoreResult<Option<GroupDocument>> {
    let Some((g, links)) = store.group_shown(group_id).await? else {
        return Ok(None);
    };
    let links = links.iter().map(link).collect();
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
    let counts = Counts::read(store).await?;
    overall_with(store, query, &counts).await
}

/// The overall document with `counts` already read (a `CountsCache`'s, in `serve`).
pub async fn overall_with(
    store: &dyn Store,
    query: StatusQuery,
    counts: &Counts,
) -> StoreResult<StatusDocument> {
    let (links, queue) = (counts.links.clone(), counts.queue.clone());
    let recent_audit = store.audit_log(query.audit_entries).await?;
    Ok(StatusDocument {
        today: query.today.to_string(),
        links,
        queue,
        workers: counts
            .workers
            .iter()
            .filter(|w| w.seen_at >= query.workers_seen_since_ms)
            .cloned()
            .map(worker)
            .collect(),
        last_nightly: counts.last_nightly.clone().map(run),
        last_successful_nightly: counts.last_successful_nightly.clone().map(run),
        recent_audit: recent_audit.into_iter().map(audit).collect(),
        schools: schools_summary(
            &counts.last_imports,
            Staleness {
                today: query.today,
                after_days: query.stale_after_days,
            },
        ),
    })
}

fn schools_summary(
    days: &[(String, Option<(String, i64)>)],
    staleness: Staleness,
) -> SchoolsSummaryDocument {
    let mut stale: Vec<(&str, Option<&str>)> = days
        .iter()
        .map(|(id, last)| (id.as_str(), last.as_ref().map(|(day, _)| day.as_str())))
        .filter(|(_, day)| staleness.is_stale(*day))
        .collect();
    // Never imported first (None sorts before Some), then the oldest day.
    stale.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)));
    SchoolsSummaryDocument {
        known: days.len() as u64,
        stale: stale.len() as u64,
        stale_after_days: staleness.after_days,
        stalest: stale
            .iter()
            .take(STALE_LISTED)
            .map(|(id, _)| id.to_string())
            .collect(),
    }
}

/// `GET /v1/audit`: the audit log a page at a time, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditPageDocument {
    pub entries: Vec<AuditDocument>,
    /// The id to pass as `after` for the next (older) page; null on the last page.
    pub next: Option<i64>,
    /// Entries in the whole log.
    pub total: u64,
}

/// Up to `limit` audit entries older than the entry `after` (from the newest when None).
pub async fn audit_page(
    store: &dyn Store,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<AuditPageDocument> {
    // One more than asked tells whether another page follows.
    let (mut page, total) = store.audit_page(after, limit + 1).await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = more.then(|| page.last().map(|(id, _)| *id)).flatten();
    Ok(AuditPageDocument {
        entries: page
            .into_iter()
            .map(|(id, entry)| AuditDocument {
                id: Some(id),
                ..audit(entry)
            })
            .collect(),
        next,
        total,
    })
}

/// Imports of one school shown in its history.
pub const SCHOOL_HISTORY: u32 = 20;

/// One school's provisioning status with its recent history, or None when the school is unknown.
pub async fn school(
    store: &dyn Store,
    school_id: &str,
    staleness: Staleness,
) -> StoreResult<Option<SchoolStatusDocument>> {
    let Some(known) = store.school(school_id).await? else {
        return Ok(None);
    };
    let history: Vec<SchoolImportDocument> = store
        .school_imports(school_id, SCHOOL_HISTORY)
        .await?
        .into_iter()
        .map(school_import)
        .collect();
    let mut doc = school_status(known.id, known.name, history.first().cloned(), staleness);
    doc.history = Some(history);
    Ok(Some(doc))
}

/// Every known school with its last import, `limit` at a time after the school id `after`.
pub async fn schools(
    store: &dyn Store,
    staleness: Staleness,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<SchoolsDocument> {
    // One more than asked tells whether another page follows; the count is read beside it.
    let (mut page, total) = tokio::try_join!(
        store.schools_with_last_import(after, limit + 1),
        store.school_count()
    )?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let schools: Vec<SchoolStatusDocument> = page
        .into_iter()
        .map(|s| school_status(s.school_id, s.name, s.last.map(school_import), staleness))
        .collect();
    Ok(SchoolsDocument {
        today: staleness.today.to_string(),
        stale_after_days: staleness.after_days,
        next: more
            .then(|| schools.last().map(|s| s.school.clone()))
            .flatten(),
        schools,
        total,
    })
}

fn school_status(
    school: String,
    name: String,
    last: Option<SchoolImportDocument>,
    staleness: Staleness,
) -> SchoolStatusDocument {
    let day = last.as_ref().map(|l| l.day.as_str());
    SchoolStatusDocument {
        days_since_import: day.and_then(|d| staleness.days_since(d)),
        stale: staleness.is_stale(day),
        school,
        name,
        last_import: last,
        history: None,
    }
}

fn school_import(i: SchoolImport) -> SchoolImportDocument {
    SchoolImportDocument {
        at: rfc3339(i.at),
        day: i.day,
        format: i.format,
        file: i.file,
        actor: i.actor,
        added: i.counts.added,
        changed: i.counts.changed,
        unchanged: i.counts.unchanged,
        withdrawn: i.counts.withdrawn,
        enqueued: i.enqueued,
        held_back: i.held_back,
    }
}

/// What the overall status reads whoever asks: links by year and state, jobs by kind and state
/// (at national size each counts 100k+ rows), each known school's last import day and time (one
/// row a school, behind the stale schools; ~10 ms at 1,500 schools on PostgreSQL), the registered
/// workers and the last nightly runs. `serve` keeps them a moment (`CountsCache`) rather than read
/// them for every request; only the audit entries, whose number the caller chooses, are read each
/// time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub links: BTreeMap<String, BTreeMap<String, u64>>,
    pub queue: BTreeMap<String, BTreeMap<String, u64>>,
    pub last_imports: Vec<(String, Option<(String, i64)>)>,
    /// Every registered worker; the document shows those seen within the liveness window.
    pub workers: Vec<WorkerInfo>,
    pub last_nightly: Option<Run>,
    pub last_successful_nightly: Option<Run>,
}

impl Counts {
    pub async fn read(store: &dyn Store) -> StoreResult<Counts> {
        let (link_counts, job_counts, last_imports, workers, last_nightly, last_successful_nightly) =
            tokio::try_join!(
                store.link_counts(),
                store.job_counts(),
                store.last_import_days(),
                store.live_workers(i64::MIN),
                store.last_run("nightly", false),
                store.last_run("nightly", true),
            )?;
        let mut counts = Counts {
            last_imports,
            workers,
            last_nightly,
            last_successful_nightly,
            ..Counts::default()
        };
        for (year, state, n) in link_counts {
            counts.links.entry(year).or_default().insert(state, n);
        }
        for (kind, state, n) in job_counts {
            counts.queue.entry(kind).or_default().insert(state, n);
        }
        Ok(counts)
    }
}

/// Counts and when they were read.
type CountedAt = (std::time::Instant, Arc<Counts>);

/// The status counts kept for a moment, for `serve`: a status page open all night, or fifty at
/// once, must not count every link and job (nor read every school's last import) once per request. A request within `fresh_for` of the
/// last count gets it; a later one gets it too while one refresh runs in the background (at most
/// one at a time); only the first request of all waits for a count.
#[derive(Clone)]
pub struct CountsCache {
    fresh_for: std::time::Duration,
    latest: Arc<tokio::sync::Mutex<Option<CountedAt>>>,
    refreshing: Arc<std::sync::atomic::AtomicBool>,
}

impl CountsCache {
    pub fn new(fresh_for: std::time::Duration) -> CountsCache {
        CountsCache {
            fresh_for,
            latest: Arc::default(),
            refreshing: Arc::default(),
        }
    }

    pub async fn get(&self, store: &Arc<dyn Store>) -> StoreResult<Arc<Counts>> {
        use std::sync::atomic::Ordering;
        let mut latest = self.latest.lock().await;
        let Some((at, counts)) = latest
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.fresh_for * 5)
        else {
            // The first count, or one too old to show after a quiet spell: everyone waits for it
            // (the lock is held across it).
            let counts = Arc::new(Counts::read(&**store).await?);
            *latest = Some((std::time::Instant::now(), counts.clone()));
            return Ok(counts);
        };
        let counts = counts.clone();
        if at.elapsed() >= self.fresh_for && !self.refreshing.swap(true, Ordering::AcqRel) {
            let (store, cache) = (store.clone(), self.clone());
            tokio::spawn(async move {
                match Counts::read(&*store).await {
                    Ok(fresh) => {
                        *cache.latest.lock().await =
                            Some((std::time::Instant::now(), Arc::new(fresh)));
                    }
                    Err(e) => tracing::warn!(error = %e, "could not refresh the status counts"),
                }
                cache.refreshing.store(false, Ordering::Release);
            });
        }
        Ok(counts)
    }
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
        id: None,
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
