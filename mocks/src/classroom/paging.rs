//! Classroom paging: `pageSize` and opaque `pageToken`s, with Google's habit of leaving out
//! empty lists and the last page's `nextPageToken`.

use serde_json::{Map, Value, json};

use crate::backend::Incoming;
use crate::classroom::errors::{Answer, invalid_argument};
use crate::state::Shared;
use crate::wire;

/// One page per `pageSize` (`default` when 0 or absent, capped by the `page_size` option) and
/// `pageToken`; `nextPageToken` only when more remain, and the list key only when non-empty.
pub(super) fn paged(
    shared: &Shared,
    req: &Incoming,
    key: &str,
    items: Vec<Value>,
    default: usize,
) -> Answer {
    let pairs = req.query_pairs();
    let requested = match wire::first(&pairs, "pageSize") {
        None => 0,
        Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            invalid_argument(&format!(
                "Invalid value at 'page_size' (TYPE_INT32), \"{v}\""
            ))
        })?,
    };
    let requested = if requested == 0 {
        default
    } else {
        usize::try_from(requested).unwrap_or(usize::MAX)
    };
    let size = requested.min(shared.opts.page_size).max(1);
    let start = match wire::first(&pairs, "pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => wire::b64url_decode(token)
            .and_then(|t| {
                t.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(|| {
                invalid_argument("Request contains an invalid argument. (bad pageToken)")
            })?,
    };
    let start = start.min(items.len());
    let end = (start + size).min(items.len());
    let mut body = Map::new();
    if end > start {
        body.insert(key.into(), Value::Array(items[start..end].to_vec()));
    }
    if end < items.len() {
        body.insert(
            "nextPageToken".into(),
            json!(wire::b64url(&format!("offset:{end}"))),
        );
    }
    Ok(wire::json(200, &Value::Object(body)))
}
