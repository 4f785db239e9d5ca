//! The link state machine: one group × one target, and the only way its state changes.
//!
//! `pending → active → archived → restored`, and `failed` (with the reason) from any of them.
//! A link's state and its MIS link are private: they change only through [`Link::apply`], which
//! refuses a move the life of a link does not allow (`LinkState::after`).
//!
//! Architecture Invariant: a restored link is MIS-unlinked for good; nothing here can make it
//! linked again, and no event but a failure moves it on.
//! Architecture Invariant: the rule for when Restore may be pressed is stated once, here
//! (`Link::restorable`); the store applies it inside its atomic grant.

use crate::core::domain::Target;
use crate::core::roster::Roster;
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

    /// The state `event` leads to from this one, or None when the life of a link does not allow
    /// it: every state change goes through here.
    pub fn after(self, event: LinkEvent) -> Option<LinkState> {
        use LinkEvent as E;
        use LinkState::*;
        match (self, event) {
            // Failure can come from anywhere; a failed link is left by whatever its retry reaches.
            (_, E::Failed) => Some(Failed),
            (Pending | Failed, E::Created { archived: false }) => Some(Active),
            // Found already archived (archived remotely, or by an earlier year's run).
            (Pending | Failed, E::Created { archived: true }) => Some(Archived),
            (Pending | Failed, E::AwaitsOwner) => Some(Pending),
            (Active, E::Synced) => Some(Active),
            // The year-end archive, or a team/course found archived remotely. Never a restored one.
            (Pending | Active | Failed, E::Archived) => Some(Archived),
            (Archived | Failed, E::Restored) => Some(Restored),
            _ => None,
        }
    }
}

/// What happened to a link: the events that move it through its states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The team/course was found or made; `archived` when it was found archived.
    Created { archived: bool },
    /// Nothing could be made yet: no teacher has an account, and a team or course needs an owner.
    AwaitsOwner,
    /// The roster was brought in step with MIS data.
    Synced,
    /// Archived: by the year-end job, or seen archived remotely.
    Archived,
    /// Un-archived by the Restore button: MIS-unlinked for good.
    Restored,
    /// A permanent error stopped the link's job (`last_error` says why).
    Failed,
}

/// A move the life of a link does not allow: a bug in the caller, reported instead of applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("link {group_id} ({target}): {event:?} is not allowed while it is {from}")]
pub struct IllegalMove {
    pub group_id: String,
    pub target: Target,
    pub from: LinkState,
    pub event: LinkEvent,
}

/// One group × one target: where its team or course stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub group_id: String,
    pub target: Target,
    state: LinkState,
    pub remote_id: Option<String>,
    mis_linked: bool,
    /// The members class-sync itself put there; only they are ever removed.
    pub managed: Roster,
    pub missing_accounts: Vec<String>,
    /// When the roster was last brought in step (ms since the epoch).
    pub last_sync: Option<i64>,
    pub last_error: Option<String>,
    /// MIS changes arrived after the cutoff: recorded, not applied.
    pub held_changes: bool,
}

impl Link {
    /// A new link: known to class-sync, not yet created remotely, following MIS data.
    pub fn new(group_id: impl Into<String>, target: Target) -> Link {
        Link::stored(group_id, target, LinkState::Pending, true)
    }

    /// A link as the store kept it: its state was reached through this machine when it was saved.
    /// For the store's row mapping only.
    pub fn stored(
        group_id: impl Into<String>,
        target: Target,
        state: LinkState,
        mis_linked: bool,
    ) -> Link {
        Link {
            group_id: group_id.into(),
            target,
            state,
            remote_id: None,
            mis_linked,
            managed: Roster::default(),
            missing_accounts: Vec::new(),
            last_sync: None,
            last_error: None,
            held_changes: false,
        }
    }

    pub fn state(&self) -> LinkState {
        self.state
    }

    /// False once restored (or once a Restore was granted): MIS data never touches it again.
    pub fn mis_linked(&self) -> bool {
        self.mis_linked
    }

    /// Moves the link on by `event`, or refuses a move its life does not allow (nothing changes).
    pub fn apply(&mut self, event: LinkEvent) -> Result<(), IllegalMove> {
        let next = self.state.after(event).ok_or_else(|| IllegalMove {
            group_id: self.group_id.clone(),
            target: self.target,
            from: self.state,
            event,
        })?;
        self.state = next;
        if event == LinkEvent::Restored {
            self.mis_linked = false;
        }
        Ok(())
    }

    /// Whether Restore can be pressed on this link (by someone allowed to): it is archived, or a
    /// restore of it failed (it was unlinked by the grant) and may be tried again.
    pub fn restorable(&self) -> bool {
        match self.state {
            LinkState::Archived => true,
            LinkState::Failed => !self.mis_linked && self.remote_id.is_some(),
            _ => false,
        }
    }

    /// The Restore grant: MIS-unlinks the link for good, before its restore job runs, so a nightly
    /// run in between cannot archive it again. Only a restorable link is granted.
    pub fn grant_restore(&mut self) -> bool {
        if !self.restorable() {
            return false;
        }
        self.mis_linked = false;
        true
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
mod properties;

#[cfg(test)]
mod tests {
    use super::LinkEvent as E;
    use super::LinkState::*;
    use super::*;

    fn link(state: LinkState, mis_linked: bool) -> Link {
        let mut l = Link::stored("g1", Target::Teams, state, mis_linked);
        l.remote_id = Some("r1".into());
        l
    }

    #[test]
    fn the_year_walks_forward() {
        let mut l = Link::new("g1", Target::Teams);
        l.apply(E::Created { archived: false }).unwrap();
        assert_eq!(l.state(), Active);
        l.apply(E::Synced).unwrap();
        l.apply(E::Archived).unwrap();
        assert!(l.restorable());
        l.apply(E::Restored).unwrap();
        assert_eq!(l.state(), Restored);
        assert!(!l.mis_linked(), "restored links are MIS-unlinked");
    }

    #[test]
    fn illegal_moves_are_refused_and_change_nothing() {
        let cases = [
            (Active, E::Restored),
            (Pending, E::Restored),
            (Pending, E::Synced),
            (Archived, E::Synced),
            (Archived, E::Created { archived: false }),
            (Restored, E::Archived),
            (Restored, E::Synced),
            (Restored, E::Created { archived: false }),
            (Active, E::Created { archived: false }),
            (Archived, E::Archived),
        ];
        for (from, event) in cases {
            let mut l = link(from, true);
            let before = l.clone();
            assert!(
                l.apply(event).is_err(),
                "{from} + {event:?} must be refused"
            );
            assert_eq!(l, before, "a refused move changes nothing");
        }
    }

    #[test]
    fn a_team_found_archived_is_archived() {
        let mut l = Link::new("g1", Target::Teams);
        l.apply(E::Created { archived: true }).unwrap();
        assert_eq!(l.state(), Archived);
    }

    #[test]
    fn failure_is_reachable_and_leavable() {
        for s in [Pending, Active, Archived, Restored] {
            assert_eq!(s.after(E::Failed), Some(Failed));
        }
        assert_eq!(Failed.after(E::Created { archived: false }), Some(Active));
        assert_eq!(Failed.after(E::AwaitsOwner), Some(Pending));
        assert_eq!(Failed.after(E::Archived), Some(Archived));
        assert_eq!(Failed.after(E::Restored), Some(Restored));
    }

    #[test]
    fn restore_is_pressed_on_archived_links_or_a_failed_restore() {
        assert!(link(Archived, true).restorable());
        assert!(
            link(Failed, false).restorable(),
            "a failed restore may be tried again"
        );
        assert!(
            !link(Failed, true).restorable(),
            "a failed creation is not restorable"
        );
        for s in [Pending, Active, Restored] {
            assert!(!link(s, true).restorable(), "{s}");
            assert!(!link(s, false).restorable(), "{s}");
        }
        let mut never_created = Link::stored("g1", Target::Teams, Failed, false);
        assert!(!never_created.grant_restore());
        let mut l = link(Archived, true);
        assert!(l.grant_restore());
        assert!(!l.mis_linked());
        assert_eq!(l.state(), Archived, "the grant unlinks; the job restores");
    }

    #[test]
    fn names_round_trip() {
        for s in [Pending, Active, Archived, Restored, Failed] {
            assert_eq!(s.as_str().parse::<LinkState>().unwrap(), s);
        }
        assert!("gone".parse::<LinkState>().is_err());
    }
}
