//! The command line of CONTRACT §5: parsing and dispatch here; one function per command in
//! `commands`, waiting and reports in `progress`, the status printer in `status`, exit statuses in
//! `exit`.

mod commands;
pub mod exit;
mod progress;
mod status;

use crate::app::{App, today_in_london};
use crate::config::Config;
use crate::core::domain::Target;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "class-sync",
    version,
    about = "Keeps school class groups in Microsoft Teams and Google Classroom in step with the UMP"
)]
pub struct Cli {
    /// Configuration file (default ./class-sync.toml; built-in defaults when it does not exist).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The date every calendar rule uses (default: today in Europe/London).
    #[arg(long, global = true, env = "CLASS_SYNC_TODAY", value_parser = parse_date)]
    pub today: Option<NaiveDate>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a UMP snapshot (JSON) or a OneRoster 1.1 CSV set (a folder or a zip with
    /// manifest.csv), store it and enqueue the work it implies.
    Import {
        path: PathBuf,
        /// Validate only; store nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        no_wait: bool,
    },
    /// Run the worker (until SIGTERM, or with --until-idle until the queue is empty).
    Work {
        /// Stop when nothing is queued or waiting to retry.
        #[arg(long)]
        until_idle: bool,
    },
    /// Operator's forced resync of schools or groups (all when none is named).
    Sync {
        #[arg(long = "school")]
        schools: Vec<String>,
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long, value_parser = parse_target)]
        target: Option<Target>,
        #[arg(long)]
        no_wait: bool,
    },
    /// The nightly job: archive what is due, create what may now be created.
    Nightly {
        #[arg(long)]
        no_wait: bool,
    },
    /// Archive one academic year now.
    Archive {
        #[arg(long)]
        year: String,
        #[arg(long)]
        dry_run: bool,
        /// Archive before the year's archive_on date.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        no_wait: bool,
    },
    /// The Restore button: un-archive one group's team or course, as a named person.
    Restore {
        group: String,
        #[arg(long, value_parser = parse_target)]
        target: Target,
        /// The person who pressed Restore.
        #[arg(long = "as")]
        actor: String,
        #[arg(long)]
        no_wait: bool,
    },
    /// Links by year and state, the queue, the last nightly run, stale schools; or one group's
    /// links; or one school's provisioning status (`--school`).
    Status {
        #[arg(conflicts_with = "school")]
        group: Option<String>,
        /// One school's provisioning status: its last import and recent history.
        #[arg(long)]
        school: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// HTTP API, worker and nightly scheduler.
    Serve,
    /// The whole year on the built-in mocks and a temporary store, narrated.
    Demo {
        /// Then keep the web console, the API and the mocks running (until Ctrl-C), and print the
        /// URL and the accounts to sign in with.
        #[arg(long)]
        serve: bool,
        /// Where `--serve` listens.
        #[arg(long, default_value = "127.0.0.1:8080", requires = "serve")]
        listen: String,
    },
    /// Operations on the store itself.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Copy this store (groups, links, jobs, audit, runs) into an empty PostgreSQL store.
    Copy {
        /// The target: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE
        #[arg(long)]
        to: String,
    },
}

/// Runs one command; an internal failure (store unreachable, I/O) is one line and exit 6.
pub async fn run(cli: Cli) -> ExitCode {
    match run_inner(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::INTERNAL)
        }
    }
}

async fn run_inner(cli: Cli) -> anyhow::Result<u8> {
    let fixed_today = cli.today;
    let today = cli.today.unwrap_or_else(today_in_london);
    if let Command::Demo { serve, listen } = &cli.command {
        return crate::demo::run(serve.then_some(listen.as_str())).await;
    }
    let config = match load_config(cli.config.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let actor = std::env::var("USER")
        .map(|u| format!("operator:{u}"))
        .unwrap_or_else(|_| "operator".into());
    match cli.command {
        Command::Import {
            path,
            dry_run,
            no_wait,
        } => commands::import(config, today, &path, dry_run, no_wait, &actor).await,
        Command::Serve => commands::serve(config, fixed_today).await,
        Command::Store {
            command: StoreCommand::Copy { to },
        } => commands::store_copy(&config, &to).await,
        Command::Demo { .. } => unreachable!("handled above"),
        command => {
            let app = App::new(config, today).await?;
            match command {
                Command::Work { until_idle } => commands::work(app, until_idle).await,
                Command::Sync {
                    schools,
                    groups,
                    target,
                    no_wait,
                } => commands::sync(app, &schools, &groups, target, no_wait, &actor).await,
                Command::Nightly { no_wait } => commands::nightly(app, no_wait, &actor).await,
                Command::Archive {
                    year,
                    dry_run,
                    force,
                    no_wait,
                } => commands::archive(app, &year, dry_run, force, no_wait, &actor).await,
                Command::Restore {
                    group,
                    target,
                    actor: person,
                    no_wait,
                } => commands::restore(app, &group, target, &person, no_wait).await,
                Command::Status {
                    group,
                    school,
                    json,
                } => match school {
                    Some(school) => commands::school_status(app, &school, json).await,
                    None => commands::status(app, group.as_deref(), json).await,
                },
                Command::Import { .. }
                | Command::Serve
                | Command::Demo { .. }
                | Command::Store { .. } => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date of the form YYYY-MM-DD"))
}

fn parse_target(s: &str) -> Result<Target, String> {
    s.parse()
}

/// Loads the configuration the way CONTRACT §5 says: the named file, else ./class-sync.toml if it exists, else defaults.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, crate::config::ConfigError> {
    match path {
        Some(p) => Config::load(p),
        None => {
            let default = PathBuf::from("class-sync.toml");
            if default.exists() {
                Config::load(&default)
            } else {
                Ok(Config::builtin())
            }
        }
    }
}
