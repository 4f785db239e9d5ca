//! The Graph fake's data: education classes (each one its Microsoft 365 group and, once
//! teamified, its team) and teamsAsyncOperations, plus the [`Data`] view a handler works on.
//! Plain data; the resources' files hold the behaviour.

use std::collections::HashMap;
use std::time::Instant;

use crate::state::users::{UserIdx, Users};
use crate::state::world::World;

/// Classes, groups, teams and their async operations.
#[derive(Default)]
pub(super) struct GraphState {
    pub(super) classes: Vec<EduClass>,
    pub(super) by_id: HashMap<String, usize>,
    /// Lowercased mailNickname → class (nicknames are unique, case-insensitively).
    pub(super) by_nickname: HashMap<String, usize>,
    pub(super) by_external_id: HashMap<String, Vec<usize>>,
    pub(super) ops: HashMap<String, Operation>,
    /// Operations not yet finished, oldest first.
    pub(super) pending: Vec<String>,
}

/// What a Graph handler works on: the user directory and the Graph data, borrowed from the
/// world together.
pub(super) struct Data<'a> {
    pub(super) users: &'a Users,
    pub(super) graph: &'a mut GraphState,
}

impl<'a> Data<'a> {
    pub(super) fn of(world: &'a mut World) -> Data<'a> {
        Data {
            users: &world.users,
            graph: world.services.get_mut(),
        }
    }
}

/// An education class, which is also its group and, once teamified, its team.
pub(super) struct EduClass {
    pub(super) id: String,
    pub(super) display_name: String,
    pub(super) mail_nickname: String,
    pub(super) external_id: String,
    pub(super) external_name: Option<String>,
    pub(super) external_source: String,
    pub(super) description: Option<String>,
    pub(super) class_code: Option<String>,
    pub(super) created: String,
    /// Group owners = class teachers = team owners.
    pub(super) owners: Vec<UserIdx>,
    /// Non-owner group (and team) members.
    pub(super) members: Vec<UserIdx>,
    pub(super) is_team: bool,
    pub(super) is_archived: bool,
    /// `POST /teams` answers 404 this many more times (replication delay).
    pub(super) replication_404s_left: u32,
    /// A teamify operation is running; another `POST /teams` gets 409.
    pub(super) teamify_running: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    Teamify,
    Archive,
    Unarchive,
}

impl OpKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            OpKind::Teamify => "teamifyGroup",
            OpKind::Archive => "archiveTeam",
            OpKind::Unarchive => "unarchiveTeam",
        }
    }
}

/// A teamsAsyncOperation.
pub(super) struct Operation {
    pub(super) id: String,
    pub(super) class: usize,
    pub(super) kind: OpKind,
    pub(super) created: Instant,
    pub(super) created_at: String,
    pub(super) last_action_at: String,
    pub(super) polled: bool,
    /// Set by [`crate::FaultKind::OperationFailed`]: ends `failed`, without effect.
    pub(super) fails: bool,
    pub(super) done: bool,
}
