//! The operator's forced resync of schools or groups, ahead of bulk work.

use super::{HeldCounts, SkipReason, audit, enqueue, mis_gate};
use crate::app::App;
use crate::core::domain::Target;
use crate::core::job::{JobKind, Lane};
use crate::core::link::LinkState;
use crate::store::StoreResult;
use serde::Serialize;
use std::collections::HashSet;

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
        for link in app.store.links_of(&g.group.id).await? {
            if target.is_some_and(|t| t != link.target) || !g.group.targets.contains(&link.target) {
                continue;
            }
            if g.withdrawn {
                *s.skipped.entry(SkipReason::GroupWithdrawn).or_default() += 1;
                continue;
            }
            if link.state() == LinkState::Archived && link.mis_linked() {
                *s.skipped.entry(SkipReason::Archived).or_default() += 1;
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
