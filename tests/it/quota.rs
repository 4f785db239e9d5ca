//! Running at the quota: a restore overtakes a queued archive storm, limits set above what the
//! service allows come down by themselves, and an answer slower than the request timeout is retried.

use crate::support::TestApp;
use class_sync::app::App;
use class_sync::core::domain::{Group, School, Snapshot, Target};
use class_sync::core::job::JobState;
use class_sync::core::link::{LinkEvent, LinkState};
use class_sync::demo::ARCHIVE_ON;
use class_sync::{work::planner, work::worker};
use class_sync_mocks::{Fault, FaultKind, MockOptions, Quotas, Service};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCHOOL: &str = "6618001";
const ADMIN: &str = "admin.quota@hwbcymru.net";

/// `n` groups of one school, Teams only.
fn school_of(n: usize) -> Snapshot {
    Snapshot {
        schools: vec![School {
            id: SCHOOL.into(),
            name: "Ysgol Cwota".into(),
            admins: vec![ADMIN.into()],
        }],
        groups: (0..n)
            .map(|i| Group {
                id: format!("{SCHOOL}-2025-26-Q{i}"),
                school: SCHOOL.into(),
                academic_year: "2025-26".into(),
                name: format!("Class {i}"),
                year_group: Some(9),
                subject: None,
                targets: vec![Target::Teams],
                teachers: vec![format!("teacher.q{i}@hwbcymru.net")],
                learners: Vec::new(),
            })
            .collect(),
    }
}

/// Graph quotas of `write` and `read` requests per second (the rest unlimited).
fn graph_quotas(write: u32, read: u32) -> Quotas {
    Quotas {
        teams_create_per_sec: 0,
        teams_write_per_sec: write,
        teams_read_per_sec: read,
        per_team_per_sec: 4,
        education_per_sec: 0,
        classroom_per_client_per_min: 0,
        classroom_per_user_per_min: 0,
        retry_after_secs: 1,
    }
}

/// The year's teams exist (as class-sync made them in September) and archive day has come.
async fn year_end(app: &TestApp, snap: &Snapshot) -> Arc<App> {
    let a = app.on(ARCHIVE_ON).await;
    class_sync::demo::seed_existing(&a, &app.mocks, snap)
        .await
        .expect("seed the year");
    a
}

async fn archived_count(a: &App, snap: &Snapshot) -> usize {
    let mut n = 0;
    for g in &snap.groups {
        let link = a.store.link(&g.id, Target::Teams).await.unwrap().unwrap();
        n += (link.state() == LinkState::Archived) as usize;
    }
    n
}

async fn eventually<F: AsyncFn() -> bool>(what: &str, check: F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_pressed_mid_storm_overtakes_the_queued_archives() {
    let mut app = TestApp::start_with(MockOptions {
        quotas: Some(graph_quotas(8, 8)),
        ..class_sync::demo::quick_mock_options()
    })
    .await;
    let limits = &mut app.config.microsoft.as_mut().unwrap().limits;
    (limits.teams_write, limits.teams_read) = (8.0, 8.0);
    let snap = school_of(40);
    let a = year_end(&app, &snap).await;
    let nightly = planner::nightly(&a, "test").await.unwrap();
    assert_eq!(nightly.archive_enqueued, 40);
    let storm = tokio::spawn(worker::run_until_idle(a.clone(), None));

    eventually("the first archives", async || {
        archived_count(&a, &snap).await >= 4
    })
    .await;
    let mut pressed = None;
    for g in &snap.groups {
        if a.store
            .link(&g.id, Target::Teams)
            .await
            .unwrap()
            .unwrap()
            .state()
            == LinkState::Archived
        {
            pressed = Some(g);
            break;
        }
    }
    let pressed = pressed.expect("an archived team");
    let accepted = planner::restore(&a, &pressed.id, Target::Teams, ADMIN)
        .await
        .expect("the school admin may restore");
    eventually("the restore", async || {
        a.store.job(accepted.job).await.unwrap().unwrap().state == JobState::Done
    })
    .await;
    // At 8 writes a second, 40 archives take five seconds; the restore did not wait for them.
    let archived_when_restored = archived_count(&a, &snap).await;
    assert!(
        archived_when_restored <= 30,
        "the restore finished only after {archived_when_restored} of 40 archives"
    );

    let report = storm.await.unwrap().unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    for g in &snap.groups {
        let restored = g.id == pressed.id;
        assert_eq!(app.team(&g.id).is_archived, !restored, "{}", g.id);
    }
    assert_eq!(
        a.store
            .link(&pressed.id, Target::Teams)
            .await
            .unwrap()
            .unwrap()
            .state(),
        LinkState::Restored
    );
    assert_eq!(app.mocks.retry_after_violations(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_set_above_what_the_service_allows_come_down_by_themselves() {
    let mut app = TestApp::start_with(MockOptions {
        quotas: Some(graph_quotas(6, 0)),
        ..class_sync::demo::quick_mock_options()
    })
    .await;
    // The operator configured four times what the tenant really gets.
    app.config.microsoft.as_mut().unwrap().limits.teams_write = 24.0;
    let snap = school_of(60);
    let a = year_end(&app, &snap).await;
    planner::nightly(&a, "test").await.unwrap();
    let report = worker::run_until_idle(a.clone(), None).await.unwrap();

    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(archived_count(&a, &snap).await, 60);
    assert!(app.mocks.teams().iter().all(|t| t.is_archived));
    assert_eq!(app.mocks.retry_after_violations(), 0);
    let write = a
        .throttle
        .report()
        .into_iter()
        .find(|b| b.name == "microsoft.teams_write")
        .unwrap();
    assert!(write.throttled >= 3, "the service throttled: {write:?}");
    assert!(
        write.current < 24.0 * 0.6,
        "repeated 429s lowered the rate: {write:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_slower_than_the_request_timeout_is_retried() {
    let mut app = TestApp::start().await;
    app.config.worker.request_timeout_seconds = 0.5;
    let snap = school_of(2);
    let a = year_end(&app, &snap).await;
    app.mocks.inject(
        Fault::new(Service::Graph, FaultKind::Delay(Duration::from_secs(2)))
            .method("POST")
            .path_contains("/archive"),
    );
    planner::nightly(&a, "test").await.unwrap();
    let report = worker::run_until_idle(a.clone(), None).await.unwrap();

    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(app.mocks.teams().iter().all(|t| t.is_archived));
    // Three archive requests left class-sync (one timed out and was sent again); the service
    // dropped the abandoned one, so each team was archived by exactly one request.
    let sent = a
        .throttle
        .report()
        .into_iter()
        .find(|b| b.name == "microsoft.teams_write")
        .unwrap()
        .calls;
    assert_eq!(sent, 3, "the slow request was sent again");
    let answered = app
        .mocks
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/archive") && c.status == 202)
        .count();
    assert_eq!(answered, 2);
}

/// Throttling is the service saying "not now", not the job failing: a job throttled more times than
/// `max_attempts` still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_does_not_use_up_a_jobs_attempts() {
    let mut app = TestApp::start().await;
    (
        app.config.worker.max_attempts,
        app.config.worker.call_attempts,
    ) = (2, 1);
    let snap = school_of(1);
    let a = year_end(&app, &snap).await;
    app.mocks.inject(
        Fault::new(
            Service::Graph,
            FaultKind::Status {
                status: 429,
                retry_after: Some("0".into()),
            },
        )
        .method("POST")
        .path_contains("/archive")
        .times(4),
    );
    planner::nightly(&a, "test").await.unwrap();
    let report = worker::run_until_idle(a.clone(), None).await.unwrap();

    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.retried, 4);
    assert!(app.team(&snap.groups[0].id).is_archived);
}

/// The CLI's wait after a Restore press (no `serve` running): this process works the queue, most
/// urgent first, and returns as soon as the restore is done, leaving the storm to the night's worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_press_waits_for_its_own_job_not_the_storm() {
    let mut app = TestApp::start_with(MockOptions {
        quotas: Some(graph_quotas(5, 5)),
        ..class_sync::demo::quick_mock_options()
    })
    .await;
    let limits = &mut app.config.microsoft.as_mut().unwrap().limits;
    (limits.teams_write, limits.teams_read) = (5.0, 5.0);
    let snap = school_of(40);
    let a = year_end(&app, &snap).await;
    planner::nightly(&a, "test").await.unwrap();
    // The first team is archived by hand (as a nightly worker would have), the other 39 wait.
    let first = &snap.groups[0];
    let mut link = a
        .store
        .link(&first.id, Target::Teams)
        .await
        .unwrap()
        .unwrap();
    link.apply(LinkEvent::Archived).unwrap();
    a.store.save_link(&link).await.unwrap();

    let accepted = planner::restore(&a, &first.id, Target::Teams, ADMIN)
        .await
        .unwrap();
    let report =
        class_sync::work::wait::until_done(&a, &[accepted.job], &class_sync::work::wait::Quiet)
            .await
            .unwrap();

    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.done, 1);
    assert_eq!(
        a.store
            .link(&first.id, Target::Teams)
            .await
            .unwrap()
            .unwrap()
            .state(),
        LinkState::Restored
    );
    // Jobs already running when the restore ended were let finish (about `concurrency`, 16);
    // at 5 archives a second the rest of the 39 were still waiting.
    let (pending, _) = a.store.pending_work().await.unwrap();
    assert!(
        pending >= 10,
        "the storm was left to the night's worker: {pending} jobs still queued"
    );
}
