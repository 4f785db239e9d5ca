//! Fake Google OAuth token endpoint: the service-account JWT bearer grant with domain-wide
//! delegation (classroom-api.md §1). It verifies the assertion as Google does, so a client that
//! signs with the wrong key, audience, lifetime or subject fails here rather than in production.
//! The embedded test service-account key (the `TEST_*` constants, re-exported from the crate
//! root) lives here too, with the key file built from it.

use std::time::Instant;

use axum::http::Method;
use axum::response::Response;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::backend::{Auth, Backend, Classified, Incoming};
use crate::state::Shared;
use crate::state::calls::Service;
use crate::state::world::GoogleToken;
use crate::wire::{self, Refusal};

/// The test service account's RSA private key (PKCS#8 PEM), also handed out in
/// [`MockServices::service_account_key_json`](crate::MockServices::service_account_key_json).
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("keys/test-service-account.pem");
/// The public half of [`TEST_PRIVATE_KEY_PEM`]: the Google token endpoint verifies assertions with it.
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("keys/test-service-account.pub.pem");
/// `private_key_id` of the test key; a JWT whose header carries another `kid` is rejected.
pub const TEST_PRIVATE_KEY_ID: &str = "5f1c0ae4d1f1c8b0a6d9c1f5e2a7b3c4d5e6f708";

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";
/// Scopes class-sync must ask for: courses (create, patch) and rosters (teachers, students).
const REQUIRED_SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/classroom.courses",
    "https://www.googleapis.com/auth/classroom.rosters",
];
/// Scopes the mock's domain-wide delegation is authorised for; anything else is refused as an
/// admin console without that scope would.
const AUTHORISED_SCOPES: [&str; 7] = [
    "https://www.googleapis.com/auth/classroom.courses",
    "https://www.googleapis.com/auth/classroom.courses.readonly",
    "https://www.googleapis.com/auth/classroom.rosters",
    "https://www.googleapis.com/auth/classroom.rosters.readonly",
    "https://www.googleapis.com/auth/classroom.profile.emails",
    "https://www.googleapis.com/auth/classroom.profile.photos",
    "https://www.googleapis.com/auth/classroom.coursework.students",
];
const BAD_LIFETIME: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";
/// Google's leeway for `iat` in the future (clock skew).
const MAX_IAT_SKEW_SECS: i64 = 300;

pub(crate) struct GoogleOAuth;

impl Backend for GoogleOAuth {
    const SERVICE: Service = Service::GoogleOAuth;

    fn classify(_: &Shared, _: &Incoming) -> Classified {
        Classified {
            keys: vec!["google_oauth".into()],
            ..Classified::default()
        }
    }

    fn authenticate(_: &Shared, _: &Incoming) -> Result<Auth, Refusal> {
        Ok(Auth::default())
    }

    fn status_error(_: &Shared, _: &Incoming, status: u16) -> Response {
        match status {
            500..=599 => oauth_error(status, "internal_failure", "Backend Error"),
            429 => oauth_error(status, "rate_limit_exceeded", "Rate limit exceeded"),
            401 => oauth_error(status, "invalid_client", "The OAuth client was not found."),
            _ => oauth_error(status, "invalid_request", "Bad Request"),
        }
    }

    fn handle(shared: &Shared, req: &Incoming, _: &Auth) -> Response {
        if req.method != Method::POST || req.path != "/token" {
            return oauth_error(
                404,
                "invalid_request",
                &format!(
                    "mock Google OAuth has no endpoint for {} {}",
                    req.method, req.path
                ),
            );
        }
        grant(shared, req).unwrap_or_else(Response::from)
    }
}

fn grant(shared: &Shared, req: &Incoming) -> Result<Response, Refusal> {
    let form = wire::form_pairs(&req.body);
    let grant_type = wire::first(&form, "grant_type").unwrap_or("");
    if grant_type != JWT_BEARER {
        return Err(oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant_type}"),
        )
        .into());
    }
    let Some(assertion) = wire::first(&form, "assertion").filter(|a| !a.is_empty()) else {
        return Err(oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        )
        .into());
    };
    let claims = verify(assertion)?;
    let invalid_grant = |text: &str| oauth_error(400, "invalid_grant", text);

    if claims.get("iss").and_then(Value::as_str) != Some(shared.opts.service_account_email.as_str())
    {
        return Err(invalid_grant("Invalid grant: account not found").into());
    }
    if claims.get("aud").and_then(Value::as_str) != Some(shared.urls.google_token.as_str()) {
        return Err(invalid_grant(&format!(
            "Invalid JWT: Failed audience check. The right audience is {}",
            shared.urls.google_token
        ))
        .into());
    }
    let now = chrono::Utc::now().timestamp();
    let (Some(iat), Some(exp)) = (
        claims.get("iat").and_then(Value::as_i64),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return Err(invalid_grant(BAD_LIFETIME).into());
    };
    if exp <= now || exp <= iat || exp - iat > 3600 || iat > now + MAX_IAT_SKEW_SECS {
        return Err(invalid_grant(BAD_LIFETIME).into());
    }
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let Some(subject) = shared
        .opts
        .admin_emails
        .iter()
        .find(|a| a.eq_ignore_ascii_case(subject))
    else {
        return Err(invalid_grant("Invalid email or User ID").into());
    };
    let scopes: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        return Err(
            oauth_error(400, "invalid_scope", "Empty or missing scope not allowed.").into(),
        );
    }
    if scopes.iter().any(|s| !s.starts_with(SCOPE_PREFIX)) {
        return Err(oauth_error(
            400,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        )
        .into());
    }
    if scopes
        .iter()
        .any(|s| !AUTHORISED_SCOPES.contains(&s.as_str()))
        || REQUIRED_SCOPES
            .iter()
            .any(|r| !scopes.iter().any(|s| s == r))
    {
        return Err(oauth_error(
            400,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        ).into());
    }

    let token = wire::opaque_token("ya29.mock-");
    let lifetime = shared.opts.token_lifetime;
    shared.world().google_tokens.insert(
        token.clone(),
        GoogleToken {
            subject: subject.clone(),
            scopes,
            expires: Instant::now() + lifetime,
        },
    );
    Ok(wire::json(
        200,
        &json!({"access_token": token, "expires_in": lifetime.as_secs(), "token_type": "Bearer"}),
    ))
}

/// Checks the header and RS256 signature and returns the claims; every failure is the
/// `invalid_grant` Google answers for a bad signature.
fn verify(assertion: &str) -> Result<Value, Refusal> {
    let bad_signature = || oauth_error(400, "invalid_grant", "Invalid JWT Signature.");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad_signature())?;
    if header.alg != Algorithm::RS256
        || header.typ.as_deref() != Some("JWT")
        || header
            .kid
            .as_deref()
            .is_some_and(|kid| kid != TEST_PRIVATE_KEY_ID)
    {
        return Err(bad_signature().into());
    }
    let key =
        DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY_PEM.as_bytes()).map_err(|_| bad_signature())?;
    let mut validation = Validation::new(Algorithm::RS256);
    // Claims are checked by hand below so each failure gets Google's own error.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| bad_signature().into())
}

/// Google's OAuth error body.
fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    wire::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// The service-account key file Google's console hands out, for the embedded test key.
pub(crate) fn key_file_json(shared: &Shared) -> String {
    let email = &shared.opts.service_account_email;
    let project = email
        .split_once('@')
        .and_then(|(_, domain)| domain.split_once(".iam.gserviceaccount.com"))
        .map_or("mock-project", |(project, _)| project);
    let cert_url = format!(
        "https://www.googleapis.com/robot/v1/metadata/x509/{}",
        percent_encoding::utf8_percent_encode(email, percent_encoding::NON_ALPHANUMERIC)
    );
    let key = json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": TEST_PRIVATE_KEY_ID,
        "private_key": TEST_PRIVATE_KEY_PEM,
        "client_email": email,
        "client_id": "104217000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": shared.urls.google_token,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": cert_url,
        "universe_domain": "googleapis.com",
    });
    serde_json::to_string_pretty(&key).unwrap_or_default()
}
