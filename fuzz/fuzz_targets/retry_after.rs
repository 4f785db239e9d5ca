//! `Retry-After` header values → `parse_retry_after`: never a panic, never a wait past the hour
//! it caps at, whatever the clock says.
#![no_main]

use class_sync::remote::throttle::parse_retry_after;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};

fuzz_target!(|data: &[u8]| {
    // A header value as `HeaderValue::to_str` hands it over is visible ASCII; take any text.
    let value = String::from_utf8_lossy(data);
    for now in [
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(1_767_225_600), // 2026-01-01
        UNIX_EPOCH + Duration::from_secs(253_402_300_799), // 9999-12-31T23:59:59Z
    ] {
        if let Some(wait) = parse_retry_after(&value, now) {
            assert!(wait <= Duration::from_secs(3600), "{value:?} → {wait:?}");
        }
    }
});
