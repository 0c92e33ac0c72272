//! `traceparent` on every request that leaves the process (Azure, notification targets, the
//! ledger): a [`Transport`] that puts the current span's context into the request's headers
//! before handing it to the transport it wraps. Installed only when traces are on.
//!
//! See <https://www.w3.org/TR/trace-context/#traceparent-header>.

use std::sync::Arc;

use aml_events::transport::{HttpTransport, Transport, TransportFuture};
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::on;

/// Sends through `inner`, each request carrying the current span's `traceparent` (and
/// `tracestate`); outside any span, the request goes as it came.
#[derive(Debug)]
pub struct Propagate<T> {
    inner: T,
}

impl<T: Transport> Transport for Propagate<T> {
    fn execute(&self, mut request: reqwest::Request) -> TransportFuture<'_> {
        let context = Span::current().context();
        TraceContextPropagator::new().inject_context(&context, &mut Headers(request.headers_mut()));
        self.inner.execute(request)
    }
}

/// A request's headers, as the propagator writes them. An empty value is not written (the
/// propagator gives an empty `tracestate` when there is none, a header that says nothing).
struct Headers<'a>(&'a mut HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        if value.is_empty() {
            return;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The transport for a client whose own is `http`, when traces are on: `http` wrapped, so
/// that its requests carry `traceparent`. `None` when they are off: the client is built as
/// usual, with nothing in the way.
pub fn wrapped<E>(
    http: impl FnOnce() -> Result<HttpTransport, E>,
) -> Result<Option<Arc<dyn Transport>>, E> {
    if !on() {
        return Ok(None);
    }
    Ok(Some(Arc::new(Propagate { inner: http()? })))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use aml_events::transport::TransportError;
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Keeps the headers of every request it is handed, and answers none.
    #[derive(Debug, Default, Clone)]
    struct Recording(Arc<Mutex<Vec<HeaderMap>>>);

    impl Transport for Recording {
        fn execute(&self, request: reqwest::Request) -> TransportFuture<'_> {
            self.0.lock().unwrap().push(request.headers().clone());
            Box::pin(async { Err(TransportError::Other("recorded".into())) })
        }
    }

    fn request() -> reqwest::Request {
        reqwest::Request::new(reqwest::Method::GET, "http://127.0.0.1/".parse().unwrap())
    }

    #[test]
    fn a_request_carries_the_current_spans_traceparent_and_none_outside_a_span() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let recording = Recording::default();
        let propagate = Propagate {
            inner: recording.clone(),
        };

        let expected = tracing::subscriber::with_default(subscriber, || {
            drop(propagate.execute(request()));
            let span = tracing::info_span!("action");
            let _entered = span.enter();
            drop(propagate.execute(request()));
            let context = span.context();
            let ids = context.span().span_context().clone();
            format!("00-{}-{}-01", ids.trace_id(), ids.span_id())
        });

        let sent = recording.0.lock().unwrap();
        assert_eq!(sent[0].get("traceparent"), None);
        assert_eq!(sent[1]["traceparent"], expected.as_str());
        assert_eq!(sent[1].get("tracestate"), None, "no empty tracestate");
    }
}
