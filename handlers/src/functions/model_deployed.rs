//! `ModelDeployed`: models were deployed to an endpoint; smoke-test it, then announce it with
//! the smoke test's result.
//! Function name, folder `function-definitions/ModelDeployed/` and route `/ModelDeployed` are
//! one name.

use aml_events::{Event, Function, events::ModelDeployed};
use serde_json::json;

use super::{HandlerError, actions::Actions};
use crate::outcome::{ActionStatus, Outcome};

/// The function's name.
pub const NAME: &str = Function::ModelDeployed.name();

/// Smoke-tests the deployment when configured, then notifies.
pub async fn handle(
    event: &Event<()>,
    deployed: ModelDeployed,
    actions: &Actions<'_>,
) -> Result<Outcome, HandlerError> {
    let models: Vec<&str> = deployed.model_ids().collect();
    let (smoke_test, smoke_facts) = actions.smoke_test().await?;
    let mut text = format!(
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
    if matches!(smoke_test.status, ActionStatus::Done | ActionStatus::Failed) {
        text.push_str(&format!("; smoke test: {}", smoke_test.detail));
    }
    let notify = actions
        .notify(
            Function::ModelDeployed,
            event,
            &deployed,
            &text,
            json!({ "smokeTest": smoke_facts }),
        )
        .await?;
    Ok(Outcome::new(Some(Function::ModelDeployed), event)
        .with(smoke_test)
        .with(notify))
}
