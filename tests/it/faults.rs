//! The year under transient faults: 5xx, resets, throttling, expiring tokens, failed operations,
//! creates that succeeded but answered 500, replication delays. Everything must end exactly as the
//! rules say, with nothing created twice and no request inside a Retry-After window.

use crate::support::{TestApp, sorted};
use class_sync::demo::{accounts, quick_mock_options, sample_snapshot};
use class_sync_mocks::{Fault, FaultKind, Service};

fn status(status: u16, retry_after: Option<&str>) -> FaultKind {
    FaultKind::Status {
        status,
        retry_after: retry_after.map(str::to_string),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_year_ends_as_the_rules_say() {
    let mut options = quick_mock_options();
    options.replication_404s = 2;
    let app = TestApp::start_with(options).await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    let m = &app.mocks;
    // Creates that worked but were answered 500: a blind retry would make duplicates.
    m.inject(
        Fault::new(Service::Graph, FaultKind::SucceedThen500)
            .method("POST")
            .path_contains("/education/classes")
            .times(2),
    );
    m.inject(
        Fault::new(Service::Classroom, FaultKind::SucceedThen500)
            .method("POST")
            .path_contains("/v1/courses")
            .times(2),
    );
    // Plain outages and resets.
    m.inject(
        Fault::new(Service::Graph, status(503, None))
            .method("GET")
            .path_contains("/education/classes")
            .times(2),
    );
    m.inject(
        Fault::new(Service::Graph, FaultKind::Reset)
            .method("GET")
            .path_contains("/members")
            .times(2),
    );
    m.inject(
        Fault::new(Service::Classroom, FaultKind::Reset)
            .method("POST")
            .path_contains("/students")
            .times(2),
    );
    m.inject(Fault::new(Service::MicrosoftLogin, status(503, None)).times(1));
    // Throttling, with and without Retry-After.
    m.inject(
        Fault::new(Service::Graph, status(429, Some("1")))
            .method("POST")
            .path_contains("/members/add")
            .times(1),
    );
    m.inject(
        Fault::new(Service::Classroom, status(429, None))
            .method("POST")
            .path_contains("/teachers")
            .times(2),
    );
    // A teamify operation that fails.
    m.inject(
        Fault::new(Service::Graph, FaultKind::OperationFailed)
            .method("POST")
            .path_contains("/teams")
            .times(1),
    );

    let (_, r) = app.import_on("2025-09-01", &snap).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    m.expire_all_tokens();
    m.inject(
        Fault::new(Service::Graph, status(503, Some("1")))
            .method("POST")
            .path_contains("/archive")
            .times(1),
    );
    m.inject(
        Fault::new(Service::Classroom, status(500, None))
            .method("PATCH")
            .times(2),
    );
    let (_, r) = app.nightly_on("2026-09-01").await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    // A second pass finds nothing left to do and creates nothing.
    app.import_on("2025-09-01", &snap).await;

    assert_eq!(m.teams().len(), 4, "one class per group");
    assert_eq!(m.courses().len(), 4, "one course per group");
    for g in &snap.groups {
        let team = app.team(&g.id);
        assert!(team.is_team && team.is_archived, "{}", g.id);
        assert_eq!(team.owners, sorted(g.teachers.clone()));
        assert_eq!(team.members, sorted(g.learners.clone()));
        let course = app.course(&g.id);
        assert_eq!(course.state, "ARCHIVED");
        assert_eq!(sorted(course.students.clone()), sorted(g.learners.clone()));
    }
    assert_eq!(
        m.retry_after_violations(),
        0,
        "no request inside a Retry-After window"
    );
    // The faults were really met.
    let calls = m.calls();
    assert!(
        calls.iter().filter(|c| c.status == 0).count() >= 4,
        "resets met"
    );
    assert!(
        calls.iter().filter(|c| c.status >= 500).count() >= 9,
        "5xx met"
    );
    assert!(m.throttled_count() >= 3, "429s met");
}
