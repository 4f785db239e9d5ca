//! Education classes: found by `externalId`, created with a `mailNickname` from the group id alone,
//! and their teachers (the team's owners to be) added as class teachers.

use super::{GraphProvider, encode_query, mail_nickname, truncate};
use crate::core::domain::Group;
use crate::remote::call::{Api, Call};
use crate::remote::error::{ErrorKind, ProviderError};
use reqwest::Method;
use serde_json::json;

impl GraphProvider {
    pub(super) async fn find_class(&self, group_id: &str) -> Result<Option<String>, ProviderError> {
        let filter = format!("externalId eq '{}'", group_id.replace('\'', "''"));
        let url = format!(
            "{}?$filter={}",
            self.url("/education/classes"),
            encode_query(&filter)
        );
        let classes = self.list_all(url, Self::education()).await?;
        Ok(classes
            .first()
            .and_then(|c| c["id"].as_str())
            .map(str::to_string))
    }

    pub(super) async fn create_class(&self, group: &Group) -> Result<String, ProviderError> {
        let body = json!({
            "displayName": truncate(&group.name, 256),
            "mailNickname": mail_nickname(&group.id),
            "description": format!("{} ({}, {})", group.name, group.school, group.academic_year),
            "externalId": group.id,
            "externalName": truncate(&group.name, 256),
            "externalSource": "sis",
        });
        let call = Call::new(
            Api::Graph,
            Method::POST,
            self.url("/education/classes"),
            Self::education(),
        )
        .json(body)
        .not_retry_safe();
        match self.send(call).await {
            Ok(reply) => reply.body["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ProviderError::invalid("created class has no id")),
            // A 5xx or reset may hide a success, and a nickname clash may be our own earlier create:
            // look again before anything else, never POST twice blindly.
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::Transient | ErrorKind::Invalid | ErrorKind::Conflict
                ) =>
            {
                match self.find_class(&group.id).await? {
                    Some(id) => Ok(id),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Makes every existing teacher account a class teacher (owner). Returns how many there are.
    pub(super) async fn ensure_class_teachers(
        &self,
        class_id: &str,
        teachers: &[String],
    ) -> Result<usize, ProviderError> {
        let url = self.url(&format!("/education/classes/{class_id}/teachers"));
        let present: Vec<String> = self
            .list_all(url, Self::education())
            .await?
            .iter()
            .filter_map(|t| t["id"].as_str().map(str::to_string))
            .collect();
        let mut owners = 0;
        for email in teachers {
            let Some(id) = self.user_id(email).await? else {
                continue;
            };
            owners += 1;
            if present.contains(&id) {
                continue;
            }
            let body = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/education/users/{id}")});
            let call = Call::new(
                Api::Graph,
                Method::POST,
                self.url(&format!("/education/classes/{class_id}/teachers/$ref")),
                Self::education(),
            )
            .json(body);
            match self.send(call).await {
                Ok(_) => {}
                Err(e) if is_existing_reference(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(owners)
    }
}

/// Graph answers a `$ref` add of a reference that is already there with 400 and the message "One
/// or more added object references already exist for the following modified properties"
/// (directory-objects add-reference; no distinct error code is documented). Seen here, it is the
/// retry of our own earlier add, so it counts as done. The one place this message text is read.
fn is_existing_reference(e: &ProviderError) -> bool {
    e.status == Some(400) && e.message.contains("already exist")
}
