//! What the commands share to start and to stop, so that none repeats it: the settings read
//! once, the shared [`AppContext`] and a runtime to drive it, the input file, and the one way a
//! command reports a failure. It knows no command.

use std::{
    fmt::Display,
    future::Future,
    io::{self, Read},
    path::PathBuf,
};

use aml_handlers::{AppContext, config::Config};
use tokio::runtime::Runtime;

/// The port `serve` listens on when neither FUNCTIONS_CUSTOMHANDLER_PORT nor --port names one;
/// where `replay` finds a local `serve` by default.
pub(crate) const DEFAULT_PORT: u16 = 8080;

/// A command stopped short: [`fail`] has said why on standard error, and it exits with 1.
#[derive(Debug)]
pub(crate) struct Failed;

/// Prints `aml-handlers: MESSAGE` on standard error, the one form every failure takes.
pub(crate) fn fail(message: impl Display) -> Failed {
    eprintln!("aml-handlers: {message}");
    Failed
}

/// The settings, from the environment.
pub(crate) fn config() -> Result<Config, Failed> {
    Config::from_env().map_err(fail)
}

/// The settings, from `get`: for a command that overrides some of the environment's.
pub(crate) fn config_from(get: impl Fn(&str) -> Option<String>) -> Result<Config, Failed> {
    Config::from_lookup(get).map_err(fail)
}

/// What every invocation shares, built once from the settings.
pub(crate) fn context(config: Config) -> Result<AppContext, Failed> {
    AppContext::new(config).map_err(fail)
}

/// A current-thread runtime: a command drives one piece of async work to its end, then exits.
pub(crate) fn runtime() -> Result<Runtime, Failed> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| fail(format!("cannot start the async runtime: {err}")))
}

/// The shared context and a runtime to drive it: what a command that acts once, as `serve`
/// would but without serving, starts from.
pub(crate) struct Started {
    /// The context the library's calls take.
    pub(crate) ctx: AppContext,
    runtime: Runtime,
}

impl Started {
    /// Builds the context from `config`, then the runtime.
    pub(crate) fn new(config: Config) -> Result<Self, Failed> {
        Ok(Self {
            ctx: context(config)?,
            runtime: runtime()?,
        })
    }

    /// Runs `future` to its end.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// Reads the named file, or standard input for `-` or no name; with the name messages use.
pub(crate) fn read_input(file: Option<PathBuf>) -> Result<(String, Vec<u8>), Failed> {
    let (name, body) = match file {
        Some(path) if path.as_os_str() != "-" => (path.display().to_string(), std::fs::read(&path)),
        _ => {
            let mut body = Vec::new();
            let read = io::stdin().lock().read_to_end(&mut body).map(|_| body);
            ("standard input".to_owned(), read)
        }
    };
    match body {
        Ok(body) => Ok((name, body)),
        Err(err) => Err(fail(format!("cannot read {name}: {err}"))),
    }
}
