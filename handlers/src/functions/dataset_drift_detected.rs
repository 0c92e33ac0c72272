//! `DatasetDriftDetected`: a data drift monitor detected drift; retrain when it reaches
//! `AML_RETRAIN_DRIFT_THRESHOLD`, and tell people.
//! Function name, folder `function-definitions/DatasetDriftDetected/` and route
//! `/DatasetDriftDetected` are one name.

use aml_events::{Event, Function, events::DatasetDriftDetected};
use serde_json::json;

use super::{HandlerError, actions::Actions, workspace_of};
use crate::outcome::Outcome;

/// The function's name.
pub const NAME: &str = Function::DatasetDriftDetected.name();

/// Retrains above the threshold (when a job file is set), then notifies.
pub async fn handle(
    event: Event<DatasetDriftDetected>,
    actions: &Actions<'_>,
) -> Result<Outcome, HandlerError> {
    let drift = event.data.as_ref().cloned().unwrap_or_default();
    let placeholder = |name: &str| -> String {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        match name {
            "eventId" => event.id.clone(),
            "runId" => text(&drift.run_id),
            "dataDriftId" => text(&drift.data_drift_id),
            "baseDatasetId" => text(&drift.base_dataset_id),
            "targetDatasetId" => text(&drift.target_dataset_id),
            "driftCoefficient" => drift
                .drift_coefficient
                .map_or("null".to_owned(), |value| value.to_string()),
            _ => String::new(),
        }
    };
    let retrain = actions
        .retrain(
            workspace_of(&event).as_ref(),
            drift.drift_coefficient,
            &event.id,
            placeholder,
        )
        .await?;
    let text = format!(
        "Drift monitor {} detected drift {} on dataset {}; retraining: {}",
        drift.data_drift_name.as_deref().unwrap_or("(unnamed)"),
        drift
            .drift_coefficient
            .map_or("(unknown)".to_owned(), |value| format!("{value:.3}")),
        drift.target_dataset_id.as_deref().unwrap_or("(unknown)"),
        retrain.detail,
    );
    let extra =
        json!({ "retrain": { "status": retrain.status.as_str(), "detail": retrain.detail } });
    let notify = actions
        .notify(Function::DatasetDriftDetected, &event, &text, extra)
        .await?;
    Ok(Outcome::new(Some(Function::DatasetDriftDetected), &event)
        .with(retrain)
        .with(notify))
}
