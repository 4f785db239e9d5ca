//! Who is signed in: the session cookie, its row in the store, the CSRF token of its forms, the
//! language cookie.
//!
//! The cookie holds a random secret; the store keeps its SHA-256 only, so a copy of the database
//! opens no session, and every `serve` host on the store knows every session. Cookies are
//! `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the console's `public_url` is https.
//!
//! Must not: log a session secret or a CSRF token; trust anything the browser says about the
//! person but the session's secret.

use crate::store::{ConsoleSession, Store, StoreResult};
use axum::http::HeaderMap;
use axum::http::header::{COOKIE, SET_COOKIE};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie.
pub const SESSION_COOKIE: &str = "class_sync_session";
/// The sign-in in flight: its `state`, so the return is taken only by the browser that left.
pub const SIGN_IN_COOKIE: &str = "class_sync_sign_in";
/// The language the person chose (`en` or `cy`).
pub const LANG_COOKIE: &str = "class_sync_lang";

/// A signed-in person, as the console sees them.
#[derive(Clone, Debug)]
pub struct Person {
    /// Normalised email (the id_token's `preferred_username`).
    pub email: String,
    /// Listed in `[console] operators`: sees every group and the operator pages.
    pub operator: bool,
    pub session: ConsoleSession,
}

/// 32 random bytes, base64url: a session secret, a CSRF token, a nonce, a `state`.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a session secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value: `max_age` seconds (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool, http_only: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// Adds a `Set-Cookie` header.
pub fn add_cookie(headers: &mut HeaderMap, value: String) {
    if let Ok(v) = value.parse() {
        headers.append(SET_COOKIE, v);
    }
}

/// The session the request's cookie opens, if any and not expired.
pub async fn signed_in(
    store: &dyn Store,
    headers: &HeaderMap,
    operators: &[String],
    now_ms: i64,
) -> StoreResult<Option<Person>> {
    let Some(secret) = cookie(headers, SESSION_COOKIE).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let Some(session) = store.session(&hash_secret(secret), now_ms).await? else {
        return Ok(None);
    };
    Ok(Some(Person {
        operator: operators.contains(&session.person),
        email: session.person.clone(),
        session,
    }))
}

/// Whether a form's token is its session's (compared in constant time).
pub fn csrf_ok(person: &Person, presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(person.session.csrf.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            "x_class_sync_session=no; class_sync_session=yes; class_sync_lang=cy"
                .parse()
                .unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("yes"));
        assert_eq!(cookie(&h, LANG_COOKIE), Some("cy"));
        assert_eq!(cookie(&h, SIGN_IN_COOKIE), None);
    }

    #[test]
    fn set_cookie_carries_the_attributes() {
        let c = set_cookie(SESSION_COOKIE, "v", 60, true, true);
        assert_eq!(
            c,
            "class_sync_session=v; Path=/; Max-Age=60; SameSite=Lax; HttpOnly; Secure"
        );
        assert!(!set_cookie(LANG_COOKIE, "cy", 1, false, false).contains("Secure"));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_secret("abc").len(), 64);
        assert_ne!(hash_secret(&a), a);
    }
}
