//! The national import: a generated data set of 1,500 schools, 100,000 classes, 500,000 users and
//! 3,000,000 enrollments (2 teachers and 28 learners a class, 1–2 administrators a school, one
//! academic year, 2025-26), imported by the real release binary (`class-sync import PATH
//! --no-wait`) as OneRoster 1.1 CSV and as the equivalent JSON snapshot, on SQLite and on
//! PostgreSQL. For each backend × format, into a fresh store: the first import, the same data again
//! (unchanged), then a variant with 1% of the classes changed (a learner withdrawn and one added,
//! every other one renamed).
//!
//! ```text
//! cargo bench --bench import -- [--scale 1.0] [--schools N --classes N --users N --enrollments N]
//!     [--runs 1] [--backends sqlite,postgres] [--formats oneroster,json]
//!     [--database postgres://postgres@127.0.0.1:5432/postgres] [--data DIR] [--seed 2025]
//! cargo bench --bench import -- --scale 0.05 --runs 3        # a quick look
//! ```
//!
//! The set is generated deterministically from `--seed`, school by school, and written streaming to
//! a temporary directory (`dataset`, `write`); `--data DIR` writes it there instead and keeps it
//! (a later run with the same sizes and seed reuses it). Each store is new: a SQLite file in a
//! temporary directory, or a database `import_bench_…` made on the `--database` server and dropped
//! at the end (`pg`; an unreachable server skips the PostgreSQL runs with a loud line). The config
//! has `[microsoft]` (pointing nowhere: `--no-wait` never calls it) so that imports enqueue their
//! reconcile jobs, `[[years]]` 2025-26, and the binary runs with `--today 2025-10-01`.
//!
//! Each import is timed (wall clock, spawn to exit) and its peak RSS read from `wait4` (`child`).
//! The table gives seconds and peak RSS (medians over `--runs`), the binary's summary line, and the
//! goals: a first import within 60 s and 1 GiB, an unchanged one within 20 s. The outcome is
//! checked: the first import adds every class and enqueues one job a class; the unchanged one finds
//! every class unchanged and enqueues nothing; the 1% one finds exactly the changed classes changed
//! (their jobs are absorbed by the first import's, still queued: no worker runs). A wrong outcome
//! exits non-zero; a missed goal is only reported. Not a timed test: the numbers are for reading.

mod child;
mod dataset;
mod pg;
mod write;

use anyhow::{Context, bail};
use child::Measured;
use clap::Parser;
use dataset::Dims;
use std::path::{Path, PathBuf};
use std::time::Instant;

const TODAY: &str = "2025-10-01";
const FIRST_SECONDS: f64 = 60.0;
const FIRST_MIB: f64 = 1024.0;
const UNCHANGED_SECONDS: f64 = 20.0;

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
    /// Repeats of each backend × format (a fresh store each); the table shows medians.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// sqlite, postgres, or both (comma-separated).
    #[arg(long, default_value = "sqlite,postgres")]
    backends: String,
    /// oneroster, json, or both (comma-separated).
    #[arg(long, default_value = "oneroster,json")]
    formats: String,
    /// The PostgreSQL server to make fresh databases on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database: String,
    /// Keep the generated set in this directory (reused when sizes and seed match).
    #[arg(long)]
    data: Option<PathBuf>,
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    OneRoster,
    Json,
}

/// The three imports of one backend × format, in order.
const RUNS: [&str; 3] = ["first", "unchanged", "1% changed"];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dims = args.dims()?;
    let backends = list(&args.backends, |w| match w {
        "sqlite" => Some(Backend::Sqlite),
        "postgres" => Some(Backend::Postgres),
        _ => None,
    })?;
    let formats = list(&args.formats, |w| match w {
        "oneroster" => Some(Format::OneRoster),
        "json" => Some(Format::Json),
        _ => None,
    })?;
    let work = tempfile::Builder::new().prefix("import-bench-").tempdir()?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| work.path().join("data"));
    prepare(&dims, &data)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut rows: Vec<Row> = Vec::new();
    let mut ok = true;
    for backend in backends {
        for &format in &formats {
            let mut all: [Vec<Measured>; 3] = Default::default();
            for repeat in 0..args.runs {
                let dir = work
                    .path()
                    .join(format!("{backend:?}-{format:?}-{repeat}").to_lowercase());
                std::fs::create_dir_all(&dir)?;
                let db = match backend {
                    Backend::Sqlite => None,
                    Backend::Postgres => {
                        match rt.block_on(pg::FreshDatabase::create_with_prefix(
                            &args.database,
                            "import_bench",
                        )) {
                            Ok(db) => Some(db),
                            Err(e) => {
                                let line = format!(
                                    "!!! SKIPPED PostgreSQL: {e:#} — start PostgreSQL or pass --database URL"
                                );
                                println!("{line}");
                                eprintln!("{line}");
                                break;
                            }
                        }
                    }
                };
                let url = match &db {
                    Some(db) => db.url.clone(),
                    // Absolute: a relative `database_url` is taken from the working directory.
                    None => format!("sqlite://{}", dir.join("store.db").display()),
                };
                let config = dir.join("class-sync.toml");
                std::fs::write(&config, config_text(&url))?;
                for (i, run) in RUNS.iter().enumerate() {
                    let input = input_path(&data, format, i == 2);
                    let log = dir.join(format!("import-{i}.log"));
                    let m = child::import(&config, TODAY, &input, &log)?;
                    eprintln!(
                        "{backend:?} {format:?} #{} {run}: {:.1} s, {:.0} MiB: {}",
                        repeat + 1,
                        m.seconds,
                        m.peak_rss_kib as f64 / 1024.0,
                        m.line
                    );
                    if let Err(why) = check(&dims, i, &m.summary) {
                        eprintln!("WRONG: {backend:?} {format:?} {run}: {why}");
                        ok = false;
                    }
                    all[i].push(m);
                }
                drop(db);
            }
            for (i, ms) in all.into_iter().enumerate() {
                if !ms.is_empty() {
                    rows.push(Row::new(backend, format, i, ms));
                }
            }
        }
    }
    print_table(&dims, &args, &rows);
    if !ok {
        bail!("an import did not come out as expected (see WRONG above)");
    }
    Ok(())
}

fn list<T>(text: &str, parse: impl Fn(&str) -> Option<T>) -> anyhow::Result<Vec<T>> {
    text.split(',')
        .map(str::trim)
        .map(|w| parse(w).with_context(|| format!("unknown `{w}`")))
        .collect()
}

fn input_path(data: &Path, format: Format, changed: bool) -> PathBuf {
    let variant = if changed { "changed" } else { "base" };
    match format {
        Format::OneRoster => data.join(format!("oneroster-{variant}")),
        Format::Json => data.join(format!("snapshot-{variant}.json")),
    }
}

/// Writes the four inputs into `data` unless it already holds them for these sizes and seed.
fn prepare(d: &Dims, data: &Path) -> anyhow::Result<()> {
    let stamp = data.join("dims.txt");
    let want = format!("{d:?}\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        eprintln!("using the set in {}", data.display());
        return Ok(());
    }
    std::fs::create_dir_all(data)?;
    let _ = std::fs::remove_file(&stamp);
    let start = Instant::now();
    for changed in [false, true] {
        write::oneroster(d, changed, &input_path(data, Format::OneRoster, changed))?;
        write::json(d, changed, &input_path(data, Format::Json, changed))?;
    }
    std::fs::write(&stamp, want)?;
    let size = |p: PathBuf| -> u64 {
        match std::fs::read_dir(&p) {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum(),
            Err(_) => std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0),
        }
    };
    eprintln!(
        "generated {d:?} in {:.1} s into {}: OneRoster {:.0} MiB, JSON {:.0} MiB (each variant)",
        start.elapsed().as_secs_f64(),
        data.display(),
        size(input_path(data, Format::OneRoster, false)) as f64 / 1048576.0,
        size(input_path(data, Format::Json, false)) as f64 / 1048576.0,
    );
    Ok(())
}

fn config_text(url: &str) -> String {
    format!(
        r#"database_url = "{url}"

# Configured so that imports enqueue Teams work; --no-wait never calls it.
[microsoft]
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "00000000-0000-0000-0000-000000000000"
client_secret = "import-bench-not-a-secret"
login_url = "http://127.0.0.1:9"
graph_url = "http://127.0.0.1:9/v1.0"

[import]
default_targets = ["teams"]

[[years]]
name = "{year}"
new_groups_from = "2025-08-28"
mis_sync_cutoff = "2026-06-01"
archive_on = "2026-09-01"
"#,
        year = dataset::YEAR
    )
}

/// What run `i` must have said.
fn check(d: &Dims, i: usize, s: &child::Summary) -> Result<(), String> {
    let c = d.classes as u64;
    let changed = d.changed_classes() as u64;
    let want = match i {
        0 => child::Summary {
            added: c,
            jobs: c,
            ..Default::default()
        },
        1 => child::Summary {
            unchanged: c,
            ..Default::default()
        },
        _ => child::Summary {
            changed,
            unchanged: c - changed,
            ..Default::default()
        },
    };
    if *s == want {
        Ok(())
    } else {
        Err(format!("expected {want:?}, got {s:?}"))
    }
}

struct Row {
    backend: Backend,
    format: Format,
    run: usize,
    seconds: f64,
    mib: f64,
    line: String,
    n: usize,
}

impl Row {
    fn new(backend: Backend, format: Format, run: usize, ms: Vec<Measured>) -> Row {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        Row {
            backend,
            format,
            run,
            seconds: median(ms.iter().map(|m| m.seconds).collect()),
            mib: median(ms.iter().map(|m| m.peak_rss_kib as f64 / 1024.0).collect()),
            line: ms.last().map(|m| m.line.clone()).unwrap_or_default(),
            n: ms.len(),
        }
    }

    /// Against the goals (CONTRACT scale, issue 10): "-" where none applies.
    fn goal(&self, full_scale: bool) -> String {
        let verdict = match self.run {
            0 => self.seconds <= FIRST_SECONDS && self.mib <= FIRST_MIB,
            1 => self.seconds <= UNCHANGED_SECONDS,
            _ => return "-".into(),
        };
        let v = if verdict { "pass" } else { "FAIL" };
        if full_scale {
            v.into()
        } else {
            format!("({v})")
        }
    }
}

fn print_table(d: &Dims, args: &Args, rows: &[Row]) {
    let full = d.classes >= 100_000 && d.enrollments >= 3_000_000;
    println!();
    println!(
        "import bench: {} schools, {} classes, {} users, {} enrollments; seed {}; medians of {} run(s)",
        d.schools, d.classes, d.users, d.enrollments, d.seed, args.runs
    );
    println!(
        "goals: first ≤ {FIRST_SECONDS:.0} s and ≤ {FIRST_MIB:.0} MiB; unchanged ≤ {UNCHANGED_SECONDS:.0} s{}",
        if full {
            ""
        } else {
            " (in parentheses: this is not the full national scale)"
        }
    );
    println!(
        "{:<9} {:<10} {:<11} {:>8} {:>9} {:>6}  summary (last run)",
        "backend", "format", "run", "seconds", "peak MiB", "goal"
    );
    for r in rows {
        println!(
            "{:<9} {:<10} {:<11} {:>8.1} {:>9.0} {:>6}  {}{}",
            format!("{:?}", r.backend).to_lowercase(),
            format!("{:?}", r.format).to_lowercase(),
            RUNS[r.run],
            r.seconds,
            r.mib,
            r.goal(full),
            r.line,
            if r.n == args.runs {
                String::new()
            } else {
                format!(" [{} runs]", r.n)
            }
        );
    }
}
