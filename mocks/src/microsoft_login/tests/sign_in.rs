//! Signing in: the picker, `login_hint`, the id_token and its key, and spoiled id_tokens.

use serde_json::json;

use super::*;
use crate::microsoft_login::id_token::key_set;
use crate::{Service, TEST_IDP_KEY_ID, TEST_IDP_PRIVATE_KEY_PEM, TEST_IDP_PUBLIC_KEY_PEM, Tamper};

#[tokio::test]
async fn a_picked_account_signs_in_and_its_id_token_verifies() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    let params = attempt.params(&mocks, |_| {});

    let page = authorize(&mocks, &http, &params).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<title>Pick an account</title>"));
    assert!(html.contains("<h1>Pick an account</h1>"));
    assert!(html.contains("<label for=\"other-username\">"));
    assert!(!html.contains("<script"));
    // Every known account, sorted, each a button a WebDriver test finds by its address.
    let admin = mocks.options().admin_emails[0].clone();
    let listed: Vec<usize> = [TEACHER, LEARNER, admin.as_str()]
        .iter()
        .map(|email| {
            let button = format!(
                "<button type=\"submit\" name=\"username\" value=\"{email}\" data-username=\"{email}\">{email}</button>"
            );
            html.find(&button).unwrap_or_else(|| panic!("{email} listed: {html}"))
        })
        .collect();
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "sorted by address");

    // The form carries the whole request; pressing a button adds `username`.
    let (action, mut hidden) = first_form(&html);
    assert_eq!(
        action,
        format!("/{}/oauth2/v2.0/authorize/pick", mocks.options().tenant_id)
    );
    let mut expected = params.clone();
    expected.sort();
    hidden.sort();
    assert_eq!(hidden, expected);
    hidden.push(("username".into(), TEACHER.into()));
    let picked = http
        .get(format!("{}{action}", mocks.login_url()))
        .query(&hidden)
        .send()
        .await
        .unwrap();
    let (base, query) = location(&picked);
    assert_eq!(base, REDIRECT);
    assert_eq!(param(&query, "state"), attempt.state);
    let code = param(&query, "code").to_string();

    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid profile email");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    let id_token = body["id_token"].as_str().unwrap();

    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(TEST_IDP_KEY_ID));
    let claims = check_id_token(&mocks, &http, id_token, &attempt.nonce)
        .await
        .expect("a good token");
    let opts = mocks.options();
    assert_eq!(claims["aud"], opts.sign_in_client_id);
    assert_eq!(
        claims["iss"],
        format!("{}/{}/v2.0", mocks.login_url(), opts.tenant_id)
    );
    assert_eq!(claims["tid"], opts.tenant_id);
    assert_eq!(claims["preferred_username"], TEACHER);
    assert_eq!(claims["email"], TEACHER);
    assert_eq!(claims["name"], "Anna Jones");
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(uuid::Uuid::parse_str(claims["oid"].as_str().unwrap()).is_ok());
    assert_eq!(claims["sub"].as_str().unwrap().len(), 43);
    assert_eq!(mocks.sign_ins(), 1);

    // The same account signs in again: the same sub and oid.
    let again = Attempt::new();
    let code = code_for(&mocks, &http, &again, TEACHER).await;
    let (_, body) = redeem(&mocks, &http, &code, &again.verifier, |_| {}).await;
    let claims2 = check_id_token(
        &mocks,
        &http,
        body["id_token"].as_str().unwrap(),
        &again.nonce,
    )
    .await
    .unwrap();
    assert_eq!(claims2["sub"], claims["sub"]);
    assert_eq!(claims2["oid"], claims["oid"]);

    // Every step went through the pipeline and the call log.
    let paths: Vec<String> = mocks
        .calls()
        .iter()
        .filter(|c| c.service == Service::MicrosoftLogin)
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    let tenant = &opts.tenant_id;
    for wanted in [
        format!("GET /{tenant}/oauth2/v2.0/authorize"),
        format!("GET /{tenant}/oauth2/v2.0/authorize/pick"),
        format!("POST /{tenant}/oauth2/v2.0/token"),
        format!("GET /{tenant}/discovery/v2.0/keys"),
    ] {
        assert!(paths.contains(&wanted), "{wanted} in {paths:?}");
    }
}

#[tokio::test]
async fn a_known_login_hint_skips_the_page() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    // Any case, as Entra compares addresses.
    let code = code_for(&mocks, &http, &attempt, "Bryn.Evans@hwbcymru.net").await;
    let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = check_id_token(
        &mocks,
        &http,
        body["id_token"].as_str().unwrap(),
        &attempt.nonce,
    )
    .await
    .unwrap();
    assert_eq!(claims["preferred_username"], LEARNER);

    // An unknown hint, or `prompt=select_account`, shows the picker.
    for edit in [
        ("login_hint", "nobody@hwbcymru.net", None),
        ("login_hint", TEACHER, Some("select_account")),
    ] {
        let params = attempt.params(&mocks, |p| {
            set(p, edit.0, Some(edit.1));
            set(p, "prompt", edit.2);
        });
        let resp = authorize(&mocks, &http, &params).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("<h1>Pick an account</h1>")
        );
    }
    // `prompt=none` with no one to sign in silently goes back with `login_required`.
    let params = attempt.params(&mocks, |p| set(p, "prompt", Some("none")));
    let (_, query) = location(&authorize(&mocks, &http, &params).await);
    assert_eq!(param(&query, "error"), "login_required");
    assert_eq!(param(&query, "state"), attempt.state);
}

#[tokio::test]
async fn an_unknown_username_shows_the_picker_again() {
    let (mocks, http) = start().await;
    let attempt = Attempt::new();
    let mut params = attempt.params(&mocks, |_| {});
    params.push(("username".into(), "nobody@hwbcymru.net".into()));
    let url = format!("{}/pick", authorize_url(&mocks, &mocks.options().tenant_id));
    let resp = http.get(url).query(&params).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("role=\"alert\">This username may be incorrect."));
    assert!(html.contains(&format!("data-username=\"{TEACHER}\"")));
    // The page carries the request again, without the rejected username.
    let (_, hidden) = first_form(&html);
    assert!(!hidden.iter().any(|(k, _)| k == "username"));
    assert_eq!(mocks.sign_ins(), 0);
}

#[tokio::test]
async fn each_tampered_id_token_fails_its_check() {
    let (mocks, http) = start().await;
    for (tamper, refused_by) in [
        (Tamper::WrongAudience, "InvalidAudience"),
        (Tamper::WrongIssuer, "InvalidIssuer"),
        (Tamper::Expired, "ExpiredSignature"),
        (Tamper::WrongNonce, "nonce"),
        (Tamper::BadSignature, "InvalidSignature"),
        (Tamper::UnknownKeyId, "unknown kid"),
    ] {
        mocks.tamper_id_tokens(tamper);
        let attempt = Attempt::new();
        let code = code_for(&mocks, &http, &attempt, TEACHER).await;
        let (status, body) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let checked = check_id_token(
            &mocks,
            &http,
            body["id_token"].as_str().unwrap(),
            &attempt.nonce,
        )
        .await;
        assert_eq!(checked.err().as_deref(), Some(refused_by), "{tamper:?}");
    }
    mocks.tamper_id_tokens(Tamper::None);
    let attempt = Attempt::new();
    let code = code_for(&mocks, &http, &attempt, TEACHER).await;
    let (_, body) = redeem(&mocks, &http, &code, &attempt.verifier, |_| {}).await;
    let checked = check_id_token(
        &mocks,
        &http,
        body["id_token"].as_str().unwrap(),
        &attempt.nonce,
    )
    .await;
    assert!(checked.is_ok(), "{checked:?}");
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_the_key() {
    let (mocks, http) = start().await;
    let base = format!("{}/{}", mocks.login_url(), mocks.options().tenant_id);
    let doc: Value = http
        .get(format!("{base}/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], mocks.oidc_issuer());
    assert_eq!(doc["issuer"], format!("{base}/v2.0"));
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/oauth2/v2.0/authorize")
    );
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/v2.0/token"));
    assert_eq!(doc["jwks_uri"], format!("{base}/discovery/v2.0/keys"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(doc["response_types_supported"], json!(["code"]));

    let keys: Value = http
        .get(format!("{base}/discovery/v2.0/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &keys["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], TEST_IDP_KEY_ID);
    assert_eq!(key["e"], "AQAB");
    let modulus = wire::b64url_bytes_decode(key["n"].as_str().unwrap()).unwrap();
    assert_eq!(modulus.len(), 256, "a 2048-bit key");
}

#[test]
fn the_key_set_is_the_pem_key() {
    let keys = key_set().unwrap();
    let key = &keys["keys"][0];
    let from_jwk =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let from_pem = DecodingKey::from_rsa_pem(TEST_IDP_PUBLIC_KEY_PEM.as_bytes()).unwrap();
    let signing =
        jsonwebtoken::EncodingKey::from_rsa_pem(TEST_IDP_PRIVATE_KEY_PEM.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::RS256),
        &json!({"sub": "x", "exp": 4_000_000_000u64}),
        &signing,
    )
    .unwrap();
    let validation = Validation::new(Algorithm::RS256);
    assert!(jsonwebtoken::decode::<Value>(&token, &from_jwk, &validation).is_ok());
    assert!(jsonwebtoken::decode::<Value>(&token, &from_pem, &validation).is_ok());
}
