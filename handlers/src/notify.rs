//! `aml-handlers notify --test`: the "send a test message" every team tries first. A sample
//! notice (a failed run, so that PagerDuty takes it too) goes to every configured target, or
//! the one given, through the same renderers and sender the functions use; each answer is
//! reported. A PagerDuty test resolves the alert it triggered, so no incident stays open.

use aml_events::{
    Timestamp, WorkspaceId,
    notify::{ErrorText, Fact, Kind, Notice, Notifier, NotifyError, Severity, pagerduty},
};
use serde_json::json;

use crate::routes::NamedTarget;

/// The sample's workspace: a made-up one, so its studio link shows the shape of a real link.
const SAMPLE_WORKSPACE: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";

/// The sample's error: a short Python traceback, as run history reports a failed run's.
const SAMPLE_ERROR: &str = "Traceback (most recent call last):\n  File \"train.py\", line 42, in <module>\n    main()\n  File \"train.py\", line 17, in main\n    raise RuntimeError(\"this is a test message from aml-handlers notify --test\")\nRuntimeError: this is a test message from aml-handlers notify --test";

/// What one target answered.
#[derive(Debug)]
pub struct TestAnswer {
    /// The target: its name, kind and origin.
    pub target: String,
    /// Its status and answer (for PagerDuty, the trigger's and then the resolve's), or why it
    /// failed.
    pub result: Result<(u16, String), NotifyError>,
    /// A PagerDuty alert triggered whose resolve failed: its `dedup_key`, for whoever closes
    /// the incident by hand.
    pub left_open: Option<String>,
}

impl TestAnswer {
    /// `ml-team: slack https://hooks.slack.com/… answered 200: ok`, or the failure with its
    /// causes (`oncall: could not reach pagerduty https://…: … Connection refused`).
    pub fn line(&self) -> String {
        match &self.result {
            Ok((status, answer)) if answer.is_empty() => {
                format!("{} answered {status}", self.target)
            }
            Ok((status, answer)) => format!("{} answered {status}: {answer}", self.target),
            // Every notification error names its target's kind and origin already.
            Err(err) => match &self.left_open {
                Some(key) => format!(
                    "{}: triggered, but the resolve failed: {}; the incident with dedup_key {key} is left open",
                    self.target,
                    aml_events::chain(err)
                ),
                None => aml_events::chain(err).to_string(),
            },
        }
    }
}

/// A sample notice: a failed training run, as `RunStatusChanged` sends it, its alert key
/// unique to this test so it never touches a real incident.
pub fn sample_notice() -> Notice {
    let workspace = WorkspaceId::parse(SAMPLE_WORKSPACE).expect("a workspace resource id");
    let run = "aml_handlers_test_run";
    let test_id = uuid::Uuid::new_v4();
    Notice {
        status: "FAILED".to_owned(),
        title: format!("Run {run} failed in churn-training (test message)"),
        summary: format!(
            "Run {run} of experiment churn-training is now Failed. This is a test message from aml-handlers notify --test."
        ),
        severity: Severity::Error,
        error: Some(ErrorText::new(SAMPLE_ERROR)),
        facts: vec![
            Fact::new("Experiment", "churn-training"),
            Fact::new("Run", run),
            Fact::new("Status", "Failed"),
        ],
        link: Some(workspace.studio_run_url(run)),
        event_id: format!("aml-handlers-test-{test_id}"),
        event_type: "Microsoft.MachineLearningServices.RunStatusChanged".to_owned(),
        function: "RunStatusChanged".to_owned(),
        subject: Some(format!("experiments/churn-training/runs/{run}")),
        workspace: Some(workspace.resource_id()),
        time: Some(Timestamp::now()),
        alert: true,
        alert_key: format!(
            "{}/aml-handlers-test-{test_id}/notify-test",
            workspace.workspace
        ),
        data: json!({"experimentName": "churn-training", "runId": run, "runStatus": "Failed"})
            .into(),
        group: "notify --test".to_owned(),
        ..Notice::default()
    }
}

/// Sends the sample notice to each target, one after the other, and reports every answer. A
/// PagerDuty target that took the alert is sent its `resolve` at once.
pub async fn send_test(notifier: &Notifier, targets: &[NamedTarget]) -> Vec<TestAnswer> {
    let notice = sample_notice();
    let mut answers = Vec::with_capacity(targets.len());
    for named in targets {
        let target = &named.target;
        let mut result = notifier
            .send(target, &notice)
            .await
            .map(|delivered| (delivered.status, delivered.answer));
        let mut left_open = None;
        if let (Kind::PagerDuty, Ok((status, answer))) = (target.kind, &result) {
            let key = target.routing_key.as_ref().map_or("", |key| key.expose());
            let resolve = pagerduty::resolve(&notice, key);
            let triggered = (*status, answer.clone());
            result = notifier
                .post(target, &notice, &resolve)
                .await
                .map(|resolved| {
                    let (status, answer) = triggered;
                    let resolved = format!("resolved, {}: {}", resolved.status, resolved.answer);
                    (status, format!("{answer}; {resolved}"))
                });
            if result.is_err() {
                left_open = resolve["dedup_key"].as_str().map(str::to_owned);
            }
        }
        answers.push(TestAnswer {
            target: format!("{}: {}", named.name, target.display()),
            result,
            left_open,
        });
    }
    answers
}
