use class_sync_mocks::{MockOptions, MockServices};
use serde_json::{Value, json};
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput() {
    let mocks = MockServices::start(MockOptions {
        page_size: 100,
        ..Default::default()
    })
    .await
    .unwrap();
    let users: Vec<String> = (0..500).map(|i| format!("user{i}@hwbcymru.net")).collect();
    mocks.add_users(users.iter().map(String::as_str));
    let http = reqwest::Client::new();
    let o = mocks.options();
    let tok: Value = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            mocks.login_url(),
            o.tenant_id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &o.client_id),
            ("client_secret", &o.client_secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().unwrap().to_string();
    // create 50 classes with teacher, teamify
    let mut ids = vec![];
    for i in 0..50 {
        let c: Value = http.post(format!("{}/education/classes", mocks.graph_url())).bearer_auth(&token)
            .json(&json!({"displayName":"x","mailNickname":format!("n{i}"),"externalId":format!("e{i}")})).send().await.unwrap().json().await.unwrap();
        let id = c["id"].as_str().unwrap().to_string();
        let r = http.post(format!("{}/education/classes/{id}/teachers/$ref", mocks.graph_url())).bearer_auth(&token)
            .json(&json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/education/users/{}", users[i])})).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = http.post(format!("{}/teams", mocks.graph_url())).bearer_auth(&token)
            .json(&json!({"template@odata.bind":"https://graph.microsoft.com/v1.0/teamsTemplates('educationClass')","group@odata.bind":format!("https://graph.microsoft.com/v1.0/groups('{id}')")})).send().await.unwrap();
        assert_eq!(r.status(), 202);
        ids.push(id);
    }
    let start = Instant::now();
    let n_tasks = 64;
    let per = 200;
    let mut handles = vec![];
    for t in 0..n_tasks {
        let http = http.clone();
        let token = token.clone();
        let g = mocks.graph_url();
        let ids = ids.clone();
        let users = users.clone();
        handles.push(tokio::spawn(async move {
            for k in 0..per {
                let id = &ids[(t + k) % ids.len()];
                if k % 2 == 0 {
                    let r = http.get(format!("{g}/education/classes")).query(&[("$filter", format!("externalId eq 'e{}'", (t+k)%50))]).bearer_auth(&token).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    let _ = r.bytes().await;
                } else {
                    let u = &users[(t * per + k) % users.len()];
                    let r = http.post(format!("{g}/teams/{id}/members/add")).bearer_auth(&token)
                        .json(&json!({"values":[{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":[],"user@odata.bind":format!("https://graph.microsoft.com/v1.0/users('{u}')")}]})).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    let _ = r.bytes().await;
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let el = start.elapsed();
    let total = n_tasks * per;
    println!(
        "{total} requests in {el:?} = {:.0} req/min",
        total as f64 / el.as_secs_f64() * 60.0
    );
    assert_eq!(mocks.calls().len(), total + 151);
    let members: usize = mocks
        .teams()
        .iter()
        .map(|t| t.members.len() + t.owners.len())
        .sum();
    println!("memberships {members}");
}
