//! State shared by the four fakes (users, tokens, faults, call log, quotas) and the request
//! pipeline every request passes through.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;

use crate::classroom::ClassroomState;
use crate::conn::ConnHandle;
use crate::graph::GraphState;
use crate::wire::{self, Refusal};
use crate::{CallRecord, Fault, FaultKind, MockOptions, Quotas, Service};

/// Largest request body the fakes read; the real services' limits are of this order.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Base URLs of the running fakes.
pub(crate) struct Urls {
    pub login: String,
    pub graph: String,
    pub google_token: String,
    pub classroom: String,
}

/// Everything the fakes share. See the lock-order invariant in the crate docs.
pub(crate) struct Shared {
    pub opts: MockOptions,
    pub urls: Urls,
    world: Mutex<World>,
    faults: Mutex<Vec<Fault>>,
    calls: Mutex<Vec<CallRecord>>,
    throttle: Mutex<Throttle>,
    violations: AtomicU64,
    throttled: AtomicU64,
}

/// The services' data.
pub(crate) struct World {
    pub users: Users,
    /// Microsoft access token → expiry.
    pub ms_tokens: HashMap<String, Instant>,
    /// Google access token → what it was issued for.
    pub google_tokens: HashMap<String, GoogleToken>,
    pub graph: GraphState,
    pub classroom: ClassroomState,
}

/// What a Google access token stands for.
pub(crate) struct GoogleToken {
    pub subject: String,
    pub scopes: Vec<String>,
    pub expires: Instant,
}

/// Index of a user in [`Users`]; users are never removed, so indexes stay valid.
pub(crate) type UserIdx = usize;

/// An account that exists in both Entra and Google (the same address, CONTRACT §4).
pub(crate) struct User {
    pub email: String,
    pub guid: String,
    pub google_id: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
}

/// The directory both services look users up in.
#[derive(Default)]
pub(crate) struct Users {
    list: Vec<User>,
    by_email: HashMap<String, UserIdx>,
    by_guid: HashMap<String, UserIdx>,
    by_google_id: HashMap<String, UserIdx>,
}

impl Users {
    /// Adds the account unless it exists; returns its index.
    pub fn add(&mut self, email: &str) -> UserIdx {
        let key = email.trim().to_ascii_lowercase();
        if let Some(&idx) = self.by_email.get(&key) {
            return idx;
        }
        let idx = self.list.len();
        let (given_name, family_name, display_name) = wire::names_for(email.trim());
        // Google user ids are 21-digit numbers.
        let google_id = format!("1{:020}", 4_217_000_000_000u64 + idx as u64);
        let user = User {
            email: email.trim().to_string(),
            guid: wire::guid(),
            google_id: google_id.clone(),
            given_name,
            family_name,
            display_name,
        };
        self.by_guid.insert(user.guid.clone(), idx);
        self.by_google_id.insert(google_id, idx);
        self.by_email.insert(key, idx);
        self.list.push(user);
        idx
    }

    pub fn get(&self, idx: UserIdx) -> &User {
        &self.list[idx]
    }

    pub fn by_email(&self, email: &str) -> Option<UserIdx> {
        self.by_email.get(&email.to_ascii_lowercase()).copied()
    }

    /// Graph: a user id is its GUID or its UPN (= email).
    pub fn by_entra_id(&self, id: &str) -> Option<UserIdx> {
        self.by_guid
            .get(&id.to_ascii_lowercase())
            .copied()
            .or_else(|| self.by_email(id))
    }

    /// Classroom: a user id is the numeric id or the email (`"me"` is resolved by the caller).
    pub fn by_google_id(&self, id: &str) -> Option<UserIdx> {
        self.by_google_id
            .get(id)
            .copied()
            .or_else(|| self.by_email(id))
    }

    pub fn email(&self, idx: UserIdx) -> String {
        self.list[idx].email.clone()
    }
}

/// Per-bucket request counts, and the `Retry-After` windows the mock announced.
#[derive(Default)]
struct Throttle {
    /// Graph: bucket key → (window start, requests let through in it).
    fixed: HashMap<String, (Instant, u32)>,
    /// Classroom: bucket key → arrival times of requests let through in the last minute.
    sliding: HashMap<String, VecDeque<Instant>>,
    /// Bucket key → end of the announced `Retry-After`.
    closed: HashMap<String, Instant>,
}

/// How a bucket is limited.
enum Window {
    Second,
    Minute,
}

/// Limit of a bucket key, None when unlimited.
fn limit_for(quotas: &Quotas, key: &str) -> Option<(u32, Window)> {
    let (limit, window) = match key.split_once(':').map_or(key, |(kind, _)| kind) {
        "teams_create" => (quotas.teams_create_per_sec, Window::Second),
        "teams_write" => (quotas.teams_write_per_sec, Window::Second),
        "teams_read" => (quotas.teams_read_per_sec, Window::Second),
        "education" => (quotas.education_per_sec, Window::Second),
        "per_team" => (quotas.per_team_per_sec, Window::Second),
        "per_client" => (quotas.classroom_per_client_per_min, Window::Minute),
        "per_user" => (quotas.classroom_per_user_per_min, Window::Minute),
        _ => return None,
    };
    (limit > 0).then_some((limit, window))
}

impl Throttle {
    /// Lets the request through (counting it in every bucket) or names the bucket that is full.
    fn admit(&mut self, quotas: &Quotas, keys: &[String], now: Instant) -> Option<String> {
        for key in keys {
            let Some((limit, window)) = limit_for(quotas, key) else {
                continue;
            };
            let used = match window {
                Window::Second => match self.fixed.get(key) {
                    Some((start, count)) if now.duration_since(*start) < Duration::from_secs(1) => {
                        *count
                    }
                    _ => 0,
                },
                Window::Minute => {
                    let log = self.sliding.entry(key.clone()).or_default();
                    while log
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
                    {
                        log.pop_front();
                    }
                    log.len() as u32
                }
            };
            if used >= limit {
                return Some(key.clone());
            }
        }
        for key in keys {
            let Some((_, window)) = limit_for(quotas, key) else {
                continue;
            };
            match window {
                Window::Second => {
                    let entry = self.fixed.entry(key.clone()).or_insert((now, 0));
                    if now.duration_since(entry.0) >= Duration::from_secs(1) {
                        *entry = (now, 0);
                    }
                    entry.1 += 1;
                }
                Window::Minute => self.sliding.entry(key.clone()).or_default().push_back(now),
            }
        }
        None
    }
}

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
    /// The service's documented error answer for a bare status (faults, quotas).
    fn status_error(shared: &Shared, status: u16) -> Response;
    /// Does the work.
    fn handle(shared: &Shared, req: &Incoming, auth: &Auth) -> Response;
}

/// The pipeline every request of every fake goes through: violation check, fault, auth, quota,
/// handler, call log.
pub(crate) async fn serve<B: Backend>(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    request: Request,
) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let raw_path = parts.uri.path().to_string();
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let req = Incoming {
        method: parts.method,
        path: wire::percent_decode(&raw_path),
        segments: raw_path
            .split('/')
            .skip(1)
            .map(wire::percent_decode)
            .collect(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body: body.as_ref().cloned().unwrap_or_default(),
    };
    let class = B::classify(&shared, &req);
    let log = |status: u16, user: Option<String>| {
        shared.record(CallRecord {
            service: B::SERVICE,
            method: req.method.to_string(),
            path: req.path.clone(),
            query: req.query.clone(),
            status,
            bucket: class.bucket.clone(),
            at,
            user: user.or_else(|| class.user.clone()),
            team: class.team.clone(),
        })
    };
    if body.is_err() {
        let resp = B::status_error(&shared, 413);
        log(413, None);
        return resp;
    }
    shared.check_violations(&class.keys, at);

    let mut then_500 = false;
    let fault = shared
        .take_fault(B::SERVICE, &req)
        .or_else(|| shared.random_fault(B::SERVICE));
    match fault {
        Some(FaultKind::Status {
            status,
            retry_after,
        }) => {
            let mut resp = B::status_error(&shared, status);
            if let Some(value) = &retry_after {
                resp = wire::with_header(resp, "retry-after", value);
            }
            if status == 429 {
                let wait = retry_after.as_deref().and_then(parse_retry_after);
                shared.note_throttled(class.keys.first(), wait);
            }
            log(status, None);
            return resp;
        }
        Some(FaultKind::Reset) => {
            conn.kill();
            log(0, None);
            return wire::empty(500);
        }
        Some(FaultKind::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(FaultKind::SucceedThen500) => then_500 = true,
        Some(FaultKind::OperationFailed) | None => {}
    }

    let auth = match B::authenticate(&shared, &req) {
        Ok(auth) => auth,
        Err(refusal) => {
            let resp = Response::from(refusal);
            log(resp.status().as_u16(), None);
            return resp;
        }
    };
    if let Some(quotas) = &shared.opts.quotas {
        let full = shared
            .lock_throttle()
            .admit(quotas, &class.keys, Instant::now());
        if let Some(key) = full {
            let secs = quotas.retry_after_secs;
            shared.note_throttled(Some(&key), Some(Duration::from_secs(secs.into())));
            let resp = wire::with_header(
                B::status_error(&shared, 429),
                "retry-after",
                &secs.to_string(),
            );
            log(429, auth.user.clone());
            return resp;
        }
    }
    let mut resp = B::handle(&shared, &req, &auth);
    if then_500 {
        resp = B::status_error(&shared, 500);
    }
    log(resp.status().as_u16(), auth.user.clone());
    resp
}

/// `Retry-After` as delta-seconds (fractions allowed, as Graph has sent `2.128`) or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (date.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

impl Shared {
    pub fn new(opts: MockOptions, urls: Urls) -> Shared {
        let mut users = Users::default();
        for admin in &opts.admin_emails {
            users.add(admin);
        }
        let world = World {
            users,
            ms_tokens: HashMap::new(),
            google_tokens: HashMap::new(),
            graph: GraphState::default(),
            classroom: ClassroomState::default(),
        };
        Shared {
            opts,
            urls,
            world: Mutex::new(world),
            faults: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            throttle: Mutex::new(Throttle::default()),
            violations: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    /// The world lock. A panic elsewhere must not take the mocks down with it, so poisoning is
    /// ignored (handlers leave the state consistent before anything that could panic).
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_throttle(&self) -> MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_faults(&self) -> MutexGuard<'_, Vec<Fault>> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_calls(&self) -> MutexGuard<'_, Vec<CallRecord>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            self.lock_faults().push(fault);
        }
    }

    /// Takes one use of the first matching fault, except `OperationFailed`, which is taken by the
    /// Graph handler when it actually creates an operation.
    fn take_fault(&self, service: Service, req: &Incoming) -> Option<FaultKind> {
        self.take_matching(service, req, |kind| {
            !matches!(kind, FaultKind::OperationFailed)
        })
    }

    /// With `MockOptions::random_faults`, a 503 or a reset for that share of Graph and Classroom requests.
    fn random_fault(&self, service: Service) -> Option<FaultKind> {
        let rate = self.opts.random_faults?.rate;
        if !matches!(service, Service::Graph | Service::Classroom) {
            return None;
        }
        let roll: f64 = rand::random();
        if roll >= rate {
            return None;
        }
        Some(if roll < rate / 2.0 {
            FaultKind::Status {
                status: 503,
                retry_after: None,
            }
        } else {
            FaultKind::Reset
        })
    }

    /// Takes one use of the first matching `OperationFailed` fault.
    pub fn take_operation_fault(&self, service: Service, req: &Incoming) -> bool {
        self.take_matching(service, req, |kind| {
            matches!(kind, FaultKind::OperationFailed)
        })
        .is_some()
    }

    fn take_matching(
        &self,
        service: Service,
        req: &Incoming,
        want: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        let mut faults = self.lock_faults();
        let pos = faults.iter().position(|f| {
            f.service == service
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(req.method.as_str()))
                && f.path_contains
                    .as_deref()
                    .is_none_or(|p| req.path.contains(p))
                && want(&f.kind)
        })?;
        let fault = &mut faults[pos];
        let kind = fault.kind.clone();
        fault.times -= 1;
        if fault.times == 0 {
            faults.remove(pos);
        }
        Some(kind)
    }

    fn record(&self, call: CallRecord) {
        self.lock_calls().push(call);
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock_calls().clone()
    }

    pub fn clear_calls(&self) {
        self.lock_calls().clear();
    }

    /// Counts the request once if any of its buckets is inside an announced `Retry-After`.
    fn check_violations(&self, keys: &[String], at: Instant) {
        let throttle = self.lock_throttle();
        if throttle.closed.is_empty() {
            return;
        }
        if keys
            .iter()
            .any(|k| throttle.closed.get(k).is_some_and(|until| at < *until))
        {
            self.violations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a 429 and, when it carried a wait, closes the bucket for that long.
    fn note_throttled(&self, key: Option<&String>, wait: Option<Duration>) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        if let (Some(key), Some(wait)) = (key, wait) {
            let until = Instant::now() + wait;
            let mut throttle = self.lock_throttle();
            let entry = throttle.closed.entry(key.clone()).or_insert(until);
            *entry = (*entry).max(until);
        }
    }

    pub fn violations(&self) -> u64 {
        self.violations.load(Ordering::Relaxed)
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            None,
            "a date in the past is no wait"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn fixed_windows_refuse_over_the_limit() {
        let quotas = Quotas {
            teams_create_per_sec: 2,
            ..Quotas::documented()
        };
        let mut throttle = Throttle::default();
        let now = Instant::now();
        let keys = vec!["teams_create".to_string()];
        assert_eq!(throttle.admit(&quotas, &keys, now), None);
        assert_eq!(throttle.admit(&quotas, &keys, now), None);
        assert_eq!(
            throttle.admit(&quotas, &keys, now),
            Some("teams_create".into())
        );
        assert_eq!(
            throttle.admit(&quotas, &keys, now + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn sliding_windows_forget_after_a_minute() {
        let quotas = Quotas {
            classroom_per_user_per_min: 1,
            ..Quotas::documented()
        };
        let mut throttle = Throttle::default();
        let now = Instant::now();
        let keys = vec!["per_client".to_string(), "per_user:a@x".to_string()];
        assert_eq!(throttle.admit(&quotas, &keys, now), None);
        assert_eq!(
            throttle.admit(&quotas, &keys, now + Duration::from_secs(59)),
            Some("per_user:a@x".into())
        );
        assert_eq!(
            throttle.admit(&quotas, &keys, now + Duration::from_secs(60)),
            None
        );
    }
}
