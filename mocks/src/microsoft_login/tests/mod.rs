//! The sign-in, driven over HTTP as a browser and the console drive it: the picker, the code,
//! its redemption, the id_token checked against the published key set (`sign_in`), and every
//! refusal (`refusals`). This file holds what both share.

mod refusals;
mod sign_in;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{MockOptions, MockServices, wire};

const TEACHER: &str = "anna.jones@hwbcymru.net";
const LEARNER: &str = "bryn.evans@hwbcymru.net";
/// The console's callback on some port: the registered `http://127.0.0.1/auth/callback`
/// matches on any port.
const REDIRECT: &str = "http://127.0.0.1:8080/auth/callback";

async fn start() -> (MockServices, Client) {
    let mocks = MockServices::start(MockOptions::default())
        .await
        .expect("mocks start");
    mocks.add_users([LEARNER, TEACHER]);
    let http = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    (mocks, http)
}

/// What the console keeps between sending the browser away and its callback.
struct Attempt {
    state: String,
    nonce: String,
    verifier: String,
    challenge: String,
}

impl Attempt {
    fn new() -> Attempt {
        let verifier = format!(
            "v-{}-{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        Attempt {
            state: format!("state-{}", uuid::Uuid::new_v4().simple()),
            nonce: format!("nonce-{}", uuid::Uuid::new_v4().simple()),
            challenge: wire::b64url_bytes(&Sha256::digest(verifier.as_bytes())),
            verifier,
        }
    }

    /// The authorize request's parameters, `edit`ed.
    fn params(
        &self,
        mocks: &MockServices,
        edit: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("client_id", mocks.options().sign_in_client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("response_mode", "query"),
            ("scope", "openid profile email"),
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
            ("code_challenge", self.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        edit(&mut params);
        params
    }
}

fn set(params: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    params.retain(|(k, _)| k != name);
    if let Some(value) = value {
        params.push((name.to_string(), value.to_string()));
    }
}

fn authorize_url(mocks: &MockServices, tenant: &str) -> String {
    format!("{}/{tenant}/oauth2/v2.0/authorize", mocks.login_url())
}

async fn authorize(
    mocks: &MockServices,
    http: &Client,
    params: &[(String, String)],
) -> reqwest::Response {
    let url = authorize_url(mocks, &mocks.options().tenant_id);
    http.get(url).query(params).send().await.unwrap()
}

/// The redirect's target without its query, and the query's pairs.
fn location(resp: &reqwest::Response) -> (String, Vec<(String, String)>) {
    assert_eq!(resp.status(), StatusCode::FOUND, "a redirect");
    let location = resp.headers()["location"].to_str().unwrap();
    let (base, query) = location.split_once('?').expect("a query");
    (base.to_string(), wire::form_pairs(query.as_bytes()))
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    wire::first(pairs, name).unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

/// Signs in with `login_hint` (no page) and returns the code.
async fn code_for(mocks: &MockServices, http: &Client, attempt: &Attempt, email: &str) -> String {
    let params = attempt.params(mocks, |p| set(p, "login_hint", Some(email)));
    let resp = authorize(mocks, http, &params).await;
    let (base, query) = location(&resp);
    assert_eq!(base, REDIRECT);
    assert_eq!(param(&query, "state"), attempt.state);
    param(&query, "code").to_string()
}

fn token_url(mocks: &MockServices, tenant: &str) -> String {
    format!("{}/{tenant}/oauth2/v2.0/token", mocks.login_url())
}

async fn post_token(
    mocks: &MockServices,
    http: &Client,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let resp = http
        .post(token_url(mocks, &mocks.options().tenant_id))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

/// Redeems `code` as the console does, `edit`ing the form first.
async fn redeem(
    mocks: &MockServices,
    http: &Client,
    code: &str,
    verifier: &str,
    edit: impl FnOnce(&mut Vec<(&str, String)>),
) -> (StatusCode, Value) {
    let opts = mocks.options();
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("client_id", opts.sign_in_client_id.clone()),
        ("client_secret", opts.sign_in_client_secret.clone()),
        ("code", code.to_string()),
        ("redirect_uri", REDIRECT.to_string()),
        ("code_verifier", verifier.to_string()),
        ("scope", "openid profile email".to_string()),
    ];
    edit(&mut form);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_token(mocks, http, &form).await
}

fn error_code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or_default()
}

/// Checks an id_token as a careful client does, with the key set and issuer the discovery
/// document names; the claims, or which check refused it.
async fn check_id_token(
    mocks: &MockServices,
    http: &Client,
    token: &str,
    nonce: &str,
) -> Result<Value, String> {
    let discovery_url = format!("{}/.well-known/openid-configuration", mocks.oidc_issuer());
    let discovery: Value = http
        .get(discovery_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks_uri = discovery["jwks_uri"].as_str().unwrap();
    let keys: Value = http
        .get(jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("{:?}", e.kind()))?;
    let key = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| header.kid.as_deref() == k["kid"].as_str())
        .ok_or("unknown kid")?;
    let key =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[mocks.options().sign_in_client_id]);
    validation.set_issuer(&[discovery["issuer"].as_str().unwrap()]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    validation.validate_nbf = true;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| format!("{:?}", e.kind()))?
        .claims;
    if claims["nonce"] != nonce {
        return Err("nonce".into());
    }
    Ok(claims)
}

/// The hidden inputs and the action of the page's first form.
fn first_form(html: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").expect("a form");
    let form = &html[start..start + html[start..].find("</form>").expect("form ends")];
    let attr = |text: &str, name: &str| {
        let from = text.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
        unescape(&text[from..from + text[from..].find('"').unwrap()])
    };
    let action = attr(form, "action");
    let hidden = form
        .split("<input type=\"hidden\" ")
        .skip(1)
        .map(|input| (attr(input, "name"), attr(input, "value")))
        .collect();
    (action, hidden)
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
