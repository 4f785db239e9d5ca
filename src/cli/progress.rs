//! Waiting on a terminal: a spinner while jobs run, then what the worker did, and the exit status.

use super::exit;
use crate::app::App;
use crate::store::WorkerInfo;
use crate::work::wait::{self, WaitObserver};
use crate::work::worker::{self, WorkReport};
use std::io::IsTerminal;
use std::sync::Arc;

/// A spinner on a terminal, nothing otherwise.
pub fn spinner(label: &'static str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_message(label);
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    })
}

/// Shows a wait on the spinner, and says once when a live worker does the work.
struct Shown<'a> {
    label: &'static str,
    total: usize,
    bar: &'a Option<indicatif::ProgressBar>,
}

impl WaitObserver for Shown<'_> {
    fn left(&self, left: u64) {
        if let Some(b) = self.bar {
            b.set_message(format!(
                "{}: {left} of {} jobs to go",
                self.label, self.total
            ));
        }
    }

    fn deferring_to(&self, w: &WorkerInfo) {
        eprintln!(
            "a {} worker (pid {}) is running: it does the work; waiting for this command's jobs",
            w.kind, w.pid
        );
    }
}

/// Waits for `jobs` with a spinner (see `work::wait`), then prints what was done and failed.
pub async fn wait_for(
    app: &Arc<App>,
    label: &'static str,
    jobs: &[i64],
) -> anyhow::Result<WorkReport> {
    let bar = spinner(label);
    let shown = Shown {
        label,
        total: jobs.len(),
        bar: &bar,
    };
    let report = wait::until_done(app, jobs, &shown).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = report?;
    print_report(&report);
    Ok(report)
}

/// Waits for a command's jobs unless `--no-wait`; the exit status says whether any failed.
pub async fn finish(app: &Arc<App>, no_wait: bool, jobs: &[i64]) -> anyhow::Result<u8> {
    if no_wait {
        return Ok(exit::OK);
    }
    let report = wait_for(app, "working", jobs).await?;
    Ok(report_exit(&report))
}

/// `work --until-idle`: this process is the worker, until nothing is queued or waiting to retry.
pub async fn work_until_idle(app: &Arc<App>) -> anyhow::Result<WorkReport> {
    let bar = spinner("work");
    let progress: Option<worker::Progress> = bar.clone().map(|b| {
        Arc::new(move |finished: u64, pending: u64| {
            b.set_message(format!("work: {finished} finished, {pending} pending"));
        }) as worker::Progress
    });
    let report = worker::run_until_idle(app.clone(), progress).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = report?;
    print_report(&report);
    Ok(report)
}

/// What a worker did, with every failed job.
pub fn print_report(report: &WorkReport) {
    println!(
        "work: {} done, {} skipped, {} retried, {} failed",
        report.done,
        report.skipped,
        report.retried,
        report.failed.len()
    );
    for j in &report.failed {
        println!(
            "  failed: job {} {} {} ({}): {}",
            j.id,
            j.kind.as_str(),
            j.group_id,
            j.target,
            j.last_error.as_deref().unwrap_or("")
        );
    }
}

/// 0 when every job ended well, 1 when some failed.
pub fn report_exit(r: &WorkReport) -> u8 {
    if r.failed.is_empty() {
        exit::OK
    } else {
        exit::JOBS_FAILED
    }
}
