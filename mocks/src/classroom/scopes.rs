//! The OAuth scopes Classroom methods accept, and the 403 a token without them gets.

use crate::backend::Auth;
use crate::classroom::errors::error_with;
use crate::wire::Refusal;

pub(super) const COURSES: &str = "https://www.googleapis.com/auth/classroom.courses";
pub(super) const COURSES_RO: &str = "https://www.googleapis.com/auth/classroom.courses.readonly";
pub(super) const ROSTERS: &str = "https://www.googleapis.com/auth/classroom.rosters";
pub(super) const ROSTERS_RO: &str = "https://www.googleapis.com/auth/classroom.rosters.readonly";
pub(super) const PROFILE_EMAILS: &str = "https://www.googleapis.com/auth/classroom.profile.emails";

/// 403 unless the token carries one of `scopes`.
pub(super) fn require_scope(auth: &Auth, scopes: &[&str]) -> Result<(), Refusal> {
    if auth.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
        Ok(())
    } else {
        Err(error_with(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
        ))
    }
}
