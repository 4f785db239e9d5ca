//! View Groups, a group's page, its live state, and the Restore buttons.
//!
//! Who sees what is the restore rule's (CONTRACT §3): the store answers View Groups by it (an
//! operator: every group), and a group's page is checked with `restore_policy::decide`. Restore
//! goes through `planner::restore`: the same rule, the same audit, the signed-in person as actor.

use super::{Ctx, here, local_path, state_word};
use crate::console::ConsoleState;
use crate::console::session;
use crate::core::domain::{School, Target, normalise_email};
use crate::core::link::{Link, LinkState};
use crate::core::restore_policy::{RestoreSubject, decide};
use crate::store::{GroupQuery, StoredGroup};
use crate::work::planner::{self, RestoreRefusal};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

/// Groups on one page of View Groups.
const PAGE: u32 = 50;

/// View Groups' filters (CONTRACT §9), as the form sends them: empty means "any".
#[derive(Deserialize, Default)]
pub struct Filters {
    academic_year: Option<String>,
    year_group: Option<String>,
    target: Option<String>,
    teacher: Option<String>,
    after: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn target_label(ctx: &Ctx, target: Target) -> String {
    match target {
        Target::Teams => ctx.t("target-teams"),
        Target::Classroom => ctx.t("target-classroom"),
    }
}

/// A state word in the page's language; `data-state` keeps the contract's word.
fn state_cell(ctx: &Ctx, link: &Link) -> Markup {
    let word = state_word(link);
    html! {
        span.state data-state=(word) data-state-of=(link.target.as_str()) { (ctx.t(&format!("state-{word}"))) }
    }
}

/// `GET /groups`: the groups the person may see, filtered, a page at a time.
pub async fn list(
    State(state): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let person = match ctx.require_person() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let store = &ctx.console.app.store;
    let target: Option<Target> = given(&f.target).and_then(|t| t.parse().ok());
    let year_group: Option<i64> = given(&f.year_group).and_then(|y| y.parse().ok());
    let viewer = (!person.operator).then(|| person.email.clone());
    let query = GroupQuery {
        viewer: viewer.clone(),
        school: None,
        academic_year: given(&f.academic_year).map(str::to_string),
        year_group,
        teacher: given(&f.teacher).map(normalise_email),
        target,
        state: None,
        after: given(&f.after).map(str::to_string),
        limit: PAGE,
    };
    let page = match store.visible_groups(&query).await {
        Ok(p) => p,
        Err(e) => return ctx.store_failed(e),
    };
    // Nothing shown: say whether the filters or the person's roles are why.
    let sees_nothing = if page.total == 0 && !person.operator {
        let any = GroupQuery {
            viewer,
            limit: 1,
            ..GroupQuery::default()
        };
        match store.visible_groups(&any).await {
            Ok(p) => p.total == 0,
            Err(e) => return ctx.store_failed(e),
        }
    } else {
        false
    };
    let next = page
        .more
        .then(|| page.groups.last().map(|(g, _)| g.group.id.clone()))
        .flatten();
    let years: Vec<String> = ctx
        .console
        .app
        .config
        .years
        .iter()
        .map(|y| y.year.to_string())
        .collect();
    let chosen_year = given(&f.academic_year).unwrap_or("");
    let chosen_target = given(&f.target).unwrap_or("");
    let chosen_yg = given(&f.year_group).unwrap_or("");
    let body = html! {
        nav.breadcrumb aria-label=(ctx.t("breadcrumb")) {
            span { (ctx.t("nav-administration")) } " › " span aria-current="page" { (ctx.t("groups-title")) }
        }
        @if person.operator { p.note { (ctx.t("groups-operator-note")) } }
        form.filters method="get" action="/groups" {
            div.field {
                label for="academic_year" { (ctx.t("filter-year")) }
                select id="academic_year" name="academic_year" {
                    option value="" selected[chosen_year.is_empty()] { (ctx.t("filter-any")) }
                    @for y in &years {
                        option value=(y) selected[chosen_year == y] { (y) }
                    }
                }
            }
            div.field {
                label for="year_group" { (ctx.t("filter-year-group")) }
                select id="year_group" name="year_group" {
                    option value="" selected[chosen_yg.is_empty()] { (ctx.t("filter-any")) }
                    @for n in 0..=14 {
                        option value=(n) selected[chosen_yg == n.to_string()] { (n) }
                    }
                }
            }
            div.field {
                label for="target" { (ctx.t("filter-target")) }
                select id="target" name="target" {
                    option value="" selected[chosen_target.is_empty()] { (ctx.t("filter-any")) }
                    option value="teams" selected[chosen_target == "teams"] { (ctx.t("target-teams")) }
                    option value="classroom" selected[chosen_target == "classroom"] { (ctx.t("target-classroom")) }
                }
            }
            div.field {
                label for="teacher" { (ctx.t("filter-teacher")) }
                input id="teacher" name="teacher" type="email" autocomplete="off"
                    value=(given(&f.teacher).unwrap_or(""));
            }
            div.field.actions { button type="submit" { (ctx.t("filter-apply")) } }
        }
        @if sees_nothing {
            p.message id="nothing" { (ctx.t("groups-none-visible")) }
        } @else if page.groups.is_empty() {
            p.message id="nothing" { (ctx.t("groups-none-match")) }
        } @else {
            p.count { (ctx.tw("groups-count", &[("total", page.total.into())])) }
            div.scroll {
                table.groups {
                    caption.visually-hidden { (ctx.t("groups-title")) }
                    thead { tr {
                        th scope="col" { (ctx.t("col-group")) }
                        th scope="col" { (ctx.t("col-school")) }
                        th scope="col" { (ctx.t("col-year")) }
                        th scope="col" { (ctx.t("col-year-group")) }
                        th scope="col" { (ctx.t("col-subject")) }
                        th scope="col" { (ctx.t("target-teams")) }
                        th scope="col" { (ctx.t("target-classroom")) }
                    } }
                    tbody {
                        @for (g, links) in &page.groups {
                            tr data-group=(g.group.id) {
                                th scope="row" { a href={ "/groups/" (g.group.id) } { (g.group.name) } }
                                td { (g.group.school) }
                                td { (g.group.academic_year) }
                                td { @if let Some(y) = g.group.year_group { (y) } }
                                td { @if let Some(s) = &g.group.subject { (s) } }
                                @for t in [Target::Teams, Target::Classroom] {
                                    td {
                                        @match links.iter().find(|l| l.target == t && g.group.targets.contains(&t)) {
                                            Some(l) => (state_cell(&ctx, l)),
                                            None => span.none { "—" },
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &next {
                p.pager {
                    a href=(next_page_href(&f, next)) rel="next" { (ctx.t("page-next")) }
                }
            }
        }
    };
    ctx.page(&ctx.t("groups-title"), body)
}

fn next_page_href(f: &Filters, after: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("academic_year", &f.academic_year),
        ("year_group", &f.year_group),
        ("target", &f.target),
        ("teacher", &f.teacher),
    ] {
        if let Some(v) = given(v) {
            q.append_pair(k, v);
        }
    }
    q.append_pair("after", after);
    format!("/groups?{}", q.finish())
}

/// A group, its school and links, if the person may see it: `Err` is the page to answer instead.
async fn visible_group(
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<(StoredGroup, Option<School>, Vec<Link>, bool), Response> {
    let person = ctx.require_person()?;
    let store = &ctx.console.app.store;
    let group = match store.group(id).await {
        Ok(Some(g)) => g,
        Ok(None) => return Err(ctx.error_page(StatusCode::NOT_FOUND, "error-no-group")),
        Err(e) => return Err(ctx.store_failed(e)),
    };
    let school = match store.school(&group.group.school).await {
        Ok(s) => s,
        Err(e) => return Err(ctx.store_failed(e)),
    };
    let admins = school.as_ref().map_or(&[][..], |s| s.admins.as_slice());
    let may_restore = decide(
        &person.email,
        &RestoreSubject {
            school_admins: admins,
            group_teachers: &group.group.teachers,
        },
    )
    .is_ok();
    if !may_restore && !person.operator {
        return Err(ctx.error_page(StatusCode::FORBIDDEN, "error-not-your-group"));
    }
    let links = match store.links_of(id).await {
        Ok(l) => l,
        Err(e) => return Err(ctx.store_failed(e)),
    };
    let mut links: Vec<Link> = links
        .into_iter()
        .filter(|l| group.group.targets.contains(&l.target))
        .collect();
    // In the order the portal names them: the team, then the course.
    links.sort_by_key(|l| l.target != Target::Teams);
    Ok((group, school, links, may_restore))
}

#[derive(Deserialize, Default)]
pub struct Notice {
    restore: Option<String>,
    resync: Option<u64>,
}

/// `GET /groups/{id}`: the overview, each link, the learners, and the buttons the person may press.
pub async fn page(
    State(state): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Response {
    let ctx = match Ctx::read(&state, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (group, school, links, may_restore) = match visible_group(&ctx, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(person) = ctx.person.clone() else {
        return Redirect::to("/").into_response();
    };
    let g = &group.group;
    let restore_notice = notice
        .restore
        .as_deref()
        .and_then(|t| t.parse::<Target>().ok());
    let body = html! {
        @if let Some(t) = restore_notice {
            p.notice role="status" { (ctx.tw("restore-requested", &[("target", target_label(&ctx, t).into())])) }
        }
        @if let Some(n) = notice.resync {
            p.notice role="status" { (ctx.tw("resync-requested", &[("jobs", n.into())])) }
        }
        @if group.withdrawn { p.note { (ctx.t("group-withdrawn")) } }
        section aria-labelledby="overview" {
            h2 id="overview" { (ctx.t("group-overview")) }
            dl.overview {
                dt { (ctx.t("col-school")) }
                dd { @if let Some(s) = &school { (s.name) " (" (s.id) ")" } @else { (g.school) } }
                dt { (ctx.t("col-year")) } dd { (g.academic_year) }
                dt { (ctx.t("col-year-group")) } dd { @if let Some(y) = g.year_group { (y) } @else { (ctx.t("none")) } }
                dt { (ctx.t("col-subject")) } dd { @if let Some(s) = &g.subject { (s) } @else { (ctx.t("none")) } }
                dt { (ctx.t("col-teachers")) }
                dd { ul.plain { @for t in &g.teachers { li { (t) } } } }
            }
        }
        section aria-labelledby="links" {
            h2 id="links" { (ctx.t("group-links")) }
            div.scroll { table.links data-group=(g.id) data-restoring=(ctx.t("state-restoring")) {
                thead { tr {
                    th scope="col" { (ctx.t("col-target")) }
                    th scope="col" { (ctx.t("col-state")) }
                    th scope="col" { (ctx.t("col-mis")) }
                    th scope="col" { (ctx.t("col-last-sync")) }
                    th scope="col" { (ctx.t("col-last-error")) }
                    th scope="col" { span.visually-hidden { (ctx.t("col-actions")) } }
                } }
                tbody {
                    @for l in &links {
                        tr data-target=(l.target.as_str()) {
                            th scope="row" { (target_label(&ctx, l.target)) }
                            td { (state_cell(&ctx, l)) }
                            td data-mis-of=(l.target.as_str()) {
                                @if l.mis_linked() { (ctx.t("mis-linked")) } @else { (ctx.t("mis-unlinked")) }
                            }
                            td { @match l.last_sync.and_then(crate::status::rfc3339) { Some(t) => time datetime=(t) { (t) }, None => (ctx.t("never")) } }
                            td data-error-of=(l.target.as_str()) { @match &l.last_error { Some(e) => (e), None => (ctx.t("none")) } }
                            td {
                                @if may_restore && l.state() == LinkState::Archived && l.mis_linked() {
                                    form method="post" action={ "/groups/" (g.id) "/restore" } {
                                        input type="hidden" name="csrf" value=(person.session.csrf);
                                        input type="hidden" name="target" value=(l.target.as_str());
                                        button type="submit" data-restore=(l.target.as_str()) {
                                            (ctx.t(&format!("restore-{}", l.target.as_str())))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            @if person.operator {
                form.inline method="post" action={ "/groups/" (g.id) "/resync" } {
                    input type="hidden" name="csrf" value=(person.session.csrf);
                    button type="submit" data-resync="group" { (ctx.t("resync-group")) }
                }
            }
        }
        section aria-labelledby="learners" {
            h2 id="learners" { (ctx.t("group-learners")) " (" (g.learners.len()) ")" }
            @if g.learners.is_empty() { p { (ctx.t("none")) } }
            @else { ul.learners { @for l in &g.learners { li { (l) } } } }
        }
    };
    ctx.page(&g.name, body)
}

/// One link's live state, for the page's script.
#[derive(Serialize)]
struct LiveLink {
    target: &'static str,
    /// The contract's word.
    state: &'static str,
    /// The word in the page's language.
    label: String,
    mis: String,
    error: Option<String>,
}

/// `GET /groups/{id}/state`: each link's state, for the page to follow a restore without a reload.
pub async fn state(
    State(st): State<ConsoleState>,
    uri: OriginalUri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let ctx = match Ctx::read(&st, &headers, here(&uri)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if ctx.person.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let (_, _, links, _) = match visible_group(&ctx, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let live: Vec<LiveLink> = links
        .iter()
        .map(|l| LiveLink {
            target: l.target.as_str(),
            state: state_word(l),
            label: ctx.t(&format!("state-{}", state_word(l))),
            mis: if l.mis_linked() {
                ctx.t("mis-linked")
            } else {
                ctx.t("mis-unlinked")
            },
            error: l.last_error.clone(),
        })
        .collect();
    Json(live).into_response()
}

#[derive(Deserialize)]
pub struct RestoreForm {
    csrf: Option<String>,
    target: Option<String>,
}

/// `POST /groups/{id}/restore`: the Restore button, through `planner::restore`.
pub async fn restore(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<RestoreForm>,
) -> Response {
    let back = format!("/groups/{id}");
    let ctx = match Ctx::read(&state, &headers, back.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(person) = ctx.person.clone() else {
        return ctx.refuse_forged("restore", Some(&id)).await;
    };
    if !session::csrf_ok(&person, form.csrf.as_deref()) {
        return ctx.refuse_forged("restore", Some(&id)).await;
    }
    let Some(target) = form
        .target
        .as_deref()
        .and_then(|t| t.parse::<Target>().ok())
    else {
        return ctx.error_page(StatusCode::BAD_REQUEST, "error-bad-target");
    };
    match planner::restore(&ctx.console.app, &id, target, &person.email).await {
        Ok(_) => Redirect::to(&format!(
            "{}?restore={}",
            local_path(Some(&back)),
            target.as_str()
        ))
        .into_response(),
        Err(RestoreRefusal::Forbidden(_)) => {
            ctx.error_page(StatusCode::FORBIDDEN, "restore-refused-forbidden")
        }
        Err(RestoreRefusal::Conflict(_)) => {
            ctx.error_page(StatusCode::CONFLICT, "restore-refused-conflict")
        }
        Err(RestoreRefusal::NotFound(_)) => ctx.error_page(StatusCode::NOT_FOUND, "error-no-group"),
        Err(RestoreRefusal::Store(e)) => ctx.store_failed(e),
    }
}
