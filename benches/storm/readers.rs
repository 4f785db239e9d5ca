//! Reads during the storm (`--readers N`, issue 11 item 4): N closed-loop clients in this process
//! read the store the worker is writing, on the same runtime, as `serve`'s API does beside its
//! worker: a teacher's View Groups (the store's page and the restore rule's re-check), one group's
//! status, the status page (its counts kept two seconds, as `serve` keeps them). The storm's rates
//! must hold while they run; their latencies are printed beside them.

use class_sync::app::App;
use class_sync::core::domain::normalise_email;
use class_sync::core::restore_policy::{RestoreSubject, decide};
use class_sync::status::{self, CountsCache};
use class_sync::store::GroupQuery;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The kinds of read, in the order of `Reads::latencies`.
pub const KINDS: [&str; 3] = ["teacher's View Groups", "one group", "status page"];

#[derive(Default)]
pub struct Reads {
    /// Per kind (`KINDS`), sorted.
    pub latencies: [Vec<Duration>; 3],
    pub errors: u64,
    /// From the first read to the stop.
    pub seconds: f64,
}

/// Starts `n` readers over the groups `(id, teacher)`; they stop when `stop` is set.
pub fn spawn(
    app: &Arc<App>,
    groups: Arc<Vec<(String, String)>>,
    n: usize,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Reads> {
    let app = app.clone();
    tokio::spawn(async move {
        let counts = CountsCache::new(Duration::from_secs(2));
        let started = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..n {
            let (app, groups, stop, counts) =
                (app.clone(), groups.clone(), stop.clone(), counts.clone());
            clients.spawn(async move {
                let mut mine = Reads::default();
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (c as u64 + 1).wrapping_mul(0x5851_f42d);
                while !stop.load(Ordering::Relaxed) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let (group, teacher) = &groups[(rng % groups.len() as u64) as usize];
                    let kind = match rng % 20 {
                        0..=10 => 0,
                        11..=17 => 1,
                        _ => 2,
                    };
                    let at = Instant::now();
                    let ok = match kind {
                        0 => view_groups(&app, teacher).await,
                        1 => status::group(&*app.store, group)
                            .await
                            .is_ok_and(|g| g.is_some()),
                        _ => match counts.get(&app.store).await {
                            Ok(c) => {
                                let query = class_sync::work::worker::status_query(&app, 20);
                                status::overall_with(&*app.store, query, &c).await.is_ok()
                            }
                            Err(_) => false,
                        },
                    };
                    if ok {
                        mine.latencies[kind].push(at.elapsed());
                    } else {
                        mine.errors += 1;
                    }
                }
                mine
            });
        }
        let mut all = Reads::default();
        while let Some(done) = clients.join_next().await {
            let Ok(mine) = done else {
                all.errors += 1;
                continue;
            };
            for (to, from) in all.latencies.iter_mut().zip(mine.latencies) {
                to.extend(from);
            }
            all.errors += mine.errors;
        }
        for l in &mut all.latencies {
            l.sort();
        }
        all.seconds = started.elapsed().as_secs_f64();
        all
    })
}

/// A teacher's View Groups as the API answers it: the store's first page, each group re-checked.
async fn view_groups(app: &App, teacher: &str) -> bool {
    let viewer = normalise_email(teacher);
    let query = GroupQuery {
        viewer: Some(viewer.clone()),
        limit: 100,
        ..GroupQuery::default()
    };
    match app.store.visible_groups(&query).await {
        Ok(page) => {
            !page.groups.is_empty()
                && page.groups.iter().all(|(g, _)| {
                    let subject = RestoreSubject {
                        school_admins: page
                            .school_admins
                            .get(&g.group.school)
                            .map_or(&[], Vec::as_slice),
                        group_teachers: &g.group.teachers,
                    };
                    decide(&viewer, &subject).is_ok()
                })
        }
        Err(_) => false,
    }
}

/// Rows for the measures table.
pub fn measures(reads: &Reads) -> Vec<(String, String)> {
    let ms =
        |d: Option<&Duration>| d.map_or("–".into(), |d| format!("{:.1}", d.as_secs_f64() * 1e3));
    let total: usize = reads.latencies.iter().map(Vec::len).sum();
    let mut rows = vec![(
        "reads during the storm".to_string(),
        format!(
            "{total} ({:.0}/s), {} errors",
            total as f64 / reads.seconds.max(1e-9),
            reads.errors
        ),
    )];
    for (kind, l) in KINDS.iter().zip(&reads.latencies) {
        let at = |q: f64| l.get(((l.len() as f64 - 1.0) * q).round() as usize);
        rows.push((
            format!("{kind} p50 / p99 / max (ms)"),
            format!("{} / {} / {}", ms(at(0.5)), ms(at(0.99)), ms(l.last())),
        ));
    }
    rows
}
