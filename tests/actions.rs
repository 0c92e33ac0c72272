//! The functions doing their jobs end to end (docs/actions.md): the real binary against a loopback
//! stand-in for Azure (managed identity, ARM, discovery, run history, jobs), the notification
//! sink and the scoring endpoint, in both host and webhook modes, and every failure rule.

mod common;

use std::time::Duration;

use common::stand_in::*;
use serde_json::{Value, json};
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path, path_regex},
};

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
    // Every notification about a run links to it in Azure ML studio (docs/actions.md).
    const STUDIO_LINK: &str = "https://ml.azure.com/runs/churn_run_7?wsid=/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourcegroups/ml-rg/workspaces/ml-ws";
    // What happened where; the run's error is said once (the notice's error, and the `run`
    // field for machines), never in the text.
    assert_eq!(
        run_note["title"],
        "Run churn_run_7 failed in churn-training"
    );
    assert_eq!(
        run_note["text"],
        "Run churn_run_7 of experiment churn-training failed"
    );
    assert_eq!(run_note["link"], STUDIO_LINK);
    assert_eq!(run_note["run"]["status"], "Failed");
    assert_eq!(run_note["run"]["error"], "No module named 'sklearn'");
    let note = |id: &str| bodies.iter().find(|body| body["eventId"] == id).unwrap();
    let drift_note = note(&ids[1]);
    assert_eq!(
        drift_note["title"],
        "Drift 0.83 on dataset target-1 (threshold 0.5)"
    );
    assert_eq!(
        drift_note["text"],
        "Drift monitor transactions found drift between dataset target-1 (target) and dataset base-1 (baseline)"
    );
    let retrained = drift_note["retrain"]["detail"].as_str().unwrap();
    let job = format!("created job retrain-{}", ids[1]);
    assert!(retrained.contains(&job), "{retrained}");
    let deploy_note = note(&ids[2]);
    assert_eq!(deploy_note["smokeTest"]["status"], 200);
    assert_eq!(
        deploy_note["smokeTest"]["body"],
        Value::Null,
        "a passing answer is not kept"
    );
    assert_eq!(
        deploy_note["title"],
        "Endpoint churn-scoring deployed and passed its smoke test"
    );
    assert!(
        deploy_note["text"]
            .as_str()
            .unwrap()
            .starts_with("Endpoint churn-scoring (AKS) now serves churn:4; smoke test: the endpoint answered 200 in "),
        "{deploy_note}"
    );
    assert_eq!(note(&ids[3])["title"], "Model churn version 4 registered");

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

// See: issue 24, "Cards that read well where they land": a failed smoke test said it failed,
// never what the endpoint answered.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_smoke_test_tells_what_the_endpoint_answered_without_its_key() {
    // Arrange: the endpoint fails, and its answer echoes the key it was sent.
    let azure = StandIn::start().await;
    azure.mount_identity(0).await;
    azure.mount_sink(1).await;
    Mock::given(method("POST"))
        .and(path("/score"))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!(
            "model failed to load (key {SCORING_KEY})\nTraceback ..."
        )))
        // A 5xx is retried within the deadline: the last answer is the result.
        .expect(1..)
        .named("a failing endpoint")
        .mount(&azure.server)
        .await;
    let server = start(&azure.env());

    // Act
    let (status, body, _) = webhook(&server, "", &[deployed(&new_id("deploy"))]).await;

    // Assert: the notice pages, names the endpoint and carries the start of its answer.
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        statuses(&body["results"][0]),
        pairs(&[("smoke-test", "failed"), ("notify", "done")])
    );
    let note: Value = serde_json::from_slice(&azure.requests_to(HOOK_PATH).await[0].body).unwrap();
    assert_eq!(
        note["title"],
        "Endpoint churn-scoring failed its smoke test"
    );
    assert_eq!(note["severity"], "warning");
    assert_eq!(note["smokeTest"]["status"], 500);
    assert_eq!(
        note["smokeTest"]["body"],
        "model failed to load (key ***)\nTraceback ..."
    );
    assert_no_secrets(&[&note.to_string()]);
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
    azure.mount_one_retrain_and_notification().await;
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

    // Each drift from a monitor of its own: one monitor's would start one retrain at a time.
    let drift = |id: &str| {
        let mut event = drift(id);
        event["data"]["DataDriftId"] = json!(new_id("monitor"));
        event
    };
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
    // Each drift is announced, saying the retrain failed for now, before its delivery fails.
    azure.mount_sink(2).await;
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

    // Another monitor's: the first monitor's job may have been created (its answer lost),
    // so its next drift waits for it.
    let mut other = drift(&new_id("drift"));
    other["data"]["DataDriftId"] = json!(new_id("monitor"));
    let (status, _, took) = host(&server, "DatasetDriftDetected", &other).await;
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
    // Azure's calls end early enough to leave the notice its attempt: the drift is announced.
    azure.mount_sink(1).await;
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
    // Both drifts are announced: the refused one too, before its delivery fails (the notice
    // never waits on the retrain).
    azure.mount_sink(2).await;
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
    let notices = azure.requests_to(HOOK_PATH).await;
    let notice: Value = serde_json::from_slice(&notices[0].body).unwrap();
    assert!(
        notice["retrain"]["detail"]
            .as_str()
            .unwrap()
            .contains("AuthorizationFailed"),
        "the notice says why the retrain failed: {notice}"
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
    // The event is done with: the log is where an operator sees the failure, with its job.
    let invalid_id = body["results"][0]["eventId"].as_str().unwrap().to_owned();
    let stderr = server.wait_for_log("action failed");
    let line = (stderr.lines())
        .find(|line| line.contains("action failed") && line.contains(&invalid_id))
        .unwrap_or_else(|| panic!("no failure logged for {invalid_id}:\n{stderr}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("retrain-"), "names the job: {line}");
    assert!(line.contains("compute not found"), "{line}");
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
    // Enrichment retries the refused connection (at most 4 retries, 7.5 s of waiting) within
    // the deadline; a deadline well past that leaves the notification its time on a loaded
    // machine too (with 3 s, the retries could use it all and the delivery answered 503).
    env.push(("AML_DEADLINE_SECONDS", "20".into()));
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
