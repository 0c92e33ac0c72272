//! `aml-handlers`: the functions that react to Azure Machine Learning events, and the hosts
//! that run them.
//!
//! # Layout
//! - [`config`]: every setting, read and checked once at start-up; [`settings`]: their names.
//! - [`context`]: [`AppContext`], what every invocation shares, built once per process;
//!   [`budget`]: how a delivery's time is shared out.
//! - [`functions`]: the five functions, a typed event in and an [`outcome::Outcome`] out.
//! - [`hosting`]: the transports (Functions custom handler; the actix-web server).
//! - [`entra`]: who may deliver to the webhook by Microsoft Entra ID: tokens and signing keys.
//! - [`routes`]: the routes file (`AML_ROUTES_FILE`): who hears about what, and what runs.
//! - [`explain`]: which routes each event matches and what they would do, as a dry run.
//! - [`history`]: `history`, what was done per event, read back from the ledger.
//! - [`inspect`]: one JSON line per event of a delivery body, for people and scripts.
//! - [`metrics`]: what `serve` counts for `GET /metrics`, in the Prometheus text format.
//! - [`notify`]: `notify --test`, a sample notice to every notification target.
//! - [`package`]: a deployable Functions app (host.json, function folders, executable, zip).
//! - [`send`]: delivers events like Event Grid or the Functions host, to try or replay them.
//! - [`replay`]: `replay`, Event Grid's dead-letter blobs sent again and marked replayed.
//! - [`recent`]: event ids handled recently, so redeliveries are not acted on twice.
//! - [`telemetry`]: structured logs on stderr, text or JSON; [`traces`]: a span per event and
//!   per action, exported over OTLP/HTTP when an endpoint is set.
//!
//! Dependencies point one way: bins -> `hosting` -> `functions` -> `aml_events`. Reading
//! envelopes and typed events is the `aml_events` crate's job; this crate decides what to do
//! with them and speaks the hosts' protocols.

pub mod budget;
pub mod config;
pub mod context;
pub mod entra;
pub mod explain;
pub mod functions;
pub mod history;
pub mod hosting;
pub mod inspect;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod package;
pub mod recent;
pub mod replay;
pub mod routes;
pub mod send;
pub mod settings;
pub mod telemetry;
pub mod traces;

pub use budget::notifier_options;
pub use context::{AppContext, StartError};
