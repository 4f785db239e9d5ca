//! The file as written, before any check but toml's own: unknown keys, wrong types and missing
//! required keys are refused here, by serde, at the line toml gives. Every value that a later check
//! may refuse is kept [`Spanned`], so that its problem names the line of that very key (a key name
//! may appear in several tables, or in each `[[years]]` entry).
//!
//! Field order is the order toml lists them in "expected one of …" for an unknown key.

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _, Unexpected};
use std::path::PathBuf;
use toml::Spanned;

/// A list whose items are each located too (a bad item names its own line).
pub(super) type SpannedList = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) database_url: Option<Spanned<String>>,
    pub(super) microsoft: Option<Spanned<RawMicrosoft>>,
    pub(super) google: Option<RawGoogle>,
    #[serde(default)]
    pub(super) worker: RawWorker,
    #[serde(default)]
    pub(super) import: RawImport,
    #[serde(default)]
    pub(super) api: RawApi,
    #[serde(default)]
    pub(super) schedule: RawSchedule,
    #[serde(default)]
    pub(super) years: Vec<Spanned<RawYear>>,
    pub(super) console: Option<Spanned<RawConsole>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMicrosoft {
    pub(super) tenant_id: Spanned<String>,
    pub(super) client_id: Spanned<String>,
    pub(super) client_secret: Option<Spanned<RawSecret>>,
    pub(super) client_secret_file: Option<Spanned<PathBuf>>,
    pub(super) login_url: Option<Spanned<String>>,
    pub(super) graph_url: Option<Spanned<String>>,
    pub(super) operation_poll_seconds: Option<Spanned<f64>>,
    pub(super) operation_timeout_seconds: Option<Spanned<f64>>,
    pub(super) teamify_retry_seconds: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) limits: RawMicrosoftLimits,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMicrosoftLimits {
    pub(super) teams_create: Option<Spanned<f64>>,
    pub(super) teams_write: Option<Spanned<f64>>,
    pub(super) teams_read: Option<Spanned<f64>>,
    pub(super) per_team: Option<Spanned<f64>>,
    pub(super) education: Option<Spanned<f64>>,
    pub(super) team_member_adds_per_minute: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGoogle {
    pub(super) service_account_key_file: PathBuf,
    pub(super) admin_emails: SpannedList,
    pub(super) classroom_url: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) limits: RawGoogleLimits,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGoogleLimits {
    pub(super) per_client: Option<Spanned<f64>>,
    pub(super) per_user: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorker {
    pub(super) concurrency: Option<Spanned<usize>>,
    pub(super) max_attempts: Option<Spanned<u32>>,
    pub(super) lease_seconds: Option<Spanned<u64>>,
    pub(super) request_timeout_seconds: Option<Spanned<f64>>,
    pub(super) call_attempts: Option<Spanned<u32>>,
    pub(super) retry_initial_seconds: Option<Spanned<f64>>,
    pub(super) retry_max_seconds: Option<Spanned<f64>>,
    pub(super) shutdown_grace_seconds: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImport {
    pub(super) default_targets: Option<SpannedList>,
    pub(super) stale_after_days: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) ump_token_file: Option<Spanned<PathBuf>>,
    pub(super) operator_token_file: Option<Spanned<PathBuf>>,
    pub(super) max_body_bytes: Option<Spanned<usize>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) nightly_at: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    pub(super) client_id: Spanned<String>,
    pub(super) client_secret: Option<Spanned<RawSecret>>,
    pub(super) client_secret_file: Option<Spanned<PathBuf>>,
    pub(super) public_url: Option<Spanned<String>>,
    pub(super) operators: Option<SpannedList>,
    pub(super) session_hours: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawYear {
    pub(super) name: Spanned<String>,
    pub(super) new_groups_from: Spanned<String>,
    pub(super) mis_sync_cutoff: Spanned<String>,
    pub(super) archive_on: Spanned<String>,
}

/// A secret as written. Only a string is accepted, and a value of another type is named by its
/// type alone: serde's own message would quote it (``invalid type: integer `1234…` ``).
pub(super) struct RawSecret(pub(super) SecretString);

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(s) => Ok(RawSecret(SecretString::from(s))),
            other => Err(D::Error::invalid_type(
                Unexpected::Other(other.type_str()),
                &"a string",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{check, parse};

    #[test]
    fn unknown_keys_name_the_line() {
        let e = parse("database_url = \"sqlite://x.db\"\n[worker]\nconcurency = 3\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("concurency"), "{e}");
    }

    const TWO_YEARS: &str = "\
[[years]]
name = \"2025-26\"
new_groups_from = \"2025-08-28\"
mis_sync_cutoff = \"2026-06-01\"
archive_on = \"2026-09-01\"

[[years]]
name = \"2026-27\"
new_groups_from = \"2026-08-27\"
mis_sync_cutoff = \"2027-06-01\"
archive_on = \"2027-09-01\"
";

    #[test]
    fn toml_places_unknown_keys_wrong_types_and_missing_keys() {
        #[rustfmt::skip]
        let cases: &[(String, usize, &str)] = &[
            // (text, line, part of the reason); the key is always `(syntax)`
            (TWO_YEARS.replace("archive_on = \"2027", "archive_at = \"2027"), 11, "unknown field `archive_at`"),
            (TWO_YEARS.replace("archive_on = \"2027-09-01\"", "archive_on = 2027-09-01"), 11, "expected a string"),
            (TWO_YEARS.replace("archive_on = \"2027-09-01\"\n", ""), 7, "missing field `archive_on`"),
            ("[google]\nservice_account_key_file = \"sa.json\"\n\n[google.limits]\nper_minute = 3\n".into(), 5, "unknown field `per_minute`"),
            ("[worker]\nconcurrency = \"3\"\n".into(), 2, "invalid type: string \"3\", expected usize"),
            ("[worker]\nconcurrency = -3\n".into(), 2, "expected usize"),
            ("\n[google]\nadmin_emails = [\"a@hwbcymru.net\"]\n".into(), 2, "missing field `service_account_key_file`"),
            ("[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_id = \"d\"\n".into(), 4, "duplicate key"),
            ("[api]\nlisten = 127.0.0.1:8080\n".into(), 2, ""),
        ];
        for (text, line, fragment) in cases {
            check(text, "(syntax)", *line, fragment);
        }
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_named_by_its_type_only() {
        let microsoft = "[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\n";
        for (secret, fragment) in [
            (
                "31415926535897932",
                "invalid type: integer, expected a string",
            ),
            ("3.14159265358979", "invalid type: float, expected a string"),
            (
                "[\"hunter2-secret\"]",
                "invalid type: array, expected a string",
            ),
            (
                "{ value = \"hunter2-secret\" }",
                "invalid type: table, expected a string",
            ),
            ("hunter2-secret", ""),
        ] {
            let text = format!("{microsoft}client_secret = {secret}\n");
            let e = check(&text, "(syntax)", 4, fragment);
            let shown = format!("{e} {e:?}");
            for part in ["31415", "3.1415", "hunter2"] {
                assert!(!shown.contains(part), "{shown}");
            }
        }
        let e = parse(&format!("{microsoft}client_secrte = \"hunter2-secret\"\n")).unwrap_err();
        assert!(e.reason.contains("unknown field `client_secrte`"), "{e}");
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
    }
}
