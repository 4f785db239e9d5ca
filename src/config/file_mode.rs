//! Files that hold secrets (the API's token files, a client secret file, Google's key file) should
//! be readable by their owner only. One that other users may read is named in a warning when it is
//! read (the service still starts: an operator fixing permissions should not cost an outage), with
//! the fix.
//!
//! Must not: read or show the file's contents.

use std::path::Path;

/// Why `path` is open to others (its mode gives its group or everyone any access), or None.
pub fn open_to_others(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "{} has mode {mode:03o}: other users may read it; make it readable by its owner only (chmod 600)",
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Logs a warning when the secret file `path` (`what` names its key) is open to others.
pub fn warn_if_open(path: &Path, what: &str) {
    if let Some(reason) = open_to_others(path) {
        tracing::warn!(key = what, "{reason}");
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::open_to_others;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_an_owner_only_file_passes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "secret-token-value-1234").unwrap();
        for (mode, open) in [
            (0o600, false),
            (0o400, false),
            (0o640, true),
            (0o604, true),
            (0o644, true),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let why = open_to_others(&path);
            assert_eq!(why.is_some(), open, "{mode:o}");
            if let Some(why) = why {
                assert!(
                    why.contains(&format!("{mode:03o}")) && why.contains("chmod 600"),
                    "{why}"
                );
                assert!(!why.contains("secret-token-value"), "never the contents");
            }
        }
        assert_eq!(open_to_others(&dir.path().join("missing")), None);
    }
}
