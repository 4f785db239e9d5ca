//! The public configuration of the mocks: [`MockOptions`] and the limits and fault rates it
//! carries. Plain data, read by the pipeline and the fakes; re-exported from the crate root.

use std::time::Duration;

/// How the mocks behave. Build it with `MockOptions { page_size: 10, ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// The only tenant the Microsoft identity platform fake knows.
    pub tenant_id: String,
    /// The Graph app registration: the only client the client-credentials grant accepts.
    pub client_id: String,
    /// Its client secret (form body or HTTP Basic).
    pub client_secret: String,
    /// The web console's sign-in app registration: the only client the OpenID Connect sign-in
    /// (`/authorize`, then the `authorization_code` grant) accepts, and the `aud` of its
    /// id_tokens.
    pub sign_in_client_id: String,
    /// Its client secret (form body or HTTP Basic), needed to redeem a code.
    pub sign_in_client_secret: String,
    /// The sign-in app's registered redirect URIs. As Entra does for loopback hosts
    /// (`localhost`, `127.0.0.1`), the port is ignored when a request's URI is matched against
    /// one of them; everything else must match exactly. By default `http://127.0.0.1/auth/callback`
    /// and `http://localhost/auth/callback`: a console's `{public_url}/auth/callback` on any
    /// local port.
    pub sign_in_redirect_uris: Vec<String>,
    /// The `iss` the Google token endpoint expects, and `client_email` of the key file.
    pub service_account_email: String,
    /// Google accounts that may be impersonated (JWT `sub`). They are also added as users, so
    /// `"ownerId": "me"` works.
    pub admin_emails: Vec<String>,
    /// `expires_in` of both token endpoints; tokens are rejected after it.
    pub token_lifetime: Duration,
    /// How long a Graph teamsAsyncOperation stays notStarted/inProgress before it succeeds.
    pub operation_delay: Duration,
    /// The first poll of every operation sees `notStarted` even when it is done (default), so
    /// clients must loop; benchmarks turn it off to see one poll per finished operation.
    pub first_poll_sees_not_started: bool,
    /// Largest page for Graph lists and Classroom lists; a client asking for less gets less.
    /// The small default forces clients to follow paging.
    pub page_size: usize,
    /// How many times `POST /teams` answers 404 (replication delay) for each newly created
    /// education class before it accepts.
    pub replication_404s: u32,
    /// When set, per-bucket request limits answered with 429 and `Retry-After`.
    pub quotas: Option<Quotas>,
    /// When set, this share of Graph and Classroom requests fails at random (half 503 with no
    /// effect, half a connection reset with no effect), for storms with faults.
    pub random_faults: Option<RandomFaults>,
}

/// Random faults: `rate` is the share of requests (0.03 = 3%) that fail.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomFaults {
    pub rate: f64,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            tenant_id: "mock-tenant".into(),
            client_id: "mock-client-id".into(),
            client_secret: "mock-client-secret".into(),
            sign_in_client_id: "c0501e00-0000-4000-8000-000000000001".into(),
            sign_in_client_secret: "console-secret".into(),
            sign_in_redirect_uris: vec![
                "http://127.0.0.1/auth/callback".into(),
                "http://localhost/auth/callback".into(),
            ],
            service_account_email: "class-sync@mock-project.iam.gserviceaccount.com".into(),
            admin_emails: vec!["classroom-admin@hwbcymru.net".into()],
            token_lifetime: Duration::from_secs(3599),
            operation_delay: Duration::ZERO,
            first_poll_sees_not_started: true,
            page_size: 2,
            replication_404s: 0,
            quotas: None,
            random_faults: None,
        }
    }
}

/// Request limits per bucket. Graph buckets count requests in fixed one-second windows; Classroom
/// buckets use a 60-second sliding window, as Google documents. A limit of 0 means "no limit".
/// Only requests that were let through count towards a window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// `POST /teams`.
    pub teams_create_per_sec: u32,
    /// archive, unarchive, members add/delete/post.
    pub teams_write_per_sec: u32,
    /// `GET /teams/...` (team, operations, members).
    pub teams_read_per_sec: u32,
    /// Every `/teams/{id}/...` call, per team.
    pub per_team_per_sec: u32,
    /// `/education/*` and `/users/*`.
    pub education_per_sec: u32,
    /// Every Classroom call.
    pub classroom_per_client_per_min: u32,
    /// Every Classroom call, per impersonated user.
    pub classroom_per_user_per_min: u32,
    /// The `Retry-After` the mock sends with its 429s.
    pub retry_after_secs: u32,
}

impl Quotas {
    /// The limits the services document (graph-teams-api.md §6, classroom-api.md §5), with a
    /// one-second `Retry-After`. Education is 35,000 per 10 s, so 3,500 per second.
    pub fn documented() -> Quotas {
        Quotas {
            teams_create_per_sec: 10,
            teams_write_per_sec: 30,
            teams_read_per_sec: 30,
            per_team_per_sec: 4,
            education_per_sec: 3500,
            classroom_per_client_per_min: 3000,
            classroom_per_user_per_min: 1200,
            retry_after_secs: 1,
        }
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas::documented()
    }
}
