//! `ModelRegistered`: a model or model version was registered; announce it.
//! Function name, folder `function-definitions/ModelRegistered/` and route `/ModelRegistered`
//! are one name.

use aml_events::{Event, Function, events::ModelRegistered};

use super::{HandlerError, actions};
use crate::{AppContext, outcome::Outcome};

/// The function's name.
pub const NAME: &str = Function::ModelRegistered.name();

/// Notifies that the model was registered.
pub async fn handle(
    event: Event<ModelRegistered>,
    ctx: &AppContext,
) -> Result<Outcome, HandlerError> {
    let model = event.data.clone().unwrap_or_default();
    let text = format!(
        "Model {} version {} was registered",
        model.model_name.as_deref().unwrap_or("(unnamed)"),
        model.model_version.as_deref().unwrap_or("(unknown)"),
    );
    let notify = actions::notify(Function::ModelRegistered, &text, ctx);
    Ok(Outcome::new(Some(Function::ModelRegistered), &event).with(notify))
}
