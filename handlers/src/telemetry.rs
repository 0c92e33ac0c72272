//! Structured logs on stderr with `tracing`: text for people, JSON (`AML_LOG_FORMAT=json`) for
//! log pipelines. The Functions host forwards the handler's stderr to its own logs.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber; later calls are ignored.
pub fn init(config: &Config) {
    let filter =
        EnvFilter::try_new(&config.host.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match config.host.log_format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
