//! The operator's forced resync of schools or groups, ahead of bulk work.

use super::{HeldCounts, SkipReason, audit, enqueue, mis_gate};
use crate::app::App;
use crate::core::domain::Target;
use crate::core::job::{JobKind, Lane};
use crate::core::link::LinkState;
use crate::store::{GroupQuery, StoreResult, StoredGroup};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

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
    let everything = schools.is_empty() && groups.is_empty();
    let picked = if everything {
        app.store.groups().await?
    } else {
        // Only the named schools' and groups' rows: a school's resync must not read the whole
        // tenant (100,000 groups at national size).
        let mut picked: BTreeMap<String, StoredGroup> = BTreeMap::new();
        for id in groups {
            match app.store.group(id).await? {
                Some(g) => {
                    picked.insert(g.group.id.clone(), g);
                }
                None => s.unknown_groups.push(id.clone()),
            }
        }
        for school in schools.iter().filter(|id| known_schools.contains(*id)) {
            let mut query = GroupQuery {
                school: Some(school.clone()),
                limit: 1000,
                ..GroupQuery::default()
            };
            loop {
                let page = app.store.visible_groups(&query).await?;
                query.after = page.groups.last().map(|(g, _)| g.group.id.clone());
                for (g, _) in page.groups {
                    picked.insert(g.group.id.clone(), g);
                }
                if !page.more || query.after.is_none() {
                    break;
                }
            }
        }
        picked.into_values().collect()
    };
    for g in &picked {
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
