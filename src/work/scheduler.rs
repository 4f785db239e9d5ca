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
/// `settled` tells a test when every scheduler has acted on the time it was set to.
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
    /// For each task asleep in `sleep_until`: the clock's time when it went to sleep.
    asleep: watch::Sender<Vec<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: watch::Sender::new(start),
            asleep: watch::Sender::new(Vec::new()),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }

    /// Returns once `sleepers` tasks are asleep having seen the time as it is now: whatever they
    /// do at this time is done, so a test asserts on it without guessing how long to wait.
    pub async fn settled(&self, sleepers: usize) {
        let mut asleep = self.asleep.subscribe();
        loop {
            let now = *self.now.borrow();
            if asleep
                .borrow_and_update()
                .iter()
                .filter(|at| **at == now)
                .count()
                >= sleepers
            {
                return;
            }
            if asleep.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Takes a sleeper off `ManualClock::asleep` when its sleep ends (or is dropped).
struct Awake<'a> {
    asleep: &'a watch::Sender<Vec<DateTime<Utc>>>,
    since: DateTime<Utc>,
}

impl Drop for Awake<'_> {
    fn drop(&mut self) {
        self.asleep.send_modify(|v| {
            if let Some(i) = v.iter().position(|at| *at == self.since) {
                v.swap_remove(i);
            }
        });
    }
}

#[async_trait::async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    async fn sleep_until(&self, t: DateTime<Utc>) {
        let mut rx = self.now.subscribe();
        let since = *rx.borrow_and_update();
        self.asleep.send_modify(|v| v.push(since));
        let _awake = Awake {
            asleep: &self.asleep,
            since,
        };
        // Any change of the time wakes the sleeper (early is allowed): it looks at the new time,
        // so `settled` can tell when every scheduler has acted on it.
        if since < t {
            let _ = rx.changed().await;
        }
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
    //! The scheduler runs on a clock the test moves, which also says when the scheduler has gone
    //! to sleep and until when: every test waits for that, never for real time, so "not before
    //! 01:30" is the scheduler asleep until 01:30 with no run recorded, not a pause that happened
    //! to be long enough.
    use super::*;
    use crate::app::Today;
    use crate::config::Config;
    use crate::store::Run;

    /// How long a test waits for the scheduler to go back to sleep before it fails (a hang, not
    /// an outcome: nothing here waits for time to pass).
    const HANG: std::time::Duration = std::time::Duration::from_secs(30);

    /// One scheduler's view of the test's time: it reads the shared time and reports each time
    /// it goes to sleep (how many times so far, and until when).
    struct TestClock {
        time: Arc<watch::Sender<DateTime<Utc>>>,
        sleeps: watch::Sender<(u64, DateTime<Utc>)>,
    }

    #[async_trait::async_trait]
    impl Clock for TestClock {
        fn now(&self) -> DateTime<Utc> {
            *self.time.borrow()
        }

        async fn sleep_until(&self, t: DateTime<Utc>) {
            let mut time = self.time.subscribe();
            self.sleeps
                .send_modify(|(n, until)| (*n, *until) = (*n + 1, t));
            let _ = time.wait_for(|now| *now >= t).await;
        }
    }

    /// A `serve` process's scheduler, and how many times it had gone to sleep when last looked at.
    struct Scheduler {
        clock: Arc<TestClock>,
        seen: u64,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    }

    impl Scheduler {
        /// Waits until the scheduler has gone to sleep again since last looked at (it has done
        /// all it does at the current time); returns until when it sleeps.
        async fn asleep(&mut self) -> DateTime<Utc> {
            let mut sleeps = self.clock.sleeps.subscribe();
            let seen = self.seen;
            let (n, until) = *tokio::time::timeout(HANG, sleeps.wait_for(|(n, _)| *n > seen))
                .await
                .expect("the scheduler goes back to sleep")
                .expect("the clock is alive");
            self.seen = n;
            until
        }
    }

    /// Processes sharing one store and one time, with the nightly job at 01:30 London time.
    struct World {
        _dir: tempfile::TempDir,
        config: Config,
        time: Arc<watch::Sender<DateTime<Utc>>>,
        stop: watch::Sender<bool>,
        store: Arc<dyn crate::store::Store>,
    }

    impl World {
        async fn at(t: &str) -> World {
            let dir = tempfile::tempdir().unwrap();
            let text = format!(
                "database_url = \"sqlite://{}\"\n[schedule]\nnightly_at = \"01:30\"\n",
                dir.path().join("store.db").display()
            );
            let config = Config::from_toml(&text, "test.toml", dir.path()).unwrap();
            let store = crate::store::open(&config.database_url).await.unwrap();
            World {
                _dir: dir,
                config,
                time: Arc::new(watch::Sender::new(utc(t))),
                stop: watch::Sender::new(false),
                store,
            }
        }

        /// Starts a process's scheduler (its own connection to the store) as `serve` does.
        async fn start(&self) -> Scheduler {
            let app = App::open(self.config.clone(), Today::London).await.unwrap();
            let clock = Arc::new(TestClock {
                time: self.time.clone(),
                sleeps: watch::Sender::new((0, utc("2000-01-01T00:00:00Z"))),
            });
            let task = tokio::spawn(run(app, clock.clone(), self.stop.subscribe()));
            Scheduler {
                clock,
                seen: 0,
                task,
            }
        }

        fn set(&self, t: &str) {
            self.time.send_replace(utc(t));
        }

        fn now(&self) -> DateTime<Utc> {
            *self.time.borrow()
        }

        async fn last_run(&self) -> Option<Run> {
            self.store.last_run(NIGHTLY, false).await.unwrap()
        }

        /// Stops every scheduler; each returns once its runs are recorded.
        async fn stop(&self, schedulers: Vec<Scheduler>) {
            self.stop.send_replace(true);
            for s in schedulers {
                s.task.await.unwrap().unwrap();
            }
        }
    }

    fn run_of(run: &Option<Run>) -> Option<(i64, &str)> {
        run.as_ref().map(|r| (r.id, r.today.as_str()))
    }

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

    /// Two processes on one store: nothing before 01:30 London time, then one run; a restart
    /// later that day does not run it again; the next day, one run again.
    #[tokio::test]
    async fn the_nightly_job_runs_at_its_time_once_a_day() {
        // Midnight in London on 1 September (BST): 01:30 is 00:30 UTC.
        let w = World::at("2026-08-31T23:00:00Z").await;
        let (mut a, mut b) = (w.start().await, w.start().await);
        assert_eq!(a.asleep().await, utc("2026-09-01T00:30:00Z"));
        assert_eq!(b.asleep().await, utc("2026-09-01T00:30:00Z"));
        assert!(w.last_run().await.is_none(), "nothing before 01:30");

        w.set("2026-09-01T00:30:00Z");
        all_asleep_until(&w, &mut [&mut a, &mut b], utc("2026-09-02T00:30:00Z")).await;
        let first = w.last_run().await;
        assert_eq!(
            run_of(&first),
            Some((1, "2026-09-01")),
            "one run, for that day"
        );

        // A restart at 06:00 does not run the day again: it sleeps until tomorrow's 01:30.
        w.set("2026-09-01T05:00:00Z");
        let mut c = w.start().await;
        assert_eq!(c.asleep().await, utc("2026-09-02T00:30:00Z"));
        assert_eq!(run_of(&w.last_run().await), Some((1, "2026-09-01")));

        w.set("2026-09-02T00:30:00Z");
        all_asleep_until(
            &w,
            &mut [&mut a, &mut b, &mut c],
            utc("2026-09-03T00:30:00Z"),
        )
        .await;
        assert_eq!(
            run_of(&w.last_run().await),
            Some((2, "2026-09-02")),
            "three processes, one run"
        );
        w.stop(vec![a, b, c]).await;
        assert!(w.last_run().await.unwrap().finished_at.is_some());
    }

    /// The schedulers woke at a due time: one runs; each other one sees the day settled or, while
    /// the winner is still enqueuing, looks again a minute later. Once every one of them sleeps,
    /// the test moves the time on to that minute (the winner has settled the day by then, as it
    /// would have within a real minute). Returns once all of them sleep until `next`.
    async fn all_asleep_until(w: &World, schedulers: &mut [&mut Scheduler], next: DateTime<Utc>) {
        let mut until = Vec::new();
        for s in schedulers.iter_mut() {
            until.push(s.asleep().await);
        }
        while until.iter().any(|u| *u != next) {
            let look_again = *until.iter().min().unwrap();
            assert_eq!(look_again, w.now() + Duration::seconds(60), "{until:?}");
            w.time.send_replace(look_again);
            for (s, u) in schedulers.iter_mut().zip(until.iter_mut()) {
                if *u <= look_again {
                    *u = s.asleep().await;
                }
            }
        }
    }

    /// Spring forward: 01:30 does not exist, so the job runs at 02:00 BST. Fall back: 01:30 happens
    /// twice, and the job runs at the first only.
    #[tokio::test]
    async fn clock_changes_move_the_run_and_never_repeat_it() {
        // Midnight in London (GMT) on 29 March 2026; the clocks go forward at 01:00 UTC.
        let w = World::at("2026-03-29T00:00:00Z").await;
        let mut s = w.start().await;
        assert_eq!(s.asleep().await, utc("2026-03-29T01:00:00Z"), "02:00 BST");
        w.set("2026-03-29T01:00:00Z");
        assert_eq!(s.asleep().await, utc("2026-03-30T00:30:00Z"), "01:30 BST");
        assert_eq!(run_of(&w.last_run().await), Some((1, "2026-03-29")));
        w.stop(vec![s]).await;

        // Midnight in London (BST) on 25 October 2026; the clocks go back at 01:00 UTC.
        let w = World::at("2026-10-24T23:00:00Z").await;
        let mut s = w.start().await;
        assert_eq!(
            s.asleep().await,
            utc("2026-10-25T00:30:00Z"),
            "the first 01:30"
        );
        w.set("2026-10-25T00:30:00Z");
        // Not at the second 01:30 (01:30 GMT, 01:30 UTC): tomorrow's.
        assert_eq!(s.asleep().await, utc("2026-10-26T01:30:00Z"));
        assert_eq!(run_of(&w.last_run().await), Some((1, "2026-10-25")));
        w.stop(vec![s]).await;
    }

    /// A process started after the time, on a day nobody ran it, runs it at once; a second one
    /// started later that day does not.
    #[tokio::test]
    async fn a_late_start_catches_up_once() {
        let w = World::at("2026-09-03T10:00:00Z").await;
        let mut s = w.start().await;
        assert_eq!(s.asleep().await, utc("2026-09-04T00:30:00Z"));
        assert_eq!(run_of(&w.last_run().await), Some((1, "2026-09-03")));
        w.set("2026-09-03T11:00:00Z");
        let mut t = w.start().await;
        assert_eq!(t.asleep().await, utc("2026-09-04T00:30:00Z"));
        assert_eq!(run_of(&w.last_run().await), Some((1, "2026-09-03")));
        w.stop(vec![s, t]).await;
    }

    /// A process claimed the night and died before enqueuing its work: the scheduler looks again
    /// every minute and takes the claim over once it is `CLAIM_TAKEOVER` old, not before.
    #[tokio::test]
    async fn a_claim_left_by_a_dead_process_is_taken_over_after_ten_minutes() {
        let due = utc("2026-09-01T00:30:00Z");
        let w = World::at("2026-09-01T00:30:00Z").await;
        let claimed = due.timestamp_millis();
        assert!(
            w.store
                .claim_schedule(NIGHTLY, "2026-09-01", "died", claimed, 0)
                .await
                .unwrap()
        );
        let mut s = w.start().await;
        loop {
            let until = s.asleep().await;
            if until == utc("2026-09-02T00:30:00Z") {
                break;
            }
            assert!(
                w.last_run().await.is_none(),
                "not taken over at {}",
                w.now()
            );
            assert_eq!(until, w.now() + Duration::seconds(60));
            w.time.send_replace(until);
        }
        // The first look at which the claim was more than ten minutes old.
        assert_eq!(w.now(), due + CLAIM_TAKEOVER + Duration::seconds(60));
        assert_eq!(run_of(&w.last_run().await), Some((1, "2026-09-01")));
        w.stop(vec![s]).await;
    }
}
