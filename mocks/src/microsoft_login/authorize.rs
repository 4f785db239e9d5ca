//! `GET /{tenant}/oauth2/v2.0/authorize` and `GET …/authorize/pick`: the sign-in app's
//! authorization request checked as Entra checks it, the account picker, and the redirect back
//! with a code. Problems with the app or its redirect URI are shown to the browser as a page;
//! every other problem goes back to the app at its redirect URI, with `state`.

use std::time::Instant;

use axum::response::Response;

use crate::backend::Incoming;
use crate::microsoft_login::errors::{Aadsts, missing, unknown_client};
use crate::microsoft_login::model::{Code, SignIns};
use crate::microsoft_login::pages;
use crate::microsoft_login::redirect_uri::{registered, with_query};
use crate::state::Shared;
use crate::state::users::UserIdx;
use crate::wire::{self, Refusal};

/// The OpenID scopes the sign-in app may ask for (the fake issues no refresh tokens, so
/// `offline_access` is not among them, nor any API's scope).
pub(super) const SIGN_IN_SCOPES: [&str; 3] = ["openid", "profile", "email"];
const PROMPTS: [&str; 4] = ["login", "none", "consent", "select_account"];
/// Entra's sentence for an address it does not know.
const UNKNOWN_ACCOUNT: &str = "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin.";
const NO_ACCOUNT: &str = "Enter a valid email address, phone number, or Skype name.";

/// Which of the two endpoints was asked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// `/authorize`: the app sends the browser here.
    Authorize,
    /// `/authorize/pick`: the picker's forms come back here with `username`.
    Pick,
}

/// An authorization request that passed every check.
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    scopes: Vec<String>,
    challenge: String,
    login_hint: Option<String>,
    prompt: Option<String>,
}

pub(super) fn authorize(shared: &Shared, req: &Incoming, step: Step) -> Response {
    let params = req.query_pairs();
    let auth = match check(shared, &params) {
        Ok(auth) => auth,
        Err(refusal) => return refusal.into(),
    };
    match step {
        Step::Authorize => {
            let hinted = auth
                .login_hint
                .as_deref()
                .and_then(|hint| shared.world().users.by_email(hint.trim()));
            let prompt = auth.prompt.as_deref();
            let choose = prompt == Some("select_account");
            let silent = prompt == Some("none");
            match hinted {
                _ if choose => picker(shared, &params, None),
                Some(user) => issue_code(shared, auth, user),
                None if silent => refuse(
                    &auth.redirect_uri,
                    Some(&auth.state),
                    &Aadsts::new(
                        "login_required",
                        50058,
                        "A silent sign-in request was sent but no user is signed in.",
                    ),
                ),
                None => picker(shared, &params, None),
            }
        }
        Step::Pick => {
            let username = wire::first(&params, "username")
                .map(str::trim)
                .filter(|u| !u.is_empty());
            let Some(username) = username else {
                return picker(shared, &params, Some(NO_ACCOUNT));
            };
            let user = shared.world().users.by_email(username);
            match user {
                Some(user) => issue_code(shared, auth, user),
                None => picker(shared, &params, Some(UNKNOWN_ACCOUNT)),
            }
        }
    }
}

/// Checks the request in Entra's order: the app and its redirect URI first (refused with a
/// page), then everything else (refused at the redirect URI).
fn check(shared: &Shared, params: &[(String, String)]) -> Result<AuthRequest, Refusal> {
    let opts = &shared.opts;
    let get = |name: &str| wire::first(params, name).filter(|v| !v.is_empty());
    let page = |err: Aadsts| Err(pages::error_page(400, &err).into());

    let Some(client_id) = get("client_id") else {
        return page(missing("client_id"));
    };
    if client_id != opts.sign_in_client_id {
        if client_id == opts.client_id {
            // The Graph app is registered, but as a daemon without redirect URIs.
            return page(Aadsts::new(
                "invalid_request",
                500113,
                "No reply address is registered for the application.",
            ));
        }
        return page(unknown_client(client_id, &opts.tenant_id));
    }
    let Some(redirect_uri) = get("redirect_uri") else {
        return page(Aadsts::new(
            "invalid_request",
            900971,
            "No reply address provided.",
        ));
    };
    if !registered(&opts.sign_in_redirect_uris, redirect_uri) {
        return page(Aadsts::new(
            "invalid_request",
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."
            ),
        ));
    }

    let state = get("state");
    let back = |err: Aadsts| Err(refuse(redirect_uri, state, &err).into());
    let Some(response_type) = get("response_type") else {
        return back(missing("response_type"));
    };
    if response_type != "code" {
        let words: Vec<&str> = response_type.split_whitespace().collect();
        if words.contains(&"id_token") || words.contains(&"token") {
            return back(Aadsts::new(
                "unsupported_response_type",
                700054,
                "response_type 'id_token' is not enabled for the application.",
            ));
        }
        return back(Aadsts::new(
            "unsupported_response_type",
            70005,
            format!("The app returned an unsupported response type '{response_type}'."),
        ));
    }
    if let Some(mode) = get("response_mode").filter(|m| *m != "query") {
        return back(Aadsts::new(
            "invalid_request",
            70007,
            format!(
                "The app returned an unsupported value '{mode}' of response_mode. The mock answers with response_mode 'query' only."
            ),
        ));
    }
    let Some(scope) = get("scope") else {
        return back(missing("scope"));
    };
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    if let Some(bad) = scopes
        .iter()
        .find(|s| !SIGN_IN_SCOPES.contains(&s.as_str()))
    {
        return back(Aadsts::new(
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope '{bad}' is not valid: the sign-in app may ask for openid, profile and email only."
            ),
        ));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return back(Aadsts::new(
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope '{scope}' does not include 'openid', without which no ID token is issued."
            ),
        ));
    }
    // Entra only recommends these; the mock requires them, as a careful client sends them.
    let Some(state) = state else {
        return back(missing("state"));
    };
    let Some(nonce) = get("nonce") else {
        return back(missing("nonce"));
    };
    let Some(challenge) = get("code_challenge") else {
        return back(missing("code_challenge"));
    };
    let Some(method) = get("code_challenge_method") else {
        return back(missing("code_challenge_method"));
    };
    if method != "S256" {
        return back(Aadsts::new(
            "invalid_request",
            90100,
            format!(
                "code_challenge_method '{method}' is not valid. The mock sign-in app accepts 'S256' only."
            ),
        ));
    }
    // BASE64URL of a SHA-256 digest: 43 characters, no padding.
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return back(Aadsts::new(
            "invalid_request",
            501491,
            "Invalid size of Code_Challenge parameter.",
        ));
    }
    let prompt = get("prompt");
    if let Some(prompt) = prompt.filter(|p| !PROMPTS.contains(p)) {
        return back(Aadsts::new(
            "invalid_request",
            90023,
            format!("Invalid prompt value '{prompt}'."),
        ));
    }
    Ok(AuthRequest {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state: state.to_string(),
        nonce: nonce.to_string(),
        scopes,
        challenge: challenge.to_string(),
        login_hint: get("login_hint").map(str::to_string),
        prompt: prompt.map(str::to_string),
    })
}

/// The picker, listing every known account sorted by address.
fn picker(shared: &Shared, params: &[(String, String)], error: Option<&str>) -> Response {
    let mut accounts: Vec<String> = shared
        .world()
        .users
        .iter()
        .map(|u| u.email.clone())
        .collect();
    accounts.sort_by_key(|e| e.to_ascii_lowercase());
    let action = format!("/{}/oauth2/v2.0/authorize/pick", shared.opts.tenant_id);
    pages::pick_page(&action, params, &accounts, error)
}

/// Stores a code for the signed-in account and sends the browser back to the app with it.
fn issue_code(shared: &Shared, auth: AuthRequest, user: UserIdx) -> Response {
    let redirect_uri = auth.redirect_uri.clone();
    let code = Code {
        client_id: auth.client_id,
        redirect_uri: auth.redirect_uri,
        scopes: auth.scopes,
        nonce: auth.nonce,
        challenge: auth.challenge,
        user,
        issued: Instant::now(),
        redeemed: false,
    };
    let value = shared.world().services.get_mut::<SignIns>().issue(code);
    let pairs = [
        ("code".to_string(), value),
        ("state".to_string(), auth.state),
        ("session_state".to_string(), wire::guid()),
    ];
    wire::redirect(&with_query(&redirect_uri, &pairs))
}

/// Sends the error back to the app, as Entra does for errors that are not about the app itself.
fn refuse(redirect_uri: &str, state: Option<&str>, err: &Aadsts) -> Response {
    let mut pairs = vec![
        ("error".to_string(), err.error.to_string()),
        ("error_description".to_string(), err.description()),
    ];
    if let Some(state) = state {
        pairs.push(("state".to_string(), state.to_string()));
    }
    wire::redirect(&with_query(redirect_uri, &pairs))
}
