//! The credentials (docs/actions.md) against loopback token endpoints: managed identity (string and
//! number `expires_on`, user-assigned identity), service principal (the v2 form), the token
//! cache (per scope, refresh ahead of expiry, one fetch for N concurrent calls), and the safety
//! rules: no token over plain http beyond loopback, no secret in any output.

mod azure_mock;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use aml_events::{
    Secret,
    azure::{
        ARM_SCOPE, AmlClient, AmlClientOptions, CachedTokenSource, CallbackError, ClientError,
        ClientSecretCredential, ManagedIdentityCredential, RetryPolicy, TokenSource,
    },
    chain,
};
use azure_mock::{
    HISTORY_PATH, IDENTITY_HEADER, IDENTITY_PATH, WORKSPACE_PATH, client, epoch_in, identity,
    mount_discovery, mount_identity, options, workspace,
};
use futures_util::future::join_all;
use serde_json::json;
use url::Url;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string_contains, header, method, path, query_param},
};

/// Mounts `GET {WORKSPACE_PATH}` requiring the test token, `expected` times.
async fn mount_workspace(server: &MockServer, expected: u64) {
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(azure_mock::workspace_body(server)))
        .expect(expected)
        .named("get workspace with the token")
        .mount(server)
        .await;
}

#[tokio::test]
async fn managed_identity_reads_expires_on_as_a_string() {
    // Arrange
    let server = MockServer::start().await;
    let expires_on = epoch_in(Duration::from_secs(3600));
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .and(query_param("api-version", "2019-08-01"))
        .and(query_param("resource", "https://management.azure.com/"))
        .and(header("x-identity-header", IDENTITY_HEADER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "test-token", "expires_on": expires_on.to_string(),
            "resource": "https://management.azure.com/", "token_type": "Bearer",
        })))
        .expect(1)
        .named("managed identity token")
        .mount(&server)
        .await;

    // Act
    let token = identity(&server).token(ARM_SCOPE).await.unwrap();

    // Assert
    assert_eq!(token.token.expose(), "test-token");
    assert_eq!(
        token.expires_at,
        SystemTime::UNIX_EPOCH + Duration::from_secs(expires_on)
    );
}

#[tokio::test]
async fn managed_identity_accepts_expires_on_as_a_number_and_a_user_assigned_id() {
    // Arrange
    let server = MockServer::start().await;
    let expires_on = epoch_in(Duration::from_secs(600));
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .and(query_param("client_id", "user-assigned-id"))
        .and(header("x-identity-header", IDENTITY_HEADER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "test-token", "expires_on": expires_on,
        })))
        .expect(1)
        .named("user-assigned identity token")
        .mount(&server)
        .await;
    let credential = ManagedIdentityCredential::new(
        Url::parse(&format!("{}{IDENTITY_PATH}", server.uri())).unwrap(),
        Secret::new(IDENTITY_HEADER),
        Some("user-assigned-id".into()),
    )
    .unwrap();

    // Act
    let token = credential.token(ARM_SCOPE).await.unwrap();

    // Assert
    assert_eq!(
        token.expires_at,
        SystemTime::UNIX_EPOCH + Duration::from_secs(expires_on)
    );
}

#[tokio::test]
async fn service_principal_posts_the_v2_client_credentials_form() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant-1/oauth2/v2.0/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=app-1"))
        .and(body_string_contains("client_secret=s3cr3t%2Bvalue"))
        .and(body_string_contains(
            "scope=https%3A%2F%2Fmanagement.azure.com%2F.default",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": "test-token",
        })))
        .expect(1)
        .named("client credentials grant")
        .mount(&server)
        .await;
    mount_workspace(&server, 1).await;
    let credential = ClientSecretCredential::new(
        "tenant-1",
        "app-1",
        Secret::new("s3cr3t+value"),
        Url::parse(&format!("{}/", server.uri())).unwrap(),
    )
    .unwrap();
    let client = AmlClient::new(Arc::new(credential), options(&server)).unwrap();

    // Act
    let workspace = client.get_workspace(&workspace()).await.unwrap();

    // Assert
    assert_eq!(workspace.name, "ws-1");
}

#[tokio::test]
async fn a_refused_credential_is_unauthorized_and_hides_the_secret() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant-1/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided: s3cr3t-value",
        })))
        .expect(1)
        .named("refused client credentials")
        .mount(&server)
        .await;
    let credential = ClientSecretCredential::new(
        "tenant-1",
        "app-1",
        Secret::new("s3cr3t-value"),
        Url::parse(&server.uri()).unwrap(),
    )
    .unwrap();
    let client = AmlClient::new(Arc::new(credential), options(&server)).unwrap();

    // Act
    let err = client.get_workspace(&workspace()).await.unwrap_err();

    // Assert
    assert!(err.is_unauthorized() && !err.is_transient(), "{err}");
    let chain = chain(&err).to_string();
    assert!(chain.contains("invalid_client"), "{chain}");
    assert!(!chain.contains("s3cr3t-value"), "{chain}");
    assert!(!format!("{err:?}").contains("s3cr3t-value"));
}

#[tokio::test]
async fn a_token_endpoint_outage_is_retried_and_transient() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .respond_with(ResponseTemplate::new(503))
        .expect(4)
        .named("token endpoint down (1 try + 3 retries)")
        .mount(&server)
        .await;

    // Act
    let err = client(&server)
        .get_workspace(&workspace())
        .await
        .unwrap_err();

    // Assert
    assert!(matches!(err, CallbackError::Credential { .. }), "{err}");
    assert!(err.is_transient() && !err.is_unauthorized(), "{err}");
}

#[tokio::test]
async fn tokens_are_cached_per_scope() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_workspace(&server, 3).await;
    let client = client(&server);

    // Act
    for _ in 0..3 {
        client.get_workspace(&workspace()).await.unwrap();
    }

    // Assert: `mount_identity` expected exactly one token request
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry() {
    // Arrange: a token with 60 s left is inside the 5-minute refresh margin
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "test-token",
            "expires_on": epoch_in(Duration::from_secs(60)).to_string(),
        })))
        .expect(2)
        .named("short-lived token, fetched again")
        .mount(&server)
        .await;
    mount_workspace(&server, 2).await;
    let client = client(&server);

    // Act
    client.get_workspace(&workspace()).await.unwrap();
    client.get_workspace(&workspace()).await.unwrap();

    // Assert: the mock expected two token requests
}

#[tokio::test]
async fn a_failed_refresh_falls_back_to_the_still_valid_token() {
    // Arrange: the first token has two minutes left (inside the margin), then the endpoint fails
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "old-token",
            "expires_on": epoch_in(Duration::from_secs(120)).to_string(),
        })))
        .up_to_n_times(1)
        .expect(1)
        .named("first token")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .named("refresh fails")
        .mount(&server)
        .await;
    let cache = CachedTokenSource::new(identity(&server));

    // Act
    let first = cache.token(ARM_SCOPE).await.unwrap();
    let second = cache.token(ARM_SCOPE).await.unwrap();

    // Assert
    assert_eq!(first.token.expose(), "old-token");
    assert_eq!(second, first);
}

#[tokio::test]
async fn twenty_concurrent_calls_make_one_token_request() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_discovery(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{HISTORY_PATH}/experiments/train/runs/run-1")))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"runId": "run-1", "status": "Completed"}))
                .set_delay(Duration::from_millis(20)),
        )
        .expect(20)
        .named("get run")
        .mount(&server)
        .await;
    let client = client(&server);
    let workspace = workspace();

    // Act
    let runs = join_all((0..20).map(|_| client.get_run(&workspace, "train", "run-1"))).await;

    // Assert: one token request, one workspace GET, one discovery GET (checked on drop);
    // discovery is single-flight too, so the first caller fetches the token for all
    assert!(
        runs.iter()
            .all(|run| run.as_ref().unwrap().run_id == "run-1")
    );
}

#[tokio::test]
async fn twenty_concurrent_arm_calls_share_one_slow_token_fetch() {
    // Arrange: the token takes a while, so every call is waiting for it at once
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "access_token": "test-token",
                    "expires_on": epoch_in(Duration::from_secs(3600)).to_string(),
                }))
                .set_delay(Duration::from_millis(100)),
        )
        .expect(1)
        .named("one slow token for everyone")
        .mount(&server)
        .await;
    mount_workspace(&server, 20).await;
    let client = client(&server);
    let workspace = workspace();

    // Act
    let answers = join_all((0..20).map(|_| client.get_workspace(&workspace))).await;

    // Assert: one token request (checked on drop)
    assert!(answers.iter().all(Result::is_ok));
}

#[tokio::test]
async fn concurrent_callers_share_a_failed_fetch_too() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .respond_with(ResponseTemplate::new(400).set_delay(Duration::from_millis(50)))
        .expect(1)
        .named("refused once for everyone")
        .mount(&server)
        .await;
    let cache = CachedTokenSource::new(identity(&server));

    // Act
    let results = join_all((0..10).map(|_| cache.token(ARM_SCOPE))).await;

    // Assert
    assert!(results.iter().all(Result::is_err));
}

#[tokio::test]
async fn refuses_plain_http_beyond_loopback_naming_the_setting() {
    // Arrange
    let http = |url: &str| Url::parse(url).unwrap();
    let server = MockServer::start().await;
    let identity = identity(&server);

    // Act
    let arm = AmlClient::new(
        identity.clone(),
        AmlClientOptions {
            arm_endpoint: http("http://management.example.com"),
            ..AmlClientOptions::default()
        },
    )
    .unwrap_err();
    let managed = ManagedIdentityCredential::new(
        http("http://169.254.169.254/msi/token"),
        Secret::new("h"),
        None,
    )
    .unwrap_err();
    let authority = ClientSecretCredential::new(
        "tenant-1",
        "app-1",
        Secret::new("s"),
        http("http://login.example.com"),
    )
    .unwrap_err();
    let scoring = client(&server)
        .score(
            &http("http://scoring.example.com/score"),
            Some(&Secret::new("k")),
            &json!({}),
        )
        .await
        .unwrap_err();

    // Assert
    for (err, setting) in [
        (arm, "AML_ARM_ENDPOINT"),
        (managed, "IDENTITY_ENDPOINT"),
        (authority, "AZURE_AUTHORITY_HOST"),
    ] {
        assert!(
            matches!(err, ClientError::InsecureUrl { setting: s } if s == setting),
            "{setting}: {err}"
        );
        assert!(err.to_string().contains(setting), "{err}");
    }
    assert!(
        scoring.to_string().contains("AML_SMOKE_TEST_URI"),
        "{scoring}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    for loopback in ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"] {
        let options = AmlClientOptions {
            arm_endpoint: http(loopback),
            ..AmlClientOptions::default()
        };
        assert!(
            AmlClient::new(identity.clone(), options).is_ok(),
            "{loopback}"
        );
    }
}

#[tokio::test]
async fn debug_output_shows_no_secret() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let managed = identity(&server);
    let principal = ClientSecretCredential::new(
        "tenant-1",
        "app-1",
        Secret::new("s3cr3t-value"),
        Url::parse("https://login.microsoftonline.com").unwrap(),
    )
    .unwrap();
    let client = AmlClient::new(Arc::new(principal), AmlClientOptions::default()).unwrap();

    // Act
    let token = managed.token(ARM_SCOPE).await.unwrap();
    let output = format!("{managed:?} {client:?} {token:?} {:?}", client.clone());

    // Assert
    for secret in ["s3cr3t-value", IDENTITY_HEADER, "test-token"] {
        assert!(!output.contains(secret), "{secret} in {output}");
    }
    assert!(output.contains("Secret(***)"), "{output}");
}

#[test]
fn the_token_scope_follows_the_cloud() {
    let credential: Arc<dyn TokenSource> = Arc::new(
        ManagedIdentityCredential::new(
            Url::parse("http://127.0.0.1:9/msi/token").unwrap(),
            Secret::new("h"),
            None,
        )
        .unwrap(),
    );
    let scope = |endpoint: &str| {
        let options = AmlClientOptions {
            arm_endpoint: Url::parse(endpoint).unwrap(),
            retry: RetryPolicy::none(),
            ..AmlClientOptions::default()
        };
        AmlClient::new(credential.clone(), options)
            .unwrap()
            .token_scope()
            .to_owned()
    };
    assert_eq!(scope("https://management.azure.com"), ARM_SCOPE);
    assert_eq!(
        scope("https://management.chinacloudapi.cn/"),
        "https://management.chinacloudapi.cn/.default"
    );
    assert_eq!(scope("http://127.0.0.1:8080"), ARM_SCOPE);
}

#[test]
fn the_client_is_shareable_across_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<AmlClient>();
}

/// `count` characters of filler (`a`…`z` and spaces, nothing a secret starts with).
fn filler(count: usize) -> String {
    "the quick brown fox jumps over the lazy dog "
        .chars()
        .cycle()
        .take(count)
        .collect()
}

/// Asserts that `shown` holds no 4-character start of `secret`, nor the secret.
fn assert_no_part_of(secret: &str, shown: &str) {
    let start: String = secret.chars().take(4).collect();
    assert!(
        !shown.contains(&start),
        "{start:?} of the secret in {shown}"
    );
}

/// The client secret of [`a_secret_straddling_the_detail_cut_leaves_nothing_behind`].
const CLIENT_SECRET: &str = "QZXJ8K2M-client-secret-value";

// See: issue 13, "Redact, then truncate": the token endpoint's error detail was cut to 300
// characters and *then* had the secret replaced, so a secret straddling the cut left its first
// characters in the error.
#[tokio::test]
async fn a_secret_straddling_the_detail_cut_leaves_nothing_behind() {
    // The detail is `invalid_client: <description>`: 16 characters, then the description.
    for secret_at in 280..300 {
        // Arrange
        let server = MockServer::start().await;
        let description = format!("{}{CLIENT_SECRET} is wrong", filler(secret_at - 16));
        Mock::given(method("POST"))
            .and(path("/tenant-1/oauth2/v2.0/token"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_client",
                "error_description": description,
            })))
            .expect(1)
            .named("refused, echoing the secret")
            .mount(&server)
            .await;
        let credential = ClientSecretCredential::new(
            "tenant-1",
            "app-1",
            Secret::new(CLIENT_SECRET),
            Url::parse(&server.uri()).unwrap(),
        )
        .unwrap();
        let client = AmlClient::new(Arc::new(credential), options(&server)).unwrap();

        // Act
        let err = client.get_workspace(&workspace()).await.unwrap_err();

        // Assert
        let shown = chain(&err).to_string();
        assert!(shown.contains("invalid_client"), "{shown}");
        assert_no_part_of(CLIENT_SECRET, &shown);
        assert_no_part_of(CLIENT_SECRET, &format!("{err:?}"));
    }
}

/// The identity header of [`an_identity_header_straddling_the_detail_cut_leaves_nothing_behind`].
const HEADER_SECRET: &str = "HDR7W-identity-header-value";

// See: issue 13, "Redact, then truncate": the same for the managed identity header.
#[tokio::test]
async fn an_identity_header_straddling_the_detail_cut_leaves_nothing_behind() {
    // The detail is `BadRequest: <message>`: 12 characters, then the message.
    for secret_at in 280..300 {
        // Arrange
        let server = MockServer::start().await;
        let message = format!("{}{HEADER_SECRET} is not ours", filler(secret_at - 12));
        Mock::given(method("GET"))
            .and(path(IDENTITY_PATH))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": {"code": "BadRequest", "message": message},
            })))
            .expect(1)
            .named("refused, echoing the header")
            .mount(&server)
            .await;
        let credential = ManagedIdentityCredential::new(
            Url::parse(&format!("{}{IDENTITY_PATH}", server.uri())).unwrap(),
            Secret::new(HEADER_SECRET),
            None,
        )
        .unwrap();
        let client = AmlClient::new(Arc::new(credential), options(&server)).unwrap();

        // Act
        let err = client.get_workspace(&workspace()).await.unwrap_err();

        // Assert
        let shown = chain(&err).to_string();
        assert!(shown.contains("BadRequest"), "{shown}");
        assert_no_part_of(HEADER_SECRET, &shown);
        assert_no_part_of(HEADER_SECRET, &format!("{err:?}"));
    }
}
