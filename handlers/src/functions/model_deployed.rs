//! `ModelDeployed`: models were deployed to an endpoint; smoke-test it, then announce it.
//! Function name, folder `function-definitions/ModelDeployed/` and route `/ModelDeployed` are
//! one name.

use aml_events::{Event, Function, events::ModelDeployed};

use super::{HandlerError, actions};
use crate::{AppContext, outcome::Outcome};

/// The function's name.
pub const NAME: &str = Function::ModelDeployed.name();

/// Smoke-tests the deployment when configured, then notifies.
pub async fn handle(
    event: Event<ModelDeployed>,
    ctx: &AppContext,
) -> Result<Outcome, HandlerError> {
    let deployed = event.data.clone().unwrap_or_default();
    let models: Vec<&str> = deployed.model_ids().collect();
    let text = format!(
        "Service {} ({}) was deployed with {}",
        deployed.service_name.as_deref().unwrap_or("(unnamed)"),
        deployed
            .service_compute_type
            .as_deref()
            .unwrap_or("unknown compute"),
        if models.is_empty() {
            "no model ids".to_owned()
        } else {
            models.join(", ")
        },
    );
    let smoke_test = actions::smoke_test(ctx);
    let notify = actions::notify(Function::ModelDeployed, &text, ctx);
    Ok(Outcome::new(Some(Function::ModelDeployed), &event)
        .with(smoke_test)
        .with(notify))
}
