//! What tests and benchmarks see of the Graph fake: [`TeamView`] snapshots, taken after
//! applying the operations that are due. Read through the facade rather than over HTTP, so
//! they never count as calls.

use std::time::Instant;

use crate::graph::model::Data;
use crate::state::Shared;
use crate::state::users::UserIdx;

/// An education class (and its group and team) as the Graph mock holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamView {
    pub class_id: String,
    pub external_id: String,
    pub display_name: String,
    pub mail_nickname: String,
    /// True once a teamify operation has succeeded.
    pub is_team: bool,
    pub is_archived: bool,
    /// Owners of the class group (= the team's owners), emails, sorted.
    pub owners: Vec<String>,
    /// Non-owner members, emails, sorted.
    pub members: Vec<String>,
    /// The education class's `teachers` collection, emails, sorted. The mock keeps it equal to
    /// `owners`, as the docs describe teachers as the group's owners.
    pub class_teachers: Vec<String>,
}

/// Every class (or those with `external_id`), after applying due operations.
pub(crate) fn team_views(shared: &Shared, external_id: Option<&str>) -> Vec<TeamView> {
    let mut world = shared.world();
    let w = Data::of(&mut world);
    w.graph.settle(Instant::now(), shared.opts.operation_delay);
    let emails = |list: &[UserIdx]| {
        let mut out: Vec<String> = list.iter().map(|&u| w.users.email(u)).collect();
        out.sort();
        out
    };
    w.graph
        .classes
        .iter()
        .filter(|c| external_id.is_none_or(|e| c.external_id == e))
        .map(|c| TeamView {
            class_id: c.id.clone(),
            external_id: c.external_id.clone(),
            display_name: c.display_name.clone(),
            mail_nickname: c.mail_nickname.clone(),
            is_team: c.is_team,
            is_archived: c.is_archived,
            owners: emails(&c.owners),
            members: emails(&c.members),
            class_teachers: emails(&c.owners),
        })
        .collect()
}
