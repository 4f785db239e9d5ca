//! The set written to disk, streamed school by school: a OneRoster 1.1 CSV folder (the columns our
//! reader requires, in the specification's order) and the equivalent JSON snapshot (year group and
//! subject null, as the OneRoster mapping leaves them, so both formats store the same groups).

use crate::dataset::{self, COURSES, DOMAIN, Dims, Role, SCHOOL_YEAR, YEAR};
use anyhow::Context;
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

const MANIFEST: &str = "propertyName,value
manifest.version,1.0
oneroster.version,1.1
file.academicSessions,bulk
file.categories,absent
file.classes,bulk
file.classResources,absent
file.courses,bulk
file.courseResources,absent
file.demographics,absent
file.enrollments,bulk
file.lineItems,absent
file.orgs,bulk
file.resources,absent
file.results,absent
file.users,bulk
source.systemName,class-sync import bench
";

const ORGS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "name",
    "type",
    "identifier",
    "parentSourcedId",
];
const SESSIONS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "title",
    "type",
    "startDate",
    "endDate",
    "parentSourcedId",
    "schoolYear",
];
const COURSE_COLUMNS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "schoolYearSourcedId",
    "title",
    "courseCode",
    "grades",
    "orgSourcedId",
    "subjects",
    "subjectCodes",
];
const CLASSES: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "title",
    "grades",
    "courseSourcedId",
    "classCode",
    "classType",
    "location",
    "schoolSourcedId",
    "termSourcedIds",
    "subjects",
    "subjectCodes",
    "periods",
];
const USERS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "enabledUser",
    "orgSourcedIds",
    "role",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
];
const ENROLLMENTS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "classSourcedId",
    "schoolSourcedId",
    "userSourcedId",
    "role",
    "primary",
    "beginDate",
    "endDate",
];
const NATIONAL: &str = "wales";
const SESSION: &str = "sy-2026";

type Csv = csv::Writer<BufWriter<File>>;

fn csv_file(dir: &Path, name: &str, header: &[&str]) -> anyhow::Result<Csv> {
    let path = dir.join(name);
    let file = File::create(&path).with_context(|| format!("{}", path.display()))?;
    let mut w = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 20, file));
    w.write_record(header)?;
    Ok(w)
}

/// The set (base or changed) as a OneRoster 1.1 CSV folder `dir`.
pub fn oneroster(d: &Dims, changed: bool, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("manifest.csv"), MANIFEST)?;
    let mut sessions = csv_file(dir, "academicSessions.csv", SESSIONS)?;
    sessions.write_record([
        SESSION,
        "",
        "",
        "2025/26",
        "schoolYear",
        "2025-09-01",
        "2026-08-31",
        "",
        SCHOOL_YEAR,
    ])?;
    sessions.flush()?;
    let mut orgs = csv_file(dir, "orgs.csv", ORGS)?;
    orgs.write_record([NATIONAL, "", "", "Llywodraeth Cymru", "national", "", ""])?;
    let mut courses = csv_file(dir, "courses.csv", COURSE_COLUMNS)?;
    let mut classes = csv_file(dir, "classes.csv", CLASSES)?;
    let mut users = csv_file(dir, "users.csv", USERS)?;
    let mut enrollments = csv_file(dir, "enrollments.csv", ENROLLMENTS)?;
    for s in 0..d.schools {
        let school = dataset::school(d, s, changed);
        let id = school.id.as_str();
        orgs.write_record([id, "", "", &school.name, "school", id, NATIONAL])?;
        for (k, subject) in COURSES.iter().enumerate() {
            let course = format!("{id}-c{k}");
            let code = format!("C{k}");
            courses.write_record([
                course.as_str(),
                "",
                "",
                SESSION,
                subject,
                &code,
                "",
                id,
                subject,
                "",
            ])?;
        }
        for u in &school.users {
            let sid = u.sourced_id();
            let email = u.email();
            let username = email.trim_end_matches(&format!("@{DOMAIN}")[..]);
            let given = format!("Enw{}", u.index);
            let grades = if u.role == Role::Student { "09" } else { "" };
            users.write_record([
                sid.as_str(),
                "",
                "",
                "true",
                id,
                u.role.as_str(),
                username,
                "",
                &given,
                "Jones",
                "",
                "",
                &email,
                "",
                "",
                "",
                grades,
                "",
            ])?;
        }
        for c in &school.classes {
            let course = format!("{id}-c{}", c.course);
            let grades = format!("{:02}", c.year_group);
            let code = format!("K{}", c.course);
            classes.write_record([
                c.sourced_id.as_str(),
                "",
                "",
                &c.title,
                &grades,
                &course,
                &code,
                "scheduled",
                "",
                id,
                SESSION,
                COURSES[c.course],
                "",
                "",
            ])?;
            let mut first_teacher = true;
            for e in &c.enrollments {
                let user = school.users[e.user].sourced_id();
                let primary = if e.role == Role::Teacher && first_teacher {
                    first_teacher = false;
                    "true"
                } else {
                    ""
                };
                enrollments.write_record([
                    e.sourced_id.as_str(),
                    "",
                    "",
                    &c.sourced_id,
                    id,
                    &user,
                    e.role.as_str(),
                    primary,
                    "",
                    "",
                ])?;
            }
        }
    }
    for mut w in [orgs, courses, classes, users, enrollments] {
        w.flush()?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonSchool<'a> {
    id: &'a str,
    name: &'a str,
    admins: Vec<String>,
}

#[derive(Serialize)]
struct JsonGroup<'a> {
    id: &'a str,
    school: &'a str,
    academic_year: &'a str,
    name: &'a str,
    year_group: Option<u32>,
    subject: Option<&'a str>,
    targets: [&'a str; 1],
    teachers: Vec<String>,
    learners: Vec<String>,
}

/// The same set as a JSON snapshot `path`: the schools (one pass), then the groups (another).
pub fn json(d: &Dims, changed: bool, path: &Path) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("{}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(b"{\n\"schools\": [\n")?;
    for s in 0..d.schools {
        let school = dataset::school(d, s, changed);
        if s > 0 {
            w.write_all(b",\n")?;
        }
        serde_json::to_writer(
            &mut w,
            &JsonSchool {
                id: &school.id,
                name: &school.name,
                admins: school
                    .admins
                    .iter()
                    .map(|a| school.users[*a].email())
                    .collect(),
            },
        )?;
    }
    w.write_all(b"\n],\n\"groups\": [\n")?;
    let mut first = true;
    for s in 0..d.schools {
        let school = dataset::school(d, s, changed);
        for c in &school.classes {
            let of = |role: Role| -> Vec<String> {
                c.enrollments
                    .iter()
                    .filter(|e| e.role == role)
                    .map(|e| school.users[e.user].email())
                    .collect()
            };
            if !first {
                w.write_all(b",\n")?;
            }
            first = false;
            serde_json::to_writer(
                &mut w,
                &JsonGroup {
                    id: &c.sourced_id,
                    school: &school.id,
                    academic_year: YEAR,
                    name: &c.title,
                    year_group: None,
                    subject: None,
                    targets: ["teams"],
                    teachers: of(Role::Teacher),
                    learners: of(Role::Student),
                },
            )?;
        }
    }
    w.write_all(b"\n]\n}\n")?;
    w.flush()?;
    Ok(())
}
