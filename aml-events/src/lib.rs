//! Reads what Azure Event Grid delivers about Azure Machine Learning into typed events, without
//! tying the caller to any web framework or cloud runtime.
//!
//! # Layout
//! - [`envelope`]: the wire envelopes (Event Grid schema and CloudEvents 1.0 JSON), detected from
//!   the body: [`envelope::parse`] reads them, [`envelope::parse_decoded`] (what every host
//!   calls) also reads each event's data as its type's payload, in the same pass when it can.
//! - [`events`]: the typed data of the five Azure ML events and the Event Grid system events,
//!   and [`events::Function`], the single dispatch point from event type to function name.
//! - [`timestamp`]: RFC 3339 times as Event Grid and Azure ML write them.
//! - [`workspace`]: the Azure ML workspace an event came from (its topic or source).
//! - [`secret`]: values that never print; [`redact`]: the one way a URL or a third party's
//!   answer is shown (secrets out first, then shortened).
//! - [`chain`](mod@chain): an error with all its causes on one line, for outcomes and logs.
//! - [`error`]: what can go wrong while reading, with the attribute or JSON path at fault.
//! - [`notify`]: one neutral notice per event, rendered for Teams, Slack, Discord, PagerDuty or
//!   a plain JSON webhook.
//! - [`ledger`]: each effect of an event once across instances and restarts: claims in Azure
//!   Table storage ([`ledger::TableLedger`]) or in memory ([`ledger::MemoryLedger`]).
//! - [`azure`]: the Azure ML REST client ([`azure::AmlClient`]) the functions call back with:
//!   credentials and token cache, retries within a deadline, typed operations.
//! - [`blob`]: a storage container's blobs over the Blob service REST API (list with metadata,
//!   read, set metadata), for replaying Event Grid's dead letters.
//! - [`transport`]: how the client's and the notifier's requests leave the process
//!   ([`transport::Transport`]; reqwest by default), so tests can answer them in-process under
//!   a paused tokio clock, the one clock every deadline and timeout here reads.
//!
//! It deliberately does not serve HTTP: the hosts in the `aml-handlers` crate move bytes and
//! headers in, and this crate never names actix-web or Lambda nor starts a runtime (the
//! [`azure`] client runs on the caller's tokio runtime).
//!
//! ```
//! use aml_events::{envelope, events::{AmlEvent, Function}};
//!
//! let body = br#"[{"id":"1","eventType":"Microsoft.MachineLearningServices.ModelRegistered",
//!   "subject":"models/m:1","eventTime":"2024-03-01T12:00:00Z",
//!   "data":{"ModelName":"m","ModelVersion":1}}]"#;
//! let events = envelope::parse(None, body)?;
//! let AmlEvent::ModelRegistered(model) = events[0].decode()? else { unreachable!() };
//! assert_eq!(model.model_version.as_deref(), Some("1"));
//! assert_eq!(events[0].function(), Some(Function::ModelRegistered));
//! # Ok::<(), aml_events::error::ParseError>(())
//! ```

pub mod azure;
pub mod blob;
pub mod chain;
pub mod envelope;
pub mod error;
pub mod events;
pub mod ledger;
pub mod notify;
mod pipeline;
mod plain_url;
pub mod redact;
mod seconds;
pub mod secret;
pub mod timestamp;
pub mod transport;
pub mod workspace;

pub use chain::chain;
pub use envelope::{Event, Schema};
pub use error::ParseError;
pub use events::{AmlEvent, Function};
pub use secret::Secret;
pub use timestamp::Timestamp;
pub use workspace::WorkspaceId;
