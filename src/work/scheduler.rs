//! The nightly scheduler of `serve`: runs the nightly job once a day at `[schedule] nightly_at`,
//! Europe/London time, and records each run for `status`.
//!
//! Owns: *when* the nightly job runs. A day is claimed in the store before it runs, so the job runs
//! once a day however many `serve` processes share the store and however often they restart; a
//! process that starts after the time on a day nobody has claimed runs it then (catch-up).
//! Must not: decide what the nightly job does (`planner::nightly`) or do its work (the worker).
//! Must not read the system clock directly: the [`Clock`] is injected, so tests can drive it.

use crate::app::App;
use crate::core::job::JobState;
use crate::work::planner;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Where the scheduler reads the time and how it waits for it.
#[async_trait::async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Returns at `t` at the latest (earlier is fine: the scheduler looks again).
    async fn sleep_until(&self, t: DateTime<Utc>);
}

/// The system clock. Sleeps a minute at most at a time, so a clock that jumps (suspend, NTP) is
/// noticed within a minute.
pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, t: DateTime<Utc>) {
        let wait = (t - Utc::now()).clamp(Duration::zero(), Duration::seconds(60));
        tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
    }
}

/// A clock that moves only when told: tests set the time and the scheduler wakes at once.
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: watch::Sender::new(start),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }
}

#[async_trait::async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    async fn sleep_until(&self, t: DateTime<Utc>) {
        let mut rx = self.now.subscribe();
        let _ = rx.wait_for(|now| *now >= t).await;
    }
}

/// The instant the nightly job is due on London day `day`. A local time that does not exist (the
/// clocks go forward through it) runs at the first valid instant after; one that happens twice
/// (the clocks go back) runs at the earlier.
pub fn due_at(day: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let mut local = day.and_time(at);
    // A gap is an hour in the UK; a day of minutes bounds the walk whatever the zone data says.
    for _ in 0..=24 * 60 {
        if let Some(t) = London.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&day.and_time(at))
}

/// The London date of an instant.
pub fn london_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&London).date_naive()
}

/// The name a scheduled job is claimed under in the store.
const NIGHTLY: &str = "nightly";
/// The actor of scheduled runs in the audit log and on their jobs.
const ACTOR: &str = "scheduler";
/// A claim whose process has not enqueued the night's work after this long is taken over (its
/// process died while enqueuing; enqueueing twice is harmless, jobs are deduplicated).
const CLAIM_TAKEOVER: Duration = Duration::minutes(10);

/// Runs the nightly job at its time every day until `stop` turns true; then records the state of
/// a run still in progress and returns.
pub async fn run(
    app: Arc<App>,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let at = app.config.schedule.nightly_at;
    let me = format!(
        "serve-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let mut handled: Option<NaiveDate> = None;
    let mut runs: JoinSet<()> = JoinSet::new();
    while !*stop.borrow() {
        let now = clock.now();
        let day = london_day(now);
        let mut wake = if handled == Some(day) || now >= due_at(day, at) {
            due_at(day + Duration::days(1), at)
        } else {
            due_at(day, at)
        };
        if handled != Some(day) && now >= due_at(day, at) {
            match app
                .store
                .claim_schedule(
                    NIGHTLY,
                    &day.to_string(),
                    &me,
                    now.timestamp_millis(),
                    (now - CLAIM_TAKEOVER).timestamp_millis(),
                )
                .await
            {
                Ok(true) => {
                    handled = Some(day);
                    tracing::info!(%day, "nightly run starting");
                    // The claimed day is the calendar's day, unless `--today` fixed another.
                    let on = if app.follows_london() {
                        app.on_day(day)
                    } else {
                        app.on_day(app.today())
                    };
                    match planner::nightly(&on, ACTOR).await {
                        Ok(summary) => {
                            // Everything is enqueued: from here on the queue itself is durable.
                            if let Err(e) =
                                app.store.settle_schedule(NIGHTLY, &day.to_string()).await
                            {
                                tracing::warn!(%day, error = %e, "could not mark the nightly run enqueued");
                            }
                            runs.spawn(follow(app.clone(), summary, stop.clone()));
                        }
                        Err(e) => tracing::error!(%day, error = %e, "nightly run failed to start"),
                    }
                    continue;
                }
                Ok(false) => {
                    // Claimed elsewhere. If that process dies before it has enqueued the night's
                    // work, the claim goes stale and is taken over: look again until it settles.
                    match app
                        .store
                        .schedule_unsettled(NIGHTLY, &day.to_string())
                        .await
                    {
                        Ok(false) => {
                            handled = Some(day);
                            tracing::info!(%day, "nightly run already claimed by another process");
                            continue;
                        }
                        _ => wake = now + Duration::seconds(60),
                    }
                }
                Err(e) => {
                    tracing::warn!(%day, error = %e, "claiming the nightly run failed; trying again in a minute");
                    wake = now + Duration::seconds(60);
                }
            }
        }
        while runs.try_join_next().is_some() {}
        tokio::select! {
            _ = clock.sleep_until(wake) => {}
            _ = stop.changed() => {}
        }
    }
    while runs.join_next().await.is_some() {}
    Ok(())
}

/// Follows one run's jobs to their end and records how it went; on shutdown first, records what
/// was left to the queue.
async fn follow(app: Arc<App>, s: planner::NightlySummary, mut stop: watch::Receiver<bool>) {
    let planned = format!(
        "archive {}, create {}, retry {}",
        s.archive_enqueued, s.create_enqueued, s.retry_enqueued
    );
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        let stopping = *stop.borrow();
        let states = match app.store.job_states(&s.jobs).await {
            Ok(states) => states,
            Err(e) => {
                tracing::warn!(error = %e, "reading the nightly run's jobs failed");
                Vec::new()
            }
        };
        let count = |st: JobState| {
            states
                .iter()
                .filter(|(x, _)| *x == st)
                .map(|(_, n)| n)
                .sum::<u64>()
        };
        let (done, failed) = (count(JobState::Done), count(JobState::Failed));
        let pending = count(JobState::Queued) + count(JobState::Running);
        if pending == 0 || stopping {
            let (summary, ok) = if pending == 0 {
                (
                    format!("{planned}; {done} done, {failed} failed"),
                    failed == 0,
                )
            } else {
                (
                    format!(
                        "{planned}; {done} done, {failed} failed, {pending} left to the queue at shutdown"
                    ),
                    false,
                )
            };
            tracing::info!(summary, ok, "nightly run finished");
            if let Err(e) = app
                .store
                .finish_run(s.run_id, &summary, ok, App::now_ms())
                .await
            {
                tracing::warn!(error = %e, "recording the nightly run failed");
            }
            return;
        }
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn time(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn due_times_follow_london_across_clock_changes() {
        // Winter (GMT) and summer (BST).
        assert_eq!(
            due_at(day("2026-01-15"), time("01:30")),
            utc("2026-01-15T01:30:00Z")
        );
        assert_eq!(
            due_at(day("2026-07-15"), time("01:30")),
            utc("2026-07-15T00:30:00Z")
        );
        // 29 March 2026: 01:00 GMT becomes 02:00 BST; 01:30 does not exist, so 02:00 BST.
        assert_eq!(
            due_at(day("2026-03-29"), time("01:30")),
            utc("2026-03-29T01:00:00Z")
        );
        // 25 October 2026: 01:30 happens twice (BST, then GMT); the earlier runs.
        assert_eq!(
            due_at(day("2026-10-25"), time("01:30")),
            utc("2026-10-25T00:30:00Z")
        );
        // Around midnight the London day is not the UTC day in summer.
        assert_eq!(london_day(utc("2026-07-15T23:30:00Z")), day("2026-07-16"));
        assert_eq!(
            due_at(day("2026-07-16"), time("00:10")),
            utc("2026-07-15T23:10:00Z")
        );
    }
}
