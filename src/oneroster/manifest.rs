//! `manifest.csv` (OneRoster 1.1 CSV §2.1): the versions, and how each file is sent — `bulk`,
//! `delta` or `absent` — which decides whether the set is read as a bulk snapshot or a delta.

use super::problem::Problems;
use super::source::SetSource;
use super::table::{LfLines, Mode, line_of, listed};
use crate::core::snapshot::values::shown;
use std::collections::HashMap;

pub(super) const FILE: &str = "manifest.csv";

/// Every property of a 1.1 manifest, and whether it is required.
const PROPERTIES: &[(&str, bool)] = &[
    ("manifest.version", true),
    ("oneroster.version", true),
    ("file.academicSessions", true),
    ("file.categories", true),
    ("file.classes", true),
    ("file.classResources", true),
    ("file.courses", true),
    ("file.courseResources", true),
    ("file.demographics", true),
    ("file.enrollments", true),
    ("file.lineItems", true),
    ("file.orgs", true),
    ("file.resources", true),
    ("file.results", true),
    ("file.users", true),
    ("source.systemName", false),
    ("source.systemCode", false),
];

/// The files class-sync reads; the others a manifest may list are neither read nor required.
pub(super) const ORGS: &str = "orgs.csv";
pub(super) const SESSIONS: &str = "academicSessions.csv";
pub(super) const COURSES: &str = "courses.csv";
pub(super) const CLASSES: &str = "classes.csv";
pub(super) const USERS: &str = "users.csv";
pub(super) const ENROLLMENTS: &str = "enrollments.csv";
const READ: [&str; 6] = [ORGS, SESSIONS, COURSES, CLASSES, USERS, ENROLLMENTS];

/// How class-sync reads the whole set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    /// Every file it reads is bulk: the full state of the schools (orgs) it lists, like a JSON snapshot.
    Bulk,
    /// Classes and enrollments are delta (or absent): only the rows carried change anything.
    Delta,
}

/// What the manifest says, once it holds together.
pub(super) struct Manifest {
    pub set: SetMode,
    /// Each file class-sync reads, with its mode (None: absent).
    files: HashMap<&'static str, Option<Mode>>,
}

impl Manifest {
    pub(super) fn mode(&self, file: &str) -> Option<Mode> {
        self.files.get(file).copied().flatten()
    }
}

/// Reads the manifest and checks it against the set's files. None when it has problems that leave
/// the set's meaning unknown (the other files are still read when it is known, to report theirs too).
pub(super) fn read(
    source: &mut SetSource,
    problems: &mut Problems,
) -> std::io::Result<Option<Manifest>> {
    let mut values: HashMap<String, (String, u64)> = HashMap::new();
    let found = source.with_entry(FILE, |input| {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LfLines::new(input));
        let mut record = csv::StringRecord::new();
        let mut first = true;
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(1, |p| p.line());
                    match e.into_kind() {
                        csv::ErrorKind::Io(e) => return Err(e),
                        _ => {
                            problems.report(FILE, Some(line), "-", "the text is not UTF-8");
                            continue;
                        }
                    }
                }
            }
            let line = line_of(&mut reader, record.position());
            if first {
                first = false;
                let header: Vec<&str> = record
                    .iter()
                    .map(|h| h.trim_start_matches('\u{feff}'))
                    .collect();
                if header != ["propertyName", "value"] {
                    problems.report(
                        FILE,
                        Some(line),
                        "-",
                        format!(
                            "the header is `{}`; a manifest's header is `propertyName,value`",
                            shown(&header.join(","))
                        ),
                    );
                }
                continue;
            }
            if record.len() != 2 {
                problems.report(
                    FILE,
                    Some(line),
                    record.get(0).unwrap_or("-"),
                    format!(
                        "the row has {} fields; a manifest row has 2 (propertyName,value)",
                        record.len()
                    ),
                );
                continue;
            }
            let (name, value) = (&record[0], &record[1]);
            if !PROPERTIES.iter().any(|(p, _)| *p == name) {
                problems.report(
                    FILE,
                    Some(line),
                    name,
                    "unknown property: OneRoster 1.1 manifests have no such property",
                );
                continue;
            }
            if let Some((_, first)) = values.get(name) {
                problems.report(
                    FILE,
                    Some(line),
                    name,
                    format!("the property is listed twice (first on line {first})"),
                );
                continue;
            }
            values.insert(name.to_string(), (value.to_string(), line));
        }
        Ok(())
    })?;
    match found {
        None => {
            problems.report(
                FILE,
                None,
                "-",
                "the set has no manifest.csv: it is not a OneRoster set",
            );
            return Ok(None);
        }
        Some(result) => result?,
    }

    // Problems that leave unknown how a file class-sync reads is sent make reading on a guess:
    // they stop here. The others (versions, files class-sync does not read) are reported and the
    // files are still read, so that one run lists every problem.
    let read_by_us = |property: &str| {
        READ.iter().any(|f| {
            property
                .strip_prefix("file.")
                .map(|p| format!("{p}.csv"))
                .as_deref()
                == Some(*f)
        })
    };
    let mut doubtful = false;
    for (name, required) in PROPERTIES {
        if *required && !values.contains_key(*name) {
            problems.report(
                FILE,
                Some(1),
                name,
                "missing property: a OneRoster 1.1 manifest lists it",
            );
            doubtful |= read_by_us(name);
        }
    }
    for (name, expected) in [("manifest.version", "1.0"), ("oneroster.version", "1.1")] {
        if let Some((value, line)) = values.get(name)
            && value != expected
        {
            problems.report(
                FILE,
                Some(*line),
                name,
                format!("`{}` is not supported: class-sync reads OneRoster 1.1 sets, whose {name} is {expected}", shown(value)),
            );
        }
    }
    let mut modes: HashMap<String, (Option<Mode>, u64)> = HashMap::new();
    let mut names: Vec<&String> = values.keys().collect();
    names.sort_by_key(|n| values[*n].1);
    for name in names {
        let (value, line) = &values[name];
        let Some(file) = name.strip_prefix("file.") else {
            continue;
        };
        let mode = match value.as_str() {
            "bulk" => Some(Mode::Bulk),
            "delta" => Some(Mode::Delta),
            "absent" => None,
            other => {
                problems.report(
                    FILE,
                    Some(*line),
                    name,
                    format!(
                        "`{}` is not one of {}",
                        shown(other),
                        listed(&["bulk", "delta", "absent"])
                    ),
                );
                doubtful |= read_by_us(name);
                continue;
            }
        };
        let csv = format!("{file}.csv");
        match (mode, source.has(&csv)) {
            (Some(m), false) => {
                problems.report(
                    FILE,
                    Some(*line),
                    name,
                    format!("the manifest marks {csv} {} but the set has no {csv}", mode_word(m)),
                );
                doubtful |= read_by_us(name);
            }
            (None, true) => problems.report(
                FILE,
                Some(*line),
                name,
                format!("the manifest marks {csv} absent but the set holds it: mark it bulk or delta, or leave it out"),
            ),
            _ => {}
        }
        modes.insert(csv, (mode, *line));
    }
    if doubtful {
        return Ok(None);
    }

    let core = [ORGS, SESSIONS, CLASSES, USERS, ENROLLMENTS];
    let delta = core
        .iter()
        .any(|f| modes.get(*f).is_some_and(|(m, _)| *m == Some(Mode::Delta)));
    let set = if delta { SetMode::Delta } else { SetMode::Bulk };
    for file in core {
        let (mode, line) = modes.get(file).copied().unwrap_or((None, 1));
        let property = format!("file.{}", file.trim_end_matches(".csv"));
        match (set, mode) {
            (SetMode::Bulk, None) => {
                problems.report(
                    FILE,
                    Some(line),
                    &property,
                    format!("a bulk set needs {file}: class-sync reads orgs, academicSessions, classes, users and enrollments"),
                );
                doubtful = true;
            }
            (SetMode::Delta, Some(Mode::Bulk)) if file == CLASSES || file == ENROLLMENTS => {
                problems.report(
                    FILE,
                    Some(line),
                    &property,
                    format!(
                        "{file} is bulk in a delta set: class-sync reads a set either all bulk, or as a delta whose classes and enrollments are delta (or absent)"
                    ),
                );
                doubtful = true;
            }
            _ => {}
        }
    }
    if doubtful {
        return Ok(None);
    }
    let files = READ
        .iter()
        .map(|file| (*file, modes.get(*file).and_then(|(m, _)| *m)))
        .collect();
    Ok(Some(Manifest { set, files }))
}

fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Bulk => "bulk",
        Mode::Delta => "delta",
    }
}
