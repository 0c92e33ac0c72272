//! Drift as Azure ML reports it today (docs/actions.md): a model monitor's run fails with the tag
//! `azureml_modelmonitor_threshold_breached`, delivered as a `RunStatusChanged`. It is not a
//! failed run to announce but drift to act on: **retrain** with the matched routes' job
//! templates (no coefficient threshold: the monitor already judged), then **notify** with the
//! violations as rows, the worst first, whatever `AML_NOTIFY_RUN_STATUSES` says. The notice
//! never waits on the retrain: when the retrain fails (Azure refused the identity, an outage, a
//! claim held elsewhere) the breach is announced all the same, saying so, and then the delivery
//! fails so the retrain is tried again (the ledger keeps the notice from repeating).
//!
//! It is part of the `RunStatusChanged` function, not a function of its own: Event Grid
//! delivers breaches as that event type. The event names no model or endpoint (the monitor's
//! run carries only the breach tag), so neither does the notice.

use aml_events::{
    Event, Function, WorkspaceId,
    events::{MonitorBreach, RunStatusChanged, Violation},
    notify::{Notice, Rows, Severity, notice::BLANK},
};
use serde_json::json;

use super::{
    actions::{Actions, Handled, retrain::RetrainReason},
    group, notice,
};
use crate::outcome::{ActionReport, Outcome};

/// How many violations a notice shows, the worst first; the rest are counted.
const SHOWN_VIOLATIONS: usize = 5;

/// Retrains, then notifies about the drift.
pub async fn handle(
    event: &Event<()>,
    run: &RunStatusChanged,
    breach: MonitorBreach,
    actions: &Actions<'_>,
) -> Handled {
    let workspace = event.workspace();
    let placeholder = |name: &str| -> String {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        match name {
            "eventId" => event.id.clone(),
            "runId" | "monitorRunId" => text(&run.run_id),
            "signalName" => text(&breach.signal),
            // The v1 drift placeholders have no value in a monitor breach.
            _ => String::new(),
        }
    };
    let group = group::breach(breach.signal.as_deref(), run.experiment_name.as_deref());
    let retrain = actions
        .retrain(
            workspace.as_ref(),
            RetrainReason::MonitorBreach,
            &group,
            placeholder,
        )
        .await;
    let mut notice = notice::notice(Function::RunStatusChanged, event, run);
    describe(
        &mut notice,
        workspace.as_ref(),
        run,
        &breach,
        &retrain.reports,
    );
    notice.group = group;
    let notify = actions.notify(notice).await;
    Handled::new(Outcome::new(Some(Function::RunStatusChanged), event).with_breach(&breach))
        .with(retrain)
        .with(notify)
}

/// A monitor run that carries the tag but did not fail (it recovered, or is still running):
/// nothing to do, and the outcome says why.
pub fn not_a_breach(event: &Event<()>, run: &RunStatusChanged) -> Outcome {
    let status = run
        .run_status
        .as_ref()
        .map_or("(none)", |status| status.as_str());
    Outcome::acknowledged(
        Some(Function::RunStatusChanged),
        event,
        format!(
            "run {} carries the model-monitor breach tag but its status is {status}, not Failed (the monitor recovered or is still running); acknowledged, nothing done",
            run.run_id.as_deref().unwrap_or("(unknown)")
        ),
    )
}

/// Fills in a breach's notice: the signal in the title, the violations as rows (never again in
/// the summary), the tag's own text as the error when it names no violation, what the retrain
/// came to and a link to its job. The alert key names the signal (else the monitor run's
/// experiment), so a monitor that breaches on every scheduled run keeps one incident open.
fn describe(
    notice: &mut Notice,
    workspace: Option<&WorkspaceId>,
    run: &RunStatusChanged,
    breach: &MonitorBreach,
    retrain: &[ActionReport],
) {
    let run_id = run.run_id.as_deref();
    let run_name = run_id.unwrap_or("(unknown)");
    notice.status = "BREACH".to_owned();
    notice.severity = Severity::Warning;
    notice.alert = true;
    notice.title = match &breach.signal {
        Some(signal) => format!("Signal {signal} breached its thresholds"),
        None => format!("Monitor run {run_name} breached its thresholds"),
    };
    let found = match breach.violations.len() {
        0 => "breached its thresholds; the monitor's report could not be read".to_owned(),
        1 => "found 1 violation".to_owned(),
        many => format!("found {many} violations"),
    };
    notice.summary = match &run.experiment_name {
        Some(experiment) => format!("Monitor run {run_name} of {experiment} {found}"),
        None => format!("Monitor run {run_name} {found}"),
    };
    notice.rows = rows(breach);
    if breach.violations.is_empty() {
        notice::error(notice, Some(&breach.text));
    }
    let retrained = notice::retrain(notice, workspace, retrain);
    notice.facts = notice::facts([
        ("Signal", breach.signal.as_deref()),
        ("Monitor run", run_id),
        ("Retrain", Some(retrained.as_str())),
    ]);
    let what = (breach.signal.as_deref())
        .or(run.experiment_name.as_deref())
        .or(run_id);
    notice.alert_key = notice::alert_key(workspace, what, "monitor-breach");
    notice::link_run(notice, workspace, run_id);
    notice::extra(notice, "trigger", json!("monitor-breach"));
    notice::extra(notice, "signal", json!(breach.signal));
    notice::extra(notice, "violations", json!(breach.violations));
}

/// The violations as rows (feature, metric, value, threshold), the worst first; none when the
/// tag names no violation.
fn rows(breach: &MonitorBreach) -> Option<Rows> {
    let shown = breach.worst(SHOWN_VIOLATIONS);
    if shown.is_empty() {
        return None;
    }
    let number = |value: Option<f64>| value.map_or(BLANK.to_owned(), |value| value.to_string());
    let row = |violation: &Violation| {
        vec![
            violation
                .feature
                .clone()
                .unwrap_or_else(|| BLANK.to_owned()),
            violation.metric.clone().unwrap_or_else(|| BLANK.to_owned()),
            number(violation.value),
            number(violation.threshold),
        ]
    };
    Some(Rows {
        header: ["Feature", "Metric", "Value", "Threshold"]
            .map(str::to_owned)
            .to_vec(),
        more: breach.violations.len() - shown.len(),
        rows: shown.into_iter().map(row).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(feature: &str, value: f64, threshold: f64) -> String {
        format!(
            r#"'{{"group":"{feature}","metric_value":{value},"metric_name":"JensenShannonDistance","threshold_value":{threshold}}}'"#
        )
    }

    fn breach_text(violations: &[String]) -> String {
        format!(
            "The signal 'churn-drift' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n[{}]\n",
            violations.join(", ")
        )
    }

    fn monitor_run() -> RunStatusChanged {
        serde_json::from_value(
            json!({"experimentName": "churn-monitor", "runId": "r1", "runStatus": "Failed"}),
        )
        .unwrap()
    }

    fn workspace() -> WorkspaceId {
        WorkspaceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws").unwrap()
    }

    #[test]
    fn the_violations_are_rows_the_worst_first_and_not_repeated_in_the_summary() {
        let features = ["age", "zip", "income", "tenure", "plan", "region", "churn"];
        let items: Vec<String> = (features.iter().zip(1..))
            .map(|(feature, n)| violation(feature, 0.1 + 0.01 * f64::from(n), 0.1))
            .collect();
        let breach = MonitorBreach::parse(&breach_text(&items));
        let mut notice = Notice::default();

        describe(
            &mut notice,
            Some(&workspace()),
            &monitor_run(),
            &breach,
            &[],
        );

        assert_eq!(notice.status, "BREACH");
        assert_eq!(notice.title, "Signal churn-drift breached its thresholds");
        assert_eq!(
            notice.summary,
            "Monitor run r1 of churn-monitor found 7 violations"
        );
        let rows = notice.rows.unwrap();
        assert_eq!(rows.header, ["Feature", "Metric", "Value", "Threshold"]);
        assert_eq!(rows.rows.len(), 5);
        assert_eq!(rows.more, 2);
        assert_eq!(
            rows.rows[0],
            ["churn", "JensenShannonDistance", "0.17", "0.1"]
        );
        assert_eq!(rows.rows[4][0], "income");
        assert_eq!(notice.error, None);
        assert_eq!(
            notice.alert_key,
            notice::alert_key(Some(&workspace()), Some("churn-drift"), "monitor-breach")
        );
        assert!(notice.alert_key.ends_with("/churn-drift/monitor-breach"));
    }

    #[test]
    fn a_p_value_breaches_by_falling_below_and_ranks_by_how_far() {
        // Azure ML's own unit test writes `group` last.
        let items = [
            r#"'{"metric_value":0.0021,"metric_name":"PearsonsChiSquaredTest","threshold_value":0.05,"group":"plan_type"}'"#.to_owned(),
            r#"'{"metric_value":0.2466,"metric_name":"JensenShannonDistance","threshold_value":0.1,"group":"monthly_charges"}'"#.to_owned(),
        ];
        let rows = rows(&MonitorBreach::parse(&breach_text(&items))).unwrap();
        assert_eq!(
            rows.rows,
            [
                ["monthly_charges", "JensenShannonDistance", "0.2466", "0.1"],
                ["plan_type", "PearsonsChiSquaredTest", "0.0021", "0.05"],
            ]
        );
        assert_eq!(rows.more, 0);
    }

    #[test]
    fn an_unreadable_tag_is_the_error_and_the_experiment_keys_the_alert() {
        let breach = MonitorBreach::parse("  threshold\nbreached   somehow ");
        let mut notice = Notice::default();

        describe(
            &mut notice,
            Some(&workspace()),
            &monitor_run(),
            &breach,
            &[],
        );

        assert_eq!(notice.title, "Monitor run r1 breached its thresholds");
        assert_eq!(
            notice.summary,
            "Monitor run r1 of churn-monitor breached its thresholds; the monitor's report could not be read"
        );
        assert_eq!(notice.rows, None);
        assert_eq!(notice.error.unwrap().text, "threshold\nbreached   somehow");
        assert!(
            notice.alert_key.starts_with("ml-ws.")
                && notice.alert_key.ends_with("/churn-monitor/monitor-breach"),
            "{}",
            notice.alert_key
        );
    }
}
