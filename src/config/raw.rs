//! The file as written, before any check but toml's own: unknown keys, wrong types and missing
//! required keys are refused here, by serde, with the line toml gives.

use super::{GoogleLimits, MicrosoftLimits, WorkerConfig};
use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) database_url: Option<String>,
    pub(super) microsoft: Option<RawMicrosoft>,
    pub(super) google: Option<RawGoogle>,
    #[serde(default)]
    pub(super) worker: WorkerConfig,
    #[serde(default)]
    pub(super) import: RawImport,
    #[serde(default)]
    pub(super) api: RawApi,
    #[serde(default)]
    pub(super) schedule: RawSchedule,
    #[serde(default)]
    pub(super) years: Vec<RawYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMicrosoft {
    pub(super) tenant_id: String,
    pub(super) client_id: String,
    pub(super) client_secret: Option<SecretString>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) login_url: Option<String>,
    pub(super) graph_url: Option<String>,
    pub(super) operation_poll_seconds: Option<f64>,
    pub(super) operation_timeout_seconds: Option<f64>,
    pub(super) teamify_retry_seconds: Option<f64>,
    #[serde(default)]
    pub(super) limits: MicrosoftLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGoogle {
    pub(super) service_account_key_file: PathBuf,
    pub(super) admin_emails: Vec<String>,
    pub(super) classroom_url: Option<String>,
    #[serde(default)]
    pub(super) limits: GoogleLimits,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImport {
    pub(super) default_targets: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    pub(super) listen: Option<String>,
    pub(super) ump_token_file: Option<PathBuf>,
    pub(super) operator_token_file: Option<PathBuf>,
    pub(super) max_body_bytes: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) nightly_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawYear {
    pub(super) name: String,
    pub(super) new_groups_from: String,
    pub(super) mis_sync_cutoff: String,
    pub(super) archive_on: String,
}

#[cfg(test)]
mod tests {
    use crate::config::tests::parse;

    #[test]
    fn unknown_keys_name_the_line() {
        let e = parse("database_url = \"sqlite://x.db\"\n[worker]\nconcurency = 3\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("concurency"), "{e}");
    }
}
