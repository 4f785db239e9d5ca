//! The read side at national scale: the import bench's national set (1,500 schools, 100,000
//! classes, 500,000 users, 3,000,000 enrollments; `--scale` shrinks it) written as a JSON snapshot
//! and imported by the release binary (`class-sync import FILE --no-wait`) into a fresh SQLite store
//! and a fresh PostgreSQL database; then `class-sync serve` (the release binary) on that store,
//! driven by `--clients` concurrent clients (closed loop: each sends its next request when the
//! last is answered) for `--seconds`, in a mix of the portal's and operators' reads:
//!
//! | kind | request | share |
//! |---|---|---:|
//! | teacher | `GET /v1/groups?as=<random teacher>` (View Groups, first page) | 35% |
//! | admin | `GET /v1/groups?as=<random school admin>&limit=100` | 20% |
//! | status | `GET /v1/status` | 10% |
//! | group | `GET /v1/groups/{id}` of a random class | 25% |
//! | schools | `GET /v1/schools?limit=100` | 10% |
//!
//! ```text
//! cargo bench --bench reads -- [--scale 1.0] [--schools N --classes N --users N --enrollments N]
//!     [--seconds 30] [--warmup 2] [--solo 5] [--clients 50] [--backends sqlite,postgres]
//!     [--graph silent|refused] [--analyze] [--keep]
//!     [--database postgres://postgres@127.0.0.1:5432/postgres] [--data DIR] [--seed 2025]
//! cargo bench --bench reads -- --scale 0.05 --seconds 10      # a quick look
//! ```
//!
//! The set is the import bench's (`#[path]`-shared `dataset`, `write`; `--data DIR` keeps and
//! reuses it); who teaches what and who administers which school are known from the same seeded
//! generator, so every answer is checked: 200, and the expected shape and counts (a teacher's
//! `total` is the number of classes they teach, an admin's the classes of their school, the status
//! counts one link a class, …). A non-200 or a wrong answer is an error: printed, and the bench
//! exits non-zero. The PostgreSQL database `reads_bench_…` is made and dropped as the import bench
//! does (`pg`; an unreachable server skips PostgreSQL with a loud line). The config has
//! `[microsoft]` pointing nowhere (the import enqueues one reconcile job a class; the links stay
//! pending): by default (`--graph silent`) at a port of the bench that accepts connections and never
//! answers, so `serve`'s worker claims its 64 jobs and waits out its request timeout, nearly idle;
//! `--graph refused` points at a closed port instead, so every job fails at once and is retried with
//! backoff (a worker busy writing to the store while the clients read);
//! `[api]` with token files, `[[years]]` 2025-26, `[schedule] nightly_at = "23:59"` (so that
//! `serve` does not catch up on today's nightly run while the clients read); every run uses
//! `--today 2025-10-01`.
//!
//! First one client alone for `--solo` seconds (default 5): each kind's latency without queueing
//! (the table's "alone" column). Then the load, measured per backend: count, p50, p99 and max
//! latency per kind (after `--warmup` seconds not
//! counted; latency includes the client's wait in the queue of its own requests, which on a
//! two-core machine running client, server and PostgreSQL together is part of the picture);
//! `serve`'s peak RSS (`VmHWM` from /proc, startup included), its peak PSS (SQLite maps the database
//! once per connection, so RSS counts a cached file page once per mapping; PSS counts it once) and
//! its RSS at the end, anonymous and file-backed; the wall time
//! of `class-sync status` against the same store (after `serve` stops; 3 runs, median). The table
//! gives the budgets (issue 11): teacher p99 ≤ 50 ms, admin first page p99 ≤ 100 ms, /v1/status
//! p99 ≤ 100 ms, one group p99 ≤ 20 ms, serve RSS ≤ 300 MiB, `class-sync status` ≤ 0.5 s. A missed
//! budget is reported, not an error. Not a timed test: the numbers are for reading.

#[allow(dead_code)]
#[path = "../import/child.rs"]
mod child;
#[allow(dead_code)]
#[path = "../import/dataset.rs"]
mod dataset;
mod load;
#[allow(dead_code)]
#[path = "../import/pg.rs"]
mod pg;
mod server;
#[allow(dead_code)]
#[path = "../import/write.rs"]
mod write;

use anyhow::{Context, bail};
use clap::Parser;
use dataset::{Dims, Role};
use load::{Kind, Known};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TODAY: &str = "2025-10-01";
const UMP_TOKEN: &str = "reads-bench-ump-token-2f81c6";
const OPERATOR_TOKEN: &str = "reads-bench-operator-token-94be07";
const RSS_BUDGET_MIB: f64 = 300.0;
const STATUS_BUDGET_S: f64 = 0.5;
const STATUS_RUNS: usize = 3;

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Multiplies the national sizes (schools, classes, users, enrollments).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    #[arg(long)]
    schools: Option<usize>,
    #[arg(long)]
    classes: Option<usize>,
    #[arg(long)]
    users: Option<usize>,
    #[arg(long)]
    enrollments: Option<usize>,
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// How long the clients run, after the warm-up.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Seconds of the same load before measuring (answers still checked, not timed).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds of one client alone first (after a second's warm-up): each kind's latency without
    /// queueing, the work of the request itself. 0 skips it.
    #[arg(long, default_value_t = 5.0)]
    solo: f64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// sqlite, postgres, or both (comma-separated).
    #[arg(long, default_value = "sqlite,postgres")]
    backends: String,
    /// The PostgreSQL server to make a fresh database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database: String,
    /// Keep the generated set in this directory (reused when sizes and seed match).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where `[microsoft]` points: `silent` (a port of this bench that accepts connections and
    /// never answers: serve's worker waits out its request timeout, nearly idle) or `refused`
    /// (nothing listens: every job fails at once and is retried with backoff, a busy worker).
    #[arg(long, default_value = "silent")]
    graph: String,
    /// Run `ANALYZE` on the PostgreSQL database after the import, before `serve` starts (with
    /// autovacuum off, or before its next round, a freshly imported store has no statistics).
    #[arg(long)]
    analyze: bool,
    /// Keep the run's directory (stores, configs, logs) and the PostgreSQL database instead of
    /// deleting them (for a look with sqlite3 or psql afterwards).
    #[arg(long)]
    keep: bool,
    /// `cargo bench` passes `--bench`; accepted and ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn dims(&self) -> anyhow::Result<Dims> {
        let n = |given: Option<usize>, national: usize| {
            given.unwrap_or(((national as f64) * self.scale).round().max(1.0) as usize)
        };
        let d = Dims {
            schools: n(self.schools, 1_500),
            classes: n(self.classes, 100_000),
            users: n(self.users, 500_000),
            enrollments: n(self.enrollments, 3_000_000),
            seed: self.seed,
        };
        if d.classes < d.schools || d.users < 3 * d.schools {
            bail!("need at least one class and three users per school: {d:?}");
        }
        Ok(d)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dims = args.dims()?;
    let backends: Vec<Backend> = args
        .backends
        .split(',')
        .map(str::trim)
        .map(|w| match w {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" => Ok(Backend::Postgres),
            _ => bail!("unknown backend `{w}`"),
        })
        .collect::<anyhow::Result<_>>()?;
    let graph = match args.graph.as_str() {
        "silent" => Some(server::Silent::start()?),
        "refused" => None,
        other => bail!("--graph is silent or refused, not `{other}`"),
    };
    let graph_base = match &graph {
        Some(g) => format!("http://127.0.0.1:{}", g.port),
        None => "http://127.0.0.1:9".to_string(),
    };
    let work = tempfile::Builder::new().prefix("reads-bench-").tempdir()?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| work.path().join("data"));
    let snapshot = prepare(&dims, &data)?;
    let started = Instant::now();
    let known = Arc::new(known(&dims));
    eprintln!(
        "known from the generator in {:.1} s: {} teachers, {} admins, {} classes, {} schools",
        started.elapsed().as_secs_f64(),
        known.teachers.len(),
        known.admins.len(),
        known.groups.len(),
        known.schools
    );
    // One thread for the clients: the other core is left to `serve` (and PostgreSQL).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    let mut errors = 0u64;
    for backend in backends {
        let dir = work.path().join(format!("{backend:?}").to_lowercase());
        std::fs::create_dir_all(&dir)?;
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => match rt.block_on(pg::FreshDatabase::create_with_prefix(
                &args.database,
                "reads_bench",
            )) {
                Ok(db) => Some(db),
                Err(e) => {
                    let line = format!(
                        "!!! SKIPPED PostgreSQL: {e:#} — start PostgreSQL or pass --database URL"
                    );
                    println!("{line}");
                    eprintln!("{line}");
                    continue;
                }
            },
        };
        let url = match &db {
            Some(db) => db.url.clone(),
            // Absolute: a relative `database_url` is taken from the working directory.
            None => format!("sqlite://{}", dir.join("store.db").display()),
        };
        let report = rt.block_on(run_backend(
            &args,
            &dims,
            &known,
            &snapshot,
            &dir,
            &url,
            &graph_base,
        ))?;
        errors += report.load.errors + report.solo.as_ref().map_or(0, |s| s.errors);
        report.print(backend, &dims, &args);
        reports.push((backend, report));
        match db {
            Some(db) if args.keep => {
                eprintln!("kept the PostgreSQL database {}", db.url);
                std::mem::forget(db);
            }
            db => drop(db),
        }
    }
    if reports.len() > 1 {
        println!();
        println!("all backends again:");
        for (backend, report) in &reports {
            report.print(*backend, &dims, &args);
        }
    }
    if args.keep {
        let kept = work.keep();
        eprintln!("kept {}", kept.display());
    }
    if errors > 0 {
        bail!("{errors} answer(s) were not 200 with the expected shape (see ERROR above)");
    }
    Ok(())
}

/// Writes the base JSON snapshot into `data` unless it is there for these sizes and seed.
fn prepare(d: &Dims, data: &Path) -> anyhow::Result<PathBuf> {
    let path = data.join("snapshot-base.json");
    let stamp = data.join("reads-dims.txt");
    let want = format!("{d:?}\n");
    if path.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        eprintln!("using {}", path.display());
        return Ok(path);
    }
    std::fs::create_dir_all(data)?;
    let _ = std::fs::remove_file(&stamp);
    let start = Instant::now();
    write::json(d, false, &path)?;
    std::fs::write(&stamp, want)?;
    eprintln!(
        "generated {d:?} in {:.1} s: {} ({:.0} MiB)",
        start.elapsed().as_secs_f64(),
        path.display(),
        std::fs::metadata(&path)?.len() as f64 / 1048576.0
    );
    Ok(path)
}

/// Who may see what, from the generator: every teacher with the classes they teach, every admin
/// with their school's classes, every class id.
fn known(d: &Dims) -> Known {
    let mut k = Known {
        schools: d.schools as u64,
        ..Known::default()
    };
    for s in 0..d.schools {
        let school = dataset::school(d, s, false);
        let mut teaches = vec![0u64; school.users.len()];
        for c in &school.classes {
            k.groups.push(c.sourced_id.clone());
            for e in c.enrollments.iter().filter(|e| e.role == Role::Teacher) {
                teaches[e.user] += 1;
            }
        }
        for (u, n) in teaches.iter().enumerate().filter(|(_, n)| **n > 0) {
            k.teachers.push((school.users[u].email(), *n));
        }
        for a in &school.admins {
            k.admins
                .push((school.users[*a].email(), school.classes.len() as u64));
        }
    }
    k
}

fn config_text(url: &str, port: u16, graph: &str) -> String {
    format!(
        r#"database_url = "{url}"

# Configured so that the import enqueues Teams work; nothing answers there (--graph), so the links
# stay pending.
[microsoft]
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "00000000-0000-0000-0000-000000000000"
client_secret = "reads-bench-not-a-secret"
login_url = "{graph}"
graph_url = "{graph}/v1.0"

[worker]
shutdown_grace_seconds = 1

[import]
default_targets = ["teams"]

# Not tonight's run: a serve started after nightly_at on an unclaimed (real, London) day would
# catch up at once and walk every link while the clients read.
[schedule]
nightly_at = "23:59"

[api]
listen = "127.0.0.1:{port}"
ump_token_file = "ump.token"
operator_token_file = "operator.token"

[[years]]
name = "{year}"
new_groups_from = "2025-08-28"
mis_sync_cutoff = "2026-06-01"
archive_on = "2026-09-01"
"#,
        year = dataset::YEAR
    )
}

/// What one backend measured.
struct Report {
    import_seconds: f64,
    load: load::Outcome,
    /// One client alone, before the load.
    solo: Option<load::Outcome>,
    rss: server::Rss,
    /// CPU seconds over the load (warm-up included): serve's, and this bench's (the clients).
    serve_cpu: f64,
    client_cpu: f64,
    status_seconds: Vec<f64>,
}

async fn run_backend(
    args: &Args,
    dims: &Dims,
    known: &Arc<Known>,
    snapshot: &Path,
    dir: &Path,
    url: &str,
    graph: &str,
) -> anyhow::Result<Report> {
    let london = chrono::Utc::now().with_timezone(&chrono_tz::Europe::London);
    if london.format("%H:%M").to_string().as_str() >= "23:55" {
        eprintln!(
            "!!! it is {} in London: serve's nightly run (23:59 here) may start during the load",
            london.format("%H:%M")
        );
    }
    let port = server::free_port()?;
    let config = dir.join("class-sync.toml");
    std::fs::write(&config, config_text(url, port, graph))?;
    std::fs::write(dir.join("ump.token"), UMP_TOKEN)?;
    std::fs::write(dir.join("operator.token"), OPERATOR_TOKEN)?;

    let m = tokio::task::block_in_place(|| {
        child::import(&config, TODAY, snapshot, &dir.join("import.log"))
    })?;
    eprintln!(
        "imported in {:.1} s ({:.0} MiB peak): {}",
        m.seconds,
        m.peak_rss_kib as f64 / 1024.0,
        m.line
    );
    let want = child::Summary {
        added: dims.classes as u64,
        jobs: dims.classes as u64,
        ..Default::default()
    };
    if m.summary != want {
        bail!("the import said {:?}, expected {want:?}", m.summary);
    }

    if args.analyze && url.starts_with("postgres") {
        use sqlx::{Connection, Executor};
        let start = Instant::now();
        let mut conn = sqlx::PgConnection::connect(url).await?;
        conn.execute("ANALYZE").await?;
        conn.close().await?;
        eprintln!("ANALYZE in {:.1} s", start.elapsed().as_secs_f64());
    }
    let mut serve = server::Serve::start(&config, TODAY, port, &dir.join("serve.log"))?;
    let ready = Instant::now();
    serve.wait_ready(Duration::from_secs(120)).await?;
    eprintln!(
        "serve (pid {}) answered /healthz after {:.1} s",
        serve.pid,
        ready.elapsed().as_secs_f64()
    );
    let rss = server::RssWatch::start(serve.pid);
    let solo = if args.solo > 0.0 {
        Some(
            load::run(load::Plan {
                base: serve.base.clone(),
                token: UMP_TOKEN.to_string(),
                clients: 1,
                warmup: Duration::from_secs(1),
                measure: Duration::from_secs_f64(args.solo),
                known: known.clone(),
                today: TODAY,
                year: dataset::YEAR,
                seed: args.seed ^ 1,
            })
            .await?,
        )
    } else {
        None
    };
    let pid = serve.pid.to_string();
    let cpu0 = (server::cpu_seconds(&pid), server::cpu_seconds("self"));
    let outcome = load::run(load::Plan {
        base: serve.base.clone(),
        token: UMP_TOKEN.to_string(),
        clients: args.clients,
        warmup: Duration::from_secs_f64(args.warmup),
        measure: Duration::from_secs_f64(args.seconds),
        known: known.clone(),
        today: TODAY,
        year: dataset::YEAR,
        seed: args.seed,
    })
    .await;
    let rss = rss.stop().await;
    let (serve_cpu, client_cpu) = (
        server::cpu_seconds(&pid) - cpu0.0,
        server::cpu_seconds("self") - cpu0.1,
    );
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}", serve.tail(30));
            return Err(e);
        }
    };
    if serve.exited()? {
        eprintln!("{}", serve.tail(30));
        bail!("serve exited during the load");
    }
    serve.stop(Duration::from_secs(30)).await?;

    let mut status_seconds = Vec::new();
    for i in 0..STATUS_RUNS {
        let log = dir.join(format!("status-{i}.log"));
        let s = tokio::task::block_in_place(|| server::time_status(&config, TODAY, &log))
            .with_context(|| format!("class-sync status, run {}", i + 1))?;
        status_seconds.push(s);
    }
    eprintln!("class-sync status: {status_seconds:.3?} s");
    Ok(Report {
        import_seconds: m.seconds,
        load: outcome,
        solo,
        rss,
        serve_cpu,
        client_cpu,
        status_seconds,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn verdict(pass: bool, full: bool) -> String {
    let v = if pass { "PASS" } else { "FAIL" };
    if full { v.into() } else { format!("({v})") }
}

impl Report {
    fn print(&self, backend: Backend, d: &Dims, args: &Args) {
        let full = d.classes >= 100_000 && d.enrollments >= 3_000_000;
        let l = &self.load;
        println!();
        println!(
            "reads bench, {}: {} schools, {} classes, {} users, {} enrollments; {} clients for {:.0} s \
             (after {:.0} s warm-up); import {:.1} s",
            format!("{backend:?}").to_lowercase(),
            d.schools,
            d.classes,
            d.users,
            d.enrollments,
            args.clients,
            l.seconds,
            args.warmup,
            self.import_seconds
        );
        if !full {
            println!("(verdicts in parentheses: this is not the full national scale)");
        }
        println!(
            "{:<10} {:>8} {:>7} {:>9} {:>9} {:>9} {:>12}  {:<7} {:>15}",
            "kind",
            "count",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "budget p99",
            "verdict",
            "alone p50/p99"
        );
        for kind in Kind::ALL {
            let s = l.stats(kind);
            let (budget, v) = match kind.budget_ms() {
                Some(b) => (format!("≤ {b:.0} ms"), verdict(s.p99_ms <= b, full)),
                None => ("-".to_string(), "-".to_string()),
            };
            let alone = match &self.solo {
                Some(solo) => {
                    let a = solo.stats(kind);
                    format!("{:.1}/{:.1}", a.p50_ms, a.p99_ms)
                }
                None => "-".into(),
            };
            println!(
                "{:<10} {:>8} {:>7.0} {:>9.1} {:>9.1} {:>9.1} {:>12}  {:<7} {:>15}",
                kind.label(),
                s.count,
                s.count as f64 / l.seconds,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                budget,
                v,
                alone
            );
        }
        let all = l.total();
        println!(
            "{:<10} {:>8} {:>7.0}   errors: {}",
            "all",
            all,
            all as f64 / l.seconds,
            l.errors
        );
        let span = l.seconds + args.warmup;
        println!(
            "CPU over the {span:.0} s of load: serve {:.1} s ({:.2} cores), clients {:.1} s ({:.2} cores)",
            self.serve_cpu,
            self.serve_cpu / span,
            self.client_cpu,
            self.client_cpu / span
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        let peak = mib(self.rss.peak_kib);
        println!(
            "serve RSS: peak {:.0} MiB (peak PSS {:.0} MiB); at the end {:.0} MiB ({:.0} anonymous, \
             {:.0} file-backed); budget ≤ {RSS_BUDGET_MIB:.0} MiB (peak RSS): {}",
            peak,
            mib(self.rss.peak_pss_kib),
            mib(self.rss.end_kib),
            mib(self.rss.end_anon_kib),
            mib(self.rss.end_file_kib),
            verdict(peak <= RSS_BUDGET_MIB, full)
        );
        let status = median(self.status_seconds.clone());
        println!(
            "class-sync status: median {:.3} s of {:.3?}; budget ≤ {STATUS_BUDGET_S} s: {}",
            status,
            self.status_seconds,
            verdict(status <= STATUS_BUDGET_S, full)
        );
    }
}
