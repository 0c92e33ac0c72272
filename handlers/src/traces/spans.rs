//! The spans: one per delivered event (`function`, `event.id`, `event.type`,
//! `faas.invocation_id`), whose parent [`super::parent`] finds, and one per action inside it
//! (`action`, `route`, `target`, `status`). They are made only when traces are on; off, the
//! work runs as it came.
//!
//! `tracing-opentelemetry` reads the `otel.*` fields: the span's name, kind and status.
//! See <https://docs.rs/tracing-opentelemetry/0.34.0/tracing_opentelemetry/#special-fields>.

use std::pin::Pin;

use aml_events::{Event, Function, chain};
use futures_util::FutureExt;
use tracing::{Instrument, Span, field};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{TARGET, on, parent};
use crate::{
    functions::HandlerError,
    outcome::{Action, ActionReport, ActionStatus, Outcome},
};

/// The delivery span of each event of a delivery, in order; none when traces are off.
#[derive(Debug, Default)]
pub struct Deliveries(Vec<Span>);

impl Deliveries {
    /// A span for each of `events`, for `function` when a host names one (else each event's
    /// type's), parented as [`parent::of`] says.
    pub fn of<T>(
        events: &[Event<T>],
        function: Option<Function>,
        incoming: &parent::Incoming<'_>,
    ) -> Deliveries {
        if !on() {
            return Deliveries::default();
        }
        let spans = events.iter().map(|event| {
            let function = function.or_else(|| event.function()).map(Function::name);
            let span = tracing::info_span!(
                target: TARGET,
                "delivery",
                otel.name = function.unwrap_or("delivery"),
                // Each event is a message from Event Grid; Azure Monitor shows consumer spans
                // as requests.
                otel.kind = "consumer",
                function,
                // Texts, not `%` (Display): the exporter would format them into new strings.
                "event.id" = event.id.as_str(),
                "event.type" = event.event_type.as_str(),
                "faas.invocation_id" = incoming.invocation_id.filter(|id| !id.is_empty()),
                otel.status_code = field::Empty,
                otel.status_description = field::Empty,
            );
            // Always set, even to an empty context: each event is a trace of its own unless it
            // or its request names one, whatever span is current.
            let _ = span.set_parent(parent::of(event, incoming));
            span
        });
        Deliveries(spans.collect())
    }

    /// Each event's span in order, then `None` without end (all `None` when traces are off):
    /// zipped with the events. An event without a span runs its work as it is, since its
    /// future is large and wrapping it means copying it.
    pub fn each(&self) -> impl Iterator<Item = Option<&Span>> + '_ {
        (self.0.iter().map(Some)).chain(std::iter::repeat(None))
    }
}

/// An event's `work` inside its delivery `span`, the span marked failed when the event fails.
/// Boxed: the caller runs `work` unwrapped when there is no span, and its future keeps only
/// room for a pointer for this one (see [`Deliveries::each`]).
pub fn delivered<F>(span: &Span, work: F) -> Pin<Box<impl Future<Output = F::Output>>>
where
    F: Future<Output = Result<Outcome, HandlerError>>,
{
    let span = span.clone();
    Box::pin(work.instrument(span.clone()).inspect(move |result| {
        if let Err(err) = result {
            span.record("otel.status_code", "error");
            span.record("otel.status_description", field::display(chain(err)));
        }
    }))
}

/// What an action's work comes to, as the span's `status`.
pub trait Reported {
    /// How the action ended, when it says.
    fn status(&self) -> Option<ActionStatus>;
}

impl Reported for ActionReport {
    fn status(&self) -> Option<ActionStatus> {
        Some(self.status)
    }
}

/// A report with what goes with it (the failure that has the event redelivered, the facts
/// read).
impl<T: Reported, U> Reported for (T, U) {
    fn status(&self) -> Option<ActionStatus> {
        self.0.status()
    }
}

/// Runs the work `start` starts, one `action` that `route` asked for on `target` (named only
/// when traces are on), inside a span of its own when traces are on: a child of the current
/// span, the event's delivery span. The work is started here, in place, so that with traces
/// off nothing copies its (large) future into a wrapper; with traces on, the wrapper is boxed.
pub async fn action<F>(
    action: Action,
    route: &str,
    target: impl FnOnce() -> String,
    start: impl FnOnce() -> F,
) -> F::Output
where
    F: Future,
    F::Output: Reported,
{
    if !on() {
        return start().await;
    }
    let span = tracing::info_span!(
        target: TARGET,
        "action",
        otel.name = action.as_str(),
        action = action.as_str(),
        route,
        target = target(),
        status = field::Empty,
        otel.status_code = field::Empty,
    );
    let done = Box::pin(start().instrument(span.clone())).await;
    if let Some(status) = done.status() {
        span.record("status", status.as_str());
        if status == ActionStatus::Failed {
            span.record("otel.status_code", "error");
        }
    }
    done
}
