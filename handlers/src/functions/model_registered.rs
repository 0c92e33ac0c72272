//! `ModelRegistered`: a model or model version was registered; announce it.
//! Function name, folder `function-definitions/ModelRegistered/` and route `/ModelRegistered`
//! are one name.

use aml_events::{Event, Function, events::ModelRegistered};
use serde_json::json;

use super::{HandlerError, actions::Actions};
use crate::outcome::Outcome;

/// The function's name.
pub const NAME: &str = Function::ModelRegistered.name();

/// Notifies that the model was registered.
pub async fn handle(
    event: &Event<()>,
    model: ModelRegistered,
    actions: &Actions<'_>,
) -> Result<Outcome, HandlerError> {
    let text = format!(
        "Model {} version {} was registered",
        model.model_name.as_deref().unwrap_or("(unnamed)"),
        model.model_version.as_deref().unwrap_or("(unknown)"),
    );
    let notify = actions
        .notify(Function::ModelRegistered, event, &model, &text, json!({}))
        .await?;
    Ok(Outcome::new(Some(Function::ModelRegistered), event).with(notify))
}
