//! Bytes as a file → `oneroster::detect`, `open` and `OneRosterSet::read`, as `import PATH` does
//! with a zip: never a panic; a set either maps or reports its problems. The input is small
//! (libFuzzer's `-max_len`), so a zip bomb can expand to a few MB at most here; the reader itself
//! does not limit what a zip declares (fuzz/README.md).
#![no_main]

use class_sync::core::domain::Target;
use class_sync::core::snapshot::ValidationContext;
use class_sync::oneroster::{self, Held, SetMode};
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::sync::OnceLock;

/// One temporary folder for the run; each input is written to the same file in it.
fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
}

fuzz_target!(|data: &[u8]| {
    let path = dir().path().join("set.zip");
    let mut file = std::fs::File::create(&path).expect("write the input");
    file.write_all(data).expect("write the input");
    drop(file);
    let Ok(format) = oneroster::detect(&path) else {
        return;
    };
    if format == oneroster::Format::Json {
        return;
    }
    let years = ["2025-26".to_string()];
    let ctx = ValidationContext {
        configured_years: &years,
        default_targets: &[Target::Teams],
    };
    let set = oneroster::open(&path, format);
    // A delta may name what the store holds: give it a school and a group to find.
    let held = match set.mode() {
        Some(SetMode::Delta) => Held {
            schools: ["org-1".to_string()].into(),
            groups: ["cls-1".to_string()].into(),
        },
        _ => Held::default(),
    };
    if let Err(problems) = set.read(&ctx, &held) {
        assert!(!problems.is_empty());
        for p in &problems {
            let _ = p.to_string();
        }
    }
});
