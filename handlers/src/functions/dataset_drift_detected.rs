//! `DatasetDriftDetected`: a v1 dataset monitor detected drift; retrain when it reaches the
//! threshold (`AML_RETRAIN_DRIFT_THRESHOLD`, or a route's `drift_threshold`), and tell people,
//! even when the retrain failed (saying so; the delivery then fails so the retrain is tried
//! again). Azure ML retired v1 dataset monitors on
//! 2025-09-01; today's model monitors report drift as a failed `RunStatusChanged` (see
//! [`super::monitor_breach`]). This function stays for workspaces that still have v1 monitors.
//! Function name, folder `function-definitions/DatasetDriftDetected/` and route
//! `/DatasetDriftDetected` are one name.

use aml_events::{
    Event, Function, WorkspaceId,
    events::DatasetDriftDetected,
    notify::{Notice, Severity},
};

use super::{
    actions::{Actions, Handled, retrain::RetrainReason},
    group, notice,
};
use crate::outcome::{ActionReport, Outcome};

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
    let mut notice = notice::notice(Function::DatasetDriftDetected, event, &drift);
    describe(
        &mut notice,
        workspace.as_ref(),
        &drift,
        actions.drift_threshold(),
        &retrain.reports,
    );
    notice.group = group;
    let notify = actions.notify(notice).await;
    Handled::new(Outcome::new(Some(Function::DatasetDriftDetected), event))
        .with(retrain)
        .with(notify)
}

/// Fills in a drift's notice for people: `Drift 0.84 on dataset d7e74d2e… (threshold 0.5)`,
/// the coefficient with two decimals, datasets by the start of their ids (the event names no
/// dataset by name, and studio links datasets by name only), what the retrain came to and a
/// link to its job.
fn describe(
    notice: &mut Notice,
    workspace: Option<&WorkspaceId>,
    drift: &DatasetDriftDetected,
    threshold: Option<f64>,
    retrain: &[ActionReport],
) {
    let monitor = drift.data_drift_name.as_deref().unwrap_or("(unnamed)");
    let target = drift.target_dataset_id.as_deref().map(notice::short_id);
    let baseline = drift.base_dataset_id.as_deref().map(notice::short_id);
    notice.status = "DRIFT".to_owned();
    notice.severity = Severity::Warning;
    notice.alert = true;
    let mut title = match drift.drift_coefficient {
        Some(coefficient) => format!("Drift {coefficient:.2}"),
        None => "Drift".to_owned(),
    };
    match &target {
        Some(target) => title.push_str(&format!(" on dataset {target}")),
        None => title.push_str(&format!(" found by monitor {monitor}")),
    }
    if let Some(threshold) = threshold {
        title.push_str(&format!(" (threshold {threshold})"));
    }
    notice.title = title;
    let compared = match (&target, &baseline) {
        (Some(target), Some(baseline)) => {
            format!(" between dataset {target} (target) and dataset {baseline} (baseline)")
        }
        (Some(target), None) => format!(" in dataset {target} (target)"),
        _ => String::new(),
    };
    notice.summary = format!("Drift monitor {monitor} found drift{compared}");
    let retrained = notice::retrain(notice, workspace, retrain);
    notice.facts = notice::facts([
        ("Drift monitor", Some(monitor)),
        ("Target dataset", target.as_deref()),
        ("Baseline dataset", baseline.as_deref()),
        ("Retrain", Some(retrained.as_str())),
    ]);
    notice.alert_key = notice::alert_key(
        workspace,
        drift.data_drift_id.as_deref().or(Some(monitor)),
        NAME,
    );
    notice::link_run(notice, workspace, drift.run_id.as_deref());
}

#[cfg(test)]
mod tests {
    use aml_events::ledger::Recorded;
    use serde_json::json;

    use super::*;
    use crate::outcome::Action;

    #[test]
    fn drift_is_written_for_people_and_links_its_retrain_job() {
        let drift: DatasetDriftDetected = serde_json::from_value(json!({
            "DataDriftId": "01d29aa4-e6a4-470a-9ef3-66660d21f8ef", "DataDriftName": "myDriftMonitor",
            "BaseDatasetId": "3c56d136-0f64-4657-a0e8-5162089a88a3",
            "TargetDatasetId": "d7e74d2e-c972-4266-b5fb-6c9c182d2a74",
            "DriftCoefficient": 0.835_034_9}))
        .unwrap();
        let workspace = WorkspaceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws").unwrap();
        let created = Recorded::new("done", "created job retrain-e1")
            .with_found(json!({"job": "retrain-e1"}));
        let reports = [ActionReport::recorded(
            Action::Retrain,
            "PUT …".into(),
            created,
        )];
        let mut notice = Notice::default();

        describe(&mut notice, Some(&workspace), &drift, Some(0.5), &reports);

        assert_eq!(notice.status, "DRIFT");
        assert_eq!(
            notice.title,
            "Drift 0.84 on dataset d7e74d2e\u{2026} (threshold 0.5)"
        );
        assert_eq!(
            notice.summary,
            "Drift monitor myDriftMonitor found drift between dataset d7e74d2e\u{2026} (target) and dataset 3c56d136\u{2026} (baseline)"
        );
        assert!(notice.facts.contains(&aml_events::notify::Fact::new(
            "Retrain",
            "job retrain-e1 created"
        )));
        assert_eq!(notice.links[0].label, "Open retrain job");
        assert_eq!(notice.links[0].url, workspace.studio_run_url("retrain-e1"));
        assert_eq!(
            notice.extra["retrain"],
            json!({"status": "done", "detail": "created job retrain-e1"})
        );
    }
}
