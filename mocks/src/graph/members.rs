//! Team members: list, add one, bulk add and remove. Membership is the class group's: owners
//! (the teachers) and plain members; membership ids are opaque and never the user id.

use axum::response::Response;
use serde_json::{Value, json};

use crate::backend::Incoming;
use crate::graph::errors::{bad_request, graph_error, json_object};
use crate::graph::model::{Data, EduClass};
use crate::graph::odata::{GRAPH_BASE, paged, user_bind_ref};
use crate::graph::teams::team_idx;
use crate::state::Shared;
use crate::state::users::{UserIdx, Users};
use crate::wire;

/// Graph caps a bulk member add at 200 (graph-teams-api.md §4).
const MAX_BULK_ADD: usize = 200;
const MEMBER_TYPE: &str = "#microsoft.graph.aadUserConversationMember";

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

pub(super) fn list_members(shared: &Shared, w: &Data, req: &Incoming, id: &str) -> Response {
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
pub(super) fn add_member(shared: &Shared, w: &mut Data, req: &Incoming, id: &str) -> Response {
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
pub(super) fn add_members(w: &mut Data, req: &Incoming, id: &str) -> Response {
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
pub(super) fn remove_member(w: &mut Data, id: &str, membership: &str) -> Response {
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
