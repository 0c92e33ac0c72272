//! JSON log lines that carry their trace: `trace_id` and `span_id` of the innermost exported
//! span around the line (an action's, else its event's delivery span), added to what
//! tracing-subscriber's JSON formatter writes. Installed only when traces are on; off, there
//! are no spans and lines carry no ids.

use std::fmt;

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing::{Span, Subscriber};
use tracing_subscriber::{
    Registry,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

/// A JSON event formatter, and the line it writes with `"trace_id"` and `"span_id"` added last
/// (lowercase hex, as W3C `traceparent` writes them) when the line is written inside a span.
#[derive(Debug)]
pub struct WithTraceIds<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = current_ids() else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let object_end = line.trim_end().len();
        match line[..object_end].strip_suffix('}') {
            Some(fields) => write!(
                writer,
                r#"{fields},"trace_id":"{trace_id}","span_id":"{span_id}"}}{}"#,
                &line[object_end..]
            ),
            None => writer.write_str(&line),
        }
    }
}

/// The ids of the innermost span around the current one (itself included) that is exported.
fn current_ids() -> Option<(TraceId, SpanId)> {
    let current = Span::current().id()?;
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(&current)?;
        span.scope().find_map(|span| {
            let context = tracing_opentelemetry::get_otel_context(&span.id(), dispatch)?;
            let otel_span = context.span();
            let ids = otel_span.span_context();
            ids.is_valid().then(|| (ids.trace_id(), ids.span_id()))
        })
    })
}
