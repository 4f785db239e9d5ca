//! No secret reaches a log line, an error answer or a page: the release-shaped binary's `serve`,
//! logging at `trace`, is driven through the API (good, wrong and missing tokens) and the console
//! (sign-in with its code and id_token, a session, CSRF tokens, a Restore, a forged POST); then its
//! whole log and every answer are searched for each secret it held or was sent.

use crate::console::{PRIMARY_TEACHER, Visitor, group_id};
use crate::support::{OPERATOR_TOKEN, TestApp, UMP_TOKEN};
use class_sync::demo::{accounts, quick_mock_options, sample_snapshot};
use std::io::Read;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line_an_answer_or_a_page_at_trace() {
    let mut app = TestApp::start_with(quick_mock_options()).await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    let (_, r) = app.import_on("2025-09-01", &snap).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let (_, r) = app.nightly_on("2026-09-01").await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);

    // `serve` on a port chosen now, so the console's public_url can name it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    app.enable_api("");
    let o = app.mocks.options();
    let path = app.config_path();
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text.replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    ) + &format!(
        "\n[console]\nclient_id = \"{}\"\nclient_secret = \"{}\"\npublic_url = \"{base}\"\n",
        o.sign_in_client_id, o.sign_in_client_secret
    );
    std::fs::write(&path, text).expect("config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .arg("--config")
        .arg(&path)
        .args(["--today", "2026-09-02", "serve"])
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut stderr = child.stderr.take().expect("stderr");
    let log_reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        String::from_utf8_lossy(&all).into_owned()
    });
    let up = crate::support::eventually(30, || async {
        reqwest::get(format!("{base}/healthz")).await.ok()
    })
    .await;
    assert!(up.is_some(), "serve did not start");

    let mut answers = String::new();
    let http = reqwest::Client::new();
    // The API: each token, a wrong one, a malformed header.
    for (path, token) in [
        ("/v1/groups?as=jonesa12@hwbcymru.net", UMP_TOKEN),
        ("/v1/status?audit=50", OPERATOR_TOKEN),
        ("/v1/status", "Bearer-wrong-token-9f8e7d6c5b4a"),
        ("/v1/audit", UMP_TOKEN),
    ] {
        let resp = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        answers.push_str(&resp.text().await.unwrap_or_default());
    }
    let resp = http
        .get(format!("{base}/v1/status"))
        .header("Authorization", format!("Basic {OPERATOR_TOKEN}"))
        .send()
        .await
        .expect("request");
    answers.push_str(&resp.text().await.unwrap_or_default());

    // The console: a sign-in (code, id_token, session), a Restore, a forged POST.
    let mut v = Visitor::at(&base);
    let page = v.sign_in(PRIMARY_TEACHER).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let session = v.cookie("class_sync_session").expect("a session");
    let bl5 = group_id("Bl5-Dosbarth", &snap);
    let group_page = v.get(&format!("/groups/{bl5}")).await;
    let csrf = Visitor::csrf(&group_page);
    let pressed = v
        .post(
            &format!("/groups/{bl5}/restore"),
            &[("csrf", &csrf), ("target", "teams")],
        )
        .await;
    assert_eq!(pressed.status, 200, "{}", pressed.body);
    let forged = v
        .post(
            &format!("/groups/{bl5}/restore"),
            &[("target", "classroom")],
        )
        .await;
    assert_eq!(forged.status, 403);
    // Let the worker restore the team (Graph tokens are fetched and used).
    let restored =
        crate::support::eventually(30, || async { (!app.team(&bl5).is_archived).then_some(()) })
            .await;
    assert!(restored.is_some(), "the team was restored");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // SAFETY: signalling our own child process by its id.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("serve ends");
    assert!(status.success(), "{status:?}");
    let log = log_reader.join().expect("log");
    assert!(
        log.lines().count() > 50,
        "a trace-level log: {} lines",
        log.lines().count()
    );
    assert!(
        log.contains("TRACE") || log.contains("\"level\":\"TRACE\""),
        "trace lines are there"
    );

    // The token files were written readable by everyone (mode 644): each is named in a warning.
    for file in ["ump.token", "operator.token"] {
        assert!(
            log.lines()
                .any(|l| l.contains("WARN") && l.contains(file) && l.contains("chmod 600")),
            "a warning names {file}"
        );
    }

    let key = app.mocks.service_account_key_json();
    let key_line = key
        .split("\\n")
        .nth(3)
        .expect("a line of the private key")
        .to_string();
    let secrets: Vec<(&str, String)> = vec![
        ("the portal's token", UMP_TOKEN.to_string()),
        ("the operator's token", OPERATOR_TOKEN.to_string()),
        (
            "the wrong token presented",
            "Bearer-wrong-token-9f8e7d6c5b4a".to_string(),
        ),
        ("Graph's client secret", o.client_secret.clone()),
        (
            "the console's client secret",
            o.sign_in_client_secret.clone(),
        ),
        ("a line of Google's private key", key_line),
        ("the session's secret", session.clone()),
        ("the CSRF token", csrf.clone()),
        ("a Graph access token", "mock-graph-".to_string()),
        ("a Google access token", "ya29.mock-".to_string()),
        ("an authorization code", "1.mock-code-".to_string()),
        ("a sign-in access token", "mock-sign-in-".to_string()),
        ("an id_token", "eyJ0eXAiOiJKV1Qi".to_string()),
        ("an id_token (alg first)", "eyJhbGciOiJSUzI1NiI".to_string()),
    ];
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is long enough to search for");
        assert!(!log.contains(secret.as_str()), "{what} is in the log");
        assert!(!answers.contains(secret.as_str()), "{what} is in an answer");
    }
    // Pages carry the CSRF token by design, never the session's secret or a token.
    for (what, secret) in secrets.iter().filter(|(w, _)| *w != "the CSRF token") {
        assert!(
            !group_page.body.contains(secret.as_str()),
            "{what} is on a page"
        );
        assert!(
            !pressed.body.contains(secret.as_str()),
            "{what} is on a page"
        );
    }
}
