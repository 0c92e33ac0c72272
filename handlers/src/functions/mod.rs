//! The five functions, one module each: a typed event in, an [`Outcome`] out, no transport
//! types. [`dispatch`] is the one entry point every host calls.
//!
//! # Layout
//! - [`dispatch`]: checks the event's type against the function asked for, the workspace
//!   allow-list, then hands the typed event to its function.
//! - `actions`: the decisions and requests the functions share (notify, enrich, retrain,
//!   smoke-test).
//! - one module per function, named after it.
//!
//! What reaches Azure is decided here; how requests travel is the client's job, and how
//! answers are encoded is the hosts'.

mod actions;
pub mod dataset_drift_detected;
pub mod model_deployed;
pub mod model_registered;
pub mod run_completed;
pub mod run_status_changed;

use aml_events::{AmlEvent, Event, Function, ParseError, WorkspaceId};
use tracing::warn;

use crate::{
    AppContext,
    outcome::{Action, Outcome},
};

/// Why an event could not be handled; each host maps these to its statuses in one place.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event or its data is malformed: redelivering it cannot help.
    #[error(transparent)]
    BadEvent(#[from] ParseError),
    /// A call failed in a way that may pass (timeouts, 429, 5xx) and the deadline came first:
    /// the event must be redelivered.
    #[error("{action:?} failed for now and should be retried: {message}")]
    Transient {
        /// The action that failed.
        action: Action,
        /// What happened, without secrets.
        message: String,
    },
    /// Azure refused the handlers' identity (401/403): a misconfiguration to fix, after which
    /// redelivered events succeed.
    #[error("Azure refused the handlers' identity during {action:?}: {message}")]
    Unauthorized {
        /// The action that was refused.
        action: Action,
        /// What Azure said, without secrets.
        message: String,
    },
}

/// Handles one event: as `function` when a host names one (a Functions route, a webhook's
/// `functionName`), else as the function of its type.
///
/// An event of another type, a system event or an event from a workspace outside
/// `AML_WORKSPACES` is acknowledged with a note, nothing done.
pub async fn dispatch(
    event: Event,
    function: Option<Function>,
    ctx: &AppContext,
) -> Result<Outcome, HandlerError> {
    let of_type = event.function();
    let function = match (function, of_type) {
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
            return Ok(Outcome::acknowledged(wanted, &event, note));
        }
    };
    let workspace = workspace_of(&event);
    if !ctx.config.allows(workspace.as_ref()) {
        warn!(event_id = %event.id, source = event.source.as_deref(), "workspace is not in AML_WORKSPACES; acknowledged, nothing done");
        let note = format!(
            "source {} is not a workspace in AML_WORKSPACES; acknowledged, nothing done",
            event.source.as_deref().unwrap_or("(none)")
        );
        return Ok(Outcome::acknowledged(Some(function), &event, note));
    }
    let data = event.decode()?;
    match data {
        AmlEvent::ModelRegistered(data) => {
            model_registered::handle(event.with_data(data), ctx).await
        }
        AmlEvent::ModelDeployed(data) => model_deployed::handle(event.with_data(data), ctx).await,
        AmlEvent::RunCompleted(data) => run_completed::handle(event.with_data(data), ctx).await,
        AmlEvent::DatasetDriftDetected(data) => {
            dataset_drift_detected::handle(event.with_data(data), ctx).await
        }
        AmlEvent::RunStatusChanged(data) => {
            run_status_changed::handle(event.with_data(data), ctx).await
        }
        // `event.function()` named one of the five, so its data decoded as one of them.
        AmlEvent::SubscriptionValidation(_)
        | AmlEvent::SubscriptionDeleted(_)
        | AmlEvent::Unknown { .. } => Ok(Outcome::acknowledged(
            Some(function),
            &event,
            "no payload to act on".into(),
        )),
    }
}

/// The workspace an event came from, when its topic/source is a workspace resource id.
pub fn workspace_of<T>(event: &Event<T>) -> Option<WorkspaceId> {
    event.source.as_deref().and_then(WorkspaceId::parse)
}
