//! The hosts that run the functions: each one only moves bytes and headers in and a status and
//! body out. How failures become statuses is decided once, here, in [`HostError`].
//!
//! # Layout
//! - [`HostError`]: every failure a host answers, with its status code and JSON body.
//! - `body`: reading a request body within a size limit.
//! - [`custom_handler`]: the Azure Functions custom handler protocol (`POST /{Function}`).
//! - `one_pass`: the host's usual invocation read in one pass, ahead of the general reader.
//! - [`webhook`]: Event Grid's webhook protocol (handshakes, keys, batches), free of any
//!   HTTP framework so that every host shares it.
//! - [`server`]: the actix-web server of `aml-handlers serve`: readiness, routes, shutdown.
//! - `lambda`: the AWS Lambda host (`bootstrap`), behind the `lambda` feature.

mod body;
pub mod custom_handler;
#[cfg(feature = "lambda")]
pub mod lambda;
mod one_pass;
pub mod server;
pub mod webhook;

use aml_events::Function;
use serde_json::{Value, json};

use crate::functions::HandlerError;

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
    #[error("{0}")]
    Transient(String),
    /// The handlers are misconfigured (Azure refused their identity); fail so that the event
    /// is redelivered once it is fixed.
    #[error("{0}")]
    Misconfigured(String),
}

/// The readiness answer of every host: name, version and functions.
pub fn readiness() -> Value {
    json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "functions": Function::ALL.map(Function::name),
    })
}

impl HostError {
    /// Logs the failure on stderr: for the Functions host, whose `Logs` are dropped on
    /// failure, and for Event Grid deliveries, whose answers nobody reads.
    pub fn log(&self) {
        self.log_with(None, None);
    }

    /// [`HostError::log`] for a Functions host invocation: with its id (when the host sent
    /// one) and function.
    pub fn log_invocation(&self, invocation_id: &str, function: &str) {
        let invocation_id = Some(invocation_id).filter(|id| !id.is_empty());
        self.log_with(invocation_id, Some(function));
    }

    fn log_with(&self, invocation_id: Option<&str>, function: Option<&str>) {
        let status = self.status();
        if status >= 500 {
            tracing::error!(status, error = %self, invocation_id, function, "request failed");
        } else {
            tracing::warn!(status, error = %self, invocation_id, function, "request refused");
        }
    }
}

impl HostError {
    /// The HTTP status of this failure.
    pub fn status(&self) -> u16 {
        match self {
            HostError::BadRequest { .. } => 400,
            HostError::Unauthorized => 401,
            HostError::UnknownFunction { .. } | HostError::NotFound { .. } => 404,
            HostError::PayloadTooLarge { .. } => 413,
            HostError::Misconfigured(_) => 500,
            HostError::Transient(_) => 503,
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HostError::BadRequest { .. } => "BadRequest",
            HostError::Unauthorized => "Unauthorized",
            HostError::UnknownFunction { .. } => "UnknownFunction",
            HostError::NotFound { .. } => "NotFound",
            HostError::PayloadTooLarge { .. } => "PayloadTooLarge",
            HostError::Misconfigured(_) => "Misconfigured",
            HostError::Transient(_) => "Transient",
        }
    }

    /// The JSON body: `{"error": {"code", "message", "field"?}}`, never empty.
    pub fn body(&self) -> Value {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let HostError::BadRequest {
            field: Some(field), ..
        } = self
        {
            error["field"] = Value::from(field.as_str());
        }
        json!({ "error": error })
    }
}

impl From<HandlerError> for HostError {
    fn from(err: HandlerError) -> Self {
        match err {
            HandlerError::BadEvent(err) => HostError::BadRequest {
                field: err.field(),
                message: err.to_string(),
            },
            err @ (HandlerError::Transient { .. } | HandlerError::DeadlineExceeded { .. }) => {
                HostError::Transient(err.to_string())
            }
            err @ HandlerError::Unauthorized { .. } => HostError::Misconfigured(err.to_string()),
        }
    }
}

impl actix_web::ResponseError for HostError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.status())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        actix_web::HttpResponse::build(self.status_code()).json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Action;

    #[test]
    fn handler_errors_map_to_the_statuses_event_grid_acts_on() {
        let bad =
            aml_events::envelope::parse(None, b"{\"id\":\"1\",\"eventType\":\"t\"}").unwrap_err();
        let cases = [
            (HostError::from(HandlerError::BadEvent(bad)), 400),
            (
                HandlerError::Transient {
                    action: Action::Enrich,
                    message: "timed out".into(),
                }
                .into(),
                503,
            ),
            (
                HandlerError::Unauthorized {
                    action: Action::Retrain,
                    message: "403".into(),
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
