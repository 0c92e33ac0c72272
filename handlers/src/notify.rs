//! `aml-handlers notify --test`: the "send a test message" every team tries first. A sample
//! notice (a failed run, so that PagerDuty takes it too) goes to every configured target, or
//! the one given, through the same renderers and sender the functions use; each answer is
//! reported.

use aml_events::{
    Timestamp, WorkspaceId,
    notify::{Fact, Notice, Notifier, NotifyError, Severity, Target},
};
use serde_json::{Map, json};

/// The sample's workspace: a made-up one, so its studio link shows the shape of a real link.
const SAMPLE_WORKSPACE: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";

/// What one target answered.
#[derive(Debug)]
pub struct TestAnswer {
    /// The target, as kind and origin.
    pub target: String,
    /// Its status and answer, or why it failed.
    pub result: Result<(u16, String), NotifyError>,
}

impl TestAnswer {
    /// `slack https://hooks.slack.com/… answered 200: ok`, or the failure with its causes
    /// (`could not reach slack https://…: … Connection refused`).
    pub fn line(&self) -> String {
        match &self.result {
            Ok((status, answer)) if answer.is_empty() => {
                format!("{} answered {status}", self.target)
            }
            Ok((status, answer)) => format!("{} answered {status}: {answer}", self.target),
            // Every notification error names its target already.
            Err(err) => aml_events::chain(err).to_string(),
        }
    }
}

/// A sample notice: a failed training run, as `RunStatusChanged` sends it.
pub fn sample_notice() -> Notice {
    let workspace = WorkspaceId::parse(SAMPLE_WORKSPACE).expect("a workspace resource id");
    let run = "aml_handlers_test_run";
    Notice {
        title: format!("Run {run} failed (a test message from aml-handlers)"),
        summary: format!(
            "Run {run} of experiment churn-training is now Failed: this is a test message from aml-handlers notify --test"
        ),
        severity: Severity::Error,
        facts: vec![
            Fact::new("Experiment", "churn-training"),
            Fact::new("Run", run),
            Fact::new("Status", "Failed"),
        ],
        link: Some(workspace.studio_run_url(run)),
        event_id: format!("aml-handlers-test-{}", uuid::Uuid::new_v4()),
        event_type: "Microsoft.MachineLearningServices.RunStatusChanged".to_owned(),
        function: "RunStatusChanged".to_owned(),
        subject: Some(format!("experiments/churn-training/runs/{run}")),
        workspace: Some(workspace.resource_id()),
        time: Some(Timestamp::now()),
        alert: true,
        alert_key: format!("{}/{run}/notify-test", workspace.workspace),
        data: json!({"experimentName": "churn-training", "runId": run, "runStatus": "Failed"}),
        extra: Map::new(),
        ..Notice::default()
    }
}

/// Sends the sample notice to each target, one after the other, and reports every answer.
pub async fn send_test(notifier: &Notifier, targets: &[Target]) -> Vec<TestAnswer> {
    let notice = sample_notice();
    let mut answers = Vec::with_capacity(targets.len());
    for target in targets {
        let result = notifier
            .send(target, &notice)
            .await
            .map(|delivered| (delivered.status, delivered.answer));
        answers.push(TestAnswer {
            target: target.display(),
            result,
        });
    }
    answers
}
