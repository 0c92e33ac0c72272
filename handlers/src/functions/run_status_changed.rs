//! `RunStatusChanged`: a run's status changed; for the statuses in `AML_NOTIFY_RUN_STATUSES`
//! (failed and canceled runs by default), enrich it from run history and tell people.
//! Function name, folder `function-definitions/RunStatusChanged/` and route `/RunStatusChanged`
//! are one name.

use aml_events::{Event, Function, events::RunStatusChanged};

use super::{HandlerError, actions, workspace_of};
use crate::{
    AppContext,
    config::AML_NOTIFY_RUN_STATUSES,
    outcome::{Action, ActionReport, Outcome},
};

/// The function's name.
pub const NAME: &str = Function::RunStatusChanged.name();

/// Enriches and notifies when the new status is one of `AML_NOTIFY_RUN_STATUSES`.
pub async fn handle(
    event: Event<RunStatusChanged>,
    ctx: &AppContext,
) -> Result<Outcome, HandlerError> {
    let outcome = Outcome::new(Some(Function::RunStatusChanged), &event);
    let run = event.data.clone().unwrap_or_default();
    let wanted = &ctx.config.notify_run_statuses;
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
    let enrich = actions::enrich(
        workspace_of(&event).as_ref(),
        run.experiment_name.as_deref(),
        run.run_id.as_deref(),
        ctx,
    );
    let text = format!(
        "Run {} of experiment {} is now {status}",
        run.run_id.as_deref().unwrap_or("(unknown)"),
        run.experiment_name.as_deref().unwrap_or("(unknown)"),
    );
    let notify = actions::notify(Function::RunStatusChanged, &text, ctx);
    Ok(outcome.with(enrich).with(notify))
}
