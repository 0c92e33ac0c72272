//! `aml-handlers`: the functions that react to Azure Machine Learning events, and the hosts
//! that run them.
//!
//! # Layout
//! - [`config`]: every setting, read and checked once at start-up.
//! - [`functions`]: the five functions, a typed event in and an [`outcome::Outcome`] out.
//! - [`hosting`]: the transports (Functions custom handler; the actix-web server).
//! - [`inspect`]: one JSON line per event of a delivery body, for people and scripts.
//! - [`package`]: a deployable Functions app (host.json, function folders, executable, zip).
//! - [`send`]: delivers events like Event Grid or the Functions host, to try or replay them.
//! - [`telemetry`]: structured logs on stderr, text or JSON.
//!
//! Dependencies point one way: bins -> `hosting` -> `functions` -> `aml_events`. Reading
//! envelopes and typed events is the `aml_events` crate's job; this crate decides what to do
//! with them and speaks the hosts' protocols.

pub mod config;
pub mod functions;
pub mod hosting;
pub mod inspect;
pub mod outcome;
pub mod package;
pub mod send;
pub mod telemetry;

/// What every function invocation shares, built once per process.
#[derive(Debug)]
pub struct AppContext {
    /// The validated settings.
    pub config: config::Config,
}

impl AppContext {
    /// The context for these settings.
    pub fn new(config: config::Config) -> Self {
        AppContext { config }
    }
}
