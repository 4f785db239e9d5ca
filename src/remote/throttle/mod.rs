//! Rate limits per documented bucket, priority lanes inside each bucket, the shared `Retry-After`
//! gate, and adaptive lowering of a bucket's rate when the service keeps throttling.
//!
//! Every remote call names the buckets it spends (`BucketKey`s); `Throttle::acquire` waits until each
//! is open and grants it a cell. Callers waiting on one bucket (or one key of a keyed bucket) queue
//! in order of their job's lane (`job_context`), oldest first within a lane; every `FAIR_EVERY`th cell
//! goes to the oldest waiter whatever its lane, so lower lanes still progress. A 429 closes the
//! buckets of the request for every caller until its `Retry-After` has passed (governor itself
//! cannot be paused, so the gate sits in front of it).
//!
//! Several processes share one tenant's quota: each takes a share of every bucket the tenant shares
//! (`set_share`, from the worker registry), passes on every window a 429 closed (`windows`) and
//! honours the windows its peers pass on (`honour_peer_window`); a process that cannot prove it is
//! alive holds all its calls (`hold`). See ARCHITECTURE.md, "One quota, several workers".
//!
//! All of it reads one clock, tokio's (`now`): the limiters, the gates and the adaptive rates.
//! In production that is the system's monotonic clock; under tokio's paused test clock the tests
//! drive it and are exact.
//!
//! Files: `buckets` (the documented buckets and keys), `pacing` (governor limiters on the one
//! clock), `queue` (waiters in lane order), `bucket` (one bucket: limiter, queues, gates, adaptive
//! rate), `retry_after` (the header), and here the `Throttle` every call goes through.
//!
//! Architecture Invariant: no request of a bucket is sent while that bucket's gate is closed.

mod bucket;
mod buckets;
mod pacing;
mod queue;
mod retry_after;

pub use bucket::BucketStats;
pub use buckets::{BucketId, BucketKey};
pub use retry_after::parse_retry_after;

use crate::config::{GoogleLimits, MicrosoftLimits};
use crate::remote::job_context::current_lane;
use bucket::{Bucket, lock};
use pacing::now;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// One row of `Throttle::report`.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketReport {
    pub name: &'static str,
    /// Requests per second, as configured (the tenant's quota).
    pub configured: f64,
    /// This process's share of it (1 alone; see `Throttle::set_share`).
    pub share: f64,
    /// Requests per second now (lower after repeated throttling).
    pub current: f64,
    pub calls: u64,
    pub throttled: u64,
}

/// A `Retry-After` window a 429 closed in this process, to pass on to the others sharing the quota.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedWindow {
    pub keys: Vec<BucketKey>,
    /// How long from now the buckets stay closed.
    pub wait: Duration,
}

/// How many closed windows may wait to be passed on before the oldest are dropped (a receiver that
/// lags loses windows, never blocks a call).
const WINDOWS_BUFFER: usize = 256;

/// All buckets of one process. Shared by every worker task through an `Arc`.
pub struct Throttle {
    buckets: HashMap<BucketId, Bucket>,
    /// Windows closed by 429s this process received.
    windows: tokio::sync::broadcast::Sender<ClosedWindow>,
    /// True while every call must wait: this process cannot prove to its peers that it is alive,
    /// so they may already be using its share.
    held: tokio::sync::watch::Sender<bool>,
}

impl Throttle {
    /// Buckets for the configured providers; a provider that is not configured has no buckets.
    pub fn new(microsoft: Option<&MicrosoftLimits>, google: Option<&GoogleLimits>) -> Self {
        let mut rates = Vec::new();
        if let Some(m) = microsoft {
            rates.extend([
                (BucketId::TeamsCreate, m.teams_create),
                (BucketId::TeamsWrite, m.teams_write),
                (BucketId::TeamsRead, m.teams_read),
                (BucketId::PerTeam, m.per_team),
                (
                    BucketId::TeamMemberAdds,
                    m.team_member_adds_per_minute / 60.0,
                ),
                (BucketId::Education, m.education),
            ]);
        }
        if let Some(g) = google {
            rates.extend([
                (BucketId::ClassroomClient, g.per_client / 60.0),
                (BucketId::ClassroomUser, g.per_user / 60.0),
            ]);
        }
        let buckets = rates
            .into_iter()
            .map(|(id, per_second)| (id, Bucket::new(id, per_second)))
            .collect();
        Throttle {
            buckets,
            windows: tokio::sync::broadcast::channel(WINDOWS_BUFFER).0,
            held: tokio::sync::watch::channel(false).0,
        }
    }

    /// Takes `share` (0 < share ≤ 1) of the tenant's quota in every bucket the tenant shares: all
    /// but the per-team ones (a team's jobs run in one process at a time, so its own limits are
    /// never shared). Takes effect for the next cell.
    pub fn set_share(&self, share: f64) {
        let share = share.clamp(f64::MIN_POSITIVE, 1.0);
        for b in self.buckets.values().filter(|b| b.id.shared()) {
            b.set_share(share);
        }
    }

    /// Holds every call (`true`) until released (`false`): while this process cannot beat, its
    /// peers may count it dead and take its share.
    pub fn hold(&self, held: bool) {
        self.held
            .send_if_modified(|h| std::mem::replace(h, held) != held);
    }

    /// Whether calls are held (`hold`).
    pub fn is_held(&self) -> bool {
        *self.held.borrow()
    }

    /// The windows 429s close in this process from now on, for passing on to its peers.
    pub fn windows(&self) -> tokio::sync::broadcast::Receiver<ClosedWindow> {
        self.windows.subscribe()
    }

    /// A peer was given a 429 on `keys` with this `wait`: closes them here too, as `close` does,
    /// but without counting a 429 of this process or passing the window on again.
    pub fn honour_peer_window(&self, keys: &[BucketKey], wait: Duration) {
        self.close_gates(keys, now() + wait);
    }

    async fn wait_while_held(&self) {
        let mut held = self.held.subscribe();
        // The sender lives in `self`, so the channel never closes while we wait.
        let _ = held.wait_for(|h| !*h).await;
    }

    /// Waits until every bucket in `keys` is open and has granted a cell, queued in the lane of the
    /// current job. Keyed (narrow) buckets are taken first so that a busy team does not hold a cell
    /// of the tenant-wide bucket.
    pub async fn acquire(&self, keys: &[BucketKey]) {
        let lane = current_lane();
        let mut ordered: Vec<&BucketKey> = keys.iter().collect();
        ordered.sort_by_key(|k| !k.id.keyed());
        loop {
            self.wait_while_held().await;
            for k in &ordered {
                if let Some(b) = self.buckets.get(&k.id) {
                    b.take(k.key_str(), lane).await;
                }
            }
            // A 429 may have closed a gate while we waited for cells: never send inside the window.
            if self.closed_until(keys).is_none() && !*self.held.borrow() {
                for k in keys {
                    if let Some(b) = self.buckets.get(&k.id) {
                        b.stats.calls.fetch_add(1, Ordering::Relaxed);
                    }
                }
                return;
            }
        }
    }

    /// How long `key` stays closed by a `Retry-After` window (its own or a peer's), if it is now.
    pub fn closed_for(&self, key: &BucketKey) -> Option<Duration> {
        let until = self.closed_until(std::slice::from_ref(key))?;
        Some(until.saturating_duration_since(now()))
    }

    /// The latest instant any of `keys` is closed until, if one is closed now.
    fn closed_until(&self, keys: &[BucketKey]) -> Option<Instant> {
        keys.iter()
            .filter_map(|k| self.buckets.get(&k.id)?.gate(k.key_str()))
            .max()
    }

    /// The service throttled a request of `keys`: closes them for every caller for `wait` (extends,
    /// never shortens, a closure already in force) and lets the buckets adapt their rate.
    /// The window is passed on to the peers sharing the quota (`windows`).
    pub fn close(&self, keys: &[BucketKey], wait: Duration) {
        let until = now() + wait;
        self.close_gates(keys, until);
        for k in keys {
            if let Some(b) = self.buckets.get(&k.id) {
                b.throttled(until);
            }
        }
        // No receiver (one process alone) is not an error.
        let _ = self.windows.send(ClosedWindow {
            keys: keys.to_vec(),
            wait,
        });
    }

    fn close_gates(&self, keys: &[BucketKey], until: Instant) {
        for k in keys {
            if let Some(b) = self.buckets.get(&k.id) {
                let mut gates = lock(&b.gates);
                let slot = gates.entry(k.key_str().to_string()).or_insert(until);
                if *slot < until {
                    *slot = until;
                }
            }
        }
    }

    /// Per bucket: configured and current rate, calls sent, 429s received.
    pub fn report(&self) -> Vec<BucketReport> {
        let mut rows: Vec<_> = self
            .buckets
            .values()
            .map(|b| BucketReport {
                name: b.id.name(),
                configured: b.configured,
                share: b.share(),
                current: b.current_rate(),
                calls: b.stats.calls.load(Ordering::Relaxed),
                throttled: b.stats.throttled.load(Ordering::Relaxed),
            })
            .collect();
        rows.sort_by_key(|r| r.name);
        rows
    }
}

#[cfg(test)]
mod tests {
    //! The timing tests run on tokio's paused clock: time moves only when every task waits (or
    //! the test advances it), so the times recorded are exact, whatever the machine's load. The
    //! one tolerance is tokio's timer resolution: a sleep ends on the next whole millisecond.
    use super::bucket::{EPISODES_TO_LOWER, FLOOR_SHARE, LOWER_BY, RECOVER_AFTER, RECOVER_SHARE};
    use super::pacing::BURST_SHARE;
    use super::queue::FAIR_EVERY;
    use super::*;
    use crate::core::job::Lane;
    use crate::remote::job_context::in_lane;
    use std::sync::{Arc, Mutex};
    use std::time::{SystemTime, UNIX_EPOCH};

    /// tokio's timer fires on whole milliseconds: a paced cell may come this much after its time.
    const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

    /// Who was granted a cell, and when (time since the test began, on the paused clock).
    type Grants = Arc<Mutex<Vec<(String, Duration)>>>;

    /// Spawns a caller in `lane` that acquires `keys` once and records its grant.
    fn caller(
        t: &Arc<Throttle>,
        lane: Lane,
        keys: &[BucketKey],
        name: &str,
        grants: &Grants,
    ) -> tokio::task::JoinHandle<()> {
        let (t, keys, grants, name) = (t.clone(), keys.to_vec(), grants.clone(), name.to_string());
        let began = tokio::time::Instant::now();
        tokio::spawn(in_lane(lane, async move {
            t.acquire(&keys).await;
            lock(&grants).push((name, began.elapsed()));
        }))
    }

    async fn all(tasks: Vec<tokio::task::JoinHandle<()>>) {
        for task in tasks {
            task.await.unwrap();
        }
    }

    fn names(grants: &Grants) -> Vec<String> {
        lock(grants).iter().map(|(n, _)| n.clone()).collect()
    }

    fn granted_at(grants: &Grants, name: &str) -> Duration {
        lock(grants)
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} was not granted"))
            .1
    }

    /// The interval between two cells of a bucket paced at `per_second` (see `quota`).
    fn paced_period(per_second: f64) -> Duration {
        Duration::from_secs_f64(1.0 / (per_second * (1.0 - BURST_SHARE)))
    }

    fn row(t: &Throttle, name: &str) -> BucketReport {
        t.report().into_iter().find(|r| r.name == name).unwrap()
    }

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        assert_eq!(parse_retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after(" 2.5 ", now),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        let later: SystemTime = now + Duration::from_secs(30);
        assert_eq!(
            parse_retry_after(&httpdate::fmt_http_date(later), now),
            Some(Duration::from_secs(30))
        );
        let past = now - Duration::from_secs(30);
        assert_eq!(
            parse_retry_after(&httpdate::fmt_http_date(past), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("86400", now),
            Some(Duration::from_secs(3600)),
            "capped at an hour"
        );
    }

    /// A 429's `Retry-After` closes the bucket for every lane until it has passed; then the
    /// waiting calls go in lane order. Another bucket stays open meanwhile.
    #[tokio::test(start_paused = true)]
    async fn a_closed_bucket_admits_nothing_until_its_retry_after() {
        let t = Arc::new(Throttle::new(Some(&MicrosoftLimits::default()), None));
        let write = [BucketKey::of(BucketId::TeamsWrite)];
        let retry_after = Duration::from_millis(300);
        t.close(&write, retry_after);
        let grants = Grants::default();
        // Least urgent first: the order of grants must come from the lanes, not from arrival.
        let mut tasks = vec![
            caller(&t, Lane::Nightly, &write, "nightly", &grants),
            caller(&t, Lane::Operator, &write, "operator", &grants),
            caller(&t, Lane::Restore, &write, "restore", &grants),
        ];
        tasks.push(caller(
            &t,
            Lane::Nightly,
            &[BucketKey::of(BucketId::TeamsRead)],
            "read",
            &grants,
        ));
        tokio::time::sleep(retry_after - Duration::from_millis(1)).await;
        assert_eq!(names(&grants), ["read"], "only the open bucket granted");
        assert_eq!(granted_at(&grants, "read"), Duration::ZERO);
        all(tasks).await;
        assert_eq!(names(&grants), ["read", "restore", "operator", "nightly"]);
        let first = granted_at(&grants, "restore");
        assert!(
            first >= retry_after && first <= retry_after + TIMER_RESOLUTION,
            "the first call went {first:?} after the 429, its Retry-After was {retry_after:?}"
        );
        // Then the bucket's burst (two cells at 30/s) at once, and the rest paced at its rate.
        let operator = granted_at(&grants, "operator");
        assert!(operator <= first + TIMER_RESOLUTION, "{operator:?}");
        let period = super::pacing::quota(
            MicrosoftLimits::default().teams_write,
            Duration::from_secs(1),
        )
        .replenish_interval();
        let gap = granted_at(&grants, "nightly") - operator;
        assert!(gap >= period && gap <= period + TIMER_RESOLUTION, "{gap:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn closing_never_shortens() {
        let t = Throttle::new(Some(&MicrosoftLimits::default()), None);
        let keys = [BucketKey::keyed(BucketId::PerTeam, "team-1")];
        let until = now() + Duration::from_secs(60);
        t.close(&keys, Duration::from_secs(60));
        t.close(&keys, Duration::from_millis(1));
        assert_eq!(t.closed_until(&keys), Some(until));
        let other = [BucketKey::keyed(BucketId::PerTeam, "team-2")];
        assert_eq!(t.closed_until(&other), None, "only that team's key");
        tokio::time::advance(Duration::from_secs(60) - Duration::from_millis(1)).await;
        assert_eq!(t.closed_until(&keys), Some(until), "still closed");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(t.closed_until(&keys), None, "open once its time has passed");
    }

    /// Ten nightly calls wait on a slow bucket; a restore call arriving after them takes the next
    /// cell, and the nightly calls then go in their order.
    #[tokio::test(start_paused = true)]
    async fn a_restore_call_overtakes_waiting_nightly_calls() {
        let limits = MicrosoftLimits {
            teams_write: 5.0,
            ..MicrosoftLimits::default()
        };
        let t = Arc::new(Throttle::new(Some(&limits), None));
        let keys = [BucketKey::of(BucketId::TeamsWrite)];
        let grants = Grants::default();
        let mut tasks = Vec::new();
        for i in 0..10 {
            tasks.push(caller(
                &t,
                Lane::Nightly,
                &keys,
                &format!("nightly-{i}"),
                &grants,
            ));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let arrived = Duration::from_millis(70);
        tasks.push(caller(&t, Lane::Restore, &keys, "restore", &grants));
        all(tasks).await;
        // nightly-0 took the burst cell at once; the restore took the next one.
        let period = paced_period(limits.teams_write);
        assert_eq!(names(&grants)[..2], ["nightly-0", "restore"]);
        let restored = granted_at(&grants, "restore");
        assert!(
            restored > arrived && restored <= period + TIMER_RESOLUTION,
            "{restored:?}"
        );
        let nightly: Vec<String> = (0..10).map(|i| format!("nightly-{i}")).collect();
        let got: Vec<String> = names(&grants)
            .into_iter()
            .filter(|n| n.starts_with("nightly"))
            .collect();
        assert_eq!(got, nightly, "nightly calls in their order");
    }

    /// However many restore calls keep arriving, every 8th cell goes to the oldest waiter.
    #[tokio::test(start_paused = true)]
    async fn every_eighth_cell_goes_to_the_oldest_waiter() {
        let limits = MicrosoftLimits {
            teams_write: 5.0,
            ..MicrosoftLimits::default()
        };
        let t = Arc::new(Throttle::new(Some(&limits), None));
        let keys = [BucketKey::of(BucketId::TeamsWrite)];
        // The burst cell goes first, so every call below waits in the queue.
        in_lane(Lane::Restore, t.acquire(&keys)).await;
        let grants = Grants::default();
        let mut tasks = vec![caller(&t, Lane::Nightly, &keys, "nightly", &grants)];
        for i in 0..12 {
            tasks.push(caller(
                &t,
                Lane::Restore,
                &keys,
                &format!("restore-{i}"),
                &grants,
            ));
        }
        all(tasks).await;
        let at = names(&grants).iter().position(|n| n == "nightly").unwrap();
        assert_eq!(at as u64, FAIR_EVERY - 1, "{:?}", names(&grants));
    }

    /// Owners added to one team: 4 a minute (documented), so the second waits 15 s; another team
    /// does not wait.
    #[tokio::test(start_paused = true)]
    async fn owner_adds_are_paced_per_team_per_minute() {
        let t = Arc::new(Throttle::new(Some(&MicrosoftLimits::default()), None));
        let on = |team: &str| [BucketKey::keyed(BucketId::TeamMemberAdds, team)];
        let grants = Grants::default();
        let tasks = vec![
            caller(&t, Lane::Mis, &on("team-1"), "team-1 first", &grants),
            caller(&t, Lane::Mis, &on("team-1"), "team-1 second", &grants),
            caller(&t, Lane::Mis, &on("team-2"), "team-2 first", &grants),
        ];
        all(tasks).await;
        assert_eq!(granted_at(&grants, "team-1 first"), Duration::ZERO);
        assert_eq!(granted_at(&grants, "team-2 first"), Duration::ZERO);
        let period = paced_period(MicrosoftLimits::default().team_member_adds_per_minute / 60.0);
        let second = granted_at(&grants, "team-1 second");
        assert!(
            second >= period && second <= period + TIMER_RESOLUTION,
            "{second:?}, paced at {period:?}"
        );
    }

    /// Callers in a hurry get cells at the bucket's rate: never more than the quota in any second,
    /// and no slower than pacing (plus the timer's resolution) allows.
    #[tokio::test(start_paused = true)]
    async fn a_busy_bucket_runs_at_its_rate_and_never_above_it() {
        let limits = MicrosoftLimits::default();
        let t = Arc::new(Throttle::new(Some(&limits), None));
        let keys = [BucketKey::of(BucketId::TeamsWrite)];
        let grants = Grants::default();
        let lanes = [Lane::Nightly, Lane::Mis, Lane::Operator, Lane::Restore];
        let tasks = (0..120)
            .map(|i| caller(&t, lanes[i % 4], &keys, &format!("call-{i}"), &grants))
            .collect();
        all(tasks).await;
        let times: Vec<Duration> = lock(&grants).iter().map(|(_, at)| *at).collect();
        assert_eq!(times.len(), 120);
        for (i, start) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|at| **at < *start + Duration::from_secs(1))
                .count();
            assert!(
                in_window as f64 <= limits.teams_write,
                "{in_window} calls in the second from {start:?}"
            );
        }
        let period = paced_period(limits.teams_write);
        let mean = (times[times.len() - 1] - times[0]) / (times.len() as u32 - 1);
        assert!(
            mean >= period && mean <= period + TIMER_RESOLUTION,
            "one call every {mean:?}, paced at {period:?}"
        );
    }

    /// A per-minute bucket at a low rate (one Classroom admin, 1,200 a minute = 20 a second) keeps
    /// up its rate although every timer fires late (on whole milliseconds): its burst, 2% of the
    /// minute's quota, absorbs the lateness. And no minute ever sees more than the quota.
    #[tokio::test(start_paused = true)]
    async fn a_per_minute_bucket_loses_nothing_to_late_timers() {
        let limits = GoogleLimits::default();
        let t = Arc::new(Throttle::new(None, Some(&limits)));
        let admin = [BucketKey::keyed(
            BucketId::ClassroomUser,
            "admin@hwbcymru.net",
        )];
        let grants = Grants::default();
        let n = 2 * limits.per_user as usize + 100;
        let tasks: Vec<tokio::task::JoinHandle<()>> = (0..n)
            .map(|i| caller(&t, Lane::Nightly, &admin, &format!("call-{i}"), &grants))
            .collect();
        let window = Duration::from_secs(60);
        tokio::time::sleep(window * 2).await;
        let times: Vec<Duration> = lock(&grants).iter().map(|(_, at)| *at).collect();
        for (i, start) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|at| **at < *start + window)
                .count();
            assert!(
                in_window as f64 <= limits.per_user,
                "{in_window} calls in the minute from {start:?}"
            );
        }
        let first_minute = times.iter().filter(|at| **at < window).count();
        assert!(
            first_minute as f64 >= 0.99 * limits.per_user,
            "{first_minute} calls in the first minute, of {}",
            limits.per_user
        );
        for task in tasks {
            task.abort();
        }
    }

    /// The mean interval between the grants of `n` callers of `keys` in a hurry.
    async fn mean_interval(t: &Arc<Throttle>, keys: &[BucketKey], n: usize) -> Duration {
        let grants = Grants::default();
        let tasks = (0..n)
            .map(|i| caller(t, Lane::Nightly, keys, &format!("call-{i}"), &grants))
            .collect();
        all(tasks).await;
        let times: Vec<Duration> = lock(&grants).iter().map(|(_, at)| *at).collect();
        (times[n - 1] - times[0]) / (n as u32 - 1)
    }

    /// Three workers share the tenant's quota: each paces every shared bucket at a third of it,
    /// and the per-team buckets (one process's at a time) at their whole rate.
    #[tokio::test(start_paused = true)]
    async fn a_share_paces_the_shared_buckets_and_leaves_per_team_ones_whole() {
        let limits = MicrosoftLimits::default();
        let t = Arc::new(Throttle::new(Some(&limits), Some(&GoogleLimits::default())));
        t.set_share(1.0 / 3.0);
        let write = [BucketKey::of(BucketId::TeamsWrite)];
        let mean = mean_interval(&t, &write, 40).await;
        let period = paced_period(limits.teams_write / 3.0);
        assert!(
            mean >= period && mean <= period + TIMER_RESOLUTION,
            "one call every {mean:?}, a third of the quota paced at {period:?}"
        );
        let team = [BucketKey::keyed(BucketId::PerTeam, "team-1")];
        let mean = mean_interval(&t, &team, 12).await;
        let period = paced_period(limits.per_team);
        assert!(
            mean >= period && mean <= period + TIMER_RESOLUTION,
            "per team: one call every {mean:?}, paced at {period:?}"
        );
        let shares: Vec<(&str, f64)> = t.report().iter().map(|r| (r.name, r.share)).collect();
        for (name, share) in shares {
            let whole = name == "microsoft.per_team" || name == "microsoft.team_member_adds";
            assert_eq!(share, if whole { 1.0 } else { 1.0 / 3.0 }, "{name}");
        }
        // A peer left: the share grows back, and so does the pace.
        t.set_share(0.5);
        assert_eq!(
            row(&t, "microsoft.teams_write").current,
            limits.teams_write / 2.0
        );
    }

    /// A bucket lowered by throttling keeps its place under the new ceiling when the share changes,
    /// and recovers up to the share, never to the whole quota.
    #[tokio::test(start_paused = true)]
    async fn a_lowered_bucket_stays_lowered_under_a_new_share() {
        let t = Arc::new(Throttle::new(None, Some(&GoogleLimits::default())));
        let keys = [BucketKey::of(BucketId::ClassroomClient)];
        let configured = GoogleLimits::default().per_client / 60.0;
        for _ in 0..EPISODES_TO_LOWER {
            t.close(&keys, Duration::from_millis(20));
            tokio::time::advance(Duration::from_millis(30)).await;
        }
        let client = |t: &Throttle| row(t, "google.per_client").current;
        assert_eq!(client(&t), configured * LOWER_BY);
        t.set_share(0.5);
        assert_eq!(client(&t), configured * 0.5 * LOWER_BY);
        for _ in 0..200 {
            tokio::time::advance(RECOVER_AFTER).await;
            t.acquire(&keys).await;
        }
        assert_eq!(client(&t), configured * 0.5, "recovered to the share");
    }

    /// A new share (or a lowered rate) makes the limiter anew, without a fresh burst: a share
    /// re-balanced several times in a storm must not send a burst each time.
    #[tokio::test(start_paused = true)]
    async fn a_new_share_brings_no_new_burst() {
        let limits = GoogleLimits::default();
        let t = Arc::new(Throttle::new(None, Some(&limits)));
        let client = [BucketKey::of(BucketId::ClassroomClient)];
        t.set_share(0.5);
        let grants = Grants::default();
        let tasks = (0..5)
            .map(|i| caller(&t, Lane::Nightly, &client, &format!("call-{i}"), &grants))
            .collect();
        all(tasks).await;
        let period = paced_period(limits.per_client / 60.0 * 0.5);
        let first = lock(&grants).iter().map(|(_, at)| *at).min().unwrap();
        assert!(
            first + TIMER_RESOLUTION >= period,
            "a burst after the new share: {first:?}"
        );
    }

    /// A held throttle sends nothing, in any lane, until it is released.
    #[tokio::test(start_paused = true)]
    async fn a_held_throttle_admits_nothing_until_released() {
        let t = Arc::new(Throttle::new(Some(&MicrosoftLimits::default()), None));
        let write = [BucketKey::of(BucketId::TeamsWrite)];
        t.hold(true);
        let grants = Grants::default();
        let task = caller(&t, Lane::Restore, &write, "restore", &grants);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(names(&grants).is_empty(), "granted while held");
        t.hold(false);
        task.await.unwrap();
        assert_eq!(granted_at(&grants, "restore"), Duration::from_secs(60));
    }

    /// A 429 here is passed on; a peer's window closes the buckets here without counting a 429 of
    /// ours or being passed on again.
    #[tokio::test(start_paused = true)]
    async fn windows_are_passed_on_and_peers_windows_are_honoured() {
        let t = Arc::new(Throttle::new(Some(&MicrosoftLimits::default()), None));
        let mut passed = t.windows();
        let write = [BucketKey::of(BucketId::TeamsWrite)];
        t.close(&write, Duration::from_millis(700));
        assert_eq!(
            passed.try_recv().unwrap(),
            ClosedWindow {
                keys: write.to_vec(),
                wait: Duration::from_millis(700)
            }
        );
        let read = [BucketKey::of(BucketId::TeamsRead)];
        t.honour_peer_window(&read, Duration::from_millis(400));
        assert!(
            passed.try_recv().is_err(),
            "a peer's window is not passed on again"
        );
        assert_eq!(row(&t, "microsoft.teams_read").throttled, 0);
        let grants = Grants::default();
        caller(&t, Lane::Restore, &read, "read", &grants)
            .await
            .unwrap();
        assert!(granted_at(&grants, "read") >= Duration::from_millis(400));
    }

    /// One throttling episode (many 429s of calls in flight together) leaves the rate alone;
    /// three lower it, and the calls then go at the lower rate. Quiet for `RECOVER_AFTER`, it
    /// climbs back step by step, never above the configured rate; a 429 meanwhile holds it.
    #[tokio::test(start_paused = true)]
    async fn repeated_throttling_lowers_the_rate_and_quiet_brings_it_back() {
        let t = Arc::new(Throttle::new(None, Some(&GoogleLimits::default())));
        let keys = [BucketKey::of(BucketId::ClassroomClient)];
        let client = |t: &Throttle| row(t, "google.per_client");
        let configured = GoogleLimits::default().per_client / 60.0;
        let retry_after = Duration::from_millis(20);
        for _ in 0..5 {
            t.close(&keys, retry_after);
        }
        assert_eq!(client(&t).current, configured, "one episode");
        assert_eq!(client(&t).throttled, 5);
        // Two more episodes, each after the previous one's window.
        for _ in 0..2 {
            tokio::time::advance(Duration::from_millis(30)).await;
            t.close(&keys, retry_after);
        }
        let lowered = configured * LOWER_BY;
        assert_eq!(client(&t).current, lowered);

        // The calls go at the lowered rate, once the burst (2% of a minute's quota) is spent.
        tokio::time::advance(retry_after).await;
        let burst = (lowered * 60.0 * BURST_SHARE).floor() as usize;
        let grants = Grants::default();
        let tasks = (0..burst + 40)
            .map(|i| caller(&t, Lane::Nightly, &keys, &format!("call-{i}"), &grants))
            .collect();
        all(tasks).await;
        let times: Vec<Duration> = lock(&grants).iter().map(|(_, at)| *at).collect();
        let paced = &times[burst..];
        let mean = (paced[paced.len() - 1] - paced[0]) / (paced.len() as u32 - 1);
        let period = paced_period(lowered);
        // Within a timer tick either way: the burst room lets a late cell be caught up.
        assert!(
            mean + TIMER_RESOLUTION >= period && mean <= period + TIMER_RESOLUTION,
            "one call every {mean:?}, paced at {period:?}"
        );

        // Quiet: one step back per `RECOVER_AFTER`, taken by the next call.
        let step = configured * RECOVER_SHARE;
        tokio::time::advance(RECOVER_AFTER).await;
        t.acquire(&keys).await;
        assert_eq!(client(&t).current, lowered + step);
        t.acquire(&keys).await;
        assert_eq!(
            client(&t).current,
            lowered + step,
            "one step per quiet period"
        );
        // A 429 holds the rate where it is until a whole quiet period has passed since it.
        tokio::time::advance(RECOVER_AFTER / 3).await;
        t.close(&keys, retry_after);
        tokio::time::advance(RECOVER_AFTER * 2 / 3).await;
        t.acquire(&keys).await;
        assert_eq!(
            client(&t).current,
            lowered + step,
            "not so soon after a 429"
        );
        tokio::time::advance(RECOVER_AFTER / 3).await;
        t.acquire(&keys).await;
        assert_eq!(client(&t).current, lowered + 2.0 * step);
        for _ in 0..10 {
            tokio::time::advance(RECOVER_AFTER).await;
            t.acquire(&keys).await;
        }
        assert_eq!(client(&t).current, configured, "back up, and no further");
    }

    /// However often the service throttles, the rate stays at or above its floor.
    #[tokio::test(start_paused = true)]
    async fn lowering_stops_at_the_floor() {
        let t = Throttle::new(None, Some(&GoogleLimits::default()));
        let keys = [BucketKey::of(BucketId::ClassroomClient)];
        let configured = GoogleLimits::default().per_client / 60.0;
        for _ in 0..60 {
            t.close(&keys, Duration::from_millis(20));
            tokio::time::advance(Duration::from_millis(30)).await;
        }
        assert_eq!(
            row(&t, "google.per_client").current,
            configured * FLOOR_SHARE
        );
    }
}
