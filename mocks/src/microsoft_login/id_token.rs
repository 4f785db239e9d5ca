//! The sign-in app's id_tokens and what a client needs to check them: the embedded test signing
//! key (the `TEST_IDP_*` constants, re-exported from the crate root), the key set
//! (`/discovery/v2.0/keys`), the discovery document (`/v2.0/.well-known/openid-configuration`),
//! and [`Tamper`], the test hook that makes the fake issue tokens a careful client refuses.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::state::Shared;
use crate::wire;

/// The mock identity provider's RSA signing key (PKCS#8 PEM). Test material only.
pub const TEST_IDP_PRIVATE_KEY_PEM: &str = include_str!("../keys/test-identity-provider.pem");
/// The public half of [`TEST_IDP_PRIVATE_KEY_PEM`], as the key set publishes it.
pub const TEST_IDP_PUBLIC_KEY_PEM: &str = include_str!("../keys/test-identity-provider.pub.pem");
/// The `kid` of the signing key in id_token headers and in the key set.
pub const TEST_IDP_KEY_ID: &str = "class-sync-mock-idp-1";

/// Lifetime of an id_token (`exp` − `iat`), as Entra issues them.
const ID_TOKEN_LIFETIME_SECS: i64 = 3600;
/// Microsoft Graph's app id: the `aud` of [`Tamper::WrongAudience`] tokens.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The tenant named in the `iss` of [`Tamper::WrongIssuer`] tokens.
const OTHER_TENANT: &str = "99999999-9999-4999-8999-999999999999";
/// The `kid` of [`Tamper::UnknownKeyId`] tokens: in no key set.
const UNKNOWN_KEY_ID: &str = "class-sync-mock-idp-unknown";

/// How the id_tokens the fake issues from now on are spoiled, so that a client's tests can show
/// that each check it makes refuses the token ([`MockServices::tamper_id_tokens`]). Everything
/// else about a spoiled token is right.
///
/// [`MockServices::tamper_id_tokens`]: crate::MockServices::tamper_id_tokens
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tamper {
    /// Tokens as they should be (the default).
    #[default]
    None,
    /// `aud` is Microsoft Graph's app id, not the sign-in app's client id.
    WrongAudience,
    /// `iss` names another tenant on the mock's login URL.
    WrongIssuer,
    /// Issued two hours ago: `iat` and `nbf` two hours back, `exp` an hour back.
    Expired,
    /// `nonce` is not the authorize request's.
    WrongNonce,
    /// Signed by the right key, then one bit of the signature flipped.
    BadSignature,
    /// Signed by the right key, but the header's `kid` is in no key set.
    UnknownKeyId,
}

/// Who signed in and for what: the claims an id_token is made from.
pub(super) struct Subject {
    pub client_id: String,
    pub nonce: String,
    pub scopes: Vec<String>,
    /// The account's Entra object id.
    pub oid: String,
    pub email: String,
    pub name: String,
}

/// `{login_url}/{tenant}/v2.0`: the `iss` of id_tokens and the discovery document's `issuer`.
pub(super) fn issuer(shared: &Shared) -> String {
    format!("{}/{}/v2.0", shared.urls.login, shared.opts.tenant_id)
}

/// A signed id_token for `who`, spoiled as `tamper` says.
pub(super) fn id_token(
    shared: &Shared,
    who: &Subject,
    tamper: Tamper,
) -> jsonwebtoken::errors::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let iat = if tamper == Tamper::Expired {
        now - 2 * ID_TOKEN_LIFETIME_SECS
    } else {
        now
    };
    let mut claims = json!({
        "aud": if tamper == Tamper::WrongAudience { GRAPH_APP_ID } else { who.client_id.as_str() },
        "iss": if tamper == Tamper::WrongIssuer {
            format!("{}/{OTHER_TENANT}/v2.0", shared.urls.login)
        } else {
            issuer(shared)
        },
        "iat": iat,
        "nbf": iat,
        "exp": iat + ID_TOKEN_LIFETIME_SECS,
        "nonce": if tamper == Tamper::WrongNonce { wire::guid() } else { who.nonce.clone() },
        "sub": pairwise_subject(&who.oid, &who.client_id),
        "oid": who.oid,
        "tid": shared.opts.tenant_id,
        "ver": "2.0",
    });
    // As Entra: the profile claims come with the `profile` scope, the address with `email`.
    if who.scopes.iter().any(|s| s == "profile") {
        claims["preferred_username"] = json!(who.email);
        claims["name"] = json!(who.name);
    }
    if who.scopes.iter().any(|s| s == "email") {
        claims["email"] = json!(who.email);
    }
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.kid = Some(
        if tamper == Tamper::UnknownKeyId {
            UNKNOWN_KEY_ID
        } else {
            TEST_IDP_KEY_ID
        }
        .into(),
    );
    let token = jsonwebtoken::encode(&header, &claims, &signing_key()?)?;
    Ok(if tamper == Tamper::BadSignature {
        flip_signature_bit(&token)
    } else {
        token
    })
}

/// Entra's `sub` is pairwise: stable for one account and one app, different across apps.
fn pairwise_subject(oid: &str, client_id: &str) -> String {
    wire::b64url_bytes(&Sha256::digest(format!("{oid}:{client_id}")))
}

fn flip_signature_bit(token: &str) -> String {
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return token.to_string();
    };
    let Some(mut bytes) = wire::b64url_bytes_decode(signature) else {
        return token.to_string();
    };
    if let Some(first) = bytes.first_mut() {
        *first ^= 1;
    }
    format!("{signed}.{}", wire::b64url_bytes(&bytes))
}

fn signing_key() -> jsonwebtoken::errors::Result<EncodingKey> {
    EncodingKey::from_rsa_pem(TEST_IDP_PRIVATE_KEY_PEM.as_bytes())
}

/// The key set: the signing key's modulus and exponent, derived from the PEM.
pub(super) fn key_set() -> jsonwebtoken::errors::Result<Value> {
    let jwk = Jwk::from_encoding_key(&signing_key()?, Algorithm::RS256)?;
    let AlgorithmParameters::RSA(rsa) = jwk.algorithm else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidRsaKey("not RSA".into()).into());
    };
    Ok(json!({"keys": [{
        "kty": "RSA",
        "use": "sig",
        "kid": TEST_IDP_KEY_ID,
        "n": rsa.n,
        "e": rsa.e,
    }]}))
}

/// The tenant's OpenID Connect discovery document. Like Entra's, with the lists cut down to
/// what the fake serves (code flow, query responses, RS256, the three OpenID scopes); the
/// endpoints it does not have (userinfo, logout, device code) are left out.
pub(super) fn discovery(shared: &Shared) -> Value {
    let base = format!("{}/{}", shared.urls.login, shared.opts.tenant_id);
    json!({
        "issuer": issuer(shared),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "oid", "tid", "ver",
            "preferred_username", "name", "email"
        ],
        "request_uri_parameter_supported": false,
    })
}
