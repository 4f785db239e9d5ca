//! What kind of failure a remote call met, so the retry layer decides from the kind, never a message.

use std::fmt;
use std::time::Duration;

/// The classification of a provider failure (STYLE: errors that classify).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 429: the service asked us to slow down.
    Throttled,
    /// 5xx, resets, timeouts: try again later.
    Transient,
    /// 404: the thing (or the account) does not exist.
    NotFound,
    /// 409 or a failed precondition: the remote state does not allow it.
    Conflict,
    /// 401/403 and refused credentials: permissions must be fixed by a person.
    Forbidden,
    /// 400: the request is wrong; retrying will not help.
    Invalid,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Invalid => "invalid",
        }
    }

    /// Whether the job should be tried again later.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Transient)
    }

    /// The usual meaning of an HTTP status.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            429 => ErrorKind::Throttled,
            401 | 403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            409 | 412 => ErrorKind::Conflict,
            408 | 500..=599 => ErrorKind::Transient,
            _ => ErrorKind::Invalid,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of Microsoft or Google, carrying the service's own code and message to the job's last error.
#[derive(Clone, Debug, thiserror::Error)]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub status: Option<u16>,
    /// The service's code (`TooManyRequests`, `FAILED_PRECONDITION`, `invalid_client`, …) or ours.
    pub code: String,
    pub message: String,
    /// The wait the service asked for, if any.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(
                f,
                "{} (HTTP {s} {}): {}",
                self.kind, self.code, self.message
            ),
            None => write!(f, "{} ({}): {}", self.kind, self.code, self.message),
        }
    }
}

impl ProviderError {
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            status: None,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        ProviderError::new(ErrorKind::Transient, "transient", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ProviderError::new(ErrorKind::Invalid, "invalid", message)
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }
}
