//! Finding what a request names: a course by id or alias, a user by id, email or `"me"`. One
//! place, so every method resolves ids (and answers NOT_FOUND) the same way.

use crate::backend::Auth;
use crate::classroom::errors::not_found;
use crate::classroom::model::Data;
use crate::state::users::{UserIdx, Users};
use crate::wire::Refusal;

/// A course by numeric id or alias (`d:…`, `p:…`).
pub(super) fn find_course(w: &Data, id: &str) -> Result<usize, Refusal> {
    let found = if id.starts_with("d:") || id.starts_with("p:") {
        w.classroom.by_alias.get(id)
    } else {
        w.classroom.by_id.get(id)
    };
    found.copied().ok_or_else(not_found)
}

/// A user by numeric id, email or `"me"` (the impersonated admin).
pub(super) fn find_user(users: &Users, auth: &Auth, id: &str) -> Option<UserIdx> {
    if id == "me" {
        return auth.user.as_deref().and_then(|me| users.by_email(me));
    }
    users.by_google_id(id)
}
