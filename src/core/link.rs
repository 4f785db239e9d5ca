//! The link state machine: one group × one target.
//!
//! `pending → active → archived → restored`, and `failed` (with the reason) from any of them.
//! Architecture Invariant: a restored link is MIS-unlinked for good; nothing here can make it linked again.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a link stands, as `status` and the API show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Known to class-sync, not yet created remotely (waiting for its creation date, an owner, or a worker).
    Pending,
    /// The team/course exists and follows MIS data (until the cutoff).
    Active,
    /// Archived at year end (members kept).
    Archived,
    /// Un-archived by the Restore button; MIS-unlinked for good.
    Restored,
    /// A permanent error stopped it; `last_error` says why. `sync` retries it.
    Failed,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Pending => "pending",
            LinkState::Active => "active",
            LinkState::Archived => "archived",
            LinkState::Restored => "restored",
            LinkState::Failed => "failed",
        }
    }

    /// Whether a transition is one the life of a link allows. `Failed` can be entered from anywhere and
    /// left for whatever the retried action reaches.
    pub fn can_become(self, next: LinkState) -> bool {
        use LinkState::*;
        matches!(
            (self, next),
            (Pending, Active)
                | (Active, Archived)
                | (Archived, Restored)
                | (_, Failed)
                | (Failed, _)
        ) || self == next
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LinkState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "pending" => LinkState::Pending,
            "active" => LinkState::Active,
            "archived" => LinkState::Archived,
            "restored" => LinkState::Restored,
            "failed" => LinkState::Failed,
            other => return Err(format!("unknown link state `{other}`")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LinkState::*;

    #[test]
    fn the_year_walks_forward_only() {
        assert!(Pending.can_become(Active));
        assert!(Active.can_become(Archived));
        assert!(Archived.can_become(Restored));
        assert!(!Active.can_become(Restored));
        assert!(!Pending.can_become(Archived));
        assert!(!Restored.can_become(Active));
        assert!(
            !Restored.can_become(Archived),
            "restored links are never archived again"
        );
        assert!(!Archived.can_become(Active));
    }

    #[test]
    fn failure_is_reachable_and_leavable() {
        for s in [Pending, Active, Archived, Restored] {
            assert!(s.can_become(Failed));
            assert!(Failed.can_become(s));
        }
    }

    #[test]
    fn names_round_trip() {
        for s in [Pending, Active, Archived, Restored, Failed] {
            assert_eq!(s.as_str().parse::<super::LinkState>().unwrap(), s);
        }
        assert!("gone".parse::<super::LinkState>().is_err());
    }
}
