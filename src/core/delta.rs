//! A change set that carries only what changed (a OneRoster delta, CONTRACT §4), as plain data, and
//! the pure merge of one change into what is stored. Unlike a snapshot, a delta is not the full
//! state of anything: groups it does not name are left as they are.
//!
//! The store applies a whole [`Delta`] in one transaction, reading each named school and group and
//! merging with [`SchoolDelta::apply`] and [`GroupDelta::apply`] under its lock, so that two imports
//! never lose each other's members.
//!
//! Architecture Invariant: nothing here does I/O or can fail; a merge never duplicates a member.

use crate::core::domain::{Group, School, Target};

/// Everything one delta import changes, applied atomically (`Store::apply_delta`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// Schools added or renamed, and administrators added or removed.
    pub schools: Vec<SchoolDelta>,
    /// Groups added or changed (their data, their members, or both).
    pub groups: Vec<GroupDelta>,
    /// Groups withdrawn (a class row `tobedeleted`): left as they are remotely, archived at year end.
    pub withdrawn: Vec<String>,
}

/// One school's change. A school the store does not know yet needs a `name`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchoolDelta {
    pub id: String,
    /// The org row's name; None when the delta only changes administrators.
    pub name: Option<String>,
    pub add_admins: Vec<String>,
    pub remove_admins: Vec<String>,
}

/// The data of a class row: everything of a group but its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupData {
    pub school: String,
    pub academic_year: String,
    pub name: String,
    pub targets: Vec<Target>,
}

/// Members added and removed; removals are applied first, so a member removed and added again
/// (a new enrollment replacing an old one) stays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberChanges {
    pub add_teachers: Vec<String>,
    pub add_learners: Vec<String>,
    pub remove_teachers: Vec<String>,
    pub remove_learners: Vec<String>,
}

impl MemberChanges {
    pub fn is_empty(&self) -> bool {
        self.add_teachers.is_empty()
            && self.add_learners.is_empty()
            && self.remove_teachers.is_empty()
            && self.remove_learners.is_empty()
    }
}

/// One group's change: its class row (if the delta carries one) and its enrollments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDelta {
    pub id: String,
    /// None: the delta carries only enrollments of a group the store already holds.
    pub data: Option<GroupData>,
    pub members: MemberChanges,
    /// The latest `dateLastModified` of the rows behind this change (RFC 3339), kept with the group.
    pub modified: Option<String>,
}

impl GroupDelta {
    /// The group after this change, given the stored one (None when the store has none, or it is
    /// withdrawn and the delta carries no class row for it). None: nothing to store — a change of
    /// members only, to a group that is not there.
    pub fn apply(&self, stored: Option<&Group>) -> Option<Group> {
        let mut group = match (&self.data, stored) {
            (Some(data), stored) => Group {
                id: self.id.clone(),
                school: data.school.clone(),
                academic_year: data.academic_year.clone(),
                name: data.name.clone(),
                // OneRoster carries neither (CONTRACT §4 maps no column to them): a stored value stays.
                year_group: stored.and_then(|g| g.year_group),
                subject: stored.and_then(|g| g.subject.clone()),
                targets: data.targets.clone(),
                teachers: stored.map(|g| g.teachers.clone()).unwrap_or_default(),
                learners: stored.map(|g| g.learners.clone()).unwrap_or_default(),
            },
            (None, Some(stored)) => stored.clone(),
            (None, None) => return None,
        };
        let m = &self.members;
        group.teachers.retain(|t| !m.remove_teachers.contains(t));
        group.learners.retain(|l| !m.remove_learners.contains(l));
        add_missing(&mut group.teachers, &m.add_teachers);
        add_missing(&mut group.learners, &m.add_learners);
        Some(group)
    }

    /// `apply` to the group as the store holds it: a withdrawn group comes back only with a class
    /// row; enrollments alone do not bring it back.
    pub fn apply_to_stored(&self, stored: Option<&Group>, withdrawn: bool) -> Option<Group> {
        let base = stored.filter(|_| !withdrawn || self.data.is_some());
        self.apply(base)
    }
}

impl SchoolDelta {
    /// The school after this change, given the stored one. None: a school the store does not know
    /// and the delta does not name (validation refuses that before it gets here).
    pub fn apply(&self, stored: Option<&School>) -> Option<School> {
        let mut school = match (&self.name, stored) {
            (Some(name), stored) => School {
                id: self.id.clone(),
                name: name.clone(),
                admins: stored.map(|s| s.admins.clone()).unwrap_or_default(),
            },
            (None, Some(stored)) => stored.clone(),
            (None, None) => return None,
        };
        school.admins.retain(|a| !self.remove_admins.contains(a));
        add_missing(&mut school.admins, &self.add_admins);
        Some(school)
    }
}

/// Appends each of `new` not already in `list`, in order (the first teacher is the preferred owner).
fn add_missing(list: &mut Vec<String>, new: &[String]) {
    for item in new {
        if !list.contains(item) {
            list.push(item.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Group {
        Group {
            id: "g1".into(),
            school: "s1".into(),
            academic_year: "2025-26".into(),
            name: "7A Maths".into(),
            year_group: Some(7),
            subject: Some("Maths".into()),
            targets: vec![Target::Teams],
            teachers: vec!["t1@x.cymru".into(), "t2@x.cymru".into()],
            learners: vec!["l1@x.cymru".into()],
        }
    }

    fn members(add_t: &[&str], rm_t: &[&str], add_l: &[&str], rm_l: &[&str]) -> MemberChanges {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        MemberChanges {
            add_teachers: v(add_t),
            remove_teachers: v(rm_t),
            add_learners: v(add_l),
            remove_learners: v(rm_l),
        }
    }

    #[test]
    fn enrollments_alone_change_only_the_members() {
        let delta = GroupDelta {
            id: "g1".into(),
            data: None,
            members: members(
                &["t3@x.cymru", "t1@x.cymru"],
                &["t2@x.cymru"],
                &[],
                &["l1@x.cymru"],
            ),
            modified: None,
        };
        let after = delta.apply(Some(&stored())).expect("a group");
        assert_eq!(after.teachers, vec!["t1@x.cymru", "t3@x.cymru"]);
        assert!(after.learners.is_empty());
        assert_eq!(
            (after.name.as_str(), after.year_group),
            ("7A Maths", Some(7))
        );
        assert_eq!(
            delta.apply(None),
            None,
            "members of a group that is not there"
        );
    }

    /// A withdrawn group comes back with a class row, never with enrollments alone.
    #[test]
    fn only_a_class_row_brings_a_withdrawn_group_back() {
        let enrollments = GroupDelta {
            id: "g1".into(),
            data: None,
            members: members(&["t3@x.cymru"], &[], &[], &[]),
            modified: None,
        };
        assert_eq!(enrollments.apply_to_stored(Some(&stored()), true), None);
        assert!(
            enrollments
                .apply_to_stored(Some(&stored()), false)
                .is_some()
        );
        let class = GroupDelta {
            data: Some(GroupData {
                school: "s1".into(),
                academic_year: "2025-26".into(),
                name: "7A Maths".into(),
                targets: vec![Target::Teams],
            }),
            ..enrollments
        };
        let back = class.apply_to_stored(Some(&stored()), true).expect("back");
        assert!(back.teachers.contains(&"t3@x.cymru".to_string()));
    }

    #[test]
    fn a_class_row_replaces_the_data_and_keeps_the_members() {
        let data = GroupData {
            school: "s1".into(),
            academic_year: "2025-26".into(),
            name: "7A Mathematics".into(),
            targets: vec![Target::Teams, Target::Classroom],
        };
        let delta = GroupDelta {
            id: "g1".into(),
            data: Some(data),
            members: members(&[], &[], &["l2@x.cymru"], &[]),
            modified: Some("2025-09-02T10:00:00Z".into()),
        };
        let after = delta.apply(Some(&stored())).expect("a group");
        assert_eq!(after.name, "7A Mathematics");
        assert_eq!(after.targets, vec![Target::Teams, Target::Classroom]);
        assert_eq!(after.teachers, stored().teachers);
        assert_eq!(after.learners, vec!["l1@x.cymru", "l2@x.cymru"]);
        let new = delta.apply(None).expect("a new group");
        assert_eq!((new.teachers.len(), new.learners.len()), (0, 1));
        assert_eq!((new.year_group, new.subject), (None, None));
    }

    #[test]
    fn removed_then_added_again_stays() {
        let delta = GroupDelta {
            id: "g1".into(),
            data: None,
            members: members(&["t2@x.cymru"], &["t2@x.cymru"], &[], &[]),
            modified: None,
        };
        let after = delta.apply(Some(&stored())).expect("a group");
        assert_eq!(after.teachers, vec!["t1@x.cymru", "t2@x.cymru"]);
    }

    #[test]
    fn school_admins_are_added_and_removed() {
        let stored = School {
            id: "s1".into(),
            name: "Ysgol".into(),
            admins: vec!["a1@x.cymru".into(), "a2@x.cymru".into()],
        };
        let delta = SchoolDelta {
            id: "s1".into(),
            name: None,
            add_admins: vec!["a3@x.cymru".into()],
            remove_admins: vec!["a1@x.cymru".into()],
        };
        let after = delta.apply(Some(&stored)).expect("a school");
        assert_eq!(after.admins, vec!["a2@x.cymru", "a3@x.cymru"]);
        assert_eq!(after.name, "Ysgol");
        assert_eq!(delta.apply(None), None);
        let named = SchoolDelta {
            name: Some("Ysgol Newydd".into()),
            ..delta
        };
        assert_eq!(named.apply(None).expect("new").admins, vec!["a3@x.cymru"]);
    }
}
