//! `TestApp`: the real thing against the mocks and a fresh store, with helpers named after what a
//! user does.

use class_sync::app::App;
use class_sync::config::Config;
use class_sync::core::domain::{Snapshot, Target};
use class_sync::work::planner::{
    self, ImportSummary, NightlySummary, RestoreAccepted, RestoreRefusal, SyncSummary,
};
use class_sync::work::worker::{self, WorkReport};
use class_sync_mocks::{CourseView, MockOptions, MockServices, TeamView};
use std::sync::Arc;

pub struct TestApp {
    pub mocks: MockServices,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(class_sync::demo::quick_mock_options()).await
    }

    pub async fn start_with(options: MockOptions) -> TestApp {
        let mocks = MockServices::start(options).await.expect("mocks start");
        let dir = tempfile::tempdir().expect("temp dir");
        let config =
            class_sync::demo::mock_config(&mocks, dir.path()).expect("config for the mocks");
        TestApp { mocks, dir, config }
    }

    /// The app of a process whose calendar follows the London date (as `serve` without `--today`).
    pub async fn following_london(&self) -> Arc<App> {
        App::open(self.config.clone(), class_sync::app::Today::London)
            .await
            .expect("app")
    }

    /// The app as it is on `day` (a new process, as each CLI invocation is).
    pub async fn on(&self, day: &str) -> Arc<App> {
        App::new(self.config.clone(), day.parse().expect("date"))
            .await
            .expect("app")
    }

    pub async fn work(&self, app: &Arc<App>) -> WorkReport {
        worker::run_until_idle(app.clone(), None)
            .await
            .expect("worker")
    }

    pub async fn import_on(&self, day: &str, snapshot: &Snapshot) -> (ImportSummary, WorkReport) {
        let app = self.on(day).await;
        let s = planner::import(&app, snapshot, "test")
            .await
            .expect("import");
        let r = self.work(&app).await;
        (s, r)
    }

    pub async fn nightly_on(&self, day: &str) -> (NightlySummary, WorkReport) {
        let app = self.on(day).await;
        let s = planner::nightly(&app, "test").await.expect("nightly");
        let r = self.work(&app).await;
        (s, r)
    }

    pub async fn sync_groups_on(&self, day: &str, groups: &[String]) -> (SyncSummary, WorkReport) {
        let app = self.on(day).await;
        let s = planner::sync(&app, &[], groups, None, "test")
            .await
            .expect("sync");
        let r = self.work(&app).await;
        (s, r)
    }

    pub async fn restore_as(
        &self,
        day: &str,
        group: &str,
        target: Target,
        who: &str,
    ) -> Result<RestoreAccepted, RestoreRefusal> {
        let app = self.on(day).await;
        let out = planner::restore(&app, group, target, who).await;
        self.work(&app).await;
        out
    }

    pub fn team(&self, group: &str) -> TeamView {
        self.mocks
            .team_by_external_id(group)
            .unwrap_or_else(|| panic!("no team for {group}"))
    }

    pub fn course(&self, group: &str) -> CourseView {
        self.mocks
            .course_by_alias(&format!("d:ump-{group}"))
            .unwrap_or_else(|| panic!("no course for {group}"))
    }

    /// How many successful creates of this kind the mocks saw (to prove nothing was made twice).
    pub fn creates(&self, path: &str) -> usize {
        self.mocks
            .calls()
            .iter()
            .filter(|c| c.method == "POST" && c.path.ends_with(path) && c.status < 300)
            .count()
    }

    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("class-sync.toml")
    }

    /// Runs the release-style binary with this app's config.
    pub fn bin(&self, day: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
            .arg("--config")
            .arg(self.config_path())
            .arg("--today")
            .arg(day)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run class-sync")
    }
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The portal's and the operator's bearer tokens in API tests.
pub const UMP_TOKEN: &str = "ump-test-token-4f1c2a9b7d31";
pub const OPERATOR_TOKEN: &str = "operator-test-token-8e3d5c1a0b62";

impl TestApp {
    /// Writes both token files and an `[api]` section (listening on port 0) into the config file,
    /// with `worker_extra` added to its `[worker]` table, and reloads the config.
    pub fn enable_api(&mut self, worker_extra: &str) {
        let dir = self.dir.path();
        std::fs::write(dir.join("ump.token"), format!("{UMP_TOKEN}\n")).expect("token file");
        std::fs::write(dir.join("operator.token"), OPERATOR_TOKEN).expect("token file");
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).expect("config text");
        // Keys given in `worker_extra` replace the ones the mock config wrote.
        let overridden: Vec<&str> = worker_extra
            .lines()
            .filter_map(|l| l.split('=').next())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        let text: String = text
            .lines()
            .filter(|l| {
                !overridden
                    .iter()
                    .any(|k| l.split('=').next().map(str::trim) == Some(*k))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let text = text.replacen("[worker]\n", &format!("[worker]\n{worker_extra}\n"), 1)
            + "\n[api]\nlisten = \"127.0.0.1:0\"\nump_token_file = \"ump.token\"\noperator_token_file = \"operator.token\"\n";
        std::fs::write(&path, text).expect("config file");
        self.config = Config::load(&path).expect("config with [api]");
    }

    /// `serve` in this process on `day`, on 127.0.0.1:0, with the scheduler's clock parked long
    /// before any nightly time (tests that want it drive the scheduler themselves).
    pub async fn serve_on(&mut self, day: &str) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        self.serve_with(day, listener).await
    }

    /// `serve` with the web console on `day`: `[console]` signs people in at the mocks' identity
    /// provider, with `operators`; every account named is known to the mocks.
    pub async fn serve_console_on(&mut self, day: &str, operators: &[&str]) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let o = self.mocks.options();
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).expect("config text");
        let text = format!(
            "{text}\n[console]\nclient_id = \"{}\"\nclient_secret = \"{}\"\npublic_url = \"{base}\"\noperators = {operators:?}\n",
            o.sign_in_client_id, o.sign_in_client_secret
        );
        std::fs::write(&path, text).expect("config file");
        self.config = Config::load(&path).expect("config with [console]");
        self.mocks.add_users(operators.iter().copied());
        self.serve_with(day, listener).await
    }

    async fn serve_with(&mut self, day: &str, listener: tokio::net::TcpListener) -> Served {
        if self.config.api.ump_token_file.is_none() {
            self.enable_api("");
        }
        let app = self.on(day).await;
        let tokens = self.config.api.read_tokens().expect("tokens");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let clock = Arc::new(class_sync::work::scheduler::ManualClock::new(
            "2000-01-01T00:00:00Z".parse().expect("time"),
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(class_sync::serve::run(
            app,
            tokens,
            listener,
            clock,
            async move {
                let _ = stopped.await;
            },
        ));
        Served {
            base,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task,
        }
    }
}

/// A running `serve` (API, worker, scheduler) and an HTTP client for it.
pub struct Served {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<WorkReport>>,
}

impl Served {
    /// Sends a request; returns the status and the JSON body (`Null` when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, token, Some(&body))
            .await
    }

    pub async fn put(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::PUT, path, token, Some(&body))
            .await
    }

    /// Presses Restore through the API as `who`, with the portal's token.
    pub async fn restore_as(
        &self,
        group: &str,
        target: &str,
        who: &str,
    ) -> (u16, serde_json::Value) {
        self.post(
            &format!("/v1/groups/{group}/restore"),
            Some(UMP_TOKEN),
            serde_json::json!({"target": target, "requested_by": who}),
        )
        .await
    }

    /// Follows a job until it is done or failed (within 30 s), as the portal would.
    pub async fn job_end(&self, job: &serde_json::Value) -> serde_json::Value {
        let path = format!("/v1/jobs/{job}");
        eventually(30, || async {
            let (status, body) = self.get(&path, Some(UMP_TOKEN)).await;
            (status == 200 && matches!(body["state"].as_str(), Some("done" | "failed")))
                .then_some(body)
        })
        .await
        .unwrap_or_else(|| panic!("job {job} did not end within 30 s"))
    }

    /// Stops it as SIGTERM would, and returns what its worker did.
    pub async fn stop(mut self) -> WorkReport {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.expect("serve task").expect("serve")
    }
}

/// Polls `check` every 50 ms for up to `seconds`; the first `Some` wins.
pub async fn eventually<T, F, Fut>(seconds: u64, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Tests that measure timing (shared quota shares, liveness windows) and the browser test (a whole
/// Chromium) take this so they never share the two cores: a browser starting beside a liveness
/// test can stall a heartbeat past its window.
pub static CPU_HEAVY_OR_TIMED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
