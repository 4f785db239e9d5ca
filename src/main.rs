//! The `class-sync` binary: logging set-up, then the command line.

use clap::Parser;
use class_sync::cli::{Cli, Command};

/// mimalloc, not glibc's malloc: see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `serve` logs what it does; one-shot commands only warnings, so their own output stays readable.
    let default_filter = match cli.command {
        Command::Serve => "info,sqlx=warn",
        _ => "warn",
    };
    class_sync::observability::init_logging(default_filter);
    class_sync::cli::run(cli).await
}
