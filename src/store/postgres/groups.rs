//! Schools, groups and links in PostgreSQL: the snapshot import and a delta (one transaction each,
//! under the import lock), one group's put,
//! the reads, and saving a link (never turning `mis_linked` back on). Owns the row mapping of
//! `schools`, `groups` and `links`, and `save_link_in` and `link_for_update`, which the queue uses.
//!
//! Concurrency: an import (a snapshot or a delta) takes a transaction-scoped advisory lock, so
//! imports run one after the other (a snapshot is its schools' full state: two interleaved would withdraw each other's
//! groups); a put locks its group's row (`FOR UPDATE`, or the INSERT that wins) before it decides
//! added/changed/unchanged; `save_link` is one UPDATE whose `mis_linked = mis_linked AND …` is
//! evaluated on the row as it is when the write happens, so a granted restore is never undone.

use super::{PostgresStore, json, parse_json};
use crate::core::delta::Delta;
use crate::core::domain::{Group, School, Snapshot, Target};
use crate::core::link::Link;
use crate::core::roster::Roster;
use crate::store::{GroupChange, ImportApplied, StoreError, StoreResult, StoredGroup};
use sqlx::Row;
use sqlx::postgres::PgRow;
use std::collections::{HashMap, HashSet};

/// The key of the advisory lock imports take (any constant of our own; "class-sync import").
const IMPORT_LOCK: i64 = 0x636c_6173_7369_6d70;

/// The wall clock, only for the `updated_at` bookkeeping columns (no rule reads them).
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A link's managed roster as stored in `links.managed`.
#[derive(serde::Serialize, serde::Deserialize)]
struct RosterJson {
    teachers: Vec<String>,
    learners: Vec<String>,
}

fn school_from(row: &PgRow) -> StoreResult<School> {
    Ok(School {
        id: row.get("id"),
        name: row.get("name"),
        admins: parse_json(row.get::<&str, _>("admins"), "school admins")?,
    })
}

pub(super) fn group_from(row: &PgRow) -> StoreResult<StoredGroup> {
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
        withdrawn: row.get("withdrawn"),
        source_modified: row.get("source_modified"),
    })
}

fn link_from(row: &PgRow) -> StoreResult<Link> {
    let managed: RosterJson = parse_json(row.get::<&str, _>("managed"), "link managed roster")?;
    let target = row
        .get::<&str, _>("target")
        .parse()
        .map_err(StoreError::Corrupt)?;
    let state = row
        .get::<&str, _>("state")
        .parse()
        .map_err(StoreError::Corrupt)?;
    let mis_linked: bool = row.get("mis_linked");
    let mut link = Link::stored(row.get::<String, _>("group_id"), target, state, mis_linked);
    link.remote_id = row.get("remote_id");
    link.managed = Roster::new(managed.teachers, managed.learners);
    link.missing_accounts = parse_json(
        row.get::<&str, _>("missing_accounts"),
        "link missing accounts",
    )?;
    link.last_sync = row.get("last_sync");
    link.last_error = row.get("last_error");
    link.held_changes = row.get("held_changes");
    Ok(link)
}

/// Saves a link on `conn`; never turns `mis_linked` back on (see `Store::save_link`).
pub(super) async fn save_link_in(conn: &mut sqlx::PgConnection, l: &Link) -> StoreResult<()> {
    let managed = RosterJson {
        teachers: l.managed.teachers.iter().cloned().collect(),
        learners: l.managed.learners.iter().cloned().collect(),
    };
    sqlx::query(
        "UPDATE links SET state = $3, remote_id = $4, mis_linked = mis_linked AND $5, managed = $6, missing_accounts = $7,
           last_sync = $8, last_error = $9, held_changes = $10, updated_at = $11
         WHERE group_id = $1 AND target = $2",
    )
    .bind(&l.group_id)
    .bind(l.target.as_str())
    .bind(l.state().as_str())
    .bind(&l.remote_id)
    .bind(l.mis_linked())
    .bind(json(&managed))
    .bind(json(&l.missing_accounts))
    .bind(l.last_sync)
    .bind(&l.last_error)
    .bind(l.held_changes)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes one group inside `tx` (unless unchanged) and makes its missing links. `modified`: the
/// delta's `dateLastModified`, kept with the group (None from a snapshot or a push: cleared when
/// the group changes).
async fn upsert_group(
    tx: &mut sqlx::PgConnection,
    g: &Group,
    now: i64,
    modified: Option<&str>,
) -> StoreResult<GroupChange> {
    // Lock the row before deciding. A group nobody has yet is claimed by the INSERT: of two puts
    // of one new group, the second's INSERT waits for the first and does nothing, and that put
    // then reads (and locks) the row the first committed.
    let mut existing = sqlx::query("SELECT * FROM groups WHERE id = $1 FOR UPDATE")
        .bind(&g.id)
        .fetch_optional(&mut *tx)
        .await?;
    if existing.is_none() {
        let inserted = sqlx::query(
            "INSERT INTO groups (id, school_id, academic_year, name, year_group, subject, targets, teachers, learners, withdrawn, updated_at, source_modified)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, $10, $11)
             ON CONFLICT (id) DO NOTHING",
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
        .bind(modified)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            existing = sqlx::query("SELECT * FROM groups WHERE id = $1 FOR UPDATE")
                .bind(&g.id)
                .fetch_optional(&mut *tx)
                .await?;
        }
    }
    let old = existing.as_ref().map(group_from).transpose()?;
    let outcome = match &old {
        None => GroupChange::Added,
        Some(old) if old.group == *g && !old.withdrawn => GroupChange::Unchanged,
        Some(_) => GroupChange::Changed,
    };
    if outcome == GroupChange::Unchanged
        && let Some(modified) = modified
        && old.as_ref().and_then(|o| o.source_modified.as_deref()) != Some(modified)
    {
        // The data are the same; a later `dateLastModified` is still kept.
        sqlx::query("UPDATE groups SET source_modified = $2 WHERE id = $1")
            .bind(&g.id)
            .bind(modified)
            .execute(&mut *tx)
            .await?;
    }
    if outcome == GroupChange::Changed {
        sqlx::query(
            "UPDATE groups SET school_id = $2, academic_year = $3, name = $4, year_group = $5, subject = $6,
               targets = $7, teachers = $8, learners = $9, withdrawn = FALSE, updated_at = $10, source_modified = $11
             WHERE id = $1",
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
        .bind(modified)
        .execute(&mut *tx)
        .await?;
    }
    if outcome != GroupChange::Unchanged {
        super::mirror::teachers(&mut *tx, &[g]).await?;
    }
    for t in &g.targets {
        sqlx::query(
            "INSERT INTO links (group_id, target, state, updated_at) VALUES ($1, $2, 'pending', $3)
             ON CONFLICT (group_id, target) DO NOTHING",
        )
        .bind(&g.id)
        .bind(t.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(outcome)
}

/// Groups one statement of a snapshot import reads or writes (as arrays: one parameter a column).
const CHUNK: usize = 1000;

/// Groups added or changed by one import after which the tables are analysed.
const ANALYZE_AFTER: usize = 1_000;

pub(super) async fn import_snapshot(
    db: &PostgresStore,
    snapshot: &Snapshot,
) -> StoreResult<ImportApplied> {
    let started = std::time::Instant::now();
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(IMPORT_LOCK)
        .execute(&mut *tx)
        .await?;
    let mut applied = ImportApplied::default();
    for s in &snapshot.schools {
        upsert_school(&mut tx, s, now).await?;
    }
    let distinct: HashSet<&str> = snapshot.groups.iter().map(|g| g.id.as_str()).collect();
    if distinct.len() == snapshot.groups.len() {
        // A chunk at a time: one read (and lock) of what is stored, one insert of what is new,
        // one update of what changed, one insert of the links — not three round trips a group.
        for chunk in snapshot.groups.chunks(CHUNK) {
            import_chunk(&mut tx, chunk, now, &mut applied).await?;
        }
    } else {
        // Ids given twice (validation refuses them): each group sees the one written before it.
        for g in &snapshot.groups {
            let change = upsert_group(&mut tx, g, now, None).await?;
            applied.record(g.id.clone(), &g.school, change);
        }
    }
    // A snapshot is the full state of the schools it lists: their other groups are withdrawn.
    // Each school's statement carries its own groups' ids only (not the whole snapshot's).
    let mut present: HashMap<&str, Vec<&str>> = HashMap::new();
    for g in &snapshot.groups {
        present
            .entry(g.school.as_str())
            .or_default()
            .push(g.id.as_str());
    }
    for s in &snapshot.schools {
        let rows = sqlx::query(
            "UPDATE groups SET withdrawn = TRUE, updated_at = $3
             WHERE school_id = $1 AND NOT withdrawn AND NOT (id = ANY($2))
             RETURNING id",
        )
        .bind(&s.id)
        .bind(present.get(s.id.as_str()).cloned().unwrap_or_default())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut withdrawn: Vec<String> = rows.iter().map(|r| r.get("id")).collect();
        withdrawn.sort();
        for id in withdrawn {
            applied.withdraw(id, &s.id);
        }
    }
    tx.commit().await?;
    // A bulk import changes the tables' shape: fresh statistics keep View Groups on its indexes
    // (without them PostgreSQL plans full scans until autovacuum gets round to it).
    if applied.added.len() + applied.changed.len() >= ANALYZE_AFTER {
        sqlx::query("ANALYZE groups, links, group_teachers, school_admins")
            .execute(&db.pool)
            .await?;
    }
    tracing::debug!(
        groups = snapshot.groups.len(),
        ms = started.elapsed().as_millis() as u64,
        "snapshot stored"
    );
    Ok(applied)
}

/// [`upsert_group`] for a chunk of a snapshot's groups (distinct ids, no `source_modified`),
/// recording each outcome in snapshot order. The stored rows are locked before deciding, as a put
/// locks its one row; a new group that a concurrent put inserted first (the chunk's INSERT did
/// nothing for it) is decided by `upsert_group`, on the row that put committed.
async fn import_chunk(
    tx: &mut sqlx::PgConnection,
    chunk: &[Group],
    now: i64,
    applied: &mut ImportApplied,
) -> StoreResult<()> {
    let ids: Vec<&str> = chunk.iter().map(|g| g.id.as_str()).collect();
    let rows = sqlx::query("SELECT * FROM groups WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
    let mut stored = HashMap::with_capacity(rows.len());
    for row in &rows {
        let old = group_from(row)?;
        stored.insert(old.group.id.clone(), old);
    }
    let new: Vec<&Group> = chunk
        .iter()
        .filter(|g| !stored.contains_key(&g.id))
        .collect();
    let inserted: HashSet<String> = if new.is_empty() {
        HashSet::new()
    } else {
        let rows = sqlx::query(
            "INSERT INTO groups (id, school_id, academic_year, name, year_group, subject, targets, teachers, learners, withdrawn, updated_at, source_modified)
             SELECT v.*, FALSE, $10, NULL
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::text[])
               AS v(id, school_id, academic_year, name, year_group, subject, targets, teachers, learners)
             ON CONFLICT (id) DO NOTHING
             RETURNING id",
        );
        let rows = bind_columns(rows, &new)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        rows.iter().map(|r| r.get("id")).collect()
    };
    let mut changed: Vec<&Group> = Vec::new();
    for g in chunk {
        let outcome = match stored.get(&g.id) {
            None if inserted.contains(&g.id) => GroupChange::Added,
            None => upsert_group(&mut *tx, g, now, None).await?,
            Some(old) if old.group == *g && !old.withdrawn => GroupChange::Unchanged,
            Some(_) => {
                changed.push(g);
                GroupChange::Changed
            }
        };
        applied.record(g.id.clone(), &g.school, outcome);
    }
    if !changed.is_empty() {
        let update = sqlx::query(
            "UPDATE groups AS g SET school_id = v.school_id, academic_year = v.academic_year, name = v.name,
               year_group = v.year_group, subject = v.subject, targets = v.targets, teachers = v.teachers,
               learners = v.learners, withdrawn = FALSE, updated_at = $10, source_modified = NULL
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::text[])
               AS v(id, school_id, academic_year, name, year_group, subject, targets, teachers, learners)
             WHERE g.id = v.id",
        );
        bind_columns(update, &changed)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    // Groups upserted one by one above mirrored their teachers themselves.
    let written: Vec<&Group> = new
        .iter()
        .filter(|g| inserted.contains(&g.id))
        .chain(&changed)
        .copied()
        .collect();
    super::mirror::teachers(&mut *tx, &written).await?;
    let (link_groups, link_targets): (Vec<&str>, Vec<&str>) = chunk
        .iter()
        .flat_map(|g| g.targets.iter().map(|t| (g.id.as_str(), t.as_str())))
        .unzip();
    sqlx::query(
        "INSERT INTO links (group_id, target, state, updated_at)
         SELECT v.group_id, v.target, 'pending', $3 FROM UNNEST($1::text[], $2::text[]) AS v(group_id, target)
         ON CONFLICT (group_id, target) DO NOTHING",
    )
    .bind(link_groups)
    .bind(link_targets)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Binds `groups` as nine column arrays, `$1`…`$9` (id, school, year, name, year group, subject,
/// and targets, teachers and learners as JSON text).
fn bind_columns<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    groups: &[&'q Group],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>())
        .bind(groups.iter().map(|g| g.school.as_str()).collect::<Vec<_>>())
        .bind(
            groups
                .iter()
                .map(|g| g.academic_year.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>())
        .bind(groups.iter().map(|g| g.year_group).collect::<Vec<_>>())
        .bind(
            groups
                .iter()
                .map(|g| g.subject.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(groups.iter().map(|g| json(&g.targets)).collect::<Vec<_>>())
        .bind(groups.iter().map(|g| json(&g.teachers)).collect::<Vec<_>>())
        .bind(groups.iter().map(|g| json(&g.learners)).collect::<Vec<_>>())
}

async fn upsert_school(tx: &mut sqlx::PgConnection, s: &School, now: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO schools (id, name, admins, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, admins = excluded.admins, updated_at = excluded.updated_at",
    )
    .bind(&s.id)
    .bind(&s.name)
    .bind(json(&s.admins))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    super::mirror::admins(&mut *tx, &[s]).await?;
    Ok(())
}

/// A delta in one transaction under the import lock: each named school and group read (locked)
/// and merged with what is stored, then the withdrawals (see `Store::apply_delta`).
pub(super) async fn apply_delta(db: &PostgresStore, delta: &Delta) -> StoreResult<ImportApplied> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(IMPORT_LOCK)
        .execute(&mut *tx)
        .await?;
    for change in &delta.schools {
        let row = sqlx::query("SELECT * FROM schools WHERE id = $1 FOR UPDATE")
            .bind(&change.id)
            .fetch_optional(&mut *tx)
            .await?;
        let old = row.as_ref().map(school_from).transpose()?;
        if let Some(new) = change.apply(old.as_ref())
            && old.as_ref() != Some(&new)
        {
            upsert_school(&mut tx, &new, now).await?;
        }
    }
    let mut applied = ImportApplied::default();
    for change in &delta.groups {
        // Locked: a push of the same group waits for this transaction, and then reads what it wrote.
        let row = sqlx::query("SELECT * FROM groups WHERE id = $1 FOR UPDATE")
            .bind(&change.id)
            .fetch_optional(&mut *tx)
            .await?;
        let old = row.as_ref().map(group_from).transpose()?;
        let withdrawn = old.as_ref().is_some_and(|o| o.withdrawn);
        let Some(group) = change.apply_to_stored(old.as_ref().map(|o| &o.group), withdrawn) else {
            continue;
        };
        let outcome = upsert_group(&mut tx, &group, now, change.modified.as_deref()).await?;
        applied.record(group.id.clone(), &group.school, outcome);
    }
    for id in &delta.withdrawn {
        let school = sqlx::query(
            "UPDATE groups SET withdrawn = TRUE, updated_at = $2 WHERE id = $1 AND NOT withdrawn
             RETURNING school_id",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = school {
            applied.withdraw(id.clone(), row.get("school_id"));
        }
    }
    tx.commit().await?;
    Ok(applied)
}

pub(super) async fn put_group(db: &PostgresStore, group: &Group) -> StoreResult<GroupChange> {
    let mut tx = db.pool.begin().await?;
    let outcome = upsert_group(&mut tx, group, now_ms(), None).await?;
    tx.commit().await?;
    Ok(outcome)
}

pub(super) async fn school(db: &PostgresStore, id: &str) -> StoreResult<Option<School>> {
    let row = sqlx::query("SELECT * FROM schools WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(school_from).transpose()
}

pub(super) async fn school_ids(db: &PostgresStore) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT id FROM schools ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

pub(super) async fn school_count(db: &PostgresStore) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schools")
        .fetch_one(&db.pool)
        .await?;
    Ok(n.max(0) as u64)
}

pub(super) async fn group(db: &PostgresStore, id: &str) -> StoreResult<Option<StoredGroup>> {
    let row = sqlx::query("SELECT * FROM groups WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(group_from).transpose()
}

pub(super) async fn groups(db: &PostgresStore) -> StoreResult<Vec<StoredGroup>> {
    let rows = sqlx::query("SELECT * FROM groups ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(group_from).collect()
}

pub(super) async fn link(
    db: &PostgresStore,
    group_id: &str,
    target: Target,
) -> StoreResult<Option<Link>> {
    let row = sqlx::query("SELECT * FROM links WHERE group_id = $1 AND target = $2")
        .bind(group_id)
        .bind(target.as_str())
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(link_from).transpose()
}

/// One link read and row-locked inside a transaction (the Restore grant decides on it and writes
/// it back): a second grant of the same link waits here and then reads what the first wrote.
pub(super) async fn link_for_update(
    tx: &mut sqlx::PgConnection,
    group_id: &str,
    target: Target,
) -> StoreResult<Option<Link>> {
    let row = sqlx::query("SELECT * FROM links WHERE group_id = $1 AND target = $2 FOR UPDATE")
        .bind(group_id)
        .bind(target.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(link_from).transpose()
}

pub(super) async fn links_of(db: &PostgresStore, group_id: &str) -> StoreResult<Vec<Link>> {
    let rows = sqlx::query("SELECT * FROM links WHERE group_id = $1 ORDER BY target")
        .bind(group_id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(link_from).collect()
}

pub(super) async fn links_of_groups(
    db: &PostgresStore,
    group_ids: &[&str],
) -> StoreResult<Vec<Link>> {
    let mut links = Vec::with_capacity(group_ids.len() * 2);
    for chunk in group_ids.chunks(5_000) {
        let rows =
            sqlx::query("SELECT * FROM links WHERE group_id = ANY($1) ORDER BY group_id, target")
                .bind(chunk)
                .fetch_all(&db.pool)
                .await?;
        for row in &rows {
            links.push(link_from(row)?);
        }
    }
    links.sort_by(|a, b| (&a.group_id, a.target.as_str()).cmp(&(&b.group_id, b.target.as_str())));
    Ok(links)
}

pub(super) async fn all_links(db: &PostgresStore) -> StoreResult<Vec<Link>> {
    let rows = sqlx::query("SELECT * FROM links ORDER BY group_id, target")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(link_from).collect()
}

/// Never turns `mis_linked` back on: a restore granted while a job held a stale copy wins.
pub(super) async fn save_link(db: &PostgresStore, l: &Link) -> StoreResult<()> {
    let mut conn = db.pool.acquire().await?;
    save_link_in(&mut conn, l).await
}

pub(super) async fn note_held_changes(
    db: &PostgresStore,
    group_id: &str,
    target: Target,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE links SET held_changes = TRUE, updated_at = $3
         WHERE group_id = $1 AND target = $2 AND mis_linked AND state <> 'pending'",
    )
    .bind(group_id)
    .bind(target.as_str())
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}
