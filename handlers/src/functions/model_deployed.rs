//! `ModelDeployed`: models were deployed to an endpoint; smoke-test it, then announce it with
//! the smoke test's result (a failing endpoint's answer as the notice's error) and a link to the
//! endpoint in Azure ML studio.
//! Function name, folder `function-definitions/ModelDeployed/` and route `/ModelDeployed` are
//! one name.

use aml_events::{
    Event, Function, WorkspaceId,
    events::ModelDeployed,
    notify::{Link, Notice, Severity},
};
use serde_json::{Value, json};

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
    let mut notice = notice::notice(Function::ModelDeployed, event, &deployed);
    describe(
        &mut notice,
        event.workspace().as_ref(),
        &deployed,
        &smoke_tests.reports,
    );
    let service = deployed.service_name.as_deref().unwrap_or("(unnamed)");
    notice.group = group::service(service, &notice.status);
    let notify = actions.notify(notice).await;
    Handled::new(outcome).with(smoke_tests).with(notify)
}

/// Fills in a deployment's notice: `DEPLOYED`, or `PASSED` / `FAILED` when smoke-tested (now,
/// or when first handled: a redelivery reads the result back), the endpoint's answer as the
/// error when a test failed, and the endpoint's page in Azure ML studio. A deployment that
/// fails its smoke test is a failure to page about.
fn describe(
    notice: &mut Notice,
    workspace: Option<&WorkspaceId>,
    deployed: &ModelDeployed,
    smoke_tests: &[ActionReport],
) {
    let models: Vec<&str> = deployed.model_ids().collect();
    let service = deployed.service_name.as_deref().unwrap_or("(unnamed)");
    let compute = deployed
        .service_compute_type
        .as_deref()
        .unwrap_or("unknown compute");
    let models = models.join(", ");
    notice.summary = match models.is_empty() {
        true => format!("Endpoint {service} ({compute}) was deployed"),
        false => format!("Endpoint {service} ({compute}) now serves {models}"),
    };
    let tested: Vec<&ActionReport> = (smoke_tests.iter())
        .filter(|report| {
            let (status, _) = report.came_to();
            status == ActionStatus::Done.as_str() || status == ActionStatus::Failed.as_str()
        })
        .collect();
    if !tested.is_empty() {
        let results: Vec<&str> = tested.iter().map(|report| report.came_to().1).collect();
        notice
            .summary
            .push_str(&format!("; smoke test: {}", results.join("; ")));
    }
    let failed: Vec<String> = (tested.iter())
        .filter(|report| report.came_to_failure())
        .map(|report| answer(report))
        .collect();
    let (status, title) = match (tested.is_empty(), failed.is_empty()) {
        (true, _) => ("DEPLOYED", format!("Endpoint {service} deployed")),
        (false, true) => (
            "PASSED",
            format!("Endpoint {service} deployed and passed its smoke test"),
        ),
        (false, false) => (
            "FAILED",
            format!("Endpoint {service} failed its smoke test"),
        ),
    };
    (notice.status, notice.title) = (status.to_owned(), title);
    if !failed.is_empty() {
        notice.severity = Severity::Warning;
        notice.alert = true;
        notice::error(notice, Some(&failed.join("\n\n")));
    }
    notice.facts = notice::facts([
        ("Endpoint", Some(service)),
        ("Compute", Some(compute)),
        ("Models", (!models.is_empty()).then_some(models.as_str())),
    ]);
    if let (Some(workspace), Some(name)) = (workspace, deployed.service_name.as_deref()) {
        notice.links.push(Link {
            label: "Open endpoint".to_owned(),
            url: workspace.studio_endpoint_url(name),
        });
    }
    notice.alert_key = notice::alert_key(workspace, Some(service), NAME);
    let smoke_facts = match smoke_tests {
        [one] => json!(one.found()),
        many => json!(many.iter().map(ActionReport::found).collect::<Vec<_>>()),
    };
    notice::extra(notice, "smokeTest", smoke_facts);
}

/// What a failed smoke test's endpoint answered: `HTTP 500: <the start of its body>`, or why
/// it could not be asked.
fn answer(report: &ActionReport) -> String {
    let found = report.found();
    let text = |key: &str| {
        found
            .and_then(|found| found.get(key))
            .and_then(Value::as_str)
    };
    match (found.and_then(|found| found.get("status")), text("body")) {
        (Some(status), Some(body)) if !body.trim().is_empty() => format!("HTTP {status}: {body}"),
        (Some(status), _) => format!("HTTP {status} (no body)"),
        (None, _) => text("error")
            .unwrap_or_else(|| report.came_to().1)
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use aml_events::ledger::Recorded;

    use super::*;
    use crate::outcome::Action;

    fn smoke_test(status: &str, found: Value) -> ActionReport {
        let recorded = Recorded::new(
            status,
            format!("the endpoint answered {} in 12.0 ms", found["status"]),
        );
        ActionReport::recorded(
            Action::SmokeTest,
            "POST …".into(),
            recorded.with_found(found),
        )
    }

    fn deployed() -> ModelDeployed {
        serde_json::from_value(json!({"ServiceName": "churn-api", "ServiceComputeType": "AKS", "ModelIds": "churn:3,churn:4"})).unwrap()
    }

    fn workspace() -> WorkspaceId {
        WorkspaceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws").unwrap()
    }

    #[test]
    fn a_failed_smoke_test_shows_the_endpoints_answer_once() {
        let failed = smoke_test(
            "failed",
            json!({"status": 500, "latencyMs": 12.0, "body": "model failed to load\nTraceback ..."}),
        );
        let mut notice = Notice::default();

        describe(&mut notice, Some(&workspace()), &deployed(), &[failed]);

        assert_eq!(notice.status, "FAILED");
        assert_eq!(notice.title, "Endpoint churn-api failed its smoke test");
        assert_eq!(
            notice.summary,
            "Endpoint churn-api (AKS) now serves churn:3, churn:4; smoke test: the endpoint answered 500 in 12.0 ms"
        );
        assert_eq!(
            notice.error.unwrap().text,
            "HTTP 500: model failed to load\nTraceback ..."
        );
        assert!(notice.alert);
        assert_eq!(notice.links[0].label, "Open endpoint");
        assert_eq!(
            notice.links[0].url,
            workspace().studio_endpoint_url("churn-api")
        );
    }

    #[test]
    fn a_deployment_is_deployed_or_passed() {
        let mut notice = Notice::default();
        describe(&mut notice, Some(&workspace()), &deployed(), &[]);
        assert_eq!(
            (notice.status.as_str(), notice.title.as_str()),
            ("DEPLOYED", "Endpoint churn-api deployed")
        );

        let passed = smoke_test("done", json!({"status": 200, "latencyMs": 12.0}));
        let mut notice = Notice::default();
        describe(&mut notice, Some(&workspace()), &deployed(), &[passed]);
        assert_eq!(notice.status, "PASSED");
        assert_eq!(notice.error, None);
        assert!(!notice.alert);
    }
}
