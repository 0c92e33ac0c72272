//! `aml-handlers package`: a deployable Azure Functions app written from the definitions built
//! into this binary, so a package always matches the code.

use std::{path::PathBuf, process::ExitCode};

use aml_handlers::config::AML_ROUTES_FILE;

use super::start::{Failed, fail};

/// Write a deployable Azure Functions app: host.json, a folder per function, the executable.
///
/// The definitions are built into this binary from host.json and function-definitions/,
/// so a package always matches the code. Publish the folder with
/// `func azure functionapp publish APP` (run inside DIR), or zip deploy DIR/app.zip.
///
/// Examples:
///   aml-handlers package --out target/package --zip
///   aml-handlers package --out target/run-status --functions RunStatusChanged --zip
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Folder to write the app into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Comma-separated functions to include (default: all five), e.g. RunStatusChanged.
    #[arg(long, value_name = "A,B")]
    functions: Option<String>,
    /// Also write DIR/app.zip for zip deploy.
    #[arg(long)]
    zip: bool,
    /// The binary to ship (default: this one), e.g. a static musl build.
    #[arg(long, value_name = "PATH")]
    executable: Option<PathBuf>,
    /// A routes file to ship in the app (as routes/<name>, with the job files it names); set
    /// AML_ROUTES_FILE=routes/<name>, relative to the app root.
    #[arg(long, value_name = "FILE")]
    routes: Option<PathBuf>,
}

/// Writes the app and prints each path written.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let functions = aml_handlers::package::select(args.functions.as_deref()).map_err(fail)?;
    let executable = args
        .executable
        .map_or_else(std::env::current_exe, Ok)
        .map_err(|err| fail(format!("cannot find this executable: {err}")))?;
    let routes = match args.routes.as_deref() {
        None => Vec::new(),
        Some(file) => aml_handlers::package::routes_files(file).map_err(fail)?,
    };
    let written =
        aml_handlers::package::write(&args.out, &functions, &executable, args.zip, &routes)
            .map_err(fail)?;
    for path in written {
        println!("{}", path.display());
    }
    if let Some((name, _)) = routes.first() {
        eprintln!(
            "aml-handlers: set the app setting {AML_ROUTES_FILE}={name} (relative to the app root, where host.json is)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
