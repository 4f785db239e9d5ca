//! From the file as written to the typed [`Config`]: one function per section, each checking the
//! values toml cannot (ranges, URLs, dates, addresses) and naming the key of the first problem at
//! the line of that very value (its span), or of the table that lacks a key.

use super::error::{Source, Span};
use super::raw::{
    RawApi, RawConfig, RawConsole, RawGoogle, RawGoogleLimits, RawImport, RawMicrosoft,
    RawMicrosoftLimits, RawSchedule, RawSecret, RawWorker, RawYear, SpannedList,
};
use super::table::Table;
use super::{
    ApiConfig, Config, ConfigError, ConsoleConfig, GoogleConfig, GoogleLimits, ImportConfig,
    KeyOrigin, MicrosoftConfig, MicrosoftLimits, ScheduleConfig, WorkerConfig,
};
use crate::core::calendar::{AcademicYear, YearCalendar};
use crate::core::domain::{Target, normalise_email};
use chrono::{NaiveDate, NaiveTime};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The whole configuration; sections are checked in the order of the file's documentation, and the
/// first problem is reported.
pub(super) fn config(raw: RawConfig, src: Source, base: &Path) -> Result<Config, ConfigError> {
    let microsoft = raw.microsoft.map(|m| microsoft(m, src, base)).transpose()?;
    let api = api(raw.api, src, base)?;
    let console = raw
        .console
        .map(|c| console(c, microsoft.is_some(), &api.listen, src, base))
        .transpose()?;
    Ok(Config {
        database_url: database_url(raw.database_url, src)?,
        microsoft,
        google: raw.google.map(|g| google(g, src, base)).transpose()?,
        worker: worker(raw.worker, src)?,
        import: import(raw.import, src)?,
        api,
        schedule: schedule(raw.schedule, src)?,
        years: years(raw.years, src)?,
        console,
    })
}

/// A relative path in the file is taken from the file's directory.
fn resolve(base: &Path, p: PathBuf) -> PathBuf {
    if p.is_absolute() { p } else { base.join(p) }
}

fn database_url(raw: Option<Spanned<String>>, src: Source) -> Result<String, ConfigError> {
    Table::new(src, "").parsed("database_url", raw, "sqlite://class-sync.db", |url| {
        // The kinds `store::open` knows (config sits above the store: it does not ask it).
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if known.iter().any(|k| url.starts_with(k)) {
            Ok(url.to_string())
        } else {
            // Not repeated: an unknown kind of URL may still carry a password.
            Err("is not supported: use a sqlite:// or postgres:// URL".to_string())
        }
    })
}

/// `[microsoft]`; its span (the header, or the inline table) places a key it lacks.
fn microsoft(
    raw: Spanned<RawMicrosoft>,
    src: Source,
    base: &Path,
) -> Result<MicrosoftConfig, ConfigError> {
    let t = Table::new(src, "microsoft");
    let table = raw.span();
    let m = raw.into_inner();
    let client_secret = client_secret(&t, m.client_secret, m.client_secret_file, table, base)?;
    let tenant_id = t.not_empty("tenant_id", m.tenant_id)?;
    let client_id = t.not_empty("client_id", m.client_id)?;
    let login_url = t.url(
        "login_url",
        m.login_url,
        "https://login.microsoftonline.com",
    )?;
    let graph_url = t.url("graph_url", m.graph_url, "https://graph.microsoft.com/v1.0")?;
    let limits = microsoft_limits(m.limits, src)?;
    Ok(MicrosoftConfig {
        tenant_id,
        client_id,
        client_secret,
        login_url,
        graph_url,
        operation_poll_seconds: t.positive(
            "operation_poll_seconds",
            m.operation_poll_seconds,
            30.0,
        )?,
        operation_timeout_seconds: t.positive(
            "operation_timeout_seconds",
            m.operation_timeout_seconds,
            1800.0,
        )?,
        teamify_retry_seconds: t.non_negative(
            "teamify_retry_seconds",
            m.teamify_retry_seconds,
            10.0,
        )?,
        limits,
    })
}

/// The Graph client secret, given in the file or in a file of its own, never both; when neither is
/// given, the problem is placed at the `[microsoft]` table (`table`).
fn client_secret(
    t: &Table,
    secret: Option<Spanned<RawSecret>>,
    secret_file: Option<Spanned<PathBuf>>,
    table: Span,
    base: &Path,
) -> Result<SecretString, ConfigError> {
    match (secret, secret_file) {
        (Some(s), None) => Ok(s.into_inner().0),
        (None, Some(f)) => {
            let span = f.span();
            let f = resolve(base, f.into_inner());
            let s = std::fs::read_to_string(&f).map_err(|e| {
                let reason = format!("cannot read {}: {e}", f.display());
                t.error("client_secret_file", span, reason)
            })?;
            super::file_mode::warn_if_open(&f, "client_secret_file");
            Ok(SecretString::from(s.trim().to_string()))
        }
        (Some(s), Some(_)) => Err(t.error(
            "client_secret",
            s.span(),
            "give client_secret or client_secret_file, not both",
        )),
        (None, None) => Err(t.error(
            "client_secret",
            table,
            "missing: give client_secret or client_secret_file",
        )),
    }
}

/// `[microsoft.limits]`: requests per second (one per minute), each positive.
fn microsoft_limits(l: RawMicrosoftLimits, src: Source) -> Result<MicrosoftLimits, ConfigError> {
    let t = Table::new(src, "microsoft.limits");
    let d = MicrosoftLimits::default();
    Ok(MicrosoftLimits {
        teams_create: t.positive("teams_create", l.teams_create, d.teams_create)?,
        teams_write: t.positive("teams_write", l.teams_write, d.teams_write)?,
        teams_read: t.positive("teams_read", l.teams_read, d.teams_read)?,
        per_team: t.positive("per_team", l.per_team, d.per_team)?,
        education: t.positive("education", l.education, d.education)?,
        team_member_adds_per_minute: t.positive(
            "team_member_adds_per_minute",
            l.team_member_adds_per_minute,
            d.team_member_adds_per_minute,
        )?,
    })
}

fn google(g: RawGoogle, src: Source, base: &Path) -> Result<GoogleConfig, ConfigError> {
    let t = Table::new(src, "google");
    let admin_emails = admin_emails(&t, g.admin_emails)?;
    let classroom_url = t.url(
        "classroom_url",
        g.classroom_url,
        "https://classroom.googleapis.com",
    )?;
    Ok(GoogleConfig {
        service_account_key_file: resolve(base, g.service_account_key_file),
        admin_emails,
        classroom_url,
        limits: google_limits(g.limits, src)?,
    })
}

/// The accounts impersonated via domain-wide delegation: at least one, each an address, normalised.
fn admin_emails(t: &Table, list: SpannedList) -> Result<Vec<String>, ConfigError> {
    if list.get_ref().is_empty() {
        return Err(t.error(
            "admin_emails",
            list.span(),
            "list at least one admin account to impersonate",
        ));
    }
    let mut admins = Vec::new();
    for a in list.into_inner() {
        let address = a.get_ref();
        if !address.contains('@') || address.trim().contains(char::is_whitespace) {
            let reason = format!("`{address}` is not an email address");
            return Err(t.error("admin_emails", a.span(), reason));
        }
        admins.push(normalise_email(address));
    }
    Ok(admins)
}

/// `[google.limits]`: requests per minute, each positive.
fn google_limits(l: RawGoogleLimits, src: Source) -> Result<GoogleLimits, ConfigError> {
    let t = Table::new(src, "google.limits");
    let d = GoogleLimits::default();
    Ok(GoogleLimits {
        per_client: t.positive("per_client", l.per_client, d.per_client)?,
        per_user: t.positive("per_user", l.per_user, d.per_user)?,
    })
}

fn worker(w: RawWorker, src: Source) -> Result<WorkerConfig, ConfigError> {
    let t = Table::new(src, "worker");
    let d = WorkerConfig::default();
    // In the order the checks have always run, so that the first problem reported stays the same.
    Ok(WorkerConfig {
        concurrency: t.at_least_one("concurrency", w.concurrency, d.concurrency)?,
        max_attempts: t.at_least_one("max_attempts", w.max_attempts, d.max_attempts)?,
        call_attempts: t.at_least_one("call_attempts", w.call_attempts, d.call_attempts)?,
        lease_seconds: t.at_least_one("lease_seconds", w.lease_seconds, d.lease_seconds)?,
        request_timeout_seconds: t.positive(
            "request_timeout_seconds",
            w.request_timeout_seconds,
            d.request_timeout_seconds,
        )?,
        retry_initial_seconds: t.positive(
            "retry_initial_seconds",
            w.retry_initial_seconds,
            d.retry_initial_seconds,
        )?,
        retry_max_seconds: t.positive(
            "retry_max_seconds",
            w.retry_max_seconds,
            d.retry_max_seconds,
        )?,
        shutdown_grace_seconds: t.positive(
            "shutdown_grace_seconds",
            w.shutdown_grace_seconds,
            d.shutdown_grace_seconds,
        )?,
    })
}

fn import(i: RawImport, src: Source) -> Result<ImportConfig, ConfigError> {
    let t = Table::new(src, "import");
    let stale_after_days = t.at_least_one("stale_after_days", i.stale_after_days, 8)?;
    let Some(list) = i.default_targets else {
        return Ok(ImportConfig {
            default_targets: vec![Target::Teams],
            stale_after_days,
        });
    };
    let span = list.span();
    let mut default_targets = Vec::new();
    for name in list.into_inner() {
        let target: Target = (name.get_ref().parse())
            .map_err(|reason| t.error("default_targets", name.span(), reason))?;
        if !default_targets.contains(&target) {
            default_targets.push(target);
        }
    }
    if default_targets.is_empty() {
        return Err(t.error("default_targets", span, "must name at least one target"));
    }
    Ok(ImportConfig {
        default_targets,
        stale_after_days,
    })
}

fn api(a: RawApi, src: Source, base: &Path) -> Result<ApiConfig, ConfigError> {
    let t = Table::new(src, "api");
    let max_body_bytes = t.checked("max_body_bytes", a.max_body_bytes, 1024 * 1024, |n| {
        if n < 1024 {
            Err(format!("{n} is too small: at least 1024"))
        } else {
            Ok(())
        }
    })?;
    let listen = t.parsed("listen", a.listen, "127.0.0.1:8080", |s| match s
        .parse::<std::net::SocketAddr>()
    {
        Ok(_) => Ok(s.to_string()),
        Err(_) => Err(format!("`{s}` is not an address:port")),
    })?;
    let line = |path: &Option<Spanned<PathBuf>>| path.as_ref().map(|p| src.line(&p.span()));
    Ok(ApiConfig {
        listen,
        origin: KeyOrigin {
            file: src.file.into(),
            ump_token_line: line(&a.ump_token_file),
            operator_token_line: line(&a.operator_token_file),
        },
        ump_token_file: a.ump_token_file.map(|p| resolve(base, p.into_inner())),
        operator_token_file: a.operator_token_file.map(|p| resolve(base, p.into_inner())),
        max_body_bytes,
    })
}

/// `[console]`: the sign-in app registration (people sign in at `[microsoft]`'s tenant, so that
/// table is needed), where browsers reach `serve`, the operators, how long a session lasts.
fn console(
    raw: Spanned<RawConsole>,
    has_microsoft: bool,
    listen: &str,
    src: Source,
    base: &Path,
) -> Result<ConsoleConfig, ConfigError> {
    let t = Table::new(src, "console");
    let table = raw.span();
    if !has_microsoft {
        return Err(Table::new(src, "").error(
            "console",
            table,
            "people sign in with the school's Microsoft account: add [microsoft] (tenant_id, login_url) too",
        ));
    }
    let c = raw.into_inner();
    let client_secret = client_secret(&t, c.client_secret, c.client_secret_file, table, base)?;
    let client_id = t.not_empty("client_id", c.client_id)?;
    let public_url = t.url("public_url", c.public_url, &format!("http://{listen}"))?;
    let mut operators = Vec::new();
    for o in c.operators.map(Spanned::into_inner).unwrap_or_default() {
        let address = o.get_ref();
        if !address.contains('@') || address.trim().contains(char::is_whitespace) {
            let reason = format!("`{address}` is not an email address");
            return Err(t.error("operators", o.span(), reason));
        }
        operators.push(normalise_email(address));
    }
    let session_hours = t.at_least_one("session_hours", c.session_hours, 8)?;
    Ok(ConsoleConfig {
        client_id,
        client_secret,
        public_url,
        operators,
        session_hours,
    })
}

fn schedule(s: RawSchedule, src: Source) -> Result<ScheduleConfig, ConfigError> {
    let t = Table::new(src, "schedule");
    let nightly_at = t.parsed("nightly_at", s.nightly_at, "01:30", |s| {
        NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|_| format!("`{s}` is not a time of the form HH:MM"))
    })?;
    Ok(ScheduleConfig { nightly_at })
}

fn years(raw: Vec<Spanned<RawYear>>, src: Source) -> Result<Vec<YearCalendar>, ConfigError> {
    let mut years: Vec<YearCalendar> = Vec::new();
    for (i, y) in raw.into_iter().enumerate() {
        let t = Table::new(src, format!("years[{i}]"));
        let cal = year(&t, y, &years)?;
        years.push(cal);
    }
    Ok(years)
}

/// One `[[years]]` entry; `earlier` are the entries before it.
fn year(
    t: &Table,
    raw: Spanned<RawYear>,
    earlier: &[YearCalendar],
) -> Result<YearCalendar, ConfigError> {
    let entry = raw.span();
    let y = raw.into_inner();
    let name = &y.name;
    let year: AcademicYear =
        (name.get_ref().parse()).map_err(|reason| t.error("name", name.span(), reason))?;
    if earlier.iter().any(|o| o.year == year) {
        return Err(t.error("name", name.span(), format!("{year} is listed twice")));
    }
    let date = |key: &str, v: &Spanned<String>| {
        NaiveDate::parse_from_str(v.get_ref(), "%Y-%m-%d").map_err(|_| {
            let reason = format!("`{}` is not a date of the form YYYY-MM-DD", v.get_ref());
            t.error(key, v.span(), reason)
        })
    };
    let cal = YearCalendar {
        year,
        new_groups_from: date("new_groups_from", &y.new_groups_from)?,
        mis_sync_cutoff: date("mis_sync_cutoff", &y.mis_sync_cutoff)?,
        archive_on: date("archive_on", &y.archive_on)?,
    };
    cal.validate().map_err(|(key, reason)| {
        let span = match key {
            "new_groups_from" => y.new_groups_from.span(),
            "mis_sync_cutoff" => y.mis_sync_cutoff.span(),
            "archive_on" => y.archive_on.span(),
            _ => entry.clone(),
        };
        t.error(key, span, reason)
    })?;
    Ok(cal)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{check, parse};

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

    /// Every check of every section, on `config.example.toml` with one line replaced: the problem
    /// names that key at that line, even where the key's name also appears in an earlier table (the
    /// second `[[years]]` entry repeats every name of the first).
    #[test]
    fn each_problem_names_the_line_of_its_own_key() {
        let example = include_str!("../../config.example.toml");
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str, &str)] = &[
            // (the line that starts so, its replacement, key, part of the reason)
            ("database_url =", r#"database_url = "mysql://db""#, "database_url", "not supported"),
            ("tenant_id =", r#"tenant_id = " ""#, "microsoft.tenant_id", "must not be empty"),
            (r#"client_id = "0000"#, r#"client_id = """#, "microsoft.client_id", "must not be empty"),
            ("login_url =", r#"login_url = "ftp://login""#, "microsoft.login_url", "must be an http(s) URL"),
            ("graph_url =", r#"graph_url = "graph""#, "microsoft.graph_url", "is not a URL"),
            ("operation_poll_seconds =", "operation_poll_seconds = 0", "microsoft.operation_poll_seconds", "positive"),
            ("operation_timeout_seconds =", "operation_timeout_seconds = -1", "microsoft.operation_timeout_seconds", "positive"),
            ("teamify_retry_seconds =", "teamify_retry_seconds = -1", "microsoft.teamify_retry_seconds", "zero or more"),
            ("teams_create =", "teams_create = 0", "microsoft.limits.teams_create", "positive"),
            ("teams_write =", "teams_write = 0", "microsoft.limits.teams_write", "positive"),
            ("teams_read =", "teams_read = 0", "microsoft.limits.teams_read", "positive"),
            ("per_team =", "per_team = nan", "microsoft.limits.per_team", "positive"),
            ("education =", "education = 0", "microsoft.limits.education", "positive"),
            ("team_member_adds_per_minute =", "team_member_adds_per_minute = 0", "microsoft.limits.team_member_adds_per_minute", "positive"),
            ("admin_emails =", "admin_emails = []", "google.admin_emails", "at least one admin"),
            ("admin_emails =", r#"admin_emails = ["nobody"]"#, "google.admin_emails", "`nobody` is not an email address"),
            ("classroom_url =", r#"classroom_url = "classroom""#, "google.classroom_url", "is not a URL"),
            ("per_client =", "per_client = 0", "google.limits.per_client", "positive"),
            ("per_user =", "per_user = inf", "google.limits.per_user", "positive"),
            ("concurrency =", "concurrency = 0", "worker.concurrency", "at least 1"),
            ("max_attempts =", "max_attempts = 0", "worker.max_attempts", "at least 1"),
            ("lease_seconds =", "lease_seconds = 0", "worker.lease_seconds", "at least 1"),
            ("request_timeout_seconds =", "request_timeout_seconds = 0", "worker.request_timeout_seconds", "positive"),
            ("call_attempts =", "call_attempts = 0", "worker.call_attempts", "at least 1"),
            ("retry_initial_seconds =", "retry_initial_seconds = 0", "worker.retry_initial_seconds", "positive"),
            ("retry_max_seconds =", "retry_max_seconds = 0", "worker.retry_max_seconds", "positive"),
            ("shutdown_grace_seconds =", "shutdown_grace_seconds = 0", "worker.shutdown_grace_seconds", "positive"),
            ("default_targets =", r#"default_targets = ["zoom"]"#, "import.default_targets", "unknown target `zoom`"),
            ("default_targets =", "default_targets = []", "import.default_targets", "at least one target"),
            ("stale_after_days =", "stale_after_days = 0", "import.stale_after_days", "at least 1"),
            ("listen =", r#"listen = "localhost""#, "api.listen", "not an address:port"),
            ("max_body_bytes =", "max_body_bytes = 1000", "api.max_body_bytes", "too small"),
            (r#"client_id = "2222"#, r#"client_id = " ""#, "console.client_id", "must not be empty"),
            ("public_url =", r#"public_url = "ftp://x""#, "console.public_url", "must be an http(s) URL"),
            ("operators =", r#"operators = ["desk@hwbcymru.net", "nobody"]"#, "console.operators", "`nobody` is not an email address"),
            ("session_hours =", "session_hours = 0", "console.session_hours", "at least 1"),
            ("nightly_at =", r#"nightly_at = "1:30pm""#, "schedule.nightly_at", "HH:MM"),
            (r#"name = "2026-27""#, r#"name = "2025-26""#, "years[1].name", "2025-26 is listed twice"),
            (r#"name = "2026-27""#, r#"name = "2026-28""#, "years[1].name", "must follow the first"),
            (r#"new_groups_from = "2026-08-27""#, r#"new_groups_from = "2026-02-30""#, "years[1].new_groups_from", "not a date"),
            (r#"mis_sync_cutoff = "2027-06-01""#, r#"mis_sync_cutoff = "2027-06-31""#, "years[1].mis_sync_cutoff", "not a date"),
            (r#"mis_sync_cutoff = "2027-06-01""#, r#"mis_sync_cutoff = "2026-08-01""#, "years[1].mis_sync_cutoff", "before new_groups_from"),
            (r#"archive_on = "2027-09-01""#, r#"archive_on = "2027-05-01""#, "years[1].archive_on", "must be after mis_sync_cutoff"),
        ];
        for (start, replacement, key, fragment) in cases {
            let at: Vec<usize> = (example.lines().enumerate())
                .filter(|(_, l)| l.starts_with(start))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(at.len(), 1, "exactly one line starts with {start:?}");
            let text: Vec<&str> = (example.lines().enumerate())
                .map(|(i, l)| if i == at[0] { *replacement } else { l })
                .collect();
            check(&text.join("\n"), key, at[0] + 1, fragment);
        }
    }

    /// The same key in every entry of an array of tables: the problem is in the entry that has it.
    #[test]
    fn a_bad_date_in_the_second_years_entry_names_the_second() {
        let years = "\
[[years]]
name = \"2025-26\"
new_groups_from = \"2025-08-28\"
mis_sync_cutoff = \"2026-06-01\"
archive_on = \"2026-09-01\"

[[years]]
name = \"2026-27\"
new_groups_from = \"2026-08-27\"
mis_sync_cutoff = \"2027-13-01\"
archive_on = \"2027-09-01\"
";
        check(
            years,
            "years[1].mis_sync_cutoff",
            10,
            "`2027-13-01` is not a date",
        );
    }

    /// Keys written dotted or in an inline table, and items of a list written over several lines,
    /// are placed as exactly as keys in a `[table]`.
    #[test]
    fn dotted_keys_inline_tables_and_list_items_name_their_own_line() {
        check(
            "database_url = \"sqlite://x.db\"\nworker.concurrency = 0\n",
            "worker.concurrency",
            2,
            "at least 1",
        );
        check(
            "\ngoogle = { service_account_key_file = \"sa.json\", admin_emails = [] }\n",
            "google.admin_emails",
            2,
            "at least one admin",
        );
        check(
            "[google]\nservice_account_key_file = \"sa.json\"\nadmin_emails = [\n  \"a@hwbcymru.net\",\n  \"not an address\",\n]\n",
            "google.admin_emails",
            5,
            "`not an address` is not an email address",
        );
        check(
            "[import]\ndefault_targets = [\n  \"teams\",\n  \"Classroom\",\n]\n",
            "import.default_targets",
            4,
            "unknown target `Classroom`",
        );
        let c = parse("api.ump_token_file = \"u.token\"\napi.operator_token_file = \"o.token\"\n")
            .unwrap();
        let o = &c.api.origin;
        assert_eq!(
            (o.ump_token_line, o.operator_token_line),
            (Some(1), Some(2))
        );
    }

    /// A key that is missing, where that is for us to say rather than toml, is placed at its table.
    #[test]
    fn a_missing_client_secret_names_the_microsoft_table() {
        check(
            "[worker]\nconcurrency = 2\n\n[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\n",
            "microsoft.client_secret",
            4,
            "missing: give client_secret or client_secret_file",
        );
    }

    #[test]
    fn the_secret_is_never_shown_in_an_error() {
        let text = "[microsoft]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"hunter2-very-secret\"\nclient_secret_file = \"f\"\n";
        let e = check(text, "microsoft.client_secret", 4, "not both");
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
        let text = "[microsoft]\ntenant_id = \"\"\nclient_id = \"c\"\nclient_secret = \"hunter2-very-secret\"\n";
        let e = check(text, "microsoft.tenant_id", 2, "must not be empty");
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
    }
}
