//! A whole school year for two schools, against the mocks: the behaviour CONTRACT §2–3 promises.

use crate::support::{TestApp, sorted};
use class_sync::core::calendar::HeldBack;
use class_sync::core::domain::{Snapshot, Target};
use class_sync::core::link::LinkState;
use class_sync::demo::{accounts, sample_snapshot};
use class_sync::work::planner::{RestoreRefusal, SkipReason};

fn roster_of(snap: &Snapshot, i: usize) -> (Vec<String>, Vec<String>) {
    (
        sorted(snap.groups[i].teachers.clone()),
        sorted(snap.groups[i].learners.clone()),
    )
}

fn assert_remote_rosters(app: &TestApp, snap: &Snapshot) {
    for (i, g) in snap.groups.iter().enumerate() {
        let (teachers, learners) = roster_of(snap, i);
        let team = app.team(&g.id);
        assert!(team.is_team, "{} is a team", g.id);
        assert_eq!(team.owners, teachers, "team owners of {}", g.id);
        assert_eq!(team.members, learners, "team members of {}", g.id);
        let course = app.course(&g.id);
        assert_eq!(
            sorted(course.teachers.clone()),
            teachers,
            "course teachers of {}",
            g.id
        );
        assert_eq!(
            sorted(course.students.clone()),
            learners,
            "course students of {}",
            g.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_year_for_two_schools() {
    let app = TestApp::start().await;
    let mut snap = sample_snapshot();
    let late = snap.groups[2].learners[0].clone();
    for a in accounts(&snap).iter().filter(|a| **a != late) {
        app.mocks.add_user(a);
    }

    // Before new_groups_from: stored, nothing created, and the import says why.
    let (s, r) = app.import_on("2025-08-27", &snap).await;
    assert_eq!((s.added, s.enqueued), (4, 0));
    assert_eq!(
        s.held_back
            .get(&SkipReason::Calendar(HeldBack::CreationDate)),
        Some(&8)
    );
    assert!(r.failed.is_empty());
    assert!(
        app.mocks.teams().is_empty() && app.mocks.courses().is_empty(),
        "nothing created before the date"
    );

    // On the date the nightly job creates everything, with exact rosters (less the missing account).
    let (n, r) = app.nightly_on("2025-08-28").await;
    assert_eq!(n.create_enqueued, 8);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let mut without_late = snap.clone();
    without_late.groups[2].learners.retain(|l| *l != late);
    assert_remote_rosters(&app, &without_late);
    let on = app.on("2025-08-28").await;
    for t in Target::ALL {
        let link = on.store.link(&snap.groups[2].id, t).await.unwrap().unwrap();
        assert_eq!(
            link.state(),
            LinkState::Active,
            "a missing account does not fail the group"
        );
        assert_eq!(link.missing_accounts, vec![late.clone()]);
    }

    // Running the same steps again creates nothing twice.
    let classes = app.creates("/education/classes");
    let courses = app.creates("/v1/courses");
    assert_eq!((classes, courses), (4, 4));
    app.import_on("2025-08-28", &snap).await;
    app.nightly_on("2025-08-28").await;
    assert_eq!(
        (
            app.creates("/education/classes"),
            app.creates("/v1/courses")
        ),
        (4, 4)
    );
    assert_eq!(app.mocks.teams().len(), 4);
    assert_eq!(app.mocks.courses().len(), 4);

    // The account appears: a forced resync adds it.
    app.mocks.add_user(&late);
    let (s, r) = app
        .sync_groups_on("2025-09-10", std::slice::from_ref(&snap.groups[2].id))
        .await;
    assert_eq!(s.enqueued, 2);
    assert!(r.failed.is_empty());
    assert_remote_rosters(&app, &snap);

    // Roster changes before the cutoff: an add, a removal, a teacher swap.
    snap.groups[0].learners.pop();
    snap.groups[1].learners.push("newcomer@hwbcymru.net".into());
    app.mocks.add_user("newcomer@hwbcymru.net");
    app.mocks.add_user("powellf2@hwbcymru.net");
    snap.groups[3].teachers = vec![
        "powellf2@hwbcymru.net".into(),
        "evansc3@hwbcymru.net".into(),
    ];
    let (s, r) = app.import_on("2026-06-01", &snap).await;
    assert_eq!((s.changed, s.enqueued), (3, 6));
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_remote_rosters(&app, &snap);
    assert_eq!(
        app.course(&snap.groups[3].id).owner,
        "powellf2@hwbcymru.net",
        "the course was handed on before its owner left"
    );

    // After the cutoff: recorded, not applied.
    let before = snap.clone();
    snap.groups[1].learners.clear();
    let (s, _) = app.import_on("2026-06-02", &snap).await;
    assert_eq!((s.changed, s.enqueued), (1, 0));
    assert_eq!(
        s.held_back.get(&SkipReason::Calendar(HeldBack::Cutoff)),
        Some(&2)
    );
    assert_remote_rosters(&app, &before);
    let link = app
        .on("2026-06-02")
        .await
        .store
        .link(&snap.groups[1].id, Target::Teams)
        .await
        .unwrap()
        .unwrap();
    assert!(
        link.held_changes,
        "the link records that changes were held back"
    );
    let (s, _) = app
        .sync_groups_on("2026-06-02", std::slice::from_ref(&snap.groups[1].id))
        .await;
    assert_eq!(
        s.enqueued, 0,
        "a forced resync after the cutoff applies nothing either"
    );
    assert_remote_rosters(&app, &before);

    // Archive: nothing the day before archive_on, everything on it, members kept.
    let (n, _) = app.nightly_on("2026-08-31").await;
    assert_eq!(n.archive_enqueued, 0);
    assert!(app.mocks.teams().iter().all(|t| !t.is_archived));
    let (n, r) = app.nightly_on("2026-09-01").await;
    assert_eq!(n.archive_enqueued, 8);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert!(app.mocks.teams().iter().all(|t| t.is_archived));
    assert!(app.mocks.courses().iter().all(|c| c.state == "ARCHIVED"));
    assert_remote_rosters(&app, &before);

    // Restore refused for another teacher, a learner, another school's admin: nothing changes, audited.
    let maths = snap.groups[2].id.clone();
    for who in [
        "daviesb7@hwbcymru.net",
        "dysgwr7.02@hwbcymru.net",
        "admin.primary@hwbcymru.net",
    ] {
        let out = app
            .restore_as("2026-09-02", &maths, Target::Teams, who)
            .await;
        assert!(
            matches!(out, Err(RestoreRefusal::Forbidden(_))),
            "{who}: {out:?}"
        );
    }
    assert!(app.team(&maths).is_archived);
    let on = app.on("2026-09-02").await;
    let audit = on.store.audit_log(50).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "restore" && a.outcome == "refused")
            .count(),
        3
    );
    assert!(
        on.store
            .link(&maths, Target::Teams)
            .await
            .unwrap()
            .unwrap()
            .mis_linked(),
        "a refusal unlinks nothing"
    );

    // Granted for the class's teacher (Teams) and the school's admin (Classroom).
    app.restore_as("2026-09-02", &maths, Target::Teams, "evansc3@hwbcymru.net")
        .await
        .expect("teacher may restore");
    app.restore_as(
        "2026-09-02",
        &maths,
        Target::Classroom,
        "Admin.Secondary@hwbcymru.net",
    )
    .await
    .expect("admin may restore");
    assert!(!app.team(&maths).is_archived);
    assert_eq!(app.course(&maths).state, "ACTIVE");
    let again = app
        .restore_as("2026-09-02", &maths, Target::Teams, "evansc3@hwbcymru.net")
        .await;
    assert!(
        matches!(again, Err(RestoreRefusal::Conflict(_))),
        "{again:?}"
    );
    let doc = class_sync::status::group(&*app.on("2026-09-02").await.store, &maths)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.links.len(), 2);
    for l in &doc.links {
        assert_eq!(l.state, LinkState::Restored);
        assert!(!l.mis_linked);
    }

    // Afterwards MIS data, resyncs and the nightly job leave the restored links alone.
    snap.groups[2].learners.clear();
    app.import_on("2026-09-03", &snap).await;
    app.sync_groups_on("2026-09-03", std::slice::from_ref(&maths))
        .await;
    app.nightly_on("2026-09-03").await;
    assert!(!app.team(&maths).is_archived);
    assert_eq!(app.course(&maths).state, "ACTIVE");
    assert_eq!(
        app.team(&maths).members,
        sorted(before.groups[2].learners.clone())
    );
    // The others stay archived and nothing was created twice.
    assert_eq!(
        app.mocks.teams().iter().filter(|t| t.is_archived).count(),
        3
    );
    assert_eq!(
        (
            app.creates("/education/classes"),
            app.creates("/v1/courses")
        ),
        (4, 4)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressing_restore_twice_makes_one_job() {
    let app = TestApp::start().await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    app.import_on("2025-09-01", &snap).await;
    app.nightly_on("2026-09-01").await;
    let on = app.on("2026-09-02").await;
    let g = &snap.groups[0].id;
    let first =
        class_sync::work::planner::restore(&on, g, Target::Teams, "admin.primary@hwbcymru.net")
            .await
            .unwrap();
    let second = class_sync::work::planner::restore(&on, g, Target::Teams, "jonesa12@hwbcymru.net")
        .await
        .unwrap();
    assert_eq!(first.job, second.job);
    assert!(first.new && !second.new);
    app.work(&on).await;
    assert!(!app.team(g).is_archived);
    // Once done, another press is a conflict, not a second job.
    let again =
        class_sync::work::planner::restore(&on, g, Target::Teams, "jonesa12@hwbcymru.net").await;
    assert!(matches!(
        again,
        Err(class_sync::work::planner::RestoreRefusal::Conflict(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presses_at_the_same_moment_make_one_job() {
    let app = TestApp::start().await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    app.import_on("2025-09-01", &snap).await;
    app.nightly_on("2026-09-01").await;
    // Two portal sessions (two processes) press Restore on the same course at once.
    let (one, two) = (app.on("2026-09-02").await, app.on("2026-09-02").await);
    let g = &snap.groups[0].id;
    let (a, b) = tokio::join!(
        class_sync::work::planner::restore(
            &one,
            g,
            Target::Classroom,
            "admin.primary@hwbcymru.net"
        ),
        class_sync::work::planner::restore(&two, g, Target::Classroom, "jonesa12@hwbcymru.net"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.job, b.job);
    assert_eq!(
        a.new as u8 + b.new as u8,
        1,
        "exactly one press made the job"
    );
    let report = app.work(&one).await;
    assert_eq!(report.done, 1);
    assert_eq!(app.course(g).state, "ACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_of_an_active_link_is_a_conflict_and_unknown_is_not_found() {
    let app = TestApp::start().await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    app.import_on("2025-09-01", &snap).await;
    let out = app
        .restore_as(
            "2025-10-01",
            &snap.groups[0].id,
            Target::Teams,
            "jonesa12@hwbcymru.net",
        )
        .await;
    assert!(matches!(out, Err(RestoreRefusal::Conflict(_))), "{out:?}");
    let out = app
        .restore_as(
            "2025-10-01",
            "no-such-group",
            Target::Teams,
            "jonesa12@hwbcymru.net",
        )
        .await;
    assert!(matches!(out, Err(RestoreRefusal::NotFound(_))), "{out:?}");
}

/// A teacher swap whose new teacher has no account yet (found by the roster property
/// `missing_accounts_never_cost_the_team_its_owner`). Graph refuses to remove a team's last owner,
/// so the run failed and every other change of the roster waited with it; Classroom kept its owner
/// but no longer counted them as class-sync's, so the swap never finished. Now the old teacher
/// stays, the rest follows MIS, and the first run after the account appears finishes the swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_swap_waits_for_the_new_teachers_account() {
    let app = TestApp::start().await;
    let mut snap = sample_snapshot();
    for a in accounts(&snap) {
        app.mocks.add_user(&a);
    }
    let (_, r) = app.import_on("2025-09-10", &snap).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);

    let id = snap.groups[0].id.clone();
    let old = snap.groups[0].teachers.clone();
    let new = "athro.newydd@hwbcymru.net".to_string();
    snap.groups[0].teachers = vec![new.clone()];
    snap.groups[0].learners.pop();
    let (_, r) = app.import_on("2025-09-11", &snap).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let (_, learners) = roster_of(&snap, 0);
    let team = app.team(&id);
    assert_eq!(team.owners, old, "the team keeps its owner");
    assert_eq!(team.members, learners, "the rest of the roster follows MIS");
    let course = app.course(&id);
    assert_eq!(sorted(course.teachers.clone()), old);
    assert_eq!(sorted(course.students.clone()), learners);
    let on = app.on("2025-09-11").await;
    for t in Target::ALL {
        let link = on.store.link(&id, t).await.unwrap().unwrap();
        assert_eq!(link.missing_accounts, vec![new.clone()], "{t:?}");
    }

    app.mocks.add_user(&new);
    let (_, r) = app
        .sync_groups_on("2025-09-12", std::slice::from_ref(&id))
        .await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_remote_rosters(&app, &snap);
    assert_eq!(app.course(&id).owner, new);
}
