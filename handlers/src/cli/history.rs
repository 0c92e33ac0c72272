//! `aml-handlers history`: what was done for recent events, read back from the action ledger.

use std::{
    io::{self, Write},
    process::ExitCode,
};

use aml_events::ledger::HistoryQuery;

use super::start::{self, Failed, Started, fail};

/// Show what was done for recent events, from the action ledger (AML_LEDGER, else
/// AzureWebJobsStorage): one line per effect (notification per target, retrain, smoke
/// test), newest first, with its state and outcome.
///
/// --since takes a duration back from now (30m, 1h, 2d) or an RFC 3339 time; --event one
/// event id (any length); --limit the most lines (default 100); --json prints one JSON
/// object per line.
///
/// Examples:
///   aml-handlers history --since 1h
///   aml-handlers history --event 831e1650-001e-001b-66ab-eeb76e069631 --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Only entries claimed since then: 30m, 1h, 2d, or an RFC 3339 time.
    #[arg(long, value_name = "D")]
    since: Option<String>,
    /// Only this event's entries.
    #[arg(long, value_name = "ID")]
    event: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// The most entries to show, newest first.
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: usize,
}

/// Prints the ledger's entries, one a line.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let since = args
        .since
        .as_deref()
        .map(aml_handlers::history::parse_since)
        .transpose()
        .map_err(fail)?;
    let config = start::config()?;
    if config.ledger.is_none() {
        return Err(fail(
            "no ledger is configured: set AML_LEDGER (or AzureWebJobsStorage) to the storage the app uses",
        ));
    }
    let started = Started::new(config)?;
    let query = HistoryQuery {
        since,
        event_id: args.event.as_deref(),
        limit: args.limit,
    };
    let entries = started
        .block_on(started.ctx.ledger.history(&query))
        .map_err(|err| {
            fail(format!(
                "cannot read the ledger: {}",
                aml_events::chain(&err)
            ))
        })?;
    let mut out = io::stdout().lock();
    for entry in &entries {
        let line = if args.json {
            aml_handlers::history::json_line(entry)
        } else {
            aml_handlers::history::text_line(entry)
        };
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
