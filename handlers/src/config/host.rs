//! What the hosts and the process read: where to listen, the webhook key, the delivery's
//! time budget, the workspaces acted on, and the logs.

use std::{net::IpAddr, time::Duration};

use aml_events::{Secret, WorkspaceId};

use super::{
    error::{ConfigError, invalid},
    values::{number_in, parse, split_list},
};
use crate::settings::{
    AML_BIND, AML_DEADLINE_SECONDS, AML_LOG_FORMAT, AML_WEBHOOK_KEY, AML_WORKSPACES,
    FUNCTIONS_CUSTOMHANDLER_PORT, RUST_LOG,
};

/// Event Grid gives up on an attempt after 30 s; answering within 25 leaves room.
/// See <https://learn.microsoft.com/azure/event-grid/delivery-and-retry>.
const DEFAULT_DEADLINE_SECONDS: u64 = 25;
/// Our own records at info; actix-server's start-up chatter only when it matters.
const DEFAULT_LOG_FILTER: &str = "info,actix_server=warn";

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per record.
    #[default]
    Text,
    /// One JSON object per record.
    Json,
}

/// The settings of the hosts and the process: where to listen, keys, time, logs.
#[derive(Debug, Clone)]
pub struct HostSettings {
    /// `FUNCTIONS_CUSTOMHANDLER_PORT`, when the host set it.
    pub host_port: Option<u16>,
    /// `AML_BIND`, when set.
    pub bind: Option<IpAddr>,
    /// `AML_WEBHOOK_KEY`.
    pub webhook_key: Option<Secret>,
    /// `AML_DEADLINE_SECONDS`.
    pub deadline: Duration,
    /// `AML_WORKSPACES`; `None` allows every workspace.
    pub workspaces: Option<Vec<WorkspaceId>>,
    /// `RUST_LOG`, or `info` (with actix-server at `warn`).
    pub log_filter: String,
    /// `AML_LOG_FORMAT`.
    pub log_format: LogFormat,
}

impl HostSettings {
    /// Whether events from `workspace` are acted on (`AML_WORKSPACES`).
    pub fn allows(&self, workspace: Option<&WorkspaceId>) -> bool {
        match (&self.workspaces, workspace) {
            (None, _) => true,
            (Some(allowed), Some(workspace)) => allowed.contains(workspace),
            (Some(_), None) => false,
        }
    }
}

/// Reads the host's settings through `get` (empty values already count as unset).
pub(super) fn read(get: &dyn Fn(&str) -> Option<String>) -> Result<HostSettings, ConfigError> {
    let host_port = get(FUNCTIONS_CUSTOMHANDLER_PORT)
        .map(|port| parse(FUNCTIONS_CUSTOMHANDLER_PORT, "port number", &port))
        .transpose()?;
    let bind = get(AML_BIND)
        .map(|bind| parse(AML_BIND, "IP address", &bind))
        .transpose()?;
    let deadline_seconds: u64 = number_in(
        get,
        AML_DEADLINE_SECONDS,
        "whole number of seconds from 1 to 600",
        1..=600,
        DEFAULT_DEADLINE_SECONDS,
    )?;
    let workspaces = get(AML_WORKSPACES)
        .map(|list| {
            split_list(&list)
                .map(|id| {
                    WorkspaceId::parse(id).ok_or_else(|| {
                        invalid(
                            AML_WORKSPACES,
                            "comma-separated list of Azure ML workspace resource ids",
                            id,
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let log_filter = get(RUST_LOG).unwrap_or_else(|| DEFAULT_LOG_FILTER.into());
    if tracing_subscriber::EnvFilter::try_new(&log_filter).is_err() {
        return Err(invalid(
            RUST_LOG,
            "log filter (e.g. info, or aml_handlers=debug)",
            &log_filter,
        ));
    }
    let log_format = match get(AML_LOG_FORMAT)
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => return Err(invalid(AML_LOG_FORMAT, "log format (text or json)", other)),
    };
    Ok(HostSettings {
        host_port,
        bind,
        webhook_key: get(AML_WEBHOOK_KEY).map(Secret::new),
        deadline: Duration::from_secs(deadline_seconds),
        workspaces,
        log_filter,
        log_format,
    })
}
