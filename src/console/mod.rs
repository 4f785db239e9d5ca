//! The web console (CONTRACT §9), served by `serve` beside the API: school staff sign in with their
//! Microsoft account, see View Groups and a group's page, and press Restore; operators see status,
//! schools and the audit log, and force resyncs.
//!
//! Server-rendered HTML (maud) with one small stylesheet and one small script (the live state on a
//! group's page); every word in Welsh and English (`i18n`); sessions in the store (`session`);
//! sign-in by OpenID Connect with PKCE (`sign_in`).
//!
//! Owns: pages, forms, cookies and the sign-in round trip. Must not: decide who may see or restore
//! (`restore_policy::decide` and the store's visibility do), enqueue work but through `planner`,
//! change anything on a POST without its session's CSRF token, or log a secret.

pub mod i18n;
mod pages;
pub mod session;
pub mod sign_in;

use crate::app::App;
use crate::config::ConsoleConfig;
use axum::Router;
use axum::routing::{MethodRouter, get, post};
use std::sync::Arc;

pub use i18n::{Lang, Texts};
/// Public (hidden from the docs) for the fuzz targets: where a `back` parameter may send a browser.
#[doc(hidden)]
pub use pages::local_path;

/// What every console handler shares.
#[derive(Clone)]
pub struct ConsoleState {
    inner: Arc<Console>,
}

pub(crate) struct Console {
    pub app: Arc<App>,
    pub config: ConsoleConfig,
    pub sign_in: sign_in::SignIn,
    pub texts: Texts,
    /// The status counts, shared with the API's `/v1/status`.
    pub counts: crate::status::CountsCache,
    /// Sign-ins this host starts, at most [`SIGN_INS_PER_SECOND`]: each writes a row anyone can
    /// ask for without signing in, so a flood must not fill the store.
    pub sign_in_limit: governor::DefaultDirectRateLimiter,
    /// The permits page reads take, shared with the API's (`api::lanes`).
    pub page_reads: crate::api::PageReads,
}

/// Sign-ins started per second per host, and the burst above it. Far above a school morning
/// (24,000 teachers in an hour is under 7 a second); at this rate the rows in flight (ten minutes
/// each) stay under 30,000 per host.
pub const SIGN_INS_PER_SECOND: u32 = 50;
const SIGN_IN_BURST: u32 = 200;

impl ConsoleState {
    /// The console of `app`'s `[console]`; None when the config has none.
    pub fn new(
        app: Arc<App>,
        counts: crate::status::CountsCache,
        page_reads: crate::api::PageReads,
    ) -> anyhow::Result<Option<ConsoleState>> {
        let (Some(config), Some(microsoft)) =
            (app.config.console.clone(), app.config.microsoft.clone())
        else {
            return Ok(None);
        };
        let sign_in = sign_in::SignIn::new(&microsoft, &config)
            .map_err(|e| anyhow::anyhow!("[console]: {e}"))?;
        let texts = Texts::load().map_err(|e| anyhow::anyhow!("console texts: {e}"))?;
        Ok(Some(ConsoleState {
            inner: Arc::new(Console {
                app,
                config,
                sign_in,
                texts,
                counts,
                page_reads,
                sign_in_limit: governor::RateLimiter::direct(
                    governor::Quota::per_second(nonzero(SIGN_INS_PER_SECOND))
                        .allow_burst(nonzero(SIGN_IN_BURST)),
                ),
            }),
        }))
    }

    pub(crate) fn console(&self) -> &Console {
        &self.inner
    }
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

/// The console's routes (CONTRACT §9). Its page reads take a permit as the API's do
/// (`api::lanes`): a group's page and its live state never wait behind them.
pub fn router(state: ConsoleState) -> Router {
    let pages = state.console().page_reads.clone();
    let page = |route: MethodRouter<ConsoleState>| {
        route.layer(axum::middleware::from_fn_with_state(
            pages.clone(),
            crate::api::lanes::page_read,
        ))
    };
    Router::new()
        .route("/", get(pages::home::home))
        .route("/auth/sign-in", get(pages::home::sign_in))
        .route("/auth/callback", get(pages::home::callback))
        .route("/auth/sign-out", post(pages::home::sign_out))
        .route("/lang/{code}", get(pages::home::switch_language))
        .route("/console.css", get(pages::assets::stylesheet))
        .route("/console.js", get(pages::assets::script))
        .route("/groups", page(get(pages::groups::list)))
        .route("/groups/{id}", get(pages::groups::page))
        .route("/groups/{id}/state", get(pages::groups::state))
        .route("/groups/{id}/restore", post(pages::groups::restore))
        .route("/groups/{id}/resync", post(pages::operator::resync_group))
        .route("/status", page(get(pages::operator::status)))
        .route("/schools", page(get(pages::operator::schools)))
        .route("/schools/{id}/resync", post(pages::operator::resync_school))
        .route(
            "/archive-preview",
            page(get(pages::operator::archive_preview)),
        )
        .route("/audit", page(get(pages::operator::audit)))
        .layer(axum::middleware::from_fn(crate::api::log_request))
        .with_state(state)
}
