//! Properties of the link state machine: arbitrary links driven by arbitrary sequences of events
//! and Restore grants.

use super::LinkEvent as E;
use super::LinkState::*;
use super::*;
use proptest::prelude::*;

/// The moves the life of a link allows (the module's documentation, written out once more):
/// `pending → active → archived → restored`, a link found archived, waiting for an owner, a
/// roster synced while active, and `failed` from anywhere, left by whatever its retry reaches.
fn allowed(from: LinkState, event: LinkEvent) -> Option<LinkState> {
    match (from, event) {
        (_, E::Failed) => Some(Failed),
        (Pending | Failed, E::Created { archived }) => {
            Some(if archived { Archived } else { Active })
        }
        (Pending | Failed, E::AwaitsOwner) => Some(Pending),
        (Active, E::Synced) => Some(Active),
        (Pending | Active | Failed, E::Archived) => Some(Archived),
        (Archived | Failed, E::Restored) => Some(Restored),
        _ => None,
    }
}

const STATES: [LinkState; 5] = [Pending, Active, Archived, Restored, Failed];

fn state() -> impl Strategy<Value = LinkState> {
    prop::sample::select(STATES.to_vec())
}

fn event() -> impl Strategy<Value = LinkEvent> {
    prop_oneof![
        any::<bool>().prop_map(|archived| E::Created { archived }),
        Just(E::AwaitsOwner),
        Just(E::Synced),
        Just(E::Archived),
        Just(E::Restored),
        Just(E::Failed),
    ]
}

/// What may happen to a link: an event, or the Restore button's grant.
#[derive(Clone, Debug)]
enum Action {
    Event(LinkEvent),
    Grant,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![4 => event().prop_map(Action::Event), 1 => Just(Action::Grant)]
}

/// A link as the store might hold one: any state, linked or not, created remotely or not.
fn link() -> impl Strategy<Value = Link> {
    (state(), any::<bool>(), any::<bool>()).prop_map(|(state, mis_linked, created)| {
        let mut l = Link::stored("g1", Target::Teams, state, mis_linked);
        l.remote_id = created.then(|| "r1".to_string());
        l
    })
}

proptest! {
    /// Every move `apply` makes is one the table lists, to the state it lists; every other move is
    /// refused and leaves the link exactly as it was. Once MIS-unlinked, a link stays unlinked; it
    /// is unlinked by a restore (or its grant) only; a restored link moves on only by failing.
    #[test]
    fn links_move_only_as_the_table_allows(
        start in link(),
        actions in prop::collection::vec(action(), 0..24),
    ) {
        let mut l = start;
        for action in actions {
            let before = l.clone();
            match action {
                Action::Event(event) => match (l.apply(event), allowed(before.state(), event)) {
                    (Ok(()), Some(to)) => {
                        prop_assert_eq!(l.state(), to);
                        let unlinked_here = before.mis_linked() && !l.mis_linked();
                        prop_assert!(!unlinked_here || event == E::Restored);
                        if event == E::Restored {
                            prop_assert!(!l.mis_linked(), "a restored link is MIS-unlinked");
                        }
                        if before.state() == Restored {
                            prop_assert_eq!(event, E::Failed);
                        }
                    }
                    (Err(e), None) => {
                        prop_assert_eq!(&l, &before, "a refused move changes nothing");
                        prop_assert_eq!((e.from, e.event), (before.state(), event));
                    }
                    (got, table) => {
                        prop_assert!(false, "{:?} + {:?}: apply {:?}, table {:?}", before.state(), event, got, table);
                    }
                },
                Action::Grant => {
                    let restorable = before.restorable();
                    prop_assert_eq!(l.grant_restore(), restorable);
                    prop_assert_eq!(l.state(), before.state(), "the grant never moves the state");
                    prop_assert_eq!(l.mis_linked(), before.mis_linked() && !restorable);
                }
            }
            prop_assert!(before.mis_linked() || !l.mis_linked(), "{:?} linked it again", action);
        }
    }

    /// Restore may be pressed on an archived link, or again after a restore that failed (unlinked
    /// by its grant, created remotely): never on anything else.
    #[test]
    fn restorable_is_archived_or_a_failed_restore(l in link()) {
        let expected = l.state() == Archived
            || (l.state() == Failed && !l.mis_linked() && l.remote_id.is_some());
        prop_assert_eq!(l.restorable(), expected);
    }

    /// A new link, whatever happens to it, is MIS-linked until a restore is granted or done, and
    /// stays unlinked from then on.
    #[test]
    fn a_new_link_is_linked_until_restored(actions in prop::collection::vec(action(), 0..24)) {
        let mut l = Link::new("g1", Target::Teams);
        let mut unlinked = false;
        for action in actions {
            match action {
                Action::Event(event) => {
                    let accepted = l.apply(event).is_ok();
                    unlinked |= accepted && event == E::Restored;
                }
                Action::Grant => unlinked |= l.grant_restore(),
            }
            prop_assert_eq!(l.mis_linked(), !unlinked);
        }
    }
}

/// The table above and `LinkState::after` agree on every pair of a state and an event (all 35 of
/// them, so not sampled).
#[test]
fn the_table_is_the_machine() {
    let events = [
        E::Created { archived: false },
        E::Created { archived: true },
        E::AwaitsOwner,
        E::Synced,
        E::Archived,
        E::Restored,
        E::Failed,
    ];
    for from in STATES {
        for event in events {
            assert_eq!(
                from.after(event),
                allowed(from, event),
                "{from} + {event:?}"
            );
        }
    }
}
