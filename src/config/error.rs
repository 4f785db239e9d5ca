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

/// Where a value is in the file: a byte range of the text, as toml's spans give it.
pub(super) type Span = std::ops::Range<usize>;

/// The file being read: what problems are placed in.
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl Source<'_> {
    /// A problem with `key` (dotted, as the error shows it) at `span`: the span of that very value
    /// (on its key's line, as TOML wants), or of the table that lacks it.
    pub(super) fn error(&self, key: &str, span: Span, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.into(),
            line: Some(self.line(&span)),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// A problem toml found itself (syntax, unknown key, wrong type, missing key), at toml's span.
    pub(super) fn syntax(&self, e: &toml::de::Error) -> ConfigError {
        ConfigError {
            file: self.file.into(),
            line: e.span().map(|span| self.line(&span)),
            key: "(syntax)".into(),
            reason: e.message().to_string(),
        }
    }

    /// The 1-based line `span` starts on.
    pub(super) fn line(&self, span: &Span) -> usize {
        let bytes = self.text.as_bytes();
        let before = bytes.get(..span.start).unwrap_or(bytes);
        before.iter().filter(|&&b| b == b'\n').count() + 1
    }
}
