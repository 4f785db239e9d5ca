//! The Prometheus text of `/metrics`: queue depth by lane and kind, remote calls and 429s per
//! bucket, bucket rates, job outcomes, restore latency, the last nightly run, each school's last
//! import. Read from the store
//! and the throttle at each scrape; nothing here decides anything or reads a secret.

use crate::app::App;
use crate::core::job::{JobKind, JobState, Lane};
use crate::store::FinishedJob;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Seconds from a Restore press (its job's enqueue) to the team or course being restored.
const RESTORE_LATENCY_BUCKETS: [f64; 12] = [
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
];

/// Jobs written this long ago are read as finished: a worker computes `finished_at` just before
/// writing it, so waiting a little means no finished job is ever skipped by the cursor.
const SETTLE_MS: i64 = 1_000;

/// The metrics this process keeps between scrapes; the rest is read from the store and the throttle
/// when `/metrics` is asked.
pub struct Metrics {
    job_outcomes: Family<Labels, Counter>,
    restore_latency: Histogram,
    /// Jobs finished up to this time (Unix ms) have been counted.
    counted_until: Mutex<i64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Counts jobs that finish from now on.
    pub fn new() -> Metrics {
        Metrics {
            job_outcomes: Family::default(),
            restore_latency: Histogram::new(RESTORE_LATENCY_BUCKETS),
            counted_until: Mutex::new(App::now_ms()),
        }
    }

    fn observe(&self, job: &FinishedJob) {
        let outcome = match job.state {
            JobState::Done => "done",
            JobState::Failed => "failed",
            other => other.as_str(),
        };
        self.job_outcomes
            .get_or_create(&vec![
                ("kind", job.kind.as_str().to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
        if job.kind == JobKind::Restore && job.state == JobState::Done {
            let secs = (job.finished_at - job.created_at).max(0) as f64 / 1000.0;
            self.restore_latency.observe(secs);
        }
    }

    /// Counts the jobs that finished since the last call (done by any worker on this store).
    pub async fn count_finished(&self, app: &App) -> anyhow::Result<()> {
        let after = *self.counted_until.lock().unwrap_or_else(|e| e.into_inner());
        let upto = App::now_ms() - SETTLE_MS;
        if upto <= after {
            return Ok(());
        }
        for job in app.store.jobs_finished_between(after, upto).await? {
            self.observe(&job);
        }
        *self.counted_until.lock().unwrap_or_else(|e| e.into_inner()) = upto;
        Ok(())
    }

    /// Counts finished jobs every second until the process stops.
    pub async fn follow_jobs(self: Arc<Self>, app: Arc<App>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = self.count_finished(&app).await {
                tracing::warn!(error = %e, "counting finished jobs for metrics failed");
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub async fn render(&self, app: &App) -> anyhow::Result<String> {
        let mut registry = Registry::default();
        registry.register(
            "class_sync_job_outcomes",
            "Jobs finished since this process started, by kind and outcome",
            self.job_outcomes.clone(),
        );
        registry.register(
            "class_sync_restore_latency_seconds",
            "From a Restore press to its team or course restored",
            self.restore_latency.clone(),
        );

        let depth = Family::<Labels, Gauge>::default();
        // Every lane and kind is shown, at 0 when empty, so a dashboard's series never vanish.
        for lane in [Lane::Restore, Lane::Operator, Lane::Mis, Lane::Nightly] {
            for kind in [JobKind::Restore, JobKind::Reconcile, JobKind::Archive] {
                depth
                    .get_or_create(&vec![
                        ("lane", lane.as_str().to_string()),
                        ("kind", kind.as_str().to_string()),
                    ])
                    .set(0);
            }
        }
        for (lane, kind, n) in app.store.queue_depth().await? {
            depth
                .get_or_create(&vec![
                    ("lane", lane.as_str().to_string()),
                    ("kind", kind.as_str().to_string()),
                ])
                .set(n as i64);
        }
        registry.register(
            "class_sync_queue_depth",
            "Jobs queued or running, by lane and kind",
            depth,
        );

        register_throttle(&mut registry, &app.throttle.report());

        let last_run = FloatGauge::default();
        let last_ok = FloatGauge::default();
        if let Some(r) = app.store.last_run("nightly", false).await? {
            last_run.set(r.started_at as f64 / 1000.0);
        }
        if let Some(r) = app.store.last_run("nightly", true).await? {
            last_ok.set(r.finished_at.unwrap_or(r.started_at) as f64 / 1000.0);
        }
        registry.register(
            "class_sync_last_nightly_run_timestamp_seconds",
            "Start of the last nightly run (Unix seconds; 0: never)",
            last_run,
        );
        registry.register(
            "class_sync_last_successful_nightly_run_timestamp_seconds",
            "End of the last nightly run that succeeded (Unix seconds; 0: never)",
            last_ok,
        );

        register_schools(&mut registry, app).await?;

        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
        Ok(text)
    }
}

/// Each school's last import, for alerts on a provisioning client that stopped (`time() - x`), and
/// the number of schools `status` flags as stale.
async fn register_schools(registry: &mut Registry, app: &App) -> anyhow::Result<()> {
    let last = Family::<Labels, FloatGauge>::default();
    let stale = Gauge::<i64>::default();
    let staleness = crate::status::Staleness {
        today: app.today(),
        after_days: app.config.import.stale_after_days,
    };
    for (school, latest) in app.store.last_import_days().await? {
        let day = latest.as_ref().map(|(day, _)| day.as_str());
        if staleness.is_stale(day) {
            stale.inc();
        }
        let at = latest.map_or(0, |(_, at)| at);
        last.get_or_create(&vec![("school", school)])
            .set(at as f64 / 1000.0);
    }
    registry.register(
        "class_sync_school_last_import_timestamp_seconds",
        "When each school's data last arrived: its latest import (Unix seconds; 0: never)",
        last,
    );
    registry.register(
        "class_sync_schools_stale",
        "Schools with no import for [import] stale_after_days or more (or none recorded)",
        stale,
    );
    Ok(())
}

/// Remote calls, 429s, and the configured rate, this process's share and the current (adaptive)
/// rate per throttle bucket.
fn register_throttle(registry: &mut Registry, report: &[crate::remote::throttle::BucketReport]) {
    let calls = Family::<Labels, Counter>::default();
    let throttled = Family::<Labels, Counter>::default();
    let rate = Family::<Labels, FloatGauge>::default();
    let configured = Family::<Labels, FloatGauge>::default();
    let share = Family::<Labels, FloatGauge>::default();
    for b in report {
        let labels = vec![("bucket", b.name.to_string())];
        calls.get_or_create(&labels).inc_by(b.calls);
        throttled.get_or_create(&labels).inc_by(b.throttled);
        rate.get_or_create(&labels).set(b.current);
        configured.get_or_create(&labels).set(b.configured);
        share.get_or_create(&labels).set(b.share);
    }
    registry.register(
        "class_sync_bucket_configured_rate_per_second",
        "Configured request rate of each throttle bucket",
        configured,
    );
    registry.register(
        "class_sync_bucket_share",
        "This process's share of each bucket's tenant quota (1 alone, 1/N with N live workers)",
        share,
    );
    registry.register(
        "class_sync_remote_calls",
        "Requests sent to Microsoft and Google, by throttle bucket",
        calls,
    );
    registry.register(
        "class_sync_remote_throttled",
        "429 answers received, by throttle bucket",
        throttled,
    );
    registry.register(
        "class_sync_bucket_rate_per_second",
        "Current request rate of each throttle bucket (lowered after repeated 429s)",
        rate,
    );
}
