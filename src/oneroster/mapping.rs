//! What was read, mapped to the domain (CONTRACT §4): a bulk set to a [`Snapshot`] (the full
//! state of the schools it lists, as a JSON snapshot is), a delta to a [`Delta`].
//!
//! class `sourcedId` → group id, `title` → name, `schoolSourcedId` → school, the terms' `schoolYear`
//! → academic year, enrollments `teacher` / `student` → teachers / learners, users `administrator`
//! → their schools' admins, `metadata.ump.targets` → targets. OneRoster has no year group or
//! subject in the contract's mapping: they stay empty.

use super::enrollments::Enrolled;
use super::files::{Records, Scope};
use super::problem::Problems;
use super::table::Status;
use crate::core::delta::{Delta, GroupData, GroupDelta, SchoolDelta};
use crate::core::domain::{Group, School, Snapshot};
use std::collections::BTreeMap;

/// A bulk set as a snapshot. Left out: rows `tobedeleted` or `inactive`, classes of a school left
/// out, and groups or members whose rows had problems (which are reported, so nothing is stored).
pub(super) fn snapshot(
    records: &mut Records,
    mut enrolled: Enrolled,
    problems: &mut Problems,
) -> Snapshot {
    let admin_order = std::mem::take(&mut records.admin_order);
    let mut schools: BTreeMap<String, School> = records
        .orgs
        .iter()
        .filter(|(_, o)| o.school && o.status == Status::Active)
        .map(|(id, o)| {
            let school = School {
                id: id.clone(),
                name: o.name.clone(),
                admins: Vec::new(),
            };
            (id.clone(), school)
        })
        .collect();
    for user in &admin_order {
        let found = &records.users[user];
        if found.status != Status::Active {
            continue;
        }
        let of: Vec<String> = found
            .orgs
            .iter()
            .filter(|o| schools.contains_key(*o))
            .cloned()
            .collect();
        if of.is_empty() {
            continue;
        }
        let Some(address) = records.address(user, problems) else {
            continue;
        };
        for school in of {
            let admins = &mut schools.get_mut(&school).expect("filtered above").admins;
            if !admins.contains(&address) {
                admins.push(address.clone());
            }
        }
    }
    let mut groups = Vec::new();
    for class in &records.classes {
        let Some(data) = &class.data else { continue };
        if class.status != Status::Active || !schools.contains_key(&class.school) {
            continue;
        }
        let roster = enrolled.rosters.remove(&class.id).unwrap_or_default();
        groups.push(Group {
            id: class.id.clone(),
            school: class.school.clone(),
            academic_year: data.academic_year.clone(),
            name: data.name.clone(),
            year_group: None,
            subject: None,
            targets: data.targets.clone(),
            teachers: roster.teachers.into_iter().map(|(a, _)| a).collect(),
            learners: roster.learners.into_iter().map(|(a, _)| a).collect(),
        });
    }
    Snapshot {
        schools: schools.into_values().collect(),
        groups,
    }
}

/// A delta as the changes it carries: org rows of schools, administrators added or removed,
/// class rows (a class `tobedeleted` withdrawn) and enrollments added or removed.
pub(super) fn delta(
    records: &mut Records,
    mut enrolled: Enrolled,
    scope: &Scope,
    problems: &mut Problems,
) -> Delta {
    let admin_order = std::mem::take(&mut records.admin_order);
    let mut schools: BTreeMap<String, SchoolDelta> = records
        .orgs
        .iter()
        .filter(|(_, o)| o.school && o.status == Status::Active)
        .map(|(id, o)| {
            let school = SchoolDelta {
                id: id.clone(),
                name: Some(o.name.clone()),
                ..SchoolDelta::default()
            };
            (id.clone(), school)
        })
        .collect();
    for user in &admin_order {
        let found = &records.users[user];
        let active = found.status == Status::Active;
        // An administrator's org the delta does not carry and the store does not hold as a school
        // (a district, say) is not checked: an earlier set may have sent it.
        let of: Vec<String> = found
            .orgs
            .iter()
            .filter(|o| match records.orgs.get(*o) {
                Some(org) => org.school && org.status == Status::Active,
                None => scope.held.schools.contains(*o),
            })
            .cloned()
            .collect();
        if of.is_empty() {
            continue;
        }
        let Some(address) = records.address(user, problems) else {
            continue;
        };
        for school in of {
            let change = schools
                .entry(school.clone())
                .or_insert_with(|| SchoolDelta {
                    id: school.clone(),
                    ..SchoolDelta::default()
                });
            match active {
                true => change.add_admins.push(address.clone()),
                false => change.remove_admins.push(address.clone()),
            }
        }
    }
    let mut out = Delta {
        schools: schools.into_values().collect(),
        ..Delta::default()
    };
    for class in &records.classes {
        match (class.status, &class.data) {
            (Status::Gone, _) => out.withdrawn.push(class.id.clone()),
            (Status::Active, None) => {}
            (Status::Active, Some(data)) => {
                let (members, modified) = enrolled.changes.remove(&class.id).unwrap_or_default();
                out.groups.push(GroupDelta {
                    id: class.id.clone(),
                    data: Some(GroupData {
                        school: class.school.clone(),
                        academic_year: data.academic_year.clone(),
                        name: data.name.clone(),
                        targets: data.targets.clone(),
                    }),
                    members,
                    modified: super::latest(modified, class.modified.as_deref()),
                });
            }
        }
    }
    // What is left are enrollments of groups the store holds and the delta carries no row of.
    let mut rest: Vec<_> = enrolled.changes.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, (members, modified)) in rest {
        if records.class_index.contains_key(&id) {
            continue;
        }
        out.groups.push(GroupDelta {
            id,
            data: None,
            members,
            modified,
        });
    }
    out
}
