//! What can go wrong when talking to Azure: building a client or credential ([`ClientError`]),
//! getting a token from a [`credential`](super::credential) ([`CredentialError`]) and making a call
//! ([`CallbackError`]), with Azure's own error body ([`ErrorResponse`]) when it sent one.
//!
//! Every error says whether it is worth retrying ([`CallbackError::is_transient`]) and whether
//! Azure refused the identity ([`CallbackError::is_unauthorized`]); the handlers map those to
//! 503 / a failed invocation. No message ever contains a token, key or secret.

use std::{fmt, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient;
use crate::{
    redact,
    seconds::Seconds,
    transport::{TransportError, transport_is_transient},
};

/// A client or credential that cannot be built from the values given.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A URL a token, key or secret would be sent to is plain http to another machine.
    #[error(
        "setting {setting} must use https (plain http is allowed only to a loopback address), because a token or key is sent to it"
    )]
    InsecureUrl {
        /// The setting the URL came from (`AML_ARM_ENDPOINT`, `IDENTITY_ENDPOINT`, ...).
        setting: &'static str,
    },
    /// A value that cannot be used (a URL that cannot be the base of requests, a header value
    /// with control characters); the value itself is not repeated, since it may be a secret.
    #[error("setting {setting} is not usable: {problem}")]
    InvalidSetting {
        /// The setting the value came from.
        setting: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The HTTP client could not be built (TLS set-up).
    #[error("could not build the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// Azure's JSON error body, `{"error": {"code": "...", "message": "..."}}`, shared by ARM and the
/// Azure ML data plane. Read leniently: keys in any case, missing fields empty.
///
/// See the `CloudError` / `ErrorResponse` definitions in
/// <https://learn.microsoft.com/rest/api/resources/resourcegroups/list> and in each operation of
/// <https://learn.microsoft.com/rest/api/azureml/>.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErrorResponse {
    /// The error itself.
    pub error: ErrorDetail,
}

/// One Azure error: a machine-readable code and a human message, with optional details.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErrorDetail {
    /// E.g. `ResourceNotFound`, `UserError`, `AuthorizationFailed`.
    pub code: String,
    /// Azure's explanation.
    pub message: String,
    /// Nested errors, when Azure sent them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

impl ErrorResponse {
    /// Reads an error body; `None` when it is not JSON or has no `error` object.
    pub fn from_body(body: &[u8]) -> Option<ErrorResponse> {
        let value: Value = serde_json::from_slice(body).ok()?;
        Self::from_value(&value)
    }

    /// Reads an error from JSON already parsed; `None` without an `error` object.
    pub fn from_value(value: &Value) -> Option<ErrorResponse> {
        let error = lenient::get(value, "error")?;
        error.is_object().then(|| ErrorResponse {
            error: ErrorDetail::from_value(error),
        })
    }
}

impl ErrorDetail {
    /// Reads `{code, message, details}` leniently.
    pub fn from_value(value: &Value) -> ErrorDetail {
        ErrorDetail {
            code: lenient::string(value, "code").unwrap_or_default(),
            message: lenient::string(value, "message").unwrap_or_default(),
            details: lenient::get(value, "details")
                .and_then(Value::as_array)
                .map(|details| details.iter().map(ErrorDetail::from_value).collect())
                .unwrap_or_default(),
        }
    }
}

impl<'de> Deserialize<'de> for ErrorResponse {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ErrorResponse::from_value(&value)
            .ok_or_else(|| serde::de::Error::custom("expected an object with an `error` object"))
    }
}

impl<'de> Deserialize<'de> for ErrorDetail {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ErrorDetail::from_value(&Value::deserialize(deserializer)?))
    }
}

/// Why no token could be had. Never contains the token, the client secret or the identity
/// header, even when a token endpoint echoes them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    /// The token endpoint could not be reached or did not answer in time.
    #[error("token request to {endpoint} failed")]
    Transport {
        /// The endpoint, without query.
        endpoint: String,
        /// reqwest's description.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The token endpoint answered with an error status.
    #[error("token endpoint {endpoint} answered {status}{}", Paren(detail.as_deref()))]
    Status {
        /// The endpoint, without query.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The endpoint's error code and description (`invalid_client: AADSTS7000215 ...`).
        detail: Option<String>,
    },
    /// The token endpoint answered success with something that is not a token.
    #[error("token endpoint {endpoint} sent an unusable answer: {problem}")]
    Malformed {
        /// The endpoint, without query.
        endpoint: String,
        /// What is missing (the body is never repeated: it may hold a token).
        problem: &'static str,
    },
    /// A custom [`TokenSource`](super::TokenSource) failed.
    #[error("token source failed")]
    Other {
        /// Whether trying again may help.
        transient: bool,
        /// The cause.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl CredentialError {
    /// Whether trying again may succeed: unreachable endpoint, timeout, or status 408, 429 or
    /// 5xx. A refusal (400, 401, 403) means a misconfigured identity.
    pub fn is_transient(&self) -> bool {
        match self {
            CredentialError::Transport { source, .. } => transport_is_transient(source.as_ref()),
            CredentialError::Status { status, .. } => {
                super::retry::is_retryable_status(*status) || *status >= 500
            }
            CredentialError::Malformed { .. } => false,
            CredentialError::Other { transient, .. } => *transient,
        }
    }
}

/// A call to Azure ML (ARM, the regional API or a scoring endpoint) that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No token could be had for the call.
    #[error("could not get an Azure token for {operation}")]
    Credential {
        /// The operation that needed the token (`get run`).
        operation: &'static str,
        /// Why.
        #[source]
        source: CredentialError,
    },

    /// Azure answered with a status that is not success (after retries, for transient ones).
    #[error("Azure ML answered {status} to {operation}{}", Detail(body.as_ref()))]
    Status {
        /// The operation (`get run`, `create or update job`).
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// Azure's error body, when it sent one.
        body: Option<ErrorResponse>,
        /// Azure's `x-ms-request-id`, for a support ticket.
        request_id: Option<String>,
    },

    /// The request failed below HTTP: connection refused or reset, timeout, TLS.
    #[error("request to Azure ML failed during {operation}")]
    Transport {
        /// The operation.
        operation: &'static str,
        /// Why, without the URL (a scoring URI may carry a key).
        #[source]
        source: TransportError,
    },

    /// The time budget of the call ran out before Azure answered.
    #[error("{operation} did not finish within its deadline of {}", Seconds(*budget))]
    DeadlineExceeded {
        /// The operation.
        operation: &'static str,
        /// How long it had: the client's deadline, or what an outer deadline
        /// ([`super::AmlClient::with_deadline`]) left when it started.
        budget: Duration,
        /// The failure of the attempt before the one the deadline cut, if any (a 503, a
        /// timeout): why it had not succeeded by then.
        #[source]
        last: Option<Box<CallbackError>>,
    },

    /// Azure answered success with a body that does not read as the expected JSON.
    #[error("Azure ML sent an unreadable answer to {operation}")]
    Decode {
        /// The operation.
        operation: &'static str,
        /// Where the JSON did not fit.
        #[source]
        source: serde_json::Error,
    },

    /// Azure's answer lacks something the call needs (a `discoveryUrl`, a `Location` header).
    #[error("Azure ML's answer to {operation} is unusable: {problem}")]
    InvalidResponse {
        /// The operation.
        operation: &'static str,
        /// What is missing or wrong.
        problem: String,
    },

    /// A URL the token or key would go to is plain http to another machine (or, for URLs Azure
    /// sent back, another host than ARM).
    #[error(
        "{operation}: refusing to send a token or key to {what}: it must be https, or plain http to a loopback address"
    )]
    InsecureUrl {
        /// The operation.
        operation: &'static str,
        /// The URL's origin (`setting AML_SMOKE_TEST_URI`, `the discoveryUrl`).
        what: &'static str,
    },

    /// A name that cannot be one segment of a URL path (empty, `.` or `..`).
    #[error("{operation}: {what} {value:?} cannot be used as a resource name")]
    InvalidName {
        /// The operation.
        operation: &'static str,
        /// Which name (`experiment name`, `run id`).
        what: &'static str,
        /// The name.
        value: String,
    },

    /// A key that cannot be sent in an `Authorization` header (control characters).
    #[error("{operation}: the key is not a valid HTTP header value")]
    InvalidKey {
        /// The operation.
        operation: &'static str,
    },

    /// A long-running Azure operation ended in failure (`Failed`, `Canceled`).
    #[error("{operation} ended as {status}{}", DetailOf(error.as_ref()))]
    OperationFailed {
        /// The operation.
        operation: &'static str,
        /// The final status Azure reported.
        status: String,
        /// Azure's error, when it sent one.
        error: Option<ErrorDetail>,
    },
}

impl CallbackError {
    /// Whether trying again later may succeed: connect errors, timeouts, the deadline, statuses
    /// 408, 429, 500, 502, 503, 504, and token endpoints failing the same ways.
    pub fn is_transient(&self) -> bool {
        match self {
            CallbackError::Credential { source, .. } => source.is_transient(),
            CallbackError::Status { status, .. } => super::retry::is_retryable_status(*status),
            CallbackError::Transport { source, .. } => transport_is_transient(source),
            CallbackError::DeadlineExceeded { .. } => true,
            CallbackError::Decode { .. }
            | CallbackError::InvalidResponse { .. }
            | CallbackError::InsecureUrl { .. }
            | CallbackError::InvalidName { .. }
            | CallbackError::InvalidKey { .. }
            | CallbackError::OperationFailed { .. } => false,
        }
    }

    /// Whether Azure refused the identity: a 401 or 403 answer, or a token endpoint that turned
    /// the credential down for good. The handlers fail the invocation on these
    /// (docs/actions.md): they mean a misconfigured identity, not a bad event.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            CallbackError::Status { status, .. } => matches!(status, 401 | 403),
            CallbackError::Credential { source, .. } => !source.is_transient(),
            _ => false,
        }
    }

    /// The HTTP status Azure answered, for [`CallbackError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            CallbackError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Azure's error body, for [`CallbackError::Status`] when Azure sent one.
    pub fn error_response(&self) -> Option<&ErrorResponse> {
        match self {
            CallbackError::Status { body, .. } => body.as_ref(),
            _ => None,
        }
    }

    /// The operation that failed.
    pub fn operation(&self) -> &'static str {
        match self {
            CallbackError::Credential { operation, .. }
            | CallbackError::Status { operation, .. }
            | CallbackError::Transport { operation, .. }
            | CallbackError::DeadlineExceeded { operation, .. }
            | CallbackError::Decode { operation, .. }
            | CallbackError::InvalidResponse { operation, .. }
            | CallbackError::InsecureUrl { operation, .. }
            | CallbackError::InvalidName { operation, .. }
            | CallbackError::InvalidKey { operation }
            | CallbackError::OperationFailed { operation, .. } => operation,
        }
    }
}

/// Azure's messages are capped so one verbose answer cannot flood a log line.
const MAX_MESSAGE_CHARS: usize = 500;

/// Renders ` (code: message)` after a status when Azure sent an error body.
struct Detail<'a>(Option<&'a ErrorResponse>);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DetailOf(self.0.map(|body| &body.error)).fmt(f)
    }
}

struct DetailOf<'a>(Option<&'a ErrorDetail>);

impl fmt::Display for DetailOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(error) = self.0 else {
            return Ok(());
        };
        // Azure's own message holds no secret of ours, but goes through the one redaction
        // helper all the same, so every third-party text is shown one way.
        let message = redact::text(&error.message, &[], MAX_MESSAGE_CHARS);
        match (error.code.is_empty(), message.is_empty()) {
            (true, true) => Ok(()),
            (false, true) => write!(f, " ({})", error.code),
            (true, false) => write!(f, " ({message})"),
            (false, false) => write!(f, " ({}: {message})", error.code),
        }
    }
}

/// Renders ` (detail)` after a token endpoint's status when it sent one.
struct Paren<'a>(Option<&'a str>);

impl fmt::Display for Paren<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(text) => write!(f, " ({text})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_azure_error_bodies_in_any_casing() {
        let body = br#"{"Error": {"Code": "ResourceNotFound", "message": "gone", "details": [{"code": "Inner"}]}}"#;
        let error = ErrorResponse::from_body(body).unwrap();
        assert_eq!(error.error.code, "ResourceNotFound");
        assert_eq!(error.error.message, "gone");
        assert_eq!(error.error.details[0].code, "Inner");
        assert!(ErrorResponse::from_body(b"<html>bad gateway</html>").is_none());
        assert!(ErrorResponse::from_body(br#"{"error": "invalid_client"}"#).is_none());
    }

    #[test]
    fn status_messages_carry_azure_code_and_message() {
        let error = CallbackError::Status {
            operation: "get run",
            status: 404,
            body: ErrorResponse::from_body(br#"{"error":{"code":"NotFound","message":"no run"}}"#),
            request_id: None,
        };
        assert_eq!(
            error.to_string(),
            "Azure ML answered 404 to get run (NotFound: no run)"
        );
        assert!(!error.is_transient() && !error.is_unauthorized());
        let late = |millis| CallbackError::DeadlineExceeded {
            operation: "get run",
            budget: Duration::from_millis(millis),
            last: None,
        };
        assert_eq!(
            late(2000).to_string(),
            "get run did not finish within its deadline of 2 s"
        );
        assert_eq!(
            late(24_960).to_string(),
            "get run did not finish within its deadline of 25 s"
        );
        assert_eq!(
            late(2_340).to_string(),
            "get run did not finish within its deadline of 2.3 s"
        );
        assert_eq!(
            late(300).to_string(),
            "get run did not finish within its deadline of 300 ms"
        );
        let long = CallbackError::Status {
            operation: "get run",
            status: 400,
            body: Some(ErrorResponse {
                error: ErrorDetail {
                    code: "BadRequest".into(),
                    message: "x".repeat(600),
                    details: Vec::new(),
                },
            }),
            request_id: None,
        };
        let shown = long.to_string();
        assert!(
            shown.ends_with(&format!("{}…)", "x".repeat(500))),
            "{shown}"
        );
        assert!(!shown.contains(&"x".repeat(501)), "{shown}");
    }
}
