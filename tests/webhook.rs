//! The real binary as Event Grid drives it (docs/answers.md): both validation handshakes, the
//! abuse-protection handshake, notifications in both schemas, single and batch, and every
//! status Event Grid acts on.

mod common;

use common::{Server, client, fixture};
use reqwest::blocking::Response;
use serde_json::{Value, json};

const WEBHOOK: &str = "/runtime/webhooks/eventgrid";

fn post(server: &Server, query: &str, headers: &[(&str, &str)], body: String) -> (u16, Value) {
    let mut request = client()
        .post(format!("{}{WEBHOOK}{query}", server.url))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    read(request.send().unwrap())
}

fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().unwrap();
    assert!(!text.is_empty());
    (status, serde_json::from_str(&text).expect("a JSON body"))
}

const NOTIFICATION: (&str, &str) = ("aeg-event-type", "Notification");
const VALIDATION: (&str, &str) = ("aeg-event-type", "SubscriptionValidation");
const CLOUD_EVENT: (&str, &str) = (
    "content-type",
    "application/cloudevents+json; charset=utf-8",
);
const CLOUD_EVENT_BATCH: (&str, &str) = ("content-type", "application/cloudevents-batch+json");

#[test]
fn answers_the_event_grid_schema_validation_handshake() {
    let server = Server::start(&[]);
    let body = fixture("event_grid/subscription_validation.json");
    let (status, answer) = post(&server, "", &[VALIDATION], body.clone());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    );
    // Without the header the body tells.
    let (status, answer) = post(&server, "?functionName=RunCompleted", &[], body);
    assert_eq!(
        (status, &answer["validationResponse"]),
        (200, &json!("512d38b6-c7b8-40c8-89fe-f46f9e9622b6"))
    );
}

#[test]
fn answers_the_cloud_events_validation_handshakes() {
    let server = Server::start(&[]);
    let (status, answer) = post(
        &server,
        "",
        &[VALIDATION, CLOUD_EVENT],
        fixture("variants/cloud_event_subscription_validation.json"),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["validationResponse"],
        "9f6b0e8b-e90c-4d93-bc8e-741c28dbcfc4"
    );

    let response = client()
        .request(reqwest::Method::OPTIONS, server.at(WEBHOOK))
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .header("WebHook-Request-Rate", "120")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["webhook-allowed-origin"],
        "eventgrid.azure.net"
    );
    assert_eq!(response.headers()["webhook-allowed-rate"], "*");

    let response = client()
        .request(reqwest::Method::OPTIONS, server.at(WEBHOOK))
        .send()
        .unwrap();
    let (status, answer) = read(response);
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["field"], "WebHook-Request-Origin");
}

#[test]
fn delivers_each_sample_to_its_function() {
    let server = Server::start(&[]);
    for (function, file) in [
        ("ModelRegistered", "model_registered"),
        ("ModelDeployed", "model_deployed"),
        ("RunCompleted", "run_completed"),
        ("DatasetDriftDetected", "dataset_drift_detected"),
        ("RunStatusChanged", "run_status_changed"),
    ] {
        let (status, answer) = post(
            &server,
            &format!("?functionName={function}"),
            &[NOTIFICATION],
            fixture(&format!("event_grid/{file}.json")),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["results"][0]["function"], function);
        let (status, answer) = post(
            &server,
            "",
            &[NOTIFICATION, CLOUD_EVENT_BATCH],
            fixture(&format!("cloud_events/{file}.json")),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["results"][0]["function"], function,
            "dispatched by type"
        );
    }
}

#[test]
fn delivers_single_cloud_events_and_batches() {
    let server = Server::start(&[]);
    let (status, answer) = post(
        &server,
        "",
        &[NOTIFICATION, CLOUD_EVENT],
        fixture("variants/cloud_event_single.json"),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"].as_array().unwrap().len(), 1);
    assert_eq!(answer["results"][0]["function"], "RunStatusChanged");

    let (status, answer) = post(
        &server,
        "",
        &[NOTIFICATION, CLOUD_EVENT_BATCH],
        fixture("variants/cloud_event_batch.json"),
    );
    assert_eq!(status, 200, "{answer}");
    let functions: Vec<&Value> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["function"])
        .collect();
    assert_eq!(
        functions,
        [&json!("ModelRegistered"), &json!("DatasetDriftDetected")]
    );

    // No aeg-event-type header: a notification is inferred from the body.
    let (status, answer) = post(&server, "", &[], fixture("variants/event_grid_batch.json"));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"].as_array().unwrap().len(), 3);
}

#[test]
fn acknowledges_events_that_are_not_ours() {
    let server = Server::start(&[]);
    let (status, answer) = post(
        &server,
        "",
        &[NOTIFICATION],
        fixture("variants/event_grid_other_type.json"),
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["results"][0]["note"]
            .as_str()
            .unwrap()
            .contains("Microsoft.Storage.BlobCreated")
    );
    assert_eq!(answer["results"][1]["function"], "ModelRegistered");

    let (status, answer) = post(
        &server,
        "?functionName=RunCompleted",
        &[NOTIFICATION],
        fixture("event_grid/model_registered.json"),
    );
    assert_eq!(status, 200);
    assert!(
        answer["results"][0]["note"]
            .as_str()
            .unwrap()
            .contains("not handled by RunCompleted")
    );

    let (status, answer) = post(
        &server,
        "",
        &[NOTIFICATION],
        fixture("variants/event_grid_subscription_deleted.json"),
    );
    assert_eq!(status, 200);
    assert!(answer["results"][0]["note"].is_string());
}

#[test]
fn malformed_deliveries_get_400_naming_the_field() {
    let server = Server::start(&[]);
    let cases = [
        (
            "invalid/event_grid_missing_event_type.json",
            Some("eventType"),
        ),
        ("invalid/cloud_event_missing_source.json", Some("source")),
        (
            "invalid/cloud_event_data_and_base64.json",
            Some("data_base64"),
        ),
        ("invalid/data_wrong_type.json", Some("data.modelVersion")),
        ("invalid/truncated.json", None),
        ("invalid/not_json.txt", None),
    ];
    for (name, field) in cases {
        let (status, answer) = post(&server, "", &[NOTIFICATION], fixture(name));
        assert_eq!(status, 400, "{name}: {answer}");
        assert_eq!(answer["error"]["field"].as_str(), field, "{name}: {answer}");
    }
    // A validation header with no validation event.
    let (status, _) = post(
        &server,
        "",
        &[VALIDATION],
        fixture("event_grid/run_completed.json"),
    );
    assert_eq!(status, 400);
}

#[test]
fn unknown_function_names_get_404() {
    let server = Server::start(&[]);
    let (status, answer) = post(
        &server,
        "?functionName=RunExploded",
        &[NOTIFICATION],
        fixture("event_grid/run_completed.json"),
    );
    assert_eq!(status, 404);
    assert_eq!(answer["error"]["code"], "UnknownFunction");
}

#[test]
fn bodies_over_one_mebibyte_get_413_before_they_are_read() {
    let server = Server::start(&[]);
    let request = common::oversized_post(&server.url, WEBHOOK, 1024 * 1024 + 1, "[{\"id\": ");
    let answer = common::raw_exchange(&server.url, &request, "}}");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("PayloadTooLarge"), "{answer}");
}

#[test]
fn with_a_key_every_post_must_carry_it() {
    let server = Server::start_with(
        &["serve", "--bind", "0.0.0.0", "--port", "0"],
        &[("AML_WEBHOOK_KEY", "s3cr3t-k3y")],
    );
    let url = server.url.replace("0.0.0.0", "127.0.0.1");
    let send = |query: &str, headers: &[(&str, &str)]| {
        let mut request = client()
            .post(format!("{url}{WEBHOOK}{query}"))
            .body(fixture("event_grid/run_completed.json"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().unwrap())
    };
    let (status, answer) = send("", &[NOTIFICATION]);
    assert_eq!(status, 401, "{answer}");
    assert_eq!(send("?code=wrong", &[NOTIFICATION]).0, 401);
    assert_eq!(
        send(
            "?code=s3cr3t-k3y&functionName=RunCompleted",
            &[NOTIFICATION]
        )
        .0,
        200
    );
    assert_eq!(
        send("", &[NOTIFICATION, ("x-functions-key", "s3cr3t-k3y")]).0,
        200
    );
    // The key is checked before the function name, and never echoed.
    let (status, answer) = send("?functionName=Nope", &[NOTIFICATION]);
    assert_eq!(status, 401);
    let stderr = server.wait_for_log("401");
    assert!(!stderr.contains("s3cr3t-k3y") && !answer.to_string().contains("s3cr3t-k3y"));
}

// See: issue 13, "A validation event inside a Notification batch": the batch's other events
// were acknowledged unhandled, answered with a validation response.
#[test]
fn a_validation_event_inside_a_notification_batch_stops_nothing() {
    let server = Server::start(&[]);
    let validation: Value =
        serde_json::from_str(&fixture("event_grid/subscription_validation.json")).unwrap();
    let run: Value = serde_json::from_str(&fixture("event_grid/run_status_changed.json")).unwrap();
    let batch = json!([validation[0], run[0]]).to_string();

    let (status, answer) = post(&server, "", &[NOTIFICATION], batch);

    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("validationResponse").is_none(), "{answer}");
    let results = answer["results"].as_array().expect("one result per event");
    assert_eq!(results.len(), 2, "{answer}");
    assert_eq!(results[0]["eventId"], validation[0]["id"]);
    assert!(
        results[0]["note"]
            .as_str()
            .unwrap()
            .contains("acknowledged"),
        "{answer}"
    );
    assert_eq!(results[1]["function"], "RunStatusChanged");
    assert_eq!(results[1]["eventId"], run[0]["id"]);
    assert!(
        results[1].get("note").is_none(),
        "handled, not acknowledged: {answer}"
    );
    assert!(
        !results[1]["actions"].as_array().unwrap().is_empty(),
        "{answer}"
    );
}
