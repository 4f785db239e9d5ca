//! What both modes measure and check after the storm, and the table they print: what the services
//! saw per bucket (from the mocks' call log), whether every link, team and course ended as it
//! should, and the measures of the run.

use crate::setup::Plan;
use class_sync::core::domain::Target;
use class_sync::core::link::{Link, LinkState};
use class_sync_mocks::{CallRecord, MockServices, Service};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// One pressed Restore: how long until it was done, and whether it succeeded.
pub struct Restored {
    pub latency: Duration,
    pub ok: bool,
}

/// Pressed restores by (group, target).
pub type RestoredMap = HashMap<(String, Target), Restored>;

/// What one bucket of the services (or one key of a keyed one) saw.
pub struct BucketRow {
    pub name: String,
    pub quota: Option<f64>,
    pub sent: u64,
    pub throttled: u64,
    /// From its first request to its last.
    pub busy: f64,
}

impl BucketRow {
    pub fn achieved(&self) -> f64 {
        self.sent as f64 / self.busy
    }
}

/// Per bucket the mocks recorded (`per_client` for Classroom calls) and per Classroom user
/// (`per_user:{email}`, the impersonated admin of each call): requests that got through, 429s, and
/// the time from the first to the last request.
pub fn buckets(calls: &[CallRecord], plan: &Plan) -> Vec<BucketRow> {
    let mut per: BTreeMap<String, (u64, u64, Option<Instant>, Option<Instant>)> = BTreeMap::new();
    let mut count = |key: String, c: &CallRecord| {
        let e = per.entry(key).or_default();
        if c.status == 429 {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
        e.2 = Some(e.2.map_or(c.at, |t: Instant| t.min(c.at)));
        e.3 = Some(e.3.map_or(c.at, |t: Instant| t.max(c.at)));
    };
    for c in calls {
        let Some(bucket) = &c.bucket else { continue };
        count(bucket.clone(), c);
        if c.service == Service::Classroom
            && let Some(user) = &c.user
        {
            count(format!("per_user:{user}"), c);
        }
    }
    per.into_iter()
        .map(|(name, (sent, throttled, first, last))| {
            let busy = match (first, last) {
                (Some(a), Some(b)) => (b - a).as_secs_f64().max(0.001),
                _ => 0.001,
            };
            BucketRow {
                quota: plan.quota_of(&name),
                name,
                sent,
                throttled,
                busy,
            }
        })
        .collect()
}

/// Every link as expected (restored if its restore succeeded, else archived), one team and one
/// course per group, each archived unless restored. Returns the problems found.
pub fn check_outcome(
    links: &[Link],
    mocks: &MockServices,
    restored: &RestoredMap,
    groups: usize,
) -> Vec<String> {
    let mut problems = Vec::new();
    for l in links {
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
    if links.len() != 2 * groups {
        problems.push(format!("{} links for {groups} groups × 2", links.len()));
    }
    let teams = mocks.teams();
    let courses = mocks.courses();
    if teams.len() != groups || courses.len() != groups {
        problems.push(format!(
            "{} teams and {} courses for {groups} groups",
            teams.len(),
            courses.len(),
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
    let failed_restores = restored.values().filter(|r| !r.ok).count();
    if failed_restores > 0 {
        problems.push(format!("{failed_restores} restores failed"));
    }
    problems
}

/// The heading of a run.
pub fn heading(groups: usize, plan: &Plan, fault_rate: f64, admins: usize) {
    println!();
    println!(
        "## Storm: {groups} groups × 2 targets, quotas × {:.1}, {admins} Classroom admin{}, {}",
        plan.scale,
        if admins == 1 { "" } else { "s" },
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
}

/// The bucket table, then the binding Classroom quota and the share of it the run reached.
pub fn print_buckets(rows: &[BucketRow], plan: &Plan) {
    println!("| bucket | quota/s | sent | 429s | busy s | achieved/s | achieved ÷ quota |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let achieved = r.achieved();
        match r.quota {
            Some(q) => println!(
                "| {} | {q:.0} | {} | {} | {:.1} | {achieved:.1} | {:.3} |",
                r.name,
                r.sent,
                r.throttled,
                r.busy,
                achieved / q
            ),
            None => println!(
                "| {} | – | {} | {} | {:.1} | {achieved:.1} | – |",
                r.name, r.sent, r.throttled, r.busy
            ),
        }
    }
    let binding = plan.classroom_binding();
    let per_user_total = plan.admins.len() as f64 * plan.per_user();
    let which = if plan.per_client() <= per_user_total {
        "per_client"
    } else {
        "admins × per_user"
    };
    println!();
    match rows.iter().find(|r| r.name == "per_client") {
        Some(client) => println!(
            "binding Classroom quota: {binding:.1}/s = min(per_client {:.1}/s, {} admins × per_user {:.1}/s = {per_user_total:.1}/s), {which} binds; \
             achieved {:.1}/s, achieved ÷ binding **{:.3}**",
            plan.per_client(),
            plan.admins.len(),
            plan.per_user(),
            client.achieved(),
            client.achieved() / binding
        ),
        None => {
            println!("binding Classroom quota: {binding:.1}/s ({which}); no Classroom requests")
        }
    }
}

/// Restore latency at percentile `p` (nearest rank), or a dash.
pub fn percentile(sorted: &[Duration], p: f64) -> String {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .map(|d| format!("{:.2} s", d.as_secs_f64()))
        .unwrap_or_else(|| "–".into())
}

/// The measures table, then the problems found (at most ten).
pub fn print_measures(rows: &[(String, String)], problems: &[String]) {
    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
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
}

/// The call log as CSV (`service,bucket,user,seconds,status`; seconds from the first request).
pub fn write_calls_csv(path: &std::path::Path, calls: &[CallRecord]) -> anyhow::Result<()> {
    let Some(t0) = calls.iter().map(|c| c.at).min() else {
        return Ok(std::fs::write(
            path,
            "service,bucket,user,seconds,status\n",
        )?);
    };
    let mut out = String::from("service,bucket,user,seconds,status\n");
    for c in calls {
        out.push_str(&format!(
            "{:?},{},{},{:.6},{}\n",
            c.service,
            c.bucket.as_deref().unwrap_or(""),
            c.user.as_deref().unwrap_or(""),
            (c.at - t0).as_secs_f64(),
            c.status
        ));
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// User + system CPU time of a process (Linux `/proc`); zero elsewhere or when it is gone.
pub fn cpu_time(pid: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
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

/// Peak resident set size of a process in KiB (Linux `/proc`); zero elsewhere or when it is gone.
pub fn peak_rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
