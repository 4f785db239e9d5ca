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
use crate::core::roster::{Role, Roster, diff};
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::providers::Creation;
use crate::remote::providers::Provider;
use crate::store::Store;
use crate::store::{Job, StoreError};
use chrono::NaiveDate;

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
    let known = |e: &String| desired.role_of(e).is_some() || link.managed.role_of(e).is_some();
    let current = Roster::new(
        remote
            .members
            .iter()
            .filter(|m| m.role == Role::Teacher && known(&m.email))
            .map(|m| m.email.clone()),
        remote
            .members
            .iter()
            .filter(|m| m.role == Role::Learner && known(&m.email))
            .map(|m| m.email.clone()),
    );
    let steps = diff(&desired, &current);
    let applied = provider.apply(&remote_id, &steps, &remote).await?;
    let missing: std::collections::BTreeSet<&String> = applied.missing_accounts.iter().collect();
    link.managed = Roster::new(
        desired
            .teachers
            .iter()
            .filter(|e| !missing.contains(e))
            .cloned(),
        desired
            .learners
            .iter()
            .filter(|e| !missing.contains(e))
            .cloned(),
    );
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
                link.target
            )));
        }
        Err(e) => return Err(e.into()),
    }
    link.apply(LinkEvent::Restored)?;
    link.last_error = None;
    Ok(JobOutcome::Done(link.clone()))
}
