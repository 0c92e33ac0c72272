//! The `aml-handlers` command line: reads the arguments once and hands each subcommand its
//! values; the work itself lives in the library.

use std::{
    io::{self, Read, Write},
    net::{IpAddr, Ipv4Addr, TcpListener},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
};

use aml_events::Function;
use aml_handlers::{
    AppContext,
    config::{AML_BIND, AML_WEBHOOK_KEY, Config, Credentials, FUNCTIONS_CUSTOMHANDLER_PORT},
    hosting, telemetry,
};
use clap::{Args, Parser, Subcommand};
use tracing::{error, info};

/// React to Azure Machine Learning events delivered by Azure Event Grid.
///
/// Runs one function per Azure ML event type (ModelRegistered, ModelDeployed, RunCompleted,
/// DatasetDriftDetected, RunStatusChanged) as an Azure Functions custom handler. With no
/// subcommand it serves, exactly like `aml-handlers serve`.
///
/// Settings come from environment variables (AML_*, see local.settings.example.json). With no
/// Azure credentials every action is a dry run: nothing is sent to Azure.
#[derive(Debug, Parser)]
#[command(name = "aml-handlers", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the functions over HTTP, as an Azure Functions custom handler (the default).
    ///
    /// Routes: GET / (readiness), POST /{Function} (a Functions host invocation).
    /// Port: FUNCTIONS_CUSTOMHANDLER_PORT (set by the Functions host), else --port, else 8080.
    /// Address: --bind, else AML_BIND, else 127.0.0.1; any other address than loopback needs
    /// AML_WEBHOOK_KEY. Prints one line with the URL when ready; SIGINT/SIGTERM stop it after
    /// the requests in flight finish.
    ///
    /// Examples:
    ///   aml-handlers serve --port 8080
    ///   FUNCTIONS_CUSTOMHANDLER_PORT=7071 aml-handlers
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
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

#[derive(Debug, Default, Args)]
struct ServeArgs {
    /// Port to listen on when FUNCTIONS_CUSTOMHANDLER_PORT is not set.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Address to listen on (overrides AML_BIND).
    #[arg(long, value_name = "ADDRESS")]
    bind: Option<IpAddr>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(args),
        Command::Inspect { file, content_type } => inspect(file, content_type.as_deref()),
    }
}

const DEFAULT_PORT: u16 = 8080;

fn serve(args: ServeArgs) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    telemetry::init(&config);
    let port = config.host_port.or(args.port).unwrap_or(DEFAULT_PORT);
    let bind = args
        .bind
        .or(config.bind)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if !bind.is_loopback() && config.webhook_key.is_none() {
        return fail(&format!(
            "refusing to listen on {bind} without a key: set {AML_WEBHOOK_KEY} (or bind 127.0.0.1 with {AML_BIND})"
        ));
    }
    let listener = match TcpListener::bind((bind, port)) {
        Ok(listener) => listener,
        Err(err) => {
            let source = if config.host_port.is_some() {
                FUNCTIONS_CUSTOMHANDLER_PORT
            } else {
                "--port"
            };
            return fail(&format!(
                "cannot listen on {bind}:{port} (port from {source}): {err}"
            ));
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(err) => return fail(&format!("cannot read the listening address: {err}")),
    };
    let mode = match (&config.credentials, config.dry_run) {
        (Credentials::None, _) => "dry run: no Azure credentials, nothing is sent to Azure",
        (_, true) => "dry run: AML_DRY_RUN is set, nothing is sent to Azure",
        (Credentials::ManagedIdentity { .. }, false) => "managed identity",
        (Credentials::ServicePrincipal { .. }, false) => "service principal",
    };
    let ctx = Arc::new(AppContext::new(config));
    let result = actix_web::rt::System::new().block_on(async move {
        let server = hosting::server::serve(listener, ctx)?;
        let functions = Function::ALL.map(Function::name).join(", ");
        println!(
            "aml-handlers {} ready on http://{address} ({mode}); functions: {functions}",
            env!("CARGO_PKG_VERSION")
        );
        let _ = io::stdout().flush();
        info!(%address, mode, "ready");
        server.await
    });
    match result {
        Ok(()) => {
            info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            error!(error = %err, "server failed");
            fail(&format!("server failed: {err}"))
        }
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
