//! The `aml-handlers` command line: reads the arguments once and hands each command its
//! values. Each command lives in its own file under `cli/` (mini-redis's layout); the work
//! itself lives in the library.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::{explain, history, inspect, notify, package, replay, routes, send, serve};

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

// One variant per command, in the order `--help` lists them. Each command's help is the doc
// comment of its `Args`, in its own file.
#[derive(Debug, Subcommand)]
enum Command {
    Serve(serve::Args),
    Send(send::Args),
    Replay(replay::Args),
    Package(package::Args),
    Notify(notify::Args),
    History(history::Args),
    Routes(routes::Args),
    Explain(explain::Args),
    Inspect(inspect::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ran = match cli
        .command
        .unwrap_or(Command::Serve(serve::Args::default()))
    {
        Command::Serve(args) => serve::run(args),
        Command::Send(args) => send::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Package(args) => package::run(args),
        Command::Notify(args) => notify::run(args),
        Command::History(args) => history::run(args),
        Command::Routes(args) => routes::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Inspect(args) => inspect::run(args),
    };
    // A command that failed has said why on standard error.
    ran.unwrap_or(ExitCode::FAILURE)
}
