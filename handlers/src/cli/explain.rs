//! `aml-handlers explain`: which routes each event of a delivery body matches and what each
//! action would do, as a dry run of the same matcher and functions `serve` runs.

use std::{path::PathBuf, process::ExitCode};

use aml_handlers::config::{AML_DRY_RUN, AML_ROUTES_FILE};

use super::start::{self, Failed, Started, fail};

/// Show which routes each event of a delivery body matches, and what each action would do.
///
/// For every event: each route of the routes file (--routes, else AML_ROUTES_FILE), each
/// of its conditions held or not with what the event has, then the actions the functions
/// would take, as a dry run: the same matcher and functions as serve, with AML_DRY_RUN=1,
/// so nothing is sent to Azure or to any notification target. Without a routes file, the
/// AML_* settings act, as in serve.
///
/// Examples:
///   aml-handlers explain tests/fixtures/event_grid/run_status_changed.json --routes examples/routes.toml
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The delivery body: Event Grid events or CloudEvents; `-` reads standard input.
    #[arg(value_name = "EVENT_FILE")]
    event_file: PathBuf,
    /// The routes file (default: AML_ROUTES_FILE).
    #[arg(long, value_name = "FILE")]
    routes: Option<PathBuf>,
}

/// Prints the explanation of every event.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let (name, body) = start::read_input(Some(args.event_file))?;
    let text = String::from_utf8(body).map_err(|_| fail(format!("{name}: not UTF-8 text")))?;
    let events = aml_events::envelope::parse_decoded_text(None, &text)
        .map_err(|err| fail(format!("{name}: {err}")))?;
    // A dry run whatever the settings say: nothing is sent to Azure or to any target.
    let routes = args.routes.map(|path| path.display().to_string());
    let config = start::config_from(|setting| match setting {
        AML_DRY_RUN => Some("1".to_owned()),
        AML_ROUTES_FILE if routes.is_some() => routes.clone(),
        other => std::env::var(other).ok(),
    })?;
    let started = Started::new(config)?;
    print!(
        "{}",
        started.block_on(aml_handlers::explain::explain(events, &started.ctx))
    );
    Ok(ExitCode::SUCCESS)
}
