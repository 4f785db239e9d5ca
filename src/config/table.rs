//! One table of the file while its values are checked: how its keys are named in problems
//! (`worker.concurrency`, `years[1].name`), and the checks several sections share (a positive
//! number, a count of at least one, an http(s) URL, a non-empty string), each placing its problem
//! at the line of the value it refuses.

use super::ConfigError;
use super::error::{Source, Span};
use toml::Spanned;

/// A table being checked.
pub(super) struct Table<'a> {
    src: Source<'a>,
    /// The table's dotted name (`microsoft.limits`, `years[1]`); empty for the root table.
    name: String,
}

impl<'a> Table<'a> {
    pub(super) fn new(src: Source<'a>, name: impl Into<String>) -> Self {
        Table {
            src,
            name: name.into(),
        }
    }

    /// A problem with this table's `key`, at `span`.
    pub(super) fn error(&self, key: &str, span: Span, reason: impl Into<String>) -> ConfigError {
        let key = if self.name.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.name)
        };
        self.src.error(&key, span, reason)
    }

    /// The value written for `key` if `check` accepts it, or `default` when the key is absent.
    pub(super) fn checked<T: Copy>(
        &self,
        key: &str,
        value: Option<Spanned<T>>,
        default: T,
        check: impl Fn(T) -> Result<(), String>,
    ) -> Result<T, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let v = *value.get_ref();
        check(v).map_err(|reason| self.error(key, value.span(), reason))?;
        Ok(v)
    }

    /// The string written for `key` (or `default`, which must pass) turned into a `T` by `parse`.
    pub(super) fn parsed<T>(
        &self,
        key: &str,
        value: Option<Spanned<String>>,
        default: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match value {
            None => Ok(parse(default).expect("the built-in default is valid")),
            Some(value) => {
                parse(value.get_ref()).map_err(|reason| self.error(key, value.span(), reason))
            }
        }
    }

    /// A finite number above zero (a rate, a number of seconds).
    pub(super) fn positive(
        &self,
        key: &str,
        value: Option<Spanned<f64>>,
        default: f64,
    ) -> Result<f64, ConfigError> {
        self.checked(key, value, default, |v| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{v} must be a positive number"))
            }
        })
    }

    /// A finite number of zero or more.
    pub(super) fn non_negative(
        &self,
        key: &str,
        value: Option<Spanned<f64>>,
        default: f64,
    ) -> Result<f64, ConfigError> {
        self.checked(key, value, default, |v| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{v} must be zero or more"))
            }
        })
    }

    /// A count that must not be zero (of jobs, attempts, seconds).
    pub(super) fn at_least_one<T: Copy + PartialEq + From<u8>>(
        &self,
        key: &str,
        value: Option<Spanned<T>>,
        default: T,
    ) -> Result<T, ConfigError> {
        self.checked(key, value, default, |v| {
            if v == T::from(0) {
                Err("must be at least 1".into())
            } else {
                Ok(())
            }
        })
    }

    /// An http(s) URL, or `default`; kept without a trailing `/`.
    pub(super) fn url(
        &self,
        key: &str,
        value: Option<Spanned<String>>,
        default: &str,
    ) -> Result<String, ConfigError> {
        self.parsed(key, value, default, |u| {
            let parsed = url::Url::parse(u).map_err(|e| format!("`{u}` is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("`{u}` must be an http(s) URL"));
            }
            Ok(u.trim_end_matches('/').to_string())
        })
    }

    /// A required string that must not be blank.
    pub(super) fn not_empty(
        &self,
        key: &str,
        value: Spanned<String>,
    ) -> Result<String, ConfigError> {
        if value.get_ref().trim().is_empty() {
            return Err(self.error(key, value.span(), "must not be empty"));
        }
        Ok(value.into_inner())
    }
}
