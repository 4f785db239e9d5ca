//! A fake [`Provider`] for unit tests of jobs and the planner: it keeps the remote teams/courses in
//! memory, answers as it is told, and records every call so a test can say what was — and was
//! not — asked of Microsoft or Google.

use crate::core::domain::{Group, Target};
use crate::core::roster::{OwnerGuard, Role, RosterStep};
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::providers::{Applied, Created, Creation, Provider, RemoteMember, RemoteRoster};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

/// One call the fake received, with what it was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// `find_or_create`, by group id.
    FindOrCreate(String),
    Roster(String),
    Apply(String, Vec<RosterStep>),
    Archive(String),
    Unarchive(String),
}

/// The provider operations, to tell the fake which one to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    FindOrCreate,
    Roster,
    Apply,
    Archive,
    Unarchive,
}

/// An in-memory Teams or Classroom.
pub(crate) struct FakeProvider {
    target: Target,
    state: Mutex<Remote>,
}

#[derive(Default)]
struct Remote {
    /// Teams/courses by remote id.
    teams: BTreeMap<String, RemoteRoster>,
    /// Forces the answer of `find_or_create` (otherwise: found or made at [`FakeProvider::remote_id_of`]).
    creation: Option<Creation>,
    /// Emails with no account yet: `apply` reports them missing instead of adding them.
    no_account: BTreeSet<String>,
    failures: HashMap<Op, ErrorKind>,
    calls: Vec<Call>,
}

impl FakeProvider {
    pub(crate) fn new(target: Target) -> FakeProvider {
        FakeProvider {
            target,
            state: Mutex::new(Remote::default()),
        }
    }

    /// The id the fake gives the team/course it makes for `group_id`.
    pub(crate) fn remote_id_of(group_id: &str) -> String {
        format!("remote-{group_id}")
    }

    fn remote(&self) -> std::sync::MutexGuard<'_, Remote> {
        self.state.lock().expect("fake provider lock")
    }

    /// Makes `find_or_create` answer `creation` from now on.
    pub(crate) fn answer_creation(&self, creation: Creation) {
        self.remote().creation = Some(creation);
    }

    /// Puts a team/course there already, as if made earlier (or by hand).
    pub(crate) fn put_team(&self, remote_id: &str, roster: RemoteRoster) {
        self.remote().teams.insert(remote_id.to_string(), roster);
    }

    /// The team/course as it is now.
    pub(crate) fn team(&self, remote_id: &str) -> Option<RemoteRoster> {
        self.remote().teams.get(remote_id).cloned()
    }

    /// `email` has no account yet: adding it is reported as a missing account.
    pub(crate) fn without_account(&self, email: &str) {
        self.remote().no_account.insert(email.to_string());
    }

    /// `email`'s account has been made: adding it works from now on.
    pub(crate) fn account_created(&self, email: &str) {
        self.remote().no_account.remove(email);
    }

    /// Every later `op` fails with an error of `kind` (the call is still recorded).
    pub(crate) fn fail(&self, op: Op, kind: ErrorKind) {
        self.remote().failures.insert(op, kind);
    }

    /// Every call so far, in order.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.remote().calls.clone()
    }

    /// Records `call` and fails it if told to.
    fn enter(
        &self,
        op: Op,
        call: Call,
    ) -> Result<std::sync::MutexGuard<'_, Remote>, ProviderError> {
        let mut remote = self.remote();
        remote.calls.push(call);
        match remote.failures.get(&op) {
            Some(&kind) => Err(ProviderError::new(
                kind,
                "FakeError",
                format!("the fake was told to fail {op:?} with {kind}"),
            )),
            None => Ok(remote),
        }
    }
}

/// A member as the fake's remote holds them.
pub(crate) fn member(email: &str, role: Role) -> RemoteMember {
    RemoteMember {
        email: email.to_string(),
        role,
        handle: format!("handle-{email}"),
    }
}

fn not_found(remote_id: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::NotFound,
        "NotFound",
        format!("no team/course {remote_id}"),
    )
}

#[async_trait::async_trait]
impl Provider for FakeProvider {
    fn target(&self) -> Target {
        self.target
    }

    async fn find_or_create(&self, group: &Group) -> Result<Creation, ProviderError> {
        let mut remote = self.enter(Op::FindOrCreate, Call::FindOrCreate(group.id.clone()))?;
        if let Some(answer) = remote.creation.clone() {
            return Ok(answer);
        }
        let remote_id = FakeProvider::remote_id_of(&group.id);
        let team = remote.teams.entry(remote_id.clone()).or_default();
        Ok(Creation::Ready(Created {
            remote_id,
            archived: team.archived,
        }))
    }

    async fn roster(&self, remote_id: &str) -> Result<RemoteRoster, ProviderError> {
        let remote = self.enter(Op::Roster, Call::Roster(remote_id.to_string()))?;
        remote
            .teams
            .get(remote_id)
            .cloned()
            .ok_or_else(|| not_found(remote_id))
    }

    async fn apply(
        &self,
        remote_id: &str,
        steps: &[RosterStep],
        _current: &RemoteRoster,
    ) -> Result<Applied, ProviderError> {
        let mut remote = self.enter(
            Op::Apply,
            Call::Apply(remote_id.to_string(), steps.to_vec()),
        )?;
        let Remote {
            teams, no_account, ..
        } = &mut *remote;
        let team = teams
            .get_mut(remote_id)
            .ok_or_else(|| not_found(remote_id))?;
        let mut applied = Applied::default();
        // As Graph: the last owner is kept when no new teacher could be added.
        let owners = team.members.iter().filter(|m| m.role == Role::Teacher);
        let mut guard = OwnerGuard::new(owners.count());
        for step in steps {
            if !guard.admits(step) {
                continue;
            }
            match step {
                RosterStep::Add(_, email) if no_account.contains(email) => {
                    applied.missing_accounts.push(email.clone());
                }
                RosterStep::Add(role, email) => {
                    team.members.push(member(email, *role));
                    guard.added(*role);
                }
                RosterStep::Remove(role, email) => team
                    .members
                    .retain(|m| !(m.email == *email && m.role == *role)),
            }
        }
        applied.kept = guard.kept();
        Ok(applied)
    }

    async fn archive(&self, remote_id: &str) -> Result<(), ProviderError> {
        let mut remote = self.enter(Op::Archive, Call::Archive(remote_id.to_string()))?;
        let team = remote
            .teams
            .get_mut(remote_id)
            .ok_or_else(|| not_found(remote_id))?;
        team.archived = true;
        Ok(())
    }

    async fn unarchive(&self, remote_id: &str) -> Result<(), ProviderError> {
        let mut remote = self.enter(Op::Unarchive, Call::Unarchive(remote_id.to_string()))?;
        let team = remote
            .teams
            .get_mut(remote_id)
            .ok_or_else(|| not_found(remote_id))?;
        team.archived = false;
        Ok(())
    }
}
