//! The Classroom fake's data: courses with their aliases and rosters, the course states and
//! the transitions the Course docs allow, plus the [`Data`] view a handler works on.

use std::collections::HashMap;

use crate::state::users::{UserIdx, Users};
use crate::state::world::World;
use crate::wire;

/// All courses and their aliases.
#[derive(Default)]
pub(super) struct ClassroomState {
    pub(super) courses: Vec<Course>,
    pub(super) by_id: HashMap<String, usize>,
    pub(super) by_alias: HashMap<String, usize>,
}

/// What a Classroom handler works on: the user directory and the Classroom data, borrowed from
/// the world together.
pub(super) struct Data<'a> {
    pub(super) users: &'a Users,
    pub(super) classroom: &'a mut ClassroomState,
}

impl<'a> Data<'a> {
    pub(super) fn of(world: &'a mut World) -> Data<'a> {
        Data {
            users: &world.users,
            classroom: world.services.get_mut(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum CourseState {
    Active,
    Archived,
    Provisioned,
    Declined,
    Suspended,
}

impl CourseState {
    pub(super) fn name(self) -> &'static str {
        match self {
            CourseState::Active => "ACTIVE",
            CourseState::Archived => "ARCHIVED",
            CourseState::Provisioned => "PROVISIONED",
            CourseState::Declined => "DECLINED",
            CourseState::Suspended => "SUSPENDED",
        }
    }

    /// A state a client may ask for (`COURSE_STATE_UNSPECIFIED` is never valid input).
    pub(super) fn parse(s: &str) -> Option<CourseState> {
        Some(match s {
            "ACTIVE" => CourseState::Active,
            "ARCHIVED" => CourseState::Archived,
            "PROVISIONED" => CourseState::Provisioned,
            "DECLINED" => CourseState::Declined,
            "SUSPENDED" => CourseState::Suspended,
            _ => return None,
        })
    }

    /// ARCHIVED, DECLINED and SUSPENDED courses cannot be modified except for their state.
    pub(super) fn modifiable(self) -> bool {
        matches!(self, CourseState::Active | CourseState::Provisioned)
    }

    /// The transitions the Course docs allow: ACTIVE↔ARCHIVED, PROVISIONED→ACTIVE/DECLINED,
    /// DECLINED→PROVISIONED.
    pub(super) fn may_become(self, to: CourseState) -> bool {
        use CourseState::*;
        matches!(
            (self, to),
            (Active, Archived)
                | (Archived, Active)
                | (Provisioned, Active)
                | (Provisioned, Declined)
                | (Declined, Provisioned)
        )
    }
}

pub(super) struct Course {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) section: Option<String>,
    pub(super) description_heading: Option<String>,
    pub(super) description: Option<String>,
    pub(super) room: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) levels: Option<String>,
    pub(super) owner: UserIdx,
    pub(super) state: CourseState,
    pub(super) creation_time: String,
    pub(super) update_time: String,
    pub(super) enrollment_code: String,
    /// Created the first time the course becomes ACTIVE, as Google documents.
    pub(super) calendar_id: Option<String>,
    pub(super) aliases: Vec<String>,
    pub(super) teachers: Vec<UserIdx>,
    pub(super) students: Vec<UserIdx>,
}

impl Course {
    /// A new PROVISIONED course (the `idx`th) owned by `owner`, with no text fields yet.
    pub(super) fn provisioned(idx: usize, owner: UserIdx, aliases: Vec<String>) -> Course {
        let now = wire::timestamp(false);
        Course {
            id: (700_000_000_001u64 + idx as u64).to_string(),
            name: String::new(),
            section: None,
            description_heading: None,
            description: None,
            room: None,
            subject: None,
            levels: None,
            owner,
            state: CourseState::Provisioned,
            creation_time: now.clone(),
            update_time: now,
            enrollment_code: wire::enrollment_code(),
            calendar_id: None,
            aliases,
            teachers: vec![owner],
            students: Vec::new(),
        }
    }

    pub(super) fn set_state(&mut self, state: CourseState) {
        self.state = state;
        if state == CourseState::Active && self.calendar_id.is_none() {
            self.calendar_id = Some(format!("classroom{}@group.calendar.google.com", self.id));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Teacher,
    Student,
}

impl Role {
    pub(super) fn list_key(self) -> &'static str {
        match self {
            Role::Teacher => "teachers",
            Role::Student => "students",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_rules_follow_the_course_docs() {
        use CourseState::*;
        assert!(Active.may_become(Archived) && Archived.may_become(Active));
        assert!(
            Provisioned.may_become(Active)
                && Provisioned.may_become(Declined)
                && Declined.may_become(Provisioned)
        );
        assert!(
            !Provisioned.may_become(Archived)
                && !Archived.may_become(Provisioned)
                && !Suspended.may_become(Active)
        );
    }
}
