//! Google Classroom: courses by alias, teachers and students by email, archive by `courseState`.
//!
//! Call sequence (CONTRACT §7, classroom-api.md §2–4): `POST /v1/courses` with `id: d:ump-{group id}` and
//! `courseState: ACTIVE`; a 409 means it exists, so it is read by alias. Rosters through
//! `courses.teachers` / `courses.students` (an already-member 409 is success); archive and restore by
//! `PATCH ?updateMask=courseState`. Roster changes are never attempted on an ARCHIVED course.
//! Work is spread across every admin in `admin_emails` (each has its own per-user quota).

use super::{Applied, Created, Creation, Provider, RemoteMember, RemoteRoster};
use crate::config::GoogleConfig;
use crate::core::domain::{Group, Target, normalise_email};
use crate::core::roster::{Role, RosterStep};
use crate::remote::auth::{ServiceAccountKey, TokenCache};
use crate::remote::call::{Api, Call, Remote, Reply};
use crate::remote::error::{ErrorKind, ProviderError};
use crate::remote::throttle::{BucketId, BucketKey};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The alias class-sync gives a group's course; it is what makes creation idempotent.
pub fn course_alias(group_id: &str) -> String {
    format!("d:ump-{group_id}")
}

pub struct ClassroomProvider {
    remote: Arc<Remote>,
    base: String,
    admins: Vec<(String, TokenCache)>,
    next_admin: AtomicUsize,
}

impl ClassroomProvider {
    pub fn new(
        cfg: &GoogleConfig,
        remote: Arc<Remote>,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        let key = Arc::new(ServiceAccountKey::load(&cfg.service_account_key_file)?);
        let admins = cfg
            .admin_emails
            .iter()
            .map(|a| (a.clone(), TokenCache::google(key.clone(), a, http.clone())))
            .collect();
        Ok(ClassroomProvider {
            remote,
            base: format!("{}/v1", cfg.classroom_url),
            admins,
            next_admin: AtomicUsize::new(0),
        })
    }

    /// Round-robin over the admins so that, with three or more, the per-client cap is the ceiling.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, ProviderError> {
        let i = self.next_admin.fetch_add(1, Ordering::Relaxed) % self.admins.len();
        let (admin, tokens) = &self.admins[i];
        let buckets = vec![
            BucketKey::of(BucketId::ClassroomClient),
            BucketKey::keyed(BucketId::ClassroomUser, admin.clone()),
        ];
        let mut call = Call::new(
            Api::Classroom,
            method,
            format!("{}{}", self.base, path),
            buckets,
        );
        call.body = body;
        self.remote.send(&call, tokens).await
    }

    async fn get_course(&self, id: &str) -> Result<Value, ProviderError> {
        Ok(self
            .send(Method::GET, &format!("/courses/{}", seg(id)), None)
            .await?
            .body)
    }

    async fn list(&self, course: &str, kind: &str) -> Result<Vec<Value>, ProviderError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/courses/{}/{kind}?pageSize=100", seg(course));
            if let Some(t) = &token {
                path.push_str(&format!("&pageToken={}", seg(t)));
            }
            let reply = self.send(Method::GET, &path, None).await?;
            let (items, next) = page(&reply.body, kind);
            out.extend(items.iter().cloned());
            token = next;
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn set_state(&self, course: &str, state: &str) -> Result<(), ProviderError> {
        let path = format!("/courses/{}?updateMask=courseState", seg(course));
        match self
            .send(Method::PATCH, &path, Some(json!({ "courseState": state })))
            .await
        {
            Ok(_) => Ok(()),
            // Some states refuse even a same-state patch: read back before calling it an error.
            Err(e) if e.is(ErrorKind::Conflict) => {
                if self.get_course(course).await?["courseState"].as_str() == Some(state) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait::async_trait]
impl Provider for ClassroomProvider {
    fn target(&self) -> Target {
        Target::Classroom
    }

    async fn find_or_create(&self, group: &Group) -> Result<Creation, ProviderError> {
        let alias = course_alias(&group.id);
        // The first teacher whose account exists owns the course (the owner must be a real user).
        for owner in &group.teachers {
            let mut body = json!({
                "id": alias,
                "name": group.name.chars().take(750).collect::<String>(),
                "ownerId": owner,
                "courseState": "ACTIVE",
            });
            if let Some(subject) = &group.subject {
                body["section"] = json!(subject.chars().take(2800).collect::<String>());
            }
            match self.send(Method::POST, "/courses", Some(body)).await {
                Ok(reply) => {
                    let id = reply.body["id"]
                        .as_str()
                        .ok_or_else(|| ProviderError::invalid("created course has no id"))?;
                    return Ok(Creation::Ready(Created {
                        remote_id: id.to_string(),
                        archived: false,
                    }));
                }
                // ALREADY_EXISTS: the alias is ours from an earlier attempt; read it by alias.
                Err(e) if already_exists(&e) => {
                    let course = self.get_course(&alias).await?;
                    let id = course["id"]
                        .as_str()
                        .ok_or_else(|| ProviderError::invalid("course has no id"))?;
                    return Ok(Creation::Ready(Created {
                        remote_id: id.to_string(),
                        archived: course["courseState"] == "ARCHIVED",
                    }));
                }
                // The owner's account does not exist yet: try the next teacher.
                Err(e) if e.is(ErrorKind::NotFound) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Creation::NeedsOwner)
    }

    async fn roster(&self, course: &str) -> Result<RemoteRoster, ProviderError> {
        let info = self.get_course(course).await?;
        let archived = info["courseState"].as_str() == Some("ARCHIVED");
        let mut members = Vec::new();
        for (kind, role) in [("teachers", Role::Teacher), ("students", Role::Learner)] {
            let listed = self.list(course, kind).await?;
            members.extend(listed.iter().filter_map(|m| member(m, role)));
        }
        Ok(RemoteRoster {
            members,
            archived,
            owner: info["ownerId"].as_str().map(str::to_string),
        })
    }

    async fn apply(
        &self,
        course: &str,
        steps: &[RosterStep],
        current: &RemoteRoster,
    ) -> Result<Applied, ProviderError> {
        if current.archived {
            return Err(ProviderError::new(
                ErrorKind::Conflict,
                "CourseArchived",
                "roster changes are never attempted on an ARCHIVED course",
            ));
        }
        let mut applied = Applied::default();
        let mut added_teachers: Vec<String> = Vec::new();
        for step in steps {
            match step {
                // An owner just kept is not asked for as a student too (one role per member).
                RosterStep::Add(Role::Learner, email) if applied.kept.contains(email) => {}
                RosterStep::Add(role, email) => {
                    let kind = if *role == Role::Teacher {
                        "teachers"
                    } else {
                        "students"
                    };
                    match self
                        .send(
                            Method::POST,
                            &format!("/courses/{}/{kind}", seg(course)),
                            Some(json!({ "userId": email })),
                        )
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if already_exists(&e) => {}
                        Err(e) if e.is(ErrorKind::NotFound) => {
                            applied.missing_accounts.push(email.clone());
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                    if *role == Role::Teacher {
                        added_teachers.push(email.clone());
                    }
                }
                RosterStep::Remove(role, email) => {
                    let Some(member) = current.find(email) else {
                        continue;
                    };
                    if *role == Role::Teacher
                        && current.owner.as_deref() == Some(member.handle.as_str())
                    {
                        // The owner cannot be removed: hand the course to a teacher who stays first.
                        let heir = added_teachers.first().cloned().or_else(|| {
                            current
                                .members
                                .iter()
                                .find(|m| {
                                    m.role == Role::Teacher
                                        && m.email != *email
                                        && !removes(steps, &m.email)
                                })
                                .map(|m| m.email.clone())
                        });
                        let Some(heir) = heir else {
                            // No teacher to hand the course to yet: the owner stays, still ours.
                            applied.kept.push(email.clone());
                            continue;
                        };
                        let path = format!("/courses/{}?updateMask=ownerId", seg(course));
                        self.send(Method::PATCH, &path, Some(json!({ "ownerId": heir })))
                            .await?;
                    }
                    let kind = if *role == Role::Teacher {
                        "teachers"
                    } else {
                        "students"
                    };
                    match self
                        .send(
                            Method::DELETE,
                            &format!("/courses/{}/{kind}/{}", seg(course), seg(&member.handle)),
                            None,
                        )
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if e.is(ErrorKind::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(applied)
    }

    async fn archive(&self, course: &str) -> Result<(), ProviderError> {
        self.set_state(course, "ARCHIVED").await
    }

    async fn unarchive(&self, course: &str) -> Result<(), ProviderError> {
        self.set_state(course, "ACTIVE").await
    }
}

/// One page of a course's `teachers` or `students` (`kind`): its items and the next page's token
/// (a blank token ends the list). Public (hidden from the docs) for the fuzz targets.
#[doc(hidden)]
pub fn page<'a>(body: &'a Value, kind: &str) -> (&'a [Value], Option<String>) {
    let items = body[kind].as_array().map_or(&[][..], Vec::as_slice);
    let token = body["nextPageToken"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    (items, token)
}

/// A teacher or student as Classroom lists them: user id and profile email (normalised); None
/// without either. Public (hidden from the docs) for the fuzz targets.
#[doc(hidden)]
pub fn member(m: &Value, role: Role) -> Option<RemoteMember> {
    let user = m["userId"].as_str()?;
    let email = m["profile"]["emailAddress"].as_str()?;
    Some(RemoteMember {
        email: normalise_email(email),
        role,
        handle: user.to_string(),
    })
}

fn removes(steps: &[RosterStep], email: &str) -> bool {
    steps
        .iter()
        .any(|s| matches!(s, RosterStep::Remove(Role::Teacher, e) if e == email))
}

/// Classroom answers a create of something that exists (a course alias, a teacher or student
/// already on the course) with 409 and status `ALREADY_EXISTS` (Classroom API errors:
/// courses.create, courses.teachers.create, courses.students.create).
fn already_exists(e: &ProviderError) -> bool {
    e.is(ErrorKind::Conflict) && e.code == "ALREADY_EXISTS"
}

/// A path segment: aliases contain `:`, which is fine in a path, but anything else unusual is encoded.
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
