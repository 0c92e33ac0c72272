//! The `aml-handlers` command line: reads the arguments once and hands each subcommand its
//! values; the work itself lives in the library.

use std::{
    io::{self, Read, Write},
    path::PathBuf,
    process::ExitCode,
};

use clap::{Parser, Subcommand};

/// React to Azure Machine Learning events delivered by Azure Event Grid.
#[derive(Debug, Parser)]
#[command(name = "aml-handlers", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
    #[command(verbatim_doc_comment)]
    Inspect {
        /// The delivery body to read; `-` or nothing reads standard input.
        #[arg(value_name = "FILE|-")]
        file: Option<PathBuf>,
        /// Content type the body arrived with (only a hint: the schema is read from the body).
        #[arg(long, value_name = "TYPE")]
        content_type: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { file, content_type } => inspect(file, content_type.as_deref()),
    }
}

fn inspect(file: Option<PathBuf>, content_type: Option<&str>) -> ExitCode {
    let (name, body) = match read_input(file) {
        Ok(input) => input,
        Err((name, err)) => return fail(&format!("cannot read {name}: {err}")),
    };
    match aml_handlers::inspect::render(content_type, &body) {
        Ok(lines) => match io::stdout().lock().write_all(lines.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(err) => fail(&format!("cannot write to standard output: {err}")),
        },
        Err(err) => fail(&format!("{name}: {err}")),
    }
}

/// Reads the named file, or standard input for `-` or no name.
fn read_input(file: Option<PathBuf>) -> Result<(String, Vec<u8>), (String, io::Error)> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            let name = path.display().to_string();
            std::fs::read(&path)
                .map(|body| (name.clone(), body))
                .map_err(|err| (name, err))
        }
        _ => {
            let mut body = Vec::new();
            match io::stdin().lock().read_to_end(&mut body) {
                Ok(_) => Ok(("standard input".to_owned(), body)),
                Err(err) => Err(("standard input".to_owned(), err)),
            }
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("aml-handlers: {message}");
    ExitCode::FAILURE
}
