//! `aml-handlers serve`, the default command: the functions over HTTP as an Azure Functions
//! custom handler, and the ledger's background cleaning, which only a server runs.

use std::{
    io::{self, Write},
    net::{IpAddr, Ipv4Addr, TcpListener},
    process::ExitCode,
    sync::Arc,
};

use aml_events::{Function, notify::Kind};
use aml_handlers::{
    AppContext,
    config::{
        AML_BIND, AML_WEBHOOK_ENTRA_AUDIENCE, AML_WEBHOOK_ENTRA_TENANT, AML_WEBHOOK_KEY,
        Credentials, FUNCTIONS_CUSTOMHANDLER_PORT,
    },
    hosting, telemetry, traces,
};
use tracing::{error, info, warn};

use super::start::{self, Failed, fail};

/// Serve the functions over HTTP, as an Azure Functions custom handler (the default).
///
/// Routes: GET / (readiness), POST /{Function} (a Functions host invocation).
/// Port: FUNCTIONS_CUSTOMHANDLER_PORT (set by the Functions host), else --port, else 8080.
/// Address: --bind, else AML_BIND, else 127.0.0.1; any other address than loopback needs
/// AML_WEBHOOK_KEY or Microsoft Entra ID (AML_WEBHOOK_ENTRA_TENANT and
/// AML_WEBHOOK_ENTRA_AUDIENCE). Prints one line with the URL and the webhook's checks when
/// ready; SIGINT/SIGTERM stop it after the requests in flight finish.
///
/// Examples:
///   aml-handlers serve --port 8080
///   FUNCTIONS_CUSTOMHANDLER_PORT=7071 aml-handlers
#[derive(Debug, Default, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Port to listen on when FUNCTIONS_CUSTOMHANDLER_PORT is not set.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Address to listen on (overrides AML_BIND).
    #[arg(long, value_name = "ADDRESS")]
    bind: Option<IpAddr>,
}

/// Serves until SIGINT or SIGTERM.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let config = start::config()?;
    let telemetry = telemetry::init(&config, &traces::Settings::from_env())
        .map_err(|err| fail(aml_events::chain(&err)))?;
    let port = config
        .host
        .host_port
        .or(args.port)
        .unwrap_or(start::DEFAULT_PORT);
    let bind = args
        .bind
        .or(config.host.bind)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if !bind.is_loopback() && config.host.webhook_key.is_none() && config.host.entra.is_none() {
        return Err(fail(format!(
            "refusing to listen on {bind} without a key or Microsoft Entra ID: set {AML_WEBHOOK_KEY}, or {AML_WEBHOOK_ENTRA_TENANT} and {AML_WEBHOOK_ENTRA_AUDIENCE} (or bind 127.0.0.1 with {AML_BIND})"
        )));
    }
    let listener = TcpListener::bind((bind, port)).map_err(|err| {
        let source = if config.host.host_port.is_some() {
            FUNCTIONS_CUSTOMHANDLER_PORT
        } else {
            "--port"
        };
        fail(format!(
            "cannot listen on {bind}:{port} (port from {source}): {err}"
        ))
    })?;
    let address = listener
        .local_addr()
        .map_err(|err| fail(format!("cannot read the listening address: {err}")))?;
    let mode = match (&config.azure.credentials, config.azure.dry_run) {
        (Credentials::None, _) => "dry run: no Azure credentials, nothing is sent to Azure",
        (_, true) => "dry run: AML_DRY_RUN is set, nothing is sent to Azure",
        (Credentials::ManagedIdentity { .. }, false) => "managed identity",
        (Credentials::ServicePrincipal { .. }, false) => "service principal",
    };
    let ctx = Arc::new(start::context(config)?);
    let ledger = ctx.ledger_description();
    // Noise control's marks live in the ledger: without one, each instance keeps its own.
    let noise = if ctx.ledger_shared {
        "shared through the ledger"
    } else {
        "per process (no ledger)"
    };
    let signed = signed_notices(ctx.config.routes.targets());
    let result = actix_web::rt::System::new().block_on(async move {
        if ctx.ledger_shared {
            actix_web::rt::spawn(clean_ledger(ctx.ledger.clone()));
        }
        if let Some(gate) = &ctx.entra {
            gate.start().await;
        }
        let webhook = webhook_checks(&ctx);
        let server = hosting::server::serve(listener, ctx)?;
        let functions = Function::list();
        println!(
            "aml-handlers {} ready on http://{address} ({mode}; ledger: {ledger}; noise control: {noise}{signed}; webhook: {webhook}); functions: {functions}",
            env!("CARGO_PKG_VERSION")
        );
        let _ = io::stdout().flush();
        info!(%address, mode, %ledger, noise_control = noise, %webhook, "ready");
        server.await
    });
    // After the last request: the spans still pending are exported before the process ends.
    telemetry.shutdown();
    match result {
        Ok(()) => {
            info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            error!(error = %err, "server failed");
            Err(fail(format!("server failed: {err}")))
        }
    }
}

/// Who may deliver to the webhook: the checks every POST must pass.
fn webhook_checks(ctx: &AppContext) -> String {
    let checks = match (&ctx.config.host.webhook_key, &ctx.entra) {
        (None, None) => "no key, no token (loopback only)".to_owned(),
        (Some(_), None) => format!("key ({AML_WEBHOOK_KEY})"),
        (None, Some(gate)) => gate.describe(),
        (Some(_), Some(gate)) => format!("key ({AML_WEBHOOK_KEY}) and {}", gate.describe()),
    };
    if ctx.entra.is_none() || ctx.config.host.host_port.is_none() {
        return checks;
    }
    // Under the Functions host, Event Grid delivers to the host's own endpoint, which the host
    // authenticates with its system key (`code`), and the host's invocations carry no token.
    // See <https://learn.microsoft.com/azure/azure-functions/event-grid-how-tos>.
    warn!(
        "{FUNCTIONS_CUSTOMHANDLER_PORT} is set: the Microsoft Entra ID settings apply to serve's own webhook only; deliveries through the Functions host carry no token (its Event Grid trigger authenticates them with the host's system key)"
    );
    format!(
        "{checks} on serve's own {} only, not on deliveries through the Functions host (its Event Grid trigger authenticates them with the host's system key)",
        hosting::webhook::PATH
    )
}

/// `; signed: notices to 2 webhook targets` (or `to 1 of 2`) when the routes name a plain
/// webhook target: how many of them are sent Standard Webhooks signatures. Two names for one
/// target count once.
fn signed_notices(targets: &[aml_handlers::routes::NamedTarget]) -> String {
    let mut webhooks: Vec<(&str, bool)> = Vec::new();
    for named in targets
        .iter()
        .filter(|named| named.target.kind == Kind::Webhook)
    {
        if !webhooks
            .iter()
            .any(|(identity, _)| *identity == named.identity)
        {
            webhooks.push((&named.identity, named.target.signing.is_some()));
        }
    }
    let signed = webhooks.iter().filter(|(_, signed)| *signed).count();
    let plural = if webhooks.len() == 1 { "" } else { "s" };
    match (webhooks.len(), signed) {
        (0, _) => String::new(),
        (all, signed) if all == signed => {
            format!("; signed: notices to {all} webhook target{plural}")
        }
        (all, signed) => format!("; signed: notices to {signed} of {all} webhook target{plural}"),
    }
}

/// How often the ledger's old entries are removed, and how many at most each time: bounded
/// background work, so that cleaning never competes with deliveries.
const CLEAN_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);
const CLEAN_AT_MOST: usize = 500;

/// Removes ledger entries older than their 48 h, a bounded batch at a time, until the server
/// stops: one instance at a time, whichever takes the turn (a claim in the ledger itself,
/// held for [`CLEAN_EVERY`] and never completed), starting after a random delay so that
/// instances started together (a scale-out) do not all ask at once.
async fn clean_ledger(ledger: Arc<dyn aml_events::ledger::Ledger>) {
    use aml_events::ledger::{Claim, EffectKey, RETENTION};
    let turn = EffectKey::clean_turn();
    let first = std::time::Duration::from_secs(fastrand::u64(60..=CLEAN_EVERY.as_secs()));
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + first, CLEAN_EVERY);
    loop {
        every.tick().await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        match ledger.claim(&turn, CLEAN_EVERY, deadline).await {
            Ok(Claim::Acquired(_)) => {}
            Ok(_) => continue,
            Err(err) => {
                tracing::warn!(error = %aml_events::chain(&err), "could not take the ledger's cleaning turn");
                continue;
            }
        }
        let before = std::time::SystemTime::now() - RETENTION;
        match ledger.clean(before, CLEAN_AT_MOST).await {
            Ok(0) => {}
            Ok(removed) => info!(removed, "old ledger entries removed"),
            Err(err) => {
                tracing::warn!(error = %aml_events::chain(&err), "could not clean the ledger")
            }
        }
    }
}
