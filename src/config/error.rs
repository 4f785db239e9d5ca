//! [`ConfigError`], and placing a problem in the file: the file's name and text, and the line a
//! problem is reported on.

/// A configuration problem: where it is and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {key}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub reason: String,
}

/// The file being read: what problems are placed in.
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl Source<'_> {
    /// A problem with the value of `key` (dotted, as the error shows it).
    pub(super) fn error(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.into(),
            line: self.find_line(key),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// A problem toml found itself (syntax, unknown key, wrong type, missing key), at toml's line.
    pub(super) fn syntax(&self, e: &toml::de::Error) -> ConfigError {
        let text = self.text;
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        ConfigError {
            file: self.file.into(),
            line,
            key: "(syntax)".into(),
            reason: e.message().to_string(),
        }
    }

    /// Best-effort line of a dotted key (its last part) for semantic errors toml cannot place.
    pub(super) fn find_line(&self, key: &str) -> Option<usize> {
        let last = key.rsplit('.').next()?;
        let last = last.split('[').next()?;
        self.text
            .lines()
            .position(|l| {
                let l = l.trim_start();
                l.starts_with(last) && l[last.len()..].trim_start().starts_with('=')
            })
            .map(|i| i + 1)
    }
}
