//! The documented buckets a request can spend, and the key of a keyed one (team, user).

/// The documented buckets (graph-teams-api.md §6, classroom-api.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BucketId {
    TeamsCreate,
    TeamsWrite,
    TeamsRead,
    /// Keyed by team id: 4 requests per second on any one team.
    PerTeam,
    /// Keyed by team id: `POST /teams/{id}/members`, 4 per minute on one team.
    TeamMemberAdds,
    Education,
    /// Classroom, per client (project).
    ClassroomClient,
    /// Classroom, keyed by impersonated user.
    ClassroomUser,
}

impl BucketId {
    pub const ALL: [BucketId; 8] = [
        BucketId::TeamsCreate,
        BucketId::TeamsWrite,
        BucketId::TeamsRead,
        BucketId::PerTeam,
        BucketId::TeamMemberAdds,
        BucketId::Education,
        BucketId::ClassroomClient,
        BucketId::ClassroomUser,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BucketId::TeamsCreate => "microsoft.teams_create",
            BucketId::TeamsWrite => "microsoft.teams_write",
            BucketId::TeamsRead => "microsoft.teams_read",
            BucketId::PerTeam => "microsoft.per_team",
            BucketId::TeamMemberAdds => "microsoft.team_member_adds",
            BucketId::Education => "microsoft.education",
            BucketId::ClassroomClient => "google.per_client",
            BucketId::ClassroomUser => "google.per_user",
        }
    }

    /// The bucket of a name `name` gives (as peers pass windows on by name).
    pub fn from_name(name: &str) -> Option<BucketId> {
        BucketId::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether every process of the tenant spends this bucket. The per-team ones are spent by one
    /// process at a time: a team belongs to one link, and one link's jobs never run at once.
    pub(super) fn shared(self) -> bool {
        !matches!(self, BucketId::PerTeam | BucketId::TeamMemberAdds)
    }

    /// The window the service counts this bucket's quota over (graph-teams-api.md §6: per second,
    /// owner adds per minute; classroom-api.md §5: per minute).
    pub(super) fn window(self) -> std::time::Duration {
        match self {
            BucketId::TeamMemberAdds | BucketId::ClassroomClient | BucketId::ClassroomUser => {
                std::time::Duration::from_secs(60)
            }
            _ => std::time::Duration::from_secs(1),
        }
    }

    pub(super) fn keyed(self) -> bool {
        matches!(
            self,
            BucketId::PerTeam | BucketId::TeamMemberAdds | BucketId::ClassroomUser
        )
    }
}

/// One bucket a request spends: the bucket and, for keyed ones, the key (team id, user).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BucketKey {
    pub id: BucketId,
    pub key: Option<String>,
}

impl BucketKey {
    pub fn of(id: BucketId) -> Self {
        BucketKey { id, key: None }
    }

    pub fn keyed(id: BucketId, key: impl Into<String>) -> Self {
        BucketKey {
            id,
            key: Some(key.into()),
        }
    }

    pub(super) fn key_str(&self) -> &str {
        self.key.as_deref().unwrap_or("")
    }
}
