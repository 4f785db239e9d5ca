//! The year-end storm: N groups, each with a team and a course, archived by the nightly job against
//! the in-process mocks, with the documented quotas scaled so a run takes about `--seconds`, and the
//! mocks enforcing the same quotas. Teachers press Restore during the storm. Run twice: clean, then
//! with a share of requests failing (503s and connection resets).
//!
//! `cargo bench --bench storm -- [--groups 20000] [--seconds 60] [--restores 20] [--fault-rate 0.03] [--runs clean,faults]`
//!
//! It prints one table per run: per bucket the achieved rate ÷ the configured quota over the time
//! the bucket was busy, 429s, requests inside a `Retry-After` window; restore latency; CPU time per
//! remote call; peak RSS. It checks that every link ends as expected with no duplicates, and exits
//! non-zero when not. Not a timed test: the numbers are for reading (quote medians of several runs).

use anyhow::{Context, bail};
use clap::Parser;
use class_sync::app::App;
use class_sync::core::domain::{Group, School, Snapshot, Target};
use class_sync::core::job::JobState;
use class_sync::core::link::Link;
use class_sync::core::link::LinkState;
use class_sync::demo::{ARCHIVE_ON, YEAR};
use class_sync::{work::planner, work::worker};
use class_sync_mocks::{MockOptions, MockServices, Quotas, RandomFaults};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

#[derive(Parser, Debug, Clone)]
struct Args {
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
    /// Which runs: clean, faults, or both (comma-separated).
    #[arg(long, default_value = "clean,faults")]
    runs: String,
    /// `cargo bench` passes `--bench`; accepted and ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

const ADMINS: [&str; 3] = [
    "classroom-admin1@hwbcymru.net",
    "classroom-admin2@hwbcymru.net",
    "classroom-admin3@hwbcymru.net",
];
const GROUPS_PER_SCHOOL: usize = 70;
/// How long a Graph archive operation runs in the mocks; polls come a little after it.
const OPERATION: Duration = Duration::from_millis(200);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
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
        ok &= rt.block_on(storm(&args, rate))?;
    }
    if !ok {
        bail!("a storm did not end as expected");
    }
    Ok(())
}

/// The documented quotas × `scale`, as both the mocks and class-sync's config use them.
fn scaled(scale: f64) -> Quotas {
    let d = Quotas::documented();
    let s = |v: u32| ((v as f64) * scale).round() as u32;
    Quotas {
        teams_create_per_sec: s(d.teams_create_per_sec),
        teams_write_per_sec: s(d.teams_write_per_sec),
        teams_read_per_sec: s(d.teams_read_per_sec),
        per_team_per_sec: d.per_team_per_sec,
        education_per_sec: s(d.education_per_sec),
        classroom_per_client_per_min: s(d.classroom_per_client_per_min),
        classroom_per_user_per_min: s(d.classroom_per_user_per_min),
        retry_after_secs: 1,
    }
}

fn snapshot(n: usize) -> Snapshot {
    let schools = n.div_ceil(GROUPS_PER_SCHOOL);
    let school_id = |s: usize| format!("{}", 6_600_000 + s);
    Snapshot {
        schools: (0..schools)
            .map(|s| School {
                id: school_id(s),
                name: format!("Ysgol {s}"),
                admins: vec![format!("admin{s}@hwbcymru.net")],
            })
            .collect(),
        groups: (0..n)
            .map(|i| {
                let s = i / GROUPS_PER_SCHOOL;
                Group {
                    id: format!("{}-{YEAR}-G{i}", school_id(s)),
                    school: school_id(s),
                    academic_year: YEAR.into(),
                    name: format!("Class {i}"),
                    year_group: Some(7),
                    subject: None,
                    targets: vec![Target::Teams, Target::Classroom],
                    teachers: vec![format!("teacher{i}@hwbcymru.net")],
                    learners: Vec::new(),
                }
            })
            .collect(),
    }
}

struct Restored {
    latency: Duration,
    ok: bool,
}

async fn storm(args: &Args, fault_rate: f64) -> anyhow::Result<bool> {
    let scale =
        args.groups as f64 / (Quotas::documented().teams_write_per_sec as f64 * args.seconds);
    let quotas = scaled(scale);
    let mocks = MockServices::start(MockOptions {
        admin_emails: ADMINS.iter().map(|s| s.to_string()).collect(),
        operation_delay: OPERATION,
        first_poll_sees_not_started: false,
        page_size: 100,
        quotas: Some(quotas.clone()),
        random_faults: (fault_rate > 0.0).then_some(RandomFaults { rate: fault_rate }),
        ..MockOptions::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let mut config = class_sync::demo::mock_config(&mocks, dir.path())?;
    {
        let m = config.microsoft.as_mut().context("microsoft configured")?;
        m.operation_poll_seconds = OPERATION.as_secs_f64() * 1.25;
        m.limits.teams_create = quotas.teams_create_per_sec as f64;
        m.limits.teams_write = quotas.teams_write_per_sec as f64;
        m.limits.teams_read = quotas.teams_read_per_sec as f64;
        m.limits.per_team = quotas.per_team_per_sec as f64;
        m.limits.education = quotas.education_per_sec as f64;
        let g = config.google.as_mut().context("google configured")?;
        g.limits.per_client = quotas.classroom_per_client_per_min as f64;
        g.limits.per_user = quotas.classroom_per_user_per_min as f64;
        config.worker.concurrency = args.concurrency;
    }
    let today = ARCHIVE_ON.parse()?;
    let app = App::new(config, today).await?;

    // Set-up: the year's teams and courses exist, as class-sync made them in September.
    let snap = snapshot(args.groups);
    class_sync::demo::seed_existing(&app, &mocks, &snap).await?;
    mocks.clear_calls();
    let cpu_before = cpu_time();

    // The storm.
    let started = Instant::now();
    let nightly = planner::nightly(&app, "bench").await?;
    let enqueue_time = started.elapsed();
    let storm_start = Instant::now();
    let work = tokio::spawn(worker::run_until_idle(app.clone(), None));

    // Teachers press Restore while it runs, on links already archived.
    let mut restores = Vec::new();
    // Half on each target, spread over the first 80% of that target's own storm (Classroom's
    // quota is higher, so its storm ends sooner).
    let storm_of = |t: Target| match t {
        Target::Teams => args.groups as f64 / quotas.teams_write_per_sec as f64,
        Target::Classroom => args.groups as f64 * 60.0 / quotas.classroom_per_client_per_min as f64,
    };
    let mut schedule: Vec<(f64, Target)> = Vec::new();
    for target in [Target::Teams, Target::Classroom] {
        let n = args.restores / 2 + (target == Target::Teams) as usize * (args.restores % 2);
        for k in 0..n {
            schedule.push((
                storm_of(target) * 0.8 * (k + 1) as f64 / (n + 1) as f64,
                target,
            ));
        }
    }
    schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut next_group: HashMap<Target, usize> = HashMap::new();
    for (at, target) in schedule {
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
                    Some(j) if j.state == JobState::Done => {
                        return anyhow::Ok((
                            group,
                            target,
                            Restored {
                                latency: at.elapsed(),
                                ok: true,
                            },
                        ));
                    }
                    Some(j) if j.state == JobState::Failed => {
                        return Ok((
                            group,
                            target,
                            Restored {
                                latency: at.elapsed(),
                                ok: false,
                            },
                        ));
                    }
                    _ => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }));
    }
    let report = work.await??;
    let storm_time = storm_start.elapsed();
    let mut restored = HashMap::new();
    for r in restores {
        let (group, target, result) = r.await??;
        restored.insert((group, target), result);
    }
    let cpu = cpu_time() - cpu_before;

    // What the services saw.
    let calls = mocks.calls();
    let mut per_bucket: BTreeMap<String, (u64, u64, Option<Instant>, Option<Instant>)> =
        BTreeMap::new();
    for c in &calls {
        let Some(bucket) = &c.bucket else { continue };
        let e = per_bucket.entry(bucket.clone()).or_default();
        if c.status == 429 {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
        e.2 = Some(e.2.map_or(c.at, |t: Instant| t.min(c.at)));
        e.3 = Some(e.3.map_or(c.at, |t: Instant| t.max(c.at)));
    }
    let quota_of = |bucket: &str| -> Option<f64> {
        Some(match bucket {
            "teams_create" => quotas.teams_create_per_sec as f64,
            "teams_write" => quotas.teams_write_per_sec as f64,
            "teams_read" => quotas.teams_read_per_sec as f64,
            "education" => quotas.education_per_sec as f64,
            "per_client" => quotas.classroom_per_client_per_min as f64 / 60.0,
            _ => return None,
        })
    };

    // Every link as expected, nothing duplicated, nothing lost.
    let mut problems = Vec::new();
    let links: Vec<Link> = app.store.all_links().await?;
    for l in &links {
        let want = if restored
            .get(&(l.group_id.clone(), l.target))
            .is_some_and(|r| r.ok)
        {
            LinkState::Restored
        } else {
            LinkState::Archived
        };
        if l.state() != want {
            problems.push(format!(
                "{} {}: {:?}, expected {want:?}",
                l.group_id,
                l.target,
                l.state()
            ));
        }
    }
    let teams = mocks.teams();
    let courses = mocks.courses();
    if teams.len() != args.groups || courses.len() != args.groups {
        problems.push(format!(
            "{} teams and {} courses for {} groups",
            teams.len(),
            courses.len(),
            args.groups
        ));
    }
    for t in &teams {
        let restored_here = restored.contains_key(&(t.external_id.clone(), Target::Teams));
        if t.is_archived == restored_here {
            problems.push(format!(
                "team {}: archived = {}",
                t.external_id, t.is_archived
            ));
        }
    }
    for c in &courses {
        let group = c
            .aliases
            .first()
            .and_then(|a| a.strip_prefix("d:ump-"))
            .unwrap_or("")
            .to_string();
        let restored_here = restored.contains_key(&(group.clone(), Target::Classroom));
        if (c.state == "ARCHIVED") == restored_here {
            problems.push(format!("course {group}: {}", c.state));
        }
    }
    let (pending, _) = app.store.pending_work().await?;
    if pending > 0 || !report.failed.is_empty() {
        problems.push(format!(
            "{pending} jobs still pending, {} failed",
            report.failed.len()
        ));
    }
    let failed_restores = restored.values().filter(|r| !r.ok).count();
    if failed_restores > 0 {
        problems.push(format!("{failed_restores} restores failed"));
    }

    // The table.
    println!();
    println!(
        "## Storm: {} groups × 2 targets, quotas × {scale:.1}, {}",
        args.groups,
        if fault_rate > 0.0 {
            format!(
                "{:.0}% of requests failing (503 or reset)",
                fault_rate * 100.0
            )
        } else {
            "no injected faults".into()
        }
    );
    println!();
    println!("| bucket | quota/s | sent | 429s | busy s | achieved/s | achieved ÷ quota |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (bucket, (sent, throttled, first, last)) in &per_bucket {
        let busy = match (first, last) {
            (Some(a), Some(b)) => (*b - *a).as_secs_f64().max(0.001),
            _ => 0.001,
        };
        let achieved = *sent as f64 / busy;
        match quota_of(bucket) {
            Some(q) => println!(
                "| {bucket} | {q:.0} | {sent} | {throttled} | {busy:.1} | {achieved:.1} | {:.3} |",
                achieved / q
            ),
            None => {
                println!("| {bucket} | – | {sent} | {throttled} | {busy:.1} | {achieved:.1} | – |")
            }
        }
    }
    let mut latencies: Vec<Duration> = restored.values().map(|r| r.latency).collect();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "–".into())
    };
    let remote_calls = calls.len() as f64;
    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| jobs enqueued by the nightly run | {} |",
        nightly.archive_enqueued
    );
    println!("| enqueue time | {:.1} s |", enqueue_time.as_secs_f64());
    println!(
        "| storm time (worker start to idle) | {:.1} s |",
        storm_time.as_secs_f64()
    );
    println!(
        "| requests inside a Retry-After window | {} |",
        mocks.retry_after_violations()
    );
    println!("| 429s received | {} |", mocks.throttled_count());
    println!("| jobs retried | {} |", report.retried);
    println!("| restores pressed mid-storm | {} |", latencies.len());
    println!(
        "| restore latency p50 / p99 | {} / {} |",
        pct(0.5),
        pct(0.99)
    );
    println!(
        "| graph operation time (mock) + poll | {:.2} s + {:.2} s |",
        OPERATION.as_secs_f64(),
        OPERATION.as_secs_f64() * 1.25
    );
    println!(
        "| CPU per remote call (class-sync + in-process mocks) | {:.0} µs |",
        cpu.as_secs_f64() * 1e6 / remote_calls.max(1.0)
    );
    println!("| peak RSS | {} MiB |", peak_rss_kib() / 1024);
    println!(
        "| links as expected, no duplicates, nothing lost | {} |",
        if problems.is_empty() {
            "yes".to_string()
        } else {
            format!("NO: {} problems", problems.len())
        }
    );
    for p in problems.iter().take(10) {
        println!("  - {p}");
    }
    Ok(problems.is_empty())
}

/// User + system CPU time of this process (Linux `/proc`); zero elsewhere.
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / 100.0)
}

/// Peak resident set size in KiB (Linux `/proc`); zero elsewhere.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
