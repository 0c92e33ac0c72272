//! Why an event could not be handled, as the functions say it; each host maps these to its
//! statuses in one place (`hosting::HostError`).

use aml_events::ParseError;

use crate::outcome::Action;

/// A failure's cause: an Azure call's or a notification's error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an event could not be handled; each host maps these to its statuses in one place.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event or its data is malformed: redelivering it cannot help.
    #[error(transparent)]
    BadEvent(#[from] ParseError),
    /// A call failed in a way that may pass (timeouts, 429, 5xx) and the deadline came first:
    /// the event must be redelivered.
    #[error("{action} for event {event_id} failed for now and should be retried")]
    Transient {
        /// The event.
        event_id: String,
        /// The action that failed.
        action: Action,
        /// Why: the call and its causes (no secrets).
        #[source]
        source: BoxError,
    },
    /// An effect was not carried out now (another instance holds its claim, or the ledger
    /// could not be asked): the event must be redelivered; by then it is done, or its claim
    /// has gone stale.
    #[error("{action} for event {event_id} is deferred and should be retried")]
    Deferred {
        /// The event.
        event_id: String,
        /// The action deferred.
        action: Action,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The delivery's time budget (`AML_DEADLINE_SECONDS`) ran out: answer so that Event Grid
    /// redelivers, before its own 30 s timeout gives up on the attempt.
    #[error(
        "the deadline of {seconds} s passed before event {} was handled; it will be redelivered", .unfinished.join(", ")
    )]
    DeadlineExceeded {
        /// `AML_DEADLINE_SECONDS`.
        seconds: u64,
        /// The events of the delivery not handled by then.
        unfinished: Vec<String>,
    },
    /// Azure refused the handlers' identity (401/403): a misconfiguration to fix, after which
    /// redelivered events succeed.
    #[error("Azure refused the handlers' identity during {action} for event {event_id}")]
    Unauthorized {
        /// The event.
        event_id: String,
        /// The action that was refused.
        action: Action,
        /// What Azure said (no secrets).
        #[source]
        source: BoxError,
    },
}
