//! A loopback stand-in for everything outside the process (managed identity, ARM, discovery,
//! run history, jobs, the notification sink, the scoring endpoint), Azure ML events from its
//! workspace, and the two ways to deliver them to a running `serve`.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, header, method, path, path_regex, query_param},
};

use super::Server;

pub const WORKSPACE: &str = "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";
pub const TOKEN: &str = "stand-in-access-token";
pub const IDENTITY_HEADER: &str = "identity-header-secret";
pub const SCORING_KEY: &str = "scoring-key-secret";
pub const HOOK_PATH: &str = "/hooks/T0/B0/hook-secret";
pub const SECRETS: [&str; 4] = [TOKEN, IDENTITY_HEADER, SCORING_KEY, "hook-secret"];

/// A fresh event id per call, so each test's events are new to the server.
pub fn new_id(label: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An Event Grid event of `function`'s type from the stand-in workspace.
pub fn event(function: &str, id: &str, data: Value) -> Value {
    json!({
        "id": id,
        "topic": WORKSPACE,
        "subject": "subject",
        "eventType": format!("Microsoft.MachineLearningServices.{function}"),
        "eventTime": "2024-03-01T12:00:00.1234567Z",
        "data": data,
        "dataVersion": "2",
        "metadataVersion": "1"
    })
}

pub fn failed_run(id: &str) -> Value {
    event(
        "RunStatusChanged",
        id,
        json!({"experimentName": "churn-training", "runId": "churn_run_7", "runStatus": "failed", "runType": null}),
    )
}

/// A model monitor's breach: a failed monitor run carrying the breach tag, as Azure ML writes it.
pub fn monitor_breach(id: &str) -> Value {
    event(
        "RunStatusChanged",
        id,
        json!({"experimentName": "churn-monitor", "runId": "churn-monitor_run_1", "runStatus": "Failed",
               "runTags": {"azureml_modelmonitor_threshold_breached": "The signal 'churn-drift' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n['{\"group\":\"age\",\"metric_value\":0.42,\"metric_name\":\"JensenShannonDistance\",\"threshold_value\":0.1}']"}}),
    )
}

pub fn drift(id: &str) -> Value {
    event(
        "DatasetDriftDetected",
        id,
        json!({"DataDriftId": "drift-1", "DataDriftName": "transactions", "RunId": "drift-run", "BaseDatasetId": "base-1", "TargetDatasetId": "target-1", "DriftCoefficient": 0.83}),
    )
}

pub fn deployed(id: &str) -> Value {
    event(
        "ModelDeployed",
        id,
        json!({"serviceName": "churn-scoring", "serviceComputeType": "AKS", "modelIds": "churn:4"}),
    )
}

pub fn registered(id: &str) -> Value {
    event(
        "ModelRegistered",
        id,
        json!({"modelName": "churn", "modelVersion": 4}),
    )
}

/// The stand-in for everything outside the process.
pub struct StandIn {
    /// The wiremock server standing in for Azure, the sink and the scoring endpoint.
    pub server: MockServer,
    /// The retraining job template the app is given.
    pub job_file: std::path::PathBuf,
}

impl StandIn {
    pub async fn start() -> StandIn {
        let server = MockServer::start().await;
        let job_file =
            std::env::temp_dir().join(format!("aml-handlers-job-{}.json", new_id("job")));
        std::fs::write(
            &job_file,
            r#"{"properties": {"jobType": "Command", "displayName": "retrain {{dataDriftId}}", "command": "python train.py --target {{targetDatasetId}} --drift {{driftCoefficient}}", "tags": {"eventId": "{{eventId}}"}}}"#,
        )
        .unwrap();
        StandIn { server, job_file }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The settings of a fully configured app pointed at the stand-in.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("IDENTITY_ENDPOINT", format!("{}/msi/token", self.uri())),
            ("IDENTITY_HEADER", IDENTITY_HEADER.into()),
            ("AML_ARM_ENDPOINT", self.uri()),
            ("AML_NOTIFY_URL", format!("{}{HOOK_PATH}", self.uri())),
            (
                "AML_NOTIFY_ON",
                "ModelRegistered,ModelDeployed,RunCompleted,DatasetDriftDetected,RunStatusChanged"
                    .into(),
            ),
            ("AML_SMOKE_TEST_URI", format!("{}/score", self.uri())),
            ("AML_SMOKE_TEST_KEY", SCORING_KEY.into()),
            ("AML_SMOKE_TEST_PAYLOAD", r#"{"data": [[1, 2, 3]]}"#.into()),
            ("AML_RETRAIN_JOB_FILE", self.job_file.display().to_string()),
            ("AML_RETRAIN_DRIFT_THRESHOLD", "0.5".into()),
            ("RUST_LOG", "debug".into()),
        ]
    }

    pub async fn mount_identity(&self, expected: impl Into<wiremock::Times>) {
        let expires_on = (std::time::SystemTime::now() + Duration::from_secs(3600))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Mock::given(method("GET"))
            .and(path("/msi/token"))
            .and(query_param("api-version", "2019-08-01"))
            .and(header("x-identity-header", IDENTITY_HEADER))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": TOKEN, "expires_on": expires_on.to_string(), "token_type": "Bearer"})))
            .expect(expected)
            .named("managed identity token")
            .mount(&self.server)
            .await;
    }

    pub async fn mount_run_history(&self) {
        Mock::given(method("GET"))
            .and(path(WORKSPACE))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": WORKSPACE, "name": "ml-ws", "properties": {"discoveryUrl": format!("{}/discovery", self.uri())}})))
            .named("workspace")
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/discovery"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"api": self.uri(), "catalog": self.uri()})),
            )
            .named("discovery")
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/history/v1.0{WORKSPACE}/experiments/churn-training/runs/churn_run_7")))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"runId": "churn_run_7", "status": "Failed", "error": {"error": {"code": "UserError", "message": "No module named 'sklearn'"}}})))
            .named("run history")
            .mount(&self.server)
            .await;
    }

    pub async fn mount_sink(&self, expected: u64) {
        Mock::given(method("POST"))
            .and(path(HOOK_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(expected)
            .named("notification sink")
            .mount(&self.server)
            .await;
    }

    pub async fn mount_jobs(
        &self,
        response: ResponseTemplate,
        expected: impl Into<wiremock::Times>,
    ) {
        Mock::given(method("PUT"))
            .and(path_regex(format!("^{WORKSPACE}/jobs/retrain-.*$")))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(response)
            .expect(expected)
            .named("create job")
            .mount(&self.server)
            .await;
    }

    /// One retrain and its notification, each expected once: a token, a job created (201)
    /// and a post to the sink.
    pub async fn mount_one_retrain_and_notification(&self) {
        self.mount_identity(1).await;
        self.mount_sink(1).await;
        self.mount_jobs(ResponseTemplate::new(201).set_body_json(json!({})), 1)
            .await;
    }

    pub async fn mount_scoring(&self, expected: u64) {
        Mock::given(method("POST"))
            .and(path("/score"))
            .and(header(
                "authorization",
                format!("Bearer {SCORING_KEY}").as_str(),
            ))
            .and(body_partial_json(json!({"data": [[1, 2, 3]]})))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!([0.93]))
                    .set_delay(Duration::from_millis(20)),
            )
            .expect(expected)
            .named("scoring")
            .mount(&self.server)
            .await;
    }

    pub async fn requests_to(&self, wanted: &str) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.url.path() == wanted)
            .collect()
    }
}

impl StandIn {
    pub async fn requests_to_prefix(&self, prefix: &str) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.url.path().starts_with(prefix))
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.job_file);
    }
}

pub fn start(env: &[(&'static str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    Server::start(&env)
}

/// Delivers `events` to the webhook; returns status, body and how long the answer took.
pub async fn webhook(server: &Server, query: &str, events: &[Value]) -> (u16, Value, Duration) {
    let request = reqwest::Client::new()
        .post(format!("{}/runtime/webhooks/eventgrid{query}", server.url))
        .header("aeg-event-type", "Notification")
        .json(events);
    answer_of(request).await
}

/// Invokes `function` as the Functions host does, the event double-encoded.
pub async fn host(server: &Server, function: &str, event: &Value) -> (u16, Value, Duration) {
    let data = serde_json::to_string(&serde_json::to_string_pretty(event).unwrap()).unwrap();
    let request = reqwest::Client::new()
        .post(format!("{}/{function}", server.url))
        .header("content-type", "application/json")
        .header("X-Azure-Functions-InvocationId", new_id("invocation"))
        .body(json!({"Data": {"event": data}, "Metadata": {}}).to_string());
    answer_of(request).await
}

/// Sends `request`; returns the answer's status and JSON body, and how long it took.
async fn answer_of(request: reqwest::RequestBuilder) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap();
    (status, body, started.elapsed())
}

pub fn statuses(outcome: &Value) -> Vec<(String, String)> {
    outcome["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| {
            (
                action["action"].as_str().unwrap().to_owned(),
                action["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, s)| (a.to_string(), s.to_string()))
        .collect()
}

pub fn assert_no_secrets(texts: &[&str]) {
    for text in texts {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} leaked into: {text}");
        }
    }
}
