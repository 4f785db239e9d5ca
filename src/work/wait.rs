//! Waiting for a command's own jobs: a live worker (a running `serve` or `work`) does them if there
//! is one, so two workers never compete for one quota; otherwise this process works the queue
//! (most urgent first) until they have ended. A Restore or a resync never waits out a night's storm.

use crate::app::App;
use crate::core::job::JobState;
use crate::store::WorkerInfo;
use crate::work::worker::{self, WorkReport};
use std::sync::Arc;
use std::time::Duration;

/// What a wait tells whoever shows it (the CLI's spinner, or nothing).
pub trait WaitObserver: Send + Sync {
    /// `left` of the jobs have not ended yet.
    fn left(&self, left: u64);
    /// A live worker does the jobs; this process only waits. Said once.
    fn deferring_to(&self, worker: &WorkerInfo);
}

/// Shows nothing.
pub struct Quiet;

impl WaitObserver for Quiet {
    fn left(&self, _: u64) {}
    fn deferring_to(&self, _: &WorkerInfo) {}
}

/// Waits until `jobs` (the ones a command enqueued or found waiting) have ended; the report lists
/// the failed ones.
pub async fn until_done(
    app: &Arc<App>,
    jobs: &[i64],
    observer: &dyn WaitObserver,
) -> anyhow::Result<WorkReport> {
    let mut report = WorkReport::default();
    let mut told = false;
    loop {
        let left = pending(app, jobs).await?;
        observer.left(left);
        if left == 0 {
            break;
        }
        if let Some(w) = worker::live_worker(app, None).await? {
            if !told {
                observer.deferring_to(&w);
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watch = {
            let (app, jobs) = (app.clone(), jobs.to_vec());
            tokio::spawn(async move {
                while pending(&app, &jobs).await.map_or(true, |n| n > 0) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let _ = stop.send(true);
            })
        };
        let ran = worker::run_service(app.clone(), worker::WorkerKind::Command, stopped).await;
        watch.abort();
        report.retried += ran?.retried;
    }
    report.failed = app.store.failed_among(jobs).await?;
    report.done = app
        .store
        .job_states(jobs)
        .await?
        .into_iter()
        .filter(|(s, _)| *s == JobState::Done)
        .map(|(_, n)| n)
        .sum();
    Ok(report)
}

/// How many of `jobs` are still queued or running.
async fn pending(app: &App, jobs: &[i64]) -> anyhow::Result<u64> {
    Ok(app
        .store
        .job_states(jobs)
        .await?
        .into_iter()
        .filter(|(s, _)| matches!(s, JobState::Queued | JobState::Running))
        .map(|(_, n)| n)
        .sum())
}
