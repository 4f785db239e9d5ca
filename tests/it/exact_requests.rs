//! wiremock tests that pin one exact request or fault of the shared call path.

use class_sync::config::MicrosoftLimits;
use class_sync::remote::auth::{ServiceAccountKey, TokenCache};
use class_sync::remote::call::{Api, Call, Remote};
use class_sync::remote::error::ErrorKind;
use class_sync::remote::retry::RetryPolicy;
use class_sync::remote::throttle::{BucketId, BucketKey, Throttle};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn remote() -> Remote {
    let throttle = Arc::new(Throttle::new(Some(&MicrosoftLimits::default()), None));
    Remote::new(
        http(),
        throttle,
        RetryPolicy::new(0.05, 0.2),
        4,
        Duration::from_secs(5),
    )
}

async fn ms_tokens(server: &MockServer) -> TokenCache {
    TokenCache::microsoft(
        &server.uri(),
        "tenant-1",
        "client-1",
        &SecretString::from("s3cret-value".to_string()),
        http(),
    )
    .unwrap()
}

async fn mount_ms_token(server: &MockServer, expect: u64) {
    Mock::given(method("POST"))
        .and(path("/tenant-1/oauth2/v2.0/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"))
        .and(body_string_contains("client_id=client-1"))
        .and(body_string_contains("client_secret=s3cret-value"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "tok-1"
        })))
        .expect(expect)
        .named("Microsoft token endpoint")
        .mount(server)
        .await;
}

fn get(server: &MockServer, p: &str) -> Call {
    Call::new(
        Api::Graph,
        reqwest::Method::GET,
        format!("{}{p}", server.uri()),
        vec![BucketKey::of(BucketId::TeamsRead)],
    )
}

#[tokio::test]
async fn one_token_request_serves_every_concurrent_caller() {
    let server = MockServer::start().await;
    mount_ms_token(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/teams/x"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": "x", "isArchived": false})),
        )
        .expect(10)
        .mount(&server)
        .await;
    let tokens = Arc::new(ms_tokens(&server).await);
    let remote = Arc::new(remote());
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (tokens, remote, call) = (
            tokens.clone(),
            remote.clone(),
            get(&server, "/v1.0/teams/x"),
        );
        tasks.push(tokio::spawn(
            async move { remote.send(&call, &tokens).await },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().body["id"], "x");
    }
}

#[tokio::test]
async fn retry_after_closes_the_bucket_for_every_caller() {
    let server = MockServer::start().await;
    mount_ms_token(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/a"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(serde_json::json!({
            "error": {"code": "TooManyRequests", "message": "Please retry again later."}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    let tokens = Arc::new(ms_tokens(&server).await);
    let remote = Arc::new(remote());
    let started = Instant::now();
    remote
        .send(&get(&server, "/v1.0/a"), &tokens)
        .await
        .expect("retried after the window");
    // Another caller of the same bucket, after the 429, is held too: it cannot be sent before the window ends.
    let r2 = remote.clone();
    let t2 = tokens.clone();
    let other = get(&server, "/v1.0/b");
    r2.send(&other, &t2).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let graph: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path().starts_with("/v1.0"))
        .collect();
    assert_eq!(graph.len(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "the retry waited for Retry-After"
    );
}

#[tokio::test]
async fn a_shared_window_holds_a_concurrent_caller() {
    let server = MockServer::start().await;
    mount_ms_token(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/slow"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let tokens = Arc::new(ms_tokens(&server).await);
    let remote = Arc::new(remote());
    remote
        .send(&get(&server, "/v1.0/warm"), &tokens)
        .await
        .unwrap();
    let (r1, t1, c1) = (remote.clone(), tokens.clone(), get(&server, "/v1.0/slow"));
    let first = tokio::spawn(async move { r1.send(&c1, &t1).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent_at = Instant::now();
    remote
        .send(&get(&server, "/v1.0/other"), &tokens)
        .await
        .unwrap();
    assert!(
        sent_at.elapsed() >= Duration::from_millis(700),
        "the second caller waited for the first one's Retry-After"
    );
    first.await.unwrap().unwrap();
}

/// A 503 with `Retry-After` (Graph sends one) delays that request only: it is a fault, not
/// throttling, so the bucket stays open for everyone else and its rate is not lowered.
#[tokio::test]
async fn a_503_with_retry_after_delays_only_its_own_request() {
    let server = MockServer::start().await;
    mount_ms_token(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/faulty"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let tokens = Arc::new(ms_tokens(&server).await);
    let remote = Arc::new(remote());
    let (r1, t1, c1) = (remote.clone(), tokens.clone(), get(&server, "/v1.0/faulty"));
    let started = Instant::now();
    let first = tokio::spawn(async move { r1.send(&c1, &t1).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent_at = Instant::now();
    remote
        .send(&get(&server, "/v1.0/other"), &tokens)
        .await
        .unwrap();
    assert!(
        sent_at.elapsed() < Duration::from_millis(500),
        "another caller is not held by a 503"
    );
    first.await.unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "the faulty request itself waited for its Retry-After"
    );
    assert!(
        remote.throttle().report().iter().all(|b| b.throttled == 0),
        "a 503 is not counted as throttling"
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_on_401() {
    let server = MockServer::start().await;
    mount_ms_token(&server, 2).await;
    Mock::given(method("GET")).and(path("/v1.0/t"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": {"code": "InvalidAuthenticationToken", "message": "expired"}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let tokens = ms_tokens(&server).await;
    remote()
        .send(&get(&server, "/v1.0/t"), &tokens)
        .await
        .expect("succeeds with a fresh token");
}

#[tokio::test]
async fn a_create_is_never_resent_after_a_5xx() {
    let server = MockServer::start().await;
    mount_ms_token(&server, 1).await;
    Mock::given(method("POST"))
        .and(path("/v1.0/education/classes"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            serde_json::json!({"error": {"code": "generalException", "message": "boom"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = ms_tokens(&server).await;
    let call = Call::new(
        Api::Graph,
        reqwest::Method::POST,
        format!("{}/v1.0/education/classes", server.uri()),
        vec![BucketKey::of(BucketId::Education)],
    )
    .json(serde_json::json!({"externalId": "g"}))
    .not_retry_safe();
    let err = remote().send(&call, &tokens).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient);
    assert_eq!(err.code, "generalException");
}

#[tokio::test]
async fn bad_client_credentials_are_a_permanent_error_without_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/tenant-1/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})))
        .mount(&server)
        .await;
    let tokens = ms_tokens(&server).await;
    let err = remote()
        .send(&get(&server, "/v1.0/x"), &tokens)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Forbidden);
    assert!(err.message.contains("AADSTS7000215"));
    assert!(!err.to_string().contains("s3cret-value"));
}

#[tokio::test]
async fn the_google_grant_is_a_signed_jwt_for_the_impersonated_admin() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/token"))
        .and(body_string_contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"))
        .and(body_string_contains("assertion="))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "g-tok", "expires_in": 3600, "token_type": "Bearer"})))
        .expect(1)
        .mount(&server)
        .await;
    let mocks = class_sync_mocks::MockServices::start(Default::default())
        .await
        .unwrap();
    let mut key: serde_json::Value =
        serde_json::from_str(&mocks.service_account_key_json()).unwrap();
    key["token_uri"] = format!("{}/token", server.uri()).into();
    let key = Arc::new(ServiceAccountKey::parse(&key.to_string()).unwrap());
    let tokens = TokenCache::google(key, "classroom-admin@hwbcymru.net", http());
    tokens.bearer().await.unwrap();
    let req = &server.received_requests().await.unwrap()[0];
    let body = String::from_utf8(req.body.clone()).unwrap();
    let assertion = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("assertion="))
        .unwrap();
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3);
    use base64::Engine;
    let decode = |s: &str| -> serde_json::Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap(),
        )
        .unwrap()
    };
    let header = decode(parts[0]);
    let claims = decode(parts[1]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["sub"], "classroom-admin@hwbcymru.net");
    assert_eq!(claims["aud"], format!("{}/token", server.uri()));
    assert!(
        claims["scope"]
            .as_str()
            .unwrap()
            .contains("https://www.googleapis.com/auth/classroom.rosters")
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(
        claims["iss"]
            .as_str()
            .unwrap()
            .ends_with(".iam.gserviceaccount.com")
    );
}
