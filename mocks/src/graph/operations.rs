//! teamsAsyncOperations: starting one (teamify, archive, unarchive), finishing those whose
//! delay has passed, applying their effect, and `GET /teams/{id}/operations/{id}`.

use std::time::{Duration, Instant};

use axum::response::Response;
use serde_json::{Value, json};

use crate::graph::errors::graph_error;
use crate::graph::model::{Data, GraphState, OpKind, Operation};
use crate::graph::odata::GRAPH_BASE;
use crate::state::Shared;
use crate::wire;

impl GraphState {
    /// Finishes every operation whose delay has passed, oldest first, applying its effect.
    pub(super) fn settle(&mut self, now: Instant, delay: Duration) {
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

    pub(super) fn start_op(&mut self, class: usize, kind: OpKind, fails: bool) -> String {
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

pub(super) fn get_operation(shared: &Shared, w: &mut Data, team_id: &str, op_id: &str) -> Response {
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
