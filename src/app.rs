//! Everything one process needs, built once from the configuration: store, providers, throttle, today.

use crate::config::Config;
use crate::core::calendar::YearCalendar;
use crate::core::domain::Target;
use crate::remote::call::Remote;
use crate::remote::providers::Provider;
use crate::remote::providers::classroom::ClassroomProvider;
use crate::remote::providers::graph::GraphProvider;
use crate::remote::retry::RetryPolicy;
use crate::remote::throttle::Throttle;
use crate::store::Store;
use anyhow::Context;
use chrono::NaiveDate;
use std::sync::Arc;
use std::time::Duration;

/// The shared context of commands, jobs and the worker.
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub teams: Option<Arc<dyn Provider>>,
    pub classroom: Option<Arc<dyn Provider>>,
    pub throttle: Arc<Throttle>,
    /// The date every calendar rule uses: `--today`, or today in Europe/London (read anew each
    /// time, so a long-lived `serve` moves on at midnight).
    today: Today,
    pub retry: RetryPolicy,
}

/// Where an [`App`] takes today's date from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Today {
    /// A fixed date (`--today`, tests, one-shot commands).
    Fixed(NaiveDate),
    /// The current date in Europe/London, read on every use.
    London,
}

impl App {
    pub async fn new(config: Config, today: NaiveDate) -> anyhow::Result<Arc<App>> {
        App::open(config, Today::Fixed(today)).await
    }

    /// Opens the store named by the config; `today` says where the calendar's date comes from.
    pub async fn open(config: Config, today: Today) -> anyhow::Result<Arc<App>> {
        let store = crate::store::open(&config.database_url)
            .await
            .with_context(|| format!("opening {}", crate::store::redacted(&config.database_url)))?;
        App::with_store(config, today, store)
    }

    pub fn with_store(
        config: Config,
        today: Today,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Arc<App>> {
        let (throttle, retry) = pacing(&config);
        let http = reqwest::Client::builder()
            .user_agent(concat!("class-sync/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(20))
            // Every request has a deadline, token requests included (`remote` sets the same per call).
            .timeout(Duration::from_secs_f64(
                config.worker.request_timeout_seconds,
            ))
            .pool_max_idle_per_host(config.worker.concurrency.max(8))
            .build()
            .context("building the HTTP client")?;
        let remote = Arc::new(Remote::new(
            http.clone(),
            throttle.clone(),
            retry,
            config.worker.call_attempts,
            Duration::from_secs_f64(config.worker.request_timeout_seconds),
        ));
        let teams: Option<Arc<dyn Provider>> = match &config.microsoft {
            Some(m) => Some(Arc::new(
                GraphProvider::new(m, remote.clone(), http.clone())
                    .map_err(|e| anyhow::anyhow!("[microsoft]: {e}"))?,
            )),
            None => None,
        };
        let classroom: Option<Arc<dyn Provider>> = match &config.google {
            Some(g) => Some(Arc::new(
                ClassroomProvider::new(g, remote.clone(), http)
                    .map_err(|e| anyhow::anyhow!("[google] service_account_key_file: {e}"))?,
            )),
            None => None,
        };
        Ok(Arc::new(App {
            config,
            store,
            teams,
            classroom,
            throttle,
            today,
            retry,
        }))
    }

    /// A process context around providers made elsewhere (a fake `Provider` in tests of the
    /// planner and the worker); the throttle and retry policy still come from `config`.
    pub fn with_providers(
        config: Config,
        today: Today,
        store: Arc<dyn Store>,
        teams: Option<Arc<dyn Provider>>,
        classroom: Option<Arc<dyn Provider>>,
    ) -> Arc<App> {
        let (throttle, retry) = pacing(&config);
        Arc::new(App {
            config,
            store,
            teams,
            classroom,
            throttle,
            today,
            retry,
        })
    }

    /// The date every calendar rule uses now.
    pub fn today(&self) -> NaiveDate {
        match self.today {
            Today::Fixed(d) => d,
            Today::London => today_in_london(),
        }
    }

    /// True when the calendar follows the London date (no `--today`).
    pub fn follows_london(&self) -> bool {
        self.today == Today::London
    }

    /// The same process context (store, providers, throttle shared) with the calendar fixed on
    /// `day`: the scheduler runs the nightly job for exactly the day it claimed.
    pub fn on_day(&self, day: NaiveDate) -> App {
        App {
            config: self.config.clone(),
            store: self.store.clone(),
            teams: self.teams.clone(),
            classroom: self.classroom.clone(),
            throttle: self.throttle.clone(),
            today: Today::Fixed(day),
            retry: self.retry,
        }
    }

    pub fn provider(&self, target: Target) -> Option<&Arc<dyn Provider>> {
        match target {
            Target::Teams => self.teams.as_ref(),
            Target::Classroom => self.classroom.as_ref(),
        }
    }

    pub fn year(&self, name: &str) -> Option<&YearCalendar> {
        self.config.year(name)
    }

    pub fn now_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// The throttle and retry policy the configuration asks for.
fn pacing(config: &Config) -> (Arc<Throttle>, RetryPolicy) {
    let throttle = Arc::new(Throttle::new(
        config.microsoft.as_ref().map(|m| &m.limits),
        config.google.as_ref().map(|g| &g.limits),
    ));
    let retry = RetryPolicy::new(
        config.worker.retry_initial_seconds,
        config.worker.retry_max_seconds,
    );
    (throttle, retry)
}

/// Today in Europe/London, the portal's and the schools' calendar.
pub fn today_in_london() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
}
