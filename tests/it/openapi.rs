//! The OpenAPI document tells the truth: every route `serve` answers is documented, and every
//! answer the document lists is provoked through real HTTP and checked against the schema the
//! document publishes for it (no field it does not describe, either). Bodies sent are held to the
//! published request schemas too: an accepted body fits its schema, and one that does not fit is
//! refused.

use crate::support::{OPERATOR_TOKEN, Served, TestApp, UMP_TOKEN};
use class_sync::demo::{accounts, quick_mock_options, sample_snapshot};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

const PRIMARY_ADMIN: &str = "admin.primary@hwbcymru.net";
/// Where the document is registered with the validator; nothing is fetched from it.
const DOC_URL: &str = "http://class-sync.test/openapi.json";

/// What a request carries.
enum Body {
    None,
    Json(Value),
    /// Sent as it is, with this content type.
    Raw(&'static str, Vec<u8>),
}

/// One request of the walk.
struct Req {
    method: Method,
    path: String,
    token: Option<&'static str>,
    body: Body,
}

fn req(method: Method, path: impl Into<String>) -> Req {
    Req {
        method,
        path: path.into(),
        token: None,
        body: Body::None,
    }
}

fn get(path: impl Into<String>) -> Req {
    req(Method::GET, path)
}

fn post(path: impl Into<String>) -> Req {
    req(Method::POST, path)
}

fn put(path: impl Into<String>) -> Req {
    req(Method::PUT, path)
}

impl Req {
    fn token(mut self, token: &'static str) -> Req {
        self.token = Some(token);
        self
    }

    fn json(mut self, body: Value) -> Req {
        self.body = Body::Json(body);
        self
    }

    fn raw(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Req {
        self.body = Body::Raw(content_type, body.into());
        self
    }
}

/// The published document, its schemas compiled, and which of its answers the test has seen.
struct Published {
    doc: Value,
    compiler: boon::Compiler,
    schemas: boon::Schemas,
    compiled: HashMap<String, boon::SchemaIndex>,
    /// (method, path template, status) of every answer checked.
    seen: BTreeSet<(String, String, String)>,
}

/// RFC 6901: one key of a JSON pointer.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer as a URL fragment (`{id}` in paths is not a URL character).
fn fragment(pointer: &str) -> String {
    pointer.replace('{', "%7B").replace('}', "%7D")
}

impl Published {
    async fn fetch(s: &Served) -> Published {
        let doc: Value = s
            .http
            .get(format!("{}/openapi.json", s.base))
            .send()
            .await
            .expect("GET /openapi.json")
            .json()
            .await
            .expect("the document is JSON");
        let mut compiler = boon::Compiler::new();
        // OpenAPI 3.1's schemas are JSON Schema 2020-12.
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler
            .add_resource(DOC_URL, doc.clone())
            .expect("the document as a schema resource");
        Published {
            doc,
            compiler,
            schemas: boon::Schemas::new(),
            compiled: HashMap::new(),
            seen: BTreeSet::new(),
        }
    }

    /// The documented path template `path` (without its query) falls under, e.g.
    /// `/v1/groups/{id}` for `/v1/groups/7A`.
    fn template(&self, path: &str) -> String {
        let path = path.split('?').next().unwrap_or(path);
        let wanted: Vec<&str> = path.split('/').collect();
        self.paths()
            .into_iter()
            .find(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == wanted.len()
                    && parts
                        .iter()
                        .zip(&wanted)
                        .all(|(t, w)| t == w || (t.starts_with('{') && t.ends_with('}')))
            })
            .unwrap_or_else(|| panic!("{path} is under no documented path"))
    }

    fn paths(&self) -> Vec<String> {
        self.doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect()
    }

    /// Every documented (method, path) and its operation.
    fn operations(&self) -> Vec<(String, String, &Value)> {
        let mut ops = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                ops.push((method.clone(), path.clone(), op));
            }
        }
        ops
    }

    /// Whether `instance` fits the schema at `pointer` into the document; the errors if not.
    fn check(&mut self, pointer: &str, instance: &Value) -> Result<(), String> {
        let index = match self.compiled.get(pointer) {
            Some(index) => *index,
            None => {
                let loc = format!("{DOC_URL}#{}", fragment(pointer));
                let index = self
                    .compiler
                    .compile(&loc, &mut self.schemas)
                    .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e:#}"));
                self.compiled.insert(pointer.to_string(), index);
                index
            }
        };
        self.schemas
            .validate(instance, index)
            .map_err(|e| format!("{e:#}"))
    }

    /// Sends `r`, checks that it is answered `status`, that the document lists that answer for the
    /// route, and that the body fits the schema published for it; returns the body (JSON, or the
    /// text as a JSON string).
    async fn expect(&mut self, s: &Served, status: u16, r: Req) -> Value {
        let template = self.template(&r.path);
        let method = r.method.as_str().to_ascii_lowercase();
        let what = format!("{} {}", r.method, r.path);
        let op_pointer = format!("/paths/{}/{method}", escape(&template));
        assert!(
            self.doc.pointer(&op_pointer).is_some(),
            "{what}: {method} {template} is not in the document"
        );

        let mut request = s
            .http
            .request(r.method.clone(), format!("{}{}", s.base, r.path));
        if let Some(token) = r.token {
            request = request.bearer_auth(token);
        }
        let sent = match r.body {
            Body::None => None,
            Body::Json(body) => {
                request = request.json(&body);
                Some(body)
            }
            Body::Raw(content_type, bytes) => {
                request = request.header("content-type", content_type).body(bytes);
                None
            }
        };
        let resp = request.send().await.expect("request");
        let got = resp.status().as_u16();
        let media = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
        let text = resp.text().await.expect("body");
        assert_eq!(got, status, "{what}: {text}");

        let answer_pointer = format!("{op_pointer}/responses/{status}");
        let answer = self
            .doc
            .pointer(&answer_pointer)
            .unwrap_or_else(|| {
                panic!("{what} answered {status}, which the document does not list: {text}")
            })
            .clone();
        let body = match answer.get("content").and_then(Value::as_object) {
            None => {
                assert!(
                    text.is_empty(),
                    "{what}: a body the document does not describe: {text}"
                );
                Value::Null
            }
            Some(content) => {
                let media = media.unwrap_or_else(|| panic!("{what}: no content type"));
                assert!(
                    content.contains_key(&media),
                    "{what}: answered {media}, the document says {:?}",
                    content.keys()
                );
                let body = if media.ends_with("json") {
                    serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
                } else {
                    Value::String(text)
                };
                let schema_pointer = format!("{answer_pointer}/content/{}/schema", escape(&media));
                if let Err(e) = self.check(&schema_pointer, &body) {
                    panic!(
                        "{what} answered {status} with a body its schema refuses:\n{e}\n{body:#}"
                    );
                }
                let schema = self.doc.pointer(&schema_pointer).expect("schema").clone();
                let mut extra = Vec::new();
                undocumented(&self.doc, &schema, &body, "", &mut extra);
                assert!(
                    extra.is_empty(),
                    "{what}: fields the document does not describe: {extra:?}\n{body:#}"
                );
                body
            }
        };

        // What the document says a client may send agrees with what the route accepts.
        if let Some(sent) = sent {
            let pointer = format!("{op_pointer}/requestBody/content/application~1json/schema");
            assert!(
                self.doc.pointer(&pointer).is_some(),
                "{what}: takes a JSON body the document does not describe"
            );
            let fits = self.check(&pointer, &sent);
            if (200..300).contains(&status) {
                assert!(
                    fits.is_ok(),
                    "{what}: accepted a body its published schema refuses: {fits:?}\n{sent:#}"
                );
            } else if fits.is_err() {
                assert!(
                    (400..500).contains(&status),
                    "{what}: a body outside its schema must be refused, not {status}"
                );
            }
        }
        self.seen.insert((method, template, status.to_string()));
        body
    }

    /// Every answer the document lists was provoked and checked.
    fn assert_every_answer_seen(&self) {
        let mut missing = Vec::new();
        for (method, path, op) in self.operations() {
            for status in op["responses"].as_object().expect("responses").keys() {
                if !self
                    .seen
                    .contains(&(method.clone(), path.clone(), status.clone()))
                {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "documented answers no request provoked (add one to this test): {missing:#?}"
        );
    }
}

/// The pointers of the object fields in `instance` that `schema` does not describe. `allOf`,
/// `oneOf` and `anyOf` count as one schema with the fields of all their members; a schema with no
/// `properties` (a free-form object) describes any field.
fn undocumented(doc: &Value, schema: &Value, instance: &Value, at: &str, out: &mut Vec<String>) {
    let mut parts = Vec::new();
    flatten(doc, schema, &mut parts);
    let mut properties = serde_json::Map::new();
    let mut additional = None;
    let mut items = None;
    for part in parts {
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            properties.extend(p.clone());
        }
        additional = additional.or(part.get("additionalProperties").filter(|a| a.is_object()));
        items = items.or(part.get("items"));
    }
    match instance {
        Value::Object(fields) => {
            for (key, value) in fields {
                let here = format!("{at}/{}", escape(key));
                match (properties.get(key), additional) {
                    (Some(s), _) | (None, Some(s)) => undocumented(doc, s, value, &here, out),
                    (None, None) if properties.is_empty() => {}
                    (None, None) => out.push(here),
                }
            }
        }
        Value::Array(values) => {
            if let Some(items) = items {
                for (i, value) in values.iter().enumerate() {
                    undocumented(doc, items, value, &format!("{at}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}

/// `schema` and, through `$ref`s and combinators, every schema it is made of.
fn flatten<'d>(doc: &'d Value, schema: &'d Value, out: &mut Vec<&'d Value>) {
    if let Some(target) = schema["$ref"].as_str() {
        let pointer = target.strip_prefix('#').expect("a local $ref");
        let resolved = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {target}"));
        flatten(doc, resolved, out);
    }
    out.push(schema);
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for member in schema[combinator].as_array().into_iter().flatten() {
            flatten(doc, member, out);
        }
    }
}

/// Every method the router answers on every path it serves (anything but 405), as (method,
/// template); `HEAD` comes with `GET` in axum and is left out.
async fn served_routes(s: &Served) -> BTreeSet<(String, String)> {
    let mut served = BTreeSet::new();
    for template in class_sync::api::served_paths() {
        let live: String = template
            .split('/')
            .map(|part| if part.starts_with('{') { "1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
            Method::TRACE,
        ] {
            let status = s
                .http
                .request(method.clone(), format!("{}{live}", s.base))
                .bearer_auth(OPERATOR_TOKEN)
                .send()
                .await
                .expect("request")
                .status();
            if status != 405 {
                served.insert((method.as_str().to_ascii_lowercase(), template.to_string()));
            }
        }
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_every_route_fits_the_published_schema() {
    let mut app = TestApp::start_with(quick_mock_options()).await;
    let snap = sample_snapshot();
    app.mocks
        .add_users(accounts(&snap).iter().map(String::as_str));
    let (_, r) = app.import_on("2025-09-01", &snap).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let (_, r) = app.nightly_on("2026-09-01").await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let g = snap.groups[0].id.clone(); // school 6612001, taught by jonesa12
    app.enable_api("");
    app.config.api.max_body_bytes = 4096;
    let too_big = "x".repeat(5000);

    // Before the year's archive_on, archiving it without `force` is a conflict.
    let s = app.serve_on("2025-10-01").await;
    let mut api = Published::fetch(&s).await;
    api.expect(
        &s,
        409,
        post("/v1/archive")
            .token(OPERATOR_TOKEN)
            .json(json!({"year": "2025-26"})),
    )
    .await;
    s.stop().await;

    let s = app.serve_on("2026-09-02").await;
    let doc = &api.doc;
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "{doc}"
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // The router serves exactly the documented routes; a route that takes a token says so.
    let documented: BTreeSet<(String, String)> = api
        .operations()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let served = served_routes(&s).await;
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served, not documented: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(unserved.is_empty(), "documented, not served: {unserved:?}");
    for (method, path, op) in api.operations() {
        assert_eq!(
            op["security"].is_array(),
            op["responses"].get("401").is_some(),
            "{method} {path}: a token is asked for exactly where a missing one is answered 401"
        );
    }

    // The service's own routes.
    let health = api.expect(&s, 200, get("/healthz")).await;
    assert_eq!(health["status"], "ok");
    api.expect(&s, 200, get("/metrics")).await;
    let published = api.expect(&s, 200, get("/openapi.json")).await;
    assert_eq!(published, api.doc, "the same document every time");

    // Status.
    api.expect(&s, 200, get("/v1/status?audit=5").token(UMP_TOKEN))
        .await;
    api.expect(&s, 400, get("/v1/status?audit=many").token(UMP_TOKEN))
        .await;
    api.expect(&s, 401, get("/v1/status")).await;

    // Provisioning status: a page of schools, one school with its history.
    let page = api
        .expect(&s, 200, get("/v1/schools?limit=1").token(UMP_TOKEN))
        .await;
    assert_eq!(page["next"], "6612001", "{page}");
    api.expect(&s, 400, get("/v1/schools?limit=0").token(UMP_TOKEN))
        .await;
    api.expect(&s, 401, get("/v1/schools")).await;
    let one = api
        .expect(&s, 200, get("/v1/schools/6614002").token(OPERATOR_TOKEN))
        .await;
    assert_eq!(one["history"][0]["format"], "json", "{one}");
    api.expect(&s, 400, get("/v1/schools/%FF").token(UMP_TOKEN))
        .await;
    api.expect(&s, 401, get("/v1/schools/6614002")).await;
    api.expect(&s, 404, get("/v1/schools/6699999").token(UMP_TOKEN))
        .await;

    // View Groups and one group.
    let list = api
        .expect(
            &s,
            200,
            get(format!("/v1/groups?as={PRIMARY_ADMIN}")).token(UMP_TOKEN),
        )
        .await;
    assert_eq!(list["groups"][0]["links"][0]["state"], "archived", "{list}");
    api.expect(&s, 400, get("/v1/groups?school=6612001").token(UMP_TOKEN))
        .await;
    api.expect(&s, 401, get(format!("/v1/groups?as={PRIMARY_ADMIN}")))
        .await;
    api.expect(&s, 200, get(format!("/v1/groups/{g}")).token(UMP_TOKEN))
        .await;
    api.expect(&s, 400, get("/v1/groups/%FF").token(UMP_TOKEN))
        .await;
    api.expect(&s, 401, get(format!("/v1/groups/{g}"))).await;
    api.expect(&s, 404, get("/v1/groups/no-such-group").token(UMP_TOKEN))
        .await;

    // Restore, and the job that does it.
    let restore = format!("/v1/groups/{g}/restore");
    let press = |who: &str| json!({"target": "teams", "requested_by": who});
    api.expect(&s, 401, post(&restore).json(press(PRIMARY_ADMIN)))
        .await;
    api.expect(
        &s,
        403,
        post(&restore)
            .token(UMP_TOKEN)
            .json(press("nobody@example.org")),
    )
    .await;
    api.expect(
        &s,
        404,
        post("/v1/groups/no-such-group/restore")
            .token(UMP_TOKEN)
            .json(press(PRIMARY_ADMIN)),
    )
    .await;
    api.expect(
        &s,
        400,
        post(&restore)
            .token(UMP_TOKEN)
            .json(json!({"target": "zoom", "requested_by": PRIMARY_ADMIN})),
    )
    .await;
    api.expect(
        &s,
        400,
        post(&restore)
            .token(UMP_TOKEN)
            .json(json!({"target": "teams"})),
    )
    .await;
    api.expect(
        &s,
        413,
        post(&restore)
            .token(UMP_TOKEN)
            .json(json!({"target": "teams", "requested_by": PRIMARY_ADMIN, "padding": too_big})),
    )
    .await;
    api.expect(
        &s,
        415,
        post(&restore)
            .token(UMP_TOKEN)
            .raw("text/plain", press(PRIMARY_ADMIN).to_string()),
    )
    .await;
    let accepted = api
        .expect(
            &s,
            202,
            post(&restore)
                .token(UMP_TOKEN)
                .json(press("jonesa12@hwbcymru.net")),
        )
        .await;
    let job = s.job_end(&accepted["job"]).await;
    assert_eq!(job["state"], "done", "{job}");
    api.expect(
        &s,
        409,
        post(&restore).token(UMP_TOKEN).json(press(PRIMARY_ADMIN)),
    )
    .await;
    let job_path = format!("/v1/jobs/{}", accepted["job"]);
    let job = api.expect(&s, 200, get(&job_path).token(UMP_TOKEN)).await;
    assert_eq!(
        (&job["kind"], &job["state"]),
        (&json!("restore"), &json!("done"))
    );
    api.expect(&s, 400, get("/v1/jobs/seven").token(UMP_TOKEN))
        .await;
    api.expect(&s, 401, get(&job_path)).await;
    api.expect(&s, 404, get("/v1/jobs/999999").token(UMP_TOKEN))
        .await;

    // The audit log, newest first, a page at a time (operators only).
    let newest = api
        .expect(&s, 200, get("/v1/audit?limit=1").token(OPERATOR_TOKEN))
        .await;
    let total = newest["total"].as_u64().expect("total");
    let next = newest["next"]
        .as_i64()
        .expect("the import, the nightly run and the restore: entries enough for two pages");
    assert_eq!(newest["entries"][0]["id"].as_i64(), Some(next));
    let older = api
        .expect(
            &s,
            200,
            get(format!("/v1/audit?limit=1000&after={next}")).token(OPERATOR_TOKEN),
        )
        .await;
    let ids: Vec<i64> = older["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]) && ids.iter().all(|id| *id < next),
        "{ids:?}"
    );
    assert_eq!(
        (ids.len() as u64 + 1, &older["next"]),
        (total, &Value::Null)
    );
    api.expect(&s, 400, get("/v1/audit?limit=0").token(OPERATOR_TOKEN))
        .await;
    api.expect(&s, 401, get("/v1/audit")).await;
    api.expect(&s, 403, get("/v1/audit").token(UMP_TOKEN)).await;

    // A group pushed: new without `id` or `targets` (both may be left out), then again with an
    // `id` and null `targets` (the default again, so unchanged).
    let pushed = "6612001-2025-26-Bl4-Dosbarth";
    let push = format!("/v1/groups/{pushed}");
    let mut body = json!({
        "school": "6612001",
        "academic_year": "2025-26",
        "name": "Blwyddyn 4 Dosbarth",
        "year_group": 4,
        "subject": null,
        "teachers": ["jonesa12@hwbcymru.net"],
        "learners": ["plentyn4.01@hwbcymru.net"],
    });
    let added = api
        .expect(&s, 201, put(&push).token(UMP_TOKEN).json(body.clone()))
        .await;
    assert_eq!(added["outcome"], "added", "{added}");
    body["id"] = json!(pushed);
    body["targets"] = Value::Null;
    let again = api
        .expect(&s, 200, put(&push).token(UMP_TOKEN).json(body.clone()))
        .await;
    assert_eq!(again["outcome"], "unchanged", "{again}");
    let refused = api
        .expect(
            &s,
            400,
            put(&push)
                .token(UMP_TOKEN)
                .json(json!({"id": "other", "school": "9999999", "teachers": "x"})),
        )
        .await;
    assert!(
        refused["error"]["problems"]
            .as_array()
            .is_some_and(|p| p.len() > 2),
        "{refused}"
    );
    api.expect(&s, 401, put(&push).json(body.clone())).await;
    body["name"] = json!(too_big);
    api.expect(&s, 413, put(&push).token(UMP_TOKEN).json(body.clone()))
        .await;
    api.expect(&s, 415, put(&push).token(UMP_TOKEN).raw("text/plain", "{}"))
        .await;

    // Operators: forced resync and the year archive.
    let sync = || post("/v1/sync");
    api.expect(
        &s,
        202,
        sync()
            .token(OPERATOR_TOKEN)
            .json(json!({"groups": [g], "target": "teams", "requested_by": "servicedesk"})),
    )
    .await;
    api.expect(
        &s,
        400,
        sync().token(OPERATOR_TOKEN).json(json!({"target": "zoom"})),
    )
    .await;
    api.expect(&s, 401, sync().json(json!({}))).await;
    api.expect(&s, 403, sync().token(UMP_TOKEN).json(json!({})))
        .await;
    api.expect(
        &s,
        413,
        sync()
            .token(OPERATOR_TOKEN)
            .json(json!({"groups": [too_big]})),
    )
    .await;
    api.expect(
        &s,
        415,
        sync().token(OPERATOR_TOKEN).raw("text/plain", "{}"),
    )
    .await;
    let archive = || post("/v1/archive");
    let dry = api
        .expect(
            &s,
            200,
            archive()
                .token(OPERATOR_TOKEN)
                .json(json!({"year": "2025-26", "dry_run": true})),
        )
        .await;
    assert_eq!(dry["dry_run"], true, "{dry}");
    api.expect(
        &s,
        202,
        archive()
            .token(OPERATOR_TOKEN)
            .json(json!({"year": "2025-26"})),
    )
    .await;
    api.expect(
        &s,
        400,
        archive()
            .token(OPERATOR_TOKEN)
            .json(json!({"year": "2031-32"})),
    )
    .await;
    api.expect(
        &s,
        400,
        archive().token(OPERATOR_TOKEN).json(json!({"year": 2025})),
    )
    .await;
    api.expect(&s, 401, archive().json(json!({"year": "2025-26"})))
        .await;
    api.expect(
        &s,
        403,
        archive().token(UMP_TOKEN).json(json!({"year": "2025-26"})),
    )
    .await;
    api.expect(
        &s,
        413,
        archive()
            .token(OPERATOR_TOKEN)
            .json(json!({"year": too_big})),
    )
    .await;
    api.expect(
        &s,
        415,
        archive().token(OPERATOR_TOKEN).raw("text/plain", "{}"),
    )
    .await;
    s.stop().await;

    api.assert_every_answer_seen();
}
