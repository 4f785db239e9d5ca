//! A config file's text → `Config::from_toml`: never a panic, and a refused file's error never
//! shows a `client_secret` it holds.
#![no_main]

use class_sync::config::Config;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// Relative paths in the file are taken from here; it does not exist, so nothing is read through it.
const BASE: &str = "/nonexistent/class-sync-fuzz";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let doc = toml::from_str::<toml::Table>(text).ok();
    // `client_secret_file` is read when the rest is valid: an absolute path could name a device
    // that never ends (/dev/zero). That is the operator's own file, not an input to fuzz.
    if doc.as_ref().is_some_and(names_an_absolute_file) {
        return;
    }
    let Err(e) = Config::from_toml(text, "fuzz.toml", Path::new(BASE)) else {
        return;
    };
    let shown = e.to_string();
    for secret in doc.iter().flat_map(secrets) {
        // Only a value that appears once in the text and only as that secret: otherwise the error
        // may rightly quote it as part of something else. Then change the secret alone: if the
        // error follows it, the error is showing it.
        if secret.chars().count() < 8 || text.matches(secret.as_str()).count() != 1 {
            continue;
        }
        if !shown.contains(&secret) {
            continue;
        }
        let other: String = secret
            .chars()
            .map(|c| if c == 'Q' { 'Z' } else { 'Q' })
            .collect();
        let changed = text.replace(&secret, &other);
        if let Err(e2) = Config::from_toml(&changed, "fuzz.toml", Path::new(BASE)) {
            assert!(
                !e2.to_string().contains(&other),
                "the error shows the client_secret: {shown}"
            );
        }
    }
});

/// Every `client_secret` string value, at any depth.
fn secrets(table: &toml::Table) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack: Vec<(&str, &toml::Value)> = table.iter().map(|(k, v)| (k.as_str(), v)).collect();
    while let Some((k, v)) = stack.pop() {
        match v {
            toml::Value::String(s) if k == "client_secret" => found.push(s.clone()),
            toml::Value::Table(t) => stack.extend(t.iter().map(|(k, v)| (k.as_str(), v))),
            toml::Value::Array(a) => stack.extend(a.iter().map(|v| (k, v))),
            _ => {}
        }
    }
    found
}

/// Whether a `…_file` key holds an absolute path (or a drive letter).
fn names_an_absolute_file(table: &toml::Table) -> bool {
    let mut stack: Vec<(&str, &toml::Value)> = table.iter().map(|(k, v)| (k.as_str(), v)).collect();
    while let Some((k, v)) = stack.pop() {
        match v {
            toml::Value::String(s)
                if k.ends_with("_file") && (s.starts_with(['/', '\\']) || s.contains(':')) =>
            {
                return true;
            }
            toml::Value::Table(t) => stack.extend(t.iter().map(|(k, v)| (k.as_str(), v))),
            toml::Value::Array(a) => stack.extend(a.iter().map(|v| (k, v))),
            _ => {}
        }
    }
    false
}
