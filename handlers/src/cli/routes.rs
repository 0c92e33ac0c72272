//! `aml-handlers routes check`: a routes file validated as `serve` validates it at start-up,
//! then described route by route, to try a file before deploying it.

use std::{path::PathBuf, process::ExitCode};

use aml_handlers::config::AML_ROUTES_FILE;

use super::start::{Failed, fail};

/// Validate a routes file (AML_ROUTES_FILE, see docs/routes.md): `routes check [FILE]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

/// `aml-handlers routes ...`.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Validate a routes file and print each route: name, functions, conditions, actions.
    ///
    /// Checks what serve checks at start-up: unknown keys, functions and targets, job files
    /// (relative to the routes file's folder), literal secrets, and that every ${NAME} it
    /// references is set. A problem prints `aml-handlers: FILE:LINE: KEY: PROBLEM` and exits 1.
    ///
    /// Examples:
    ///   aml-handlers routes check examples/routes.toml
    ///   AML_ROUTES_FILE=routes.toml aml-handlers routes check
    #[command(verbatim_doc_comment)]
    Check {
        /// The routes file (default: AML_ROUTES_FILE).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// Runs the one `routes` subcommand there is, `check`.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    match args.command {
        Command::Check { file } => check(file),
    }
}

fn check(file: Option<PathBuf>) -> Result<ExitCode, Failed> {
    let file = file
        .or_else(|| {
            std::env::var_os(AML_ROUTES_FILE)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        })
        .ok_or_else(|| {
            fail(format!(
                "no routes file: pass FILE or set {AML_ROUTES_FILE}"
            ))
        })?;
    let routes =
        aml_handlers::routes::file::load(&file, &|name| std::env::var(name).ok()).map_err(fail)?;
    println!(
        "{}: ok, {} targets, {} routes",
        file.display(),
        routes.targets.len(),
        routes.routes.len()
    );
    for described in routes.describe() {
        print!("\n{described}");
    }
    Ok(ExitCode::SUCCESS)
}
