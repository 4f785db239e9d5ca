//! The configuration file (CONTRACT §6): parsed once, validated, and handed to the rest as typed values.
//!
//! Every problem names the file, the line where toml can tell it, and the key. Secrets are held in
//! `SecretString` from the moment they are read so that no `Debug` or log line can show them.

use crate::core::calendar::{AcademicYear, YearCalendar};
use crate::core::domain::{Target, normalise_email};
use chrono::{NaiveDate, NaiveTime};
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A configuration problem: where it is and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {key}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub reason: String,
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub microsoft: Option<MicrosoftConfig>,
    pub google: Option<GoogleConfig>,
    pub worker: WorkerConfig,
    pub import: ImportConfig,
    pub api: ApiConfig,
    pub schedule: ScheduleConfig,
    pub years: Vec<YearCalendar>,
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
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
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

/// The bearer tokens of `serve`: the portal's (restore, push groups, read) and the operator's (everything).
#[derive(Clone)]
pub struct ApiTokens {
    pub ump: SecretString,
    pub operator: SecretString,
}

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiTokens([REDACTED])")
    }
}

/// A bearer token shorter than this is refused: it could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

impl ApiConfig {
    /// Reads both token files. `serve` never runs without them: a missing key, an unreadable or
    /// short file, or the same token twice is an error naming the file, line and key.
    pub fn read_tokens(&self) -> Result<ApiTokens, ConfigError> {
        use secrecy::ExposeSecret;
        let o = &self.origin;
        let err = |key: &str, line: Option<usize>, reason: String| ConfigError {
            file: o.file.clone(),
            line,
            key: key.into(),
            reason,
        };
        let read = |key: &str, line: Option<usize>, path: &Option<PathBuf>| {
            let path = path.as_ref().ok_or_else(|| {
                err(
                    key,
                    line,
                    "missing: `serve` needs both token files and never runs without them".into(),
                )
            })?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| err(key, line, format!("cannot read {}: {e}", path.display())))?;
            let token = text.trim();
            if token.chars().count() < MIN_TOKEN_CHARS {
                return Err(err(
                    key,
                    line,
                    format!(
                        "{} holds no token of at least {MIN_TOKEN_CHARS} characters",
                        path.display()
                    ),
                ));
            }
            Ok(SecretString::from(token.to_string()))
        };
        let ump = read("api.ump_token_file", o.ump_token_line, &self.ump_token_file)?;
        let operator = read(
            "api.operator_token_file",
            o.operator_token_line,
            &self.operator_token_file,
        )?;
        if ump.expose_secret() == operator.expose_secret() {
            return Err(err(
                "api.operator_token_file",
                o.operator_token_line,
                "the operator's token must differ from the portal's".into(),
            ));
        }
        Ok(ApiTokens { ump, operator })
    }
}

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// Local (Europe/London) time of the nightly job.
    pub nightly_at: NaiveTime,
}

// ---- raw, as written in the file ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database_url: Option<String>,
    microsoft: Option<RawMicrosoft>,
    google: Option<RawGoogle>,
    #[serde(default)]
    worker: WorkerConfig,
    #[serde(default)]
    import: RawImport,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    schedule: RawSchedule,
    #[serde(default)]
    years: Vec<RawYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMicrosoft {
    tenant_id: String,
    client_id: String,
    client_secret: Option<SecretString>,
    client_secret_file: Option<PathBuf>,
    login_url: Option<String>,
    graph_url: Option<String>,
    operation_poll_seconds: Option<f64>,
    operation_timeout_seconds: Option<f64>,
    teamify_retry_seconds: Option<f64>,
    #[serde(default)]
    limits: MicrosoftLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGoogle {
    service_account_key_file: PathBuf,
    admin_emails: Vec<String>,
    classroom_url: Option<String>,
    #[serde(default)]
    limits: GoogleLimits,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawImport {
    default_targets: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: Option<String>,
    ump_token_file: Option<PathBuf>,
    operator_token_file: Option<PathBuf>,
    max_body_bytes: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    nightly_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    name: String,
    new_groups_from: String,
    mis_sync_cutoff: String,
    archive_on: String,
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
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            ConfigError {
                file: file.into(),
                line,
                key: "(syntax)".into(),
                reason: e.message().to_string(),
            }
        })?;
        let err = |key: &str, reason: String| ConfigError {
            file: file.into(),
            line: find_line(text, key),
            key: key.into(),
            reason,
        };
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };

        let database_url = raw
            .database_url
            .unwrap_or_else(|| "sqlite://class-sync.db".into());
        if !database_url.starts_with("sqlite:") {
            return Err(err(
                "database_url",
                format!(
                    "`{database_url}` is not supported yet: only sqlite:// URLs (PostgreSQL is planned)"
                ),
            ));
        }

        let microsoft = match raw.microsoft {
            None => None,
            Some(m) => {
                let client_secret = match (m.client_secret, m.client_secret_file) {
                    (Some(s), None) => s,
                    (None, Some(f)) => {
                        let f = resolve(f);
                        let s = std::fs::read_to_string(&f).map_err(|e| {
                            err(
                                "microsoft.client_secret_file",
                                format!("cannot read {}: {e}", f.display()),
                            )
                        })?;
                        SecretString::from(s.trim().to_string())
                    }
                    (Some(_), Some(_)) => {
                        return Err(err(
                            "microsoft.client_secret",
                            "give client_secret or client_secret_file, not both".into(),
                        ));
                    }
                    (None, None) => {
                        return Err(err(
                            "microsoft.client_secret",
                            "missing: give client_secret or client_secret_file".into(),
                        ));
                    }
                };
                for (key, v) in [
                    ("microsoft.tenant_id", &m.tenant_id),
                    ("microsoft.client_id", &m.client_id),
                ] {
                    if v.trim().is_empty() {
                        return Err(err(key, "must not be empty".into()));
                    }
                }
                let login_url = check_url(
                    m.login_url
                        .unwrap_or_else(|| "https://login.microsoftonline.com".into()),
                )
                .map_err(|r| err("microsoft.login_url", r))?;
                let graph_url = check_url(
                    m.graph_url
                        .unwrap_or_else(|| "https://graph.microsoft.com/v1.0".into()),
                )
                .map_err(|r| err("microsoft.graph_url", r))?;
                let l = m.limits;
                for (key, v) in [
                    ("microsoft.limits.teams_create", l.teams_create),
                    ("microsoft.limits.teams_write", l.teams_write),
                    ("microsoft.limits.teams_read", l.teams_read),
                    ("microsoft.limits.per_team", l.per_team),
                    ("microsoft.limits.education", l.education),
                    (
                        "microsoft.limits.team_member_adds_per_minute",
                        l.team_member_adds_per_minute,
                    ),
                ] {
                    positive(v).map_err(|r| err(key, r))?;
                }
                let poll = m.operation_poll_seconds.unwrap_or(30.0);
                positive(poll).map_err(|r| err("microsoft.operation_poll_seconds", r))?;
                let timeout = m.operation_timeout_seconds.unwrap_or(1800.0);
                positive(timeout).map_err(|r| err("microsoft.operation_timeout_seconds", r))?;
                let teamify = m.teamify_retry_seconds.unwrap_or(10.0);
                non_negative(teamify).map_err(|r| err("microsoft.teamify_retry_seconds", r))?;
                Some(MicrosoftConfig {
                    tenant_id: m.tenant_id,
                    client_id: m.client_id,
                    client_secret,
                    login_url,
                    graph_url,
                    operation_poll_seconds: poll,
                    operation_timeout_seconds: timeout,
                    teamify_retry_seconds: teamify,
                    limits: l,
                })
            }
        };

        let google = match raw.google {
            None => None,
            Some(g) => {
                if g.admin_emails.is_empty() {
                    return Err(err(
                        "google.admin_emails",
                        "list at least one admin account to impersonate".into(),
                    ));
                }
                let mut admins = Vec::new();
                for a in &g.admin_emails {
                    if !a.contains('@') || a.trim().contains(char::is_whitespace) {
                        return Err(err(
                            "google.admin_emails",
                            format!("`{a}` is not an email address"),
                        ));
                    }
                    admins.push(normalise_email(a));
                }
                let classroom_url = check_url(
                    g.classroom_url
                        .unwrap_or_else(|| "https://classroom.googleapis.com".into()),
                )
                .map_err(|r| err("google.classroom_url", r))?;
                positive(g.limits.per_client).map_err(|r| err("google.limits.per_client", r))?;
                positive(g.limits.per_user).map_err(|r| err("google.limits.per_user", r))?;
                Some(GoogleConfig {
                    service_account_key_file: resolve(g.service_account_key_file),
                    admin_emails: admins,
                    classroom_url,
                    limits: g.limits,
                })
            }
        };

        let w = &raw.worker;
        if w.concurrency == 0 {
            return Err(err("worker.concurrency", "must be at least 1".into()));
        }
        if w.max_attempts == 0 {
            return Err(err("worker.max_attempts", "must be at least 1".into()));
        }
        if w.call_attempts == 0 {
            return Err(err("worker.call_attempts", "must be at least 1".into()));
        }
        if w.lease_seconds == 0 {
            return Err(err("worker.lease_seconds", "must be at least 1".into()));
        }
        positive(w.request_timeout_seconds)
            .map_err(|r| err("worker.request_timeout_seconds", r))?;
        positive(w.retry_initial_seconds).map_err(|r| err("worker.retry_initial_seconds", r))?;
        positive(w.retry_max_seconds).map_err(|r| err("worker.retry_max_seconds", r))?;
        positive(w.shutdown_grace_seconds).map_err(|r| err("worker.shutdown_grace_seconds", r))?;

        let default_targets = match raw.import.default_targets {
            None => vec![Target::Teams],
            Some(list) => {
                let mut out = Vec::new();
                for t in list {
                    let t: Target = t.parse().map_err(|r| err("import.default_targets", r))?;
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
                if out.is_empty() {
                    return Err(err(
                        "import.default_targets",
                        "must name at least one target".into(),
                    ));
                }
                out
            }
        };

        let api = ApiConfig {
            listen: raw.api.listen.unwrap_or_else(|| "127.0.0.1:8080".into()),
            ump_token_file: raw.api.ump_token_file.map(resolve),
            operator_token_file: raw.api.operator_token_file.map(resolve),
            max_body_bytes: raw.api.max_body_bytes.unwrap_or(1024 * 1024),
            origin: KeyOrigin {
                file: file.into(),
                ump_token_line: find_line(text, "api.ump_token_file"),
                operator_token_line: find_line(text, "api.operator_token_file"),
            },
        };
        if api.max_body_bytes < 1024 {
            return Err(err(
                "api.max_body_bytes",
                format!("{} is too small: at least 1024", api.max_body_bytes),
            ));
        }
        if api.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(err(
                "api.listen",
                format!("`{}` is not an address:port", api.listen),
            ));
        }

        let nightly_at = match raw.schedule.nightly_at {
            None => NaiveTime::from_hms_opt(1, 30, 0).expect("valid time"),
            Some(s) => NaiveTime::parse_from_str(&s, "%H:%M").map_err(|_| {
                err(
                    "schedule.nightly_at",
                    format!("`{s}` is not a time of the form HH:MM"),
                )
            })?,
        };

        let mut years: Vec<YearCalendar> = Vec::new();
        for (i, y) in raw.years.into_iter().enumerate() {
            let key = |k: &str| format!("years[{i}].{k}");
            let year: AcademicYear = y.name.parse().map_err(|r| err(&key("name"), r))?;
            if years.iter().any(|o| o.year == year) {
                return Err(err(&key("name"), format!("{year} is listed twice")));
            }
            let date = |k: &str, v: &str| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                    err(
                        &key(k),
                        format!("`{v}` is not a date of the form YYYY-MM-DD"),
                    )
                })
            };
            let cal = YearCalendar {
                year,
                new_groups_from: date("new_groups_from", &y.new_groups_from)?,
                mis_sync_cutoff: date("mis_sync_cutoff", &y.mis_sync_cutoff)?,
                archive_on: date("archive_on", &y.archive_on)?,
            };
            cal.validate().map_err(|(k, r)| err(&key(k), r))?;
            years.push(cal);
        }

        Ok(Config {
            database_url,
            microsoft,
            google,
            worker: raw.worker,
            import: ImportConfig { default_targets },
            api,
            schedule: ScheduleConfig { nightly_at },
            years,
        })
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

fn check_url(u: String) -> Result<String, String> {
    let parsed = url::Url::parse(&u).map_err(|e| format!("`{u}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{u}` must be an http(s) URL"));
    }
    Ok(u.trim_end_matches('/').to_string())
}

fn positive(v: f64) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!("{v} must be a positive number"))
    }
}

fn non_negative(v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("{v} must be zero or more"))
    }
}

/// Best-effort line of a dotted key (its last part) for semantic errors toml cannot place.
fn find_line(text: &str, key: &str) -> Option<usize> {
    let last = key.rsplit('.').next()?;
    let last = last.split('[').next()?;
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(last) && l[last.len()..].trim_start().starts_with('=')
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test.toml", Path::new("/etc/class-sync"))
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
        let text = include_str!("../config.example.toml");
        let c = parse(text).expect("config.example.toml must parse");
        assert_eq!(c.microsoft.unwrap().limits.teams_write, 30.0);
        assert_eq!(
            c.google.unwrap().service_account_key_file,
            Path::new("/etc/class-sync/sa.json")
        );
        assert!(!c.years.is_empty());
    }

    #[test]
    fn unknown_keys_name_the_line() {
        let e = parse("database_url = \"sqlite://x.db\"\n[worker]\nconcurency = 3\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("concurency"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let e = parse("[worker]\nconcurrency = 0\n").unwrap_err();
        assert_eq!(e.key, "worker.concurrency");
        assert_eq!(e.line, Some(2));
        let e = parse("[[years]]\nname = \"2025-27\"\nnew_groups_from = \"2025-08-01\"\nmis_sync_cutoff = \"2026-06-01\"\narchive_on = \"2026-09-01\"\n").unwrap_err();
        assert_eq!(e.key, "years[0].name");
        let e = parse("[[years]]\nname = \"2025-26\"\nnew_groups_from = \"2025-08-01\"\nmis_sync_cutoff = \"2026-06-01\"\narchive_on = \"2026-05-01\"\n").unwrap_err();
        assert_eq!(e.key, "years[0].archive_on");
        let e = parse("[schedule]\nnightly_at = \"25:00\"\n").unwrap_err();
        assert_eq!(e.key, "schedule.nightly_at");
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = parse("[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"hunter2-very-secret\"\n").unwrap();
        let m = c.microsoft.clone().unwrap();
        assert_eq!(m.client_secret.expose_secret(), "hunter2-very-secret");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn serve_refuses_missing_short_or_equal_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("ump.token");
        let other = dir.path().join("op.token");
        let short = dir.path().join("short.token");
        std::fs::write(&good, "portal-token-0123456789\n").unwrap();
        std::fs::write(&other, "operator-token-0123456789").unwrap();
        std::fs::write(&short, "abc").unwrap();
        let config = |ump: &str, op: &str| {
            Config::from_toml(
                &format!("[api]\nump_token_file = {ump:?}\noperator_token_file = {op:?}\n"),
                "test.toml",
                dir.path(),
            )
            .unwrap()
        };
        let t = config("ump.token", "op.token").api.read_tokens().unwrap();
        assert_eq!(t.ump.expose_secret(), "portal-token-0123456789");
        assert!(!format!("{t:?}").contains("token-0123"));

        let e = config("ump.token", "nope.token")
            .api
            .read_tokens()
            .unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("api.operator_token_file", Some(3))
        );
        assert!(
            e.to_string()
                .starts_with("test.toml:3: api.operator_token_file: cannot read"),
            "{e}"
        );
        let e = config("short.token", "op.token")
            .api
            .read_tokens()
            .unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("api.ump_token_file", Some(2)));
        assert!(
            !e.to_string().contains("abc"),
            "a token is never shown: {e}"
        );
        let e = config("ump.token", "ump.token")
            .api
            .read_tokens()
            .unwrap_err();
        assert!(e.reason.contains("must differ"), "{e}");
        let e = Config::builtin().api.read_tokens().unwrap_err();
        assert!(e.reason.contains("missing"), "{e}");
    }

    #[test]
    fn both_secret_forms_is_an_error() {
        let e = parse("[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\nclient_secret_file = \"f\"\n").unwrap_err();
        assert_eq!(e.key, "microsoft.client_secret");
    }
}
