//! OneRoster 1.1 CSV in (CONTRACT §4): a folder or a zip holding `manifest.csv`, read as streams
//! and checked strictly, then mapped to the domain — a bulk set to a [`Snapshot`] (imported exactly
//! as a JSON snapshot is), a delta to a [`Delta`] (applied in one store transaction).
//!
//! Architecture Invariant: all or nothing, as for JSON. Reading never stops at the first problem
//! and never hands back part of a set: it returns every [`Problem`], each at its file, physical
//! line and column (`FILE:LINE: column: reason`), in file then line order.
//!
//! Architecture Invariant: streaming. Each file is read row by row from the folder or straight out
//! of the zip (never extracted to disk, never held as text); what is kept is what the mapping needs
//! (ids, names, addresses, each class's members).
//!
//! The parts: `source` (folder or zip, zip entry safety, format detection), `manifest` (versions,
//! each file's mode, bulk or delta set), `table` (one CSV file: header against the specification,
//! rows with their lines, `status` and `dateLastModified` by mode), `files` (orgs, sessions,
//! courses, users), `classes`, `enrollments` (streamed into rosters or member changes), `mapping`
//! (to `Snapshot` or `Delta`), `problem` (located problems and their order).

mod classes;
mod enrollments;
mod files;
mod manifest;
mod mapping;
mod problem;
mod source;
mod table;

/// Maps and sets keyed by the set's ids: millions of lookups a national set makes, hashed with
/// foldhash (fast, seeded per process) instead of SipHash.
mod fast {
    pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
    pub type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
}

pub use files::Held;
pub use manifest::SetMode;
pub use problem::Problem;
pub use source::{Format, detect};

use crate::core::delta::Delta;
use crate::core::domain::Snapshot;
use crate::core::snapshot::ValidationContext;
use files::{Records, Scope};
use manifest::Manifest;
use problem::Problems;
use source::SetSource;
use std::path::Path;
use table::Mode;

/// A valid set, mapped.
#[derive(Debug)]
pub enum Roster {
    /// The full state of the schools it lists.
    Bulk(Snapshot),
    /// Only the changes it carries.
    Delta(Delta),
}

/// A set whose manifest has been read: its mode decides what the caller must supply to read the
/// rest (a delta's rows may name schools and groups the store holds).
pub struct OneRosterSet {
    source: Option<SetSource>,
    manifest: Option<Manifest>,
    problems: Problems,
}

/// Opens the set at `path` (a folder, or a zip as [`detect`] found it) and reads its manifest.
/// Never fails: a set that cannot be opened is a problem, reported by [`OneRosterSet::read`].
pub fn open(path: &Path, format: Format) -> OneRosterSet {
    let mut problems = Problems::default();
    let mut source = match SetSource::open(path, format) {
        Ok(source) => Some(source),
        Err(e) => {
            problems.report("", None, "-", format!("cannot open the set: {e}"));
            None
        }
    };
    let manifest = match &mut source {
        Some(s) if s.check_entries(&mut problems) => match manifest::read(s, &mut problems) {
            Ok(manifest) => manifest,
            Err(e) => {
                problems.report(manifest::FILE, None, "-", format!("cannot read: {e}"));
                None
            }
        },
        _ => None,
    };
    OneRosterSet {
        source,
        manifest,
        problems,
    }
}

impl OneRosterSet {
    /// Bulk or delta; None when the manifest does not say (its problems are reported by `read`).
    pub fn mode(&self) -> Option<SetMode> {
        self.manifest.as_ref().map(|m| m.set)
    }

    /// Reads and checks every file, then maps the set. `held`: for a delta, the schools and
    /// current groups the store holds (unused for a bulk set, which must hold everything it names).
    pub fn read(self, ctx: &ValidationContext, held: &Held) -> Result<Roster, Vec<Problem>> {
        let OneRosterSet {
            source,
            manifest,
            mut problems,
        } = self;
        let (Some(mut source), Some(manifest)) = (source, manifest) else {
            return Err(problems.into_sorted());
        };
        let delta = manifest.set == SetMode::Delta;
        let scope = Scope {
            delta,
            modes: [
                manifest::ORGS,
                manifest::SESSIONS,
                manifest::COURSES,
                manifest::CLASSES,
                manifest::USERS,
                manifest::ENROLLMENTS,
            ]
            .into_iter()
            .map(|f| (f, manifest.mode(f)))
            .collect(),
            configured_years: ctx.configured_years,
            default_targets: ctx.default_targets,
            held,
        };
        let mut records = Records::default();
        type Reader = fn(
            &mut dyn std::io::Read,
            Mode,
            &Scope,
            &mut Records,
            &mut Problems,
        ) -> std::io::Result<()>;
        let readers: [(&str, Reader); 5] = [
            (manifest::ORGS, files::orgs),
            (manifest::SESSIONS, files::sessions),
            (manifest::COURSES, files::courses),
            (manifest::CLASSES, classes::classes),
            (manifest::USERS, files::users),
        ];
        for (file, reader) in readers {
            let Some(mode) = manifest.mode(file) else {
                continue;
            };
            let read = source.with_entry(file, |input| {
                reader(input, mode, &scope, &mut records, &mut problems)
            });
            if let Err(e) | Ok(Some(Err(e))) = read {
                problems.report(file, None, "-", format!("cannot read: {e}"));
            }
        }
        let mut enrolled = enrollments::Enrolled::default();
        if let Some(mode) = manifest.mode(manifest::ENROLLMENTS) {
            let read = source.with_entry(manifest::ENROLLMENTS, |input| {
                enrollments::enrollments(input, mode, &scope, &mut records, &mut problems)
            });
            match read {
                Ok(Some(Ok(found))) => enrolled = found,
                Ok(None) => {}
                Err(e) | Ok(Some(Err(e))) => {
                    problems.report(
                        manifest::ENROLLMENTS,
                        None,
                        "-",
                        format!("cannot read: {e}"),
                    );
                }
            }
        }
        let roster = if delta {
            Roster::Delta(mapping::delta(
                &mut records,
                enrolled,
                &scope,
                &mut problems,
            ))
        } else {
            Roster::Bulk(mapping::snapshot(&mut records, enrolled, &mut problems))
        };
        if problems.is_empty() {
            Ok(roster)
        } else {
            Err(problems.into_sorted())
        }
    }
}

/// The later of two `dateLastModified` values, as RFC 3339 in UTC with milliseconds (values that
/// reach here were checked when their row was read).
fn latest(a: Option<String>, b: Option<&str>) -> Option<String> {
    use chrono::{DateTime, SecondsFormat, Utc};
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    };
    let a = a.as_deref().and_then(parse);
    let b = b.and_then(parse);
    a.max(b)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests;
