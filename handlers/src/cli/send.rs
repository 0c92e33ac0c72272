//! `aml-handlers send`: events delivered the way Event Grid or the Functions host delivers
//! them, to try a deployment or replay dead letters, each answer printed.

use std::{process::ExitCode, time::Duration};

use aml_events::{Function, Secret};
use aml_handlers::send::{Exchange, Mode, SendOptions};

use super::start::{self, Failed, fail};

/// Deliver events the way Event Grid or the Functions host does, and print each answer.
///
/// --as webhook (default): POSTs the events as one batch with aeg-* headers to a webhook,
/// e.g. serve's or func start's /runtime/webhooks/eventgrid (a bare base URL gets that
/// path). With --validate, runs the subscription-validation handshake first (Event Grid
/// schema) or the abuse-protection OPTIONS (CloudEvents), and stops if it fails.
/// --as host: POSTs one custom handler invocation per event to URL/{Function}, the event
/// double-encoded in Data.event as the Functions host sends it.
///
/// Dead-letter records (events with deadLetterReason, deliveryAttempts, ...) are replayed
/// as the original events. No redirect is followed (a 3xx is printed as the answer), so
/// the key never reaches another host. Exits 0 when every answer is 2xx, 1 otherwise.
///
/// Examples:
///   aml-handlers send tests/fixtures/event_grid/run_completed.json --to http://127.0.0.1:8080 --validate
///   aml-handlers send dead-letter.json --to 'http://localhost:7071/runtime/webhooks/eventgrid?functionName=RunCompleted'
///   aml-handlers send event.json --to http://127.0.0.1:8080 --as host --function RunStatusChanged
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// A delivery body: Event Grid events, CloudEvents, or Event Grid dead-letter records.
    #[arg(value_name = "FILE|-")]
    file: std::path::PathBuf,
    /// Where to deliver: a webhook URL, or a custom handler's base URL with --as host.
    #[arg(long, value_name = "URL")]
    to: url::Url,
    /// Deliver as Event Grid does (webhook) or as the Functions host does (host).
    #[arg(long = "as", value_enum, default_value = "webhook")]
    mode: Mode,
    /// The function to address (webhook: sets functionName; host: the route); default: each
    /// event's own.
    #[arg(long, value_name = "NAME")]
    function: Option<String>,
    /// Key: added as ?code= to webhook URLs and sent as x-functions-key (only over https or
    /// to loopback; never printed).
    #[arg(long, value_name = "K")]
    key: Option<String>,
    /// Run the subscription-validation handshake first (webhook only).
    #[arg(long)]
    validate: bool,
}

/// Delivers the events and prints each request, status and answer.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let function = args
        .function
        .as_deref()
        .map(|name| Function::from_name(name).ok_or(name))
        .transpose()
        .map_err(|name| {
            fail(format!(
                "unknown function {name:?} for --function; the functions are {}",
                Function::list()
            ))
        })?;
    let (name, body) = start::read_input(Some(args.file))?;
    let events =
        aml_events::envelope::parse(None, &body).map_err(|err| fail(format!("{name}: {err}")))?;
    let options = SendOptions {
        to: args.to,
        mode: args.mode,
        function,
        key: args.key.map(Secret::new),
        validate: args.validate,
        timeout: Duration::from_secs(60),
    };
    let runtime = start::runtime()?;
    let exchanges = runtime
        .block_on(aml_handlers::send::send(events, &options))
        .map_err(fail)?;
    for exchange in &exchanges {
        println!(
            "{}\n{}\n{}",
            exchange.request, exchange.status, exchange.body
        );
    }
    if exchanges.iter().all(Exchange::succeeded) {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}
