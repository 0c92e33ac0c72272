//! Every setting the handlers read, in one place: values checked once at start-up, so that a
//! bad value stops the process with a message naming the setting. The names are in
//! [`crate::settings`].
//!
//! The bins read the environment ([`Config::from_env`]); tests pass a lookup function
//! ([`Config::from_lookup`]). Secrets are held as [`aml_events::Secret`] and never echoed.
//!
//! # Layout
//! - `host`: where to listen, keys, time, logs; `azure`: the endpoint and credentials;
//!   `actions`: the `AML_*` action settings, the implicit routes' makings; `error`:
//!   [`ConfigError`]; `values`: how a setting's text is read.

mod actions;
mod azure;
mod error;
mod host;
#[cfg(test)]
mod tests;
mod values;

use std::sync::Arc;

use aml_events::ledger::table::{DEFAULT_TABLE, LedgerSetting, TableConnection};

pub use actions::ActionSettings;
pub use azure::{AzureSettings, Credentials};
pub use error::ConfigError;
pub use host::{HostSettings, LogFormat};
// The names of the settings, and the job template, where they were read before.
pub use crate::{routes::job::JobTemplate, settings::*};

use crate::routes::Routes;
use values::{app_path, flag};

/// The validated settings, split by who reads them: the host (transport, time, logs), Azure
/// (credentials, endpoint), the actions (the `AML_*` action settings), and the routes file.
/// No function reads the host's settings, and no host reads the actions'.
#[derive(Debug, Clone)]
pub struct Config {
    /// What the hosts and the process read.
    pub host: HostSettings,
    /// How Azure is reached.
    pub azure: AzureSettings,
    /// What the actions do without a routes file (and the defaults routes fall back on).
    pub actions: ActionSettings,
    /// The routes every event goes through: `AML_ROUTES_FILE`'s, validated, or without a file
    /// the implicit routes of the action settings (`settings: <Function>`).
    pub routes: Arc<Routes>,
    /// Where the action ledger lives (`AML_LEDGER`, else `AzureWebJobsStorage`); `None`: no
    /// ledger, the in-memory set of recent events only.
    pub ledger: Option<LedgerSettings>,
}

/// The action ledger's storage and table (docs/ledger.md).
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    /// The setting it came from and its connection.
    pub storage: LedgerSetting,
    /// `AML_LEDGER_TABLE`.
    pub table: String,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `get`; an empty value counts as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            get(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let host = host::read(&get)?;
        let dry_run_set = get(AML_DRY_RUN)
            .map(|value| flag(AML_DRY_RUN, &value))
            .transpose()?
            .unwrap_or(false);
        let actions = actions::read(&get, dry_run_set)?;
        let azure = azure::read(&get, dry_run_set)?;
        let routes = match get(AML_ROUTES_FILE) {
            Some(path) => {
                crate::routes::file::load(&app_path(&path), &get).map_err(ConfigError::Routes)?
            }
            None => actions.routes(),
        };
        let ledger = TableConnection::from_lookup(get)
            .map_err(ConfigError::Ledger)?
            .map(|storage| {
                let table = get(AML_LEDGER_TABLE).unwrap_or_else(|| DEFAULT_TABLE.to_owned());
                LedgerSettings { storage, table }
            });
        Ok(Config {
            host,
            azure,
            actions,
            routes: Arc::new(routes),
            ledger,
        })
    }
}
