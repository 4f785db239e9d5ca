//! The store suite: what the rest of the system relies on from the `Store` trait, asserted on outcomes.
//!
//! Every test is a plain `async fn(Arc<dyn Store>)`; `store_suite!` runs the whole list against the
//! store one factory makes, so each backend runs the very same tests (`store::sqlite::…` and
//! `store::postgres::…`).
//!
//! The PostgreSQL tests use the server named by `CLASS_SYNC_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), each in a schema of its own, dropped afterwards.
//! Without a server they say loudly that they skipped, except under `CI`, where they fail.

use class_sync::core::delta::{Delta, GroupData, GroupDelta, MemberChanges, SchoolDelta};
use class_sync::core::domain::{Group, School, Snapshot, Target};
use class_sync::core::job::{JobKind, JobState, Lane};
use class_sync::core::link::{Link, LinkEvent, LinkState};
use class_sync::core::roster::Roster;
use class_sync::store::{
    AuditEntry, AuditFilter, ChangeCounts, ConsoleSession, GroupChange, GroupQuery, JobEnd,
    JobFinish, NewJob, PendingSignIn, QuotaWindow, SchoolImport, Store, WorkerInfo,
};
use std::sync::Arc;

/// A store made for one test, with whatever must live as long as it (SQLite: its temporary folder).
pub struct Fresh {
    pub store: Arc<dyn Store>,
    _keep: Box<dyn Send>,
}

/// A new SQLite store in a temporary file, opened as the service opens it.
async fn fresh_sqlite(_test: &str) -> Option<Fresh> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = class_sync::store::open(&url).await.expect("open store");
    Some(Fresh {
        store,
        _keep: Box::new(dir),
    })
}

/// A new PostgreSQL store in a schema of its own on the test server, opened as the service opens
/// it (through the URL, with the schema as `search_path`), and dropped when the test ends. None
/// (the test skips, saying so) when no server answers, unless `CI` is set: then it panics.
async fn fresh_postgres(test: &str) -> Option<Fresh> {
    let (url, keep) = pg::fresh_schema(test).await?;
    let store = class_sync::store::open(&url).await.expect("open store");
    Some(Fresh {
        store,
        _keep: Box::new(keep),
    })
}

/// The PostgreSQL test server: reaching it (or skipping, or failing under CI), unique names, and
/// cleaning up, now and after runs that died.
pub(crate) mod pg {
    use sqlx::{Connection, Executor, PgConnection};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    pub fn url() -> String {
        std::env::var("CLASS_SYNC_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.into())
    }

    /// A connection to the test server, for creating and dropping schemas and databases.
    pub struct Server {
        pub url: String,
        conn: PgConnection,
    }

    impl Server {
        pub async fn execute(&mut self, sql: &str) {
            self.conn
                .execute(sqlx::AssertSqlSafe(sql.to_string()))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    /// Connects to the test server; None (after saying so) when it is unreachable outside CI.
    pub async fn server(test: &str) -> Option<Server> {
        let url = url();
        let connect = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url));
        let error = match connect.await {
            Ok(Ok(conn)) => {
                let mut server = Server { url, conn };
                sweep_stale(&mut server).await;
                return Some(server);
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer in 5 s".to_string(),
        };
        let shown = class_sync::store::redacted(&url);
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI: PostgreSQL at {shown} is unreachable ({error}); the PostgreSQL store tests must run"
            );
        }
        // Straight to stderr, not `eprintln!`: the test harness would swallow that for a test that passes.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test} on PostgreSQL: {shown} is unreachable ({error}); \
             start a server or set CLASS_SYNC_TEST_DATABASE_URL"
        );
        None
    }

    /// `prefix_<unix seconds>_<pid>_<counter>`: unique across parallel tests and processes, and
    /// dated, so a later run can tell what a run that died left behind.
    pub fn unique_name(prefix: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{secs}_{}_{n}", std::process::id())
    }

    /// Drops the test schemas and databases older than an hour (a run that died left them), once
    /// per process.
    async fn sweep_stale(server: &mut Server) {
        static ONCE: std::sync::Once = std::sync::Once::new();
        let mut first = false;
        ONCE.call_once(|| first = true);
        if !first {
            return;
        }
        let cutoff = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            - 3600;
        let stale = |name: &str, prefix: &str| {
            let rest = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('_'));
            let secs = rest.and_then(|r| r.split('_').next()?.parse::<u64>().ok());
            secs.is_some_and(|s| s < cutoff)
        };
        let schemas: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'cs\\_test\\_%'",
        )
        .fetch_all(&mut server.conn)
        .await
        .unwrap_or_default();
        for s in schemas.iter().filter(|s| stale(s, "cs_test")) {
            server
                .execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
                .await;
        }
        let databases: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'cs\\_testdb\\_%'",
        )
        .fetch_all(&mut server.conn)
        .await
        .unwrap_or_default();
        for d in databases.iter().filter(|d| stale(d, "cs_testdb")) {
            server
                .execute(&format!("DROP DATABASE IF EXISTS {d} WITH (FORCE)"))
                .await;
        }
    }

    /// A new, empty schema on the test server for `test`: the URL that opens a store in it, and the
    /// guard that drops it. None (the test skips, saying so) without a server, outside CI.
    pub async fn fresh_schema(test: &str) -> Option<(String, DropOnExit)> {
        let mut server = server(test).await?;
        let schema = unique_name("cs_test");
        server.execute(&format!("CREATE SCHEMA {schema}")).await;
        // Dropped even if what follows fails, or the test panics.
        let keep = DropOnExit {
            url: server.url.clone(),
            sql: format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        };
        Some((with_search_path(&server.url, &schema), keep))
    }

    /// `url` with every session's `search_path` set to `schema`.
    pub fn with_search_path(url: &str, schema: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("CLASS_SYNC_TEST_DATABASE_URL is a URL");
        parsed
            .query_pairs_mut()
            .append_pair("options", &format!("-c search_path={schema}"));
        parsed.to_string()
    }

    /// `url` naming the database `name` on the same server.
    pub fn with_database(url: &str, name: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("CLASS_SYNC_TEST_DATABASE_URL is a URL");
        parsed.set_path(name);
        parsed.to_string()
    }

    /// Runs `sql` on the test server when dropped (the end of a test, or its panic): a schema or
    /// database made for it goes. Drop cannot await, so a thread of its own connects and runs it.
    pub struct DropOnExit {
        pub url: String,
        pub sql: String,
    }

    impl Drop for DropOnExit {
        fn drop(&mut self) {
            let (url, sql) = (self.url.clone(), self.sql.clone());
            let done = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                rt.block_on(async {
                    let mut conn = PgConnection::connect(&url).await?;
                    conn.execute(sqlx::AssertSqlSafe(sql)).await?;
                    conn.close().await
                })
            });
            if let Ok(Err(e)) = done.join() {
                eprintln!("cleaning up the test server: {} ({e})", self.sql);
            }
        }
    }
}

/// Runs every test below against the store `$fresh` makes, as `store::$backend::<test>`.
macro_rules! store_suite {
    ($backend:ident, $fresh:path) => {
        mod $backend {
            store_suite!(@tests $fresh;
                import_reports_added_changed_unchanged_and_withdrawn,
                import_withdraws_only_groups_of_the_schools_it_lists,
                import_creates_a_pending_mis_linked_link_per_target,
                import_reads_back_schools_and_groups_as_given,
                import_is_one_transaction,
                import_and_delta_count_by_school,
                links_of_groups_reads_a_batch_in_group_order,
                visible_groups_follow_the_restore_rule,
                visible_groups_filter_and_page_in_id_order,
                visible_groups_follow_changed_teachers_and_admins,
                link_counts_count_by_year_and_state,
                school_imports_keep_each_schools_history_newest_first,
                schools_with_last_import_pages_in_id_order,
                delta_merges_members_and_keeps_the_date,
                delta_adds_and_withdraws_only_what_it_names,
                delta_changes_school_admins,
                delta_is_one_transaction,
                put_group_reports_added_then_unchanged_then_changed,
                put_group_brings_a_withdrawn_group_back_as_changed,
                put_group_adds_links_for_new_targets,
                put_group_withdraws_no_other_group,
                put_group_of_an_unknown_school_stores_nothing,
                puts_at_once_of_a_new_group_add_it_once,
                save_link_round_trips_every_field,
                group_shown_and_pages_show_every_field_but_the_roster,
                save_link_never_turns_mis_linked_back_on,
                note_held_changes_marks_only_created_mis_linked_links,
                enqueue_does_not_duplicate_an_equal_waiting_job,
                enqueue_adds_a_job_beside_a_running_one_of_its_kind,
                enqueue_does_not_duplicate_a_restore_waiting_or_running,
                enqueue_lifts_a_waiting_job_into_a_more_urgent_lane,
                enqueue_many_answers_in_order,
                enqueue_many_finds_and_lifts_as_one_by_one_would,
                enqueues_at_once_of_one_job_make_one,
                claim_takes_the_highest_lane_first,
                claims_at_once_take_each_job_once_and_one_per_link,
                claim_never_takes_two_jobs_of_one_link,
                claim_honours_limit_and_target,
                claim_waits_for_run_at,
                claim_takes_over_a_job_whose_lease_expired,
                claim_takes_over_at_once_a_job_whose_worker_stopped_beating,
                claim_takes_over_at_once_a_job_whose_worker_is_not_registered,
                a_claim_never_takes_back_its_own_running_job,
                claim_never_takes_a_job_whose_worker_beats,
                lane_order_holds_across_queued_expired_and_orphaned_jobs,
                new_work_wakes_a_waiter_where_the_store_can_signal,
                quota_windows_come_back_where_the_store_carries_them,
                a_restore_whose_worker_died_goes_before_queued_archives,
                finish_many_saves_the_link_with_the_end,
                finish_many_ends_only_jobs_the_worker_still_holds,
                finish_failed_keeps_the_error,
                a_retry_that_does_not_count_gives_the_attempt_back,
                release_held_gives_jobs_back_without_counting_the_attempt,
                grant_restore_mis_unlinks_and_enqueues_a_restore,
                grant_restore_twice_at_once_makes_one_job,
                grant_restore_refuses_a_link_that_is_not_archived,
                grant_restore_retries_a_failed_restore,
                pending_work_counts_live_jobs_and_the_next_run,
                job_counts_and_queue_depth_count_by_kind,
                a_batch_is_followed_by_job_states_and_failed_among,
                jobs_finished_between_lists_ends_in_the_window,
                heartbeat_extends_the_leases_of_the_workers_jobs,
                live_workers_are_those_seen_since,
                register_worker_forgets_workers_not_seen_for_an_hour,
                audit_log_is_newest_first_with_a_limit,
                audit_search_narrows_by_each_field,
                console_sign_ins_are_taken_once_and_expire,
                console_sessions_open_until_they_expire_or_end,
                last_run_is_the_newest_and_only_ok_skips_failures,
                claim_schedule_has_one_winner_per_day,
                a_stale_unsettled_schedule_claim_is_taken_over,
                a_settled_schedule_claim_is_never_taken_over,
            );
        }
    };
    (@tests $fresh:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let test = concat!(module_path!(), "::", stringify!($test));
                let Some(fresh) = $fresh(test).await else { return };
                super::$test(fresh.store.clone()).await;
            }
        )*
    };
}

store_suite!(sqlite, super::fresh_sqlite);
store_suite!(postgres, super::fresh_postgres);

/// Opening a PostgreSQL store: what the suite, given an open store, cannot show.
mod postgres_open {
    use super::pg;

    /// Three processes starting on a new database at once: sqlx's migrator takes an advisory lock,
    /// so one migrates and the others wait and find nothing to do; none fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stores_opened_at_once_on_a_new_database_all_open() {
        let test = concat!(
            module_path!(),
            "::stores_opened_at_once_on_a_new_database_all_open"
        );
        let Some(mut server) = pg::server(test).await else {
            return;
        };
        let name = pg::unique_name("cs_testdb");
        server.execute(&format!("CREATE DATABASE {name}")).await;
        let _dropped = pg::DropOnExit {
            url: server.url.clone(),
            sql: format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        };
        let url = pg::with_database(&server.url, &name);
        let open = || class_sync::store::open(&url);
        let (a, b, c) = tokio::join!(open(), open(), open());
        let (a, b, c) = (a.expect("first"), b.expect("second"), c.expect("third"));
        // One schema, shared: what one writes the others read.
        a.register_worker(&super::worker("w1", 1)).await.unwrap();
        assert_eq!(b.live_workers(0).await.unwrap().len(), 1);
        assert_eq!(c.live_workers(0).await.unwrap().len(), 1);
    }

    /// The URL of a server that is not there is named in the error, without its password.
    #[tokio::test]
    async fn an_unreachable_server_is_named_without_its_password() {
        let url = "postgres://class_sync:s3cret-pw@127.0.0.1:1/sync";
        let Err(e) = class_sync::store::open(url).await else {
            panic!("nothing listens on port 1");
        };
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(
            message.contains("postgres://class_sync:***@127.0.0.1:1/sync"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
    }
}

/// New work on PostgreSQL wakes idle workers of other processes at once (`LISTEN/NOTIFY`).
mod postgres_wakeup {
    use super::*;
    use std::time::{Duration, Instant};

    /// Two handles on one fresh schema, as two worker processes would hold them.
    async fn two_handles(test: &str) -> Option<(Arc<dyn Store>, Arc<dyn Store>, pg::DropOnExit)> {
        let (url, keep) = pg::fresh_schema(test).await?;
        let a = class_sync::store::open(&url).await.expect("open store");
        let b = class_sync::store::open(&url).await.expect("open store");
        Some((a, b, keep))
    }

    /// Waits for the signal, failing after a second (workers poll every 250 ms: a signal that
    /// came only with a poll would not be a wakeup, and the suite's other schemas must not wake it).
    async fn woken_within_a_second(signal: &mut class_sync::store::WorkSignal, what: &str) {
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(1), signal.notified())
            .await
            .unwrap_or_else(|_| panic!("{what} did not wake the waiter within a second"));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// A quota window published on one handle reaches a follower on another at once (the worker
    /// closes the same buckets there); a window of another schema does not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quota_window_on_one_handle_reaches_another_at_once() {
        let test = concat!(
            module_path!(),
            "::a_quota_window_on_one_handle_reaches_another_at_once"
        );
        let Some((a, b, _keep)) = two_handles(test).await else {
            return;
        };
        let Some((other, _, _keep_other)) = two_handles(test).await else {
            return;
        };
        let mut windows = b
            .follow_quota_windows()
            .await
            .expect("follow")
            .expect("PostgreSQL carries quota windows");
        other
            .publish_quota_window(&quota_window("elsewhere", 1))
            .await
            .unwrap();
        let window = quota_window("w1", 1_900_000_000_000);
        let sent = Instant::now();
        a.publish_quota_window(&window).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(1), windows.recv())
            .await
            .expect("a window within a second");
        println!("quota window arrived after {:?}", sent.elapsed());
        assert_eq!(got, Some(window), "only this schema's window");
    }

    /// Enqueue, the Restore grant and release each wake a waiter on another handle; a claim does not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_work_on_one_handle_wakes_a_waiter_on_another() {
        let test = concat!(
            module_path!(),
            "::new_work_on_one_handle_wakes_a_waiter_on_another"
        );
        let Some((a, b, _keep)) = two_handles(test).await else {
            return;
        };
        seed(&a).await;
        let mut signal = b
            .wake_on_new_work()
            .await
            .expect("listen")
            .expect("PostgreSQL signals new work");
        let quiet = tokio::time::timeout(Duration::from_millis(300), signal.notified()).await;
        assert!(quiet.is_err(), "woken with nothing enqueued in this schema");

        let id = enqueue(&a, &reconcile("g1"), 1).await;
        woken_within_a_second(&mut signal, "an enqueue").await;

        assert_eq!(claim(&a, "w1", 1, 2).await, [id]);
        let claimed = tokio::time::timeout(Duration::from_millis(300), signal.notified()).await;
        assert!(claimed.is_err(), "a claim is no new work");
        assert_eq!(a.release_held("w1").await.unwrap(), 1);
        woken_within_a_second(&mut signal, "a release").await;

        move_teams_link(&a, "g2", &[FOUND_ARCHIVED]).await;
        let restore = job(JobKind::Restore, "g2", Target::Teams, Lane::Restore);
        a.grant_restore(&restore, 3)
            .await
            .unwrap()
            .expect("granted");
        woken_within_a_second(&mut signal, "a Restore grant").await;
    }
}

// ---- Data the tests share ----

const SCHOOL: &str = "6612001";
const LEASE: i64 = 60_000;
/// The liveness window the liveness tests use: well inside the lease, as the worker's is.
const WINDOW: i64 = 15_000;

fn school(id: &str) -> School {
    School {
        id: id.into(),
        name: format!("Ysgol {id}"),
        admins: vec![format!("admin@{id}.example")],
    }
}

fn group(id: &str, school: &str) -> Group {
    Group {
        id: id.into(),
        school: school.into(),
        academic_year: "2025-26".into(),
        name: format!("{id} Mathematics"),
        year_group: Some(7),
        subject: Some("Mathematics".into()),
        targets: vec![Target::Teams, Target::Classroom],
        teachers: vec!["teacher@hwbcymru.net".into()],
        learners: vec!["learner@hwbcymru.net".into()],
    }
}

fn snapshot(schools: &[&str], groups: &[Group]) -> Snapshot {
    Snapshot {
        schools: schools.iter().map(|s| school(s)).collect(),
        groups: groups.to_vec(),
    }
}

/// One school with groups `g1`, `g2` and `g3`, each with a pending Teams and Classroom link.
async fn seed(store: &Arc<dyn Store>) {
    let groups = ["g1", "g2", "g3"].map(|g| group(g, SCHOOL));
    store
        .import_snapshot(&snapshot(&[SCHOOL], &groups))
        .await
        .expect("seed");
}

fn job(kind: JobKind, group_id: &str, target: Target, lane: Lane) -> NewJob {
    NewJob {
        kind,
        group_id: group_id.into(),
        target,
        lane,
        requested_by: Some("test".into()),
        max_attempts: 5,
    }
}

fn reconcile(group_id: &str) -> NewJob {
    job(JobKind::Reconcile, group_id, Target::Teams, Lane::Mis)
}

async fn enqueue(store: &Arc<dyn Store>, job: &NewJob, now: i64) -> i64 {
    store.enqueue(job, now).await.expect("enqueue").0
}

/// The ids of the Teams jobs `worker` claims at `now`, every registered worker counted as live
/// (these tests are about lanes, links and leases; `claim_seeing` sets the liveness window).
async fn claim(store: &Arc<dyn Store>, worker: &str, limit: usize, now: i64) -> Vec<i64> {
    claim_seeing(store, worker, limit, now, i64::MIN).await
}

/// The ids of the Teams jobs `worker` claims at `now`, taking workers not seen since
/// `live_since` for dead. Like a real worker it is registered (seen at `now`) when it claims.
async fn claim_seeing(
    store: &Arc<dyn Store>,
    name: &str,
    limit: usize,
    now: i64,
    live_since: i64,
) -> Vec<i64> {
    store.register_worker(&worker(name, now)).await.unwrap();
    let jobs = store
        .claim(name, Target::Teams, limit, now, LEASE, live_since)
        .await
        .expect("claim");
    jobs.iter().map(|j| j.id).collect()
}

async fn job_state(store: &Arc<dyn Store>, id: i64) -> (JobState, u32) {
    let j = store.job(id).await.expect("job").expect("the job exists");
    (j.state, j.attempts)
}

async fn teams_link(store: &Arc<dyn Store>, group_id: &str) -> Link {
    store
        .link(group_id, Target::Teams)
        .await
        .expect("link")
        .expect("the link exists")
}

/// Moves a group's Teams link on by `events`, as jobs do, with a remote id, and saves it.
async fn move_teams_link(store: &Arc<dyn Store>, group_id: &str, events: &[LinkEvent]) -> Link {
    let mut link = teams_link(store, group_id).await;
    link.remote_id = Some(format!("team-{group_id}"));
    for event in events {
        link.apply(*event)
            .expect("a move the life of a link allows");
    }
    store.save_link(&link).await.expect("save link");
    link
}

const CREATED: LinkEvent = LinkEvent::Created { archived: false };
const FOUND_ARCHIVED: LinkEvent = LinkEvent::Created { archived: true };

fn finish(job_id: i64, end: JobEnd, link: Option<Link>) -> JobFinish {
    JobFinish { job_id, end, link }
}

fn worker(id: &str, seen_at: i64) -> WorkerInfo {
    WorkerInfo {
        id: id.into(),
        kind: "work".into(),
        pid: 42,
        started_at: seen_at,
        seen_at,
    }
}

// ---- Schools, groups, links ----

async fn import_reports_added_changed_unchanged_and_withdrawn(store: Arc<dyn Store>) {
    seed(&store).await;
    let mut g2 = group("g2", SCHOOL);
    g2.learners.push("new.learner@hwbcymru.net".into());
    let next = [group("g1", SCHOOL), g2, group("g4", SCHOOL)];
    let applied = store
        .import_snapshot(&snapshot(&[SCHOOL], &next))
        .await
        .unwrap();
    assert_eq!(applied.unchanged, ["g1"]);
    assert_eq!(applied.changed, ["g2"]);
    assert_eq!(applied.added, ["g4"]);
    assert_eq!(applied.withdrawn, ["g3"]);
    assert!(store.group("g3").await.unwrap().unwrap().withdrawn);
    assert!(!store.group("g4").await.unwrap().unwrap().withdrawn);
}

/// What an import did is counted per school too, withdrawals included (a delta's as well).
async fn import_and_delta_count_by_school(store: Arc<dyn Store>) {
    seed(&store).await;
    let other = "7700001";
    let mut g2 = group("g2", SCHOOL);
    g2.name = "renamed".into();
    let next = [
        group("g1", SCHOOL),
        g2,
        group("o1", other),
        group("o2", other),
    ];
    let applied = store
        .import_snapshot(&snapshot(&[SCHOOL, other], &next))
        .await
        .unwrap();
    let counts = |added, changed, unchanged, withdrawn| ChangeCounts {
        added,
        changed,
        unchanged,
        withdrawn,
    };
    assert_eq!(
        applied.by_school,
        [
            (SCHOOL.to_string(), counts(0, 1, 1, 1)),
            (other.to_string(), counts(2, 0, 0, 0)),
        ]
        .into()
    );
    let delta = Delta {
        withdrawn: vec!["o2".into(), "g404".into()],
        ..Delta::default()
    };
    let applied = store.apply_delta(&delta).await.unwrap();
    assert_eq!(
        applied.by_school,
        [(other.to_string(), counts(0, 0, 0, 1))].into()
    );
}

async fn links_of_groups_reads_a_batch_in_group_order(store: Arc<dyn Store>) {
    seed(&store).await;
    let links = store
        .links_of_groups(&["g3", "g1", "nobody"])
        .await
        .unwrap();
    let shown: Vec<(&str, &str)> = links
        .iter()
        .map(|l| (l.group_id.as_str(), l.target.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("g1", "classroom"),
            ("g1", "teams"),
            ("g3", "classroom"),
            ("g3", "teams")
        ]
    );
    assert_eq!(links[0], store.links_of("g1").await.unwrap()[0]);
    assert!(store.links_of_groups(&[]).await.unwrap().is_empty());
}

/// School A (`admin@A.example`) with g1 (t1), g2 (t2, t1), g3 (t3, year 9, Teams only);
/// school B with h1 (t1).
async fn seed_for_views(store: &Arc<dyn Store>) {
    let taught = |id: &str, school: &str, teachers: &[&str]| Group {
        teachers: teachers
            .iter()
            .map(|t| format!("{t}@hwbcymru.net"))
            .collect(),
        ..group(id, school)
    };
    let mut g3 = taught("g3", "A", &["t3"]);
    (g3.year_group, g3.targets) = (Some(9), vec![Target::Teams]);
    let groups = [
        taught("g1", "A", &["t1"]),
        taught("g2", "A", &["t2", "T1"]),
        g3,
        taught("h1", "B", &["t1"]),
    ];
    store
        .import_snapshot(&snapshot(&["A", "B"], &groups))
        .await
        .expect("seed");
}

async fn view(store: &Arc<dyn Store>, query: GroupQuery) -> (Vec<String>, u64, bool) {
    let page = store.visible_groups(&query).await.unwrap();
    let ids = page
        .groups
        .iter()
        .map(|(g, _)| g.group.id.clone())
        .collect();
    (ids, page.total, page.more)
}

fn seen_by(viewer: Option<&str>) -> GroupQuery {
    GroupQuery {
        viewer: viewer.map(str::to_string),
        limit: 100,
        ..GroupQuery::default()
    }
}

async fn visible_groups_follow_the_restore_rule(store: Arc<dyn Store>) {
    seed_for_views(&store).await;
    let cases: [(Option<&str>, &[&str]); 5] = [
        (Some("admin@a.example"), &["g1", "g2", "g3"]),
        (Some("t1@hwbcymru.net"), &["g1", "g2", "h1"]),
        (Some("t3@hwbcymru.net"), &["g3"]),
        (Some("nobody@hwbcymru.net"), &[]),
        (None, &["g1", "g2", "g3", "h1"]),
    ];
    for (viewer, want) in cases {
        let (ids, total, more) = view(&store, seen_by(viewer)).await;
        assert_eq!(ids, want, "{viewer:?}");
        assert_eq!((total, more), (want.len() as u64, false), "{viewer:?}");
    }
    // Each group comes with its links.
    let page = store
        .visible_groups(&seen_by(Some("t3@hwbcymru.net")))
        .await
        .unwrap();
    assert_eq!(page.groups[0].1, store.links_of("g3").await.unwrap());
}

async fn visible_groups_filter_and_page_in_id_order(store: Arc<dyn Store>) {
    seed_for_views(&store).await;
    let admin = || seen_by(Some("admin@a.example"));
    let first = GroupQuery {
        limit: 2,
        ..admin()
    };
    assert_eq!(
        view(&store, first.clone()).await,
        (vec!["g1".into(), "g2".into()], 3, true)
    );
    let rest = GroupQuery {
        after: Some("g2".into()),
        ..first
    };
    assert_eq!(view(&store, rest).await, (vec!["g3".into()], 3, false));
    let filtered = [
        (
            GroupQuery {
                teacher: Some("t2@hwbcymru.net".into()),
                ..admin()
            },
            vec!["g2"],
        ),
        (
            GroupQuery {
                year_group: Some(9),
                ..admin()
            },
            vec!["g3"],
        ),
        (
            GroupQuery {
                academic_year: Some("2024-25".into()),
                ..admin()
            },
            vec![],
        ),
        (
            GroupQuery {
                school: Some("B".into()),
                ..admin()
            },
            vec![],
        ),
        (
            GroupQuery {
                target: Some(Target::Classroom),
                ..admin()
            },
            vec!["g1", "g2"],
        ),
        (
            GroupQuery {
                state: Some(LinkState::Archived),
                ..admin()
            },
            vec!["g1"],
        ),
        (
            GroupQuery {
                target: Some(Target::Classroom),
                state: Some(LinkState::Archived),
                ..admin()
            },
            vec![],
        ),
    ];
    move_teams_link(&store, "g1", &[FOUND_ARCHIVED]).await;
    for (query, want) in filtered {
        let (ids, total, _) = view(&store, query.clone()).await;
        assert_eq!(ids, want, "{query:?}");
        assert_eq!(total, want.len() as u64, "{query:?}");
    }
}

async fn visible_groups_follow_changed_teachers_and_admins(store: Arc<dyn Store>) {
    seed_for_views(&store).await;
    // g2 loses t1; a delta adds t1 to g3; school A gets a new admin.
    let mut g2 = group("g2", "A");
    g2.teachers = vec!["t2@hwbcymru.net".into()];
    store.put_group(&g2).await.unwrap();
    let delta = Delta {
        schools: vec![SchoolDelta {
            id: "A".into(),
            name: None,
            add_admins: vec!["new.admin@a.example".into()],
            remove_admins: vec!["admin@A.example".into()],
        }],
        ..Delta::default()
    };
    store.apply_delta(&delta).await.unwrap();
    let (t1, _, _) = view(&store, seen_by(Some("t1@hwbcymru.net"))).await;
    assert_eq!(t1, ["g1", "h1"]);
    let (old, _, _) = view(&store, seen_by(Some("admin@a.example"))).await;
    assert!(old.is_empty(), "{old:?}");
    let (new, _, _) = view(&store, seen_by(Some("new.admin@a.example"))).await;
    assert_eq!(new, ["g1", "g2", "g3"]);
}

async fn link_counts_count_by_year_and_state(store: Arc<dyn Store>) {
    seed_for_views(&store).await;
    move_teams_link(&store, "g1", &[FOUND_ARCHIVED]).await;
    assert_eq!(
        store.link_counts().await.unwrap(),
        [
            ("2025-26".to_string(), "archived".to_string(), 1),
            ("2025-26".to_string(), "pending".to_string(), 6),
        ]
    );
}

fn school_import(school: &str, at: i64, day: &str, added: u64) -> SchoolImport {
    SchoolImport {
        school_id: school.into(),
        at,
        day: day.into(),
        format: "oneroster delta".into(),
        file: Some("/exports/delta.zip".into()),
        actor: "cli".into(),
        counts: ChangeCounts {
            added,
            changed: 1,
            unchanged: 2,
            withdrawn: 3,
        },
        enqueued: 4,
        held_back: [("after mis_sync_cutoff".to_string(), 5)].into(),
    }
}

async fn school_imports_keep_each_schools_history_newest_first(store: Arc<dyn Store>) {
    seed(&store).await;
    let first = school_import(SCHOOL, 1_000, "2025-10-01", 1);
    let second = school_import(SCHOOL, 2_000, "2025-10-08", 2);
    let elsewhere = school_import("7700001", 3_000, "2025-10-09", 3);
    store
        .record_school_imports(&[first.clone(), elsewhere.clone()])
        .await
        .unwrap();
    store
        .record_school_imports(std::slice::from_ref(&second))
        .await
        .unwrap();
    assert_eq!(
        store.school_imports(SCHOOL, 10).await.unwrap(),
        [second.clone(), first]
    );
    assert_eq!(store.school_imports(SCHOOL, 1).await.unwrap(), [second]);
    assert_eq!(store.school_imports("nobody", 10).await.unwrap(), []);
    // Only known schools are listed: 7700001's import was recorded, but no import named it.
    assert_eq!(
        store.last_import_days().await.unwrap(),
        [(SCHOOL.to_string(), Some(("2025-10-08".to_string(), 2_000)))]
    );
}

async fn schools_with_last_import_pages_in_id_order(store: Arc<dyn Store>) {
    let ids = ["6600001", "6600002", "6600003"];
    store.import_snapshot(&snapshot(&ids, &[])).await.unwrap();
    let latest = school_import("6600002", 2_000, "2025-10-08", 2);
    store
        .record_school_imports(&[school_import("6600002", 1_000, "2025-10-01", 1)])
        .await
        .unwrap();
    store
        .record_school_imports(std::slice::from_ref(&latest))
        .await
        .unwrap();
    let page = store.schools_with_last_import(None, 2).await.unwrap();
    let shown: Vec<(&str, Option<&SchoolImport>)> = page
        .iter()
        .map(|s| (s.school_id.as_str(), s.last.as_ref()))
        .collect();
    assert_eq!(shown, [("6600001", None), ("6600002", Some(&latest))]);
    assert_eq!(page[0].name, school("6600001").name);
    let rest = store
        .schools_with_last_import(Some("6600002"), 2)
        .await
        .unwrap();
    let rest: Vec<&str> = rest.iter().map(|s| s.school_id.as_str()).collect();
    assert_eq!(rest, ["6600003"]);
    assert!(
        store
            .schools_with_last_import(Some("6600003"), 2)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn import_withdraws_only_groups_of_the_schools_it_lists(store: Arc<dyn Store>) {
    seed(&store).await;
    let other = snapshot(&["7700001"], &[group("o1", "7700001")]);
    let applied = store.import_snapshot(&other).await.unwrap();
    assert!(applied.withdrawn.is_empty());
    assert!(!store.group("g1").await.unwrap().unwrap().withdrawn);
    assert_eq!(store.school_ids().await.unwrap(), ["6612001", "7700001"]);
}

async fn import_creates_a_pending_mis_linked_link_per_target(store: Arc<dyn Store>) {
    seed(&store).await;
    let links = store.links_of("g1").await.unwrap();
    let mut targets: Vec<Target> = links.iter().map(|l| l.target).collect();
    targets.sort();
    assert_eq!(targets, [Target::Teams, Target::Classroom]);
    assert!(
        links
            .iter()
            .all(|l| l.state() == LinkState::Pending && l.mis_linked() && l.remote_id.is_none())
    );
    assert_eq!(store.all_links().await.unwrap().len(), 6);
}

async fn import_reads_back_schools_and_groups_as_given(store: Arc<dyn Store>) {
    let mut bare = group("g1", SCHOOL);
    (bare.year_group, bare.subject) = (None, None);
    let given = snapshot(&[SCHOOL], &[bare.clone(), group("g2", SCHOOL)]);
    store.import_snapshot(&given).await.unwrap();
    assert_eq!(store.school(SCHOOL).await.unwrap(), Some(school(SCHOOL)));
    assert_eq!(store.school("nope").await.unwrap(), None);
    let groups: Vec<Group> = store
        .groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.group)
        .collect();
    assert_eq!(groups, given.groups);
    assert!(store.group("nope").await.unwrap().is_none());
}

async fn import_is_one_transaction(store: Arc<dyn Store>) {
    // The second group's school is neither listed nor stored: the import fails after the school and
    // the first group were written, and must leave nothing behind.
    let broken = snapshot(&[SCHOOL], &[group("g1", SCHOOL), group("g2", "7700001")]);
    assert!(store.import_snapshot(&broken).await.is_err());
    assert!(store.school_ids().await.unwrap().is_empty());
    assert!(store.groups().await.unwrap().is_empty());
    assert!(store.all_links().await.unwrap().is_empty());
}

fn members(add_learners: &[&str], remove_learners: &[&str]) -> MemberChanges {
    MemberChanges {
        add_learners: add_learners.iter().map(|s| s.to_string()).collect(),
        remove_learners: remove_learners.iter().map(|s| s.to_string()).collect(),
        ..MemberChanges::default()
    }
}

fn enrollments_of(id: &str, changes: MemberChanges, modified: &str) -> GroupDelta {
    GroupDelta {
        id: id.into(),
        data: None,
        members: changes,
        modified: Some(modified.into()),
    }
}

async fn delta_merges_members_and_keeps_the_date(store: Arc<dyn Store>) {
    seed(&store).await;
    let delta = Delta {
        groups: vec![enrollments_of(
            "g1",
            members(&["new@hwbcymru.net"], &["learner@hwbcymru.net"]),
            "2025-10-02T09:00:00.000Z",
        )],
        ..Delta::default()
    };
    let applied = store.apply_delta(&delta).await.unwrap();
    assert_eq!(applied.changed, ["g1"]);
    let stored = store.group("g1").await.unwrap().unwrap();
    assert_eq!(stored.group.learners, ["new@hwbcymru.net"]);
    assert_eq!(stored.group.teachers, ["teacher@hwbcymru.net"]);
    assert_eq!(
        (stored.group.year_group, stored.group.name.as_str()),
        (Some(7), "g1 Mathematics")
    );
    assert_eq!(
        stored.source_modified.as_deref(),
        Some("2025-10-02T09:00:00.000Z")
    );
    // The same change again changes nothing, but a later date is still kept.
    let again = Delta {
        groups: vec![enrollments_of(
            "g1",
            members(&["new@hwbcymru.net"], &[]),
            "2025-10-03T09:00:00.000Z",
        )],
        ..Delta::default()
    };
    assert_eq!(store.apply_delta(&again).await.unwrap().unchanged, ["g1"]);
    let stored = store.group("g1").await.unwrap().unwrap();
    assert_eq!(
        stored.source_modified.as_deref(),
        Some("2025-10-03T09:00:00.000Z")
    );
    // A snapshot that changes the group clears it: the date is a delta's.
    let mut g1 = stored.group.clone();
    g1.name = "renamed".into();
    store.put_group(&g1).await.unwrap();
    assert_eq!(
        store.group("g1").await.unwrap().unwrap().source_modified,
        None
    );
}

async fn delta_adds_and_withdraws_only_what_it_names(store: Arc<dyn Store>) {
    seed(&store).await;
    let delta = Delta {
        groups: vec![
            GroupDelta {
                id: "g9".into(),
                data: Some(GroupData {
                    school: SCHOOL.into(),
                    academic_year: "2025-26".into(),
                    name: "g9 Cymraeg".into(),
                    targets: vec![Target::Teams],
                }),
                members: members(&["l9@hwbcymru.net"], &[]),
                modified: Some("2025-10-02T09:00:00.000Z".into()),
            },
            // Enrollments of a group nobody holds change nothing.
            enrollments_of(
                "g404",
                members(&["x@hwbcymru.net"], &[]),
                "2025-10-02T09:00:00.000Z",
            ),
        ],
        withdrawn: vec!["g2".into(), "g404".into()],
        ..Delta::default()
    };
    let applied = store.apply_delta(&delta).await.unwrap();
    assert_eq!(applied.added, ["g9"]);
    assert_eq!(applied.withdrawn, ["g2"]);
    assert!(applied.changed.is_empty() && applied.unchanged.is_empty());
    let g9 = store.group("g9").await.unwrap().unwrap();
    assert_eq!(
        (g9.group.learners.as_slice(), g9.group.year_group),
        (&["l9@hwbcymru.net".to_string()][..], None)
    );
    let links: Vec<Target> = store
        .links_of("g9")
        .await
        .unwrap()
        .iter()
        .map(|l| l.target)
        .collect();
    assert_eq!(links, [Target::Teams]);
    let groups = store.groups().await.unwrap();
    let withdrawn: Vec<&str> = groups
        .iter()
        .filter(|g| g.withdrawn)
        .map(|g| g.group.id.as_str())
        .collect();
    assert_eq!(
        withdrawn,
        ["g2"],
        "g1 and g3, not named, are left as they are"
    );
    assert!(store.group("g404").await.unwrap().is_none());
    // Enrollments alone do not bring a withdrawn group back.
    let late = Delta {
        groups: vec![enrollments_of(
            "g2",
            members(&["x@hwbcymru.net"], &[]),
            "2025-10-04T09:00:00.000Z",
        )],
        ..Delta::default()
    };
    let applied = store.apply_delta(&late).await.unwrap();
    assert!(applied.changed.is_empty() && applied.unchanged.is_empty());
    assert!(store.group("g2").await.unwrap().unwrap().withdrawn);
}

async fn delta_changes_school_admins(store: Arc<dyn Store>) {
    seed(&store).await;
    let delta = Delta {
        schools: vec![
            SchoolDelta {
                id: SCHOOL.into(),
                name: None,
                add_admins: vec!["second@hwbcymru.net".into()],
                remove_admins: vec![],
            },
            SchoolDelta {
                id: "6612002".into(),
                name: Some("Ysgol Newydd".into()),
                add_admins: vec!["new@hwbcymru.net".into()],
                remove_admins: vec![],
            },
        ],
        ..Delta::default()
    };
    store.apply_delta(&delta).await.unwrap();
    let first = store.school(SCHOOL).await.unwrap().unwrap();
    assert_eq!(
        first.admins.last().map(String::as_str),
        Some("second@hwbcymru.net")
    );
    assert_eq!(first.name, school(SCHOOL).name);
    let second = store.school("6612002").await.unwrap().unwrap();
    assert_eq!(
        (second.name.as_str(), second.admins.as_slice()),
        ("Ysgol Newydd", &["new@hwbcymru.net".to_string()][..])
    );
}

async fn delta_is_one_transaction(store: Arc<dyn Store>) {
    seed(&store).await;
    // The second group's school is not stored: the delta fails after the first group was written
    // and the withdrawal listed, and must leave nothing behind.
    let orphan = GroupDelta {
        id: "g8".into(),
        data: Some(GroupData {
            school: "7700001".into(),
            academic_year: "2025-26".into(),
            name: "orphan".into(),
            targets: vec![Target::Teams],
        }),
        members: MemberChanges::default(),
        modified: None,
    };
    let delta = Delta {
        groups: vec![
            enrollments_of(
                "g1",
                members(&["new@hwbcymru.net"], &[]),
                "2025-10-02T09:00:00.000Z",
            ),
            orphan,
        ],
        withdrawn: vec!["g2".into()],
        ..Delta::default()
    };
    assert!(store.apply_delta(&delta).await.is_err());
    let g1 = store.group("g1").await.unwrap().unwrap();
    assert_eq!(g1.group.learners, ["learner@hwbcymru.net"]);
    assert_eq!(g1.source_modified, None);
    assert!(!store.group("g2").await.unwrap().unwrap().withdrawn);
    assert!(store.group("g8").await.unwrap().is_none());
}

async fn put_group_reports_added_then_unchanged_then_changed(store: Arc<dyn Store>) {
    seed(&store).await;
    let mut g = group("g9", SCHOOL);
    assert_eq!(store.put_group(&g).await.unwrap(), GroupChange::Added);
    assert_eq!(store.put_group(&g).await.unwrap(), GroupChange::Unchanged);
    g.name = "g9 Further Mathematics".into();
    assert_eq!(store.put_group(&g).await.unwrap(), GroupChange::Changed);
    assert_eq!(store.group("g9").await.unwrap().unwrap().group, g);
}

async fn put_group_brings_a_withdrawn_group_back_as_changed(store: Arc<dyn Store>) {
    seed(&store).await;
    let without_g3 = ["g1", "g2"].map(|g| group(g, SCHOOL));
    store
        .import_snapshot(&snapshot(&[SCHOOL], &without_g3))
        .await
        .unwrap();
    assert_eq!(
        store.put_group(&group("g3", SCHOOL)).await.unwrap(),
        GroupChange::Changed
    );
    assert!(!store.group("g3").await.unwrap().unwrap().withdrawn);
}

async fn put_group_adds_links_for_new_targets(store: Arc<dyn Store>) {
    let mut g = group("g1", SCHOOL);
    g.targets = vec![Target::Teams];
    let only_teams = snapshot(&[SCHOOL], std::slice::from_ref(&g));
    store.import_snapshot(&only_teams).await.unwrap();
    assert_eq!(store.links_of("g1").await.unwrap().len(), 1);
    g.targets = vec![Target::Teams, Target::Classroom];
    store.put_group(&g).await.unwrap();
    let classroom = store.link("g1", Target::Classroom).await.unwrap().unwrap();
    assert_eq!(classroom.state(), LinkState::Pending);
}

async fn put_group_withdraws_no_other_group(store: Arc<dyn Store>) {
    seed(&store).await;
    store.put_group(&group("g9", SCHOOL)).await.unwrap();
    let groups = store.groups().await.unwrap();
    assert_eq!(groups.len(), 4);
    assert!(groups.iter().all(|g| !g.withdrawn));
}

async fn put_group_of_an_unknown_school_stores_nothing(store: Arc<dyn Store>) {
    seed(&store).await;
    assert!(store.put_group(&group("g9", "7700001")).await.is_err());
    assert!(store.group("g9").await.unwrap().is_none());
    assert!(store.links_of("g9").await.unwrap().is_empty());
}

async fn puts_at_once_of_a_new_group_add_it_once(store: Arc<dyn Store>) {
    seed(&store).await;
    let put = || {
        let store = store.clone();
        tokio::spawn(async move { store.put_group(&group("g9", SCHOOL)).await })
    };
    let (a, b) = (put(), put());
    let mut changes = [a.await.unwrap().unwrap(), b.await.unwrap().unwrap()];
    changes.sort_by_key(|c| c.as_str());
    assert_eq!(changes, [GroupChange::Added, GroupChange::Unchanged]);
    assert_eq!(store.links_of("g9").await.unwrap().len(), 2);
}

async fn save_link_round_trips_every_field(store: Arc<dyn Store>) {
    seed(&store).await;
    let mut link = teams_link(&store, "g1").await;
    link.apply(CREATED).unwrap();
    link.remote_id = Some("team-1".into());
    link.managed = Roster::new(
        ["t@x".to_string()],
        ["l1@x".to_string(), "l2@x".to_string()],
    );
    link.missing_accounts = vec!["late@x".into()];
    link.last_sync = Some(1_234);
    link.last_error = Some("a learner's account is missing".into());
    link.held_changes = true;
    store.save_link(&link).await.unwrap();
    assert_eq!(teams_link(&store, "g1").await, link);
}

async fn group_shown_and_pages_show_every_field_but_the_roster(store: Arc<dyn Store>) {
    seed(&store).await;
    let mut link = teams_link(&store, "g1").await;
    link.apply(CREATED).unwrap();
    link.remote_id = Some("team-1".into());
    link.managed = Roster::new(["t@x".to_string()], ["l1@x".to_string()]);
    link.missing_accounts = vec!["late@x".into()];
    link.last_sync = Some(1_234);
    link.last_error = Some("a learner's account is \"missing\"".into());
    link.held_changes = true;
    store.save_link(&link).await.unwrap();
    let mut shown = link.clone();
    shown.managed = Roster::default();

    let (group, links) = store.group_shown("g1").await.unwrap().expect("g1 is known");
    assert_eq!(group, store.group("g1").await.unwrap().unwrap());
    let all = store.links_of("g1").await.unwrap();
    assert_eq!(links.len(), all.len());
    assert_eq!(
        links.iter().find(|l| l.target == Target::Teams),
        Some(&shown)
    );
    let targets = |ls: &[Link]| ls.iter().map(|l| l.target).collect::<Vec<_>>();
    assert_eq!(targets(&links), targets(&all), "in target order");
    assert!(store.group_shown("nope").await.unwrap().is_none());

    let page = store.visible_groups(&seen_by(None)).await.unwrap();
    let (_, on_page) = page
        .groups
        .iter()
        .find(|(g, _)| g.group.id == "g1")
        .unwrap();
    assert_eq!(on_page, &links);
}

async fn save_link_never_turns_mis_linked_back_on(store: Arc<dyn Store>) {
    seed(&store).await;
    let stale = move_teams_link(&store, "g1", &[FOUND_ARCHIVED]).await;
    let mut unlinked = stale.clone();
    assert!(unlinked.grant_restore());
    store.save_link(&unlinked).await.unwrap();
    // A job that read the link before the restore was granted saves its (linked) copy.
    store.save_link(&stale).await.unwrap();
    assert!(!teams_link(&store, "g1").await.mis_linked());
}

async fn note_held_changes_marks_only_created_mis_linked_links(store: Arc<dyn Store>) {
    seed(&store).await;
    move_teams_link(&store, "g1", &[CREATED]).await;
    // g2 stays pending; g3 is restored, so MIS-unlinked.
    move_teams_link(&store, "g3", &[FOUND_ARCHIVED, LinkEvent::Restored]).await;
    for id in ["g1", "g2", "g3"] {
        store.note_held_changes(id, Target::Teams).await.unwrap();
    }
    assert!(teams_link(&store, "g1").await.held_changes);
    assert!(!teams_link(&store, "g2").await.held_changes);
    assert!(!teams_link(&store, "g3").await.held_changes);
}

// ---- The job queue ----

async fn enqueue_does_not_duplicate_an_equal_waiting_job(store: Arc<dyn Store>) {
    seed(&store).await;
    let (first, new) = store.enqueue(&reconcile("g1"), 1).await.unwrap();
    assert!(new);
    assert_eq!(
        store.enqueue(&reconcile("g1"), 2).await.unwrap(),
        (first, false)
    );
    // Another kind, target or group is another job.
    let archive = job(JobKind::Archive, "g1", Target::Teams, Lane::Mis);
    let classroom = job(JobKind::Reconcile, "g1", Target::Classroom, Lane::Mis);
    for other in [archive, classroom, reconcile("g2")] {
        assert!(store.enqueue(&other, 3).await.unwrap().1);
    }
}

async fn enqueue_adds_a_job_beside_a_running_one_of_its_kind(store: Arc<dyn Store>) {
    seed(&store).await;
    let running = enqueue(&store, &reconcile("g1"), 1).await;
    assert_eq!(claim(&store, "w1", 1, 2).await, [running]);
    // The running one may have read the group before this change.
    let (next, new) = store.enqueue(&reconcile("g1"), 3).await.unwrap();
    assert!(new && next != running);
}

async fn enqueue_does_not_duplicate_a_restore_waiting_or_running(store: Arc<dyn Store>) {
    seed(&store).await;
    let restore = job(JobKind::Restore, "g1", Target::Teams, Lane::Restore);
    let first = enqueue(&store, &restore, 1).await;
    assert_eq!(store.enqueue(&restore, 2).await.unwrap(), (first, false));
    assert_eq!(claim(&store, "w1", 1, 3).await, [first]);
    assert_eq!(store.enqueue(&restore, 4).await.unwrap(), (first, false));
}

async fn enqueue_lifts_a_waiting_job_into_a_more_urgent_lane(store: Arc<dyn Store>) {
    seed(&store).await;
    let nightly = job(JobKind::Reconcile, "g1", Target::Teams, Lane::Nightly);
    let id = enqueue(&store, &nightly, 1).await;
    enqueue(&store, &reconcile("g1"), 2).await;
    assert_eq!(store.job(id).await.unwrap().unwrap().lane, Lane::Mis);
    // A less urgent request never lowers it.
    enqueue(&store, &nightly, 3).await;
    assert_eq!(store.job(id).await.unwrap().unwrap().lane, Lane::Mis);
}

async fn enqueue_many_answers_in_order(store: Arc<dyn Store>) {
    seed(&store).await;
    let batch = [reconcile("g1"), reconcile("g2"), reconcile("g1")];
    let ids = store.enqueue_many(&batch, 1).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids[0].1 && ids[1].1 && ids[0].0 != ids[1].0);
    assert_eq!(ids[2], (ids[0].0, false));
}

/// A batch answers as the same enqueues one by one would: a job already waiting is found (and
/// lifted, never lowered), and equal jobs within the batch make one, in the most urgent lane asked.
async fn enqueue_many_finds_and_lifts_as_one_by_one_would(store: Arc<dyn Store>) {
    seed(&store).await;
    let waiting = enqueue(
        &store,
        &job(JobKind::Reconcile, "g1", Target::Teams, Lane::Mis),
        1,
    )
    .await;
    let batch = [
        job(JobKind::Reconcile, "g1", Target::Teams, Lane::Nightly),
        job(JobKind::Reconcile, "g2", Target::Teams, Lane::Nightly),
        job(JobKind::Reconcile, "g2", Target::Teams, Lane::Operator),
        job(JobKind::Archive, "g3", Target::Teams, Lane::Nightly),
    ];
    let ids = store.enqueue_many(&batch, 2).await.unwrap();
    assert_eq!(ids[0], (waiting, false));
    assert!(ids[1].1, "g2 is new");
    assert_eq!(ids[2], (ids[1].0, false));
    assert!(ids[3].1, "g3 is new");
    // The lanes as they stand: g2 lifted to operator, g1 still MIS (not lowered), g3 nightly.
    let order: Vec<i64> = claim(&store, "w1", 10, 3).await;
    assert_eq!(order, [ids[1].0, waiting, ids[3].0]);
}

/// Four workers claim at once (on PostgreSQL, four connections): every job is taken at most once,
/// and never two of one link.
async fn claims_at_once_take_each_job_once_and_one_per_link(store: Arc<dyn Store>) {
    seed(&store).await;
    for g in ["g1", "g2", "g3"] {
        enqueue(&store, &reconcile(g), 1).await;
        enqueue(
            &store,
            &job(JobKind::Archive, g, Target::Teams, Lane::Mis),
            1,
        )
        .await;
    }
    for w in ["w1", "w2", "w3", "w4"] {
        store.register_worker(&worker(w, 10)).await.unwrap();
    }
    let take = |w: &'static str| {
        let store = store.clone();
        tokio::spawn(async move { store.claim(w, Target::Teams, 5, 10, LEASE, 0).await })
    };
    let workers = [take("w1"), take("w2"), take("w3"), take("w4")];
    let mut taken = Vec::new();
    for w in workers {
        taken.extend(w.await.unwrap().unwrap());
    }
    let mut links: Vec<&str> = taken.iter().map(|j| j.group_id.as_str()).collect();
    links.sort();
    assert_eq!(links, ["g1", "g2", "g3"], "one job of each link: {taken:?}");
}

async fn claim_takes_the_highest_lane_first(store: Arc<dyn Store>) {
    seed(&store).await;
    let nightly = enqueue(
        &store,
        &job(JobKind::Archive, "g1", Target::Teams, Lane::Nightly),
        1,
    )
    .await;
    let mis = enqueue(&store, &reconcile("g2"), 2).await;
    let restore = job(JobKind::Restore, "g3", Target::Teams, Lane::Restore);
    let restore = enqueue(&store, &restore, 3).await;
    assert_eq!(claim(&store, "w1", 1, 10).await, [restore]);
    assert_eq!(claim(&store, "w1", 5, 10).await, [mis, nightly]);
}

async fn a_restore_whose_worker_died_goes_before_queued_archives(store: Arc<dyn Store>) {
    seed(&store).await;
    let restore = job(JobKind::Restore, "g3", Target::Teams, Lane::Restore);
    let restore = enqueue(&store, &restore, 1).await;
    assert_eq!(claim(&store, "dead", 1, 10).await, [restore]);
    let nightly = enqueue(
        &store,
        &job(JobKind::Archive, "g1", Target::Teams, Lane::Nightly),
        2,
    )
    .await;
    // The dead worker's lease has run out: its restore is taken first, then the archive.
    assert_eq!(claim(&store, "w2", 1, 11 + LEASE).await, [restore]);
    assert_eq!(claim(&store, "w2", 1, 11 + LEASE).await, [nightly]);
}

async fn enqueues_at_once_of_one_job_make_one(store: Arc<dyn Store>) {
    seed(&store).await;
    let add = || {
        let store = store.clone();
        tokio::spawn(async move { store.enqueue(&reconcile("g1"), 1).await })
    };
    let tasks = [add(), add(), add(), add()];
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap().unwrap());
    }
    assert!(answers.iter().all(|a| a.0 == answers[0].0), "{answers:?}");
    assert_eq!(answers.iter().filter(|a| a.1).count(), 1, "{answers:?}");
    assert_eq!(store.pending_work().await.unwrap().0, 1);
}

async fn claim_never_takes_two_jobs_of_one_link(store: Arc<dyn Store>) {
    seed(&store).await;
    let first = enqueue(&store, &reconcile("g1"), 1).await;
    let archive = job(JobKind::Archive, "g1", Target::Teams, Lane::Mis);
    let second = enqueue(&store, &archive, 2).await;
    assert_eq!(claim(&store, "w1", 5, 10).await, [first]);
    assert!(claim(&store, "w2", 5, 10).await.is_empty());
    let done = finish(first, JobEnd::Done, None);
    store.finish_many("w1", &[done], 11).await.unwrap();
    assert_eq!(claim(&store, "w2", 5, 12).await, [second]);
}

async fn claim_honours_limit_and_target(store: Arc<dyn Store>) {
    seed(&store).await;
    let classroom = job(JobKind::Reconcile, "g1", Target::Classroom, Lane::Restore);
    let classroom = enqueue(&store, &classroom, 1).await;
    let teams: Vec<i64> = [
        enqueue(&store, &reconcile("g1"), 2).await,
        enqueue(&store, &reconcile("g2"), 3).await,
        enqueue(&store, &reconcile("g3"), 4).await,
    ]
    .into();
    assert_eq!(claim(&store, "w1", 2, 10).await, teams[..2]);
    assert_eq!(claim(&store, "w1", 2, 10).await, teams[2..]);
    let other = store
        .claim("w1", Target::Classroom, 2, 10, LEASE, i64::MIN)
        .await
        .unwrap();
    assert_eq!(other.iter().map(|j| j.id).collect::<Vec<_>>(), [classroom]);
}

async fn claim_waits_for_run_at(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    claim(&store, "w1", 1, 2).await;
    let later = JobEnd::Retry {
        run_at: 1_000,
        error: "busy".into(),
        counts: true,
    };
    store
        .finish_many("w1", &[finish(id, later, None)], 3)
        .await
        .unwrap();
    assert!(claim(&store, "w1", 1, 999).await.is_empty());
    assert_eq!(claim(&store, "w1", 1, 1_000).await, [id]);
}

async fn claim_takes_over_a_job_whose_lease_expired(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    assert_eq!(claim(&store, "w1", 1, 10).await, [id]);
    assert!(claim(&store, "w2", 1, 10 + LEASE).await.is_empty());
    assert_eq!(claim(&store, "w2", 1, 11 + LEASE).await, [id]);
    assert_eq!(job_state(&store, id).await, (JobState::Running, 2));
}

/// A worker that stops beating loses its job once it is out of the liveness window, long before
/// the job's lease runs out.
async fn claim_takes_over_at_once_a_job_whose_worker_stopped_beating(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    assert_eq!(claim_seeing(&store, "w1", 1, 10, 10 - WINDOW).await, [id]);
    // Seen at 10: live while the window reaches back to 10.
    let t = 10 + WINDOW;
    assert!(
        claim_seeing(&store, "w2", 1, t, t - WINDOW)
            .await
            .is_empty()
    );
    let t = 11 + WINDOW;
    assert!(t < 10 + LEASE, "the lease still holds");
    assert_eq!(claim_seeing(&store, "w2", 1, t, t - WINDOW).await, [id]);
    assert_eq!(job_state(&store, id).await, (JobState::Running, 2));
    // The dead worker comes back and ends the job it lost: nothing happens.
    let late = finish(id, JobEnd::Done, None);
    store.finish_many("w1", &[late], t + 1).await.unwrap();
    assert_eq!(job_state(&store, id).await, (JobState::Running, 2));
}

/// A holder the registry does not know (forgotten after an hour, or never registered) is not live.
async fn claim_takes_over_at_once_a_job_whose_worker_is_not_registered(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    let ghost = store
        .claim("ghost", Target::Teams, 1, 10, LEASE, 10 - WINDOW)
        .await
        .unwrap();
    assert_eq!(ghost.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    assert_eq!(claim_seeing(&store, "w2", 1, 11, 11 - WINDOW).await, [id]);
}

/// A claimer is alive, whatever the registry says: it never takes its own running job again (one
/// claim of many jobs would otherwise pick the same one over and over).
async fn a_claim_never_takes_back_its_own_running_job(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    let other = enqueue(&store, &reconcile("g2"), 2).await;
    let unregistered = store
        .claim("fresh", Target::Teams, 10, 10, LEASE, 10 - WINDOW)
        .await
        .unwrap();
    assert_eq!(
        unregistered.iter().map(|j| j.id).collect::<Vec<_>>(),
        [id, other],
        "each job once"
    );
    let again = store
        .claim("fresh", Target::Teams, 10, 11, LEASE, 11 - WINDOW)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
}

/// A live worker's jobs are never taken, however long it runs them, and never two of one link.
async fn claim_never_takes_a_job_whose_worker_beats(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    let archive = job(JobKind::Archive, "g1", Target::Teams, Lane::Nightly);
    let waiting = enqueue(&store, &archive, 2).await;
    assert_eq!(claim_seeing(&store, "w1", 1, 10, 10 - WINDOW).await, [id]);
    let mut t = 10;
    while t < 3 * LEASE {
        t += WINDOW / 3;
        store.heartbeat("w1", t, t + LEASE).await.unwrap();
        let now = t + WINDOW - 1;
        let taken = claim_seeing(&store, "w2", 5, now, now - WINDOW).await;
        assert!(taken.is_empty(), "at {now}: {taken:?}");
    }
    assert_eq!(job_state(&store, id).await, (JobState::Running, 1));
    assert_eq!(job_state(&store, waiting).await, (JobState::Queued, 0));
}

/// Orphaned jobs (holder dead), jobs whose lease ran out and queued jobs are taken in one lane
/// order: a dead worker's restore first, its nightly archive last.
async fn lane_order_holds_across_queued_expired_and_orphaned_jobs(store: Arc<dyn Store>) {
    seed(&store).await;
    store.put_group(&group("g4", SCHOOL)).await.unwrap();
    let operator = job(JobKind::Reconcile, "g4", Target::Teams, Lane::Operator);
    let operator = enqueue(&store, &operator, 1).await;
    assert_eq!(claim(&store, "slow", 1, 2).await, [operator]);
    let restore = job(JobKind::Restore, "g1", Target::Teams, Lane::Restore);
    let restore = enqueue(&store, &restore, 3).await;
    assert_eq!(claim(&store, "dead", 1, 4).await, [restore]);
    let nightly = job(JobKind::Archive, "g3", Target::Teams, Lane::Nightly);
    let nightly = enqueue(&store, &nightly, 5).await;
    assert_eq!(claim(&store, "dead", 1, 6).await, [nightly]);
    let mis = enqueue(&store, &reconcile("g2"), 7).await;
    // Later: "slow" is live but its lease ran out; "dead" (seen at 6) is not, its leases still hold.
    let t = 3 + LEASE;
    store.register_worker(&worker("slow", t)).await.unwrap();
    let mut order = Vec::new();
    for _ in 0..5 {
        order.extend(claim_seeing(&store, "w2", 1, t, 7).await);
    }
    assert_eq!(order, [restore, operator, mis, nightly]);
}

/// A store that can signal new work (PostgreSQL) wakes a waiter when a job is enqueued; one that
/// cannot (SQLite) says so, and its workers poll.
async fn new_work_wakes_a_waiter_where_the_store_can_signal(store: Arc<dyn Store>) {
    seed(&store).await;
    let Some(mut signal) = store.wake_on_new_work().await.expect("listen") else {
        return;
    };
    enqueue(&store, &reconcile("g1"), 1).await;
    let woken = tokio::time::timeout(std::time::Duration::from_secs(1), signal.notified());
    woken.await.expect("woken within a second");
}

/// A quota window of the teams write bucket, given to `from`, closed until `until_ms`.
fn quota_window(from: &str, until_ms: i64) -> QuotaWindow {
    QuotaWindow {
        from: from.into(),
        buckets: vec![
            ("microsoft.teams_write".into(), None),
            ("google.per_user".into(), Some("admin@hwbcymru.net".into())),
        ],
        until_ms,
    }
}

/// A store that carries quota windows (PostgreSQL) brings every published one back to its
/// followers, this handle's own included; one that cannot (SQLite) says so and accepts publishing.
async fn quota_windows_come_back_where_the_store_carries_them(store: Arc<dyn Store>) {
    let window = quota_window("w1", 1_900_000_000_000);
    let Some(mut windows) = store.follow_quota_windows().await.expect("follow") else {
        store.publish_quota_window(&window).await.unwrap();
        return;
    };
    store.publish_quota_window(&window).await.unwrap();
    let got = tokio::time::timeout(std::time::Duration::from_secs(1), windows.recv());
    assert_eq!(got.await.expect("within a second"), Some(window));
}

async fn finish_many_saves_the_link_with_the_end(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    claim(&store, "w1", 1, 2).await;
    let mut link = teams_link(&store, "g1").await;
    link.apply(CREATED).unwrap();
    link.remote_id = Some("team-1".into());
    let done = finish(id, JobEnd::Done, Some(link.clone()));
    store.finish_many("w1", &[done], 3).await.unwrap();
    assert_eq!(job_state(&store, id).await, (JobState::Done, 1));
    assert_eq!(teams_link(&store, "g1").await, link);
}

async fn finish_many_ends_only_jobs_the_worker_still_holds(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    claim(&store, "w1", 1, 10).await;
    assert_eq!(claim(&store, "w2", 1, 11 + LEASE).await, [id]);
    // The first worker comes back from the dead and ends the job it lost, with its link.
    let mut lost = teams_link(&store, "g1").await;
    lost.apply(LinkEvent::Failed).unwrap();
    let late = finish(id, JobEnd::Done, Some(lost));
    store.finish_many("w1", &[late], 12 + LEASE).await.unwrap();
    assert_eq!(job_state(&store, id).await, (JobState::Running, 2));
    assert_eq!(teams_link(&store, "g1").await.state(), LinkState::Pending);
    let mine = finish(id, JobEnd::Done, None);
    store.finish_many("w2", &[mine], 13 + LEASE).await.unwrap();
    assert_eq!(job_state(&store, id).await, (JobState::Done, 2));
}

async fn finish_failed_keeps_the_error(store: Arc<dyn Store>) {
    seed(&store).await;
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    claim(&store, "w1", 1, 2).await;
    let failed = JobEnd::Failed {
        error: "forbidden: not the school's tenant".into(),
    };
    store
        .finish_many("w1", &[finish(id, failed, None)], 3)
        .await
        .unwrap();
    let j = store.job(id).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert_eq!(
        j.last_error.as_deref(),
        Some("forbidden: not the school's tenant")
    );
}

async fn a_retry_that_does_not_count_gives_the_attempt_back(store: Arc<dyn Store>) {
    seed(&store).await;
    let throttled = enqueue(&store, &reconcile("g1"), 1).await;
    let transient = enqueue(&store, &reconcile("g2"), 1).await;
    claim(&store, "w1", 2, 2).await;
    let retry = |counts| JobEnd::Retry {
        run_at: 5,
        error: "429".into(),
        counts,
    };
    let ends = [
        finish(throttled, retry(false), None),
        finish(transient, retry(true), None),
    ];
    store.finish_many("w1", &ends, 3).await.unwrap();
    assert_eq!(job_state(&store, throttled).await, (JobState::Queued, 0));
    assert_eq!(job_state(&store, transient).await, (JobState::Queued, 1));
    let j = store.job(throttled).await.unwrap().unwrap();
    assert_eq!(j.last_error.as_deref(), Some("429"));
}

async fn release_held_gives_jobs_back_without_counting_the_attempt(store: Arc<dyn Store>) {
    seed(&store).await;
    let a = enqueue(&store, &reconcile("g1"), 1).await;
    let b = enqueue(&store, &reconcile("g2"), 1).await;
    claim(&store, "w1", 2, 2).await;
    assert_eq!(store.release_held("w2").await.unwrap(), 0);
    assert_eq!(store.release_held("w1").await.unwrap(), 2);
    assert_eq!(job_state(&store, a).await, (JobState::Queued, 0));
    // Released jobs run at once, for whichever worker comes next.
    assert_eq!(claim(&store, "w2", 2, 3).await, [a, b]);
}

async fn grant_restore_mis_unlinks_and_enqueues_a_restore(store: Arc<dyn Store>) {
    seed(&store).await;
    move_teams_link(&store, "g1", &[FOUND_ARCHIVED]).await;
    let restore = job(JobKind::Restore, "g1", Target::Teams, Lane::Restore);
    let (id, new) = store.grant_restore(&restore, 1).await.unwrap().unwrap();
    assert!(new);
    assert!(!teams_link(&store, "g1").await.mis_linked());
    let j = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (j.kind, j.state, j.lane),
        (JobKind::Restore, JobState::Queued, Lane::Restore)
    );
}

async fn grant_restore_twice_at_once_makes_one_job(store: Arc<dyn Store>) {
    seed(&store).await;
    move_teams_link(&store, "g1", &[FOUND_ARCHIVED]).await;
    let restore = job(JobKind::Restore, "g1", Target::Teams, Lane::Restore);
    let (a, b) = tokio::join!(
        store.grant_restore(&restore, 1),
        store.grant_restore(&restore, 1)
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert_eq!(a.0, b.0);
    assert!(a.1 ^ b.1, "exactly one grant made the job: {a:?} {b:?}");
}

async fn grant_restore_refuses_a_link_that_is_not_archived(store: Arc<dyn Store>) {
    seed(&store).await;
    move_teams_link(&store, "g1", &[CREATED]).await;
    let restore = job(JobKind::Restore, "g1", Target::Teams, Lane::Restore);
    assert_eq!(store.grant_restore(&restore, 1).await.unwrap(), None);
    assert!(teams_link(&store, "g1").await.mis_linked());
    assert_eq!(store.pending_work().await.unwrap().0, 0);
    let unknown = job(JobKind::Restore, "nope", Target::Teams, Lane::Restore);
    assert_eq!(store.grant_restore(&unknown, 1).await.unwrap(), None);
}

async fn grant_restore_retries_a_failed_restore(store: Arc<dyn Store>) {
    seed(&store).await;
    // A restore that failed: granted (MIS-unlinked), then its job failed.
    let mut link = move_teams_link(&store, "g1", &[FOUND_ARCHIVED]).await;
    assert!(link.grant_restore());
    link.apply(LinkEvent::Failed).unwrap();
    store.save_link(&link).await.unwrap();
    let restore = job(JobKind::Restore, "g1", Target::Teams, Lane::Restore);
    assert!(store.grant_restore(&restore, 1).await.unwrap().is_some());
    // A failure of a link that was never granted (still MIS-linked) is not restorable.
    move_teams_link(&store, "g2", &[CREATED, LinkEvent::Failed]).await;
    let restore = job(JobKind::Restore, "g2", Target::Teams, Lane::Restore);
    assert_eq!(store.grant_restore(&restore, 1).await.unwrap(), None);
}

async fn pending_work_counts_live_jobs_and_the_next_run(store: Arc<dyn Store>) {
    seed(&store).await;
    assert_eq!(store.pending_work().await.unwrap(), (0, None));
    enqueue(&store, &reconcile("g1"), 100).await;
    enqueue(&store, &reconcile("g2"), 200).await;
    assert_eq!(store.pending_work().await.unwrap(), (2, Some(100)));
    // A running job's next moment is its lease's end.
    claim(&store, "w1", 2, 300).await;
    assert_eq!(store.pending_work().await.unwrap(), (2, Some(300 + LEASE)));
}

async fn job_counts_and_queue_depth_count_by_kind(store: Arc<dyn Store>) {
    seed(&store).await;
    enqueue(&store, &reconcile("g1"), 1).await;
    enqueue(&store, &reconcile("g2"), 1).await;
    let archive = job(JobKind::Archive, "g3", Target::Teams, Lane::Nightly);
    enqueue(&store, &archive, 1).await;
    let counts = store.job_counts().await.unwrap();
    assert_eq!(
        counts,
        [
            ("archive".to_string(), "queued".to_string(), 1),
            ("reconcile".to_string(), "queued".to_string(), 2)
        ]
    );
    let depth = store.queue_depth().await.unwrap();
    assert_eq!(
        depth,
        [
            (Lane::Nightly, JobKind::Archive, 1),
            (Lane::Mis, JobKind::Reconcile, 2)
        ]
    );
}

async fn a_batch_is_followed_by_job_states_and_failed_among(store: Arc<dyn Store>) {
    seed(&store).await;
    let ids: Vec<i64> = [
        enqueue(&store, &reconcile("g1"), 1).await,
        enqueue(&store, &reconcile("g2"), 1).await,
        enqueue(&store, &reconcile("g3"), 1).await,
    ]
    .into();
    claim(&store, "w1", 2, 2).await;
    let failed = JobEnd::Failed {
        error: "gone".into(),
    };
    let ends = [
        finish(ids[0], JobEnd::Done, None),
        finish(ids[1], failed, None),
    ];
    store.finish_many("w1", &ends, 3).await.unwrap();
    let mut states = store.job_states(&ids).await.unwrap();
    states.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(
        states,
        [
            (JobState::Done, 1),
            (JobState::Failed, 1),
            (JobState::Queued, 1)
        ]
    );
    let failed = store.failed_among(&ids).await.unwrap();
    assert_eq!(failed.iter().map(|j| j.id).collect::<Vec<_>>(), [ids[1]]);
    assert!(store.job_states(&[]).await.unwrap().is_empty());
}

async fn jobs_finished_between_lists_ends_in_the_window(store: Arc<dyn Store>) {
    seed(&store).await;
    let early = enqueue(&store, &reconcile("g1"), 1).await;
    let late = enqueue(&store, &reconcile("g2"), 1).await;
    claim(&store, "w1", 2, 2).await;
    store
        .finish_many("w1", &[finish(early, JobEnd::Done, None)], 10)
        .await
        .unwrap();
    store
        .finish_many("w1", &[finish(late, JobEnd::Done, None)], 20)
        .await
        .unwrap();
    let window = store.jobs_finished_between(10, 20).await.unwrap();
    assert_eq!(window.iter().map(|j| j.id).collect::<Vec<_>>(), [late]);
    assert_eq!((window[0].created_at, window[0].finished_at), (1, 20));
    assert_eq!(store.jobs_finished_between(0, 20).await.unwrap().len(), 2);
}

// ---- The worker registry ----

async fn heartbeat_extends_the_leases_of_the_workers_jobs(store: Arc<dyn Store>) {
    seed(&store).await;
    store.register_worker(&worker("w1", 0)).await.unwrap();
    let id = enqueue(&store, &reconcile("g1"), 1).await;
    claim(&store, "w1", 1, 10).await;
    store.heartbeat("w1", 20, 10 * LEASE).await.unwrap();
    assert!(claim(&store, "w2", 1, 2 * LEASE).await.is_empty());
    assert_eq!(claim(&store, "w2", 1, 10 * LEASE + 1).await, [id]);
}

async fn live_workers_are_those_seen_since(store: Arc<dyn Store>) {
    store.register_worker(&worker("w1", 1_000)).await.unwrap();
    store.register_worker(&worker("w2", 5_000)).await.unwrap();
    let ids = |ws: Vec<WorkerInfo>| ws.into_iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(ids(store.live_workers(2_000).await.unwrap()), ["w2"]);
    store.heartbeat("w1", 6_000, 6_000 + LEASE).await.unwrap();
    assert_eq!(ids(store.live_workers(2_000).await.unwrap()), ["w1", "w2"]);
    store.unregister_worker("w2").await.unwrap();
    assert_eq!(ids(store.live_workers(0).await.unwrap()), ["w1"]);
}

async fn register_worker_forgets_workers_not_seen_for_an_hour(store: Arc<dyn Store>) {
    const HOUR: i64 = 3_600_000;
    store.register_worker(&worker("old", 0)).await.unwrap();
    store
        .register_worker(&worker("recent", HOUR))
        .await
        .unwrap();
    store
        .register_worker(&worker("new", HOUR + 1))
        .await
        .unwrap();
    let all = store.live_workers(0).await.unwrap();
    assert_eq!(
        all.into_iter().map(|w| w.id).collect::<Vec<_>>(),
        ["recent", "new"]
    );
}

// ---- Audit, runs and schedule claims ----

async fn audit_log_is_newest_first_with_a_limit(store: Arc<dyn Store>) {
    for (at, outcome) in [(1, "granted"), (2, "refused"), (3, "conflict")] {
        let entry = AuditEntry {
            at,
            actor: "teacher@hwbcymru.net".into(),
            action: "restore".into(),
            group_id: Some("g1".into()),
            target: Some("teams".into()),
            outcome: outcome.into(),
            detail: String::new(),
        };
        store.audit(&entry).await.unwrap();
    }
    let log = store.audit_log(2).await.unwrap();
    let outcomes: Vec<&str> = log.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["conflict", "refused"]);
    assert_eq!(log[0].group_id.as_deref(), Some("g1"));
    // Paged by id, newest first: the first page, then what is older than its last entry.
    let (first, total) = store.audit_page(None, 2).await.unwrap();
    let outcomes: Vec<&str> = first.iter().map(|(_, e)| e.outcome.as_str()).collect();
    assert_eq!((outcomes, total), (vec!["conflict", "refused"], 3));
    let (rest, _) = store.audit_page(Some(first[1].0), 2).await.unwrap();
    let outcomes: Vec<&str> = rest.iter().map(|(_, e)| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["granted"]);
    assert!(rest[0].0 < first[1].0);
}

async fn last_run_is_the_newest_and_only_ok_skips_failures(store: Arc<dyn Store>) {
    assert!(store.last_run("nightly", false).await.unwrap().is_none());
    let good = store.start_run("nightly", "2026-09-01", 10).await.unwrap();
    store
        .finish_run(good, "42 archived", true, 20)
        .await
        .unwrap();
    let bad = store.start_run("nightly", "2026-09-02", 30).await.unwrap();
    store.finish_run(bad, "3 failed", false, 40).await.unwrap();
    let running = store.start_run("nightly", "2026-09-03", 50).await.unwrap();
    let last = store.last_run("nightly", false).await.unwrap().unwrap();
    assert_eq!((last.id, last.ok, last.finished_at), (running, None, None));
    let ok = store.last_run("nightly", true).await.unwrap().unwrap();
    assert_eq!(
        (ok.id, ok.today.as_str(), ok.summary.as_str()),
        (good, "2026-09-01", "42 archived")
    );
    assert_eq!(
        (ok.started_at, ok.finished_at, ok.ok),
        (10, Some(20), Some(true))
    );
}

async fn claim_schedule_has_one_winner_per_day(store: Arc<dyn Store>) {
    let day = "2026-09-01";
    let (a, b) = tokio::join!(
        store.claim_schedule("nightly", day, "p1", 10, 0),
        store.claim_schedule("nightly", day, "p2", 10, 0)
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one process wins the day");
    assert!(store.schedule_unsettled("nightly", day).await.unwrap());
    let next_day = store.claim_schedule("nightly", "2026-09-02", "p2", 11, 0);
    assert!(next_day.await.unwrap());
}

async fn a_stale_unsettled_schedule_claim_is_taken_over(store: Arc<dyn Store>) {
    let day = "2026-09-01";
    assert!(
        store
            .claim_schedule("nightly", day, "p1", 10, 0)
            .await
            .unwrap()
    );
    // Still fresh: the claimer may be enqueuing.
    assert!(
        !store
            .claim_schedule("nightly", day, "p2", 20, 10)
            .await
            .unwrap()
    );
    // Older than `stale_before`: the claimer died before it settled.
    assert!(
        store
            .claim_schedule("nightly", day, "p2", 30, 11)
            .await
            .unwrap()
    );
}

async fn a_settled_schedule_claim_is_never_taken_over(store: Arc<dyn Store>) {
    let day = "2026-09-01";
    assert!(
        store
            .claim_schedule("nightly", day, "p1", 10, 0)
            .await
            .unwrap()
    );
    store.settle_schedule("nightly", day).await.unwrap();
    assert!(!store.schedule_unsettled("nightly", day).await.unwrap());
    let late = store.claim_schedule("nightly", day, "p2", i64::MAX - 1, i64::MAX);
    assert!(!late.await.unwrap());
}

/// The status counts `serve` keeps: answered from memory while fresh, refreshed in the background
/// once stale (the stale count still answered meanwhile), waited for after a quiet spell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_are_kept_fresh_in_the_background() {
    use class_sync::status::CountsCache;
    use std::time::Duration;
    let fresh = fresh_sqlite("status_counts").await.expect("sqlite");
    let store = fresh.store.clone();
    let pending = |counts: &class_sync::status::Counts| {
        counts
            .links
            .get("2025-26")
            .and_then(|states| states.get("pending"))
            .copied()
            .unwrap_or(0)
    };
    let cache = CountsCache::new(Duration::from_millis(300));
    assert_eq!(pending(&cache.get(&store).await.unwrap()), 0);
    seed(&store).await;
    assert_eq!(pending(&cache.get(&store).await.unwrap()), 0, "fresh: kept");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        pending(&cache.get(&store).await.unwrap()),
        0,
        "stale: answered while it refreshes"
    );
    let mut refreshed = 0;
    for _ in 0..100 {
        refreshed = pending(&cache.get(&store).await.unwrap());
        if refreshed == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(refreshed, 6, "refreshed in the background");
    store
        .import_snapshot(&snapshot(&[SCHOOL], &[group("g9", SCHOOL)]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        pending(&cache.get(&store).await.unwrap()),
        8,
        "after a quiet spell the count is read anew before answering (g9's two links besides the six)"
    );
}

async fn audit_search_narrows_by_each_field(store: Arc<dyn Store>) {
    let rows = [
        ("a@hwbcymru.net", "restore", "g1", "ok"),
        ("b@hwbcymru.net", "restore", "g1", "refused"),
        ("a@hwbcymru.net", "sync", "g2", "ok"),
        ("a@hwbcymru.net", "restore", "g2", "refused"),
    ];
    for (i, (actor, action, group, outcome)) in rows.iter().enumerate() {
        let entry = AuditEntry {
            at: i as i64,
            actor: actor.to_string(),
            action: action.to_string(),
            group_id: Some(group.to_string()),
            target: None,
            outcome: outcome.to_string(),
            detail: format!("entry {i}"),
        };
        store.audit(&entry).await.unwrap();
    }
    let details = |found: Vec<(i64, AuditEntry)>| -> Vec<String> {
        found.into_iter().map(|(_, e)| e.detail).collect()
    };
    let all = store
        .audit_search(&AuditFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(
        details(all.clone()),
        ["entry 3", "entry 2", "entry 1", "entry 0"]
    );
    let f = AuditFilter {
        actor: Some("a@hwbcymru.net".into()),
        action: Some("restore".into()),
        ..AuditFilter::default()
    };
    let found = store.audit_search(&f, None, 10).await.unwrap();
    assert_eq!(details(found), ["entry 3", "entry 0"]);
    let f = AuditFilter {
        outcome: Some("refused".into()),
        group_id: Some("g1".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        details(store.audit_search(&f, None, 10).await.unwrap()),
        ["entry 1"]
    );
    // Paged newest first: older than a given entry, at most `limit`.
    let older = store
        .audit_search(&AuditFilter::default(), Some(all[1].0), 1)
        .await
        .unwrap();
    assert_eq!(details(older), ["entry 1"]);
    let none = AuditFilter {
        actor: Some("nobody@hwbcymru.net".into()),
        ..AuditFilter::default()
    };
    assert!(
        store
            .audit_search(&none, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn console_sign_ins_are_taken_once_and_expire(store: Arc<dyn Store>) {
    let sign_in = |state: &str, expires_at: i64| PendingSignIn {
        state: state.into(),
        nonce: format!("nonce-{state}"),
        verifier: format!("verifier-{state}"),
        return_to: "/groups".into(),
        expires_at,
    };
    store
        .put_sign_in(&sign_in("s1", 2_000), 1_000)
        .await
        .unwrap();
    store
        .put_sign_in(&sign_in("s2", 1_500), 1_000)
        .await
        .unwrap();
    assert_eq!(
        store.take_sign_in("s1", 1_100).await.unwrap(),
        Some(sign_in("s1", 2_000))
    );
    assert_eq!(
        store.take_sign_in("s1", 1_100).await.unwrap(),
        None,
        "taken once"
    );
    assert_eq!(
        store.take_sign_in("s2", 1_600).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.take_sign_in("unknown", 1_000).await.unwrap(), None);
    // Writing a new one forgets the expired ones.
    store
        .put_sign_in(&sign_in("s3", 9_000), 5_000)
        .await
        .unwrap();
    store
        .put_sign_in(&sign_in("s4", 4_000), 3_000)
        .await
        .unwrap();
    assert!(store.take_sign_in("s4", 3_500).await.unwrap().is_some());
}

async fn console_sessions_open_until_they_expire_or_end(store: Arc<dyn Store>) {
    let session = ConsoleSession {
        id_hash: "ab".repeat(32),
        person: "jonesa12@hwbcymru.net".into(),
        csrf: "csrf-token".into(),
        created_at: 1_000,
        expires_at: 10_000,
    };
    store.put_session(&session, 1_000).await.unwrap();
    assert_eq!(
        store.session(&session.id_hash, 5_000).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store.session(&session.id_hash, 10_001).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.session(&"cd".repeat(32), 5_000).await.unwrap(), None);
    store.end_session(&session.id_hash).await.unwrap();
    assert_eq!(
        store.session(&session.id_hash, 5_000).await.unwrap(),
        None,
        "ended"
    );
    store.end_session(&session.id_hash).await.unwrap();
}
