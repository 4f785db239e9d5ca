//! What operators see of a running process: the log subscriber and the Prometheus text of `/metrics`.
//!
//! Owns: log set-up (human on a terminal, JSON otherwise, `RUST_LOG` honoured) and the metric
//! families. Must not: log or expose a secret (client secrets, keys and bearer tokens stay in
//! `SecretString`; nothing here reads them), or decide anything.

mod metrics;

pub use metrics::Metrics;

use std::io::IsTerminal;

/// Human logs on a terminal, JSON otherwise, to stderr; `RUST_LOG` overrides `default_filter`.
pub fn init_logging(default_filter: &str) {
    use tracing_subscriber::{EnvFilter, fmt, prelude::*};
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
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
