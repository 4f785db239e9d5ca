//! The roster diff: what to add and remove so a team/course matches MIS, in a safe order.
//!
//! Architecture Invariant: owners first. A new teacher is added before an old one is removed, and
//! the last teacher is never removed, so a team is never without an owner (Graph refuses to archive
//! an ownerless team, and Classroom refuses to remove a course's owner). A new teacher who cannot be
//! added yet (no account) does not change that: providers apply the steps through an
//! [`OwnerGuard`], which keeps the old teacher, and the old teacher stays managed.

use std::collections::BTreeSet;

/// Teachers and learners by (lower-case) email.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    pub teachers: BTreeSet<String>,
    pub learners: BTreeSet<String>,
}

impl Roster {
    pub fn new(
        teachers: impl IntoIterator<Item = String>,
        learners: impl IntoIterator<Item = String>,
    ) -> Self {
        let teachers: BTreeSet<String> = teachers.into_iter().collect();
        // Someone listed as both is a teacher: the stronger role wins.
        let learners = learners
            .into_iter()
            .filter(|l| !teachers.contains(l))
            .collect();
        Roster { teachers, learners }
    }

    pub fn role_of(&self, email: &str) -> Option<Role> {
        if self.teachers.contains(email) {
            Some(Role::Teacher)
        } else if self.learners.contains(email) {
            Some(Role::Learner)
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.teachers.len() + self.learners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A member's role: a teacher owns the team / teaches the course; a learner is a member / student.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Teacher,
    Learner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Teacher => "teacher",
            Role::Learner => "learner",
        }
    }
}

/// One step of applying a roster change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RosterStep {
    Add(Role, String),
    Remove(Role, String),
}

/// The steps that take `current` to `desired`, owners first:
/// 1. learners who become teachers stop being learners (never leaves a team ownerless);
/// 2. new teachers are added;
/// 3. old teachers are removed, unless that would leave no teacher at all (MIS names none: then
///    every teacher there stays, in their role);
/// 4. new learners are added;
/// 5. old learners are removed.
pub fn diff(desired: &Roster, current: &Roster) -> Vec<RosterStep> {
    let mut steps = Vec::new();
    let teachers_stay = desired.teachers.is_empty();
    for promoted in desired.teachers.intersection(&current.learners) {
        steps.push(RosterStep::Remove(Role::Learner, promoted.clone()));
    }
    for added in desired.teachers.difference(&current.teachers) {
        steps.push(RosterStep::Add(Role::Teacher, added.clone()));
    }
    if !teachers_stay {
        for removed in current.teachers.difference(&desired.teachers) {
            steps.push(RosterStep::Remove(Role::Teacher, removed.clone()));
        }
    }
    for added in desired.learners.difference(&current.learners) {
        // A teacher who stays is not also added as a learner: one role per member.
        if !(teachers_stay && current.teachers.contains(added)) {
            steps.push(RosterStep::Add(Role::Learner, added.clone()));
        }
    }
    for removed in current.learners.difference(&desired.learners) {
        if !desired.teachers.contains(removed) {
            steps.push(RosterStep::Remove(Role::Learner, removed.clone()));
        }
    }
    steps
}

/// The part of a team's roster class-sync may touch: the people MIS names now (`desired`) and the
/// people class-sync put there itself (`managed`), in the roles the team gives them. Anyone else
/// (added by hand) is left out, so no step of [`diff`] ever names them.
pub fn touchable<'a>(
    desired: &Roster,
    managed: &Roster,
    remote: impl IntoIterator<Item = (Role, &'a str)>,
) -> Roster {
    let known = |e: &str| desired.role_of(e).is_some() || managed.role_of(e).is_some();
    let (mut teachers, mut learners) = (Vec::new(), Vec::new());
    for (role, email) in remote {
        if known(email) {
            match role {
                Role::Teacher => teachers.push(email.to_string()),
                Role::Learner => learners.push(email.to_string()),
            }
        }
    }
    Roster::new(teachers, learners)
}

/// Who class-sync manages once the steps of `diff(desired, current)` were applied: the desired
/// roster, less the accounts that do not exist yet (`missing`: never added, so not ours), and the
/// teachers who stayed so that the team keeps an owner: because MIS names none, or because no new
/// teacher could be added (`kept`, see [`OwnerGuard`]). They are still ours: the first run that
/// finds another owner there removes them.
pub fn managed_after(
    desired: &Roster,
    current: &Roster,
    missing: &BTreeSet<String>,
    kept: &BTreeSet<String>,
) -> Roster {
    let stayed = if desired.teachers.is_empty() {
        current.teachers.clone()
    } else {
        BTreeSet::new()
    };
    Roster::new(
        desired
            .teachers
            .difference(missing)
            .chain(&stayed)
            .chain(kept)
            .cloned(),
        desired.learners.difference(missing).cloned(),
    )
}

/// Keeps a team's last owner while a provider applies the steps of a [`diff`]. The diff adds the
/// new teachers before it removes the old ones, but an addition can fail without failing the run
/// (the new teacher's account does not exist yet): the old teacher is then not removed but kept,
/// and stays managed ([`managed_after`]) until a run finds another owner there.
#[derive(Debug)]
pub struct OwnerGuard {
    owners: usize,
    kept: Vec<String>,
}

impl OwnerGuard {
    /// Before the steps: the team's owners, every teacher there, managed or not.
    pub fn new(owners: usize) -> OwnerGuard {
        OwnerGuard {
            owners,
            kept: Vec::new(),
        }
    }

    /// Whether `step` is to be sent: not the removal of the last owner, nor the addition as a
    /// learner of an owner just kept (one role per member). A removal it admits is counted.
    pub fn admits(&mut self, step: &RosterStep) -> bool {
        match step {
            RosterStep::Remove(Role::Teacher, email) if self.owners <= 1 => {
                self.kept.push(email.clone());
                false
            }
            RosterStep::Remove(Role::Teacher, _) => {
                self.owners -= 1;
                true
            }
            RosterStep::Add(Role::Learner, email) => !self.kept.contains(email),
            _ => true,
        }
    }

    /// A member was added in `role` (their account exists).
    pub fn added(&mut self, role: Role) {
        if role == Role::Teacher {
            self.owners += 1;
        }
    }

    /// The old teachers kept because no other owner was there.
    pub fn kept(self) -> Vec<String> {
        self.kept
    }
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use RosterStep::*;

    fn roster(t: &[&str], l: &[&str]) -> Roster {
        Roster::new(
            t.iter().map(|s| s.to_string()),
            l.iter().map(|s| s.to_string()),
        )
    }

    fn check(desired: Roster, current: Roster, expected: &[RosterStep]) {
        assert_eq!(diff(&desired, &current), expected);
    }

    #[test]
    fn nothing_to_do_when_equal() {
        check(
            roster(&["t"], &["a", "b"]),
            roster(&["t"], &["a", "b"]),
            &[],
        );
    }

    #[test]
    fn creation_adds_everyone_teachers_first() {
        check(
            roster(&["t"], &["a", "b"]),
            Roster::default(),
            &[
                Add(Role::Teacher, "t".into()),
                Add(Role::Learner, "a".into()),
                Add(Role::Learner, "b".into()),
            ],
        );
    }

    #[test]
    fn teacher_swap_adds_the_new_owner_before_removing_the_old() {
        check(
            roster(&["new"], &["a"]),
            roster(&["old"], &["a"]),
            &[
                Add(Role::Teacher, "new".into()),
                Remove(Role::Teacher, "old".into()),
            ],
        );
    }

    #[test]
    fn the_last_teacher_is_never_removed() {
        check(roster(&[], &["a"]), roster(&["old"], &["a"]), &[]);
    }

    /// Found by `properties::the_diff_reaches_a_fixed_point`: MIS names no teacher and lists the
    /// teacher there as a learner. The teacher stays (never the last teacher), and was also asked
    /// for as a learner, a role they cannot hold beside owner: a wasted call on every run, and a
    /// diff that never came to nothing.
    #[test]
    fn a_teacher_who_stays_is_not_also_added_as_a_learner() {
        check(
            roster(&[], &["t", "a"]),
            roster(&["t"], &[]),
            &[Add(Role::Learner, "a".into())],
        );
    }

    /// Found by `properties::run_after_run_class_sync_remembers_whom_it_added`: a teacher who
    /// stayed because MIS named no teacher was dropped from the managed roster, so once MIS named
    /// a new teacher the old one was no longer class-sync's to remove, and stayed an owner for good.
    #[test]
    fn teachers_who_stay_for_want_of_another_stay_managed() {
        let team = [(Role::Teacher, "t"), (Role::Learner, "a")];
        let managed = roster(&["t"], &["a"]);

        let no_teacher = roster(&[], &["a"]);
        let current = touchable(&no_teacher, &managed, team);
        assert_eq!(diff(&no_teacher, &current), []);
        let managed = managed_after(&no_teacher, &current, &BTreeSet::new(), &BTreeSet::new());
        assert_eq!(managed, roster(&["t"], &["a"]), "t stayed, and is ours");

        let new_teacher = roster(&["n"], &["a"]);
        let current = touchable(&new_teacher, &managed, team);
        check(
            new_teacher,
            current,
            &[
                Add(Role::Teacher, "n".into()),
                Remove(Role::Teacher, "t".into()),
            ],
        );
    }

    /// Found by `properties::missing_accounts_never_cost_the_team_its_owner`: a teacher swap whose
    /// new teacher has no account yet removed the old teacher, the team's last owner (Graph refuses:
    /// the run failed and no other change of the roster was made; Classroom kept its owner but
    /// forgot it was class-sync's). The old teacher is kept, and managed, until the new one is there.
    #[test]
    fn the_last_owner_is_kept_when_the_new_teacher_cannot_be_added() {
        let desired = roster(&["new"], &["a"]);
        let current = roster(&["old"], &["b"]);
        let steps = diff(&desired, &current);
        let mut guard = OwnerGuard::new(1);
        let sent: Vec<_> = steps.iter().filter(|s| guard.admits(s)).collect();
        // `new`'s account does not exist: its addition failed, so `guard.added` was never called.
        assert_eq!(
            sent,
            [
                &Add(Role::Teacher, "new".into()),
                &Add(Role::Learner, "a".into()),
                &Remove(Role::Learner, "b".into()),
            ]
        );
        let kept: BTreeSet<String> = guard.kept().into_iter().collect();
        assert_eq!(kept, BTreeSet::from(["old".to_string()]));
        let missing = BTreeSet::from(["new".to_string()]);
        assert_eq!(
            managed_after(&desired, &current, &missing, &kept),
            roster(&["old"], &["a"])
        );

        // Once `new` is there, `old` goes.
        let mut guard = OwnerGuard::new(1);
        guard.added(Role::Teacher);
        assert!(guard.admits(&Remove(Role::Teacher, "old".into())));
        assert!(guard.kept().is_empty());
    }

    #[test]
    fn learner_changes() {
        check(
            roster(&["t"], &["a", "c"]),
            roster(&["t"], &["a", "b"]),
            &[
                Add(Role::Learner, "c".into()),
                Remove(Role::Learner, "b".into()),
            ],
        );
    }

    #[test]
    fn role_changes_keep_an_owner_throughout() {
        // A learner promoted to teacher while the old teacher becomes a learner.
        check(
            roster(&["a"], &["t"]),
            roster(&["t"], &["a"]),
            &[
                Remove(Role::Learner, "a".into()),
                Add(Role::Teacher, "a".into()),
                Remove(Role::Teacher, "t".into()),
                Add(Role::Learner, "t".into()),
            ],
        );
    }

    #[test]
    fn listed_twice_means_teacher() {
        let r = roster(&["t"], &["t", "a"]);
        assert_eq!(r.role_of("t"), Some(Role::Teacher));
        assert_eq!(r.learners.len(), 1);
    }
}
