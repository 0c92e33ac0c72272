//! The `aml-handlers` command line: reads the arguments once and hands each subcommand its
//! values; the work itself lives in the library.

use std::{
    io::{self, Read, Write},
    net::{IpAddr, Ipv4Addr, TcpListener},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
};

use aml_events::{
    Function, Secret,
    notify::{Kind, Notifier, NotifierOptions, Target},
};
use aml_handlers::{
    AppContext,
    config::{
        AML_BIND, AML_DRY_RUN, AML_NOTIFY_PAGERDUTY_KEY, AML_NOTIFY_URL, AML_ROUTES_FILE,
        AML_WEBHOOK_KEY, Config, Credentials, FUNCTIONS_CUSTOMHANDLER_PORT,
    },
    hosting, send, telemetry,
};
use clap::{Args, Parser, Subcommand};
use tracing::{error, info};

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
    /// Send a test message to every notification target (AML_NOTIFY_URL), or to one.
    ///
    /// The sample is a failed run, rendered for each target's kind: an Adaptive Card for Teams
    /// Workflows, Block Kit for Slack, an embed for Discord, an Events API v2 alert for
    /// PagerDuty (routing key from AML_NOTIFY_PAGERDUTY_KEY), the plain JSON body for any other
    /// webhook. Prints each target's answer; exits 1 if any target failed.
    ///
    /// A target is a URL, its kind told by its host, or kind:URL for proxies, custom domains
    /// and stand-ins (kinds: teams, slack, discord, pagerduty, webhook).
    ///
    /// Examples:
    ///   AML_NOTIFY_URL=https://hooks.slack.com/services/T0/B0/XXXX aml-handlers notify --test
    ///   aml-handlers notify --test --to 'teams:https://proxy.example.com/hook'
    #[command(verbatim_doc_comment)]
    Notify(NotifyArgs),
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
    #[command(verbatim_doc_comment)]
    History(HistoryArgs),
    /// Validate a routes file (AML_ROUTES_FILE, SPEC §11): `routes check [FILE]`.
    Routes {
        #[command(subcommand)]
        command: RoutesCommand,
    },
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
    #[command(verbatim_doc_comment)]
    Explain {
        /// The delivery body: Event Grid events or CloudEvents; `-` reads standard input.
        #[arg(value_name = "EVENT_FILE")]
        event_file: PathBuf,
        /// The routes file (default: AML_ROUTES_FILE).
        #[arg(long, value_name = "FILE")]
        routes: Option<PathBuf>,
    },
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
struct HistoryArgs {
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

#[derive(Debug, Args)]
struct NotifyArgs {
    /// Send the sample notice (the only thing `notify` does).
    #[arg(long, required = true)]
    test: bool,
    /// The one target to try, URL or kind:URL (default: every target of AML_NOTIFY_URL).
    #[arg(long, value_name = "TARGET")]
    to: Option<String>,
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
        Command::Send(args) => send(args),
        Command::Package(args) => package(args),
        Command::Notify(args) => notify(args),
        Command::History(args) => history(args),
        Command::Inspect { file, content_type } => inspect(file, content_type.as_deref()),
        Command::Routes {
            command: RoutesCommand::Check { file },
        } => routes_check(file),
        Command::Explain { event_file, routes } => explain(event_file, routes),
    }
}

const DEFAULT_PORT: u16 = 8080;

fn serve(args: ServeArgs) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    telemetry::init(&config);
    let port = config.host.host_port.or(args.port).unwrap_or(DEFAULT_PORT);
    let bind = args
        .bind
        .or(config.host.bind)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if !bind.is_loopback() && config.host.webhook_key.is_none() {
        return fail(&format!(
            "refusing to listen on {bind} without a key: set {AML_WEBHOOK_KEY} (or bind 127.0.0.1 with {AML_BIND})"
        ));
    }
    let listener = match TcpListener::bind((bind, port)) {
        Ok(listener) => listener,
        Err(err) => {
            let source = if config.host.host_port.is_some() {
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
    let mode = match (&config.azure.credentials, config.azure.dry_run) {
        (Credentials::None, _) => "dry run: no Azure credentials, nothing is sent to Azure",
        (_, true) => "dry run: AML_DRY_RUN is set, nothing is sent to Azure",
        (Credentials::ManagedIdentity { .. }, false) => "managed identity",
        (Credentials::ServicePrincipal { .. }, false) => "service principal",
    };
    let ctx = match AppContext::new(config) {
        Ok(ctx) => Arc::new(ctx),
        Err(err) => return fail(&err.to_string()),
    };
    let ledger = ctx.ledger_description();
    let result = actix_web::rt::System::new().block_on(async move {
        if ctx.ledger_shared {
            actix_web::rt::spawn(clean_ledger(ctx.ledger.clone()));
        }
        let server = hosting::server::serve(listener, ctx)?;
        let functions = Function::list();
        println!(
            "aml-handlers {} ready on http://{address} ({mode}; ledger: {ledger}); functions: {functions}",
            env!("CARGO_PKG_VERSION")
        );
        let _ = io::stdout().flush();
        info!(%address, mode, %ledger, "ready");
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

fn history(args: HistoryArgs) -> ExitCode {
    let since = match args
        .since
        .as_deref()
        .map(aml_handlers::history::parse_since)
        .transpose()
    {
        Ok(since) => since,
        Err(err) => return fail(&err),
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    if config.ledger.is_none() {
        return fail(
            "no ledger is configured: set AML_LEDGER (or AzureWebJobsStorage) to the storage the app uses",
        );
    }
    let ctx = match AppContext::new(config) {
        Ok(ctx) => ctx,
        Err(err) => return fail(&err.to_string()),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    let query = aml_events::ledger::HistoryQuery {
        since,
        event_id: args.event.as_deref(),
        limit: args.limit,
    };
    match runtime.block_on(ctx.ledger.history(&query)) {
        Ok(entries) => {
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
            ExitCode::SUCCESS
        }
        Err(err) => fail(&format!(
            "cannot read the ledger: {}",
            aml_events::chain(&err)
        )),
    }
}

fn notify(args: NotifyArgs) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    let targets = match args.to.as_deref() {
        Some(text) => {
            let key = std::env::var(AML_NOTIFY_PAGERDUTY_KEY)
                .ok()
                .filter(|key| !key.trim().is_empty())
                .map(|key| Secret::new(key.trim()));
            match Target::parse(text, "--to", 1) {
                Ok(target) if target.kind == Kind::PagerDuty && key.is_none() => {
                    return fail(&format!(
                        "--to: a pagerduty target needs a routing key: set {AML_NOTIFY_PAGERDUTY_KEY}"
                    ));
                }
                Ok(mut target) => {
                    target.routing_key = key;
                    vec![target]
                }
                Err(err) => return fail(&err.to_string()),
            }
        }
        None => config.actions.notify_targets.clone(),
    };
    if targets.is_empty() {
        return fail(&format!(
            "no notification target: set {AML_NOTIFY_URL} or pass --to TARGET"
        ));
    }
    let notifier = match Notifier::new(NotifierOptions {
        deadline: config.host.deadline,
        ..NotifierOptions::default()
    }) {
        Ok(notifier) => notifier,
        Err(err) => return fail(&err.to_string()),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    let answers = runtime.block_on(aml_handlers::notify::send_test(&notifier, &targets));
    for answer in &answers {
        println!("{}", answer.line());
    }
    if answers.iter().all(|answer| answer.result.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
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

fn explain(event_file: PathBuf, routes: Option<PathBuf>) -> ExitCode {
    let (name, body) = match read_input(Some(event_file)) {
        Ok(input) => input,
        Err((name, err)) => return fail(&format!("cannot read {name}: {err}")),
    };
    let text = match String::from_utf8(body) {
        Ok(text) => text,
        Err(_) => return fail(&format!("{name}: not UTF-8 text")),
    };
    let events = match aml_events::envelope::parse_decoded_text(None, &text) {
        Ok(events) => events,
        Err(err) => return fail(&format!("{name}: {err}")),
    };
    // A dry run whatever the settings say: nothing is sent to Azure or to any target.
    let routes = routes.map(|path| path.display().to_string());
    let config = Config::from_lookup(|setting| match setting {
        AML_DRY_RUN => Some("1".to_owned()),
        AML_ROUTES_FILE if routes.is_some() => routes.clone(),
        other => std::env::var(other).ok(),
    });
    let config = match config {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    let ctx = match AppContext::new(config) {
        Ok(ctx) => ctx,
        Err(err) => return fail(&err.to_string()),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    print!(
        "{}",
        runtime.block_on(aml_handlers::explain::explain(events, &ctx))
    );
    ExitCode::SUCCESS
}

/// How often the ledger's old entries are removed, and how many at most each time: bounded
/// background work, so that cleaning never competes with deliveries.
const CLEAN_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);
const CLEAN_AT_MOST: usize = 500;

/// Removes ledger entries older than their 48 h, a bounded batch at a time, until the server
/// stops: one instance at a time, whichever takes the turn (a claim in the ledger itself,
/// held for [`CLEAN_EVERY`] and never completed), starting after a random delay so that
/// instances started together (a scale-out) do not all ask at once.
async fn clean_ledger(ledger: Arc<dyn aml_events::ledger::Ledger>) {
    use aml_events::ledger::{Claim, EffectKey, RETENTION};
    let turn = EffectKey::new("", "~clean-turn", "clean", "");
    let first = std::time::Duration::from_secs(fastrand::u64(60..=CLEAN_EVERY.as_secs()));
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + first, CLEAN_EVERY);
    loop {
        every.tick().await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        match ledger.claim(&turn, CLEAN_EVERY, deadline).await {
            Ok(Claim::Acquired(_)) => {}
            Ok(_) => continue,
            Err(err) => {
                tracing::warn!(error = %aml_events::chain(&err), "could not take the ledger's cleaning turn");
                continue;
            }
        }
        let before = std::time::SystemTime::now() - RETENTION;
        match ledger.clean(before, CLEAN_AT_MOST).await {
            Ok(0) => {}
            Ok(removed) => info!(removed, "old ledger entries removed"),
            Err(err) => {
                tracing::warn!(error = %aml_events::chain(&err), "could not clean the ledger")
            }
        }
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
