//! The console's pages: what each shows and which form does what. `layout` is the frame every page
//! shares; `home` signs in and out; `groups` is View Groups, a group's page and Restore;
//! `operator` the operators' pages and resync buttons; `assets` the stylesheet and script.

// A page's early answer (sign in first, 403, 404) is the `Err` of its checks: a whole `Response`,
// made once per request and returned at once, never carried along.
#![allow(clippy::result_large_err)]

pub mod assets;
pub mod groups;
pub mod home;
mod layout;
pub mod operator;

use super::session::{self, LANG_COOKIE, Person};
use super::{Console, ConsoleState, Lang};
use crate::core::link::{Link, LinkState};
use crate::store::AuditEntry;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use fluent_bundle::FluentValue;
use maud::Markup;

/// One request's view of the console: the language, the person (if signed in), the path.
pub struct Ctx<'a> {
    pub console: &'a Console,
    pub lang: Lang,
    pub person: Option<Person>,
    /// The page's own path and query, for the language switch and sign-in to come back to.
    pub here: String,
}

impl<'a> Ctx<'a> {
    /// Reads the language and the session of a request.
    pub async fn read(
        state: &'a ConsoleState,
        headers: &HeaderMap,
        here: String,
    ) -> Result<Ctx<'a>, Response> {
        let console = state.console();
        let lang = Lang::choose(
            session::cookie(headers, LANG_COOKIE),
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        let mut ctx = Ctx {
            console,
            lang,
            person: None,
            here,
        };
        let now = crate::app::App::now_ms();
        match session::signed_in(&*console.app.store, headers, &console.config.operators, now).await
        {
            Ok(person) => ctx.person = person,
            Err(e) => return Err(ctx.store_failed(e)),
        }
        Ok(ctx)
    }

    /// The message `id` in this request's language.
    pub fn t(&self, id: &str) -> String {
        self.console.texts.get(self.lang, id)
    }

    /// The message `id` with its variables.
    pub fn tw(&self, id: &str, args: &[(&str, FluentValue)]) -> String {
        self.console.texts.with(self.lang, id, args)
    }

    /// The signed-in person, or the sign-in page's redirect (coming back here afterwards).
    pub fn require_person(&self) -> Result<&Person, Response> {
        self.person.as_ref().ok_or_else(|| {
            let back =
                url::form_urlencoded::byte_serialize(self.here.as_bytes()).collect::<String>();
            Redirect::to(&format!("/?back={back}")).into_response()
        })
    }

    /// An operator, or 403.
    pub fn require_operator(&self) -> Result<&Person, Response> {
        let person = self.require_person()?;
        if !person.operator {
            return Err(self.error_page(StatusCode::FORBIDDEN, "error-operators-only"));
        }
        Ok(person)
    }

    /// A page saying what went wrong, in words, with `status`.
    pub fn error_page(&self, status: StatusCode, message_id: &str) -> Response {
        self.message_page(status, &self.t(message_id))
    }

    /// A page with one sentence.
    pub fn message_page(&self, status: StatusCode, sentence: &str) -> Response {
        let title = match status {
            StatusCode::FORBIDDEN => self.t("error-forbidden-title"),
            StatusCode::NOT_FOUND => self.t("error-not-found-title"),
            StatusCode::CONFLICT => self.t("error-conflict-title"),
            s if s.is_success() => self.t("notice-title"),
            _ => self.t("error-title"),
        };
        let body = maud::html! {
            p.message role="alert" { (sentence) }
            p { a href="/groups" { (self.t("back-to-groups")) } }
        };
        (status, layout::page(self, &title, body)).into_response()
    }

    /// The store could not answer: logged, and a page that says so.
    pub fn store_failed(&self, e: crate::store::StoreError) -> Response {
        tracing::error!(error = %e, "console: store error");
        self.error_page(StatusCode::SERVICE_UNAVAILABLE, "error-store")
    }

    /// A POST without its session's CSRF token (or without a session at all): refused (403),
    /// audited with whoever the session names (`anonymous` without one), nothing changed.
    pub async fn refuse_forged(&self, action: &str, group: Option<&str>) -> Response {
        let actor = self
            .person
            .as_ref()
            .map_or("anonymous", |p| p.email.as_str());
        let detail = if self.person.is_some() {
            "console form without its CSRF token"
        } else {
            "console form without a session"
        };
        let entry = audit_entry(actor, action, group, "refused", detail);
        if let Err(e) = self.console.app.store.audit(&entry).await {
            return self.store_failed(e);
        }
        self.error_page(StatusCode::FORBIDDEN, "error-csrf")
    }

    /// A whole page in the frame.
    pub fn page(&self, title: &str, body: Markup) -> Response {
        layout::page(self, title, body).into_response()
    }
}

/// An audit entry for a console action, at the app's clock.
pub fn audit_entry(
    actor: &str,
    action: &str,
    group: Option<&str>,
    outcome: &str,
    detail: &str,
) -> AuditEntry {
    AuditEntry {
        at: crate::app::App::now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        group_id: group.map(str::to_string),
        target: None,
        outcome: outcome.to_string(),
        detail: detail.to_string(),
    }
}

/// A link's state as the console names it: an archived link whose restore was granted (no longer
/// MIS-linked) is `restoring` until its job ends.
pub fn state_word(link: &Link) -> &'static str {
    match link.state() {
        LinkState::Archived if !link.mis_linked() => "restoring",
        s => s.as_str(),
    }
}

/// The path and query a request asked for: where the language switch and sign-in come back to.
pub fn here(uri: &axum::extract::OriginalUri) -> String {
    uri.0
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string())
}

/// Cookies are `Secure` when browsers reach the console over https.
pub fn secure_cookies(console: &Console) -> bool {
    console.config.public_url.starts_with("https://")
}

/// `back` if it is a path on this console (never another site: no scheme, no `//`), else `/groups`.
/// A control character refuses it too: browsers drop tabs and newlines from a URL before reading it
/// (WHATWG URL), so `/<TAB>/evil.example` would be `//evil.example`, another site.
pub fn local_path(back: Option<&str>) -> String {
    match back {
        Some(b)
            if b.starts_with('/')
                && !b.starts_with("//")
                && !b.contains('\\')
                && !b.contains(char::is_control) =>
        {
            b.to_string()
        }
        _ => "/groups".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_back() {
        assert_eq!(local_path(Some("/groups/a?x=1")), "/groups/a?x=1");
        assert_eq!(local_path(Some("//evil.example/")), "/groups");
        assert_eq!(local_path(Some("https://evil.example/")), "/groups");
        assert_eq!(local_path(Some("/\\evil.example")), "/groups");
        assert_eq!(local_path(None), "/groups");
    }

    #[test]
    fn a_path_with_a_tab_or_a_newline_is_not_followed() {
        // Found by the `console_inputs` fuzz target (fuzz/): a browser reading `Location:
        // /<TAB>/evil.example` drops the tab and goes to //evil.example (an open redirect through
        // `/lang/cy?back=/%09/evil.example`); a CR or LF cannot be sent in `Location` at all.
        for back in [
            "/\t/evil.example",
            "/\r/evil.example",
            "/\n/evil.example",
            "/groups\u{85}",
        ] {
            assert_eq!(local_path(Some(back)), "/groups", "{back:?}");
        }
        assert_eq!(local_path(Some("/groups/a b?x=%09")), "/groups/a b?x=%09");
    }
}
