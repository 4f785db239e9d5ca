//! Two lanes for reads, so that a cheap answer never waits behind many expensive ones.
//!
//! A page read (View Groups, a page of schools, the status page, the audit log, and their console
//! pages) costs tens of times what a point read costs (one group's page, its live state while a
//! Restore runs, one job, one school). With both kinds arriving at once the point reads would
//! share the CPU with every page in flight and wait as long as they do. Page reads therefore take
//! a permit from [`PageReads`] first: at most a few of them run at once (two per core, at most
//! four), the rest
//! wait their turn, in order, without costing CPU; point reads and writes never wait for a permit.
//! The total work done is the same, it is only ordered: pages keep their own (looser) budgets,
//! and the portal's polling of a Restore stays quick while a school's staff load View Groups.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Page reads at once, whatever the machine: half the SQLite reader pool.
pub const MOST_AT_ONCE: usize = 4;

/// The permits page reads share, one set per `serve` process (the API's and the console's pages
/// take from the same set).
#[derive(Clone)]
pub struct PageReads {
    permits: Arc<Semaphore>,
}

impl PageReads {
    /// At most `at_once` page reads run together.
    pub fn new(at_once: usize) -> PageReads {
        PageReads {
            permits: Arc::new(Semaphore::new(at_once.max(1))),
        }
    }

    /// Two page reads per core: enough to keep every core busy while one waits on the store, few
    /// enough that point reads find the CPU free. At most [`MOST_AT_ONCE`]: a page may hold up to
    /// two connections (the status page reads side by side), and the smaller reader pool (SQLite's)
    /// has eight, so point reads always find a connection.
    pub fn for_this_machine() -> PageReads {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        PageReads::new((2 * cores).min(MOST_AT_ONCE))
    }

    /// How many page reads could start now (for tests).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// Middleware for a page-read route: runs the handler holding a permit. The permit is given back
/// when the handler has built its answer; sending it does not hold one.
pub async fn page_read(State(pages): State<PageReads>, req: Request, next: Next) -> Response {
    // The semaphore is never closed, so acquiring only fails if that changes: then serve unlaned.
    let _permit = pages.permits.acquire().await.ok();
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower_service::Service;

    async fn get_status(app: &Router, path: &str) -> u16 {
        let mut app = app.clone();
        let req = Request::get(path).body(axum::body::Body::empty()).unwrap();
        app.call(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn at_most_the_permits_run_page_reads_at_once_and_point_reads_do_not_wait() {
        let pages = PageReads::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let page = {
            let (running, most, gate) = (running.clone(), most.clone(), gate.clone());
            move || async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                gate.notified().await;
                running.fetch_sub(1, Ordering::SeqCst);
                "page"
            }
        };
        let app = Router::new()
            .route(
                "/page",
                get(page).layer(axum::middleware::from_fn_with_state(
                    pages.clone(),
                    page_read,
                )),
            )
            .route("/point", get(|| async { "point" }));
        let mut waiting = Vec::new();
        for _ in 0..5 {
            let app = app.clone();
            waiting.push(tokio::spawn(async move { get_status(&app, "/page").await }));
        }
        while running.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pages.available(), 0, "two pages hold both permits");
        // Five pages in flight, two running: a point read is answered at once.
        assert_eq!(get_status(&app, "/point").await, 200);
        // Let every page finish, two at a time.
        while !waiting.iter().all(|w| w.is_finished()) {
            gate.notify_waiters();
            tokio::task::yield_now().await;
        }
        for w in waiting {
            assert_eq!(w.await.unwrap(), 200);
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "never more than two at once"
        );
        assert_eq!(pages.available(), 2);
    }
}
