//! [`BlobError`]: why a Blob service call failed, naming the operation and the blob, never the
//! key, a signature or a token.

use std::time::Duration;

use crate::{azure::CredentialError, seconds::Seconds, transport::TransportError};

/// Why a Blob service call failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The connection cannot be used for blobs.
    #[error("the blob service connection is not usable: {problem}")]
    InvalidConnection {
        /// What is wrong (never a value).
        problem: &'static str,
    },
    /// Not a container name.
    #[error("{name:?} is not a container name (3-63 lowercase letters, digits and single hyphens)")]
    InvalidContainer {
        /// The name given.
        name: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the blob service's HTTP client")]
    Http(#[source] reqwest::Error),
    /// No storage token could be had (identity-based connection).
    #[error("could not get a storage token for the blob service")]
    Credential(#[source] CredentialError),
    /// The blob service could not be reached or did not answer in time.
    #[error("{operation} of {resource} failed")]
    Transport {
        /// The Blob operation.
        operation: &'static str,
        /// The container or blob, as a URL without query.
        resource: String,
        /// What failed below HTTP (never the URL).
        #[source]
        source: TransportError,
    },
    /// The blob service refused the request.
    #[error("{operation} of {resource} answered {status}{}", code.as_deref().map(|code| format!(" ({code})")).unwrap_or_default())]
    Status {
        /// The Blob operation.
        operation: &'static str,
        /// The container or blob, as a URL without query.
        resource: String,
        /// The HTTP status.
        status: u16,
        /// The service's `x-ms-error-code` (`AuthenticationFailed`, `ConditionNotMet`).
        code: Option<String>,
    },
    /// The blob service answered success with something unreadable.
    #[error("{operation} of {resource} got an unusable answer: {problem}")]
    Malformed {
        /// The Blob operation.
        operation: &'static str,
        /// The container or blob, as a URL without query.
        resource: String,
        /// What is wrong.
        problem: String,
    },
    /// The operation, with its retries, did not finish in time.
    #[error("{operation} did not finish within {}", Seconds(*budget))]
    DeadlineExceeded {
        /// The Blob operation.
        operation: &'static str,
        /// The time it had.
        budget: Duration,
        /// The failure before the attempt that was cut, if any.
        #[source]
        last: Option<Box<BlobError>>,
    },
}
