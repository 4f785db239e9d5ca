//! Reading the `Retry-After` header the services send with a 429 or 503.

use std::time::Duration;

/// `Retry-After` as delta-seconds (fractions allowed, Graph has sent `2.128`) or an HTTP date,
/// at most an hour.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        // Digits too many for an f64 read as infinity: still delay-seconds, a wait past the cap.
        // (`inf`, `NaN` and negative numbers are not.)
        let digits = v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        return (secs >= 0.0 && (secs.is_finite() || digits))
            .then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(3600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// Found by `properties::delay_seconds_are_that_many_seconds_capped`: 309 digits or more
    /// overflow an f64 to infinity, and such a wait was dropped (the caller's short backoff
    /// instead) where a smaller one was capped at an hour.
    #[test]
    fn delay_seconds_too_long_for_a_float_are_capped_not_ignored() {
        let now = UNIX_EPOCH;
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(
            parse_retry_after(&huge, now),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_retry_after(&format!(" {huge}.5 "), now),
            Some(Duration::from_secs(3600))
        );
        for not_a_wait in ["inf", "+inf", "infinity", "NaN", "-inf", "1e400", "-1e400"] {
            assert_eq!(parse_retry_after(not_a_wait, now), None, "{not_a_wait}");
        }
        assert_eq!(parse_retry_after("-0", now), Some(Duration::ZERO));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    const CAP: Duration = Duration::from_secs(3600);
    /// 9999-12-31T23:59:59Z, the last second an HTTP date can name.
    const LAST_HTTP_DATE: u64 = 253_402_300_799;

    /// Any instant from 1970 to the end of 9999 (what an HTTP date can name), to the nanosecond.
    fn instant() -> impl Strategy<Value = SystemTime> {
        (0..=LAST_HTTP_DATE, 0..1_000_000_000u32)
            .prop_map(|(s, n)| UNIX_EPOCH + Duration::new(s, n))
    }

    /// Whitespace a header value might carry around its number.
    fn padding() -> impl Strategy<Value = String> {
        "[ \t]{0,3}"
    }

    /// Strings that look like numbers, or nearly: signs, fractions, exponents, `inf` and `NaN`.
    fn numberish() -> impl Strategy<Value = String> {
        prop_oneof![
            "[-+]?[0-9]{0,30}(\\.[0-9]{0,12})?([eE][-+]?[0-9]{1,4})?",
            "[-+]?(inf|infinity|NaN|nan|Infinity)",
            "[0-9]{1,400}",
        ]
    }

    /// The value of a string of decimal digits, as whole seconds, or None past the cap.
    fn under_cap(digits: &str) -> Option<u64> {
        let significant = digits.trim_start_matches('0');
        (significant.len() <= 4)
            .then(|| significant.parse().unwrap_or(0))
            .filter(|&n| n <= CAP.as_secs())
    }

    proptest! {
        /// Nothing a service (or anything between) could send makes it panic or wait past the cap.
        #[test]
        fn never_panics_nor_waits_past_the_cap(
            value in prop_oneof![any::<String>(), numberish(), "\\PC{0,40}"],
            now in instant(),
        ) {
            if let Some(wait) = parse_retry_after(&value, now) {
                prop_assert!(wait <= CAP, "{value:?} gave {wait:?}");
            }
        }

        /// delay-seconds (digits, however many, with whitespace around) gives exactly that many
        /// seconds, capped at an hour.
        #[test]
        fn delay_seconds_are_that_many_seconds_capped(
            digits in "[0-9]{1,400}",
            (before, after) in (padding(), padding()),
            now in instant(),
        ) {
            let expected = under_cap(&digits).map_or(CAP, Duration::from_secs);
            prop_assert_eq!(parse_retry_after(&format!("{before}{digits}{after}"), now), Some(expected));
        }

        /// A fraction (Graph has sent `2.128`) gives that many seconds, to well under a microsecond.
        #[test]
        fn fractions_of_seconds_are_kept(whole in 0..5000u64, millis in 0..1000u64, now in instant()) {
            let wait = parse_retry_after(&format!("{whole}.{millis:03}"), now).unwrap();
            let exact = Duration::from_millis(whole * 1000 + millis).min(CAP);
            prop_assert!(wait.abs_diff(exact) < Duration::from_micros(1), "{wait:?} vs {exact:?}");
        }

        /// A negative number is not a wait.
        #[test]
        fn negative_numbers_are_refused(n in 1..u64::MAX, frac in "(\\.[0-9]{1,3})?", now in instant()) {
            prop_assert_eq!(parse_retry_after(&format!("-{n}{frac}"), now), None);
        }

        /// An HTTP date gives the time from now until it, capped at an hour; one already past gives
        /// no wait at all.
        #[test]
        fn http_dates_give_the_time_until_them(at in instant(), now in instant()) {
            let value = httpdate::fmt_http_date(at);
            // An HTTP date names a whole second.
            let at = UNIX_EPOCH + Duration::from_secs(at.duration_since(UNIX_EPOCH).unwrap().as_secs());
            let expected = at.duration_since(now).unwrap_or(Duration::ZERO).min(CAP);
            prop_assert_eq!(parse_retry_after(&value, now), Some(expected), "{}", value);
        }

        /// The same, for dates within two hours of now, where the cap and the past are near.
        #[test]
        fn http_dates_near_now(now in instant(), ahead in -7200..7200i64) {
            let at = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + ahead;
            prop_assume!((0..=LAST_HTTP_DATE as i64).contains(&at));
            let at = UNIX_EPOCH + Duration::from_secs(at as u64);
            let expected = at.duration_since(now).unwrap_or(Duration::ZERO).min(CAP);
            prop_assert_eq!(parse_retry_after(&httpdate::fmt_http_date(at), now), Some(expected));
        }
    }
}
