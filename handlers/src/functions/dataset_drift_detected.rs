//! `DatasetDriftDetected`: a v1 dataset monitor detected drift; retrain when it reaches the
//! threshold (`AML_RETRAIN_DRIFT_THRESHOLD`, or a route's `drift_threshold`), and tell people,
//! even when the retrain failed (saying so; the delivery then fails so the retrain is tried
//! again). Azure ML retired v1 dataset monitors on
//! 2025-09-01; today's model monitors report drift as a failed `RunStatusChanged` (see
//! [`super::monitor_breach`]). This function stays for workspaces that still have v1 monitors.
//! Function name, folder `function-definitions/DatasetDriftDetected/` and route
//! `/DatasetDriftDetected` are one name.

use aml_events::{Event, Function, events::DatasetDriftDetected, notify::Severity};

use super::{
    actions::{Actions, Handled, retrain::RetrainReason, summarize},
    group, notice,
};
use crate::outcome::Outcome;

/// The function's name.
pub const NAME: &str = Function::DatasetDriftDetected.name();

/// Retrains above the threshold (when a job file is set), then notifies.
pub async fn handle(
    event: &Event<()>,
    drift: DatasetDriftDetected,
    actions: &Actions<'_>,
) -> Handled {
    let workspace = event.workspace();
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
            // A model monitor's placeholders (docs/actions.md): none in a v1 drift event.
            _ => String::new(),
        }
    };
    let group = group::drift(
        drift
            .data_drift_id
            .as_deref()
            .or(drift.data_drift_name.as_deref()),
    );
    let retrain = actions
        .retrain(
            workspace.as_ref(),
            RetrainReason::Drift(drift.drift_coefficient),
            &group,
            placeholder,
        )
        .await;
    let (retrain_detail, retrain_json) = summarize(&retrain.reports);
    let monitor = drift.data_drift_name.as_deref().unwrap_or("(unnamed)");
    let coefficient = drift
        .drift_coefficient
        .map_or("(unknown)".to_owned(), |value| format!("{value:.3}"));
    let dataset = drift.target_dataset_id.as_deref().unwrap_or("(unknown)");
    let mut notice = notice::notice(Function::DatasetDriftDetected, event, &drift);
    notice.title = format!("Drift monitor {monitor} detected drift");
    notice.summary = format!(
        "Drift monitor {monitor} detected drift {coefficient} on dataset {dataset}; retraining: {retrain_detail}"
    );
    notice.severity = Severity::Warning;
    notice.alert = true;
    notice.facts = notice::facts([
        ("Drift monitor", Some(monitor)),
        ("Drift coefficient", Some(coefficient.as_str())),
        ("Target dataset", Some(dataset)),
        ("Retrain", Some(retrain_detail.as_str())),
    ]);
    notice.alert_key = notice::alert_key(
        workspace.as_ref(),
        drift.data_drift_id.as_deref().or(Some(monitor)),
        NAME,
    );
    notice::link_run(&mut notice, workspace.as_ref(), drift.run_id.as_deref());
    notice::extra(&mut notice, "retrain", retrain_json);
    notice.group = group;
    let notify = actions.notify(notice).await;
    Handled::new(Outcome::new(Some(Function::DatasetDriftDetected), event))
        .with(retrain)
        .with(notify)
}
