//! `ModelDeployed`: models were deployed to an endpoint; smoke-test it, then announce it with
//! the smoke test's result.
//! Function name, folder `function-definitions/ModelDeployed/` and route `/ModelDeployed` are
//! one name.

use aml_events::{Event, Function, events::ModelDeployed, notify::Severity};
use serde_json::json;

use super::{
    actions::{Acted, Actions, Handled},
    group, notice,
};
use crate::outcome::{Action, ActionReport, ActionStatus, Outcome};

/// The function's name.
pub const NAME: &str = Function::ModelDeployed.name();

/// Why the notice is not sent while a smoke test's result is unknown.
const WAITS_FOR_THE_SMOKE_TEST: &str =
    "waits for the smoke test's result, which is not known yet; the event will be redelivered";

/// Smoke-tests the deployment when a route asks, then notifies with the result. While the
/// result is not known (the test is deferred, or failed for now), no notice goes out: it
/// would say nothing true about the deployment. A redelivery finds the test done (here or on
/// another instance) and announces what it came to, failed or not.
pub async fn handle(event: &Event<()>, deployed: ModelDeployed, actions: &Actions<'_>) -> Handled {
    let outcome = Outcome::new(Some(Function::ModelDeployed), event);
    let smoke_tests = actions.smoke_test().await;
    if smoke_tests.is_unsettled() {
        let waits = ActionReport::deferred(Action::Notify, None, WAITS_FOR_THE_SMOKE_TEST.into());
        return Handled::new(outcome)
            .with(smoke_tests)
            .with(Acted::report(waits));
    }
    let models: Vec<&str> = deployed.model_ids().collect();
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
    // What each test came to: now, or (a redelivery) when it was first run.
    let tested: Vec<&str> = (smoke_tests.reports.iter())
        .filter(|report| {
            let (status, _) = report.came_to();
            status == ActionStatus::Done.as_str() || status == ActionStatus::Failed.as_str()
        })
        .map(|report| report.came_to().1)
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
        .reports
        .iter()
        .any(ActionReport::came_to_failure)
    {
        notice.title = format!("Service {service} failed its smoke test");
        notice.severity = Severity::Warning;
        notice.alert = true;
    }
    notice.alert_key = notice::alert_key(event.workspace().as_ref(), Some(service), NAME);
    let smoke_facts = match &smoke_tests.reports[..] {
        [one] => json!(one.found()),
        many => json!(many.iter().map(ActionReport::found).collect::<Vec<_>>()),
    };
    notice::extra(&mut notice, "smokeTest", smoke_facts);
    notice.group = group::service(service);
    let notify = actions.notify(notice).await;
    Handled::new(outcome).with(smoke_tests).with(notify)
}
