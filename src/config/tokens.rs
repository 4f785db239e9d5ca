//! The bearer tokens `serve` reads from the files `[api]` names: read only when `serve` starts,
//! refused when missing, short or equal, and never shown.

use super::{ApiConfig, ConfigError};
use secrecy::SecretString;
use std::path::PathBuf;

/// The bearer tokens of `serve`: the portal's (restore, push groups, read) and the operator's (everything).
#[derive(Clone)]
pub struct ApiTokens {
    pub ump: SecretString,
    pub operator: SecretString,
}

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiTokens([REDACTED])")
    }
}

/// A bearer token shorter than this is refused: it could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

impl ApiConfig {
    /// Reads both token files. `serve` never runs without them: a missing key, an unreadable or
    /// short file, or the same token twice is an error naming the file, line and key.
    pub fn read_tokens(&self) -> Result<ApiTokens, ConfigError> {
        use secrecy::ExposeSecret;
        let o = &self.origin;
        let err = |key: &str, line: Option<usize>, reason: String| ConfigError {
            file: o.file.clone(),
            line,
            key: key.into(),
            reason,
        };
        let read = |key: &str, line: Option<usize>, path: &Option<PathBuf>| {
            let path = path.as_ref().ok_or_else(|| {
                err(
                    key,
                    line,
                    "missing: `serve` needs both token files and never runs without them".into(),
                )
            })?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| err(key, line, format!("cannot read {}: {e}", path.display())))?;
            super::file_mode::warn_if_open(path, key);
            let token = text.trim();
            if token.chars().count() < MIN_TOKEN_CHARS {
                return Err(err(
                    key,
                    line,
                    format!(
                        "{} holds no token of at least {MIN_TOKEN_CHARS} characters",
                        path.display()
                    ),
                ));
            }
            Ok(SecretString::from(token.to_string()))
        };
        let ump = read("api.ump_token_file", o.ump_token_line, &self.ump_token_file)?;
        let operator = read(
            "api.operator_token_file",
            o.operator_token_line,
            &self.operator_token_file,
        )?;
        if ump.expose_secret() == operator.expose_secret() {
            return Err(err(
                "api.operator_token_file",
                o.operator_token_line,
                "the operator's token must differ from the portal's".into(),
            ));
        }
        Ok(ApiTokens { ump, operator })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use secrecy::ExposeSecret;

    #[test]
    fn serve_refuses_missing_short_or_equal_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("ump.token");
        let other = dir.path().join("op.token");
        let short = dir.path().join("short.token");
        std::fs::write(&good, "portal-token-0123456789\n").unwrap();
        std::fs::write(&other, "operator-token-0123456789").unwrap();
        std::fs::write(&short, "abc").unwrap();
        let config = |ump: &str, op: &str| {
            Config::from_toml(
                &format!("[api]\nump_token_file = {ump:?}\noperator_token_file = {op:?}\n"),
                "test.toml",
                dir.path(),
            )
            .unwrap()
        };
        let t = config("ump.token", "op.token").api.read_tokens().unwrap();
        assert_eq!(t.ump.expose_secret(), "portal-token-0123456789");
        assert!(!format!("{t:?}").contains("token-0123"));

        let e = config("ump.token", "nope.token")
            .api
            .read_tokens()
            .unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("api.operator_token_file", Some(3))
        );
        assert!(
            e.to_string()
                .starts_with("test.toml:3: api.operator_token_file: cannot read"),
            "{e}"
        );
        let e = config("short.token", "op.token")
            .api
            .read_tokens()
            .unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("api.ump_token_file", Some(2)));
        assert!(
            !e.to_string().contains("abc"),
            "a token is never shown: {e}"
        );
        let e = config("ump.token", "ump.token")
            .api
            .read_tokens()
            .unwrap_err();
        assert!(e.reason.contains("must differ"), "{e}");
        let e = Config::builtin().api.read_tokens().unwrap_err();
        assert!(e.reason.contains("missing"), "{e}");
    }
}
