//! An import (a whole snapshot) and a push of one group: store the data, enqueue the MIS work it
//! implies as the calendar allows, count what was held back.

use super::{HeldCounts, audit, enqueue_group_work};
use crate::app::App;
use crate::core::domain::{Group, Snapshot};
pub use crate::store::GroupChange;
use crate::store::{ImportApplied, StoreResult};
use serde::Serialize;
use std::collections::HashSet;

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
