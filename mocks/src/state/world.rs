//! The world: the data the fakes serve, behind the one world lock. It holds what several
//! services share (the user directory, the access tokens the token endpoints issue and the APIs
//! check) and each service's own data.

use std::collections::HashMap;
use std::time::Instant;

use crate::classroom::ClassroomState;
use crate::graph::GraphState;
use crate::state::users::Users;

/// The services' data.
pub(crate) struct World {
    pub users: Users,
    /// Microsoft access token → expiry.
    pub ms_tokens: HashMap<String, Instant>,
    /// Google access token → what it was issued for.
    pub google_tokens: HashMap<String, GoogleToken>,
    pub graph: GraphState,
    pub classroom: ClassroomState,
}

/// What a Google access token stands for.
pub(crate) struct GoogleToken {
    pub subject: String,
    pub scopes: Vec<String>,
    pub expires: Instant,
}
