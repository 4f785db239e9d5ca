//! `POST /{tenant}/oauth2/v2.0/token`: the Graph app's client-credentials grant
//! (graph-teams-api.md §1) and the sign-in app's authorization-code grant (a code used once,
//! within ten minutes, by the app and redirect URI it was issued to, with the PKCE verifier of
//! its challenge), each answered with Entra's error bodies.

use std::time::Instant;

use axum::response::Response;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::backend::Incoming;
use crate::microsoft_login::errors::{Aadsts, entra_error, missing, unknown_client};
use crate::microsoft_login::id_token::{self, Subject, Tamper};
use crate::microsoft_login::model::{CODE_LIFETIME, SignIns};
use crate::state::Shared;
use crate::wire::{self, Refusal};

/// The only scope an app-only Graph token may ask for.
const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// The Graph app, app-only.
    ClientCredentials,
    /// The sign-in app, redeeming a code.
    AuthorizationCode,
}

impl Grant {
    fn name(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::AuthorizationCode => "authorization_code",
        }
    }
}

pub(super) fn token(shared: &Shared, req: &Incoming) -> Response {
    let form = wire::form_pairs(&req.body);
    let param = |name: &str| wire::first(&form, name).filter(|v| !v.is_empty());
    let grant = match param("grant_type") {
        None => return missing("grant_type").json(400),
        Some("client_credentials") => Grant::ClientCredentials,
        Some("authorization_code") => Grant::AuthorizationCode,
        Some(other) => {
            return entra_error(
                400,
                "unsupported_grant_type",
                &format!("AADSTS70003: The app requested an unsupported grant type '{other}'."),
                &[70003],
            );
        }
    };
    let client_id = match authenticate_client(shared, req, &form, grant) {
        Ok(client_id) => client_id,
        Err(refusal) => return refusal.into(),
    };
    match grant {
        Grant::ClientCredentials => client_credentials(shared, &form),
        Grant::AuthorizationCode => authorization_code(shared, &form, &client_id),
    }
}

/// The client of the request (body or HTTP Basic, graph-teams-api.md §1), checked against the
/// app registration that may use `grant`; returns its id.
fn authenticate_client(
    shared: &Shared,
    req: &Incoming,
    form: &[(String, String)],
    grant: Grant,
) -> Result<String, Refusal> {
    let opts = &shared.opts;
    let param = |name: &str| wire::first(form, name).filter(|v| !v.is_empty());
    let basic = wire::basic_auth(&req.headers);
    let client_id = param("client_id")
        .map(str::to_string)
        .or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let Some(client_id) = client_id else {
        return Err(missing("client_id").json(400).into());
    };
    let (own_id, own_secret, other_id) = match grant {
        Grant::ClientCredentials => (
            &opts.client_id,
            &opts.client_secret,
            &opts.sign_in_client_id,
        ),
        Grant::AuthorizationCode => (
            &opts.sign_in_client_id,
            &opts.sign_in_client_secret,
            &opts.client_id,
        ),
    };
    if client_id == *other_id {
        // The other app exists, registered for the other grant only.
        return Err(entra_error(
            400,
            "unauthorized_client",
            &format!(
                "AADSTS70003: The app requested an unsupported grant type '{}'. The mock registers app '{client_id}' for the other grant only.",
                grant.name()
            ),
            &[70003],
        )
        .into());
    }
    if client_id != *own_id {
        return Err(unknown_client(&client_id, &opts.tenant_id).json(400).into());
    }
    let secret = param("client_secret")
        .map(str::to_string)
        .or_else(|| basic.map(|b| b.1));
    let Some(secret) = secret else {
        let (code, message) = match grant {
            Grant::ClientCredentials => (
                7000216,
                "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            ),
            Grant::AuthorizationCode => (
                7000218,
                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ),
        };
        return Err(entra_error(401, "invalid_client", message, &[code]).into());
    };
    if secret != *own_secret {
        return Err(entra_error(
            401,
            "invalid_client",
            &format!(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
            &[7000215],
        )
        .into());
    }
    Ok(client_id)
}

fn client_credentials(shared: &Shared, form: &[(String, String)]) -> Response {
    let Some(scope) = wire::first(form, "scope").filter(|v| !v.is_empty()) else {
        return missing("scope").json(400);
    };
    if scope != GRAPH_DEFAULT_SCOPE {
        return entra_error(
            400,
            "invalid_scope",
            &format!(
                "AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. For the client credentials flow the only valid scope is {GRAPH_DEFAULT_SCOPE}."
            ),
            &[70011],
        );
    }

    let token = wire::opaque_token("mock-graph-");
    let lifetime = shared.opts.token_lifetime;
    shared
        .world()
        .ms_tokens
        .insert(token.clone(), Instant::now() + lifetime);
    wire::json(
        200,
        &json!({
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "ext_expires_in": lifetime.as_secs(),
            "access_token": token,
        }),
    )
}

fn authorization_code(shared: &Shared, form: &[(String, String)], client_id: &str) -> Response {
    let param = |name: &str| wire::first(form, name).filter(|v| !v.is_empty());
    let Some(code) = param("code") else {
        return missing("code").json(400);
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return missing("redirect_uri").json(400);
    };
    let Some(verifier) = param("code_verifier") else {
        return missing("code_verifier").json(400);
    };
    // RFC 7636 §4.1: 43 to 128 unreserved characters.
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Aadsts::new(
            "invalid_request",
            90100,
            "code_verifier parameter is empty or not valid: RFC 7636 asks for 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'.",
        )
        .json(400);
    }
    let (subject, tamper) = match redeem(shared, form, code, client_id, redirect_uri, verifier) {
        Ok(redeemed) => redeemed,
        Err(refusal) => return refusal.into(),
    };

    let id_token = match id_token::id_token(shared, &subject, tamper) {
        Ok(token) => token,
        Err(_) => {
            return Aadsts::new("server_error", 50000, "There was an error issuing a token.")
                .json(500);
        }
    };
    let lifetime = shared.opts.token_lifetime.as_secs();
    wire::with_header(
        wire::json(
            200,
            &json!({
                "token_type": "Bearer",
                "scope": subject.scopes.join(" "),
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": wire::opaque_token("mock-sign-in-"),
                "id_token": id_token,
            }),
        ),
        "cache-control",
        "no-store",
    )
}

/// Checks the code against the request and spends it; returns who signed in and how the
/// id_token is to be spoiled.
fn redeem(
    shared: &Shared,
    form: &[(String, String)],
    code: &str,
    client_id: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<(Subject, Tamper), Refusal> {
    let param = |name: &str| wire::first(form, name).filter(|v| !v.is_empty());
    let invalid_grant = |code: u32, message: String| {
        Err(Aadsts::new("invalid_grant", code, message).json(400).into())
    };

    let mut guard = shared.world();
    let world = &mut *guard;
    let sign_ins = world.services.get_mut::<SignIns>();
    let Some(issued) = sign_ins.codes.get_mut(code) else {
        return invalid_grant(
            70000,
            "The provided value for the 'code' parameter is not valid.".into(),
        );
    };
    if issued.redeemed {
        return invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.".into(),
        );
    }
    if issued.issued.elapsed() > CODE_LIFETIME {
        return invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.".into(),
        );
    }
    if issued.client_id != client_id {
        return invalid_grant(
            70000,
            "The provided value for the 'code' parameter is not valid.".into(),
        );
    }
    if issued.redirect_uri != redirect_uri {
        return invalid_grant(
            50011,
            format!(
                "The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                issued.redirect_uri
            ),
        );
    }
    if wire::b64url_bytes(&Sha256::digest(verifier.as_bytes())) != issued.challenge {
        return invalid_grant(
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.".into(),
        );
    }
    // `scope` is optional here; when sent, it may only repeat what was granted.
    if let Some(scope) = param("scope")
        && let Some(extra) = scope
            .split_whitespace()
            .find(|s| !issued.scopes.iter().any(|g| g == s))
    {
        return Err(Aadsts::new(
            "invalid_scope",
            70011,
            format!("The provided value for the input parameter 'scope' is not valid. The scope '{extra}' was not granted by the authorization request."),
        )
        .json(400)
        .into());
    }
    issued.redeemed = true;
    let user = world.users.get(issued.user);
    let subject = Subject {
        client_id: client_id.to_string(),
        nonce: issued.nonce.clone(),
        scopes: issued.scopes.clone(),
        oid: user.guid.clone(),
        email: user.email.clone(),
        name: user.display_name.clone(),
    };
    sign_ins.redeemed += 1;
    Ok((subject, sign_ins.tamper))
}
