//! `ModelRegistered`: a model or model version was registered; announce it.
//! Function name, folder `function-definitions/ModelRegistered/` and route `/ModelRegistered`
//! are one name.

use aml_events::{Event, Function, events::ModelRegistered};

use super::{
    actions::{Actions, Handled},
    group, notice,
};
use crate::outcome::Outcome;

/// The function's name.
pub const NAME: &str = Function::ModelRegistered.name();

/// Notifies that the model was registered.
pub async fn handle(event: &Event<()>, model: ModelRegistered, actions: &Actions<'_>) -> Handled {
    let (name, version) = (
        model.model_name.as_deref().unwrap_or("(unnamed)"),
        model.model_version.as_deref().unwrap_or("(unknown)"),
    );
    let mut notice = notice::notice(Function::ModelRegistered, event, &model);
    notice.title = format!("Model {name} version {version} registered");
    notice.summary = format!("Model {name} version {version} was registered");
    notice.facts = notice::facts([("Model", Some(name)), ("Version", Some(version))]);
    notice.alert_key = notice::alert_key(
        event.workspace().as_ref(),
        Some(&format!("{name}:{version}")),
        NAME,
    );
    notice.group = group::model(name);
    let notify = actions.notify(notice).await;
    Handled::new(Outcome::new(Some(Function::ModelRegistered), event)).with(notify)
}
