//! Small pieces of HTTP wire handling shared by the fakes: decoding, encoding, responses, ids.
//! It depends on nothing else in the crate, so any layer may use it.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use rand::Rng;
use serde_json::Value;

/// Characters escaped when the mock writes a query value into an `@odata.nextLink`.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Percent-decodes a path (segment); invalid UTF-8 is replaced rather than refused.
pub(crate) fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Decodes `a=b&c=d` with `+` as space, as query strings and form bodies are decoded.
pub(crate) fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in decoded pairs.
pub(crate) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Re-encodes decoded query pairs.
pub(crate) fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY_VALUE),
                utf8_percent_encode(v, QUERY_VALUE)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// An error answer already shaped like its service's errors. Boxed so that `Result`s carrying
/// it stay small.
pub(crate) struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(resp: Response) -> Self {
        Refusal(Box::new(resp))
    }
}

impl From<Refusal> for Response {
    fn from(refusal: Refusal) -> Self {
        *refusal.0
    }
}

/// A JSON response.
pub(crate) fn json(status: u16, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status_code(status);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// An HTML page (UTF-8).
pub(crate) fn html(status: u16, page: String) -> Response {
    let mut resp = Response::new(Body::from(page));
    *resp.status_mut() = status_code(status);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// A `302 Found` to `location`, which the mock built itself (a value that is not a valid header
/// leaves the header out rather than panicking).
pub(crate) fn redirect(location: &str) -> Response {
    with_header(empty(302), "location", location)
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A response with no body.
pub(crate) fn empty(status: u16) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status_code(status);
    resp
}

/// Adds a header whose value the mock built itself; values that are not valid headers are
/// dropped rather than panicking.
pub(crate) fn with_header(mut resp: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// True when the request says its body is JSON (`application/json`, any parameters).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The user and password of an `Authorization: Basic` header, each percent-decoded as RFC 6749
/// §2.3.1 asks of OAuth clients.
pub(crate) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((form_decode(user), form_decode(password)))
}

fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// URL-safe base64 (with padding): opaque ids that are safe in a path segment.
pub(crate) fn b64url(data: &str) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(data)
}

/// URL-safe base64 without padding, as JWTs, JWKs and PKCE write bytes.
pub(crate) fn b64url_bytes(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Inverse of [`b64url_bytes`]; None for anything that is not unpadded URL-safe base64.
pub(crate) fn b64url_bytes_decode(data: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(data)
        .ok()
}

/// Inverse of [`b64url`]; None for anything that was not made by it.
pub(crate) fn b64url_decode(data: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(data)
        .ok()?;
    String::from_utf8(raw).ok()
}

/// A lowercase GUID, as Entra ids look.
pub(crate) fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An opaque bearer token.
pub(crate) fn opaque_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A Classroom-style enrollment code: seven lowercase letters and digits.
pub(crate) fn enrollment_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..7)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Now as RFC 3339 in UTC, with microseconds (Graph style) or milliseconds (Google style).
pub(crate) fn timestamp(micros: bool) -> String {
    let format = if micros {
        chrono::SecondsFormat::Micros
    } else {
        chrono::SecondsFormat::Millis
    };
    chrono::Utc::now().to_rfc3339_opts(format, true)
}

/// Given name, family name and full name made up from an email's local part
/// (`anna.jones@x` → Anna, Jones, "Anna Jones"; `jonesa12@x` → Jonesa12, "", "Jonesa12").
pub(crate) fn names_for(email: &str) -> (String, String, String) {
    let local = email.split('@').next().unwrap_or(email);
    let mut parts = local
        .split(['.', '_'])
        .filter(|p| !p.is_empty())
        .map(capitalise);
    let given = parts.next().unwrap_or_else(|| local.to_string());
    let family = parts.collect::<Vec<_>>().join(" ");
    let full = if family.is_empty() {
        given.clone()
    } else {
        format!("{given} {family}")
    };
    (given, family, full)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Splits OData key segments: `teams('x')` becomes `teams`, `x` (with `''` unescaped to `'`).
/// Other segments pass unchanged.
pub(crate) fn split_odata_keys(segments: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(segments.len() + 2);
    for seg in segments {
        match odata_key(seg) {
            Some((name, key)) => {
                out.push(name.to_string());
                out.push(key);
            }
            None => out.push(seg.clone()),
        }
    }
    out
}

/// `name('key')` → (`name`, `key`), None for anything else.
pub(crate) fn odata_key(seg: &str) -> Option<(&str, String)> {
    let open = seg.find("('")?;
    let inner = seg[open + 2..].strip_suffix("')")?;
    if open == 0 {
        return None;
    }
    Some((&seg[..open], unquote_odata(inner)?))
}

/// Undoes OData string-literal escaping (`''` → `'`); None when a lone `'` is left.
pub(crate) fn unquote_odata(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
            } else {
                return None;
            }
        }
        out.push(c);
    }
    Some(out)
}

/// Length in characters, the unit Google's limits use.
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_keys_are_split_and_unescaped() {
        let segs: Vec<String> = ["teams('a')", "operations('o''1')", "members"]
            .map(String::from)
            .into();
        assert_eq!(
            split_odata_keys(&segs),
            ["teams", "a", "operations", "o'1", "members"]
        );
        assert_eq!(odata_key("users('bad'quote')"), None);
    }

    #[test]
    fn names_come_from_the_local_part() {
        assert_eq!(names_for("anna.jones@x.net").2, "Anna Jones");
        assert_eq!(names_for("jonesa12@x.net").0, "Jonesa12");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn query_round_trips() {
        let pairs = vec![("$filter".to_string(), "externalId eq 'a&b'".to_string())];
        assert_eq!(form_pairs(encode_query(&pairs).as_bytes()), pairs);
    }
}
