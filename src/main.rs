//! The `class-sync` binary: logging set-up, then the command line.

use clap::Parser;
use std::io::IsTerminal;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_logging();
    class_sync::cli::run(class_sync::cli::Cli::parse()).await
}

/// Human logs on a terminal, JSON otherwise; `RUST_LOG` honoured (default: warnings only, so the
/// commands' own output stays readable). Logs go to stderr.
fn init_logging() {
    use tracing_subscriber::{EnvFilter, fmt, prelude::*};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let registry = tracing_subscriber::registry().with(filter);
    if std::io::stderr().is_terminal() {
        registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .init();
    } else {
        registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .init();
    }
}
