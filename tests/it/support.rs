//! `TestApp`: the real thing against the mocks and a fresh store, with helpers named after what a
//! user does.

use class_sync::app::App;
use class_sync::config::Config;
use class_sync::domain::{Snapshot, Target};
use class_sync::planner::{
    self, ImportSummary, NightlySummary, RestoreAccepted, RestoreRefusal, SyncSummary,
};
use class_sync::worker::{self, WorkReport};
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
