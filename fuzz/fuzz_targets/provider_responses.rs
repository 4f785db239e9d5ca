//! Answers from Microsoft and Google, as bytes → every function that turns a body into typed data
//! or a `ProviderError`: the error-body reader of the call path (`call::service_error`, both
//! services, any status), the success body as the call path reads it, Graph's collection pages,
//! team members, async operations and bulk-add results, Classroom's roster pages and members, and
//! the token endpoints' answers (Google's reader; Microsoft's through `oauth2`'s types) down to the
//! token cache's expiry. A malformed or hostile answer must never panic.
#![no_main]

use class_sync::core::roster::Role;
use class_sync::remote::auth::{fresh_until, google_token_answer, microsoft_token};
use class_sync::remote::call::{Api, service_error};
use class_sync::remote::providers::{classroom, graph};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    // The first two bytes are the HTTP status (100..=599), the rest the body.
    let (status, body) = match data {
        [a, b, rest @ ..] => (100 + u16::from_be_bytes([*a, *b]) % 500, rest),
        _ => (200, data),
    };

    for api in [Api::Graph, Api::Classroom] {
        let e = service_error(api, status, body);
        assert!(!e.code.is_empty(), "an error always has a code");
        assert_eq!(e.status, Some(status));
        let _ = e.to_string();
    }

    // What `Remote::send` hands the providers for a 2xx.
    let value: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    };
    let emails = [("a@x".to_string(), "u-1".to_string())];

    // Graph.
    let (items, _next) = graph::page(&value);
    for m in items.iter().chain([&value]) {
        let _ = graph::member(m, |_| None);
        let _ = graph::member(m, |id| (id == "u-1").then(|| "a@x".to_string()));
    }
    if let graph::Operation::Failed(e) = graph::operation(&value) {
        let _ = e.to_string();
    }
    let mut missing = Vec::new();
    if let Err(e) = graph::members_add_results(&value, &emails, &mut missing) {
        let _ = e.to_string();
    }

    // Classroom.
    for kind in ["teachers", "students"] {
        let (items, next) = classroom::page(&value, kind);
        assert!(
            next.is_none_or(|t| !t.is_empty()),
            "a blank token ends the list"
        );
        for m in items.iter().chain([&value]) {
            let _ = classroom::member(m, Role::Teacher);
        }
    }

    // Token endpoints, and how long the cache keeps what they gave.
    let now = Instant::now();
    match google_token_answer(status, body, "admin@school") {
        Ok((_, lifetime)) => {
            let _ = fresh_until(now, lifetime);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(t) = serde_json::from_slice::<oauth2::basic::BasicTokenResponse>(body) {
        let (_, lifetime) = microsoft_token(&t);
        let _ = fresh_until(now, lifetime);
    }
    if let Ok(e) = serde_json::from_slice::<oauth2::basic::BasicErrorResponse>(body) {
        let _ = e.to_string();
    }
});
