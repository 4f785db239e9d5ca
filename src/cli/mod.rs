//! The command line of CONTRACT §5: parsing, waiting with a progress bar, printing, exit statuses.

use crate::app::{App, Today, today_in_london};
use crate::config::Config;
use crate::core::domain::Target;
use crate::core::snapshot::{ValidationContext, parse_snapshot};
use crate::work::planner::{self, ArchiveRefusal, RestoreRefusal};
use crate::work::worker::{self, WorkReport};
use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

mod status;

/// Exit statuses (CONTRACT §5).
pub mod exit {
    pub const OK: u8 = 0;
    pub const JOBS_FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
    pub const FORBIDDEN: u8 = 3;
    pub const CONFLICT: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
}

#[derive(Parser, Debug)]
#[command(
    name = "class-sync",
    version,
    about = "Keeps school class groups in Microsoft Teams and Google Classroom in step with the UMP"
)]
pub struct Cli {
    /// Configuration file (default ./class-sync.toml; built-in defaults when it does not exist).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The date every calendar rule uses (default: today in Europe/London).
    #[arg(long, global = true, env = "CLASS_SYNC_TODAY", value_parser = parse_date)]
    pub today: Option<NaiveDate>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a UMP snapshot, store it and enqueue the work it implies.
    Import {
        path: PathBuf,
        /// Validate only; store nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        no_wait: bool,
    },
    /// Run the worker (until SIGTERM, or with --until-idle until the queue is empty).
    Work {
        /// Stop when nothing is queued or waiting to retry.
        #[arg(long)]
        until_idle: bool,
    },
    /// Operator's forced resync of schools or groups (all when none is named).
    Sync {
        #[arg(long = "school")]
        schools: Vec<String>,
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long, value_parser = parse_target)]
        target: Option<Target>,
        #[arg(long)]
        no_wait: bool,
    },
    /// The nightly job: archive what is due, create what may now be created.
    Nightly {
        #[arg(long)]
        no_wait: bool,
    },
    /// Archive one academic year now.
    Archive {
        #[arg(long)]
        year: String,
        #[arg(long)]
        dry_run: bool,
        /// Archive before the year's archive_on date.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        no_wait: bool,
    },
    /// The Restore button: un-archive one group's team or course, as a named person.
    Restore {
        group: String,
        #[arg(long, value_parser = parse_target)]
        target: Target,
        /// The person who pressed Restore.
        #[arg(long = "as")]
        actor: String,
        #[arg(long)]
        no_wait: bool,
    },
    /// Links by year and state, the queue, the last nightly run; or one group's links.
    Status {
        group: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// HTTP API, worker and nightly scheduler.
    Serve,
    /// The whole year on the built-in mocks and a temporary store, narrated.
    Demo,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date of the form YYYY-MM-DD"))
}

fn parse_target(s: &str) -> Result<Target, String> {
    s.parse()
}

/// Loads the configuration the way CONTRACT §5 says: the named file, else ./class-sync.toml if it exists, else defaults.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, crate::config::ConfigError> {
    match path {
        Some(p) => Config::load(p),
        None => {
            let default = PathBuf::from("class-sync.toml");
            if default.exists() {
                Config::load(&default)
            } else {
                Ok(Config::builtin())
            }
        }
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    match run_inner(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::JOBS_FAILED)
        }
    }
}

async fn run_inner(cli: Cli) -> anyhow::Result<u8> {
    let fixed_today = cli.today;
    let today = cli.today.unwrap_or_else(today_in_london);
    if let Command::Demo = cli.command {
        return crate::demo::run().await;
    }
    let config = match load_config(cli.config.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let actor = std::env::var("USER")
        .map(|u| format!("operator:{u}"))
        .unwrap_or_else(|_| "operator".into());
    match cli.command {
        Command::Import {
            path,
            dry_run,
            no_wait,
        } => import(config, today, &path, dry_run, no_wait, &actor).await,
        Command::Work { until_idle } => {
            let app = App::new(config, today).await?;
            if until_idle {
                let report = work_until_idle(&app).await?;
                return Ok(report_exit(&report));
            }
            // A long-lived worker: runs until SIGTERM or Ctrl-C, then hands unfinished jobs back.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                crate::serve::shutdown_signal().await;
                let _ = stop.send(true);
            });
            let report = worker::run_service(app, worker::WorkerKind::Work, stopped).await?;
            print_report(&report);
            Ok(report_exit(&report))
        }
        Command::Sync {
            schools,
            groups,
            target,
            no_wait,
        } => {
            let app = App::new(config, today).await?;
            let s = planner::sync(&app, &schools, &groups, target, &actor).await?;
            for id in &s.unknown_schools {
                eprintln!("warning: unknown school `{id}`");
            }
            for id in &s.unknown_groups {
                eprintln!("warning: unknown group `{id}`");
            }
            println!(
                "sync: {} links enqueued{}",
                s.enqueued,
                held_text(&s.skipped, "skipped")
            );
            finish(&app, no_wait, &s.jobs).await
        }
        Command::Nightly { no_wait } => {
            let app = App::new(config, today).await?;
            let s = planner::nightly(&app, &actor).await?;
            println!(
                "nightly {today}: {} to archive, {} to create, {} to retry{}",
                s.archive_enqueued,
                s.create_enqueued,
                s.retry_enqueued,
                held_text(&s.skipped, "skipped")
            );
            let summary = format!(
                "archive {}, create {}, retry {}",
                s.archive_enqueued, s.create_enqueued, s.retry_enqueued
            );
            if no_wait {
                app.store
                    .finish_run(
                        s.run_id,
                        &format!("{summary}; not waited for"),
                        true,
                        App::now_ms(),
                    )
                    .await?;
                return Ok(exit::OK);
            }
            let report = wait_for(&app, "nightly", &s.jobs).await?;
            let ok = report.failed.is_empty();
            app.store
                .finish_run(
                    s.run_id,
                    &format!(
                        "{summary}; {} done, {} failed",
                        report.done,
                        report.failed.len()
                    ),
                    ok,
                    App::now_ms(),
                )
                .await?;
            Ok(report_exit(&report))
        }
        Command::Archive {
            year,
            dry_run,
            force,
            no_wait,
        } => {
            let app = App::new(config, today).await?;
            match planner::archive_year(&app, &year, dry_run, force, &actor).await {
                Ok(s) => {
                    let verb = if dry_run {
                        "would archive"
                    } else {
                        "archiving"
                    };
                    for (school, n) in &s.per_school {
                        println!("{school}: {verb} {n}");
                    }
                    println!(
                        "{}: {verb} {} links{}",
                        s.year,
                        s.per_school.values().sum::<u64>(),
                        if s.skipped_unlinked > 0 {
                            format!(" ({} restored links left alone)", s.skipped_unlinked)
                        } else {
                            String::new()
                        }
                    );
                    if dry_run {
                        Ok(exit::OK)
                    } else {
                        finish(&app, no_wait, &s.jobs).await
                    }
                }
                Err(ArchiveRefusal::NotDue { year, archive_on }) => {
                    eprintln!(
                        "refused: {year} is not due for archiving until {archive_on}; use --force to archive it now"
                    );
                    Ok(exit::CONFLICT)
                }
                Err(ArchiveRefusal::UnknownYear(y)) => {
                    eprintln!("error: no [[years]] entry for {y} in the config");
                    Ok(exit::INVALID)
                }
                Err(ArchiveRefusal::Store(e)) => Err(e.into()),
            }
        }
        Command::Restore {
            group,
            target,
            actor: person,
            no_wait,
        } => {
            let app = App::new(config, today).await?;
            match planner::restore(&app, &group, target, &person).await {
                Ok(accepted) => {
                    println!(
                        "restore of {group} ({target}) accepted as job {}{}",
                        accepted.job,
                        if accepted.new {
                            ""
                        } else {
                            " (already pending)"
                        }
                    );
                    if no_wait {
                        return Ok(exit::OK);
                    }
                    wait_for(&app, "restore", &[accepted.job]).await?;
                    match app.store.job(accepted.job).await? {
                        Some(j) if j.state == crate::core::job::JobState::Done => {
                            println!(
                                "{group} ({target}) restored; it is now MIS-unlinked for good"
                            );
                            Ok(exit::OK)
                        }
                        Some(j) => {
                            eprintln!(
                                "restore job {} is {}: {}",
                                j.id,
                                j.state,
                                j.last_error.unwrap_or_default()
                            );
                            Ok(exit::JOBS_FAILED)
                        }
                        None => Ok(exit::JOBS_FAILED),
                    }
                }
                Err(RestoreRefusal::Forbidden(r)) => {
                    eprintln!("forbidden: {r}");
                    Ok(exit::FORBIDDEN)
                }
                Err(RestoreRefusal::Conflict(r)) => {
                    eprintln!("conflict: {r}");
                    Ok(exit::CONFLICT)
                }
                Err(RestoreRefusal::NotFound(r)) => {
                    eprintln!("not found: {r}");
                    Ok(exit::NOT_FOUND)
                }
                Err(RestoreRefusal::Store(e)) => Err(e.into()),
            }
        }
        Command::Status { group, json } => {
            let app = App::new(config, today).await?;
            match group {
                Some(id) => {
                    let doc = crate::status::group(&*app.store, &id).await?;
                    status::print_group(&id, doc.as_ref(), json)
                }
                None => {
                    let doc =
                        crate::status::overall(&*app.store, worker::status_query(&app, 20)).await?;
                    status::print_overall(&doc, json)
                }
            }
        }
        Command::Serve => serve(config, fixed_today).await,
        Command::Demo => unreachable!("handled above"),
    }
}

/// `serve`: refuses to start without both token files; runs until SIGTERM or Ctrl-C, then stops
/// gracefully. Without `--today` the calendar follows the London date day by day.
async fn serve(config: Config, fixed_today: Option<NaiveDate>) -> anyhow::Result<u8> {
    let tokens = match config.api.read_tokens() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let today = fixed_today.map(Today::Fixed).unwrap_or(Today::London);
    let app = App::open(config, today).await?;
    let listen = app.config.api.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("[api] listen: cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    let report = crate::serve::run(
        app,
        tokens,
        listener,
        Arc::new(crate::work::scheduler::SystemClock),
        crate::serve::shutdown_signal(),
    )
    .await?;
    eprintln!(
        "serve stopped: {} jobs done, {} failed while it ran",
        report.done,
        report.failed.len()
    );
    Ok(exit::OK)
}

async fn import(
    config: Config,
    today: NaiveDate,
    path: &PathBuf,
    dry_run: bool,
    no_wait: bool,
    actor: &str,
) -> anyhow::Result<u8> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: cannot read: {e}");
            return Ok(exit::INVALID);
        }
    };
    let years = config.year_names();
    let ctx = ValidationContext {
        configured_years: &years,
        default_targets: &config.import.default_targets,
    };
    let snapshot = match parse_snapshot(&text, &ctx) {
        Ok(s) => s,
        Err(problems) => {
            for p in &problems {
                eprintln!("{}", p.render(&file));
            }
            eprintln!("{file}: {} problem(s); nothing was stored", problems.len());
            return Ok(exit::INVALID);
        }
    };
    if dry_run {
        println!(
            "{file}: valid ({} schools, {} groups); nothing stored (--dry-run)",
            snapshot.schools.len(),
            snapshot.groups.len()
        );
        return Ok(exit::OK);
    }
    let app = App::new(config, today).await?;
    let s = planner::import(&app, &snapshot, actor).await?;
    println!(
        "import: {} added, {} changed, {} unchanged, {} withdrawn; {} jobs enqueued{}",
        s.added,
        s.changed,
        s.unchanged,
        s.withdrawn,
        s.enqueued,
        held_text(&s.held_back, "held back")
    );
    finish(&app, no_wait, &s.jobs).await
}

fn held_text(held: &planner::HeldCounts, word: &str) -> String {
    if held.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = held.iter().map(|(why, n)| format!("{n} {why}")).collect();
    format!("; {word}: {}", parts.join(", "))
}

async fn finish(app: &Arc<App>, no_wait: bool, jobs: &[i64]) -> anyhow::Result<u8> {
    if no_wait {
        return Ok(exit::OK);
    }
    let report = wait_for(app, "working", jobs).await?;
    Ok(report_exit(&report))
}

/// A spinner on a terminal, nothing otherwise.
fn spinner(label: &'static str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_message(label);
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    })
}

/// `work --until-idle`: this process is the worker, until nothing is queued or waiting to retry.
async fn work_until_idle(app: &Arc<App>) -> anyhow::Result<WorkReport> {
    let bar = spinner("work");
    let progress: Option<worker::Progress> = bar.clone().map(|b| {
        Arc::new(move |finished: u64, pending: u64| {
            b.set_message(format!("work: {finished} finished, {pending} pending"));
        }) as worker::Progress
    });
    let report = worker::run_until_idle(app.clone(), progress).await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print_report(&report);
    Ok(report)
}

/// Waits until `jobs` (the ones this command enqueued or found waiting) have ended, and lists the
/// failed ones. A live worker (a running `serve` or `work`) does them if there is one, so two
/// workers never compete for one quota; otherwise this process works the queue (most urgent
/// first) until they have ended. A Restore or a resync never waits for a whole night's storm.
pub async fn wait_for(
    app: &Arc<App>,
    label: &'static str,
    jobs: &[i64],
) -> anyhow::Result<WorkReport> {
    use crate::core::job::JobState;
    async fn pending(app: &App, jobs: &[i64]) -> anyhow::Result<u64> {
        Ok(app
            .store
            .job_states(jobs)
            .await?
            .into_iter()
            .filter(|(s, _)| matches!(s, JobState::Queued | JobState::Running))
            .map(|(_, n)| n)
            .sum())
    }
    let bar = spinner(label);
    let show = |left: u64| {
        if let Some(b) = &bar {
            b.set_message(format!("{label}: {left} of {} jobs to go", jobs.len()));
        }
    };
    let mut report = WorkReport::default();
    let mut told = false;
    loop {
        let left = pending(app, jobs).await?;
        show(left);
        if left == 0 {
            break;
        }
        if let Some(w) = worker::live_worker(app, None).await? {
            if !told {
                eprintln!(
                    "a {} worker (pid {}) is running: it does the work; waiting for this command's jobs",
                    w.kind, w.pid
                );
                told = true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watch = {
            let (app, jobs) = (app.clone(), jobs.to_vec());
            tokio::spawn(async move {
                while pending(&app, &jobs).await.map_or(true, |n| n > 0) {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                let _ = stop.send(true);
            })
        };
        let ran = worker::run_service(app.clone(), worker::WorkerKind::Command, stopped).await;
        watch.abort();
        report.retried += ran?.retried;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    report.failed = app.store.failed_among(jobs).await?;
    report.done = app
        .store
        .job_states(jobs)
        .await?
        .into_iter()
        .filter(|(s, _)| *s == JobState::Done)
        .map(|(_, n)| n)
        .sum();
    print_report(&report);
    Ok(report)
}

/// What a worker did, with every failed job.
fn print_report(report: &WorkReport) {
    println!(
        "work: {} done, {} skipped, {} retried, {} failed",
        report.done,
        report.skipped,
        report.retried,
        report.failed.len()
    );
    for j in &report.failed {
        println!(
            "  failed: job {} {} {} ({}): {}",
            j.id,
            j.kind.as_str(),
            j.group_id,
            j.target,
            j.last_error.as_deref().unwrap_or("")
        );
    }
}

fn report_exit(r: &WorkReport) -> u8 {
    if r.failed.is_empty() {
        exit::OK
    } else {
        exit::JOBS_FAILED
    }
}
