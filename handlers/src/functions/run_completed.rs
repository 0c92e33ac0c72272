//! `RunCompleted`: an Azure ML run finished; when enabled in `AML_NOTIFY_ON`, enrich it from
//! run history and announce it.
//! Function name, folder `function-definitions/RunCompleted/` and route `/RunCompleted` are one
//! name.

use aml_events::{Event, Function, events::RunCompleted};

use super::{HandlerError, actions, workspace_of};
use crate::{
    AppContext,
    config::AML_NOTIFY_ON,
    outcome::{Action, ActionReport, Outcome},
};

/// The function's name.
pub const NAME: &str = Function::RunCompleted.name();

/// Enriches and notifies when `RunCompleted` is in `AML_NOTIFY_ON` (it is not by default:
/// completed runs are frequent).
pub async fn handle(event: Event<RunCompleted>, ctx: &AppContext) -> Result<Outcome, HandlerError> {
    let outcome = Outcome::new(Some(Function::RunCompleted), &event);
    if !ctx.config.notify_on.contains(&Function::RunCompleted) {
        return Ok(outcome.with(ActionReport::skipped(
            Action::Notify,
            format!("RunCompleted is not in {AML_NOTIFY_ON}"),
        )));
    }
    let run = event.data.clone().unwrap_or_default();
    let enrich = actions::enrich(
        workspace_of(&event).as_ref(),
        run.experiment_name.as_deref(),
        run.run_id.as_deref(),
        ctx,
    );
    let text = format!(
        "Run {} of experiment {} completed",
        run.run_id.as_deref().unwrap_or("(unknown)"),
        run.experiment_name.as_deref().unwrap_or("(unknown)"),
    );
    let notify = actions::notify(Function::RunCompleted, &text, ctx);
    Ok(outcome.with(enrich).with(notify))
}
