//! Graph's OData conventions: the service base written into `@odata.context`, paging with
//! `$top`, `$skiptoken` and `@odata.nextLink`, and the `@odata.bind` / `@odata.id` references
//! request bodies use to name groups, templates and users.

use axum::response::Response;
use serde_json::{Value, json};

use crate::backend::Incoming;
use crate::graph::errors::bad_request;
use crate::state::Shared;
use crate::wire::{self, Refusal};

/// Graph's own base, used in `@odata.context` values as the real service writes them.
pub(super) const GRAPH_BASE: &str = "https://graph.microsoft.com/v1.0";

/// One page of `items` per `$top` (capped by `page_size`) and `$skiptoken`, with an absolute
/// `@odata.nextLink` when more remain.
pub(super) fn paged(shared: &Shared, req: &Incoming, context: &str, items: Vec<Value>) -> Response {
    let pairs = req.query_pairs();
    let parse = |name: &str| -> Result<Option<usize>, Refusal> {
        match wire::first(&pairs, name) {
            None => Ok(None),
            Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                Refusal::from(bad_request(&format!(
                    "Invalid value '{v}' for query option {name}."
                )))
            }),
        }
    };
    let (top, skip) = match (parse("$top"), parse("$skiptoken")) {
        (Ok(top), Ok(skip)) => (top, skip.unwrap_or(0)),
        (Err(resp), _) | (_, Err(resp)) => return resp.into(),
    };
    let cap = shared.opts.page_size.max(1);
    let size = top.unwrap_or(cap).clamp(1, cap);
    let start = skip.min(items.len());
    let end = (start + size).min(items.len());
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#{context}"),
        "value": items[start..end].to_vec(),
    });
    if end < items.len() {
        let mut next: Vec<(String, String)> = pairs
            .into_iter()
            .filter(|(k, _)| k != "$skiptoken")
            .collect();
        next.push(("$skiptoken".into(), end.to_string()));
        let origin = shared.urls.graph.trim_end_matches("/v1.0");
        body["@odata.nextLink"] = json!(format!(
            "{origin}{}?{}",
            req_raw_path(req),
            wire::encode_query(&next)
        ));
    }
    wire::json(200, &body)
}

/// The path as sent, re-encoded from the decoded segments.
fn req_raw_path(req: &Incoming) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'?')
        .add(b'<')
        .add(b'>');
    req.segments
        .iter()
        .map(|s| format!("/{}", percent_encoding::utf8_percent_encode(s, SEGMENT)))
        .collect()
}

/// The key of `{scheme}://{host}/v1.0/{entity}('{key}')`, any scheme and host.
pub(super) fn bind_key(value: &str, entity: &str) -> Option<String> {
    let marker = format!("/{entity}(");
    let pos = value.find(&marker)?;
    let prefix = value[..pos].strip_suffix("/v1.0")?;
    let host = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"))?;
    if host.is_empty() || host.contains('/') {
        return None;
    }
    let (name, key) = wire::odata_key(&value[pos + 1..])?;
    (name == entity).then_some(key)
}

/// The id in `…/v1.0/users('{id}')` (or `…/v1.0/users/{id}`).
pub(super) fn user_bind_ref(value: &str) -> Option<String> {
    if let Some(key) = bind_key(value, "users") {
        return Some(key);
    }
    let pos = value.rfind("/v1.0/users/")?;
    let id = &value[pos + "/v1.0/users/".len()..];
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

/// The user id at the end of an `@odata.id` like `https://graph.microsoft.com/v1.0/education/users/{id}`.
pub(super) fn education_user_ref(value: &str) -> Option<String> {
    let pos = value.rfind("/education/users")?;
    let rest = &value[pos + "/education/users".len()..];
    if let Some(id) = rest.strip_prefix('/') {
        return (!id.is_empty() && !id.contains('/')).then(|| id.to_string());
    }
    let (_, key) = wire::odata_key(&format!("users{rest}"))?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_accept_any_host() {
        let v = "https://graph.microsoft.com/v1.0/groups('abc')";
        assert_eq!(bind_key(v, "groups"), Some("abc".into()));
        assert_eq!(
            bind_key(
                "http://127.0.0.1:1/v1.0/teamsTemplates('educationClass')",
                "teamsTemplates"
            ),
            Some("educationClass".into())
        );
        assert_eq!(bind_key("groups('abc')", "groups"), None);
        assert_eq!(
            user_bind_ref("https://graph.microsoft.com/v1.0/users/a@b.c"),
            Some("a@b.c".into())
        );
        assert_eq!(
            education_user_ref("https://graph.microsoft.com/v1.0/education/users/u1"),
            Some("u1".into())
        );
        assert_eq!(
            education_user_ref("https://graph.microsoft.com/v1.0/education/users('u1')"),
            Some("u1".into())
        );
    }
}
