//! Schools, groups and links in SQLite: the snapshot import and a delta (one transaction each),
//! one group's put, the reads, and saving a link (never turning `mis_linked` back on). Owns the row mapping of
//! `schools`, `groups` and `links`, and `save_link_in`, which the queue uses to save a link with a
//! job's end.

use super::{SqliteStore, json, parse_json};
use crate::core::delta::Delta;
use crate::core::domain::{Group, School, Snapshot, Target};
use crate::core::link::Link;
use crate::core::roster::Roster;
use crate::store::{GroupChange, ImportApplied, StoreError, StoreResult, StoredGroup};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

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

fn school_from(row: &SqliteRow) -> StoreResult<School> {
    Ok(School {
        id: row.get("id"),
        name: row.get("name"),
        admins: parse_json(row.get::<&str, _>("admins"), "school admins")?,
    })
}

pub(super) fn group_from(row: &SqliteRow) -> StoreResult<StoredGroup> {
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
        source_modified: row.get("source_modified"),
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

/// Saves a link inside `tx`; never turns `mis_linked` back on (see `Store::save_link`).
pub(super) async fn save_link_in(tx: &mut sqlx::SqliteConnection, l: &Link) -> StoreResult<()> {
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

/// Writes one group inside `tx` (unless unchanged) and makes its missing links. `modified`: the
/// delta's `dateLastModified`, kept with the group (None from a snapshot or a push: cleared when
/// the group changes).
async fn upsert_group(
    tx: &mut sqlx::SqliteConnection,
    g: &Group,
    now: i64,
    modified: Option<&str>,
) -> StoreResult<GroupChange> {
    let existing = sqlx::query("SELECT * FROM groups WHERE id = ?1")
        .bind(&g.id)
        .fetch_optional(&mut *tx)
        .await?;
    let old = existing.as_ref().map(group_from).transpose()?;
    let outcome = match &old {
        None => GroupChange::Added,
        Some(old) if old.group == *g && !old.withdrawn => GroupChange::Unchanged,
        Some(_) => GroupChange::Changed,
    };
    if outcome == GroupChange::Unchanged {
        // The data are the same; a later `dateLastModified` is still kept.
        if let Some(modified) = modified
            && old.as_ref().and_then(|o| o.source_modified.as_deref()) != Some(modified)
        {
            sqlx::query("UPDATE groups SET source_modified = ?2 WHERE id = ?1")
                .bind(&g.id)
                .bind(modified)
                .execute(&mut *tx)
                .await?;
        }
    } else {
        sqlx::query(
            "INSERT INTO groups (id, school_id, academic_year, name, year_group, subject, targets, teachers, learners, withdrawn, updated_at, source_modified)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?11)
             ON CONFLICT(id) DO UPDATE SET school_id = excluded.school_id, academic_year = excluded.academic_year,
               name = excluded.name, year_group = excluded.year_group, subject = excluded.subject, targets = excluded.targets,
               teachers = excluded.teachers, learners = excluded.learners, withdrawn = 0, updated_at = excluded.updated_at,
               source_modified = excluded.source_modified",
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
        sqlx::query("INSERT OR IGNORE INTO links (group_id, target, state, updated_at) VALUES (?1, ?2, 'pending', ?3)")
            .bind(&g.id)
            .bind(t.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    Ok(outcome)
}

/// Groups one statement of a snapshot import reads or writes (11 parameters a group: well inside
/// SQLite's 32,766).
const CHUNK: usize = 500;

pub(super) async fn import_snapshot(
    db: &SqliteStore,
    snapshot: &Snapshot,
) -> StoreResult<ImportApplied> {
    let started = std::time::Instant::now();
    let now = now_ms();
    let mut tx = db.writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut applied = ImportApplied::default();
    for s in &snapshot.schools {
        upsert_school(&mut tx, s, now).await?;
    }
    let present: std::collections::HashSet<&str> =
        snapshot.groups.iter().map(|g| g.id.as_str()).collect();
    if present.len() == snapshot.groups.len() {
        // A chunk at a time: one read of what is stored, one write of what is new or changed,
        // one of the links (a national snapshot is 100,000 groups: not 300,000 statements).
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
                applied.withdraw(id, &s.id);
            }
        }
    }
    tx.commit().await?;
    tracing::debug!(
        groups = snapshot.groups.len(),
        ms = started.elapsed().as_millis() as u64,
        "snapshot stored"
    );
    Ok(applied)
}

/// [`upsert_group`] for a chunk of a snapshot's groups (distinct ids, no `source_modified`),
/// recording each outcome in snapshot order.
async fn import_chunk(
    tx: &mut sqlx::SqliteConnection,
    chunk: &[Group],
    now: i64,
    applied: &mut ImportApplied,
) -> StoreResult<()> {
    let ids: Vec<&str> = chunk.iter().map(|g| g.id.as_str()).collect();
    let rows = sqlx::query("SELECT g.* FROM json_each(?1) AS j JOIN groups AS g ON g.id = j.value")
        .bind(json(&ids))
        .fetch_all(&mut *tx)
        .await?;
    let mut stored = std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        let old = group_from(row)?;
        stored.insert(old.group.id.clone(), old);
    }
    let mut writes: Vec<&Group> = Vec::new();
    for g in chunk {
        let outcome = match stored.get(&g.id) {
            None => GroupChange::Added,
            Some(old) if old.group == *g && !old.withdrawn => GroupChange::Unchanged,
            Some(_) => GroupChange::Changed,
        };
        if outcome != GroupChange::Unchanged {
            writes.push(g);
        }
        applied.record(g.id.clone(), &g.school, outcome);
    }
    if !writes.is_empty() {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO groups (id, school_id, academic_year, name, year_group, subject, targets, teachers, learners, withdrawn, updated_at, source_modified) ",
        );
        insert.push_values(&writes, |mut row, g| {
            row.push_bind(&g.id)
                .push_bind(&g.school)
                .push_bind(&g.academic_year)
                .push_bind(&g.name)
                .push_bind(g.year_group)
                .push_bind(&g.subject)
                .push_bind(json(&g.targets))
                .push_bind(json(&g.teachers))
                .push_bind(json(&g.learners))
                .push("0")
                .push_bind(now)
                .push("NULL");
        });
        insert.push(
            " ON CONFLICT(id) DO UPDATE SET school_id = excluded.school_id, academic_year = excluded.academic_year,
               name = excluded.name, year_group = excluded.year_group, subject = excluded.subject, targets = excluded.targets,
               teachers = excluded.teachers, learners = excluded.learners, withdrawn = 0, updated_at = excluded.updated_at,
               source_modified = excluded.source_modified",
        );
        insert.build().execute(&mut *tx).await?;
    }
    super::mirror::teachers(&mut *tx, &writes).await?;
    let links: Vec<(&str, Target)> = chunk
        .iter()
        .flat_map(|g| g.targets.iter().map(|t| (g.id.as_str(), *t)))
        .collect();
    if !links.is_empty() {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT OR IGNORE INTO links (group_id, target, state, updated_at) ",
        );
        insert.push_values(&links, |mut row, (id, t)| {
            row.push_bind(*id)
                .push_bind(t.as_str())
                .push("'pending'")
                .push_bind(now);
        });
        insert.build().execute(&mut *tx).await?;
    }
    Ok(())
}

async fn upsert_school(tx: &mut sqlx::SqliteConnection, s: &School, now: i64) -> StoreResult<()> {
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
    super::mirror::admins(&mut *tx, &[s]).await?;
    Ok(())
}

/// A delta in one transaction: each named school and group merged with what is stored, then
/// the withdrawals (see `Store::apply_delta`).
pub(super) async fn apply_delta(db: &SqliteStore, delta: &Delta) -> StoreResult<ImportApplied> {
    let now = now_ms();
    let mut tx = db.writer.begin_with("BEGIN IMMEDIATE").await?;
    for change in &delta.schools {
        let row = sqlx::query("SELECT * FROM schools WHERE id = ?1")
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
        let row = sqlx::query("SELECT * FROM groups WHERE id = ?1")
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
            "UPDATE groups SET withdrawn = 1, updated_at = ?2 WHERE id = ?1 AND withdrawn = 0
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

pub(super) async fn put_group(db: &SqliteStore, group: &Group) -> StoreResult<GroupChange> {
    let mut tx = db.writer.begin_with("BEGIN IMMEDIATE").await?;
    let outcome = upsert_group(&mut tx, group, now_ms(), None).await?;
    tx.commit().await?;
    Ok(outcome)
}

pub(super) async fn school(db: &SqliteStore, id: &str) -> StoreResult<Option<School>> {
    let row = sqlx::query("SELECT * FROM schools WHERE id = ?1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(school_from).transpose()
}

pub(super) async fn school_ids(db: &SqliteStore) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT id FROM schools ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

pub(super) async fn school_count(db: &SqliteStore) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schools")
        .fetch_one(&db.pool)
        .await?;
    Ok(n.max(0) as u64)
}

pub(super) async fn group(db: &SqliteStore, id: &str) -> StoreResult<Option<StoredGroup>> {
    let row = sqlx::query("SELECT * FROM groups WHERE id = ?1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(group_from).transpose()
}

pub(super) async fn groups(db: &SqliteStore) -> StoreResult<Vec<StoredGroup>> {
    let rows = sqlx::query("SELECT * FROM groups ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(group_from).collect()
}

pub(super) async fn link(
    db: &SqliteStore,
    group_id: &str,
    target: Target,
) -> StoreResult<Option<Link>> {
    link_in(&mut *db.pool.acquire().await?, group_id, target).await
}

/// One link read on a given connection: inside a write transaction (the Restore grant decides on it and writes it back).
pub(super) async fn link_in(
    tx: &mut sqlx::SqliteConnection,
    group_id: &str,
    target: Target,
) -> StoreResult<Option<Link>> {
    let row = sqlx::query("SELECT * FROM links WHERE group_id = ?1 AND target = ?2")
        .bind(group_id)
        .bind(target.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(link_from).transpose()
}

pub(super) async fn links_of(db: &SqliteStore, group_id: &str) -> StoreResult<Vec<Link>> {
    let rows = sqlx::query("SELECT * FROM links WHERE group_id = ?1 ORDER BY target")
        .bind(group_id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(link_from).collect()
}

pub(super) async fn links_of_groups(
    db: &SqliteStore,
    group_ids: &[&str],
) -> StoreResult<Vec<Link>> {
    let mut links = Vec::with_capacity(group_ids.len() * 2);
    // The ids travel as one JSON array: no limit on bound parameters to mind.
    for chunk in group_ids.chunks(5_000) {
        let rows = sqlx::query(
            "SELECT l.* FROM links l WHERE l.group_id IN (SELECT value FROM json_each(?1))
             ORDER BY l.group_id, l.target",
        )
        .bind(json(&chunk))
        .fetch_all(&db.pool)
        .await?;
        for row in &rows {
            links.push(link_from(row)?);
        }
    }
    links.sort_by(|a, b| (&a.group_id, a.target.as_str()).cmp(&(&b.group_id, b.target.as_str())));
    Ok(links)
}

pub(super) async fn all_links(db: &SqliteStore) -> StoreResult<Vec<Link>> {
    let rows = sqlx::query("SELECT * FROM links ORDER BY group_id, target")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(link_from).collect()
}

/// Never turns `mis_linked` back on: a restore granted while a job held a stale copy wins.
pub(super) async fn save_link(db: &SqliteStore, l: &Link) -> StoreResult<()> {
    let mut conn = db.writer.acquire().await?;
    save_link_in(&mut conn, l).await
}

pub(super) async fn note_held_changes(
    db: &SqliteStore,
    group_id: &str,
    target: Target,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE links SET held_changes = 1, updated_at = ?3
         WHERE group_id = ?1 AND target = ?2 AND mis_linked = 1 AND state <> 'pending'",
    )
    .bind(group_id)
    .bind(target.as_str())
    .bind(now_ms())
    .execute(&db.writer)
    .await?;
    Ok(())
}
