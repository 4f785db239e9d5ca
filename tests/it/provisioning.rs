//! Provisioning status: every import recorded per school (when, source, what it did), shown by
//! `status --school`, `GET /v1/schools[/{id}]` and `/metrics`, and a school whose data has not
//! arrived for `[import] stale_after_days` flagged stale.

use crate::support::{OPERATOR_TOKEN, TestApp, UMP_TOKEN};
use class_sync::core::domain::Snapshot;
use class_sync::demo::{accounts, sample_snapshot};
use serde_json::Value;
use std::path::{Path, PathBuf};

const PRIMARY: &str = "6612001";
const SECONDARY: &str = "6614002";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/oneroster")
        .join(name)
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// `status --school ID --json` on `day`, parsed.
fn school_json(app: &TestApp, day: &str, school: &str) -> Value {
    let out = app.bin(day, &["status", "--school", school, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("status --school --json is JSON")
}

/// A OneRoster bulk set and then a delta, through the binary: each is recorded for the school it
/// covered, with its source and counts; the history is newest first; eight days without an
/// import make the school stale in `status --school` and in the overall `status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_import_is_recorded_for_its_school_and_a_silent_school_turns_stale() {
    let app = TestApp::start().await;
    app.mocks
        .add_users(accounts(&sample_snapshot()).iter().map(String::as_str));
    let bulk = fixture("bulk");
    let out = app.bin("2025-09-08", &["import", bulk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let doc = school_json(&app, "2025-09-08", SECONDARY);
    assert_eq!(doc["school"], SECONDARY);
    assert_eq!(doc["name"], "Ysgol Uwchradd Enghraifft");
    let last = &doc["last_import"];
    assert_eq!(last["format"], "oneroster bulk");
    assert_eq!(last["file"], bulk.to_str().unwrap());
    assert_eq!(last["day"], "2025-09-08");
    assert_eq!(
        (&last["added"], &last["changed"], &last["withdrawn"]),
        (&Value::from(2), &Value::from(0), &Value::from(0))
    );
    assert_eq!(last["enqueued"], 3, "{doc}");
    assert_eq!(
        (&doc["stale"], &doc["days_since_import"]),
        (&false.into(), &0.into())
    );

    let delta = fixture("delta");
    let out = app.bin("2025-10-06", &["import", delta.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc = school_json(&app, "2025-10-06", SECONDARY);
    let history = doc["history"].as_array().expect("history");
    let formats: Vec<&str> = history
        .iter()
        .map(|i| i["format"].as_str().unwrap())
        .collect();
    assert_eq!(
        formats,
        ["oneroster delta", "oneroster bulk"],
        "newest first"
    );
    assert_eq!(doc["last_import"], history[0]);
    assert_eq!(
        doc["last_import"]["withdrawn"], 1,
        "the delta withdrew 8B-Sc2"
    );

    // Seven days on it is current; eight days on, stale.
    let doc = school_json(&app, "2025-10-13", SECONDARY);
    assert_eq!(
        (&doc["stale"], &doc["days_since_import"]),
        (&false.into(), &7.into())
    );
    let doc = school_json(&app, "2025-10-14", SECONDARY);
    assert_eq!(
        (&doc["stale"], &doc["days_since_import"]),
        (&true.into(), &8.into())
    );
    let out = app.bin("2025-10-14", &["status", "--school", SECONDARY]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("last run: 2025-10-06 (8 days ago), oneroster delta"),
        "{shown}"
    );
    assert!(
        shown.contains("STALE: no import for 8 days or more"),
        "{shown}"
    );
    let out = app.bin("2025-10-14", &["status"]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("schools: 1 known, 1 stale (no import for 8 days or more): 6614002"),
        "{shown}"
    );

    let out = app.bin("2025-10-14", &["status", "--school", "6699999"]);
    assert_eq!(out.status.code(), Some(5), "an unknown school is not found");
    assert!(text(&out.stderr).contains("no school `6699999`"));
}

/// A JSON snapshot records every school it lists (one with no groups too), each with only its own
/// groups' counts and the work held back for them (here: before the year's creation date).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_records_each_listed_school_with_its_own_counts_and_held_work() {
    let app = TestApp::start().await;
    let mut snap: Snapshot = sample_snapshot();
    snap.schools.push(class_sync::core::domain::School {
        id: "6619003".into(),
        name: "Ysgol Newydd".into(),
        admins: vec!["admin.newydd@hwbcymru.net".into()],
    });
    // Before `new_groups_from`: nothing is created, each school counts what waits.
    let (summary, _) = app.import_on("2025-08-01", &snap).await;
    let on = app.on("2025-08-01").await;
    let staleness = class_sync::status::Staleness {
        today: "2025-08-01".parse().unwrap(),
        after_days: 8,
    };
    let mut held_total = 0;
    for (school, groups) in [(PRIMARY, 2), (SECONDARY, 2), ("6619003", 0)] {
        let doc = class_sync::status::school(&*on.store, school, staleness)
            .await
            .unwrap()
            .unwrap();
        let last = doc.last_import.expect("recorded");
        assert_eq!((last.format.as_str(), last.file.as_deref()), ("json", None));
        assert_eq!((last.added, last.enqueued), (groups, 0), "{school}");
        let held: u64 = last.held_back.values().sum();
        if groups > 0 {
            assert_eq!(
                last.held_back.keys().collect::<Vec<_>>(),
                ["before new_groups_from"]
            );
            assert!(held >= groups, "{school}: {:?}", last.held_back);
        }
        held_total += held;
        assert!(!doc.stale);
    }
    assert_eq!(summary.schools, 3);
    assert_eq!(
        held_total,
        summary.held_back.values().sum::<u64>(),
        "per school adds up"
    );
}

/// `GET /v1/schools` pages through every school in id order with its last import; one school
/// comes with its history; a bad `limit` is refused; `/metrics` has each school's last import.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_metrics_show_each_schools_last_import() {
    let mut app = TestApp::start().await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    app.import_on("2025-09-01", &snap).await;
    let s = app.serve_on("2025-09-12").await;

    let (status, page) = s.get("/v1/schools?limit=1", Some(UMP_TOKEN)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (&page["total"], &page["next"]),
        (&2.into(), &PRIMARY.into())
    );
    assert_eq!(page["schools"][0]["school"], PRIMARY);
    assert_eq!(page["schools"][0]["last_import"]["added"], 2);
    assert_eq!(page["schools"][0]["days_since_import"], 11);
    assert_eq!(
        page["schools"][0]["stale"], true,
        "11 days without an import"
    );
    assert!(
        page["schools"][0].get("history").is_none(),
        "lists carry no history"
    );
    let (_, rest) = s
        .get(
            &format!("/v1/schools?limit=1&after={PRIMARY}"),
            Some(UMP_TOKEN),
        )
        .await;
    assert_eq!(rest["schools"][0]["school"], SECONDARY);
    assert_eq!(rest["next"], Value::Null, "the last page");
    let (_, all) = s.get("/v1/schools", Some(OPERATOR_TOKEN)).await;
    assert_eq!(all["schools"].as_array().unwrap().len(), 2);
    assert_eq!(all["stale_after_days"], 8);

    for bad in ["limit=0", "limit=1001", "limit=many"] {
        let (status, body) = s.get(&format!("/v1/schools?{bad}"), Some(UMP_TOKEN)).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = s.get("/v1/schools", None).await;
    assert_eq!(status, 401);

    let (status, one) = s
        .get(&format!("/v1/schools/{SECONDARY}"), Some(UMP_TOKEN))
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["history"].as_array().unwrap().len(), 1);
    assert_eq!(one["history"][0]["format"], "json");
    let (status, body) = s.get("/v1/schools/6699999", Some(UMP_TOKEN)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("class_sync_school_last_import_timestamp_seconds{")
                && l.contains(&format!("school=\"{PRIMARY}\""))
        })
        .unwrap_or_else(|| panic!("no last-import gauge for {PRIMARY}:\n{metrics}"));
    let at: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let now = class_sync::app::App::now_ms() as f64 / 1000.0;
    assert!((now - at).abs() < 600.0, "{line}: the import ran just now");
    assert!(metrics.contains("class_sync_schools_stale 2"), "{metrics}");
    s.stop().await;
}
