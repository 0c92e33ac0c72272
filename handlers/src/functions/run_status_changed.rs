//! `RunStatusChanged`: a run's status changed; for the runs its routes match (by default the
//! statuses in `AML_NOTIFY_RUN_STATUSES`: failed and canceled runs), enrich it from run history
//! and tell people, with the run's error message and its page in Azure ML studio. A failed
//! model-monitor run that carries the breach tag is drift, not a failure:
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
    run_notice(
        &mut notice,
        workspace.as_ref(),
        experiment,
        run_id,
        &format!("is now {status}"),
        facts.as_ref(),
    );
    notice.group = group::run(experiment, status.as_str());
    let run_name = run_id.unwrap_or("(unknown)");
    (notice.title, notice.severity, notice.alert) = match status {
        RunStatus::Failed | RunStatus::NotResponding => {
            (format!("Run {run_name} failed"), Severity::Error, true)
        }
        RunStatus::Canceled => (
            format!("Run {run_name} was canceled"),
            Severity::Warning,
            false,
        ),
        other => (format!("Run {run_name} is {other}"), Severity::Info, false),
    };
    let notify = actions.notify(notice).await;
    Handled::new(outcome).with(enrich).with(notify)
}

/// Fills in a run event's notice: "Run r of experiment e is now Failed: `<error>`" (saying so
/// when run history could not be read), its facts, and its page in Azure ML studio; the alert
/// key names the run.
pub(super) fn run_notice(
    notice: &mut Notice,
    workspace: Option<&WorkspaceId>,
    experiment: Option<&str>,
    run_id: Option<&str>,
    what: &str,
    facts: Option<&RunFacts>,
) {
    let mut summary = format!(
        "Run {} of experiment {} {what}",
        run_id.unwrap_or("(unknown)"),
        experiment.unwrap_or("(unknown)")
    );
    match facts {
        Some(RunFacts {
            unavailable: Some(why),
            ..
        }) => summary.push_str(&format!(" (run details unavailable: {why})")),
        Some(RunFacts {
            error: Some(message),
            ..
        }) => summary.push_str(&format!(": {message}")),
        _ => {}
    }
    notice.summary = summary;
    notice.facts = notice::facts([
        ("Experiment", experiment),
        ("Run", run_id),
        ("Status", facts.and_then(|facts| facts.status.as_deref())),
        ("Error", facts.and_then(|facts| facts.error.as_deref())),
    ]);
    notice.alert_key = notice::alert_key(workspace, run_id, &notice.function);
    notice::link_run(notice, workspace, run_id);
    notice::extra(notice, "run", json!(facts));
}
