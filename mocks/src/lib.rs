//! Stateful in-process fakes of the four outside services class-sync talks to: the Microsoft
//! identity token endpoint, Microsoft Graph (education classes and the Teams subset), Google's
//! OAuth token endpoint (JWT bearer grant) and Google Classroom.
//!
//! Each service is an axum server on its own `127.0.0.1:0` port, started with
//! [`MockServices::start`] from inside a tokio runtime. The fakes follow the request and response
//! shapes of the services' documentation strictly (see `/work/shared/reference/*.md`), because
//! they exist to catch client mistakes: a wrong body, a missing header, a client that ignores
//! `Retry-After`.
//!
//! Architecture invariants:
//! - All state lives behind `std::sync::Mutex`es that are never held across an `.await`; request
//!   handlers are synchronous functions over that state. Lock order is `world` → `faults`; the
//!   call log and the throttle state are never locked together with anything else.
//! - Every request passes the same pipeline (`state::serve`): violation check, fault injection,
//!   authentication, quota, handler, call log. The handlers never see faults or quotas.
//!
//! Choices made where the documentation is silent:
//! - Graph: archiving an archived team (or unarchiving an active one) answers 202 and its
//!   operation succeeds without change. `POST /teams/{id}/members` for an existing member answers
//!   409 Conflict; the bulk `members/add` treats it as success. Bulk add honours `owner` roles.
//!   `POST /teams` while a teamify operation for that group is still running answers 409.
//! - Graph: a group's owners are the class's teachers. An owner added through the Teams API becomes
//!   a teacher; a teacher removed through `teachers/{id}/$ref` stays a plain member; the last owner
//!   of a team cannot be removed (400).
//! - Graph: the first poll of every teamsAsyncOperation reports `notStarted`, even when
//!   `operation_delay` is zero and other reads already see the effect.
//! - Graph: unknown routes answer 400 `BadRequest` naming the method and path (not 404, which a
//!   client could mistake for "not found").
//! - Classroom: a patch that sets the state the course already has succeeds without change;
//!   forbidden transitions answer 400 FAILED_PRECONDITION `@CourseNotModifiable`. A course may be
//!   created ACTIVE or PROVISIONED only. Empty lists are left out of responses, as Google does.
//! - Classroom: unknown routes answer 400 INVALID_ARGUMENT naming the method and path.
//! - Google OAuth: every signature or header problem (wrong `alg`, missing `typ: JWT`, a `kid`
//!   other than the key file's) is `invalid_grant` "Invalid JWT Signature."; a wrong `iss` is
//!   `invalid_grant` "Invalid grant: account not found".
//! - Violations: only 429s open a `Retry-After` window. An injected 429 closes the request's
//!   recorded bucket (`teams_write`, `per_client`, …); a quota 429 closes the bucket that was full
//!   (which may be `per_team:{id}` or `per_user:{email}`). Token endpoints have one bucket each.

mod classroom;
mod conn;
mod google_oauth;
mod graph;
mod microsoft_login;
mod server;
mod state;
mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use state::Shared;

/// The test service account's RSA private key (PKCS#8 PEM), also handed out in
/// [`MockServices::service_account_key_json`].
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("keys/test-service-account.pem");
/// The public half of [`TEST_PRIVATE_KEY_PEM`]: the Google token endpoint verifies assertions with it.
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("keys/test-service-account.pub.pem");
/// `private_key_id` of the test key; a JWT whose header carries another `kid` is rejected.
pub const TEST_PRIVATE_KEY_ID: &str = "5f1c0ae4d1f1c8b0a6d9c1f5e2a7b3c4d5e6f708";

/// How the mocks behave. Build it with `MockOptions { page_size: 10, ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// The only tenant the Microsoft token endpoint knows.
    pub tenant_id: String,
    /// The only app registration the Microsoft token endpoint knows.
    pub client_id: String,
    /// Its client secret (form body or HTTP Basic).
    pub client_secret: String,
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

/// Which fake a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// `POST /{tenant}/oauth2/v2.0/token`.
    MicrosoftLogin,
    /// `/v1.0/...`.
    Graph,
    /// `POST /token`.
    GoogleOAuth,
    /// `/v1/courses...`.
    Classroom,
}

/// A queued misbehaviour. It matches a request when `service`, `method` (if set, any case) and
/// `path_contains` (a substring of the percent-decoded path, if set) match; it applies `times`
/// times and is then removed. Faults are checked in injection order and at most one applies to
/// a request. `times: 0` never applies.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub service: Service,
    pub method: Option<String>,
    pub path_contains: Option<String>,
    pub times: u32,
    pub kind: FaultKind,
}

impl Fault {
    /// A fault on every request of `service`, once. Narrow it with the builder methods.
    pub fn new(service: Service, kind: FaultKind) -> Fault {
        Fault {
            service,
            method: None,
            path_contains: None,
            times: 1,
            kind,
        }
    }
    /// Only requests with this HTTP method.
    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_string());
        self
    }
    /// Only requests whose decoded path contains `part`.
    pub fn path_contains(mut self, part: &str) -> Fault {
        self.path_contains = Some(part.to_string());
        self
    }
    /// Apply `times` times instead of once.
    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }
}

/// What a matching [`Fault`] does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Answer with this status, the service's documented error body and, when given, a
    /// `Retry-After` header. The request has no effect. A 429 with a `Retry-After` opens a
    /// window on the request's bucket (see [`MockServices::retry_after_violations`]).
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Close the connection without any response. No effect.
    Reset,
    /// Answer normally after the delay.
    Delay(Duration),
    /// Perform the request's effect, then answer 500 (a create that worked but the client saw
    /// an error).
    SucceedThen500,
    /// Graph only: the next teamsAsyncOperation created by a matching request ends `failed`
    /// with error `TeamUnavailable`, and has no effect.
    OperationFailed,
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
    /// Status sent; 0 when the connection was dropped ([`FaultKind::Reset`]).
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

/// An education class (and its group and team) as the Graph mock holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamView {
    pub class_id: String,
    pub external_id: String,
    pub display_name: String,
    pub mail_nickname: String,
    /// True once a teamify operation has succeeded.
    pub is_team: bool,
    pub is_archived: bool,
    /// Owners of the class group (= the team's owners), emails, sorted.
    pub owners: Vec<String>,
    /// Non-owner members, emails, sorted.
    pub members: Vec<String>,
    /// The education class's `teachers` collection, emails, sorted. The mock keeps it equal to
    /// `owners`, as the docs describe teachers as the group's owners.
    pub class_teachers: Vec<String>,
}

/// A Classroom course as the mock holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseView {
    /// Numeric course id.
    pub id: String,
    pub aliases: Vec<String>,
    pub name: String,
    pub section: Option<String>,
    /// Owner's email.
    pub owner: String,
    /// `ACTIVE`, `ARCHIVED`, `PROVISIONED`, `DECLINED` or `SUSPENDED`.
    pub state: String,
    /// Emails, sorted (the owner included).
    pub teachers: Vec<String>,
    /// Emails, sorted.
    pub students: Vec<String>,
}

/// Handle to the four running fakes. Cheap to clone; the servers stop when the last clone is
/// dropped (or when their tokio runtime shuts down).
#[derive(Clone)]
pub struct MockServices {
    inner: Arc<Running>,
}

struct Running {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl MockServices {
    /// Binds four listeners on `127.0.0.1:0` and serves them on the current tokio runtime.
    pub async fn start(opts: MockOptions) -> std::io::Result<MockServices> {
        let login = server::bind().await?;
        let graph = server::bind().await?;
        let google = server::bind().await?;
        let classroom = server::bind().await?;
        let urls = state::Urls {
            login: format!("http://{}", login.local_addr()?),
            graph: format!("http://{}/v1.0", graph.local_addr()?),
            google_token: format!("http://{}/token", google.local_addr()?),
            classroom: format!("http://{}", classroom.local_addr()?),
        };
        let shared = Arc::new(Shared::new(opts, urls));
        let tasks = vec![
            server::spawn::<microsoft_login::MicrosoftLogin>(login, shared.clone()),
            server::spawn::<graph::Graph>(graph, shared.clone()),
            server::spawn::<google_oauth::GoogleOAuth>(google, shared.clone()),
            server::spawn::<classroom::Classroom>(classroom, shared.clone()),
        ];
        Ok(MockServices {
            inner: Arc::new(Running { shared, tasks }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// `http://127.0.0.1:P`; the token endpoint is `POST {login_url}/{tenant_id}/oauth2/v2.0/token`.
    pub fn login_url(&self) -> String {
        self.shared().urls.login.clone()
    }

    /// `http://127.0.0.1:Q/v1.0`.
    pub fn graph_url(&self) -> String {
        self.shared().urls.graph.clone()
    }

    /// `http://127.0.0.1:R/token`, also the `token_uri` of the key file and the expected `aud`.
    pub fn google_token_uri(&self) -> String {
        self.shared().urls.google_token.clone()
    }

    /// `http://127.0.0.1:S`; paths are `/v1/courses...`.
    pub fn classroom_url(&self) -> String {
        self.shared().urls.classroom.clone()
    }

    /// A Google service-account JSON key file for the test key, pointing at the mock token
    /// endpoint.
    pub fn service_account_key_json(&self) -> String {
        google_oauth::key_file_json(self.shared())
    }

    /// The options the mocks were started with.
    pub fn options(&self) -> MockOptions {
        self.shared().opts.clone()
    }

    /// Makes the account exist in Entra (a GUID id) and Google (a numeric id). Idempotent;
    /// emails compare case-insensitively.
    pub fn add_user(&self, email: &str) {
        self.shared().world().users.add(email);
    }

    /// [`MockServices::add_user`] for many accounts under one lock.
    pub fn add_users<'a>(&self, emails: impl IntoIterator<Item = &'a str>) {
        let mut world = self.shared().world();
        for email in emails {
            world.users.add(email);
        }
    }

    /// Every education class, in creation order. Operations that are due are applied first.
    pub fn teams(&self) -> Vec<TeamView> {
        graph::team_views(self.shared(), None)
    }

    /// The class with this `externalId` (the first one, should there be several).
    pub fn team_by_external_id(&self, external_id: &str) -> Option<TeamView> {
        graph::team_views(self.shared(), Some(external_id))
            .into_iter()
            .next()
    }

    /// Set-up for benchmarks: a class team that already exists (owned by `owner_email`, whose
    /// account is created), as if class-sync had made it earlier. Returns the team id.
    pub fn seed_team(&self, external_id: &str, display_name: &str, owner_email: &str) -> String {
        let mut world = self.shared().world();
        let owner = world.users.add(owner_email);
        graph::seed_team(&mut world, external_id, display_name, owner)
    }

    /// Set-up for benchmarks: an ACTIVE course with alias `alias` owned by `owner_email` (whose
    /// account is created). Returns the course id.
    pub fn seed_course(&self, alias: &str, name: &str, owner_email: &str) -> String {
        let mut world = self.shared().world();
        let owner = world.users.add(owner_email);
        classroom::seed_course(&mut world, alias, name, owner)
    }

    /// Every course, in creation order.
    pub fn courses(&self) -> Vec<CourseView> {
        classroom::course_views(self.shared(), None)
    }

    /// The course with this alias (`d:...`), if any.
    pub fn course_by_alias(&self, alias: &str) -> Option<CourseView> {
        classroom::course_views(self.shared(), Some(alias))
            .into_iter()
            .next()
    }

    /// Every request so far, in the order their answers were decided.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared().calls()
    }

    /// Forgets the call log (not the violation or throttle counters).
    pub fn clear_calls(&self) {
        self.shared().clear_calls();
    }

    /// Queues a fault behind those already queued.
    pub fn inject(&self, fault: Fault) {
        self.shared().inject(fault);
    }

    /// Every token issued so far is rejected from now on (Graph `InvalidAuthenticationToken`,
    /// Classroom `UNAUTHENTICATED`); new tokens work.
    pub fn expire_all_tokens(&self) {
        let mut world = self.shared().world();
        world.ms_tokens.clear();
        world.google_tokens.clear();
    }

    /// Requests that arrived on a bucket while a `Retry-After` this mock had sent with a 429
    /// for that bucket was still running.
    pub fn retry_after_violations(&self) -> u64 {
        self.shared().violations()
    }

    /// 429s sent (injected or quota).
    pub fn throttled_count(&self) -> u64 {
        self.shared().throttled()
    }
}
