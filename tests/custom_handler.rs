//! The real binary as the Azure Functions host drives it (docs/answers.md): readiness, invocations of
//! every sample in every encoding the host uses, concurrency, failures, logs and shutdown.

mod common;

use std::thread;

use common::{Server, client, command, fixture};
use serde_json::{Value, json};

/// How the host puts the event into `Data.<binding>`.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    /// As documented: the event object itself.
    Object,
    /// A JSON string holding the event.
    Single,
    /// What the host sends today: a JSON string holding a JSON string holding the indented event.
    Double,
}

const ENCODINGS: [Encoding; 3] = [Encoding::Object, Encoding::Single, Encoding::Double];

const SAMPLES: [(&str, &str); 5] = [
    ("ModelRegistered", "model_registered"),
    ("ModelDeployed", "model_deployed"),
    ("RunCompleted", "run_completed"),
    ("DatasetDriftDetected", "dataset_drift_detected"),
    ("RunStatusChanged", "run_status_changed"),
];

/// A host-shaped invocation body for one event, with the host's lossy `Metadata`.
fn invocation(event: &Value, encoding: Encoding, binding: &str) -> String {
    let indented = serde_json::to_string_pretty(event).unwrap();
    let data = match encoding {
        Encoding::Object => event.clone(),
        Encoding::Single => Value::String(indented),
        Encoding::Double => Value::String(serde_json::to_string(&indented).unwrap()),
    };
    json!({
        "Data": { binding: data },
        "Metadata": {
            "data": "{\"ModelName\":\"x\"}",
            "eventTime": "06/26/2017 18:41:00",
            "sys": { "MethodName": "RunCompleted", "UtcNow": "2024-03-01T12:00:00.1Z", "RandomGuid": "6c3b4e36-1c9e-4a4e-9d1f-2f4c8f0f9c10" }
        }
    })
    .to_string()
}

/// The first event of a fixture file.
fn event(name: &str) -> Value {
    let body: Value = serde_json::from_str(&fixture(name)).unwrap();
    match body {
        Value::Array(mut events) => events.remove(0),
        event => event,
    }
}

fn invoke(server: &Server, function: &str, body: String) -> (u16, Value) {
    let response = client()
        .post(server.at(&format!("/{function}")))
        .header("Content-Type", "application/json")
        .header(
            "X-Azure-Functions-InvocationId",
            "6b1ab2a5-0b7c-4a2e-b0ae-1f5d6b4c3e21",
        )
        .header("X-Azure-Functions-HostVersion", "4.34.2.2")
        .body(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().unwrap();
    assert!(!text.is_empty(), "an empty body hangs the host");
    assert_eq!(content_type, "application/json", "{text}");
    (status, serde_json::from_str(&text).expect("a JSON body"))
}

#[test]
fn answers_readiness_at_once() {
    let server = Server::start(&[]);
    assert!(
        server.ready_line.contains("ready on http://127.0.0.1:"),
        "{}",
        server.ready_line
    );
    assert!(server.ready_line.contains("RunStatusChanged"));
    let response = client().get(server.at("/")).send().unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    assert_eq!(body["name"], "aml-handlers");
    assert_eq!(body["functions"].as_array().unwrap().len(), 5);
}

#[test]
fn every_sample_in_every_encoding_gets_a_well_formed_200() {
    let server = Server::start(&[]);
    for folder in ["event_grid", "cloud_events"] {
        for (function, file) in SAMPLES {
            let event = event(&format!("{folder}/{file}.json"));
            for encoding in ENCODINGS {
                let (status, body) =
                    invoke(&server, function, invocation(&event, encoding, "event"));
                let case = format!("{folder}/{file} {encoding:?}");
                assert_eq!(status, 200, "{case}: {body}");
                assert_eq!(body["Outputs"], json!({}), "{case}");
                assert!(!body["Logs"].as_array().unwrap().is_empty(), "{case}");
                let outcome = &body["ReturnValue"];
                assert_eq!(outcome["function"], function, "{case}");
                assert_eq!(
                    outcome["eventId"], "831e1650-001e-001b-66ab-eeb76e069631",
                    "{case}"
                );
                assert!(
                    outcome["eventType"].as_str().unwrap().ends_with(function),
                    "{case}"
                );
                // The samples share one event id: only its first delivery to a function acts,
                // the others are recognised as redeliveries.
                let first = folder == "event_grid" && matches!(encoding, Encoding::Object);
                let expected: &[&str] = if first {
                    &["skipped", "dry-run"]
                } else {
                    &["duplicate"]
                };
                for action in outcome["actions"].as_array().unwrap() {
                    let status = action["status"].as_str().unwrap();
                    assert!(expected.contains(&status), "{case}: {action}");
                    assert!(!action["detail"].as_str().unwrap().is_empty(), "{case}");
                }
            }
        }
    }
}

#[test]
fn any_binding_name_and_a_lossy_metadata_are_fine() {
    let server = Server::start(&[]);
    let event = event("variants/event_grid_camel_case.json");
    let (status, body) = invoke(
        &server,
        "ModelRegistered",
        invocation(&event, Encoding::Double, "modelEvent"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["eventId"], event["id"]);
}

#[test]
fn decisions_follow_the_settings() {
    let dir = std::env::temp_dir().join(format!("aml-handlers-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let job = dir.join("retrain.json");
    std::fs::write(
        &job,
        r#"{"properties": {"jobType": "Command", "displayName": "retrain {{dataDriftId}}"}}"#,
    )
    .unwrap();
    let server = Server::start(&[
        (
            "AML_NOTIFY_URL",
            "https://hooks.example.com/services/T0/B0/SECRETPART",
        ),
        ("AML_RETRAIN_JOB_FILE", job.to_str().unwrap()),
        ("AML_RETRAIN_DRIFT_THRESHOLD", "0.4"),
        ("AML_NOTIFY_RUN_STATUSES", "failed"),
        // Without credentials notifications would be sent; AML_DRY_RUN holds them back too.
        ("AML_DRY_RUN", "1"),
        ("RUST_LOG", "debug"),
    ]);

    // Drift 0.42 reaches 0.4: the retraining job would be created under a name from the id.
    let drift = event("variants/event_grid_mixed_case.json");
    let (status, body) = invoke(
        &server,
        "DatasetDriftDetected",
        invocation(&drift, Encoding::Double, "event"),
    );
    assert_eq!(status, 200, "{body}");
    let retrain = &body["ReturnValue"]["actions"][0];
    assert_eq!(retrain["action"], "retrain");
    assert_eq!(retrain["status"], "dry-run", "{retrain}");
    let request = retrain["request"].as_str().unwrap();
    assert!(request.starts_with("PUT https://management.azure.com/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws/jobs/retrain-22645af2-eccc-4496-9f2e-46a57d3c8d6c?api-version="), "{request}");
    let notify = &body["ReturnValue"]["actions"][1];
    assert_eq!(notify["status"], "dry-run");
    assert_eq!(notify["request"], "POST https://hooks.example.com/…");

    // A running run is not among the statuses; a FAILED one is.
    let batch: Vec<Value> =
        serde_json::from_str(&fixture("variants/event_grid_batch.json")).unwrap();
    let (_, running) = invoke(
        &server,
        "RunStatusChanged",
        invocation(&batch[0], Encoding::Double, "event"),
    );
    // No implicit route takes a running run: acknowledged, saying which setting decided.
    assert_eq!(running["ReturnValue"]["actions"], json!([]), "{running}");
    assert!(
        running["ReturnValue"]["note"]
            .as_str()
            .unwrap()
            .contains("not in AML_NOTIFY_RUN_STATUSES (Failed)"),
        "{running}"
    );
    let (_, failed) = invoke(
        &server,
        "RunStatusChanged",
        invocation(&batch[1], Encoding::Double, "event"),
    );
    let actions: Vec<&str> = failed["ReturnValue"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["dry-run", "dry-run"], "{failed}");

    // The webhook URL's secret path never shows, in answers or logs.
    let stderr = server.wait_for_log("RunStatusChanged");
    for text in [stderr, body.to_string(), failed.to_string()] {
        assert!(!text.contains("SECRETPART"), "{text}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_event_of_another_type_is_acknowledged_with_a_warning() {
    let server = Server::start(&[]);
    let event = event("event_grid/model_registered.json");
    let (status, body) = invoke(
        &server,
        "RunCompleted",
        invocation(&event, Encoding::Double, "event"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["actions"], json!([]));
    assert!(
        body["ReturnValue"]["note"]
            .as_str()
            .unwrap()
            .contains("not handled by RunCompleted")
    );
    let stderr = server.wait_for_log("WARN");
    assert!(
        stderr.contains("WARN") && stderr.contains("not this function's"),
        "{stderr}"
    );
}

#[test]
fn failures_get_their_status_a_json_body_naming_the_field_and_a_line_on_stderr() {
    let server = Server::start(&[]);
    let missing_type = event("invalid/event_grid_missing_event_type.json");
    let wrong_type = event("invalid/data_wrong_type.json");
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("RunCompleted", "this is not JSON".into(), 400, None),
        (
            "RunCompleted",
            r#"{"Metadata": {}}"#.into(),
            400,
            Some("Data"),
        ),
        (
            "RunCompleted",
            r#"{"Data": {"event": "\"{\\\"id\\\": \""}}"#.into(),
            400,
            Some("Data.event"),
        ),
        (
            "ModelRegistered",
            invocation(&missing_type, Encoding::Double, "event"),
            400,
            Some("Data.event.eventType"),
        ),
        (
            "ModelRegistered",
            invocation(&wrong_type, Encoding::Double, "event"),
            400,
            Some("Data.event.data.modelVersion"),
        ),
        (
            "NoSuchFunction",
            invocation(&wrong_type, Encoding::Double, "event"),
            404,
            None,
        ),
    ];
    for (function, body, status, field) in cases {
        let (got, answer) = invoke(&server, function, body.clone());
        assert_eq!(got, status, "{function} {body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        assert_eq!(answer["error"]["field"].as_str(), field, "{answer}");
        let stderr = server.wait_for_log(message);
        assert!(
            stderr.contains(message),
            "stderr lacks {message:?}: {stderr}"
        );
    }
    // Unknown routes and methods answer JSON too.
    let response = client().get(server.at("/RunCompleted")).send().unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "NotFound");
}

#[test]
fn a_body_that_arrives_in_pieces_is_read_whole() {
    let server = Server::start(&[]);
    let body = invocation(
        &event("event_grid/run_completed.json"),
        Encoding::Double,
        "event",
    );
    let address = server.url.trim_start_matches("http://");
    let third = body.len() / 3;
    let (a, b, c) = (&body[..third], &body[third..2 * third], &body[2 * third..]);
    let chunked = |piece: &str| format!("{:x}\r\n{piece}\r\n", piece.len());
    let requests = [
        // Content-Length, the body written in three pieces.
        vec![
            format!(
                "POST /RunCompleted HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{a}",
                body.len()
            ),
            b.to_owned(),
            c.to_owned(),
        ],
        // Chunked, one chunk per write, then the last chunk.
        vec![
            format!(
                "POST /RunCompleted HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}",
                chunked(a)
            ),
            chunked(b),
            chunked(c) + "0\r\n\r\n",
        ],
    ];
    for pieces in requests {
        let answer = common::exchange_in_pieces(&server.url, &pieces);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let json = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
        let json: Value = serde_json::from_str(json).expect("a JSON answer");
        assert_eq!(
            json["ReturnValue"]["eventId"], "831e1650-001e-001b-66ab-eeb76e069631",
            "{json}"
        );
    }
}

#[test]
fn an_oversized_invocation_is_refused_with_413_before_it_is_read() {
    let server = Server::start(&[]);
    // Declare 5 MiB but send only the start: the answer must come without the rest.
    let request =
        common::oversized_post(&server.url, "/RunCompleted", 5 * 1024 * 1024, "{\"Data\": ");
    let answer = common::raw_exchange(&server.url, &request, "}}");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("application/json") && answer.contains("PayloadTooLarge"),
        "{answer}"
    );
}

#[test]
fn many_invocations_at_once() {
    let server = Server::start(&[]);
    let event = event("event_grid/run_status_changed.json");
    let body = invocation(&event, Encoding::Double, "event");
    let url = server.at("/RunStatusChanged");
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            thread::spawn(move || {
                let client = client();
                (0..8)
                    .map(|_| {
                        client
                            .post(&url)
                            .body(body.clone())
                            .send()
                            .unwrap()
                            .status()
                            .as_u16()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = workers
        .into_iter()
        .flat_map(|worker| worker.join().unwrap())
        .collect();
    assert_eq!(statuses.len(), 128);
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
}

/// The first JSON log record whose message is `message`, once the server has written it.
fn json_record(server: &Server, message: &str) -> Value {
    let stderr = server.wait_for_log(message);
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|record| record["fields"]["message"] == message)
        .unwrap_or_else(|| panic!("no JSON record {message:?}: {stderr}"))
}

#[test]
fn json_logs_carry_the_invocation_and_the_event() {
    let server = Server::start(&[("AML_LOG_FORMAT", "json"), ("RUST_LOG", "debug")]);
    let event = event("event_grid/run_completed.json");
    let (status, _) = invoke(
        &server,
        "RunCompleted",
        invocation(&event, Encoding::Double, "event"),
    );
    assert_eq!(status, 200);
    let record = json_record(&server, "event handled");
    assert_eq!(
        record["fields"]["event_id"],
        "831e1650-001e-001b-66ab-eeb76e069631"
    );
    assert_eq!(
        record["span"]["invocation_id"],
        "6b1ab2a5-0b7c-4a2e-b0ae-1f5d6b4c3e21"
    );
    assert_eq!(record["span"]["function"], "RunCompleted");
}

#[test]
fn a_failed_invocation_is_logged_with_its_invocation_id_at_the_default_level() {
    let server = Server::start(&[("AML_LOG_FORMAT", "json")]);
    let wrong_type = event("invalid/data_wrong_type.json");
    let (status, _) = invoke(
        &server,
        "ModelRegistered",
        invocation(&wrong_type, Encoding::Double, "event"),
    );
    assert_eq!(status, 400);
    let record = json_record(&server, "request refused");
    assert_eq!(
        record["fields"]["invocation_id"],
        "6b1ab2a5-0b7c-4a2e-b0ae-1f5d6b4c3e21"
    );
    assert_eq!(record["fields"]["function"], "ModelRegistered");
    assert_eq!(record["fields"]["status"], 400);
}

#[test]
fn listens_on_the_port_the_host_gives() {
    // The host's port wins over --port. Port 0 (any free port) rather than a port found free
    // beforehand, which another process could take before the server binds it.
    // See: issue 13, "Tests that can fail": the bind-drop-connect port race.
    let server = Server::start_with(
        &["serve", "--port", "9"],
        &[("FUNCTIONS_CUSTOMHANDLER_PORT", "0")],
    );
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(port != 9 && port != 8080, "{}", server.ready_line);
    assert_eq!(client().get(server.at("/")).send().unwrap().status(), 200);
}

#[test]
fn stops_cleanly_on_sigterm() {
    let server = Server::start(&[]);
    assert_eq!(client().get(server.at("/")).send().unwrap().status(), 200);
    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn fatal_start_up_errors_exit_non_zero_naming_the_cause() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec!["serve"],
            vec![("AML_DEADLINE_SECONDS", "forever")],
            "AML_DEADLINE_SECONDS",
        ),
        (
            vec!["serve"],
            vec![("AML_ARM_ENDPOINT", "http://arm.example.com")],
            "AML_ARM_ENDPOINT",
        ),
        (
            vec!["serve", "--bind", "0.0.0.0", "--port", "0"],
            vec![],
            "AML_WEBHOOK_KEY",
        ),
        (
            vec!["serve", "--port", &port],
            vec![],
            "cannot listen on 127.0.0.1",
        ),
    ];
    for (args, env, expected) in cases {
        let output = command(&args, &env).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "no ready line: {args:?}");
    }
}
