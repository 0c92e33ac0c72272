//! Where an event's trace comes from: the CloudEvents distributed-tracing extension of the event
//! when it has one, else the W3C trace context headers of the request that carried it, else
//! nowhere (a new trace). Both are read by OpenTelemetry's W3C propagator.
//!
//! See <https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/extensions/distributed-tracing.md>
//! and <https://www.w3.org/TR/trace-context/>.

use aml_events::{Event, Schema};
use opentelemetry::{
    Context,
    propagation::{Extractor, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The W3C header (and CloudEvents extension) naming the parent span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header (and CloudEvents extension) carrying vendors' trace state.
pub const TRACESTATE: &str = "tracestate";

/// What a host's request says about the events it carries, for their spans: its W3C trace
/// context headers and the Functions host's invocation id.
#[derive(Debug, Clone, Copy, Default)]
pub struct Incoming<'a> {
    /// The `traceparent` header.
    pub traceparent: Option<&'a str>,
    /// The `tracestate` header.
    pub tracestate: Option<&'a str>,
    /// `X-Azure-Functions-InvocationId`, when the Functions host sent it.
    pub invocation_id: Option<&'a str>,
}

/// The parent of `event`'s span: its CloudEvents `traceparent` when that is valid, else the
/// request's, else none (an empty context: the span starts a trace).
pub fn of<T>(event: &Event<T>, incoming: &Incoming<'_>) -> Context {
    let extension = |name: &str| {
        (event.schema == Schema::CloudEvents)
            .then(|| event.extensions.get(name)?.as_str())
            .flatten()
    };
    let from_event = TraceContext {
        traceparent: extension(TRACEPARENT),
        tracestate: extension(TRACESTATE),
    };
    let from_request = TraceContext {
        traceparent: incoming.traceparent,
        tracestate: incoming.tracestate,
    };
    [from_event, from_request]
        .into_iter()
        .filter(|carrier| carrier.traceparent.is_some_and(is_well_formed))
        .map(|carrier| TraceContextPropagator::new().extract(&carrier))
        .find(|context| context.span().span_context().is_valid())
        .unwrap_or_default()
}

/// Whether `traceparent` has the W3C form `version-traceid-parentid-flags`: 2, 32, 16 and 2
/// lower-case hex digits, version `ff` forbidden. OpenTelemetry's propagator is more lenient
/// (it trims, and takes ids of any length and with a sign), and a malformed parent would put an
/// event in a trace not its own; a later version's value may carry more fields after the flags.
/// See <https://www.w3.org/TR/trace-context/#traceparent-header-field-values>.
fn is_well_formed(traceparent: &str) -> bool {
    const LENGTH: usize = 55;
    const DASHES: [usize; 3] = [2, 35, 52];
    let bytes = traceparent.as_bytes();
    let hex = |byte: &u8| matches!(byte, b'0'..=b'9' | b'a'..=b'f');
    let base = bytes.get(..LENGTH).unwrap_or(bytes);
    let version_00 = bytes.starts_with(b"00");
    base.len() == LENGTH
        && (bytes.len() == LENGTH || (!version_00 && bytes[LENGTH] == b'-'))
        && !bytes.starts_with(b"ff")
        && base.iter().enumerate().all(|(at, byte)| {
            if DASHES.contains(&at) {
                *byte == b'-'
            } else {
                hex(byte)
            }
        })
}

/// A `traceparent` and `tracestate` pair, as the propagator reads them.
struct TraceContext<'a> {
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
}

impl Extractor for TraceContext<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent,
            TRACESTATE => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;

    const EVENT_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const HEADER_PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn cloud_event(extensions: serde_json::Value) -> Event {
        let mut event = serde_json::json!({
            "specversion": "1.0", "id": "e-1", "type": "t", "source": "s",
        });
        event
            .as_object_mut()
            .unwrap()
            .extend(extensions.as_object().unwrap().clone());
        let body = serde_json::to_vec(&event).unwrap();
        aml_events::envelope::parse(Some("application/cloudevents+json"), &body)
            .unwrap()
            .remove(0)
    }

    fn ids(context: &Context) -> (TraceId, SpanId) {
        let span = context.span();
        let span_context = span.span_context();
        (span_context.trace_id(), span_context.span_id())
    }

    #[test]
    fn the_events_traceparent_comes_before_the_requests() {
        let event = cloud_event(serde_json::json!({ "traceparent": EVENT_PARENT }));
        let incoming = Incoming {
            traceparent: Some(HEADER_PARENT),
            ..Incoming::default()
        };

        let parent = of(&event, &incoming);

        assert_eq!(
            ids(&parent),
            (
                TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
                SpanId::from_hex("00f067aa0ba902b7").unwrap()
            )
        );
        assert!(parent.span().span_context().is_remote());
    }

    #[test]
    fn a_malformed_extension_gives_way_to_the_request_and_nothing_to_a_new_trace() {
        let event = cloud_event(serde_json::json!({ "traceparent": "00-not-a-parent-01" }));
        let incoming = Incoming {
            traceparent: Some(HEADER_PARENT),
            ..Incoming::default()
        };
        assert_eq!(
            ids(&of(&event, &incoming)).0,
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap()
        );

        let none = of(&event, &Incoming::default());
        assert!(!none.span().span_context().is_valid());
    }

    #[test]
    fn only_the_w3c_form_is_a_parent() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(is_well_formed(ok));
        assert!(is_well_formed(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"
        ));
        for malformed in [
            "00-1-2-01",
            "00-+1-+2-1",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "",
        ] {
            assert!(!is_well_formed(malformed), "{malformed:?}");
        }
    }

    #[test]
    fn a_lenient_parse_of_a_malformed_parent_is_not_taken() {
        let event = cloud_event(serde_json::json!({ "traceparent": "00-+1-+2-1" }));
        let parent = of(&event, &Incoming::default());
        assert!(!parent.span().span_context().is_valid());
    }
}
