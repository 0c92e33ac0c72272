//! `RunCompleted`: an Azure ML run finished; when enabled in `AML_NOTIFY_ON`, enrich it from
//! run history and announce it.
//! Function name, folder `function-definitions/RunCompleted/` and route `/RunCompleted` are one
//! name.

use aml_events::{Event, Function, events::RunCompleted};

use super::{
    actions::{Actions, Handled},
    group, notice,
    run_status_changed::run_notice,
};
use crate::outcome::{Action, ActionReport, Outcome};

/// The function's name.
pub const NAME: &str = Function::RunCompleted.name();

/// Enriches and notifies when `RunCompleted` is in `AML_NOTIFY_ON` (it is not by default:
/// completed runs are frequent), or when a matching route notifies.
pub async fn handle(event: &Event<()>, run: RunCompleted, actions: &Actions<'_>) -> Handled {
    let outcome = Outcome::new(Some(Function::RunCompleted), event);
    if let Some(why) = actions.silence() {
        return outcome
            .with(ActionReport::skipped(Action::Notify, why))
            .into();
    }
    let workspace = event.workspace();
    let (experiment, run_id) = (run.experiment_name.as_deref(), run.run_id.as_deref());
    let (enrich, facts) = actions.enrich(workspace.as_ref(), experiment, run_id).await;
    let mut notice = notice::notice(Function::RunCompleted, event, &run);
    run_notice(
        &mut notice,
        workspace.as_ref(),
        experiment,
        run_id,
        "completed",
        facts.as_ref(),
    );
    notice.status = "COMPLETED".to_owned();
    notice.group = group::run(experiment, "Completed");
    let notify = actions.notify(notice).await;
    Handled::new(outcome).with(enrich).with(notify)
}
