//! Structured logs on stderr with `tracing`: text for people, JSON (`AML_LOG_FORMAT=json`) for
//! log pipelines; and, when an OTLP endpoint is set, the spans of [`crate::traces`] exported
//! beside them, with JSON lines carrying their `trace_id` and `span_id`. The Functions host
//! forwards the handler's stderr to its own logs.

use tracing::Level;
use tracing_subscriber::{
    EnvFilter,
    filter::{FilterExt, Targets, filter_fn},
    fmt,
    layer::{Layer, SubscriberExt},
    util::SubscriberInitExt,
};

use crate::{
    config::{Config, LogFormat},
    traces::{
        self,
        export::{ExportError, Exporting},
        log_ids::WithTraceIds,
    },
};

/// What logs and traces need until the process stops: the exporter, when traces are on.
#[derive(Debug)]
#[must_use = "a stop must shut telemetry down, or the spans not yet exported are lost"]
pub struct Telemetry {
    exporting: Option<Exporting>,
}

impl Telemetry {
    /// Exports the spans still pending (at most the exporter's timeout); nothing when traces
    /// are off.
    pub fn shutdown(self) {
        if let Some(exporting) = self.exporting {
            exporting.shutdown();
        }
    }
}

/// Installs the global subscriber (later calls install none) and starts exporting spans when
/// `traces` turn it on. Fails only when the exporter cannot be built.
pub fn init(config: &Config, traces: &traces::Settings) -> Result<Telemetry, ExportError> {
    let filter =
        EnvFilter::try_new(&config.host.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let exporting = traces::export::start(traces)?;
    let Some(exporting) = exporting else {
        logs_only(config, filter);
        return Ok(Telemetry { exporting: None });
    };
    let spans = tracing_opentelemetry::layer()
        .with_tracer(exporting.tracer())
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
        // The spans made for export, and nothing else: no log line becomes a span event.
        .with_filter(Targets::new().with_target(traces::TARGET, Level::INFO));
    // Log lines stay as they are without traces: the delivery and action spans add no prefix
    // or `span` object (JSON lines carry their ids instead).
    let not_ours = filter_fn(|meta| !(meta.is_span() && meta.target() == traces::TARGET));
    let logs = fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    let logs = match config.host.log_format {
        LogFormat::Text => logs
            .with_target(false)
            .with_filter(filter.and(not_ours))
            .boxed(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .map_event_format(WithTraceIds)
            .with_filter(filter.and(not_ours))
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init();
    Ok(Telemetry {
        exporting: Some(exporting),
    })
}

/// The subscriber without traces: logs only, filtered once for all layers.
fn logs_only(config: &Config, filter: EnvFilter) {
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
