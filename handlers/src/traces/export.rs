//! The OTLP/HTTP exporter and the tracer provider. Spans are batched and posted as protobuf by
//! OpenTelemetry's batch processor on its own thread, off the request path, with the
//! workspace's reqwest (its blocking client, rustls: https to a collector needs no OpenSSL);
//! [`Exporting::shutdown`] at a stop exports what is pending.
//!
//! See <https://opentelemetry.io/docs/specs/otlp/#otlphttp> and
//! <https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>.

use std::io::Read;

use async_trait::async_trait;
use opentelemetry::{Key, KeyValue, trace::TracerProvider as _};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{
    Resource,
    trace::{BatchSpanProcessor, SdkTracer, SdkTracerProvider},
};

use super::{
    ON, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, Settings,
};

/// The service's name when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` gives one
/// (OpenTelemetry's own default is `unknown_service:<executable>`).
const SERVICE_NAME: &str = env!("CARGO_PKG_NAME");
/// Resource attribute names.
/// See <https://opentelemetry.io/docs/specs/semconv/resource/#service>.
const SERVICE_NAME_KEY: &str = "service.name";
const SERVICE_VERSION_KEY: &str = "service.version";
/// The largest collector answer read (an `ExportTraceServiceResponse` is a few bytes).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Spans being exported: the tracer provider, whose batch processor runs on its own thread.
#[derive(Debug)]
pub struct Exporting {
    provider: SdkTracerProvider,
}

/// Why export cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The HTTP client could not be built.
    #[error("the trace exporter's HTTP client could not be built")]
    Client(#[source] reqwest::Error),
    /// The exporter refused its settings (an endpoint that is not a URL).
    #[error(
        "the trace exporter cannot use {OTEL_EXPORTER_OTLP_TRACES_ENDPOINT} or {OTEL_EXPORTER_OTLP_ENDPOINT}"
    )]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
    /// Headers (often a key) would go over plain http to another machine.
    #[error(
        "refusing to send {OTEL_EXPORTER_OTLP_HEADERS} over plain http to {host}: use https for the collector, or a loopback address"
    )]
    InsecureHeaders {
        /// The collector's host.
        host: String,
    },
}

/// Starts export when `settings` turn it on (and turns [`super::on`] on); `None` when off.
pub fn start(settings: &Settings) -> Result<Option<Exporting>, ExportError> {
    let Some(endpoint) = &settings.endpoint else {
        return Ok(None);
    };
    refuse_headers_in_the_clear(endpoint, settings.headers)?;
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        // Only protobuf is built in: OTEL_EXPORTER_OTLP_PROTOCOL cannot ask for JSON or gRPC.
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(BlockingClient::new(settings)?)
        .build()
        .map_err(ExportError::Exporter)?;
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .with_resource(resource())
        .build();
    ON.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(Some(Exporting { provider }))
}

impl Exporting {
    /// The tracer the `tracing` layer makes spans with.
    pub fn tracer(&self) -> SdkTracer {
        self.provider.tracer(SERVICE_NAME)
    }

    /// Exports what is pending and stops: at the end of `serve`, after the last request.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "could not export the last spans");
        }
    }
}

/// Headers go to a collector over https, or over plain http only to this machine, as every
/// key the handlers send. An endpoint that is not a URL is the exporter's to refuse.
fn refuse_headers_in_the_clear(endpoint: &str, headers: bool) -> Result<(), ExportError> {
    let Ok(url) = url::Url::parse(endpoint) else {
        return Ok(());
    };
    if headers && url.scheme() == "http" && !aml_events::azure::is_loopback(&url) {
        return Err(ExportError::InsecureHeaders {
            host: url.host_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(())
}

/// The resource every span is exported with: what OpenTelemetry's SDK reads from
/// `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, with this program's name and version
/// where they give none.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&Key::from_static_str(SERVICE_NAME_KEY))
        .is_none_or(|name| name.as_str().starts_with("unknown_service"));
    let unversioned = detected
        .get(&Key::from_static_str(SERVICE_VERSION_KEY))
        .is_none();
    let ours = [
        unnamed.then(|| KeyValue::new(SERVICE_NAME_KEY, SERVICE_NAME)),
        unversioned.then(|| KeyValue::new(SERVICE_VERSION_KEY, env!("CARGO_PKG_VERSION"))),
    ];
    Resource::builder()
        .with_attributes(ours.into_iter().flatten())
        .build()
}

/// The exporter's HTTP client: reqwest's blocking one, since the batch processor exports on a
/// thread of its own with no async runtime. It follows no redirect: the collector's headers
/// (`OTEL_EXPORTER_OTLP_HEADERS`, often a key) go to the endpoint set and nowhere else.
#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

impl BlockingClient {
    /// Built on a thread of its own: reqwest's blocking client cannot be built inside an async
    /// runtime (the Lambda bootstrap starts export from one).
    fn new(settings: &Settings) -> Result<BlockingClient, ExportError> {
        let timeout = settings.timeout;
        let build = move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("aml-handlers/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        let client = std::thread::scope(|scope| scope.spawn(build).join())
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .map_err(ExportError::Client)?;
        Ok(BlockingClient(client))
    }
}

#[async_trait]
impl HttpClient for BlockingClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::blocking::Request::try_from(request)?;
        let mut answer = self.0.execute(request)?;
        let mut body = Vec::new();
        (&mut answer)
            .take(MAX_ANSWER_BYTES)
            .read_to_end(&mut body)?;
        let mut response = Response::builder()
            .status(answer.status())
            .body(Bytes::from(body))?;
        *response.headers_mut() = std::mem::take(answer.headers_mut());
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_go_over_https_or_to_loopback_only() {
        let refused = refuse_headers_in_the_clear("http://collector:4318/v1/traces", true);
        assert!(
            matches!(&refused, Err(ExportError::InsecureHeaders { host }) if host == "collector"),
            "{refused:?}"
        );
        for (endpoint, headers) in [
            ("https://collector:4318/v1/traces", true),
            ("http://127.0.0.1:4318/v1/traces", true),
            ("http://localhost:4318/v1/traces", true),
            ("http://collector:4318/v1/traces", false),
        ] {
            assert!(
                refuse_headers_in_the_clear(endpoint, headers).is_ok(),
                "{endpoint} with headers: {headers}"
            );
        }
    }
}
