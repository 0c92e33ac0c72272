//! The functions doing their jobs end to end (SPEC §8): the real binary against a loopback
//! stand-in for Azure (managed identity, ARM, discovery, run history, jobs), the notification
//! sink and the scoring endpoint, in both host and webhook modes, and every failure rule.

mod common;

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use common::Server;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, header, method, path, path_regex, query_param},
};

const WORKSPACE: &str = "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";
const TOKEN: &str = "stand-in-access-token";
const IDENTITY_HEADER: &str = "identity-header-secret";
const SCORING_KEY: &str = "scoring-key-secret";
const HOOK_PATH: &str = "/hooks/T0/B0/hook-secret";
const SECRETS: [&str; 4] = [TOKEN, IDENTITY_HEADER, SCORING_KEY, "hook-secret"];

/// A fresh event id per call, so each test's events are new to the server.
fn new_id(label: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An Event Grid event of `function`'s type from the stand-in workspace.
fn event(function: &str, id: &str, data: Value) -> Value {
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

fn failed_run(id: &str) -> Value {
    event(
        "RunStatusChanged",
        id,
        json!({"experimentName": "churn-training", "runId": "churn_run_7", "runStatus": "failed", "runType": null}),
    )
}

fn drift(id: &str) -> Value {
    event(
        "DatasetDriftDetected",
        id,
        json!({"DataDriftId": "drift-1", "DataDriftName": "transactions", "RunId": "drift-run", "BaseDatasetId": "base-1", "TargetDatasetId": "target-1", "DriftCoefficient": 0.83}),
    )
}

fn deployed(id: &str) -> Value {
    event(
        "ModelDeployed",
        id,
        json!({"serviceName": "churn-scoring", "serviceComputeType": "AKS", "modelIds": "churn:4"}),
    )
}

fn registered(id: &str) -> Value {
    event(
        "ModelRegistered",
        id,
        json!({"modelName": "churn", "modelVersion": 4}),
    )
}

/// The stand-in for everything outside the process.
struct StandIn {
    server: MockServer,
    job_file: std::path::PathBuf,
}

impl StandIn {
    async fn start() -> StandIn {
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

    fn uri(&self) -> String {
        self.server.uri()
    }

    /// The settings of a fully configured app pointed at the stand-in.
    fn env(&self) -> Vec<(&'static str, String)> {
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

    async fn mount_identity(&self, expected: u64) {
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

    async fn mount_run_history(&self) {
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

    async fn mount_sink(&self, expected: u64) {
        Mock::given(method("POST"))
            .and(path(HOOK_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(expected)
            .named("notification sink")
            .mount(&self.server)
            .await;
    }

    async fn mount_jobs(&self, response: ResponseTemplate, expected: impl Into<wiremock::Times>) {
        Mock::given(method("PUT"))
            .and(path_regex(format!("^{WORKSPACE}/jobs/retrain-.*$")))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(response)
            .expect(expected)
            .named("create job")
            .mount(&self.server)
            .await;
    }

    async fn mount_scoring(&self, expected: u64) {
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

    async fn requests_to(&self, wanted: &str) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.url.path() == wanted)
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.job_file);
    }
}

fn start(env: &[(&'static str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    Server::start(&env)
}

/// Delivers `events` to the webhook; returns status, body and how long the answer took.
async fn webhook(server: &Server, query: &str, events: &[Value]) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/runtime/webhooks/eventgrid{query}", server.url))
        .header("aeg-event-type", "Notification")
        .json(events)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap();
    (status, body, started.elapsed())
}

/// Invokes `function` as the Functions host does, the event double-encoded.
async fn host(server: &Server, function: &str, event: &Value) -> (u16, Value, Duration) {
    let data = serde_json::to_string(&serde_json::to_string_pretty(event).unwrap()).unwrap();
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/{function}", server.url))
        .header("content-type", "application/json")
        .header("X-Azure-Functions-InvocationId", new_id("invocation"))
        .body(json!({"Data": {"event": data}, "Metadata": {}}).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap();
    (status, body, started.elapsed())
}

fn statuses(outcome: &Value) -> Vec<(String, String)> {
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

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, s)| (a.to_string(), s.to_string()))
        .collect()
}

fn assert_no_secrets(texts: &[&str]) {
    for text in texts {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} leaked into: {text}");
        }
    }
}

async fn each_function_does_its_job(through_host: bool) {
    // Arrange
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_run_history().await;
    azure.mount_sink(4).await;
    azure
        .mount_jobs(
            ResponseTemplate::new(201).set_body_json(json!({"name": "retrain"})),
            1,
        )
        .await;
    azure.mount_scoring(1).await;
    let server = start(&azure.env());
    let ids = [
        new_id("run"),
        new_id("drift"),
        new_id("deploy"),
        new_id("register"),
    ];
    let events = [
        ("RunStatusChanged", failed_run(&ids[0])),
        ("DatasetDriftDetected", drift(&ids[1])),
        ("ModelDeployed", deployed(&ids[2])),
        ("ModelRegistered", registered(&ids[3])),
    ];

    // Act
    let mut outcomes = Vec::new();
    for (function, event) in &events {
        let (status, body, _) = if through_host {
            host(&server, function, event).await
        } else {
            webhook(
                &server,
                &format!("?functionName={function}"),
                std::slice::from_ref(event),
            )
            .await
        };
        assert_eq!(status, 200, "{function}: {body}");
        outcomes.push(if through_host {
            body["ReturnValue"].clone()
        } else {
            body["results"][0].clone()
        });
    }

    // Assert: each outcome, then what reached the stand-in.
    assert_eq!(
        statuses(&outcomes[0]),
        pairs(&[("enrich", "done"), ("notify", "done")]),
        "{}",
        outcomes[0]
    );
    assert_eq!(
        statuses(&outcomes[1]),
        pairs(&[("retrain", "done"), ("notify", "done")]),
        "{}",
        outcomes[1]
    );
    assert_eq!(
        statuses(&outcomes[2]),
        pairs(&[("smoke-test", "done"), ("notify", "done")]),
        "{}",
        outcomes[2]
    );
    assert_eq!(
        statuses(&outcomes[3]),
        pairs(&[("notify", "done")]),
        "{}",
        outcomes[3]
    );

    let notes = azure.requests_to(HOOK_PATH).await;
    let bodies: Vec<Value> = notes
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect();
    for (request, body) in notes.iter().zip(&bodies) {
        let key = request
            .headers
            .get("idempotency-key")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(body["eventId"], key, "Idempotency-Key is the event id");
        assert!(
            request.headers.get("authorization").is_none(),
            "no token to the sink"
        );
        assert_eq!(body["workspace"], WORKSPACE);
    }
    let run_note = bodies
        .iter()
        .find(|body| body["eventId"] == ids[0].as_str())
        .unwrap();
    // Every notification about a run links to it in Azure ML studio (SPEC §8.1).
    const STUDIO_LINK: &str = "https://ml.azure.com/runs/churn_run_7?wsid=/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourcegroups/ml-rg/workspaces/ml-ws";
    assert_eq!(
        run_note["text"],
        format!(
            "Run churn_run_7 of experiment churn-training is now Failed: No module named 'sklearn' - {STUDIO_LINK}"
        )
    );
    assert_eq!(run_note["link"], STUDIO_LINK);
    assert_eq!(run_note["run"]["status"], "Failed");
    let deploy_note = bodies
        .iter()
        .find(|body| body["eventId"] == ids[2].as_str())
        .unwrap();
    assert_eq!(deploy_note["smokeTest"]["status"], 200);
    assert!(
        deploy_note["text"]
            .as_str()
            .unwrap()
            .contains("smoke test: the endpoint answered 200")
    );

    let jobs = azure
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT")
        .collect::<Vec<_>>();
    assert_eq!(
        jobs[0].url.path(),
        format!("{WORKSPACE}/jobs/retrain-{}", ids[1])
    );
    assert_eq!(jobs[0].url.query(), Some("api-version=2024-04-01"));
    let job: Value = serde_json::from_slice(&jobs[0].body).unwrap();
    assert_eq!(job["properties"]["displayName"], "retrain drift-1");
    assert_eq!(
        job["properties"]["command"],
        "python train.py --target target-1 --drift 0.83"
    );
    assert_eq!(job["properties"]["tags"]["eventId"], ids[1].as_str());

    // No token, header or key in the answers or the logs (debug level included).
    let stderr = server.wait_for_log(&ids[3]);
    let answers: Vec<String> = outcomes.iter().map(Value::to_string).collect();
    assert_no_secrets(&[&stderr]);
    assert_no_secrets(&answers.iter().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn each_function_does_its_job_as_a_custom_handler() {
    each_function_does_its_job(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_function_does_its_job_as_a_webhook() {
    each_function_does_its_job(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_sends_nothing_and_reports_the_requests() {
    let azure = StandIn::start().await;
    let mut env = azure.env();
    env.push(("AML_DRY_RUN", "1".into()));
    let server = start(&env);
    assert!(
        server.ready_line.contains("dry run"),
        "{}",
        server.ready_line
    );

    let (status, body, _) = webhook(
        &server,
        "",
        &[
            failed_run(&new_id("run")),
            drift(&new_id("drift")),
            deployed(&new_id("deploy")),
        ],
    )
    .await;

    assert_eq!(status, 200, "{body}");
    for outcome in body["results"].as_array().unwrap() {
        for action in outcome["actions"].as_array().unwrap() {
            assert_eq!(action["status"], "dry-run", "{action}");
            assert!(action["request"].is_string(), "{action}");
        }
    }
    assert!(
        azure.server.received_requests().await.unwrap().is_empty(),
        "nothing reaches Azure or the sink"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_event_is_not_acted_on_twice() {
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(1).await;
    azure
        .mount_jobs(ResponseTemplate::new(201).set_body_json(json!({})), 1)
        .await;
    let server = start(&azure.env());
    let event = drift(&new_id("drift"));

    let (_, first, _) = webhook(&server, "", std::slice::from_ref(&event)).await;
    let (status, second, _) = host(&server, "DatasetDriftDetected", &event).await;

    assert_eq!(
        statuses(&first["results"][0]),
        pairs(&[("retrain", "done"), ("notify", "done")])
    );
    assert_eq!(status, 200);
    assert_eq!(
        statuses(&second["ReturnValue"]),
        pairs(&[("retrain", "duplicate"), ("notify", "duplicate")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_job_counts_as_done() {
    // Another instance already handled the event: the job name is taken.
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(1).await;
    let conflict = ResponseTemplate::new(409)
        .set_body_json(json!({"error": {"code": "Conflict", "message": "Job already exists"}}));
    azure.mount_jobs(conflict, 1).await;
    let server = start(&azure.env());

    let (status, body, _) = webhook(&server, "", &[drift(&new_id("drift"))]).await;

    assert_eq!(status, 200, "{body}");
    let retrain = &body["results"][0]["actions"][0];
    assert_eq!(retrain["status"], "done");
    assert!(
        retrain["detail"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{retrain}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_events_share_one_token() {
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(0).await;
    azure
        .mount_jobs(
            ResponseTemplate::new(201)
                .set_body_json(json!({}))
                .set_delay(Duration::from_millis(50)),
            12,
        )
        .await;
    let mut env = azure.env();
    env.push(("AML_NOTIFY_ON", "none".into()));
    let server = start(&env);

    let events: Vec<Value> = (0..6).map(|_| drift(&new_id("drift"))).collect();
    let (batch, single) = tokio::join!(webhook(&server, "", &events), async {
        let mut answers = Vec::new();
        for _ in 0..6 {
            answers.push(
                host(&server, "DatasetDriftDetected", &drift(&new_id("drift")))
                    .await
                    .0,
            );
        }
        answers
    });

    assert_eq!(batch.0, 200, "{}", batch.1);
    assert!(single.iter().all(|status| *status == 200), "{single:?}");
    // The identity endpoint's `.expect(1)` is checked when the stand-in drops.
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_sink_is_retried_until_it_takes_the_notification() {
    let azure = StandIn::start().await;
    azure.mount_identity(0).await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .named("busy sink")
        .mount(&azure.server)
        .await;
    azure.mount_sink(1).await;
    let server = start(&azure.env());

    let (status, body, _) = webhook(&server, "", &[registered(&new_id("register"))]).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&body["results"][0]), pairs(&[("notify", "done")]));
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_honoured_through_retry_after() {
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(1).await;
    Mock::given(method("PUT"))
        .and(path_regex(format!("^{WORKSPACE}/jobs/retrain-.*$")))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .named("throttled")
        .mount(&azure.server)
        .await;
    azure
        .mount_jobs(ResponseTemplate::new(201).set_body_json(json!({})), 1)
        .await;
    let server = start(&azure.env());

    let (status, body, took) = webhook(&server, "", &[drift(&new_id("drift"))]).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["actions"][0]["status"], "done");
    assert!(
        took >= Duration::from_secs(1),
        "Retry-After waited: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_down_answers_503_within_the_deadline_so_event_grid_redelivers() {
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(0).await;
    // Azure asks for a wait far past the deadline: the handler must answer by the deadline
    // rather than wait. The bounds below are far from the 2 s the answer takes and far below
    // the 30 s a wait would cost, so a loaded machine cannot make them fail.
    azure
        .mount_jobs(
            ResponseTemplate::new(503)
                .insert_header("Retry-After", "30")
                .set_body_json(
                    json!({"error": {"code": "ServiceUnavailable", "message": "try later"}}),
                ),
            1..,
        )
        .await;
    let mut env = azure.env();
    env.push(("AML_DEADLINE_SECONDS", "2".into()));
    let server = start(&env);

    let (status, body, took) = webhook(&server, "", &[drift(&new_id("drift"))]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "Transient");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(
            "Azure ML answered 503 to create or update job (ServiceUnavailable: try later)"
        ),
        "the answer says why: {body}"
    );
    assert!(
        took < Duration::from_secs(15),
        "answered within the deadline: {took:?}"
    );

    let (status, _, took) = host(&server, "DatasetDriftDetected", &drift(&new_id("drift"))).await;
    assert_eq!(
        status, 503,
        "the invocation fails, so Event Grid redelivers"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    let stderr = server.wait_for_log("503");
    assert!(stderr.contains("ERROR"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_azure_is_cut_at_the_deadline() {
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(0).await;
    azure
        .mount_jobs(
            ResponseTemplate::new(201).set_delay(Duration::from_secs(60)),
            1..,
        )
        .await;
    let mut env = azure.env();
    env.push(("AML_DEADLINE_SECONDS", "2".into()));
    let server = start(&env);

    let (status, body, took) = webhook(&server, "", &[drift(&new_id("drift"))]).await;

    assert_eq!(status, 503, "{body}");
    // Far from the 2 s deadline, far below the stand-in's 60 s: cannot flake, still catches
    // a hang.
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_identity_fails_the_delivery_and_a_bad_request_is_reported() {
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(1).await;
    let forbidden =
        json!({"error": {"code": "AuthorizationFailed", "message": "no role on the workspace"}});
    Mock::given(method("PUT"))
        .and(path_regex(format!(
            "^{WORKSPACE}/jobs/retrain-forbidden.*$"
        )))
        .respond_with(ResponseTemplate::new(403).set_body_json(forbidden))
        .expect(1)
        .named("forbidden")
        .mount(&azure.server)
        .await;
    let invalid = json!({"error": {"code": "UserError", "message": "compute not found"}});
    Mock::given(method("PUT"))
        .and(path_regex(format!("^{WORKSPACE}/jobs/retrain-invalid.*$")))
        .respond_with(ResponseTemplate::new(400).set_body_json(invalid))
        .expect(1)
        .named("invalid job")
        .mount(&azure.server)
        .await;
    let server = start(&azure.env());

    let (status, body, _) = host(
        &server,
        "DatasetDriftDetected",
        &drift(&new_id("forbidden")),
    )
    .await;
    assert_eq!(
        status, 500,
        "a misconfigured identity fails the invocation: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AuthorizationFailed"),
        "{body}"
    );

    let (status, body, _) = webhook(&server, "", &[drift(&new_id("invalid"))]).await;
    assert_eq!(
        status, 200,
        "a permanent failure is reported, not redelivered: {body}"
    );
    let retrain = &body["results"][0]["actions"][0];
    assert_eq!(retrain["status"], "failed");
    assert!(
        retrain["detail"]
            .as_str()
            .unwrap()
            .contains("compute not found"),
        "{retrain}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn notifies_anyway_when_run_history_cannot_be_read() {
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(1).await;
    Mock::given(method("GET"))
        .and(path(WORKSPACE))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": {"code": "ResourceNotFound", "message": "workspace not found"}}),
        ))
        .named("no workspace")
        .mount(&azure.server)
        .await;
    let server = start(&azure.env());

    let (status, body, _) = webhook(&server, "", &[failed_run(&new_id("run"))]).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        statuses(&body["results"][0]),
        pairs(&[("enrich", "failed"), ("notify", "done")])
    );
    let note: Value = serde_json::from_slice(&azure.requests_to(HOOK_PATH).await[0].body).unwrap();
    assert!(
        note["text"]
            .as_str()
            .unwrap()
            .contains("run details unavailable"),
        "{note}"
    );
}

// See: issue 13, "Errors keep their cause": "request to Azure ML failed during get run"
// never said why.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_call_says_why_in_the_outcome_the_notification_and_the_log() {
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_sink(1).await;
    // The regional API Azure points to is down: connections to it are refused.
    let (_reserved, down) = common::refused_url();
    Mock::given(method("GET"))
        .and(path(WORKSPACE))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": WORKSPACE, "name": "ml-ws", "properties": {"discoveryUrl": format!("{}/discovery", azure.uri())}})))
        .named("workspace")
        .mount(&azure.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"api": down})))
        .named("discovery")
        .mount(&azure.server)
        .await;
    let mut env = azure.env();
    env.push(("AML_DEADLINE_SECONDS", "3".into()));
    let server = start(&env);

    let (status, body, _) = webhook(&server, "", &[failed_run(&new_id("run"))]).await;

    assert_eq!(status, 200, "{body}");
    let enrich = &body["results"][0]["actions"][0];
    assert_eq!(enrich["status"], "failed", "{body}");
    let detail = enrich["detail"].as_str().unwrap();
    assert!(detail.contains("during get run"), "{detail}");
    assert!(
        detail.to_lowercase().contains("connection refused"),
        "the cause is kept: {detail}"
    );
    let note: Value = serde_json::from_slice(&azure.requests_to(HOOK_PATH).await[0].body).unwrap();
    assert!(
        note["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("connection refused"),
        "{note}"
    );
    let stderr = server.wait_for_log("action failed");
    let line = stderr
        .lines()
        .find(|line| line.contains("action failed"))
        .unwrap();
    assert!(line.to_lowercase().contains("connection refused"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_from_other_workspaces_are_acknowledged_and_left_alone() {
    let azure = StandIn::start().await;
    let mut env = azure.env();
    env.push(("AML_WORKSPACES", "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/other-ws".into()));
    let server = start(&env);

    let (status, body, _) = webhook(
        &server,
        "",
        &[drift(&new_id("drift")), failed_run(&new_id("run"))],
    )
    .await;

    assert_eq!(status, 200, "{body}");
    for outcome in body["results"].as_array().unwrap() {
        assert_eq!(outcome["actions"], json!([]));
        assert!(
            outcome["note"].as_str().unwrap().contains("AML_WORKSPACES"),
            "{outcome}"
        );
    }
    assert!(azure.server.received_requests().await.unwrap().is_empty());
}
