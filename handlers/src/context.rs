//! What every invocation shares, built once per process from the settings: the Azure ML
//! client (none in a dry run), the notifier (none when notifications are held back), the
//! ledger (shared storage, or this process's memory), the events handled recently, and the
//! webhook's Microsoft Entra gate with its signing keys.

use std::sync::Arc;

use crate::{
    budget,
    config::{self, Credentials},
    entra,
    metrics::Metrics,
    recent,
    traces::propagate,
};
use aml_events::{
    azure::{
        AmlClient, AmlClientOptions, ClientError, ClientSecretCredential,
        ManagedIdentityCredential, TokenSource,
    },
    ledger::{
        Ledger, LedgerError, MemoryLedger,
        table::{TableLedger, TableLedgerOptions},
    },
    notify::Notifier,
};

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
    /// The action ledger: each effect claimed before it runs and marked done after. Shared
    /// storage when one is configured (across instances and restarts), else this process's
    /// memory (across this instance's deliveries, in flight ones included).
    pub ledger: Arc<dyn Ledger>,
    /// Whether the ledger is shared storage (else this process's memory).
    pub ledger_shared: bool,
    /// The Microsoft Entra check of webhook deliveries and the tenant's signing keys, when
    /// `AML_WEBHOOK_ENTRA_*` turn it on.
    pub entra: Option<entra::Gate>,
    /// What `GET /metrics` shows: this context's counts, the ledger's operations among them.
    pub metrics: Arc<Metrics>,
}

/// Why the process cannot start with these settings.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An Azure client or credential cannot be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The ledger's storage cannot be used.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl AppContext {
    /// The context for these settings, with one Azure ML client for the process unless this
    /// is a dry run. Fails when a credential cannot be built (naming the setting).
    pub fn new(config: config::Config) -> Result<Self, StartError> {
        let credential = credential(&config)?;
        let client = match (&credential, config.azure.dry_run) {
            (Some(credential), false) => Some(client(&config, Arc::clone(credential))?),
            _ => None,
        };
        let (ledger, ledger_shared) = match &config.ledger {
            Some(settings) => (ledger(&config, settings, credential)?, true),
            None => (Arc::new(MemoryLedger::new()) as Arc<dyn Ledger>, false),
        };
        let notifier = if config.actions.hold_notifications || !needs_notifier(&config) {
            None
        } else {
            Some(notifier(&config)?)
        };
        Ok(AppContext::from_parts(
            config,
            client,
            notifier,
            ledger,
            ledger_shared,
        ))
    }

    /// A context from parts built elsewhere (tests put in-process stand-ins here): the
    /// settings, the Azure client (`None`: a dry run), the notifier (`None`: notifications
    /// held back) and the ledger.
    pub fn from_parts(
        config: config::Config,
        client: Option<AmlClient>,
        notifier: Option<Notifier>,
        ledger: Arc<dyn Ledger>,
        ledger_shared: bool,
    ) -> Self {
        let entra = config.host.entra.clone().map(entra::Gate::new);
        let metrics = Arc::new(Metrics::new());
        let ledger = metrics.count_ledger(ledger);
        AppContext {
            config,
            client,
            notifier,
            recent: recent::RecentEvents::default(),
            ledger,
            ledger_shared,
            entra,
            metrics,
        }
    }

    /// How long a claim in the ledger holds before another instance may take it over: twice
    /// the deadline, longer than any effect can take (its attempts end by the deadline plus
    /// one request's timeout).
    pub fn lease(&self) -> std::time::Duration {
        self.config.host.deadline * 2
    }

    /// How long before a delivery's answer its effects stop, to leave time to record them.
    pub fn reserve(&self) -> std::time::Duration {
        budget::reserve(self.config.host.deadline)
    }

    /// Where the ledger is, for the ready line.
    pub fn ledger_description(&self) -> String {
        if self.ledger_shared {
            self.ledger.describe()
        } else {
            "in memory (this instance only)".to_owned()
        }
    }
}

/// The ledger of `settings`: Azure Table storage, with a key or with the app's identity.
fn ledger(
    config: &config::Config,
    settings: &config::LedgerSettings,
    credential: Option<Arc<dyn TokenSource>>,
) -> Result<Arc<dyn Ledger>, StartError> {
    let connection = settings.storage.connection.clone();
    let tokens = if connection.needs_token() {
        Some(credential.ok_or(ClientError::InvalidSetting {
            setting: settings.storage.setting,
            problem: "it names a table service without a key, which needs the app's identity (IDENTITY_ENDPOINT and IDENTITY_HEADER, or a service principal)",
        })?)
    } else {
        None
    };
    let options = TableLedgerOptions {
        table: settings.table.clone(),
        deadline: config.host.deadline / 2,
        ..TableLedgerOptions::default()
    };
    let ledger = match propagate::wrapped(|| TableLedger::http_transport(&options))? {
        Some(transport) => TableLedger::with_transport(connection, tokens, options, transport)?,
        None => TableLedger::new(connection, tokens, options)?,
    };
    Ok(Arc::new(ledger))
}

/// The notifier, its requests carrying `traceparent` when traces are on.
fn notifier(config: &config::Config) -> Result<Notifier, ClientError> {
    let options = budget::notifier_options(config.host.deadline);
    match propagate::wrapped(|| Notifier::http_transport(&options))? {
        Some(transport) => Notifier::with_transport(options, transport),
        None => Notifier::new(options),
    }
}

/// Whether any notification can be sent: the routes (a file's, or the settings') name a target.
fn needs_notifier(config: &config::Config) -> bool {
    !config.routes.targets.is_empty()
}

/// The app's identity, when it has one (the order docs/actions.md gives); `replay` reads
/// identity-based dead-letter storage with it.
pub fn credential(config: &config::Config) -> Result<Option<Arc<dyn TokenSource>>, ClientError> {
    Ok(match &config.azure.credentials {
        Credentials::ManagedIdentity {
            endpoint,
            header,
            client_id,
        } => Some(Arc::new(ManagedIdentityCredential::new(
            endpoint.clone(),
            header.clone(),
            client_id.clone(),
        )?)),
        Credentials::ServicePrincipal {
            tenant_id,
            client_id,
            client_secret,
            authority_host,
        } => Some(Arc::new(ClientSecretCredential::new(
            tenant_id,
            client_id.clone(),
            client_secret.clone(),
            authority_host.clone(),
        )?)),
        Credentials::None => None,
    })
}

fn client(
    config: &config::Config,
    credential: Arc<dyn TokenSource>,
) -> Result<AmlClient, ClientError> {
    let options = AmlClientOptions {
        arm_endpoint: config.azure.arm_endpoint.clone(),
        deadline: config.host.deadline,
        reserve: budget::reserve(config.host.deadline),
        ..AmlClientOptions::default()
    };
    match propagate::wrapped(|| AmlClient::http_transport(&options))? {
        Some(transport) => AmlClient::with_transport(credential, options, transport),
        None => AmlClient::new(credential, options),
    }
}
