//! Course aliases (`d:…` domain and `p:…` project scoped): what makes one valid, and
//! `courses.aliases.list`. Aliases are created with their course and are unique.

use serde_json::json;

use crate::backend::{Auth, Incoming};
use crate::classroom::errors::Answer;
use crate::classroom::lookups::find_course;
use crate::classroom::model::Data;
use crate::classroom::paging::paged;
use crate::classroom::scopes::{COURSES, COURSES_RO, require_scope};
use crate::state::Shared;
use crate::wire;

/// `d:` (domain) or `p:` (project) followed by a name, at most 256 characters in all.
pub(super) fn valid_alias(alias: &str) -> bool {
    (alias.starts_with("d:") || alias.starts_with("p:"))
        && alias.len() > 2
        && wire::char_len(alias) <= 256
}

pub(super) fn list_aliases(
    shared: &Shared,
    w: &Data,
    req: &Incoming,
    auth: &Auth,
    id: &str,
) -> Answer {
    require_scope(auth, &[COURSES, COURSES_RO])?;
    let idx = find_course(w, id)?;
    let items = w.classroom.courses[idx]
        .aliases
        .iter()
        .map(|a| json!({"alias": a}))
        .collect();
    paged(shared, req, "aliases", items, shared.opts.page_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_need_a_scope_prefix() {
        assert!(valid_alias("d:ump-1") && valid_alias("p:x"));
        assert!(!valid_alias("ump-1") && !valid_alias("d:") && !valid_alias("x:y"));
    }
}
