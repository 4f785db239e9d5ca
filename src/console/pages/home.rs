//! The front page, the sign-in round trip, sign-out and the language switch.

use super::{Ctx, audit_entry, here, local_path};
use crate::app::App;
use crate::console::ConsoleState;
use crate::console::session::{
    self, LANG_COOKIE, SESSION_COOKIE, SIGN_IN_COOKIE, add_cookie, hash_secret, random_token,
    set_cookie,
};
use crate::console::sign_in::SIGN_IN_LIFETIME;
use crate::store::{ConsoleSession, PendingSignIn};
use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// `/`: signed out, the "Sign in with Microsoft" button; signed in, View Groups.
pub async fn home(
    State(state): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
    Query(q): Query<Back>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if ctx.person.is_some() {
        return Redirect::to(&local_path(q.back.as_deref())).into_response();
    }
    let body = html! {
        p.lead { (ctx.t("sign-in-lead")) }
        form method="get" action="/auth/sign-in" {
            input type="hidden" name="back" value=(local_path(q.back.as_deref()));
            button.primary type="submit" { (ctx.t("sign-in-button")) }
        }
    };
    ctx.page(&ctx.t("sign-in-title"), body)
}

/// `/auth/sign-in`: a new sign-in kept in the store, the browser sent to the identity provider.
pub async fn sign_in(
    State(state): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
    Query(q): Query<Back>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let console = state.console();
    if console.sign_in_limit.check().is_err() {
        tracing::warn!("console: sign-in refused, more than the per-host rate");
        let mut response = ctx.error_page(StatusCode::TOO_MANY_REQUESTS, "error-busy");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let started = console.sign_in.start();
    let now = App::now_ms();
    let pending = PendingSignIn {
        state: started.state.clone(),
        nonce: started.nonce,
        verifier: started.verifier,
        return_to: local_path(q.back.as_deref()),
        expires_at: now + SIGN_IN_LIFETIME.as_millis() as i64,
    };
    if let Err(e) = console.app.store.put_sign_in(&pending, now).await {
        return ctx.store_failed(e);
    }
    let mut response = Redirect::to(&started.url).into_response();
    add_cookie(
        response.headers_mut(),
        set_cookie(
            SIGN_IN_COOKIE,
            &started.state,
            SIGN_IN_LIFETIME.as_secs(),
            secure(&state),
            true,
        ),
    );
    response
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `/auth/callback`: the identity provider's answer. The `state` must be this browser's sign-in
/// (its cookie) and still in the store; the code is redeemed with its PKCE verifier and the
/// id_token checked; then a session starts. Every outcome is audited.
pub async fn callback(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, "/".to_string()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let console = state.console();
    let now = App::now_ms();
    let Some(returned_state) = q.state.filter(|s| !s.is_empty()) else {
        return sign_in_failed(&ctx, "the answer has no state".into()).await;
    };
    // The sign-in is taken (single use) before anything else is believed.
    let pending = match console.app.store.take_sign_in(&returned_state, now).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return sign_in_failed(&ctx, "the sign-in is unknown, used or too old".into()).await;
        }
        Err(e) => return ctx.store_failed(e),
    };
    if session::cookie(&headers, SIGN_IN_COOKIE) != Some(returned_state.as_str()) {
        return sign_in_failed(&ctx, "the sign-in was started in another browser".into()).await;
    }
    if let Some(error) = q.error {
        let description = q.error_description.unwrap_or_default();
        let first = description.lines().next().unwrap_or("").trim().to_string();
        return sign_in_failed(&ctx, format!("{error}: {first}")).await;
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return sign_in_failed(&ctx, "the answer has no code".into()).await;
    };
    let person = match console
        .sign_in
        .finish(&code, &pending.verifier, &pending.nonce)
        .await
    {
        Ok(p) => p,
        Err(e) => return sign_in_failed(&ctx, e.to_string()).await,
    };
    let secret = random_token();
    let lifetime_ms = i64::from(console.config.session_hours) * 3_600_000;
    let session = ConsoleSession {
        id_hash: hash_secret(&secret),
        person: person.clone(),
        csrf: random_token(),
        created_at: now,
        expires_at: now + lifetime_ms,
    };
    if let Err(e) = console.app.store.put_session(&session, now).await {
        return ctx.store_failed(e);
    }
    let entry = audit_entry(&person, "sign_in", None, "ok", "signed in to the console");
    if let Err(e) = console.app.store.audit(&entry).await {
        return ctx.store_failed(e);
    }
    tracing::info!(person, "console sign-in");
    let mut response = Redirect::to(&pending.return_to).into_response();
    let h = response.headers_mut();
    add_cookie(
        h,
        set_cookie(
            SESSION_COOKIE,
            &secret,
            (lifetime_ms / 1000) as u64,
            secure(&state),
            true,
        ),
    );
    add_cookie(h, set_cookie(SIGN_IN_COOKIE, "", 0, secure(&state), true));
    response
}

/// A sign-in that did not complete: audited, and a page that says why, with a way to start again.
async fn sign_in_failed(ctx: &Ctx<'_>, reason: String) -> Response {
    tracing::warn!(reason, "console sign-in failed");
    let entry = audit_entry("unknown", "sign_in", None, "refused", &reason);
    if let Err(e) = ctx.console.app.store.audit(&entry).await {
        return ctx.store_failed(e);
    }
    let body = html! {
        p.message role="alert" { (ctx.t("error-sign-in-failed")) " " (reason) }
        p { a.button href="/" { (ctx.t("sign-in-again")) } }
    };
    let mut r = (
        StatusCode::FORBIDDEN,
        ctx.page(&ctx.t("sign-in-title"), body),
    )
        .into_response();
    let secure = ctx.console.config.public_url.starts_with("https://");
    add_cookie(
        r.headers_mut(),
        set_cookie(SIGN_IN_COOKIE, "", 0, secure, true),
    );
    r
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /auth/sign-out`: ends the session (with its CSRF token).
pub async fn sign_out(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, "/".to_string()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(person) = ctx.person.clone() else {
        return Redirect::to("/").into_response();
    };
    if !session::csrf_ok(&person, form.csrf.as_deref()) {
        return ctx.refuse_forged("sign_out", None).await;
    }
    let console = state.console();
    if let Err(e) = console.app.store.end_session(&person.session.id_hash).await {
        return ctx.store_failed(e);
    }
    let entry = audit_entry(&person.email, "sign_out", None, "ok", "signed out");
    if let Err(e) = console.app.store.audit(&entry).await {
        return ctx.store_failed(e);
    }
    let mut response = Redirect::to("/").into_response();
    add_cookie(
        response.headers_mut(),
        set_cookie(SESSION_COOKIE, "", 0, secure(&state), true),
    );
    response
}

/// `/lang/{code}`: remembers the choice (a year) and goes back.
pub async fn switch_language(
    State(state): State<ConsoleState>,
    Path(code): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let Some(lang) = crate::console::Lang::from_code(&code) else {
        return (StatusCode::NOT_FOUND, "en | cy").into_response();
    };
    let back = match q.back.as_deref() {
        Some("/") => "/".to_string(),
        other => local_path(other),
    };
    let mut response = Redirect::to(&back).into_response();
    add_cookie(
        response.headers_mut(),
        set_cookie(LANG_COOKIE, lang.code(), 365 * 86_400, secure(&state), true),
    );
    response
}

fn secure(state: &ConsoleState) -> bool {
    super::secure_cookies(state.console())
}
