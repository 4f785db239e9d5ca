//! An import (a whole snapshot, or a delta) and a push of one group: store the data, enqueue the
//! MIS work it implies as the calendar allows, count what was held back.

use super::{HeldCounts, audit, enqueue_group_work};
use crate::app::App;
use crate::core::delta::Delta;
use crate::core::domain::{Group, Snapshot};
pub use crate::store::GroupChange;
use crate::store::{ImportApplied, StoreResult};
use serde::Serialize;
use std::collections::HashSet;

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
    finish_import(app, s, applied, actor).await
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
    let touched = applied.added.iter().chain(&applied.changed);
    let named = touched
        .map(|id| (id, true))
        .chain(applied.unchanged.iter().map(|id| (id, false)));
    for (id, touched) in named {
        // Read back: a delta names part of a group; the work is decided on the whole of it.
        let Some(stored) = app.store.group(id).await? else {
            continue;
        };
        s.enqueued +=
            enqueue_group_work(app, &stored.group, touched, &mut s.held_back, &mut s.jobs).await?;
    }
    finish_import(app, s, applied, actor).await
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

async fn finish_import(
    app: &App,
    mut s: ImportSummary,
    applied: ImportApplied,
    actor: &str,
) -> StoreResult<ImportSummary> {
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
