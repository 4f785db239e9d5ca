//! The SQLite store (sqlx, embedded migrations). The embedded default: one file, no server.
//!
//! SQLite has no `SKIP LOCKED`: a claim is one `UPDATE … RETURNING` inside a `BEGIN IMMEDIATE`
//! transaction, which serialises claimers on the database's write lock.

use super::*;
use crate::core::domain::Group;
use crate::core::roster::Roster;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    /// Readers (WAL lets them run beside the writer).
    pool: SqlitePool,
    /// One connection for every write: writers of this process queue here in order instead of
    /// contending for SQLite's lock (whose busy handler sleeps); other processes still wait on
    /// `busy_timeout`.
    writer: SqlitePool,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

fn parse_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RosterJson {
    teachers: Vec<String>,
    learners: Vec<String>,
}

impl SqliteStore {
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            // A year-end storm touches every job and link: keep the pages in memory.
            .pragma("cache_size", "-65536")
            .pragma("mmap_size", "268435456")
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        // Two processes opening a new database at once race to migrate it: the loser fails on what
        // the winner just created, and finds nothing left to do when it tries again.
        let mut tries = 0;
        while let Err(e) = sqlx::migrate!("migrations/sqlite").run(&writer).await {
            tries += 1;
            if tries >= 5 {
                return Err(e.into());
            }
            tokio::time::sleep(Duration::from_millis(100 * tries)).await;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool, writer })
    }

    fn group_from(row: &SqliteRow) -> StoreResult<StoredGroup> {
        let targets: Vec<Target> = parse_json(row.get::<&str, _>("targets"), "group targets")?;
        Ok(StoredGroup {
            group: Group {
                id: row.get("id"),
                school: row.get("school_id"),
                academic_year: row.get("academic_year"),
                name: row.get("name"),
                year_group: row.get("year_group"),
                subject: row.get("subject"),
                targets,
                teachers: parse_json(row.get::<&str, _>("teachers"), "group teachers")?,
                learners: parse_json(row.get::<&str, _>("learners"), "group learners")?,
            },
            withdrawn: row.get::<i64, _>("withdrawn") != 0,
        })
    }

    fn link_from(row: &SqliteRow) -> StoreResult<Link> {
        let managed: RosterJson = parse_json(row.get::<&str, _>("managed"), "link managed roster")?;
        let target = row
            .get::<&str, _>("target")
            .parse()
            .map_err(StoreError::Corrupt)?;
        let state = row
            .get::<&str, _>("state")
            .parse()
            .map_err(StoreError::Corrupt)?;
        let mis_linked = row.get::<i64, _>("mis_linked") != 0;
        let mut link = Link::stored(row.get::<String, _>("group_id"), target, state, mis_linked);
        link.remote_id = row.get("remote_id");
        link.managed = Roster::new(managed.teachers, managed.learners);
        link.missing_accounts = parse_json(
            row.get::<&str, _>("missing_accounts"),
            "link missing accounts",
        )?;
        link.last_sync = row.get("last_sync");
        link.last_error = row.get("last_error");
        link.held_changes = row.get::<i64, _>("held_changes") != 0;
        Ok(link)
    }

    fn job_from(row: &SqliteRow) -> StoreResult<Job> {
        Ok(Job {
            id: row.get("id"),
            kind: JobKind::parse(row.get("kind"))?,
            group_id: row.get("group_id"),
            target: row
                .get::<&str, _>("target")
                .parse()
                .map_err(StoreError::Corrupt)?,
            lane: Lane::from_i64(row.get("lane")),
            state: JobState::parse(row.get("state"))?,
            attempts: row.get::<i64, _>("attempts") as u32,
            max_attempts: row.get::<i64, _>("max_attempts") as u32,
            last_error: row.get("last_error"),
            requested_by: row.get("requested_by"),
        })
    }

    /// Saves a link inside `tx`; never turns `mis_linked` back on (see `Store::save_link`).
    async fn save_link_in(tx: &mut sqlx::SqliteConnection, l: &Link) -> StoreResult<()> {
        let managed = RosterJson {
            teachers: l.managed.teachers.iter().cloned().collect(),
            learners: l.managed.learners.iter().cloned().collect(),
        };
        sqlx::query(
            "UPDATE links SET state = ?3, remote_id = ?4, mis_linked = MIN(mis_linked, ?5), managed = ?6, missing_accounts = ?7,
               last_sync = ?8, last_error = ?9, held_changes = ?10, updated_at = ?11
             WHERE group_id = ?1 AND target = ?2",
        )
        .bind(&l.group_id)
        .bind(l.target.as_str())
        .bind(l.state().as_str())
        .bind(&l.remote_id)
        .bind(l.mis_linked() as i64)
        .bind(json(&managed))
        .bind(json(&l.missing_accounts))
        .bind(l.last_sync)
        .bind(&l.last_error)
        .bind(l.held_changes as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Enqueues one job inside `tx` (see `Store::enqueue`).
    async fn enqueue_in(
        tx: &mut sqlx::SqliteConnection,
        job: &NewJob,
        now: i64,
    ) -> StoreResult<(i64, bool)> {
        let key = format!(
            "{}:{}:{}",
            job.kind.as_str(),
            job.target.as_str(),
            job.group_id
        );
        // A reconcile already running may have read the group before this change: only a waiting
        // one absorbs it. A restore absorbs any restore not yet finished (one pending restore per link).
        let live_states = if job.kind == JobKind::Restore {
            "('queued','running')"
        } else {
            "('queued')"
        };
        let sql = format!(
            "SELECT id, lane FROM jobs WHERE dedup_key = ?1 AND state IN {live_states} ORDER BY id LIMIT 1"
        );
        let existing = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            let id: i64 = row.get("id");
            // A more urgent request lifts the waiting job into its lane.
            sqlx::query("UPDATE jobs SET lane = MAX(lane, ?2) WHERE id = ?1 AND state = 'queued'")
                .bind(id)
                .bind(job.lane as i64)
                .execute(&mut *tx)
                .await?;
            return Ok((id, false));
        }
        let row = sqlx::query(
            "INSERT INTO jobs (kind, group_id, target, lane, state, attempts, max_attempts, run_at, requested_by, dedup_key, created_at)
             VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?6, ?7, ?8, ?6) RETURNING id",
        )
        .bind(job.kind.as_str())
        .bind(&job.group_id)
        .bind(job.target.as_str())
        .bind(job.lane as i64)
        .bind(job.max_attempts as i64)
        .bind(now)
        .bind(&job.requested_by)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?;
        Ok((row.get("id"), true))
    }

    /// Writes one group inside `tx`; returns None if unchanged, Some(true) if new, Some(false) if changed.
    async fn upsert_group(
        tx: &mut sqlx::SqliteConnection,
        g: &Group,
        now: i64,
    ) -> StoreResult<Option<bool>> {
        let existing = sqlx::query("SELECT * FROM groups WHERE id = ?1")
            .bind(&g.id)
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match &existing {
            None => Some(true),
            Some(row) => {
                let old = Self::group_from(row)?;
                if old.group == *g && !old.withdrawn {
                    None
                } else {
                    Some(false)
                }
            }
        };
        if outcome.is_some() {
            sqlx::query(
                "INSERT INTO groups (id, school_id, academic_year, name, year_group, subject, targets, teachers, learners, withdrawn, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10)
                 ON CONFLICT(id) DO UPDATE SET school_id = excluded.school_id, academic_year = excluded.academic_year,
                   name = excluded.name, year_group = excluded.year_group, subject = excluded.subject, targets = excluded.targets,
                   teachers = excluded.teachers, learners = excluded.learners, withdrawn = 0, updated_at = excluded.updated_at",
            )
            .bind(&g.id)
            .bind(&g.school)
            .bind(&g.academic_year)
            .bind(&g.name)
            .bind(g.year_group)
            .bind(&g.subject)
            .bind(json(&g.targets))
            .bind(json(&g.teachers))
            .bind(json(&g.learners))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for t in &g.targets {
            sqlx::query("INSERT OR IGNORE INTO links (group_id, target, state, updated_at) VALUES (?1, ?2, 'pending', ?3)")
                .bind(&g.id)
                .bind(t.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        Ok(outcome)
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn import_snapshot(&self, snapshot: &Snapshot) -> StoreResult<ImportApplied> {
        let now = now_ms();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut applied = ImportApplied::default();
        for s in &snapshot.schools {
            sqlx::query(
                "INSERT INTO schools (id, name, admins, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, admins = excluded.admins, updated_at = excluded.updated_at",
            )
            .bind(&s.id)
            .bind(&s.name)
            .bind(json(&s.admins))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for g in &snapshot.groups {
            match Self::upsert_group(&mut tx, g, now).await? {
                Some(true) => applied.added.push(g.id.clone()),
                Some(false) => applied.changed.push(g.id.clone()),
                None => applied.unchanged.push(g.id.clone()),
            }
        }
        // A snapshot is the full state of the schools it lists: their other groups are withdrawn.
        let present: std::collections::HashSet<&str> =
            snapshot.groups.iter().map(|g| g.id.as_str()).collect();
        for s in &snapshot.schools {
            let rows = sqlx::query("SELECT id FROM groups WHERE school_id = ?1 AND withdrawn = 0")
                .bind(&s.id)
                .fetch_all(&mut *tx)
                .await?;
            for row in rows {
                let id: String = row.get("id");
                if !present.contains(id.as_str()) {
                    sqlx::query("UPDATE groups SET withdrawn = 1, updated_at = ?2 WHERE id = ?1")
                        .bind(&id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    applied.withdrawn.push(id);
                }
            }
        }
        tx.commit().await?;
        Ok(applied)
    }

    async fn put_group(&self, group: &Group) -> StoreResult<Option<bool>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let outcome = Self::upsert_group(&mut tx, group, now_ms()).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn school(&self, id: &str) -> StoreResult<Option<School>> {
        let row = sqlx::query("SELECT * FROM schools WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(School {
                id: r.get("id"),
                name: r.get("name"),
                admins: parse_json(r.get::<&str, _>("admins"), "school admins")?,
            })
        })
        .transpose()
    }

    async fn school_ids(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM schools ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }

    async fn group(&self, id: &str) -> StoreResult<Option<StoredGroup>> {
        let row = sqlx::query("SELECT * FROM groups WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::group_from).transpose()
    }

    async fn groups(&self) -> StoreResult<Vec<StoredGroup>> {
        let rows = sqlx::query("SELECT * FROM groups ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::group_from).collect()
    }

    async fn link(&self, group_id: &str, target: Target) -> StoreResult<Option<Link>> {
        let row = sqlx::query("SELECT * FROM links WHERE group_id = ?1 AND target = ?2")
            .bind(group_id)
            .bind(target.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::link_from).transpose()
    }

    async fn links_of(&self, group_id: &str) -> StoreResult<Vec<Link>> {
        let rows = sqlx::query("SELECT * FROM links WHERE group_id = ?1 ORDER BY target")
            .bind(group_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::link_from).collect()
    }

    async fn all_links(&self) -> StoreResult<Vec<Link>> {
        let rows = sqlx::query("SELECT * FROM links ORDER BY group_id, target")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::link_from).collect()
    }

    /// Never turns `mis_linked` back on: a restore granted while a job held a stale copy wins.
    async fn save_link(&self, l: &Link) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        Self::save_link_in(&mut conn, l).await
    }

    async fn note_held_changes(&self, group_id: &str, target: Target) -> StoreResult<()> {
        sqlx::query(
            "UPDATE links SET held_changes = 1, updated_at = ?3
             WHERE group_id = ?1 AND target = ?2 AND mis_linked = 1 AND state <> 'pending'",
        )
        .bind(group_id)
        .bind(target.as_str())
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn grant_restore(&self, job: &NewJob, now: i64) -> StoreResult<Option<(i64, bool)>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // The condition is `Link::restorable`, checked atomically with the unlinking.
        let unlinked = sqlx::query(
            "UPDATE links SET mis_linked = 0, updated_at = ?3
             WHERE group_id = ?1 AND target = ?2
               AND (state = 'archived' OR (state = 'failed' AND mis_linked = 0 AND remote_id IS NOT NULL))",
        )
        .bind(&job.group_id)
        .bind(job.target.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if unlinked == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let enqueued = Self::enqueue_in(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(Some(enqueued))
    }

    async fn enqueue_many(&self, jobs: &[NewJob], now: i64) -> StoreResult<Vec<(i64, bool)>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            out.push(Self::enqueue_in(&mut tx, job, now).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn claim(
        &self,
        worker: &str,
        target: Target,
        limit: usize,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<Job>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut claimed = Vec::new();
        // Queued jobs first (walks `jobs_queue` in lane order), then jobs whose worker died. One at
        // a time, so each pick sees the ones before it: jobs of one link never run together.
        'pick: while claimed.len() < limit {
            for candidates in [
                "SELECT j.id FROM jobs j WHERE j.state = 'queued' AND j.run_at <= ?1",
                "SELECT j.id FROM jobs j WHERE j.state = 'running' AND j.lease_until < ?1",
            ] {
                let sql = format!(
                    "{candidates} AND j.target = ?2
                       AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.lease_until >= ?1
                                       AND r.group_id = j.group_id AND r.target = j.target AND r.id <> j.id)
                     ORDER BY j.lane DESC, j.run_at, j.id LIMIT 1"
                );
                let picked = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(target.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = picked {
                    let row = sqlx::query(
                        "UPDATE jobs SET state = 'running', locked_by = ?2, lease_until = ?3, attempts = attempts + 1
                         WHERE id = ?1 RETURNING *",
                    )
                    .bind(row.get::<i64, _>("id"))
                    .bind(worker)
                    .bind(now + lease_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                    claimed.push(Self::job_from(&row)?);
                    continue 'pick;
                }
            }
            break;
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn release_held(&self, worker: &str) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', lease_until = NULL, locked_by = NULL, attempts = MAX(attempts - 1, 0)
             WHERE locked_by = ?1 AND state = 'running'",
        )
        .bind(worker)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn finish_many(&self, worker: &str, ends: &[JobFinish], now: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for f in ends {
            // Each ends only a job this worker still holds (the worker is always the last parameter).
            let q = match &f.end {
                JobEnd::Done => sqlx::query(
                    "UPDATE jobs SET state = 'done', finished_at = ?2, lease_until = NULL, last_error = NULL
                     WHERE id = ?1 AND locked_by = ?3 AND state = 'running'",
                )
                .bind(f.job_id)
                .bind(now),
                JobEnd::Retry {
                    run_at,
                    error,
                    counts,
                } => sqlx::query(
                    "UPDATE jobs SET state = 'queued', run_at = ?2, lease_until = NULL, locked_by = NULL, last_error = ?3,
                       attempts = attempts - ?4
                     WHERE id = ?1 AND locked_by = ?5 AND state = 'running'",
                )
                .bind(f.job_id)
                .bind(*run_at)
                .bind(error.clone())
                .bind(!*counts as i64),
                JobEnd::Failed { error } => sqlx::query(
                    "UPDATE jobs SET state = 'failed', finished_at = ?2, lease_until = NULL, last_error = ?3
                     WHERE id = ?1 AND locked_by = ?4 AND state = 'running'",
                )
                .bind(f.job_id)
                .bind(now)
                .bind(error.clone()),
            };
            let still_ours = q.bind(worker).execute(&mut *tx).await?.rows_affected() == 1;
            // A job taken over by another worker is theirs to end, and so is its link.
            if still_ours && let Some(link) = &f.link {
                Self::save_link_in(&mut tx, link).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn job(&self, id: i64) -> StoreResult<Option<Job>> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::job_from).transpose()
    }

    async fn pending_work(&self) -> StoreResult<(u64, Option<i64>)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(CASE WHEN state = 'queued' THEN run_at ELSE lease_until END) AS next
             FROM jobs WHERE state IN ('queued', 'running')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get::<i64, _>("n") as u64, row.get("next")))
    }

    async fn job_counts(&self) -> StoreResult<Vec<(String, String, u64)>> {
        let rows = sqlx::query(
            "SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("kind"), r.get("state"), r.get::<i64, _>("n") as u64))
            .collect())
    }

    async fn queue_depth(&self) -> StoreResult<Vec<(Lane, JobKind, u64)>> {
        let rows = sqlx::query(
            "SELECT lane, kind, COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running') GROUP BY lane, kind ORDER BY lane, kind",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    Lane::from_i64(r.get("lane")),
                    JobKind::parse(r.get("kind"))?,
                    r.get::<i64, _>("n") as u64,
                ))
            })
            .collect()
    }

    async fn register_worker(&self, w: &WorkerInfo) -> StoreResult<()> {
        sqlx::query("DELETE FROM workers WHERE seen_at < ?1")
            .bind(w.seen_at - 3_600_000)
            .execute(&self.writer)
            .await?;
        sqlx::query(
            "INSERT INTO workers (id, kind, pid, started_at, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(&w.id)
        .bind(&w.kind)
        .bind(w.pid)
        .bind(w.started_at)
        .bind(w.seen_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn heartbeat(&self, worker: &str, now: i64, lease_until: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE workers SET seen_at = ?2 WHERE id = ?1")
            .bind(worker)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE jobs SET lease_until = ?2 WHERE locked_by = ?1 AND state = 'running'")
            .bind(worker)
            .bind(lease_until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unregister_worker(&self, worker: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM workers WHERE id = ?1")
            .bind(worker)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn live_workers(&self, since: i64) -> StoreResult<Vec<WorkerInfo>> {
        let rows = sqlx::query("SELECT * FROM workers WHERE seen_at >= ?1 ORDER BY started_at")
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| WorkerInfo {
                id: r.get("id"),
                kind: r.get("kind"),
                pid: r.get("pid"),
                started_at: r.get("started_at"),
                seen_at: r.get("seen_at"),
            })
            .collect())
    }

    async fn audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query("INSERT INTO audit (at, actor, action, group_id, target, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .bind(e.at)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.group_id)
            .bind(&e.target)
            .bind(&e.outcome)
            .bind(&e.detail)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn audit_log(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT * FROM audit ORDER BY id DESC LIMIT ?1")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                at: r.get("at"),
                actor: r.get("actor"),
                action: r.get("action"),
                group_id: r.get("group_id"),
                target: r.get("target"),
                outcome: r.get("outcome"),
                detail: r.get("detail"),
            })
            .collect())
    }

    async fn start_run(&self, kind: &str, today: &str, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO runs (kind, today, started_at) VALUES (?1, ?2, ?3) RETURNING id",
        )
        .bind(kind)
        .bind(today)
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        Ok(row.get("id"))
    }

    async fn finish_run(&self, id: i64, summary: &str, ok: bool, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE runs SET finished_at = ?2, summary = ?3, ok = ?4 WHERE id = ?1")
            .bind(id)
            .bind(now)
            .bind(summary)
            .bind(ok as i64)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn last_run(&self, kind: &str, only_ok: bool) -> StoreResult<Option<Run>> {
        let sql = if only_ok {
            "SELECT * FROM runs WHERE kind = ?1 AND ok = 1 ORDER BY id DESC LIMIT 1"
        } else {
            "SELECT * FROM runs WHERE kind = ?1 ORDER BY id DESC LIMIT 1"
        };
        let row = sqlx::query(sql)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Run {
            id: r.get("id"),
            kind: r.get("kind"),
            today: r.get("today"),
            started_at: r.get("started_at"),
            finished_at: r.get("finished_at"),
            summary: r.get("summary"),
            ok: r.get::<Option<i64>, _>("ok").map(|v| v != 0),
        }))
    }

    async fn claim_schedule(
        &self,
        kind: &str,
        day: &str,
        by: &str,
        now: i64,
        stale_before: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO schedule_claims (kind, day, claimed_at, claimed_by) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(kind, day) DO NOTHING",
        )
        .bind(kind)
        .bind(day)
        .bind(now)
        .bind(by)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let claimed = inserted == 1
            || sqlx::query(
                "UPDATE schedule_claims SET claimed_at = ?3, claimed_by = ?4
                 WHERE kind = ?1 AND day = ?2 AND enqueued = 0 AND claimed_at < ?5",
            )
            .bind(kind)
            .bind(day)
            .bind(now)
            .bind(by)
            .bind(stale_before)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn settle_schedule(&self, kind: &str, day: &str) -> StoreResult<()> {
        sqlx::query("UPDATE schedule_claims SET enqueued = 1 WHERE kind = ?1 AND day = ?2")
            .bind(kind)
            .bind(day)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn schedule_unsettled(&self, kind: &str, day: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM schedule_claims WHERE kind = ?1 AND day = ?2 AND enqueued = 0",
        )
        .bind(kind)
        .bind(day)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn jobs_finished_between(&self, after: i64, upto: i64) -> StoreResult<Vec<FinishedJob>> {
        let rows = sqlx::query(
            "SELECT id, kind, state, created_at, finished_at FROM jobs
             WHERE finished_at > ?1 AND finished_at <= ?2 AND state IN ('done', 'failed') ORDER BY finished_at",
        )
        .bind(after)
        .bind(upto)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FinishedJob {
                    id: r.get("id"),
                    kind: JobKind::parse(r.get("kind"))?,
                    state: JobState::parse(r.get("state"))?,
                    created_at: r.get("created_at"),
                    finished_at: r.get("finished_at"),
                })
            })
            .collect()
    }

    async fn job_states(&self, ids: &[i64]) -> StoreResult<Vec<(JobState, u64)>> {
        // One bound JSON array instead of one parameter per id: a nightly run can hold thousands.
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM jobs WHERE id IN (SELECT value FROM json_each(?1)) GROUP BY state",
        )
        .bind(json(&ids))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    JobState::parse(r.get("state"))?,
                    r.get::<i64, _>("n") as u64,
                ))
            })
            .collect()
    }

    async fn failed_among(&self, ids: &[i64]) -> StoreResult<Vec<Job>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE state = 'failed' AND id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )
        .bind(json(&ids))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::job_from).collect()
    }
}
