//! What a browser or the portal sends in headers → the console's and the API's readers of them:
//! cookies (`session::cookie`), the language (`Lang::choose` from the cookie and
//! `Accept-Language`), where `back` may send a browser (`console::local_path`), the API's
//! `Authorization: Bearer` (`api::bearer_token`), and the words the API takes in query strings
//! and bodies (targets, link states, emails). Never a panic; `local_path` never leaves the
//! console, as a browser reads the path it gives.
#![no_main]

use class_sync::api::bearer_token;
use class_sync::console::session::{self, LANG_COOKIE, SESSION_COOKIE, SIGN_IN_COOKIE};
use class_sync::console::{Lang, local_path};
use class_sync::core::domain::{Target, normalise_email};
use class_sync::core::link::LinkState;
use http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Fields split at NUL (a byte no header value may hold): cookies..., then the rest in order.
    let mut fields = data.split(|b| *b == 0);
    let cookies: Vec<&[u8]> = fields.by_ref().take(3).collect();
    let accept = fields.next().unwrap_or_default();
    let authorization = fields.next().unwrap_or_default();
    let back = fields.next().unwrap_or_default();

    let mut headers = HeaderMap::new();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_bytes(c) {
            headers.append(COOKIE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_bytes(accept) {
        headers.insert(ACCEPT_LANGUAGE, v);
    }
    if let Ok(v) = HeaderValue::from_bytes(authorization) {
        headers.insert(AUTHORIZATION, v);
    }

    for name in [SESSION_COOKIE, SIGN_IN_COOKIE, LANG_COOKIE] {
        let _ = session::cookie(&headers, name);
    }
    let lang = Lang::choose(
        session::cookie(&headers, LANG_COOKIE),
        headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    );
    assert_eq!(lang.other().other(), lang);

    if let Some(v) = headers.get(AUTHORIZATION) {
        let token = bearer_token(v);
        assert_eq!(token, token.trim());
    }

    let back = String::from_utf8_lossy(back);
    let to = local_path(Some(&back));
    // As a browser reads it in `Location` or a form: the URL parser drops every ASCII tab and
    // newline first (WHATWG URL, basic URL parser), so "/\t/x" is "//x", another site.
    let read: String = to
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    assert!(
        read.starts_with('/') && !read.starts_with("//") && !read.contains('\\'),
        "{back:?} → {to:?}"
    );

    // The words a query string or a body names.
    for word in [&*back, &*String::from_utf8_lossy(accept)] {
        let _ = word.parse::<Target>();
        let _ = word.parse::<LinkState>();
        let _ = normalise_email(word);
        let _ = Lang::from_code(word);
    }
});
