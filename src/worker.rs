//! The worker: claims jobs from the durable queue and runs them with bounded concurrency.
//!
//! Every remote call inside a job passes the throttle (`remote`), so concurrency only bounds how many
//! jobs are in flight; the quota decides the pace. A job that fails with a retryable error goes back
//! to the queue with backoff until `max_attempts`; a permanent error fails it at once and the link
//! shows why.

use crate::app::App;
use crate::jobs::{self, JobOutcome};
use crate::store::{Job, JobEnd};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// What one run of the worker did.
#[derive(Debug, Default, Clone)]
pub struct WorkReport {
    pub done: u64,
    pub skipped: u64,
    pub retried: u64,
    pub failed: Vec<Job>,
}

/// Called after each job finishes, with (finished so far, still pending), for progress bars.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Runs jobs until nothing is queued or waiting to retry.
pub async fn run_until_idle(
    app: Arc<App>,
    progress: Option<Progress>,
) -> anyhow::Result<WorkReport> {
    let worker_id = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let slots = Arc::new(Semaphore::new(app.config.worker.concurrency));
    let lease_ms = (app.config.worker.lease_seconds * 1000) as i64;
    let mut running: JoinSet<(Job, Result<JobOutcome, jobs::JobError>)> = JoinSet::new();
    let mut report = WorkReport::default();
    loop {
        // Collect whatever has finished.
        while let Some(done) = running.try_join_next() {
            settle(&app, done?, &mut report, &progress).await?;
        }
        let permit = slots.clone().acquire_owned().await?;
        match app.store.claim(&worker_id, App::now_ms(), lease_ms).await? {
            Some(job) => {
                let app = app.clone();
                let worker = worker_id.clone();
                running.spawn(async move {
                    let _permit = permit;
                    let result =
                        with_lease(&app, &job, &worker, lease_ms, jobs::run(&app, &job)).await;
                    (job, result)
                });
            }
            None => {
                drop(permit);
                let (pending, next) = app.store.pending_work().await?;
                if pending == 0 && running.is_empty() {
                    return Ok(report);
                }
                // Wait for a running job to end or the next queued one to become due.
                let wait = next
                    .map(|t| (t - App::now_ms()).clamp(5, 250) as u64)
                    .unwrap_or(50);
                tokio::select! {
                    Some(done) = running.join_next(), if !running.is_empty() => settle(&app, done?, &mut report, &progress).await?,
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                }
            }
        }
    }
}

/// Keeps the job's lease fresh while it runs, so no other worker takes it over.
async fn with_lease<F: std::future::Future<Output = T>, T>(
    app: &App,
    job: &Job,
    worker: &str,
    lease_ms: i64,
    work: F,
) -> T {
    let beat = Duration::from_millis((lease_ms / 3).max(100) as u64);
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tokio::time::sleep(beat) => {
                if let Err(e) = app.store.extend_lease(job.id, worker, App::now_ms() + lease_ms).await {
                    tracing::warn!(job = job.id, error = %e, "could not extend the lease");
                }
            }
        }
    }
}

async fn settle(
    app: &App,
    (job, result): (Job, Result<JobOutcome, jobs::JobError>),
    report: &mut WorkReport,
    progress: &Option<Progress>,
) -> anyhow::Result<()> {
    let now = App::now_ms();
    match result {
        Ok(outcome) => {
            if let JobOutcome::Skipped(why) = outcome {
                tracing::debug!(job = job.id, kind = job.kind.as_str(), group = %job.group_id, target = %job.target, why, "skipped");
                report.skipped += 1;
            } else {
                report.done += 1;
            }
            app.store.finish(job.id, &JobEnd::Done, now).await?;
        }
        Err(e) if e.is_retryable() && job.attempts < job.max_attempts => {
            let delay = app.retry.delay_for_attempt(job.attempts);
            tracing::info!(job = job.id, kind = job.kind.as_str(), group = %job.group_id, target = %job.target, attempt = job.attempts, error = %e, "will retry");
            report.retried += 1;
            app.store
                .finish(
                    job.id,
                    &JobEnd::Retry {
                        run_at: now + delay.as_millis() as i64,
                        error: e.to_string(),
                    },
                    now,
                )
                .await?;
        }
        Err(e) => {
            let error = e.to_string();
            tracing::warn!(job = job.id, kind = job.kind.as_str(), group = %job.group_id, target = %job.target, error = %error, "job failed");
            app.store
                .finish(
                    job.id,
                    &JobEnd::Failed {
                        error: error.clone(),
                    },
                    now,
                )
                .await?;
            jobs::mark_failed(app, &job, &error).await?;
            let mut failed = job.clone();
            failed.last_error = Some(error);
            report.failed.push(failed);
        }
    }
    if let Some(p) = progress {
        let (pending, _) = app.store.pending_work().await?;
        p(
            report.done + report.skipped + report.failed.len() as u64,
            pending,
        );
    }
    Ok(())
}
