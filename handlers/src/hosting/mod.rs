//! The hosts that run the functions. The protocols live here free of any HTTP framework (the
//! custom handler's and Event Grid's wire rules), and each framework is a thin adapter that
//! moves headers and bytes into them and one [`Answer`] back out. How a failure becomes an
//! answer is decided once, here, in [`HostError::to_answer`].
//!
//! # Layout
//! - [`HostError`]: every failure a host answers, with its status code and JSON body;
//!   [`Answer`]: status, headers and JSON body, in no framework's types.
//! - [`custom_handler`]: the Azure Functions custom handler protocol (`POST /{Function}`):
//!   decoding the host's invocation, encoding the answer, and the invocation `send` builds.
//! - `one_pass`: the host's usual invocation read in one pass, ahead of the general reader.
//! - [`webhook`]: Event Grid's webhook protocol (handshakes, keys, batches).
//! - [`server`]: the actix-web adapter of `aml-handlers serve`: readiness, routes, shutdown;
//!   `body`: its request bodies read within a size limit.
//! - `lambda`: the AWS Lambda adapter (`bootstrap`), behind the `lambda` feature.
//!
//! Only `server`, `body` and `lambda` name a framework; `send` imports the protocol modules.

mod body;
pub mod custom_handler;
#[cfg(feature = "lambda")]
pub mod lambda;
mod one_pass;
pub mod server;
pub mod webhook;

use aml_events::{Function, chain};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{entra::EntraError, functions::HandlerError};

/// An answer as every host sends it: a status, headers beside `Content-Type:
/// application/json`, and a JSON body that is never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// Headers beside `Content-Type: application/json`.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body, serialized.
    pub body: Vec<u8>,
}

/// What is answered when a body cannot be serialized (it never should): still JSON, still
/// a status that makes Event Grid redeliver.
const UNSERIALIZABLE: &[u8] =
    br#"{"error":{"code":"Internal","message":"the answer could not be serialized"}}"#;

/// The bytes an answer's body starts with room for: a host's answer with its logs and outcome
/// is about 1.3 KB.
const ANSWER_CAPACITY: usize = 2048;

impl Answer {
    /// `status` with `body` serialized as JSON.
    pub fn json(status: u16, body: &impl Serialize) -> Answer {
        // Room for a usual answer from the start (`to_vec` starts at 128 bytes and grows by
        // copying, four or five times for a host's answer).
        let mut bytes = Vec::with_capacity(ANSWER_CAPACITY);
        match serde_json::to_writer(&mut bytes, body) {
            Ok(()) => Answer {
                status,
                headers: Vec::new(),
                body: bytes,
            },
            Err(_) => Answer {
                status: 500,
                headers: Vec::new(),
                body: UNSERIALIZABLE.to_vec(),
            },
        }
    }

    /// 200 with `body`.
    pub fn ok(body: &impl Serialize) -> Answer {
        Answer::json(200, body)
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Answer {
        self.headers.push((name, value));
        self
    }

    /// The body parsed back, for tests and tools.
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A failure answered to a caller. Each variant's status is what the Functions host and Event
/// Grid act on: 400 is dropped (dead-lettered), 5xx redelivered.
/// See <https://learn.microsoft.com/azure/event-grid/delivery-and-retry>.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The request or an event in it is malformed; redelivery cannot help.
    #[error("{message}")]
    BadRequest {
        /// What is wrong, naming the field.
        message: String,
        /// The field at fault (`Data.event`, `eventType`, `data.modelVersion`).
        field: Option<String>,
    },
    /// The webhook key is missing or wrong.
    #[error(
        "missing or wrong key: send AML_WEBHOOK_KEY as ?code= or in the x-functions-key header"
    )]
    Unauthorized,
    /// The Microsoft Entra token is missing or fails a check (401, with `WWW-Authenticate`),
    /// or there are no signing keys to check it with (503).
    #[error(transparent)]
    Entra(#[from] EntraError),
    /// A host invocation from beyond loopback: only the Functions host invokes functions, and
    /// it calls over loopback without a key or token; from anywhere else an invocation would
    /// bypass the webhook's key and Entra ID checks.
    #[error(
        "host invocations (POST /{{function}}) are answered only from loopback, where the Functions host calls; deliver events through the webhook, /runtime/webhooks/eventgrid"
    )]
    NotLoopback,
    /// No function of that name.
    #[error("no function named {name:?}; the functions are {}", Function::list())]
    UnknownFunction {
        /// The name asked for.
        name: String,
    },
    /// No such route or method.
    #[error("no route for {method} {path}")]
    NotFound {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
    },
    /// The body is larger than this host accepts.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A transient failure outlasted the retries or the deadline; redeliver the event.
    #[error("not handled for now; Event Grid will redeliver")]
    Transient(#[source] HandlerError),
    /// The handlers are misconfigured (Azure refused their identity); fail so that the event
    /// is redelivered once it is fixed.
    #[error("the handlers are misconfigured")]
    Misconfigured(#[source] HandlerError),
}

/// The readiness answer of every host: name, version and functions.
pub fn readiness() -> Answer {
    Answer::ok(&json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "functions": Function::ALL.map(Function::name),
    }))
}

/// Where a failure happened, for its log line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The Functions host's invocation id, when it sent one.
    pub invocation_id: Option<&'a str>,
    /// The function addressed, when one was.
    pub function: Option<&'a str>,
}

impl HostError {
    /// The answer to a failure, logged first on stderr: for the Functions host, whose `Logs`
    /// are dropped on failure, and for Event Grid deliveries, whose answers nobody reads.
    /// Every host turns its failures into answers here and nowhere else.
    pub fn to_answer(&self, context: Context<'_>) -> Answer {
        self.log(context);
        let answer = Answer::json(self.status(), &self.body());
        match self {
            HostError::Entra(EntraError::Refused(refusal)) => {
                answer.with_header("WWW-Authenticate", refusal.challenge())
            }
            _ => answer,
        }
    }

    fn log(&self, context: Context<'_>) {
        let status = self.status();
        let invocation_id = context.invocation_id.filter(|id| !id.is_empty());
        let function = context.function;
        if status >= 500 {
            tracing::error!(status, error = %chain(self), invocation_id, function, "request failed");
        } else {
            tracing::warn!(status, error = %chain(self), invocation_id, function, "request refused");
        }
    }

    /// The HTTP status of this failure.
    pub fn status(&self) -> u16 {
        match self {
            HostError::BadRequest { .. } => 400,
            HostError::Unauthorized | HostError::Entra(EntraError::Refused(_)) => 401,
            HostError::NotLoopback => 403,
            HostError::UnknownFunction { .. } | HostError::NotFound { .. } => 404,
            HostError::PayloadTooLarge { .. } => 413,
            HostError::Misconfigured(_) => 500,
            HostError::Transient(_) | HostError::Entra(EntraError::NoKeys) => 503,
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HostError::BadRequest { .. } => "BadRequest",
            HostError::Unauthorized | HostError::Entra(EntraError::Refused(_)) => "Unauthorized",
            HostError::Entra(EntraError::NoKeys) => "Unavailable",
            HostError::NotLoopback => "Forbidden",
            HostError::UnknownFunction { .. } => "UnknownFunction",
            HostError::NotFound { .. } => "NotFound",
            HostError::PayloadTooLarge { .. } => "PayloadTooLarge",
            HostError::Misconfigured(_) => "Misconfigured",
            HostError::Transient(_) => "Transient",
        }
    }

    /// The JSON body: `{"error": {"code", "message", "field"?}}`, the message with every cause.
    pub fn body(&self) -> Value {
        let mut error = json!({ "code": self.code(), "message": chain(self).to_string() });
        if let HostError::BadRequest {
            field: Some(field), ..
        } = self
        {
            error["field"] = Value::from(field.as_str());
        }
        json!({ "error": error })
    }
}

/// A result a host answers: the answer, or the failure's answer (logged).
pub fn respond(result: Result<Answer, HostError>, context: Context<'_>) -> Answer {
    result.unwrap_or_else(|err| err.to_answer(context))
}

impl From<HandlerError> for HostError {
    fn from(err: HandlerError) -> Self {
        match err {
            HandlerError::BadEvent(err) => HostError::BadRequest {
                field: err.field(),
                message: err.to_string(),
            },
            err @ (HandlerError::Transient { .. }
            | HandlerError::Deferred { .. }
            | HandlerError::DeadlineExceeded { .. }) => HostError::Transient(err),
            err @ HandlerError::Unauthorized { .. } => HostError::Misconfigured(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use aml_events::azure::CallbackError;

    use super::*;
    use crate::outcome::Action;

    fn azure_answered(operation: &'static str, status: u16) -> CallbackError {
        CallbackError::Status {
            operation,
            status,
            body: None,
            request_id: None,
        }
    }

    // See: issue 13, "Errors keep their cause": the answer said which action failed, never why.
    #[test]
    fn failures_answer_with_every_cause() {
        let err = HostError::from(HandlerError::Transient {
            event_id: "e-1".into(),
            action: Action::Enrich,
            source: Box::new(azure_answered("get run", 503)),
        });
        let answer = err.to_answer(Context::default());
        assert_eq!(answer.status, 503);
        assert_eq!(
            answer.body_json()["error"]["message"],
            "not handled for now; Event Grid will redeliver: enrich for event e-1 failed for now and should be retried: Azure ML answered 503 to get run"
        );
    }

    #[test]
    fn handler_errors_map_to_the_statuses_event_grid_acts_on() {
        let bad =
            aml_events::envelope::parse(None, b"{\"id\":\"1\",\"eventType\":\"t\"}").unwrap_err();
        let cases = [
            (HostError::from(HandlerError::BadEvent(bad)), 400),
            (
                HandlerError::Transient {
                    event_id: "e-1".into(),
                    action: Action::Enrich,
                    source: Box::new(azure_answered("get run", 503)),
                }
                .into(),
                503,
            ),
            (
                HandlerError::Unauthorized {
                    event_id: "e-1".into(),
                    action: Action::Retrain,
                    source: Box::new(azure_answered("create or update job", 403)),
                }
                .into(),
                500,
            ),
            (HostError::UnknownFunction { name: "X".into() }, 404),
            (HostError::PayloadTooLarge { limit: 1 }, 413),
        ];
        for (err, status) in cases {
            assert_eq!(err.status(), status, "{err}");
            let body = err.body();
            assert_eq!(body["error"]["code"], err.code());
            assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        }
    }

    #[test]
    fn bad_requests_name_the_field() {
        let bad =
            aml_events::envelope::parse(None, b"{\"id\":\"1\",\"eventType\":\"t\"}").unwrap_err();
        let body = HostError::from(HandlerError::BadEvent(bad)).body();
        assert_eq!(body["error"]["field"], "subject");
    }
}
