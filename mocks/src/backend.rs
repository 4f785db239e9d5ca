//! The contract between the pipeline and a fake: the request as a fake sees it ([`Incoming`]),
//! what the fake decides about it before anything else happens ([`Classified`], [`Auth`]), and
//! the [`Backend`] trait each fake implements. The pipeline knows fakes only through this trait;
//! the composition root picks the implementations.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use axum::response::Response;

use crate::state::Shared;
use crate::state::calls::Service;
use crate::wire::{self, Refusal};

/// A request, read in full, with its path decoded.
pub(crate) struct Incoming {
    pub method: Method,
    /// Percent-decoded path.
    pub path: String,
    /// Percent-decoded path segments (the empty one before the first `/` left out).
    pub segments: Vec<String>,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    /// Decoded query pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        wire::form_pairs(self.query.as_deref().unwrap_or("").as_bytes())
    }
}

/// Which buckets a request counts against, decided before anything else happens to it.
#[derive(Default)]
pub(crate) struct Classified {
    /// The bucket recorded in the call log (and closed by an injected 429).
    pub bucket: Option<String>,
    /// Graph: the team of a `/teams/{id}/...` call.
    pub team: Option<String>,
    /// Classroom: the token's subject, if the token is known.
    pub user: Option<String>,
    /// Every bucket key, the recorded bucket first (`per_team:{id}`, `per_user:{email}` …).
    pub keys: Vec<String>,
}

/// Who the request is authenticated as.
#[derive(Default)]
pub(crate) struct Auth {
    /// Google: the impersonated user.
    pub user: Option<String>,
    /// Google: the token's scopes.
    pub scopes: Vec<String>,
}

/// One fake service: its routing, authentication, error shape and handlers. Handlers are
/// synchronous: they lock the world, change it and answer.
pub(crate) trait Backend: Send + Sync + 'static {
    const SERVICE: Service;
    /// Buckets of the request (no side effects).
    fn classify(shared: &Shared, req: &Incoming) -> Classified;
    /// Checks the credentials, or answers with the service's 401.
    fn authenticate(shared: &Shared, req: &Incoming) -> Result<Auth, Refusal>;
    /// The service's documented error answer for a bare status (faults, quotas), shaped for the
    /// request it answers (a page a browser asked for gets a page).
    fn status_error(shared: &Shared, req: &Incoming, status: u16) -> Response;
    /// Does the work.
    fn handle(shared: &Shared, req: &Incoming, auth: &Auth) -> Response;
}
