//! `RunCompleted`: an Azure ML run finished; when enabled in `AML_NOTIFY_ON`, enrich it from
//! run history and announce it.
//! Function name, folder `function-definitions/RunCompleted/` and route `/RunCompleted` are one
//! name.

use aml_events::{Event, Function, events::RunCompleted};

use super::{HandlerError, actions::Actions, run_status_changed::run_notice, workspace_of};
use crate::functions::notice;
use crate::outcome::{Action, ActionReport, Outcome};

/// The function's name.
pub const NAME: &str = Function::RunCompleted.name();

/// Enriches and notifies when `RunCompleted` is in `AML_NOTIFY_ON` (it is not by default:
/// completed runs are frequent), or when a matching route notifies.
pub async fn handle(
    event: &Event<()>,
    run: RunCompleted,
    actions: &Actions<'_>,
) -> Result<Outcome, HandlerError> {
    let outcome = Outcome::new(Some(Function::RunCompleted), event);
    if let Some(why) = actions.silence(Function::RunCompleted) {
        return Ok(outcome.with(ActionReport::skipped(Action::Notify, why)));
    }
    let workspace = workspace_of(event);
    let (experiment, run_id) = (run.experiment_name.as_deref(), run.run_id.as_deref());
    let (enrich, facts) = actions
        .enrich(workspace.as_ref(), experiment, run_id)
        .await?;
    let mut notice = notice::notice(Function::RunCompleted, event, &run);
    run_notice(
        &mut notice,
        workspace.as_ref(),
        experiment,
        run_id,
        "completed",
        facts.as_ref(),
    );
    notice.title = format!("Run {} completed", run_id.unwrap_or("(unknown)"));
    let notify = actions.notify(Function::RunCompleted, &notice).await?;
    Ok(outcome.with(enrich).with_all(notify))
}
