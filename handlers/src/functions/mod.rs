//! The five functions, one module each: a typed event in, an [`Outcome`] out, no transport
//! types. [`handle_all`] is the one entry point every host calls.
//!
//! # Layout
//! - [`prepare`]: checks an event's type against the function asked for and the workspace
//!   allow-list, and reads its data; [`run`] hands the typed event to its function;
//!   [`handle_all`] does both for a delivery, within the deadline.
//! - [`actions`]: the actions the functions share (notify, enrich, retrain, smoke-test) and
//!   how their failures are sorted.
//! - one module per function, named after it; [`monitor_breach`], the drift a model monitor
//!   reports through `RunStatusChanged`.
//!
//! What reaches Azure is decided here; how requests travel is the client's job, and how
//! answers are encoded is the hosts'.

pub mod actions;
pub mod dataset_drift_detected;
pub mod model_deployed;
pub mod model_registered;
pub mod monitor_breach;
pub mod notice;
pub mod run_completed;
pub mod run_status_changed;

use aml_events::{AmlEvent, Event, Function, ParseError, WorkspaceId, envelope::Decoded};
use tokio::time::Instant;

use futures_util::FutureExt;

use actions::{Delivery, Plan};
use tracing::{info, warn};

use crate::{
    AppContext,
    outcome::{Action, ActionReport, Outcome},
};

/// A failure's cause: an Azure call's or a notification's error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an event could not be handled; each host maps these to its statuses in one place.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event or its data is malformed: redelivering it cannot help.
    #[error(transparent)]
    BadEvent(#[from] ParseError),
    /// A call failed in a way that may pass (timeouts, 429, 5xx) and the deadline came first:
    /// the event must be redelivered.
    #[error("{action} failed for now and should be retried")]
    Transient {
        /// The action that failed.
        action: Action,
        /// Why: the call and its causes (no secrets).
        #[source]
        source: BoxError,
    },
    /// The delivery's time budget (`AML_DEADLINE_SECONDS`) ran out: answer so that Event Grid
    /// redelivers, before its own 30 s timeout gives up on the attempt.
    #[error(
        "the deadline of {seconds} s passed before every event was handled; it will be redelivered"
    )]
    DeadlineExceeded {
        /// `AML_DEADLINE_SECONDS`.
        seconds: u64,
    },
    /// Azure refused the handlers' identity (401/403): a misconfiguration to fix, after which
    /// redelivered events succeed.
    #[error("Azure refused the handlers' identity during {action}")]
    Unauthorized {
        /// The action that was refused.
        action: Action,
        /// What Azure said (no secrets).
        #[source]
        source: BoxError,
    },
}

/// An event checked and typed, ready for its function; or already answered.
#[derive(Debug)]
pub enum Prepared {
    /// An event one of the five functions acts on.
    Act(Box<Typed>),
    /// Acknowledged on purpose, nothing to do (another type, another workspace).
    Acknowledged(Outcome),
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
    let workspace = workspace_of(&event);
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

/// What the actions of a typed event follow: the `AML_*` settings without a routes file; with
/// one, the routes that match it, or, when none does, the note that acknowledges it.
pub fn plan<'a>(typed: &Typed, ctx: &'a AppContext) -> Result<Plan<'a>, String> {
    let Some(routes) = ctx.config.routes.as_deref() else {
        return Ok(Plan::Settings);
    };
    let Some(function) = typed.data.function() else {
        return Err("no payload to act on".into());
    };
    let matched = routes
        .matching(function, &typed.event, &typed.data)
        .map_err(str::to_owned)?;
    Ok(Plan::Routes { routes, matched })
}

/// Runs a prepared event's function under its plan, and remembers the event once its
/// function completed.
pub async fn run(
    prepared: Prepared,
    delivery: &Delivery<'_>,
    ctx: &AppContext,
) -> Result<Outcome, HandlerError> {
    let typed = match prepared {
        Prepared::Acknowledged(outcome) => return Ok(outcome),
        Prepared::Act(typed) => *typed,
    };
    let plan = match plan(&typed, ctx) {
        Ok(plan) => plan,
        Err(note) => {
            info!(event_id = %typed.event.id, "{note}");
            return Ok(Outcome::acknowledged(
                typed.data.function(),
                &typed.event,
                note,
            ));
        }
    };
    let Typed { event, data } = typed;
    let actions = delivery.actions(plan, &event);
    let actions = &actions;
    let outcome = match data {
        AmlEvent::ModelRegistered(model) => model_registered::handle(&event, model, actions).await,
        AmlEvent::ModelDeployed(deployed) => {
            model_deployed::handle(&event, deployed, actions).await
        }
        AmlEvent::RunCompleted(run) => run_completed::handle(&event, run, actions).await,
        AmlEvent::DatasetDriftDetected(drift) => {
            dataset_drift_detected::handle(&event, drift, actions).await
        }
        AmlEvent::RunStatusChanged(run) => run_status_changed::handle(&event, run, actions).await,
        // `prepare` lets through only the five functions' payloads.
        AmlEvent::SubscriptionValidation(_)
        | AmlEvent::SubscriptionDeleted(_)
        | AmlEvent::Unknown { .. } => Ok(Outcome::acknowledged(
            event.function(),
            &event,
            "no payload to act on".into(),
        )),
    }?;
    if let Some(function) = outcome.function {
        let taken = outcome.actions.iter().map(|report| report.action);
        ctx.recent.remember(function, &outcome.event_id, taken);
    }
    Ok(outcome)
}

/// Handles every event of a delivery: all are checked first (a malformed one fails the
/// delivery before anything is done), then run concurrently, within `AML_DEADLINE_SECONDS`.
pub async fn handle_all(
    events: Vec<Event<Decoded>>,
    function: Option<Function>,
    ctx: &AppContext,
) -> Result<Vec<Outcome>, HandlerError> {
    let prepared = events
        .into_iter()
        .map(|event| prepare(event, function, ctx))
        .collect::<Result<Vec<_>, _>>()?;
    let budget = ctx.config.host.deadline;
    let started = Instant::now();
    // The client stops retrying a little before the delivery's deadline, so that its own
    // error (naming the call) is what gets reported, in time to answer.
    let delivery = Delivery::new(ctx, started + budget.saturating_sub(budget / 10));
    let mut work = std::pin::pin!(futures_util::future::join_all(
        prepared
            .into_iter()
            .map(|prepared| run(prepared, &delivery, ctx)),
    ));
    // Events that need no request (a dry run, nothing enabled) are done at the first poll:
    // only work that waits is given a timer.
    let results = match (&mut work).now_or_never() {
        Some(results) => results,
        None => tokio::time::timeout(budget, work).await.map_err(|_| {
            HandlerError::DeadlineExceeded {
                seconds: budget.as_secs(),
            }
        })?,
    };
    results.into_iter().collect()
}

/// The workspace an event came from, when its topic/source is a workspace resource id.
pub fn workspace_of<T>(event: &Event<T>) -> Option<WorkspaceId> {
    event.source.as_deref().and_then(WorkspaceId::parse)
}
