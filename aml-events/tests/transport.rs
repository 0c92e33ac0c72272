//! The client and the notifier through an in-process stand-in [`Transport`], under tokio's
//! paused clock (`start_paused`): the stand-in's stalls, the attempts' own timeouts, the
//! backoffs and the deadlines all read that one clock, so a minute of hung servers runs in a
//! millisecond and the times asserted here are exact, whatever the machine's load.
//!
//! What they pin: a stall longer than the request timeout reads as `TimedOut` and is retried
//! by the rules (a GET and a notice are, a run start is not); an Azure call in flight is cut
//! at the deadline, a notice or a smoke test in flight is not; a retry starts only with room
//! for its attempt and the reserve; and one GET and one notice go through whole.

use std::{
    collections::VecDeque,
    io,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use aml_events::{
    Secret, WorkspaceId,
    azure::{AccessToken, AmlClient, AmlClientOptions, CallbackError, TokenFuture, TokenSource},
    chain,
    notify::{Notice, Notifier, NotifierOptions, NotifyError, Severity, Target},
    transport::{Transport, TransportError, TransportFuture},
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

/// The workspace the tests talk about.
const WORKSPACE_PATH: &str = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1";

/// A delay no attempt waits for: a hung server.
const HUNG: Duration = Duration::from_secs(60);

/// What the stand-in does with one request.
#[derive(Debug, Clone)]
enum Step {
    /// Answers with this status and body at once.
    Answer(u16, &'static str),
    /// Answers after a stall (a slow server, or a hung one).
    After(Duration, u16, &'static str),
    /// Refuses the connection.
    Refuse,
}

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    url: reqwest::Url,
    authorization: Option<String>,
    idempotency_key: Option<String>,
    body: Option<Vec<u8>>,
    at: Instant,
}

/// Answers each request with the next step of its script, in-process.
#[derive(Debug)]
struct StandIn {
    script: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<Seen>>,
}

impl StandIn {
    fn new(script: impl IntoIterator<Item = Step>) -> Arc<StandIn> {
        Arc::new(StandIn {
            script: Mutex::new(script.into_iter().collect()),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Transport for StandIn {
    fn execute(&self, request: reqwest::Request) -> TransportFuture<'_> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        self.seen.lock().unwrap().push(Seen {
            method: request.method().clone(),
            url: request.url().clone(),
            authorization: header("authorization"),
            idempotency_key: header("idempotency-key"),
            body: request
                .body()
                .and_then(reqwest::Body::as_bytes)
                .map(<[u8]>::to_vec),
            at: Instant::now(),
        });
        let step = self.script.lock().unwrap().pop_front();
        Box::pin(async move {
            match step.expect("a request the script did not expect") {
                Step::Answer(status, body) => Ok(answer(status, body)),
                Step::After(stall, status, body) => {
                    tokio::time::sleep(stall).await;
                    Ok(answer(status, body))
                }
                Step::Refuse => Err(TransportError::Connect(Box::new(io::Error::from(
                    io::ErrorKind::ConnectionRefused,
                )))),
            }
        })
    }
}

fn answer(status: u16, body: &'static str) -> reqwest::Response {
    reqwest::Response::from(
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body)
            .expect("a valid response"),
    )
}

/// A token source that never leaves the process.
#[derive(Debug)]
struct FixedToken;

impl TokenSource for FixedToken {
    fn token<'a>(&'a self, _scope: &'a str) -> TokenFuture<'a> {
        Box::pin(async {
            Ok(AccessToken::new(
                Secret::new("test-token"),
                SystemTime::now() + Duration::from_secs(3600),
            ))
        })
    }
}

/// A workspace as ARM answers it.
const WORKSPACE: &str = r#"{"id": "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1",
  "name": "ws-1", "type": "Microsoft.MachineLearningServices/workspaces", "location": "eastus",
  "properties": {"discoveryUrl": "https://eastus.api.azureml.ms/discovery"}}"#;

fn workspace() -> WorkspaceId {
    WorkspaceId::parse(WORKSPACE_PATH).expect("a workspace id")
}

/// The client's defaults (10 s per attempt, 25 s per operation, retries from 500 ms), with
/// `change` applied, against the public cloud: the stand-in answers for it.
fn client(transport: &Arc<StandIn>, change: impl FnOnce(&mut AmlClientOptions)) -> AmlClient {
    let mut options = AmlClientOptions::default();
    change(&mut options);
    AmlClient::with_transport(Arc::new(FixedToken), options, transport.clone()).unwrap()
}

fn notifier(transport: &Arc<StandIn>, change: impl FnOnce(&mut NotifierOptions)) -> Notifier {
    let mut options = NotifierOptions::default();
    change(&mut options);
    Notifier::with_transport(options, transport.clone()).unwrap()
}

fn slack() -> Target {
    Target::parse(
        "slack:https://hooks.slack.com/services/T0/B0/H00K-SECRET-PART",
        "AML_NOTIFY_URL",
        1,
    )
    .unwrap()
}

fn notice() -> Notice {
    Notice {
        title: "Run churn_run_7 failed".into(),
        summary: "Run churn_run_7 of experiment churn-training is now Failed".into(),
        severity: Severity::Error,
        facts: Vec::new(),
        link: None,
        event_id: "event-1".into(),
        event_type: "Microsoft.MachineLearningServices.RunStatusChanged".into(),
        function: "RunStatusChanged".into(),
        subject: None,
        workspace: None,
        time: None,
        alert: true,
        alert_key: "ws/churn_run_7/RunStatusChanged".into(),
        data: json!({}).into(),
        extra: serde_json::Map::new(),
        ..Notice::default()
    }
}

#[tokio::test(start_paused = true)]
async fn one_get_goes_through_the_client_and_its_transport() {
    // Arrange
    let transport = StandIn::new([Step::Answer(200, WORKSPACE)]);
    let client = client(&transport, |_| {});

    // Act
    let found = client.get_workspace(&workspace()).await.unwrap();

    // Assert
    assert_eq!(found.name, "ws-1");
    let seen = transport.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::GET);
    assert_eq!(
        (seen[0].url.host_str(), seen[0].url.path()),
        (Some("management.azure.com"), WORKSPACE_PATH)
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-token"));
}

#[tokio::test(start_paused = true)]
async fn one_notice_goes_through_the_notifier_and_its_transport() {
    // Arrange
    let transport = StandIn::new([Step::Answer(200, "ok")]);

    // Act
    let delivered = notifier(&transport, |_| {})
        .send(&slack(), &notice())
        .await
        .unwrap();

    // Assert
    assert_eq!((delivered.status, delivered.answer.as_str()), (200, "ok"));
    let seen = transport.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].url.path(), "/services/T0/B0/H00K-SECRET-PART");
    assert_eq!(seen[0].idempotency_key.as_deref(), Some("event-1"));
    assert_eq!(seen[0].authorization, None, "no token to a chat tool");
    let body: Value = serde_json::from_slice(seen[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::to_value(Notifier::body(&slack(), &notice())).unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn a_stall_past_the_request_timeout_times_out_and_a_get_is_retried() {
    // Arrange
    let transport = StandIn::new([
        Step::After(HUNG, 200, WORKSPACE),
        Step::Answer(200, WORKSPACE),
    ]);
    let client = client(&transport, |_| {});
    let started = Instant::now();

    // Act
    let found = client.get_workspace(&workspace()).await;

    // Assert: the first attempt ended at its 10 s timeout, the retry after a backoff of
    // 250 to 500 ms
    assert!(found.is_ok(), "{found:?}");
    assert_one_retry_after_the_timeout(&transport, started);
}

#[tokio::test(start_paused = true)]
async fn a_run_start_that_stalled_times_out_and_is_not_sent_again() {
    // Arrange: the workspace, its discovery document, then a start that never answers
    let transport = StandIn::new([
        Step::Answer(200, WORKSPACE),
        Step::Answer(200, r#"{"api": "https://eastus.api.azureml.ms"}"#),
        Step::After(HUNG, 200, r#"{"runId": "run-1"}"#),
    ]);
    let client = client(&transport, |options| {
        options.request_timeout = Duration::from_millis(250);
    });
    let started = Instant::now();

    // Act
    let err = client
        .start_run(&workspace(), "train", b"zip".to_vec(), json!({}))
        .await
        .unwrap_err();

    // Assert: one POST, cut by its own timeout, and the error says so
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    let seen = transport.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].method, Method::POST);
    let CallbackError::Transport { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(source, TransportError::TimedOut { after } if *after == Duration::from_millis(250)),
        "{source:?}"
    );
    assert!(err.is_transient());
    assert_eq!(
        chain(&err).to_string(),
        "request to Azure ML failed during start run: timed out after 250 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_is_retried_even_for_a_run_start() {
    // Arrange
    let transport = StandIn::new([
        Step::Answer(200, WORKSPACE),
        Step::Answer(200, r#"{"api": "https://eastus.api.azureml.ms"}"#),
        Step::Refuse,
        Step::Answer(200, r#"{"runId": "run-1"}"#),
    ]);

    // Act
    let started = client(&transport, |_| {})
        .start_run(&workspace(), "train", b"zip".to_vec(), json!({}))
        .await
        .unwrap();

    // Assert: nothing went out the first time, so it was sent again
    assert_eq!(started.run_id, "run-1");
    assert_eq!(transport.seen().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_notice_times_out_and_is_sent_again() {
    // Arrange
    let transport = StandIn::new([Step::After(HUNG, 200, "ok"), Step::Answer(200, "ok")]);
    let started = Instant::now();

    // Act
    let delivered = notifier(&transport, |_| {})
        .send(&slack(), &notice())
        .await
        .unwrap();

    // Assert: the retry came after the 10 s timeout and a backoff of 250 to 500 ms
    assert_eq!(delivered.status, 200);
    assert_one_retry_after_the_timeout(&transport, started);
}

#[tokio::test(start_paused = true)]
async fn a_notice_that_timed_out_without_room_for_another_attempt_says_timed_out() {
    // Arrange: after the 10 s timeout, 5 s are left: too few for another 10 s attempt
    let transport = StandIn::new([Step::After(HUNG, 200, "ok")]);

    // Act
    let err = notifier(&transport, |options| {
        options.deadline = Duration::from_secs(15);
    })
    .send(&slack(), &notice())
    .await
    .unwrap_err();

    // Assert
    assert_eq!(transport.seen().len(), 1);
    assert!(
        matches!(&err, NotifyError::Transport { source, .. } if source.is_timeout()),
        "{err:?}"
    );
    assert!(err.is_transient());
    let shown = chain(&err).to_string();
    assert!(shown.ends_with(": timed out after 10 s"), "{shown}");
    assert!(!shown.contains("H00K-SECRET-PART"), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn an_azure_call_in_flight_is_cut_at_the_deadline() {
    // Arrange: an answer at 5 s, a deadline at 3 s, a 10 s request timeout
    let transport = StandIn::new([Step::After(Duration::from_secs(5), 200, WORKSPACE)]);
    let client = client(&transport, |options| {
        options.deadline = Duration::from_secs(3);
    });
    let started = Instant::now();

    // Act
    let err = client.get_workspace(&workspace()).await.unwrap_err();

    // Assert: cut at the deadline exactly
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert!(
        matches!(err, CallbackError::DeadlineExceeded { last: None, .. }),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_notice_in_flight_at_the_deadline_is_heard_out() {
    // Arrange: the same timings as for the Azure call
    let transport = StandIn::new([Step::After(Duration::from_secs(5), 200, "ok")]);
    let started = Instant::now();

    // Act
    let delivered = notifier(&transport, |options| {
        options.deadline = Duration::from_secs(3);
    })
    .send(&slack(), &notice())
    .await;

    // Assert: delivered with the target's answer, at 5 s
    assert_eq!(delivered.map(|d| d.status).ok(), Some(200));
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_smoke_test_in_flight_at_the_deadline_is_heard_out() {
    // Arrange: the same timings again, through an outer deadline
    let transport = StandIn::new([Step::After(Duration::from_secs(5), 200, r#"[0.93]"#)]);
    let client = client(&transport, |_| {});
    let started = Instant::now();
    let uri = "https://ep.eastus.inference.ml.azure.com/score"
        .parse()
        .unwrap();

    // Act
    let scored = client
        .with_deadline(started + Duration::from_secs(3))
        .score(
            &uri,
            Some(&Secret::new("endpoint-key")),
            &json!({"data": [[1]]}),
        )
        .await
        .unwrap();

    // Assert
    assert_eq!((scored.status, scored.body.as_str()), (200, "[0.93]"));
    assert_eq!(scored.latency, Duration::from_secs(5));
    assert_eq!(
        transport.seen()[0].authorization.as_deref(),
        Some("Bearer endpoint-key")
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_starts_only_with_room_for_its_attempt_and_the_reserve() {
    // Twelve seconds cannot hold a backoff of 250 ms or more, a 10 s attempt and a 2 s
    // reserve; thirteen can (the backoff is at most 500 ms).
    for (deadline, requests, outcome) in [(12, 1, Some(503)), (13, 2, Some(200))] {
        // Arrange
        let transport = StandIn::new([Step::Answer(503, "busy"), Step::Answer(200, "ok")]);

        // Act
        let result = notifier(&transport, |options| {
            options.deadline = Duration::from_secs(deadline);
        })
        .send(&slack(), &notice())
        .await;

        // Assert
        let status = match &result {
            Ok(delivered) => Some(delivered.status),
            Err(NotifyError::Refused { status, .. }) => Some(*status),
            Err(_) => None,
        };
        assert_eq!(status, outcome, "{deadline} s: {result:?}");
        assert_eq!(transport.seen().len(), requests, "{deadline} s");
    }
}

#[tokio::test(start_paused = true)]
async fn nothing_is_sent_once_the_deadline_has_passed() {
    // Arrange
    let transport = StandIn::new([]);
    let passed = Instant::now();
    tokio::time::advance(Duration::from_secs(1)).await;

    // Act
    let notified = notifier(&transport, |_| {})
        .with_deadline(passed)
        .send(&slack(), &notice())
        .await;
    let uri = "https://ep.eastus.inference.ml.azure.com/score"
        .parse()
        .unwrap();
    let scored = client(&transport, |_| {})
        .with_deadline(passed)
        .score(&uri, None, &json!({}))
        .await;

    // Assert
    assert!(
        matches!(notified, Err(NotifyError::DeadlineExceeded { .. })),
        "{notified:?}"
    );
    assert!(
        matches!(scored, Err(CallbackError::DeadlineExceeded { .. })),
        "{scored:?}"
    );
    assert!(transport.seen().is_empty());
}

/// Two requests, the second after the first's 10 s timeout and a backoff of 250 to 500 ms.
fn assert_one_retry_after_the_timeout(transport: &StandIn, started: Instant) {
    let seen = transport.seen();
    assert_eq!(seen.len(), 2);
    let retried_after = seen[1].at - started;
    assert!(
        retried_after >= Duration::from_millis(10_250)
            && retried_after <= Duration::from_millis(10_500),
        "{retried_after:?}"
    );
}
