//! `ModelDeployed`: models were deployed to an endpoint; smoke-test it, then announce it with
//! the smoke test's result.
//! Function name, folder `function-definitions/ModelDeployed/` and route `/ModelDeployed` are
//! one name.

use aml_events::{Event, Function, events::ModelDeployed, notify::Severity};
use serde_json::json;

use super::{HandlerError, actions::Actions, notice, workspace_of};
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
    let smoke_tests = actions.smoke_test().await?;
    let service = deployed.service_name.as_deref().unwrap_or("(unnamed)");
    let compute = deployed
        .service_compute_type
        .as_deref()
        .unwrap_or("unknown compute");
    let models = if models.is_empty() {
        "no model ids".to_owned()
    } else {
        models.join(", ")
    };
    let mut notice = notice::notice(Function::ModelDeployed, event, &deployed);
    notice.title = format!("Service {service} deployed");
    notice.summary = format!("Service {service} ({compute}) was deployed with {models}");
    let tested: Vec<&str> = smoke_tests
        .iter()
        .filter(|(report, _)| matches!(report.status, ActionStatus::Done | ActionStatus::Failed))
        .map(|(report, _)| report.detail.as_str())
        .collect();
    let tested = (!tested.is_empty()).then(|| tested.join("; "));
    if let Some(tested) = &tested {
        notice.summary.push_str(&format!("; smoke test: {tested}"));
    }
    notice.facts = notice::facts([
        ("Service", Some(service)),
        ("Compute", Some(compute)),
        ("Models", Some(models.as_str())),
        ("Smoke test", tested.as_deref()),
    ]);
    // A deployment that fails its smoke test is a failure to page about.
    if smoke_tests
        .iter()
        .any(|(report, _)| report.status == ActionStatus::Failed)
    {
        notice.title = format!("Service {service} failed its smoke test");
        notice.severity = Severity::Warning;
        notice.alert = true;
    }
    notice.alert_key = notice::alert_key(workspace_of(event).as_ref(), Some(service), NAME);
    let smoke_facts = match &smoke_tests[..] {
        [(_, facts)] => json!(facts),
        many => json!(many.iter().map(|(_, facts)| facts).collect::<Vec<_>>()),
    };
    notice::extra(&mut notice, "smokeTest", smoke_facts);
    let notify = actions.notify(Function::ModelDeployed, &notice).await?;
    Ok(Outcome::new(Some(Function::ModelDeployed), event)
        .with_all(smoke_tests.into_iter().map(|(report, _)| report).collect())
        .with_all(notify))
}
