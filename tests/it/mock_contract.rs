//! The mocks' own contract: they answer the documented request shapes the way the services do,
//! and refuse the mistakes they exist to catch. Driven with plain reqwest, no class-sync code.

use std::time::{Duration, Instant};

use class_sync_mocks::{Fault, FaultKind, MockOptions, MockServices, Quotas, Service};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const CLASSROOM_SCOPES: &str = "https://www.googleapis.com/auth/classroom.courses https://www.googleapis.com/auth/classroom.rosters https://www.googleapis.com/auth/classroom.profile.emails";
const TEACHER: &str = "jonesa12@hwbcymru.net";
const LEARNERS: [&str; 2] = ["evansb34@hwbcymru.net", "morgan.c@hwbcymru.net"];

async fn start(options: MockOptions) -> (MockServices, Client) {
    let mocks = MockServices::start(options).await.expect("mocks start");
    mocks.add_users([TEACHER, LEARNERS[0], LEARNERS[1]]);
    (mocks, Client::new())
}

async fn graph_token(mocks: &MockServices, http: &Client) -> String {
    let opts = mocks.options();
    let resp = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            mocks.login_url(),
            opts.tenant_id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", opts.client_id.as_str()),
            ("client_secret", opts.client_secret.as_str()),
            ("scope", GRAPH_SCOPE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().unwrap().to_string()
}

/// A JWT assertion signed with the key file the mocks hand out; `edit` adjusts the claims.
fn assertion(mocks: &MockServices, edit: impl FnOnce(&mut Value)) -> String {
    let key: Value = serde_json::from_str(&mocks.service_account_key_json()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": key["client_email"],
        "sub": mocks.options().admin_emails[0],
        "scope": CLASSROOM_SCOPES,
        "aud": key["token_uri"],
        "iat": now,
        "exp": now + 3600,
    });
    edit(&mut claims);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key["private_key_id"].as_str().map(str::to_string);
    let signing =
        jsonwebtoken::EncodingKey::from_rsa_pem(key["private_key"].as_str().unwrap().as_bytes())
            .unwrap();
    jsonwebtoken::encode(&header, &claims, &signing).unwrap()
}

async fn google_grant(mocks: &MockServices, http: &Client, jwt: &str) -> (StatusCode, Value) {
    let resp = http
        .post(mocks.google_token_uri())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", jwt),
        ])
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

async fn google_token(mocks: &MockServices, http: &Client) -> String {
    let (status, body) = google_grant(mocks, http, &assertion(mocks, |_| {})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// Sends a request and returns status, headers and JSON body (Null when empty).
async fn call(req: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

async fn create_class(
    mocks: &MockServices,
    http: &Client,
    token: &str,
    external_id: &str,
) -> String {
    let (status, _, body) = call(
        http.post(format!("{}/education/classes", mocks.graph_url()))
            .bearer_auth(token)
            .json(&json!({
                "displayName": "7A/Ma1 Mathematics",
                "mailNickname": format!("ump-{external_id}"),
                "externalId": external_id,
            })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn add_teacher(
    mocks: &MockServices,
    http: &Client,
    token: &str,
    class_id: &str,
    user: &str,
) -> StatusCode {
    call(
        http.post(format!("{}/education/classes/{class_id}/teachers/$ref", mocks.graph_url()))
            .bearer_auth(token)
            .json(&json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/education/users/{user}")})),
    )
    .await
    .0
}

fn teamify_body(class_id: &str) -> Value {
    json!({
        "template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('educationClass')",
        "group@odata.bind": format!("https://graph.microsoft.com/v1.0/groups('{class_id}')"),
    })
}

/// Follows the operation in `location` until it finishes; returns the statuses seen.
async fn follow(mocks: &MockServices, http: &Client, token: &str, location: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..200 {
        let (status, _, op) = call(
            http.get(format!("{}{location}", mocks.graph_url()))
                .bearer_auth(token),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{op}");
        let state = op["status"].as_str().unwrap().to_string();
        seen.push(state.clone());
        if state == "succeeded" || state == "failed" {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("operation never finished: {seen:?}");
}

/// A class with TEACHER as owner, teamified.
async fn team(mocks: &MockServices, http: &Client, token: &str, external_id: &str) -> String {
    let class_id = create_class(mocks, http, token, external_id).await;
    assert_eq!(
        add_teacher(mocks, http, token, &class_id, TEACHER).await,
        StatusCode::NO_CONTENT
    );
    let (status, headers, _) = call(
        http.post(format!("{}/teams", mocks.graph_url()))
            .bearer_auth(token)
            .json(&teamify_body(&class_id)),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let location = headers["location"].to_str().unwrap().to_string();
    assert_eq!(
        follow(mocks, http, token, &location).await.last().unwrap(),
        "succeeded"
    );
    class_id
}

#[tokio::test]
async fn microsoft_token_is_required_by_graph() {
    let (mocks, http) = start(MockOptions::default()).await;
    let opts = mocks.options();
    let token_url = format!("{}/{}/oauth2/v2.0/token", mocks.login_url(), opts.tenant_id);
    let (status, _, body) = call(http.post(&token_url).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", opts.client_id.as_str()),
        ("client_secret", "wrong"),
        ("scope", GRAPH_SCOPE),
    ]))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, _, body) = call(http.post(&token_url).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", opts.client_id.as_str()),
        ("client_secret", opts.client_secret.as_str()),
        ("scope", "https://graph.microsoft.com/Team.Create"),
    ]))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    let classes = format!("{}/education/classes", mocks.graph_url());
    let (status, _, body) = call(http.get(&classes)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let token = graph_token(&mocks, &http).await;
    assert_eq!(
        call(http.get(&classes).bearer_auth(&token)).await.0,
        StatusCode::OK
    );
    mocks.expire_all_tokens();
    assert_eq!(
        call(http.get(&classes).bearer_auth(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn education_class_nickname_is_unique_and_filter_finds_it() {
    let (mocks, http) = start(MockOptions::default()).await;
    let token = graph_token(&mocks, &http).await;
    let id = create_class(&mocks, &http, &token, "6612001-2025-26-7A-Ma1").await;
    let classes = format!("{}/education/classes", mocks.graph_url());
    let (status, _, body) = call(http.post(&classes).bearer_auth(&token).json(&json!({
        "displayName": "Another", "mailNickname": "UMP-6612001-2025-26-7A-Ma1", "externalId": "other",
    })))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "Request_BadRequest");
    assert_eq!(
        body["error"]["message"],
        "Another object with the same value for property mailNickname already exists."
    );
    let (status, _, _) = call(http.post(&classes).bearer_auth(&token).json(&json!({
        "displayName": "x", "mailNickname": "x", "externalId": "x", "owners": [],
    })))
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown properties are refused"
    );

    let (status, _, body) = call(
        http.get(&classes)
            .bearer_auth(&token)
            .query(&[("$filter", "externalId eq '6612001-2025-26-7A-Ma1'")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert_eq!(body["value"][0]["id"], id.as_str());
    let (status, _, _) = call(
        http.get(&classes)
            .bearer_auth(&token)
            .query(&[("$filter", "displayName eq 'x'")]),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "only the externalId filter is supported"
    );
}

#[tokio::test]
async fn teamify_needs_an_owner_survives_replication_404s_and_is_polled_to_success() {
    let options = MockOptions {
        replication_404s: 2,
        operation_delay: Duration::from_millis(50),
        ..Default::default()
    };
    let (mocks, http) = start(options).await;
    let token = graph_token(&mocks, &http).await;
    let class_id = create_class(&mocks, &http, &token, "g1").await;
    let teams = format!("{}/teams", mocks.graph_url());
    for _ in 0..2 {
        let (status, _, body) = call(
            http.post(&teams)
                .bearer_auth(&token)
                .json(&teamify_body(&class_id)),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("NotFound"))
        );
    }
    let (status, _, _) = call(
        http.post(&teams)
            .bearer_auth(&token)
            .json(&teamify_body(&class_id)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a group without owner cannot be teamified"
    );

    assert_eq!(
        add_teacher(&mocks, &http, &token, &class_id, TEACHER).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        add_teacher(&mocks, &http, &token, &class_id, TEACHER).await,
        StatusCode::BAD_REQUEST
    );
    let mut with_name = teamify_body(&class_id);
    with_name["displayName"] = json!("not allowed with group@odata.bind");
    assert_eq!(
        call(http.post(&teams).bearer_auth(&token).json(&with_name))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    let (status, headers, body) = call(
        http.post(&teams)
            .bearer_auth(&token)
            .json(&teamify_body(&class_id)),
    )
    .await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, Value::Null));
    let location = headers["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("/teams('{class_id}')/operations('")),
        "{location}"
    );
    assert_eq!(
        headers["content-location"].to_str().unwrap(),
        format!("/teams('{class_id}')")
    );
    let (status, _, _) = call(
        http.post(&teams)
            .bearer_auth(&token)
            .json(&teamify_body(&class_id)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let seen = follow(&mocks, &http, &token, location).await;
    assert_eq!(seen.first().map(String::as_str), Some("notStarted"));
    assert_eq!(seen.last().map(String::as_str), Some("succeeded"));
    let (status, _, body) = call(http.get(format!("{teams}/{class_id}")).bearer_auth(&token)).await;
    assert_eq!(
        (status, body["isArchived"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let view = mocks.team_by_external_id("g1").unwrap();
    assert!(view.is_team);
    assert_eq!(view.owners, [TEACHER]);
}

#[tokio::test]
async fn bulk_add_reports_partial_failure_and_members_page_with_next_link() {
    let (mocks, http) = start(MockOptions::default()).await;
    let token = graph_token(&mocks, &http).await;
    let team_id = team(&mocks, &http, &token, "g2").await;
    let member = |user: &str| {
        json!({
            "@odata.type": "#microsoft.graph.aadUserConversationMember",
            "roles": [],
            "user@odata.bind": format!("https://graph.microsoft.com/v1.0/users('{user}')"),
        })
    };
    let add = format!("{}/teams/{team_id}/members/add", mocks.graph_url());
    let values = [
        member(LEARNERS[0]),
        member(LEARNERS[1]),
        member("nobody@hwbcymru.net"),
    ];
    let (status, _, body) = call(
        http.post(&add)
            .bearer_auth(&token)
            .json(&json!({"values": values})),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    let results = body["value"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0]["error"].is_null() && results[1]["error"].is_null());
    assert_eq!(results[2]["error"]["code"], "NotFound");
    assert_eq!(results[2]["userId"], "nobody@hwbcymru.net");
    let (status, _, _) = call(
        http.post(&add)
            .bearer_auth(&token)
            .json(&json!({"values": [member(LEARNERS[0])]})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "re-adding a member succeeds without change"
    );
    let (status, _, _) = call(
        http.post(&add)
            .bearer_auth(&token)
            .json(&json!({"values": []})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // page_size 2 forces a second page for three members.
    let mut url = format!("{}/teams/{team_id}/members", mocks.graph_url());
    let mut members = Vec::new();
    let mut pages = 0;
    loop {
        let (status, _, body) = call(http.get(&url).bearer_auth(&token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        members.extend(body["value"].as_array().unwrap().iter().cloned());
        pages += 1;
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!((pages, members.len()), (2, 3));
    let owner = members
        .iter()
        .find(|m| m["roles"] == json!(["owner"]))
        .unwrap();
    let learner = members.iter().find(|m| m["email"] == LEARNERS[0]).unwrap();
    assert_ne!(
        learner["id"], learner["userId"],
        "membership ids are not user ids"
    );

    let member_url = |id: &Value| {
        format!(
            "{}/teams/{team_id}/members/{}",
            mocks.graph_url(),
            id.as_str().unwrap()
        )
    };
    assert_eq!(
        call(http.delete(member_url(&learner["id"])).bearer_auth(&token))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            http.delete(member_url(&learner["userId"]))
                .bearer_auth(&token)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(http.delete(member_url(&owner["id"])).bearer_auth(&token))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        mocks.team_by_external_id("g2").unwrap().members,
        [LEARNERS[1]]
    );
}

#[tokio::test]
async fn google_jwt_grant_checks_audience_and_subject() {
    let (mocks, http) = start(MockOptions::default()).await;
    let key: Value = serde_json::from_str(&mocks.service_account_key_json()).unwrap();
    assert_eq!(
        (key["type"].as_str(), key["token_uri"].as_str()),
        (
            Some("service_account"),
            Some(mocks.google_token_uri().as_str())
        )
    );
    google_token(&mocks, &http).await;

    let jwt = assertion(&mocks, |c| {
        c["aud"] = json!("https://oauth2.googleapis.com/token")
    });
    let (status, body) = google_grant(&mocks, &http, &jwt).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let jwt = assertion(&mocks, |c| c["sub"] = json!(TEACHER));
    let (status, body) = google_grant(&mocks, &http, &jwt).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Invalid email or User ID"))
    );
    let jwt = assertion(&mocks, |c| {
        c["exp"] = json!(c["iat"].as_i64().unwrap() + 7200)
    });
    assert_eq!(
        google_grant(&mocks, &http, &jwt).await.1["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn classroom_alias_is_unique_and_archived_courses_refuse_roster_changes() {
    let (mocks, http) = start(MockOptions::default()).await;
    let token = google_token(&mocks, &http).await;
    let courses = format!("{}/v1/courses", mocks.classroom_url());
    assert_eq!(call(http.get(&courses)).await.0, StatusCode::UNAUTHORIZED);
    let course = json!({"id": "d:ump-g3", "name": "7A/Ma1 Mathematics", "ownerId": TEACHER, "courseState": "ACTIVE"});
    let (status, _, body) = call(http.post(&courses).bearer_auth(&token).json(&course)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["courseState"], "ACTIVE");
    let id = body["id"].as_str().unwrap().to_string();
    let (status, _, body) = call(http.post(&courses).bearer_auth(&token).json(&course)).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (StatusCode::CONFLICT, Some("ALREADY_EXISTS"))
    );
    let (status, _, body) = call(
        http.post(&courses)
            .bearer_auth(&token)
            .json(&json!({"id": "ump-g3", "name": "x", "ownerId": "me"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );

    let by_alias = format!("{courses}/d%3Aump-g3");
    let (status, _, body) = call(http.get(&by_alias).bearer_auth(&token)).await;
    assert_eq!(
        (status, body["id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    let students = format!("{by_alias}/students");
    let (status, _, body) = call(
        http.post(&students)
            .bearer_auth(&token)
            .json(&json!({"userId": LEARNERS[0]})),
    )
    .await;
    assert_eq!(
        (status, body["profile"]["emailAddress"].as_str()),
        (StatusCode::OK, Some(LEARNERS[0]))
    );

    let archive = http
        .patch(&by_alias)
        .query(&[("updateMask", "courseState")])
        .bearer_auth(&token);
    let (status, _, body) = call(archive.json(&json!({"courseState": "ARCHIVED"}))).await;
    assert_eq!(
        (status, body["courseState"].as_str()),
        (StatusCode::OK, Some("ARCHIVED"))
    );
    let (status, _, body) = call(
        http.post(&students)
            .bearer_auth(&token)
            .json(&json!({"userId": LEARNERS[1]})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("FAILED_PRECONDITION"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("@CourseNotModifiable ")
    );
    let (status, _, _) = call(
        http.delete(format!("{students}/{}", LEARNERS[0]))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let view = mocks.course_by_alias("d:ump-g3").unwrap();
    assert_eq!(
        (view.state.as_str(), view.students),
        ("ARCHIVED", vec![LEARNERS[0].to_string()])
    );
}

#[tokio::test]
async fn retry_after_is_announced_and_early_retries_are_counted() {
    let (mocks, http) = start(MockOptions::default()).await;
    let token = graph_token(&mocks, &http).await;
    let classes = format!("{}/education/classes", mocks.graph_url());
    mocks.inject(
        Fault::new(
            Service::Graph,
            FaultKind::Status {
                status: 429,
                retry_after: Some("1".into()),
            },
        )
        .method("GET")
        .path_contains("/education/classes"),
    );
    let (status, headers, body) = call(http.get(&classes).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["error"]["code"], "TooManyRequests");
    assert_eq!(mocks.throttled_count(), 1);

    let sent_429_at = Instant::now();
    assert_eq!(
        call(http.get(&classes).bearer_auth(&token)).await.0,
        StatusCode::OK,
        "the fault applied once"
    );
    assert_eq!(
        mocks.retry_after_violations(),
        1,
        "retried inside the Retry-After window"
    );
    tokio::time::sleep(
        Duration::from_secs(1).saturating_sub(sent_429_at.elapsed()) + Duration::from_millis(50),
    )
    .await;
    assert_eq!(
        call(http.get(&classes).bearer_auth(&token)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        mocks.retry_after_violations(),
        1,
        "a retry after the window is fine"
    );
    let buckets: Vec<_> = mocks
        .calls()
        .iter()
        .filter(|c| c.service == Service::Graph)
        .map(|c| (c.status, c.bucket.clone()))
        .collect();
    assert_eq!(
        buckets,
        [
            (429, Some("education".into())),
            (200, Some("education".into())),
            (200, Some("education".into()))
        ]
    );
}

#[tokio::test]
async fn reset_and_succeed_then_500_faults() {
    let (mocks, http) = start(MockOptions::default()).await;
    let token = google_token(&mocks, &http).await;
    let courses = format!("{}/v1/courses", mocks.classroom_url());
    let course =
        json!({"id": "d:ump-g4", "name": "Science", "ownerId": TEACHER, "courseState": "ACTIVE"});
    mocks.inject(Fault::new(Service::Classroom, FaultKind::Reset).method("POST"));
    assert!(
        http.post(&courses)
            .bearer_auth(&token)
            .json(&course)
            .send()
            .await
            .is_err(),
        "connection dropped"
    );
    assert!(mocks.courses().is_empty(), "a reset has no effect");
    mocks.inject(Fault::new(Service::Classroom, FaultKind::SucceedThen500).method("POST"));
    let (status, _, body) = call(http.post(&courses).bearer_auth(&token).json(&course)).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("INTERNAL"))
    );
    assert_eq!(
        call(http.post(&courses).bearer_auth(&token).json(&course))
            .await
            .0,
        StatusCode::CONFLICT,
        "created despite the 500"
    );
}

#[tokio::test]
async fn archive_flips_on_success_and_a_failed_operation_changes_nothing() {
    let (mocks, http) = start(MockOptions::default()).await;
    let token = graph_token(&mocks, &http).await;
    let team_id = team(&mocks, &http, &token, "g5").await;
    let archive = format!("{}/teams/{team_id}/archive", mocks.graph_url());
    let run = |req: reqwest::RequestBuilder| async {
        let (status, headers, _) = call(req).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(headers["content-type"], "text/plain");
        follow(&mocks, &http, &token, headers["location"].to_str().unwrap())
            .await
            .pop()
            .unwrap()
    };

    mocks.inject(Fault::new(Service::Graph, FaultKind::OperationFailed).path_contains("/archive"));
    assert_eq!(run(http.post(&archive).bearer_auth(&token)).await, "failed");
    assert!(!mocks.team_by_external_id("g5").unwrap().is_archived);
    let read_only = json!({"shouldSetSpoSiteReadOnlyForMembers": true});
    assert_eq!(
        call(http.post(&archive).bearer_auth(&token).json(&read_only))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let body = json!({"shouldSetSpoSiteReadOnlyForMembers": false});
    assert_eq!(
        run(http.post(&archive).bearer_auth(&token).json(&body)).await,
        "succeeded"
    );
    assert!(mocks.team_by_external_id("g5").unwrap().is_archived);
    assert_eq!(
        run(http.post(&archive).bearer_auth(&token)).await,
        "succeeded",
        "archiving twice is accepted"
    );
    let unarchive = format!("{}/teams/{team_id}/unarchive", mocks.graph_url());
    assert_eq!(
        run(http.post(&unarchive).bearer_auth(&token)).await,
        "succeeded"
    );
    let view = mocks.team_by_external_id("g5").unwrap();
    assert!(!view.is_archived && view.owners == [TEACHER]);
}

#[tokio::test]
async fn quotas_answer_429_with_retry_after_and_count_early_retries() {
    let quotas = Quotas {
        education_per_sec: 2,
        retry_after_secs: 1,
        ..Quotas::documented()
    };
    let (mocks, http) = start(MockOptions {
        quotas: Some(quotas),
        ..Default::default()
    })
    .await;
    let token = graph_token(&mocks, &http).await;
    let user = format!("{}/users/{TEACHER}", mocks.graph_url());
    for _ in 0..2 {
        assert_eq!(
            call(http.get(&user).bearer_auth(&token)).await.0,
            StatusCode::OK
        );
    }
    let (status, headers, body) = call(http.get(&user).bearer_auth(&token)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("TooManyRequests"))
    );
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(
        call(http.get(&user).bearer_auth(&token)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        (mocks.throttled_count(), mocks.retry_after_violations()),
        (2, 1)
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, body) = call(http.get(&user).bearer_auth(&token)).await;
    assert_eq!(
        (status, body["userPrincipalName"].as_str()),
        (StatusCode::OK, Some(TEACHER))
    );
}
