//! The web console in a real browser: Debian's headless Chromium through WebDriver (chromedriver,
//! driven by `fantoccini`). An admin, a teacher, another school's teacher and an operator sign in at
//! the mocks' identity provider by clicking their account; each sees what they may; a teacher
//! presses Restore and the page follows it to "restored" without a reload; a forged POST from the
//! page's own origin without the CSRF token is refused.
//!
//! `.ci/run` installs `chromium` and `chromium-driver`. Without them the tests fail when `CI` is set
//! and otherwise say loudly that they skipped. With `CLASS_SYNC_SCREENSHOTS=DIR` they save the
//! README's screenshots there.

use crate::console::{
    OPERATOR, OTHER_TEACHER, PRIMARY_ADMIN, PRIMARY_TEACHER, archived_year_with_console, group_id,
};
use crate::support::Served;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_program(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
}

/// Starts chromedriver, or says why not: a failure under `CI`, a loud skip elsewhere.
async fn driver() -> Option<Driver> {
    let chromedriver = find_program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
    let chromium = find_program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let (Some(chromedriver), Some(_)) = (chromedriver, chromium) else {
        let why = "the browser tests need Debian's chromium and chromium-driver \
                   (apt-get install -y chromium chromium-driver; .ci/run installs them)";
        if std::env::var_os("CI").is_some() {
            panic!("CI is set and {why}");
        }
        eprintln!("\n!!! SKIPPED: {why} !!!\n");
        return None;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let driver = Driver { child, url };
    let ready = crate::support::eventually(20, || async {
        reqwest::get(format!("{}/status", driver.url))
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await;
    assert!(ready.is_some(), "chromedriver did not answer within 20 s");
    Some(driver)
}

/// A fresh headless Chromium (a new profile: no cookies), in English, at a laptop's size.
async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": find_program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-sync", "--disable-component-update",
                "--disable-dev-shm-usage", "--lang=en-GB", "--window-size=1280,900"
            ],
            "prefs": { "intl.accept_languages": "en-GB,en" }
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Signs in by clicking: "Sign in with Microsoft", then the account on the provider's page.
async fn sign_in(c: &Client, served: &Served, email: &str) {
    c.goto(&format!("{}/", served.base))
        .await
        .expect("front page");
    c.find(Locator::XPath(
        "//button[normalize-space()='Sign in with Microsoft']",
    ))
    .await
    .expect("the sign-in button")
    .click()
    .await
    .expect("click");
    c.wait()
        .for_element(Locator::Css(&format!("button[data-username=\"{email}\"]")))
        .await
        .expect("the account page lists the account")
        .click()
        .await
        .expect("pick the account");
    c.wait()
        .for_element(Locator::Css("main h1"))
        .await
        .expect("back at the console");
    let url = c.current_url().await.expect("url");
    assert!(url.path().ends_with("/groups"), "{url}");
}

/// The group ids listed on View Groups.
async fn listed(c: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    for row in c
        .find_all(Locator::Css("tr[data-group]"))
        .await
        .expect("rows")
    {
        if let Some(id) = row.attr("data-group").await.expect("attr") {
            ids.push(id);
        }
    }
    ids.sort();
    ids
}

async fn state_of(c: &Client, target: &str) -> String {
    c.find(Locator::Css(&format!("[data-state-of=\"{target}\"]")))
        .await
        .expect("the state cell")
        .attr("data-state")
        .await
        .expect("attr")
        .unwrap_or_default()
}

async fn screenshot(c: &Client, name: &str) {
    let Some(dir) = std::env::var_os("CLASS_SYNC_SCREENSHOTS") else {
        return;
    };
    let png = c.screenshot().await.expect("screenshot");
    let path = std::path::Path::new(&dir).join(name);
    std::fs::write(&path, png).expect("screenshot written");
    eprintln!("screenshot: {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_see_what_they_may_and_restore_in_chromium() {
    let Some(driver) = driver().await else {
        return;
    };
    let _alone = crate::support::CPU_HEAVY_OR_TIMED.lock().await;
    let (app, snap, served) = archived_year_with_console().await;
    let ids = |school: &str| {
        let mut v: Vec<String> = snap
            .groups
            .iter()
            .filter(|g| g.school == school)
            .map(|g| g.id.clone())
            .collect();
        v.sort();
        v
    };
    let bl5 = group_id("Bl5-Dosbarth", &snap);

    // A school admin: every class of the school, and its Restore buttons.
    let c = browser(&driver).await;
    sign_in(&c, &served, PRIMARY_ADMIN).await;
    assert_eq!(listed(&c).await, ids("6612001"));
    screenshot(&c, "view-groups.png").await;
    c.goto(&format!("{}/groups/{bl5}", served.base))
        .await
        .expect("group page");
    assert!(
        c.find(Locator::Css("button[data-restore=\"teams\"]"))
            .await
            .is_ok()
    );
    screenshot(&c, "group-page.png").await;
    c.close().await.expect("close");

    // Another school's teacher: only their classes; no way onto the primary class's page.
    let c = browser(&driver).await;
    sign_in(&c, &served, OTHER_TEACHER).await;
    let mut theirs = vec![group_id("7A-Ma1", &snap), group_id("8B-Sc2", &snap)];
    theirs.sort();
    assert_eq!(listed(&c).await, theirs);
    c.goto(&format!("{}/groups/{bl5}", served.base))
        .await
        .expect("group page");
    let source = c.source().await.expect("source");
    assert!(source.contains("You may not see this group"), "{source}");
    assert!(c.find(Locator::Css("button[data-restore]")).await.is_err());
    c.close().await.expect("close");

    // The operator: every class, the operator pages, a resync.
    let c = browser(&driver).await;
    sign_in(&c, &served, OPERATOR).await;
    let mut all: Vec<String> = snap.groups.iter().map(|g| g.id.clone()).collect();
    all.sort();
    assert_eq!(listed(&c).await, all);
    c.find(Locator::LinkText("Status"))
        .await
        .expect("Status in the menu")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Css("#queue-h"))
        .await
        .expect("the status page");
    c.find(Locator::LinkText("Schools"))
        .await
        .expect("Schools in the menu")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Css(
            "tr[data-school=\"6612001\"] button[data-resync=\"school\"]",
        ))
        .await
        .expect("Resync school")
        .click()
        .await
        .expect("press");
    c.wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("the resync is confirmed");
    c.close().await.expect("close");

    // The teacher presses Restore: the page reads restoring, then restored, without a reload.
    let c = browser(&driver).await;
    sign_in(&c, &served, PRIMARY_TEACHER).await;
    assert_eq!(listed(&c).await, vec![bl5.clone()]);
    c.find(Locator::LinkText("Blwyddyn 5 Dosbarth"))
        .await
        .expect("the class's link")
        .click()
        .await
        .expect("click");
    let cell = c
        .wait()
        .for_element(Locator::Css("[data-state-of=\"teams\"]"))
        .await
        .expect("the team's state");
    c.find(Locator::Css("button[data-restore=\"teams\"]"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("press Restore");
    let pressed_at = c.current_url().await.expect("url");
    // The very element read before the press reads "restoring" (unless the worker was quicker),
    // then "restored": the page was never replaced.
    let mut seen = Vec::new();
    let mut restored = false;
    for _ in 0..300 {
        let state = cell
            .attr("data-state")
            .await
            .expect("the same element")
            .unwrap_or_default();
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if state == "restored" {
            restored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen.iter()
            .all(|s| ["archived", "restoring", "restored"].contains(&s.as_str())),
        "{seen:?}"
    );
    assert!(restored, "the page reads restored within 30 s");
    assert_eq!(
        c.current_url().await.expect("url"),
        pressed_at,
        "no reload, no navigation"
    );
    assert!(!app.team(&bl5).is_archived, "the team is restored in Teams");

    // A forged POST from the page (no CSRF token) is refused and changes nothing.
    let status = c
        .execute(
            "return fetch(arguments[0], {method: 'POST', headers: {'Content-Type': \
             'application/x-www-form-urlencoded'}, body: 'target=classroom'}).then(r => r.status);",
            vec![json!(format!("/groups/{bl5}/restore"))],
        )
        .await
        .expect("fetch");
    assert_eq!(status, json!(403));
    assert_eq!(
        app.course(&bl5).state,
        "ARCHIVED",
        "the course stays archived"
    );
    assert_eq!(state_of(&c, "classroom").await, "archived");
    c.close().await.expect("close");
    served.stop().await;
}
