//! `kill -9` of the worker process at random moments, then a restart: all work completes, with no
//! duplicate team or course and no lost restore.
//!
//! Every kill counted has landed mid-run: the worker was alive when it was killed (its exit status
//! is SIGKILL, not an exit of its own) and held jobs it had claimed (the store shows them still
//! running after its death). Each kill is aimed at a random moment from a seeded RNG, or a little
//! later if the worker holds no job yet; the seed is printed and `CLASS_SYNC_CRASH_SEED` replays
//! the aims (the processes' own timing still varies).

use crate::support::TestApp;
use class_sync::app::App;
use class_sync::core::domain::{Group, School, Snapshot, Target};
use class_sync::core::job::JobState;
use class_sync::core::link::LinkState;
use class_sync::store::Store;
use class_sync::work::planner;
use class_sync_mocks::{MockOptions, Quotas};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const GROUPS: usize = 24;
const IN_YEAR: &str = "2025-09-10";
const YEAR_END: &str = class_sync::demo::ARCHIVE_ON;
/// Replays the kill times of an earlier run (its seed is printed at the start).
const SEED_VAR: &str = "CLASS_SYNC_CRASH_SEED";
/// Kills that did not land mid-run (the worker had exited, or held no job) before the test fails.
const MISSES_ALLOWED: usize = 8;
/// How often the test looks whether a worker it is about to kill holds jobs.
const POLL: Duration = Duration::from_millis(20);
const SIGKILL: i32 = 9;

fn snapshot() -> Snapshot {
    Snapshot {
        schools: vec![School {
            id: "6619001".into(),
            name: "Ysgol Ddamwain".into(),
            admins: vec!["admin.crash@hwbcymru.net".into()],
        }],
        groups: (0..GROUPS)
            .map(|i| Group {
                id: format!("6619001-2025-26-C{i}"),
                school: "6619001".into(),
                academic_year: "2025-26".into(),
                name: format!("Class {i}"),
                year_group: Some(8),
                subject: None,
                targets: vec![Target::Teams, Target::Classroom],
                teachers: vec![format!("teacher{i}@hwbcymru.net")],
                learners: (0..3)
                    .map(|k| format!("learner{i}x{k}@hwbcymru.net"))
                    .collect(),
            })
            .collect(),
    }
}

/// The RNG of the kill times, from `CLASS_SYNC_CRASH_SEED` or a fresh seed, printed either way.
fn kill_times() -> StdRng {
    let seed = match std::env::var(SEED_VAR) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={s:?} is not a u64")),
        Err(_) => rand::rng().random(),
    };
    eprintln!("crash test seed: {seed} (replay with {SEED_VAR}={seed})");
    StdRng::seed_from_u64(seed)
}

/// Every job in the store: id → (state, attempts), read through the store one job at a time.
async fn jobs(store: &dyn Store) -> BTreeMap<i64, (JobState, u32)> {
    let total: u64 = store
        .job_counts()
        .await
        .expect("job counts")
        .iter()
        .map(|(_, _, n)| n)
        .sum();
    let mut jobs = BTreeMap::new();
    let mut id = 1;
    while (jobs.len() as u64) < total {
        assert!(id <= 100_000, "only {} of {total} jobs found", jobs.len());
        if let Some(j) = store.job(id).await.expect("job") {
            jobs.insert(id, (j.state, j.attempts));
        }
        id += 1;
    }
    jobs
}

/// The jobs a worker started after `before` holds in `now`: running with more attempts than in
/// `before`, so claimed since (a claim adds an attempt; one given back after throttling leaves
/// the job queued; a running job without a new attempt is a dead worker's, waiting out its
/// lease). Exact while that worker is the only one: nobody else claims.
fn held_since(
    before: &BTreeMap<i64, (JobState, u32)>,
    now: &BTreeMap<i64, (JobState, u32)>,
) -> Vec<i64> {
    now.iter()
        .filter(|(id, (state, attempts))| {
            *state == JobState::Running && *attempts > before.get(*id).map_or(0, |b| b.1)
        })
        .map(|(id, _)| *id)
        .collect()
}

/// Starts `work --until-idle` and SIGKILLs it at a random moment once it holds jobs, until `kills`
/// kills have landed mid-run. A kill that did not (the worker had finished, or had not claimed a
/// job yet) is not counted and is tried again with a new worker; too many such misses, or a queue
/// with nothing left to interrupt, fail the test.
async fn work_with_kills(
    app: &TestApp,
    store: &dyn Store,
    rng: &mut StdRng,
    day: &str,
    stage: &str,
    kills: usize,
) {
    let mut landed = 0;
    let mut misses = Vec::new();
    while landed < kills {
        let before = jobs(store).await;
        let pending = before
            .values()
            .filter(|(s, _)| matches!(s, JobState::Queued | JobState::Running))
            .count();
        assert!(
            pending > 0,
            "{stage}: the queue is empty before kill {} of {kills} could land (misses: {misses:?})",
            landed + 1
        );
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
            .arg("--config")
            .arg(app.config_path())
            .arg("--today")
            .arg(day)
            .args(["work", "--until-idle"])
            .env("RUST_LOG", "off")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the worker");
        let pid = i64::from(child.id());
        let started = Instant::now();
        let aim = Duration::from_millis(rng.random_range(150..700));
        tokio::time::sleep(aim).await;
        // Aim only at a worker seen working: alive, registered, holding jobs it claimed.
        let aimed = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Err(format!(
                    "the worker exited on its own ({status}) after {} ms",
                    started.elapsed().as_millis()
                ));
            }
            let registered = store
                .live_workers(App::now_ms() - 1_000)
                .await
                .expect("live workers")
                .iter()
                .any(|w| w.pid == pid);
            if registered && !held_since(&before, &jobs(store).await).is_empty() {
                break Ok(());
            }
            if started.elapsed() > Duration::from_secs(10) {
                break Err("the worker held no job within 10 s".to_string());
            }
            tokio::time::sleep(POLL).await;
        };
        let at = started.elapsed();
        child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
        let status = child.wait().expect("reap");
        // Nobody works now: what is still running with a new attempt, the dead worker held.
        let held = held_since(&before, &jobs(store).await);
        match aimed {
            Ok(()) if status.signal() == Some(SIGKILL) && !held.is_empty() => {
                landed += 1;
                eprintln!(
                    "{stage}: kill {landed} of {kills} after {} ms (aimed at {} ms), {} in flight",
                    at.as_millis(),
                    aim.as_millis(),
                    held.len()
                );
            }
            Ok(()) => misses.push(format!(
                "after {} ms the worker ended with {status} holding {} jobs",
                at.as_millis(),
                held.len()
            )),
            Err(why) => misses.push(why),
        }
        assert!(
            misses.len() <= MISSES_ALLOWED,
            "{stage}: kills keep missing the run: {misses:?}"
        );
    }
}

fn finish(app: &TestApp, day: &str) {
    let out = app.bin(day, &["work", "--until-idle"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_at_random_lose_and_duplicate_nothing() {
    let mut rng = kill_times();
    let quotas = Quotas {
        teams_create_per_sec: 10,
        teams_write_per_sec: 30,
        teams_read_per_sec: 30,
        per_team_per_sec: 4,
        education_per_sec: 60,
        classroom_per_client_per_min: 3000,
        classroom_per_user_per_min: 1200,
        retry_after_secs: 1,
    };
    let app = TestApp::start_with(MockOptions {
        operation_delay: Duration::from_millis(80),
        quotas: Some(quotas),
        ..class_sync::demo::quick_mock_options()
    })
    .await;
    // Short leases, so a killed worker's jobs are taken again quickly; limits as the mocks enforce.
    let path = app.config_path();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("[worker]\n", "[worker]\nlease_seconds = 1\n");
    let text = text.replace(
        "[google]",
        "[microsoft.limits]\nteams_create = 10\nteams_write = 30\nteams_read = 30\neducation = 60\n\n[google]",
    );
    std::fs::write(&path, text).unwrap();

    let snap = snapshot();
    app.mocks
        .add_users(class_sync::demo::accounts(&snap).iter().map(String::as_str));
    let file = app.dir.path().join("ump.json");
    std::fs::write(
        &file,
        serde_json::json!({ "schools": snap.schools, "groups": snap.groups }).to_string(),
    )
    .unwrap();
    let out = app.bin(IN_YEAR, &["import", file.to_str().unwrap(), "--no-wait"]);
    assert_eq!(out.status.code(), Some(0));
    // This process only reads the store and presses Restore; the workers are child processes.
    let store = app.on(YEAR_END).await;

    // Creation, killed four times, then finished.
    work_with_kills(&app, store.store.as_ref(), &mut rng, IN_YEAR, "creation", 4).await;
    finish(&app, IN_YEAR);
    for g in &snap.groups {
        let teams: Vec<_> = app
            .mocks
            .teams()
            .into_iter()
            .filter(|t| t.external_id == g.id)
            .collect();
        assert_eq!(teams.len(), 1, "{}: one class, not {}", g.id, teams.len());
        assert!(teams[0].is_team, "{} is a team", g.id);
        assert_eq!(teams[0].owners, g.teachers);
        assert_eq!(teams[0].members, crate::support::sorted(g.learners.clone()));
        let course = app.course(&g.id);
        assert_eq!(course.state, "ACTIVE");
        assert_eq!(course.students, crate::support::sorted(g.learners.clone()));
    }
    assert_eq!(
        app.creates("/education/classes"),
        GROUPS,
        "classes created once"
    );
    assert_eq!(app.creates("/v1/courses"), GROUPS, "courses created once");

    // Year end: the archive storm, killed four times, with Restore pressed between the kills.
    let out = app.bin(YEAR_END, &["nightly", "--no-wait"]);
    assert_eq!(out.status.code(), Some(0));
    let mut restored = Vec::new();
    for round in 0..4 {
        let stage = format!("archive storm, round {}", round + 1);
        work_with_kills(&app, store.store.as_ref(), &mut rng, YEAR_END, &stage, 1).await;
        // The teacher of the first archived link not yet restored presses Restore.
        for g in &snap.groups {
            let target = if round % 2 == 0 {
                Target::Teams
            } else {
                Target::Classroom
            };
            let link = store.store.link(&g.id, target).await.unwrap().unwrap();
            if link.state() == LinkState::Archived && !restored.contains(&(g.id.clone(), target)) {
                planner::restore(&store, &g.id, target, &g.teachers[0])
                    .await
                    .expect("the class teacher may restore");
                restored.push((g.id.clone(), target));
                break;
            }
        }
    }
    finish(&app, YEAR_END);

    assert!(!restored.is_empty(), "restores were pressed mid-storm");
    for g in &snap.groups {
        for target in [Target::Teams, Target::Classroom] {
            let was_restored = restored.contains(&(g.id.clone(), target));
            let link = store.store.link(&g.id, target).await.unwrap().unwrap();
            let (want, archived) = if was_restored {
                (LinkState::Restored, false)
            } else {
                (LinkState::Archived, true)
            };
            assert_eq!(link.state(), want, "{} {target}", g.id);
            match target {
                Target::Teams => assert_eq!(app.team(&g.id).is_archived, archived, "{}", g.id),
                Target::Classroom => {
                    assert_eq!(app.course(&g.id).state == "ARCHIVED", archived, "{}", g.id)
                }
            }
        }
    }
    assert_eq!(app.mocks.teams().len(), GROUPS, "no duplicate team");
    assert_eq!(app.mocks.courses().len(), GROUPS, "no duplicate course");
    assert_eq!(app.mocks.retry_after_violations(), 0);
}

/// The process that claimed the night dies before it has enqueued the work: after a while another
/// process takes the claim over; once a run has enqueued everything, nobody runs the day again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_claimed_by_a_process_that_died_is_taken_over() {
    let app = TestApp::start().await;
    let store = app.on(YEAR_END).await.store.clone();
    let (claimed_at, minute) = (1_000_000, 60_000);
    assert!(
        store
            .claim_schedule("nightly", "2026-09-01", "died", claimed_at, 0)
            .await
            .unwrap()
    );
    // Soon after, the claim still stands (it may be enqueuing).
    assert!(
        !store
            .claim_schedule(
                "nightly",
                "2026-09-01",
                "other",
                claimed_at + minute,
                claimed_at - 1
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .schedule_unsettled("nightly", "2026-09-01")
            .await
            .unwrap()
    );
    // Later it is stale: taken over, once.
    let later = claimed_at + 11 * minute;
    assert!(
        store
            .claim_schedule("nightly", "2026-09-01", "other", later, later - 10 * minute)
            .await
            .unwrap()
    );
    store
        .settle_schedule("nightly", "2026-09-01")
        .await
        .unwrap();
    assert!(
        !store
            .schedule_unsettled("nightly", "2026-09-01")
            .await
            .unwrap()
    );
    let much_later = later + 60 * minute;
    assert!(
        !store
            .claim_schedule(
                "nightly",
                "2026-09-01",
                "third",
                much_later,
                much_later - 10 * minute
            )
            .await
            .unwrap()
    );
}
