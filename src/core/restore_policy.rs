//! Who may press Restore (CONTRACT §3), as a pure decision over our own data.
//!
//! Architecture Invariant: the decision uses the school's `admins` list and the group's teachers as
//! class-sync holds them — never a role the caller claims.

/// Why a restore was allowed, for the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreGrant {
    SchoolAdmin,
    ClassTeacher,
}

impl RestoreGrant {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreGrant::SchoolAdmin => "school admin",
            RestoreGrant::ClassTeacher => "class teacher",
        }
    }
}

/// The facts the rule needs about one group.
pub struct RestoreSubject<'a> {
    pub school_admins: &'a [String],
    pub group_teachers: &'a [String],
}

/// Allowed: an administrator of the group's school, or a teacher of the group. Everyone else is refused
/// with a reason that can be shown to them.
pub fn decide(actor: &str, subject: &RestoreSubject<'_>) -> Result<RestoreGrant, String> {
    let actor = crate::core::domain::normalise_email(actor);
    let is = |list: &[String]| {
        list.iter()
            .any(|e| crate::core::domain::normalise_email(e) == actor)
    };
    if actor.is_empty() {
        return Err("the restore request names no person".into());
    }
    if is(subject.school_admins) {
        Ok(RestoreGrant::SchoolAdmin)
    } else if is(subject.group_teachers) {
        Ok(RestoreGrant::ClassTeacher)
    } else {
        Err(format!(
            "{actor} is neither an administrator of the group's school nor a teacher of the group"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> (Vec<String>, Vec<String>) {
        (
            vec!["admin@school-a.net".into()],
            vec!["teacher@school-a.net".into()],
        )
    }

    #[test]
    fn permission_matrix() {
        let (admins, teachers) = subject();
        let s = RestoreSubject {
            school_admins: &admins,
            group_teachers: &teachers,
        };
        assert_eq!(
            decide("admin@school-a.net", &s),
            Ok(RestoreGrant::SchoolAdmin)
        );
        assert_eq!(
            decide("ADMIN@School-A.net", &s),
            Ok(RestoreGrant::SchoolAdmin)
        );
        assert_eq!(
            decide("teacher@school-a.net", &s),
            Ok(RestoreGrant::ClassTeacher)
        );
        for refused in [
            "other.teacher@school-a.net",
            "learner@school-a.net",
            "admin@school-b.net",
            "",
            "  ",
        ] {
            assert!(decide(refused, &s).is_err(), "{refused:?} must be refused");
        }
    }
}
