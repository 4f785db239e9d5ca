//! Jobs as data: their kinds, their priority lanes and their states. The store keeps them, the
//! worker runs them, and the throttle queues each job's calls by its lane.

use serde::Serialize;
use std::fmt;

/// A stored name that is not one of ours (the store reports it as damaged data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {0}")]
pub struct UnknownName(pub String);

/// What a job does to its link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Reconcile,
    Archive,
    Restore,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Reconcile => "reconcile",
            JobKind::Archive => "archive",
            JobKind::Restore => "restore",
        }
    }

    pub fn parse(s: &str) -> Result<JobKind, UnknownName> {
        Ok(match s {
            "reconcile" => JobKind::Reconcile,
            "archive" => JobKind::Archive,
            "restore" => JobKind::Restore,
            other => return Err(UnknownName(format!("job kind `{other}`"))),
        })
    }
}

/// Priority lanes: when the quota has room, the highest waiting lane goes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Lane {
    Nightly = 0,
    Mis = 1,
    Operator = 2,
    Restore = 3,
}

impl Lane {
    pub fn from_i64(v: i64) -> Lane {
        match v {
            3 => Lane::Restore,
            2 => Lane::Operator,
            1 => Lane::Mis,
            _ => Lane::Nightly,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Nightly => "nightly",
            Lane::Mis => "mis",
            Lane::Operator => "operator",
            Lane::Restore => "restore",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<JobState, UnknownName> {
        Ok(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            other => return Err(UnknownName(format!("job state `{other}`"))),
        })
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
