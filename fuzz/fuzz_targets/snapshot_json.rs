//! A UMP snapshot's text → `parse_snapshot` (and `parse_group`, the API's `PUT /v1/groups/{id}`
//! body), and the JSON pointer → line scanner on the same text: never a panic, never "valid" with
//! problems, every problem located on a line of the text.
#![no_main]

use class_sync::core::domain::Target;
use class_sync::core::snapshot::{ValidationContext, line_of, parse_group, parse_snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let years = ["2025-26".to_string(), "2026-27".to_string()];
    let ctx = ValidationContext {
        configured_years: &years,
        default_targets: &[Target::Teams],
    };
    let lines = text.split('\n').count();
    if let Err(problems) = parse_snapshot(text, &ctx) {
        assert!(!problems.is_empty());
        for p in &problems {
            assert!(
                p.line.is_none_or(|l| l >= 1 && l <= lines),
                "{p:?} in {lines} lines"
            );
            let _ = p.render("fuzz.json");
        }
    }
    let known = ["6612001".to_string()];
    if let Err(problems) = parse_group(text, "g-1", &known, &ctx) {
        assert!(!problems.is_empty());
    }
    // The scanner on any text, not only what serde_json accepted: pointers taken from the input.
    for pointer in ["", "/groups/0/teachers/0", "/schools/1/id", "/a~1b/0"] {
        if let Some(l) = line_of(text, pointer) {
            assert!(l >= 1 && l <= lines, "{pointer}: {l} of {lines}");
        }
    }
    if let Some(pointer) = text.lines().last() {
        let _ = line_of(text, pointer);
    }
});
