//! `DatasetDriftDetected`: a data drift monitor detected drift; retrain when it reaches
//! `AML_RETRAIN_DRIFT_THRESHOLD`, and tell people.
//! Function name, folder `function-definitions/DatasetDriftDetected/` and route
//! `/DatasetDriftDetected` are one name.

use aml_events::{Event, Function, events::DatasetDriftDetected};

use super::{HandlerError, actions, workspace_of};
use crate::{AppContext, outcome::Outcome};

/// The function's name.
pub const NAME: &str = Function::DatasetDriftDetected.name();

/// Retrains above the threshold (when a job file is set), then notifies.
pub async fn handle(
    event: Event<DatasetDriftDetected>,
    ctx: &AppContext,
) -> Result<Outcome, HandlerError> {
    let drift = event.data.clone().unwrap_or_default();
    let retrain = actions::retrain(
        workspace_of(&event).as_ref(),
        drift.drift_coefficient,
        &event.id,
        ctx,
    );
    let text = format!(
        "Drift monitor {} detected drift {} on dataset {}",
        drift.data_drift_name.as_deref().unwrap_or("(unnamed)"),
        drift
            .drift_coefficient
            .map_or("(unknown)".to_owned(), |value| format!("{value:.3}")),
        drift.target_dataset_id.as_deref().unwrap_or("(unknown)"),
    );
    let notify = actions::notify(Function::DatasetDriftDetected, &text, ctx);
    Ok(Outcome::new(Some(Function::DatasetDriftDetected), &event)
        .with(retrain)
        .with(notify))
}
