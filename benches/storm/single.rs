//! The single-process storm (the default): SQLite, and one worker in this process, as
//! `work --until-idle` runs it; restores pressed through the planner, as the CLI does.

use crate::Args;
use crate::readers;
use crate::report::{self, Restored, RestoredMap};
use crate::setup::{self, OPERATION, POLL, Plan};
use class_sync::app::App;
use class_sync::core::domain::Target;
use class_sync::core::job::JobState;
use class_sync::core::link::{Link, LinkState};
use class_sync::demo::ARCHIVE_ON;
use class_sync::{work::planner, work::worker};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub async fn storm(args: &Args, fault_rate: f64) -> anyhow::Result<bool> {
    let plan = Plan::new(args);
    let mocks = plan.start_mocks(fault_rate).await?;
    let dir = tempfile::tempdir()?;
    let mut config = class_sync::demo::mock_config(&mocks, dir.path())?;
    plan.apply_limits(&mut config, args)?;
    let today = ARCHIVE_ON.parse()?;
    let app = App::new(config, today).await?;

    // Set-up: the year's teams and courses exist, as class-sync made them in September.
    let snap = setup::snapshot(args.groups);
    class_sync::demo::seed_existing(&app, &mocks, &snap).await?;
    mocks.clear_calls();
    let cpu_before = report::cpu_time("self");

    // The storm.
    let started = Instant::now();
    let nightly = planner::nightly(&app, "bench").await?;
    let enqueue_time = started.elapsed();
    let storm_start = Instant::now();
    let work = tokio::spawn(worker::run_until_idle(app.clone(), None));
    let stop_reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = (args.readers > 0).then(|| {
        let groups = snap
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.teachers[0].clone()))
            .collect();
        readers::spawn(
            &app,
            std::sync::Arc::new(groups),
            args.readers,
            stop_reading.clone(),
        )
    });

    // Teachers press Restore while it runs, on links already archived.
    let mut restores = Vec::new();
    let mut next_group: HashMap<Target, usize> = HashMap::new();
    for (at, target) in plan.restore_schedule(args) {
        tokio::time::sleep_until((storm_start + Duration::from_secs_f64(at)).into()).await;
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
        let app = app.clone();
        restores.push(tokio::spawn(async move {
            let at = Instant::now();
            let accepted = planner::restore(&app, &group, target, &teacher)
                .await
                .map_err(|e| anyhow::anyhow!("restore refused: {e:?}"))?;
            loop {
                match app.store.job(accepted.job).await? {
                    Some(j) if matches!(j.state, JobState::Done | JobState::Failed) => {
                        let ok = j.state == JobState::Done;
                        let latency = at.elapsed();
                        return anyhow::Ok((group, target, Restored { latency, ok }));
                    }
                    _ => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }));
    }
    let work_report = work.await??;
    let storm_time = storm_start.elapsed();
    stop_reading.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = match reading {
        Some(r) => Some(r.await?),
        None => None,
    };
    let mut restored = RestoredMap::new();
    for r in restores {
        let (group, target, result) = r.await??;
        restored.insert((group, target), result);
    }
    let cpu = report::cpu_time("self") - cpu_before;

    // What the services saw; every link as expected, nothing duplicated, nothing lost.
    let calls = mocks.calls();
    if let Some(path) = &args.calls_csv {
        report::write_calls_csv(path, &calls)?;
    }
    let rows = report::buckets(&calls, &plan);
    let links: Vec<Link> = app.store.all_links().await?;
    let mut problems = report::check_outcome(&links, &mocks, &restored, args.groups);
    let (pending, _) = app.store.pending_work().await?;
    if pending > 0 || !work_report.failed.is_empty() {
        problems.push(format!(
            "{pending} jobs still pending, {} failed",
            work_report.failed.len()
        ));
    }

    // The table.
    report::heading(args.groups, &plan, fault_rate, plan.admins.len());
    report::print_buckets(&rows, &plan);
    let mut latencies: Vec<Duration> = restored.values().map(|r| r.latency).collect();
    latencies.sort();
    let measures = vec![
        (
            "jobs enqueued by the nightly run".to_string(),
            nightly.archive_enqueued.to_string(),
        ),
        (
            "enqueue time".into(),
            format!("{:.1} s", enqueue_time.as_secs_f64()),
        ),
        (
            "storm time (worker start to idle)".into(),
            format!("{:.1} s", storm_time.as_secs_f64()),
        ),
        (
            "requests inside a Retry-After window".into(),
            mocks.retry_after_violations().to_string(),
        ),
        ("429s received".into(), mocks.throttled_count().to_string()),
        ("jobs retried".into(), work_report.retried.to_string()),
        (
            "restores pressed mid-storm".into(),
            latencies.len().to_string(),
        ),
        (
            "restore latency p50 / p99".into(),
            format!(
                "{} / {}",
                report::percentile(&latencies, 0.5),
                report::percentile(&latencies, 0.99)
            ),
        ),
        (
            "graph operation time (mock) + poll".into(),
            format!("{:.2} s + {POLL:.2} s", OPERATION.as_secs_f64()),
        ),
        (
            "CPU per remote call (class-sync + in-process mocks)".into(),
            format!(
                "{:.0} µs",
                cpu.as_secs_f64() * 1e6 / (calls.len() as f64).max(1.0)
            ),
        ),
        (
            "peak RSS".into(),
            format!("{} MiB", report::peak_rss_kib("self") / 1024),
        ),
    ];
    let mut measures = measures;
    if let Some(reads) = &reads {
        measures.extend(readers::measures(reads));
    }
    report::print_measures(&measures, &problems);
    Ok(problems.is_empty())
}
