//! `aml-handlers`: the functions that react to Azure Machine Learning events, and the hosts
//! that run them.
//!
//! # Layout
//! - [`config`]: every setting, read and checked once at start-up.
//! - [`functions`]: the five functions, a typed event in and an [`outcome::Outcome`] out.
//! - [`hosting`]: the transports (Functions custom handler; the actix-web server).
//! - [`routes`]: the routes file (`AML_ROUTES_FILE`): who hears about what, and what runs.
//! - [`explain`]: which routes each event matches and what they would do, as a dry run.
//! - [`inspect`]: one JSON line per event of a delivery body, for people and scripts.
//! - [`notify`]: `notify --test`, a sample notice to every notification target.
//! - [`package`]: a deployable Functions app (host.json, function folders, executable, zip).
//! - [`send`]: delivers events like Event Grid or the Functions host, to try or replay them.
//! - [`recent`]: event ids handled recently, so redeliveries are not acted on twice.
//! - [`telemetry`]: structured logs on stderr, text or JSON.
//!
//! Dependencies point one way: bins -> `hosting` -> `functions` -> `aml_events`. Reading
//! envelopes and typed events is the `aml_events` crate's job; this crate decides what to do
//! with them and speaks the hosts' protocols.

use std::sync::Arc;

use aml_events::{
    azure::{
        AmlClient, AmlClientOptions, ClientError, ClientSecretCredential,
        ManagedIdentityCredential, TokenSource,
    },
    notify::{Notifier, NotifierOptions},
};
use config::Credentials;

pub mod config;
pub mod explain;
pub mod functions;
pub mod hosting;
pub mod inspect;
pub mod notify;
pub mod outcome;
pub mod package;
pub mod recent;
pub mod routes;
pub mod send;
pub mod telemetry;

/// What every function invocation shares, built once per process.
#[derive(Debug)]
pub struct AppContext {
    /// The validated settings.
    pub config: config::Config,
    /// The Azure ML client; `None` in a dry run, when no request goes to Azure.
    pub client: Option<AmlClient>,
    /// What posts notifications, with or without Azure credentials; `None` when
    /// `AML_DRY_RUN=1` holds them back or no target is set.
    pub notifier: Option<Notifier>,
    /// Events handled recently.
    pub recent: recent::RecentEvents,
}

impl AppContext {
    /// The context for these settings, with one Azure ML client for the process unless this
    /// is a dry run. Fails when a credential cannot be built (naming the setting).
    pub fn new(config: config::Config) -> Result<Self, ClientError> {
        let client = if config.azure.dry_run {
            None
        } else {
            Some(client(&config)?)
        };
        let notifier = if config.actions.hold_notifications || !needs_notifier(&config) {
            None
        } else {
            Some(Notifier::new(NotifierOptions {
                deadline: config.host.deadline,
                ..NotifierOptions::default()
            })?)
        };
        Ok(AppContext {
            config,
            client,
            notifier,
            recent: recent::RecentEvents::default(),
        })
    }
}

/// Whether any notification can be sent: a target in `AML_NOTIFY_URL`, or in the routes file.
fn needs_notifier(config: &config::Config) -> bool {
    match &config.routes {
        Some(routes) => !routes.targets.is_empty(),
        None => !config.actions.notify_targets.is_empty(),
    }
}

fn client(config: &config::Config) -> Result<AmlClient, ClientError> {
    let credential: Arc<dyn TokenSource> = match &config.azure.credentials {
        Credentials::ManagedIdentity {
            endpoint,
            header,
            client_id,
        } => Arc::new(ManagedIdentityCredential::new(
            endpoint.clone(),
            header.clone(),
            client_id.clone(),
        )?),
        Credentials::ServicePrincipal {
            tenant_id,
            client_id,
            client_secret,
            authority_host,
        } => Arc::new(ClientSecretCredential::new(
            tenant_id,
            client_id.clone(),
            client_secret.clone(),
            authority_host.clone(),
        )?),
        // `Config` turns dry-run on when there are no credentials.
        Credentials::None => {
            return Err(ClientError::InvalidSetting {
                setting: "AZURE_CLIENT_SECRET",
                problem: "no credentials: this is a dry run",
            });
        }
    };
    let options = AmlClientOptions {
        arm_endpoint: config.azure.arm_endpoint.clone(),
        deadline: config.host.deadline,
        ..AmlClientOptions::default()
    };
    AmlClient::new(credential, options)
}
