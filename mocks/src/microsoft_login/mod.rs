//! Fake Microsoft identity platform (v2.0 endpoints) for one tenant and two app registrations:
//! the Graph app's client-credentials grant (graph-teams-api.md §1) and the web console's
//! OpenID Connect sign-in (authorization code with PKCE, CONTRACT §9), with Entra's errors.
//!
//! Routes, under `{login_url}/{tenant}`:
//! - `GET /oauth2/v2.0/authorize`, `GET /oauth2/v2.0/authorize/pick`: the authorization request,
//!   the "Pick an account" page and the redirect back with a code (`authorize`, `pages`);
//! - `POST /oauth2/v2.0/token`: both grants (`token`);
//! - `GET /discovery/v2.0/keys`, `GET /v2.0/.well-known/openid-configuration`: the key set and
//!   the discovery document (`id_token`, which also signs the id_tokens).
//!
//! This file is the [`Backend`]: routing, the tenant check, quota buckets and the error shape
//! (a page for the two browser endpoints, Entra's JSON body elsewhere). `model` is the state the
//! sign-in keeps in the world, `errors` Entra's error values, `redirect_uri` how redirect URIs
//! are matched.

mod authorize;
mod errors;
mod id_token;
mod model;
mod pages;
mod redirect_uri;
#[cfg(test)]
mod tests;
mod token;

use axum::http::Method;
use axum::response::Response;

use crate::backend::{Auth, Backend, Classified, Incoming};
use crate::microsoft_login::authorize::Step;
use crate::microsoft_login::errors::{Aadsts, entra_error};
use crate::microsoft_login::model::SignIns;
use crate::state::Shared;
use crate::state::calls::Service;
use crate::wire::{self, Refusal};

pub use crate::microsoft_login::id_token::{
    TEST_IDP_KEY_ID, TEST_IDP_PRIVATE_KEY_PEM, TEST_IDP_PUBLIC_KEY_PEM, Tamper,
};

/// The Microsoft identity platform fake, as the pipeline and the composition root see it.
pub(crate) struct MicrosoftLogin;

/// The endpoints the fake serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Authorize,
    Pick,
    Token,
    Keys,
    Discovery,
}

impl Endpoint {
    /// The endpoint a request asks for and the `{tenant}` it names; None for anything else.
    fn of(req: &Incoming) -> Option<(Endpoint, &str)> {
        let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
        let (endpoint, tenant) = match (&req.method, segs.as_slice()) {
            (&Method::GET, [tenant, "oauth2", "v2.0", "authorize"]) => {
                (Endpoint::Authorize, *tenant)
            }
            (&Method::GET, [tenant, "oauth2", "v2.0", "authorize", "pick"]) => {
                (Endpoint::Pick, *tenant)
            }
            (&Method::POST, [tenant, "oauth2", "v2.0", "token"]) => (Endpoint::Token, *tenant),
            (&Method::GET, [tenant, "discovery", "v2.0", "keys"]) => (Endpoint::Keys, *tenant),
            (&Method::GET, [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
                (Endpoint::Discovery, *tenant)
            }
            _ => return None,
        };
        Some((endpoint, tenant))
    }

    /// Endpoints a browser visits: their errors are pages.
    fn is_page(self) -> bool {
        matches!(self, Endpoint::Authorize | Endpoint::Pick)
    }

    /// The quota bucket. The token endpoint keeps the one it always had; the browser's pages
    /// and the metadata have their own, so a `Retry-After` on one does not close the others.
    fn bucket(self) -> &'static str {
        match self {
            Endpoint::Token => "microsoft_login",
            Endpoint::Authorize | Endpoint::Pick => "microsoft_login_authorize",
            Endpoint::Keys | Endpoint::Discovery => "microsoft_login_metadata",
        }
    }
}

/// An error as the endpoint shows it: a page for the browser's endpoints, else Entra's JSON.
fn refuse(endpoint: Option<Endpoint>, status: u16, err: &Aadsts) -> Response {
    if endpoint.is_some_and(Endpoint::is_page) {
        pages::error_page(status, err)
    } else {
        err.json(status)
    }
}

impl Backend for MicrosoftLogin {
    const SERVICE: Service = Service::MicrosoftLogin;

    fn classify(_: &Shared, req: &Incoming) -> Classified {
        let bucket = Endpoint::of(req).map_or("microsoft_login", |(e, _)| e.bucket());
        Classified {
            keys: vec![bucket.into()],
            ..Classified::default()
        }
    }

    fn authenticate(_: &Shared, _: &Incoming) -> Result<Auth, Refusal> {
        Ok(Auth::default())
    }

    fn status_error(_: &Shared, req: &Incoming, status: u16) -> Response {
        let endpoint = Endpoint::of(req).map(|(e, _)| e);
        refuse(endpoint, status, &errors::for_status(status))
    }

    fn handle(shared: &Shared, req: &Incoming, _: &Auth) -> Response {
        let Some((endpoint, tenant)) = Endpoint::of(req) else {
            return entra_error(
                404,
                "invalid_request",
                &format!(
                    "AADSTS90002: mock login has no endpoint for {} {}",
                    req.method, req.path
                ),
                &[90002],
            );
        };
        if tenant != shared.opts.tenant_id {
            let err = Aadsts::new(
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
            );
            return refuse(Some(endpoint), 400, &err);
        }
        match endpoint {
            Endpoint::Authorize => authorize::authorize(shared, req, Step::Authorize),
            Endpoint::Pick => authorize::authorize(shared, req, Step::Pick),
            Endpoint::Token => token::token(shared, req),
            Endpoint::Keys => match id_token::key_set() {
                Ok(keys) => wire::json(200, &keys),
                Err(_) => errors::for_status(500).json(500),
            },
            Endpoint::Discovery => wire::json(200, &id_token::discovery(shared)),
        }
    }
}

/// `{login_url}/{tenant}/v2.0`, the `iss` of the sign-in app's id_tokens.
pub(crate) fn issuer(shared: &Shared) -> String {
    id_token::issuer(shared)
}

/// Spoils the id_tokens issued from now on (until set back to [`Tamper::None`]).
pub(crate) fn tamper_id_tokens(shared: &Shared, tamper: Tamper) {
    shared.world().services.get_mut::<SignIns>().tamper = tamper;
}

/// Codes redeemed for tokens so far.
pub(crate) fn sign_ins(shared: &Shared) -> u64 {
    shared.world().services.get_mut::<SignIns>().redeemed
}
