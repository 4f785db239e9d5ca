//! Academic years and the three calendar rules of CONTRACT §2, as pure functions of a date.
//!
//! Architecture Invariant: no clock is read here; every rule takes `today` (the `--today` the operator
//! gave, or today in Europe/London) so that a whole year can be walked in a test or the demo.

use chrono::NaiveDate;
use std::fmt;
use std::str::FromStr;

/// An academic year, `YYYY-YY`, running 1 September to 31 August.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AcademicYear {
    start: i32,
}

impl AcademicYear {
    pub fn starting(start: i32) -> Self {
        AcademicYear { start }
    }

    pub fn start_year(self) -> i32 {
        self.start
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start, 9, 1).expect("1 September exists")
    }

    pub fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start + 1, 8, 31).expect("31 August exists")
    }

    /// The academic year a date falls in.
    pub fn containing(date: NaiveDate) -> Self {
        use chrono::Datelike;
        let start = if date.month() >= 9 {
            date.year()
        } else {
            date.year() - 1
        };
        AcademicYear { start }
    }
}

impl fmt::Display for AcademicYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.start, (self.start + 1).rem_euclid(100))
    }
}

impl FromStr for AcademicYear {
    type Err = String;
    /// Parses `2025-26`; the second half must be the year after the first.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an academic year of the form YYYY-YY (e.g. 2025-26)");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        if a.len() != 4 || b.len() != 2 || !a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let start: i32 = a.parse().map_err(|_| bad())?;
        let end: i32 = b.parse().map_err(|_| bad())?;
        if (start + 1).rem_euclid(100) != end {
            return Err(format!(
                "`{s}`: the second year must follow the first (e.g. {start}-{:02})",
                (start + 1).rem_euclid(100)
            ));
        }
        Ok(AcademicYear { start })
    }
}

/// The dates that govern one academic year's groups (`[[years]]` in the config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YearCalendar {
    pub year: AcademicYear,
    /// Teams/courses are created only on or after this date.
    pub new_groups_from: NaiveDate,
    /// MIS changes reach this year's teams/courses only on or before this date.
    pub mis_sync_cutoff: NaiveDate,
    /// From this date the nightly job archives the year.
    pub archive_on: NaiveDate,
}

impl YearCalendar {
    /// Checks the dates are in the order the year needs; the error names the offending key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.mis_sync_cutoff < self.new_groups_from {
            return Err((
                "mis_sync_cutoff",
                format!(
                    "{} is before new_groups_from ({})",
                    self.mis_sync_cutoff, self.new_groups_from
                ),
            ));
        }
        if self.archive_on <= self.mis_sync_cutoff {
            return Err((
                "archive_on",
                format!(
                    "{} must be after mis_sync_cutoff ({})",
                    self.archive_on, self.mis_sync_cutoff
                ),
            ));
        }
        Ok(())
    }

    /// CONTRACT §2 `new_groups_from`: may a team/course for this year be created today?
    pub fn creation_open(&self, today: NaiveDate) -> bool {
        today >= self.new_groups_from
    }

    /// CONTRACT §2 `mis_sync_cutoff`: do MIS changes still reach this year's teams/courses today?
    pub fn mis_changes_apply(&self, today: NaiveDate) -> bool {
        today <= self.mis_sync_cutoff
    }

    /// CONTRACT §2 `archive_on`: is the year due for archiving today?
    pub fn archive_due(&self, today: NaiveDate) -> bool {
        today >= self.archive_on
    }
}

/// Why a piece of MIS work is not done today, as the import summary and `sync` count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeldBack {
    /// Before `new_groups_from`: created by the first run on or after it.
    CreationDate,
    /// After `mis_sync_cutoff`: recorded, never applied.
    Cutoff,
    /// Restored: MIS-unlinked for good.
    Unlinked,
}

impl HeldBack {
    pub fn as_str(self) -> &'static str {
        match self {
            HeldBack::CreationDate => "before new_groups_from",
            HeldBack::Cutoff => "after mis_sync_cutoff",
            HeldBack::Unlinked => "restored (MIS-unlinked)",
        }
    }
}

/// What MIS work may do to one link today: the one place the three rules and the MIS link meet.
///
/// `exists` says whether the team/course has been created already.
pub fn mis_work_allowed(
    cal: &YearCalendar,
    today: NaiveDate,
    mis_linked: bool,
    exists: bool,
) -> Result<(), HeldBack> {
    if !mis_linked {
        return Err(HeldBack::Unlinked);
    }
    if !cal.mis_changes_apply(today) {
        return Err(HeldBack::Cutoff);
    }
    if !exists && !cal.creation_open(today) {
        return Err(HeldBack::CreationDate);
    }
    Ok(())
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn year() -> YearCalendar {
        YearCalendar {
            year: "2025-26".parse().unwrap(),
            new_groups_from: d("2025-08-28"),
            mis_sync_cutoff: d("2026-06-01"),
            archive_on: d("2026-09-01"),
        }
    }

    #[test]
    fn academic_year_names() {
        let y: AcademicYear = "2025-26".parse().unwrap();
        assert_eq!(y.to_string(), "2025-26");
        assert_eq!(y.first_day(), d("2025-09-01"));
        assert_eq!(y.last_day(), d("2026-08-31"));
        assert_eq!(
            "1999-00".parse::<AcademicYear>().unwrap().to_string(),
            "1999-00"
        );
        for bad in [
            "2025-27",
            "2025/26",
            "25-26",
            "2025-2026",
            "",
            "abcd-ef",
            "2025-",
        ] {
            assert!(bad.parse::<AcademicYear>().is_err(), "{bad}");
        }
        assert_eq!(
            AcademicYear::containing(d("2025-09-01")).to_string(),
            "2025-26"
        );
        assert_eq!(
            AcademicYear::containing(d("2025-08-31")).to_string(),
            "2024-25"
        );
    }

    #[test]
    fn creation_opens_on_its_date() {
        let y = year();
        assert!(!y.creation_open(d("2025-08-27")));
        assert!(y.creation_open(d("2025-08-28")));
        assert!(y.creation_open(d("2025-08-29")));
    }

    #[test]
    fn mis_changes_apply_through_the_cutoff_day() {
        let y = year();
        assert!(y.mis_changes_apply(d("2026-05-31")));
        assert!(y.mis_changes_apply(d("2026-06-01")));
        assert!(!y.mis_changes_apply(d("2026-06-02")));
    }

    #[test]
    fn archive_due_from_its_date() {
        let y = year();
        assert!(!y.archive_due(d("2026-08-31")));
        assert!(y.archive_due(d("2026-09-01")));
        assert!(y.archive_due(d("2027-01-01")));
    }

    #[test]
    fn mis_work_rules_meet_in_one_place() {
        let y = year();
        assert_eq!(
            mis_work_allowed(&y, d("2025-08-27"), true, false),
            Err(HeldBack::CreationDate)
        );
        assert_eq!(mis_work_allowed(&y, d("2025-08-28"), true, false), Ok(()));
        assert_eq!(mis_work_allowed(&y, d("2026-06-01"), true, true), Ok(()));
        assert_eq!(
            mis_work_allowed(&y, d("2026-06-02"), true, true),
            Err(HeldBack::Cutoff)
        );
        assert_eq!(
            mis_work_allowed(&y, d("2026-06-02"), true, false),
            Err(HeldBack::Cutoff)
        );
        assert_eq!(
            mis_work_allowed(&y, d("2026-01-01"), false, true),
            Err(HeldBack::Unlinked)
        );
    }

    #[test]
    fn calendar_order_is_checked() {
        let mut y = year();
        assert!(y.validate().is_ok());
        y.mis_sync_cutoff = d("2025-08-01");
        assert_eq!(y.validate().unwrap_err().0, "mis_sync_cutoff");
        let mut y = year();
        y.archive_on = y.mis_sync_cutoff;
        assert_eq!(y.validate().unwrap_err().0, "archive_on");
    }
}
