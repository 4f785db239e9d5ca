//! `serve` as one process: the HTTP API and the web console, the worker, the nightly scheduler and the metrics counter,
//! started together and stopped together.
//!
//! Owns: their lifecycle. On shutdown the scheduler stops, the worker stops claiming, lets running
//! jobs finish for `[worker] shutdown_grace_seconds` and hands the rest back to the queue at once,
//! and the API finishes the requests in flight. Must not: do any of their work itself.

use crate::api::{self, ApiState};
use crate::app::App;
use crate::config::ApiTokens;
use crate::console::{self, ConsoleState};
use crate::observability::Metrics;
use crate::work::scheduler::{self, Clock};
use crate::work::worker::{self, WorkReport, WorkerKind};
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;

/// How long `GET /v1/status` may answer with counts already read (see `status::CountsCache`).
const STATUS_COUNTS_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// Everything `serve` answers over HTTP: the API and, when `[console]` is configured, the console
/// beside it, sharing one status cache and one set of page-read permits (`api::lanes`). Public so
/// that the fuzz target drives exactly the routes `serve` serves.
pub fn http_routes(
    app: &Arc<App>,
    tokens: ApiTokens,
    metrics: Arc<Metrics>,
) -> anyhow::Result<axum::Router> {
    let counts = crate::status::CountsCache::new(STATUS_COUNTS_FRESH_FOR);
    let page_reads = api::PageReads::for_this_machine();
    let console =
        ConsoleState::new(app.clone(), counts.clone(), page_reads.clone())?.map(console::router);
    let api = api::router(ApiState {
        app: app.clone(),
        tokens: Arc::new(tokens),
        metrics,
        counts,
        page_reads,
    });
    Ok(match console {
        Some(console) => api.merge(console),
        None => api,
    })
}

/// Runs everything until `shutdown` resolves (or a part fails), then stops it all gracefully.
pub async fn run(
    app: Arc<App>,
    tokens: ApiTokens,
    listener: tokio::net::TcpListener,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<WorkReport> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let metrics = Arc::new(Metrics::new());
    let counting = tokio::spawn(metrics.clone().follow_jobs(app.clone()));
    let mut worker = tokio::spawn(worker::run_service(
        app.clone(),
        WorkerKind::Serve,
        stop_rx.clone(),
    ));
    let mut scheduler = tokio::spawn(scheduler::run(app.clone(), clock, stop_rx.clone()));
    let api_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let routes = http_routes(&app, tokens, metrics)?;
    let mut api = tokio::spawn(api::listen::serve(listener, routes, api_stop));

    let early = tokio::select! {
        _ = shutdown => None,
        r = &mut worker => Some(("worker", r.map(|r| r.map(|_| ())))),
        r = &mut scheduler => Some(("scheduler", r)),
        r = &mut api => Some(("api", r.map(|r| r.map_err(anyhow::Error::from)))),
    };
    tracing::info!("stopping: no new jobs; running jobs get the shutdown grace");
    stop_tx.send_replace(true);
    counting.abort();
    if let Some((part, result)) = early {
        let cause = match result {
            Ok(Ok(())) => anyhow::anyhow!("ended by itself"),
            Ok(Err(e)) => e,
            Err(e) => anyhow::Error::from(e),
        };
        // Let the others wind down (the worker hands its jobs back) before reporting.
        let _ = tokio::join!(
            async {
                if !worker.is_finished() {
                    let _ = (&mut worker).await;
                }
            },
            async {
                if !api.is_finished() {
                    let _ = (&mut api).await;
                }
            }
        );
        return Err(cause.context(format!("serve: the {part} stopped unexpectedly")));
    }
    let report = worker.await.context("worker task")??;
    api.await.context("api task")?.context("serving the API")?;
    scheduler.await.context("scheduler task")??;
    tracing::info!(done = report.done, failed = report.failed.len(), "stopped");
    Ok(report)
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}
