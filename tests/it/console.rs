//! The web console over real HTTP, as a browser without a script engine would use it: sign-in
//! through the mocks' identity provider (authorization code + PKCE, id_token checked), sessions and
//! their cookies, CSRF, who sees which page and which button, Restore from a group's page, the
//! operator pages, Welsh and English. `browser.rs` drives the same pages in Chromium.

use crate::support::{Served, TestApp};
use class_sync::core::domain::Snapshot;
use class_sync::demo::{accounts, quick_mock_options, sample_snapshot};
use class_sync_mocks::Tamper;
use std::collections::BTreeMap;

pub const OPERATOR: &str = "servicedesk@hwbcymru.net";
pub const PRIMARY_ADMIN: &str = "admin.primary@hwbcymru.net";
/// Teaches Bl5-Dosbarth at the primary school.
pub const PRIMARY_TEACHER: &str = "jonesa12@hwbcymru.net";
/// Teaches at the secondary school only.
pub const OTHER_TEACHER: &str = "evansc3@hwbcymru.net";
/// A learner: neither admin nor teacher.
pub const LEARNER: &str = "plentyn5.01@hwbcymru.net";

pub fn group_id(code: &str, snap: &Snapshot) -> String {
    snap.groups
        .iter()
        .find(|g| g.id.ends_with(code))
        .map(|g| g.id.clone())
        .expect("sample group")
}

/// The sample year, created on 2025-09-01 and archived by the nightly job on 2026-09-01, served
/// with the console on 2026-09-02.
pub async fn archived_year_with_console() -> (TestApp, Snapshot, Served) {
    let mut app = TestApp::start_with(quick_mock_options()).await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    let (_, r) = app.import_on("2025-09-01", &snap).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let (_, r) = app.nightly_on("2026-09-01").await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let served = app.serve_console_on("2026-09-02", &[OPERATOR]).await;
    (app, snap, served)
}

/// A browser without a script engine: follows redirects itself (across the console and the
/// identity provider), keeps cookies per host, sends `Accept-Language`.
pub struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, BTreeMap<String, String>>,
    pub accept_language: String,
}

/// A page as the visitor got it.
pub struct Page {
    pub status: u16,
    pub url: String,
    pub body: String,
}

impl Visitor {
    pub fn new(served: &Served) -> Visitor {
        Visitor::at(&served.base)
    }

    /// A visitor of the console at `base` (`http://host:port`).
    pub fn at(base: &str) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_string(),
            cookies: BTreeMap::new(),
            accept_language: "en-GB,en;q=0.9".into(),
        }
    }

    fn host(url: &str) -> String {
        url::Url::parse(url)
            .map(|u| format!("{}:{}", u.host_str().unwrap_or(""), u.port().unwrap_or(80)))
            .unwrap_or_default()
    }

    fn absolute(&self, url: &str, from: &str) -> String {
        url::Url::parse(from)
            .and_then(|f| f.join(url))
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}{url}", self.base))
    }

    /// One request, no redirect followed; cookies kept.
    pub async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> (u16, Option<String>, String) {
        let host = Visitor::host(url);
        let mut req = self
            .http
            .request(method, url)
            .header("Accept-Language", &self.accept_language);
        if let Some(jar) = self.cookies.get(&host).filter(|j| !j.is_empty()) {
            let c: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("Cookie", c.join("; "));
        }
        if let Some(f) = form {
            req = req.form(f);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or("");
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            if let Some((k, val)) = pair.split_once('=') {
                let jar = self.cookies.entry(host.clone()).or_default();
                if attrs.contains("Max-Age=0") {
                    jar.remove(k.trim());
                } else {
                    jar.insert(k.trim().to_string(), val.trim().to_string());
                }
            }
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let body = resp.text().await.unwrap_or_default();
        (status, location, body)
    }

    /// GET, following redirects (at most 10).
    pub async fn get(&mut self, path_or_url: &str) -> Page {
        let mut url = self.absolute(path_or_url, &self.base.clone());
        for _ in 0..10 {
            let (status, location, body) = self.send(reqwest::Method::GET, &url, None).await;
            match location {
                Some(l) if (300..400).contains(&status) => url = self.absolute(&l, &url),
                _ => return Page { status, url, body },
            }
        }
        panic!("too many redirects from {path_or_url}");
    }

    /// POST a form to the console, then follow the answer's redirects.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = self.absolute(path, &self.base.clone());
        let (status, location, body) = self.send(reqwest::Method::POST, &url, Some(form)).await;
        match location {
            Some(l) if (300..400).contains(&status) => self.get(&self.absolute(&l, &url)).await,
            _ => Page { status, url, body },
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .get(&Visitor::host(&self.base))
            .and_then(|j| j.get(name).cloned())
    }

    /// Signs in as `email`: the console sends the browser to the identity provider, whose account
    /// page names every known account; picking one comes back to the console signed in.
    pub async fn sign_in(&mut self, email: &str) -> Page {
        let picker = self.get("/auth/sign-in?back=/groups").await;
        assert_eq!(picker.status, 200, "{}", picker.body);
        assert!(
            picker.body.contains(email),
            "the account page lists {email}"
        );
        let mut url = url::Url::parse(&picker.url).expect("url");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        url.set_path(&format!("{}/pick", url.path()));
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("username", email);
        self.get(url.as_str()).await
    }

    /// The CSRF token on the last page (any form's).
    pub fn csrf(page: &Page) -> String {
        let at = page
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &page.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end")].to_string()
    }
}

/// Whether View Groups lists `group` (a table row of its own).
fn listed(page: &Page, group: &str) -> bool {
    page.body.contains(&format!("data-group=\"{group}\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_person_sees_exactly_the_groups_the_restore_rule_allows() {
    let (_app, snap, served) = archived_year_with_console().await;
    let primary: Vec<String> = snap
        .groups
        .iter()
        .filter(|g| g.school == "6612001")
        .map(|g| g.id.clone())
        .collect();
    let secondary: Vec<String> = snap
        .groups
        .iter()
        .filter(|g| g.school == "6614002")
        .map(|g| g.id.clone())
        .collect();

    // Signed out: the front page offers sign-in, and View Groups sends there.
    let mut v = Visitor::new(&served);
    let front = v.get("/").await;
    assert_eq!(front.status, 200);
    assert!(
        front.body.contains("Sign in with Microsoft"),
        "{}",
        front.body
    );
    let page = v.get("/groups").await;
    assert!(
        page.body.contains("Sign in with Microsoft"),
        "signed out, /groups asks to sign in"
    );

    // A school admin: every group of their school, none of the other.
    let mut admin = Visitor::new(&served);
    let page = admin.sign_in(PRIMARY_ADMIN).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.url.ends_with("/groups"), "{}", page.url);
    assert!(page.body.contains("View Groups"));
    assert!(page.body.contains(&format!("Signed in as {PRIMARY_ADMIN}")));
    for g in &primary {
        assert!(listed(&page, g), "admin sees {g}");
    }
    for g in &secondary {
        assert!(!listed(&page, g), "admin does not see {g}");
    }
    let session = admin.cookie("class_sync_session").expect("session cookie");
    assert!(session.len() >= 40);

    // A teacher: their own class only.
    let mut teacher = Visitor::new(&served);
    let page = teacher.sign_in(PRIMARY_TEACHER).await;
    let bl5 = group_id("Bl5-Dosbarth", &snap);
    assert!(listed(&page, &bl5));
    for g in primary.iter().chain(&secondary).filter(|g| **g != bl5) {
        assert!(!listed(&page, g), "teacher does not see {g}");
    }
    // Each target's state as a word.
    assert!(
        page.body.contains("data-state=\"archived\""),
        "{}",
        page.body
    );

    // Another school's teacher: their classes there, nothing of the primary school; their page
    // of a primary class is refused.
    let mut other = Visitor::new(&served);
    let page = other.sign_in(OTHER_TEACHER).await;
    assert!(listed(&page, &group_id("7A-Ma1", &snap)));
    assert!(listed(&page, &group_id("8B-Sc2", &snap)));
    assert!(!listed(&page, &bl5));
    let refused = other.get(&format!("/groups/{bl5}")).await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // Neither admin nor teacher: an empty list, with a sentence saying why.
    let mut learner = Visitor::new(&served);
    let page = learner.sign_in(LEARNER).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"nothing\""), "{}", page.body);
    assert!(page.body.contains("so there are no groups for you to see"));
    for g in primary.iter().chain(&secondary) {
        assert!(!listed(&page, g));
    }

    // An operator: every group; the operator pages; others get 403 there.
    let mut op = Visitor::new(&served);
    let page = op.sign_in(OPERATOR).await;
    for g in primary.iter().chain(&secondary) {
        assert!(listed(&page, g), "operator sees {g}");
    }
    for path in ["/status", "/schools", "/audit"] {
        let p = op.get(path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.body);
        let p = teacher.get(path).await;
        assert_eq!(p.status, 403, "teacher on {path}");
    }
    let schools = op.get("/schools").await;
    assert!(schools.body.contains("Resync school"));

    // The filters: year group narrows the admin's list.
    let page = admin.get("/groups?year_group=6").await;
    assert!(listed(&page, &group_id("Bl6-Dosbarth", &snap)));
    assert!(!listed(&page, &bl5));
    let page = admin
        .get("/groups?target=classroom&academic_year=2025-26")
        .await;
    assert!(listed(&page, &bl5));
    let page = admin.get("/groups?teacher=nobody%40hwbcymru.net").await;
    assert!(page.body.contains("No groups match these filters."));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_from_the_group_page_follows_the_rule_and_a_forged_post_changes_nothing() {
    let (app, snap, served) = archived_year_with_console().await;
    let bl5 = group_id("Bl5-Dosbarth", &snap);

    // Another school's teacher sees no button, and a POST of theirs is refused and audited.
    let mut other = Visitor::new(&served);
    other.sign_in(OTHER_TEACHER).await;
    let own = other
        .get(&format!("/groups/{}", group_id("7A-Ma1", &snap)))
        .await;
    let token = Visitor::csrf(&own);
    let refused = other
        .post(
            &format!("/groups/{bl5}/restore"),
            &[("csrf", &token), ("target", "teams")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // The teacher sees both buttons on their archived class.
    let mut teacher = Visitor::new(&served);
    teacher.sign_in(PRIMARY_TEACHER).await;
    let page = teacher.get(&format!("/groups/{bl5}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Restore Microsoft Team"));
    assert!(page.body.contains("Restore Google Classroom"));
    assert!(
        page.body.contains("plentyn5.01@hwbcymru.net"),
        "learners listed"
    );
    assert!(page.body.contains("MIS-linked"));

    // A POST with no session (a cross-site form: SameSite keeps the cookie home) is refused.
    let mut stranger = Visitor::new(&served);
    let forged = stranger
        .post(&format!("/groups/{bl5}/restore"), &[("target", "teams")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);

    // A forged POST (no token, or another's) is refused with 403 and changes nothing.
    let forged = teacher
        .post(&format!("/groups/{bl5}/restore"), &[("target", "teams")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let forged = teacher
        .post(
            &format!("/groups/{bl5}/restore"),
            &[("csrf", &token), ("target", "teams")],
        )
        .await;
    assert_eq!(forged.status, 403, "another session's token");
    assert!(app.team(&bl5).is_archived, "nothing changed");

    // The real press: restoring, then restored, MIS-unlinked; the team is no longer archived.
    let token = Visitor::csrf(&page);
    let after = teacher
        .post(
            &format!("/groups/{bl5}/restore"),
            &[("csrf", &token), ("target", "teams")],
        )
        .await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(after.url.contains("restore=teams"), "{}", after.url);
    assert!(
        !after.body.contains("Restore Microsoft Team"),
        "no button once pressed"
    );
    let mut done = serde_json::Value::Null;
    for _ in 0..300 {
        let p = teacher.get(&format!("/groups/{bl5}/state")).await;
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap_or_default();
        if let Some(teams) = v
            .as_array()
            .and_then(|a| a.iter().find(|l| l["target"] == "teams"))
            && teams["state"] == "restored"
        {
            done = teams.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        done["state"], "restored",
        "the team is restored within 30 s"
    );
    assert_eq!(done["mis"], "MIS-unlinked");
    assert!(
        !app.team(&bl5).is_archived,
        "the team is unarchived in Teams"
    );
    assert_eq!(
        app.course(&bl5).state,
        "ARCHIVED",
        "the course is left archived"
    );

    // Every console action is audited with the signed-in person.
    let mut op = Visitor::new(&served);
    op.sign_in(OPERATOR).await;
    let audit = op.get(&format!("/audit?group={bl5}")).await;
    assert!(
        audit.body.contains(OTHER_TEACHER),
        "the other teacher's refusal: {}",
        audit.body
    );
    assert!(audit.body.contains("console form without its CSRF token"));
    assert!(audit.body.contains("console form without a session"));
    let granted = op
        .get(&format!(
            "/audit?group={bl5}&actor={PRIMARY_TEACHER}&action=restore"
        ))
        .await;
    assert!(granted.body.contains(PRIMARY_TEACHER));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_resync_a_school_and_a_group_and_see_the_archive_preview() {
    let (_app, snap, served) = archived_year_with_console().await;
    let bl5 = group_id("Bl5-Dosbarth", &snap);
    let mut op = Visitor::new(&served);
    op.sign_in(OPERATOR).await;
    let schools = op.get("/schools").await;
    let token = Visitor::csrf(&schools);
    let done = op
        .post("/schools/6612001/resync", &[("csrf", &token)])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("Resync of school 6612001 requested"),
        "{}",
        done.body
    );
    let done = op
        .post(&format!("/groups/{bl5}/resync"), &[("csrf", &token)])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Resync requested"), "{}", done.body);
    let preview = op.get("/archive-preview?year=2025-26").await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("Nothing has been queued"));

    // A teacher's resync is refused and audited.
    let mut teacher = Visitor::new(&served);
    teacher.sign_in(PRIMARY_TEACHER).await;
    let page = teacher.get(&format!("/groups/{bl5}")).await;
    assert!(
        !page.body.contains("Resync group"),
        "no resync button for a teacher"
    );
    let refused = teacher
        .post(
            &format!("/groups/{bl5}/resync"),
            &[("csrf", &Visitor::csrf(&page))],
        )
        .await;
    assert_eq!(refused.status, 403);
    let audit = op
        .get(&format!("/audit?actor={PRIMARY_TEACHER}&action=sync"))
        .await;
    assert!(
        audit.body.contains("only operators may force a resync"),
        "{}",
        audit.body
    );
    let status = op.get("/status").await;
    assert!(status.body.contains("Queue by lane"));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_exists_in_welsh_and_the_choice_is_remembered() {
    let (_app, snap, served) = archived_year_with_console().await;
    let bl5 = group_id("Bl5-Dosbarth", &snap);
    let mut op = Visitor::new(&served);
    op.accept_language = "cy-GB,cy;q=0.9,en;q=0.5".into();
    let front = op.get("/").await;
    assert!(
        front.body.contains("lang=\"cy\""),
        "the browser's language first"
    );
    assert!(front.body.contains("Mewngofnodi gyda Microsoft"));
    op.sign_in(OPERATOR).await;
    let pages = [
        "/groups".to_string(),
        format!("/groups/{bl5}"),
        "/status".into(),
        "/schools".into(),
        "/audit".into(),
        "/archive-preview?year=2025-26".into(),
    ];
    for path in &pages {
        let p = op.get(path).await;
        assert_eq!(p.status, 200, "{path}");
        assert!(p.body.contains("<html lang=\"cy\">"), "{path} in Welsh");
        assert!(
            !p.body.contains('⟦'),
            "{path}: a message is missing: {}",
            p.body
        );
    }
    let groups = op.get("/groups").await;
    assert!(groups.body.contains("Gweld Grwpiau"));
    assert!(groups.body.contains("Blwyddyn academaidd"));
    // The switch: English, remembered over the browser's Welsh.
    let english = op.get("/lang/en?back=/groups").await;
    assert!(english.body.contains("<html lang=\"en\">"));
    assert!(english.body.contains("Academic year"));
    assert_eq!(op.cookie("class_sync_lang").as_deref(), Some("en"));
    for path in &pages {
        let p = op.get(path).await;
        assert!(
            p.body.contains("<html lang=\"en\">"),
            "{path} stays English"
        );
        assert!(!p.body.contains('⟦'), "{path}: a message is missing");
    }
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_id_token_or_a_replayed_sign_in_opens_no_session() {
    let (app, _snap, served) = archived_year_with_console().await;
    let cases = [
        Tamper::WrongAudience,
        Tamper::WrongIssuer,
        Tamper::Expired,
        Tamper::WrongNonce,
        Tamper::BadSignature,
        Tamper::UnknownKeyId,
    ];
    for tamper in cases {
        app.mocks.tamper_id_tokens(tamper);
        let mut v = Visitor::new(&served);
        let page = v.sign_in(PRIMARY_ADMIN).await;
        assert_eq!(page.status, 403, "{tamper:?}: {}", page.body);
        assert!(page.body.contains("Sign-in did not complete"), "{tamper:?}");
        assert!(
            v.cookie("class_sync_session").is_none(),
            "{tamper:?}: no session"
        );
    }
    app.mocks.tamper_id_tokens(Tamper::None);

    // The callback replayed (same state and code) after a good sign-in: refused.
    let mut v = Visitor::new(&served);
    let picker = v.get("/auth/sign-in?back=/groups").await;
    let mut url = url::Url::parse(&picker.url).expect("url");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    url.set_path(&format!("{}/pick", url.path()));
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("username", PRIMARY_ADMIN);
    let (status, location, _) = v.send(reqwest::Method::GET, url.as_str(), None).await;
    assert_eq!(status, 302);
    let callback = location.expect("redirect to the callback");
    let first = v.get(&callback).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = v.get(&callback).await;
    assert_eq!(again.status, 403, "a used sign-in: {}", again.body);

    // A callback this browser did not start (no sign-in cookie) is refused.
    let mut stranger = Visitor::new(&served);
    let page = stranger
        .get(&format!(
            "{}/auth/callback?state=made-up&code=x",
            served.base
        ))
        .await;
    assert_eq!(page.status, 403);

    // Sign-out ends the session: its cookie no longer opens anything.
    let groups = v.get("/groups").await;
    let token = Visitor::csrf(&groups);
    let out = v.post("/auth/sign-out", &[("csrf", &token)]).await;
    assert!(out.body.contains("Sign in with Microsoft"));
    let again = v.get("/groups").await;
    assert!(again.body.contains("Sign in with Microsoft"), "signed out");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_is_held_to_the_per_host_rate_and_sign_in_still_works_after() {
    let (_app, _snap, served) = archived_year_with_console().await;
    // Each sign-in started writes a row, and anyone can ask for one: a flood is refused past the
    // rate (50 a second after a burst of 200), with Retry-After, before it reaches the store.
    let flood = Visitor::new(&served);
    let url = format!("{}/auth/sign-in", served.base);
    let started = std::time::Instant::now();
    let (mut accepted, mut refused) = (0u32, None);
    for _ in 0..2_000 {
        let resp = flood.http.get(&url).send().await.expect("request");
        match resp.status().as_u16() {
            303 | 302 | 307 => accepted += 1,
            429 => {
                let retry = resp.headers().get("retry-after").cloned();
                refused = Some((retry, resp.text().await.unwrap_or_default()));
                break;
            }
            other => panic!("sign-in answered {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (retry_after, body) = refused.expect("the flood is refused at some point");
    assert_eq!(
        retry_after.as_ref().and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(body.contains("Many people are signing in"), "{body}");
    let allowed = 200.0 + 50.0 * elapsed + 1.0;
    assert!(
        f64::from(accepted) <= allowed && accepted >= 200,
        "{accepted} sign-ins started in {elapsed:.2} s (at most {allowed:.0})"
    );
    // A second later the rate has room again: a person signs in as usual.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let mut v = Visitor::new(&served);
    let page = v.sign_in(PRIMARY_ADMIN).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(v.cookie("class_sync_session").is_some());
    served.stop().await;
}
