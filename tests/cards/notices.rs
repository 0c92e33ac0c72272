//! The cards themselves, as the real `aml-handlers serve` posts them: one event of each kind
//! delivered to it, with loopback stand-ins for Azure ML (identity, run history, jobs, the
//! scoring endpoint) and for a Teams Workflows webhook, whose received bodies are the cards.

use serde_json::{Value, json};
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::common::{
    fixture,
    stand_in::{self, StandIn, TOKEN, WORKSPACE},
};

/// Where the Teams stand-in takes posts.
const TEAMS_PATH: &str = "/workflows/cards/triggers/manual/paths/invoke";

/// Every event happens at this time, so each card's time is known.
pub(crate) const EVENT_TIME: &str = "2024-03-01T12:00:00.1234567Z";

/// The failed run's error in run history: a Python traceback.
pub(crate) fn traceback() -> String {
    fixture("cards/failed_run_traceback.txt")
}

/// An error written to abuse the card: a 5,000-character line, then Markdown links, an
/// autolink, a bare URL, a mention, a heading, bold, emoji and right-to-left text, and the
/// exception line last (where a card that keeps an error's end still shows them all).
pub(crate) fn hostile_error() -> String {
    let long_line = "0123456789".repeat(500);
    format!(
        "{long_line}\n# Heading\n**bold** [Re-authenticate here](https://evil.example) or <https://evil.example> \
         or https://evil.example/bare @everyone\nemoji \u{1F525}\u{1F6A8} and \u{5E9}\u{5D2}\u{5D9}\u{5D0}\u{5D4} \
         \u{62E}\u{637}\u{623}\nRuntimeError: see https://evil.example/logs"
    )
}

/// One notice of one kind: the event delivered, and what run history says of its run.
struct Notice {
    /// The kind, also the card's file name.
    kind: &'static str,
    event: Value,
    /// The run's status and error in run history (run events only).
    history: Option<(&'static str, Option<String>)>,
}

/// A card posted to Teams.
pub(crate) struct Posted {
    pub(crate) kind: &'static str,
    pub(crate) event_id: String,
    pub(crate) body: Value,
}

/// A run event's data.
fn run(run_id: &str, status: Option<&str>) -> Value {
    let mut data = json!({"experimentId": "2f7a4c1e-8b3d-4f6a-9c2e-5d1b7a3e9f04", "experimentName": "churn-training",
                          "runId": run_id, "runType": "azureml.scriptrun", "runTags": {}, "runProperties": {}});
    if let Some(status) = status {
        data["runStatus"] = status.into();
    }
    data
}

/// An event with a fixed id and time.
fn event(function: &str, id: &str, data: Value) -> Value {
    let mut event = stand_in::event(function, id, data);
    event["eventTime"] = EVENT_TIME.into();
    event
}

/// One event of each kind.
fn notices() -> Vec<Notice> {
    let mut breach: Value = serde_json::from_str(&fixture("variants/monitor_breach.json")).unwrap();
    let mut breach = breach[0].take();
    breach["eventTime"] = EVENT_TIME.into();
    vec![
        Notice {
            kind: "failed-run",
            event: event(
                "RunStatusChanged",
                "7d3f0c2a-51e4-4b8e-9a61-2c8f4e7b1d90",
                run("churn_train_1158", Some("Failed")),
            ),
            history: Some(("Failed", Some(traceback()))),
        },
        Notice {
            kind: "canceled-run",
            event: event(
                "RunStatusChanged",
                "a41b6e2d-0c73-4f58-8d1e-93b5c7a2f604",
                run("churn_train_1130", Some("Canceled")),
            ),
            history: Some(("Canceled", None)),
        },
        Notice {
            kind: "completed-run",
            event: event(
                "RunCompleted",
                "c9e2a7f1-3d48-4b06-b5c3-6f1d8e4a2b75",
                run("churn_train_1100", None),
            ),
            history: Some(("Completed", None)),
        },
        Notice {
            kind: "monitor-breach",
            event: breach,
            history: None,
        },
        Notice {
            kind: "drift",
            event: event(
                "DatasetDriftDetected",
                "e5a8d3c6-7b19-4f2e-8c40-1d6b9f3a7e28",
                json!({"DataDriftId": "drift-1", "DataDriftName": "transactions", "RunId": "transactions_drift_run_42",
                       "BaseDatasetId": "base-1", "TargetDatasetId": "target-1", "DriftCoefficient": 0.83,
                       "StartTime": "2024-02-23T00:00:00Z", "EndTime": "2024-03-01T00:00:00Z"}),
            ),
            history: None,
        },
        Notice {
            kind: "model-registered",
            event: event(
                "ModelRegistered",
                "0b7c4e9a-2f61-4d38-a5e7-8c3d1b6f9a42",
                json!({"modelName": "churn", "modelVersion": 4}),
            ),
            history: None,
        },
        Notice {
            kind: "model-deployed",
            event: event(
                "ModelDeployed",
                "3f9a1d7e-6c24-4b85-9e03-5a7c2d8f1b66",
                json!({"serviceName": "churn-scoring", "serviceComputeType": "AKS", "modelIds": "churn:4"}),
            ),
            history: None,
        },
        Notice {
            kind: "smoke-test-failed",
            event: event(
                "ModelDeployed",
                "8e2d5b1c-9a37-4f60-b4d8-2c6e7f1a3d59",
                json!({"serviceName": "churn-scoring-canary", "serviceComputeType": "AKS", "modelIds": "churn:5"}),
            ),
            history: None,
        },
        Notice {
            kind: "hostile",
            event: event(
                "RunStatusChanged",
                "f1c6a3e8-4d92-4b57-a0e6-7b3d9c2f5e81",
                run("churn_train_1201", Some("Failed")),
            ),
            history: Some(("Failed", Some(hostile_error()))),
        },
    ]
}

/// Delivers every notice to a fresh `serve` posting to a Teams stand-in, one after the other
/// (the first deployment's smoke test passes, the second's fails); the cards it posted.
pub(crate) async fn post_every_kind() -> Vec<Posted> {
    let azure = StandIn::start().await;
    let notices = notices();
    azure.mount_identity(1..).await;
    azure.mount_run_history().await;
    for notice in &notices {
        let Some((status, error)) = &notice.history else {
            continue;
        };
        let run_id = notice.event["data"]["runId"].as_str().unwrap();
        let mut found = json!({"runId": run_id, "status": status});
        if let Some(message) = error {
            found["error"] = json!({"error": {"code": "UserError", "message": message}});
        }
        Mock::given(method("GET"))
            .and(path(format!(
                "/history/v1.0{WORKSPACE}/experiments/churn-training/runs/{run_id}"
            )))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(found))
            .named("run history")
            .mount(&azure.server)
            .await;
    }
    azure
        .mount_jobs(
            ResponseTemplate::new(201).set_body_json(json!({"name": "retrain"})),
            2,
        )
        .await;
    Mock::given(method("POST"))
        .and(path("/score"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([0.93])))
        .up_to_n_times(1)
        .named("scoring, passing once")
        .mount(&azure.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/score"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "message": "An unexpected error occurred in scoring script. Check the logs for more info."})))
        .named("scoring, failing from then on")
        .mount(&azure.server)
        .await;
    Mock::given(method("POST"))
        .and(path(TEAMS_PATH))
        .respond_with(ResponseTemplate::new(202))
        .expect(notices.len() as u64)
        .named("Teams Workflows webhook")
        .mount(&azure.server)
        .await;
    let mut env: Vec<(&'static str, String)> = azure
        .env()
        .into_iter()
        .filter(|(name, _)| *name != "AML_NOTIFY_URL")
        .collect();
    env.push((
        "AML_NOTIFY_URL",
        format!("teams:{}{TEAMS_PATH}", azure.uri()),
    ));
    let server = stand_in::start(&env);

    for notice in &notices {
        let (status, body, _) =
            stand_in::webhook(&server, "", std::slice::from_ref(&notice.event)).await;
        assert_eq!(status, 200, "{}: {body}", notice.kind);
    }

    let posted = azure.requests_to(TEAMS_PATH).await;
    notices
        .iter()
        .map(|notice| {
            let event_id = notice.event["id"].as_str().unwrap().to_owned();
            let request = posted
                .iter()
                .find(|request| {
                    request
                        .headers
                        .get("idempotency-key")
                        .is_some_and(|key| key == event_id.as_str())
                })
                .unwrap_or_else(|| {
                    panic!("{}: no card was posted for event {event_id}", notice.kind)
                });
            Posted {
                kind: notice.kind,
                event_id,
                body: serde_json::from_slice(&request.body).unwrap(),
            }
        })
        .collect()
}
