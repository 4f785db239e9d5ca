//! `store copy`: a SQLite store with a small year in it, copied into an empty PostgreSQL schema,
//! reads back the same through the `Store` trait; a non-empty or unreachable target is refused.
//!
//! Like the store suite, these use the server named by `CLASS_SYNC_TEST_DATABASE_URL`, each in a
//! schema of its own; without a server they say that they skipped, except under `CI`.

use crate::store::pg;
use class_sync::core::domain::{Group, School, Snapshot, Target};
use class_sync::core::job::{JobKind, Lane};
use class_sync::core::link::{Link, LinkState};
use class_sync::core::roster::Roster;
use class_sync::store::copy::{CopyError, Counts, copy_store};
use class_sync::store::{
    AuditEntry, ChangeCounts, GroupQuery, JobEnd, JobFinish, NewJob, SchoolImport, Store,
    WorkerInfo,
};
use std::sync::Arc;

const NOW: i64 = 1_780_000_000_000;
const LEASE: i64 = 60_000;

/// An empty PostgreSQL schema of its own (dropped at the end) and the URL that selects it.
struct PgTarget {
    url: String,
    _keep: pg::DropOnExit,
}

async fn empty_postgres(test: &str) -> Option<PgTarget> {
    let (url, keep) = pg::fresh_schema(test).await?;
    Some(PgTarget { url, _keep: keep })
}

fn group(id: &str, school: &str) -> Group {
    Group {
        id: id.into(),
        school: school.into(),
        academic_year: "2025-26".into(),
        name: format!("{id} Cymraeg"),
        year_group: Some(8),
        subject: Some("Cymraeg".into()),
        targets: vec![Target::Teams, Target::Classroom],
        teachers: vec![format!("teacher.{id}@hwbcymru.net")],
        learners: vec![
            format!("a.{id}@hwbcymru.net"),
            format!("b.{id}@hwbcymru.net"),
        ],
    }
}

fn school(id: &str) -> School {
    School {
        id: id.into(),
        name: format!("Ysgol {id}"),
        admins: vec![format!("admin@{id}.example")],
    }
}

fn new_job(kind: JobKind, group_id: &str, target: Target, lane: Lane) -> NewJob {
    NewJob {
        kind,
        group_id: group_id.into(),
        target,
        lane,
        requested_by: Some("operator:test".into()),
        max_attempts: 5,
    }
}

/// A SQLite store (in `dir`) holding a small year: imported groups (one withdrawn), links in every
/// state (a restored, MIS-unlinked one among them), queued, running, retrying, done and failed
/// jobs, audit lines, two runs (one unfinished), a settled schedule claim, a registered worker.
async fn sqlite_year(dir: &tempfile::TempDir) -> (String, Arc<dyn Store>) {
    let url = format!("sqlite://{}", dir.path().join("year.db").display());
    let store = class_sync::store::open(&url).await.expect("open SQLite");
    let groups: Vec<Group> = ["g1", "g2", "g3", "g4", "g5"]
        .iter()
        .map(|g| group(g, "s1"))
        .chain([group("h1", "s2")])
        .collect();
    let snapshot = Snapshot {
        schools: vec![school("s1"), school("s2")],
        groups,
    };
    store.import_snapshot(&snapshot).await.expect("import");
    // The next import of s1 leaves g5 out: withdrawn.
    let next = Snapshot {
        schools: vec![school("s1")],
        groups: ["g1", "g2", "g3", "g4"]
            .iter()
            .map(|g| group(g, "s1"))
            .collect(),
    };
    store.import_snapshot(&next).await.expect("second import");
    // Both imports' provisioning status, s1's with what held its work back.
    let import = |school: &str, at: i64, withdrawn: u64| SchoolImport {
        school_id: school.into(),
        at,
        day: "2026-05-27".into(),
        format: "oneroster bulk".into(),
        file: Some("/exports/2026-05-27.zip".into()),
        actor: "cli".into(),
        counts: ChangeCounts {
            added: 4,
            changed: 0,
            unchanged: 1,
            withdrawn,
        },
        enqueued: 3,
        held_back: [("before new_groups_from".to_string(), 2)].into(),
    };
    store
        .record_school_imports(&[import("s1", NOW - 20_000, 0), import("s2", NOW - 20_000, 0)])
        .await
        .expect("record the first import");
    store
        .record_school_imports(&[import("s1", NOW - 10_000, 1)])
        .await
        .expect("record the second import");

    // Links as the store keeps them, every field set.
    let mut active = Link::stored("g1", Target::Teams, LinkState::Active, true);
    active.remote_id = Some("team-g1".into());
    active.managed = Roster::new(
        vec!["teacher.g1@hwbcymru.net".into()],
        vec!["a.g1@hwbcymru.net".into()],
    );
    active.missing_accounts = vec!["b.g1@hwbcymru.net".into()];
    active.last_sync = Some(NOW - 5_000);
    active.held_changes = true;
    let mut archived = Link::stored("g1", Target::Classroom, LinkState::Archived, true);
    archived.remote_id = Some("course-g1".into());
    let mut restored = Link::stored("g2", Target::Teams, LinkState::Restored, false);
    restored.remote_id = Some("team-g2".into());
    restored.last_sync = Some(NOW - 9_000);
    let mut failed = Link::stored("g2", Target::Classroom, LinkState::Failed, true);
    failed.last_error = Some("PERMISSION_DENIED: teacher has no Classroom licence".into());
    let mut to_restore = Link::stored("g3", Target::Teams, LinkState::Archived, true);
    to_restore.remote_id = Some("team-g3".into());
    for link in [&active, &archived, &restored, &failed, &to_restore] {
        store.save_link(link).await.expect("save link");
    }

    // Jobs: a granted restore (the link MIS-unlinked with it), reconciles, an archive.
    store
        .grant_restore(
            &new_job(JobKind::Restore, "g3", Target::Teams, Lane::Restore),
            NOW,
        )
        .await
        .expect("grant")
        .expect("g3 is archived");
    let jobs = [
        new_job(JobKind::Reconcile, "g1", Target::Teams, Lane::Mis),
        new_job(JobKind::Reconcile, "g4", Target::Teams, Lane::Operator),
        new_job(JobKind::Reconcile, "h1", Target::Teams, Lane::Mis),
        new_job(JobKind::Reconcile, "g4", Target::Classroom, Lane::Mis),
        new_job(JobKind::Archive, "g1", Target::Classroom, Lane::Nightly),
    ];
    store.enqueue_many(&jobs, NOW).await.expect("enqueue");
    let claimed = store
        .claim("w1", Target::Teams, 10, NOW + 1_000, LEASE, NOW)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 4, "every Teams job, one per link");
    let ends = vec![
        JobFinish {
            job_id: claimed[0].id,
            end: JobEnd::Done,
            link: None,
        },
        JobFinish {
            job_id: claimed[1].id,
            end: JobEnd::Failed {
                error: "Graph 403 Forbidden: not a member".into(),
            },
            link: None,
        },
        JobFinish {
            job_id: claimed[2].id,
            end: JobEnd::Retry {
                run_at: NOW + 600_000,
                error: "Graph 503".into(),
                counts: true,
            },
            link: None,
        },
    ];
    // claimed[3] stays running, under w1's lease.
    store
        .finish_many("w1", &ends, NOW + 2_000)
        .await
        .expect("finish");

    for (i, outcome) in ["granted", "refused", "done"].iter().enumerate() {
        store
            .audit(&AuditEntry {
                at: NOW + i as i64,
                actor: "teacher.g3@hwbcymru.net".into(),
                action: "restore".into(),
                group_id: Some("g3".into()),
                target: Some("teams".into()),
                outcome: (*outcome).into(),
                detail: format!("line {i}"),
            })
            .await
            .expect("audit");
    }
    let run = store
        .start_run("nightly", "2026-05-27", NOW - 86_400_000)
        .await
        .expect("run");
    store
        .finish_run(run, "archived 0, created 4", true, NOW - 86_000_000)
        .await
        .expect("finish run");
    store
        .start_run("nightly", "2026-05-28", NOW - 1_000)
        .await
        .expect("second run");
    assert!(
        store
            .claim_schedule("nightly", "2026-05-28", "w1", NOW - 1_000, NOW - 600_000)
            .await
            .expect("claim day")
    );
    store
        .settle_schedule("nightly", "2026-05-28")
        .await
        .expect("settle");
    store
        .register_worker(&WorkerInfo {
            id: "w1".into(),
            kind: "serve".into(),
            pid: 4242,
            started_at: NOW - 10_000,
            seen_at: NOW,
        })
        .await
        .expect("register");
    (url, store)
}

/// Every read of the trait, as text, for comparing two stores.
async fn reads(store: &Arc<dyn Store>, max_job: i64) -> Vec<String> {
    let mut out = vec![
        format!("{:?}", store.school_ids().await.unwrap()),
        format!("{:?}", store.school("s1").await.unwrap()),
        format!("{:?}", store.school("s2").await.unwrap()),
        format!("{:?}", store.groups().await.unwrap()),
        format!("{:?}", store.all_links().await.unwrap()),
        format!("{:?}", store.job_counts().await.unwrap()),
        format!("{:?}", store.queue_depth().await.unwrap()),
        format!("{:?}", store.pending_work().await.unwrap()),
        format!(
            "{:?}",
            store
                .jobs_finished_between(i64::MIN, i64::MAX)
                .await
                .unwrap()
        ),
        format!("{:?}", store.audit_log(1000).await.unwrap()),
        format!("{:?}", store.school_imports("s1", 10).await.unwrap()),
        format!(
            "{:?}",
            store.schools_with_last_import(None, 10).await.unwrap()
        ),
        format!("{:?}", store.last_import_days().await.unwrap()),
        // View Groups reads its own index tables: made anew in the copy.
        format!("{:?}", view_ids(store, "teacher.g1@hwbcymru.net").await),
        format!("{:?}", view_ids(store, &school("s1").admins[0]).await),
        format!("{:?}", store.last_run("nightly", false).await.unwrap()),
        format!("{:?}", store.last_run("nightly", true).await.unwrap()),
        format!(
            "{:?}",
            store
                .schedule_unsettled("nightly", "2026-05-28")
                .await
                .unwrap()
        ),
    ];
    for id in 1..=max_job + 1 {
        out.push(format!("job {id}: {:?}", store.job(id).await.unwrap()));
    }
    out
}

async fn view_ids(store: &Arc<dyn Store>, viewer: &str) -> Vec<String> {
    let query = GroupQuery {
        viewer: Some(viewer.to_string()),
        limit: 100,
        ..GroupQuery::default()
    };
    let page = store.visible_groups(&query).await.unwrap();
    page.groups.into_iter().map(|(g, _)| g.group.id).collect()
}

async fn max_job_id(store: &Arc<dyn Store>) -> i64 {
    let mut max = 0;
    for id in 1..100 {
        if store.job(id).await.unwrap().is_some() {
            max = id;
        }
    }
    max
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_year_copied_to_postgres_reads_back_the_same() {
    let Some(target) = empty_postgres("store_copy::a_sqlite_year_copied").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (source_url, source) = sqlite_year(&dir).await;
    let max_job = max_job_id(&source).await;
    assert_eq!(max_job, 6);

    let copied = copy_store(&source_url, &target.url).await.expect("copy");
    assert_eq!(
        copied,
        Counts {
            schools: 2,
            groups: 6,
            links: 12,
            jobs: 6,
            audit: 3,
            runs: 2,
            schedule_claims: 1,
            school_imports: 3,
            workers: 0,
        }
    );

    let copy = class_sync::store::open(&target.url)
        .await
        .expect("open copy");
    let (want, got) = (reads(&source, max_job).await, reads(&copy, max_job).await);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g);
    }
    assert_eq!(want.len(), got.len());
    assert_eq!(view_ids(&copy, "teacher.g1@hwbcymru.net").await, ["g1"]);
    // The restored link kept its MIS unlink, the granted one too.
    let links = copy.all_links().await.unwrap();
    let unlinked: Vec<_> = links
        .iter()
        .filter(|l| !l.mis_linked())
        .map(|l| (l.group_id.as_str(), l.state()))
        .collect();
    assert_eq!(
        unlinked,
        [("g2", LinkState::Restored), ("g3", LinkState::Archived)]
    );
    // Workers re-register; none is copied.
    assert!(copy.live_workers(0).await.unwrap().is_empty());
    // The day's settled claim came along: no second nightly run today.
    assert!(
        !copy
            .claim_schedule("nightly", "2026-05-28", "w2", NOW, NOW + 1)
            .await
            .unwrap()
    );
    // The running job's worker did not come along (workers re-register on the new store), so its
    // job is taken over at once, as a dead worker's would be.
    let taken = copy
        .claim("w2", Target::Teams, 10, NOW + 3_000, LEASE, NOW)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "{taken:?}");

    // Ids go on after the copied ones.
    let (id, new) = copy
        .enqueue(
            &new_job(JobKind::Reconcile, "h1", Target::Classroom, Lane::Mis),
            NOW,
        )
        .await
        .unwrap();
    assert!(new);
    assert!(id > max_job, "new job {id} after {max_job}");
    let run = copy.start_run("nightly", "2026-05-29", NOW).await.unwrap();
    assert!(run > 2, "new run {run}");
    copy.audit(&AuditEntry {
        at: NOW - 1_000_000,
        actor: "operator".into(),
        action: "sync".into(),
        group_id: None,
        target: None,
        outcome: "done".into(),
        detail: String::new(),
    })
    .await
    .expect("an audit line after the copied ones");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_is_not_empty_is_refused_and_left_unchanged() {
    let Some(target) = empty_postgres("store_copy::a_target_that_is_not_empty").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (source_url, source) = sqlite_year(&dir).await;
    // The target holds one audit line and nothing else.
    let existing = class_sync::store::open(&target.url).await.unwrap();
    existing
        .audit(&AuditEntry {
            at: NOW,
            actor: "operator".into(),
            action: "import".into(),
            group_id: None,
            target: None,
            outcome: "done".into(),
            detail: "already here".into(),
        })
        .await
        .unwrap();
    let before = reads(&existing, 6).await;

    let err = copy_store(&source_url, &target.url).await.unwrap_err();
    let CopyError::TargetNotEmpty { held, url } = &err else {
        panic!("refused as not empty: {err}");
    };
    assert_eq!(held.audit, 1);
    assert!(!url.contains("password"), "{url}");
    assert!(err.to_string().contains("1 audit entries"), "{err}");
    assert_eq!(reads(&existing, 6).await, before, "left unchanged");

    // A copy into a filled target is refused the same way, and the source is untouched.
    let other = empty_postgres("store_copy::a_target_that_is_not_empty (2)")
        .await
        .unwrap();
    copy_store(&source_url, &other.url)
        .await
        .expect("first copy");
    let err = copy_store(&source_url, &other.url).await.unwrap_err();
    assert!(
        matches!(&err, CopyError::TargetNotEmpty { held, .. } if held.jobs == 6 && held.groups == 6),
        "{err}"
    );
    assert_eq!(max_job_id(&source).await, 6);
}

fn config_with_sqlite(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("class-sync.toml");
    let db = dir.path().join("store.db");
    std::fs::write(
        &path,
        format!("database_url = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    path
}

fn store_copy(config: &std::path::Path, to: &str) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_class-sync"))
        .arg("--config")
        .arg(config)
        .args(["store", "copy", "--to", to])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_binary_refuses_an_unreachable_or_non_postgres_target_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_sqlite(&dir);
    // Port 1: nothing listens there.
    let (code, _, err) = store_copy(&config, "postgres://app:s3cret-pw@127.0.0.1:1/sync");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("postgres://app:***@127.0.0.1:1/sync"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    let (code, _, err) = store_copy(&config, "sqlite://elsewhere.db");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("PostgreSQL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_copies_once_then_refuses_the_filled_target_with_exit_2() {
    let Some(target) = empty_postgres("store_copy::the_binary_copies_once").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_sqlite(&dir);
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = class_sync::store::open(&url).await.unwrap();
    store
        .import_snapshot(&Snapshot {
            schools: vec![school("s1")],
            groups: vec![group("g1", "s1")],
        })
        .await
        .unwrap();
    drop(store);
    let to = target.url.clone();
    let (code, out, err) = tokio::task::spawn_blocking({
        let (config, to) = (config.clone(), to.clone());
        move || store_copy(&config, &to)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("1 schools, 1 groups, 2 links, 0 jobs"),
        "{out}"
    );
    let (code, _, err) = tokio::task::spawn_blocking(move || store_copy(&config, &to))
        .await
        .unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not empty"), "{err}");
    assert!(err.contains("1 groups"), "{err}");
}
