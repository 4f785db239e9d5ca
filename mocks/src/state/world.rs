//! The world: the data the fakes serve, behind the one world lock. It holds what several
//! services share (the user directory, the access tokens the token endpoints issue and the APIs
//! check) and each service's own data, held by type so that the world, and everything below
//! the fakes, never names a service.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::time::Instant;

use crate::state::users::Users;

/// The services' data.
pub(crate) struct World {
    pub users: Users,
    /// Microsoft access token → expiry.
    pub ms_tokens: HashMap<String, Instant>,
    /// Google access token → what it was issued for.
    pub google_tokens: HashMap<String, GoogleToken>,
    /// Each service's own data (Graph's classes and teams, Classroom's courses).
    pub services: ServiceStates,
}

/// What a Google access token stands for.
pub(crate) struct GoogleToken {
    pub subject: String,
    pub scopes: Vec<String>,
    pub expires: Instant,
}

/// Each service's own data, keyed by its type. The service modules own those types and reach
/// their data with [`ServiceStates::get_mut`]; the world never names them, so it sits below the
/// services in the module graph.
#[derive(Default)]
pub(crate) struct ServiceStates(HashMap<TypeId, Box<dyn Any + Send>>);

impl ServiceStates {
    /// The data of type `T`, created empty (`T::default()`) the first time it is asked for.
    pub fn get_mut<T: Any + Send + Default>(&mut self) -> &mut T {
        self.0
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut()
            .expect("each entry is keyed by its own type")
    }
}
