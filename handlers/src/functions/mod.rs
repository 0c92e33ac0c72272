//! The five functions, one module each: a typed event in, an [`Outcome`] out, no transport
//! types. [`handle_all`] is the one entry point every host calls.
//!
//! # Layout
//! - [`prepare`]: checks an event's type against the function asked for and the workspace
//!   allow-list, and reads its data; [`run`] finds the routes it matches and hands it to its
//!   function; [`handle_all`] does both for a delivery, within the deadline.
//! - [`actions`]: the actions the functions share (notify, enrich, retrain, smoke-test), each
//!   effect once through the ledger, and how their failures are sorted.
//! - one module per function, named after it; [`monitor_breach`], the drift a model monitor
//!   reports through `RunStatusChanged`.
//!
//! What reaches Azure is decided here; how requests travel is the client's job, and how
//! answers are encoded is the hosts'.

pub mod actions;
pub mod dataset_drift_detected;
pub mod error;
pub mod group;
pub mod model_deployed;
pub mod model_registered;
pub mod monitor_breach;
pub mod notice;
pub mod run_completed;
pub mod run_status_changed;

use std::sync::atomic::{AtomicBool, Ordering};

use aml_events::{AmlEvent, Event, Function, envelope::Decoded, events::RunStatus};
use futures_util::FutureExt;
use tokio::time::Instant;
use tracing::{info, warn};

use actions::{Delivery, Handled};
pub use error::{BoxError, HandlerError};

use crate::{
    AppContext,
    outcome::{ActionReport, Outcome},
    traces::{parent::Incoming, spans},
};

/// An event checked and typed, ready for its function; or already answered.
#[derive(Debug)]
pub enum Prepared {
    /// An event one of the five functions acts on.
    Act(Box<Typed>),
    /// Acknowledged on purpose, nothing to do (another type, another workspace).
    Acknowledged(Outcome),
}

impl Prepared {
    /// The event's id.
    pub fn event_id(&self) -> &str {
        match self {
            Prepared::Act(typed) => &typed.event.id,
            Prepared::Acknowledged(outcome) => &outcome.event_id,
        }
    }
}

/// An event for one of the five functions: its envelope, and its data read as that
/// function's payload (the variant of [`AmlEvent`] names the function).
#[derive(Debug)]
pub struct Typed {
    /// The envelope: id, type, source, subject, time.
    pub event: Event<()>,
    /// The payload.
    pub data: AmlEvent,
}

/// Checks one event without acting on it: as `function` when a host names one (a Functions
/// route, a webhook's `functionName`), else as the function of its type.
///
/// An event of another type, a system event or an event from a workspace outside
/// `AML_WORKSPACES` is acknowledged with a note. Malformed data is an error, found before any
/// event of a batch is acted on.
pub fn prepare(
    mut event: Event<Decoded>,
    function: Option<Function>,
    ctx: &AppContext,
) -> Result<Prepared, HandlerError> {
    let function = match (function, event.function()) {
        (Some(wanted), Some(actual)) if wanted == actual => actual,
        (None, Some(actual)) => actual,
        (wanted, _) => {
            warn!(
                event_id = %event.id,
                event_type = %event.event_type,
                function = wanted.map(Function::name),
                "event type is not this function's; acknowledged, nothing done"
            );
            let note = match wanted {
                Some(wanted) => format!(
                    "event type {} is not handled by {wanted}; acknowledged, nothing done",
                    event.event_type
                ),
                None => format!(
                    "event type {} is not an Azure ML event this app handles; acknowledged, nothing done",
                    event.event_type
                ),
            };
            return Ok(Prepared::Acknowledged(Outcome::acknowledged(
                wanted, &event, note,
            )));
        }
    };
    let workspace = event.workspace();
    if !ctx.config.host.allows(workspace.as_ref()) {
        warn!(event_id = %event.id, source = event.source.as_deref(), "workspace is not in AML_WORKSPACES; acknowledged, nothing done");
        let note = format!(
            "source {} is not a workspace in AML_WORKSPACES; acknowledged, nothing done",
            event.source.as_deref().unwrap_or("(none)")
        );
        return Ok(Prepared::Acknowledged(Outcome::acknowledged(
            Some(function),
            &event,
            note,
        )));
    }
    if let Some(done) = ctx.recent.completed(function, &event.id) {
        info!(event_id = %event.id, function = function.name(), "event already handled; acknowledged without repeating its actions");
        let outcome = done
            .into_iter()
            .fold(Outcome::new(Some(function), &event), |outcome, action| {
                outcome.with(ActionReport::duplicate(action))
            });
        return Ok(Prepared::Acknowledged(outcome));
    }
    let data = match event.data.take() {
        Some(decoded) => decoded?,
        None => AmlEvent::decode(&event.id, &event.event_type, None)?,
    };
    if data.function() != Some(function) {
        // `event.function()` named one of the five, so its data decoded as one of them.
        return Ok(Prepared::Acknowledged(Outcome::acknowledged(
            Some(function),
            &event,
            "no payload to act on".into(),
        )));
    }
    Ok(Prepared::Act(Box::new(Typed {
        event: event.with_data(()),
        data,
    })))
}

/// Runs a prepared event's function under the routes it matches (none: acknowledged with the
/// note that says why), and remembers the event once its function completed. When an action
/// must have the event redelivered, what was done is logged (the host drops a failed
/// delivery's answer) and the delivery fails.
pub async fn run(
    prepared: Prepared,
    delivery: &Delivery<'_>,
    ctx: &AppContext,
) -> Result<Outcome, HandlerError> {
    let typed = match prepared {
        Prepared::Acknowledged(outcome) => {
            ctx.metrics.actions(&outcome.actions);
            return Ok(outcome);
        }
        Prepared::Act(typed) => *typed,
    };
    let Typed { event, data } = typed;
    let Some(function) = data.function() else {
        let note = "no payload to act on".to_owned();
        return Ok(Outcome::acknowledged(None, &event, note));
    };
    // A monitor run that carries the breach tag but did not fail is no news, whatever routes
    // say (it recovered, or is still running). The status first: a failed run's tags are not
    // read here.
    if let AmlEvent::RunStatusChanged(run) = &data
        && run.run_status != Some(RunStatus::Failed)
        && run.monitor_breach_text().is_some()
    {
        return Ok(monitor_breach::not_a_breach(&event, run));
    }
    let matched = match ctx.config.routes.matching(function, &event, &data) {
        Ok(matched) => matched,
        Err(note) => {
            info!(event_id = %event.id, "{note}");
            return Ok(Outcome::acknowledged(
                Some(function),
                &event,
                note.to_owned(),
            ));
        }
    };
    let actions = delivery.actions(&event, matched);
    let actions = &actions;
    let handled: Handled = match data {
        AmlEvent::ModelRegistered(model) => model_registered::handle(&event, model, actions).await,
        AmlEvent::ModelDeployed(deployed) => {
            model_deployed::handle(&event, deployed, actions).await
        }
        AmlEvent::RunCompleted(run) => run_completed::handle(&event, run, actions).await,
        AmlEvent::DatasetDriftDetected(drift) => {
            dataset_drift_detected::handle(&event, drift, actions).await
        }
        AmlEvent::RunStatusChanged(run) => run_status_changed::handle(&event, run, actions).await,
        // `data.function()` named one of the five.
        AmlEvent::SubscriptionValidation(_)
        | AmlEvent::SubscriptionDeleted(_)
        | AmlEvent::Unknown { .. } => {
            Outcome::acknowledged(Some(function), &event, "no payload to act on".into()).into()
        }
    };
    let (outcome, failure) = handled.finish();
    ctx.metrics.actions(&outcome.actions);
    match (outcome, failure) {
        (outcome, None) => {
            let taken = outcome.actions.iter().map(|report| report.action);
            ctx.recent.remember(function, &outcome.event_id, taken);
            Ok(outcome)
        }
        (outcome, Some(failure)) => {
            warn!(event_id = %outcome.event_id, function = function.name(), actions = %outcome.summary(), error = %aml_events::chain(&failure), "event not finished; it will be redelivered");
            Err(failure)
        }
    }
}

/// Handles every event of a delivery: all are checked first (a malformed one fails the
/// delivery before anything is done), then run concurrently, within `AML_DEADLINE_SECONDS`.
/// When the deadline comes first, the delivery fails naming the events not handled; their
/// effects in flight go on and are recorded (see [`actions::once`]). With traces on, each event
/// runs in a delivery span whose parent `incoming` may name.
pub async fn handle_all(
    events: Vec<Event<Decoded>>,
    function: Option<Function>,
    incoming: &Incoming<'_>,
    ctx: &AppContext,
) -> Result<Vec<Outcome>, HandlerError> {
    // Counted here, where what became of every event of the delivery is known.
    let tally = ctx.metrics.tally(&events, function);
    let handled = handle_delivery(events, function, incoming, ctx).await;
    ctx.metrics.events(&tally, &handled);
    handled
}

async fn handle_delivery(
    events: Vec<Event<Decoded>>,
    function: Option<Function>,
    incoming: &Incoming<'_>,
    ctx: &AppContext,
) -> Result<Vec<Outcome>, HandlerError> {
    let spans = spans::Deliveries::of(&events, function, incoming);
    let prepared = events
        .into_iter()
        .map(|event| prepare(event, function, ctx))
        .collect::<Result<Vec<_>, _>>()?;
    let budget = ctx.config.host.deadline;
    let answer_by = Instant::now() + budget;
    let delivery = Delivery::new(ctx, answer_by);
    let ids: Vec<String> = prepared
        .iter()
        .map(Prepared::event_id)
        .map(str::to_owned)
        .collect();
    let finished: Vec<AtomicBool> = ids.iter().map(|_| AtomicBool::new(false)).collect();
    let mut work = std::pin::pin!(futures_util::future::join_all(
        prepared.into_iter().zip(&finished).zip(spans.each()).map(
            |((prepared, finished), span)| {
                let delivery = &delivery;
                async move {
                    let result = match span {
                        // No span, no wrapper: moving the event's large future into one
                        // would cost every event with traces off.
                        None => run(prepared, delivery, ctx).await,
                        Some(span) => spans::delivered(span, run(prepared, delivery, ctx)).await,
                    };
                    finished.store(true, Ordering::Relaxed);
                    result
                }
            }
        ),
    ));
    // Events that need no request (a dry run, nothing enabled) are done at the first poll:
    // only work that waits is given a timer.
    let results = match (&mut work).now_or_never() {
        Some(results) => results,
        None => match tokio::time::timeout_at(answer_by, &mut work).await {
            Ok(results) => results,
            Err(_) => {
                let unfinished = ids
                    .into_iter()
                    .zip(&finished)
                    .filter(|(_, finished)| !finished.load(Ordering::Relaxed))
                    .map(|(id, _)| id)
                    .collect();
                return Err(HandlerError::DeadlineExceeded {
                    seconds: budget.as_secs(),
                    unfinished,
                });
            }
        },
    };
    results.into_iter().collect()
}
