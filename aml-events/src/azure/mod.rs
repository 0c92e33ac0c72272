//! A client for Azure Machine Learning's REST API: Azure Resource Manager for workspaces,
//! models, computes and jobs, the regional API for run history, and scoring endpoints, with
//! the token handling, retries and time limits of SPEC §8.2 and §8.3.
//!
//! # Layout
//! - [`AmlClient`]: built once per process from a [`TokenSource`] and [`AmlClientOptions`]
//!   (and, for tests, a [`Transport`] of their own); cheap to clone and shared by every
//!   invocation. Its operations are grouped by family in private modules: `arm` (resource
//!   groups, workspaces, models, computes, jobs), `runs` (discovery, experiments, runs), and
//!   `scoring`.
//! - [`credential`]: where tokens come from ([`ManagedIdentityCredential`],
//!   [`ClientSecretCredential`]) and [`CachedTokenSource`], one token fetch per scope shared by
//!   concurrent callers.
//! - [`retry`]: [`RetryPolicy`] and the rules for what is retried and how long to wait.
//! - [`error`]: [`ClientError`] (building), [`CallbackError`] (calling), [`ErrorResponse`]
//!   (Azure's error body).
//! - [`models`]: the typed answers ([`Workspace`], [`Run`], [`JobOutcome`], ...).
//!
//! It deliberately does not read the environment (the settings layer passes values in and
//! decides on dry-run), never sends a token or key over plain http except to a loopback
//! address, never prints a token, key or secret, and follows no redirect to plain http.
//!
//! # Example
//! A function of your own that explains why a run failed. Build the client once (from the
//! settings) and pass it, or a clone of it, wherever it is needed:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use aml_events::{
//!     Secret, WorkspaceId,
//!     azure::{AmlClient, AmlClientOptions, CallbackError, ManagedIdentityCredential},
//! };
//!
//! async fn why_did_it_fail(
//!     client: &AmlClient,
//!     workspace: &WorkspaceId,
//!     experiment: &str,
//!     run_id: &str,
//! ) -> Result<String, CallbackError> {
//!     let run = client.get_run(workspace, experiment, run_id).await?;
//!     Ok(match run.error_message() {
//!         Some(message) => format!("run {} failed: {message}", run.run_id),
//!         None => format!("run {} is {}", run.run_id, run.status.as_deref().unwrap_or("unknown")),
//!     })
//! }
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // App Service / Functions set IDENTITY_ENDPOINT and IDENTITY_HEADER.
//! let credential = ManagedIdentityCredential::new(
//!     std::env::var("IDENTITY_ENDPOINT")?.parse()?,
//!     Secret::new(std::env::var("IDENTITY_HEADER")?),
//!     None,
//! )?;
//! let client = AmlClient::new(Arc::new(credential), AmlClientOptions::default())?;
//!
//! let workspace = WorkspaceId::parse(
//!     "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg\
//!      /providers/Microsoft.MachineLearningServices/workspaces/ml-ws",
//! )
//! .expect("a workspace resource id");
//! match why_did_it_fail(&client, &workspace, "train", "train_1700000000_abcd").await {
//!     Ok(explanation) => println!("{explanation}"),
//!     Err(err) if err.is_transient() => eprintln!("try again later: {err}"),
//!     Err(err) => eprintln!("{err}"),
//! }
//! # Ok(())
//! # }
//! ```

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::{
    Method,
    header::{AUTHORIZATION, HeaderValue},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use crate::{
    Secret, WorkspaceId,
    pipeline::{self, Answer, Deadline, InFlight, Repeat, Retryable},
    redact::{self, Show},
    transport::{HttpTransport, Transport, TransportError},
};

mod arm;
pub mod credential;
pub mod error;
mod lenient;
pub mod models;
pub mod retry;
mod runs;
mod scoring;

pub use arm::ML_API_VERSION;
pub use credential::{
    ARM_SCOPE, AccessToken, CachedTokenSource, ClientSecretCredential, CredentialError,
    ManagedIdentityCredential, TokenFuture, TokenSource,
};
pub use error::{CallbackError, ClientError, ErrorDetail, ErrorResponse};
pub use models::{
    ArmResource, Compute, DeleteOutcome, Experiment, Job, JobOutcome, Model, ResourceGroup,
    ResourceGroupProperties, Run, RunError, ScoreResponse, StartedRun, Workspace,
    WorkspaceProperties,
};
pub use retry::RetryPolicy;

// The settings URLs and secrets come from, named in errors. They mirror the `const`s of the
// handlers' `config.rs` (SPEC §8.5); this crate receives values, never reads them.
const AML_ARM_ENDPOINT: &str = "AML_ARM_ENDPOINT";
const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";

/// How the client talks to Azure. `Default` is the public cloud with SPEC §8.3's budget.
#[derive(Debug, Clone, PartialEq)]
pub struct AmlClientOptions {
    /// ARM base URL (`AML_ARM_ENDPOINT`): another cloud, or a loopback mock in tests.
    pub arm_endpoint: Url,
    /// The token scope; `None` derives it from `arm_endpoint` (`{origin}/.default`), or uses
    /// [`ARM_SCOPE`] when the endpoint is a loopback mock.
    pub token_scope: Option<String>,
    /// Longest a single attempt may take, from connecting to the end of the body; cuts hung
    /// connections.
    pub request_timeout: Duration,
    /// Longest a single attempt may take to connect.
    pub connect_timeout: Duration,
    /// What is retried, and how patiently.
    pub retry: RetryPolicy,
    /// Budget of one operation, all attempts, waits and polls included.
    /// See also [`AmlClient::with_deadline`].
    pub deadline: Duration,
    /// Wait between polls of a long-running operation when Azure sends no `Retry-After`.
    pub poll_interval: Duration,
    /// Time the smoke test ([`AmlClient::score`]) keeps for its caller after its last attempt,
    /// to record what the endpoint answered. Scoring is never cut by the deadline once sent
    /// (hanging up would lose an answer the endpoint computes anyway), so a retry starts only
    /// when `request_timeout + reserve` still fits before the deadline; otherwise the last
    /// answer or error stands.
    pub reserve: Duration,
}

impl Default for AmlClientOptions {
    fn default() -> Self {
        AmlClientOptions {
            arm_endpoint: Url::parse("https://management.azure.com").expect("a valid URL"),
            token_scope: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            // Event Grid waits 30 s for an answer; 25 leaves room to send it.
            // See <https://learn.microsoft.com/azure/event-grid/delivery-and-retry>.
            deadline: Duration::from_secs(25),
            poll_interval: Duration::from_secs(2),
            reserve: Duration::from_secs(2),
        }
    }
}

/// The Azure ML REST client. Build it once per process and clone it freely: clones share
/// the HTTP connection pool, the token cache and the discovery cache.
#[derive(Clone)]
pub struct AmlClient {
    inner: Arc<Inner>,
    /// An absolute deadline set by [`AmlClient::with_deadline`], on top of the per-operation one.
    deadline: Option<Instant>,
}

struct Inner {
    /// Builds the requests (its settings matter only when it is also the transport).
    http: reqwest::Client,
    /// Sends them.
    transport: Arc<dyn Transport>,
    tokens: CachedTokenSource,
    scope: String,
    options: AmlClientOptions,
    /// Regional API base per workspace (lowercased resource id); it never changes.
    discovery: Mutex<HashMap<String, Url>>,
    /// Lets one discovery run at a time, so concurrent first calls make one round trip.
    discovering: tokio::sync::Mutex<()>,
}

impl AmlClient {
    /// A client that authenticates with `credential` (wrapped in a [`CachedTokenSource`]).
    /// Refuses an `arm_endpoint` that is plain http to another machine, naming
    /// `AML_ARM_ENDPOINT`.
    pub fn new(
        credential: Arc<dyn TokenSource>,
        options: AmlClientOptions,
    ) -> Result<AmlClient, ClientError> {
        require_token_url(AML_ARM_ENDPOINT, &options.arm_endpoint)?;
        let http = http_client(&options)?;
        let transport = Arc::new(HttpTransport::new(http.clone()));
        Ok(AmlClient::assemble(credential, options, http, transport))
    }

    /// A client like [`AmlClient::new`]'s that sends every request through `transport`: a
    /// stand-in of a test's own, in-process. Each attempt is still held to
    /// `options.request_timeout` here, whatever the transport does.
    pub fn with_transport(
        credential: Arc<dyn TokenSource>,
        options: AmlClientOptions,
        transport: Arc<dyn Transport>,
    ) -> Result<AmlClient, ClientError> {
        require_token_url(AML_ARM_ENDPOINT, &options.arm_endpoint)?;
        let http = http_client(&options)?;
        Ok(AmlClient::assemble(credential, options, http, transport))
    }

    fn assemble(
        credential: Arc<dyn TokenSource>,
        options: AmlClientOptions,
        http: reqwest::Client,
        transport: Arc<dyn Transport>,
    ) -> AmlClient {
        let scope = match &options.token_scope {
            Some(scope) => scope.clone(),
            None if is_loopback(&options.arm_endpoint) => ARM_SCOPE.to_owned(),
            None => format!(
                "{}/.default",
                options.arm_endpoint.origin().ascii_serialization()
            ),
        };
        AmlClient {
            inner: Arc::new(Inner {
                http,
                transport,
                tokens: CachedTokenSource::new(credential),
                scope,
                options,
                discovery: Mutex::new(HashMap::new()),
                discovering: tokio::sync::Mutex::new(()),
            }),
            deadline: None,
        }
    }

    /// The same client, with every operation also bounded by `deadline` (e.g. the end of the
    /// current Event Grid delivery), on tokio's clock like every time limit of the client.
    /// Cheap: the clone shares everything else.
    pub fn with_deadline(&self, deadline: Instant) -> AmlClient {
        AmlClient {
            inner: Arc::clone(&self.inner),
            deadline: Some(deadline),
        }
    }

    /// The options the client was built with.
    pub fn options(&self) -> &AmlClientOptions {
        &self.inner.options
    }

    /// The scope of the tokens the client asks for.
    pub fn token_scope(&self) -> &str {
        &self.inner.scope
    }

    /// When an operation starting now must be done.
    fn deadline(&self) -> Deadline {
        Deadline::starting_now(self.inner.options.deadline, self.deadline)
    }

    /// Sends `call`, retrying per the policy, within `deadline` (an attempt in flight treated
    /// as the call says). Returns the last answer, whatever its status; transport, token and
    /// deadline failures are errors.
    async fn send(&self, call: &Call<'_>, deadline: Deadline) -> Result<Answer, CallbackError> {
        let operation = call.operation;
        let request = pipeline::Request {
            operation,
            repeat: call.repeat,
            policy: &self.inner.options.retry,
            deadline,
            answered: &|answer: Answer| answer.into_error(operation),
            too_late: &|budget, last| exceeded(operation, budget, last),
        };
        pipeline::send_with(request, call.in_flight, || self.attempt(call)).await
    }

    /// One try of `call`, bounded by the per-request timeout; the deadline is [`Self::send`]'s
    /// to enforce, so that a cut attempt always reads as the deadline, never as a timeout.
    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, CallbackError> {
        let operation = call.operation;
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone());
        match call.auth {
            Auth::Arm => {
                let token = self
                    .inner
                    .tokens
                    .token(&self.inner.scope)
                    .await
                    .map_err(|source| CallbackError::Credential { operation, source })?;
                let value = bearer(&token.token).ok_or(CallbackError::Credential {
                    operation,
                    source: CredentialError::Malformed {
                        endpoint: String::from("the token source"),
                        problem: "the token is not a valid header value",
                    },
                })?;
                request = request.header(AUTHORIZATION, value);
            }
            Auth::Key(Some(key)) => {
                let value = bearer(key).ok_or(CallbackError::InvalidKey { operation })?;
                request = request.header(AUTHORIZATION, value);
            }
            Auth::Key(None) | Auth::Anonymous => {}
        }
        request = match &call.payload {
            Payload::Empty => request,
            Payload::Json(body) => request.json(body),
            Payload::Multipart { zip, definition } => {
                let part = |bytes: &[u8], name: &'static str, mime: &str| {
                    reqwest::multipart::Part::bytes(bytes.to_vec())
                        .file_name(name)
                        .mime_str(mime)
                };
                let transport = |source| CallbackError::Transport {
                    operation,
                    source: TransportError::from_reqwest(source, None),
                };
                let form = reqwest::multipart::Form::new()
                    .part(
                        "projectZipFile",
                        part(zip, "project.zip", "application/zip").map_err(transport)?,
                    )
                    .part(
                        "runDefinitionFile",
                        part(definition, "definition.json", "application/json")
                            .map_err(transport)?,
                    );
                request.multipart(form)
            }
        };
        Answer::exchange(
            &*self.inner.transport,
            request,
            self.inner.options.request_timeout,
        )
        .await
        .map_err(|source| CallbackError::Transport { operation, source })
    }

    /// Sends `call` and insists on a 2xx answer.
    async fn send_ok(&self, call: &Call<'_>, deadline: Deadline) -> Result<Answer, CallbackError> {
        let answer = self.send(call, deadline).await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(answer.into_error(call.operation))
        }
    }

    /// Sends `call` and reads its 2xx answer as `T`.
    async fn send_json<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        deadline: Deadline,
    ) -> Result<T, CallbackError> {
        self.send_ok(call, deadline).await?.json(call.operation)
    }

    /// GETs every page of a list (`{"value": [...], "nextLink": ...}`), following `nextLink`
    /// on the same origin only (the token goes with it).
    async fn list<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        first: Url,
        deadline: Deadline,
    ) -> Result<Vec<T>, CallbackError> {
        const MAX_PAGES: usize = 100;
        let origin = first.origin();
        let mut items = Vec::new();
        let mut next = Some(first);
        for _ in 0..MAX_PAGES {
            let Some(url) = next.take() else {
                return Ok(items);
            };
            let page: Page<T> = self.send_json(&Call::get(operation, url), deadline).await?;
            items.extend(page.value);
            next = match page.next_link.filter(|link| !link.is_empty()) {
                None => None,
                Some(link) => {
                    let url = Url::parse(&link).map_err(|_| CallbackError::InvalidResponse {
                        operation,
                        problem: "nextLink is not a URL".into(),
                    })?;
                    if url.origin() != origin || !is_token_safe(&url) {
                        return Err(CallbackError::InsecureUrl {
                            operation,
                            what: "a nextLink on another host",
                        });
                    }
                    Some(url)
                }
            };
        }
        match next {
            None => Ok(items),
            Some(_) => Err(CallbackError::InvalidResponse {
                operation,
                problem: format!("more than {MAX_PAGES} pages"),
            }),
        }
    }
}

impl fmt::Debug for AmlClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmlClient")
            .field(
                "arm_endpoint",
                &redact::url(&self.inner.options.arm_endpoint, Show::Path),
            )
            .field("scope", &self.inner.scope)
            .field("credential", &self.inner.tokens)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The client that builds the requests and, by default, sends them: its connect timeout and
/// user agent, no overall timeout (each attempt is timed by the pipeline), and its redirects.
fn http_client(options: &AmlClientOptions) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .user_agent(concat!("aml-events/", env!("CARGO_PKG_VERSION")))
        // reqwest drops `Authorization` on a redirect to another origin; this also refuses
        // a redirect down to plain http (which would carry the body in clear).
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if !is_token_safe(attempt.url()) {
                attempt.error("redirect to plain http refused")
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(ClientError::Http)
}

impl Deadline {
    /// The error of `operation` when this deadline came first; `last` is the failure of the
    /// attempt before, if any.
    fn exceeded(self, operation: &'static str, last: Option<CallbackError>) -> CallbackError {
        exceeded(operation, self.budget, last)
    }
}

fn exceeded(
    operation: &'static str,
    budget: Duration,
    last: Option<CallbackError>,
) -> CallbackError {
    CallbackError::DeadlineExceeded {
        operation,
        budget,
        last: last.map(Box::new),
    }
}

/// `Authorization: Bearer <secret>`, marked sensitive so `Debug` of the headers hides it.
fn bearer(secret: &Secret) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", secret.expose())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// What goes into the `Authorization` header.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// An ARM token from the credential.
    Arm,
    /// A scoring key, if any (never an ARM token).
    Key(Option<&'a Secret>),
    /// Nothing (the discovery document).
    Anonymous,
}

enum Payload<'a> {
    Empty,
    Json(&'a Value),
    Multipart { zip: &'a [u8], definition: Vec<u8> },
}

/// One request, described so that it can be sent again.
struct Call<'a> {
    operation: &'static str,
    method: Method,
    url: Url,
    auth: Auth<'a>,
    payload: Payload<'a>,
    /// Which failures it is sent again after: from its method, unless the caller says
    /// otherwise where it makes the call.
    repeat: Repeat,
    /// Whether the deadline cuts an attempt in flight: it does, unless the caller says
    /// otherwise where it makes the call.
    in_flight: InFlight,
}

impl<'a> Call<'a> {
    fn new(operation: &'static str, method: Method, url: Url) -> Self {
        Call {
            operation,
            repeat: Repeat::of(&method),
            method,
            url,
            auth: Auth::Arm,
            payload: Payload::Empty,
            in_flight: InFlight::CutAtDeadline,
        }
    }

    /// Sends it again after every transient failure, whatever its method: for a POST that
    /// changes nothing (scoring computes a prediction). Say why where it is used.
    fn idempotent(mut self) -> Self {
        self.repeat = Repeat::Idempotent;
        self
    }

    /// Lets an attempt in flight finish rather than be cut at the deadline, retrying only
    /// when its whole attempt and the reserve still fit ([`InFlight::Finish`]): for a call
    /// whose answer is worth more than the deadline. Say why where it is used.
    fn finishing(mut self, options: &AmlClientOptions) -> Self {
        self.in_flight = InFlight::Finish {
            attempt_timeout: options.request_timeout,
            reserve: options.reserve,
        };
        self
    }

    fn get(operation: &'static str, url: Url) -> Self {
        Call::new(operation, Method::GET, url)
    }

    fn json(mut self, body: &'a Value) -> Self {
        self.payload = Payload::Json(body);
        self
    }

    fn auth(mut self, auth: Auth<'a>) -> Self {
        self.auth = auth;
        self
    }
}

impl Retryable for CallbackError {
    fn retryable(&self, repeat: Repeat) -> bool {
        match self {
            // No request went out: always safe to try again.
            CallbackError::Credential { source, .. } => source.is_transient(),
            CallbackError::Transport { source, .. } => repeat.retries_transport(source),
            _ => false,
        }
    }
}

impl Answer {
    fn into_error(self, operation: &'static str) -> CallbackError {
        CallbackError::Status {
            operation,
            status: self.status.as_u16(),
            body: ErrorResponse::from_body(&self.body),
            request_id: self.header("x-ms-request-id").map(str::to_owned),
        }
    }

    fn json<T: DeserializeOwned>(&self, operation: &'static str) -> Result<T, CallbackError> {
        serde_json::from_slice(&self.body)
            .map_err(|source| CallbackError::Decode { operation, source })
    }
}

/// One page of an ARM or run-history list.
#[derive(serde::Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(rename = "nextLink", default)]
    next_link: Option<String>,
}

/// Refuses a URL a token or key would go to unless it is https, or http to loopback.
fn require_token_url(setting: &'static str, url: &Url) -> Result<(), ClientError> {
    if url.cannot_be_a_base() || !matches!(url.scheme(), "https" | "http") {
        return Err(ClientError::InvalidSetting {
            setting,
            problem: "not an http(s) URL",
        });
    }
    if is_token_safe(url) {
        Ok(())
    } else {
        Err(ClientError::InsecureUrl { setting })
    }
}

/// Whether a token, key or secret may be sent to `url`: https, or plain http to a loopback
/// address only (SPEC §8.2): https anywhere, or plain http to `localhost`, `127.0.0.0/8` or
/// `[::1]`. The settings layer checks its URLs with the same rule.
pub fn is_token_safe(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

/// `localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `base` with `segments` appended, each percent-encoded as one path segment (a `/` in a name
/// stays inside its segment). Names that would move up the path are refused.
fn join_path<'s>(
    operation: &'static str,
    base: &Url,
    segments: impl IntoIterator<Item = (&'static str, &'s str)>,
) -> Result<Url, CallbackError> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| CallbackError::InvalidResponse {
                operation,
                problem: "the base URL cannot take a path".into(),
            })?;
        path.pop_if_empty();
        for (what, segment) in segments {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(CallbackError::InvalidName {
                    operation,
                    what,
                    value: segment.to_owned(),
                });
            }
            path.push(segment);
        }
    }
    Ok(url)
}

/// The path of a workspace, from `subscriptions/` on, as `(what, segment)` pairs.
fn workspace_path(id: &WorkspaceId) -> [(&'static str, &str); 8] {
    [
        ("path", "subscriptions"),
        ("subscription id", &id.subscription),
        ("path", "resourceGroups"),
        ("resource group", &id.resource_group),
        ("path", "providers"),
        ("path", "Microsoft.MachineLearningServices"),
        ("path", "workspaces"),
        ("workspace name", &id.workspace),
    ]
}

fn with_api_version(mut url: Url, api_version: &str) -> Url {
    url.query_pairs_mut()
        .append_pair("api-version", api_version);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_their_path_segment() {
        let base = Url::parse("https://eastus.api.azureml.ms").unwrap();
        let url = join_path(
            "get run",
            &base,
            [("path", "runs"), ("run id", "a b/c?d#e%f")],
        )
        .unwrap();
        assert_eq!(url.path(), "/runs/a%20b%2Fc%3Fd%23e%25f");
        for name in ["", ".", ".."] {
            let err = join_path("get run", &base, [("run id", name)]).unwrap_err();
            assert!(matches!(err, CallbackError::InvalidName { .. }), "{name:?}");
        }
    }

    // See: issue 13, "Idempotency from the method": `Call::new` took every method, POST
    // included, as safe to repeat.
    #[test]
    fn whether_a_call_may_be_repeated_follows_from_its_method() {
        let url = Url::parse("https://management.azure.com/x").unwrap();
        let call = |method| Call::new("test", method, url.clone());
        for method in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert!(
                call(method.clone()).repeat == Repeat::Idempotent,
                "{method}"
            );
        }
        for method in [Method::POST, Method::PATCH] {
            assert!(
                call(method.clone()).repeat == Repeat::IfUnprocessed,
                "{method}"
            );
        }
    }

    #[test]
    fn only_https_or_loopback_http_carries_tokens() {
        for (url, safe) in [
            ("https://management.azure.com", true),
            ("http://127.0.0.1:8080", true),
            ("http://localhost/x", true),
            ("http://[::1]:1", true),
            ("http://management.azure.com", false),
            ("http://10.0.0.1", false),
            ("ftp://127.0.0.1", false),
        ] {
            assert_eq!(is_token_safe(&Url::parse(url).unwrap()), safe, "{url}");
        }
    }
}
