//! From the file as written to the typed [`Config`]: one function per section, each checking the
//! values toml cannot (ranges, URLs, dates, addresses) and naming the key of the first problem.

use super::error::Source;
use super::raw::{RawApi, RawConfig, RawGoogle, RawImport, RawMicrosoft, RawSchedule, RawYear};
use super::{
    ApiConfig, Config, ConfigError, GoogleConfig, ImportConfig, KeyOrigin, MicrosoftConfig,
    MicrosoftLimits, ScheduleConfig, WorkerConfig,
};
use crate::core::calendar::{AcademicYear, YearCalendar};
use crate::core::domain::{Target, normalise_email};
use chrono::{NaiveDate, NaiveTime};
use secrecy::SecretString;
use std::path::{Path, PathBuf};

/// The whole configuration; sections are checked in the order of the file's documentation, and the
/// first problem is reported.
pub(super) fn config(raw: RawConfig, src: &Source, base: &Path) -> Result<Config, ConfigError> {
    Ok(Config {
        database_url: database_url(raw.database_url, src)?,
        microsoft: raw.microsoft.map(|m| microsoft(m, src, base)).transpose()?,
        google: raw.google.map(|g| google(g, src, base)).transpose()?,
        worker: worker(raw.worker, src)?,
        import: import(raw.import, src)?,
        api: api(raw.api, src, base)?,
        schedule: schedule(raw.schedule, src)?,
        years: years(raw.years, src)?,
    })
}

/// A relative path in the file is taken from the file's directory.
fn resolve(base: &Path, p: PathBuf) -> PathBuf {
    if p.is_absolute() { p } else { base.join(p) }
}

fn database_url(raw: Option<String>, src: &Source) -> Result<String, ConfigError> {
    let database_url = raw.unwrap_or_else(|| "sqlite://class-sync.db".into());
    if !database_url.starts_with("sqlite:") {
        return Err(src.error(
            "database_url",
            format!(
                "`{database_url}` is not supported yet: only sqlite:// URLs (PostgreSQL is planned)"
            ),
        ));
    }
    Ok(database_url)
}

fn microsoft(m: RawMicrosoft, src: &Source, base: &Path) -> Result<MicrosoftConfig, ConfigError> {
    let client_secret = client_secret(m.client_secret, m.client_secret_file, src, base)?;
    for (key, v) in [
        ("microsoft.tenant_id", &m.tenant_id),
        ("microsoft.client_id", &m.client_id),
    ] {
        if v.trim().is_empty() {
            return Err(src.error(key, "must not be empty"));
        }
    }
    let login_url = check_url(
        m.login_url
            .unwrap_or_else(|| "https://login.microsoftonline.com".into()),
    )
    .map_err(|r| src.error("microsoft.login_url", r))?;
    let graph_url = check_url(
        m.graph_url
            .unwrap_or_else(|| "https://graph.microsoft.com/v1.0".into()),
    )
    .map_err(|r| src.error("microsoft.graph_url", r))?;
    let limits = microsoft_limits(m.limits, src)?;
    let poll = m.operation_poll_seconds.unwrap_or(30.0);
    positive(poll).map_err(|r| src.error("microsoft.operation_poll_seconds", r))?;
    let timeout = m.operation_timeout_seconds.unwrap_or(1800.0);
    positive(timeout).map_err(|r| src.error("microsoft.operation_timeout_seconds", r))?;
    let teamify = m.teamify_retry_seconds.unwrap_or(10.0);
    non_negative(teamify).map_err(|r| src.error("microsoft.teamify_retry_seconds", r))?;
    Ok(MicrosoftConfig {
        tenant_id: m.tenant_id,
        client_id: m.client_id,
        client_secret,
        login_url,
        graph_url,
        operation_poll_seconds: poll,
        operation_timeout_seconds: timeout,
        teamify_retry_seconds: teamify,
        limits,
    })
}

/// The Graph client secret, given in the file or in a file of its own, never both.
fn client_secret(
    secret: Option<SecretString>,
    secret_file: Option<PathBuf>,
    src: &Source,
    base: &Path,
) -> Result<SecretString, ConfigError> {
    match (secret, secret_file) {
        (Some(s), None) => Ok(s),
        (None, Some(f)) => {
            let f = resolve(base, f);
            let s = std::fs::read_to_string(&f).map_err(|e| {
                src.error(
                    "microsoft.client_secret_file",
                    format!("cannot read {}: {e}", f.display()),
                )
            })?;
            Ok(SecretString::from(s.trim().to_string()))
        }
        (Some(_), Some(_)) => Err(src.error(
            "microsoft.client_secret",
            "give client_secret or client_secret_file, not both",
        )),
        (None, None) => Err(src.error(
            "microsoft.client_secret",
            "missing: give client_secret or client_secret_file",
        )),
    }
}

fn microsoft_limits(l: MicrosoftLimits, src: &Source) -> Result<MicrosoftLimits, ConfigError> {
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
        positive(v).map_err(|r| src.error(key, r))?;
    }
    Ok(l)
}

fn google(g: RawGoogle, src: &Source, base: &Path) -> Result<GoogleConfig, ConfigError> {
    if g.admin_emails.is_empty() {
        return Err(src.error(
            "google.admin_emails",
            "list at least one admin account to impersonate",
        ));
    }
    let mut admins = Vec::new();
    for a in &g.admin_emails {
        if !a.contains('@') || a.trim().contains(char::is_whitespace) {
            return Err(src.error(
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
    .map_err(|r| src.error("google.classroom_url", r))?;
    positive(g.limits.per_client).map_err(|r| src.error("google.limits.per_client", r))?;
    positive(g.limits.per_user).map_err(|r| src.error("google.limits.per_user", r))?;
    Ok(GoogleConfig {
        service_account_key_file: resolve(base, g.service_account_key_file),
        admin_emails: admins,
        classroom_url,
        limits: g.limits,
    })
}

fn worker(w: WorkerConfig, src: &Source) -> Result<WorkerConfig, ConfigError> {
    at_least_one(w.concurrency).map_err(|r| src.error("worker.concurrency", r))?;
    at_least_one(w.max_attempts).map_err(|r| src.error("worker.max_attempts", r))?;
    at_least_one(w.call_attempts).map_err(|r| src.error("worker.call_attempts", r))?;
    at_least_one(w.lease_seconds).map_err(|r| src.error("worker.lease_seconds", r))?;
    for (key, v) in [
        ("worker.request_timeout_seconds", w.request_timeout_seconds),
        ("worker.retry_initial_seconds", w.retry_initial_seconds),
        ("worker.retry_max_seconds", w.retry_max_seconds),
        ("worker.shutdown_grace_seconds", w.shutdown_grace_seconds),
    ] {
        positive(v).map_err(|r| src.error(key, r))?;
    }
    Ok(w)
}

fn import(i: RawImport, src: &Source) -> Result<ImportConfig, ConfigError> {
    let Some(list) = i.default_targets else {
        return Ok(ImportConfig {
            default_targets: vec![Target::Teams],
        });
    };
    let mut default_targets = Vec::new();
    for t in list {
        let t: Target = t
            .parse()
            .map_err(|r| src.error("import.default_targets", r))?;
        if !default_targets.contains(&t) {
            default_targets.push(t);
        }
    }
    if default_targets.is_empty() {
        return Err(src.error("import.default_targets", "must name at least one target"));
    }
    Ok(ImportConfig { default_targets })
}

fn api(a: RawApi, src: &Source, base: &Path) -> Result<ApiConfig, ConfigError> {
    let api = ApiConfig {
        listen: a.listen.unwrap_or_else(|| "127.0.0.1:8080".into()),
        ump_token_file: a.ump_token_file.map(|p| resolve(base, p)),
        operator_token_file: a.operator_token_file.map(|p| resolve(base, p)),
        max_body_bytes: a.max_body_bytes.unwrap_or(1024 * 1024),
        origin: KeyOrigin {
            file: src.file.into(),
            ump_token_line: src.find_line("api.ump_token_file"),
            operator_token_line: src.find_line("api.operator_token_file"),
        },
    };
    if api.max_body_bytes < 1024 {
        return Err(src.error(
            "api.max_body_bytes",
            format!("{} is too small: at least 1024", api.max_body_bytes),
        ));
    }
    if api.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(src.error(
            "api.listen",
            format!("`{}` is not an address:port", api.listen),
        ));
    }
    Ok(api)
}

fn schedule(s: RawSchedule, src: &Source) -> Result<ScheduleConfig, ConfigError> {
    let nightly_at = match s.nightly_at {
        None => NaiveTime::from_hms_opt(1, 30, 0).expect("valid time"),
        Some(s) => NaiveTime::parse_from_str(&s, "%H:%M").map_err(|_| {
            src.error(
                "schedule.nightly_at",
                format!("`{s}` is not a time of the form HH:MM"),
            )
        })?,
    };
    Ok(ScheduleConfig { nightly_at })
}

fn years(raw: Vec<RawYear>, src: &Source) -> Result<Vec<YearCalendar>, ConfigError> {
    let mut years: Vec<YearCalendar> = Vec::new();
    for (i, y) in raw.into_iter().enumerate() {
        let cal = year(i, y, &years, src)?;
        years.push(cal);
    }
    Ok(years)
}

/// The `i`-th `[[years]]` entry; `earlier` are the entries before it.
fn year(
    i: usize,
    y: RawYear,
    earlier: &[YearCalendar],
    src: &Source,
) -> Result<YearCalendar, ConfigError> {
    let key = |k: &str| format!("years[{i}].{k}");
    let year: AcademicYear = y.name.parse().map_err(|r| src.error(&key("name"), r))?;
    if earlier.iter().any(|o| o.year == year) {
        return Err(src.error(&key("name"), format!("{year} is listed twice")));
    }
    let date = |k: &str, v: &str| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            src.error(
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
    cal.validate().map_err(|(k, r)| src.error(&key(k), r))?;
    Ok(cal)
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

fn at_least_one<T: PartialEq + From<u8>>(v: T) -> Result<(), String> {
    if v == T::from(0) {
        Err("must be at least 1".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::parse;

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
    fn both_secret_forms_is_an_error() {
        let e = parse("[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\nclient_secret_file = \"f\"\n").unwrap_err();
        assert_eq!(e.key, "microsoft.client_secret");
    }
}
