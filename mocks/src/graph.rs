//! Fake Microsoft Graph v1.0: users, education classes and the Teams subset class-sync uses
//! (graph-teams-api.md §2–§7).
//!
//! Model: an education class *is* its Microsoft 365 group (same id). The group has owners (the
//! class's teachers, so `teachers` and `owners` are one list here) and non-owner members. The
//! team exists once a teamify operation has succeeded; team membership is the group's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::Method;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::backend::{Auth, Backend, Classified, Incoming};
use crate::state::Shared;
use crate::state::calls::Service;
use crate::state::users::{UserIdx, Users};
use crate::state::world::World;
use crate::wire::{self, Refusal};

/// Graph caps a bulk member add at 200 (graph-teams-api.md §4).
const MAX_BULK_ADD: usize = 200;
const MEMBER_TYPE: &str = "#microsoft.graph.aadUserConversationMember";
/// Graph's own base, used in `@odata.context` values as the real service writes them.
const GRAPH_BASE: &str = "https://graph.microsoft.com/v1.0";

pub(crate) struct Graph;

/// Classes, groups, teams and their async operations.
#[derive(Default)]
pub(crate) struct GraphState {
    classes: Vec<EduClass>,
    by_id: HashMap<String, usize>,
    /// Lowercased mailNickname → class (nicknames are unique, case-insensitively).
    by_nickname: HashMap<String, usize>,
    by_external_id: HashMap<String, Vec<usize>>,
    ops: HashMap<String, Operation>,
    /// Operations not yet finished, oldest first.
    pending: Vec<String>,
}

/// What a Graph handler works on: the user directory and the Graph data, borrowed from the
/// world together.
struct Data<'a> {
    users: &'a Users,
    graph: &'a mut GraphState,
}

impl<'a> Data<'a> {
    fn of(world: &'a mut World) -> Data<'a> {
        Data {
            users: &world.users,
            graph: world.services.get_mut(),
        }
    }
}

struct EduClass {
    id: String,
    display_name: String,
    mail_nickname: String,
    external_id: String,
    external_name: Option<String>,
    external_source: String,
    description: Option<String>,
    class_code: Option<String>,
    created: String,
    /// Group owners = class teachers = team owners.
    owners: Vec<UserIdx>,
    /// Non-owner group (and team) members.
    members: Vec<UserIdx>,
    is_team: bool,
    is_archived: bool,
    /// `POST /teams` answers 404 this many more times (replication delay).
    replication_404s_left: u32,
    /// A teamify operation is running; another `POST /teams` gets 409.
    teamify_running: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Teamify,
    Archive,
    Unarchive,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            OpKind::Teamify => "teamifyGroup",
            OpKind::Archive => "archiveTeam",
            OpKind::Unarchive => "unarchiveTeam",
        }
    }
}

/// A teamsAsyncOperation.
struct Operation {
    id: String,
    class: usize,
    kind: OpKind,
    created: Instant,
    created_at: String,
    last_action_at: String,
    polled: bool,
    /// Set by [`crate::FaultKind::OperationFailed`]: ends `failed`, without effect.
    fails: bool,
    done: bool,
}

impl GraphState {
    /// Finishes every operation whose delay has passed, oldest first, applying its effect.
    fn settle(&mut self, now: Instant, delay: Duration) {
        if self.pending.is_empty() {
            return;
        }
        let ops = &self.ops;
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|id| {
                ops.get(*id)
                    .is_none_or(|op| now.duration_since(op.created) >= delay)
            })
            .cloned()
            .collect();
        if due.is_empty() {
            return;
        }
        self.pending.retain(|id| !due.contains(id));
        for id in due {
            let Some(op) = self.ops.get_mut(&id) else {
                continue;
            };
            op.done = true;
            op.last_action_at = wire::timestamp(true);
            let Some(class) = self.classes.get_mut(op.class) else {
                continue;
            };
            match (op.kind, op.fails) {
                (OpKind::Teamify, fails) => {
                    class.teamify_running = false;
                    class.is_team |= !fails;
                }
                (OpKind::Archive, false) => class.is_archived = true,
                (OpKind::Unarchive, false) => class.is_archived = false,
                (_, true) => {}
            }
        }
    }

    fn start_op(&mut self, class: usize, kind: OpKind, fails: bool) -> String {
        let id = wire::guid();
        let now = wire::timestamp(true);
        self.ops.insert(
            id.clone(),
            Operation {
                id: id.clone(),
                class,
                kind,
                created: Instant::now(),
                created_at: now.clone(),
                last_action_at: now,
                polled: false,
                fails,
                done: false,
            },
        );
        self.pending.push(id.clone());
        id
    }
}

/// Path segments after `/v1.0`, OData keys split out, empty segments dropped.
fn route(req: &Incoming) -> Option<Vec<String>> {
    let (first, rest) = req.segments.split_first()?;
    if first != "v1.0" {
        return None;
    }
    let rest: Vec<String> = rest.iter().filter(|s| !s.is_empty()).cloned().collect();
    Some(wire::split_odata_keys(&rest))
}

impl Backend for Graph {
    const SERVICE: Service = Service::Graph;

    fn classify(_: &Shared, req: &Incoming) -> Classified {
        let Some(segs) = route(req) else {
            return Classified::default();
        };
        let first = segs
            .first()
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default();
        let (bucket, team) = match first.as_str() {
            "teams" if segs.len() == 1 && req.method == Method::POST => ("teams_create", None),
            "teams" if req.method == Method::GET => ("teams_read", segs.get(1).cloned()),
            "teams" => ("teams_write", segs.get(1).cloned()),
            "education" | "users" => ("education", None),
            _ => return Classified::default(),
        };
        let mut keys = vec![bucket.to_string()];
        if let Some(team) = &team {
            keys.push(format!("per_team:{team}"));
        }
        Classified {
            bucket: Some(bucket.into()),
            team,
            user: None,
            keys,
        }
    }

    fn authenticate(shared: &Shared, req: &Incoming) -> Result<Auth, Refusal> {
        let Some(token) = wire::bearer(&req.headers) else {
            return Err(
                graph_error(401, "InvalidAuthenticationToken", "Access token is empty.").into(),
            );
        };
        let valid = shared
            .world()
            .ms_tokens
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires);
        if valid {
            Ok(Auth::default())
        } else {
            Err(graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            )
            .into())
        }
    }

    fn status_error(_: &Shared, status: u16) -> Response {
        let (code, message) = match status {
            400 => ("BadRequest", "Bad request."),
            401 => (
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            ),
            403 => ("Forbidden", "Forbidden"),
            404 => ("NotFound", "Not found."),
            409 => ("Conflict", "Conflict."),
            413 => ("BadRequest", "Request body too large."),
            429 => return too_many_requests(),
            500 => ("generalException", "An unspecified error has occurred."),
            503 => (
                "serviceNotAvailable",
                "The service is temporarily unavailable. Try the request again after a delay.",
            ),
            504 => ("UnknownError", "Gateway timeout."),
            _ => ("UnknownError", "Unexpected error."),
        };
        graph_error(status, code, message)
    }

    fn handle(shared: &Shared, req: &Incoming, _: &Auth) -> Response {
        let Some(segs) = route(req) else {
            return unknown_route(req);
        };
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let shape: Vec<&str> = lower.iter().map(String::as_str).collect();
        let mut world = shared.world();
        let w = &mut Data::of(&mut world);
        w.graph.settle(Instant::now(), shared.opts.operation_delay);
        let id = |i: usize| segs[i].as_str();
        match (&req.method, shape.as_slice()) {
            (&Method::GET, ["users", _]) => get_user(w, req, id(1)),
            (&Method::GET, ["education", "classes"]) => list_classes(shared, w, req),
            (&Method::POST, ["education", "classes"]) => create_class(shared, w, req),
            (&Method::GET, ["education", "classes", _]) => get_class(w, id(2)),
            (&Method::GET, ["education", "classes", _, "teachers"]) => {
                list_class_teachers(shared, w, req, id(2))
            }
            (&Method::POST, ["education", "classes", _, "teachers", "$ref"]) => {
                add_class_teacher(w, req, id(2))
            }
            (&Method::DELETE, ["education", "classes", _, "teachers", _, "$ref"]) => {
                remove_class_teacher(w, id(2), id(4))
            }
            (&Method::POST, ["teams"]) => create_team(shared, w, req),
            (&Method::GET, ["teams", _]) => get_team(shared, w, id(1)),
            (&Method::GET, ["teams", _, "operations", _]) => get_operation(shared, w, id(1), id(3)),
            (&Method::POST, ["teams", _, "archive"]) => {
                archive(shared, w, req, id(1), OpKind::Archive)
            }
            (&Method::POST, ["teams", _, "unarchive"]) => {
                archive(shared, w, req, id(1), OpKind::Unarchive)
            }
            (&Method::GET, ["teams", _, "members"]) => list_members(shared, w, req, id(1)),
            (&Method::POST, ["teams", _, "members"]) => add_member(shared, w, req, id(1)),
            (&Method::POST, ["teams", _, "members", "add"]) => add_members(w, req, id(1)),
            (&Method::DELETE, ["teams", _, "members", _]) => remove_member(w, id(1), id(3)),
            _ => unknown_route(req),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Graph's error body (graph-teams-api.md §7).
fn graph_error(status: u16, code: &str, message: &str) -> Response {
    wire::json(
        status,
        &json!({"error": {"code": code, "message": message, "innerError": inner_error()}}),
    )
}

fn inner_error() -> Value {
    json!({
        "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        "request-id": wire::guid(),
        "client-request-id": wire::guid(),
    })
}

/// The documented 429 body (graph-teams-api.md §6); `Retry-After` is added by the pipeline.
fn too_many_requests() -> Response {
    let mut inner = inner_error();
    inner["code"] = json!("429");
    inner["message"] = json!("Please retry after");
    inner["status"] = json!("429");
    wire::json(
        429,
        &json!({"error": {"code": "TooManyRequests", "innerError": inner, "message": "Please retry again later."}}),
    )
}

fn bad_request(message: &str) -> Response {
    graph_error(400, "BadRequest", message)
}

fn unknown_route(req: &Incoming) -> Response {
    bad_request(&format!(
        "Mock Graph does not support {} {} (query: {:?}).",
        req.method, req.path, req.query
    ))
}

fn resource_not_found(id: &str) -> Response {
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn team_not_found(id: &str) -> Response {
    graph_error(
        404,
        "NotFound",
        &format!("No team found with Group Id {id}"),
    )
}

/// The request's JSON object body, or Graph's 400 for a missing content type or bad JSON.
fn json_object(req: &Incoming) -> Result<Map<String, Value>, Refusal> {
    let unreadable = || {
        bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    };
    if !wire::is_json(&req.headers) {
        return Err(unreadable().into());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(unreadable().into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Paging

/// One page of `items` per `$top` (capped by `page_size`) and `$skiptoken`, with an absolute
/// `@odata.nextLink` when more remain.
fn paged(shared: &Shared, req: &Incoming, context: &str, items: Vec<Value>) -> Response {
    let pairs = req.query_pairs();
    let parse = |name: &str| -> Result<Option<usize>, Refusal> {
        match wire::first(&pairs, name) {
            None => Ok(None),
            Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                Refusal::from(bad_request(&format!(
                    "Invalid value '{v}' for query option {name}."
                )))
            }),
        }
    };
    let (top, skip) = match (parse("$top"), parse("$skiptoken")) {
        (Ok(top), Ok(skip)) => (top, skip.unwrap_or(0)),
        (Err(resp), _) | (_, Err(resp)) => return resp.into(),
    };
    let cap = shared.opts.page_size.max(1);
    let size = top.unwrap_or(cap).clamp(1, cap);
    let start = skip.min(items.len());
    let end = (start + size).min(items.len());
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#{context}"),
        "value": items[start..end].to_vec(),
    });
    if end < items.len() {
        let mut next: Vec<(String, String)> = pairs
            .into_iter()
            .filter(|(k, _)| k != "$skiptoken")
            .collect();
        next.push(("$skiptoken".into(), end.to_string()));
        let origin = shared.urls.graph.trim_end_matches("/v1.0");
        body["@odata.nextLink"] = json!(format!(
            "{origin}{}?{}",
            req_raw_path(req),
            wire::encode_query(&next)
        ));
    }
    wire::json(200, &body)
}

/// The path as sent, re-encoded from the decoded segments.
fn req_raw_path(req: &Incoming) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'?')
        .add(b'<')
        .add(b'>');
    req.segments
        .iter()
        .map(|s| format!("/{}", percent_encoding::utf8_percent_encode(s, SEGMENT)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Users

fn user_json(users: &Users, idx: UserIdx) -> Value {
    let u = users.get(idx);
    json!({"id": u.guid, "userPrincipalName": u.email, "mail": u.email, "displayName": u.display_name})
}

fn get_user(w: &Data, req: &Incoming, id: &str) -> Response {
    let Some(idx) = w.users.by_entra_id(id) else {
        return resource_not_found(id);
    };
    let mut user = user_json(w.users, idx);
    let pairs = req.query_pairs();
    if let (Some(select), Value::Object(map)) = (wire::first(&pairs, "$select"), &mut user) {
        let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
        map.retain(|k, _| wanted.iter().any(|w| w.eq_ignore_ascii_case(k)));
    }
    user["@odata.context"] = json!("https://graph.microsoft.com/v1.0/$metadata#users/$entity");
    wire::json(200, &user)
}

// ---------------------------------------------------------------------------------------------
// Education classes

fn class_json(c: &EduClass) -> Value {
    json!({
        "id": c.id,
        "displayName": c.display_name,
        "mailNickname": c.mail_nickname,
        "description": c.description,
        "externalId": c.external_id,
        "externalName": c.external_name,
        "externalSource": c.external_source,
        "classCode": c.class_code,
        "createdDateTime": c.created,
    })
}

/// `externalId eq '{x}'` → x (the only filter the mock, and class-sync, needs).
fn external_id_filter(filter: &str) -> Option<String> {
    let (prop, rest) = filter.trim().split_once(char::is_whitespace)?;
    let (op, literal) = rest.trim_start().split_once(char::is_whitespace)?;
    if !prop.eq_ignore_ascii_case("externalId") || !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let inner = literal.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    wire::unquote_odata(inner)
}

fn list_classes(shared: &Shared, w: &Data, req: &Incoming) -> Response {
    let pairs = req.query_pairs();
    let g = &w.graph;
    let items: Vec<Value> = match wire::first(&pairs, "$filter") {
        None => g.classes.iter().map(class_json).collect(),
        Some(filter) => {
            let Some(external_id) = external_id_filter(filter) else {
                return bad_request(&format!(
                    "Invalid filter clause: mock Graph supports only $filter=externalId eq '<value>', got {filter:?}."
                ));
            };
            let found = g
                .by_external_id
                .get(&external_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            found.iter().map(|&i| class_json(&g.classes[i])).collect()
        }
    };
    paged(shared, req, "education/classes", items)
}

fn get_class(w: &Data, id: &str) -> Response {
    let Some(&idx) = w.graph.by_id.get(id) else {
        return resource_not_found(id);
    };
    let mut body = class_json(&w.graph.classes[idx]);
    body["@odata.context"] = json!(format!(
        "{}/$metadata#education/classes/$entity",
        GRAPH_BASE
    ));
    wire::json(200, &body)
}

/// A string property of a request body; a required one must be present and not blank.
fn string_prop(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<String>, Refusal> {
    match body.get(name) {
        Some(Value::String(s)) if !(required && s.trim().is_empty()) => Ok(Some(s.clone())),
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) | Some(Value::String(_)) => Err(graph_error(
            400,
            "Request_BadRequest",
            &format!("Required property '{name}' is missing or empty."),
        )
        .into()),
        Some(_) => Err(bad_request(&format!("Property '{name}' must be a string.")).into()),
    }
}

fn valid_nickname(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn create_class(shared: &Shared, w: &mut Data, req: &Incoming) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(resp) => return resp.into(),
    };
    const ALLOWED: [&str; 8] = [
        "@odata.type",
        "displayName",
        "mailNickname",
        "externalId",
        "description",
        "externalName",
        "externalSource",
        "classCode",
    ];
    if let Some(key) = body.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return bad_request(&format!(
            "Property '{key}' does not exist on type 'microsoft.graph.educationClass'."
        ));
    }
    if let Some(t) = body.get("@odata.type")
        && t.as_str() != Some("#microsoft.graph.educationClass")
    {
        return bad_request("@odata.type must be '#microsoft.graph.educationClass'.");
    }
    let fields = (|| -> Result<_, Refusal> {
        Ok((
            string_prop(&body, "displayName", true)?.unwrap_or_default(),
            string_prop(&body, "mailNickname", true)?.unwrap_or_default(),
            string_prop(&body, "externalId", true)?.unwrap_or_default(),
            string_prop(&body, "description", false)?,
            string_prop(&body, "externalName", false)?,
            string_prop(&body, "externalSource", false)?,
            string_prop(&body, "classCode", false)?,
        ))
    })();
    let (
        display_name,
        mail_nickname,
        external_id,
        description,
        external_name,
        external_source,
        class_code,
    ) = match fields {
        Ok(fields) => fields,
        Err(resp) => return resp.into(),
    };
    if wire::char_len(&display_name) > 256 {
        return graph_error(
            400,
            "Request_BadRequest",
            "displayName is longer than 256 characters.",
        );
    }
    if !valid_nickname(&mail_nickname) {
        return graph_error(
            400,
            "Request_BadRequest",
            &format!(
                "Invalid value specified for property 'mailNickname' of resource 'Group': {mail_nickname:?}."
            ),
        );
    }
    let external_source = external_source.unwrap_or_else(|| "manual".into());
    if !["sis", "manual", "lms"].contains(&external_source.as_str()) {
        return bad_request(&format!(
            "Invalid value '{external_source}' for property 'externalSource'."
        ));
    }
    let g = &mut w.graph;
    let nickname_key = mail_nickname.to_ascii_lowercase();
    if g.by_nickname.contains_key(&nickname_key) {
        return graph_error(
            400,
            "Request_BadRequest",
            "Another object with the same value for property mailNickname already exists.",
        );
    }
    let idx = g.classes.len();
    let class = EduClass {
        id: wire::guid(),
        display_name,
        mail_nickname,
        external_id,
        external_name,
        external_source,
        description,
        class_code,
        created: wire::timestamp(true),
        owners: Vec::new(),
        members: Vec::new(),
        is_team: false,
        is_archived: false,
        replication_404s_left: shared.opts.replication_404s,
        teamify_running: false,
    };
    g.by_id.insert(class.id.clone(), idx);
    g.by_nickname.insert(nickname_key, idx);
    g.by_external_id
        .entry(class.external_id.clone())
        .or_default()
        .push(idx);
    let mut body = class_json(&class);
    body["@odata.context"] = json!(format!(
        "{}/$metadata#education/classes/$entity",
        GRAPH_BASE
    ));
    let location = format!("{}/education/classes/{}", shared.urls.graph, class.id);
    g.classes.push(class);
    wire::with_header(wire::json(201, &body), "location", &location)
}

/// A class that is already a team, for benchmark set-up (see `MockServices::seed_team`).
pub(crate) fn seed_team(
    w: &mut World,
    external_id: &str,
    display_name: &str,
    owner: UserIdx,
) -> String {
    let g: &mut GraphState = w.services.get_mut();
    let idx = g.classes.len();
    let mail_nickname = format!("seed{idx}");
    let class = EduClass {
        id: wire::guid(),
        display_name: display_name.to_string(),
        mail_nickname: mail_nickname.clone(),
        external_id: external_id.to_string(),
        external_name: None,
        external_source: "sis".into(),
        description: None,
        class_code: None,
        created: wire::timestamp(true),
        owners: vec![owner],
        members: Vec::new(),
        is_team: true,
        is_archived: false,
        replication_404s_left: 0,
        teamify_running: false,
    };
    let id = class.id.clone();
    g.by_id.insert(id.clone(), idx);
    g.by_nickname.insert(mail_nickname, idx);
    g.by_external_id
        .entry(external_id.to_string())
        .or_default()
        .push(idx);
    g.classes.push(class);
    id
}

fn list_class_teachers(shared: &Shared, w: &Data, req: &Incoming, id: &str) -> Response {
    let Some(&idx) = w.graph.by_id.get(id) else {
        return resource_not_found(id);
    };
    let items = w.graph.classes[idx]
        .owners
        .iter()
        .map(|&u| user_json(w.users, u))
        .collect();
    paged(
        shared,
        req,
        &format!("education/classes('{id}')/teachers"),
        items,
    )
}

/// The user id at the end of an `@odata.id` like `https://graph.microsoft.com/v1.0/education/users/{id}`.
fn education_user_ref(value: &str) -> Option<String> {
    let pos = value.rfind("/education/users")?;
    let rest = &value[pos + "/education/users".len()..];
    if let Some(id) = rest.strip_prefix('/') {
        return (!id.is_empty() && !id.contains('/')).then(|| id.to_string());
    }
    let (_, key) = wire::odata_key(&format!("users{rest}"))?;
    Some(key)
}

fn add_class_teacher(w: &mut Data, req: &Incoming, id: &str) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(resp) => return resp.into(),
    };
    if body.len() != 1 {
        return bad_request(
            "The body of a $ref request must be exactly {\"@odata.id\": \"…/education/users/{id}\"}.",
        );
    }
    let Some(user_ref) = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .and_then(education_user_ref)
    else {
        return bad_request(
            "Invalid @odata.id: expected https://graph.microsoft.com/v1.0/education/users/{id}.",
        );
    };
    let Some(&idx) = w.graph.by_id.get(id) else {
        return resource_not_found(id);
    };
    let Some(user) = w.users.by_entra_id(&user_ref) else {
        return resource_not_found(&user_ref);
    };
    let class = &mut w.graph.classes[idx];
    if class.owners.contains(&user) {
        return graph_error(
            400,
            "Request_BadRequest",
            "One or more added object references already exist for the following modified properties: 'teachers'.",
        );
    }
    class.members.retain(|&m| m != user);
    class.owners.push(user);
    wire::empty(204)
}

/// Removes the teacher (group owner). Teachers are also in the class's members collection
/// (educationClass docs), so the user stays a plain member.
fn remove_class_teacher(w: &mut Data, id: &str, user_id: &str) -> Response {
    let Some(&idx) = w.graph.by_id.get(id) else {
        return resource_not_found(id);
    };
    let Some(user) = w.users.by_entra_id(user_id) else {
        return resource_not_found(user_id);
    };
    let class = &mut w.graph.classes[idx];
    if !class.owners.contains(&user) {
        return resource_not_found(user_id);
    }
    class.owners.retain(|&o| o != user);
    class.members.push(user);
    wire::empty(204)
}

// ---------------------------------------------------------------------------------------------
// Teams

/// The key of `{scheme}://{host}/v1.0/{entity}('{key}')`, any scheme and host.
fn bind_key(value: &str, entity: &str) -> Option<String> {
    let marker = format!("/{entity}(");
    let pos = value.find(&marker)?;
    let prefix = value[..pos].strip_suffix("/v1.0")?;
    let host = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"))?;
    if host.is_empty() || host.contains('/') {
        return None;
    }
    let (name, key) = wire::odata_key(&value[pos + 1..])?;
    (name == entity).then_some(key)
}

fn create_team(shared: &Shared, w: &mut Data, req: &Incoming) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(resp) => return resp.into(),
    };
    if let Some(key) = body
        .keys()
        .find(|k| !["template@odata.bind", "group@odata.bind"].contains(&k.as_str()))
    {
        return bad_request(&format!(
            "Property '{key}' is not allowed when creating a team from a group: send only template@odata.bind and group@odata.bind."
        ));
    }
    let template = body
        .get("template@odata.bind")
        .and_then(Value::as_str)
        .and_then(|v| bind_key(v, "teamsTemplates"));
    match template.as_deref() {
        Some("educationClass") => {}
        Some(other) => {
            return bad_request(&format!(
                "Mock Graph only creates class teams: template '{other}' is not 'educationClass'."
            ));
        }
        None => {
            return bad_request(
                "template@odata.bind must be https://graph.microsoft.com/v1.0/teamsTemplates('educationClass').",
            );
        }
    }
    let Some(group_id) = body
        .get("group@odata.bind")
        .and_then(Value::as_str)
        .and_then(|v| bind_key(v, "groups"))
    else {
        return bad_request(
            "A team from an existing group needs group@odata.bind = https://graph.microsoft.com/v1.0/groups('{id}').",
        );
    };
    let not_found = || {
        graph_error(
            404,
            "NotFound",
            &format!("Group '{group_id}' was not found."),
        )
    };
    let Some(&idx) = w.graph.by_id.get(&group_id) else {
        return not_found();
    };
    let class = &mut w.graph.classes[idx];
    // Graph: a group less than 15 minutes old can 404 because of replication delay; the docs
    // say to retry (graph-teams-api.md §2b).
    if class.replication_404s_left > 0 {
        class.replication_404s_left -= 1;
        return not_found();
    }
    if class.owners.is_empty() {
        return bad_request("Group must have at least one owner");
    }
    if class.is_team || class.teamify_running {
        return graph_error(
            409,
            "Conflict",
            &format!("Team already exists for group {group_id}."),
        );
    }
    class.teamify_running = true;
    let fails = shared
        .faults
        .take_operation_fault(Service::Graph, req.method.as_str(), &req.path);
    let op = w.graph.start_op(idx, OpKind::Teamify, fails);
    let resp = wire::with_header(
        wire::empty(202),
        "location",
        &format!("/teams('{group_id}')/operations('{op}')"),
    );
    let resp = wire::with_header(resp, "content-location", &format!("/teams('{group_id}')"));
    wire::with_header(resp, "content-type", "application/json")
}

/// The class behind a team that exists (teamify succeeded).
fn team_idx(w: &Data, id: &str) -> Result<usize, Refusal> {
    match w.graph.by_id.get(id) {
        Some(&idx) if w.graph.classes[idx].is_team => Ok(idx),
        _ => Err(team_not_found(id).into()),
    }
}

fn get_team(shared: &Shared, w: &Data, id: &str) -> Response {
    let idx = match team_idx(w, id) {
        Ok(idx) => idx,
        Err(resp) => return resp.into(),
    };
    let c = &w.graph.classes[idx];
    wire::json(
        200,
        &json!({
            "@odata.context": format!("{}/$metadata#teams/$entity", GRAPH_BASE),
            "id": c.id,
            "createdDateTime": c.created,
            "displayName": c.display_name,
            "description": c.description,
            "classification": null,
            "specialization": "educationStandard",
            "visibility": "hiddenMembership",
            "webUrl": format!("https://teams.microsoft.com/l/team/19%3amock{}%40thread.tacv2/conversations?groupId={}", c.id.replace('-', ""), c.id),
            "isArchived": c.is_archived,
            "isMembershipLimitedToOwners": false,
            "tenantId": shared.opts.tenant_id,
        }),
    )
}

fn get_operation(shared: &Shared, w: &mut Data, team_id: &str, op_id: &str) -> Response {
    let g = &mut w.graph;
    let not_found = || {
        graph_error(
            404,
            "NotFound",
            &format!("Operation '{op_id}' was not found for team '{team_id}'."),
        )
    };
    let Some(op) = g.ops.get_mut(op_id) else {
        return not_found();
    };
    if g.classes.get(op.class).is_none_or(|c| c.id != team_id) {
        return not_found();
    }
    // The first poll of every operation sees notStarted, so clients must loop, even when
    // operation_delay is 0 and other reads already see the effect (`handle` settled it).
    let first_poll = !op.polled && shared.opts.first_poll_sees_not_started;
    op.polled = true;
    let (status, error) = match (first_poll, op.done, op.fails) {
        (true, _, _) => ("notStarted", Value::Null),
        (false, false, _) => ("inProgress", Value::Null),
        (false, true, false) => ("succeeded", Value::Null),
        (false, true, true) => (
            "failed",
            json!({"code": "TeamUnavailable", "message": "The team was not found."}),
        ),
    };
    wire::json(
        200,
        &json!({
            "@odata.context": format!("{}/$metadata#teams('{team_id}')/operations/$entity", GRAPH_BASE),
            "id": op.id,
            "operationType": op.kind.name(),
            "createdDateTime": op.created_at,
            "status": status,
            "lastActionDateTime": op.last_action_at,
            "attemptsCount": 1,
            "targetResourceId": team_id,
            "targetResourceLocation": format!("/teams('{team_id}')"),
            "error": error,
        }),
    )
}

/// Archive or unarchive. Archiving an archived team (or unarchiving an active one) is accepted
/// and its operation succeeds without change: the docs are silent, and this keeps retries safe.
fn archive(shared: &Shared, w: &mut Data, req: &Incoming, id: &str, kind: OpKind) -> Response {
    let idx = match team_idx(w, id) {
        Ok(idx) => idx,
        Err(resp) => return resp.into(),
    };
    if !req.body.iter().all(u8::is_ascii_whitespace) {
        let body = match json_object(req) {
            Ok(body) => body,
            Err(resp) => return resp.into(),
        };
        for (key, value) in &body {
            match (kind, key.as_str(), value) {
                (OpKind::Archive, "shouldSetSpoSiteReadOnlyForMembers", Value::Bool(false)) => {}
                (OpKind::Archive, "shouldSetSpoSiteReadOnlyForMembers", Value::Bool(true)) => {
                    return bad_request(
                        "The shouldSetSpoSiteReadOnlyForMembers parameter is not supported in the application context.",
                    );
                }
                _ => {
                    return bad_request(&format!(
                        "Unexpected property '{key}' in the {} request body.",
                        kind.name()
                    ));
                }
            }
        }
    }
    if w.graph.classes[idx].owners.is_empty() {
        return bad_request("The team and group must have an owner.");
    }
    let fails = shared
        .faults
        .take_operation_fault(Service::Graph, req.method.as_str(), &req.path);
    let op = w.graph.start_op(idx, kind, fails);
    let resp = wire::with_header(
        wire::empty(202),
        "location",
        &format!("/teams('{id}')/operations('{op}')"),
    );
    wire::with_header(resp, "content-type", "text/plain")
}

// ---------------------------------------------------------------------------------------------
// Team members

/// Graph membership ids are opaque base64 strings; this one encodes team and user so a DELETE
/// can find them, and never equals the user id (a common client mistake).
fn membership_id(team_id: &str, user_guid: &str) -> String {
    wire::b64url(&format!("0#{team_id}#{user_guid}"))
}

fn member_json(shared: &Shared, users: &Users, team_id: &str, user: UserIdx, owner: bool) -> Value {
    let u = users.get(user);
    json!({
        "@odata.type": MEMBER_TYPE,
        "id": membership_id(team_id, &u.guid),
        "roles": if owner { vec!["owner"] } else { Vec::new() },
        "displayName": u.display_name,
        "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
        "userId": u.guid,
        "email": u.email,
        "tenantId": shared.opts.tenant_id,
    })
}

fn list_members(shared: &Shared, w: &Data, req: &Incoming, id: &str) -> Response {
    let idx = match team_idx(w, id) {
        Ok(idx) => idx,
        Err(resp) => return resp.into(),
    };
    if wire::first(&req.query_pairs(), "$filter").is_some() {
        return bad_request(
            "Mock Graph does not support $filter on team members; page through the list.",
        );
    }
    let c = &w.graph.classes[idx];
    let items = c
        .owners
        .iter()
        .map(|&u| member_json(shared, w.users, &c.id, u, true))
        .chain(
            c.members
                .iter()
                .map(|&u| member_json(shared, w.users, &c.id, u, false)),
        )
        .collect();
    paged(shared, req, &format!("teams('{id}')/members"), items)
}

/// A requested aadUserConversationMember.
struct MemberRequest {
    user_ref: String,
    owner: bool,
}

fn parse_member(value: &Value) -> Result<MemberRequest, String> {
    let Some(obj) = value.as_object() else {
        return Err("a member must be a JSON object".into());
    };
    if let Some(key) = obj
        .keys()
        .find(|k| !["@odata.type", "roles", "user@odata.bind"].contains(&k.as_str()))
    {
        return Err(format!(
            "property '{key}' is not supported on {MEMBER_TYPE}"
        ));
    }
    if obj.get("@odata.type").and_then(Value::as_str) != Some(MEMBER_TYPE) {
        return Err(format!("@odata.type must be '{MEMBER_TYPE}'"));
    }
    let mut owner = false;
    match obj.get("roles") {
        None => {}
        Some(Value::Array(roles)) => {
            for role in roles {
                match role.as_str() {
                    Some(r) if r.eq_ignore_ascii_case("owner") => owner = true,
                    _ => return Err(format!("unsupported role {role}; use [\"owner\"] or []")),
                }
            }
        }
        Some(_) => return Err("roles must be an array".into()),
    }
    let bind = obj
        .get("user@odata.bind")
        .and_then(Value::as_str)
        .ok_or("user@odata.bind is required")?;
    let user_ref = user_bind_ref(bind).ok_or_else(|| {
        format!(
            "user@odata.bind must be https://graph.microsoft.com/v1.0/users('{{id}}'), got {bind:?}"
        )
    })?;
    Ok(MemberRequest { user_ref, owner })
}

/// The id in `…/v1.0/users('{id}')` (or `…/v1.0/users/{id}`).
fn user_bind_ref(value: &str) -> Option<String> {
    if let Some(key) = bind_key(value, "users") {
        return Some(key);
    }
    let pos = value.rfind("/v1.0/users/")?;
    let id = &value[pos + "/v1.0/users/".len()..];
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

/// Adds the user unless already in the team; true when added.
fn join(class: &mut EduClass, user: UserIdx, owner: bool) -> bool {
    if class.owners.contains(&user) || class.members.contains(&user) {
        return false;
    }
    if owner {
        class.owners.push(user)
    } else {
        class.members.push(user)
    }
    true
}

/// Adds one member. Re-adding an existing member answers 409 Conflict (the docs are silent;
/// the bulk `members/add` is the idempotent path).
fn add_member(shared: &Shared, w: &mut Data, req: &Incoming, id: &str) -> Response {
    let idx = match team_idx(w, id) {
        Ok(idx) => idx,
        Err(resp) => return resp.into(),
    };
    let member = match json_object(req)
        .and_then(|b| parse_member(&Value::Object(b)).map_err(|e| bad_request(&e).into()))
    {
        Ok(member) => member,
        Err(resp) => return resp.into(),
    };
    let Some(user) = w.users.by_entra_id(&member.user_ref) else {
        return graph_error(
            404,
            "NotFound",
            &format!("User '{}' was not found.", member.user_ref),
        );
    };
    let class = &mut w.graph.classes[idx];
    if !join(class, user, member.owner) {
        return graph_error(409, "Conflict", "The user is already a member of the team.");
    }
    let mut body = member_json(shared, w.users, id, user, member.owner);
    body["@odata.context"] = json!(format!(
        "{}/$metadata#teams('{id}')/members/$entity",
        GRAPH_BASE
    ));
    wire::json(201, &body)
}

/// Bulk add (≤200). Owner roles are honoured (the docs say they are; one SDK report says they
/// were applied as member). Unknown users fail individually with NotFound; existing members
/// succeed without change.
fn add_members(w: &mut Data, req: &Incoming, id: &str) -> Response {
    let idx = match team_idx(w, id) {
        Ok(idx) => idx,
        Err(resp) => return resp.into(),
    };
    let body = match json_object(req) {
        Ok(body) => body,
        Err(resp) => return resp.into(),
    };
    if let Some(key) = body.keys().find(|k| k.as_str() != "values") {
        return bad_request(&format!(
            "Unexpected property '{key}': the body is {{\"values\": [...]}}."
        ));
    }
    let Some(values) = body.get("values").and_then(Value::as_array) else {
        return bad_request("The body must have a 'values' array.");
    };
    if values.is_empty() || values.len() > MAX_BULK_ADD {
        return bad_request(&format!(
            "'values' must hold between 1 and {MAX_BULK_ADD} members, got {}.",
            values.len()
        ));
    }
    let mut requests = Vec::with_capacity(values.len());
    for value in values {
        match parse_member(value) {
            Ok(member) => requests.push(member),
            Err(e) => return bad_request(&e),
        }
    }
    let mut results = Vec::with_capacity(requests.len());
    let mut failed = false;
    for member in requests {
        let result = match w.users.by_entra_id(&member.user_ref) {
            Some(user) => {
                join(&mut w.graph.classes[idx], user, member.owner);
                json!({"@odata.type": "#microsoft.graph.aadUserConversationMemberResult", "userId": w.users.get(user).guid, "error": null})
            }
            None => {
                failed = true;
                json!({
                    "@odata.type": "#microsoft.graph.aadUserConversationMemberResult",
                    "userId": member.user_ref,
                    "error": {"code": "NotFound", "message": format!("User '{}' was not found.", member.user_ref)},
                })
            }
        };
        results.push(result);
    }
    wire::json(
        if failed { 207 } else { 200 },
        &json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.addConversationMemberResult)",
            "value": results,
        }),
    )
}

/// Removes a member by membership id. The last owner cannot be removed (a team must keep one).
/// An owner removed here also stops being a class teacher, as teachers are the group's owners.
fn remove_member(w: &mut Data, id: &str, membership: &str) -> Response {
    let idx = match team_idx(w, id) {
        Ok(idx) => idx,
        Err(resp) => return resp.into(),
    };
    let not_found = || {
        graph_error(
            404,
            "NotFound",
            &format!("Membership '{membership}' was not found in team '{id}'."),
        )
    };
    let Some(decoded) = wire::b64url_decode(membership) else {
        return not_found();
    };
    let Some((team, guid)) = decoded
        .strip_prefix("0#")
        .and_then(|rest| rest.split_once('#'))
    else {
        return not_found();
    };
    let Some(user) = w.users.by_entra_id(guid).filter(|_| team == id) else {
        return not_found();
    };
    let class = &mut w.graph.classes[idx];
    if class.owners.contains(&user) {
        if class.owners.len() == 1 {
            return bad_request(
                "The last owner of a team cannot be removed; a team must have at least one owner.",
            );
        }
        class.owners.retain(|&o| o != user);
    } else if class.members.contains(&user) {
        class.members.retain(|&m| m != user);
    } else {
        return not_found();
    }
    wire::empty(204)
}

// ---------------------------------------------------------------------------------------------
// Views for tests

/// An education class (and its group and team) as the Graph mock holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamView {
    pub class_id: String,
    pub external_id: String,
    pub display_name: String,
    pub mail_nickname: String,
    /// True once a teamify operation has succeeded.
    pub is_team: bool,
    pub is_archived: bool,
    /// Owners of the class group (= the team's owners), emails, sorted.
    pub owners: Vec<String>,
    /// Non-owner members, emails, sorted.
    pub members: Vec<String>,
    /// The education class's `teachers` collection, emails, sorted. The mock keeps it equal to
    /// `owners`, as the docs describe teachers as the group's owners.
    pub class_teachers: Vec<String>,
}

/// Every class (or those with `external_id`), after applying due operations.
pub(crate) fn team_views(shared: &Shared, external_id: Option<&str>) -> Vec<TeamView> {
    let mut world = shared.world();
    let w = Data::of(&mut world);
    w.graph.settle(Instant::now(), shared.opts.operation_delay);
    let emails = |list: &[UserIdx]| {
        let mut out: Vec<String> = list.iter().map(|&u| w.users.email(u)).collect();
        out.sort();
        out
    };
    w.graph
        .classes
        .iter()
        .filter(|c| external_id.is_none_or(|e| c.external_id == e))
        .map(|c| TeamView {
            class_id: c.id.clone(),
            external_id: c.external_id.clone(),
            display_name: c.display_name.clone(),
            mail_nickname: c.mail_nickname.clone(),
            is_team: c.is_team,
            is_archived: c.is_archived,
            owners: emails(&c.owners),
            members: emails(&c.members),
            class_teachers: emails(&c.owners),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_accepts_only_external_id_eq() {
        assert_eq!(
            external_id_filter("externalId eq 'a-1'"),
            Some("a-1".into())
        );
        assert_eq!(
            external_id_filter("externalId eq 'O''Brien'"),
            Some("O'Brien".into())
        );
        assert_eq!(external_id_filter("externalId eq 'bad'quote'"), None);
        assert_eq!(external_id_filter("displayName eq 'x'"), None);
        assert_eq!(external_id_filter("startswith(externalId,'x')"), None);
    }

    #[test]
    fn binds_accept_any_host() {
        let v = "https://graph.microsoft.com/v1.0/groups('abc')";
        assert_eq!(bind_key(v, "groups"), Some("abc".into()));
        assert_eq!(
            bind_key(
                "http://127.0.0.1:1/v1.0/teamsTemplates('educationClass')",
                "teamsTemplates"
            ),
            Some("educationClass".into())
        );
        assert_eq!(bind_key("groups('abc')", "groups"), None);
        assert_eq!(
            user_bind_ref("https://graph.microsoft.com/v1.0/users/a@b.c"),
            Some("a@b.c".into())
        );
        assert_eq!(
            education_user_ref("https://graph.microsoft.com/v1.0/education/users/u1"),
            Some("u1".into())
        );
        assert_eq!(
            education_user_ref("https://graph.microsoft.com/v1.0/education/users('u1')"),
            Some("u1".into())
        );
    }
}
