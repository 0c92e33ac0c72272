//! The failure rules (docs/actions.md) against loopback mocks: which answers are retried, how
//! `Retry-After` is honoured, and how the deadline and the per-request timeout bound a call.
//! Backoffs are milliseconds, so the whole file runs in a few seconds.
//!
//! Timing assertions are lower bounds (a sleep never ends early), counts of the requests the
//! mock received, or upper bounds far above the normal time yet far below what the bug they
//! guard would cost (a test whose bug waits for a 30 s deadline asserts under 10 s): a loaded
//! 2-core CI machine must not fail them, a regression must.

mod azure_mock;

use std::time::{Duration, SystemTime};

use aml_events::azure::{AmlClient, AmlClientOptions, CallbackError, RetryPolicy};
use azure_mock::{
    RefusingPort, WORKSPACE_PATH, client, identity, mount_discovery, mount_identity, options,
    workspace,
};
use serde_json::json;
use tokio::time::Instant;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

/// The upper bound of tests whose bug would wait for [`LONG_DEADLINE`] (or longer): far above
/// what the call takes on a loaded machine, far below what the bug costs.
const PROMPTLY: Duration = Duration::from_secs(10);

/// A deadline no correct call in these tests comes near.
const LONG_DEADLINE: Duration = Duration::from_secs(30);

/// A delay no test waits for: a hung server.
const HUNG: Duration = Duration::from_secs(60);

/// Mounts `GET {WORKSPACE_PATH}` answering `template` (at most `times` times when given).
async fn mount_workspace_answer(
    server: &MockServer,
    template: ResponseTemplate,
    times: Option<u64>,
    expected: u64,
    name: &str,
) {
    let mock = Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(template);
    let mock = match times {
        Some(times) => mock.up_to_n_times(times),
        None => mock,
    };
    mock.expect(expected).named(name).mount(server).await;
}

async fn mount_workspace_ok(server: &MockServer, expected: u64) {
    let ok = ResponseTemplate::new(200).set_body_json(azure_mock::workspace_body(server));
    mount_workspace_answer(server, ok, None, expected, "workspace").await;
}

fn client_with(server: &MockServer, change: impl FnOnce(&mut AmlClientOptions)) -> AmlClient {
    let mut options = options(server);
    change(&mut options);
    AmlClient::new(identity(server), options).unwrap()
}

#[tokio::test]
async fn each_transient_status_is_retried() {
    for status in [408, 429, 500, 502, 503, 504] {
        // Arrange
        let server = MockServer::start().await;
        mount_identity(&server, 1).await;
        let failure = ResponseTemplate::new(status);
        mount_workspace_answer(&server, failure, Some(1), 1, "transient failure").await;
        mount_workspace_ok(&server, 1).await;

        // Act
        let answer = client(&server).get_workspace(&workspace()).await;

        // Assert
        assert!(answer.is_ok(), "{status}: {answer:?}");
    }
}

#[tokio::test]
async fn client_errors_are_not_retried_and_carry_azure_error_body() {
    for (status, code) in [(400, "BadRequest"), (404, "ResourceNotFound")] {
        // Arrange
        let server = MockServer::start().await;
        mount_identity(&server, 1).await;
        let failure = ResponseTemplate::new(status)
            .insert_header("x-ms-request-id", "req-42")
            .set_body_json(
                json!({"error": {"code": code, "message": "the workspace ws-1 was not found"}}),
            );
        mount_workspace_answer(&server, failure, None, 1, "permanent failure, asked once").await;

        // Act
        let err = client(&server)
            .get_workspace(&workspace())
            .await
            .unwrap_err();

        // Assert
        assert!(!err.is_transient() && !err.is_unauthorized(), "{err}");
        let CallbackError::Status {
            status: got,
            body: Some(body),
            request_id,
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*got, status);
        assert_eq!(body.error.code, code);
        assert_eq!(request_id.as_deref(), Some("req-42"));
        assert_eq!(
            err.to_string(),
            format!(
                "Azure ML answered {status} to get workspace ({code}: the workspace ws-1 was not found)"
            )
        );
    }
}

#[tokio::test]
async fn refusals_of_the_identity_are_not_retried_and_say_so() {
    for status in [401, 403] {
        // Arrange
        let server = MockServer::start().await;
        mount_identity(&server, 1).await;
        let failure = ResponseTemplate::new(status).set_body_json(
            json!({"error": {"code": "AuthorizationFailed", "message": "no access"}}),
        );
        mount_workspace_answer(&server, failure, None, 1, "refused, asked once").await;

        // Act
        let err = client(&server)
            .get_workspace(&workspace())
            .await
            .unwrap_err();

        // Assert
        assert!(
            err.is_unauthorized() && !err.is_transient(),
            "{status}: {err}"
        );
    }
}

#[tokio::test]
async fn retries_stop_after_the_policy_maximum() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let failure = ResponseTemplate::new(503);
    mount_workspace_answer(&server, failure, None, 4, "always 503: 1 try + 3 retries").await;

    // Act
    let err = client(&server)
        .get_workspace(&workspace())
        .await
        .unwrap_err();

    // Assert
    assert_eq!(err.status(), Some(503));
    assert!(err.is_transient());
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let busy = ResponseTemplate::new(503).insert_header("retry-after", "1");
    mount_workspace_answer(&server, busy, Some(1), 1, "busy for a second").await;
    mount_workspace_ok(&server, 1).await;
    let started = Instant::now();

    // Act
    let answer = client(&server).get_workspace(&workspace()).await;

    // Assert: a wait misread as longer would pass the 5 s deadline, and the call would give
    // up with the 503 instead (no upper bound on time needed)
    assert!(answer.is_ok(), "{answer:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    // Arrange: HTTP dates have whole seconds, so "in 2 s" means a wait of 1 to 2 s
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let busy = ResponseTemplate::new(429).insert_header("retry-after", at.as_str());
    mount_workspace_answer(&server, busy, Some(1), 1, "throttled until a date").await;
    mount_workspace_ok(&server, 1).await;
    let started = Instant::now();

    // Act
    let answer = client(&server).get_workspace(&workspace()).await;

    // Assert: as above, a date misread as later would end the call with the 429
    assert!(answer.is_ok(), "{answer:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
}

#[tokio::test]
async fn retry_after_past_the_deadline_ends_the_call_at_once() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let throttled = ResponseTemplate::new(429).insert_header("retry-after", "60");
    mount_workspace_answer(&server, throttled, None, 1, "throttled for a minute").await;
    let client = client_with(&server, |options| options.deadline = LONG_DEADLINE);
    let started = Instant::now();

    // Act
    let err = client.get_workspace(&workspace()).await.unwrap_err();

    // Assert: the 429 itself, at once; waiting would have run into the deadline
    assert_eq!(err.status(), Some(429), "{err}");
    assert!(err.is_transient());
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_deadline_bounds_all_retries() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .respond_with(ResponseTemplate::new(503))
        .named("always 503")
        .mount(&server)
        .await;
    let deadline = Duration::from_millis(300);
    let client = client_with(&server, |options| {
        options.deadline = deadline;
        options.retry = RetryPolicy {
            max_retries: 1000,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(40),
        };
    });
    let started = Instant::now();

    // Act
    let err = client.get_workspace(&workspace()).await.unwrap_err();

    // Assert: it kept retrying until the deadline neared, and no further: waits are at least
    // 10 ms, so 300 ms hold at most 31 attempts (ignoring the deadline: 1001 attempts, ~30 s)
    let took = started.elapsed();
    assert!(err.is_transient(), "{err}");
    assert!(
        took >= Duration::from_millis(200),
        "gave up early: {took:?}"
    );
    let attempts = server.received_requests().await.unwrap().len() - 1; // the token
    assert!(attempts <= 31, "{attempts} attempts");
    assert!(took < PROMPTLY, "{took:?}");
}

#[tokio::test]
async fn an_outer_deadline_shortens_every_operation() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .respond_with(ResponseTemplate::new(503))
        .named("always 503")
        .mount(&server)
        .await;
    let client = client_with(&server, |options| {
        options.retry.max_retries = 1000;
        options.deadline = LONG_DEADLINE;
    });
    let started = Instant::now();

    // Act
    let err = client
        .with_deadline(started + Duration::from_millis(200))
        .get_workspace(&workspace())
        .await
        .unwrap_err();

    // Assert: waits are at least 5 ms, so 200 ms hold at most 41 attempts; ignoring the outer
    // deadline would mean ~1000 attempts over 30 s
    assert!(err.is_transient(), "{err}");
    let attempts = server.received_requests().await.unwrap().len() - 1; // the token
    assert!(attempts <= 41, "{attempts} attempts");
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_hung_server_is_cut_by_the_request_timeout() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let hung = ResponseTemplate::new(200).set_delay(HUNG);
    mount_workspace_answer(&server, hung, None, 1, "hung server").await;
    let client = client_with(&server, |options| {
        options.request_timeout = Duration::from_millis(200);
        options.retry = RetryPolicy::none();
        options.deadline = LONG_DEADLINE;
    });
    let started = Instant::now();

    // Act
    let err = client.get_workspace(&workspace()).await.unwrap_err();

    // Assert: a timeout of the request, not the deadline 30 s later
    let took = started.elapsed();
    let CallbackError::Transport { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(source.is_timeout(), "{source}");
    assert!(err.is_transient());
    assert!(took < PROMPTLY, "{took:?}");
}

#[tokio::test]
async fn a_hung_attempt_is_retried() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let hung = ResponseTemplate::new(200).set_delay(HUNG);
    mount_workspace_answer(&server, hung, Some(1), 1, "hung once").await;
    mount_workspace_ok(&server, 1).await;
    let client = client_with(&server, |options| {
        options.request_timeout = Duration::from_millis(200);
        options.deadline = LONG_DEADLINE;
    });
    let started = Instant::now();

    // Act
    let answer = client.get_workspace(&workspace()).await;

    // Assert: without the retry, the hung attempt would have run into the deadline
    assert!(answer.is_ok(), "{answer:?}");
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_deadline_cuts_a_hung_request() {
    // Arrange: the per-request timeout is long, the deadline is not
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let hung = ResponseTemplate::new(200).set_delay(HUNG);
    mount_workspace_answer(&server, hung, None, 1, "hung server").await;
    let client = client_with(&server, |options| {
        options.request_timeout = LONG_DEADLINE;
        options.deadline = Duration::from_millis(300);
    });
    let started = Instant::now();

    // Act
    let err = client.get_workspace(&workspace()).await.unwrap_err();

    // Assert: cut at 300 ms, not by the 30 s request timeout
    assert!(err.is_transient(), "{err}");
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
}

#[tokio::test]
async fn connect_errors_are_retried_and_transient() {
    // Arrange: ARM on a port nobody listens on; the token endpoint works
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let closed = RefusingPort::new();
    let mut options = options(&server);
    options.arm_endpoint = closed.url();
    options.retry.initial_backoff = Duration::from_millis(30);
    options.retry.max_backoff = Duration::from_millis(30);
    let client = AmlClient::new(identity(&server), options).unwrap();
    let started = Instant::now();

    // Act
    let err = client.get_workspace(&workspace()).await.unwrap_err();

    // Assert: three retries waited at least 3 x 15 ms (half the step, equal jitter)
    let CallbackError::Transport { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(source.is_connect(), "{source}");
    assert!(err.is_transient());
    assert!(
        started.elapsed() >= Duration::from_millis(45),
        "{:?}",
        started.elapsed()
    );
}

// See: issue 13, "Idempotency from the method": a run start is a POST, retried only when it
// cannot have been processed.
#[tokio::test]
async fn starting_a_run_is_retried_only_when_azure_refused_it() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_discovery(&server, 1).await;
    let start = |experiment: &str| {
        format!(
            "/execution/v1.0/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1/experiments/{experiment}/startrun"
        )
    };
    Mock::given(method("POST"))
        .and(path(start("crashes")))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .named("500: may have started, never retried")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(start("busy")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .named("503: refused, retried")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(start("busy")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"runId": "busy_1"})))
        .expect(1)
        .named("started on the retry")
        .mount(&server)
        .await;
    let client = client(&server);

    // Act
    let crashed = client
        .start_run(&workspace(), "crashes", b"zip".to_vec(), json!({}))
        .await
        .unwrap_err();
    let started = client
        .start_run(&workspace(), "busy", b"zip".to_vec(), json!({}))
        .await
        .unwrap();

    // Assert
    assert_eq!(crashed.status(), Some(500));
    assert_eq!(started.run_id, "busy_1");
}

/// `Retry-After` values no server should send, and one that Azure's own header could carry.
const HOSTILE_WAITS: [(&str, &str); 4] = [
    ("retry-after", "10000000000000000000"),
    ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
    ("retry-after-ms", "18446744073709551615"),
    ("x-ms-retry-after-ms", "10000000000000000000"),
];

/// A `get workspace` throttled with `header: value` ends at once with the 429, however long
/// the wait asked: never a panic (`Instant + Duration` overflowing), never a stall.
async fn a_throttled_call_gives_up_at_once(header: &str, value: &str) {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let throttled = ResponseTemplate::new(429).insert_header(header, value);
    mount_workspace_answer(&server, throttled, None, 1, "throttled for ages").await;
    let client = client_with(&server, |options| options.deadline = LONG_DEADLINE);
    let started = Instant::now();

    // Act
    let err = tokio::spawn(async move { client.get_workspace(&workspace()).await })
        .await
        .unwrap_or_else(|panic| panic!("{header}: {value} panicked the worker: {panic}"))
        .unwrap_err();

    // Assert
    assert_eq!(err.status(), Some(429), "{header}: {value}: {err}");
    assert!(
        started.elapsed() < PROMPTLY,
        "{header}: {value}: {:?}",
        started.elapsed()
    );
}

// See: issue 13, "Retry-After of any size": `Retry-After: 10000000000000000000` panicked the
// worker (`Instant::now() + wait` overflowed).
#[tokio::test]
async fn a_retry_after_of_any_size_ends_a_call_with_its_answer() {
    for (header, value) in HOSTILE_WAITS {
        a_throttled_call_gives_up_at_once(header, value).await;
    }
}

/// A workspace creation whose operation says "still running, come back in `value`" ends at
/// once, before the deadline, with an error that says the deadline would pass.
async fn a_creation_gives_up_polling_at_once(header: &str, value: &str, on_the_poll: bool) {
    // Arrange: the `202 Accepted` of the PUT, or of the first poll, asks for the wait
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let operation = format!("{}/operations/op-1", server.uri());
    let accepted = ResponseTemplate::new(202).insert_header("location", operation.as_str());
    let (put, poll, polls) = if on_the_poll {
        let put = accepted.clone().insert_header("retry-after", "0");
        (put, accepted.insert_header(header, value), 1)
    } else {
        (accepted.clone().insert_header(header, value), accepted, 0)
    };
    Mock::given(method("PUT"))
        .and(path(WORKSPACE_PATH))
        .respond_with(put)
        .expect(1)
        .named("create workspace: accepted")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/operations/op-1"))
        .respond_with(poll)
        .expect(polls)
        .named("operation still running")
        .mount(&server)
        .await;
    let client = client_with(&server, |options| options.deadline = LONG_DEADLINE);
    let started = Instant::now();

    // Act
    let err = tokio::spawn(async move {
        client
            .create_workspace(&workspace(), &json!({"location": "eastus"}))
            .await
    })
    .await
    .unwrap_or_else(|panic| panic!("{header}: {value} panicked the worker: {panic}"))
    .unwrap_err();

    // Assert
    assert!(
        matches!(err, CallbackError::DeadlineExceeded { .. }),
        "{header}: {value}: {err:?}"
    );
    assert!(err.is_transient());
    assert!(
        started.elapsed() < PROMPTLY,
        "{header}: {value}: {:?}",
        started.elapsed()
    );
}

// See: issue 13, "Retry-After of any size": the long-running-operation poll added the asked
// wait to `Instant::now()` too.
#[tokio::test]
async fn a_retry_after_of_any_size_ends_an_operation_poll_at_once() {
    for (header, value) in HOSTILE_WAITS {
        a_creation_gives_up_polling_at_once(header, value, false).await;
        a_creation_gives_up_polling_at_once(header, value, true).await;
    }
}

// See: issue 13, "Idempotency from the method": a run start whose answer never came may have
// started the run, so it is not sent again.
#[tokio::test]
async fn a_run_start_that_timed_out_is_not_sent_again() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_discovery(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(
            "/execution/v1.0/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1/experiments/slow/startrun",
        ))
        .respond_with(ResponseTemplate::new(200).set_delay(HUNG))
        .expect(1)
        .named("start run, answer never comes")
        .mount(&server)
        .await;
    let client = client_with(&server, |options| {
        options.request_timeout = Duration::from_millis(200);
    });

    // Act
    let err = client
        .start_run(&workspace(), "slow", b"zip".to_vec(), json!({}))
        .await
        .unwrap_err();

    // Assert: one POST (checked on drop), and the timeout says so
    let CallbackError::Transport { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(source.is_timeout(), "{source}");
}
