//! What one job does to one link: reconcile (create + roster), archive, restore.
//!
//! Architecture Invariant: every job re-reads the link and the calendar when it runs, so a job queued
//! before a restore, the cutoff or a withdrawal does nothing it should no longer do. A restored
//! (MIS-unlinked) link is touched only by its restore job.

use crate::app::App;
use crate::core::calendar::YearCalendar;
use crate::core::calendar::{HeldBack, mis_work_allowed};
use crate::core::domain::Target;
use crate::core::job::JobKind;
use crate::core::link::{IllegalMove, Link, LinkEvent, LinkState};
use crate::core::roster::{diff, managed_after, touchable};
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::providers::Creation;
use crate::remote::providers::Provider;
use crate::store::Store;
use crate::store::{Job, StoreError};
use chrono::NaiveDate;
use std::collections::BTreeSet;

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Permanent(String),
    /// A bug: the job tried a move the link's life does not allow; nothing was saved.
    #[error("{0}")]
    IllegalMove(#[from] IllegalMove),
}

impl JobError {
    /// Throttling, transient faults and the store are worth another attempt; the rest is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            JobError::Provider(e) => e.kind.is_retryable(),
            // Damaged data does not mend itself; an unreachable or busy store does.
            JobError::Store(StoreError::Corrupt(_)) => false,
            JobError::Store(_) => true,
            JobError::Permanent(_) | JobError::IllegalMove(_) => false,
        }
    }

    /// The service only said "not now": the attempt does not count against `max_attempts`.
    pub fn is_throttling(&self) -> bool {
        matches!(self, JobError::Provider(e) if e.kind == ErrorKind::Throttled)
    }
}

/// What a finished job reports for summaries.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    /// Done; the link as the job leaves it, saved by the worker together with the job's end.
    Done(Link),
    Skipped(&'static str),
}

/// What a job needs, and nothing more: the store, the provider of its target, the calendar and
/// today. The worker builds it from the process's `App`; tests build it with a fake provider.
pub struct JobEnv<'a> {
    pub store: &'a dyn Store,
    /// None when the job's target is not configured: the job fails permanently, saying so.
    pub provider: Option<&'a dyn Provider>,
    pub years: &'a [YearCalendar],
    pub today: NaiveDate,
    /// Now, in ms since the epoch: the roster's `last_sync`.
    pub now_ms: i64,
}

impl<'a> JobEnv<'a> {
    /// The environment of a job of `target` in this process, today.
    pub fn of(app: &'a App, target: Target) -> JobEnv<'a> {
        JobEnv {
            store: &*app.store,
            provider: app.provider(target).map(|p| &**p),
            years: &app.config.years,
            today: app.today(),
            now_ms: App::now_ms(),
        }
    }

    fn year(&self, name: &str) -> Option<&'a YearCalendar> {
        let year = name.parse().ok()?;
        self.years.iter().find(|y| y.year == year)
    }

    fn provider(&self, link: &Link) -> Result<&'a dyn Provider, JobError> {
        self.provider.ok_or_else(|| {
            JobError::Permanent(format!(
                "no [{}] provider is configured",
                match link.target {
                    Target::Teams => "microsoft",
                    Target::Classroom => "google",
                }
            ))
        })
    }
}

/// Runs one job against its link as it is now (re-read, never trusted from the queue).
pub async fn run(env: &JobEnv<'_>, job: &Job) -> Result<JobOutcome, JobError> {
    let Some(mut link) = env.store.link(&job.group_id, job.target).await? else {
        return Ok(JobOutcome::Skipped("link no longer exists"));
    };
    match job.kind {
        JobKind::Reconcile => reconcile(env, &mut link).await,
        JobKind::Archive => archive(env, &mut link).await,
        JobKind::Restore => restore(env, &mut link).await,
    }
}

/// The link after a permanent failure, with the service's code and message; the worker saves it
/// with the job's end.
pub async fn failed_link(
    store: &dyn Store,
    job: &Job,
    error: &str,
) -> Result<Option<Link>, StoreError> {
    Ok(store
        .link(&job.group_id, job.target)
        .await?
        .map(|mut link| {
            link.apply(LinkEvent::Failed)
                .expect("failure is reachable from every state");
            link.last_error = Some(format!("{}: {error}", job.kind.as_str()));
            link
        }))
}

async fn reconcile(env: &JobEnv<'_>, link: &mut Link) -> Result<JobOutcome, JobError> {
    let Some(stored) = env.store.group(&link.group_id).await? else {
        return Ok(JobOutcome::Skipped("group unknown"));
    };
    if stored.withdrawn {
        return Ok(JobOutcome::Skipped("group withdrawn"));
    }
    let group = stored.group;
    // A job queued before the UMP dropped this target for the group must not create or sync it.
    if !group.targets.contains(&link.target) {
        return Ok(JobOutcome::Skipped("target no longer listed for the group"));
    }
    let Some(cal) = env.year(&group.academic_year) else {
        return Err(JobError::Permanent(format!(
            "no [[years]] entry for {} in the config",
            group.academic_year
        )));
    };
    let exists = link.remote_id.is_some() && link.state() != LinkState::Pending;
    match mis_work_allowed(cal, env.today, link.mis_linked(), exists) {
        Ok(()) => {}
        Err(HeldBack::Cutoff) => {
            if link.managed != group.roster() && exists {
                link.held_changes = true;
                env.store.save_link(link).await?;
            }
            return Ok(JobOutcome::Skipped(HeldBack::Cutoff.as_str()));
        }
        Err(held) => return Ok(JobOutcome::Skipped(held.as_str())),
    }
    let provider = env.provider(link)?;

    if !exists || link.state() == LinkState::Failed {
        match provider.find_or_create(&group).await? {
            Creation::Ready(created) => {
                link.apply(LinkEvent::Created {
                    archived: created.archived,
                })?;
                link.remote_id = Some(created.remote_id);
                link.last_error = None;
                // Saved at once: a crash from here on resumes with the remote id known.
                env.store.save_link(link).await?;
            }
            Creation::NeedsOwner => {
                // Not a failure of the group: it waits for a teacher's account, retried on later runs.
                link.apply(LinkEvent::AwaitsOwner)?;
                link.missing_accounts = group.teachers.clone();
                link.last_error = Some(format!(
                    "no teacher of the group has an account yet: the {} needs an owner",
                    link.target.noun()
                ));
                env.store.save_link(link).await?;
                return Ok(JobOutcome::Skipped("waiting for a teacher account"));
            }
        }
    }
    if link.state() == LinkState::Archived {
        return Ok(JobOutcome::Skipped("archived: roster left as it is"));
    }
    let remote_id = link
        .remote_id
        .clone()
        .ok_or_else(|| JobError::Permanent("link has no remote id".into()))?;
    let remote = provider.roster(&remote_id).await?;
    if remote.archived {
        link.apply(LinkEvent::Archived)?;
        env.store.save_link(link).await?;
        return Ok(JobOutcome::Skipped(
            "archived remotely: roster left as it is",
        ));
    }
    let desired = group.roster();
    // Only people MIS names now or class-sync added before are ever touched.
    let current = touchable(
        &desired,
        &link.managed,
        remote.members.iter().map(|m| (m.role, m.email.as_str())),
    );
    let steps = diff(&desired, &current);
    let applied = provider.apply(&remote_id, &steps, &remote).await?;
    let missing: BTreeSet<String> = applied.missing_accounts.iter().cloned().collect();
    let kept: BTreeSet<String> = applied.kept.into_iter().collect();
    link.managed = managed_after(&desired, &current, &missing, &kept);
    link.missing_accounts = applied.missing_accounts;
    link.apply(LinkEvent::Synced)?;
    link.last_sync = Some(env.now_ms);
    link.last_error = None;
    link.held_changes = false;
    Ok(JobOutcome::Done(link.clone()))
}

async fn archive(env: &JobEnv<'_>, link: &mut Link) -> Result<JobOutcome, JobError> {
    if !link.mis_linked() {
        return Ok(JobOutcome::Skipped(
            "restored (MIS-unlinked): never archived again",
        ));
    }
    if link.state() == LinkState::Archived {
        return Ok(JobOutcome::Skipped("already archived"));
    }
    let Some(remote_id) = link.remote_id.clone() else {
        return Ok(JobOutcome::Skipped("never created"));
    };
    env.provider(link)?.archive(&remote_id).await?;
    link.apply(LinkEvent::Archived)?;
    link.last_error = None;
    Ok(JobOutcome::Done(link.clone()))
}

async fn restore(env: &JobEnv<'_>, link: &mut Link) -> Result<JobOutcome, JobError> {
    if link.state() == LinkState::Restored {
        return Ok(JobOutcome::Skipped("already restored"));
    }
    let Some(remote_id) = link.remote_id.clone() else {
        return Err(JobError::Permanent(
            "the link was never created: nothing to restore".into(),
        ));
    };
    match env.provider(link)?.unarchive(&remote_id).await {
        Ok(()) => {}
        Err(e) if e.kind == ErrorKind::NotFound => {
            return Err(JobError::Permanent(format!(
                "the {} no longer exists: {e}",
                link.target.noun()
            )));
        }
        Err(e) => return Err(e.into()),
    }
    link.apply(LinkEvent::Restored)?;
    link.last_error = None;
    Ok(JobOutcome::Done(link.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::domain::{Group, School, Snapshot};
    use crate::core::job::{JobState, Lane};
    use crate::core::roster::Role;
    use crate::core::roster::RosterStep::{Add, Remove};
    use crate::remote::providers::RemoteRoster;
    use crate::work::fake_provider::{Call, FakeProvider, Op, member};
    use std::sync::Arc;

    const GROUP: &str = "6612001-2025-26-7A-Ma1";
    const TEACHER: &str = "teacher@school.example";
    const ANN: &str = "ann@school.example";
    const BOB: &str = "bob@school.example";
    const NOW_MS: i64 = 1_760_000_000_000;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn year() -> YearCalendar {
        YearCalendar {
            year: "2025-26".parse().unwrap(),
            new_groups_from: d("2025-08-28"),
            mis_sync_cutoff: d("2026-06-01"),
            archive_on: d("2026-09-01"),
        }
    }

    fn group(teachers: &[&str], learners: &[&str]) -> Group {
        Group {
            id: GROUP.into(),
            school: "6612001".into(),
            academic_year: "2025-26".into(),
            name: "7A/Ma1 Mathematics".into(),
            year_group: Some(7),
            subject: Some("Mathematics".into()),
            targets: vec![Target::Teams],
            teachers: teachers.iter().map(|s| s.to_string()).collect(),
            learners: learners.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn mis_group() -> Group {
        group(&[TEACHER], &[ANN, BOB])
    }

    fn job(kind: JobKind) -> Job {
        Job {
            id: 1,
            kind,
            group_id: GROUP.into(),
            target: Target::Teams,
            lane: Lane::Mis,
            state: JobState::Running,
            attempts: 1,
            max_attempts: 10,
            last_error: None,
            requested_by: None,
        }
    }

    /// One group (Teams only) imported into a fresh SQLite store, a fake Teams, and a date.
    struct Fixture {
        _dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        fake: FakeProvider,
        years: Vec<YearCalendar>,
        today: NaiveDate,
    }

    impl Fixture {
        /// In term time: teams may be created and MIS changes apply.
        async fn new() -> Fixture {
            Fixture::on("2025-10-01").await
        }

        async fn on(today: &str) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("store.db").display());
            let store = crate::store::open(&url).await.unwrap();
            let snapshot = Snapshot {
                schools: vec![School {
                    id: "6612001".into(),
                    name: "Ysgol Enghraifft".into(),
                    admins: vec!["admin@school.example".into()],
                }],
                groups: vec![mis_group()],
            };
            store.import_snapshot(&snapshot).await.unwrap();
            Fixture {
                _dir: dir,
                store,
                fake: FakeProvider::new(Target::Teams),
                years: vec![year()],
                today: d(today),
            }
        }

        fn env(&self) -> JobEnv<'_> {
            JobEnv {
                store: &*self.store,
                provider: Some(&self.fake),
                years: &self.years,
                today: self.today,
                now_ms: NOW_MS,
            }
        }

        async fn run(&self, kind: JobKind) -> Result<JobOutcome, JobError> {
            run(&self.env(), &job(kind)).await
        }

        async fn link(&self) -> Link {
            self.store
                .link(GROUP, Target::Teams)
                .await
                .unwrap()
                .unwrap()
        }

        async fn save(&self, link: &Link) {
            self.store.save_link(link).await.unwrap();
        }

        /// As an earlier reconcile left it: the team made, with the MIS roster, class-sync managing it.
        async fn created(&self) -> Link {
            let remote_id = FakeProvider::remote_id_of(GROUP);
            let mut link = Link::new(GROUP, Target::Teams);
            link.apply(LinkEvent::Created { archived: false }).unwrap();
            link.remote_id = Some(remote_id.clone());
            link.managed = mis_group().roster();
            self.fake.put_team(
                &remote_id,
                RemoteRoster {
                    members: vec![
                        member(TEACHER, Role::Teacher),
                        member(ANN, Role::Learner),
                        member(BOB, Role::Learner),
                    ],
                    ..Default::default()
                },
            );
            self.save(&link).await;
            link
        }

        /// Archived at year end, here and remotely.
        async fn archived(&self) -> Link {
            let mut link = self.created().await;
            link.apply(LinkEvent::Archived).unwrap();
            let mut team = self.fake.team(link.remote_id.as_ref().unwrap()).unwrap();
            team.archived = true;
            self.fake.put_team(link.remote_id.as_ref().unwrap(), team);
            self.save(&link).await;
            link
        }

        /// Restored by the Restore button: active remotely, MIS-unlinked for good.
        async fn restored(&self) -> Link {
            let mut link = self.archived().await;
            link.apply(LinkEvent::Restored).unwrap();
            let mut team = self.fake.team(link.remote_id.as_ref().unwrap()).unwrap();
            team.archived = false;
            self.fake.put_team(link.remote_id.as_ref().unwrap(), team);
            self.save(&link).await;
            link
        }
    }

    fn done(outcome: Result<JobOutcome, JobError>) -> Link {
        match outcome {
            Ok(JobOutcome::Done(link)) => link,
            other => panic!("expected the job to be done, got {other:?}"),
        }
    }

    fn skipped(outcome: Result<JobOutcome, JobError>) -> &'static str {
        match outcome {
            Ok(JobOutcome::Skipped(why)) => why,
            other => panic!("expected the job to be skipped, got {other:?}"),
        }
    }

    fn permanent(outcome: Result<JobOutcome, JobError>) -> String {
        match outcome {
            Err(e @ JobError::Permanent(_)) => {
                assert!(!e.is_retryable(), "a permanent error is not retried");
                e.to_string()
            }
            other => panic!("expected a permanent error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn reconciling_a_pending_link_creates_the_team_and_adds_the_mis_roster_owners_first() {
        let fx = Fixture::new().await;
        let link = done(fx.run(JobKind::Reconcile).await);

        let remote_id = FakeProvider::remote_id_of(GROUP);
        assert_eq!(link.state(), LinkState::Active);
        assert_eq!(link.remote_id.as_deref(), Some(remote_id.as_str()));
        assert_eq!(link.managed, mis_group().roster());
        assert_eq!(link.last_sync, Some(NOW_MS));
        assert!(link.missing_accounts.is_empty());
        assert_eq!(
            fx.fake.calls(),
            [
                Call::FindOrCreate(GROUP.into()),
                Call::Roster(remote_id.clone()),
                Call::Apply(
                    remote_id.clone(),
                    vec![
                        Add(Role::Teacher, TEACHER.into()),
                        Add(Role::Learner, ANN.into()),
                        Add(Role::Learner, BOB.into()),
                    ]
                ),
            ]
        );
        assert_eq!(
            fx.link().await.remote_id,
            Some(remote_id),
            "the remote id is saved as soon as the team exists, so a crash cannot make a second one"
        );
    }

    #[tokio::test]
    async fn a_group_whose_teachers_have_no_account_waits_pending_with_nothing_applied() {
        let fx = Fixture::new().await;
        fx.fake.answer_creation(Creation::NeedsOwner);

        assert_eq!(
            skipped(fx.run(JobKind::Reconcile).await),
            "waiting for a teacher account"
        );
        let link = fx.link().await;
        assert_eq!(link.state(), LinkState::Pending);
        assert_eq!(link.missing_accounts, [TEACHER]);
        assert!(link.last_error.unwrap().contains("needs an owner"));
        assert_eq!(fx.fake.calls(), [Call::FindOrCreate(GROUP.into())]);
    }

    #[tokio::test]
    async fn a_team_found_archived_at_creation_is_archived_and_its_roster_left_alone() {
        let fx = Fixture::new().await;
        fx.fake.put_team(
            &FakeProvider::remote_id_of(GROUP),
            RemoteRoster {
                archived: true,
                ..Default::default()
            },
        );

        assert_eq!(
            skipped(fx.run(JobKind::Reconcile).await),
            "archived: roster left as it is"
        );
        assert_eq!(fx.link().await.state(), LinkState::Archived);
        assert_eq!(fx.fake.calls(), [Call::FindOrCreate(GROUP.into())]);
    }

    #[tokio::test]
    async fn an_active_link_archived_remotely_becomes_archived_and_its_roster_left_alone() {
        let fx = Fixture::new().await;
        let link = fx.created().await;
        let remote_id = link.remote_id.unwrap();
        let mut team = fx.fake.team(&remote_id).unwrap();
        team.archived = true;
        fx.fake.put_team(&remote_id, team);
        fx.store
            .put_group(&group(&[TEACHER], &[ANN]))
            .await
            .unwrap();

        assert_eq!(
            skipped(fx.run(JobKind::Reconcile).await),
            "archived remotely: roster left as it is"
        );
        assert_eq!(fx.link().await.state(), LinkState::Archived);
        assert_eq!(fx.fake.calls(), [Call::Roster(remote_id.clone())]);
        assert_eq!(fx.fake.team(&remote_id).unwrap().members.len(), 3);
    }

    #[tokio::test]
    async fn before_the_creation_date_nothing_is_created() {
        let fx = Fixture::on("2025-08-27").await;
        assert_eq!(
            skipped(fx.run(JobKind::Reconcile).await),
            "before new_groups_from"
        );
        assert_eq!(fx.link().await.state(), LinkState::Pending);
        assert!(fx.fake.calls().is_empty());
    }

    #[tokio::test]
    async fn after_the_cutoff_a_changed_roster_is_held_and_the_provider_is_not_called() {
        let fx = Fixture::on("2026-06-02").await;
        fx.created().await;
        fx.store
            .put_group(&group(&[TEACHER], &[ANN]))
            .await
            .unwrap();

        assert_eq!(
            skipped(fx.run(JobKind::Reconcile).await),
            "after mis_sync_cutoff"
        );
        let link = fx.link().await;
        assert!(link.held_changes);
        assert_eq!(link.managed, mis_group().roster(), "nothing applied");
        assert!(fx.fake.calls().is_empty());
    }

    #[tokio::test]
    async fn after_the_cutoff_an_unchanged_roster_is_not_marked_held() {
        let fx = Fixture::on("2026-06-02").await;
        fx.created().await;

        assert_eq!(
            skipped(fx.run(JobKind::Reconcile).await),
            "after mis_sync_cutoff"
        );
        assert!(!fx.link().await.held_changes);
        assert!(fx.fake.calls().is_empty());
    }

    #[tokio::test]
    async fn on_the_cutoff_day_changes_still_apply() {
        let fx = Fixture::on("2026-06-01").await;
        fx.created().await;
        fx.store
            .put_group(&group(&[TEACHER], &[ANN]))
            .await
            .unwrap();

        let link = done(fx.run(JobKind::Reconcile).await);
        assert_eq!(link.managed, group(&[TEACHER], &[ANN]).roster());
        assert!(!link.held_changes);
    }

    #[tokio::test]
    async fn a_restored_link_is_never_reconciled() {
        let fx = Fixture::new().await;
        fx.restored().await;
        fx.store
            .put_group(&group(&[TEACHER], &[ANN]))
            .await
            .unwrap();

        assert_eq!(
            skipped(fx.run(JobKind::Reconcile).await),
            "restored (MIS-unlinked)"
        );
        assert_eq!(fx.link().await.state(), LinkState::Restored);
        assert!(fx.fake.calls().is_empty());
    }

    #[tokio::test]
    async fn a_restored_link_is_never_archived() {
        let fx = Fixture::on("2026-09-01").await;
        fx.restored().await;

        assert_eq!(
            skipped(fx.run(JobKind::Archive).await),
            "restored (MIS-unlinked): never archived again"
        );
        assert_eq!(fx.link().await.state(), LinkState::Restored);
        assert!(fx.fake.calls().is_empty());
    }

    #[tokio::test]
    async fn a_link_granted_a_restore_is_not_archived_before_its_restore_runs() {
        let fx = Fixture::on("2026-09-01").await;
        let mut link = fx.archived().await;
        assert!(link.grant_restore());
        fx.save(&link).await;

        assert!(skipped(fx.run(JobKind::Archive).await).starts_with("restored (MIS-unlinked)"));
        assert!(fx.fake.calls().is_empty());
    }

    #[tokio::test]
    async fn only_members_class_sync_added_are_removed() {
        let fx = Fixture::new().await;
        let remote_id = fx.created().await.remote_id.unwrap();
        let mut team = fx.fake.team(&remote_id).unwrap();
        team.members
            .push(member("by.hand@school.example", Role::Learner));
        team.members
            .push(member("co.teacher@school.example", Role::Teacher));
        fx.fake.put_team(&remote_id, team);
        fx.store
            .put_group(&group(&[TEACHER], &[ANN]))
            .await
            .unwrap();

        let link = done(fx.run(JobKind::Reconcile).await);
        assert_eq!(
            fx.fake.calls().last(),
            Some(&Call::Apply(
                remote_id.clone(),
                vec![Remove(Role::Learner, BOB.into())]
            ))
        );
        let left: Vec<String> = fx
            .fake
            .team(&remote_id)
            .unwrap()
            .members
            .into_iter()
            .map(|m| m.email)
            .collect();
        assert_eq!(
            left,
            [
                TEACHER,
                ANN,
                "by.hand@school.example",
                "co.teacher@school.example"
            ]
        );
        assert_eq!(link.managed, group(&[TEACHER], &[ANN]).roster());
    }

    #[tokio::test]
    async fn accounts_that_do_not_exist_yet_are_recorded_and_not_managed() {
        let fx = Fixture::new().await;
        fx.fake.without_account(BOB);

        let link = done(fx.run(JobKind::Reconcile).await);
        assert_eq!(link.state(), LinkState::Active);
        assert_eq!(link.missing_accounts, [BOB]);
        assert_eq!(link.managed, group(&[TEACHER], &[ANN]).roster());
    }

    /// A teacher swap whose new teacher has no account yet: the old owner stays (and stays ours,
    /// `roster::OwnerGuard`), the rest of the roster follows MIS, and the first run after the
    /// account appears finishes the swap.
    #[tokio::test]
    async fn a_teacher_swap_keeps_the_old_owner_until_the_new_one_is_there() {
        const NEW: &str = "new.teacher@school.example";
        let fx = Fixture::new().await;
        let remote_id = fx.created().await.remote_id.unwrap();
        let members = || -> Vec<(String, Role)> {
            let team = fx.fake.team(&remote_id).unwrap();
            team.members
                .into_iter()
                .map(|m| (m.email, m.role))
                .collect()
        };
        fx.fake.without_account(NEW);
        fx.store.put_group(&group(&[NEW], &[ANN])).await.unwrap();

        let link = done(fx.run(JobKind::Reconcile).await);
        assert_eq!(link.state(), LinkState::Active);
        assert_eq!(
            members(),
            [(TEACHER.into(), Role::Teacher), (ANN.into(), Role::Learner)]
        );
        assert_eq!(link.missing_accounts, [NEW]);
        assert_eq!(link.managed, group(&[TEACHER], &[ANN]).roster());
        fx.save(&link).await;

        fx.fake.account_created(NEW);
        let link = done(fx.run(JobKind::Reconcile).await);
        assert_eq!(
            members(),
            [(ANN.into(), Role::Learner), (NEW.into(), Role::Teacher)]
        );
        assert!(link.missing_accounts.is_empty());
        assert_eq!(link.managed, group(&[NEW], &[ANN]).roster());
    }

    #[tokio::test]
    async fn archiving_an_active_link_archives_the_team_and_keeps_its_members() {
        let fx = Fixture::on("2026-09-01").await;
        let remote_id = fx.created().await.remote_id.unwrap();

        let link = done(fx.run(JobKind::Archive).await);
        assert_eq!(link.state(), LinkState::Archived);
        assert!(link.mis_linked());
        assert_eq!(fx.fake.calls(), [Call::Archive(remote_id.clone())]);
        let team = fx.fake.team(&remote_id).unwrap();
        assert!(team.archived);
        assert_eq!(team.members.len(), 3, "archiving never removes members");
    }

    #[tokio::test]
    async fn a_target_the_group_no_longer_lists_is_neither_created_nor_synced() {
        let fx = Fixture::new().await;
        let mut moved = mis_group();
        moved.targets = vec![Target::Classroom];
        fx.store.put_group(&moved).await.unwrap();
        assert_eq!(
            skipped(fx.run(JobKind::Reconcile).await),
            "target no longer listed for the group"
        );
        assert!(fx.fake.calls().is_empty());
        assert_eq!(fx.link().await.state(), LinkState::Pending);
    }

    #[tokio::test]
    async fn a_link_never_created_is_not_archived() {
        let fx = Fixture::on("2026-09-01").await;
        assert_eq!(skipped(fx.run(JobKind::Archive).await), "never created");
        assert!(fx.fake.calls().is_empty());
    }

    #[tokio::test]
    async fn restoring_an_archived_link_unarchives_it_and_unlinks_it_from_mis() {
        let fx = Fixture::on("2026-09-02").await;
        let remote_id = fx.archived().await.remote_id.unwrap();

        let link = done(fx.run(JobKind::Restore).await);
        assert_eq!(link.state(), LinkState::Restored);
        assert!(!link.mis_linked());
        assert_eq!(fx.fake.calls(), [Call::Unarchive(remote_id.clone())]);
        assert!(!fx.fake.team(&remote_id).unwrap().archived);
    }

    #[tokio::test]
    async fn restoring_a_team_that_is_gone_is_a_permanent_error() {
        let fx = Fixture::on("2026-09-02").await;
        fx.archived().await;
        fx.fake.fail(Op::Unarchive, ErrorKind::NotFound);

        let error = permanent(fx.run(JobKind::Restore).await);
        assert!(error.contains("no longer exists"), "{error}");
        assert_eq!(fx.link().await.state(), LinkState::Archived);
    }

    #[tokio::test]
    async fn a_target_with_no_provider_fails_permanently_naming_its_config_table() {
        let fx = Fixture::new().await;
        let env = JobEnv {
            provider: None,
            ..fx.env()
        };
        let error = permanent(run(&env, &job(JobKind::Reconcile)).await);
        assert_eq!(error, "no [microsoft] provider is configured");

        let classroom = Job {
            target: Target::Classroom,
            ..job(JobKind::Reconcile)
        };
        fx.store
            .put_group(&Group {
                targets: vec![Target::Teams, Target::Classroom],
                ..mis_group()
            })
            .await
            .unwrap();
        let error = permanent(run(&env, &classroom).await);
        assert_eq!(error, "no [google] provider is configured");
    }

    #[tokio::test]
    async fn throttling_and_transient_faults_are_retried_and_nothing_else_is() {
        use ErrorKind::*;
        for (kind, retryable) in [
            (Throttled, true),
            (Transient, true),
            (NotFound, false),
            (Conflict, false),
            (Forbidden, false),
            (Invalid, false),
        ] {
            let fx = Fixture::new().await;
            fx.fake.fail(Op::FindOrCreate, kind);
            let error = fx.run(JobKind::Reconcile).await.unwrap_err();
            assert_eq!(error.is_retryable(), retryable, "{kind}");
            assert_eq!(error.is_throttling(), kind == Throttled, "{kind}");
            assert_eq!(fx.link().await.state(), LinkState::Pending, "{kind}");
        }
        let busy = JobError::Store(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert!(
            busy.is_retryable() && !busy.is_throttling(),
            "the store may come back"
        );
        let damaged = JobError::Store(StoreError::Corrupt("x".into()));
        assert!(!damaged.is_retryable(), "damaged data does not mend itself");
        let illegal = JobError::IllegalMove(IllegalMove {
            group_id: GROUP.into(),
            target: Target::Teams,
            from: LinkState::Restored,
            event: LinkEvent::Synced,
        });
        assert!(!illegal.is_retryable());
    }
}
