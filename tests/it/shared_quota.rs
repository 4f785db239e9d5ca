//! One tenant quota, several worker processes on one PostgreSQL database: each takes its share of
//! every shared bucket, so together they stay inside the quota the services enforce; and a 429 one
//! of them is given closes the bucket in the others at once.

use crate::store::pg;
use crate::support::TestApp;
use class_sync::app::App;
use class_sync::core::domain::{Group, School, Snapshot, Target};
use class_sync::core::link::LinkState;
use class_sync::demo::ARCHIVE_ON;
use class_sync::remote::throttle::{BucketId, BucketKey};
use class_sync::work::planner;
use class_sync::work::worker::{self, WorkReport, WorkerKind};
use class_sync_mocks::{MockOptions, Quotas};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const SCHOOL: &str = "6618002";

/// `n` groups of one school, Teams only.
fn school_of(n: usize) -> Snapshot {
    Snapshot {
        schools: vec![School {
            id: SCHOOL.into(),
            name: "Ysgol Rhannu".into(),
            admins: vec!["admin.rhannu@hwbcymru.net".into()],
        }],
        groups: (0..n)
            .map(|i| Group {
                id: format!("{SCHOOL}-2025-26-S{i}"),
                school: SCHOOL.into(),
                academic_year: "2025-26".into(),
                name: format!("Class {i}"),
                year_group: Some(9),
                subject: None,
                targets: vec![Target::Teams],
                teachers: vec![format!("teacher.s{i}@hwbcymru.net")],
                learners: Vec::new(),
            })
            .collect(),
    }
}

/// The mocks enforcing `write` Graph writes and reads a second, and a class-sync config on a fresh
/// PostgreSQL schema with the same limits and a short lease (a beat every 0.6 s).
/// None when no PostgreSQL server answers (outside CI).
async fn on_postgres(test: &str, write: u32) -> Option<(TestApp, pg::DropOnExit)> {
    let (url, keep) = pg::fresh_schema(test).await?;
    let mut app = TestApp::start_with(MockOptions {
        quotas: Some(Quotas {
            teams_create_per_sec: 0,
            teams_write_per_sec: write,
            teams_read_per_sec: write,
            per_team_per_sec: 4,
            education_per_sec: 0,
            classroom_per_client_per_min: 0,
            classroom_per_user_per_min: 0,
            retry_after_secs: 1,
        }),
        ..class_sync::demo::quick_mock_options()
    })
    .await;
    app.config.database_url = url;
    app.config.worker.lease_seconds = 6;
    let limits = &mut app.config.microsoft.as_mut().unwrap().limits;
    (limits.teams_write, limits.teams_read) = (write as f64, write as f64);
    Some((app, keep))
}

/// A `serve`-like worker on its own `App` (its own throttle, as another process has).
struct Process {
    app: Arc<App>,
    stop: watch::Sender<bool>,
    work: tokio::task::JoinHandle<anyhow::Result<WorkReport>>,
}

async fn start_process(app: &TestApp) -> Process {
    let a = app.on(ARCHIVE_ON).await;
    let (stop, stopped) = watch::channel(false);
    let work = tokio::spawn(worker::run_service(a.clone(), WorkerKind::Work, stopped));
    Process { app: a, stop, work }
}

impl Process {
    fn share(&self) -> f64 {
        let write = self.app.throttle.report();
        write
            .iter()
            .find(|r| r.name == "microsoft.teams_write")
            .unwrap()
            .share
    }

    async fn stop(self) -> WorkReport {
        self.stop.send_replace(true);
        self.work.await.unwrap().expect("worker")
    }
}

async fn eventually<F: AsyncFn() -> bool>(what: &str, check: F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Two processes, each configured with the tenant's whole quota, archive a year's teams together
/// against mocks enforcing that quota: each takes half, so the services answer no 429 and see no
/// request inside a `Retry-After`, and both do their part of the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_share_the_tenant_quota() {
    let _alone = crate::support::CPU_HEAVY_OR_TIMED.lock().await;
    let test = concat!(
        module_path!(),
        "::two_processes_on_one_database_share_the_tenant_quota"
    );
    let Some((app, _keep)) = on_postgres(test, 10).await else {
        return;
    };
    let snap = school_of(60);
    let seeding = app.on(ARCHIVE_ON).await;
    class_sync::demo::seed_existing(&seeding, &app.mocks, &snap)
        .await
        .expect("seed the year");
    app.mocks.clear_calls();

    let first = start_process(&app).await;
    eventually("the first worker alone takes the whole quota", async || {
        first.share() == 1.0
    })
    .await;
    let second = start_process(&app).await;
    eventually("both take half", async || {
        first.share() == 0.5 && second.share() == 0.5
    })
    .await;
    let nightly = planner::nightly(&seeding, "test").await.unwrap();
    assert_eq!(nightly.archive_enqueued, 60);
    eventually("the archive night", async || {
        seeding.store.pending_work().await.unwrap().0 == 0
    })
    .await;
    let (a, b) = (first.stop().await, second.stop().await);

    for g in &snap.groups {
        assert!(app.team(&g.id).is_archived, "{} archived", g.id);
        let link = seeding
            .store
            .link(&g.id, Target::Teams)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(link.state(), LinkState::Archived, "{}", g.id);
    }
    assert!(
        a.done > 0 && b.done > 0,
        "both worked: {} and {}",
        a.done,
        b.done
    );
    assert_eq!(app.mocks.throttled_count(), 0, "429s from the services");
    assert_eq!(app.mocks.retry_after_violations(), 0);
}

/// A 429 given to one process closes the same bucket in the other at once (PostgreSQL `NOTIFY`),
/// for the same window; a bucket the 429 did not name stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_in_one_process_closes_the_bucket_in_the_others() {
    let _alone = crate::support::CPU_HEAVY_OR_TIMED.lock().await;
    let test = concat!(
        module_path!(),
        "::a_429_in_one_process_closes_the_bucket_in_the_others"
    );
    let Some((app, _keep)) = on_postgres(test, 10).await else {
        return;
    };
    let first = start_process(&app).await;
    let second = start_process(&app).await;
    eventually("both joined", async || {
        first.share() == 0.5 && second.share() == 0.5
    })
    .await;
    let write = BucketKey::of(BucketId::TeamsWrite);
    let read = BucketKey::of(BucketId::TeamsRead);
    let given = Instant::now();
    first
        .app
        .throttle
        .close(std::slice::from_ref(&write), Duration::from_secs(5));
    eventually("the window in the other process", async || {
        second.app.throttle.closed_for(&write).is_some()
    })
    .await;
    println!(
        "the window reached the other process after {:?}",
        given.elapsed()
    );
    let left = second.app.throttle.closed_for(&write).unwrap();
    assert!(
        left > Duration::from_secs(3) && left <= Duration::from_secs(5),
        "{left:?}"
    );
    assert_eq!(second.app.throttle.closed_for(&read), None);
    let throttled = |p: &Process| {
        p.app
            .throttle
            .report()
            .into_iter()
            .find(|r| r.name == "microsoft.teams_write")
            .unwrap()
            .throttled
    };
    assert_eq!(
        (throttled(&first), throttled(&second)),
        (1, 0),
        "a 429 counted where it came"
    );
    first.stop().await;
    second.stop().await;
}

/// A worker its peers cannot see (its beats stuck behind a locked registry) holds every call
/// within two beats, and after the liveness window drops its running jobs (its peers may have
/// taken them). Once the registry answers again it resumes, and the night ends with every team
/// archived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_its_peers_cannot_see_holds_its_calls_then_starts_again() {
    let _alone = crate::support::CPU_HEAVY_OR_TIMED.lock().await;
    use sqlx::{Connection, Executor};
    let test = concat!(
        module_path!(),
        "::a_worker_its_peers_cannot_see_holds_its_calls_then_starts_again"
    );
    let Some((app, _keep)) = on_postgres(test, 4).await else {
        return;
    };
    let snap = school_of(24);
    let seeding = app.on(ARCHIVE_ON).await;
    class_sync::demo::seed_existing(&seeding, &app.mocks, &snap)
        .await
        .expect("seed the year");
    app.mocks.clear_calls();
    let process = start_process(&app).await;
    planner::nightly(&seeding, "test").await.unwrap();
    eventually("the first archives", async || app.mocks.calls().len() >= 4).await;

    // The registry is locked: every beat (and claim) waits.
    let mut locker = sqlx::PgConnection::connect(&app.config.database_url)
        .await
        .expect("connect");
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE workers IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    // Two beats (1.2 s) and it holds; calls granted just before may still go out meanwhile.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let held_at = app.mocks.calls().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.mocks.calls().len(),
        held_at,
        "calls sent while unseen by the other workers"
    );
    locker.execute("ROLLBACK").await.unwrap();

    // Generous: on a loaded 2-core CI host a worker may be judged unseen again before it settles.
    let deadline = Instant::now() + Duration::from_secs(120);
    while seeding.store.pending_work().await.unwrap().0 != 0 {
        if Instant::now() >= deadline {
            // What the worker was stuck on, for whoever reads the failure.
            let jobs = seeding.store.job_counts().await.unwrap();
            let live = seeding.store.live_workers(0).await.unwrap();
            panic!(
                "timed out waiting for the archive night: jobs {jobs:?}; workers {live:?}; \
                 calls held: {}; calls sent {} (held at {held_at})",
                process.app.throttle.is_held(),
                app.mocks.calls().len()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = process.stop().await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    for g in &snap.groups {
        assert!(app.team(&g.id).is_archived, "{} archived", g.id);
    }
    assert_eq!(app.mocks.retry_after_violations(), 0);
}
