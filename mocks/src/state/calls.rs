//! The call log: every request as the mocks saw it ([`CallRecord`], naming the [`Service`] it
//! went to), appended by the pipeline when the answer is decided and read by tests through the
//! facade. Its lock is never held together with any other.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Which fake a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// `/{tenant}/oauth2/v2.0/token`, `/{tenant}/oauth2/v2.0/authorize` (and `/pick`),
    /// `/{tenant}/discovery/v2.0/keys`, `/{tenant}/v2.0/.well-known/openid-configuration`.
    MicrosoftLogin,
    /// `/v1.0/...`.
    Graph,
    /// `POST /token`.
    GoogleOAuth,
    /// `/v1/courses...`.
    Classroom,
}

/// One request as the mocks saw it.
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub service: Service,
    pub method: String,
    /// Percent-decoded path, without the query.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Status sent; 0 when the connection was dropped ([`FaultKind::Reset`](crate::FaultKind::Reset)).
    pub status: u16,
    /// Quota bucket: `teams_create`, `teams_write`, `teams_read`, `education` (Graph),
    /// `per_client` (Classroom); None for token endpoints and unknown routes.
    pub bucket: Option<String>,
    /// When the request arrived. Records are appended when the answer is decided, so delayed
    /// requests appear after later quick ones.
    pub at: Instant,
    /// Classroom: the impersonated Google user (token subject).
    pub user: Option<String>,
    /// Graph: the team id of a `/teams/{id}/...` call (its per-team bucket). Extra to the spec.
    pub team: Option<String>,
}

/// The requests so far, in the order their answers were decided.
#[derive(Default)]
pub(crate) struct CallLog {
    calls: Mutex<Vec<CallRecord>>,
}

impl CallLog {
    fn lock(&self) -> MutexGuard<'_, Vec<CallRecord>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, call: CallRecord) {
        self.lock().push(call);
    }

    pub fn all(&self) -> Vec<CallRecord> {
        self.lock().clone()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}
