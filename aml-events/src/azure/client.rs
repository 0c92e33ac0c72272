//! [`AmlClient`]: built once per process from a credential and [`AmlClientOptions`], shared by
//! every invocation; how each of its calls is sent (token or key, retries within the deadline,
//! Azure's error body when the answer is not a success) and how lists are paged. Its
//! operations live beside it, by family: `arm`, `runs` and `scoring`.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use super::{
    call::{Auth, Call, Payload},
    credential::{ARM_SCOPE, CachedTokenSource, TokenSource},
    error::{CallbackError, ClientError, CredentialError, ErrorResponse},
    options::AmlClientOptions,
    settings::AML_ARM_ENDPOINT,
    token_url::{is_loopback, is_token_safe, require_token_url},
};
use crate::{
    Secret,
    pipeline::{self, Answer, BodyLimit, Deadline, Repeat, Retryable},
    redact::{self, Show},
    transport::{HttpTransport, Transport, TransportError},
};

/// The Azure ML REST client. Build it once per process and clone it freely: clones share
/// the HTTP connection pool, the token cache and the discovery cache.
#[derive(Clone)]
pub struct AmlClient {
    pub(super) inner: Arc<Inner>,
    /// An absolute deadline set by [`AmlClient::with_deadline`], on top of the per-operation one.
    deadline: Option<Instant>,
}

pub(super) struct Inner {
    /// Builds the requests (its settings matter only when it is also the transport).
    http: reqwest::Client,
    /// Sends them.
    transport: Arc<dyn Transport>,
    tokens: CachedTokenSource,
    scope: String,
    pub(super) options: AmlClientOptions,
    /// Regional API base per workspace (lowercased resource id); it never changes.
    pub(super) discovery: Mutex<HashMap<String, Url>>,
    /// Lets one discovery run at a time, so concurrent first calls make one round trip.
    pub(super) discovering: tokio::sync::Mutex<()>,
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

    /// The transport [`AmlClient::new`] sends with for `options` (its redirect policy, connect
    /// timeout and user agent), for a caller that wraps it (a header added to every request)
    /// and hands the wrapper to [`AmlClient::with_transport`].
    pub fn http_transport(options: &AmlClientOptions) -> Result<HttpTransport, ClientError> {
        Ok(HttpTransport::new(http_client(options)?))
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
    pub(super) fn deadline(&self) -> Deadline {
        Deadline::starting_now(self.inner.options.deadline, self.deadline)
    }

    /// Sends `call`, retrying per the policy, within `deadline` (an attempt in flight treated
    /// as the call says). Returns the last answer, whatever its status; transport, token and
    /// deadline failures are errors.
    pub(super) async fn send(
        &self,
        call: &Call<'_>,
        deadline: Deadline,
    ) -> Result<Answer, CallbackError> {
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
            BodyLimit::AZURE,
        )
        .await
        .map_err(|source| CallbackError::Transport { operation, source })
    }

    /// Sends `call` and insists on a 2xx answer.
    pub(super) async fn send_ok(
        &self,
        call: &Call<'_>,
        deadline: Deadline,
    ) -> Result<Answer, CallbackError> {
        let answer = self.send(call, deadline).await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(answer.into_error(call.operation))
        }
    }

    /// Sends `call` and reads its 2xx answer as `T`.
    pub(super) async fn send_json<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        deadline: Deadline,
    ) -> Result<T, CallbackError> {
        self.send_ok(call, deadline).await?.json(call.operation)
    }

    /// GETs every page of a list (`{"value": [...], "nextLink": ...}`), following `nextLink`
    /// on the same origin only (the token goes with it).
    pub(super) async fn list<T: DeserializeOwned>(
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
    pub(super) fn exceeded(
        self,
        operation: &'static str,
        last: Option<CallbackError>,
    ) -> CallbackError {
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
    pub(super) fn into_error(self, operation: &'static str) -> CallbackError {
        CallbackError::Status {
            operation,
            status: self.status.as_u16(),
            body: ErrorResponse::from_body(&self.body),
            request_id: self.header("x-ms-request-id").map(str::to_owned),
        }
    }

    pub(super) fn json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
    ) -> Result<T, CallbackError> {
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
