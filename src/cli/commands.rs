//! One function per command: run the action through `work`, print its summary, choose the exit
//! status. No business rule lives here.

use super::exit;
use super::progress::{finish, print_report, report_exit, wait_for, work_until_idle};
use super::status;
use crate::app::{App, Today};
use crate::config::Config;
use crate::core::domain::Target;
use crate::core::job::JobState;
use crate::core::snapshot::{ValidationContext, parse_snapshot, problem_count};
use crate::oneroster::{self, Format, Held, Roster, SetMode};
use crate::work::planner::{self, ArchiveRefusal, ImportSource, RestoreRefusal};
use crate::work::worker;
use anyhow::Context;
use chrono::NaiveDate;
use std::path::Path;
use std::sync::Arc;

/// `work`: with `until_idle` until nothing is queued or waiting to retry; otherwise a long-lived
/// worker that runs until SIGTERM or Ctrl-C, then hands unfinished jobs back.
pub async fn work(app: Arc<App>, until_idle: bool) -> anyhow::Result<u8> {
    if until_idle {
        let report = work_until_idle(&app).await?;
        return Ok(report_exit(&report));
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        crate::serve::shutdown_signal().await;
        let _ = stop.send(true);
    });
    let report = worker::run_service(app, worker::WorkerKind::Work, stopped).await?;
    print_report(&report);
    Ok(report_exit(&report))
}

/// `sync`: the operator's forced resync.
pub async fn sync(
    app: Arc<App>,
    schools: &[String],
    groups: &[String],
    target: Option<Target>,
    no_wait: bool,
    actor: &str,
) -> anyhow::Result<u8> {
    let s = planner::sync(&app, schools, groups, target, actor).await?;
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

/// `nightly`: the nightly run now; its outcome is recorded with the run.
pub async fn nightly(app: Arc<App>, no_wait: bool, actor: &str) -> anyhow::Result<u8> {
    let s = planner::nightly(&app, actor).await?;
    println!(
        "nightly {}: {} to archive, {} to create, {} to retry{}",
        app.today(),
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
        let summary = format!("{summary}; not waited for");
        app.store
            .finish_run(s.run_id, &summary, true, App::now_ms())
            .await?;
        return Ok(exit::OK);
    }
    let report = wait_for(&app, "nightly", &s.jobs).await?;
    let summary = format!(
        "{summary}; {} done, {} failed",
        report.done,
        report.failed.len()
    );
    app.store
        .finish_run(s.run_id, &summary, report.failed.is_empty(), App::now_ms())
        .await?;
    Ok(report_exit(&report))
}

/// `archive --year`: one year now, per school; before its date only with `--force`.
pub async fn archive(
    app: Arc<App>,
    year: &str,
    dry_run: bool,
    force: bool,
    no_wait: bool,
    actor: &str,
) -> anyhow::Result<u8> {
    let s = match planner::archive_year(&app, year, dry_run, force, actor).await {
        Ok(s) => s,
        Err(ArchiveRefusal::NotDue { year, archive_on }) => {
            eprintln!(
                "refused: {year} is not due for archiving until {archive_on}; use --force to archive it now"
            );
            return Ok(exit::CONFLICT);
        }
        Err(ArchiveRefusal::UnknownYear(y)) => {
            eprintln!("error: no [[years]] entry for {y} in the config");
            return Ok(exit::INVALID);
        }
        Err(ArchiveRefusal::Store(e)) => return Err(e.into()),
    };
    let verb = if dry_run {
        "would archive"
    } else {
        "archiving"
    };
    for (school, n) in &s.per_school {
        println!("{school}: {verb} {n}");
    }
    let left_alone = match s.skipped_unlinked {
        0 => String::new(),
        n => format!(" ({n} restored links left alone)"),
    };
    println!(
        "{}: {verb} {} links{left_alone}",
        s.year,
        s.per_school.values().sum::<u64>(),
    );
    if dry_run {
        return Ok(exit::OK);
    }
    finish(&app, no_wait, &s.jobs).await
}

/// `restore`: the Restore button pressed by `person`.
pub async fn restore(
    app: Arc<App>,
    group: &str,
    target: Target,
    person: &str,
    no_wait: bool,
) -> anyhow::Result<u8> {
    let accepted = match planner::restore(&app, group, target, person).await {
        Ok(accepted) => accepted,
        Err(RestoreRefusal::Forbidden(r)) => {
            eprintln!("forbidden: {r}");
            return Ok(exit::FORBIDDEN);
        }
        Err(RestoreRefusal::Conflict(r)) => {
            eprintln!("conflict: {r}");
            return Ok(exit::CONFLICT);
        }
        Err(RestoreRefusal::NotFound(r)) => {
            eprintln!("not found: {r}");
            return Ok(exit::NOT_FOUND);
        }
        Err(RestoreRefusal::Store(e)) => return Err(e.into()),
    };
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
        Some(j) if j.state == JobState::Done => {
            println!("{group} ({target}) restored; it is now MIS-unlinked for good");
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

/// `status`: overall, or one group's links.
pub async fn status(app: Arc<App>, group: Option<&str>, json: bool) -> anyhow::Result<u8> {
    match group {
        Some(id) => {
            let doc = crate::status::group(&*app.store, id).await?;
            status::print_group(id, doc.as_ref(), json)
        }
        None => {
            let doc = crate::status::overall(&*app.store, worker::status_query(&app, 20)).await?;
            status::print_overall(&doc, json)
        }
    }
}

/// `status --school ID`: one school's provisioning status; exit 5 for a school not known.
pub async fn school_status(app: Arc<App>, school: &str, json: bool) -> anyhow::Result<u8> {
    let staleness = crate::status::Staleness {
        today: app.today(),
        after_days: app.config.import.stale_after_days,
    };
    let doc = crate::status::school(&*app.store, school, staleness).await?;
    status::print_school(school, doc.as_ref(), staleness, json)
}

/// `serve`: refuses to start without both token files; runs until SIGTERM or Ctrl-C, then stops
/// gracefully. Without `--today` the calendar follows the London date day by day.
pub async fn serve(config: Config, fixed_today: Option<NaiveDate>) -> anyhow::Result<u8> {
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

/// `import`: validates the whole input first (every problem, then exit 2, nothing stored); stores
/// a valid snapshot or OneRoster set and waits for the work it implies. The format is told by
/// content: a folder or a zip is OneRoster 1.1 CSV, anything else JSON.
pub async fn import(
    config: Config,
    today: NaiveDate,
    path: &Path,
    dry_run: bool,
    no_wait: bool,
    actor: &str,
) -> anyhow::Result<u8> {
    let file = path.display().to_string();
    let format = match oneroster::detect(path) {
        Ok(format) => format,
        Err(e) => {
            eprintln!("{file}: cannot read: {e}");
            return Ok(exit::INVALID);
        }
    };
    if format != Format::Json {
        return import_oneroster(config, today, path, format, dry_run, no_wait, actor).await;
    }
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
            eprintln!(
                "{file}: {}; nothing was stored",
                problem_count(problems.len())
            );
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
    let source = ImportSource::new("json", Some(&file));
    let s = planner::import_from(&app, &snapshot, &source, actor).await?;
    print_import(&s);
    finish(&app, no_wait, &s.jobs).await
}

/// `import` of a OneRoster 1.1 CSV set (a folder or a zip). A delta is checked against the store
/// (its rows may name schools and groups an earlier import brought), so it opens the store first.
async fn import_oneroster(
    config: Config,
    today: NaiveDate,
    path: &Path,
    format: Format,
    dry_run: bool,
    no_wait: bool,
    actor: &str,
) -> anyhow::Result<u8> {
    let file = path.display().to_string();
    let years = config.year_names();
    let default_targets = config.import.default_targets.clone();
    let ctx = ValidationContext {
        configured_years: &years,
        default_targets: &default_targets,
    };
    let set = oneroster::open(path, format);
    let mode = set.mode();
    let mut app = None;
    let mut held = Held::default();
    if mode == Some(SetMode::Delta) {
        let opened = App::new(config.clone(), today).await?;
        held.schools = opened.store.school_ids().await?.into_iter().collect();
        held.groups = opened
            .store
            .groups()
            .await?
            .into_iter()
            .filter(|g| !g.withdrawn)
            .map(|g| g.group.id)
            .collect();
        app = Some(opened);
    }
    let roster = match set.read(&ctx, &held) {
        Ok(roster) => roster,
        Err(problems) => {
            for p in &problems {
                eprintln!("{}", p.render(&file));
            }
            eprintln!(
                "{file}: {}; nothing was stored",
                problem_count(problems.len())
            );
            return Ok(exit::INVALID);
        }
    };
    if dry_run {
        match &roster {
            Roster::Bulk(snapshot) => println!(
                "{file}: valid OneRoster bulk set ({} schools, {} groups); nothing stored (--dry-run)",
                snapshot.schools.len(),
                snapshot.groups.len()
            ),
            Roster::Delta(delta) => println!(
                "{file}: valid OneRoster delta ({} schools, {} groups changed, {} withdrawn); nothing stored (--dry-run)",
                delta.schools.len(),
                delta.groups.len(),
                delta.withdrawn.len()
            ),
        }
        return Ok(exit::OK);
    }
    let app = match app {
        Some(app) => app,
        None => App::new(config, today).await?,
    };
    let s = match &roster {
        Roster::Bulk(snapshot) => {
            let source = ImportSource::new("oneroster bulk", Some(&file));
            planner::import_from(&app, snapshot, &source, actor).await?
        }
        Roster::Delta(delta) => {
            let source = ImportSource::new("oneroster delta", Some(&file));
            planner::import_delta(&app, delta, &source, actor).await?
        }
    };
    print_import(&s);
    finish(&app, no_wait, &s.jobs).await
}

fn print_import(s: &planner::ImportSummary) {
    println!(
        "import ({}): {} added, {} changed, {} unchanged, {} withdrawn; {} jobs enqueued{}",
        s.source.format,
        s.added,
        s.changed,
        s.unchanged,
        s.withdrawn,
        s.enqueued,
        held_text(&s.held_back, "held back")
    );
}

fn held_text(held: &planner::HeldCounts, word: &str) -> String {
    if held.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = held.iter().map(|(why, n)| format!("{n} {why}")).collect();
    format!("; {word}: {}", parts.join(", "))
}

/// `store copy --to URL`: the configured store into an empty PostgreSQL store. A target that is
/// not PostgreSQL, unreachable or not empty is refused (exit 2) and left as it was.
pub async fn store_copy(config: &Config, to: &str) -> anyhow::Result<u8> {
    use crate::store::copy::{CopyError, copy_store};
    match copy_store(&config.database_url, to).await {
        Ok(copied) => {
            println!(
                "copied {} into {}: {copied}",
                crate::store::redacted(&config.database_url),
                crate::store::redacted(to)
            );
            println!(
                "workers are not copied: point serve/work at the new database_url and start them"
            );
            Ok(exit::OK)
        }
        Err(
            e @ (CopyError::TargetNotPostgres(_)
            | CopyError::TargetUnreachable { .. }
            | CopyError::TargetNotEmpty { .. }),
        ) => {
            eprintln!("error: {e}; nothing was copied");
            Ok(exit::INVALID)
        }
        Err(CopyError::Store(e)) => {
            Err(anyhow::Error::new(e).context("store copy failed; the target was left unchanged"))
        }
    }
}
