//! `GET /users/{id}`: the directory as Graph shows it (id, UPN, mail, display name).

use axum::response::Response;
use serde_json::{Value, json};

use crate::backend::Incoming;
use crate::graph::errors::resource_not_found;
use crate::graph::model::Data;
use crate::state::users::{UserIdx, Users};
use crate::wire;

pub(super) fn user_json(users: &Users, idx: UserIdx) -> Value {
    let u = users.get(idx);
    json!({"id": u.guid, "userPrincipalName": u.email, "mail": u.email, "displayName": u.display_name})
}

pub(super) fn get_user(w: &Data, req: &Incoming, id: &str) -> Response {
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
