//! Whole HTTP requests → the very routes `serve` answers (`serve::http_routes`: the API and the
//! console), in process, on a SQLite store holding the demo's two schools. Each input chooses a
//! method, a route, which credentials to send (none, the portal's or the operator's token, a
//! signed-in admin's or operator's session and its CSRF token, or its own bytes) and supplies the
//! rest: the id in the path, the query, the headers' text and the body. Never a panic, never a 5xx
//! (class-sync's store is local and healthy here, so none is expected), and no answer ever holds
//! a token, a client secret or a session's secret.
#![no_main]

use class_sync::app::App;
use class_sync::config::Config;
use class_sync::console::session::{SESSION_COOKIE, hash_secret};
use class_sync::demo::{ARCHIVE_ON, MIS_SYNC_CUTOFF, NEW_GROUPS_FROM, YEAR, sample_snapshot};
use class_sync::observability::Metrics;
use class_sync::store::ConsoleSession;
use http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use tower_service::Service;

const UMP_TOKEN: &str = "fuzz-ump-token-7d1c93a0b2e54f6a";
const OPERATOR_TOKEN: &str = "fuzz-operator-token-c04e11f9a6d2";
const CLIENT_SECRET: &str = "fuzz-graph-client-secret-91b7";
const CONSOLE_SECRET: &str = "fuzz-console-client-secret-3e5a";
const ADMIN_SESSION: &str = "fuzz-admin-session-secret-5f02c8d4e1";
const DESK_SESSION: &str = "fuzz-desk-session-secret-a8e9b7c6d5";
const DESK: &str = "desk@hwbcymru.net";

/// The routes, their store and the credentials an input may pick from.
struct World {
    runtime: tokio::runtime::Runtime,
    routes: axum::Router,
    group: String,
    admin_csrf: String,
    desk_csrf: String,
    _dir: tempfile::TempDir,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(dir.path().join(name))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write");
    };
    write("ump.token", UMP_TOKEN);
    write("operator.token", OPERATOR_TOKEN);
    // Microsoft at a closed port: nothing here calls it (the worker does not run), and a sign-in
    // callback that got that far would fail fast.
    let config = format!(
        r#"database_url = "sqlite://{db}"

[microsoft]
tenant_id = "6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"
client_id = "fuzz-graph"
client_secret = "{CLIENT_SECRET}"
login_url = "http://127.0.0.1:9"
graph_url = "http://127.0.0.1:9"

[api]
listen = "127.0.0.1:0"
ump_token_file = "ump.token"
operator_token_file = "operator.token"

[console]
client_id = "fuzz-console"
client_secret = "{CONSOLE_SECRET}"
public_url = "http://127.0.0.1:8080"
operators = ["{DESK}"]

[[years]]
name = "{YEAR}"
new_groups_from = "{NEW_GROUPS_FROM}"
mis_sync_cutoff = "{MIS_SYNC_CUTOFF}"
archive_on = "{ARCHIVE_ON}"
"#,
        db = dir.path().join("fuzz.db").display()
    );
    write("class-sync.toml", &config);
    let config = Config::load(&dir.path().join("class-sync.toml")).expect("config");
    let tokens = config.api.read_tokens().expect("tokens");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let snapshot = sample_snapshot();
    let admin = snapshot.schools[0].admins[0].clone();
    let group = snapshot
        .groups
        .iter()
        .find(|g| g.school == snapshot.schools[0].id)
        .expect("a group of the first school")
        .id
        .clone();
    let today = chrono::NaiveDate::from_ymd_opt(2025, 9, 1).expect("date");
    let (routes, admin_csrf, desk_csrf) = runtime.block_on(async {
        let app = App::new(config, today).await.expect("app");
        class_sync::work::planner::import(&app, &snapshot, "fuzz")
            .await
            .expect("import");
        let now = App::now_ms();
        let mut csrf = Vec::new();
        for (secret, person) in [(ADMIN_SESSION, admin.as_str()), (DESK_SESSION, DESK)] {
            let session = ConsoleSession {
                id_hash: hash_secret(secret),
                person: person.to_string(),
                csrf: format!("csrf-of-{person}"),
                created_at: now,
                expires_at: now + 365 * 24 * 3600 * 1000,
            };
            app.store.put_session(&session, now).await.expect("session");
            csrf.push(session.csrf);
        }
        let routes =
            class_sync::serve::http_routes(&app, tokens, Arc::new(Metrics::new())).expect("routes");
        (routes, csrf[0].clone(), csrf[1].clone())
    });
    World {
        runtime,
        routes,
        group,
        admin_csrf,
        desk_csrf,
        _dir: dir,
    }
});

/// Every path `serve` answers, `{id}` where an id goes.
const PATHS: &[&str] = &[
    "/v1/groups",
    "/v1/groups/{id}",
    "/v1/groups/{id}/restore",
    "/v1/sync",
    "/v1/archive",
    "/v1/jobs/{id}",
    "/v1/status",
    "/v1/audit",
    "/v1/schools",
    "/v1/schools/{id}",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/",
    "/auth/sign-in",
    "/auth/callback",
    "/auth/sign-out",
    "/lang/{id}",
    "/console.css",
    "/console.js",
    "/groups",
    "/groups/{id}",
    "/groups/{id}/state",
    "/groups/{id}/restore",
    "/groups/{id}/resync",
    "/status",
    "/schools",
    "/schools/{id}/resync",
    "/archive-preview",
    "/audit",
    "/{id}",
];

const METHODS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::HEAD,
    Method::PATCH,
];

/// Bytes made safe for a path segment or a query (`keep`: the bytes left as they are).
fn encoded(bytes: &[u8], keep: &[u8]) -> String {
    let mut out = String::new();
    for b in bytes {
        if b.is_ascii_alphanumeric() || keep.contains(b) {
            out.push(char::from(*b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let world = &*WORLD;
    let [method, path, auth, cookie, csrf, content_type, rest @ ..] = data else {
        return;
    };
    // The rest, split at NUL: the id in the path, the query, the Authorization and Cookie text,
    // the Content-Type text, then the body (which may hold NULs).
    let mut fields = rest.splitn(6, |b| *b == 0);
    let id = fields.next().unwrap_or_default();
    let query = fields.next().unwrap_or_default();
    let auth_text = fields.next().unwrap_or_default();
    let cookie_text = fields.next().unwrap_or_default();
    let type_text = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();

    let method = METHODS[usize::from(*method) % METHODS.len()].clone();
    let id = if id.is_empty() {
        world.group.clone()
    } else {
        encoded(id, b"-._~")
    };
    let mut uri = PATHS[usize::from(*path) % PATHS.len()].replace("{id}", &id);
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&encoded(query, b"=&-._~@%+"));
    }
    let mut request = Request::builder().method(method).uri(&uri);
    match auth % 4 {
        1 => request = request.header("authorization", format!("Bearer {UMP_TOKEN}")),
        2 => request = request.header("authorization", format!("Bearer {OPERATOR_TOKEN}")),
        3 => request = request.header("authorization", auth_text),
        _ => {}
    }
    let session_csrf = match cookie % 4 {
        1 => {
            request = request.header("cookie", format!("{SESSION_COOKIE}={ADMIN_SESSION}"));
            Some(&world.admin_csrf)
        }
        2 => {
            request = request.header("cookie", format!("{SESSION_COOKIE}={DESK_SESSION}"));
            Some(&world.desk_csrf)
        }
        3 => {
            request = request.header("cookie", cookie_text);
            None
        }
        _ => None,
    };
    match content_type % 4 {
        0 => request = request.header("content-type", "application/json"),
        1 => request = request.header("content-type", "application/x-www-form-urlencoded"),
        2 => request = request.header("content-type", type_text),
        _ => {}
    }
    let mut body = body.to_vec();
    if let Some(token) = session_csrf.filter(|_| csrf % 2 == 1) {
        // A form that carries its session's CSRF token, so the console's actions are reached.
        let mut with_token = format!("csrf={token}&").into_bytes();
        with_token.extend_from_slice(&body);
        body = with_token;
    }
    // A header value the http crate refuses is a request no client can send.
    let Ok(request) = request.body(axum::body::Body::from(body)) else {
        return;
    };

    let (status, answer) = world.runtime.block_on(async {
        let mut routes = world.routes.clone();
        let response = routes.call(request).await.expect("infallible");
        let status = response.status();
        let headers = format!("{:?}", response.headers());
        let body = axum::body::to_bytes(response.into_body(), 16 << 20)
            .await
            .expect("an answer under 16 MiB");
        (status, headers + &String::from_utf8_lossy(&body))
    });
    assert!(!status.is_server_error(), "{uri}: {status}: {answer}");
    for (i, secret) in SECRETS.iter().enumerate() {
        // A secret the fuzzer itself put into a request (this one, or an earlier one whose text
        // the store kept, such as an audit entry) may rightly come back: from then on that secret
        // is not looked for. The search compares rolling hashes, not bytes, so that libFuzzer
        // cannot learn the secrets from the comparisons and so switch the check off.
        if contains(data, secret) {
            SENT[i].store(true, Ordering::Relaxed);
        }
        assert!(
            SENT[i].load(Ordering::Relaxed) || !contains(answer.as_bytes(), secret),
            "{uri}: a secret in the answer: {answer}"
        );
    }
});

const SECRETS: [&str; 6] = [
    UMP_TOKEN,
    OPERATOR_TOKEN,
    CLIENT_SECRET,
    CONSOLE_SECRET,
    ADMIN_SESSION,
    DESK_SESSION,
];
static SENT: [AtomicBool; 6] = [const { AtomicBool::new(false) }; 6];

/// Whether `needle` occurs in `hay`, by Rabin–Karp: only 64-bit hashes are compared until one
/// matches.
fn contains(hay: &[u8], needle: &str) -> bool {
    const BASE: u64 = 1_000_003;
    let needle = needle.as_bytes();
    let n = needle.len();
    if n == 0 || hay.len() < n {
        return false;
    }
    let hash = |bytes: &[u8]| {
        bytes.iter().fold(0u64, |h, b| {
            h.wrapping_mul(BASE).wrapping_add(u64::from(*b))
        })
    };
    let target = hash(needle);
    let top = (1..n).fold(1u64, |p, _| p.wrapping_mul(BASE));
    let mut h = hash(&hay[..n]);
    for start in 0..=hay.len() - n {
        if h == target && &hay[start..start + n] == needle {
            return true;
        }
        if start + n < hay.len() {
            h = h
                .wrapping_sub(u64::from(hay[start]).wrapping_mul(top))
                .wrapping_mul(BASE)
                .wrapping_add(u64::from(hay[start + n]));
        }
    }
    false
}
