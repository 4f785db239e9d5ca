//! Stateful in-process fakes of the four outside services class-sync talks to: the Microsoft
//! identity platform (the Graph app's token endpoint, and the OpenID Connect provider the web
//! console signs people in with), Microsoft Graph (education classes and the Teams subset),
//! Google's OAuth token endpoint (JWT bearer grant) and Google Classroom.
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
//! - Every request passes the same pipeline (`pipeline::serve`): violation check, fault injection,
//!   authentication, quota, handler, call log. The handlers never see faults or quotas.
//! - The modules form layers and import nothing from a layer above (no cycles, at the top level
//!   or one level down, as `/work/shared/tools/modgraph.py` checks): `wire`, `options` and `conn`;
//!   `state` (users, world, faults, call log, throttle); `backend`, the contract a fake
//!   implements; the four fakes; `pipeline` and `server`, generic over `Backend`; and this file,
//!   the composition root, which starts one server per fake and is the public facade. The world
//!   holds each service's own data by type (`state::world::ServiceStates`), so `state` never
//!   names a service. Inside `graph/` and `classroom/`, `mod.rs` routes to one file per
//!   resource over a `model.rs`, and nothing there imports from `mod.rs`; `microsoft_login/`
//!   has one file per endpoint group (`authorize` with its `pages` and `redirect_uri`, `token`,
//!   `id_token` with the key set and discovery) over its `model.rs` and `errors.rs`.
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
//! - Sign-in (OpenID Connect): one tenant, one sign-in app (`MockOptions::sign_in_*`), no
//!   session. There are no passwords: the authorize endpoint answers "Pick an account" listing
//!   every known user (the same directory Graph uses, sorted by address), or, when `login_hint`
//!   names a known user, redirects at once (`prompt=select_account` always shows the page;
//!   `prompt=none` without a known hint is `login_required`). An unknown address on the page
//!   shows it again with Entra's "This username may be incorrect…" sentence.
//! - Sign-in is stricter than Entra where Entra only recommends: `state`, `nonce` and PKCE
//!   (`code_challenge_method=S256`; `plain` is refused) are required, `response_mode` may only be
//!   `query`, `response_type` only `code`, and the scopes only `openid` (required), `profile`,
//!   `email` (no refresh tokens are issued). Problems with `client_id` or `redirect_uri` (and an
//!   unknown tenant) are an HTML error page; every other problem is redirected to the app with
//!   `error`, `error_description` and `state`. Redirect URIs match exactly, except that the port
//!   is ignored for `localhost` and `127.0.0.1`, as Entra does.
//! - Sign-in codes: opaque, single use (spent by the first successful redemption; a second is
//!   AADSTS54005), valid ten minutes (then AADSTS70008), bound to the client id and redirect URI
//!   (AADSTS50011), redeemed with the PKCE verifier (AADSTS501481). Only the sign-in app may use
//!   `authorization_code` and only the Graph app `client_credentials` (the other app gets
//!   `unauthorized_client` AADSTS70003). The answer's `access_token` is opaque and accepted by
//!   no fake; its `id_token` is RS256 with the key `TEST_IDP_KEY_ID`, `iss`
//!   `{login_url}/{tenant}/v2.0`, a pairwise `sub`, `oid`, `tid`, `nonce`, `ver` 2.0, and, as in
//!   Entra, `preferred_username` and `name` only with the `profile` scope and `email` only with
//!   `email`. The key set carries no `x5c` certificate chain.
//! - Violations: only 429s open a `Retry-After` window. An injected 429 closes the request's
//!   recorded bucket (`teams_write`, `per_client`, …); a quota 429 closes the bucket that was full
//!   (which may be `per_team:{id}` or `per_user:{email}`). Token endpoints have one bucket each;
//!   the sign-in pages (`microsoft_login_authorize`) and the key set with the discovery document
//!   (`microsoft_login_metadata`) have their own. Faults on the sign-in pages answer with an
//!   HTML error page, elsewhere with the service's JSON error.

mod backend;
mod classroom;
mod conn;
mod google_oauth;
mod graph;
mod microsoft_login;
mod options;
mod pipeline;
mod server;
mod state;
mod wire;

use std::sync::Arc;

use state::Shared;

pub use classroom::CourseView;
pub use google_oauth::{TEST_PRIVATE_KEY_ID, TEST_PRIVATE_KEY_PEM, TEST_PUBLIC_KEY_PEM};
pub use graph::TeamView;
pub use microsoft_login::{
    TEST_IDP_KEY_ID, TEST_IDP_PRIVATE_KEY_PEM, TEST_IDP_PUBLIC_KEY_PEM, Tamper,
};
pub use options::{MockOptions, Quotas, RandomFaults};
pub use state::calls::{CallRecord, Service};
pub use state::faults::{Fault, FaultKind};

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

    /// `http://127.0.0.1:P`; the token endpoint is `POST {login_url}/{tenant_id}/oauth2/v2.0/token`,
    /// the sign-in starts at `GET {login_url}/{tenant_id}/oauth2/v2.0/authorize`, the key set is
    /// `GET {login_url}/{tenant_id}/discovery/v2.0/keys`.
    pub fn login_url(&self) -> String {
        self.shared().urls.login.clone()
    }

    /// `{login_url}/{tenant_id}/v2.0`: the `iss` of the sign-in app's id_tokens; the discovery
    /// document is at `{oidc_issuer}/.well-known/openid-configuration`.
    pub fn oidc_issuer(&self) -> String {
        microsoft_login::issuer(self.shared())
    }

    /// Spoils every id_token issued from now on as `tamper` says, until called again with
    /// [`Tamper::None`], so that a client's tests can show each of its checks refusing.
    pub fn tamper_id_tokens(&self, tamper: Tamper) {
        microsoft_login::tamper_id_tokens(self.shared(), tamper);
    }

    /// Sign-ins so far: authorization codes redeemed for tokens.
    pub fn sign_ins(&self) -> u64 {
        microsoft_login::sign_ins(self.shared())
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
    /// emails compare case-insensitively. Every account may sign in to the console (the
    /// "Pick an account" page lists them all).
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
        self.shared().calls.all()
    }

    /// Forgets the call log (not the violation or throttle counters).
    pub fn clear_calls(&self) {
        self.shared().calls.clear();
    }

    /// Queues a fault behind those already queued.
    pub fn inject(&self, fault: Fault) {
        self.shared().faults.inject(fault);
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
        self.shared().throttle.violations()
    }

    /// 429s sent (injected or quota).
    pub fn throttled_count(&self) -> u64 {
        self.shared().throttle.throttled()
    }
}
