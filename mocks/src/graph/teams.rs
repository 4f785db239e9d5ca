//! Teams: teamify a class group (`POST /teams`), get a team, archive and unarchive. Teamify
//! and (un)archive answer 202 with an operation that finishes later (see `operations`).

use axum::response::Response;
use serde_json::{Value, json};

use crate::backend::Incoming;
use crate::graph::errors::{bad_request, graph_error, json_object, team_not_found};
use crate::graph::model::{Data, OpKind};
use crate::graph::odata::{GRAPH_BASE, bind_key};
use crate::state::Shared;
use crate::state::calls::Service;
use crate::wire::{self, Refusal};

pub(super) fn create_team(shared: &Shared, w: &mut Data, req: &Incoming) -> Response {
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
pub(super) fn team_idx(w: &Data, id: &str) -> Result<usize, Refusal> {
    match w.graph.by_id.get(id) {
        Some(&idx) if w.graph.classes[idx].is_team => Ok(idx),
        _ => Err(team_not_found(id).into()),
    }
}

pub(super) fn get_team(shared: &Shared, w: &Data, id: &str) -> Response {
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

/// Archive or unarchive. Archiving an archived team (or unarchiving an active one) is accepted
/// and its operation succeeds without change: the docs are silent, and this keeps retries safe.
pub(super) fn archive(
    shared: &Shared,
    w: &mut Data,
    req: &Incoming,
    id: &str,
    kind: OpKind,
) -> Response {
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
