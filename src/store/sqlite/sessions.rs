//! The web console's sign-ins in flight and sessions in Sqlite: kept, taken once, expired. Owns the
//! row mapping of `console_sign_ins` and `console_sessions`.

use super::SqliteStore;
use crate::store::{ConsoleSession, PendingSignIn, StoreResult};
use sqlx::Row;

pub(super) async fn put_sign_in(db: &SqliteStore, s: &PendingSignIn, now: i64) -> StoreResult<()> {
    let mut tx = db.writer.begin().await?;
    sqlx::query("DELETE FROM console_sign_ins WHERE expires_at < ?1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO console_sign_ins (state, nonce, verifier, return_to, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&s.state)
    .bind(&s.nonce)
    .bind(&s.verifier)
    .bind(&s.return_to)
    .bind(s.expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn take_sign_in(
    db: &SqliteStore,
    state: &str,
    now: i64,
) -> StoreResult<Option<PendingSignIn>> {
    // One statement deletes and answers: two returns with the same state cannot both have it.
    let row = sqlx::query(
        "DELETE FROM console_sign_ins WHERE state = ?1
         RETURNING state, nonce, verifier, return_to, expires_at",
    )
    .bind(state)
    .fetch_optional(&db.writer)
    .await?;
    Ok(row
        .map(|r| PendingSignIn {
            state: r.get("state"),
            nonce: r.get("nonce"),
            verifier: r.get("verifier"),
            return_to: r.get("return_to"),
            expires_at: r.get("expires_at"),
        })
        .filter(|s| s.expires_at >= now))
}

pub(super) async fn put_session(db: &SqliteStore, s: &ConsoleSession, now: i64) -> StoreResult<()> {
    let mut tx = db.writer.begin().await?;
    sqlx::query("DELETE FROM console_sessions WHERE expires_at < ?1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO console_sessions (id_hash, person, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&s.id_hash)
    .bind(&s.person)
    .bind(&s.csrf)
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn session(
    db: &SqliteStore,
    id_hash: &str,
    now: i64,
) -> StoreResult<Option<ConsoleSession>> {
    let row = sqlx::query(
        "SELECT id_hash, person, csrf, created_at, expires_at FROM console_sessions
         WHERE id_hash = ?1 AND expires_at >= ?2",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| ConsoleSession {
        id_hash: r.get("id_hash"),
        person: r.get("person"),
        csrf: r.get("csrf"),
        created_at: r.get("created_at"),
        expires_at: r.get("expires_at"),
    }))
}

pub(super) async fn end_session(db: &SqliteStore, id_hash: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM console_sessions WHERE id_hash = ?1")
        .bind(id_hash)
        .execute(&db.writer)
        .await?;
    Ok(())
}
