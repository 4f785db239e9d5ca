//! What the sign-in refuses, and how: a page, a redirect back to the app, or an error body.

use super::*;
use crate::microsoft_login::model::SignIns;
use crate::{Fault, FaultKind, Service};

#[tokio::test]
async fn the_pkce_verifier_must_match_the_challenge() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    let code = code_for(&mocks, &http, &attempt, TEACHER).await;
    let other = Attempt::new();
    let (status, body) = redeem(&mocks, &http, &code, &other.verifier, |_| {}).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(error_code(&body), 501481);
    // A verifier RFC 7636 does not allow is refused as malformed.
    let (status, body) = redeem(&mocks, &http, &code, "too-short", |_| {}).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    // A failed redemption does not spend the code.
    let (status, _) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    assert_eq!(status, StatusCode::OK);

    // PKCE is required at the authorize endpoint, S256 only.
    for (name, value, code) in [
        ("code_challenge", None, 900144),
        ("code_challenge_method", None, 900144),
        ("code_challenge_method", Some("plain"), 90100),
        ("code_challenge", Some("short"), 501491),
    ] {
        let params = attempt.params(&mocks, |p| set(p, name, value));
        let (base, query) = location(&authorize(&mocks, &http, &params).await);
        assert_eq!(base, REDIRECT);
        assert_eq!(
            param(&query, "error"),
            "invalid_request",
            "{name}={value:?}"
        );
        assert!(param(&query, "error_description").starts_with(&format!("AADSTS{code}:")));
        assert_eq!(param(&query, "state"), attempt.state);
    }
}

#[tokio::test]
async fn a_code_is_used_once_and_within_ten_minutes() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    let code = code_for(&mocks, &http, &attempt, TEACHER).await;
    let (status, _) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(error_code(&body), 54005);
    assert_eq!(mocks.sign_ins(), 1);

    let (_, body) = redeem(&mocks, &http, "1.made-up", &attempt.verifier, |_| {}).await;
    assert_eq!(error_code(&body), 70000);

    let attempt = Attempt::new();
    let code = code_for(&mocks, &http, &attempt, TEACHER).await;
    {
        let mut world = mocks.shared().world();
        let issued = world
            .services
            .get_mut::<SignIns>()
            .codes
            .get_mut(&code)
            .unwrap();
        issued.issued = issued
            .issued
            .checked_sub(std::time::Duration::from_secs(601))
            .expect("the clock runs long enough");
    }
    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(error_code(&body), 70008);
}

#[tokio::test]
async fn the_redirect_uri_must_be_registered_and_repeated() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    let code = code_for(&mocks, &http, &attempt, TEACHER).await;
    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |f| {
        f.retain(|(k, _)| *k != "redirect_uri");
        f.push(("redirect_uri", "http://127.0.0.1:9999/auth/callback".into()));
    })
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(error_code(&body), 50011);

    // Not registered: a page, never a redirect to it.
    for uri in [
        "https://evil.example/auth/callback",
        "http://127.0.0.1:8080/auth/other",
    ] {
        let params = attempt.params(&mocks, |p| set(p, "redirect_uri", Some(uri)));
        let resp = authorize(&mocks, &http, &params).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains("AADSTS50011"));
    }
}

#[tokio::test]
async fn the_client_secret_is_checked() {
    let (mocks, http) = start().await;
    let opts = mocks.options();
    let attempt = Attempt::new();
    let code = code_for(&mocks, &http, &attempt, TEACHER).await;
    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |f| {
        f.retain(|(k, _)| *k != "client_secret");
        f.push(("client_secret", "wrong".into()));
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(error_code(&body), 7000215);
    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |f| {
        f.retain(|(k, _)| *k != "client_secret");
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), 7000218);

    // HTTP Basic works as the body does.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", attempt.verifier.as_str()),
    ];
    let resp = http
        .post(token_url(&mocks, &opts.tenant_id))
        .basic_auth(&opts.sign_in_client_id, Some(&opts.sign_in_client_secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn each_app_has_its_own_grant() {
    let (mocks, http) = start().await;
    let opts = mocks.options();
    let attempt = Attempt::new();

    // At the authorize endpoint: an unknown app, and the Graph app (no redirect URIs), get pages.
    for (client_id, code) in [
        ("not-an-app", "AADSTS700016"),
        (opts.client_id.as_str(), "AADSTS500113"),
    ] {
        let params = attempt.params(&mocks, |p| set(p, "client_id", Some(client_id)));
        let resp = authorize(&mocks, &http, &params).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains(code));
    }

    let code = code_for(&mocks, &http, &attempt, TEACHER).await;
    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |f| {
        f.retain(|(k, _)| *k != "client_id" && *k != "client_secret");
        f.push(("client_id", opts.client_id.clone()));
        f.push(("client_secret", opts.client_secret.clone()));
    })
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unauthorized_client");
    let (_, body) = redeem(&mocks, &http, &code, &attempt.verifier, |f| {
        f.retain(|(k, _)| *k != "client_id");
        f.push(("client_id", "not-an-app".into()));
    })
    .await;
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(error_code(&body), 700016);

    let graph_scope = "https://graph.microsoft.com/.default";
    let (status, body) = post_token(
        &mocks,
        &http,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", opts.sign_in_client_id.as_str()),
            ("client_secret", opts.sign_in_client_secret.as_str()),
            ("scope", graph_scope),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unauthorized_client");
    // The Graph app's grant is as it was.
    let (status, body) = post_token(
        &mocks,
        &http,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", opts.client_id.as_str()),
            ("client_secret", opts.client_secret.as_str()),
            ("scope", graph_scope),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("id_token").is_none());
    assert_eq!(mocks.sign_ins(), 0);
}

#[tokio::test]
async fn an_unknown_tenant_is_refused_everywhere() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    let params = attempt.params(&mocks, |_| {});
    let resp = http
        .get(authorize_url(&mocks, "other-tenant"))
        .query(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().contains("AADSTS90002"));

    for url in [
        format!("{}/other-tenant/discovery/v2.0/keys", mocks.login_url()),
        format!(
            "{}/other-tenant/v2.0/.well-known/openid-configuration",
            mocks.login_url()
        ),
    ] {
        let resp = http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(error_code(&body), 90002);
    }
    let resp = http
        .post(token_url(&mocks, "other-tenant"))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), 90002);
}

#[tokio::test]
async fn other_authorize_errors_go_back_to_the_app() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    for (name, value, error, code) in [
        ("scope", Some("profile email"), "invalid_scope", 70011),
        (
            "scope",
            Some("openid offline_access"),
            "invalid_scope",
            70011,
        ),
        (
            "response_type",
            Some("code id_token"),
            "unsupported_response_type",
            700054,
        ),
        ("response_type", None, "invalid_request", 900144),
        ("response_mode", Some("form_post"), "invalid_request", 70007),
        ("nonce", None, "invalid_request", 900144),
        ("prompt", Some("sometimes"), "invalid_request", 90023),
    ] {
        let params = attempt.params(&mocks, |p| set(p, name, value));
        let (base, query) = location(&authorize(&mocks, &http, &params).await);
        assert_eq!(base, REDIRECT);
        assert_eq!(param(&query, "error"), error, "{name}={value:?}");
        assert!(param(&query, "error_description").starts_with(&format!("AADSTS{code}:")));
        assert_eq!(param(&query, "state"), attempt.state);
    }
    // Without state, the refusal cannot carry one.
    let params = attempt.params(&mocks, |p| set(p, "state", None));
    let (_, query) = location(&authorize(&mocks, &http, &params).await);
    assert_eq!(param(&query, "error"), "invalid_request");
    assert!(wire::first(&query, "state").is_none());
}

#[tokio::test]
async fn faults_on_the_sign_in_pages_are_pages() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    let params = attempt.params(&mocks, |_| {});
    mocks.inject(
        Fault::new(
            Service::MicrosoftLogin,
            FaultKind::Status {
                status: 503,
                retry_after: None,
            },
        )
        .path_contains("/authorize"),
    );
    let resp = authorize(&mocks, &http, &params).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().contains("AADSTS90033"));
    let resp = authorize(&mocks, &http, &params).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // The token endpoint's fault stays JSON, and a redemption that worked but answered 500
    // has spent its code.
    let code = code_for(&mocks, &http, &attempt, TEACHER).await;
    mocks.inject(
        Fault::new(Service::MicrosoftLogin, FaultKind::SucceedThen500).path_contains("/token"),
    );
    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "temporarily_unavailable");
    let (_, body) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    assert_eq!(error_code(&body), 54005);
}
