//! The year-end storm: N groups, each with a team and a course, archived by the nightly job against
//! the in-process mocks, with the documented quotas scaled so a run takes about `--seconds`, and the
//! mocks enforcing the same quotas. Teachers press Restore during the storm. Run twice: clean, then
//! with a share of requests failing (503s and connection resets).
//!
//! ```text
//! cargo bench --bench storm -- [--groups 20000] [--seconds 60] [--restores 20] [--fault-rate 0.03]
//!     [--concurrency 64] [--admins 3] [--runs clean,faults] [--calls-csv FILE]
//!     [--database postgres://postgres@127.0.0.1:5432/postgres --workers 3] [--readers 50]
//! ```
//!
//! Two modes:
//! - **single process** (the default): the store is SQLite and one worker runs in this process, as
//!   `work --until-idle` would (`single`).
//! - **several processes** (`--database URL`): a fresh database `storm_…` is made on that
//!   PostgreSQL server (dropped at the end), and `--workers W` processes of the real binary
//!   (`class-sync serve`) share it: W − 1 start with the storm, the last joins at a quarter of it
//!   and one of the first is killed (SIGKILL) at half of it. Restores are pressed through their HTTP
//!   API, round-robin over the live processes (`multi`, `children`, `pg`).
//!
//! `--readers N` (single process) runs N closed-loop readers on the store the worker is writing
//! while the storm runs (`readers`): the storm's rates must hold; their latencies are printed.
//!
//! `--admins N` sets the Classroom admins impersonated (`[google] admin_emails`); below three, the
//! per-user quota (1,200/min each) binds instead of the per-client one (3,000/min).
//!
//! Each run prints one table: per bucket (and per Classroom user) the achieved rate ÷ the quota
//! over the time the bucket was busy, 429s; the binding Classroom quota and the share of it reached;
//! requests inside a `Retry-After` window; restore latency; CPU time per remote call; peak RSS. It
//! checks that every link ends as expected with no duplicates and nothing lost, and exits non-zero
//! when not. Not a timed test: the numbers are for reading (quote medians of several runs).

mod children;
mod multi;
/// The import bench's fresh-database helper, with the storm's own prefix.
#[path = "../import/pg.rs"]
mod pg;
mod readers;
mod report;
mod setup;
mod single;

use anyhow::bail;
use clap::Parser;

#[derive(Parser, Debug, Clone)]
pub struct Args {
    /// Groups in the storm (each with a team and a course).
    #[arg(long, default_value_t = 20_000)]
    groups: usize,
    /// The storm's intended length: quotas are scaled so the Teams write bucket needs this long.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Restores pressed during the storm (half on each target, spread over its storm).
    #[arg(long, default_value_t = 20)]
    restores: usize,
    /// Share of requests failing in the faulty run.
    #[arg(long, default_value_t = 0.03)]
    fault_rate: f64,
    /// `[worker] concurrency` (slots per target).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Classroom admins impersonated (`[google] admin_emails`); each has its own per-user quota.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    admins: u32,
    /// Which runs: clean, faults, or both (comma-separated).
    #[arg(long, default_value = "clean,faults")]
    runs: String,
    /// A PostgreSQL server: run several worker processes on a fresh database there.
    #[arg(long)]
    database: Option<String>,
    /// Worker processes (`class-sync serve`) with `--database` (default 3).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
    workers: Option<u32>,
    /// Writes the mocks' call log of the (last) run to this CSV file: service, bucket, Classroom
    /// user, seconds since the first request, status. For looking at pacing request by request.
    #[arg(long)]
    calls_csv: Option<std::path::PathBuf>,
    /// Closed-loop readers of the same store during the storm (single process only; 0: none).
    #[arg(long, default_value_t = 0)]
    readers: usize,
    /// `cargo bench` passes `--bench`; accepted and ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.database.is_none() && args.workers.is_some() {
        bail!("--workers needs --database (the worker processes share a PostgreSQL store)");
    }
    if args.database.is_some() && args.readers > 0 {
        bail!("--readers runs with the single-process storm (without --database)");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut ok = true;
    for run in args.runs.split(',').map(str::trim) {
        let rate = match run {
            "clean" => 0.0,
            "faults" => args.fault_rate,
            other => bail!("unknown run `{other}` (clean, faults)"),
        };
        ok &= match &args.database {
            None => rt.block_on(single::storm(&args, rate))?,
            Some(url) => rt.block_on(multi::storm(&args, url, rate))?,
        };
    }
    if !ok {
        bail!("a storm did not end as expected");
    }
    Ok(())
}
