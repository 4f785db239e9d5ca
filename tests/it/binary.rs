//! The binary as operators run it: exit statuses, error messages, nothing half-applied.

use crate::support::TestApp;
use class_sync::demo::{accounts, sample_snapshot};

fn snapshot_json(snap: &class_sync::core::domain::Snapshot) -> String {
    serde_json::to_string_pretty(
        &serde_json::json!({ "schools": snap.schools, "groups": snap.groups }),
    )
    .unwrap()
}

/// The mocks with every sample account, and the sample snapshot written as the UMP would send it.
async fn sample_on_disk() -> (
    TestApp,
    class_sync::core::domain::Snapshot,
    std::path::PathBuf,
) {
    let app = TestApp::start().await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    let path = app.dir.path().join("ump.json");
    std::fs::write(&path, snapshot_json(&snap)).unwrap();
    (app, snap, path)
}

/// Exit status 0, or the command's output in the failure message.
fn assert_succeeded(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_snapshot_lists_every_problem_and_stores_nothing() {
    let app = TestApp::start().await;
    let path = app.dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{
  "schools": [{"id": "6612001", "name": "Ysgol", "admins": ["admin@hwbcymru.net"]}],
  "groups": [
    {"id": "ok-1", "school": "6612001", "academic_year": "2025-26", "name": "Fine", "targets": ["teams"],
     "teachers": ["t@hwbcymru.net"], "learners": []},
    {"id": "bad id!", "school": "6612001", "academic_year": "2025-26", "name": "X", "targets": ["teams"],
     "teachers": ["t@hwbcymru.net"], "learners": ["not-an-email"]},
    {"id": "bad-2", "school": "9999999", "academic_year": "2031-32", "name": "Y", "targets": ["zoom"],
     "teachers": [], "learners": []}
  ]
}"#,
    )
    .unwrap();
    let out = app.bin("2025-09-01", &["import", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for needle in [
        "bad.json:6: /groups/1/id",
        "/groups/1/learners/0",
        "/groups/2/school",
        "/groups/2/academic_year",
        "/groups/2/targets",
    ] {
        assert!(err.contains(needle), "stderr should name {needle}:\n{err}");
    }
    // Nothing stored, not even the valid group.
    let status = app.bin("2025-09-01", &["status", "ok-1", "--json"]);
    assert_eq!(status.status.code(), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_exit_statuses_and_status_json() {
    let (app, snap, path) = sample_on_disk().await;
    let out = app.bin("2025-09-01", &["import", path.to_str().unwrap()]);
    assert_succeeded(&out);
    assert!(
        text(&out.stdout).contains("4 added"),
        "{}",
        text(&out.stdout)
    );

    let g = &snap.groups[0].id;
    // Not archived yet: conflict.
    let out = app.bin(
        "2025-10-01",
        &[
            "restore",
            g,
            "--target",
            "teams",
            "--as",
            "jonesa12@hwbcymru.net",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let out = app.bin("2026-09-01", &["nightly"]);
    assert_succeeded(&out);
    // A learner: forbidden, nothing changed.
    let out = app.bin(
        "2026-09-02",
        &[
            "restore",
            g,
            "--target",
            "teams",
            "--as",
            "plentyn5.01@hwbcymru.net",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(app.team(g).is_archived);
    let out = app.bin(
        "2026-09-02",
        &[
            "restore",
            "nope",
            "--target",
            "teams",
            "--as",
            "jonesa12@hwbcymru.net",
        ],
    );
    assert_eq!(out.status.code(), Some(5));
    let out = app.bin(
        "2026-09-02",
        &[
            "restore",
            g,
            "--target",
            "teams",
            "--as",
            "jonesa12@hwbcymru.net",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!app.team(g).is_archived);

    let out = app.bin("2026-09-02", &["status", g, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    assert_eq!(doc["group"], g.as_str());
    let teams = doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["target"] == "teams")
        .unwrap();
    assert_eq!(teams["state"], "restored");
    assert_eq!(teams["mis_linked"], false);
    assert!(teams["remote_id"].is_string());
    let classroom = doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["target"] == "classroom")
        .unwrap();
    assert_eq!(classroom["state"], "archived");

    let out = app.bin("2026-09-02", &["status"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("2025-26"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_config_problem_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class-sync.toml");
    std::fs::write(&path, "[worker]\nconcurrency = 0\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .arg("--config")
        .arg(&path)
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("class-sync.toml:2: worker.concurrency"),
        "{err}"
    );
}

#[test]
fn an_unreachable_store_is_an_internal_error_not_a_failed_job() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class-sync.toml");
    // A store in a folder that does not exist cannot be opened.
    let db = dir.path().join("no-such-folder").join("store.db");
    std::fs::write(
        &path,
        format!("database_url = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    for args in [&["status"][..], &["nightly"], &["work", "--until-idle"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
            .arg("--config")
            .arg(&path)
            .args(args)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line naming it: {err}");
        assert!(err.contains("no-such-folder"), "names the store: {err}");
    }
}

#[test]
fn an_unreachable_postgres_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class-sync.toml");
    // Port 1: nothing listens there.
    std::fs::write(
        &path,
        "database_url = \"postgres://app:s3cret-pw@127.0.0.1:1/sync\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .arg("--config")
        .arg(&path)
        .arg("status")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("127.0.0.1:1"), "names the server: {err}");
    assert!(!err.contains("s3cret-pw"), "never the password: {err}");
}

#[test]
fn archive_before_its_date_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class-sync.toml");
    std::fs::write(
        &path,
        format!(
            "database_url = \"sqlite://{}\"\n[[years]]\nname = \"2025-26\"\nnew_groups_from = \"2025-08-28\"\nmis_sync_cutoff = \"2026-06-01\"\narchive_on = \"2026-09-01\"\n",
            dir.path().join("db.sqlite").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
            .arg("--config")
            .arg(&path)
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(
        run(&["--today", "2026-08-01", "archive", "--year", "2025-26"])
            .status
            .code(),
        Some(4)
    );
    assert_eq!(
        run(&[
            "--today",
            "2026-08-01",
            "archive",
            "--year",
            "2025-26",
            "--dry-run"
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        run(&[
            "--today",
            "2026-08-01",
            "archive",
            "--year",
            "2025-26",
            "--force"
        ])
        .status
        .code(),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_survive_the_process_and_a_later_worker_does_them() {
    let (app, _, path) = sample_on_disk().await;
    let out = app.bin(
        "2025-09-01",
        &["import", path.to_str().unwrap(), "--no-wait"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(app.mocks.teams().is_empty(), "--no-wait did no remote work");
    let status = app.bin("2025-09-01", &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["queue"]["reconcile"]["queued"], 8, "{doc}");
    let out = app.bin("2025-09-01", &["work", "--until-idle"]);
    assert_succeeded(&out);
    assert_eq!(app.mocks.teams().iter().filter(|t| t.is_team).count(), 4);
    assert_eq!(app.mocks.courses().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_command_lets_a_live_worker_do_the_work() {
    let (app, snap, path) = sample_on_disk().await;
    // A long-lived worker, as an operator would run it beside the CLI.
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .arg("--config")
        .arg(app.config_path())
        .args(["--today", "2025-09-01", "work"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start a worker");
    let store = app.on("2025-09-01").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while class_sync::work::worker::live_worker(&store, None)
        .await
        .unwrap()
        .is_none()
    {
        if let Some(exit) = worker.try_wait().unwrap() {
            panic!("the worker exited before registering: {exit}");
        }
        assert!(std::time::Instant::now() < deadline, "the worker registers");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let out = app.bin("2025-09-01", &["import", path.to_str().unwrap()]);
    assert_succeeded(&out);
    assert!(
        text(&out.stderr).contains(&format!("worker (pid {}) is running", worker.id())),
        "{}",
        text(&out.stderr)
    );
    // The import returned once the live worker had done its jobs.
    for g in &snap.groups {
        for target in &g.targets {
            let link = store.store.link(&g.id, *target).await.unwrap().unwrap();
            assert_eq!(
                link.state(),
                class_sync::core::link::LinkState::Active,
                "{}",
                g.id
            );
        }
        assert!(app.team(&g.id).is_team);
    }

    // Operators see it in `status`.
    let status = app.bin("2025-09-01", &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let workers = doc["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{doc}");
    assert_eq!(workers[0]["kind"], "work");
    assert_eq!(workers[0]["pid"], worker.id());

    // SIGTERM: the worker stops cleanly and leaves the registry.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = worker.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut done = String::new();
    std::io::Read::read_to_string(&mut worker.stdout.take().unwrap(), &mut done).unwrap();
    assert!(done.contains("0 failed"), "{done}");
    assert!(
        class_sync::work::worker::live_worker(&store, None)
            .await
            .unwrap()
            .is_none()
    );
}

/// `demo --serve`: after the narrated year the console, API and mocks keep running; the printed URL
/// answers with the sign-in page, the accounts are printed, and SIGTERM ends it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serve_keeps_the_console_running_and_prints_how_to_sign_in() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .args(["demo", "--serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn demo");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut console = None;
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(120)) {
        if let Some(url) = line.trim().strip_prefix("console:") {
            console = url.split_whitespace().next().map(str::to_string);
        }
        let done = line.contains("operator (status");
        lines.push(line);
        if done {
            break;
        }
    }
    let console = console.unwrap_or_else(|| panic!("no console URL printed: {lines:#?}"));
    let all = lines.join("\n");
    assert!(
        all.contains("Every step behaved as the rules say."),
        "{all}"
    );
    assert!(all.contains("admin.primary@hwbcymru.net"), "{all}");
    assert!(all.contains("jonesa12@hwbcymru.net"), "{all}");
    assert!(all.contains("servicedesk@hwbcymru.net"), "{all}");
    let page = reqwest::get(&console).await.expect("the console answers");
    assert_eq!(page.status(), 200);
    let body = page.text().await.expect("body");
    assert!(body.contains("Sign in with Microsoft"), "{body}");
    // SAFETY: signalling our own child process by its id.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("demo ends");
    assert!(status.success(), "{status:?}");
}
