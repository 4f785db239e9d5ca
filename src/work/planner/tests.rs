//! The planner's decisions: what each action enqueues, holds back, refuses and records, on a real
//! SQLite store with fake providers for both targets (no provider is ever called from here).
//!
//! Over 500 lines on purpose: one fixture shared by every action's tests; split by action, each
//! file would repeat it or reach into a sibling for it.

use super::*;
use crate::app::Today;
use crate::config::Config;
use crate::core::calendar::YearCalendar;
use crate::core::domain::{School, Snapshot};
use crate::core::link::LinkEvent;
use crate::remote::providers::Provider;
use crate::store::{Job, Store};
use crate::work::fake_provider::{Call, FakeProvider};
use chrono::NaiveDate;
use std::sync::Arc;

const SCHOOL_A: &str = "6612001";
const SCHOOL_B: &str = "6612002";
const MATHS: &str = "6612001-2025-26-7A-Ma1";
const ENGLISH: &str = "6612001-2025-26-7B-En1";
const SCIENCE: &str = "6612002-2025-26-7A-Sc1";
const ADMIN: &str = "admin@a.example";
const MATHS_TEACHER: &str = "maths@a.example";
const ENGLISH_TEACHER: &str = "english@a.example";

const BEFORE_CREATION: &str = "2025-08-27";
const CREATION_DAY: &str = "2025-08-28";
const TERM: &str = "2025-10-01";
const AFTER_CUTOFF: &str = "2026-06-02";
const BEFORE_ARCHIVE: &str = "2026-08-31";
const ARCHIVE_DAY: &str = "2026-09-01";

fn year() -> YearCalendar {
    YearCalendar {
        year: "2025-26".parse().unwrap(),
        new_groups_from: CREATION_DAY.parse().unwrap(),
        mis_sync_cutoff: "2026-06-01".parse().unwrap(),
        archive_on: ARCHIVE_DAY.parse().unwrap(),
    }
}

fn group(id: &str, school: &str, targets: &[Target], teacher: &str, learners: &[&str]) -> Group {
    Group {
        id: id.into(),
        school: school.into(),
        academic_year: "2025-26".into(),
        name: id.into(),
        year_group: Some(7),
        subject: None,
        targets: targets.to_vec(),
        teachers: vec![teacher.into()],
        learners: learners.iter().map(|s| s.to_string()).collect(),
    }
}

/// Two schools: A with maths and English (both targets), B with science (Teams only): five links.
fn snapshot() -> Snapshot {
    let both = &Target::ALL;
    Snapshot {
        schools: vec![
            School {
                id: SCHOOL_A.into(),
                name: "Ysgol A".into(),
                admins: vec![ADMIN.into()],
            },
            School {
                id: SCHOOL_B.into(),
                name: "Ysgol B".into(),
                admins: vec!["admin@b.example".into()],
            },
        ],
        groups: vec![
            group(MATHS, SCHOOL_A, both, MATHS_TEACHER, &["ann@a.example"]),
            group(ENGLISH, SCHOOL_A, both, ENGLISH_TEACHER, &["bob@a.example"]),
            group(
                SCIENCE,
                SCHOOL_B,
                &[Target::Teams],
                "science@b.example",
                &["cai@b.example"],
            ),
        ],
    }
}

/// The snapshot with maths' roster changed.
fn snapshot_with_maths_changed() -> Snapshot {
    let mut s = snapshot();
    s.groups[0].learners.push("new@a.example".into());
    s
}

fn held(counts: &[(SkipReason, u64)]) -> HeldCounts {
    counts.iter().copied().collect()
}

/// A fresh store, fake Teams and Classroom, and the 2025-26 calendar; `app` is on `TERM`.
struct Fixture {
    _dir: tempfile::TempDir,
    app: Arc<App>,
    teams: Arc<FakeProvider>,
    classroom: Arc<FakeProvider>,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with_targets(&Target::ALL).await
    }

    /// Only `targets` have a provider configured.
    async fn with_targets(targets: &[Target]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::builtin();
        config.database_url = format!("sqlite://{}", dir.path().join("store.db").display());
        config.years = vec![year()];
        let store = crate::store::open(&config.database_url).await.unwrap();
        let teams = Arc::new(FakeProvider::new(Target::Teams));
        let classroom = Arc::new(FakeProvider::new(Target::Classroom));
        let configured = |t: Target, p: &Arc<FakeProvider>| {
            targets.contains(&t).then(|| p.clone() as Arc<dyn Provider>)
        };
        let app = App::with_providers(
            config,
            Today::Fixed(TERM.parse().unwrap()),
            store,
            configured(Target::Teams, &teams),
            configured(Target::Classroom, &classroom),
        );
        Fixture {
            _dir: dir,
            app,
            teams,
            classroom,
        }
    }

    fn on(&self, day: &str) -> App {
        self.app.on_day(day.parse::<NaiveDate>().unwrap())
    }

    fn store(&self) -> &dyn Store {
        &*self.app.store
    }

    async fn import_on(&self, day: &str, snapshot: &Snapshot) -> ImportSummary {
        import(&self.on(day), snapshot, "test").await.unwrap()
    }

    /// The snapshot stored before the creation date, so no job waits yet.
    async fn imported(&self) -> &Self {
        let s = self.import_on(BEFORE_CREATION, &snapshot()).await;
        assert_eq!(s.enqueued, 0);
        self
    }

    /// Every link created and in step, as finished jobs leave them.
    async fn all_active(&self) -> &Self {
        self.imported().await;
        for link in self.store().all_links().await.unwrap() {
            self.set(&link.group_id, link.target, LinkState::Active)
                .await;
        }
        self
    }

    /// Walks a new link to `state` the way its life goes, and saves it over the stored one.
    async fn set(&self, group_id: &str, target: Target, state: LinkState) -> Link {
        use LinkEvent::*;
        let events: &[LinkEvent] = match state {
            LinkState::Pending => &[],
            LinkState::Active => &[Created { archived: false }],
            LinkState::Archived => &[Created { archived: false }, Archived],
            LinkState::Restored => &[Created { archived: false }, Archived, Restored],
            LinkState::Failed => &[Created { archived: false }, Failed],
        };
        let mut link = Link::new(group_id, target);
        for event in events {
            link.apply(*event).unwrap();
        }
        if state != LinkState::Pending {
            link.remote_id = Some(FakeProvider::remote_id_of(group_id));
        }
        self.store().save_link(&link).await.unwrap();
        link
    }

    async fn link(&self, group_id: &str, target: Target) -> Link {
        self.store().link(group_id, target).await.unwrap().unwrap()
    }

    async fn jobs(&self, ids: &[i64]) -> Vec<Job> {
        let mut jobs = Vec::new();
        for id in ids {
            jobs.push(self.store().job(*id).await.unwrap().unwrap());
        }
        jobs
    }

    /// Jobs in the store, of any kind and state.
    async fn job_total(&self) -> u64 {
        let counts = self.store().job_counts().await.unwrap();
        counts.iter().map(|(_, _, n)| n).sum()
    }

    async fn last_audit(&self) -> AuditEntry {
        self.store().audit_log(1).await.unwrap().remove(0)
    }

    /// The planner decides and enqueues; it never calls Microsoft or Google.
    fn assert_no_provider_called(&self) {
        let none: [Call; 0] = [];
        assert_eq!(self.teams.calls(), none);
        assert_eq!(self.classroom.calls(), none);
    }
}

fn kinds_and_lanes(jobs: &[Job]) -> Vec<(JobKind, Lane)> {
    jobs.iter().map(|j| (j.kind, j.lane)).collect()
}

// --- import and push ---

#[tokio::test]
async fn an_import_before_the_creation_date_holds_its_groups_back() {
    let fx = Fixture::new().await;
    let s = fx.import_on(BEFORE_CREATION, &snapshot()).await;

    assert_eq!(s.added, 3);
    assert_eq!(s.enqueued, 0);
    assert_eq!(
        s.held_back,
        held(&[(SkipReason::Calendar(HeldBack::CreationDate), 5)])
    );
    assert_eq!(fx.job_total().await, 0);
    fx.assert_no_provider_called();
}

#[tokio::test]
async fn an_import_on_the_creation_date_enqueues_a_reconcile_per_link() {
    let fx = Fixture::new().await;
    let s = fx.import_on(CREATION_DAY, &snapshot()).await;

    assert_eq!(s.enqueued, 5);
    assert!(s.held_back.is_empty(), "{:?}", s.held_back);
    assert_eq!(
        kinds_and_lanes(&fx.jobs(&s.jobs).await),
        [(JobKind::Reconcile, Lane::Mis); 5]
    );
    fx.assert_no_provider_called();
}

#[tokio::test]
async fn an_import_holds_back_a_target_that_is_not_configured() {
    let fx = Fixture::with_targets(&[Target::Teams]).await;
    let s = fx.import_on(TERM, &snapshot()).await;

    assert_eq!(s.enqueued, 3);
    assert_eq!(s.held_back, held(&[(SkipReason::TargetNotConfigured, 2)]));
}

#[tokio::test]
async fn reimporting_while_its_jobs_wait_enqueues_no_duplicates() {
    let fx = Fixture::new().await;
    let first = fx.import_on(TERM, &snapshot()).await;
    let again = fx.import_on(TERM, &snapshot()).await;

    assert_eq!(again.unchanged, 3);
    assert_eq!(again.enqueued, 0);
    assert_eq!(again.jobs, first.jobs, "the waiting jobs are the same ones");
    assert_eq!(fx.job_total().await, 5);
}

#[tokio::test]
async fn an_unchanged_reimport_of_synced_groups_enqueues_nothing() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let s = fx.import_on(TERM, &snapshot()).await;

    assert_eq!(s.unchanged, 3);
    assert_eq!(s.enqueued, 0);
    assert!(s.jobs.is_empty());
    assert!(s.held_back.is_empty());
}

#[tokio::test]
async fn a_changed_group_in_term_is_reconciled() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let s = fx.import_on(TERM, &snapshot_with_maths_changed()).await;

    assert_eq!((s.changed, s.unchanged), (1, 2));
    assert_eq!(s.enqueued, 2, "maths' two links");
    let jobs = fx.jobs(&s.jobs).await;
    assert!(jobs.iter().all(|j| j.group_id == MATHS));
}

#[tokio::test]
async fn after_the_cutoff_a_changed_group_is_recorded_not_enqueued() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let s = fx
        .import_on(AFTER_CUTOFF, &snapshot_with_maths_changed())
        .await;

    assert_eq!(s.changed, 1);
    assert_eq!(s.enqueued, 0);
    assert_eq!(
        s.held_back,
        held(&[(SkipReason::Calendar(HeldBack::Cutoff), 2)])
    );
    for target in Target::ALL {
        assert!(fx.link(MATHS, target).await.held_changes, "{target}");
        assert!(!fx.link(ENGLISH, target).await.held_changes, "{target}");
    }
    assert_eq!(fx.job_total().await, 0);
}

#[tokio::test]
async fn pushing_a_changed_group_after_the_cutoff_is_recorded_not_applied() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let maths = snapshot_with_maths_changed().groups.remove(0);
    let s = put_group(&fx.on(AFTER_CUTOFF), &maths, "portal")
        .await
        .unwrap();

    assert_eq!(s.outcome, GroupChange::Changed);
    assert_eq!(s.enqueued, 0);
    assert_eq!(
        s.held_back,
        held(&[(SkipReason::Calendar(HeldBack::Cutoff), 2)])
    );
    assert!(fx.link(MATHS, Target::Teams).await.held_changes);
    assert_eq!(fx.job_total().await, 0);
}

#[tokio::test]
async fn pushing_a_new_group_in_term_enqueues_its_creation_and_pushing_it_again_nothing() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let new = group(
        "6612001-2025-26-8A-Cy1",
        SCHOOL_A,
        &Target::ALL,
        MATHS_TEACHER,
        &[],
    );
    let s = put_group(&fx.on(TERM), &new, "portal").await.unwrap();
    assert_eq!((s.outcome, s.enqueued), (GroupChange::Added, 2));

    let s = put_group(&fx.on(TERM), &new, "portal").await.unwrap();
    assert_eq!((s.outcome, s.enqueued), (GroupChange::Unchanged, 0));
}

// --- nightly ---

#[tokio::test]
async fn nightly_before_archive_on_archives_nothing() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let s = nightly(&fx.on(BEFORE_ARCHIVE), "nightly").await.unwrap();

    assert_eq!(s.archive_enqueued, 0);
    assert!(s.jobs.is_empty());
    assert_eq!(fx.job_total().await, 0);
}

#[tokio::test]
async fn nightly_on_archive_on_archives_mis_linked_created_links_only() {
    let fx = Fixture::new().await;
    fx.imported().await;
    fx.set(MATHS, Target::Teams, LinkState::Active).await;
    fx.set(MATHS, Target::Classroom, LinkState::Restored).await;
    fx.set(ENGLISH, Target::Teams, LinkState::Archived).await;
    // English's course was never created (pending); science's team is active.
    fx.set(SCIENCE, Target::Teams, LinkState::Active).await;

    let s = nightly(&fx.on(ARCHIVE_DAY), "nightly").await.unwrap();
    assert_eq!(s.archive_enqueued, 2);
    assert_eq!(
        s.skipped,
        held(&[(SkipReason::Calendar(HeldBack::Unlinked), 1)])
    );
    let jobs = fx.jobs(&s.jobs).await;
    assert_eq!(
        kinds_and_lanes(&jobs),
        [(JobKind::Archive, Lane::Nightly); 2]
    );
    let archived: Vec<(&str, Target)> = jobs
        .iter()
        .map(|j| (j.group_id.as_str(), j.target))
        .collect();
    assert_eq!(archived, [(MATHS, Target::Teams), (SCIENCE, Target::Teams)]);
    fx.assert_no_provider_called();
}

#[tokio::test]
async fn nightly_creates_links_once_their_creation_date_has_come() {
    let fx = Fixture::new().await;
    fx.imported().await;

    let s = nightly(&fx.on(BEFORE_CREATION), "nightly").await.unwrap();
    assert_eq!(s.create_enqueued, 0);
    assert_eq!(
        s.skipped,
        held(&[(SkipReason::Calendar(HeldBack::CreationDate), 5)])
    );

    let s = nightly(&fx.on(CREATION_DAY), "nightly").await.unwrap();
    assert_eq!(s.create_enqueued, 5);
    assert_eq!(
        kinds_and_lanes(&fx.jobs(&s.jobs).await),
        [(JobKind::Reconcile, Lane::Mis); 5]
    );
}

#[tokio::test]
async fn nightly_retries_members_whose_accounts_were_missing() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let mut link = fx.link(MATHS, Target::Teams).await;
    link.missing_accounts = vec!["ann@a.example".into()];
    fx.store().save_link(&link).await.unwrap();

    let s = nightly(&fx.on(TERM), "nightly").await.unwrap();
    assert_eq!((s.retry_enqueued, s.create_enqueued), (1, 0));
    let jobs = fx.jobs(&s.jobs).await;
    assert_eq!(
        (jobs[0].group_id.as_str(), jobs[0].target),
        (MATHS, Target::Teams)
    );
}

// --- archive --year ---

#[tokio::test]
async fn archiving_a_year_before_archive_on_is_refused_without_force() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let app = fx.on(BEFORE_ARCHIVE);

    match archive_year(&app, "2025-26", false, false, "operator").await {
        Err(ArchiveRefusal::NotDue { year, archive_on }) => {
            assert_eq!(year, "2025-26");
            assert_eq!(archive_on.to_string(), ARCHIVE_DAY);
        }
        other => panic!("expected NotDue, got {other:?}"),
    }
    assert_eq!(fx.job_total().await, 0);

    let s = archive_year(&app, "2025-26", false, true, "operator")
        .await
        .unwrap();
    assert_eq!(s.enqueued, 5);
    assert_eq!(
        kinds_and_lanes(&fx.jobs(&s.jobs).await),
        [(JobKind::Archive, Lane::Operator); 5]
    );
}

#[tokio::test]
async fn archiving_a_year_with_no_calendar_is_refused() {
    let fx = Fixture::new().await;
    for year in ["2030-31", "last year"] {
        let refusal = archive_year(&fx.on(ARCHIVE_DAY), year, false, true, "operator").await;
        assert!(
            matches!(&refusal, Err(ArchiveRefusal::UnknownYear(y)) if y == year),
            "{refusal:?}"
        );
    }
}

#[tokio::test]
async fn a_dry_run_counts_per_school_and_enqueues_nothing() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    fx.set(ENGLISH, Target::Classroom, LinkState::Restored)
        .await;

    let s = archive_year(&fx.on(BEFORE_ARCHIVE), "2025-26", true, false, "operator")
        .await
        .unwrap();
    assert!(s.dry_run);
    assert_eq!(
        s.per_school,
        BTreeMap::from([(SCHOOL_A.to_string(), 3), (SCHOOL_B.to_string(), 1)])
    );
    assert_eq!(s.skipped_unlinked, 1);
    assert_eq!(s.enqueued, 0);
    assert_eq!(fx.job_total().await, 0);
}

// --- restore ---

#[tokio::test]
async fn a_teacher_of_another_class_is_forbidden_audited_and_nothing_changes() {
    let fx = Fixture::new().await;
    fx.imported().await;
    let before = fx.set(MATHS, Target::Teams, LinkState::Archived).await;

    let refusal = restore(&fx.on(ARCHIVE_DAY), MATHS, Target::Teams, ENGLISH_TEACHER).await;
    assert!(
        matches!(refusal, Err(RestoreRefusal::Forbidden(_))),
        "{refusal:?}"
    );
    assert_eq!(fx.link(MATHS, Target::Teams).await, before);
    assert_eq!(fx.job_total().await, 0);
    let audit = fx.last_audit().await;
    assert_eq!(
        (
            audit.action.as_str(),
            audit.outcome.as_str(),
            audit.actor.as_str()
        ),
        ("restore", "refused", ENGLISH_TEACHER)
    );
    assert_eq!(audit.group_id.as_deref(), Some(MATHS));
}

#[tokio::test]
async fn restoring_a_link_that_is_not_archived_is_a_conflict() {
    let fx = Fixture::new().await;
    fx.all_active().await;

    let refusal = restore(&fx.on(ARCHIVE_DAY), MATHS, Target::Teams, MATHS_TEACHER).await;
    match refusal {
        Err(RestoreRefusal::Conflict(reason)) => {
            assert_eq!(reason, "the teams link is active, not archived")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(fx.link(MATHS, Target::Teams).await.mis_linked());
    assert_eq!(fx.job_total().await, 0);
    assert_eq!(fx.last_audit().await.outcome, "conflict");
}

#[tokio::test]
async fn restoring_an_unknown_group_is_not_found() {
    let fx = Fixture::new().await;
    fx.imported().await;

    let refusal = restore(&fx.on(ARCHIVE_DAY), "no-such-group", Target::Teams, ADMIN).await;
    assert!(
        matches!(refusal, Err(RestoreRefusal::NotFound(_))),
        "{refusal:?}"
    );
    assert_eq!(fx.last_audit().await.outcome, "not_found");
}

#[tokio::test]
async fn a_granted_restore_unlinks_the_link_at_once_and_enqueues_one_restore_job() {
    let fx = Fixture::new().await;
    fx.imported().await;
    fx.set(MATHS, Target::Teams, LinkState::Archived).await;

    let accepted = restore(&fx.on(ARCHIVE_DAY), MATHS, Target::Teams, MATHS_TEACHER)
        .await
        .unwrap();
    assert!(accepted.new);
    let link = fx.link(MATHS, Target::Teams).await;
    assert!(!link.mis_linked(), "MIS-unlinked before the job runs");
    assert_eq!(link.state(), LinkState::Archived, "the job restores it");
    let job = fx.store().job(accepted.job).await.unwrap().unwrap();
    assert_eq!((job.kind, job.lane), (JobKind::Restore, Lane::Restore));
    assert_eq!(job.requested_by.as_deref(), Some(MATHS_TEACHER));
    assert_eq!(fx.last_audit().await.outcome, "granted");
    fx.assert_no_provider_called();
}

#[tokio::test]
async fn a_school_admin_may_restore_any_class_of_the_school_and_two_presses_make_one_job() {
    let fx = Fixture::new().await;
    fx.imported().await;
    fx.set(ENGLISH, Target::Classroom, LinkState::Archived)
        .await;
    let app = fx.on(ARCHIVE_DAY);

    let first = restore(&app, ENGLISH, Target::Classroom, "Admin@A.example")
        .await
        .unwrap();
    let second = restore(&app, ENGLISH, Target::Classroom, ADMIN)
        .await
        .unwrap();
    assert!(first.new && !second.new);
    assert_eq!(first.job, second.job);
    assert_eq!(fx.job_total().await, 1);
}

// --- sync ---

#[tokio::test]
async fn sync_of_a_school_enqueues_its_links_in_the_operator_lane() {
    let fx = Fixture::new().await;
    fx.all_active().await;

    let s = sync(&fx.on(TERM), &[SCHOOL_A.into()], &[], None, "operator")
        .await
        .unwrap();
    assert_eq!(s.enqueued, 4);
    let jobs = fx.jobs(&s.jobs).await;
    assert_eq!(
        kinds_and_lanes(&jobs),
        [(JobKind::Reconcile, Lane::Operator); 4]
    );
    assert!(jobs.iter().all(|j| j.group_id != SCIENCE));
    assert!(
        jobs.iter()
            .all(|j| j.requested_by.as_deref() == Some("operator"))
    );
}

#[tokio::test]
async fn sync_of_a_school_and_one_of_its_groups_and_another_school_s_group_considers_each_once() {
    let fx = Fixture::new().await;
    fx.all_active().await;

    let s = sync(
        &fx.on(TERM),
        &[SCHOOL_A.into()],
        &[MATHS.into(), SCIENCE.into()],
        None,
        "operator",
    )
    .await
    .unwrap();
    // School A's four links (Maths among them, not twice) and Science's one.
    assert_eq!(s.enqueued, 5);
    assert_eq!(s.jobs.len(), 5);
    let jobs = fx.jobs(&s.jobs).await;
    assert_eq!(jobs.iter().filter(|j| j.group_id == MATHS).count(), 2);
    assert_eq!(jobs.iter().filter(|j| j.group_id == SCIENCE).count(), 1);
}

#[tokio::test]
async fn sync_skips_a_restored_group_with_its_reason() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    fx.set(MATHS, Target::Teams, LinkState::Restored).await;
    fx.set(MATHS, Target::Classroom, LinkState::Restored).await;

    let s = sync(&fx.on(TERM), &[], &[MATHS.into()], None, "operator")
        .await
        .unwrap();
    assert_eq!(s.enqueued, 0);
    assert_eq!(
        s.skipped,
        held(&[(SkipReason::Calendar(HeldBack::Unlinked), 2)])
    );
    assert_eq!(fx.job_total().await, 0);
}

#[tokio::test]
async fn sync_skips_archived_links_and_honours_the_target() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    fx.set(MATHS, Target::Teams, LinkState::Archived).await;

    let s = sync(
        &fx.on(TERM),
        &[],
        &[MATHS.into()],
        Some(Target::Teams),
        "operator",
    )
    .await
    .unwrap();
    assert_eq!(s.enqueued, 0);
    assert_eq!(s.skipped, held(&[(SkipReason::Archived, 1)]));

    let s = sync(
        &fx.on(TERM),
        &[],
        &[MATHS.into()],
        Some(Target::Classroom),
        "operator",
    )
    .await
    .unwrap();
    assert_eq!(s.enqueued, 1);
    assert!(s.skipped.is_empty());
}

#[tokio::test]
async fn sync_reports_unknown_schools_and_groups() {
    let fx = Fixture::new().await;
    fx.all_active().await;

    let s = sync(
        &fx.on(TERM),
        &["9999999".into(), SCHOOL_B.into()],
        &["no-such-group".into()],
        None,
        "operator",
    )
    .await
    .unwrap();
    assert_eq!(s.unknown_schools, ["9999999"]);
    assert_eq!(s.unknown_groups, ["no-such-group"]);
    assert_eq!(s.enqueued, 1, "the known school is still synced");
}

#[tokio::test]
async fn sync_of_a_withdrawn_group_counts_only_the_targets_asked_for() {
    let fx = Fixture::new().await;
    fx.all_active().await;
    let mut without_maths = snapshot();
    without_maths.groups.remove(0);
    assert_eq!(fx.import_on(TERM, &without_maths).await.withdrawn, 1);

    let s = sync(
        &fx.on(TERM),
        &[],
        &[MATHS.into()],
        Some(Target::Teams),
        "operator",
    )
    .await
    .unwrap();
    assert_eq!(s.enqueued, 0);
    assert_eq!(s.skipped, held(&[(SkipReason::GroupWithdrawn, 1)]));
}
