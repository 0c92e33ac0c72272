//! `RunStatusChanged`: a run's status changed; for the statuses in `AML_NOTIFY_RUN_STATUSES`
//! (failed and canceled runs by default), enrich it from run history and tell people, with
//! the run's error message.
//! Function name, folder `function-definitions/RunStatusChanged/` and route `/RunStatusChanged`
//! are one name.

use aml_events::{Event, Function, events::RunStatusChanged};
use serde_json::{Value, json};

use super::{
    HandlerError,
    actions::{Actions, RunFacts},
    workspace_of,
};
use crate::{
    config::AML_NOTIFY_RUN_STATUSES,
    outcome::{Action, ActionReport, Outcome},
};

/// The function's name.
pub const NAME: &str = Function::RunStatusChanged.name();

/// Enriches and notifies when the new status is one of `AML_NOTIFY_RUN_STATUSES`.
pub async fn handle(
    event: Event<RunStatusChanged>,
    actions: &Actions<'_>,
) -> Result<Outcome, HandlerError> {
    let outcome = Outcome::new(Some(Function::RunStatusChanged), &event);
    let run = event.data.as_ref().cloned().unwrap_or_default();
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
    let (experiment, run_id) = (run.experiment_name.as_deref(), run.run_id.as_deref());
    let (enrich, facts) = actions
        .enrich(workspace_of(&event).as_ref(), experiment, run_id)
        .await?;
    let (text, extra) = run_notice(
        experiment,
        run_id,
        &format!("is now {status}"),
        facts.as_ref(),
    );
    let notify = actions
        .notify(Function::RunStatusChanged, &event, &text, extra)
        .await?;
    Ok(outcome.with(enrich).with(notify))
}

/// The notification of a run event: "Run r of experiment e is now Failed: <error>", saying so
/// when run history could not be read.
pub(super) fn run_notice(
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
    (text, json!({ "run": facts }))
}
