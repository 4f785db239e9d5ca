//! The seam to the outside worlds: one `Provider` per target (Microsoft Teams, Google Classroom).
//!
//! Architecture Invariant: nothing above this seam knows HTTP status codes, URLs or JSON shapes;
//! nothing below it knows about calendars, jobs or the store.

pub mod classroom;
pub mod graph;

use crate::core::domain::{Group, Target};
use crate::core::roster::{Role, RosterStep};
use crate::remote::error::ProviderError;

/// A member as the remote holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteMember {
    pub email: String,
    pub role: Role,
    /// What the provider needs to remove them (Graph membership id, Classroom user id).
    pub handle: String,
}

/// The remote roster of a team/course, with what the provider needs to change it safely.
#[derive(Clone, Debug, Default)]
pub struct RemoteRoster {
    pub members: Vec<RemoteMember>,
    /// Archived remotely: roster changes are never attempted (Classroom refuses them on ARCHIVED courses).
    pub archived: bool,
    /// Classroom: the owner's user id (the owner must be handed on before they can be removed).
    pub owner: Option<String>,
}

impl RemoteRoster {
    pub fn find(&self, email: &str) -> Option<&RemoteMember> {
        self.members.iter().find(|m| m.email == email)
    }
}

/// What creation found or made.
#[derive(Clone, Debug)]
pub struct Created {
    pub remote_id: String,
    pub archived: bool,
}

/// What `find_or_create` came to.
#[derive(Clone, Debug)]
pub enum Creation {
    /// The team/course exists: found, or made now.
    Ready(Created),
    /// No teacher of the group has an account yet, and a team or course cannot exist without an
    /// owner: nothing was made; the link waits for a teacher's account.
    NeedsOwner,
}

/// What applying a roster change left undone without failing the group.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Accounts that do not exist yet (404): recorded on the link and retried on later runs.
    pub missing_accounts: Vec<String>,
    /// Old teachers not removed because no other owner was there (their successor's account does
    /// not exist yet): still class-sync's, removed by a later run (`roster::OwnerGuard`).
    pub kept: Vec<String>,
}

/// Create-or-find, roster, archive and restore for one target.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn target(&self) -> Target;

    /// Finds the team/course class-sync made for `group`, or creates it. Never makes a second one,
    /// whatever failed before (CONTRACT §7).
    async fn find_or_create(&self, group: &Group) -> Result<Creation, ProviderError>;

    /// The remote roster now.
    async fn roster(&self, remote_id: &str) -> Result<RemoteRoster, ProviderError>;

    /// Applies `steps` in order (owners first, see `roster::diff`).
    async fn apply(
        &self,
        remote_id: &str,
        steps: &[RosterStep],
        current: &RemoteRoster,
    ) -> Result<Applied, ProviderError>;

    /// Archives (members kept). Already archived is success.
    async fn archive(&self, remote_id: &str) -> Result<(), ProviderError>;

    /// Un-archives. Already active is success.
    async fn unarchive(&self, remote_id: &str) -> Result<(), ProviderError>;
}
