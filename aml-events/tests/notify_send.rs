//! The notifier against loopback stand-ins that answer like each vendor (docs/notifications.md):
//! each kind's success statuses, a refusal reported in the target's own words, 429 with
//! `Retry-After` within the deadline, at-least-once retries, no redirect, and never the
//! target's key in an error. A signed webhook target's attempts each carry the Standard
//! Webhooks headers, one `webhook-id` for them all, over the very bytes sent (the end-to-end
//! tests in tests/signing.rs check them with the Standard Webhooks library itself).

mod azure_mock;

use std::time::Duration;

use aml_events::{
    Secret, chain,
    notify::{
        Fact, Notice, Notifier, NotifierOptions, NotifyError, Severity, SigningKey, Target, signing,
    },
};
use azure_mock::RefusingPort;
use serde_json::{Map, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{any, header, method, path, query_param},
};

/// A failed run, as `RunStatusChanged` notices it.
fn failed_run() -> Notice {
    Notice {
        title: "Run churn_run_7 failed".into(),
        summary: "Run churn_run_7 of experiment churn-training is now Failed: No module named 'sklearn'".into(),
        severity: Severity::Error,
        facts: vec![Fact::new("Experiment", "churn-training"), Fact::new("Run", "churn_run_7")],
        link: Some("https://ml.azure.com/runs/churn_run_7?wsid=/subscriptions/s/resourcegroups/rg/workspaces/ws".into()),
        event_id: "event-1".into(),
        event_type: "Microsoft.MachineLearningServices.RunStatusChanged".into(),
        function: "RunStatusChanged".into(),
        subject: Some("experiments/e/runs/churn_run_7".into()),
        workspace: Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws".into()),
        time: None,
        alert: true,
        alert_key: "ws/churn_run_7/RunStatusChanged".into(),
        data: json!({"runId": "churn_run_7"}).into(),
        extra: Map::new(),
        ..Notice::default()
    }
}

fn target(kind: &str, server: &MockServer, path: &str) -> Target {
    let mut target = Target::parse(
        &format!("{kind}:{}{path}", server.uri()),
        "AML_NOTIFY_URL",
        1,
    )
    .unwrap();
    if kind == "pagerduty" {
        target.routing_key = Some(Secret::new("R0UT1NG-KEY-0123456789"));
    }
    target
}

fn notifier(change: impl FnOnce(&mut NotifierOptions)) -> Notifier {
    let mut options = NotifierOptions {
        request_timeout: Duration::from_secs(5),
        ..NotifierOptions::default()
    };
    options.retry.initial_backoff = Duration::from_millis(20);
    change(&mut options);
    Notifier::new(options).unwrap()
}

#[tokio::test]
async fn each_kind_is_judged_by_its_own_success_status() {
    for (kind, status, body, accepted) in [
        ("teams", 202, "", true),
        ("slack", 200, "ok", true),
        ("slack", 204, "", false),
        ("discord", 200, r#"{"id":"1"}"#, true),
        ("discord", 204, "", true),
        (
            "pagerduty",
            202,
            r#"{"status":"success","message":"Event processed","dedup_key":"k"}"#,
            true,
        ),
        ("pagerduty", 200, "", false),
        ("webhook", 201, "", true),
    ] {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("idempotency-key", "event-1"))
            .and(header("content-type", "application/json"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;

        // Act
        let result = notifier(|_| {})
            .send(&target(kind, &server, "/hook"), &failed_run())
            .await;

        // Assert
        assert_eq!(result.is_ok(), accepted, "{kind} {status}: {result:?}");
        let requests = server.received_requests().await.unwrap();
        assert!(
            requests[0].headers.get("authorization").is_none(),
            "no token to a chat tool"
        );
    }
}

#[tokio::test]
async fn discord_is_asked_to_wait_for_its_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/1/tok"))
        .and(query_param("wait", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    let delivered = notifier(|_| {})
        .send(
            &target("discord", &server, "/api/webhooks/1/tok"),
            &failed_run(),
        )
        .await
        .unwrap();
    assert_eq!(delivered.status, 200);
}

// Slack answers refusals in plain text; PagerDuty in JSON with `errors`.
// See <https://api.slack.com/messaging/webhooks#handling_errors> and
// <https://developer.pagerduty.com/docs/events-api-v2-overview#response-codes--retry-logic>.
#[tokio::test]
async fn a_refusal_is_reported_in_the_targets_own_words_and_not_retried() {
    for (kind, status, body, words) in [
        ("slack", 404, "channel_not_found", "channel_not_found"),
        ("slack", 403, "invalid_token", "invalid_token"),
        (
            "pagerduty",
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is invalid"]}"#,
            "Event object is invalid",
        ),
        (
            "discord",
            400,
            r#"{"message":"Cannot send an empty message","code":50006}"#,
            "Cannot send an empty message",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;

        let err = notifier(|_| {})
            .send(
                &target(kind, &server, "/services/T0/B0/H00K-SECRET-PART"),
                &failed_run(),
            )
            .await
            .unwrap_err();

        let shown = chain(&err).to_string();
        assert!(
            shown.contains(&status.to_string()) && shown.contains(words),
            "{shown}"
        );
        assert!(
            !shown.contains("H00K-SECRET-PART") && !shown.contains("R0UT1NG"),
            "{shown}"
        );
        assert!(!err.is_transient(), "{shown}");
    }
}

#[tokio::test]
async fn throttling_is_honoured_within_the_deadline() {
    // Arrange: Slack's 429 asks for one second.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_string("rate_limited"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();

    // Act
    let delivered = notifier(|_| {})
        .send(&target("slack", &server, "/hook"), &failed_run())
        .await
        .unwrap();

    // Assert
    assert_eq!(delivered.status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as asked"
    );
}

#[tokio::test]
async fn a_throttle_past_the_deadline_is_transient_and_says_so() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "10000000000000000000")
                .set_body_string("rate_limited"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = notifier(|options| options.deadline = Duration::from_secs(5))
        .send(&target("slack", &server, "/hook"), &failed_run())
        .await
        .unwrap_err();

    assert!(err.is_transient());
    assert!(
        chain(&err).to_string().contains("429: rate_limited"),
        "{err}"
    );
}

// See: issue 13, "Idempotency from the method": a notification is a POST, yet deliberately
// at least once: connect errors, timeouts, 408, 429 and any 5xx are retried.
#[tokio::test]
async fn a_notification_is_retried_on_any_server_error_and_a_timeout() {
    let hung = ResponseTemplate::new(200).set_delay(Duration::from_secs(60));
    for (first, what) in [
        (ResponseTemplate::new(500), "500"),
        (ResponseTemplate::new(501), "501"),
        (ResponseTemplate::new(408), "408"),
        (hung, "a hung receiver"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(first)
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&server)
            .await;

        let delivered = notifier(|options| options.request_timeout = Duration::from_millis(300))
            .send(&target("webhook", &server, "/hook"), &failed_run())
            .await;

        assert_eq!(delivered.map(|d| d.status).ok(), Some(200), "after {what}");
    }
}

#[tokio::test]
async fn an_unreachable_target_says_why_without_its_url() {
    let closed = RefusingPort::new();
    let target = Target::parse(
        &format!(
            "slack:http://{}/services/T0/B0/H00K-SECRET-PART",
            closed.addr()
        ),
        "AML_NOTIFY_URL",
        1,
    )
    .unwrap();

    let err = notifier(|options| options.deadline = Duration::from_secs(2))
        .send(&target, &failed_run())
        .await
        .unwrap_err();

    let shown = chain(&err).to_string();
    assert!(err.is_transient(), "{shown}");
    assert!(
        shown.to_lowercase().contains("connection refused"),
        "{shown}"
    );
    assert!(!shown.contains("H00K-SECRET-PART"), "{shown}");
}

#[tokio::test]
async fn a_notification_cut_by_the_deadline_shows_no_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;

    let err = notifier(|options| {
        options.request_timeout = Duration::from_millis(300);
        options.deadline = Duration::from_millis(450);
    })
    .send(
        &target("webhook", &server, "/H00K-SECRET-PART"),
        &failed_run(),
    )
    .await
    .unwrap_err();

    let shown = chain(&err).to_string();
    assert!(
        matches!(
            err,
            NotifyError::DeadlineExceeded { .. } | NotifyError::Transport { .. }
        ),
        "{shown}"
    );
    assert!(
        shown.contains("timed out") || shown.contains("deadline"),
        "{shown}"
    );
    assert!(!shown.contains("H00K-SECRET-PART"), "{shown}");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/steal", elsewhere.uri())),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = notifier(|_| {})
        .send(&target("webhook", &server, "/hook"), &failed_run())
        .await
        .unwrap_err();

    assert!(
        matches!(err, NotifyError::Refused { status: 307, .. }),
        "{err}"
    );
}

// Patient attempts. See: "a retry starts in the last milliseconds of the budget, the target
// takes the post, and we hang up before its answer": an attempt in flight is let finish, and a
// retry starts only while a whole attempt and the reserve still fit before the deadline.

#[tokio::test]
async fn a_retry_without_room_for_its_attempt_and_the_reserve_is_not_started() {
    // Arrange: a quick 503; after it, less than 2 s are left, too few for a 1 s attempt and
    // the 2 s reserve
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .expect(1)
        .named("503, asked once")
        .mount(&server)
        .await;

    // Act
    let err = notifier(|options| {
        options.request_timeout = Duration::from_secs(1);
        options.reserve = Duration::from_secs(2);
        options.deadline = Duration::from_secs(2);
    })
    .send(&target("webhook", &server, "/hook"), &failed_run())
    .await
    .unwrap_err();

    // Assert: the refusal itself, not the deadline (one request, checked on drop)
    assert!(
        matches!(err, NotifyError::Refused { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_transient(), "{err}");
    assert!(chain(&err).to_string().contains("503: busy"), "{err}");
}

#[tokio::test]
async fn an_attempt_in_flight_at_the_deadline_is_not_cut() {
    // Arrange: the target answers after the deadline, well within the request timeout
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("ok")
                .set_delay(Duration::from_millis(1200)),
        )
        .expect(1)
        .named("a slow target that takes the post")
        .mount(&server)
        .await;

    // Act
    let delivered = notifier(|options| {
        options.request_timeout = Duration::from_secs(5);
        options.deadline = Duration::from_millis(300);
    })
    .send(&target("slack", &server, "/hook"), &failed_run())
    .await;

    // Assert: its answer, heard out (one request, checked on drop)
    let delivered = delivered.unwrap();
    assert_eq!((delivered.status, delivered.answer.as_str()), (200, "ok"));
}

#[tokio::test]
async fn with_room_for_another_attempt_a_refusal_is_retried() {
    // Arrange: 503, then 200; 10 s of deadline hold a 1 s attempt and the 2 s reserve
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .named("503 once")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("then taken")
        .mount(&server)
        .await;

    // Act
    let delivered = notifier(|options| {
        options.request_timeout = Duration::from_secs(1);
        options.reserve = Duration::from_secs(2);
        options.deadline = Duration::from_secs(10);
    })
    .send(&target("webhook", &server, "/hook"), &failed_run())
    .await;

    // Assert: two requests (checked on drop), the second taken
    assert_eq!(delivered.map(|d| d.status).ok(), Some(200));
}

#[tokio::test]
async fn a_notice_whose_deadline_has_passed_is_not_sent() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .named("nothing sent")
        .mount(&server)
        .await;
    let notifier = notifier(|_| {}).with_deadline(tokio::time::Instant::now());

    // Act
    let err = notifier
        .send(&target("webhook", &server, "/hook"), &failed_run())
        .await
        .unwrap_err();

    // Assert
    assert!(
        matches!(err, NotifyError::DeadlineExceeded { last: None, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
}

/// A target that answers a refusal and then streams its body forever: the notifier reads 64 KiB
/// of it, drops the connection, and reports the refusal from what it read.
#[tokio::test]
async fn an_endless_answer_is_read_up_to_64_kib_and_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Arrange: a chunked 400 whose body never ends; the server counts what it could write
    // before the client hung up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("webhook:http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = vec![0; 64 * 1024];
        let _ = stream.read(&mut request).await.unwrap();
        stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        let chunk = format!("2000\r\n{}\r\n", "x".repeat(0x2000));
        let mut written = 0usize;
        while stream.write_all(chunk.as_bytes()).await.is_ok() {
            written += 0x2000;
            if written > 512 * 1024 * 1024 {
                break;
            }
        }
        written
    });
    let target = Target::parse(&url, "AML_NOTIFY_URL", 1).unwrap();
    let notifier = notifier(|options| options.request_timeout = Duration::from_secs(600));

    // Act: the attempt's own timeout is ten minutes, so only the bound can end it sooner.
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        notifier.send(&target, &failed_run()),
    )
    .await
    .expect("the notifier kept reading an endless answer");

    // Assert
    let err = result.unwrap_err();
    assert!(!err.is_transient(), "a 400 is final: {err}");
    assert!(chain(&err).to_string().contains("xxxx"), "{}", chain(&err));
    let written = server.await.unwrap();
    assert!(
        written < 64 * 1024 * 1024,
        "the client hung up after its bound, yet {written} bytes were taken"
    );
}

/// A Standard Webhooks secret of 32 bytes.
const SIGNING_SECRET: &str = "whsec_c2lnbmluZy1zZWNyZXQtb2YtdGhlLWhvb2stMzItYnk=";

/// `webhook-signature` for `id`, `timestamp` and `body` worked out here from the specification's
/// formula, not by the product's code: HMAC-SHA256 over `{id}.{timestamp}.{body}` with the
/// base64-decoded key after `whsec_`, then `v1,` and its base64.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    use hmac::{Hmac, Mac};
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn header_text<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

#[tokio::test]
async fn a_signed_webhook_target_signs_every_attempt_under_one_webhook_id() {
    // Arrange: the receiver fails the first attempt.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let mut hook = target("webhook", &server, "/hook");
    hook.signing = Some(SigningKey::parse(SIGNING_SECRET).unwrap());
    let notice = failed_run();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    // Act
    let delivered = notifier(|_| {}).send(&hook, &notice).await;

    // Assert
    assert_eq!(delivered.map(|d| d.status).ok(), Some(204));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let id = header_text(&requests[0], "webhook-id");
    assert_eq!(id, signing::webhook_id(&notice, &hook.ledger_id()));
    assert!(id.starts_with("msg_"), "{id}");
    let rendered = serde_json::to_vec(&Notifier::body(&hook, &notice)).unwrap();
    for request in &requests {
        assert_eq!(
            header_text(request, "webhook-id"),
            id,
            "one id for every attempt"
        );
        let timestamp = header_text(request, "webhook-timestamp");
        let seconds: u64 = timestamp.parse().unwrap();
        assert!((started..started + 30).contains(&seconds), "{timestamp}");
        assert_eq!(request.body, rendered, "the body sent is the one rendered");
        assert_eq!(
            header_text(request, "webhook-signature"),
            expected_signature(SIGNING_SECRET, id, timestamp, &request.body)
        );
    }
}

#[tokio::test]
async fn an_unsigned_target_carries_no_signature_headers() {
    for kind in ["webhook", "slack"] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&server)
            .await;
        notifier(|_| {})
            .send(&target(kind, &server, "/hook"), &failed_run())
            .await
            .unwrap();
        let requests = server.received_requests().await.unwrap();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            assert!(requests[0].headers.get(name).is_none(), "{kind}: {name}");
        }
    }
}

#[tokio::test]
async fn a_signed_targets_refusal_never_repeats_its_secret() {
    // A receiver that echoes what it was configured with.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!(
            "signature does not match the secret {SIGNING_SECRET}"
        )))
        .expect(1)
        .mount(&server)
        .await;
    let mut hook = target("webhook", &server, "/hook");
    hook.signing = Some(SigningKey::parse(SIGNING_SECRET).unwrap());

    let err = notifier(|_| {})
        .send(&hook, &failed_run())
        .await
        .unwrap_err();

    let shown = format!("{} {err:?} {hook:?}", chain(&err));
    assert!(shown.contains("signature does not match"), "{shown}");
    assert!(!shown.contains(&SIGNING_SECRET[6..20]), "{shown}");
}
