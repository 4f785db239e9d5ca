//! Microsoft Teams through Graph: education classes, teamify, async operations, members, archive.
//!
//! Call sequence (CONTRACT §7, graph-teams-api.md §2–4): find the class by `externalId` or create it
//! (`mailNickname` derived from the group id only), make the teachers class teachers (owners), teamify
//! with the `educationClass` template and `group@odata.bind`, follow the `Location` operation; learners
//! through `/teams/{id}/members/add`, removals by membership id; archive/unarchive through operations,
//! reading `isArchived` first.

mod classes;
mod members;
mod teams;

// What the answers' bodies mean, as pure functions: public (hidden from the docs) for the fuzz
// targets, which feed them malformed and hostile answers.
#[doc(hidden)]
pub use members::members_add_results;
#[doc(hidden)]
pub use teams::{Operation, operation};

use super::{Applied, Created, Creation, Provider, RemoteMember, RemoteRoster};
use crate::config::MicrosoftConfig;
use crate::core::domain::{Group, Target};
use crate::core::roster::{OwnerGuard, Role, RosterStep};
use crate::remote::auth::TokenCache;
use crate::remote::call::{Api, Call, Remote, Reply};
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::throttle::{BucketId, BucketKey};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
            let (items, link) = page(&reply.body);
            out.extend(items.iter().cloned());
            next = link;
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
            .filter_map(|m| member(m, |user_id| self.email_of(user_id)))
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
        // Graph refuses to remove a team's last owner: when no new teacher could be added, the
        // old one is kept rather than the whole run failing.
        let owners = current.members.iter().filter(|m| m.role == Role::Teacher);
        let mut guard = OwnerGuard::new(owners.count());
        for step in steps {
            // Learners are batched; anything else flushes the batch first so the order holds.
            if !matches!(step, RosterStep::Add(Role::Learner, _)) && !learners.is_empty() {
                self.add_members(team_id, &std::mem::take(&mut learners), &mut applied)
                    .await?;
            }
            match step {
                RosterStep::Add(..) if !guard.admits(step) => {}
                RosterStep::Add(role, email) => match self.user_id(email).await? {
                    None => applied.missing_accounts.push(email.clone()),
                    Some(id) if *role == Role::Teacher => {
                        self.add_owner(team_id, &id).await?;
                        guard.added(Role::Teacher);
                    }
                    Some(id) => learners.push((email.clone(), id)),
                },
                RosterStep::Remove(_, email) => {
                    let Some(member) = current.find(email) else {
                        continue;
                    };
                    if !guard.admits(step) {
                        continue;
                    }
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
        applied.kept = guard.kept();
        Ok(applied)
    }

    async fn archive(&self, team_id: &str) -> Result<(), ProviderError> {
        self.set_archived(team_id, true).await
    }

    async fn unarchive(&self, team_id: &str) -> Result<(), ProviderError> {
        self.set_archived(team_id, false).await
    }
}

/// One page of a Graph collection: its items (`value`) and the next page's link
/// (`@odata.nextLink`), if any. Public (hidden from the docs) for the fuzz targets.
#[doc(hidden)]
pub fn page(body: &Value) -> (&[Value], Option<String>) {
    let items = body["value"].as_array().map_or(&[][..], Vec::as_slice);
    (items, body["@odata.nextLink"].as_str().map(str::to_string))
}

/// A team member as `GET /teams/{id}/members` lists it: the email we looked its user id up by
/// (`email_of`), else the one Graph gives; an owner is a teacher. None without a user id, an email
/// or a membership id. Public (hidden from the docs) for the fuzz targets.
#[doc(hidden)]
pub fn member(m: &Value, email_of: impl FnOnce(&str) -> Option<String>) -> Option<RemoteMember> {
    let user_id = m["userId"].as_str()?;
    let email = email_of(user_id).or_else(|| {
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
