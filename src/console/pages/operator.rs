//! The operators' pages (`[console] operators`): status, schools (stale first), the year-end
//! archive's dry run per school, the audit log with filters, and the resync buttons. Everyone else
//! gets 403.

use super::{Ctx, audit_entry, here};
use crate::console::ConsoleState;
use crate::console::session;
use crate::core::link::LinkState;
use crate::status::{Staleness, rfc3339};
use crate::store::{AuditFilter, GroupQuery};
use crate::work::planner;
use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

/// Failed links listed on the status page.
const FAILURES_SHOWN: u32 = 50;
/// Audit entries on one page.
const AUDIT_PAGE: u32 = 100;
/// Schools on one page of the schools list.
const SCHOOLS_PAGE: usize = 100;

/// `GET /status`: links by year and state, the queue by lane, live workers, the last nightly runs,
/// the failed links with the service's code and message.
pub async fn status(
    State(state): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = ctx.require_operator() {
        return r;
    }
    let app = &ctx.console.app;
    let query = crate::work::worker::status_query(app, 1);
    let failures = GroupQuery {
        state: Some(LinkState::Failed),
        limit: FAILURES_SHOWN,
        ..GroupQuery::default()
    };
    let read = async {
        let counts = ctx.console.counts.get(&app.store).await?;
        let (doc, lanes, failed) = tokio::try_join!(
            crate::status::overall_with(&*app.store, query, &counts),
            app.store.queue_depth(),
            app.store.visible_groups(&failures),
        )?;
        Ok::<_, crate::store::StoreError>((doc, lanes, failed))
    };
    let (doc, lanes, failed) = match read.await {
        Ok(v) => v,
        Err(e) => return ctx.store_failed(e),
    };
    let run_row = |label: String, run: &Option<crate::status::RunDocument>| {
        html! {
            tr {
                th scope="row" { (label) }
                @match run {
                    Some(r) => {
                        td { (r.today) }
                        td { @match r.ok { Some(true) => (ctx.t("run-ok")), Some(false) => (ctx.t("run-failed")), None => (ctx.t("run-running")) } }
                        td { (r.finished_at.clone().unwrap_or_default()) }
                        td { (r.summary) }
                    }
                    None => { td colspan="4" { (ctx.t("never")) } }
                }
            }
        }
    };
    let body = html! {
        p { (ctx.tw("status-today", &[("year", doc.today.as_str().into())])) }
        section aria-labelledby="links-h" {
            h2 id="links-h" { (ctx.t("status-links")) }
            div.scroll { table {
                thead { tr { th scope="col" { (ctx.t("col-year")) } th scope="col" { (ctx.t("col-state")) } th scope="col" { (ctx.t("col-count")) } } }
                tbody {
                    @for (year, states) in &doc.links {
                        @for (st, n) in states {
                            tr { td { (year) } td { span.state data-state=(st) { (ctx.t(&format!("state-{st}"))) } } td.num { (n) } }
                        }
                    }
                }
            } }
        }
        section aria-labelledby="queue-h" {
            h2 id="queue-h" { (ctx.t("status-queue")) }
            @if lanes.is_empty() { p { (ctx.t("queue-empty")) } } @else {
                div.scroll { table {
                    thead { tr { th scope="col" { (ctx.t("col-lane")) } th scope="col" { (ctx.t("col-kind")) } th scope="col" { (ctx.t("col-count")) } } }
                    tbody { @for (lane, kind, n) in &lanes { tr { td { (lane.as_str()) } td { (kind.as_str()) } td.num { (n) } } } }
                } }
            }
        }
        section aria-labelledby="workers-h" {
            h2 id="workers-h" { (ctx.t("status-workers")) }
            @if doc.workers.is_empty() { p { (ctx.t("workers-none")) } } @else {
                ul { @for w in &doc.workers { li { (w.id) " · " (w.kind) " · pid " (w.pid) " · " (w.seen_at.clone().unwrap_or_default()) } } }
            }
        }
        section aria-labelledby="runs-h" {
            h2 id="runs-h" { (ctx.t("status-nightly")) }
            div.scroll { table {
                thead { tr { th scope="col" { } th scope="col" { (ctx.t("col-day")) } th scope="col" { (ctx.t("col-outcome")) } th scope="col" { (ctx.t("col-finished")) } th scope="col" { (ctx.t("col-summary")) } } }
                tbody {
                    (run_row(ctx.t("run-last"), &doc.last_nightly))
                    (run_row(ctx.t("run-last-ok"), &doc.last_successful_nightly))
                }
            } }
        }
        section aria-labelledby="failures-h" {
            h2 id="failures-h" { (ctx.t("status-failures")) }
            @if failed.groups.is_empty() { p { (ctx.t("failures-none")) } } @else {
                p { (ctx.tw("failures-count", &[("count", failed.total.into())])) }
                div.scroll { table {
                    thead { tr { th scope="col" { (ctx.t("col-group")) } th scope="col" { (ctx.t("col-target")) } th scope="col" { (ctx.t("col-last-error")) } } }
                    tbody {
                        @for (g, links) in &failed.groups {
                            @for l in links.iter().filter(|l| l.state() == LinkState::Failed) {
                                tr {
                                    td { a href={ "/groups/" (g.group.id) } { (g.group.id) } }
                                    td { (l.target.as_str()) }
                                    td { (l.last_error.clone().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                } }
            }
        }
    };
    ctx.page(&ctx.t("status-title"), body)
}

#[derive(Deserialize, Default)]
pub struct SchoolsQuery {
    page: Option<usize>,
    resync: Option<u64>,
    school: Option<String>,
}

/// `GET /schools`: each school's provisioning status, stale ones first (never imported, then the
/// oldest import), with a "Resync school" button each.
pub async fn schools(
    State(state): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
    Query(q): Query<SchoolsQuery>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let person = match ctx.require_operator() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let app = &ctx.console.app;
    let staleness = Staleness {
        today: app.today(),
        after_days: app.config.import.stale_after_days,
    };
    // One row a school (1,500 at national size): read whole, ordered here, shown a page at a time.
    let mut all = match app.store.schools_with_last_import(None, u32::MAX).await {
        Ok(s) => s,
        Err(e) => return ctx.store_failed(e),
    };
    all.sort_by(|a, b| {
        let day = |s: &crate::store::SchoolLastImport| s.last.as_ref().map(|l| l.day.clone());
        day(a)
            .cmp(&day(b))
            .then_with(|| a.school_id.cmp(&b.school_id))
    });
    let pages = all.len().div_ceil(SCHOOLS_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown = all
        .iter()
        .skip((page - 1) * SCHOOLS_PAGE)
        .take(SCHOOLS_PAGE);
    let years: Vec<String> = app
        .config
        .years
        .iter()
        .map(|y| y.year.to_string())
        .collect();
    let body = html! {
        @if let (Some(n), Some(s)) = (q.resync, &q.school) {
            p.notice role="status" { (ctx.tw("resync-school-requested", &[("school", s.as_str().into()), ("jobs", n.into())])) }
        }
        p { (ctx.tw("schools-summary", &[("count", all.len().into()), ("days", staleness.after_days.into())])) }
        @if !years.is_empty() {
            form.filters method="get" action="/archive-preview" {
                div.field {
                    label for="year" { (ctx.t("archive-year")) }
                    select id="year" name="year" { @for y in &years { option value=(y) { (y) } } }
                }
                div.field.actions { button type="submit" { (ctx.t("archive-preview-button")) } }
            }
        }
        div.scroll { table.schools {
            thead { tr {
                th scope="col" { (ctx.t("col-school")) }
                th scope="col" { (ctx.t("col-last-import")) }
                th scope="col" { (ctx.t("col-days-since")) }
                th scope="col" { (ctx.t("col-format")) }
                th scope="col" { (ctx.t("col-stale")) }
                th scope="col" { span.visually-hidden { (ctx.t("col-actions")) } }
            } }
            tbody {
                @for s in shown {
                    @let day = s.last.as_ref().map(|l| l.day.as_str());
                    @let stale = staleness.is_stale(day);
                    tr data-school=(s.school_id) class=[stale.then_some("stale")] {
                        th scope="row" { (s.name) " (" (s.school_id) ")" }
                        td { @match day { Some(d) => (d), None => (ctx.t("never")) } }
                        td.num { @if let Some(n) = day.and_then(|d| staleness.days_since(d)) { (n) } }
                        td { @if let Some(l) = &s.last { (l.format) } }
                        td { @if stale { strong { (ctx.t("stale")) } } @else { (ctx.t("fresh")) } }
                        td {
                            form method="post" action={ "/schools/" (s.school_id) "/resync" } {
                                input type="hidden" name="csrf" value=(person.session.csrf);
                                button type="submit" data-resync="school" { (ctx.t("resync-school")) }
                            }
                        }
                    }
                }
            }
        } }
        @if pages > 1 {
            nav.pager aria-label=(ctx.t("pages")) {
                @if page > 1 { a href={ "/schools?page=" (page - 1) } rel="prev" { (ctx.t("page-previous")) } " " }
                span { (page) " / " (pages) }
                @if page < pages { " " a href={ "/schools?page=" (page + 1) } rel="next" { (ctx.t("page-next")) } }
            }
        }
    };
    ctx.page(&ctx.t("schools-title"), body)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /schools/{id}/resync`: "Resync school", through `planner::sync`.
pub async fn resync_school(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    resync(state, headers, form, Resync::School(id)).await
}

/// `POST /groups/{id}/resync`: "Resync group", through `planner::sync`.
pub async fn resync_group(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    resync(state, headers, form, Resync::Group(id)).await
}

enum Resync {
    School(String),
    Group(String),
}

async fn resync(state: ConsoleState, headers: HeaderMap, form: CsrfForm, what: Resync) -> Response {
    let ctx = match Ctx::read(&state, &headers, "/schools".to_string()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let group = match &what {
        Resync::Group(g) => Some(g.as_str()),
        Resync::School(_) => None,
    };
    let Some(person) = ctx.person.clone() else {
        return ctx.refuse_forged("sync", group).await;
    };
    if !session::csrf_ok(&person, form.csrf.as_deref()) {
        return ctx.refuse_forged("sync", group).await;
    }
    if !person.operator {
        let entry = audit_entry(
            &person.email,
            "sync",
            group,
            "refused",
            "only operators may force a resync",
        );
        if let Err(e) = ctx.console.app.store.audit(&entry).await {
            return ctx.store_failed(e);
        }
        return ctx.error_page(StatusCode::FORBIDDEN, "error-operators-only");
    }
    let app = &ctx.console.app;
    let (schools, groups) = match &what {
        Resync::School(s) => (vec![s.clone()], vec![]),
        Resync::Group(g) => (vec![], vec![g.clone()]),
    };
    // `planner::sync` audits the resync with its actor.
    let done = match planner::sync(app, &schools, &groups, None, &person.email).await {
        Ok(d) => d,
        Err(e) => return ctx.store_failed(e),
    };
    if !done.unknown_schools.is_empty() || !done.unknown_groups.is_empty() {
        return ctx.error_page(StatusCode::NOT_FOUND, "error-not-found");
    }
    let to = match what {
        Resync::School(s) => {
            let s = url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            format!("/schools?school={s}&resync={}", done.enqueued)
        }
        Resync::Group(g) => format!("/groups/{g}?resync={}", done.enqueued),
    };
    Redirect::to(&to).into_response()
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    year: Option<String>,
}

/// `GET /archive-preview?year=`: what the year-end archive would archive, per school (a dry run:
/// nothing is enqueued).
pub async fn archive_preview(
    State(state): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
    Query(q): Query<PreviewQuery>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let person = match ctx.require_operator() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let app = &ctx.console.app;
    let Some(year) = q
        .year
        .or_else(|| app.config.years.first().map(|y| y.year.to_string()))
    else {
        return ctx.error_page(StatusCode::NOT_FOUND, "archive-no-years");
    };
    let summary = match planner::archive_year(app, &year, true, false, &person.email).await {
        Ok(s) => s,
        Err(planner::ArchiveRefusal::Store(e)) => return ctx.store_failed(e),
        Err(_) => return ctx.error_page(StatusCode::NOT_FOUND, "archive-no-years"),
    };
    let total: u64 = summary.per_school.values().sum();
    let body = html! {
        p { (ctx.tw("archive-summary", &[("year", year.as_str().into()), ("count", total.into()), ("school", summary.per_school.len().into())])) }
        p { (ctx.tw("archive-unlinked", &[("count", summary.skipped_unlinked.into())])) }
        @if !summary.per_school.is_empty() {
            div.scroll { table {
                thead { tr { th scope="col" { (ctx.t("col-school")) } th scope="col" { (ctx.t("col-count")) } } }
                tbody { @for (school, n) in &summary.per_school { tr { td { (school) } td.num { (n) } } } }
            } }
        }
    };
    ctx.page(
        &ctx.tw("archive-title", &[("year", year.as_str().into())]),
        body,
    )
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    group: Option<String>,
    before: Option<i64>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `GET /audit`: the audit log, newest first, filtered by actor, action, outcome or group.
pub async fn audit(
    State(state): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = ctx.require_operator() {
        return r;
    }
    let filter = AuditFilter {
        actor: given(&q.actor).map(|a| crate::core::domain::normalise_email(&a)),
        action: given(&q.action),
        outcome: given(&q.outcome),
        group_id: given(&q.group),
    };
    let entries = match ctx
        .console
        .app
        .store
        .audit_search(&filter, q.before, AUDIT_PAGE + 1)
        .await
    {
        Ok(e) => e,
        Err(e) => return ctx.store_failed(e),
    };
    let more = entries.len() > AUDIT_PAGE as usize;
    let entries = &entries[..entries.len().min(AUDIT_PAGE as usize)];
    let next = more.then(|| entries.last().map(|(id, _)| *id)).flatten();
    let field = |id: &str, name: &str, value: &Option<String>| {
        html! {
            div.field {
                label for=(id) { (ctx.t(name)) }
                input id=(id) name=(id) type="text" value=(value.clone().unwrap_or_default());
            }
        }
    };
    let body = html! {
        form.filters method="get" action="/audit" {
            (field("actor", "col-actor", &q.actor))
            (field("action", "col-action", &q.action))
            (field("outcome", "col-outcome", &q.outcome))
            (field("group", "col-group", &q.group))
            div.field.actions { button type="submit" { (ctx.t("filter-apply")) } }
        }
        @if entries.is_empty() { p.message { (ctx.t("audit-none")) } } @else {
            div.scroll { table.audit {
                thead { tr {
                    th scope="col" { (ctx.t("col-when")) }
                    th scope="col" { (ctx.t("col-actor")) }
                    th scope="col" { (ctx.t("col-action")) }
                    th scope="col" { (ctx.t("col-group")) }
                    th scope="col" { (ctx.t("col-target")) }
                    th scope="col" { (ctx.t("col-outcome")) }
                    th scope="col" { (ctx.t("col-detail")) }
                } }
                tbody {
                    @for (_, e) in entries {
                        tr {
                            td { (rfc3339(e.at).unwrap_or_default()) }
                            td { (e.actor) }
                            td { (e.action) }
                            td { @if let Some(g) = &e.group_id { a href={ "/groups/" (g) } { (g) } } }
                            td { (e.target.clone().unwrap_or_default()) }
                            td { (e.outcome) }
                            td { (e.detail) }
                        }
                    }
                }
            } }
        }
        @if let Some(next) = next {
            p.pager { a rel="next" href=(older_href(&q, next)) { (ctx.t("page-older")) } }
        }
    };
    ctx.page(&ctx.t("audit-title"), body)
}

fn older_href(q: &AuditQuery, before: i64) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("outcome", &q.outcome),
        ("group", &q.group),
    ] {
        if let Some(v) = given(v) {
            s.append_pair(k, &v);
        }
    }
    s.append_pair("before", &before.to_string());
    format!("/audit?{}", s.finish())
}
