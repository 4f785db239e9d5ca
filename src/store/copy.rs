//! `store copy`: moving a store (normally the embedded SQLite one) into an empty PostgreSQL store,
//! so several machines can share it.
//!
//! Copied: schools, groups (withdrawn ones too), links, jobs, the audit log, nightly runs,
//! schedule claims and each school's imports (provisioning status), every column as it is — ids included, so `GET /v1/jobs/{id}` answers after the
//! move. Not copied: the worker registry (workers register again when they start); the console's
//! sessions and sign-ins in flight (people sign in again after the move); the index
//! tables of View Groups (`group_teachers`, `school_admins`) are made anew from the copied rows.
//!
//! Architecture Invariant: the target is written in one transaction (all or nothing), only if it
//! holds nothing at all (checked under a table lock, so two copies cannot both pass), and its id
//! sequences are moved past the copied ids before it commits.
//!
//! **Why a row copy here, not an export/import pair on `Store`.** The trait is the service's seam
//! and answers in domain terms; a faithful move needs the columns it never shows (`updated_at`,
//! `run_at`, leases and holders, `dedup_key`, created/finished times, audit and run ids). Widening
//! the trait with a `StoreDump` would make every backend carry an exporter and an importer for one
//! operator tool. The two schemas are the same by design (`migrations/postgres/0001` is SQLite's
//! 0001–0005 in one step, `0002` SQLite's `0006`, `0003` SQLite's `0007`: same tables, same columns), so the copy reads rows from the source and
//! writes the same rows to the target, table by table, with no domain type in between: a link's
//! state and MIS link are copied as stored, never moved through the state machine. The cost, a
//! column list per table kept here, is guarded: the copy refuses to start when the target has a
//! column it does not know (a later migration that forgot this module).
//!
//! **Size.** Nothing is held whole: each table is read in key order, `CHUNK` rows at a time, and
//! each chunk is written as one multi-row INSERT before the next is read. The source is read in
//! one read transaction, so a process still writing to it cannot tear the copy (operators stop
//! them first anyway: what they write after the copy stays behind).

use super::{StoreError, StoreResult, is_postgres, redacted};
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Connection, Executor, FromRow, PgConnection, Postgres, QueryBuilder, SqliteConnection};
use std::fmt;
use std::str::FromStr;

/// Rows read and written per statement: 16 columns × 1000 stays far below PostgreSQL's 65535
/// bind parameters, and a chunk of the widest table (groups with their rosters) is a few MB.
const CHUNK: usize = 1000;

/// Why nothing was copied.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// `--to` is not a `postgres://` URL.
    #[error("the target must be a PostgreSQL URL (postgres://…), not {0}")]
    TargetNotPostgres(String),
    /// The target server could not be reached; the URL has no password in it.
    #[error("cannot reach the target {url}: {source}")]
    TargetUnreachable {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The target already holds data: nothing was written.
    #[error("the target {url} is not empty: it holds {held}; copy only into an empty store")]
    TargetNotEmpty { url: String, held: Counts },
    /// Reading the source or writing the target failed: the target transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> Self {
        CopyError::Store(StoreError::Database(e))
    }
}

/// Rows per table: what a copy wrote, or what a non-empty target holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub schools: u64,
    pub groups: u64,
    pub links: u64,
    pub jobs: u64,
    pub audit: u64,
    pub runs: u64,
    pub schedule_claims: u64,
    pub school_imports: u64,
    /// Registered workers: never copied, but a target with live workers is not empty.
    pub workers: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.schools
            + self.groups
            + self.links
            + self.jobs
            + self.audit
            + self.runs
            + self.schedule_claims
            + self.school_imports
            + self.workers
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            (self.schools, "schools"),
            (self.groups, "groups"),
            (self.links, "links"),
            (self.jobs, "jobs"),
            (self.audit, "audit entries"),
            (self.runs, "nightly runs"),
            (self.schedule_claims, "schedule claims"),
            (self.school_imports, "school imports"),
            (self.workers, "registered workers"),
        ];
        let shown: Vec<String> = parts
            .iter()
            .filter(|(n, what)| *n > 0 || *what != "registered workers")
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        f.write_str(&shown.join(", "))
    }
}

/// Copies the store at `source_url` (SQLite or PostgreSQL) into the empty PostgreSQL store at
/// `target_url`, bringing both schemas up to date first; answers what it copied.
pub async fn copy_store(source_url: &str, target_url: &str) -> Result<Counts, CopyError> {
    if !is_postgres(target_url) {
        return Err(CopyError::TargetNotPostgres(redacted(target_url)));
    }
    let shown = redacted(target_url);
    // Opening as the service opens them: migrations run, and an unreachable server fails at once.
    drop(super::open(source_url).await?);
    match super::PostgresStore::open(target_url).await {
        Ok(store) => drop(store),
        Err(StoreError::Connect { url, source }) => {
            return Err(CopyError::TargetUnreachable { url, source });
        }
        Err(e) => return Err(e.into()),
    }
    let target_options = PgConnectOptions::from_str(target_url)?;
    let mut target = PgConnection::connect_with(&target_options)
        .await
        .map_err(|source| CopyError::TargetUnreachable {
            url: shown.clone(),
            source,
        })?;
    let mut source = Source::connect(source_url).await?;

    let mut tx = target.begin().await?;
    // Writers wait, readers do not; a second copy waits here and then finds this one's rows.
    tx.execute(
        "LOCK TABLE schools, groups, links, jobs, audit, runs, schedule_claims, school_imports, workers \
         IN EXCLUSIVE MODE",
    )
    .await?;
    let held = target_counts(&mut tx).await?;
    if held.total() > 0 {
        return Err(CopyError::TargetNotEmpty { url: shown, held });
    }
    check_columns(&mut tx).await?;

    source.begin().await?;
    let copied = Counts {
        schools: copy_table::<SchoolRow>(&mut source, &mut tx).await?,
        groups: copy_table::<GroupRow>(&mut source, &mut tx).await?,
        links: copy_table::<LinkRow>(&mut source, &mut tx).await?,
        jobs: copy_table::<JobRow>(&mut source, &mut tx).await?,
        audit: copy_table::<AuditRow>(&mut source, &mut tx).await?,
        runs: copy_table::<RunRow>(&mut source, &mut tx).await?,
        schedule_claims: copy_table::<ClaimRow>(&mut source, &mut tx).await?,
        school_imports: copy_table::<SchoolImportRow>(&mut source, &mut tx).await?,
        workers: 0,
    };
    source.end().await?;
    // The index tables of View Groups are derived from the rows just copied: made anew, as the
    // migration that introduced them made them.
    tx.execute(
        "INSERT INTO group_teachers (email, group_id) \
         SELECT DISTINCT lower(trim(t.value)), g.id FROM groups g, jsonb_array_elements_text(g.teachers::jsonb) t \
         ON CONFLICT DO NOTHING",
    )
    .await?;
    tx.execute(
        "INSERT INTO school_admins (email, school_id) \
         SELECT DISTINCT lower(trim(a.value)), s.id FROM schools s, jsonb_array_elements_text(s.admins::jsonb) a \
         ON CONFLICT DO NOTHING",
    )
    .await?;
    // Ids were written as they were: the identities must hand out the next ones after them.
    for table in ["jobs", "audit", "runs", "school_imports"] {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} \
             HAVING count(*) > 0"
        );
        tx.execute(sqlx::AssertSqlSafe(sql)).await?;
    }
    tx.commit().await?;
    Ok(copied)
}

/// Rows in each table of the target (inside the copy's transaction).
async fn target_counts(tx: &mut PgConnection) -> Result<Counts, CopyError> {
    let row: (i64, i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM schools), (SELECT count(*) FROM groups), \
         (SELECT count(*) FROM links), (SELECT count(*) FROM jobs), (SELECT count(*) FROM audit), \
         (SELECT count(*) FROM runs), (SELECT count(*) FROM schedule_claims), \
         (SELECT count(*) FROM workers), (SELECT count(*) FROM school_imports)",
    )
    .fetch_one(&mut *tx)
    .await?;
    let n = |v: i64| v as u64;
    Ok(Counts {
        schools: n(row.0),
        groups: n(row.1),
        links: n(row.2),
        jobs: n(row.3),
        audit: n(row.4),
        runs: n(row.5),
        schedule_claims: n(row.6),
        workers: n(row.7),
        school_imports: n(row.8),
    })
}

/// Refuses to copy when the target has a column this module does not copy: a migration added it
/// and this module was not told, and the copy would silently lose it.
async fn check_columns(tx: &mut PgConnection) -> Result<(), CopyError> {
    let tables: [(&str, &[&str]); 8] = [
        (SchoolRow::TABLE, SchoolRow::COLUMNS),
        (GroupRow::TABLE, GroupRow::COLUMNS),
        (LinkRow::TABLE, LinkRow::COLUMNS),
        (JobRow::TABLE, JobRow::COLUMNS),
        (AuditRow::TABLE, AuditRow::COLUMNS),
        (RunRow::TABLE, RunRow::COLUMNS),
        (ClaimRow::TABLE, ClaimRow::COLUMNS),
        (SchoolImportRow::TABLE, SchoolImportRow::COLUMNS),
    ];
    for (table, known) in tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        if let Some(unknown) = columns.iter().find(|c| !known.contains(&c.as_str())) {
            return Err(StoreError::Corrupt(format!(
                "store copy does not know column {table}.{unknown}: update store::copy"
            ))
            .into());
        }
    }
    Ok(())
}

/// Copies one table, chunk by chunk in key order; answers how many rows.
async fn copy_table<R: Row>(source: &mut Source, tx: &mut PgConnection) -> Result<u64, CopyError> {
    let mut after: Option<Vec<Key>> = None;
    let mut copied = 0u64;
    loop {
        let rows: Vec<R> = source.chunk(after.as_deref()).await?;
        let Some(last) = rows.last() else {
            return Ok(copied);
        };
        after = Some(last.key());
        copied += rows.len() as u64;
        let mut insert = QueryBuilder::<Postgres>::new(format!(
            "INSERT INTO {} ({}) {}",
            R::TABLE,
            R::COLUMNS.join(", "),
            if R::IDENTITY {
                "OVERRIDING SYSTEM VALUE "
            } else {
                ""
            }
        ));
        insert.push_values(rows, |mut values, row| row.push(&mut values));
        insert.build().execute(&mut *tx).await?;
        if copied.is_multiple_of(CHUNK as u64 * 50) {
            tracing::info!(table = R::TABLE, copied, "store copy");
        }
    }
}

/// One part of a row's key, for reading the next chunk after it.
#[derive(Clone, Debug)]
enum Key {
    Text(String),
    Int(i64),
}

/// A table as the copy sees it: its columns (the same in both schemas), its key, how a row is
/// written to PostgreSQL.
trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {
    const TABLE: &'static str;
    /// Every column, in the order `push` binds them.
    const COLUMNS: &'static [&'static str];
    /// The primary key, the order chunks are read in.
    const KEY: &'static [&'static str];
    /// `id` is `GENERATED ALWAYS` in PostgreSQL: the copied id needs `OVERRIDING SYSTEM VALUE`.
    const IDENTITY: bool = false;
    fn key(&self) -> Vec<Key>;
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>);
}

/// Binds each field of a row in `COLUMNS` order.
macro_rules! push_fields {
    ($values:ident, $row:ident, $($field:ident),+) => {
        $( $values.push_bind($row.$field); )+
    };
}

#[derive(FromRow)]
struct SchoolRow {
    id: String,
    name: String,
    admins: String,
    updated_at: i64,
}

impl Row for SchoolRow {
    const TABLE: &'static str = "schools";
    const COLUMNS: &'static [&'static str] = &["id", "name", "admins", "updated_at"];
    const KEY: &'static [&'static str] = &["id"];
    fn key(&self) -> Vec<Key> {
        vec![Key::Text(self.id.clone())]
    }
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>) {
        let row = self;
        push_fields!(values, row, id, name, admins, updated_at);
    }
}

#[derive(FromRow)]
struct GroupRow {
    id: String,
    school_id: String,
    academic_year: String,
    name: String,
    year_group: Option<i64>,
    subject: Option<String>,
    targets: String,
    teachers: String,
    learners: String,
    withdrawn: bool,
    updated_at: i64,
    source_modified: Option<String>,
}

impl Row for GroupRow {
    const TABLE: &'static str = "groups";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "school_id",
        "academic_year",
        "name",
        "year_group",
        "subject",
        "targets",
        "teachers",
        "learners",
        "withdrawn",
        "updated_at",
        "source_modified",
    ];
    const KEY: &'static [&'static str] = &["id"];
    fn key(&self) -> Vec<Key> {
        vec![Key::Text(self.id.clone())]
    }
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>) {
        let row = self;
        push_fields!(
            values,
            row,
            id,
            school_id,
            academic_year,
            name,
            year_group,
            subject,
            targets,
            teachers,
            learners,
            withdrawn,
            updated_at,
            source_modified
        );
    }
}

#[derive(FromRow)]
struct LinkRow {
    group_id: String,
    target: String,
    state: String,
    remote_id: Option<String>,
    mis_linked: bool,
    managed: String,
    missing_accounts: String,
    last_sync: Option<i64>,
    last_error: Option<String>,
    held_changes: bool,
    updated_at: i64,
}

impl Row for LinkRow {
    const TABLE: &'static str = "links";
    const COLUMNS: &'static [&'static str] = &[
        "group_id",
        "target",
        "state",
        "remote_id",
        "mis_linked",
        "managed",
        "missing_accounts",
        "last_sync",
        "last_error",
        "held_changes",
        "updated_at",
    ];
    const KEY: &'static [&'static str] = &["group_id", "target"];
    fn key(&self) -> Vec<Key> {
        vec![
            Key::Text(self.group_id.clone()),
            Key::Text(self.target.clone()),
        ]
    }
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>) {
        let row = self;
        push_fields!(
            values,
            row,
            group_id,
            target,
            state,
            remote_id,
            mis_linked,
            managed,
            missing_accounts,
            last_sync,
            last_error,
            held_changes,
            updated_at
        );
    }
}

#[derive(FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    group_id: String,
    target: String,
    lane: i64,
    state: String,
    attempts: i64,
    max_attempts: i64,
    run_at: i64,
    lease_until: Option<i64>,
    locked_by: Option<String>,
    last_error: Option<String>,
    requested_by: Option<String>,
    dedup_key: String,
    created_at: i64,
    finished_at: Option<i64>,
}

impl Row for JobRow {
    const TABLE: &'static str = "jobs";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "kind",
        "group_id",
        "target",
        "lane",
        "state",
        "attempts",
        "max_attempts",
        "run_at",
        "lease_until",
        "locked_by",
        "last_error",
        "requested_by",
        "dedup_key",
        "created_at",
        "finished_at",
    ];
    const KEY: &'static [&'static str] = &["id"];
    const IDENTITY: bool = true;
    fn key(&self) -> Vec<Key> {
        vec![Key::Int(self.id)]
    }
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>) {
        let row = self;
        push_fields!(
            values,
            row,
            id,
            kind,
            group_id,
            target,
            lane,
            state,
            attempts,
            max_attempts,
            run_at,
            lease_until,
            locked_by,
            last_error,
            requested_by,
            dedup_key,
            created_at,
            finished_at
        );
    }
}

#[derive(FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    group_id: Option<String>,
    target: Option<String>,
    outcome: String,
    detail: String,
}

impl Row for AuditRow {
    const TABLE: &'static str = "audit";
    const COLUMNS: &'static [&'static str] = &[
        "id", "at", "actor", "action", "group_id", "target", "outcome", "detail",
    ];
    const KEY: &'static [&'static str] = &["id"];
    const IDENTITY: bool = true;
    fn key(&self) -> Vec<Key> {
        vec![Key::Int(self.id)]
    }
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>) {
        let row = self;
        push_fields!(
            values, row, id, at, actor, action, group_id, target, outcome, detail
        );
    }
}

#[derive(FromRow)]
struct RunRow {
    id: i64,
    kind: String,
    today: String,
    started_at: i64,
    finished_at: Option<i64>,
    summary: String,
    ok: Option<bool>,
}

impl Row for RunRow {
    const TABLE: &'static str = "runs";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "kind",
        "today",
        "started_at",
        "finished_at",
        "summary",
        "ok",
    ];
    const KEY: &'static [&'static str] = &["id"];
    const IDENTITY: bool = true;
    fn key(&self) -> Vec<Key> {
        vec![Key::Int(self.id)]
    }
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>) {
        let row = self;
        push_fields!(
            values,
            row,
            id,
            kind,
            today,
            started_at,
            finished_at,
            summary,
            ok
        );
    }
}

#[derive(FromRow)]
struct ClaimRow {
    kind: String,
    day: String,
    claimed_at: i64,
    claimed_by: String,
    enqueued: bool,
}

impl Row for ClaimRow {
    const TABLE: &'static str = "schedule_claims";
    const COLUMNS: &'static [&'static str] =
        &["kind", "day", "claimed_at", "claimed_by", "enqueued"];
    const KEY: &'static [&'static str] = &["kind", "day"];
    fn key(&self) -> Vec<Key> {
        vec![Key::Text(self.kind.clone()), Key::Text(self.day.clone())]
    }
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>) {
        let row = self;
        push_fields!(values, row, kind, day, claimed_at, claimed_by, enqueued);
    }
}

#[derive(FromRow)]
struct SchoolImportRow {
    id: i64,
    school_id: String,
    at: i64,
    day: String,
    format: String,
    file: Option<String>,
    actor: String,
    added: i64,
    changed: i64,
    unchanged: i64,
    withdrawn: i64,
    enqueued: i64,
    held_back: String,
}

impl Row for SchoolImportRow {
    const TABLE: &'static str = "school_imports";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "school_id",
        "at",
        "day",
        "format",
        "file",
        "actor",
        "added",
        "changed",
        "unchanged",
        "withdrawn",
        "enqueued",
        "held_back",
    ];
    const KEY: &'static [&'static str] = &["id"];
    const IDENTITY: bool = true;
    fn key(&self) -> Vec<Key> {
        vec![Key::Int(self.id)]
    }
    fn push(self, values: &mut sqlx::query_builder::Separated<'_, Postgres, &'static str>) {
        let row = self;
        push_fields!(
            values, row, id, school_id, at, day, format, file, actor, added, changed, unchanged,
            withdrawn, enqueued, held_back
        );
    }
}

/// The store being copied, on one connection that holds a read transaction while the copy runs.
enum Source {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Source {
    async fn connect(url: &str) -> StoreResult<Source> {
        if is_postgres(url) {
            let options = PgConnectOptions::from_str(url)?;
            let conn = PgConnection::connect_with(&options)
                .await
                .map_err(|source| StoreError::Connect {
                    url: redacted(url),
                    source,
                })?;
            Ok(Source::Postgres(conn))
        } else {
            let options = SqliteConnectOptions::from_str(url)?.read_only(true);
            Ok(Source::Sqlite(
                SqliteConnection::connect_with(&options).await?,
            ))
        }
    }

    /// Starts the read transaction every chunk is read in: one consistent state of the source.
    async fn begin(&mut self) -> StoreResult<()> {
        match self {
            // WAL: the snapshot is taken at the first read and kept until the end.
            Source::Sqlite(c) => {
                c.execute("BEGIN").await?;
            }
            Source::Postgres(c) => {
                c.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
            }
        }
        Ok(())
    }

    async fn end(&mut self) -> StoreResult<()> {
        match self {
            Source::Sqlite(c) => {
                c.execute("ROLLBACK").await?;
            }
            Source::Postgres(c) => {
                c.execute("ROLLBACK").await?;
            }
        }
        Ok(())
    }

    /// The next `CHUNK` rows of `R`'s table in key order, after the key `after` (from the start
    /// when None).
    async fn chunk<R: Row>(&mut self, after: Option<&[Key]>) -> StoreResult<Vec<R>> {
        let postgres = matches!(self, Source::Postgres(_));
        let place = |i: usize| {
            if postgres {
                format!("${}", i + 1)
            } else {
                "?".to_string()
            }
        };
        let filter = match after {
            None => String::new(),
            Some(key) => format!(
                "WHERE ({}) > ({})",
                R::KEY.join(", "),
                (0..key.len()).map(place).collect::<Vec<_>>().join(", ")
            ),
        };
        let sql = format!(
            "SELECT {} FROM {} {filter} ORDER BY {} LIMIT {CHUNK}",
            R::COLUMNS.join(", "),
            R::TABLE,
            R::KEY.join(", "),
        );
        let key = after.unwrap_or_default();
        // Key parts bound in order, for either backend.
        macro_rules! read {
            ($conn:expr) => {{
                let mut q = sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(sql));
                for part in key {
                    q = match part {
                        Key::Text(s) => q.bind(s.clone()),
                        Key::Int(i) => q.bind(*i),
                    };
                }
                q.fetch_all($conn).await?
            }};
        }
        Ok(match self {
            Source::Sqlite(c) => read!(&mut *c),
            Source::Postgres(c) => read!(&mut *c),
        })
    }
}
