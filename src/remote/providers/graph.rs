//! Microsoft Teams through Graph: education classes, teamify, async operations, members, archive.
//!
//! Call sequence (CONTRACT §7, graph-teams-api.md §2–4): find the class by `externalId` or create it
//! (`mailNickname` derived from the group id only), make the teachers class teachers (owners), teamify
//! with the `educationClass` template and `group@odata.bind`, follow the `Location` operation; learners
//! through `/teams/{id}/members/add`, removals by membership id; archive/unarchive through operations,
//! reading `isArchived` first.

use super::{Applied, Created, Creation, Provider, RemoteMember, RemoteRoster};
use crate::config::MicrosoftConfig;
use crate::core::domain::{Group, Target};
use crate::core::roster::{Role, RosterStep};
use crate::remote::auth::TokenCache;
use crate::remote::call::{Api, Call, Remote, Reply};
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::throttle::{BucketId, BucketKey};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Graph allows at most 200 members per `members/add` call.
const MEMBERS_ADD_MAX: usize = 200;
/// Graph docs: a group younger than 15 minutes may 404 on teamify; retry three times.
const TEAMIFY_404_RETRIES: u32 = 3;
/// A failed teamify/archive operation is retried this many times within one job.
const OPERATION_RETRIES: u32 = 2;

pub struct GraphProvider {
    remote: Arc<Remote>,
    tokens: TokenCache,
    graph_url: String,
    poll: Duration,
    operation_timeout: Duration,
    teamify_retry: Duration,
    /// email → Entra object id; ids never change, so they are looked up once per process.
    user_ids: Mutex<HashMap<String, String>>,
}

impl GraphProvider {
    pub fn new(
        cfg: &MicrosoftConfig,
        remote: Arc<Remote>,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        let tokens = TokenCache::microsoft(
            &cfg.login_url,
            &cfg.tenant_id,
            &cfg.client_id,
            &cfg.client_secret,
            http,
        )?;
        Ok(GraphProvider {
            remote,
            tokens,
            graph_url: cfg.graph_url.clone(),
            poll: Duration::from_secs_f64(cfg.operation_poll_seconds),
            operation_timeout: Duration::from_secs_f64(cfg.operation_timeout_seconds),
            teamify_retry: Duration::from_secs_f64(cfg.teamify_retry_seconds),
            user_ids: Mutex::new(HashMap::new()),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.graph_url, path)
    }

    async fn send(&self, call: Call) -> Result<Reply, ProviderError> {
        self.remote.send(&call, &self.tokens).await
    }

    fn education() -> Vec<BucketKey> {
        vec![BucketKey::of(BucketId::Education)]
    }

    fn team_read(team: &str) -> Vec<BucketKey> {
        vec![
            BucketKey::of(BucketId::TeamsRead),
            BucketKey::keyed(BucketId::PerTeam, team),
        ]
    }

    fn team_write(team: &str) -> Vec<BucketKey> {
        vec![
            BucketKey::of(BucketId::TeamsWrite),
            BucketKey::keyed(BucketId::PerTeam, team),
        ]
    }

    /// Every page of a Graph collection, following `@odata.nextLink`.
    async fn list_all(
        &self,
        first_url: String,
        buckets: Vec<BucketKey>,
    ) -> Result<Vec<Value>, ProviderError> {
        let mut out = Vec::new();
        let mut next = Some(first_url);
        while let Some(url) = next.take() {
            let reply = self
                .send(Call::new(Api::Graph, Method::GET, url, buckets.clone()))
                .await?;
            if let Some(items) = reply.body["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            next = reply.body["@odata.nextLink"].as_str().map(str::to_string);
        }
        Ok(out)
    }

    /// The Entra object id of `email`, or None when the account does not exist (yet).
    async fn user_id(&self, email: &str) -> Result<Option<String>, ProviderError> {
        if let Some(id) = self
            .user_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(email)
        {
            return Ok(Some(id.clone()));
        }
        let url = self.url(&format!(
            "/users/{}?$select=id,userPrincipalName",
            encode_segment(email)
        ));
        match self
            .send(Call::new(Api::Graph, Method::GET, url, Self::education()))
            .await
        {
            Ok(reply) => {
                let id = reply.body["id"]
                    .as_str()
                    .ok_or_else(|| ProviderError::invalid("Graph user without an id"))?
                    .to_string();
                self.user_ids
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(email.to_string(), id.clone());
                Ok(Some(id))
            }
            Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn email_of(&self, user_id: &str) -> Option<String> {
        let ids = self.user_ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.iter()
            .find(|(_, id)| id.as_str() == user_id)
            .map(|(email, _)| email.clone())
    }

    async fn find_class(&self, group_id: &str) -> Result<Option<String>, ProviderError> {
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

    async fn create_class(&self, group: &Group) -> Result<String, ProviderError> {
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
    async fn ensure_class_teachers(
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

    /// `POST /teams` from the class group, then follows the operation to the end.
    async fn teamify(&self, class_id: &str) -> Result<(), ProviderError> {
        let body = json!({
            "template@odata.bind": "https://graph.microsoft.com/v1.0/teamsTemplates('educationClass')",
            "group@odata.bind": format!("https://graph.microsoft.com/v1.0/groups('{class_id}')"),
        });
        let mut not_found = 0;
        let mut failed_ops = 0;
        loop {
            let call = Call::new(
                Api::Graph,
                Method::POST,
                self.url("/teams"),
                vec![BucketKey::of(BucketId::TeamsCreate)],
            )
            .json(body.clone());
            match self.send(call).await {
                Ok(reply) => {
                    let location = reply.location.ok_or_else(|| {
                        ProviderError::invalid("teamify answered without a Location")
                    })?;
                    match self.follow_operation(class_id, &location).await? {
                        OperationEnd::Succeeded => return Ok(()),
                        OperationEnd::Failed(_) if failed_ops < OPERATION_RETRIES => {
                            failed_ops += 1
                        }
                        OperationEnd::Failed(e) => return Err(e),
                    }
                }
                // Already a team: an earlier attempt (ours) got there.
                Err(e) if e.is(ErrorKind::Conflict) => return Ok(()),
                // Graph docs: a group under 15 minutes old can 404 here; retry three times, 10 s apart.
                Err(e) if e.is(ErrorKind::NotFound) && not_found < TEAMIFY_404_RETRIES => {
                    not_found += 1;
                    crate::remote::job_context::without_slot(tokio::time::sleep(
                        self.teamify_retry,
                    ))
                    .await;
                }
                Err(e) if e.is(ErrorKind::NotFound) => {
                    return Err(ProviderError {
                        kind: ErrorKind::Transient,
                        ..e
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Polls a teamsAsyncOperation every `operation_poll_seconds` until it succeeds or fails.
    /// A failed operation is an answer, not an error of the call: the caller decides whether to
    /// start it again.
    async fn follow_operation(
        &self,
        team_id: &str,
        location: &str,
    ) -> Result<OperationEnd, ProviderError> {
        let url = if location.starts_with("http") {
            location.to_string()
        } else {
            self.url(location)
        };
        let started = Instant::now();
        loop {
            // Waiting does no work: the job's slot goes to another job meanwhile.
            crate::remote::job_context::without_slot(tokio::time::sleep(self.poll)).await;
            let reply = self
                .send(Call::new(
                    Api::Graph,
                    Method::GET,
                    url.clone(),
                    Self::team_read(team_id),
                ))
                .await?;
            match reply.body["status"].as_str().unwrap_or("") {
                "succeeded" => return Ok(OperationEnd::Succeeded),
                "failed" => {
                    let err = &reply.body["error"];
                    return Ok(OperationEnd::Failed(ProviderError::new(
                        ErrorKind::Transient,
                        "operationFailed",
                        format!(
                            "{} operation failed: {} {}",
                            reply.body["operationType"].as_str().unwrap_or("team"),
                            err["code"].as_str().unwrap_or(""),
                            err["message"].as_str().unwrap_or("")
                        ),
                    )));
                }
                _ if started.elapsed() > self.operation_timeout => {
                    return Err(ProviderError::new(
                        ErrorKind::Transient,
                        "operationTimeout",
                        "the team operation did not finish in time",
                    ));
                }
                _ => {}
            }
        }
    }

    /// `GET /teams/{id}`; a team can 404 for a few seconds after its operation succeeded.
    async fn team(&self, team_id: &str) -> Result<Value, ProviderError> {
        let mut tries = 0;
        loop {
            let call = Call::new(
                Api::Graph,
                Method::GET,
                self.url(&format!("/teams/{team_id}")),
                Self::team_read(team_id),
            );
            match self.send(call).await {
                Ok(r) => return Ok(r.body),
                Err(e) if e.is(ErrorKind::NotFound) && tries < 3 => {
                    tries += 1;
                    crate::remote::job_context::without_slot(tokio::time::sleep(
                        self.poll.max(Duration::from_millis(100)),
                    ))
                    .await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn set_archived(&self, team_id: &str, archived: bool) -> Result<(), ProviderError> {
        let mut failed_ops = 0;
        let action = if archived { "archive" } else { "unarchive" };
        loop {
            // Straight to the action: one write and one poll per team keeps a year-end storm at the
            // write quota. Only an unclear answer (an error other than throttling or a fault, which
            // the docs leave undocumented for a team already in that state) costs a read.
            let call = Call::new(
                Api::Graph,
                Method::POST,
                self.url(&format!("/teams/{team_id}/{action}")),
                Self::team_write(team_id),
            );
            let reply = match self.send(call).await {
                Ok(reply) => reply,
                Err(e) if !e.kind.is_retryable() => {
                    return match self.team(team_id).await?["isArchived"].as_bool() {
                        Some(now) if now == archived => Ok(()),
                        _ => Err(e),
                    };
                }
                Err(e) => return Err(e),
            };
            let location = reply.location.ok_or_else(|| {
                ProviderError::invalid(format!("{action} answered without a Location"))
            })?;
            match self.follow_operation(team_id, &location).await? {
                OperationEnd::Succeeded => return Ok(()),
                OperationEnd::Failed(_) if failed_ops < OPERATION_RETRIES => failed_ops += 1,
                OperationEnd::Failed(e) => return Err(e),
            }
        }
    }

    async fn add_owner(&self, team_id: &str, user_id: &str) -> Result<(), ProviderError> {
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
    async fn add_members(
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
                for result in reply.body["value"].as_array().into_iter().flatten() {
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
                        "NotFound" | "Request_ResourceNotFound" => {
                            applied.missing_accounts.push(email)
                        }
                        code => {
                            return Err(ProviderError::new(
                                ErrorKind::from_status(400),
                                code,
                                format!(
                                    "adding {email}: {}",
                                    err["message"].as_str().unwrap_or("")
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Provider for GraphProvider {
    fn target(&self) -> Target {
        Target::Teams
    }

    async fn find_or_create(&self, group: &Group) -> Result<Creation, ProviderError> {
        let class_id = match self.find_class(&group.id).await? {
            Some(id) => id,
            None => self.create_class(group).await?,
        };
        // A team needs an owner before it can exist.
        if self
            .ensure_class_teachers(&class_id, &group.teachers)
            .await?
            == 0
        {
            return Ok(Creation::NeedsOwner);
        }
        self.teamify(&class_id).await?;
        let team = self.team(&class_id).await?;
        Ok(Creation::Ready(Created {
            remote_id: class_id,
            archived: team["isArchived"].as_bool().unwrap_or(false),
        }))
    }

    async fn roster(&self, team_id: &str) -> Result<RemoteRoster, ProviderError> {
        let members = self
            .list_all(
                self.url(&format!("/teams/{team_id}/members")),
                Self::team_read(team_id),
            )
            .await?;
        let members = members
            .iter()
            .filter_map(|m| {
                let user_id = m["userId"].as_str()?;
                let email = self.email_of(user_id).or_else(|| {
                    m["email"]
                        .as_str()
                        .map(crate::core::domain::normalise_email)
                })?;
                let owner = m["roles"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == "owner"));
                Some(RemoteMember {
                    email,
                    role: if owner { Role::Teacher } else { Role::Learner },
                    handle: m["id"].as_str()?.to_string(),
                })
            })
            .collect();
        Ok(RemoteRoster {
            members,
            archived: false,
            owner: None,
        })
    }

    async fn apply(
        &self,
        team_id: &str,
        steps: &[RosterStep],
        current: &RemoteRoster,
    ) -> Result<Applied, ProviderError> {
        let mut applied = Applied::default();
        let mut learners: Vec<(String, String)> = Vec::new();
        for step in steps {
            // Learners are batched; anything else flushes the batch first so the order holds.
            if !matches!(step, RosterStep::Add(Role::Learner, _)) && !learners.is_empty() {
                self.add_members(team_id, &std::mem::take(&mut learners), &mut applied)
                    .await?;
            }
            match step {
                RosterStep::Add(role, email) => match self.user_id(email).await? {
                    None => applied.missing_accounts.push(email.clone()),
                    Some(id) if *role == Role::Teacher => self.add_owner(team_id, &id).await?,
                    Some(id) => learners.push((email.clone(), id)),
                },
                RosterStep::Remove(_, email) => {
                    let Some(member) = current.find(email) else {
                        continue;
                    };
                    let url = self.url(&format!("/teams/{team_id}/members/{}", member.handle));
                    match self
                        .send(Call::new(
                            Api::Graph,
                            Method::DELETE,
                            url,
                            Self::team_write(team_id),
                        ))
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if e.is(ErrorKind::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if !learners.is_empty() {
            self.add_members(team_id, &learners, &mut applied).await?;
        }
        Ok(applied)
    }

    async fn archive(&self, team_id: &str) -> Result<(), ProviderError> {
        self.set_archived(team_id, true).await
    }

    async fn unarchive(&self, team_id: &str) -> Result<(), ProviderError> {
        self.set_archived(team_id, false).await
    }
}

/// `mailNickname` from the group id alone (CONTRACT §7): `ump-` + the id, shortened with a stable
/// hash when Graph's 64-character limit would be passed.
pub fn mail_nickname(group_id: &str) -> String {
    let clean: String = group_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let full = format!("ump-{clean}");
    if full.len() <= 64 {
        return full;
    }
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in group_id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{}-{:08x}", &full[..55], h as u32)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// How a teamsAsyncOperation ended.
enum OperationEnd {
    Succeeded,
    /// The operation reported `failed`, with its error: Graph's docs say to start it again.
    Failed(ProviderError),
}

/// Graph answers a `$ref` add of a reference that is already there with 400 and the message "One
/// or more added object references already exist for the following modified properties"
/// (directory-objects add-reference; no distinct error code is documented). Seen here, it is the
/// retry of our own earlier add, so it counts as done. The one place this message text is read.
fn is_existing_reference(e: &ProviderError) -> bool {
    e.status == Some(400) && e.message.contains("already exist")
}

fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn encode_query(s: &str) -> String {
    encode_segment(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_depend_on_the_id_only_and_fit() {
        assert_eq!(
            mail_nickname("6612001-2025-26-7A-Ma1"),
            "ump-6612001-2025-26-7A-Ma1"
        );
        let long = "x".repeat(100);
        let n = mail_nickname(&long);
        assert_eq!(n.len(), 64);
        assert_eq!(n, mail_nickname(&long));
        assert_ne!(n, mail_nickname(&format!("{}y", "x".repeat(99))));
    }
}
