//! The directory of accounts both Microsoft and Google fakes look users up in: one account per
//! address, with a GUID for Entra and a numeric id for Google (the same address, CONTRACT §4).

use std::collections::HashMap;

use crate::wire;

/// Index of a user in [`Users`]; users are never removed, so indexes stay valid.
pub(crate) type UserIdx = usize;

/// An account that exists in both Entra and Google (the same address, CONTRACT §4).
pub(crate) struct User {
    pub email: String,
    pub guid: String,
    pub google_id: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
}

/// The directory both services look users up in.
#[derive(Default)]
pub(crate) struct Users {
    list: Vec<User>,
    by_email: HashMap<String, UserIdx>,
    by_guid: HashMap<String, UserIdx>,
    by_google_id: HashMap<String, UserIdx>,
}

impl Users {
    /// Adds the account unless it exists; returns its index.
    pub fn add(&mut self, email: &str) -> UserIdx {
        let key = email.trim().to_ascii_lowercase();
        if let Some(&idx) = self.by_email.get(&key) {
            return idx;
        }
        let idx = self.list.len();
        let (given_name, family_name, display_name) = wire::names_for(email.trim());
        // Google user ids are 21-digit numbers.
        let google_id = format!("1{:020}", 4_217_000_000_000u64 + idx as u64);
        let user = User {
            email: email.trim().to_string(),
            guid: wire::guid(),
            google_id: google_id.clone(),
            given_name,
            family_name,
            display_name,
        };
        self.by_guid.insert(user.guid.clone(), idx);
        self.by_google_id.insert(google_id, idx);
        self.by_email.insert(key, idx);
        self.list.push(user);
        idx
    }

    pub fn get(&self, idx: UserIdx) -> &User {
        &self.list[idx]
    }

    pub fn by_email(&self, email: &str) -> Option<UserIdx> {
        self.by_email.get(&email.to_ascii_lowercase()).copied()
    }

    /// Graph: a user id is its GUID or its UPN (= email).
    pub fn by_entra_id(&self, id: &str) -> Option<UserIdx> {
        self.by_guid
            .get(&id.to_ascii_lowercase())
            .copied()
            .or_else(|| self.by_email(id))
    }

    /// Classroom: a user id is the numeric id or the email (`"me"` is resolved by the caller).
    pub fn by_google_id(&self, id: &str) -> Option<UserIdx> {
        self.by_google_id
            .get(id)
            .copied()
            .or_else(|| self.by_email(id))
    }

    /// Every account, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.list.iter()
    }

    pub fn email(&self, idx: UserIdx) -> String {
        self.list[idx].email.clone()
    }
}
