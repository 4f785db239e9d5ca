//! What the sign-in side of the fake keeps in the world: the authorization codes it issued (until
//! they are long past use), how id_tokens are to be tampered with, and how many codes were
//! redeemed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::microsoft_login::id_token::Tamper;
use crate::state::users::UserIdx;
use crate::wire;

/// How long a code may be redeemed after it was issued ("about 10 minutes", Entra says).
pub(super) const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Codes older than this are forgotten (then "not valid" rather than "expired").
const CODE_FORGOTTEN_AFTER: Duration = Duration::from_secs(3600);

/// The sign-in state, one per world (`ServiceStates`).
#[derive(Default)]
pub(super) struct SignIns {
    pub codes: HashMap<String, Code>,
    pub tamper: Tamper,
    /// Codes redeemed for tokens.
    pub redeemed: u64,
}

/// An authorization code and what it was issued for.
pub(super) struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: String,
    /// BASE64URL(SHA256(code_verifier)).
    pub challenge: String,
    pub user: UserIdx,
    pub issued: Instant,
    pub redeemed: bool,
}

impl SignIns {
    /// Stores the code under a new opaque value and returns it.
    pub fn issue(&mut self, code: Code) -> String {
        let now = Instant::now();
        self.codes
            .retain(|_, c| now.duration_since(c.issued) < CODE_FORGOTTEN_AFTER);
        let value = wire::opaque_token("1.mock-code-");
        self.codes.insert(value.clone(), code);
        value
    }
}
