//! Redirect URIs: matching a request's URI against the registered ones as Entra does, and
//! adding the answer's parameters to one.

use crate::wire;

/// `uri` with `pairs` added to its query.
pub(super) fn with_query(uri: &str, pairs: &[(String, String)]) -> String {
    let joiner = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{joiner}{}", wire::encode_query(pairs))
}

/// A URI split for matching: scheme, host, port, and path with query (`/` when empty).
struct UriParts<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
    rest: String,
}

fn uri_parts(uri: &str) -> Option<UriParts<'_>> {
    if uri.contains('#') {
        return None;
    }
    let (scheme, after) = uri.split_once("://")?;
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (authority, None),
    };
    if host.is_empty() {
        return None;
    }
    let rest = if rest.starts_with('/') {
        rest.to_string()
    } else {
        format!("/{rest}")
    };
    Some(UriParts {
        scheme,
        host,
        port,
        rest,
    })
}

/// True when `uri` matches a registered redirect URI: exactly (path and query case-sensitive),
/// except that the port is ignored for loopback hosts (reply-url restrictions, "Localhost
/// exceptions").
pub(super) fn registered(registered: &[String], uri: &str) -> bool {
    let Some(asked) = uri_parts(uri) else {
        return false;
    };
    registered.iter().any(|r| {
        let Some(reg) = uri_parts(r) else {
            return false;
        };
        let loopback = reg.host.eq_ignore_ascii_case("localhost") || reg.host == "127.0.0.1";
        reg.scheme.eq_ignore_ascii_case(asked.scheme)
            && reg.host.eq_ignore_ascii_case(asked.host)
            && (loopback || reg.port == asked.port)
            && reg.rest == asked.rest
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_uris_match_on_any_port() {
        let reg = vec![
            "http://127.0.0.1/auth/callback".to_string(),
            "https://console.example/auth/callback".to_string(),
        ];
        assert!(registered(&reg, "http://127.0.0.1:8080/auth/callback"));
        assert!(registered(&reg, "http://127.0.0.1/auth/callback"));
        assert!(registered(&reg, "https://console.example/auth/callback"));
        assert!(!registered(
            &reg,
            "https://console.example:8443/auth/callback"
        ));
        assert!(!registered(&reg, "http://127.0.0.1:8080/auth/Callback"));
        assert!(!registered(&reg, "http://127.0.0.1:8080/auth/callback/"));
        assert!(!registered(&reg, "http://localhost:8080/auth/callback"));
        assert!(!registered(&reg, "http://127.0.0.1:8080/auth/callback#x"));
        assert!(!registered(&reg, "http://evil@127.0.0.1/auth/callback"));
    }
}
