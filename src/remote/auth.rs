//! Access tokens for Microsoft (OAuth2 client credentials, via the `oauth2` crate) and Google
//! (service-account JWT bearer grant, RFC 7523, signed with `jsonwebtoken`).
//!
//! One cache per credential: a token is reused until shortly before it expires, fetched once for all
//! concurrent callers (the cache's async mutex is the single flight), and dropped on a 401 so the next
//! call fetches a fresh one. Secrets and tokens stay in `SecretString`; none is ever logged.

use crate::remote::error::{ErrorKind, ProviderError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// Refresh this long before the token's announced expiry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(120);

/// A token is never reused longer than this, whatever its answer announced: both services give an
/// hour or so, and an absurd `expires_in` must not overflow the clock.
const MAX_REUSE: Duration = Duration::from_secs(24 * 3600);

/// The Graph scope for app-only calls: every consented application permission.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Classroom scopes: courses, rosters, and emails in roster profiles (needed to match members by email).
pub const CLASSROOM_SCOPES: &str = "https://www.googleapis.com/auth/classroom.courses https://www.googleapis.com/auth/classroom.rosters https://www.googleapis.com/auth/classroom.profile.emails";

struct Cached {
    token: SecretString,
    fresh_until: Instant,
    generation: u64,
}

/// A token in hand, with the generation that lets a 401 drop exactly this one.
pub struct Bearer {
    pub token: SecretString,
    pub generation: u64,
}

/// How a cache gets a new token.
enum Grant {
    Microsoft {
        client: Box<MsClient>,
        http: oauth2_reqwest::ReqwestClient,
    },
    Google {
        key: std::sync::Arc<ServiceAccountKey>,
        subject: String,
        http: reqwest::Client,
    },
}

type MsClient = oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// A cached access token for one credential (the Graph app, or one impersonated Google admin).
pub struct TokenCache {
    grant: Grant,
    slot: tokio::sync::Mutex<Option<Cached>>,
    generations: std::sync::atomic::AtomicU64,
}

impl TokenCache {
    /// Client credentials against `{login_url}/{tenant_id}/oauth2/v2.0/token`.
    pub fn microsoft(
        login_url: &str,
        tenant_id: &str,
        client_id: &str,
        client_secret: &SecretString,
        http: reqwest::Client,
    ) -> Result<TokenCache, String> {
        use oauth2::{AuthType, ClientId, ClientSecret, TokenUrl};
        let token_url = TokenUrl::new(format!("{login_url}/{tenant_id}/oauth2/v2.0/token"))
            .map_err(|e| e.to_string())?;
        let client = oauth2::basic::BasicClient::new(ClientId::new(client_id.to_string()))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_string()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url);
        Ok(TokenCache::with(Grant::Microsoft {
            client: Box::new(client),
            http: oauth2_reqwest::ReqwestClient::from(http),
        }))
    }

    /// JWT bearer grant for `subject` (the admin impersonated through domain-wide delegation).
    pub fn google(
        key: std::sync::Arc<ServiceAccountKey>,
        subject: &str,
        http: reqwest::Client,
    ) -> TokenCache {
        TokenCache::with(Grant::Google {
            key,
            subject: subject.to_string(),
            http,
        })
    }

    fn with(grant: Grant) -> TokenCache {
        TokenCache {
            grant,
            slot: tokio::sync::Mutex::new(None),
            generations: Default::default(),
        }
    }

    /// A valid token, fetching one if the cached one is missing or near expiry.
    pub async fn bearer(&self) -> Result<Bearer, ProviderError> {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.fresh_until > Instant::now()) {
            return Ok(Bearer {
                token: c.token.clone(),
                generation: c.generation,
            });
        }
        let (token, lifetime) = self.fetch().await?;
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        *slot = Some(Cached {
            token: token.clone(),
            fresh_until: fresh_until(Instant::now(), lifetime),
            generation,
        });
        Ok(Bearer { token, generation })
    }

    /// Drops the token of `generation` after a 401 (a newer one fetched meanwhile is kept).
    pub async fn invalidate(&self, generation: u64) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.generation == generation) {
            *slot = None;
        }
    }

    async fn fetch(&self) -> Result<(SecretString, Duration), ProviderError> {
        match &self.grant {
            Grant::Microsoft { client, http } => fetch_microsoft(client, http).await,
            Grant::Google { key, subject, http } => fetch_google(key, subject, http).await,
        }
    }
}

/// Until when a token fetched at `now` that lives `lifetime` is reused: `EXPIRY_MARGIN` before it
/// expires (half its life when that is shorter), at most `MAX_REUSE`. Public (hidden from the docs)
/// for the fuzz targets: the lifetime comes from the service's answer.
#[doc(hidden)]
pub fn fresh_until(now: Instant, lifetime: Duration) -> Instant {
    let fresh_for = lifetime.saturating_sub(EXPIRY_MARGIN).max(lifetime / 2);
    now + fresh_for.min(MAX_REUSE)
}

/// The token of Microsoft's answer and its lifetime (`expires_in`, else just under the hour it
/// documents). Public (hidden from the docs) for the fuzz targets.
#[doc(hidden)]
pub fn microsoft_token(t: &oauth2::basic::BasicTokenResponse) -> (SecretString, Duration) {
    use oauth2::TokenResponse;
    let lifetime = t.expires_in().unwrap_or(Duration::from_secs(3599));
    (
        SecretString::from(t.access_token().secret().to_string()),
        lifetime,
    )
}

async fn fetch_microsoft(
    client: &MsClient,
    http: &oauth2_reqwest::ReqwestClient,
) -> Result<(SecretString, Duration), ProviderError> {
    use oauth2::{RequestTokenError, Scope};
    let result = client
        .exchange_client_credentials()
        .add_scope(Scope::new(GRAPH_SCOPE.to_string()))
        .request_async(http)
        .await;
    match result {
        Ok(t) => Ok(microsoft_token(&t)),
        Err(RequestTokenError::ServerResponse(r)) => {
            let code = r.error().to_string();
            let kind = match code.as_str() {
                "invalid_client" | "unauthorized_client" | "invalid_grant" => ErrorKind::Forbidden,
                "temporarily_unavailable" | "server_error" => ErrorKind::Transient,
                _ => ErrorKind::Invalid,
            };
            let message = r.error_description().cloned().unwrap_or_default();
            Err(ProviderError::new(
                kind,
                code,
                format!("Microsoft token endpoint refused the client credentials: {message}"),
            ))
        }
        Err(RequestTokenError::Request(e)) => Err(ProviderError::transient(format!(
            "Microsoft token endpoint unreachable: {e}"
        ))),
        Err(RequestTokenError::Parse(_, body)) => Err(ProviderError::transient(format!(
            "Microsoft token endpoint answered something that is not a token ({} bytes)",
            body.len()
        ))),
        Err(RequestTokenError::Other(m)) => Err(ProviderError::transient(format!(
            "Microsoft token endpoint: {m}"
        ))),
    }
}

/// Google's JSON key file, the fields class-sync needs.
#[derive(Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key: SecretString,
    pub token_uri: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Reads and checks a key file; the error names the file and the field.
    pub fn load(path: &Path) -> Result<ServiceAccountKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        crate::config::file_mode::warn_if_open(path, "google.service_account_key_file");
        ServiceAccountKey::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<ServiceAccountKey, String> {
        let key: ServiceAccountKey = serde_json::from_str(text)
            .map_err(|e| format!("not a Google service-account key file: {e}"))?;
        jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes())
            .map_err(|_| "private_key: not an RSA private key in PEM form".to_string())?;
        url::Url::parse(&key.token_uri).map_err(|e| format!("token_uri: {e}"))?;
        Ok(key)
    }
}

#[derive(serde::Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct GoogleTokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct GoogleTokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

async fn fetch_google(
    key: &ServiceAccountKey,
    subject: &str,
    http: &reqwest::Client,
) -> Result<(SecretString, Duration), ProviderError> {
    let now = chrono::Utc::now().timestamp();
    let claims = JwtClaims {
        iss: &key.client_email,
        sub: subject,
        scope: CLASSROOM_SCOPES,
        aud: &key.token_uri,
        iat: now,
        exp: now + 3600,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id.clone();
    let encoding =
        jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes())
            .map_err(|_| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    "invalid_key",
                    "the service-account private key is not an RSA PEM key",
                )
            })?;
    let assertion = jsonwebtoken::encode(&header, &claims, &encoding).map_err(|e| {
        ProviderError::new(
            ErrorKind::Invalid,
            "invalid_key",
            format!("cannot sign the JWT: {e}"),
        )
    })?;
    let resp = http
        .post(&key.token_uri)
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await
        .map_err(|e| {
            ProviderError::transient(format!(
                "Google token endpoint unreachable: {}",
                e.without_url()
            ))
        })?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| {
        ProviderError::transient(format!("Google token endpoint: {}", e.without_url()))
    })?;
    google_token_answer(status, &body, subject)
}

/// Google's token endpoint's answer: the token and its lifetime, or the refusal as an error that
/// classifies. Public (hidden from the docs) for the fuzz targets.
#[doc(hidden)]
pub fn google_token_answer(
    status: u16,
    body: &[u8],
    subject: &str,
) -> Result<(SecretString, Duration), ProviderError> {
    if (200..300).contains(&status) {
        let t: GoogleTokenReply = serde_json::from_slice(body).map_err(|_| {
            ProviderError::transient("Google token endpoint answered something that is not a token")
        })?;
        return Ok((
            SecretString::from(t.access_token),
            Duration::from_secs(t.expires_in.unwrap_or(3600)),
        ));
    }
    let (code, description) = match serde_json::from_slice::<GoogleTokenError>(body) {
        Ok(e) => (e.error, e.error_description.unwrap_or_default()),
        Err(_) => (format!("http_{status}"), String::new()),
    };
    let kind = match (status, code.as_str()) {
        (_, "internal_failure") | (500..=599, _) => ErrorKind::Transient,
        (429, _) => ErrorKind::Throttled,
        (_, "unauthorized_client" | "access_denied" | "invalid_grant") => ErrorKind::Forbidden,
        _ => ErrorKind::Invalid,
    };
    let mut e = ProviderError::new(
        kind,
        code,
        format!("Google token endpoint refused the grant for {subject}: {description}"),
    );
    e.status = Some(status);
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_lifetime_is_capped_not_an_overflow() {
        // Found writing the `provider_responses` fuzz target (fuzz/): a token answer with
        // `"expires_in": 18446744073709551615` overflowed `Instant + Duration`, a panic in the
        // job that asked for the token.
        let body = br#"{"access_token":"t","expires_in":18446744073709551615}"#;
        let (_, lifetime) = google_token_answer(200, body, "admin@school").unwrap();
        let now = Instant::now();
        assert_eq!(fresh_until(now, lifetime), now + MAX_REUSE);
        let t: oauth2::basic::BasicTokenResponse = serde_json::from_slice(
            br#"{"access_token":"t","token_type":"Bearer","expires_in":18446744073709551615}"#,
        )
        .unwrap();
        let (_, lifetime) = microsoft_token(&t);
        assert_eq!(fresh_until(now, lifetime), now + MAX_REUSE);
    }

    #[test]
    fn tokens_are_reused_until_shortly_before_they_expire() {
        let now = Instant::now();
        let hour = Duration::from_secs(3600);
        assert_eq!(fresh_until(now, hour), now + hour - EXPIRY_MARGIN);
        // A short-lived token is reused for half its life, not until after it expired.
        let short = Duration::from_secs(60);
        assert_eq!(fresh_until(now, short), now + short / 2);
        assert_eq!(fresh_until(now, Duration::ZERO), now);
    }

    #[test]
    fn google_refusals_classify() {
        let e = google_token_answer(
            400,
            br#"{"error":"invalid_grant","error_description":"x"}"#,
            "a@b",
        )
        .unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str(), e.status),
            (ErrorKind::Forbidden, "invalid_grant", Some(400))
        );
        let e = google_token_answer(503, b"<html>", "a@b").unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::Transient, "http_503")
        );
        let e = google_token_answer(200, b"{}", "a@b").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transient);
    }
}
