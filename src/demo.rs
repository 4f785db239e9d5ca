//! `class-sync demo`: the whole school year on the built-in mocks and a temporary store, narrated.
//!
//! It also provides the pieces tests share with it: a configuration pointing at a running set of
//! mocks (`mock_config`) and a small generated pair of schools (`sample_snapshot`).

use crate::app::App;
use crate::config::Config;
use crate::core::domain::{Group, School, Snapshot, Target};
use crate::work::planner;
use crate::work::worker::{self, WorkReport};
use anyhow::Context;
use chrono::NaiveDate;
use class_sync_mocks::{MockOptions, MockServices};
use std::path::Path;
use std::sync::Arc;

/// The demo's and tests' academic year.
pub const YEAR: &str = "2025-26";
pub const NEW_GROUPS_FROM: &str = "2025-08-28";
pub const MIS_SYNC_CUTOFF: &str = "2026-06-01";
pub const ARCHIVE_ON: &str = "2026-09-01";

/// Mock settings that make a year run in seconds: fast operations, small pages, one replication 404.
pub fn quick_mock_options() -> MockOptions {
    MockOptions {
        operation_delay: std::time::Duration::from_millis(30),
        page_size: 2,
        replication_404s: 1,
        ..MockOptions::default()
    }
}

/// Writes a secret file readable by its owner only (as `config::file_mode` expects of one).
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// A configuration for `mocks`, with the key file written into `dir`. Poll and retry times are
/// shortened so a year runs in seconds; everything else is as an operator would write it.
pub fn mock_config(mocks: &MockServices, dir: &Path) -> anyhow::Result<Config> {
    let key = dir.join("sa.json");
    write_private(&key, &mocks.service_account_key_json()).context("writing the mock key file")?;
    let o = mocks.options();
    let text = format!(
        r#"
database_url = "sqlite://{db}"

[microsoft]
tenant_id = "{tenant}"
client_id = "{client}"
client_secret = "{secret}"
login_url = "{login}"
graph_url = "{graph}"
operation_poll_seconds = 0.05
teamify_retry_seconds = 0.05

[google]
service_account_key_file = "sa.json"
admin_emails = {admins:?}
classroom_url = "{classroom}"

[worker]
concurrency = 16
retry_initial_seconds = 0.05
retry_max_seconds = 1.0

[import]
default_targets = ["teams", "classroom"]

[[years]]
name = "{YEAR}"
new_groups_from = "{NEW_GROUPS_FROM}"
mis_sync_cutoff = "{MIS_SYNC_CUTOFF}"
archive_on = "{ARCHIVE_ON}"
"#,
        db = dir.join("class-sync.db").display(),
        tenant = o.tenant_id,
        client = o.client_id,
        secret = o.client_secret,
        login = mocks.login_url(),
        graph = mocks.graph_url(),
        admins = o.admin_emails,
        classroom = mocks.classroom_url(),
    );
    let path = dir.join("class-sync.toml");
    std::fs::write(&path, text)?;
    Ok(Config::load(&path)?)
}

/// Set-up for year-end tests and the storm benchmark: stores `snap` and makes every link's team and
/// course exist in `mocks` as an active class (as class-sync made them in September), so the
/// archive storm can start at once. Only the snapshot's targets are made.
pub async fn seed_existing(app: &App, mocks: &MockServices, snap: &Snapshot) -> anyhow::Result<()> {
    app.store.import_snapshot(snap).await?;
    for g in &snap.groups {
        let owner = g
            .teachers
            .first()
            .context("a seeded group needs a teacher")?;
        for target in &g.targets {
            let remote = match target {
                Target::Teams => mocks.seed_team(&g.id, &g.name, owner),
                Target::Classroom => mocks.seed_course(
                    &crate::remote::providers::classroom::course_alias(&g.id),
                    &g.name,
                    owner,
                ),
            };
            let mut link = app
                .store
                .link(&g.id, *target)
                .await?
                .context("import made the link")?;
            link.apply(crate::core::link::LinkEvent::Created { archived: false })?;
            link.remote_id = Some(remote);
            app.store.save_link(&link).await?;
        }
    }
    Ok(())
}

fn group(
    school: &str,
    code: &str,
    name: &str,
    year_group: i64,
    teachers: &[&str],
    learners: &[String],
) -> Group {
    Group {
        id: format!("{school}-{YEAR}-{code}"),
        school: school.into(),
        academic_year: YEAR.into(),
        name: name.into(),
        year_group: Some(year_group),
        subject: name.split_whitespace().last().map(str::to_string),
        targets: vec![Target::Teams, Target::Classroom],
        teachers: teachers.iter().map(|t| t.to_string()).collect(),
        learners: learners.to_vec(),
    }
}

/// A primary and a secondary school, both targets, a few classes each.
pub fn sample_snapshot() -> Snapshot {
    let learners = |prefix: &str, n: usize| {
        (1..=n)
            .map(|i| format!("{prefix}{i:02}@hwbcymru.net"))
            .collect::<Vec<_>>()
    };
    Snapshot {
        schools: vec![
            School {
                id: "6612001".into(),
                name: "Ysgol Gynradd Enghraifft".into(),
                admins: vec!["admin.primary@hwbcymru.net".into()],
            },
            School {
                id: "6614002".into(),
                name: "Ysgol Uwchradd Enghraifft".into(),
                admins: vec!["admin.secondary@hwbcymru.net".into()],
            },
        ],
        groups: vec![
            group(
                "6612001",
                "Bl5-Dosbarth",
                "Blwyddyn 5 Dosbarth",
                5,
                &["jonesa12@hwbcymru.net"],
                &learners("plentyn5.", 5),
            ),
            group(
                "6612001",
                "Bl6-Dosbarth",
                "Blwyddyn 6 Dosbarth",
                6,
                &["daviesb7@hwbcymru.net"],
                &learners("plentyn6.", 4),
            ),
            group(
                "6614002",
                "7A-Ma1",
                "7A/Ma1 Mathematics",
                7,
                &["evansc3@hwbcymru.net"],
                &learners("dysgwr7.", 6),
            ),
            group(
                "6614002",
                "8B-Sc2",
                "8B/Sc2 Science",
                8,
                &["thomasd9@hwbcymru.net", "evansc3@hwbcymru.net"],
                &learners("dysgwr8.", 3),
            ),
        ],
    }
}

/// Every account the sample names, for registering with the mocks.
pub fn accounts(s: &Snapshot) -> Vec<String> {
    let mut all: Vec<String> = s.schools.iter().flat_map(|s| s.admins.clone()).collect();
    for g in &s.groups {
        all.extend(g.teachers.iter().cloned());
        all.extend(g.learners.iter().cloned());
    }
    all.sort();
    all.dedup();
    all
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("demo dates are valid")
}

async fn at(config: &Config, day: &str) -> anyhow::Result<Arc<App>> {
    App::new(config.clone(), date(day)).await
}

async fn work(app: &Arc<App>) -> anyhow::Result<WorkReport> {
    let r = worker::run_until_idle(app.clone(), None).await?;
    println!(
        "    worker: {} done, {} skipped, {} retried, {} failed",
        r.done,
        r.skipped,
        r.retried,
        r.failed.len()
    );
    Ok(r)
}

fn show_remote(mocks: &MockServices, s: &Snapshot) {
    println!(
        "    {:<28} {:<10} {:<9} {:>7} {:>8}",
        "group", "target", "state", "owners", "members"
    );
    for g in &s.groups {
        if let Some(t) = mocks.team_by_external_id(&g.id) {
            let state = if !t.is_team {
                "class"
            } else if t.is_archived {
                "archived"
            } else {
                "active"
            };
            println!(
                "    {:<28} {:<10} {:<9} {:>7} {:>8}",
                g.id,
                "teams",
                state,
                t.owners.len(),
                t.members.len()
            );
        }
        if let Some(c) =
            mocks.course_by_alias(&crate::remote::providers::classroom::course_alias(&g.id))
        {
            println!(
                "    {:<28} {:<10} {:<9} {:>7} {:>8}",
                g.id,
                "classroom",
                c.state.to_lowercase(),
                c.teachers.len(),
                c.students.len()
            );
        }
    }
}

/// The service desk's account in the demo's console.
pub const DEMO_OPERATOR: &str = "servicedesk@hwbcymru.net";

/// Runs the narrated year. Exit status 0 when every step behaved as the rules say. With
/// `serve_at`, then keeps the console, API and mocks running there until Ctrl-C or SIGTERM.
pub async fn run(serve_at: Option<&str>) -> anyhow::Result<u8> {
    let dir = tempfile::tempdir()?;
    let mocks = MockServices::start(quick_mock_options()).await?;
    let config = mock_config(&mocks, dir.path())?;
    let mut snap = sample_snapshot();
    // One learner's account does not exist yet: it is added once it appears.
    let late = snap.groups[2].learners[0].clone();
    for a in accounts(&snap).iter().filter(|a| **a != late) {
        mocks.add_user(a);
    }
    let mut ok = true;
    let mut expect = |cond: bool, what: &str| {
        println!("    {} {what}", if cond { "✓" } else { "✗" });
        ok &= cond;
    };

    println!(
        "class-sync demo: two schools, {} classes, Teams and Classroom, year {YEAR}",
        snap.groups.len()
    );
    println!(
        "  calendar: new groups from {NEW_GROUPS_FROM}, MIS cutoff {MIS_SYNC_CUTOFF}, archive on {ARCHIVE_ON}\n"
    );

    println!("1. 2025-08-20 — the UMP sends the new year's groups, before the creation date");
    let app = at(&config, "2025-08-20").await?;
    let s = planner::import(&app, &snap, "demo").await?;
    println!(
        "    import: {} added, {} jobs, held back {:?}",
        s.added, s.enqueued, s.held_back
    );
    expect(
        s.enqueued == 0 && mocks.teams().is_empty() && mocks.courses().is_empty(),
        "nothing created before new_groups_from",
    );

    println!("\n2. 2025-08-28 — the nightly job creates every team and course");
    let app = at(&config, "2025-08-28").await?;
    let n = planner::nightly(&app, "demo").await?;
    println!("    nightly: {} to create", n.create_enqueued);
    let r = work(&app).await?;
    show_remote(&mocks, &snap);
    expect(
        r.failed.is_empty()
            && mocks.teams().iter().filter(|t| t.is_team).count() == 4
            && mocks.courses().len() == 4,
        "4 teams and 4 courses, none twice",
    );
    let waiting = app
        .store
        .link(&snap.groups[2].id, Target::Teams)
        .await?
        .map(|l| l.missing_accounts)
        .unwrap_or_default();
    expect(
        waiting == vec![late.clone()],
        &format!("{late} has no account yet: recorded as waiting, group not failed"),
    );

    println!(
        "\n3. 2025-10-01 — the account appears; MIS moves a learner and swaps a teacher; an operator forces a resync"
    );
    mocks.add_user(&late);
    snap.groups[0].learners.pop();
    snap.groups[1].learners.push("newcomer@hwbcymru.net".into());
    mocks.add_user("newcomer@hwbcymru.net");
    mocks.add_user("powellf2@hwbcymru.net");
    snap.groups[3].teachers = vec![
        "powellf2@hwbcymru.net".into(),
        "evansc3@hwbcymru.net".into(),
    ];
    let app = at(&config, "2025-10-01").await?;
    let s = planner::import(&app, &snap, "demo").await?;
    println!("    import: {} changed, {} jobs", s.changed, s.enqueued);
    planner::sync(
        &app,
        &[],
        std::slice::from_ref(&snap.groups[2].id),
        None,
        "demo",
    )
    .await?;
    work(&app).await?;
    show_remote(&mocks, &snap);
    let sci = mocks
        .team_by_external_id(&snap.groups[3].id)
        .map(|t| t.owners)
        .unwrap_or_default();
    expect(
        sci.contains(&"powellf2@hwbcymru.net".to_string())
            && !sci.contains(&"thomasd9@hwbcymru.net".to_string()),
        "teacher swap applied, new owner first",
    );
    let maths = mocks
        .course_by_alias(&crate::remote::providers::classroom::course_alias(
            &snap.groups[2].id,
        ))
        .map(|c| c.students)
        .unwrap_or_default();
    expect(maths.contains(&late), "the late account is now a student");

    println!("\n4. 2026-06-10 — after the MIS cutoff a learner leaves: recorded, not applied");
    snap.groups[1].learners.pop();
    let app = at(&config, "2026-06-10").await?;
    let s = planner::import(&app, &snap, "demo").await?;
    println!(
        "    import: {} changed, {} jobs, held back {:?}",
        s.changed, s.enqueued, s.held_back
    );
    let still = mocks
        .team_by_external_id(&snap.groups[1].id)
        .map(|t| t.members.contains(&"newcomer@hwbcymru.net".to_string()))
        .unwrap_or(false);
    expect(
        s.enqueued == 0 && still,
        "membership unchanged after the cutoff",
    );

    println!("\n5. 2026-08-31 and 2026-09-01 — the nightly archive");
    let app = at(&config, "2026-08-31").await?;
    let n = planner::nightly(&app, "demo").await?;
    expect(
        n.archive_enqueued == 0,
        "nothing archived the day before archive_on",
    );
    let app = at(&config, "2026-09-01").await?;
    let n = planner::nightly(&app, "demo").await?;
    println!("    nightly: {} to archive", n.archive_enqueued);
    work(&app).await?;
    show_remote(&mocks, &snap);
    let all_archived = mocks.teams().iter().all(|t| t.is_archived)
        && mocks.courses().iter().all(|c| c.state == "ARCHIVED");
    expect(all_archived, "every team and course archived, members kept");

    println!("\n6. 2026-09-05 — Restore pressed in the portal");
    let app = at(&config, "2026-09-05").await?;
    let maths_id = snap.groups[2].id.clone();
    let refused = planner::restore(&app, &maths_id, Target::Teams, "dysgwr7.02@hwbcymru.net").await;
    println!(
        "    a learner presses Restore: {}",
        refused
            .as_ref()
            .map(|_| "accepted".to_string())
            .unwrap_or_else(|e| e.to_string())
    );
    expect(
        matches!(refused, Err(planner::RestoreRefusal::Forbidden(_))),
        "refused (exit status 3), nothing changed, audited",
    );
    let granted = planner::restore(&app, &maths_id, Target::Teams, "evansc3@hwbcymru.net").await;
    expect(granted.is_ok(), "the class's teacher may restore");
    work(&app).await?;
    let team = mocks.team_by_external_id(&maths_id);
    expect(
        team.is_some_and(|t| !t.is_archived),
        "the team is active again and MIS-unlinked for good",
    );
    let again = planner::restore(
        &app,
        &maths_id,
        Target::Teams,
        "admin.secondary@hwbcymru.net",
    )
    .await;
    expect(
        matches!(again, Err(planner::RestoreRefusal::Conflict(_))),
        "a second restore is a conflict (exit status 4)",
    );

    println!("\n7. 2026-09-06 — the nightly job again leaves the restored team alone");
    let app = at(&config, "2026-09-06").await?;
    let n = planner::nightly(&app, "demo").await?;
    work(&app).await?;
    expect(
        n.archive_enqueued == 0
            && mocks
                .team_by_external_id(&maths_id)
                .is_some_and(|t| !t.is_archived),
        "restored team untouched",
    );

    println!("\nFinal state:");
    show_remote(&mocks, &snap);
    println!(
        "\n{}",
        if ok {
            "Every step behaved as the rules say."
        } else {
            "Some steps did not behave as expected (✗ above)."
        }
    );
    if let Some(listen) = serve_at {
        keep_serving(&mocks, dir.path(), &snap, listen).await?;
    }
    Ok(if ok { 0 } else { 1 })
}

/// `demo --serve`: the year's store, served with the console (signing in at the mocks' identity
/// provider), the API (fresh random tokens) and the worker, on the demo's last day.
async fn keep_serving(
    mocks: &MockServices,
    dir: &Path,
    snap: &Snapshot,
    listen: &str,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen} (choose another with --listen)"))?;
    // SIGTERM is listened for before the URL is printed: whoever reads it may stop us at once.
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    let shutdown = async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    };
    let base = format!("http://{}", listener.local_addr()?);
    let ump = crate::console::session::random_token();
    let operator = crate::console::session::random_token();
    write_private(&dir.join("ump.token"), &ump)?;
    write_private(&dir.join("operator.token"), &operator)?;
    mocks.add_user(DEMO_OPERATOR);
    let o = mocks.options();
    let path = dir.join("class-sync.toml");
    let mut text = std::fs::read_to_string(&path)?;
    text.push_str(&format!(
        r#"
[api]
listen = "{listen}"
ump_token_file = "ump.token"
operator_token_file = "operator.token"

[console]
client_id = "{client}"
client_secret = "{secret}"
public_url = "{base}"
operators = ["{DEMO_OPERATOR}"]
"#,
        client = o.sign_in_client_id,
        secret = o.sign_in_client_secret,
    ));
    std::fs::write(&path, text)?;
    let config = Config::load(&path)?;
    let tokens = config.api.read_tokens()?;
    let app = App::new(config, date("2026-09-06")).await?;
    let teachers: Vec<&str> = {
        let mut t: Vec<&str> = snap
            .groups
            .iter()
            .flat_map(|g| g.teachers.iter().map(String::as_str))
            .collect();
        t.sort();
        t.dedup();
        t
    };
    println!("\nThe console, the API and the mocks keep running (Ctrl-C stops them):");
    println!("  console:  {base}/   (sign in with Microsoft, then pick an account)");
    println!(
        "  API:      {base}/v1/   (bearer tokens in {})",
        dir.display()
    );
    println!("  accounts:");
    for s in &snap.schools {
        println!(
            "    {:<34} Hwb administrator of {}",
            s.admins.join(", "),
            s.name
        );
    }
    for t in teachers {
        println!("    {t:<34} teacher");
    }
    println!("    {DEMO_OPERATOR:<34} operator (status, schools, audit, resync)");
    crate::serve::run(
        app,
        tokens,
        listener,
        Arc::new(crate::work::scheduler::SystemClock),
        shutdown,
    )
    .await?;
    Ok(())
}
