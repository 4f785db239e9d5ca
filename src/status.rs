//! What operators see: `status` overall (links by year and state, queue, last runs) or for one group.

use crate::app::App;
use crate::cli::exit;
use crate::store::Link;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The `status --json GROUP` document (CONTRACT §5), also served as `GET /v1/groups/{id}`.
pub async fn group_document(app: &App, group_id: &str) -> anyhow::Result<Option<Value>> {
    let Some(g) = app.store.group(group_id).await? else {
        return Ok(None);
    };
    let links: Vec<Value> = app
        .store
        .links_of(group_id)
        .await?
        .iter()
        .map(link_json)
        .collect();
    Ok(Some(json!({
        "group": g.group.id,
        "school": g.group.school,
        "academic_year": g.group.academic_year,
        "name": g.group.name,
        "withdrawn": g.withdrawn,
        "links": links,
    })))
}

fn ms_to_rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn link_json(l: &Link) -> Value {
    json!({
        "target": l.target,
        "state": l.state,
        "remote_id": l.remote_id,
        "mis_linked": l.mis_linked,
        "last_sync": l.last_sync.and_then(ms_to_rfc3339),
        "last_error": l.last_error,
        "missing_accounts": l.missing_accounts,
        "held_changes": l.held_changes,
    })
}

/// The overall `status --json` document, with the 20 latest audit entries.
pub async fn overall_document(app: &App) -> anyhow::Result<Value> {
    overall_document_with_audit(app, 20).await
}

/// The overall status document with the `audit_entries` latest audit entries (restores granted
/// and refused, forced resyncs, archives, imports), newest first.
pub async fn overall_document_with_audit(app: &App, audit_entries: u32) -> anyhow::Result<Value> {
    let groups = app.store.groups().await?;
    let year_of: BTreeMap<&str, &str> = groups
        .iter()
        .map(|g| (g.group.id.as_str(), g.group.academic_year.as_str()))
        .collect();
    let mut links: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for l in app.store.all_links().await? {
        let year = year_of
            .get(l.group_id.as_str())
            .copied()
            .unwrap_or("?")
            .to_string();
        *links
            .entry(year)
            .or_default()
            .entry(l.state.as_str().to_string())
            .or_default() += 1;
    }
    let mut queue: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (kind, state, n) in app.store.job_counts().await? {
        queue.entry(kind).or_default().insert(state, n);
    }
    let last = app.store.last_run("nightly", false).await?;
    let last_ok = app.store.last_run("nightly", true).await?;
    let run = |r: Option<crate::store::Run>| {
        r.map(|r| {
            json!({"today": r.today, "started_at": ms_to_rfc3339(r.started_at), "finished_at": r.finished_at.and_then(ms_to_rfc3339), "ok": r.ok, "summary": r.summary})
        })
    };
    let audit: Vec<Value> = app
        .store
        .audit_log(audit_entries)
        .await?
        .into_iter()
        .map(|a| json!({"at": ms_to_rfc3339(a.at), "actor": a.actor, "action": a.action, "group": a.group_id, "target": a.target, "outcome": a.outcome, "detail": a.detail}))
        .collect();
    // Workers alive now (seen within their liveness window): who is doing the queue.
    let workers: Vec<Value> = app
        .store
        .live_workers(App::now_ms() - crate::worker::live_window(app).as_millis() as i64)
        .await?
        .into_iter()
        .map(|w| json!({"id": w.id, "kind": w.kind, "pid": w.pid, "started_at": ms_to_rfc3339(w.started_at), "seen_at": ms_to_rfc3339(w.seen_at)}))
        .collect();
    Ok(json!({
        "today": app.today().to_string(),
        "links": links,
        "queue": queue,
        "workers": workers,
        "last_nightly": run(last),
        "last_successful_nightly": run(last_ok),
        "recent_audit": audit,
    }))
}

pub async fn print(app: &App, group: Option<&str>, as_json: bool) -> anyhow::Result<u8> {
    if let Some(id) = group {
        let Some(doc) = group_document(app, id).await? else {
            eprintln!("not found: no group `{id}`");
            return Ok(exit::NOT_FOUND);
        };
        if as_json {
            println!("{}", serde_json::to_string_pretty(&doc)?);
            return Ok(exit::OK);
        }
        println!(
            "{} — {} ({}, {}){}",
            id,
            doc["name"].as_str().unwrap_or(""),
            doc["school"].as_str().unwrap_or(""),
            doc["academic_year"].as_str().unwrap_or(""),
            if doc["withdrawn"] == true {
                " [withdrawn]"
            } else {
                ""
            }
        );
        println!(
            "{:<10} {:<9} {:<38} {:<10} {:<21} last error",
            "target", "state", "remote id", "MIS link", "last sync"
        );
        for l in doc["links"].as_array().into_iter().flatten() {
            println!(
                "{:<10} {:<9} {:<38} {:<10} {:<21} {}",
                l["target"].as_str().unwrap_or(""),
                l["state"].as_str().unwrap_or(""),
                l["remote_id"].as_str().unwrap_or("-"),
                if l["mis_linked"] == true {
                    "linked"
                } else {
                    "unlinked"
                },
                l["last_sync"].as_str().unwrap_or("-"),
                l["last_error"].as_str().unwrap_or("")
            );
            if let Some(m) = l["missing_accounts"].as_array().filter(|m| !m.is_empty()) {
                println!(
                    "           waiting for accounts: {}",
                    m.iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        return Ok(exit::OK);
    }
    let doc = overall_document(app).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(exit::OK);
    }
    println!("links by year and state:");
    for (year, states) in doc["links"].as_object().into_iter().flatten() {
        let parts: Vec<String> = states
            .as_object()
            .into_iter()
            .flatten()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        println!("  {year}: {}", parts.join(", "));
    }
    let workers = doc["workers"].as_array().cloned().unwrap_or_default();
    if workers.is_empty() {
        println!("workers: none running (commands work the queue themselves)");
    } else {
        println!("workers:");
        for w in &workers {
            println!(
                "  {} pid {} since {}",
                w["kind"].as_str().unwrap_or(""),
                w["pid"],
                w["started_at"].as_str().unwrap_or("")
            );
        }
    }
    println!("queue by kind:");
    for (kind, states) in doc["queue"].as_object().into_iter().flatten() {
        let parts: Vec<String> = states
            .as_object()
            .into_iter()
            .flatten()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        println!("  {kind}: {}", parts.join(", "));
    }
    let show = |label: &str, r: &Value| match r.is_null() {
        true => println!("{label}: never"),
        false => println!(
            "{label}: {} (started {}, {})",
            r["today"].as_str().unwrap_or(""),
            r["started_at"].as_str().unwrap_or(""),
            r["summary"].as_str().unwrap_or("")
        ),
    };
    show("last nightly", &doc["last_nightly"]);
    show("last successful nightly", &doc["last_successful_nightly"]);
    println!("recent audit (newest first):");
    for a in doc["recent_audit"].as_array().into_iter().flatten() {
        let field = |k: &str| a[k].as_str().unwrap_or("-").to_string();
        println!(
            "  {} {} {} {} {} {}: {}",
            field("at"),
            field("actor"),
            field("action"),
            field("group"),
            field("target"),
            field("outcome"),
            field("detail")
        );
    }
    Ok(exit::OK)
}
