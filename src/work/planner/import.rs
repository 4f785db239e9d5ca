//! An import (a whole snapshot, or a delta) and a push of one group: store the data, enqueue the
//! MIS work it implies as the calendar allows, count what was held back.

use super::{HeldCounts, LinkWork, audit, enqueue_group_work, link_work};
use crate::app::App;
use crate::core::delta::Delta;
use crate::core::domain::{Group, Snapshot};
use crate::core::job::{JobKind, Lane};
use crate::core::link::Link;
pub use crate::store::GroupChange;
use crate::store::{ImportApplied, NewJob, SchoolImport, StoreResult};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Where an import's data came from: its format and file, as its summary and audit entry say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSource {
    /// `json`, `oneroster bulk` or `oneroster delta`.
    pub format: String,
    /// The file, folder or zip as the operator named it; None when it did not come from one.
    pub file: Option<String>,
}

impl ImportSource {
    pub fn new(format: &str, file: Option<&str>) -> ImportSource {
        ImportSource {
            format: format.to_string(),
            file: file.map(str::to_string),
        }
    }
}

impl std::fmt::Display for ImportSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{} {file}", self.format),
            None => f.write_str(&self.format),
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub source: ImportSource,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub withdrawn: usize,
    pub enqueued: u64,
    pub held_back: HeldCounts,
    /// Schools whose provisioning status it recorded.
    pub schools: usize,
    #[serde(skip)]
    pub applied: ImportApplied,
    /// Every job the import enqueued or found already waiting, to wait for them.
    #[serde(skip)]
    pub jobs: Vec<i64>,
}

/// What pushing one group (the API's `PUT /v1/groups/{id}`) did.
#[derive(Debug, Serialize)]
pub struct PutGroupSummary {
    pub outcome: GroupChange,
    pub enqueued: u64,
    pub held_back: HeldCounts,
}

/// Stores one validated group of a known school and enqueues the work it implies, exactly as an
/// import does for each of its groups (CONTRACT §2: after the cutoff it is recorded, not applied).
/// Unlike an import, it withdraws nothing: one group is not the full state of its school.
pub async fn put_group(app: &App, group: &Group, actor: &str) -> StoreResult<PutGroupSummary> {
    let outcome = app.store.put_group(group).await?;
    let mut held_back = HeldCounts::new();
    let mut jobs = Vec::new();
    let enqueued = enqueue_group_work(
        app,
        group,
        outcome != GroupChange::Unchanged,
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
    import_from(app, snapshot, &ImportSource::new("json", None), actor).await
}

/// [`import`], saying where the snapshot came from (a JSON file or a OneRoster bulk set).
pub async fn import_from(
    app: &App,
    snapshot: &Snapshot,
    source: &ImportSource,
    actor: &str,
) -> StoreResult<ImportSummary> {
    let applied = app.store.import_snapshot(snapshot).await?;
    let touched: HashSet<&str> = applied
        .added
        .iter()
        .chain(&applied.changed)
        .map(String::as_str)
        .collect();
    let mut s = summary_of(&applied, source);
    // A snapshot is the full state of every school it lists: each has had its import.
    let mut schools = PerSchool::covering(snapshot.schools.iter().map(|school| &school.id));
    let imported: Vec<(&Group, bool)> = snapshot
        .groups
        .iter()
        .map(|g| (g, touched.contains(g.id.as_str())))
        .collect();
    enqueue_imported(app, &imported, &mut schools, &mut s.jobs).await?;
    finish_import(app, s, applied, schools, actor).await
}

/// Applies a validated delta in one transaction and enqueues the work it implies for the groups
/// it named, as an import does for its groups; groups it did not name are left alone.
pub async fn import_delta(
    app: &App,
    delta: &Delta,
    source: &ImportSource,
    actor: &str,
) -> StoreResult<ImportSummary> {
    let applied = app.store.apply_delta(delta).await?;
    let mut s = summary_of(&applied, source);
    // A delta has arrived for every school it named, and for the schools of the groups it changed.
    let named_schools = delta.schools.iter().map(|school| &school.id);
    let mut schools = PerSchool::covering(named_schools.chain(applied.by_school.keys()));
    let touched = applied.added.iter().chain(&applied.changed);
    let named: Vec<(&String, bool)> = touched
        .map(|id| (id, true))
        .chain(applied.unchanged.iter().map(|id| (id, false)))
        .collect();
    // Read back: a delta names part of a group; the work is decided on the whole of it.
    let mut stored = Vec::with_capacity(named.len());
    for (id, touched) in named {
        if let Some(group) = app.store.group(id).await? {
            stored.push((group.group, touched));
        }
    }
    let imported: Vec<(&Group, bool)> = stored.iter().map(|(g, t)| (g, *t)).collect();
    enqueue_imported(app, &imported, &mut schools, &mut s.jobs).await?;
    finish_import(app, s, applied, schools, actor).await
}

fn summary_of(applied: &ImportApplied, source: &ImportSource) -> ImportSummary {
    ImportSummary {
        source: source.clone(),
        added: applied.added.len(),
        changed: applied.changed.len(),
        unchanged: applied.unchanged.len(),
        withdrawn: applied.withdrawn.len(),
        ..Default::default()
    }
}

/// Groups whose links one read and one enqueue transaction serve.
const IMPORT_BATCH: usize = 2_000;

/// Enqueues the MIS work of an import's groups (`touched`: its data just changed), a batch at a
/// time: the batch's links read together, its jobs enqueued together (a national import is 100k+
/// groups: not a read and a write transaction each). Counts per school what it enqueued and held.
async fn enqueue_imported(
    app: &App,
    groups: &[(&Group, bool)],
    schools: &mut PerSchool,
    jobs: &mut Vec<i64>,
) -> StoreResult<()> {
    for batch in groups.chunks(IMPORT_BATCH) {
        let ids: Vec<&str> = batch.iter().map(|(g, _)| g.id.as_str()).collect();
        let links = app.store.links_of_groups(&ids).await?;
        let mut by_group: HashMap<&str, Vec<&Link>> = HashMap::with_capacity(batch.len());
        for link in &links {
            by_group
                .entry(link.group_id.as_str())
                .or_default()
                .push(link);
        }
        let mut reconciles: Vec<NewJob> = Vec::new();
        let mut of_school: Vec<&str> = Vec::new();
        for (g, touched) in batch {
            let school = schools.of(&g.school);
            for link in by_group.get(g.id.as_str()).into_iter().flatten() {
                match link_work(app, g, link, *touched, &mut school.held_back) {
                    LinkWork::Reconcile => {
                        reconciles.push(NewJob {
                            kind: JobKind::Reconcile,
                            group_id: g.id.clone(),
                            target: link.target,
                            lane: Lane::Mis,
                            requested_by: None,
                            max_attempts: app.config.worker.max_attempts,
                        });
                        of_school.push(&g.school);
                    }
                    LinkWork::NoteHeld => app.store.note_held_changes(&g.id, link.target).await?,
                    LinkWork::Nothing => {}
                }
            }
        }
        if reconciles.is_empty() {
            continue;
        }
        let enqueued = app.store.enqueue_many(&reconciles, App::now_ms()).await?;
        for (school, (job, fresh)) in of_school.into_iter().zip(enqueued) {
            jobs.push(job);
            schools.of(school).enqueued += fresh as u64;
        }
    }
    Ok(())
}

/// The work an import enqueued and held back, school by school, for each school's provisioning
/// status; the summary's totals are their sums.
struct PerSchool(BTreeMap<String, SchoolWork>);

#[derive(Default)]
struct SchoolWork {
    enqueued: u64,
    held_back: HeldCounts,
}

impl PerSchool {
    fn covering<'a>(schools: impl Iterator<Item = &'a String>) -> PerSchool {
        PerSchool(
            schools
                .map(|id| (id.clone(), SchoolWork::default()))
                .collect(),
        )
    }

    fn of(&mut self, school: &str) -> &mut SchoolWork {
        self.0.entry(school.to_string()).or_default()
    }
}

/// Records the import: each school's provisioning status, the summary's totals, the audit entry.
async fn finish_import(
    app: &App,
    mut s: ImportSummary,
    applied: ImportApplied,
    schools: PerSchool,
    actor: &str,
) -> StoreResult<ImportSummary> {
    let (at, day) = (App::now_ms(), app.today().to_string());
    let mut records = Vec::with_capacity(schools.0.len());
    for (school_id, work) in schools.0 {
        s.enqueued += work.enqueued;
        for (why, n) in &work.held_back {
            *s.held_back.entry(*why).or_default() += n;
        }
        records.push(SchoolImport {
            counts: applied
                .by_school
                .get(&school_id)
                .copied()
                .unwrap_or_default(),
            school_id,
            at,
            day: day.clone(),
            format: s.source.format.clone(),
            file: s.source.file.clone(),
            actor: actor.to_string(),
            enqueued: work.enqueued,
            held_back: work
                .held_back
                .iter()
                .map(|(why, n)| (why.as_str().to_string(), *n))
                .collect(),
        });
    }
    app.store.record_school_imports(&records).await?;
    s.schools = records.len();
    app.store
        .audit(&audit(
            actor,
            "import",
            None,
            None,
            "done",
            format!(
                "{}: {} added, {} changed, {} unchanged, {} withdrawn, {} jobs",
                s.source, s.added, s.changed, s.unchanged, s.withdrawn, s.enqueued
            ),
        ))
        .await?;
    s.applied = applied;
    Ok(s)
}
