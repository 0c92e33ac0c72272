//! How a request leaves the process: a seam between building a request and sending it, so
//! that tests can answer every request in-process, where a paused tokio clock
//! (`tokio::time::pause()`) moves their stalls, our timeouts and our deadlines together, and a
//! minute of retries runs in a millisecond.
//!
//! # Layout
//! - [`Transport`]: sends one built [`reqwest::Request`] and hands back its response.
//! - [`HttpTransport`]: the default, a [`reqwest::Client`].
//! - [`TransportError`]: what can fail below HTTP, in the three kinds the retry rules tell
//!   apart (no connection, our timeout, anything else).
//!
//! It deliberately does not time attempts: the per-attempt timeout is the caller's own
//! `tokio::time::timeout` around sending and reading the body (in the crate's pipeline), so a
//! transport that stalls times out exactly like a hung server, whoever implements it. Nor does
//! it retry, or know any URL once sending failed: reqwest's errors name the URL, which may hold
//! a key, and are stripped of it here.

use std::{fmt, future::Future, pin::Pin, time::Duration};

use crate::seconds::Seconds;

/// Any error, as a cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What [`Transport::execute`] returns.
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<reqwest::Response, TransportError>> + Send + 'a>>;

/// How a request leaves the process. The default sends it with reqwest; tests put their own
/// stand-ins here (in-process, so they run under `tokio::time::pause()`).
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends `request` and resolves to the response once its head has arrived (the body is
    /// read by the caller, within the same timeout).
    fn execute(&self, request: reqwest::Request) -> TransportFuture<'_>;
}

/// The default: a reqwest client. Clones share its connection pool.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// Sends with `client`, its redirect policy, connect timeout and user agent included. Leave
    /// its overall timeout unset: the caller times each attempt.
    pub fn new(client: reqwest::Client) -> Self {
        HttpTransport { client }
    }
}

impl Transport for HttpTransport {
    fn execute(&self, request: reqwest::Request) -> TransportFuture<'_> {
        let timeout = request.timeout().copied();
        let sent = self.client.execute(request);
        Box::pin(async move {
            sent.await
                .map_err(|error| TransportError::from_reqwest(error, timeout))
        })
    }
}

/// A request that failed below HTTP. No variant names the URL (it may carry a key).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made (nothing was sent).
    #[error("could not connect")]
    Connect(#[source] BoxError),
    /// The attempt took longer than its own timeout.
    #[error("timed out after {}", Seconds(*after))]
    TimedOut {
        /// The attempt's timeout.
        after: Duration,
    },
    /// Anything else below HTTP (reset, TLS, body read).
    #[error("the connection failed")]
    Other(#[source] BoxError),
}

impl TransportError {
    /// Whether no connection could be made, so nothing was sent.
    pub fn is_connect(&self) -> bool {
        matches!(self, TransportError::Connect(_))
    }

    /// Whether the attempt ran out of its own time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, TransportError::TimedOut { .. })
    }

    /// reqwest's error, without its URL, sorted: a failed connection first (a connect timeout
    /// is one: nothing was sent), then a timeout of `timeout` (the request's own, when it had
    /// one), then the rest.
    pub(crate) fn from_reqwest(error: reqwest::Error, timeout: Option<Duration>) -> Self {
        let error = error.without_url();
        if error.is_connect() {
            return TransportError::Connect(Box::new(error));
        }
        match timeout {
            Some(after) if error.is_timeout() => TransportError::TimedOut { after },
            _ => TransportError::Other(Box::new(error)),
        }
    }
}

/// A failure below HTTP as the retry rules read it: the transport's, or reqwest's own for
/// callers that still send through reqwest (the ledger).
pub(crate) trait BelowHttp {
    /// Nothing was sent.
    fn failed_to_connect(&self) -> bool;
    /// Trying again may succeed: anything but a request that could not be built, a redirect
    /// that was refused, or an answer that could not be decoded.
    fn may_pass_later(&self) -> bool;
}

impl BelowHttp for TransportError {
    fn failed_to_connect(&self) -> bool {
        self.is_connect()
    }

    fn may_pass_later(&self) -> bool {
        match self {
            TransportError::Connect(_) | TransportError::TimedOut { .. } => true,
            // reqwest's failures keep their own rule; a stand-in's are taken as transient.
            TransportError::Other(source) => source
                .downcast_ref::<reqwest::Error>()
                .is_none_or(BelowHttp::may_pass_later),
        }
    }
}

impl BelowHttp for reqwest::Error {
    fn failed_to_connect(&self) -> bool {
        self.is_connect()
    }

    fn may_pass_later(&self) -> bool {
        !(self.is_builder() || self.is_redirect() || self.is_status() || self.is_decode())
    }
}

/// Failures below HTTP worth retrying: anything but a request that could not be built or a
/// redirect that was refused. Reads the transport's errors and, for the ledger, reqwest's.
pub(crate) fn transport_is_transient(error: &impl BelowHttp) -> bool {
    error.may_pass_later()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_says_how_long_the_attempt_had() {
        let after = |millis| TransportError::TimedOut {
            after: Duration::from_millis(millis),
        };
        assert_eq!(after(10_000).to_string(), "timed out after 10 s");
        assert_eq!(after(250).to_string(), "timed out after 250 ms");
        assert!(after(250).is_timeout() && !after(250).is_connect());
    }

    #[test]
    fn a_stand_ins_failures_are_transient() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let connect = TransportError::Connect(Box::new(refused));
        assert!(connect.is_connect() && connect.failed_to_connect() && connect.may_pass_later());
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(TransportError::Other(Box::new(reset)).may_pass_later());
    }
}
