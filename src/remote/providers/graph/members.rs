//! Team members: owners one by one (`POST /teams/{id}/members`, 4 a minute per team), learners in
//! bulk (`members/add`, 200 a call, 207 per-user results).

use super::{GraphProvider, MEMBERS_ADD_MAX};
use crate::remote::call::{Api, Call};
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::providers::Applied;
use crate::remote::throttle::{BucketId, BucketKey};
use reqwest::Method;
use serde_json::{Value, json};

impl GraphProvider {
    pub(super) async fn add_owner(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<(), ProviderError> {
        let body = json!({
            "@odata.type": "#microsoft.graph.aadUserConversationMember",
            "roles": ["owner"],
            "user@odata.bind": format!("https://graph.microsoft.com/v1.0/users('{user_id}')"),
        });
        // Documented at 4 a minute per team, on top of the team's write buckets.
        let mut buckets = Self::team_write(team_id);
        buckets.push(BucketKey::keyed(BucketId::TeamMemberAdds, team_id));
        let call = Call::new(
            Api::Graph,
            Method::POST,
            self.url(&format!("/teams/{team_id}/members")),
            buckets,
        )
        .json(body);
        match self.send(call).await {
            Ok(_) => Ok(()),
            Err(e) if e.is(ErrorKind::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Adds learners ≤200 a call; a 207's per-user `NotFound` marks that account missing.
    pub(super) async fn add_members(
        &self,
        team_id: &str,
        users: &[(String, String)],
        applied: &mut Applied,
    ) -> Result<(), ProviderError> {
        for chunk in users.chunks(MEMBERS_ADD_MAX) {
            let values: Vec<Value> = chunk
                .iter()
                .map(|(_, id)| {
                    json!({
                        "@odata.type": "#microsoft.graph.aadUserConversationMember",
                        "roles": [],
                        "user@odata.bind": format!("https://graph.microsoft.com/v1.0/users('{id}')"),
                    })
                })
                .collect();
            let call = Call::new(
                Api::Graph,
                Method::POST,
                self.url(&format!("/teams/{team_id}/members/add")),
                Self::team_write(team_id),
            )
            .json(json!({ "values": values }));
            let reply = self.send(call).await?;
            if reply.status == 207 {
                members_add_results(&reply.body, chunk, &mut applied.missing_accounts)?;
            }
        }
        Ok(())
    }
}

/// The per-user results of a `members/add` answered 207, for the `(email, user id)` pairs of the
/// call: an account that does not exist is put in `missing`; any other failure is the error.
pub fn members_add_results(
    body: &Value,
    chunk: &[(String, String)],
    missing: &mut Vec<String>,
) -> Result<(), ProviderError> {
    for result in body["value"].as_array().into_iter().flatten() {
        let Some(err) = result.get("error").filter(|e| !e.is_null()) else {
            continue;
        };
        let uid = result["userId"].as_str().unwrap_or("");
        let email = chunk
            .iter()
            .find(|(_, id)| id == uid)
            .map(|(e, _)| e.clone())
            .unwrap_or_else(|| uid.to_string());
        match err["code"].as_str().unwrap_or("") {
            "NotFound" | "Request_ResourceNotFound" => missing.push(email),
            code => {
                return Err(ProviderError::new(
                    ErrorKind::from_status(400),
                    code,
                    format!("adding {email}: {}", err["message"].as_str().unwrap_or("")),
                ));
            }
        }
    }
    Ok(())
}
