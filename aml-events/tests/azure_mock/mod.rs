//! What the `azure_*` tests share: a loopback managed-identity endpoint, a client pointed at a
//! wiremock server with millisecond backoffs, the workspace and discovery answers, and a port
//! that refuses connections.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aml_events::{
    Secret, WorkspaceId,
    azure::{AmlClient, AmlClientOptions, ManagedIdentityCredential, RetryPolicy, TokenSource},
};
use serde_json::json;
use socket2::{Domain, Socket, Type};
use url::Url;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

/// The token every mock token endpoint hands out.
pub(crate) const TOKEN: &str = "test-token";
/// The managed identity header value; never to be seen in output.
pub(crate) const IDENTITY_HEADER: &str = "identity-header-value";
/// The path of the mock managed identity endpoint.
pub(crate) const IDENTITY_PATH: &str = "/msi/token";
/// The ARM path of [`workspace`].
pub(crate) const WORKSPACE_PATH: &str = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1";
/// The run-history path of [`workspace`].
pub(crate) const HISTORY_PATH: &str = "/history/v1.0/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1";

/// The workspace the tests talk about.
pub(crate) fn workspace() -> WorkspaceId {
    WorkspaceId::parse(WORKSPACE_PATH).expect("a workspace id")
}

/// Seconds since the epoch, `delta` from now.
pub(crate) fn epoch_in(delta: Duration) -> u64 {
    (SystemTime::now() + delta)
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Mounts a managed identity endpoint that must be asked `expected` times for an ARM token,
/// answering `expires_on` as a string an hour ahead, as App Service does.
pub(crate) async fn mount_identity(server: &MockServer, expected: u64) {
    Mock::given(method("GET"))
        .and(path(IDENTITY_PATH))
        .and(query_param("api-version", "2019-08-01"))
        .and(query_param("resource", "https://management.azure.com/"))
        .and(header("x-identity-header", IDENTITY_HEADER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": TOKEN,
            "expires_on": epoch_in(Duration::from_secs(3600)).to_string(),
            "resource": "https://management.azure.com/",
            "token_type": "Bearer",
        })))
        .expect(expected)
        .named("managed identity token")
        .mount(server)
        .await;
}

/// A managed identity credential asking `server`.
pub(crate) fn identity(server: &MockServer) -> Arc<dyn TokenSource> {
    Arc::new(
        ManagedIdentityCredential::new(
            Url::parse(&format!("{}{IDENTITY_PATH}", server.uri())).expect("a URL"),
            Secret::new(IDENTITY_HEADER),
            None,
        )
        .expect("a loopback endpoint"),
    )
}

/// Options pointing at `server`, with millisecond backoffs so retries cost nothing.
pub(crate) fn options(server: &MockServer) -> AmlClientOptions {
    AmlClientOptions {
        arm_endpoint: Url::parse(&server.uri()).expect("a URL"),
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        retry: RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
        },
        deadline: Duration::from_secs(5),
        poll_interval: Duration::from_millis(10),
        ..AmlClientOptions::default()
    }
}

/// A client for `server` authenticating with a managed identity on the same server.
pub(crate) fn client(server: &MockServer) -> AmlClient {
    AmlClient::new(identity(server), options(server)).expect("a client")
}

/// Mounts the workspace (whose `discoveryUrl` is on `server`) and the discovery document
/// (whose `api` is `server`), each expected `expected` times.
pub(crate) async fn mount_discovery(server: &MockServer, expected: u64) {
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(workspace_body(server)))
        .expect(expected)
        .named("get workspace")
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "api": server.uri(),
            "history": server.uri(),
            "modelmanagement": "https://eastus.modelmanagement.azureml.net",
        })))
        .expect(expected)
        .named("discovery document")
        .mount(server)
        .await;
}

/// A workspace as ARM answers it, its discovery URL on `server`.
pub(crate) fn workspace_body(server: &MockServer) -> serde_json::Value {
    json!({
        "id": WORKSPACE_PATH,
        "name": "ws-1",
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": "eastus",
        "tags": {},
        "properties": {
            "friendlyName": "Workspace one",
            "provisioningState": "Succeeded",
            "discoveryUrl": format!("{}/discovery", server.uri()),
            "workspaceId": "cba12345-abab-abab-abab-ababab123456",
        },
    })
}

/// A loopback port that refuses every connection for as long as this value lives: its socket is
/// bound but never listens, so the kernel answers a connection attempt with a reset (`Connection
/// refused`) and no other process can take the port meanwhile. Binding a listener, dropping it
/// and connecting to the freed port instead races with anything else that binds port 0.
pub(crate) struct RefusingPort {
    _socket: Socket,
    addr: SocketAddr,
}

impl RefusingPort {
    /// Reserves a port on 127.0.0.1.
    pub(crate) fn new() -> Self {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        socket.bind(&any_port.into()).expect("a free loopback port");
        let addr = socket
            .local_addr()
            .expect("a bound address")
            .as_socket()
            .expect("an IP address");
        RefusingPort {
            _socket: socket,
            addr,
        }
    }

    /// `127.0.0.1:<port>`.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).expect("a URL")
    }
}
