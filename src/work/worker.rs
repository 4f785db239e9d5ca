//! The worker: claims jobs from the durable queue and runs them with bounded concurrency.
//!
//! Every remote call inside a job passes the throttle (`remote`), so concurrency only bounds how many
//! jobs are in flight; the quota decides the pace. A job that fails with a retryable error goes back
//! to the queue with backoff until `max_attempts`; a permanent error fails it at once and the link
//! shows why.
//!
//! A worker registers in the store and beats every few seconds; the beat also extends the leases of
//! the jobs it holds. A worker that dies (even `kill -9`) loses its jobs to others once it has not
//! been seen for the liveness window (`live_window`, three beats), or at the latest one lease later.
//! Workers on one store share the tenant's quota (`quota_share`): each beat re-counts the live
//! workers and takes its share; a joining worker waits a beat before it claims; 429 windows are
//! passed on; a worker that cannot beat for two beats holds its calls.
//! A job that only waits (polling a Graph operation) gives its slot back meanwhile (`without_slot`).
//! `[worker] concurrency` slots exist per target, so Teams and Classroom work each run at their own
//! quota.

use crate::app::App;
use crate::core::domain::Target;
use crate::remote::job_context::{self, JobContext, JobSlot};
use crate::store::{Job, JobEnd, JobFinish, WorkSignal, WorkerInfo};
use crate::work::jobs::{self, JobOutcome};
use crate::work::quota_share;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
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

/// What kind of process a worker runs in, as shown in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerKind {
    Serve,
    Work,
    /// A command (`import`, `sync`, …) working its own queue because no other worker is live.
    Command,
}

impl WorkerKind {
    fn as_str(self) -> &'static str {
        match self {
            WorkerKind::Serve => "serve",
            WorkerKind::Work => "work",
            WorkerKind::Command => "command",
        }
    }
}

/// How often a worker beats (at least every second): often enough that a lease never lapses under
/// a live worker, that a dead worker's jobs and share of the quota pass to the others within three
/// seconds (`live_window`), and that a joining worker waits little more than a second.
fn beat_interval(app: &App) -> Duration {
    Duration::from_secs_f64((app.config.worker.lease_seconds as f64 / 10.0).clamp(0.2, 1.0))
}

/// A worker not seen for three beats is taken for dead.
pub fn live_window(app: &App) -> Duration {
    beat_interval(app) * 3
}

/// The overall status query for now: `today`, the workers alive within their liveness window,
/// and the latest `audit_entries` audit lines.
pub fn status_query(app: &App, audit_entries: u32) -> crate::status::StatusQuery {
    crate::status::StatusQuery {
        today: app.today(),
        workers_seen_since_ms: App::now_ms() - live_window(app).as_millis() as i64,
        audit_entries,
        stale_after_days: app.config.import.stale_after_days,
    }
}

/// A live worker that will do queued jobs (a `serve` or `work` process), other than `except`.
pub async fn live_worker(app: &App, except: Option<&str>) -> anyhow::Result<Option<WorkerInfo>> {
    let since = App::now_ms() - live_window(app).as_millis() as i64;
    Ok(app
        .store
        .live_workers(since)
        .await?
        .into_iter()
        .find(|w| Some(w.id.as_str()) != except))
}

/// Runs jobs until nothing is queued or waiting to retry.
pub async fn run_until_idle(
    app: Arc<App>,
    progress: Option<Progress>,
) -> anyhow::Result<WorkReport> {
    run(app, WorkerKind::Command, None, progress).await
}

/// Runs jobs until `stop` turns true, then stops claiming, lets running jobs finish for
/// `[worker] shutdown_grace_seconds` and puts the rest back in the queue for another worker.
pub async fn run_service(
    app: Arc<App>,
    kind: WorkerKind,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<WorkReport> {
    run(app, kind, Some(stop), None).await
}

type Finished = (Job, Result<JobOutcome, jobs::JobError>);

async fn run(
    app: Arc<App>,
    kind: WorkerKind,
    mut stop: Option<watch::Receiver<bool>>,
    progress: Option<Progress>,
) -> anyhow::Result<WorkReport> {
    let worker_id = format!(
        "{}-{}-{}",
        kind.as_str(),
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let now = App::now_ms();
    app.store
        .register_worker(&WorkerInfo {
            id: worker_id.clone(),
            kind: kind.as_str().into(),
            pid: std::process::id() as i64,
            started_at: now,
            seen_at: now,
        })
        .await?;
    let unseen_tx = Arc::new(watch::Sender::new(false));
    let mut unseen = unseen_tx.subscribe();
    let beating = tokio::spawn(beat(app.clone(), worker_id.clone(), unseen_tx.clone()));
    let windows = tokio::spawn(quota_share::share_windows(app.clone(), worker_id.clone()));
    join(&app, stop.as_mut()).await;
    // What was done survives a restart of the loop: the report covers the whole run.
    let mut report = WorkReport::default();
    let result = loop {
        match work(
            &app,
            &worker_id,
            stop.as_mut(),
            &mut unseen,
            progress.clone(),
            &mut report,
        )
        .await
        {
            // A long-lived worker survives a store hiccup (another process holding the database,
            // a full disk that clears), and any worker survives being unseen: its running jobs are
            // dropped (another worker may have taken them), those it still holds go back to the
            // queue, and it starts again.
            Err(e) if stop.as_ref().is_some_and(|s| !*s.borrow()) || *unseen.borrow() => {
                tracing::error!(error = %e, "worker loop failed; handing its jobs back and starting again");
                match app.store.release_held(&worker_id).await {
                    // Nothing of the old jobs runs here now: the next written beat lifts the hold.
                    Ok(_) if *unseen.borrow() => {
                        tracing::info!("running jobs dropped; calls resume at the next beat");
                        unseen_tx.send_replace(false);
                    }
                    Ok(_) => {}
                    // A command gives up when the store does not answer; a service waits for it.
                    Err(e) if stop.is_none() => break Err(e.into()),
                    Err(e) => tracing::warn!(error = %e, "could not hand the jobs back yet"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => break other.map(|()| report),
        }
    };
    beating.abort();
    windows.abort();
    let released = app.store.release_held(&worker_id).await;
    app.store.unregister_worker(&worker_id).await?;
    if let Ok(n @ 1..) = released {
        tracing::info!(jobs = n, "released unfinished jobs for another worker");
    }
    result
}

/// Takes this worker's share of the quota; when peers are already at work, waits until each has
/// counted it (and shrunk its share) before claiming anything.
async fn join(app: &App, mut stop: Option<&mut watch::Receiver<bool>>) {
    let live = match quota_share::rebalance(app, live_window(app)).await {
        Ok(live) => live,
        Err(e) => {
            // The first beat tries again; meanwhile nothing tells us of peers.
            tracing::warn!(error = %e, "could not count the workers sharing the quota");
            1
        }
    };
    if live > 1 {
        let wait = beat_interval(app).mul_f64(quota_share::JOIN_WAIT_BEATS);
        tracing::info!(
            peers = live - 1,
            wait_ms = wait.as_millis() as u64,
            "joining the workers sharing the quota"
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = changed(&mut stop) => {}
        }
    }
}

/// Keeps the registry entry and the leases of every held job fresh, and this worker's share of the
/// quota in step with the registry. Unseen for two beats, the worker holds every call: its peers
/// may soon count it dead and take its share. Unseen for the liveness window, it says `unseen`:
/// the peers may have taken its jobs, so the worker loop drops the running ones and starts again
/// (and only then lifts the hold).
///
/// What counts is what the peers see: the `seen_at` of the last beat that was written. A beat
/// slower than a beat (a busy database) that still lands keeps the worker seen, so it is waited
/// for, not abandoned; the judgement runs on its own clock meanwhile, so a beat stuck behind a
/// locked table still holds the calls on time.
async fn beat(app: Arc<App>, worker: String, unseen: Arc<watch::Sender<bool>>) {
    let lease_ms = (app.config.worker.lease_seconds * 1000) as i64;
    let interval = beat_interval(&app);
    let window = live_window(&app);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut liveness = Liveness::new(interval, window);
    let mut judge = tokio::time::interval(interval / 4);
    loop {
        tick.tick().await;
        let started = tokio::time::Instant::now();
        let now = App::now_ms();
        let heartbeat = app.store.heartbeat(&worker, now, now + lease_ms);
        tokio::pin!(heartbeat);
        let written = loop {
            tokio::select! {
                done = &mut heartbeat => break done.map_err(anyhow::Error::from),
                _ = judge.tick() => {
                    liveness.judge(&app, &unseen);
                    // A beat stuck this long is given up (a dead connection): the next one tries afresh.
                    if started.elapsed() >= window * 2 {
                        break Err(anyhow::anyhow!("no answer within {:?}", window * 2));
                    }
                }
            }
        };
        match written {
            Ok(()) => {
                liveness.written(started);
                if let Err(e) = quota_share::rebalance(&app, window).await {
                    tracing::warn!(error = %e, "could not re-count the workers sharing the quota");
                }
                liveness.judge(&app, &unseen);
            }
            Err(e) => {
                tracing::warn!(error = %e, "worker heartbeat failed");
                liveness.judge(&app, &unseen);
            }
        }
    }
}

/// What the peers can know of this worker, from its written beats, and the hold that follows.
struct Liveness {
    interval: Duration,
    window: Duration,
    /// The start of the last beat written: the `seen_at` the peers read.
    seen: tokio::time::Instant,
    /// Unseen for the liveness window since the hold began: the peers may have counted this
    /// worker dead and taken its share, so it waits as a joiner does before sending again.
    counted_dead: bool,
    /// The first beat written since the hold began.
    back_since: Option<tokio::time::Instant>,
}

impl Liveness {
    fn new(interval: Duration, window: Duration) -> Liveness {
        Liveness {
            interval,
            window,
            seen: tokio::time::Instant::now(),
            counted_dead: false,
            back_since: None,
        }
    }

    fn written(&mut self, started: tokio::time::Instant) {
        self.seen = started;
    }

    /// Holds every call once the last written beat is two beats old; says `unseen` once it is a
    /// liveness window old. Lifts the hold when beats are written again, `unseen` has been dealt
    /// with (the worker loop clears it after dropping the jobs), and — after the peers may have
    /// counted it dead — once they have had 1¼ beats to count it again and shrink their shares.
    fn judge(&mut self, app: &App, unseen: &watch::Sender<bool>) {
        let unseen_for = self.seen.elapsed();
        if unseen_for >= self.window {
            if !*unseen.borrow() {
                tracing::error!(
                    unseen_ms = unseen_for.as_millis() as u64,
                    "unseen for the liveness window: dropping the running jobs"
                );
            }
            app.throttle.hold(true);
            unseen.send_replace(true);
            (self.counted_dead, self.back_since) = (true, None);
        } else if unseen_for >= self.interval * 2 {
            if !app.throttle.is_held() {
                tracing::error!("unseen by the other workers for two beats: holding every call");
            }
            app.throttle.hold(true);
            self.back_since = None;
        } else if app.throttle.is_held() && !*unseen.borrow() {
            let back_since = *self.back_since.get_or_insert(self.seen);
            let rejoin = self.interval.mul_f64(quota_share::JOIN_WAIT_BEATS);
            if !self.counted_dead || back_since.elapsed() >= rejoin {
                tracing::info!("seen again: resuming calls");
                app.throttle.hold(false);
                (self.counted_dead, self.back_since) = (false, None);
            }
        }
    }
}

fn stopping(stop: &Option<&mut watch::Receiver<bool>>) -> bool {
    stop.as_ref().is_some_and(|s| *s.borrow())
}

/// Jobs claimed in one store transaction at most: fewer, larger writes while a storm runs.
const CLAIM_BATCH: usize = 16;

/// One pool of concurrency slots per target: Teams and Classroom have separate quotas, so a slow
/// one never holds the slots the other could use.
struct Pools {
    pools: [(Target, Arc<Semaphore>); 2],
}

impl Pools {
    fn new(per_target: usize) -> Pools {
        Pools {
            pools: [Target::Teams, Target::Classroom]
                .map(|t| (t, Arc::new(Semaphore::new(per_target)))),
        }
    }

    fn of(&self, target: Target) -> &Arc<Semaphore> {
        &self
            .pools
            .iter()
            .find(|(t, _)| *t == target)
            .expect("a pool per target")
            .1
    }

    fn with_room(&self) -> Vec<Target> {
        self.pools
            .iter()
            .filter(|(_, s)| s.available_permits() > 0)
            .map(|(t, _)| *t)
            .collect()
    }

    /// Resolves when some pool has room again.
    async fn room(&self) {
        let [(_, a), (_, b)] = &self.pools;
        tokio::select! {
            _ = a.acquire() => {}
            _ = b.acquire() => {}
        }
    }
}

async fn work(
    app: &Arc<App>,
    worker_id: &str,
    mut stop: Option<&mut watch::Receiver<bool>>,
    unseen: &mut watch::Receiver<bool>,
    progress: Option<Progress>,
    report: &mut WorkReport,
) -> anyhow::Result<()> {
    let pools = Pools::new(app.config.worker.concurrency);
    let lease_ms = (app.config.worker.lease_seconds * 1000) as i64;
    let mut running: JoinSet<Finished> = JoinSet::new();
    // Where the store can say so (PostgreSQL), new work ends an idle wait at once.
    let mut new_work = match app.store.wake_on_new_work().await {
        Ok(signal) => signal,
        Err(e) => {
            tracing::warn!(error = %e, "cannot follow new work; polling only");
            None
        }
    };
    while !stopping(&stop) {
        if *unseen.borrow() {
            anyhow::bail!("unseen by the other workers: dropping the jobs they may take over");
        }
        settle(
            app,
            worker_id,
            finished(None, &mut running)?,
            report,
            &progress,
        )
        .await?;
        let free = pools.with_room();
        if free.is_empty() {
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => settle(app, worker_id, finished(Some(done?), &mut running)?, report, &progress).await?,
                _ = pools.room() => {}
                _ = unseen.changed() => {}
                _ = changed(&mut stop) => {}
            }
            continue;
        }
        let mut claimed = 0;
        for target in free {
            let room = pools.of(target).available_permits().min(CLAIM_BATCH);
            let now = App::now_ms();
            // Jobs of a worker not seen within the liveness window are taken over at once.
            let live_since = now - live_window(app).as_millis() as i64;
            let jobs = app
                .store
                .claim(worker_id, target, room, now, lease_ms, live_since)
                .await?;
            claimed += jobs.len();
            for job in jobs {
                let slots = pools.of(job.target).clone();
                let permit = slots.clone().acquire_owned().await?;
                let app = app.clone();
                let context = JobContext {
                    lane: job.lane,
                    slot: Some(JobSlot::new(slots, permit)),
                };
                running.spawn(job_context::scope(context, async move {
                    let env = jobs::JobEnv::of(&app, job.target);
                    let result = jobs::run(&env, &job).await;
                    (job, result)
                }));
            }
        }
        if claimed > 0 {
            continue;
        }
        let (pending, next) = app.store.pending_work().await?;
        if stop.is_none() && pending == 0 && running.is_empty() {
            return Ok(());
        }
        // Wait for a running job to end, new work, the next queued one to become due, or the stop.
        let wait = next
            .map(|t| (t - App::now_ms()).clamp(5, 250) as u64)
            .unwrap_or(250);
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => settle(app, worker_id, finished(Some(done?), &mut running)?, report, &progress).await?,
            _ = woken(&mut new_work) => {}
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = unseen.changed() => {}
            _ = changed(&mut stop) => {}
        }
    }
    // Stopping: no new claims; running jobs get a bounded time to finish, the rest are released.
    let grace = Duration::from_secs_f64(app.config.worker.shutdown_grace_seconds);
    let deadline = tokio::time::Instant::now() + grace;
    while !running.is_empty() {
        match tokio::time::timeout_at(deadline, running.join_next()).await {
            Ok(Some(done)) => {
                settle(
                    app,
                    worker_id,
                    finished(Some(done?), &mut running)?,
                    report,
                    &progress,
                )
                .await?
            }
            Ok(None) => break,
            Err(_) => {
                tracing::info!(
                    jobs = running.len(),
                    "shutdown grace over: leaving the rest to another worker"
                );
                running.abort_all();
                // Jobs that ended just before the abort are recorded, not run again.
                let mut ended = Vec::new();
                while let Some(joined) = running.join_next().await {
                    if let Ok(done) = joined {
                        ended.push(done);
                    }
                }
                settle(app, worker_id, ended, report, &progress).await?;
                break;
            }
        }
    }
    Ok(())
}

/// Resolves when the store signals new work; never without a signal (the worker polls).
async fn woken(new_work: &mut Option<WorkSignal>) {
    match new_work {
        Some(signal) => signal.notified().await,
        None => std::future::pending().await,
    }
}

/// Resolves when the stop signal changes; never when there is none.
async fn changed(stop: &mut Option<&mut watch::Receiver<bool>>) {
    match stop {
        Some(s) => {
            if s.changed().await.is_err() {
                std::future::pending::<()>().await
            }
        }
        None => std::future::pending().await,
    }
}

/// Records how finished jobs ended, in one store transaction.
async fn settle(
    app: &App,
    worker_id: &str,
    done: Vec<Finished>,
    report: &mut WorkReport,
    progress: &Option<Progress>,
) -> anyhow::Result<()> {
    if done.is_empty() {
        return Ok(());
    }
    let now = App::now_ms();
    let mut ends = Vec::with_capacity(done.len());
    for (job, result) in done {
        let (end, link) = match result {
            Ok(JobOutcome::Done(link)) => {
                report.done += 1;
                (JobEnd::Done, Some(link))
            }
            Ok(JobOutcome::Skipped(why)) => {
                tracing::debug!(job = job.id, kind = job.kind.as_str(), group = %job.group_id, target = %job.target, why, "skipped");
                report.skipped += 1;
                (JobEnd::Done, None)
            }
            Err(e)
                if e.is_retryable() && (job.attempts < job.max_attempts || e.is_throttling()) =>
            {
                let delay = app.retry.delay_for_attempt(job.attempts);
                tracing::info!(job = job.id, kind = job.kind.as_str(), group = %job.group_id, target = %job.target, attempt = job.attempts, error = %e, "will retry");
                report.retried += 1;
                let end = JobEnd::Retry {
                    run_at: now + delay.as_millis() as i64,
                    error: e.to_string(),
                    counts: !e.is_throttling(),
                };
                (end, None)
            }
            Err(e) => {
                let error = e.to_string();
                tracing::warn!(job = job.id, kind = job.kind.as_str(), group = %job.group_id, target = %job.target, error = %error, "job failed");
                let link = jobs::failed_link(&*app.store, &job, &error).await?;
                let mut failed = job.clone();
                failed.last_error = Some(error.clone());
                report.failed.push(failed);
                (JobEnd::Failed { error }, link)
            }
        };
        ends.push(JobFinish {
            job_id: job.id,
            end,
            link,
        });
    }
    app.store.finish_many(worker_id, &ends, now).await?;
    if let Some(p) = progress {
        let (pending, _) = app.store.pending_work().await?;
        p(
            report.done + report.skipped + report.failed.len() as u64,
            pending,
        );
    }
    Ok(())
}

/// `first` (if any) and every other job that has finished by now.
fn finished(
    first: Option<Finished>,
    running: &mut JoinSet<Finished>,
) -> anyhow::Result<Vec<Finished>> {
    let mut done: Vec<Finished> = first.into_iter().collect();
    while let Some(next) = running.try_join_next() {
        done.push(next?);
    }
    Ok(done)
}
