//! Education classes: create (with its group), get, list (optionally filtered by
//! `externalId`), and the already-teamified classes benchmarks seed.

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::backend::Incoming;
use crate::graph::errors::{bad_request, graph_error, json_object, resource_not_found};
use crate::graph::model::{Data, EduClass, GraphState};
use crate::graph::odata::{GRAPH_BASE, paged};
use crate::state::Shared;
use crate::state::users::UserIdx;
use crate::state::world::World;
use crate::wire::{self, Refusal};

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

pub(super) fn list_classes(shared: &Shared, w: &Data, req: &Incoming) -> Response {
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

pub(super) fn get_class(w: &Data, id: &str) -> Response {
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

pub(super) fn create_class(shared: &Shared, w: &mut Data, req: &Incoming) -> Response {
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
}
