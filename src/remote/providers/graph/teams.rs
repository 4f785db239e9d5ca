//! The team's life: teamify a class, follow Graph's long-running operations, read the team,
//! archive and unarchive it.

use super::{GraphProvider, OPERATION_RETRIES, TEAMIFY_404_RETRIES};
use crate::remote::call::{Api, Call};
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::throttle::{BucketId, BucketKey};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

impl GraphProvider {
    /// `POST /teams` from the class group, then follows the operation to the end.
    pub(super) async fn teamify(&self, class_id: &str) -> Result<(), ProviderError> {
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
            match operation(&reply.body) {
                Operation::Succeeded => return Ok(OperationEnd::Succeeded),
                Operation::Failed(e) => return Ok(OperationEnd::Failed(e)),
                Operation::Running if started.elapsed() > self.operation_timeout => {
                    return Err(ProviderError::new(
                        ErrorKind::Transient,
                        "operationTimeout",
                        "the team operation did not finish in time",
                    ));
                }
                Operation::Running => {}
            }
        }
    }

    /// `GET /teams/{id}`; a team can 404 for a few seconds after its operation succeeded.
    pub(super) async fn team(&self, team_id: &str) -> Result<Value, ProviderError> {
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

    pub(super) async fn set_archived(
        &self,
        team_id: &str,
        archived: bool,
    ) -> Result<(), ProviderError> {
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
}

/// Where a teamsAsyncOperation stands, as its body says.
#[derive(Debug)]
pub enum Operation {
    Succeeded,
    /// `failed`, with the operation's own error (a transient one: the docs say to start again).
    Failed(ProviderError),
    /// Not started, in progress, or a status this version does not know: poll again.
    Running,
}

/// Reads a teamsAsyncOperation's body (`status`, `operationType`, `error`).
pub fn operation(body: &Value) -> Operation {
    match body["status"].as_str().unwrap_or("") {
        "succeeded" => Operation::Succeeded,
        "failed" => {
            let err = &body["error"];
            Operation::Failed(ProviderError::new(
                ErrorKind::Transient,
                "operationFailed",
                format!(
                    "{} operation failed: {} {}",
                    body["operationType"].as_str().unwrap_or("team"),
                    err["code"].as_str().unwrap_or(""),
                    err["message"].as_str().unwrap_or("")
                ),
            ))
        }
        _ => Operation::Running,
    }
}

/// How a teamsAsyncOperation ended.
enum OperationEnd {
    Succeeded,
    /// The operation reported `failed`, with its error: Graph's docs say to start it again.
    Failed(ProviderError),
}
