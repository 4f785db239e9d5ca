//! The multi-process storm (`--database URL --workers W`): a fresh PostgreSQL database, the mocks in
//! this process, and W worker processes of the real binary (`class-sync serve`) sharing the queue.
//!
//! The bench seeds the store and enqueues the nightly archive through its own `App` on the same
//! database (and claims tonight's and tomorrow's nightly runs in the store first, so no `serve`
//! process's scheduler starts one of its own). W − 1 workers start with the storm; the last joins at
//! a quarter of it; the first is killed (SIGKILL) at half of it, and its jobs are taken over once it
//! has missed three heartbeats. Teachers press Restore through the HTTP API of the serving processes
//! in turn; the latency runs from the press until the link reads Restored in the store, and the
//! job's row says which process ran it. When the queue is empty the rest are stopped with SIGTERM.

use crate::Args;
use crate::children::{Ended, Workers, free_port};
use crate::pg::FreshDatabase;
use crate::report::{self, Restored, RestoredMap};
use crate::setup::{self, OPERATION, POLL, Plan};
use anyhow::{Context, bail};
use class_sync::app::App;
use class_sync::config::Config;
use class_sync::core::domain::Target;
use class_sync::core::job::JobState;
use class_sync::core::link::{Link, LinkState};
use class_sync::demo::ARCHIVE_ON;
use class_sync::work::planner;
use serde_json::json;
use sqlx::{PgPool, Row};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The portal's bearer token the workers' APIs accept.
const UMP_TOKEN: &str = "storm-bench-ump-token-5c2e91";
const OPERATOR_TOKEN: &str = "storm-bench-operator-token-7a04d3";

pub async fn storm(args: &Args, server: &str, fault_rate: f64) -> anyhow::Result<bool> {
    let db = FreshDatabase::create_with_prefix(server, "storm").await?;
    let dir = tempfile::tempdir()?;
    // Dropped before `db` (declared after it): every worker is dead before its database goes.
    let mut workers = Workers::new(dir.path(), Instant::now());
    // Ctrl-C or SIGTERM ends the run here, so the workers are killed and the database dropped
    // (a signal's default action would end this process and leave them behind).
    let result = tokio::select! {
        r = run(args, &db, dir.path(), &mut workers, fault_rate) => r,
        signal = interrupted() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    let failed = !matches!(result, Ok(true));
    if failed {
        // Stop them first, so their logs are complete.
        let _ = workers.stop_all(Duration::from_secs(5)).await;
        eprintln!("\nThe worker processes' logs (last 40 lines each):");
        eprintln!("{}", workers.tails(40));
        drop(workers);
        let kept = dir.keep();
        eprintln!(
            "The run's directory (configs, logs) is kept: {}",
            kept.display()
        );
    }
    result
}

/// Resolves on Ctrl-C or SIGTERM, naming it.
async fn interrupted() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}

/// What each Restore press led to.
struct Press {
    group: String,
    target: Target,
    /// The worker whose API took the press.
    pressed_on: String,
    /// The worker id (`serve-PID-…`) that ran the job, from the job's row.
    ran_by: Option<String>,
    restored: Restored,
}

/// Things that happen at a time during the storm.
enum Event {
    Press(Target),
    Join,
    Kill,
}

async fn run(
    args: &Args,
    db: &FreshDatabase,
    dir: &Path,
    workers: &mut Workers,
    fault_rate: f64,
) -> anyhow::Result<bool> {
    let count = args.workers.unwrap_or(3) as usize;
    let plan = Plan::new(args);
    let mocks = plan.start_mocks(fault_rate).await?;
    let mut config = class_sync::demo::mock_config(&mocks, dir)?;
    plan.apply_limits(&mut config, args)?;
    config.database_url = db.url.clone();
    let base_text = std::fs::read_to_string(dir.join("class-sync.toml"))?;
    std::fs::write(dir.join("ump.token"), UMP_TOKEN)?;
    std::fs::write(dir.join("operator.token"), OPERATOR_TOKEN)?;

    let today = ARCHIVE_ON.parse()?;
    let app = App::new(config.clone(), today).await?;
    let pool = PgPool::connect(&db.url)
        .await
        .context("connecting to the storm database")?;

    // Set-up: the year's teams and courses exist, as class-sync made them in September.
    let snap = setup::snapshot(args.groups);
    class_sync::demo::seed_existing(&app, &mocks, &snap).await?;
    claim_nights(&app).await?;
    mocks.clear_calls();
    let cpu_before = report::cpu_time("self");

    // The storm: the archive jobs are enqueued, then the workers start.
    let started = Instant::now();
    let nightly = planner::nightly(&app, "bench").await?;
    let enqueue_time = started.elapsed();
    workers.start = Instant::now();
    let storm_start = workers.start;
    let first = count.saturating_sub(1).max(1);
    let spawn = |workers: &mut Workers, i: usize| -> anyhow::Result<usize> {
        let port = free_port()?;
        let path = write_config(dir, i, &base_text, &config, port, &plan, args)?;
        workers.spawn(&path, port, ARCHIVE_ON)
    };
    for i in 0..first {
        spawn(workers, i)?;
    }
    for i in 0..first {
        workers.wait_ready(i).await?;
    }

    // The timeline: restores as in the single-process run; with two workers or more, one joins at
    // a quarter of the storm and the first is killed at half of it.
    let planned = plan
        .storm_of(Target::Teams, args.groups)
        .max(plan.storm_of(Target::Classroom, args.groups));
    let mut events: Vec<(f64, Event)> = plan
        .restore_schedule(args)
        .into_iter()
        .map(|(at, t)| (at, Event::Press(t)))
        .collect();
    if count >= 2 {
        events.push((planned * 0.25, Event::Join));
        events.push((planned * 0.5, Event::Kill));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut presses = Vec::new();
    let mut takeover = None;
    let mut next_group: HashMap<Target, usize> = HashMap::new();
    let mut turn = 0usize;
    for (at, event) in events {
        tokio::time::sleep_until((storm_start + Duration::from_secs_f64(at)).into()).await;
        match event {
            Event::Join => {
                spawn(workers, count - 1)?;
            }
            Event::Kill => {
                workers.reap()?;
                if workers.list[0].live() {
                    workers.kill(0).await?;
                    takeover = Some(tokio::spawn(taken_over(
                        pool.clone(),
                        workers.list[0].pid,
                        Instant::now(),
                    )));
                }
            }
            Event::Press(target) => {
                // The earliest archived link of this target not yet restored.
                let mut pressed = None;
                let next = next_group.entry(target).or_default();
                while *next < snap.groups.len() {
                    let g = &snap.groups[*next];
                    *next += 1;
                    if let Some(l) = app.store.link(&g.id, target).await?
                        && l.state() == LinkState::Archived
                    {
                        pressed = Some((g.id.clone(), g.teachers[0].clone()));
                        break;
                    }
                }
                let Some((group, teacher)) = pressed else {
                    continue;
                };
                // The serving workers in turn, starting with this press's one.
                let serving = workers.serving();
                if serving.is_empty() {
                    bail!("no worker process serves its API at {at:.1} s");
                }
                let order: Vec<(String, String)> = (0..serving.len())
                    .map(|k| {
                        let w = &workers.list[serving[(turn + k) % serving.len()]];
                        (w.name.clone(), w.base.clone())
                    })
                    .collect();
                turn += 1;
                presses.push(tokio::spawn(press(
                    app.clone(),
                    pool.clone(),
                    http.clone(),
                    order,
                    group,
                    target,
                    teacher,
                )));
            }
        }
    }

    // Until the queue is empty: the killed worker's jobs come back once it has missed three beats.
    let deadline = storm_start + Duration::from_secs_f64((planned * 10.0).max(300.0));
    loop {
        workers.reap()?;
        let (pending, _) = app.store.pending_work().await?;
        if pending == 0 {
            break;
        }
        if workers.list.iter().all(|w| !w.live()) {
            bail!("every worker process has ended with {pending} jobs pending");
        }
        if Instant::now() > deadline {
            bail!(
                "{pending} jobs still pending after {:.0} s",
                deadline.duration_since(storm_start).as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let storm_time = storm_start.elapsed();
    let takeover = match takeover {
        Some(t) => Some(t.await??),
        None => None,
    };
    let mut done_presses = Vec::new();
    for p in presses {
        done_presses.push(p.await??);
    }
    let grace = config.worker.shutdown_grace_seconds;
    workers
        .stop_all(Duration::from_secs_f64(grace + 10.0))
        .await?;
    let cpu_bench = report::cpu_time("self") - cpu_before;

    // What the services saw; every link as expected, nothing duplicated, nothing lost.
    let calls = mocks.calls();
    if let Some(path) = &args.calls_csv {
        report::write_calls_csv(path, &calls)?;
    }
    let rows = report::buckets(&calls, &plan);
    let restored: RestoredMap = done_presses
        .iter()
        .map(|p| {
            (
                (p.group.clone(), p.target),
                Restored {
                    latency: p.restored.latency,
                    ok: p.restored.ok,
                },
            )
        })
        .collect();
    let links: Vec<Link> = app.store.all_links().await?;
    let mut problems = report::check_outcome(&links, &mocks, &restored, args.groups);
    let (pending, _) = app.store.pending_work().await?;
    let failed: u64 = app
        .store
        .job_counts()
        .await?
        .iter()
        .filter(|(_, state, _)| state == "failed")
        .map(|(_, _, n)| n)
        .sum();
    if pending > 0 || failed > 0 {
        problems.push(format!("{pending} jobs still pending, {failed} failed"));
    }
    for w in &workers.list {
        match &w.ended {
            Some(Ended::Exited { at, code }) => problems.push(format!(
                "{} exited on its own at {at:.1} s ({})",
                w.name,
                exit(*code)
            )),
            Some(Ended::Stopped { code, .. }) if *code != Some(0) => problems.push(format!(
                "{} did not stop cleanly on SIGTERM ({})",
                w.name,
                exit(*code)
            )),
            _ => {}
        }
    }

    // Which process did what: jobs done per worker id, worker ids to processes by pid.
    let done_by = done_per_worker(&pool).await?;
    let name_of = |worker_id: &str| -> String {
        pid_of(worker_id)
            .and_then(|pid| workers.by_pid(pid))
            .map(|w| w.name.clone())
            .unwrap_or_else(|| worker_id.to_string())
    };

    // The table.
    report::heading(args.groups, &plan, fault_rate, plan.admins.len());
    let killed = workers.list.iter().find_map(|w| match w.ended {
        Some(Ended::Killed { at }) => Some(at),
        _ => None,
    });
    let joined = (count >= 2).then(|| workers.list[count - 1].started_at);
    let mode = format!(
        "{count} worker process{} on PostgreSQL{}{}",
        if count == 1 { "" } else { "es" },
        killed
            .map(|at| format!(", one killed at {at:.1}s"))
            .unwrap_or_default(),
        joined
            .map(|at| format!(", one joined at {at:.1}s"))
            .unwrap_or_default(),
    );
    println!("{mode}");
    println!();
    report::print_buckets(&rows, &plan);
    let mut latencies: Vec<Duration> = done_presses.iter().map(|p| p.restored.latency).collect();
    latencies.sort();
    let elsewhere = done_presses
        .iter()
        .filter(|p| p.ran_by.as_deref().map(&name_of).as_deref() != Some(p.pressed_on.as_str()))
        .count();
    let mut measures = vec![
        (
            "jobs enqueued by the nightly run".to_string(),
            nightly.archive_enqueued.to_string(),
        ),
        (
            "enqueue time".into(),
            format!("{:.1} s", enqueue_time.as_secs_f64()),
        ),
        (
            "storm time (first worker start to empty queue)".into(),
            format!("{:.1} s", storm_time.as_secs_f64()),
        ),
        (
            "requests inside a Retry-After window".into(),
            mocks.retry_after_violations().to_string(),
        ),
        ("429s received".into(), mocks.throttled_count().to_string()),
        (
            "jobs retried (\"will retry\" in the workers' logs)".into(),
            workers.count_in_logs("will retry").to_string(),
        ),
        (
            "restores pressed mid-storm (HTTP, serving workers in turn)".into(),
            latencies.len().to_string(),
        ),
        (
            "restore latency p50 / p99 (press → link Restored)".into(),
            format!(
                "{} / {}",
                report::percentile(&latencies, 0.5),
                report::percentile(&latencies, 0.99)
            ),
        ),
        (
            "restores run by another process than the one pressed".into(),
            format!("{elsewhere} of {}", done_presses.len()),
        ),
        (
            "restores (pressed on → run by)".into(),
            done_presses
                .iter()
                .map(|p| {
                    format!(
                        "{}→{}",
                        p.pressed_on,
                        p.ran_by.as_deref().map(&name_of).unwrap_or("?".into())
                    )
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (
            "graph operation time (mock) + poll".into(),
            format!("{:.2} s + {POLL:.2} s", OPERATION.as_secs_f64()),
        ),
    ];
    if let Some((held, after)) = takeover {
        measures.push((
            "the killed worker's running jobs, all taken over".into(),
            format!("{held}, {after:.1} s after the kill"),
        ));
    }
    for w in &workers.list {
        let jobs: u64 = done_by
            .iter()
            .filter(|(id, _)| pid_of(id) == Some(w.pid))
            .map(|(_, n)| n)
            .sum();
        let end = match &w.ended {
            Some(Ended::Killed { at }) => format!("SIGKILL at {at:.1} s"),
            Some(Ended::Stopped { at, code }) => format!("SIGTERM at {at:.1} s, {}", exit(*code)),
            Some(Ended::Exited { at, code }) => {
                format!("exited by itself at {at:.1} s, {}", exit(*code))
            }
            None => "running".into(),
        };
        measures.push((
            format!("{} (pid {})", w.name, w.pid),
            format!(
                "started at {:.1} s, {end}; {jobs} jobs done; CPU {:.1} s; peak RSS {} MiB",
                w.started_at,
                w.cpu.as_secs_f64(),
                w.peak_rss_kib / 1024
            ),
        ));
    }
    let cpu_all = cpu_bench + workers.list.iter().map(|w| w.cpu).sum::<Duration>();
    measures.push((
        "CPU per remote call (workers + bench with the in-process mocks)".into(),
        format!(
            "{:.0} µs",
            cpu_all.as_secs_f64() * 1e6 / (calls.len() as f64).max(1.0)
        ),
    ));
    measures.push((
        "peak RSS (bench with the mocks)".into(),
        format!("{} MiB", report::peak_rss_kib("self") / 1024),
    ));
    report::print_measures(&measures, &problems);
    pool.close().await;
    Ok(problems.is_empty())
}

/// Presses Restore over HTTP on the first worker of `order` that answers (the next ones if it is
/// gone), then follows the link until it reads Restored (or the job failed).
async fn press(
    app: Arc<App>,
    pool: PgPool,
    http: reqwest::Client,
    order: Vec<(String, String)>,
    group: String,
    target: Target,
    teacher: String,
) -> anyhow::Result<Press> {
    let at = Instant::now();
    let mut answer = None;
    let mut errors = Vec::new();
    for (name, base) in &order {
        let sent = http
            .post(format!("{base}/v1/groups/{group}/restore"))
            .bearer_auth(UMP_TOKEN)
            .json(&json!({"target": target.as_str(), "requested_by": teacher}))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().as_u16() == 202 => {
                let body: serde_json::Value = r.json().await?;
                let job = body["job"].as_i64().context("202 names the job")?;
                answer = Some((name.clone(), job));
                break;
            }
            Ok(r) => {
                let status = r.status();
                bail!(
                    "restore of {group} {target} on {name}: {status} {}",
                    r.text().await.unwrap_or_default()
                );
            }
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    let Some((pressed_on, job)) = answer else {
        bail!(
            "no worker took the restore of {group} {target}: {}",
            errors.join("; ")
        );
    };
    let ok = loop {
        if let Some(l) = app.store.link(&group, target).await?
            && l.state() == LinkState::Restored
        {
            break true;
        }
        if let Some(j) = app.store.job(job).await?
            && j.state == JobState::Failed
        {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let latency = at.elapsed();
    let ran_by: Option<String> = sqlx::query_scalar("SELECT locked_by FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&pool)
        .await?;
    Ok(Press {
        group,
        target,
        pressed_on,
        ran_by,
        restored: Restored { latency, ok },
    })
}

/// How many jobs the killed worker `pid` held, and how long after `killed` no job is running
/// under it any more (the others took them over once it missed its beats).
async fn taken_over(pool: PgPool, pid: u32, killed: Instant) -> anyhow::Result<(i64, f64)> {
    let pattern = format!("serve-{pid}-%");
    let mut held = None;
    loop {
        let running: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND locked_by LIKE $1",
        )
        .bind(&pattern)
        .fetch_one(&pool)
        .await?;
        let held = *held.get_or_insert(running);
        if running == 0 {
            return Ok((held, killed.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Jobs done per worker id (the worker that ended a job is kept on its row).
async fn done_per_worker(pool: &PgPool) -> anyhow::Result<BTreeMap<String, u64>> {
    let rows = sqlx::query(
        "SELECT locked_by, COUNT(*) AS n FROM jobs WHERE state = 'done' AND locked_by IS NOT NULL GROUP BY locked_by",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<String, _>("locked_by"), r.get::<i64, _>("n") as u64))
        .collect())
}

/// An exit status for the table.
fn exit(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit {c}"),
        None => "ended by a signal".into(),
    }
}

/// The process id in a worker id (`serve-PID-UUID`).
fn pid_of(worker_id: &str) -> Option<u32> {
    worker_id.split('-').nth(1)?.parse().ok()
}

/// The bench enqueues tonight's archive itself: it claims the nightly run of today and tomorrow
/// (London days) in the store, settled, so the workers' schedulers leave those nights alone.
async fn claim_nights(app: &App) -> anyhow::Result<()> {
    let today = class_sync::work::scheduler::london_day(chrono::Utc::now());
    let now = App::now_ms();
    for day in [today, today + chrono::Duration::days(1)] {
        let day = day.to_string();
        app.store
            .claim_schedule("nightly", &day, "storm-bench", now, now - 600_000)
            .await?;
        app.store.settle_schedule("nightly", &day).await?;
    }
    Ok(())
}

/// Worker `i`'s config file: the bench's config (the mocks, the scaled limits, concurrency) on the
/// storm database, with its own `[api] listen` port and the token files. Read back and compared
/// with `expected`, so an edit that did not take is an error, not a silently different run.
fn write_config(
    dir: &Path,
    i: usize,
    base: &str,
    expected: &Config,
    port: u16,
    plan: &Plan,
    args: &Args,
) -> anyhow::Result<PathBuf> {
    let q = &plan.quotas;
    let mut text = String::new();
    let mut replaced = 0;
    for line in base.lines() {
        let line = match line.split('=').next().map(str::trim) {
            Some("database_url") => format!(
                "database_url = {}",
                toml::Value::String(expected.database_url.clone())
            ),
            Some("operation_poll_seconds") => format!("operation_poll_seconds = {POLL}"),
            Some("concurrency") => format!("concurrency = {}", args.concurrency),
            _ => {
                text.push_str(line);
                text.push('\n');
                continue;
            }
        };
        replaced += 1;
        text.push_str(&line);
        text.push('\n');
    }
    if replaced != 3 {
        bail!(
            "demo::mock_config's file changed: database_url, operation_poll_seconds and concurrency expected once each"
        );
    }
    text.push_str(&format!(
        "\n[microsoft.limits]\nteams_create = {}\nteams_write = {}\nteams_read = {}\nper_team = {}\neducation = {}\n\
         \n[google.limits]\nper_client = {}\nper_user = {}\n\
         \n[api]\nlisten = \"127.0.0.1:{port}\"\nump_token_file = \"ump.token\"\noperator_token_file = \"operator.token\"\n",
        q.teams_create_per_sec,
        q.teams_write_per_sec,
        q.teams_read_per_sec,
        q.per_team_per_sec,
        q.education_per_sec,
        q.classroom_per_client_per_min,
        q.classroom_per_user_per_min,
    ));
    let path = dir.join(format!("worker-{}.toml", i + 1));
    std::fs::write(&path, text)?;
    let got = Config::load(&path).with_context(|| format!("{}", path.display()))?;
    let settings = |c: &Config| {
        format!(
            "{} {:?} {:?} {:?} {}",
            c.database_url,
            c.microsoft
                .as_ref()
                .map(|m| (m.operation_poll_seconds, m.limits)),
            c.google
                .as_ref()
                .map(|g| (g.limits, g.admin_emails.clone(), g.classroom_url.clone())),
            (c.worker.concurrency, c.worker.lease_seconds),
            c.years.len()
        )
    };
    if settings(&got) != settings(expected) {
        bail!(
            "{} does not say what the bench runs with:\n  file:  {}\n  bench: {}",
            path.display(),
            settings(&got),
            settings(expected)
        );
    }
    if got.api.listen != format!("127.0.0.1:{port}") {
        bail!("{}: [api] listen is {}", path.display(), got.api.listen);
    }
    Ok(path)
}
