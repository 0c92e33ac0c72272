//! Posting a notice to its targets: each rendered for its kind, sent through the shared retry
//! pipeline (`crate::pipeline`) deliberately at least once (connect errors,
//! timeouts, 408, 429 and any 5xx are retried within the deadline, `Retry-After` honoured; a
//! 4xx refusal is final), and judged by what the kind answers on success.
//!
//! An attempt once sent is let finish, never cut by the deadline: a target that takes the post
//! in the last milliseconds of the budget would otherwise be hung up on before its answer, and
//! the notice reported lost (and posted again on redelivery) though it arrived. Retries start
//! only while a whole attempt and a reserve still fit ([`NotifierOptions::reserve`]).
//!
//! A refusal is reported with the target's own answer (Slack's `channel_not_found`,
//! PagerDuty's `errors`), with the target's key removed from it. No redirect is followed: a
//! target URL carries its key, and the body is the target's alone.
//!
//! A target with a signing key gets each attempt signed ([`super::signing`]): the same
//! `webhook-id` every time, a `webhook-timestamp` of the attempt's own, and the signature of
//! the very bytes sent.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::{
    Kind, Notice, Target, discord, pagerduty,
    signing::{self, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP},
    slack, teams, webhook,
};
use crate::{
    azure::{ClientError, RetryPolicy},
    pipeline::{self, Answer, BodyLimit, Deadline, InFlight, Repeat, Retryable},
    redact,
    seconds::Seconds,
    transport::{HttpTransport, Transport, TransportError},
};

/// How much of a target's answer an error repeats.
const ANSWER_CHARS: usize = 300;

/// How the notifier sends. `Default` is the delivery's budget (docs/actions.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierOptions {
    /// Longest a single attempt may take; cuts hung targets.
    pub request_timeout: Duration,
    /// Longest a single attempt may take to connect.
    pub connect_timeout: Duration,
    /// What is retried, and how patiently.
    pub retry: RetryPolicy,
    /// Budget of one notice to one target, all attempts and waits included. An attempt in
    /// flight is not cut by it: it ends with its answer or `request_timeout`.
    pub deadline: Duration,
    /// Time kept after the last attempt, for the caller to record what happened (the ledger's
    /// entry, the delivery's answer) before its own deadline. A retry starts only when
    /// `request_timeout + reserve` still fits before the deadline; otherwise the last answer
    /// (a 503) or error stands.
    pub reserve: Duration,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            deadline: Duration::from_secs(25),
            reserve: Duration::from_secs(2),
        }
    }
}

/// Sends notices. Build it once and clone it freely: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Builds the requests (its settings matter only when it is also the transport).
    http: reqwest::Client,
    /// Sends them.
    transport: Arc<dyn Transport>,
    options: NotifierOptions,
    /// An absolute deadline set by [`Notifier::with_deadline`].
    deadline: Option<Instant>,
}

/// A target that took the notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Its status.
    pub status: u16,
    /// From sending the last attempt to the end of its answer.
    pub latency: Duration,
    /// Its answer, shortened, without the target's key.
    pub answer: String,
}

/// A notice that did not reach its target.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The target answered, and not with success.
    #[error("{target} answered {status}{}", answer_suffix(answer))]
    Refused {
        /// `slack https://hooks.slack.com/…`.
        target: String,
        /// The status.
        status: u16,
        /// The target's own words (`channel_not_found`), shortened, without its key.
        answer: String,
    },
    /// The target could not be reached: connection refused, timeout, TLS.
    #[error("could not reach {target}")]
    Transport {
        /// The target.
        target: String,
        /// Why, without the URL.
        #[source]
        source: TransportError,
    },
    /// The deadline came before the target took the notice.
    #[error("{target} did not take the notification within its deadline of {}", Seconds(*budget))]
    DeadlineExceeded {
        /// The target.
        target: String,
        /// How long it had.
        budget: Duration,
        /// The failure of the attempt before the one the deadline cut, if any.
        #[source]
        last: Option<Box<NotifyError>>,
    },
    /// The target's URL cannot be used (checked at start-up, so rare).
    #[error("{target} has no usable URL")]
    InvalidUrl {
        /// The target.
        target: String,
    },
}

fn answer_suffix(answer: &str) -> String {
    if answer.is_empty() {
        String::new()
    } else {
        format!(": {answer}")
    }
}

impl NotifyError {
    /// Whether trying later may succeed: no connection, a timeout, the deadline, or a final
    /// answer of 408, 429 or 5xx. A 4xx refusal is final.
    pub fn is_transient(&self) -> bool {
        match self {
            NotifyError::Refused { status, .. } => {
                crate::azure::retry::is_retryable_status_at_least_once(*status)
            }
            NotifyError::Transport { source, .. } => {
                crate::transport::transport_is_transient(source)
            }
            NotifyError::DeadlineExceeded { .. } => true,
            NotifyError::InvalidUrl { .. } => false,
        }
    }
}

impl Retryable for NotifyError {
    fn retryable(&self, repeat: Repeat) -> bool {
        match self {
            NotifyError::Transport { source, .. } => repeat.retries_transport(source),
            _ => false,
        }
    }
}

impl Notifier {
    /// A notifier with its own HTTP client, which follows no redirect.
    pub fn new(options: NotifierOptions) -> Result<Notifier, ClientError> {
        let http = http_client(&options)?;
        let transport = Arc::new(HttpTransport::new(http.clone()));
        Ok(Notifier {
            http,
            transport,
            options,
            deadline: None,
        })
    }

    /// The transport [`Notifier::new`] sends with for `options` (it follows no redirect), for a
    /// caller that wraps it (a header added to every request) and hands the wrapper to
    /// [`Notifier::with_transport`].
    pub fn http_transport(options: &NotifierOptions) -> Result<HttpTransport, ClientError> {
        Ok(HttpTransport::new(http_client(options)?))
    }

    /// A notifier that sends every notice through `transport`: a stand-in of a test's own,
    /// in-process. Each attempt is still held to `options.request_timeout` here, whatever the
    /// transport does.
    pub fn with_transport(
        options: NotifierOptions,
        transport: Arc<dyn Transport>,
    ) -> Result<Notifier, ClientError> {
        Ok(Notifier {
            http: http_client(&options)?,
            transport,
            options,
            deadline: None,
        })
    }

    /// The options the notifier was built with.
    pub fn options(&self) -> &NotifierOptions {
        &self.options
    }

    /// The same notifier, with every notice also bounded by `deadline` (the end of the
    /// current delivery), on tokio's clock. Cheap: the clone shares the connection pool.
    pub fn with_deadline(&self, deadline: Instant) -> Notifier {
        Notifier {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// Whether `target` takes `notice` at all: PagerDuty pages only for alerts (failures,
    /// breaches, drift); every other kind takes every notice.
    pub fn wants(target: &Target, notice: &Notice) -> bool {
        target.kind != Kind::PagerDuty || notice.alert
    }

    /// The body `target` is sent for `notice`.
    pub fn body(target: &Target, notice: &Notice) -> Body {
        match target.kind {
            Kind::Teams => Body::Json(teams::render(notice)),
            Kind::Slack => Body::Slack(slack::message(notice)),
            Kind::Discord => Body::Json(discord::render(notice)),
            Kind::PagerDuty => Body::Json(pagerduty::render(
                notice,
                target.routing_key.as_ref().map_or("", |key| key.expose()),
            )),
            Kind::Webhook => Body::Json(webhook::render(notice)),
        }
    }

    /// Posts `notice` to `target`, with `Idempotency-Key: <event id>` (no chat tool honours
    /// it, but a webhook of the user's own may), signed when the target has a key.
    pub async fn send(&self, target: &Target, notice: &Notice) -> Result<Delivered, NotifyError> {
        self.send_to(target, target.post_url().as_ref(), notice)
            .await
    }

    /// [`Notifier::send`] to `url`, the target's [`Target::post_url`] already worked out (by a
    /// caller that posts to one target again and again); `None` when it is not a URL.
    pub async fn send_to(
        &self,
        target: &Target,
        url: Option<&Url>,
        notice: &Notice,
    ) -> Result<Delivered, NotifyError> {
        self.post_to(target, url, notice, &Notifier::body(target, notice))
            .await
    }

    /// Posts `body`, rendered for `target`'s kind from `notice` (a PagerDuty `resolve`, say),
    /// as [`Notifier::send`] posts a notice.
    pub async fn post(
        &self,
        target: &Target,
        notice: &Notice,
        body: &impl Serialize,
    ) -> Result<Delivered, NotifyError> {
        self.post_to(target, target.post_url().as_ref(), notice, body)
            .await
    }

    /// [`Notifier::post`] to `url`, as [`Notifier::send_to`] sends.
    async fn post_to(
        &self,
        target: &Target,
        url: Option<&Url>,
        notice: &Notice,
        body: &impl Serialize,
    ) -> Result<Delivered, NotifyError> {
        let Some(url) = url else {
            return Err(NotifyError::InvalidUrl {
                target: target.display(),
            });
        };
        let shown = target.display_parsed(url);
        // Room for a usual notice from the start (a Slack message is about 1.7 KB), instead of
        // `to_vec`'s 128 bytes grown by copying.
        let mut bytes = Vec::with_capacity(4096);
        let body = match serde_json::to_writer(&mut bytes, body) {
            Ok(()) => bytes,
            Err(_) => Vec::new(),
        };
        let idempotency_key = HeaderValue::from_str(&notice.event_id).ok();
        let signing = (target.signing.as_ref())
            .map(|key| (key, signing::webhook_id(notice, &target.ledger_id())));
        let deadline = Deadline::starting_now(self.options.deadline, self.deadline);
        let request = pipeline::Request {
            operation: "notify",
            // Deliberately at least once: a lost alert costs more than a repeated
            // one, and the ledger and PagerDuty's `dedup_key` absorb repeats.
            repeat: Repeat::AtLeastOnce,
            policy: &self.options.retry,
            deadline,
            answered: &|answer: Answer| refused(target, url, &shown, answer),
            too_late: &|budget, last: Option<NotifyError>| NotifyError::DeadlineExceeded {
                target: shown.clone(),
                budget,
                last: last.map(Box::new),
            },
        };
        let attempt = || {
            let mut request = self
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(key) = &idempotency_key {
                request = request.header("Idempotency-Key", key.clone());
            }
            if let Some((key, id)) = &signing {
                // Each attempt's own time: receivers refuse a timestamp minutes old.
                let timestamp = (SystemTime::now().duration_since(SystemTime::UNIX_EPOCH))
                    .map_or(0, |since| since.as_secs());
                request = request
                    .header(WEBHOOK_ID, id)
                    .header(WEBHOOK_TIMESTAMP, timestamp)
                    .header(WEBHOOK_SIGNATURE, key.sign(id, timestamp, &body));
            }
            let shown = shown.clone();
            async move {
                let timeout = self.options.request_timeout;
                Answer::exchange(&*self.transport, request, timeout, BodyLimit::TARGET)
                    .await
                    .map_err(|source| NotifyError::Transport {
                        target: shown,
                        source,
                    })
            }
        };
        // A post in flight is let finish (see the module's documentation).
        let in_flight = InFlight::Finish {
            attempt_timeout: self.options.request_timeout,
            reserve: self.options.reserve,
        };
        let answer = pipeline::send_with(request, in_flight, attempt).await?;
        if target.kind.accepts(answer.status.as_u16()) {
            Ok(Delivered {
                status: answer.status.as_u16(),
                latency: answer.latency,
                answer: answer_text(target, url, &answer.body),
            })
        } else {
            Err(refused(target, url, &shown, answer))
        }
    }
}

/// A notice rendered for one kind of target, as it is sent: Slack's message straight from its
/// blocks (no JSON tree built and dropped per notice), the other kinds as JSON.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// A Slack Block Kit message.
    Slack(slack::Message),
    /// Any other kind's body.
    Json(Value),
}

/// The client that builds the notifier's requests and, by default, sends them; no redirect
/// is followed (see the module's documentation).
fn http_client(options: &NotifierOptions) -> Result<reqwest::Client, ClientError> {
    pipeline::builder_following_no_redirect(
        options.connect_timeout,
        concat!("aml-handlers/", env!("CARGO_PKG_VERSION")),
    )
    .build()
    .map_err(ClientError::Http)
}

fn refused(target: &Target, url: &Url, shown: &str, answer: Answer) -> NotifyError {
    NotifyError::Refused {
        target: shown.to_owned(),
        status: answer.status.as_u16(),
        answer: answer_text(target, url, &answer.body),
    }
}

/// A target's answer in a few words: the message of a JSON error (`message`,
/// `error.message`, PagerDuty's `errors`), or the text as sent (Slack answers
/// `channel_not_found`); on one line, shortened, the target's key removed. `url` is where
/// it was posted.
fn answer_text(target: &Target, url: &Url, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let words = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => {
            let message = object
                .get("message")
                .or_else(|| object.get("error").and_then(|error| error.get("message")))
                .and_then(Value::as_str);
            let errors = object.get("errors").filter(|errors| !errors.is_null());
            match (message, errors) {
                (Some(message), Some(errors)) => format!("{message} {errors}"),
                (Some(message), None) => message.to_owned(),
                _ => text.into_owned(),
            }
        }
        _ => text.into_owned(),
    };
    let one_line = words.split_whitespace().collect::<Vec<_>>().join(" ");
    let secrets = target.secrets(url);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    redact::text(&one_line, &secrets, ANSWER_CHARS)
}
