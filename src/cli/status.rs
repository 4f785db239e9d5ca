//! `status`: the typed documents of `crate::status`, printed for people or as JSON.

use super::exit;
use crate::status::{
    GroupDocument, RunDocument, SchoolImportDocument, SchoolStatusDocument, Staleness,
    StatusDocument,
};

/// Prints one group's document; false when there is no such group.
pub fn print_group(id: &str, doc: Option<&GroupDocument>, as_json: bool) -> anyhow::Result<u8> {
    let Some(doc) = doc else {
        eprintln!("not found: no group `{id}`");
        return Ok(exit::NOT_FOUND);
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(doc)?);
        return Ok(exit::OK);
    }
    println!(
        "{} — {} ({}, {}){}",
        doc.group,
        doc.name,
        doc.school,
        doc.academic_year,
        if doc.withdrawn { " [withdrawn]" } else { "" }
    );
    println!(
        "{:<10} {:<9} {:<38} {:<10} {:<21} last error",
        "target", "state", "remote id", "MIS link", "last sync"
    );
    for l in &doc.links {
        println!(
            "{:<10} {:<9} {:<38} {:<10} {:<21} {}",
            l.target.as_str(),
            l.state.as_str(),
            l.remote_id.as_deref().unwrap_or("-"),
            if l.mis_linked { "linked" } else { "unlinked" },
            l.last_sync.as_deref().unwrap_or("-"),
            l.last_error.as_deref().unwrap_or("")
        );
        if !l.missing_accounts.is_empty() {
            println!(
                "           waiting for accounts: {}",
                l.missing_accounts.join(", ")
            );
        }
    }
    Ok(exit::OK)
}

/// Prints the overall document.
pub fn print_overall(doc: &StatusDocument, as_json: bool) -> anyhow::Result<u8> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(doc)?);
        return Ok(exit::OK);
    }
    let counts = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("links by year and state:");
    for (year, states) in &doc.links {
        println!("  {year}: {}", counts(states));
    }
    if doc.workers.is_empty() {
        println!("workers: none running (commands work the queue themselves)");
    } else {
        println!("workers:");
        for w in &doc.workers {
            println!(
                "  {} pid {} since {}",
                w.kind,
                w.pid,
                w.started_at.as_deref().unwrap_or("")
            );
        }
    }
    println!("queue by kind:");
    for (kind, states) in &doc.queue {
        println!("  {kind}: {}", counts(states));
    }
    let show = |label: &str, r: &Option<RunDocument>| match r {
        None => println!("{label}: never"),
        Some(r) => println!(
            "{label}: {} (started {}, {})",
            r.today,
            r.started_at.as_deref().unwrap_or(""),
            r.summary
        ),
    };
    let schools = &doc.schools;
    print!(
        "schools: {} known, {} stale (no import for {} days or more)",
        schools.known, schools.stale, schools.stale_after_days
    );
    if schools.stalest.is_empty() {
        println!();
    } else {
        let more = schools.stale - schools.stalest.len() as u64;
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        println!(": {}{more}", schools.stalest.join(", "));
    }
    show("last nightly", &doc.last_nightly);
    show("last successful nightly", &doc.last_successful_nightly);
    println!("recent audit (newest first):");
    for a in &doc.recent_audit {
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        println!(
            "  {} {} {} {} {} {}: {}",
            or_dash(&a.at),
            a.actor,
            a.action,
            or_dash(&a.group),
            or_dash(&a.target),
            a.outcome,
            a.detail
        );
    }
    Ok(exit::OK)
}

/// Prints one school's provisioning status: its last import, whether it is stale, its history.
pub fn print_school(
    id: &str,
    doc: Option<&SchoolStatusDocument>,
    staleness: Staleness,
    as_json: bool,
) -> anyhow::Result<u8> {
    let Some(doc) = doc else {
        eprintln!("not found: no school `{id}` (no import has named it)");
        return Ok(exit::NOT_FOUND);
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(doc)?);
        return Ok(exit::OK);
    }
    println!("{} — {}", doc.school, doc.name);
    match (&doc.last_import, doc.days_since_import) {
        (None, _) => println!("last run: never: no import has been recorded for this school"),
        (Some(last), days) => println!(
            "last run: {} ({}), {}",
            last.day,
            match days {
                Some(0) => "today".to_string(),
                Some(1) => "1 day ago".to_string(),
                Some(n) => format!("{n} days ago"),
                None => "?".to_string(),
            },
            source(last)
        ),
    }
    println!(
        "provisioning status: {}",
        if doc.stale {
            format!(
                "STALE: no import for {} days or more; the provisioning client should run weekly",
                staleness.after_days
            )
        } else {
            "current".to_string()
        }
    );
    let history = doc.history.as_deref().unwrap_or_default();
    if !history.is_empty() {
        println!("recent imports (newest first):");
        println!(
            "  {:<10} {:<20} {:<16} {:>6} {:>8} {:>10} {:>10} {:>5}  held back",
            "day", "ran at", "format", "added", "changed", "unchanged", "withdrawn", "jobs"
        );
        for i in history {
            println!(
                "  {:<10} {:<20} {:<16} {:>6} {:>8} {:>10} {:>10} {:>5}  {}",
                i.day,
                i.at.as_deref().unwrap_or("-"),
                i.format,
                i.added,
                i.changed,
                i.unchanged,
                i.withdrawn,
                i.enqueued,
                held(i)
            );
        }
    }
    Ok(exit::OK)
}

fn source(i: &SchoolImportDocument) -> String {
    match &i.file {
        Some(file) => format!("{} {file}, by {}", i.format, i.actor),
        None => format!("{}, by {}", i.format, i.actor),
    }
}

fn held(i: &SchoolImportDocument) -> String {
    if i.held_back.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = i
        .held_back
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect();
    parts.join(", ")
}
