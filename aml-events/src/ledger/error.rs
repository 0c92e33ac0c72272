//! [`LedgerError`]: why the ledger could not answer, and whether trying again may help.

use std::{sync::Arc, time::Duration};

use super::claim::EffectKey;
use crate::{azure::CredentialError, seconds::Seconds};

/// Why the ledger could not answer. Never contains an account key, a signature or a token.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A ledger setting cannot be used.
    #[error("ledger setting {setting} is not usable: {problem}")]
    InvalidSetting {
        /// The setting (`AML_LEDGER`, `AzureWebJobsStorage`, ...).
        setting: &'static str,
        /// What is wrong (never the value).
        problem: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("could not build the ledger's HTTP client")]
    Http(#[source] reqwest::Error),
    /// No storage token could be had (identity-based connection).
    #[error("could not get a storage token for the ledger")]
    Credential(#[source] CredentialError),
    /// The storage endpoint could not be reached or did not answer in time.
    #[error("ledger {operation} at {endpoint} failed")]
    Transport {
        /// The table operation.
        operation: &'static str,
        /// The table endpoint (no query, no key).
        endpoint: String,
        /// What failed below HTTP (never the URL).
        #[source]
        source: crate::transport::TransportError,
    },
    /// The table service refused the request.
    #[error("ledger {operation} at {endpoint} answered {status}{}", detail_text(code.as_deref(), message.as_deref()))]
    Status {
        /// The table operation.
        operation: &'static str,
        /// The table endpoint (no query, no key).
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The service's error code (`AuthenticationFailed`, `TableNotFound`).
        code: Option<String>,
        /// The service's message, with anything key-like masked and shortened.
        message: Option<String>,
    },
    /// The operation, with its retries, did not finish in time.
    #[error("ledger {operation} did not finish within {}", Seconds(*budget))]
    DeadlineExceeded {
        /// The table operation.
        operation: &'static str,
        /// The time it had.
        budget: Duration,
        /// The failure before the attempt that was cut, if any.
        #[source]
        last: Option<Box<LedgerError>>,
    },
    /// The table service answered success with something unreadable.
    #[error("ledger {operation} got an unusable answer: {problem}")]
    Malformed {
        /// The table operation.
        operation: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The claim was taken over by another claimant (it outlived its lease) or removed.
    #[error("the claim on {key} was taken over or removed")]
    ClaimLost {
        /// The effect.
        key: EffectKey,
    },
    /// Other claimants kept changing the entry between the claim's reads and writes: a burst
    /// of redeliveries; a later one will find it settled.
    #[error("the entry for {key} kept changing under the claim")]
    Contended {
        /// The effect.
        key: EffectKey,
    },
    /// A custom ledger failed.
    #[error("ledger failed")]
    Other {
        /// Whether trying again may help.
        transient: bool,
        /// The cause.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

fn detail_text(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(" ({code}: {message})"),
        (Some(text), None) | (None, Some(text)) => format!(" ({text})"),
        (None, None) => String::new(),
    }
}

impl LedgerError {
    /// Whether trying again later may succeed: the store unreachable or slow, a 408, 429 or
    /// 5xx, a transient token failure, claimants contending for one entry. Either way the caller does not act; transient errors
    /// are answered for redelivery.
    pub fn is_transient(&self) -> bool {
        match self {
            LedgerError::Transport { source, .. } => {
                source.is_connect() || crate::transport::transport_is_transient(source)
            }
            LedgerError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            LedgerError::DeadlineExceeded { .. } | LedgerError::Contended { .. } => true,
            LedgerError::Credential(source) => source.is_transient(),
            LedgerError::Other { transient, .. } => *transient,
            LedgerError::InvalidSetting { .. }
            | LedgerError::Http(_)
            | LedgerError::Malformed { .. }
            | LedgerError::ClaimLost { .. } => false,
        }
    }
}
