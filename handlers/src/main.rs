//! The `aml-handlers` command line: reads the arguments once and hands each subcommand its
//! values; the work itself lives in the library.

mod cli;

use std::{
    io::{self, Read, Write},
    path::PathBuf,
    process::ExitCode,
};

use aml_events::Function;
use aml_handlers::{config::AML_ROUTES_FILE, send};
use clap::{Args, Parser, Subcommand};
use cli::{explain, history, notify, serve};

/// jemalloc rather than the system allocator: an event allocates dozens of small, short-lived
/// blocks, and glibc's malloc and free took about a tenth of the CPU per invocation; with
/// jemalloc a Functions invocation costs 6-8% less CPU and peak RSS is lower (bench/README.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    Serve(serve::Args),
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
    #[command(verbatim_doc_comment)]
    Send(SendArgs),
    /// Write a deployable Azure Functions app: host.json, a folder per function, the executable.
    ///
    /// The definitions are built into this binary from host.json and function-definitions/,
    /// so a package always matches the code. Publish the folder with
    /// `func azure functionapp publish APP` (run inside DIR), or zip deploy DIR/app.zip.
    ///
    /// Examples:
    ///   aml-handlers package --out target/package --zip
    ///   aml-handlers package --out target/run-status --functions RunStatusChanged --zip
    #[command(verbatim_doc_comment)]
    Package(PackageArgs),
    Notify(notify::Args),
    History(history::Args),
    /// Validate a routes file (AML_ROUTES_FILE, SPEC §11): `routes check [FILE]`.
    Routes {
        #[command(subcommand)]
        command: RoutesCommand,
    },
    Explain(explain::Args),
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

/// `aml-handlers routes ...`.
#[derive(Debug, Subcommand)]
enum RoutesCommand {
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

#[derive(Debug, Args)]
struct PackageArgs {
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

#[derive(Debug, Args)]
struct SendArgs {
    /// A delivery body: Event Grid events, CloudEvents, or Event Grid dead-letter records.
    #[arg(value_name = "FILE|-")]
    file: PathBuf,
    /// Where to deliver: a webhook URL, or a custom handler's base URL with --as host.
    #[arg(long, value_name = "URL")]
    to: url::Url,
    /// Deliver as Event Grid does (webhook) or as the Functions host does (host).
    #[arg(long = "as", value_enum, default_value = "webhook")]
    mode: send::Mode,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli
        .command
        .unwrap_or(Command::Serve(serve::Args::default()))
    {
        Command::Serve(args) => serve::run(args),
        Command::Send(args) => send(args),
        Command::Package(args) => package(args),
        Command::Notify(args) => notify::run(args),
        Command::History(args) => history::run(args),
        Command::Inspect { file, content_type } => inspect(file, content_type.as_deref()),
        Command::Routes {
            command: RoutesCommand::Check { file },
        } => routes_check(file),
        Command::Explain(args) => explain::run(args),
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

fn package(args: PackageArgs) -> ExitCode {
    let functions = match aml_handlers::package::select(args.functions.as_deref()) {
        Ok(functions) => functions,
        Err(err) => return fail(&err.to_string()),
    };
    let executable = match args.executable.map_or_else(std::env::current_exe, Ok) {
        Ok(executable) => executable,
        Err(err) => return fail(&format!("cannot find this executable: {err}")),
    };
    let routes = match args
        .routes
        .as_deref()
        .map(aml_handlers::package::routes_files)
    {
        None => Vec::new(),
        Some(Ok(files)) => files,
        Some(Err(err)) => return fail(&err.to_string()),
    };
    match aml_handlers::package::write(&args.out, &functions, &executable, args.zip, &routes) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            if let Some((name, _)) = routes.first() {
                eprintln!(
                    "aml-handlers: set the app setting {AML_ROUTES_FILE}={name} (relative to the app root, where host.json is)"
                );
            }
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err.to_string()),
    }
}

fn routes_check(file: Option<PathBuf>) -> ExitCode {
    let Some(file) = file.or_else(|| {
        std::env::var_os(AML_ROUTES_FILE)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    }) else {
        return fail(&format!(
            "no routes file: pass FILE or set {AML_ROUTES_FILE}"
        ));
    };
    match aml_handlers::routes::file::load(&file, &|name| std::env::var(name).ok()) {
        Ok(routes) => {
            println!(
                "{}: ok, {} targets, {} routes",
                file.display(),
                routes.targets.len(),
                routes.routes.len()
            );
            for described in routes.describe() {
                print!("\n{described}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err.to_string()),
    }
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn send(args: SendArgs) -> ExitCode {
    let function = match args
        .function
        .as_deref()
        .map(|name| Function::from_name(name).ok_or(name))
        .transpose()
    {
        Ok(function) => function,
        Err(name) => {
            return fail(&format!(
                "unknown function {name:?} for --function; the functions are {}",
                Function::list()
            ));
        }
    };
    let (name, body) = match read_input(Some(args.file)) {
        Ok(input) => input,
        Err((name, err)) => return fail(&format!("cannot read {name}: {err}")),
    };
    let events = match aml_events::envelope::parse(None, &body) {
        Ok(events) => events,
        Err(err) => return fail(&format!("{name}: {err}")),
    };
    let options = send::SendOptions {
        to: args.to,
        mode: args.mode,
        function,
        key: args.key.map(aml_events::Secret::new),
        validate: args.validate,
        timeout: std::time::Duration::from_secs(60),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    match runtime.block_on(send::send(events, &options)) {
        Ok(exchanges) => {
            for exchange in &exchanges {
                println!(
                    "{}\n{}\n{}",
                    exchange.request, exchange.status, exchange.body
                );
            }
            if exchanges.iter().all(send::Exchange::succeeded) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => fail(&err.to_string()),
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
