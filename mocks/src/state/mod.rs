//! State shared by the four fakes and the facade: the options, the fakes' base URLs, the world
//! (behind its lock), the fault queue, the call log and the throttle. Each part guards itself;
//! see the lock-order invariant in the crate docs. Nothing here knows a request or a service's
//! routes: the pipeline and the fakes sit above it.

pub(crate) mod calls;
pub(crate) mod faults;
pub(crate) mod throttle;
pub(crate) mod users;
pub(crate) mod world;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::options::MockOptions;
use crate::state::calls::CallLog;
use crate::state::faults::Faults;
use crate::state::throttle::Throttle;
use crate::state::users::Users;
use crate::state::world::{ServiceStates, World};

/// Base URLs of the running fakes.
pub(crate) struct Urls {
    pub login: String,
    pub graph: String,
    pub google_token: String,
    pub classroom: String,
}

/// Everything the fakes share. See the lock-order invariant in the crate docs.
pub(crate) struct Shared {
    pub opts: MockOptions,
    pub urls: Urls,
    world: Mutex<World>,
    pub faults: Faults,
    pub calls: CallLog,
    pub throttle: Throttle,
}

impl Shared {
    pub fn new(opts: MockOptions, urls: Urls) -> Shared {
        let mut users = Users::default();
        for admin in &opts.admin_emails {
            users.add(admin);
        }
        let world = World {
            users,
            ms_tokens: HashMap::new(),
            google_tokens: HashMap::new(),
            services: ServiceStates::default(),
        };
        Shared {
            opts,
            urls,
            world: Mutex::new(world),
            faults: Faults::default(),
            calls: CallLog::default(),
            throttle: Throttle::default(),
        }
    }

    /// The world lock. A panic elsewhere must not take the mocks down with it, so poisoning is
    /// ignored (handlers leave the state consistent before anything that could panic).
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}
