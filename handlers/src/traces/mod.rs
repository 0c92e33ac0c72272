//! Traces: a span per delivered event and per action, exported with OpenTelemetry's OTLP over
//! HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
//! set, and the W3C `traceparent` on the requests that leave the process.
//!
//! # Layout
//! - [`Settings`]: whether export is on, read once at start-up; [`on`]: the flag every place
//!   that would make a span reads first, so that with export off no span is made at all.
//! - [`export`]: the OTLP exporter, sent with the workspace's reqwest on the batch processor's
//!   own thread, and the tracer provider that a stop shuts down (flushing what is pending).
//! - [`parent`]: what a request says about its trace ([`parent::Incoming`]) and the parent of
//!   an event's span: its CloudEvents `traceparent`, else the request's, else none.
//! - [`spans`]: the delivery span of each event and the span of each action.
//! - [`propagate`]: the transport wrapper that puts `traceparent` on outgoing requests.
//! - [`log_ids`]: JSON log lines carrying the current span's `trace_id` and `span_id`.
//!
//! It does not trace the hosts' own HTTP handling (one span per event says more than one per
//! request), nor export logs or metrics. OpenTelemetry's SDK reads its other standard
//! variables itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER`).

pub mod export;
pub mod log_ids;
pub mod parent;
pub mod propagate;
pub mod spans;

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use tracing::{Span, instrument::Instrumented};

/// The base URL of an OTLP collector; traces go to `{it}/v1/traces`.
/// See <https://opentelemetry.io/docs/specs/otel/protocol/exporter/>.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The full URL traces are posted to, ahead of [`OTEL_EXPORTER_OTLP_ENDPOINT`].
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// The exporter's timeout in milliseconds, for traces only (ahead of the next one).
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// The exporter's timeout in milliseconds (default 10 000).
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Headers sent with every export (often a collector's key); read by OpenTelemetry's SDK.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Headers sent with trace exports, beside [`OTEL_EXPORTER_OTLP_HEADERS`].
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";

/// The `tracing` target of every span made here: the exporter is handed these spans and no
/// others (no log line, no span of a dependency).
pub const TARGET: &str = "aml_handlers::traces";

/// Where traces go below `OTEL_EXPORTER_OTLP_ENDPOINT`.
const TRACES_PATH: &str = "/v1/traces";
/// OpenTelemetry's default export timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether spans are made and exported: set once, by [`export::start`].
static ON: AtomicBool = AtomicBool::new(false);

/// Whether traces are on. Off, nothing on the request path makes a span.
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// What decides export, from OpenTelemetry's standard variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where spans are posted: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` added; `None` (neither set): export off.
    pub endpoint: Option<String>,
    /// How long one export may take, its retries included.
    pub timeout: Duration,
    /// Whether `OTEL_EXPORTER_OTLP_HEADERS` or `OTEL_EXPORTER_OTLP_TRACES_HEADERS` adds
    /// headers (a key, as like as not): they go only over https or to loopback.
    pub headers: bool,
}

impl Settings {
    /// The settings from the environment.
    pub fn from_env() -> Settings {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from `get`. A timeout that is not a whole number of milliseconds is
    /// ignored, as OpenTelemetry's SDK ignores it.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Settings {
        let set = |name: &str| {
            get(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let endpoint = set(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).or_else(|| {
            let base = set(OTEL_EXPORTER_OTLP_ENDPOINT)?;
            Some(format!("{}{TRACES_PATH}", base.trim_end_matches('/')))
        });
        let timeout = [
            OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
            OTEL_EXPORTER_OTLP_TIMEOUT,
        ]
        .into_iter()
        .find_map(|name| set(name)?.parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let headers = [
            OTEL_EXPORTER_OTLP_HEADERS,
            OTEL_EXPORTER_OTLP_TRACES_HEADERS,
        ]
        .into_iter()
        .any(|name| set(name).is_some());
        Settings {
            endpoint,
            timeout,
            headers,
        }
    }
}

/// `future` inside the current span when traces are on: what a spawned task needs to stay in
/// the span it was started from (its requests carry that span's `traceparent`).
pub fn in_current_span<F: Future>(future: F) -> Instrumented<F> {
    let span = if on() { Span::current() } else { Span::none() };
    tracing::Instrument::instrument(future, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let pairs = pairs.to_vec();
        Settings::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn export_is_on_with_either_endpoint_the_traces_one_taken_as_it_is() {
        assert_eq!(
            settings(&[]),
            Settings {
                endpoint: None,
                timeout: DEFAULT_TIMEOUT,
                headers: false,
            }
        );
        assert_eq!(
            settings(&[(OTEL_EXPORTER_OTLP_ENDPOINT, " ")]).endpoint,
            None
        );
        for base in ["http://127.0.0.1:4318", "http://127.0.0.1:4318/"] {
            assert_eq!(
                settings(&[(OTEL_EXPORTER_OTLP_ENDPOINT, base)])
                    .endpoint
                    .as_deref(),
                Some("http://127.0.0.1:4318/v1/traces")
            );
        }
        let both = settings(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
            (
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                "https://traces.example/otlp",
            ),
        ]);
        assert_eq!(
            both.endpoint.as_deref(),
            Some("https://traces.example/otlp")
        );
    }

    #[test]
    fn the_timeout_is_in_milliseconds_the_traces_one_first() {
        let both = settings(&[
            (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "2500"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "9000"),
        ]);
        assert_eq!(both.timeout, Duration::from_millis(2500));
        assert_eq!(
            settings(&[(OTEL_EXPORTER_OTLP_TIMEOUT, "9000")]).timeout,
            Duration::from_millis(9000)
        );
        assert_eq!(
            settings(&[(OTEL_EXPORTER_OTLP_TIMEOUT, "soon")]).timeout,
            DEFAULT_TIMEOUT
        );
    }
}
