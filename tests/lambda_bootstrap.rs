//! The real `bootstrap` binary against a loopback stand-in for the Lambda Runtime API: it
//! fetches Function URL requests (payload format 2.0) from `/invocation/next` and posts each
//! answer to `/invocation/{id}/response`, exactly as it would inside AWS Lambda.
//!
//! See <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.

mod common;
#[path = "common/entra.rs"]
mod entra;

use std::{
    collections::VecDeque,
    process::{Child, Command, Stdio},
    sync::{Mutex, mpsc},
    thread,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use common::fixture;
use serde_json::{Value, json};

/// The stand-in's state: requests waiting to be handed out, answers received.
struct RuntimeApi {
    pending: Mutex<VecDeque<(String, Value)>>,
    answers: mpsc::Sender<(String, Value)>,
}

async fn next(api: web::Data<RuntimeApi>) -> HttpResponse {
    let item = api.pending.lock().unwrap().pop_front();
    let Some((id, event)) = item else {
        // Nothing left: hold the long poll, as Lambda does between invocations.
        actix_web::rt::time::sleep(Duration::from_secs(600)).await;
        return HttpResponse::NoContent().finish();
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    HttpResponse::Ok()
        .insert_header(("Lambda-Runtime-Aws-Request-Id", id))
        .insert_header(("Lambda-Runtime-Deadline-Ms", deadline.to_string()))
        .insert_header((
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:eu-west-1:123456789012:function:aml-handlers",
        ))
        .insert_header((
            "Lambda-Runtime-Trace-Id",
            "Root=1-65e1c0de-0123456789abcdef01234567;Sampled=0",
        ))
        .json(event)
}

async fn response(
    request: HttpRequest,
    body: web::Bytes,
    api: web::Data<RuntimeApi>,
) -> HttpResponse {
    let id = request
        .match_info()
        .get("id")
        .unwrap_or_default()
        .to_owned();
    let kind = request
        .match_info()
        .get("kind")
        .unwrap_or_default()
        .to_owned();
    let value: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&body) }));
    let _ = api.answers.send((format!("{kind}:{id}"), value));
    HttpResponse::Accepted().json(json!({ "status": "OK" }))
}

/// Starts the stand-in on a free port; returns its `host:port` and the answers channel.
fn start_runtime_api(requests: Vec<(String, Value)>) -> (String, mpsc::Receiver<(String, Value)>) {
    let (answers, received) = mpsc::channel();
    let api = web::Data::new(RuntimeApi {
        pending: Mutex::new(requests.into()),
        answers,
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .app_data(api.clone())
                    .route("/2018-06-01/runtime/invocation/next", web::get().to(next))
                    .route(
                        "/2018-06-01/runtime/invocation/{id}/{kind}",
                        web::post().to(response),
                    )
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
        })
    });
    (address, received)
}

/// A Function URL request, payload format 2.0, built on the committed fixture.
fn function_url_request(method: &str, query: &str, headers: Value, body: Option<String>) -> Value {
    let mut event: Value =
        serde_json::from_str(&fixture("lambda/run_status_changed.function_url.json")).unwrap();
    event["requestContext"]["http"]["method"] = method.into();
    event["rawQueryString"] = query.into();
    event["headers"] = headers;
    event["body"] = body.into();
    event
}

struct Bootstrap(Child);

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_bootstrap(runtime_api: &str, env: &[(&str, &str)]) -> Bootstrap {
    let mut command = bootstrap_command(runtime_api, env);
    command.stderr(Stdio::null());
    Bootstrap(command.spawn().expect("bootstrap starts"))
}

/// `bootstrap` inside the stand-in Lambda environment, with `env` set.
fn bootstrap_command(runtime_api: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "aml-handlers")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2024/03/01/[$LATEST]0123456789abcdef",
        )
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/aml-handlers")
        .stdout(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

#[test]
fn bootstrap_serves_the_webhook_through_the_lambda_runtime_api() {
    // Arrange: one request per behaviour, each with its own request id.
    let notification =
        json!({"aeg-event-type": "Notification", "content-type": "application/json"});
    let requests = vec![
        (
            "validate",
            function_url_request(
                "POST",
                "code=lambda-key",
                json!({"aeg-event-type": "SubscriptionValidation"}),
                Some(fixture("event_grid/subscription_validation.json")),
            ),
        ),
        (
            "options",
            function_url_request(
                "OPTIONS",
                "",
                json!({"webhook-request-origin": "eventgrid.azure.net"}),
                None,
            ),
        ),
        (
            "notify",
            function_url_request(
                "POST",
                "code=lambda-key&functionName=RunCompleted",
                notification.clone(),
                Some(fixture("event_grid/run_completed.json")),
            ),
        ),
        (
            "cloudevents",
            function_url_request(
                "POST",
                "code=lambda-key",
                json!({"content-type": "application/cloudevents-batch+json"}),
                Some(fixture("variants/cloud_event_batch.json")),
            ),
        ),
        (
            "no-key",
            function_url_request(
                "POST",
                "",
                notification.clone(),
                Some(fixture("event_grid/run_completed.json")),
            ),
        ),
        (
            "unknown",
            function_url_request(
                "POST",
                "code=lambda-key&functionName=Nope",
                notification.clone(),
                Some(fixture("event_grid/run_completed.json")),
            ),
        ),
        (
            "malformed",
            function_url_request(
                "POST",
                "code=lambda-key",
                notification.clone(),
                Some(fixture("invalid/event_grid_missing_subject.json")),
            ),
        ),
        (
            "too-large",
            function_url_request(
                "POST",
                "code=lambda-key",
                notification,
                Some("x".repeat(1024 * 1024 + 1)),
            ),
        ),
    ];
    let count = requests.len();
    let (runtime_api, answers) = start_runtime_api(
        requests
            .into_iter()
            .map(|(id, event)| (id.to_owned(), event))
            .collect(),
    );

    // Act
    let _bootstrap = start_bootstrap(&runtime_api, &[("AML_WEBHOOK_KEY", "lambda-key")]);
    let mut received = std::collections::HashMap::new();
    for _ in 0..count {
        let (id, answer) = answers
            .recv_timeout(Duration::from_secs(30))
            .expect("bootstrap answers every invocation");
        received.insert(id, answer);
    }

    // Assert: every invocation succeeded at the Lambda level, with the webhook's status inside.
    let answer = |id: &str| -> (u16, Value, Value) {
        let response = received
            .get(&format!("response:{id}"))
            .unwrap_or_else(|| panic!("no response for {id}: {received:?}"));
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            response["headers"]["content-type"], "application/json",
            "{id}"
        );
        (
            response["statusCode"].as_u64().unwrap() as u16,
            body,
            response["headers"].clone(),
        )
    };
    let (status, body, _) = answer("validate");
    assert_eq!(
        (status, body),
        (
            200,
            json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
        )
    );
    let (status, _, headers) = answer("options");
    assert_eq!(status, 200);
    assert_eq!(headers["webhook-allowed-origin"], "eventgrid.azure.net");
    let (status, body, _) = answer("notify");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["function"], "RunCompleted");
    let (status, body, _) = answer("cloudevents");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert_eq!(answer("no-key").0, 401);
    assert_eq!(answer("unknown").0, 404);
    let (status, body, _) = answer("malformed");
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("subject"))
    );
    assert_eq!(answer("too-large").0, 413);
}

#[test]
fn bootstrap_outside_lambda_says_what_is_missing() {
    let output = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AWS_LAMBDA_RUNTIME_API") && stderr.contains("cargo lambda"),
        "{stderr}"
    );
}

#[test]
fn bootstrap_answers_503_when_azure_stays_down() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path, path_regex},
    };
    // Arrange: Azure answers 503 to every job creation; the deadline is short.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let azure =
        runtime.block_on(async {
            let azure = MockServer::start().await;
            let expires_on = (SystemTime::now() + Duration::from_secs(3600))
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            Mock::given(method("GET"))
                .and(path("/msi/token"))
                .respond_with(ResponseTemplate::new(200).set_body_json(
                    json!({"access_token": "t", "expires_on": expires_on.to_string()}),
                ))
                .mount(&azure)
                .await;
            Mock::given(method("PUT"))
                .and(path_regex("/jobs/retrain-.*$"))
                .respond_with(ResponseTemplate::new(503))
                .mount(&azure)
                .await;
            azure
        });
    let job = std::env::temp_dir().join(format!(
        "aml-handlers-lambda-job-{}.json",
        std::process::id()
    ));
    std::fs::write(&job, r#"{"properties": {"jobType": "Command"}}"#).unwrap();
    let drift = json!([{
        "id": "lambda-drift-1",
        "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws",
        "subject": "datadrifts/d/runs/r",
        "eventType": "Microsoft.MachineLearningServices.DatasetDriftDetected",
        "eventTime": "2024-03-01T12:00:00Z",
        "data": {"driftCoefficient": 0.9}
    }]);
    let request = function_url_request(
        "POST",
        "",
        json!({"aeg-event-type": "Notification"}),
        Some(drift.to_string()),
    );
    let (runtime_api, answers) = start_runtime_api(vec![("drift".to_owned(), request)]);

    // Act
    let _bootstrap = start_bootstrap(
        &runtime_api,
        &[
            ("IDENTITY_ENDPOINT", &format!("{}/msi/token", azure.uri())),
            ("IDENTITY_HEADER", "h"),
            ("AML_ARM_ENDPOINT", &azure.uri()),
            ("AML_RETRAIN_JOB_FILE", job.to_str().unwrap()),
            ("AML_DEADLINE_SECONDS", "2"),
        ],
    );
    let (id, response) = answers
        .recv_timeout(Duration::from_secs(30))
        .expect("an answer");

    // Assert: Event Grid will redeliver.
    assert_eq!(id, "response:drift");
    assert_eq!(response["statusCode"], 503, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "Transient");
    std::fs::remove_file(job).unwrap();
    drop(runtime);
}

#[test]
fn bootstrap_checks_event_grid_entra_tokens_like_serve() {
    // Arrange: the tenant's keys on a loopback authority; one request per check.
    let key = entra::KeyPair::generate("lambda-key-1");
    let authority = entra::Authority::publishing(&[&key]);
    let valid = key.sign(&entra::v2_claims(authority.uri()));
    let mut expired_claims = entra::v1_claims(entra::CLIENT_ID);
    expired_claims["exp"] = (entra::now() - 120).into();
    let expired = key.sign(&expired_claims);
    let confused = key.forge_hs256(&entra::v1_claims(entra::CLIENT_ID));
    let notification = |authorization: Option<&str>| {
        let mut headers =
            json!({"aeg-event-type": "Notification", "content-type": "application/json"});
        if let Some(token) = authorization {
            headers["authorization"] = format!("Bearer {token}").into();
        }
        function_url_request(
            "POST",
            "functionName=RunCompleted",
            headers,
            Some(fixture("event_grid/run_completed.json")),
        )
    };
    let requests = vec![
        ("valid".to_owned(), notification(Some(&valid))),
        ("no-token".to_owned(), notification(None)),
        ("expired".to_owned(), notification(Some(&expired))),
        ("confused".to_owned(), notification(Some(&confused))),
        (
            "validate".to_owned(),
            function_url_request(
                "POST",
                "",
                json!({"aeg-event-type": "SubscriptionValidation"}),
                Some(fixture("event_grid/subscription_validation.json")),
            ),
        ),
    ];
    let count = requests.len();
    let (runtime_api, answers) = start_runtime_api(requests);
    let log = std::env::temp_dir().join(format!(
        "aml-handlers-lambda-entra-{}.log",
        std::process::id()
    ));
    let settings = entra::settings(authority.uri(), entra::CLIENT_ID);
    let env: Vec<(&str, &str)> = settings
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();

    // Act
    let mut command = bootstrap_command(&runtime_api, &env);
    command.stderr(std::fs::File::create(&log).unwrap());
    let bootstrap = Bootstrap(command.spawn().expect("bootstrap starts"));
    let mut received = std::collections::HashMap::new();
    for _ in 0..count {
        let (id, answer) = answers
            .recv_timeout(Duration::from_secs(30))
            .expect("bootstrap answers every invocation");
        received.insert(id, answer);
    }
    drop(bootstrap);

    // Assert: the same answers as serve's.
    let answer = |id: &str| -> (u16, Value, Value) {
        let response = &received[&format!("response:{id}")];
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        (
            response["statusCode"].as_u64().unwrap() as u16,
            body,
            response["headers"].clone(),
        )
    };
    let (status, body, _) = answer("valid");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["function"], "RunCompleted");
    for (id, check) in [
        ("no-token", "token"),
        ("expired", "exp"),
        ("confused", "alg"),
    ] {
        let (status, body, headers) = answer(id);
        assert_eq!(status, 401, "{id}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("Microsoft Entra ID token refused: {check}: ")),
            "{id}: {message}"
        );
        assert!(
            headers["www-authenticate"]
                .as_str()
                .is_some_and(|challenge| challenge.starts_with("Bearer")),
            "{id}: {headers}"
        );
    }
    let (status, body, _) = answer("validate");
    assert_eq!(
        (status, &body["validationResponse"]),
        (200, &json!("512d38b6-c7b8-40c8-89fe-f46f9e9622b6"))
    );
    let logs = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    assert!(logs.contains("Microsoft Entra ID token refused"), "{logs}");
    for token in [&valid, &expired, &confused] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !logs.contains(token.as_str()) && !logs.contains(signature),
            "a token shows in the logs: {logs}"
        );
    }
}
