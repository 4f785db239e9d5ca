//! Unit tests of the OneRoster reader: one rule each, on a small valid set written to a temporary
//! folder and changed one line at a time.

use super::classes::CLASS_COLUMNS;
use super::files::{ORG_COLUMNS, SESSION_COLUMNS, USER_COLUMNS, header};
use super::*;
use crate::core::domain::{Group, School, Target};
use std::collections::BTreeMap;

fn manifest(mode: &str) -> String {
    let files = [
        ("academicSessions", mode),
        ("categories", "absent"),
        ("classes", mode),
        ("classResources", "absent"),
        ("courses", "absent"),
        ("courseResources", "absent"),
        ("demographics", "absent"),
        ("enrollments", mode),
        ("lineItems", "absent"),
        ("orgs", mode),
        ("resources", "absent"),
        ("results", "absent"),
        ("users", mode),
    ];
    let mut text = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n".to_string();
    for (file, mode) in files {
        text.push_str(&format!("file.{file},{mode}\n"));
    }
    text
}

/// A valid bulk set: one school (and its district), a school year ending 2026, two classes.
fn bulk() -> BTreeMap<&'static str, String> {
    let mut set = BTreeMap::new();
    set.insert("manifest.csv", manifest("bulk"));
    set.insert(
        "orgs.csv",
        format!(
            "{}\nla-1,,,Cyngor,district,,\n6612001,,,Ysgol Enghraifft,school,,la-1\n",
            header(ORG_COLUMNS)
        ),
    );
    set.insert(
        "academicSessions.csv",
        format!(
            "{}\ny2026,,,2025/26,schoolYear,2025-09-01,2026-08-31,,2026\nt1,,,Autumn,term,2025-09-01,2025-12-19,y2026,2026\n",
            header(SESSION_COLUMNS)
        ),
    );
    set.insert(
        "classes.csv",
        format!(
            "{},metadata.ump.targets\n\
             7A-Ma1,,,7A/Ma1 Mathematics,07,c1,,scheduled,,6612001,t1,,,,teams classroom\n\
             7A-Cy1,,,7A/Cy1 Cymraeg,07,c2,,scheduled,,6612001,\"t1,y2026\",,,,\n",
            header(CLASS_COLUMNS)
        ),
    );
    set.insert(
        "users.csv",
        format!(
            "{}\n\
             u-admin,,,true,6612001,administrator,admin.a,,A,Admin,,,Admin.A@hwbcymru.net,,,,,\n\
             u-t1,,,true,6612001,teacher,jonesa12@hwbcymru.net,,A,Jones,,,,,,,,\n\
             u-l1,,,true,6612001,student,evansb34,,B,Evans,,,evansb34@hwbcymru.net,,,,,\n\
             u-l2,,,true,6612001,student,x,,C,Hughes,,,hughesc1@hwbcymru.net,,,,,\n",
            header(USER_COLUMNS)
        ),
    );
    set.insert(
        "enrollments.csv",
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
         e1,,,7A-Ma1,6612001,u-t1,teacher,true,,\n\
         e2,,,7A-Ma1,6612001,u-l1,student,,,\n\
         e3,,,7A-Ma1,6612001,u-l2,student,,,\n\
         e4,,,7A-Cy1,6612001,u-l2,student,,,\n"
            .to_string(),
    );
    set
}

/// `set` with line `line` (1-based) of `file` replaced by `text` (or removed when `text` is None).
fn change(
    mut set: BTreeMap<&'static str, String>,
    file: &'static str,
    line: usize,
    text: Option<&str>,
) -> BTreeMap<&'static str, String> {
    let old = set.remove(file).expect("file in the set");
    let mut lines: Vec<String> = old.lines().map(str::to_string).collect();
    match text {
        Some(t) => lines[line - 1] = t.to_string(),
        None => {
            lines.remove(line - 1);
        }
    }
    set.insert(file, lines.join("\n") + "\n");
    set
}

fn years() -> Vec<String> {
    vec!["2025-26".to_string()]
}

fn read_set(set: &BTreeMap<&'static str, String>, held: &Held) -> Result<Roster, Vec<String>> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in set {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let years = years();
    let ctx = ValidationContext {
        configured_years: &years,
        default_targets: &[Target::Teams],
    };
    let format = detect(dir.path()).expect("detect");
    open(dir.path(), format)
        .read(&ctx, held)
        .map_err(|problems| problems.iter().map(ToString::to_string).collect())
}

#[track_caller]
fn check(set: &BTreeMap<&'static str, String>, expected: &[&str]) {
    match read_set(set, &Held::default()) {
        Ok(roster) => panic!("expected {expected:#?}, but it read as {roster:#?}"),
        Err(found) => assert_eq!(found, expected),
    }
}

fn snapshot_of(set: &BTreeMap<&'static str, String>) -> Snapshot {
    match read_set(set, &Held::default()) {
        Ok(Roster::Bulk(snapshot)) => snapshot,
        other => panic!("expected a bulk snapshot, got {other:#?}"),
    }
}

#[test]
fn a_bulk_set_maps_as_the_contract_says() {
    let snapshot = snapshot_of(&bulk());
    assert_eq!(
        snapshot.schools,
        vec![School {
            id: "6612001".into(),
            name: "Ysgol Enghraifft".into(),
            admins: vec!["admin.a@hwbcymru.net".into()],
        }]
    );
    assert_eq!(
        snapshot.groups,
        vec![
            Group {
                id: "7A-Ma1".into(),
                school: "6612001".into(),
                academic_year: "2025-26".into(),
                name: "7A/Ma1 Mathematics".into(),
                year_group: None,
                subject: None,
                targets: vec![Target::Teams, Target::Classroom],
                teachers: vec!["jonesa12@hwbcymru.net".into()],
                learners: vec![
                    "evansb34@hwbcymru.net".into(),
                    "hughesc1@hwbcymru.net".into()
                ],
            },
            Group {
                id: "7A-Cy1".into(),
                school: "6612001".into(),
                academic_year: "2025-26".into(),
                name: "7A/Cy1 Cymraeg".into(),
                year_group: None,
                subject: None,
                targets: vec![Target::Teams],
                teachers: vec![],
                learners: vec!["hughesc1@hwbcymru.net".into()],
            },
        ]
    );
}

#[test]
fn rows_tobedeleted_or_inactive_are_left_out_of_a_bulk_set() {
    let set = change(
        bulk(),
        "enrollments.csv",
        3,
        Some("e2,tobedeleted,,7A-Ma1,6612001,u-l1,student,,,"),
    );
    let set = change(
        set,
        "classes.csv",
        3,
        Some("7A-Cy1,inactive,,7A/Cy1 Cymraeg,07,c2,,scheduled,,6612001,t1,,,,"),
    );
    let snapshot = snapshot_of(&set);
    assert_eq!(snapshot.groups.len(), 1);
    assert_eq!(snapshot.groups[0].learners, vec!["hughesc1@hwbcymru.net"]);
}

#[test]
fn the_manifest_is_checked() {
    let set = change(bulk(), "manifest.csv", 3, Some("oneroster.version,1.2"));
    let set = change(set, "manifest.csv", 13, Some("file.orgs,sometimes"));
    check(
        &set,
        &[
            "manifest.csv:3: oneroster.version: `1.2` is not supported: class-sync reads OneRoster 1.1 sets, whose oneroster.version is 1.1",
            "manifest.csv:13: file.orgs: `sometimes` is not one of `bulk`, `delta` or `absent`",
        ],
    );
    let set = change(bulk(), "manifest.csv", 6, Some("file.classes,absent"));
    check(
        &set,
        &[
            "manifest.csv:6: file.classes: the manifest marks classes.csv absent but the set holds it: mark it bulk or delta, or leave it out",
            "manifest.csv:6: file.classes: a bulk set needs classes.csv: class-sync reads orgs, academicSessions, classes, users and enrollments",
        ],
    );
    let mut set = bulk();
    set.remove("users.csv");
    check(
        &set,
        &[
            "manifest.csv:16: file.users: the manifest marks users.csv bulk but the set has no users.csv",
        ],
    );
    let mut set = bulk();
    set.remove("manifest.csv");
    check(
        &set,
        &["manifest.csv: -: the set has no manifest.csv: it is not a OneRoster set"],
    );
}

#[test]
fn a_delta_set_must_not_mix_in_bulk_classes() {
    let set = change(bulk(), "manifest.csv", 11, Some("file.enrollments,delta"));
    check(
        &set,
        &[
            "manifest.csv:6: file.classes: classes.csv is bulk in a delta set: class-sync reads a set either all bulk, or as a delta whose classes and enrollments are delta (or absent)",
        ],
    );
}

#[test]
fn missing_required_fields_bad_enumerations_and_dates() {
    let set = change(
        bulk(),
        "classes.csv",
        2,
        Some("7A-Ma1,,,,07,,,Scheduled,,6612001,t1,,,,"),
    );
    let set = change(
        set,
        "academicSessions.csv",
        3,
        Some("t1,,,Autumn,term,2025-09-01,19/12/2025,y2026,2026"),
    );
    let set = change(
        set,
        "users.csv",
        3,
        Some("u-t1,,,yes,6612001,teacher,jonesa12@hwbcymru.net,,A,Jones,,,,,,,,"),
    );
    check(
        &set,
        &[
            "academicSessions.csv:3: endDate: `19/12/2025` is not a date of the form YYYY-MM-DD",
            "classes.csv:2: title: required field is empty",
            "classes.csv:2: courseSourcedId: required field is empty",
            "classes.csv:2: classType: `Scheduled` is not one of `homeroom` or `scheduled` (OneRoster values are case-sensitive)",
            "users.csv:3: enabledUser: `yes` is not `true` or `false`",
        ],
    );
}

#[test]
fn duplicates_are_reported_at_the_second() {
    let set = change(
        bulk(),
        "classes.csv",
        3,
        Some("7a-ma1,,,Again,07,c2,,scheduled,,6612001,t1,,,,"),
    );
    let set = change(
        set,
        "enrollments.csv",
        5,
        Some("e1,,,7A-Cy1,6612001,u-l2,student,,,"),
    );
    check(
        &set,
        &[
            "classes.csv:3: sourcedId: duplicate sourcedId `7a-ma1`: it differs from `7A-Ma1` (line 2) only in letter case, which Teams and Classroom do not distinguish",
            "enrollments.csv:5: sourcedId: duplicate sourcedId `e1` (first on line 2)",
        ],
    );
    let set = change(
        bulk(),
        "enrollments.csv",
        5,
        Some("e4,,,7A-Ma1,6612001,u-l2,student,,,"),
    );
    check(
        &set,
        &[
            "enrollments.csv:5: userSourcedId: `hughesc1@hwbcymru.net` is already a student of class `7A-Ma1` (enrollments.csv line 4)",
        ],
    );
}

#[test]
fn references_must_resolve() {
    let set = change(
        bulk(),
        "enrollments.csv",
        2,
        Some("e1,,,7B-Ma1,6612001,u-t9,teacher,,,"),
    );
    let set = change(
        set,
        "enrollments.csv",
        3,
        Some("e2,,,7A-Ma1,6612999,u-l1,student,,,"),
    );
    let set = change(
        set,
        "classes.csv",
        3,
        Some("7A-Cy1,,,7A/Cy1 Cymraeg,07,c2,,scheduled,,la-1,t9,,,,"),
    );
    let set = change(
        set,
        "users.csv",
        5,
        Some("u-l2,,,true,6612999,student,x,,C,Hughes,,,hughesc1@hwbcymru.net,,,u-nobody,,"),
    );
    check(
        &set,
        &[
            "classes.csv:3: schoolSourcedId: org `la-1` is not a school (its type in orgs.csv is not `school`)",
            "classes.csv:3: termSourcedIds: session `t9` is not in academicSessions.csv, so the class's school year cannot be found",
            "users.csv:5: orgSourcedIds: org `6612999` is not in orgs.csv",
            "users.csv:5: agentSourcedIds: user `u-nobody` is not in users.csv",
            "enrollments.csv:2: classSourcedId: class `7B-Ma1` is not in classes.csv",
            "enrollments.csv:2: userSourcedId: user `u-t9` is not in users.csv",
            "enrollments.csv:3: schoolSourcedId: class `7A-Ma1` belongs to org `6612001` (classes.csv line 2), not `6612999`",
            "enrollments.csv:5: schoolSourcedId: class `7A-Cy1` belongs to org `la-1` (classes.csv line 3), not `6612001`",
        ],
    );
}

#[test]
fn the_school_year_comes_from_the_terms() {
    let set = change(
        bulk(),
        "academicSessions.csv",
        3,
        Some("t1,,,Autumn,term,2026-09-01,2026-12-19,,2027"),
    );
    check(
        &set,
        &[
            "classes.csv:2: termSourcedIds: no [[years]] entry for 2026-27 in the config (session `t1` has schoolYear 2027)",
            "classes.csv:3: termSourcedIds: the class's terms are in different school years: `t1` in 2027, `y2026` in 2026; a group belongs to one academic year",
        ],
    );
    let set = change(
        bulk(),
        "academicSessions.csv",
        2,
        Some("y2026,,,2025/26,schoolYear,2025-09-01,2026-08-31,,26"),
    );
    check(
        &set,
        &[
            "academicSessions.csv:2: schoolYear: `26` is not a school year of the form YYYY (its ending year: 2026 for 2025-26)",
            "classes.csv:3: termSourcedIds: the school year of session `y2026` cannot be found: its schoolYear (academicSessions.csv line 2) is not valid",
        ],
    );
}

#[test]
fn ids_addresses_and_targets_follow_the_json_rules() {
    let set = change(
        bulk(),
        "classes.csv",
        2,
        Some("7A/Ma1,,,7A/Ma1 Mathematics,07,c1,,scheduled,,6612001,t1,,,,teams zoom"),
    );
    let set = change(
        set,
        "users.csv",
        4,
        Some("u-l1,,,true,6612001,student,evansb34,,B,Evans,,,,,,,,"),
    );
    let set = change(
        set,
        "enrollments.csv",
        2,
        Some("e1,,,7A-Cy1,6612001,u-l1,teacher,,,"),
    );
    check(
        &set,
        &[
            "classes.csv:2: sourcedId: `7A/Ma1` is not a valid id: it contains `/`; use only A–Z, a–z, 0–9, `.`, `_`, `-` (a class's sourcedId is its group id)",
            "classes.csv:2: metadata.ump.targets: unknown target `zoom`: expected `teams` or `classroom`, separated by spaces",
            "users.csv:4: username: `evansb34` is not an email address: it has no `@` (the user has no email, so class-sync uses the username as their address)",
            "enrollments.csv:3: classSourcedId: class `7A-Ma1` is not in classes.csv",
            "enrollments.csv:4: classSourcedId: class `7A-Ma1` is not in classes.csv",
        ],
    );
}

#[test]
fn a_delta_carries_changes_and_checks_against_what_is_held() {
    let mut set = BTreeMap::new();
    set.insert("manifest.csv", manifest("delta"));
    let set = change(set, "manifest.csv", 13, Some("file.orgs,absent"));
    let set = change(set, "manifest.csv", 4, Some("file.academicSessions,absent"));
    let mut set = change(set, "manifest.csv", 16, Some("file.users,bulk"));
    set.insert("users.csv", bulk()["users.csv"].clone());
    set.insert(
        "classes.csv",
        format!(
            "{}\n7A-Cy1,tobedeleted,2025-10-01T09:00:00Z,,,,,,,,,,,\n",
            header(CLASS_COLUMNS)
        ),
    );
    set.insert(
        "enrollments.csv",
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
         e9,active,2025-10-02T09:00:00Z,7A-Ma1,6612001,u-l2,student,,,\n\
         e2,tobedeleted,2025-10-01T09:00:00+01:00,7A-Ma1,6612001,u-l1,student,,,\n\
         e8,active,2025-10-02T09:00:00Z,7B-Ma1,6612001,u-l2,student,,,\n"
            .to_string(),
    );
    let held = Held {
        schools: ["6612001".to_string()].into(),
        groups: ["7A-Ma1".to_string(), "7A-Cy1".to_string()].into(),
    };
    let found = read_set(&set, &held).expect_err("7B-Ma1 is not held");
    assert_eq!(
        found,
        vec![
            "enrollments.csv:4: classSourcedId: class `7B-Ma1` is neither in classes.csv nor a current group class-sync holds"
        ]
    );
    let set = change(set, "enrollments.csv", 4, None);
    let Ok(Roster::Delta(delta)) = read_set(&set, &held) else {
        panic!("a valid delta")
    };
    assert_eq!(delta.withdrawn, vec!["7A-Cy1"]);
    assert_eq!(delta.groups.len(), 1);
    let g = &delta.groups[0];
    assert_eq!((g.id.as_str(), g.data.is_none()), ("7A-Ma1", true));
    assert_eq!(g.members.add_learners, vec!["hughesc1@hwbcymru.net"]);
    assert_eq!(g.members.remove_learners, vec!["evansb34@hwbcymru.net"]);
    assert_eq!(g.modified.as_deref(), Some("2025-10-02T09:00:00.000Z"));
    assert_eq!(delta.schools.len(), 1, "the administrator of a held school");
    assert_eq!(delta.schools[0].add_admins, vec!["admin.a@hwbcymru.net"]);
}

#[test]
fn every_row_of_a_delta_gives_status_and_date() {
    let mut set = BTreeMap::new();
    set.insert("manifest.csv", manifest("delta"));
    let set = change(set, "manifest.csv", 13, Some("file.orgs,absent"));
    let set = change(set, "manifest.csv", 4, Some("file.academicSessions,absent"));
    let set = change(set, "manifest.csv", 16, Some("file.users,absent"));
    let mut set = change(set, "manifest.csv", 11, Some("file.enrollments,absent"));
    set.insert(
        "classes.csv",
        format!("{}\n7A-Cy1,,,,,,,,,,,,,\n", header(CLASS_COLUMNS)),
    );
    check(
        &set,
        &[
            "classes.csv:2: status: required field is empty: every row of a delta file gives its status (`active` or `tobedeleted`)",
            "classes.csv:2: dateLastModified: required field is empty: every row of a delta file gives its dateLastModified",
            "classes.csv:2: title: required field is empty",
            "classes.csv:2: courseSourcedId: required field is empty",
            "classes.csv:2: classType: required field is empty",
            "classes.csv:2: schoolSourcedId: required field is empty",
            "classes.csv:2: termSourcedIds: required field is empty",
        ],
    );
}

#[test]
fn a_delta_without_users_cannot_place_its_enrollments() {
    let mut set = BTreeMap::new();
    set.insert("manifest.csv", manifest("delta"));
    let set = change(set, "manifest.csv", 13, Some("file.orgs,absent"));
    let set = change(set, "manifest.csv", 4, Some("file.academicSessions,absent"));
    let set = change(set, "manifest.csv", 16, Some("file.users,absent"));
    let mut set = change(set, "manifest.csv", 6, Some("file.classes,absent"));
    set.insert(
        "enrollments.csv",
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
         e9,active,2025-10-02T09:00:00Z,7A-Ma1,6612001,u-l2,student,,,\n"
            .to_string(),
    );
    let held = Held {
        schools: ["6612001".to_string()].into(),
        groups: ["7A-Ma1".to_string()].into(),
    };
    assert_eq!(
        read_set(&set, &held).expect_err("no users"),
        vec![
            "enrollments.csv:2: userSourcedId: user `u-l2`: this set has no users.csv, so the user's address cannot be found"
        ]
    );
}

#[test]
fn a_delta_class_of_a_school_it_deletes_is_refused() {
    let mut set = BTreeMap::new();
    set.insert("manifest.csv", manifest("delta"));
    let set = change(set, "manifest.csv", 16, Some("file.users,absent"));
    let mut set = change(set, "manifest.csv", 11, Some("file.enrollments,absent"));
    set.insert(
        "orgs.csv",
        format!(
            "{}\n6612009,tobedeleted,2025-10-01T09:00:00Z,Ysgol Gau,school,,\n",
            header(ORG_COLUMNS)
        ),
    );
    set.insert(
        "academicSessions.csv",
        format!(
            "{}\nt1,active,2025-10-01T09:00:00Z,Autumn,term,2025-09-01,2025-12-19,,2026\n",
            header(SESSION_COLUMNS)
        ),
    );
    set.insert(
        "classes.csv",
        format!(
            "{}\n7C-Ma1,active,2025-10-01T09:00:00Z,7C Maths,,c1,,scheduled,,6612009,t1,,,\n",
            header(CLASS_COLUMNS)
        ),
    );
    assert_eq!(
        read_set(&set, &Held::default()).expect_err("no school"),
        vec![
            "classes.csv:2: schoolSourcedId: org `6612009` is `tobedeleted` in orgs.csv and not a school class-sync holds"
        ]
    );
}
