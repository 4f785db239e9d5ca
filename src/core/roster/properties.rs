//! Properties of the roster diff, checked on arbitrary rosters drawn from a small pool of people
//! (so that overlaps, promotions, empty rosters and people listed twice come up often).
//!
//! The steps are applied to a model of a team as Graph and Classroom hold one: one role per member
//! (owner or member, teacher or student), and the last owner cannot be removed. The model is strict:
//! a step that adds someone already there, removes someone in a role they do not have, or removes
//! the last owner is an error, not a no-op, so a contradictory or unsafe diff cannot pass unseen.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The size of the pool of people the rosters are drawn from.
const POOL: usize = 12;

fn email(i: usize) -> String {
    format!("p{i:02}@school.example")
}

/// A team as the services hold it: each member once, in one role.
type Team = BTreeMap<String, Role>;

fn team_of(roster: &Roster) -> Team {
    let teachers = roster.teachers.iter().map(|e| (e.clone(), Role::Teacher));
    let learners = roster.learners.iter().map(|e| (e.clone(), Role::Learner));
    teachers.chain(learners).collect()
}

fn roster_of(team: &Team) -> Roster {
    let with = |role| team.iter().filter(move |(_, r)| **r == role);
    Roster::new(
        with(Role::Teacher).map(|(e, _)| e.clone()),
        with(Role::Learner).map(|(e, _)| e.clone()),
    )
}

fn owners(team: &Team) -> usize {
    team.values().filter(|r| **r == Role::Teacher).count()
}

/// What one step did to the team.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Done {
    Added,
    Removed,
    /// The account does not exist yet: nothing changed (`Applied::missing_accounts`).
    NoAccount,
    /// Not sent: the [`OwnerGuard`] kept the last owner (or did not add them as a learner too).
    Held,
}

/// Applies one step as the service would, refusing what the diff must never ask.
fn apply(
    team: &mut Team,
    step: &RosterStep,
    no_account: &BTreeSet<String>,
) -> Result<Done, String> {
    match step {
        RosterStep::Add(_, email) if no_account.contains(email) => Ok(Done::NoAccount),
        RosterStep::Add(role, email) => match team.get(email) {
            Some(had) => Err(format!("{step:?}: already there as {had:?}")),
            None => {
                team.insert(email.clone(), *role);
                Ok(Done::Added)
            }
        },
        RosterStep::Remove(role, email) => match team.get(email) {
            Some(had) if had != role => Err(format!("{step:?}: there as {had:?}")),
            None => Err(format!("{step:?}: not there")),
            Some(_) if *role == Role::Teacher && owners(team) == 1 => {
                Err(format!("{step:?}: the last owner cannot be removed"))
            }
            Some(_) => {
                team.remove(email);
                Ok(Done::Removed)
            }
        },
    }
}

fn person() -> impl Strategy<Value = String> {
    (0..POOL).prop_map(email)
}

/// Up to six people from the pool (often none).
fn people() -> impl Strategy<Value = BTreeSet<String>> {
    prop::collection::btree_set(person(), 0..=6)
}

/// A roster as MIS or the store gives one: anyone listed as both teacher and learner is a teacher.
fn roster() -> impl Strategy<Value = Roster> {
    (people(), people()).prop_map(|(t, l)| Roster::new(t, l))
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Teacher), Just(Role::Learner)]
}

/// A team as found remotely: some of its members class-sync put there, some were added by hand.
fn team() -> impl Strategy<Value = Team> {
    prop::collection::btree_map(person(), role(), 0..=8)
}

/// The documented exception to "the result is the desired roster": when MIS names no teacher, the
/// teachers there stay (a team is never left without an owner), in their role.
fn expected(desired: &Roster, current: &Roster) -> Roster {
    if desired.teachers.is_empty() {
        Roster::new(current.teachers.clone(), desired.learners.clone())
    } else {
        desired.clone()
    }
}

/// Applies `steps` in order as a provider does, through an [`OwnerGuard`], checking after each
/// that a team which had an owner still has one. What each step did, and whom the guard kept.
fn apply_all(
    team: &mut Team,
    steps: &[RosterStep],
    no_account: &BTreeSet<String>,
) -> Result<(Vec<Done>, BTreeSet<String>), TestCaseError> {
    let mut guard = OwnerGuard::new(owners(team));
    let mut done = Vec::new();
    for step in steps {
        if !guard.admits(step) {
            done.push(Done::Held);
            continue;
        }
        let had_owner = owners(team) > 0;
        let did = apply(team, step, no_account).map_err(TestCaseError::fail)?;
        if let (Done::Added, RosterStep::Add(role, _)) = (did, step) {
            guard.added(*role);
        }
        done.push(did);
        prop_assert!(
            !had_owner || owners(team) > 0,
            "{step:?} left the team without an owner"
        );
    }
    Ok((done, guard.kept().into_iter().collect()))
}

proptest! {
    /// Applied in order to the current roster, the steps give exactly the desired roster (or the
    /// teachers there stay, when MIS names none), no step is refused or wasted, and a team that
    /// has an owner keeps one at every step.
    #[test]
    fn applying_the_diff_gives_the_desired_roster(desired in roster(), current in roster()) {
        let mut team = team_of(&current);
        let steps = diff(&desired, &current);
        let (done, _) = apply_all(&mut team, &steps, &BTreeSet::new())?;
        prop_assert!(done.iter().all(|d| *d == Done::Added || *d == Done::Removed), "{done:?}");
        prop_assert_eq!(roster_of(&team), expected(&desired, &current));
        if !desired.teachers.is_empty() {
            prop_assert!(owners(&team) > 0, "MIS names a teacher: the team has an owner");
        }
    }

    /// Nothing to do for a roster already in step, and nothing left to do once the steps are applied.
    #[test]
    fn the_diff_reaches_a_fixed_point(desired in roster(), current in roster()) {
        prop_assert_eq!(diff(&desired, &desired), vec![]);
        let mut team = team_of(&current);
        apply_all(&mut team, &diff(&desired, &current), &BTreeSet::new())?;
        prop_assert_eq!(diff(&desired, &roster_of(&team)), vec![]);
    }

    /// Only people MIS names now or class-sync put there are ever named by a step: everyone else in
    /// the team keeps their place and role, and nobody class-sync did not manage leaves the team.
    #[test]
    fn only_people_mis_names_or_class_sync_manages_are_touched(
        before in team(),
        managed in roster(),
        desired in roster(),
    ) {
        let current = touchable(&desired, &managed, before.iter().map(|(e, r)| (*r, e.as_str())));
        let steps = diff(&desired, &current);
        for step in &steps {
            let (RosterStep::Add(_, e) | RosterStep::Remove(_, e)) = step;
            prop_assert!(desired.role_of(e).is_some() || managed.role_of(e).is_some(), "{step:?}");
        }
        let mut team = before.clone();
        let (done, _) = apply_all(&mut team, &steps, &BTreeSet::new())?;
        prop_assert!(done.iter().all(|d| *d == Done::Added || *d == Done::Removed), "{done:?}");
        for (e, role) in &before {
            let ours = desired.role_of(e).is_some() || managed.role_of(e).is_some();
            if !ours {
                prop_assert_eq!(team.get(e), Some(role), "{} was added by hand", e);
            }
            if managed.role_of(e).is_none() {
                prop_assert!(team.contains_key(e), "{} was not class-sync's to remove", e);
            }
        }
    }
}

/// One reconcile as `work::jobs` does it, on the model team: what may be touched, the diff, the
/// steps applied, what class-sync manages afterwards. `ours` follows whom class-sync put there.
fn reconcile(
    team: &mut Team,
    managed: &Roster,
    desired: &Roster,
    no_account: &BTreeSet<String>,
    ours: &mut BTreeSet<String>,
) -> Result<(Roster, BTreeSet<String>), TestCaseError> {
    let current = touchable(desired, managed, team.iter().map(|(e, r)| (*r, e.as_str())));
    let steps = diff(desired, &current);
    let (done, kept) = apply_all(team, &steps, no_account)?;
    let mut missing = BTreeSet::new();
    for (step, done) in steps.iter().zip(done) {
        let (RosterStep::Add(_, e) | RosterStep::Remove(_, e)) = step;
        match done {
            Done::Added => {
                ours.insert(e.clone());
            }
            Done::Removed => {
                ours.remove(e);
            }
            Done::NoAccount => {
                missing.insert(e.clone());
            }
            Done::Held => {}
        }
    }
    Ok((managed_after(desired, &current, &missing, &kept), kept))
}

proptest! {
    /// Run after run (MIS changing the roster each time, every account existing), class-sync keeps
    /// count of everyone it put in the team, so whoever MIS stops naming is removed by a later run,
    /// and the team follows MIS exactly whenever MIS names a teacher.
    #[test]
    fn run_after_run_class_sync_remembers_whom_it_added(
        by_hand in team(),
        runs in prop::collection::vec(roster(), 1..6),
    ) {
        let mut team = by_hand.clone();
        let mut managed = Roster::default();
        let mut ours = BTreeSet::new();
        for desired in &runs {
            let kept;
            (managed, kept) = reconcile(&mut team, &managed, desired, &BTreeSet::new(), &mut ours)?;
            prop_assert!(kept.is_empty(), "every account exists: the guard never holds a step back");
            for e in &ours {
                prop_assert!(managed.role_of(e).is_some(), "{} was added by class-sync, then forgotten", e);
            }
            if !desired.teachers.is_empty() {
                for (e, role) in &team {
                    if ours.contains(e) || desired.role_of(e).is_some() {
                        prop_assert_eq!(desired.role_of(e), Some(*role), "{}", e);
                    }
                }
            }
        }
    }

    /// Accounts that do not exist yet are not added, and a new teacher not there yet never costs
    /// the team its owner: the old one is kept, and class-sync never forgets whom it added. A run
    /// where every teacher MIS names has an account brings the team in step with MIS again.
    #[test]
    fn missing_accounts_never_cost_the_team_its_owner(
        runs in prop::collection::vec((roster(), people()), 1..6),
    ) {
        let mut team = Team::new();
        let mut managed = Roster::default();
        let mut ours = BTreeSet::new();
        for (desired, no_account) in &runs {
            let had_owner = owners(&team) > 0;
            let kept;
            (managed, kept) = reconcile(&mut team, &managed, desired, no_account, &mut ours)?;
            prop_assert!(!had_owner || owners(&team) > 0);
            for e in &ours {
                prop_assert!(managed.role_of(e).is_some(), "{} was added by class-sync, then forgotten", e);
            }
            let teachers_there = desired.teachers.iter().all(|t| !no_account.contains(t));
            if teachers_there && !desired.teachers.is_empty() {
                prop_assert!(kept.is_empty());
                for (e, role) in &team {
                    if ours.contains(e) || desired.role_of(e).is_some() {
                        prop_assert_eq!(desired.role_of(e), Some(*role), "{}", e);
                    }
                }
            }
        }
    }
}
