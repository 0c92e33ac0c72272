//! The names of every setting the handlers read, in one place with no dependencies, so that
//! every module that names a setting in a message (the configuration, the implicit routes, the
//! outcomes) spells it the same way. What each setting means and its checks live in
//! [`crate::config`]; the README's table and `local.settings.example.json` mirror [`SETTINGS`].
//! The names aml-events also puts in its errors are its constants, so both say the same.

/// Port the Functions host tells the custom handler to listen on.
pub const FUNCTIONS_CUSTOMHANDLER_PORT: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
/// Listen address of `serve` (default `127.0.0.1`).
pub const AML_BIND: &str = "AML_BIND";
/// Key required on webhook POSTs (`?code=` or `x-functions-key`).
pub const AML_WEBHOOK_KEY: &str = "AML_WEBHOOK_KEY";
/// Microsoft Entra tenant id whose tokens the webhook accepts (with the audience, turns it on).
pub const AML_WEBHOOK_ENTRA_TENANT: &str = "AML_WEBHOOK_ENTRA_TENANT";
/// The webhook app's client id or application id URI: the tokens' `aud`.
pub const AML_WEBHOOK_ENTRA_AUDIENCE: &str = "AML_WEBHOOK_ENTRA_AUDIENCE";
/// App role the caller must hold (default `AzureEventGridSecureWebhookSubscriber`; `none`).
pub const AML_WEBHOOK_ENTRA_ROLE: &str = "AML_WEBHOOK_ENTRA_ROLE";
/// Application id of the caller (default Event Grid's in Azure's public cloud).
pub const AML_WEBHOOK_ENTRA_CALLER: &str = "AML_WEBHOOK_ENTRA_CALLER";
/// `1`: never call Azure.
pub const AML_DRY_RUN: &str = "AML_DRY_RUN";
/// Time budget of one invocation or delivery, in seconds (default 25).
pub const AML_DEADLINE_SECONDS: &str = "AML_DEADLINE_SECONDS";
/// Comma-separated workspace resource ids whose events are acted on.
pub const AML_WORKSPACES: &str = "AML_WORKSPACES";
/// ARM base URL (default `https://management.azure.com`).
pub const AML_ARM_ENDPOINT: &str = aml_events::azure::settings::AML_ARM_ENDPOINT;
/// Incoming-webhook URL notifications are POSTed to.
pub const AML_NOTIFY_URL: &str = aml_events::notify::AML_NOTIFY_URL;
/// PagerDuty's routing key for `pagerduty` targets.
pub const AML_NOTIFY_PAGERDUTY_KEY: &str = aml_events::notify::AML_NOTIFY_PAGERDUTY_KEY;
/// Standard Webhooks secret (`whsec_...`) the plain `webhook` targets' notices are signed with.
pub const AML_NOTIFY_SECRET: &str = aml_events::notify::AML_NOTIFY_SECRET;
/// Functions that notify (default all but `RunCompleted`; `none` for none).
pub const AML_NOTIFY_ON: &str = "AML_NOTIFY_ON";
/// Run statuses `RunStatusChanged` notifies about (default `Failed,Canceled`).
pub const AML_NOTIFY_RUN_STATUSES: &str = "AML_NOTIFY_RUN_STATUSES";
/// Drift coefficient from which `DatasetDriftDetected` retrains (default 0.5).
pub const AML_RETRAIN_DRIFT_THRESHOLD: &str = "AML_RETRAIN_DRIFT_THRESHOLD";
/// Job body template for retraining.
pub const AML_RETRAIN_JOB_FILE: &str = "AML_RETRAIN_JOB_FILE";
/// No retrain for the same group within this long of the last one (`24h`); default none.
pub const AML_RETRAIN_COOLDOWN: &str = "AML_RETRAIN_COOLDOWN";
/// At most one notice per target and group in this interval (`1h`); default every event.
pub const AML_NOTIFY_EVERY: &str = "AML_NOTIFY_EVERY";
/// Scoring URI `ModelDeployed` smoke-tests.
pub const AML_SMOKE_TEST_URI: &str = "AML_SMOKE_TEST_URI";
/// Key for the scoring URI (sent as a bearer token).
pub const AML_SMOKE_TEST_KEY: &str = "AML_SMOKE_TEST_KEY";
/// JSON body of the smoke test (default `{}`).
pub const AML_SMOKE_TEST_PAYLOAD: &str = "AML_SMOKE_TEST_PAYLOAD";
/// Managed identity token endpoint (set by App Service / Functions).
pub const IDENTITY_ENDPOINT: &str = aml_events::azure::settings::IDENTITY_ENDPOINT;
/// Managed identity header value (set by App Service / Functions).
pub const IDENTITY_HEADER: &str = aml_events::azure::settings::IDENTITY_HEADER;
/// Service principal tenant.
pub const AZURE_TENANT_ID: &str = aml_events::azure::settings::AZURE_TENANT_ID;
/// Service principal client id, or the user-assigned managed identity to use.
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// Service principal secret.
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// Microsoft Entra authority (default `https://login.microsoftonline.com`).
pub const AZURE_AUTHORITY_HOST: &str = aml_events::azure::settings::AZURE_AUTHORITY_HOST;
/// Log filter, `tracing_subscriber::EnvFilter` syntax (default `info`).
pub const RUST_LOG: &str = "RUST_LOG";
/// Log format: `text` (default) or `json`.
pub const AML_LOG_FORMAT: &str = "AML_LOG_FORMAT";
/// The routes file: who hears about what, and what runs.
pub const AML_ROUTES_FILE: &str = "AML_ROUTES_FILE";
/// The action ledger's storage; else `AzureWebJobsStorage`.
pub const AML_LEDGER: &str = aml_events::ledger::table::AML_LEDGER;
/// The ledger's table (default `amlhandlers`).
pub const AML_LEDGER_TABLE: &str = aml_events::ledger::table::AML_LEDGER_TABLE;

/// Every setting a user may set (the host's port aside); mirrored in
/// `local.settings.example.json` and the README.
pub const SETTINGS: &[&str] = &[
    AML_BIND,
    AML_WEBHOOK_KEY,
    AML_WEBHOOK_ENTRA_TENANT,
    AML_WEBHOOK_ENTRA_AUDIENCE,
    AML_WEBHOOK_ENTRA_ROLE,
    AML_WEBHOOK_ENTRA_CALLER,
    AML_DRY_RUN,
    AML_DEADLINE_SECONDS,
    AML_WORKSPACES,
    AML_ARM_ENDPOINT,
    AML_NOTIFY_URL,
    AML_NOTIFY_PAGERDUTY_KEY,
    AML_NOTIFY_SECRET,
    AML_NOTIFY_ON,
    AML_NOTIFY_RUN_STATUSES,
    AML_RETRAIN_DRIFT_THRESHOLD,
    AML_RETRAIN_JOB_FILE,
    AML_RETRAIN_COOLDOWN,
    AML_NOTIFY_EVERY,
    AML_SMOKE_TEST_URI,
    AML_SMOKE_TEST_KEY,
    AML_SMOKE_TEST_PAYLOAD,
    IDENTITY_ENDPOINT,
    IDENTITY_HEADER,
    AZURE_TENANT_ID,
    AZURE_CLIENT_ID,
    AZURE_CLIENT_SECRET,
    AZURE_AUTHORITY_HOST,
    RUST_LOG,
    AML_LOG_FORMAT,
    AML_ROUTES_FILE,
    AML_LEDGER,
    AML_LEDGER_TABLE,
];
