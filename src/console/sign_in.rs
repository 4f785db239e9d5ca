//! Sign-in with the school's Microsoft account: OpenID Connect, authorization code with PKCE
//! (CONTRACT §9), through the `oauth2` crate; the id_token checked with `jsonwebtoken` against the
//! tenant's published keys (signature, issuer, audience, expiry, nonce).
//!
//! A sign-in in flight (`state`, nonce, PKCE verifier) is kept in the store, so the return may land
//! on another `serve` host, and is taken once. The browser that left also holds the `state` in a
//! cookie, and the return must match it (no one can sign a browser in as somebody else).
//!
//! Sign-in calls go straight to the identity platform, not through `remote::call`: they are one
//! person's interactive round trip, not work for Graph's quotas.
//!
//! Must not: accept an id_token whose signature, issuer, audience, expiry or nonce does not check;
//! log a code, a token, a verifier or the client secret.

use crate::config::{ConsoleConfig, MicrosoftConfig};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

/// The id_token beside the access token in the token endpoint's answer.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IdTokenField {
    id_token: String,
}
impl ExtraTokenFields for IdTokenField {}

type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OidcClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// How long a sign-in may stay at the identity provider.
pub const SIGN_IN_LIFETIME: Duration = Duration::from_secs(600);
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const LEEWAY_SECONDS: u64 = 60;
/// An unknown `kid` fetches the keys again, at most this often (keys roll over).
const KEYS_REFETCH_AFTER: Duration = Duration::from_secs(30);

/// Why a sign-in did not complete: shown to the person (in words) and logged.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the identity provider refused: {0}")]
    Refused(String),
    #[error("the sign-in is unknown, used or too old: start again")]
    UnknownState,
    #[error("the code could not be redeemed: {0}")]
    Exchange(String),
    #[error("the id_token was not accepted: {0}")]
    BadIdToken(String),
    #[error("the tenant's signing keys could not be read: {0}")]
    Keys(String),
}

/// The claims class-sync reads from an id_token (the rest are checked by `jsonwebtoken`).
#[derive(Debug, Deserialize)]
struct IdClaims {
    nonce: Option<String>,
    preferred_username: Option<String>,
}

/// The start of a sign-in: where to send the browser, and what to keep until it returns.
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// The console's OpenID Connect client for one tenant.
pub struct SignIn {
    client: OidcClient,
    http: reqwest::Client,
    oauth_http: oauth2_reqwest::ReqwestClient,
    issuer: String,
    keys_url: String,
    client_id: String,
    keys: Mutex<Option<(JwkSet, Instant)>>,
}

impl SignIn {
    /// The client for `[console]` at `[microsoft]`'s `login_url` and tenant.
    pub fn new(microsoft: &MicrosoftConfig, console: &ConsoleConfig) -> Result<SignIn, String> {
        let base = format!("{}/{}", microsoft.login_url, microsoft.tenant_id);
        let auth =
            AuthUrl::new(format!("{base}/oauth2/v2.0/authorize")).map_err(|e| e.to_string())?;
        let token =
            TokenUrl::new(format!("{base}/oauth2/v2.0/token")).map_err(|e| e.to_string())?;
        let redirect = RedirectUrl::new(format!("{}/auth/callback", console.public_url))
            .map_err(|e| e.to_string())?;
        let client = oauth2::Client::new(ClientId::new(console.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                console.client_secret.expose_secret().to_string(),
            ))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(auth)
            .set_token_uri(token)
            .set_redirect_uri(redirect);
        // No redirects followed: a token endpoint that redirects is not one (RFC 6749 §3.2).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(SignIn {
            client,
            oauth_http: oauth2_reqwest::ReqwestClient::from(http.clone()),
            http,
            issuer: format!("{base}/v2.0"),
            keys_url: format!("{base}/discovery/v2.0/keys"),
            client_id: console.client_id.clone(),
            keys: Mutex::new(None),
        })
    }

    /// A new sign-in: the authorize URL with a fresh `state`, nonce and PKCE S256 challenge.
    pub fn start(&self) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = super::session::random_token();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_extra_param("nonce", &nonce)
            .add_extra_param("response_mode", "query")
            .set_pkce_challenge(challenge)
            .url();
        Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce,
            verifier: verifier.secret().clone(),
        }
    }

    /// Redeems `code` with the sign-in's PKCE verifier and checks the id_token; answers the person
    /// (their `preferred_username`).
    pub async fn finish(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<String, SignInError> {
        use oauth2::RequestTokenError;
        let answer = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request_async(&self.oauth_http)
            .await
            .map_err(|e| {
                SignInError::Exchange(match e {
                    RequestTokenError::ServerResponse(r) => format!(
                        "{}: {}",
                        r.error(),
                        first_line(r.error_description().map_or("", String::as_str))
                    ),
                    RequestTokenError::Request(e) => format!("token endpoint unreachable: {e}"),
                    RequestTokenError::Parse(_, body) => {
                        format!(
                            "the token endpoint's answer is not a token ({} bytes)",
                            body.len()
                        )
                    }
                    RequestTokenError::Other(m) => m,
                })
            })?;
        self.verify(&answer.extra_fields().id_token, nonce).await
    }

    /// Checks an id_token: RS256 by a key the tenant publishes, this tenant's issuer, this app as
    /// audience, not expired (nor issued in the future), and the sign-in's nonce.
    pub async fn verify(&self, id_token: &str, nonce: &str) -> Result<String, SignInError> {
        let bad = |m: String| SignInError::BadIdToken(m);
        let header = jsonwebtoken::decode_header(id_token).map_err(|e| bad(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(bad(format!("signed with {:?}, not RS256", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| bad("no key id (kid)".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.client_id]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let data = jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation)
            .map_err(|e| bad(e.to_string()))?;
        let claims = data.claims;
        let nonce_ok = claims
            .nonce
            .as_deref()
            .is_some_and(|n| bool::from(n.as_bytes().ct_eq(nonce.as_bytes())));
        if !nonce_ok {
            return Err(bad("the nonce is not this sign-in's".into()));
        }
        claims
            .preferred_username
            .map(|u| crate::core::domain::normalise_email(&u))
            .filter(|u| u.contains('@'))
            .ok_or_else(|| bad("no preferred_username".into()))
    }

    /// The decoding key `kid` names, from the tenant's key set (read again when `kid` is unknown).
    async fn key(&self, kid: &str) -> Result<DecodingKey, SignInError> {
        let mut cached = self.keys.lock().await;
        let stale = cached
            .as_ref()
            .is_none_or(|(set, at)| set.find(kid).is_none() && at.elapsed() >= KEYS_REFETCH_AFTER);
        if stale {
            *cached = Some((self.fetch_keys().await?, Instant::now()));
        }
        let Some((set, _)) = cached.as_ref() else {
            return Err(SignInError::Keys("no key set".into()));
        };
        let jwk = set
            .find(kid)
            .ok_or_else(|| SignInError::BadIdToken(format!("key `{kid}` is not the tenant's")))?;
        DecodingKey::from_jwk(jwk).map_err(|e| SignInError::Keys(e.to_string()))
    }

    async fn fetch_keys(&self) -> Result<JwkSet, SignInError> {
        let answer = self
            .http
            .get(&self.keys_url)
            .send()
            .await
            .map_err(|e| SignInError::Keys(e.to_string()))?;
        if !answer.status().is_success() {
            return Err(SignInError::Keys(format!(
                "{} answered {}",
                self.keys_url,
                answer.status()
            )));
        }
        answer
            .json::<JwkSet>()
            .await
            .map_err(|e| SignInError::Keys(format!("{}: {e}", self.keys_url)))
    }
}

/// Entra's descriptions carry a trace id and a timestamp on later lines.
fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}
