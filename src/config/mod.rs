//! The configuration file (CONTRACT §6): parsed once, validated, and handed to the rest as typed
//! values. This module holds the typed sections and the [`Config`] API. Inside: `raw` is the file
//! as written, every checked value kept with its span; `sections` turns each section into its typed
//! form, with the checks of `table`; `error` is [`ConfigError`] and places a span on its line;
//! `tokens` reads the API's token files when `serve` starts.
//!
//! Every problem names the file, the line and the key: the line of that very value (a key's value
//! starts on the key's line), of the list item at fault, or of the table that lacks a required key,
//! even where the same key name appears in several tables or `[[years]]` entries. Secrets are held
//! in `SecretString` from the moment they are read so that no `Debug`, log line or error shows them.

mod error;
pub mod file_mode;
mod raw;
mod sections;
mod table;
mod tokens;

pub use error::ConfigError;
pub use tokens::{ApiTokens, MIN_TOKEN_CHARS};

use crate::core::calendar::{AcademicYear, YearCalendar};
use crate::core::domain::Target;
use chrono::NaiveTime;
use error::Source;
use raw::RawConfig;
use secrecy::SecretString;
use std::path::{Path, PathBuf};

/// The whole configuration, validated. Its `Debug` shows `database_url` [`redacted`]: a panic or
/// log line that prints a config never shows the database's password.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub microsoft: Option<MicrosoftConfig>,
    pub google: Option<GoogleConfig>,
    pub worker: WorkerConfig,
    pub import: ImportConfig,
    pub api: ApiConfig,
    pub schedule: ScheduleConfig,
    pub years: Vec<YearCalendar>,
    /// The web console; None: `serve` serves the API alone.
    pub console: Option<ConsoleConfig>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured without `..`: a new field must be added here, or this does not compile.
        let Config {
            database_url,
            microsoft,
            google,
            worker,
            import,
            api,
            schedule,
            years,
            console,
        } = self;
        f.debug_struct("Config")
            .field("database_url", &redacted(database_url))
            .field("microsoft", microsoft)
            .field("google", google)
            .field("worker", worker)
            .field("import", import)
            .field("api", api)
            .field("schedule", schedule)
            .field("years", years)
            .field("console", console)
            .finish()
    }
}

/// `url` fit for messages and logs: its password (in the user part or a `password=` parameter)
/// replaced by `***`. Text that is not a URL is not repeated at all: it might be all secret.
pub fn redacted(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(a database_url that is not a URL)".into();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `[console]`: sign-in with the school's Microsoft account (OpenID Connect at `[microsoft]`'s
/// `login_url` and tenant) and who the operators are.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The sign-in app registration (not Graph's).
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where browsers reach `serve`, without a trailing `/`: the redirect URI is
    /// `{public_url}/auth/callback`, and cookies are `Secure` when it is https.
    pub public_url: String,
    /// Normalised emails of the people who may see and do everything.
    pub operators: Vec<String>,
    pub session_hours: u32,
}

#[derive(Debug, Clone)]
pub struct MicrosoftConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub login_url: String,
    pub graph_url: String,
    /// Seconds between polls of a Graph async operation (fractions allowed, for tests and the demo).
    pub operation_poll_seconds: f64,
    /// Give up waiting for one operation after this many seconds; the job is retried.
    pub operation_timeout_seconds: f64,
    /// Seconds between the documented teamify retries on a young group's 404 (Graph docs: 10).
    pub teamify_retry_seconds: f64,
    pub limits: MicrosoftLimits,
}

/// Requests per second per documented Graph bucket (graph-teams-api.md §6).
#[derive(Debug, Clone, Copy)]
pub struct MicrosoftLimits {
    pub teams_create: f64,
    pub teams_write: f64,
    pub teams_read: f64,
    pub per_team: f64,
    pub education: f64,
    /// `POST /teams/{id}/members` (adding an owner) on one team, per *minute* (documented 4 rpm).
    pub team_member_adds_per_minute: f64,
}

impl Default for MicrosoftLimits {
    fn default() -> Self {
        MicrosoftLimits {
            teams_create: 10.0,
            teams_write: 30.0,
            teams_read: 30.0,
            per_team: 4.0,
            education: 3500.0,
            team_member_adds_per_minute: 4.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub service_account_key_file: PathBuf,
    pub admin_emails: Vec<String>,
    pub classroom_url: String,
    pub limits: GoogleLimits,
}

/// Requests per minute (classroom-api.md §5).
#[derive(Debug, Clone, Copy)]
pub struct GoogleLimits {
    pub per_client: f64,
    pub per_user: f64,
}

impl Default for GoogleLimits {
    fn default() -> Self {
        GoogleLimits {
            per_client: 3000.0,
            per_user: 1200.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Attempts per job before it fails.
    pub max_attempts: u32,
    /// How long a claimed job stays leased without a heartbeat before another worker may take it.
    pub lease_seconds: u64,
    /// Total deadline for one HTTP request.
    pub request_timeout_seconds: f64,
    /// Tries of one remote call (throttling and transient faults) before the job itself is retried.
    pub call_attempts: u32,
    /// First retry delay of a job; doubles per attempt, with jitter (see `retry`).
    pub retry_initial_seconds: f64,
    /// Longest delay between two tries.
    pub retry_max_seconds: f64,
    /// On shutdown, how long running jobs may take to finish before they are handed back to the queue.
    pub shutdown_grace_seconds: f64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 64,
            max_attempts: 10,
            lease_seconds: 30,
            request_timeout_seconds: 60.0,
            call_attempts: 6,
            retry_initial_seconds: 0.5,
            retry_max_seconds: 60.0,
            shutdown_grace_seconds: 20.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportConfig {
    pub default_targets: Vec<Target>,
    /// A school with no import for this many days is flagged stale (the provisioning client
    /// should run weekly).
    pub stale_after_days: u32,
}

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub listen: String,
    pub ump_token_file: Option<PathBuf>,
    pub operator_token_file: Option<PathBuf>,
    /// Largest request body accepted (a group with a few thousand learners fits easily).
    pub max_body_bytes: usize,
    /// The config file and the lines of the token keys, so a bad token file is reported as
    /// `FILE:LINE: key: reason` when `serve` reads it.
    pub origin: KeyOrigin,
}

/// Where the `[api]` token keys were written.
#[derive(Debug, Clone, Default)]
pub struct KeyOrigin {
    pub file: String,
    pub ump_token_line: Option<usize>,
    pub operator_token_line: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// Local (Europe/London) time of the nightly job.
    pub nightly_at: NaiveTime,
}

impl Config {
    /// The built-in defaults (CONTRACT §5): SQLite at `./class-sync.db`, no providers, no years.
    pub fn builtin() -> Config {
        Config::from_toml("", "(built-in defaults)", Path::new("."))
            .expect("the empty config is valid")
    }

    /// Reads `path`; a missing file is an error naming it.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            key: "(file)".into(),
            reason: format!("cannot read: {e}"),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Config::from_toml(&text, &file, base)
    }

    /// Parses and validates TOML text; relative paths inside are taken from `base`.
    pub fn from_toml(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let src = Source { file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| src.syntax(&e))?;
        sections::config(raw, src, base)
    }

    /// The calendar of one academic year, if configured.
    pub fn year(&self, name: &str) -> Option<&YearCalendar> {
        let year: AcademicYear = name.parse().ok()?;
        self.years.iter().find(|y| y.year == year)
    }

    pub fn year_names(&self) -> Vec<String> {
        self.years.iter().map(|y| y.year.to_string()).collect()
    }

    /// Targets that have a provider configured.
    pub fn enabled_targets(&self) -> Vec<Target> {
        let mut t = Vec::new();
        if self.microsoft.is_some() {
            t.push(Target::Teams);
        }
        if self.google.is_some() {
            t.push(Target::Classroom);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test.toml", Path::new("/etc/class-sync"))
    }

    /// Asserts that `text` is refused naming `key` at `line`, with `fragment` in the reason.
    #[track_caller]
    pub(super) fn check(text: &str, key: &str, line: usize, fragment: &str) -> ConfigError {
        let e = match parse(text) {
            Ok(_) => panic!("expected `{key}` at line {line} to be refused in:\n{text}"),
            Err(e) => e,
        };
        assert_eq!(
            (e.key.as_str(), e.line),
            (key, Some(line)),
            "{e}\nin:\n{text}"
        );
        assert!(e.reason.contains(fragment), "{e:?} lacks {fragment:?}");
        e
    }

    #[test]
    fn defaults_without_a_file() {
        let c = Config::builtin();
        assert_eq!(c.database_url, "sqlite://class-sync.db");
        assert!(c.microsoft.is_none() && c.google.is_none());
        assert_eq!(c.worker.concurrency, 64);
        assert_eq!(c.import.default_targets, vec![Target::Teams]);
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../../config.example.toml");
        let c = parse(text).expect("config.example.toml must parse");
        assert_eq!(c.microsoft.unwrap().limits.teams_write, 30.0);
        assert_eq!(
            c.google.unwrap().service_account_key_file,
            Path::new("/etc/class-sync/sa.json")
        );
        assert!(!c.years.is_empty());
        let console = c.console.expect("[console]");
        assert_eq!(
            console.operators,
            vec!["servicedesk@hwbcymru.net".to_string()]
        );
        assert_eq!(console.session_hours, 8);
        assert!(console.public_url.starts_with("https://"));
    }

    #[test]
    fn a_console_needs_microsoft_and_names_its_problems() {
        let ms = "[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
        let e = parse("[console]\nclient_id = \"c\"\nclient_secret = \"s\"\n").unwrap_err();
        assert_eq!(e.key, "console");
        assert!(e.reason.contains("[microsoft]"), "{}", e.reason);
        let e = parse(&format!(
            "{ms}[console]\nclient_id = \"c\"\nclient_secret = \"s\"\noperators = [\"nobody\"]\n"
        ))
        .unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("console.operators", Some(8)));
        let e = parse(&format!(
            "{ms}[console]\nclient_id = \"c\"\nclient_secret = \"s\"\npublic_url = \"ftp://x\"\n"
        ))
        .unwrap_err();
        assert_eq!(e.key, "console.public_url");
        let e = parse(&format!("{ms}[console]\nclient_id = \"c\"\n")).unwrap_err();
        assert_eq!(e.key, "console.client_secret");
        let c = parse(&format!("{ms}[api]\nlisten = \"127.0.0.1:9000\"\n[console]\nclient_id = \"c\"\nclient_secret = \"hunter2-very-secret\"\noperators = [\"Desk@Hwbcymru.net\"]\n")).unwrap();
        let console = c.console.clone().unwrap();
        assert_eq!(console.public_url, "http://127.0.0.1:9000");
        assert_eq!(console.operators, vec!["desk@hwbcymru.net".to_string()]);
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = parse("[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"hunter2-very-secret\"\n").unwrap();
        let m = c.microsoft.clone().unwrap();
        assert_eq!(m.client_secret.expose_secret(), "hunter2-very-secret");
        assert!(!format!("{c:?}").contains("hunter2"));
        // What a panic or an `{:?}` in a log would print: nothing of the database's password.
        let c = parse(
            "database_url = \"postgres://sync:pg-pass-w0rd@db:5432/sync?password=pg-pass-w0rd\"\n",
        )
        .unwrap();
        assert!(c.database_url.contains("pg-pass-w0rd"));
        for shown in [format!("{c:?}"), format!("{c:#?}")] {
            assert!(!shown.contains("pg-pass-w0rd"), "{shown}");
            assert!(
                shown.contains("postgres://sync:***@db:5432/sync"),
                "{shown}"
            );
        }
    }
}
