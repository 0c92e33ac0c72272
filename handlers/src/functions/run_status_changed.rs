//! `RunStatusChanged`: a run's status changed; for the runs its routes match (by default the
//! statuses in `AML_NOTIFY_RUN_STATUSES`: failed and canceled runs), enrich it from run history
//! and tell people, with the run's error message (said once) and its page in Azure ML studio. A
//! failed model-monitor run that carries the breach tag is drift, not a failure:
//! [`super::monitor_breach`] takes it.
//! Function name, folder `function-definitions/RunStatusChanged/` and route `/RunStatusChanged`
//! are one name.

use aml_events::{
    Event, Function, WorkspaceId,
    events::{RunStatus, RunStatusChanged},
    notify::{Notice, Severity},
};
use serde_json::json;

use super::{
    actions::{Actions, Handled, enrich::RunFacts},
    group, monitor_breach, notice,
};
use crate::outcome::{Action, ActionReport, Outcome};

/// The function's name.
pub const NAME: &str = Function::RunStatusChanged.name();

/// A monitor breach retrains and notifies; any other run its routes match is enriched and
/// notified (a monitor run that carries the tag in another status never gets here: it is
/// acknowledged before routing).
pub async fn handle(event: &Event<()>, run: RunStatusChanged, actions: &Actions<'_>) -> Handled {
    if let Some(breach) = run.monitor_breach() {
        return monitor_breach::handle(event, &run, breach, actions).await;
    }
    let outcome = Outcome::new(Some(Function::RunStatusChanged), event);
    if let Some(why) = actions.silence() {
        return outcome
            .with(ActionReport::skipped(Action::Notify, why))
            .into();
    }
    let status = run
        .run_status
        .clone()
        .unwrap_or_else(|| RunStatus::Other("(unknown)".to_owned()));
    let workspace = event.workspace();
    let (experiment, run_id) = (run.experiment_name.as_deref(), run.run_id.as_deref());
    let (enrich, facts) = actions.enrich(workspace.as_ref(), experiment, run_id).await;
    let mut notice = notice::notice(Function::RunStatusChanged, event, &run);
    let (word, what, severity, alert) = news(&status);
    run_notice(
        &mut notice,
        workspace.as_ref(),
        experiment,
        run_id,
        &what,
        facts.as_ref(),
    );
    (notice.status, notice.severity, notice.alert) = (word, severity, alert);
    notice.group = group::run(experiment, status.as_str());
    let notify = actions.notify(notice).await;
    Handled::new(outcome).with(enrich).with(notify)
}

/// What a status is news of: the band's word, the title's words, how bad it is, and whether it
/// is an alert (pages).
fn news(status: &RunStatus) -> (String, String, Severity, bool) {
    let (word, what, severity, alert) = match status {
        RunStatus::Failed | RunStatus::NotResponding => ("FAILED", "failed", Severity::Error, true),
        RunStatus::Canceled => ("CANCELED", "was canceled", Severity::Warning, false),
        RunStatus::Completed => ("COMPLETED", "completed", Severity::Info, false),
        other => {
            let word = other.as_str().to_uppercase();
            return (word, format!("is {other}"), Severity::Info, false);
        }
    };
    (word.to_owned(), what.to_owned(), severity, alert)
}

/// Fills in a run event's notice: the title `Run r <what> in e`, the summary (how long it ran
/// and on what, from run history; saying so when run history could not be read), its facts, the run's error message said once (as the
/// notice's error, never in the summary or a fact), and its page in Azure ML studio; the alert
/// key names the run.
pub(super) fn run_notice(
    notice: &mut Notice,
    workspace: Option<&WorkspaceId>,
    experiment: Option<&str>,
    run_id: Option<&str>,
    what: &str,
    facts: Option<&RunFacts>,
) {
    let run_name = run_id.unwrap_or("(unknown)");
    notice.title = match experiment {
        Some(experiment) => format!("Run {run_name} {what} in {experiment}"),
        None => format!("Run {run_name} {what}"),
    };
    let mut summary = format!(
        "Run {run_name} of experiment {} {what}",
        experiment.unwrap_or("(unknown)")
    );
    if let Some(seconds) = facts.and_then(|facts| facts.duration_seconds) {
        summary.push_str(&format!(" after {}", duration(seconds)));
    }
    if let Some(compute) = facts.and_then(|facts| facts.compute.as_deref()) {
        summary.push_str(&format!(" on {compute}"));
    }
    if let Some(why) = facts.and_then(|facts| facts.unavailable.as_deref()) {
        summary.push_str(&format!(" (run details unavailable: {why})"));
    }
    notice.summary = summary;
    notice.facts = notice::facts([
        ("Experiment", experiment),
        ("Run", run_id),
        ("Status", facts.and_then(|facts| facts.status.as_deref())),
    ]);
    notice::error(notice, facts.and_then(|facts| facts.error.as_deref()));
    notice.alert_key = notice::alert_key(workspace, run_id, &notice.function);
    notice::link_run(notice, workspace, run_id);
    notice::extra(notice, "run", json!(facts));
}

/// A run's length as people say it: `45 s`, `12 min`, `2 h 5 min`.
fn duration(seconds: u64) -> String {
    match (seconds / 3600, seconds % 3600 / 60) {
        (0, 0) => format!("{seconds} s"),
        (0, minutes) => format!("{minutes} min"),
        (hours, 0) => format!("{hours} h"),
        (hours, minutes) => format!("{hours} h {minutes} min"),
    }
}

#[cfg(test)]
mod tests {
    use aml_events::notify::{ErrorText, Fact};

    use super::*;

    #[test]
    fn a_failed_runs_error_is_said_once() {
        let workspace = WorkspaceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws").unwrap();
        let facts = RunFacts {
            status: Some("Failed".into()),
            error: Some("No module named 'sklearn'".into()),
            compute: Some("cpu-cluster".into()),
            duration_seconds: Some(754),
            unavailable: None,
        };
        let (word, what, severity, alert) = news(&RunStatus::Failed);
        let mut notice = Notice::default();

        run_notice(
            &mut notice,
            Some(&workspace),
            Some("churn-training"),
            Some("churn_run_7"),
            &what,
            Some(&facts),
        );

        assert_eq!(
            (word.as_str(), severity, alert),
            ("FAILED", Severity::Error, true)
        );
        assert_eq!(notice.title, "Run churn_run_7 failed in churn-training");
        assert_eq!(
            notice.summary,
            "Run churn_run_7 of experiment churn-training failed after 12 min on cpu-cluster"
        );
        assert_eq!(
            notice.error,
            Some(ErrorText::new("No module named 'sklearn'"))
        );
        assert!(
            !notice
                .facts
                .iter()
                .any(|fact| fact.value.contains("sklearn")),
            "{:?}",
            notice.facts
        );
        assert_eq!(notice.facts[2], Fact::new("Status", "Failed"));
    }

    #[test]
    fn a_duration_reads_as_people_say_it() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(754), "12 min");
        assert_eq!(duration(7200), "2 h");
        assert_eq!(duration(7530), "2 h 5 min");
    }

    #[test]
    fn each_status_has_its_word() {
        for (status, word) in [
            (RunStatus::NotResponding, "FAILED"),
            (RunStatus::Canceled, "CANCELED"),
            (RunStatus::Completed, "COMPLETED"),
            (RunStatus::Running, "RUNNING"),
        ] {
            assert_eq!(news(&status).0, word);
        }
    }
}
