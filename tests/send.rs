//! `aml-handlers send` as a user runs it against a real `aml-handlers serve`: as Event Grid
//! (with both handshakes) and as the Functions host, replaying dead-lettered events, and its
//! refusals.

mod common;

use common::{Server, command, fixtures};

fn send(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    let output = command(&all, &[]).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn fixture_path(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

#[test]
fn drives_serve_through_the_validation_handshake_and_a_notification() {
    let server = Server::start(&[]);
    let (code, stdout, stderr) = send(&[
        &fixture_path("event_grid/run_status_changed.json"),
        "--to",
        &server.url,
        "--validate",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("POST ") && lines[0].ends_with("(validation handshake)"),
        "{stdout}"
    );
    assert_eq!(lines[1], "200");
    assert!(lines[2].contains("validationResponse"));
    assert!(
        lines[3].contains("/runtime/webhooks/eventgrid") && lines[3].ends_with("(1 event(s))"),
        "{stdout}"
    );
    assert_eq!(lines[4], "200");
    assert!(
        lines[5].contains("\"function\":\"RunStatusChanged\""),
        "{stdout}"
    );
}

#[test]
fn cloud_events_go_through_the_abuse_protection_handshake() {
    let server = Server::start(&[]);
    let (code, stdout, stderr) = send(&[
        &fixture_path("variants/cloud_event_batch.json"),
        "--to",
        &server.url,
        "--validate",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("OPTIONS ") && stdout.contains("(abuse-protection handshake)\n200\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"function\":\"ModelRegistered\"")
            && stdout.contains("\"function\":\"DatasetDriftDetected\""),
        "{stdout}"
    );
}

#[test]
fn delivers_as_the_functions_host() {
    let server = Server::start(&[]);
    let (code, stdout, stderr) = send(&[
        &fixture_path("variants/event_grid_batch.json"),
        "--to",
        &server.url,
        "--as",
        "host",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.matches("\n200\n").count(), 3, "{stdout}");
    assert!(
        stdout.contains("/RunStatusChanged (event ") && stdout.contains("/ModelDeployed (event "),
        "{stdout}"
    );
    assert!(stdout.contains("\"ReturnValue\""), "{stdout}");
}

#[test]
fn replays_dead_lettered_events() {
    let server = Server::start(&[("AML_WEBHOOK_KEY", "replay-key")]);
    let dir = std::env::temp_dir().join(format!("aml-handlers-send-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("dead-letter.json");
    let mut events: Vec<serde_json::Value> =
        serde_json::from_str(&common::fixture("event_grid/run_completed.json")).unwrap();
    events[0]["deadLetterReason"] = "MaxDeliveryAttemptsExceeded".into();
    events[0]["deliveryAttempts"] = 30.into();
    events[0]["lastDeliveryOutcome"] = "Probation".into();
    events[0]["lastHttpStatusCode"] = 503.into();
    events[0]["publishTime"] = "2017-06-26T18:41:00.9584103Z".into();
    events[0]["lastDeliveryAttemptTime"] = "2017-06-27T18:41:00.9584103Z".into();
    std::fs::write(&record, serde_json::to_string(&events).unwrap()).unwrap();

    let (code, stdout, stderr) = send(&[
        record.to_str().unwrap(),
        "--to",
        &server.url,
        "--function",
        "RunCompleted",
        "--key",
        "replay-key",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("functionName=RunCompleted")
            && stdout.contains("\"function\":\"RunCompleted\""),
        "{stdout}"
    );
    assert!(!stdout.contains("replay-key"));
    // Without the key the server refuses, and send says so with its exit code.
    let (code, stdout, _) = send(&[record.to_str().unwrap(), "--to", &server.url]);
    assert_eq!(code, 1);
    assert!(stdout.contains("\n401\n"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn explains_what_cannot_be_sent() {
    let (_reserved, closed) = common::refused_url();
    let sample = fixture_path("event_grid/run_completed.json");
    let cases: [(&[&str], &str); 4] = [
        (
            &[&sample, "--to", &closed],
            "cannot reach http://127.0.0.1:",
        ),
        (
            &[
                &sample,
                "--to",
                "http://handlers.example.com/",
                "--key",
                "k",
            ],
            "refusing to send --key over plain http",
        ),
        (
            &[&sample, "--to", &closed, "--function", "RunExploded"],
            "unknown function \"RunExploded\"",
        ),
        (
            &[
                &fixture_path("invalid/event_grid_missing_subject.json"),
                "--to",
                &closed,
            ],
            "missing required Event Grid attribute `subject`",
        ),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = send(args);
        assert_eq!(code, 1, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

// See: issue 13, "`send` never hands the key to another host": a 307 to another origin was
// followed with `x-functions-key` attached.
#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_never_carries_the_key_to_another_host() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(0)
        .named("another origin")
        .mount(&elsewhere)
        .await;
    let webhook = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/steal?code=k", elsewhere.uri())),
        )
        .expect(1)
        .named("the webhook, redirecting")
        .mount(&webhook)
        .await;
    let sample = fixture_path("event_grid/run_completed.json");
    let to = webhook.uri();

    let (code, stdout, _) =
        tokio::task::spawn_blocking(move || send(&[&sample, "--to", &to, "--key", "s3cr3t"]))
            .await
            .unwrap();

    assert_eq!(code, 1, "a 307 is not a delivery: {stdout}");
    assert!(stdout.contains("\n307\n"), "{stdout}");
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}
