//! Drift as Azure ML reports it today (docs/actions.md): a model monitor's run fails with the tag
//! `azureml_modelmonitor_threshold_breached`, delivered as a `RunStatusChanged`. It is not a
//! failed run to announce but drift to act on: **retrain** with the matched routes' job
//! templates (no coefficient threshold: the monitor already judged), then **notify** with a
//! drift text, whatever `AML_NOTIFY_RUN_STATUSES` says. The notice never waits on the
//! retrain: when the retrain fails (Azure refused the identity, an outage, a claim held
//! elsewhere) the breach is announced all the same, saying so, and then the delivery fails so
//! the retrain is tried again (the ledger keeps the notice from repeating).
//!
//! It is part of the `RunStatusChanged` function, not a function of its own: Event Grid
//! delivers breaches as that event type.

use aml_events::{
    Event, Function,
    events::{MonitorBreach, RunStatusChanged},
    notify::Severity,
};
use serde_json::json;

use super::{
    actions::{Actions, Handled, retrain::RetrainReason, summarize},
    group, notice,
};
use crate::outcome::Outcome;

/// How many violations a notification names; the rest are counted.
const NAMED_VIOLATIONS: usize = 3;

/// How much of an unreadable tag a notification repeats.
const RAW_TEXT_CHARS: usize = 300;

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
    let (retrain_detail, retrain_json) = summarize(&retrain.reports);
    let run_id = run.run_id.as_deref();
    let mut notice = notice::notice(Function::RunStatusChanged, event, run);
    notice.title = match &breach.signal {
        Some(signal) => format!("Model monitor signal '{signal}' breached its thresholds"),
        None => "A model monitor breached its thresholds".to_owned(),
    };
    notice.summary = drift_text(&breach, run_id);
    notice.severity = Severity::Warning;
    notice.alert = true;
    let worst: Vec<String> = breach
        .worst(NAMED_VIOLATIONS)
        .iter()
        .map(ToString::to_string)
        .collect();
    notice.facts = notice::facts([
        ("Signal", breach.signal.as_deref()),
        ("Monitor run", run_id),
        ("Worst violations", Some(worst.join(", ").as_str())),
        ("Retrain", Some(retrain_detail.as_str())),
    ]);
    notice.alert_key = notice::alert_key(workspace.as_ref(), run_id, "monitor-breach");
    notice::link_run(&mut notice, workspace.as_ref(), run_id);
    notice::extra(&mut notice, "trigger", json!("monitor-breach"));
    notice::extra(&mut notice, "signal", json!(breach.signal));
    notice::extra(&mut notice, "violations", json!(breach.violations));
    notice::extra(&mut notice, "retrain", retrain_json);
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

/// The drift text, e.g. `Model monitor signal 'churn-drift' breached its thresholds: age
/// JensenShannonDistance 0.42 > 0.1, income PopulationStabilityIndex 0.31 > 0.2 (run r1)`;
/// the tag's own text when it names no violation.
pub fn drift_text(breach: &MonitorBreach, run_id: Option<&str>) -> String {
    let run = run_id.unwrap_or("(unknown)");
    let mut text = match &breach.signal {
        Some(signal) => format!("Model monitor signal '{signal}' breached its thresholds"),
        None => format!("Model monitor run {run} breached its thresholds"),
    };
    let worst = breach.worst(NAMED_VIOLATIONS);
    if worst.is_empty() {
        let raw = breach.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !raw.is_empty() {
            text.push_str(": ");
            text.push_str(&aml_events::redact::text(&raw, &[], RAW_TEXT_CHARS));
        }
    } else {
        let named: Vec<String> = worst.iter().map(ToString::to_string).collect();
        text.push_str(": ");
        text.push_str(&named.join(", "));
        let more = breach.violations.len() - worst.len();
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
    }
    text.push_str(&format!(" (run {run})"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(feature: &str, value: f64, threshold: f64) -> String {
        format!(
            r#"'{{"group":"{feature}","metric_value":{value},"metric_name":"JensenShannonDistance","threshold_value":{threshold}}}'"#
        )
    }

    #[test]
    fn names_the_signal_and_the_worst_violations() {
        let items = [
            violation("age", 0.42, 0.1),
            violation("zip", 0.11, 0.1),
            violation("income", 0.31, 0.2),
            violation("tenure", 0.5, 0.2),
        ];
        let text = format!(
            "The signal 'churn-drift' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n[{}]\n",
            items.join(", ")
        );
        assert_eq!(
            drift_text(&MonitorBreach::parse(&text), Some("r1")),
            "Model monitor signal 'churn-drift' breached its thresholds: age JensenShannonDistance 0.42 > 0.1, tenure JensenShannonDistance 0.5 > 0.2, income JensenShannonDistance 0.31 > 0.2 and 1 more (run r1)"
        );
    }

    #[test]
    fn an_unreadable_tag_is_repeated_on_one_line() {
        let breach = MonitorBreach::parse("threshold\nbreached   somehow");
        assert_eq!(
            drift_text(&breach, Some("r1")),
            "Model monitor run r1 breached its thresholds: threshold breached somehow (run r1)"
        );
    }
}
