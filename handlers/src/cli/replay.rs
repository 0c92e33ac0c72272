//! `aml-handlers replay`: Event Grid's dead-lettered events sent again from the dead-letter
//! container, each blob marked once all its events were taken.

use std::{
    io::{self, IsTerminal},
    process::ExitCode,
    time::Duration,
};

use aml_events::{
    Secret,
    blob::{BlobClient, BlobClientOptions},
    ledger::table::{StorageService, TableConnection},
};
use aml_handlers::{
    context,
    hosting::webhook,
    replay::{
        self, AML_DEADLETTER, AML_DEADLETTER_CONTAINER, DEFAULT_CONTAINER, ReplayOptions,
        deliver::Target, layout::Selection, progress::Progress,
    },
    send,
};
use url::Url;

use super::start::{self, Failed, fail};

/// Send Event Grid's dead-lettered events again, from the dead-letter blob container.
///
/// Reads the container Event Grid dead-letters to: AML_DEADLETTER_CONTAINER (default
/// eventgrid-deadletter) in the storage AML_DEADLETTER names (a connection string, or a blob
/// service URL used with the app's managed identity), else AzureWebJobsStorage. Event Grid
/// writes SUBSCRIPTION/year/month/day/hour/GUID.json, each blob a JSON array of records: the
/// original event (Event Grid schema or CloudEvents) and why it was dead-lettered.
///
/// Each event goes again with its original id, grouped by function (?functionName=), to
/// --to: by default a local serve's http://127.0.0.1:PORT/runtime/webhooks/eventgrid (PORT:
/// FUNCTIONS_CUSTOMHANDLER_PORT, else 8080) with AML_WEBHOOK_KEY as the key. The key goes as
/// x-functions-key (and ?code=), only over https or to loopback; no redirect is followed.
/// With a ledger, effects already done answer `duplicate` and are not done twice.
///
/// --subscription takes one event subscription's name, in any casing; --since a duration back
/// from now (30m, 2h, 1d) or an RFC 3339 time, judged by the hour in the blob's path.
/// --dry-run lists each blob, its events and why each was dead-lettered, and sends nothing.
///
/// A blob whose events were all answered 2xx is marked replayed (metadata
/// amlreplayed=TIME) and skipped next time, unless --again. A blob with any failure stays
/// unmarked, and the command names the events and answers, and exits 1. A terminal shows a
/// progress bar; a pipe gets one line per blob.
///
/// Examples:
///   aml-handlers replay --dry-run --since 24h
///   AML_DEADLETTER=UseDevelopmentStorage=true aml-handlers replay --subscription my-app-runcompleted
///   AML_DEADLETTER=https://stmyapp.blob.core.windows.net aml-handlers replay \
///     --to https://my-app.azurewebsites.net/runtime/webhooks/eventgrid --key "$EVENTGRID_KEY"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Only blobs Event Grid wrote since then: 30m, 2h, 1d, or an RFC 3339 time.
    #[arg(long, value_name = "D")]
    since: Option<String>,
    /// Only this event subscription's dead letters (any casing).
    #[arg(long, value_name = "NAME")]
    subscription: Option<String>,
    /// The webhook to send to (default: a local serve's /runtime/webhooks/eventgrid).
    #[arg(long, value_name = "URL")]
    to: Option<Url>,
    /// Key, sent as x-functions-key and ?code= (default with no --to: AML_WEBHOOK_KEY).
    #[arg(long, value_name = "K")]
    key: Option<String>,
    /// List the blobs, their events and why each was dead-lettered; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Send blobs already marked replayed too.
    #[arg(long)]
    again: bool,
}

/// Replays the selected dead letters; exit 1 when any blob failed.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let since = args
        .since
        .as_deref()
        .map(aml_handlers::history::parse_since)
        .transpose()
        .map_err(fail)?;
    let config = start::config()?;
    let lookup = |name: &str| std::env::var(name).ok();
    let storage = TableConnection::from_lookup_for(StorageService::Blob, AML_DEADLETTER, lookup)
        .map_err(fail)?
        .ok_or_else(|| {
            fail(format!(
                "no dead-letter storage: set {AML_DEADLETTER} to the storage account's connection string or blob service URL (or AzureWebJobsStorage)"
            ))
        })?;
    let container = lookup(AML_DEADLETTER_CONTAINER)
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| DEFAULT_CONTAINER.to_owned());
    let tokens = if storage.connection.needs_token() {
        let credential = context::credential(&config).map_err(fail)?;
        Some(credential.ok_or_else(|| {
            fail(format!(
                "{} names a blob service without a key, which needs the app's identity (IDENTITY_ENDPOINT and IDENTITY_HEADER, or a service principal)",
                storage.setting
            ))
        })?)
    } else {
        None
    };
    let client = BlobClient::new(
        storage.connection,
        tokens,
        &container,
        BlobClientOptions::default(),
    )
    .map_err(|err| fail(aml_events::chain(&err)))?;
    let (to, key) = match args.to {
        Some(to) => (to, args.key.map(Secret::new)),
        None => {
            let port = config.host.host_port.unwrap_or(start::DEFAULT_PORT);
            let local = Url::parse(&format!("http://127.0.0.1:{port}{}", webhook::PATH))
                .map_err(|err| fail(format!("cannot make the local webhook URL: {err}")))?;
            let key = args
                .key
                .map(Secret::new)
                .or_else(|| config.host.webhook_key.clone());
            (local, key)
        }
    };
    send::check_key_route(&to, key.as_ref()).map_err(fail)?;
    let options = ReplayOptions {
        selection: Selection {
            subscription: args.subscription,
            since,
        },
        target: Target {
            to,
            key,
            timeout: Duration::from_secs(60),
        },
        dry_run: args.dry_run,
        again: args.again,
    };
    // The bar is drawn on standard error, the summary on standard output: both must be the
    // terminal, or a line per blob goes to standard output.
    let terminal = io::stdout().is_terminal() && io::stderr().is_terminal();
    let mut progress = if args.dry_run || !terminal {
        Progress::lines(Box::new(io::stdout()))
    } else {
        Progress::bar()
    };
    let runtime = start::runtime()?;
    let summary = runtime
        .block_on(replay::replay(&client, &options, &mut progress))
        .map_err(|err| {
            fail(format!(
                "cannot list the dead letters: {}",
                aml_events::chain(&err)
            ))
        })?;
    println!("{}", replay::progress::summary_line(&summary, args.dry_run));
    if summary.failed > 0 {
        return Err(fail(format!(
            "{} blob(s) were not replayed and stay unmarked (see FAILED above)",
            summary.failed
        )));
    }
    Ok(ExitCode::SUCCESS)
}
