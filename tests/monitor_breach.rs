//! Drift as Azure ML reports it today (docs/actions.md), end to end: a model monitor's failed run
//! carrying the breach tag, delivered to the real `serve` as Event Grid and as the Functions
//! host deliver it, starts exactly one retraining job on the loopback stand-in for Azure and
//! posts one drift notification; the unreadable and the recovered cases; notifications with
//! and without Azure credentials.

mod common;

use common::{fixture, stand_in::*};
use serde_json::{Value, json};
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{body_partial_json, method, path},
};

const BREACH: &str = "variants/monitor_breach.json";
const BREACH_CLOUD_EVENT: &str = "variants/monitor_breach.cloud_events.json";
const UNPARSEABLE: &str = "variants/monitor_breach_unparseable.json";
const RECOVERED: &str = "variants/monitor_recovered.json";
const RUN_ID: &str = "churn-monitor_signal_data_drift_1764655200";

/// The first event of a fixture.
fn first_event(name: &str) -> Value {
    let events: Value = serde_json::from_str(&fixture(name)).unwrap();
    events[0].clone()
}

/// The stand-in's job template, with the placeholders a breach fills.
fn breach_job_template(azure: &StandIn) {
    std::fs::write(
        &azure.job_file,
        r#"{"properties": {"jobType": "Command", "displayName": "retrain on {{signalName}}", "tags": {"monitorRunId": "{{monitorRunId}}", "eventId": "{{eventId}}"}}}"#,
    )
    .unwrap();
}

/// The settings of the stand-in app, notifying on failures only: a breach is notified anyway.
fn env(azure: &StandIn) -> Vec<(&'static str, String)> {
    let mut env = azure.env();
    env.push(("AML_NOTIFY_RUN_STATUSES", "Canceled".into()));
    env
}

async fn deliver(server: &common::Server, through_host: bool, event: &Value) -> (u16, Value) {
    if through_host {
        let (status, body, _) = host(server, "RunStatusChanged", event).await;
        (status, body["ReturnValue"].clone())
    } else {
        let (status, body, _) = webhook(server, "", std::slice::from_ref(event)).await;
        (status, body["results"][0].clone())
    }
}

async fn a_breach_retrains_once_and_notifies(through_host: bool) {
    // Arrange
    let azure = StandIn::start().await;
    breach_job_template(&azure);
    azure.mount_identity(1).await;
    azure.mount_sink(1).await;
    let event = first_event(BREACH);
    let job_path = format!("{WORKSPACE}/jobs/retrain-{}", event["id"].as_str().unwrap());
    Mock::given(method("PUT"))
        .and(path(job_path.as_str()))
        .and(body_partial_json(json!({"properties": {
            "displayName": "retrain on churn-drift",
            "tags": {"monitorRunId": RUN_ID, "eventId": event["id"]}}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"name": "retrain"})))
        .expect(1)
        .named("the one retraining job")
        .mount(&azure.server)
        .await;
    let server = start(&env(&azure));

    // Act: the breach, then Event Grid redelivering it.
    let (status, outcome) = deliver(&server, through_host, &event).await;
    let (again, redelivered) = deliver(&server, through_host, &event).await;

    // Assert
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["trigger"], "monitor-breach");
    assert_eq!(outcome["signal"], "churn-drift");
    assert_eq!(
        outcome["violations"][0],
        json!({"feature": "age", "metric": "JensenShannonDistance", "value": 0.4217, "threshold": 0.1})
    );
    assert_eq!(outcome["violations"].as_array().unwrap().len(), 3);
    assert_eq!(
        statuses(&outcome),
        pairs(&[("retrain", "done"), ("notify", "done")]),
        "{outcome}"
    );
    assert_eq!(again, 200);
    assert_eq!(
        statuses(&redelivered),
        pairs(&[("retrain", "duplicate"), ("notify", "duplicate")]),
        "{redelivered}"
    );
    let notes = azure.requests_to(HOOK_PATH).await;
    assert_eq!(notes.len(), 1);
    let note: Value = serde_json::from_slice(&notes[0].body).unwrap();
    let studio = format!(
        "https://ml.azure.com/runs/{RUN_ID}?wsid=/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourcegroups/ml-rg/workspaces/ml-ws"
    );
    // The signal in the title; the violations in their own field, not again in the text.
    assert_eq!(note["title"], "Signal churn-drift breached its thresholds");
    assert_eq!(
        note["text"],
        format!("Monitor run {RUN_ID} of churn-monitor found 3 violations")
    );
    assert_eq!(note["violations"], outcome["violations"]);
    assert_eq!(note["trigger"], "monitor-breach");
    assert_eq!(note["link"], studio.as_str());
    assert_eq!(note["retrain"]["status"], "done");
    let retrained = note["retrain"]["detail"].as_str().unwrap();
    let job = format!("created job retrain-{}", event["id"].as_str().unwrap());
    assert!(retrained.contains(&job), "{retrained}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_breach_delivered_by_event_grid_retrains_once_and_notifies() {
    a_breach_retrains_once_and_notifies(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_breach_delivered_by_the_functions_host_retrains_once_and_notifies() {
    a_breach_retrains_once_and_notifies(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cloud_event_with_pascal_case_keys_and_tag_is_a_breach_too() {
    let azure = StandIn::start().await;
    breach_job_template(&azure);
    azure.mount_one_retrain_and_notification().await;
    let server = start(&env(&azure));

    let (status, outcome) = deliver(&server, false, &first_event(BREACH_CLOUD_EVENT)).await;

    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["signal"], "churn-prediction-drift");
    // Azure ML's own unit test writes `group` last; the order does not matter.
    assert_eq!(
        outcome["violations"][1],
        json!({"feature": "monthly_charges", "metric": "JensenShannonDistance", "value": 0.2466, "threshold": 0.1})
    );
    assert_eq!(
        statuses(&outcome),
        pairs(&[("retrain", "done"), ("notify", "done")])
    );
    let note: Value = serde_json::from_slice(&azure.requests_to(HOOK_PATH).await[0].body).unwrap();
    assert_eq!(
        note["title"],
        "Signal churn-prediction-drift breached its thresholds"
    );
    assert_eq!(
        note["text"],
        "Monitor run churn-monitor_signal_prediction_drift_1764658800 of churn-monitor found 2 violations"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_breach_still_retrains_and_tells_its_text() {
    let azure = StandIn::start().await;
    azure.mount_one_retrain_and_notification().await;
    let server = start(&env(&azure));

    let (status, outcome) = deliver(&server, true, &first_event(UNPARSEABLE)).await;

    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["trigger"], "monitor-breach");
    assert_eq!(outcome["signal"], Value::Null);
    assert_eq!(outcome["violations"], json!([]));
    assert_eq!(
        statuses(&outcome),
        pairs(&[("retrain", "done"), ("notify", "done")])
    );
    let note: Value = serde_json::from_slice(&azure.requests_to(HOOK_PATH).await[0].body).unwrap();
    assert_eq!(
        note["title"],
        format!("Monitor run {RUN_ID} breached its thresholds")
    );
    assert_eq!(
        note["text"],
        format!(
            "Monitor run {RUN_ID} of churn-monitor breached its thresholds; the monitor's report could not be read"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovered_monitor_is_acknowledged_and_nothing_is_done() {
    let azure = StandIn::start().await;
    azure.mount_sink(0).await;
    azure
        .mount_jobs(ResponseTemplate::new(201).set_body_json(json!({})), 0)
        .await;
    let mut env = env(&azure);
    // Even with every status notified, a recovered monitor is no failure to announce.
    env.push(("AML_NOTIFY_RUN_STATUSES", "Completed,Failed".into()));
    let server = start(&env);

    for through_host in [false, true] {
        let mut event = first_event(RECOVERED);
        event["id"] = new_id("recovered").into();
        let (status, outcome) = deliver(&server, through_host, &event).await;
        assert_eq!(status, 200, "{outcome}");
        assert!(
            outcome["actions"].as_array().unwrap().is_empty(),
            "{outcome}"
        );
        let note = outcome["note"].as_str().unwrap();
        assert!(
            note.contains("breach tag") && note.contains("Completed, not Failed"),
            "{note}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_go_out_without_azure_credentials_and_only_a_dry_run_holds_them() {
    let azure = StandIn::start().await;
    azure.mount_sink(1).await;
    let without_identity: Vec<(&'static str, String)> = env(&azure)
        .into_iter()
        .filter(|(name, _)| !name.starts_with("IDENTITY_"))
        .collect();
    let server = start(&without_identity);

    let (status, outcome) = deliver(&server, false, &first_event(BREACH)).await;

    assert_eq!(status, 200, "{outcome}");
    assert_eq!(
        statuses(&outcome),
        pairs(&[("retrain", "dry-run"), ("notify", "done")]),
        "Azure is a dry run, the notification is not: {outcome}"
    );
    let notes = azure.requests_to(HOOK_PATH).await;
    assert_eq!(notes.len(), 1);
    // The retrain is a dry run: the notice says so without the job file's path on this host.
    let note: Value = serde_json::from_slice(&notes[0].body).unwrap();
    let detail = note["retrain"]["detail"].as_str().unwrap();
    let job_file = azure.job_file.file_name().unwrap().to_str().unwrap();
    assert!(detail.contains(&format!(" from {job_file}")), "{detail}");
    let folder = azure.job_file.parent().unwrap().display().to_string();
    assert!(!note.to_string().contains(&folder), "{note}");
    drop(server);

    let mut held = without_identity;
    held.push(("AML_DRY_RUN", "1".into()));
    let server = start(&held);
    let (_, outcome) = deliver(&server, true, &first_event(BREACH)).await;
    assert_eq!(
        statuses(&outcome),
        pairs(&[("retrain", "dry-run"), ("notify", "dry-run")])
    );
    assert_eq!(
        azure.requests_to(HOOK_PATH).await.len(),
        1,
        "nothing more was sent"
    );
}
