//! The plain data the store takes and answers with: stored groups, import outcomes, jobs and their
//! ends, audit lines, runs, workers. No behaviour and no SQL; re-exported as `crate::store::…`.
//! (`Link` is the core's: `crate::core::link::Link`.)

use crate::core::domain::{Group, Target};
use crate::core::job::{JobKind, JobState, Lane};
use crate::core::link::{Link, LinkState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A group with the flags the store keeps beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredGroup {
    pub group: Group,
    pub withdrawn: bool,
    /// The `dateLastModified` of the OneRoster delta rows that last changed the group (RFC 3339,
    /// UTC); None when it was last written from a JSON snapshot, a bulk set or a push.
    pub source_modified: Option<String>,
}

/// What `Store::put_group` did with one group (an import sorts its groups the same way); the
/// planner and the API report it as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupChange {
    /// The group was not known: stored, with a pending link for each of its targets.
    Added,
    /// A known group whose data differ, or that was withdrawn (it is current again): replaced.
    Changed,
    /// A known, current group with the same data: nothing rewritten.
    Unchanged,
}

impl GroupChange {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupChange::Added => "added",
            GroupChange::Changed => "changed",
            GroupChange::Unchanged => "unchanged",
        }
    }
}

impl std::fmt::Display for GroupChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an import changed, by group id, and the same counted by school (for each school's
/// provisioning status).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportApplied {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    pub withdrawn: Vec<String>,
    pub by_school: BTreeMap<String, ChangeCounts>,
}

impl ImportApplied {
    /// Counts one group's put under what it did, for the group's school.
    pub fn record(&mut self, id: String, school: &str, change: GroupChange) {
        let counts = self.school(school);
        match change {
            GroupChange::Added => counts.added += 1,
            GroupChange::Changed => counts.changed += 1,
            GroupChange::Unchanged => counts.unchanged += 1,
        }
        match change {
            GroupChange::Added => self.added.push(id),
            GroupChange::Changed => self.changed.push(id),
            GroupChange::Unchanged => self.unchanged.push(id),
        }
    }

    /// Counts one group withdrawn from `school`.
    pub fn withdraw(&mut self, id: String, school: &str) {
        self.school(school).withdrawn += 1;
        self.withdrawn.push(id);
    }

    fn school(&mut self, school: &str) -> &mut ChangeCounts {
        self.by_school.entry(school.to_string()).or_default()
    }
}

/// What one import did to one school's groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangeCounts {
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
}

/// One import as one school saw it: its provisioning status (CONTRACT §5 `status --school`).
#[derive(Clone, Debug, PartialEq)]
pub struct SchoolImport {
    pub school_id: String,
    /// When it ran (ms since the epoch).
    pub at: i64,
    /// The date the calendar rules used (`YYYY-MM-DD`); staleness is counted from it.
    pub day: String,
    /// `json`, `oneroster bulk` or `oneroster delta`.
    pub format: String,
    pub file: Option<String>,
    pub actor: String,
    pub counts: ChangeCounts,
    /// Jobs it enqueued for the school's groups.
    pub enqueued: u64,
    /// Links whose work it held back, by reason (`before new_groups_from`, `after mis_sync_cutoff`, …).
    pub held_back: BTreeMap<String, u64>,
}

/// What View Groups asks the store for: whose groups, filtered, one page in id order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupQuery {
    /// None: every group (an operator). Some(email, normalised): the groups that person may see
    /// by the restore rule — every group of a school they administer, and the groups they teach.
    pub viewer: Option<String>,
    pub school: Option<String>,
    pub academic_year: Option<String>,
    pub year_group: Option<i64>,
    /// Only groups this person (normalised email) teaches.
    pub teacher: Option<String>,
    /// Only groups with a link to this target (and, with `state`, in that state there).
    pub target: Option<Target>,
    /// Only groups with a link in this state.
    pub state: Option<LinkState>,
    /// Groups whose id comes after this one (the last id of the previous page).
    pub after: Option<String>,
    pub limit: u32,
}

/// One page of View Groups: each group with its links, and how many match in all.
#[derive(Clone, Debug, Default)]
pub struct GroupPage {
    /// Each group with its links as View Groups shows them: state, remote id, MIS link, last sync
    /// and error, missing accounts. Their managed rosters are left empty, not read: a page of 100
    /// groups would parse thousands of emails nobody is shown.
    pub groups: Vec<(StoredGroup, Vec<Link>)>,
    /// The admins of each school on the page, for the caller's re-check of the restore rule.
    pub school_admins: BTreeMap<String, Vec<String>>,
    /// Groups matching the query on every page.
    pub total: u64,
    /// Whether a page follows this one.
    pub more: bool,
}

/// A known school with its latest import, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct SchoolLastImport {
    pub school_id: String,
    pub name: String,
    pub last: Option<SchoolImport>,
}

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: JobKind,
    pub group_id: String,
    pub target: Target,
    pub lane: Lane,
    pub requested_by: Option<String>,
    pub max_attempts: u32,
}

/// A stored job.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub group_id: String,
    pub target: Target,
    pub lane: Lane,
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    pub requested_by: Option<String>,
}

/// How a claimed job ended.
#[derive(Clone, Debug)]
pub enum JobEnd {
    Done,
    /// Back to the queue; `counts: false` gives the attempt back (the service was throttling).
    Retry {
        run_at: i64,
        error: String,
        counts: bool,
    },
    Failed {
        error: String,
    },
}

/// A claimed job's end, with the link state it leaves behind (saved in the same transaction).
#[derive(Clone, Debug)]
pub struct JobFinish {
    pub job_id: i64,
    pub end: JobEnd,
    pub link: Option<Link>,
}

/// One audit line.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub group_id: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: String,
}

/// A recorded run of the nightly job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    pub id: i64,
    pub kind: String,
    pub today: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub summary: String,
    pub ok: Option<bool>,
}

/// A job that ended, with its times, for job-outcome and restore-latency metrics.
#[derive(Clone, Debug)]
pub struct FinishedJob {
    pub id: i64,
    pub kind: JobKind,
    pub state: JobState,
    pub created_at: i64,
    pub finished_at: i64,
}

/// A worker process as registered in the store.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkerInfo {
    pub id: String,
    pub kind: String,
    pub pid: i64,
    pub started_at: i64,
    pub seen_at: i64,
}

/// A quota window (a 429's `Retry-After`) one process passes on to every process sharing the
/// tenant's quota, so that none of them sends into it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaWindow {
    /// The worker that was given the 429 (its own window comes back to it, and is ignored).
    pub from: String,
    /// Each bucket closed, by name, with its key (team, user) for keyed ones.
    pub buckets: Vec<(String, Option<String>)>,
    /// Closed until this wall-clock time (ms since the epoch).
    pub until_ms: i64,
}

/// A console sign-in between the redirect to the identity provider and its return (`state` names
/// it). Kept in the store, so the return may reach another `serve` host; taken once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSignIn {
    pub state: String,
    /// Must come back in the id_token: proves the token was issued for this sign-in.
    pub nonce: String,
    /// The PKCE verifier: only the holder of this sign-in can redeem its code.
    pub verifier: String,
    /// The console page to go back to (a path on this console, checked before it is stored).
    pub return_to: String,
    pub expires_at: i64,
}

/// A signed-in person's console session. The cookie holds its secret; the store keeps its SHA-256
/// (`id_hash`) only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id_hash: String,
    /// The id_token's `preferred_username`, normalised.
    pub person: String,
    /// The token every form of this session carries (CSRF).
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What the console's audit page narrows the log to; None: any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub group_id: Option<String>,
}
