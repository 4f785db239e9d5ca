//! Properties of the calendar rules (CONTRACT §2) and of academic years, on arbitrary calendars
//! and dates.

use super::*;
use proptest::prelude::*;

/// Days from 1 January 1900 to 31 December 2199: every date a school year can plausibly name.
fn date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    let last = NaiveDate::from_ymd_opt(2199, 12, 31).unwrap();
    (0..=(last - first).num_days()).prop_map(move |n| first + chrono::Days::new(n as u64))
}

/// Any three dates as the config might give them, in any order.
fn any_calendar() -> impl Strategy<Value = YearCalendar> {
    (date(), date(), date()).prop_map(|(from, cutoff, archive)| YearCalendar {
        year: AcademicYear::containing(from),
        new_groups_from: from,
        mis_sync_cutoff: cutoff,
        archive_on: archive,
    })
}

/// A calendar `validate` accepts: `new_groups_from <= mis_sync_cutoff < archive_on`, with the gaps
/// small enough that the dates around them are drawn often.
fn valid_calendar() -> impl Strategy<Value = YearCalendar> {
    (date(), 0..400u64, 1..400u64).prop_map(|(from, to_cutoff, to_archive)| {
        let cutoff = from + chrono::Days::new(to_cutoff);
        YearCalendar {
            year: AcademicYear::containing(from),
            new_groups_from: from,
            mis_sync_cutoff: cutoff,
            archive_on: cutoff + chrono::Days::new(to_archive),
        }
    })
}

/// A date near one of the calendar's own (within a fortnight), or anywhere.
fn date_around(cal: &YearCalendar) -> impl Strategy<Value = NaiveDate> + use<> {
    let near = |d: NaiveDate| (-14..=14i64).prop_map(move |k| d + chrono::Duration::days(k));
    prop_oneof![
        near(cal.new_groups_from),
        near(cal.mis_sync_cutoff),
        near(cal.archive_on),
        date(),
    ]
}

fn calendar_and_dates() -> impl Strategy<Value = (YearCalendar, NaiveDate, NaiveDate)> {
    valid_calendar().prop_flat_map(|cal| {
        let (a, b) = (date_around(&cal), date_around(&cal));
        (Just(cal), a, b)
    })
}

proptest! {
    /// `validate` accepts exactly the calendars in order, and names the first key out of order.
    #[test]
    fn validate_accepts_exactly_the_ordered_calendars(cal in any_calendar()) {
        let ordered = cal.new_groups_from <= cal.mis_sync_cutoff && cal.mis_sync_cutoff < cal.archive_on;
        match cal.validate() {
            Ok(()) => prop_assert!(ordered),
            Err((key, _)) => {
                prop_assert!(!ordered);
                let expected = if cal.mis_sync_cutoff < cal.new_groups_from {
                    "mis_sync_cutoff"
                } else {
                    "archive_on"
                };
                prop_assert_eq!(key, expected);
            }
        }
    }

    /// Each rule switches exactly once, on its own date: creation opens on `new_groups_from`, MIS
    /// changes apply through `mis_sync_cutoff`, archiving is due from `archive_on`; a later date
    /// never closes what an earlier one opened. MIS changes and the archive never overlap.
    #[test]
    fn each_rule_switches_once_on_its_date((cal, d, e) in calendar_and_dates()) {
        prop_assert!(cal.validate().is_ok());
        prop_assert_eq!(cal.creation_open(d), d >= cal.new_groups_from);
        prop_assert_eq!(cal.mis_changes_apply(d), d <= cal.mis_sync_cutoff);
        prop_assert_eq!(cal.archive_due(d), d >= cal.archive_on);
        let (early, late) = if d <= e { (d, e) } else { (e, d) };
        prop_assert!(!cal.creation_open(early) || cal.creation_open(late));
        prop_assert!(!cal.mis_changes_apply(late) || cal.mis_changes_apply(early));
        prop_assert!(!cal.archive_due(early) || cal.archive_due(late));
        prop_assert!(!(cal.mis_changes_apply(d) && cal.archive_due(d)));
        // The day creation opens, MIS changes still apply: every year has a day both hold.
        prop_assert!(cal.mis_changes_apply(cal.new_groups_from));
    }

    /// `mis_work_allowed` is the three rules and the MIS link together, a restored link first, then
    /// the cutoff, then the creation date for what does not exist yet.
    #[test]
    fn mis_work_is_the_rules_together(
        (cal, d, _) in calendar_and_dates(),
        mis_linked in any::<bool>(),
        exists in any::<bool>(),
    ) {
        let expected = if !mis_linked {
            Err(HeldBack::Unlinked)
        } else if d > cal.mis_sync_cutoff {
            Err(HeldBack::Cutoff)
        } else if !exists && d < cal.new_groups_from {
            Err(HeldBack::CreationDate)
        } else {
            Ok(())
        };
        prop_assert_eq!(mis_work_allowed(&cal, d, mis_linked, exists), expected);
    }

    /// Every date falls in the academic year `containing` names, and the years tile the calendar:
    /// each ends the day before the next begins.
    #[test]
    fn academic_years_contain_their_dates_and_tile(d in date()) {
        let y = AcademicYear::containing(d);
        prop_assert!(y.first_day() <= d && d <= y.last_day(), "{} not in {}", d, y);
        prop_assert_eq!(AcademicYear::containing(y.first_day()), y);
        prop_assert_eq!(AcademicYear::containing(y.last_day()), y);
        let next = AcademicYear::starting(y.start_year() + 1);
        prop_assert_eq!(y.last_day().succ_opt(), Some(next.first_day()));
        prop_assert_eq!(AcademicYear::containing(next.first_day()), next);
    }

    /// A year's name reads back as the same year (four-digit years, the form `YYYY-YY` allows).
    #[test]
    fn academic_year_names_round_trip(start in 1000..=9999i32) {
        let y = AcademicYear::starting(start);
        prop_assert_eq!(y.to_string().parse::<AcademicYear>(), Ok(y));
    }
}
