//! `aml-handlers inspect`: a delivery body as the functions will see it, one JSON line per
//! event, for people and scripts.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use super::start::{self, Failed, fail};

/// Read a delivery body and print one JSON line per event, as the functions will see it.
///
/// Accepts what Event Grid delivers: Event Grid-schema events (an array, or one bare
/// object) and CloudEvents 1.0 JSON (one structured event, or a batch array). Each line
/// holds schema, id, type, source, subject, time, the function that handles the event, and
/// its data under canonical camelCase names (keys are matched in any casing).
///
/// Unreadable input prints one line naming the problem (JSON position, or the event and
/// attribute at fault) on stderr, nothing on stdout, and exits with status 1.
///
/// Examples:
///   aml-handlers inspect tests/fixtures/event_grid/run_completed.json
///   curl -s https://example.com/event.json | aml-handlers inspect -
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The delivery body to read; `-` or nothing reads standard input.
    #[arg(value_name = "FILE|-")]
    file: Option<PathBuf>,
    /// Content type the body arrived with (only a hint: the schema is read from the body).
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
}

/// Prints the lines, or nothing and the problem.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let (name, body) = start::read_input(args.file)?;
    let lines = aml_handlers::inspect::render(args.content_type.as_deref(), &body)
        .map_err(|err| fail(format!("{name}: {err}")))?;
    match io::stdout().lock().write_all(lines.as_bytes()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(fail(format!("cannot write to standard output: {err}"))),
    }
}
