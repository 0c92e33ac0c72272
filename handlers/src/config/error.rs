//! Why the settings cannot be used: each problem names its setting, and never echoes a
//! secret's value.

use aml_events::notify::TargetError;

/// A setting with a value the handlers cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The value does not parse as what the setting needs.
    #[error("setting {name} is not a valid {expected}{found}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What it should be.
        expected: &'static str,
        /// `: "value"` for non-secret settings, empty for secrets.
        found: String,
    },
    /// A setting that only works together with another.
    #[error("setting {name} needs {needs} to be set too")]
    Incomplete {
        /// The setting that was set.
        name: &'static str,
        /// What is missing.
        needs: &'static str,
    },
    /// A URL that would carry a token or secret over plain http to another machine.
    #[error(
        "setting {name} must use https (plain http is allowed only to a loopback address), because a token or key is sent to it"
    )]
    InsecureUrl {
        /// The setting.
        name: &'static str,
    },
    /// A notification target that cannot be used (a retired Teams connector, an unknown
    /// kind, a PagerDuty target without its key); never echoes the URL.
    #[error(transparent)]
    Target(TargetError),
    /// The routes file is unreadable or invalid: `<file>:<line>: <key>: <problem>`.
    #[error(transparent)]
    Routes(crate::routes::file::RoutesError),
    /// The ledger's storage setting cannot be used (never echoes a key).
    #[error(transparent)]
    Ledger(aml_events::ledger::LedgerError),
    /// A file named by a setting could not be used.
    #[error("setting {name}: cannot use {path}: {problem}")]
    File {
        /// The setting.
        name: &'static str,
        /// The file.
        path: String,
        /// Why.
        problem: String,
    },
}

/// `name` does not hold a valid `expected` (its value shown, for settings that are no secret).
pub(super) fn invalid(name: &'static str, expected: &'static str, value: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        expected,
        found: format!(": {value:?}"),
    }
}
