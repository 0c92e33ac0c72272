//! `RunStatusChanged`: a run's status changed; for the statuses in `AML_NOTIFY_RUN_STATUSES`
//! (failed and canceled runs by default), enrich it from run history and tell people, with
//! the run's error message and its page in Azure ML studio. A failed model-monitor run that
//! carries the breach tag is drift, not a failure: [`super::monitor_breach`] takes it.
//! Function name, folder `function-definitions/RunStatusChanged/` and route `/RunStatusChanged`
//! are one name.

use aml_events::{Event, Function, WorkspaceId, events::RunStatusChanged};
use serde_json::{Value, json};

use super::{
    HandlerError,
    actions::{Actions, RunFacts},
    monitor_breach, workspace_of,
};
use crate::{
    config::AML_NOTIFY_RUN_STATUSES,
    outcome::{Action, ActionReport, Outcome},
};

/// The function's name.
pub const NAME: &str = Function::RunStatusChanged.name();

/// A monitor breach retrains and notifies; a run whose status is in `AML_NOTIFY_RUN_STATUSES`
/// is enriched and notified; a monitor run that carries the tag in another status is
/// acknowledged.
pub async fn handle(
    event: &Event<()>,
    run: RunStatusChanged,
    actions: &Actions<'_>,
) -> Result<Outcome, HandlerError> {
    if let Some(breach) = run.monitor_breach() {
        return monitor_breach::handle(event, &run, breach, actions).await;
    }
    let outcome = Outcome::new(Some(Function::RunStatusChanged), event);
    if run.monitor_breach_text().is_some() {
        return Ok(monitor_breach::not_a_breach(event, &run));
    }
    let wanted = actions.notify_run_statuses();
    let Some(status) = run
        .run_status
        .as_ref()
        .filter(|status| wanted.contains(status))
    else {
        let listed: Vec<&str> = wanted.iter().map(|status| status.as_str()).collect();
        let status = run
            .run_status
            .as_ref()
            .map_or("(none)", |status| status.as_str());
        return Ok(outcome.with(ActionReport::skipped(
            Action::Notify,
            format!(
                "status {status} is not in {AML_NOTIFY_RUN_STATUSES} ({})",
                listed.join(", ")
            ),
        )));
    };
    let workspace = workspace_of(event);
    let (experiment, run_id) = (run.experiment_name.as_deref(), run.run_id.as_deref());
    let (enrich, facts) = actions
        .enrich(workspace.as_ref(), experiment, run_id)
        .await?;
    let (text, extra) = run_notice(
        workspace.as_ref(),
        experiment,
        run_id,
        &format!("is now {status}"),
        facts.as_ref(),
    );
    let notify = actions
        .notify(Function::RunStatusChanged, event, &run, &text, extra)
        .await?;
    Ok(outcome.with(enrich).with(notify))
}

/// The notification of a run event: "Run r of experiment e is now Failed: <error>", saying so
/// when run history could not be read, and ending with the run's studio link.
pub(super) fn run_notice(
    workspace: Option<&WorkspaceId>,
    experiment: Option<&str>,
    run_id: Option<&str>,
    what: &str,
    facts: Option<&RunFacts>,
) -> (String, Value) {
    let mut text = format!(
        "Run {} of experiment {} {what}",
        run_id.unwrap_or("(unknown)"),
        experiment.unwrap_or("(unknown)")
    );
    match facts {
        Some(RunFacts {
            unavailable: Some(why),
            ..
        }) => text.push_str(&format!(" (run details unavailable: {why})")),
        Some(RunFacts {
            error: Some(message),
            ..
        }) => text.push_str(&format!(": {message}")),
        _ => {}
    }
    let link = with_link(&mut text, workspace, run_id);
    (text, json!({ "run": facts, "link": link }))
}

/// Ends a notification's text with the run's page in Azure ML studio (SPEC §8.1) and returns
/// the link, when the workspace and run are known.
pub(super) fn with_link(
    text: &mut String,
    workspace: Option<&WorkspaceId>,
    run_id: Option<&str>,
) -> Option<String> {
    let link = workspace
        .zip(run_id)
        .map(|(workspace, run)| workspace.studio_run_url(run))?;
    text.push_str(" - ");
    text.push_str(&link);
    Some(link)
}
