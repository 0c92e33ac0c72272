//! Errors keep their cause: what [`aml_events::chain`] prints for a call that
//! failed says *why* (connection refused, timed out, the deadline and its length), not only
//! which call, and still never shows a secret URL.

mod azure_mock;

use std::time::Duration;

use aml_events::{
    Secret,
    azure::{AmlClient, AmlClientOptions, CallbackError, RetryPolicy},
    chain,
};
use azure_mock::{
    HISTORY_PATH, IDENTITY_PATH, RefusingPort, WORKSPACE_PATH, identity, mount_identity, options,
    workspace,
};
use serde_json::json;
use url::Url;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

/// A hung server: it answers long after any test has ended.
const HUNG: Duration = Duration::from_secs(60);

/// Mounts the workspace and a discovery document whose regional `api` is `api`.
async fn mount_discovery_to(server: &MockServer, api: &Url) {
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(azure_mock::workspace_body(server)))
        .named("get workspace")
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"api": api.as_str()})))
        .named("discovery document")
        .mount(server)
        .await;
}

fn client_with(server: &MockServer, change: impl FnOnce(&mut AmlClientOptions)) -> AmlClient {
    let mut options = options(server);
    change(&mut options);
    AmlClient::new(identity(server), options).unwrap()
}

// See: issue 13, "Errors keep their cause": a run that cannot be looked up must say why.
#[tokio::test]
async fn a_refused_connection_says_connection_refused() {
    // Arrange: the regional API is a port that refuses connections
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let closed = RefusingPort::new();
    mount_discovery_to(&server, &closed.url()).await;

    // Act
    let err = azure_mock::client(&server)
        .get_run(&workspace(), "train", "run-1")
        .await
        .unwrap_err();

    // Assert
    let shown = chain(&err).to_string();
    assert!(
        shown.starts_with("request to Azure ML failed during get run"),
        "{shown}"
    );
    assert!(
        shown.to_lowercase().contains("connection refused"),
        "{shown}"
    );
    assert!(err.is_transient(), "{shown}");
}

// See: issue 13, "Errors keep their cause": a hung server must be reported as timed out.
#[tokio::test]
async fn a_hung_server_says_timed_out() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_discovery_to(&server, &Url::parse(&server.uri()).unwrap()).await;
    Mock::given(method("GET"))
        .and(path(format!("{HISTORY_PATH}/experiments/train/runs/run-1")))
        .respond_with(ResponseTemplate::new(200).set_delay(HUNG))
        .named("hung run history")
        .mount(&server)
        .await;
    let client = client_with(&server, |options| {
        options.request_timeout = Duration::from_millis(200);
        options.retry = RetryPolicy::none();
    });

    // Act
    let err = client
        .get_run(&workspace(), "train", "run-1")
        .await
        .unwrap_err();

    // Assert
    let shown = chain(&err).to_string();
    assert!(
        shown.starts_with("request to Azure ML failed during get run"),
        "{shown}"
    );
    assert!(shown.contains("timed out"), "{shown}");
}

// See: issue 13, "Errors keep their cause": the deadline error said neither how long the
// operation had nor what went wrong before.
#[tokio::test]
async fn the_deadline_error_says_how_long_the_operation_had() {
    // Arrange: a run history that fails once, then hangs past the 2 s deadline
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_discovery_to(&server, &Url::parse(&server.uri()).unwrap()).await;
    let run_path = format!("{HISTORY_PATH}/experiments/train/runs/run-1");
    Mock::given(method("GET"))
        .and(path(run_path.as_str()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .named("busy")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(run_path.as_str()))
        .respond_with(ResponseTemplate::new(200).set_delay(HUNG))
        .named("then hung")
        .mount(&server)
        .await;
    let client = client_with(&server, |options| {
        options.request_timeout = HUNG;
        options.deadline = Duration::from_secs(2);
    });

    // Act
    let err = client
        .get_run(&workspace(), "train", "run-1")
        .await
        .unwrap_err();

    // Assert
    assert!(
        matches!(err, CallbackError::DeadlineExceeded { .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(
        chain(&err).to_string(),
        "get run did not finish within its deadline of 2 s: Azure ML answered 503 to get run"
    );
}

// See: issue 13, "Errors keep their cause": a token endpoint that cannot be reached says why,
// and neither the identity header nor the query shows.
#[tokio::test]
async fn an_unreachable_token_endpoint_says_connection_refused() {
    // Arrange
    let server = MockServer::start().await;
    let closed = RefusingPort::new();
    let endpoint = Url::parse(&format!(
        "http://{}{IDENTITY_PATH}?x=query-secret",
        closed.addr()
    ))
    .unwrap();
    let credential = aml_events::azure::ManagedIdentityCredential::new(
        endpoint,
        Secret::new("header-secret"),
        None,
    )
    .unwrap();
    let client = AmlClient::new(std::sync::Arc::new(credential), options(&server)).unwrap();

    // Act
    let err = client.get_workspace(&workspace()).await.unwrap_err();

    // Assert
    let shown = chain(&err).to_string();
    assert!(
        shown.starts_with("could not get an Azure token for get workspace: token request to"),
        "{shown}"
    );
    assert!(
        shown.to_lowercase().contains("connection refused"),
        "{shown}"
    );
    assert!(
        !shown.contains("query-secret") && !shown.contains("header-secret"),
        "{shown}"
    );
    assert!(err.is_transient(), "{shown}");
}
