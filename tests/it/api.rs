//! `serve` through real HTTP on port 0, against the mocks: who may restore, what the portal sees,
//! bodies refused with clear messages, groups pushed around the cutoff, the scheduler, SIGTERM.

use crate::support::{OPERATOR_TOKEN, Served, TestApp, UMP_TOKEN, eventually};
use class_sync::core::domain::{Group, School, Snapshot, Target};
use class_sync::demo::{accounts, quick_mock_options, sample_snapshot};
use class_sync::work::scheduler::{self, ManualClock};
use class_sync_mocks::{Fault, FaultKind, MockOptions, Service};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const PRIMARY_ADMIN: &str = "admin.primary@hwbcymru.net";
const SECONDARY_ADMIN: &str = "admin.secondary@hwbcymru.net";

/// The sample year created on 2025-09-01 and archived by the nightly job on 2026-09-01.
async fn archived_year(options: MockOptions) -> (TestApp, Snapshot) {
    let app = TestApp::start_with(options).await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    let (_, r) = app.import_on("2025-09-01", &snap).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let (_, r) = app.nightly_on("2026-09-01").await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    (app, snap)
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("(no error code)")
}

/// The restore entries of the audit log, as (actor, outcome), oldest first.
async fn restore_audit(s: &Served, group: &str) -> Vec<(String, String)> {
    let (status, doc) = s.get("/v1/status?audit=200", Some(OPERATOR_TOKEN)).await;
    assert_eq!(status, 200, "{doc}");
    let mut out: Vec<(String, String)> = doc["recent_audit"]
        .as_array()
        .expect("recent_audit")
        .iter()
        .filter(|a| a["action"] == "restore" && a["group"] == group)
        .map(|a| {
            (
                a["actor"].as_str().unwrap_or("").to_string(),
                a["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.reverse();
    out
}

/// Both links of `group` are archived and MIS-linked, in our data and remotely.
async fn assert_untouched(app: &TestApp, s: &Served, group: &str) {
    assert!(
        app.team(group).is_archived,
        "team of {group} still archived"
    );
    assert_eq!(app.course(group).state, "ARCHIVED", "course of {group}");
    let (_, doc) = s.get(&format!("/v1/groups/{group}"), Some(UMP_TOKEN)).await;
    for l in doc["links"].as_array().expect("links") {
        assert_eq!(l["state"], "archived", "{doc}");
        assert_eq!(l["mis_linked"], true, "{doc}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_over_http_follows_the_permission_matrix() {
    let (mut app, snap) = archived_year(quick_mock_options()).await;
    let g = snap.groups[0].id.clone(); // school 6612001, taught by jonesa12
    let s = app.serve_on("2026-09-02").await;
    let path = format!("/v1/groups/{g}/restore");
    let body = json!({"target": "teams", "requested_by": "jonesa12@hwbcymru.net"});

    // No token, a wrong token: 401, before anything is looked at.
    let (st, b) = s.call(Method::POST, &path, None, Some(&body)).await;
    assert_eq!((st, code(&b)), (401, "unauthorized"), "{b}");
    let (st, b) = s
        .call(Method::POST, &path, Some("not-the-token"), Some(&body))
        .await;
    assert_eq!((st, code(&b)), (401, "unauthorized"), "{b}");

    // Everyone but the school's admins and the class's teachers: 403, nothing changed, audited.
    let refused = [
        "daviesb7@hwbcymru.net",    // a teacher of another class in the same school
        "plentyn5.01@hwbcymru.net", // a learner of the class
        SECONDARY_ADMIN,            // another school's admin
        "nobody@example.org",       // an address we do not know
    ];
    for who in refused {
        let (st, b) = s.restore_as(&g, "teams", who).await;
        assert_eq!((st, code(&b)), (403, "forbidden"), "{who}: {b}");
        assert!(
            b["error"]["message"].as_str().unwrap_or("").contains(who),
            "the refusal says who: {b}"
        );
    }
    // The portal's token may not do operators' work.
    let (st, b) = s
        .post("/v1/sync", Some(UMP_TOKEN), json!({"groups": [g]}))
        .await;
    assert_eq!((st, code(&b)), (403, "forbidden"), "{b}");
    let (st, b) = s
        .post(
            "/v1/archive",
            Some(UMP_TOKEN),
            json!({"year": "2025-26", "force": true}),
        )
        .await;
    assert_eq!((st, code(&b)), (403, "forbidden"), "{b}");
    assert_untouched(&app, &s, &g).await;
    let (_, status) = s.get("/v1/status", Some(UMP_TOKEN)).await;
    assert!(
        status["queue"]["restore"].is_null(),
        "no restore job: {status}"
    );

    // The class teacher (whatever the case of the address): accepted, done, restored remotely.
    let (st, b) = s.restore_as(&g, "teams", "JonesA12@HWBcymru.net").await;
    assert_eq!(st, 202, "{b}");
    let job = s.job_end(&b["job"]).await;
    assert_eq!(
        (job["state"].as_str(), job["kind"].as_str()),
        (Some("done"), Some("restore")),
        "{job}"
    );
    assert!(!app.team(&g).is_archived, "the team is restored");
    // The school admin restores the course.
    let (st, b) = s.restore_as(&g, "classroom", PRIMARY_ADMIN).await;
    assert_eq!(st, 202, "{b}");
    assert_eq!(s.job_end(&b["job"]).await["state"], "done");
    assert_eq!(app.course(&g).state, "ACTIVE");
    let (_, doc) = s.get(&format!("/v1/groups/{g}"), Some(UMP_TOKEN)).await;
    for l in doc["links"].as_array().expect("links") {
        assert_eq!(
            (l["state"].as_str(), l["mis_linked"].as_bool()),
            (Some("restored"), Some(false)),
            "{doc}"
        );
    }

    // Restored is not archived: a conflict. Unknown group, link or target: 404 / 400.
    let (st, b) = s.restore_as(&g, "teams", PRIMARY_ADMIN).await;
    assert_eq!((st, code(&b)), (409, "conflict"), "{b}");
    let (st, b) = s.restore_as("no-such-group", "teams", PRIMARY_ADMIN).await;
    assert_eq!((st, code(&b)), (404, "not_found"), "{b}");
    let (st, b) = s.restore_as(&g, "zoom", PRIMARY_ADMIN).await;
    assert_eq!((st, code(&b)), (400, "invalid"), "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("zoom"),
        "{b}"
    );

    // Every press is in the audit log, granted or refused, with who pressed it.
    let audit = restore_audit(&s, &g).await;
    let mut expected: Vec<(String, String)> = refused
        .iter()
        .map(|w| (w.to_string(), "refused".to_string()))
        .collect();
    expected.push(("jonesa12@hwbcymru.net".into(), "granted".into()));
    expected.push((PRIMARY_ADMIN.into(), "granted".into()));
    expected.push((PRIMARY_ADMIN.into(), "conflict".into()));
    assert_eq!(audit, expected);

    // The other groups were never touched.
    for other in &snap.groups[1..] {
        assert_untouched(&app, &s, &other.id).await;
    }

    // Metrics saw both restores through to the end.
    let text = eventually(10, || async {
        let resp = s
            .http
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .ok()?;
        let text = resp.text().await.ok()?;
        text.contains("class_sync_restore_latency_seconds_count 2")
            .then_some(text)
    })
    .await
    .expect("restore latency observed twice");
    for needle in [
        "class_sync_job_outcomes_total{kind=\"restore\",outcome=\"done\"} 2",
        "class_sync_queue_depth",
        "class_sync_remote_calls_total{bucket=",
        "class_sync_remote_throttled_total{bucket=",
        "class_sync_bucket_rate_per_second{bucket=",
        "class_sync_bucket_share{bucket=",
        "class_sync_last_nightly_run_timestamp_seconds",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressing_restore_twice_while_pending_gives_the_same_job() {
    let (mut app, snap) = archived_year(quick_mock_options()).await;
    let g = snap.groups[2].id.clone(); // school 6614002
    // The unarchive answers slowly, so the second press comes while the first is pending.
    app.mocks.inject(
        Fault::new(
            Service::Graph,
            FaultKind::Delay(Duration::from_millis(1500)),
        )
        .path_contains("/unarchive")
        .times(1),
    );
    let s = app.serve_on("2026-09-02").await;
    let (st1, first) = s.restore_as(&g, "teams", SECONDARY_ADMIN).await;
    let (st2, second) = s.restore_as(&g, "teams", "evansc3@hwbcymru.net").await;
    assert_eq!((st1, st2), (202, 202), "{first} {second}");
    assert_eq!(first["job"], second["job"], "one job for both presses");
    assert_eq!(
        (first["new"].as_bool(), second["new"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(s.job_end(&first["job"]).await["state"], "done");
    assert!(!app.team(&g).is_archived);
    let unarchives = app
        .mocks
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/unarchive"))
        .count();
    assert_eq!(unarchives, 1, "the team was unarchived once");
    s.stop().await;
}

fn group_ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups in {body}"))
        .iter()
        .map(|g| g["id"].as_str().unwrap_or("").to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_groups_shows_each_person_what_they_may_see() {
    let (mut app, snap) = archived_year(quick_mock_options()).await;
    let id = |i: usize| snap.groups[i].id.clone();
    let s = app.serve_on("2026-09-02").await;
    let list = |query: String| {
        let s = &s;
        async move { s.get(&format!("/v1/groups?{query}"), Some(UMP_TOKEN)).await }
    };

    let (st, b) = list(format!("as={PRIMARY_ADMIN}")).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        group_ids(&b),
        vec![id(0), id(1)],
        "an admin sees the school"
    );
    for g in b["groups"].as_array().expect("groups") {
        assert_eq!(g["links"].as_array().map(Vec::len), Some(2), "{g}");
        for l in g["links"].as_array().expect("links") {
            assert_eq!(
                (&l["state"], &l["restorable"]),
                (&json!("archived"), &json!(true))
            );
        }
    }
    let (_, b) = list("as=jonesa12@hwbcymru.net".into()).await;
    assert_eq!(group_ids(&b), vec![id(0)], "a teacher sees their class");
    let (_, b) = list("as=EvansC3@hwbcymru.net".into()).await;
    assert_eq!(group_ids(&b), vec![id(2), id(3)]);
    let (_, b) = list("as=evansc3@hwbcymru.net&year_group=8".into()).await;
    assert_eq!(group_ids(&b), vec![id(3)]);
    let (_, b) = list(format!(
        "as={SECONDARY_ADMIN}&teacher=thomasd9@hwbcymru.net"
    ))
    .await;
    assert_eq!(group_ids(&b), vec![id(3)]);
    let (_, b) = list(format!("as={SECONDARY_ADMIN}&school=6612001")).await;
    assert_eq!(
        group_ids(&b),
        Vec::<String>::new(),
        "another school's groups stay hidden"
    );
    let (_, b) = list(format!("as={PRIMARY_ADMIN}&academic_year=2026-27")).await;
    assert_eq!(group_ids(&b), Vec::<String>::new());
    for nobody in ["plentyn5.01@hwbcymru.net", "stranger@example.org"] {
        let (st, b) = list(format!("as={nobody}")).await;
        assert_eq!((st, group_ids(&b)), (200, vec![]), "{nobody} sees nothing");
    }

    // After a restore the link says so and can no longer be restored.
    let (st, b) = s.restore_as(&id(0), "teams", PRIMARY_ADMIN).await;
    assert_eq!(st, 202, "{b}");
    s.job_end(&b["job"]).await;
    let (_, b) = list(format!("as={PRIMARY_ADMIN}&state=restored")).await;
    assert_eq!(group_ids(&b), vec![id(0)]);
    let (_, b) = list(format!("as={PRIMARY_ADMIN}&state=restored&target=teams")).await;
    let links = &b["groups"][0]["links"];
    assert_eq!(links.as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(
        (&links[0]["state"], &links[0]["restorable"]),
        (&json!("restored"), &json!(false))
    );
    let (_, b) = list(format!("as={PRIMARY_ADMIN}&target=classroom")).await;
    assert_eq!(b["groups"][0]["links"][0]["restorable"], true, "{b}");

    // Bad requests say what is wrong.
    for (query, needle) in [
        ("school=6612001", "as"),
        ("as=x@y.z&target=zoom", "zoom"),
        ("as=x@y.z&state=lost", "lost"),
        ("as=x@y.z&year_group=seven", "year_group"),
    ] {
        let (st, b) = list(query.into()).await;
        assert_eq!((st, code(&b)), (400, "invalid"), "{query}: {b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(needle),
            "{query}: {b}"
        );
    }
    let (st, _) = s.get(&format!("/v1/groups?as={PRIMARY_ADMIN}"), None).await;
    assert_eq!(st, 401);
    s.stop().await;
}

/// View Groups a page at a time: `limit` and `after` walk the person's groups in id order, `next`
/// says where the next page starts (null on the last), `total` counts every page; each page
/// holds only what the person may see; a `limit` out of range is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_groups_pages_through_in_id_order() {
    let mut app = TestApp::start().await;
    let school = "6612001";
    let teacher = "athro@hwbcymru.net";
    let groups: Vec<Group> = (0..5)
        .map(|i| Group {
            id: format!("{school}-2025-26-C{i}"),
            school: school.into(),
            academic_year: "2025-26".into(),
            name: format!("Class {i}"),
            year_group: Some(7),
            subject: None,
            targets: vec![Target::Teams],
            // The teacher has the even classes.
            teachers: vec![
                if i % 2 == 0 {
                    teacher
                } else {
                    "arall@hwbcymru.net"
                }
                .into(),
            ],
            learners: Vec::new(),
        })
        .collect();
    let snap = Snapshot {
        schools: vec![School {
            id: school.into(),
            name: "Ysgol Tudalen".into(),
            admins: vec![PRIMARY_ADMIN.into()],
        }],
        groups,
    };
    let ids: Vec<String> = snap.groups.iter().map(|g| g.id.clone()).collect();
    app.import_on("2025-08-01", &snap).await;
    let s = app.serve_on("2025-08-01").await;
    let page = |query: String| {
        let s = &s;
        async move {
            let (st, b) = s.get(&format!("/v1/groups?{query}"), Some(UMP_TOKEN)).await;
            assert_eq!(st, 200, "{query}: {b}");
            (group_ids(&b), b["next"].clone(), b["total"].clone())
        }
    };

    // The admin: three pages of 2, 2 and 1.
    let first = page(format!("as={PRIMARY_ADMIN}&limit=2")).await;
    assert_eq!(first, (ids[0..2].to_vec(), json!(ids[1]), json!(5)));
    let middle = page(format!("as={PRIMARY_ADMIN}&limit=2&after={}", ids[1])).await;
    assert_eq!(middle, (ids[2..4].to_vec(), json!(ids[3]), json!(5)));
    let last = page(format!("as={PRIMARY_ADMIN}&limit=2&after={}", ids[3])).await;
    assert_eq!(last, (ids[4..].to_vec(), Value::Null, json!(5)));
    // The teacher: only the even classes, on every page.
    let first = page(format!("as={teacher}&limit=2")).await;
    assert_eq!(
        first,
        (
            vec![ids[0].clone(), ids[2].clone()],
            json!(ids[2]),
            json!(3)
        )
    );
    let last = page(format!("as={teacher}&limit=2&after={}", ids[2])).await;
    assert_eq!(last, (vec![ids[4].clone()], Value::Null, json!(3)));
    // Another school's admin and a filter with no match: an empty last page.
    let none = (Vec::<String>::new(), Value::Null, json!(0));
    assert_eq!(page(format!("as={SECONDARY_ADMIN}")).await, none);
    assert_eq!(
        page(format!("as={PRIMARY_ADMIN}&year_group=11")).await,
        none
    );
    // Without `limit`, up to 100.
    assert_eq!(page(format!("as={PRIMARY_ADMIN}")).await.0, ids);

    for bad in ["limit=0", "limit=1001", "limit=-1", "limit=lots"] {
        let (st, b) = s
            .get(
                &format!("/v1/groups?as={PRIMARY_ADMIN}&{bad}"),
                Some(UMP_TOKEN),
            )
            .await;
        assert_eq!((st, code(&b)), (400, "invalid"), "{bad}: {b}");
    }
    s.stop().await;
}

/// Sends `body` as it is, with `content_type`.
async fn raw(
    s: &Served,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let resp = s
        .http
        .request(method, format!("{}{path}", s.base))
        .bearer_auth(UMP_TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies_are_refused_clearly() {
    let (mut app, snap) = archived_year(quick_mock_options()).await;
    app.enable_api("");
    app.config.api.max_body_bytes = 4096;
    let g = snap.groups[0].id.clone();
    let s = app.serve_on("2026-09-02").await;
    let restore = format!("/v1/groups/{g}/restore");
    let json_type = "application/json";

    let (st, b) = raw(
        &s,
        Method::POST,
        &restore,
        json_type,
        b"{\"target\": \"teams\",".to_vec(),
    )
    .await;
    assert_eq!((st, code(&b)), (400, "invalid"), "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not valid JSON"),
        "{b}"
    );
    let (st, b) = raw(
        &s,
        Method::POST,
        &restore,
        json_type,
        br#"{"target": "teams"}"#.to_vec(),
    )
    .await;
    assert_eq!((st, code(&b)), (400, "invalid"), "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("requested_by"),
        "{b}"
    );
    let (st, b) = raw(
        &s,
        Method::POST,
        &restore,
        "text/plain",
        br#"{"target": "teams", "requested_by": "a@b.c"}"#.to_vec(),
    )
    .await;
    assert_eq!((st, code(&b)), (415, "unsupported_media_type"), "{b}");
    let big = format!(
        r#"{{"target": "teams", "requested_by": "{PRIMARY_ADMIN}", "padding": "{}"}}"#,
        "x".repeat(8000)
    );
    let (st, b) = raw(&s, Method::POST, &restore, json_type, big.into_bytes()).await;
    assert_eq!((st, code(&b)), (413, "payload_too_large"), "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("4096 bytes"),
        "{b}"
    );
    let learners: Vec<String> = (0..400)
        .map(|i| format!("learner{i:04}@hwbcymru.net"))
        .collect();
    let (st, b) = s
        .put(&format!("/v1/groups/{g}"), Some(UMP_TOKEN), json!({"school": "6612001", "academic_year": "2025-26", "name": "Big", "teachers": ["t@hwbcymru.net"], "learners": learners}))
        .await;
    assert_eq!((st, code(&b)), (413, "payload_too_large"), "{b}");
    assert_untouched(&app, &s, &g).await;

    // A group with several problems: every one, each with its pointer; nothing stored.
    let (st, b) = s
        .put(
            "/v1/groups/new-1",
            Some(UMP_TOKEN),
            json!({"id": "new-2", "school": "9999999", "academic_year": "2031-32", "name": "X",
                   "targets": ["zoom"], "teachers": ["not-an-email"], "learners": []}),
        )
        .await;
    assert_eq!((st, code(&b)), (400, "invalid"), "{b}");
    let pointers: Vec<&str> = b["error"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["pointer"].as_str())
        .collect();
    for p in [
        "/id",
        "/school",
        "/academic_year",
        "/targets/0",
        "/teachers/0",
    ] {
        assert!(pointers.contains(&p), "{p} missing from {b}");
    }
    let (st, b) = s.get("/v1/groups/new-1", Some(UMP_TOKEN)).await;
    assert_eq!((st, code(&b)), (404, "not_found"), "nothing stored: {b}");

    // Routes and parameters axum itself rejects still answer in the one shape.
    let (st, b) = s.get("/v1/nowhere", Some(UMP_TOKEN)).await;
    assert_eq!((st, code(&b)), (404, "not_found"), "{b}");
    let (st, b) = s
        .call(
            Method::DELETE,
            &format!("/v1/groups/{g}"),
            Some(OPERATOR_TOKEN),
            None,
        )
        .await;
    assert_eq!((st, code(&b)), (405, "method_not_allowed"), "{b}");
    let (st, b) = s.get("/v1/jobs/seven", Some(UMP_TOKEN)).await;
    assert_eq!((st, code(&b)), (400, "invalid"), "{b}");
    let (st, b) = s.get("/v1/jobs/999999", Some(UMP_TOKEN)).await;
    assert_eq!((st, code(&b)), (404, "not_found"), "{b}");
    let (st, b) = s
        .post("/v1/archive", Some(OPERATOR_TOKEN), json!({"year": 2025}))
        .await;
    assert_eq!((st, code(&b)), (400, "invalid"), "{b}");
    s.stop().await;
}

fn pushed_group(learners: &[&str]) -> Value {
    json!({
        "id": "6612001-2025-26-Bl4-Dosbarth",
        "school": "6612001",
        "academic_year": "2025-26",
        "name": "Blwyddyn 4 Dosbarth",
        "year_group": 4,
        "targets": ["teams"],
        "teachers": ["jonesa12@hwbcymru.net"],
        "learners": learners,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_group_applies_before_the_cutoff_and_is_only_recorded_after() {
    let mut app = TestApp::start().await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    app.mocks.add_users([
        "plentyn4.01@hwbcymru.net",
        "plentyn4.02@hwbcymru.net",
        "plentyn4.03@hwbcymru.net",
    ]);
    app.import_on("2025-09-01", &snap).await;
    let g = "6612001-2025-26-Bl4-Dosbarth";
    let path = format!("/v1/groups/{g}");

    let s = app.serve_on("2025-10-01").await;
    let (st, b) = s
        .put(
            &path,
            Some(UMP_TOKEN),
            pushed_group(&["plentyn4.01@hwbcymru.net"]),
        )
        .await;
    assert_eq!(
        (st, &b["outcome"], &b["enqueued"]),
        (201, &json!("added"), &json!(1)),
        "{b}"
    );
    let team = eventually(20, || async {
        app.mocks
            .team_by_external_id(g)
            .filter(|t| t.is_team && t.members.len() == 1)
    })
    .await
    .expect("the team is created by the worker");
    assert_eq!(team.owners, vec!["jonesa12@hwbcymru.net".to_string()]);

    let (st, b) = s
        .put(
            &path,
            Some(UMP_TOKEN),
            pushed_group(&["plentyn4.01@hwbcymru.net"]),
        )
        .await;
    assert_eq!(
        (st, &b["outcome"], &b["enqueued"]),
        (200, &json!("unchanged"), &json!(0)),
        "{b}"
    );
    let two = ["plentyn4.01@hwbcymru.net", "plentyn4.02@hwbcymru.net"];
    let (st, b) = s.put(&path, Some(UMP_TOKEN), pushed_group(&two)).await;
    assert_eq!(
        (st, &b["outcome"], &b["enqueued"]),
        (200, &json!("changed"), &json!(1)),
        "{b}"
    );
    eventually(20, || async {
        (app.team(g).members.len() == 2).then_some(())
    })
    .await
    .expect("the new learner is added");

    // An active link cannot be restored.
    let (st, b) = s.restore_as(g, "teams", "jonesa12@hwbcymru.net").await;
    assert_eq!((st, code(&b)), (409, "conflict"), "{b}");
    assert!(!app.team(g).is_archived);

    // A school class-sync does not know: refused with the reason.
    let mut unknown = pushed_group(&[]);
    unknown["school"] = json!("9999999");
    let (st, b) = s.put(&path, Some(UMP_TOKEN), unknown).await;
    assert_eq!((st, code(&b)), (400, "invalid"), "{b}");
    assert_eq!(b["error"]["problems"][0]["pointer"], "/school", "{b}");
    s.stop().await;

    // After the cutoff: recorded, not applied, and the answer says so.
    let s = app.serve_on("2026-06-02").await;
    let three = [
        "plentyn4.01@hwbcymru.net",
        "plentyn4.02@hwbcymru.net",
        "plentyn4.03@hwbcymru.net",
    ];
    let (st, b) = s.put(&path, Some(UMP_TOKEN), pushed_group(&three)).await;
    assert_eq!(
        (st, &b["outcome"], &b["enqueued"]),
        (200, &json!("changed"), &json!(0)),
        "{b}"
    );
    assert_eq!(b["held_back"]["after mis_sync_cutoff"], 1, "{b}");
    assert!(
        b["message"].as_str().unwrap_or("").contains("not applied"),
        "{b}"
    );
    let (_, doc) = s.get(&path, Some(UMP_TOKEN)).await;
    assert_eq!(doc["links"][0]["held_changes"], true, "{doc}");
    s.stop().await;
    assert_eq!(app.team(g).members.len(), 2, "the team kept its roster");
}

/// A storm's worth of groups in one school, Teams only.
fn storm(n: usize) -> Snapshot {
    Snapshot {
        schools: vec![School {
            id: "6612001".into(),
            name: "Ysgol Storm".into(),
            admins: vec![PRIMARY_ADMIN.into()],
        }],
        groups: (0..n)
            .map(|i| Group {
                id: format!("6612001-2025-26-S{i:03}"),
                school: "6612001".into(),
                academic_year: "2025-26".into(),
                name: format!("Storm {i}"),
                year_group: Some(7),
                subject: None,
                targets: vec![Target::Teams],
                teachers: vec!["jonesa12@hwbcymru.net".into()],
                learners: vec![format!("dysgwr{i:03}@hwbcymru.net")],
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_runs_the_nightly_job_once_a_day_at_its_time() {
    let app = TestApp::start().await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    app.import_on("2025-09-01", &snap).await;
    let process = app.on("2026-09-01").await;
    let store = process.store.clone();
    let last = || {
        let store = store.clone();
        async move { store.last_run("nightly", false).await.expect("runs") }
    };

    // Two `serve` processes on one store, at midnight London time on archive day (nightly_at 01:30).
    let clock = Arc::new(ManualClock::new("2026-08-31T23:00:00Z".parse().unwrap()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut schedulers = Vec::new();
    for _ in 0..2 {
        let other = app.following_london().await;
        schedulers.push(tokio::spawn(scheduler::run(
            other,
            clock.clone(),
            stopped.clone(),
        )));
    }
    clock.settled(2).await;
    assert!(last().await.is_none(), "not before 01:30");

    // 01:30 BST is 00:30 UTC: one run, archiving everything once the worker has done its jobs.
    clock.set("2026-09-01T00:30:00Z".parse().unwrap());
    let run = eventually(10, || async { last().await })
        .await
        .expect("a run at 01:30");
    assert_eq!(run.today, "2026-09-01");
    // The run is visible from its start; its jobs are all queued once the day's claim settles.
    eventually(10, || async {
        (!store
            .schedule_unsettled("nightly", "2026-09-01")
            .await
            .expect("claims"))
        .then_some(())
    })
    .await
    .expect("the night's work enqueued");
    let r = app.work(&process).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    for g in &snap.groups {
        assert!(app.team(&g.id).is_archived, "{} archived", g.id);
        assert_eq!(app.course(&g.id).state, "ARCHIVED");
    }
    let run = eventually(10, || async {
        last().await.filter(|r| r.finished_at.is_some())
    })
    .await
    .expect("the run is recorded when its jobs end");
    assert_eq!(run.ok, Some(true), "{run:?}");
    assert!(
        run.summary.contains("archive 8") && run.summary.contains("8 done, 0 failed"),
        "{}",
        run.summary
    );

    // A restart later the same day does not run it again; the next day it runs once more.
    let restarted = app.following_london().await;
    schedulers.push(tokio::spawn(scheduler::run(
        restarted,
        clock.clone(),
        stopped.clone(),
    )));
    clock.set("2026-09-01T05:00:00Z".parse().unwrap());
    clock.settled(3).await;
    assert_eq!(last().await.map(|r| r.id), Some(run.id), "once a day");
    clock.set("2026-09-02T00:30:00Z".parse().unwrap());
    let next = eventually(10, || async {
        last().await.filter(|r| r.today == "2026-09-02")
    })
    .await
    .expect("the next day's run");
    clock.settled(3).await;
    assert_eq!(
        last().await.map(|r| r.id),
        Some(next.id),
        "three processes, one run"
    );
    assert_eq!(next.id, run.id + 1);
    stop.send_replace(true);
    for s in schedulers {
        s.await.expect("scheduler task").expect("scheduler");
    }

    // A process that starts after the time on a day nobody ran it catches up at once.
    let clock = Arc::new(ManualClock::new("2026-09-03T10:00:00Z".parse().unwrap()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let late = tokio::spawn(scheduler::run(app.following_london().await, clock, stopped));
    eventually(10, || async {
        last().await.filter(|r| r.today == "2026-09-03")
    })
    .await
    .expect("catch-up run");
    stop.send_replace(true);
    late.await.expect("task").expect("scheduler");
}

/// A `serve` process of the binary, its logs collected.
struct ServeProcess {
    child: std::process::Child,
    logs: Arc<std::sync::Mutex<Vec<String>>>,
    base: String,
}

fn spawn_serve(app: &TestApp, day: &str) -> ServeProcess {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .arg("--config")
        .arg(app.config_path())
        .args(["--today", day, "serve"])
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let logs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["fields"]["message"] == "listening"
                && let Some(addr) = v["fields"]["addr"].as_str()
            {
                let _ = addr_tx.send(addr.to_string());
            }
            sink.lock().unwrap().push(line);
        }
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("serve did not start: {:?}", logs.lock().unwrap()));
    ServeProcess {
        child,
        logs,
        base: format!("http://{addr}"),
    }
}

impl ServeProcess {
    async fn call(&self, method: Method, path: &str, token: &str, body: Value) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// SIGTERM, then the exit status (within 30 s) and every log line.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not stop within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(200)); // the log reader drains the pipe
        let logs = self.logs.lock().unwrap().clone();
        (status, logs)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_storm_loses_nothing_and_no_secret_is_logged() {
    let mut app = TestApp::start_with(MockOptions {
        operation_delay: Duration::from_millis(400),
        ..quick_mock_options()
    })
    .await;
    app.enable_api("shutdown_grace_seconds = 0.2\nconcurrency = 6");
    let snap = storm(36);
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    let (_, r) = app.import_on("2025-09-01", &snap).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);

    let serve = spawn_serve(&app, "2026-09-01");
    let (st, b) = serve
        .call(
            Method::POST,
            "/v1/archive",
            OPERATOR_TOKEN,
            json!({"year": "2025-26"}),
        )
        .await;
    // (Its scheduler, on the real clock, may have enqueued the same archives as the day's nightly run.)
    assert_eq!(st, 202, "{b}");
    // Wrong and right tokens both pass through the process; neither may reach a log line.
    let (st, _) = serve
        .call(
            Method::GET,
            "/v1/status",
            "wrong-token-should-not-be-logged",
            json!({}),
        )
        .await;
    assert_eq!(st, 401);
    let archived = |app: &TestApp| {
        snap.groups
            .iter()
            .filter(|g| {
                app.mocks
                    .team_by_external_id(&g.id)
                    .is_some_and(|t| t.is_archived)
            })
            .count()
    };
    eventually(20, || async { (archived(&app) >= 2).then_some(()) })
        .await
        .expect("the storm is under way");
    let (status, mut logs) = serve.terminate();
    assert!(
        status.success(),
        "serve exits 0 on SIGTERM: {status:?}\n{}",
        logs.join("\n")
    );
    assert!(
        logs.iter().any(|l| l.contains("SIGTERM received")),
        "the logs were captured"
    );

    assert!(archived(&app) < snap.groups.len(), "stopped mid-storm");
    // Nothing is left leased to the stopped process: every job is done or back in the queue.
    let store = app.on("2026-09-01").await.store.clone();
    let counts = store.job_counts().await.expect("counts");
    assert!(
        !counts
            .iter()
            .any(|(_, state, n)| state == "running" && *n > 0),
        "{counts:?}"
    );

    // A restarted process finishes the storm: every team archived, once, and no job failed.
    let serve = spawn_serve(&app, "2026-09-01");
    eventually(60, || async {
        (archived(&app) == snap.groups.len()).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{} of {} archived", archived(&app), snap.groups.len()));
    let (_, status_doc) = serve
        .call(Method::GET, "/v1/status", UMP_TOKEN, json!({}))
        .await;
    let (st, more) = serve.terminate();
    assert!(st.success());
    logs.extend(more);
    let counts = store.job_counts().await.expect("counts");
    assert!(
        !counts
            .iter()
            .any(|(_, state, n)| state == "failed" && *n > 0),
        "{counts:?}"
    );
    assert_eq!(
        app.mocks.teams().len(),
        snap.groups.len(),
        "nothing made twice: {status_doc}"
    );

    let key = app.mocks.service_account_key_json();
    let key: Value = serde_json::from_str(&key).expect("key json");
    let private_key_line = key["private_key"]
        .as_str()
        .expect("private key")
        .lines()
        .nth(1)
        .expect("a line of key material")
        .to_string();
    let secrets = [
        UMP_TOKEN.to_string(),
        OPERATOR_TOKEN.to_string(),
        "wrong-token-should-not-be-logged".to_string(),
        app.mocks.options().client_secret,
        private_key_line,
    ];
    assert!(logs.len() > 10, "debug logs were written");
    for secret in &secrets {
        if let Some(line) = logs.iter().find(|l| l.contains(secret.as_str())) {
            panic!("a secret reached the logs: {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_for_a_link_whose_job_is_running_is_still_accepted() {
    use class_sync::core::job::{JobKind, Lane};
    use class_sync::store::NewJob;
    let app = TestApp::start().await;
    let snap = sample_snapshot();
    app.import_on("2025-08-01", &snap).await; // before creation: stored, nothing queued
    let store = app.on("2025-08-01").await.store.clone();
    let job = |kind| NewJob {
        kind,
        group_id: snap.groups[0].id.clone(),
        target: Target::Teams,
        lane: Lane::Operator,
        requested_by: Some("test".into()),
        max_attempts: 3,
    };
    let (first, _) = store
        .enqueue(&job(JobKind::Archive), 1)
        .await
        .expect("enqueue");
    let claimed = store
        .claim("w1", Target::Teams, 1, 2, 60_000, 0)
        .await
        .expect("claim")
        .pop()
        .expect("a job");
    assert_eq!(claimed.id, first);
    // The same archive asked again while the first runs (the nightly storm and an operator).
    let (second, fresh) = store
        .enqueue(&job(JobKind::Archive), 3)
        .await
        .expect("enqueue while running");
    assert!(fresh && second != first);
    // Shutdown hands the running one back beside the waiting one.
    assert_eq!(store.release_held("w1").await.expect("release"), 1);
    // A restore stays one per link while queued or running.
    let (r1, _) = store
        .enqueue(&job(JobKind::Restore), 4)
        .await
        .expect("restore");
    let (r2, fresh) = store
        .enqueue(&job(JobKind::Restore), 5)
        .await
        .expect("restore again");
    assert_eq!((r2, fresh), (r1, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_to_start_without_its_token_files() {
    let app = TestApp::start().await;
    // The mock config has no [api] token files.
    let out = app.bin("2025-10-01", &["serve"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("class-sync.toml: api.ump_token_file: missing"),
        "{err}"
    );
}

/// Slowloris: a client that sends its headers a line at a time, slower than `serve` allows, is
/// disconnected once the header read timeout passes; a prompt client is answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_headers_too_slowly_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut app = TestApp::start_with(quick_mock_options()).await;
    let s = app.serve_on("2025-10-01").await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("first line");
    let started = std::time::Instant::now();
    let limit = class_sync::api::listen::HEADER_READ_TIMEOUT;
    // One header line every second: never done, always "active".
    let mut closed_after = None;
    for i in 0..(limit.as_secs() * 3) {
        let (status, _) = s.get("/healthz", None).await;
        assert_eq!(status, 200, "others are served meanwhile");
        let line = format!("X-Trickle-{i}: y\r\n");
        if slow.write_all(line.as_bytes()).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            // hyper answers 408 before it closes.
            Ok(Ok(n)) => {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(text.starts_with("HTTP/1.1 408"), "{text}");
                closed_after = Some(started.elapsed());
                break;
            }
            Err(_) => {}
        }
    }
    let closed_after = closed_after.expect("the slow client was disconnected");
    assert!(
        closed_after >= limit - Duration::from_secs(1) && closed_after < limit * 2,
        "disconnected after {closed_after:?} (limit {limit:?})"
    );
    s.stop().await;
}

/// Fifty presses of the same Restore at once, over HTTP: one job, one unarchive in Teams; every
/// answer is the same job (202) or, once it is done, a conflict (409); none is a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_presses_of_one_restore_make_one_job() {
    let (mut app, snap) = archived_year(quick_mock_options()).await;
    let g = snap.groups[0].id.clone();
    let s = Arc::new(app.serve_on("2026-09-02").await);
    app.mocks.clear_calls();
    let presses = (0..50).map(|_| {
        let s = s.clone();
        let g = g.clone();
        tokio::spawn(async move { s.restore_as(&g, "teams", "jonesa12@hwbcymru.net").await })
    });
    let mut jobs = std::collections::BTreeSet::new();
    for press in presses {
        let (status, body) = press.await.expect("press");
        match status {
            202 => {
                jobs.insert(body["job"].as_i64().expect("job id"));
            }
            409 => assert_eq!(code(&body), "conflict", "{body}"),
            other => panic!("a press answered {other}: {body}"),
        }
    }
    assert_eq!(jobs.len(), 1, "one job for every accepted press: {jobs:?}");
    let job = *jobs.iter().next().expect("a job");
    let end = s.job_end(&json!(job)).await;
    assert_eq!(end["state"], "done", "{end}");
    let unarchives = app
        .mocks
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/unarchive"))
        .count();
    assert_eq!(unarchives, 1, "the team was unarchived once");
    assert!(!app.team(&g).is_archived);
    Arc::try_unwrap(s).ok().expect("one owner").stop().await;
}
