//! A fresh PostgreSQL database for one backend's imports, on the server `--database` names, dropped
//! when they end (or the bench panics). Databases left by a bench that died
//! (`import_bench_<unix seconds>_…`, more than an hour old) are dropped by the next run. The storm and
//! reads benches share this file, each with a prefix of its own (`create_with_prefix`).

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A database made for this bench; dropped (`WITH (FORCE)`, so connections of killed workers do
/// not keep it) when this goes.
pub struct FreshDatabase {
    server: String,
    pub name: String,
    /// The URL of the new database.
    pub url: String,
}

impl FreshDatabase {
    /// A database `{prefix}_<unix seconds>_…`; stale ones of the same prefix are dropped first.
    /// `prefix` is a bare SQL identifier (letters, digits, `_`).
    pub async fn create_with_prefix(server: &str, prefix: &str) -> anyhow::Result<FreshDatabase> {
        let shown = class_sync::store::redacted(server);
        let mut conn = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(server))
            .await
            .map_err(|_| anyhow::anyhow!("PostgreSQL at {shown}: no answer in 5 s"))?
            .with_context(|| format!("connecting to PostgreSQL at {shown}"))?;
        let secs = unix_secs();
        let pattern = format!("{}\\_%", prefix.replace('_', "\\_"));
        let stale: Vec<String> =
            sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
                .bind(pattern)
                .fetch_all(&mut conn)
                .await?;
        let own = format!("{prefix}_");
        for d in stale {
            let born = d
                .strip_prefix(own.as_str())
                .and_then(|r| r.split('_').next()?.parse::<u64>().ok());
            if born.is_some_and(|b| b + 3600 < secs) {
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {d} WITH (FORCE)"
                )))
                .await?;
            }
        }
        let name = format!(
            "{prefix}_{secs}_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .with_context(|| format!("CREATE DATABASE {name} on {shown}"))?;
        conn.close().await?;
        let mut url = url::Url::parse(server).context("--database is not a URL")?;
        url.set_path(&name);
        Ok(FreshDatabase {
            server: server.to_string(),
            url: url.to_string(),
            name,
        })
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        // Drop cannot await (and may run inside the bench's runtime): a thread of its own does it.
        let (server, sql) = (
            self.server.clone(),
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let mut conn = PgConnection::connect(&server).await?;
                conn.execute(sqlx::AssertSqlSafe(sql)).await?;
                conn.close().await
            })
        });
        match done.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("dropping the bench database {}: {e}", self.name),
            Err(_) => eprintln!("dropping the bench database {}: panicked", self.name),
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
