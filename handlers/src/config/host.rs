//! What the hosts and the process read: where to listen, who may deliver (the webhook key,
//! Microsoft Entra ID), the delivery's time budget, the workspaces acted on, and the logs.

use std::{net::IpAddr, time::Duration};

use aml_events::{Secret, WorkspaceId};

use super::{
    error::{ConfigError, invalid},
    values::{number_in, parse, split_list, token_url},
};
use crate::{
    entra::{self, EntraSettings},
    settings::{
        AML_BIND, AML_DEADLINE_SECONDS, AML_LOG_FORMAT, AML_WEBHOOK_ENTRA_AUDIENCE,
        AML_WEBHOOK_ENTRA_CALLER, AML_WEBHOOK_ENTRA_ROLE, AML_WEBHOOK_ENTRA_TENANT,
        AML_WEBHOOK_KEY, AML_WORKSPACES, AZURE_AUTHORITY_HOST, FUNCTIONS_CUSTOMHANDLER_PORT,
        RUST_LOG,
    },
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
    /// `AML_WEBHOOK_ENTRA_*`: the Microsoft Entra token every webhook POST must carry.
    pub entra: Option<EntraSettings>,
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
        entra: read_entra(get)?,
        deadline: Duration::from_secs(deadline_seconds),
        workspaces,
        log_filter,
        log_format,
    })
}

/// `AML_WEBHOOK_ENTRA_TENANT` and `AML_WEBHOOK_ENTRA_AUDIENCE` turn the Entra check on, and
/// need each other; the role and caller have defaults, the authority is `AZURE_AUTHORITY_HOST`.
fn read_entra(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<EntraSettings>, ConfigError> {
    let (tenant, audience) = match (
        get(AML_WEBHOOK_ENTRA_TENANT),
        get(AML_WEBHOOK_ENTRA_AUDIENCE),
    ) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(ConfigError::Incomplete {
                name: AML_WEBHOOK_ENTRA_TENANT,
                needs: AML_WEBHOOK_ENTRA_AUDIENCE,
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Incomplete {
                name: AML_WEBHOOK_ENTRA_AUDIENCE,
                needs: AML_WEBHOOK_ENTRA_TENANT,
            });
        }
        (Some(tenant), Some(audience)) => (tenant, audience),
    };
    // Tokens name their tenant by id in `iss`: a domain name would never match.
    let tenant = guid(AML_WEBHOOK_ENTRA_TENANT, "tenant id (a GUID)", &tenant)?;
    // A client id in the form tokens carry it; an application id URI as written.
    let audience = match uuid::Uuid::parse_str(&audience) {
        Ok(client_id) => client_id.hyphenated().to_string(),
        Err(_) => audience,
    };
    let caller = match get(AML_WEBHOOK_ENTRA_CALLER) {
        Some(caller) => guid(AML_WEBHOOK_ENTRA_CALLER, "application id (a GUID)", &caller)?,
        None => entra::EVENT_GRID_APP_ID.to_owned(),
    };
    // An empty value counts as unset here as everywhere, so "no role check" is a word.
    let role = match get(AML_WEBHOOK_ENTRA_ROLE) {
        Some(role) if role.eq_ignore_ascii_case("none") => None,
        Some(role) => Some(role),
        None => Some(entra::DEFAULT_ROLE.to_owned()),
    };
    let authority = token_url(
        AZURE_AUTHORITY_HOST,
        &get(AZURE_AUTHORITY_HOST).unwrap_or_else(|| entra::DEFAULT_AUTHORITY.into()),
    )?;
    Ok(Some(EntraSettings {
        tenant,
        audience,
        role,
        caller,
        authority,
    }))
}

/// `value` as a GUID in its usual lower-case form, which tokens carry.
fn guid(name: &'static str, expected: &'static str, value: &str) -> Result<String, ConfigError> {
    uuid::Uuid::parse_str(value)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| invalid(name, expected, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";

    fn entra(settings: &[(&str, &str)]) -> Result<Option<EntraSettings>, ConfigError> {
        let get = |name: &str| {
            settings
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        read(&get).map(|host| host.entra)
    }

    #[test]
    fn tenant_and_audience_turn_entra_on_with_event_grid_defaults() {
        assert_eq!(entra(&[]).unwrap(), None);
        let settings = entra(&[
            (AML_WEBHOOK_ENTRA_TENANT, TENANT),
            (AML_WEBHOOK_ENTRA_AUDIENCE, "api://aml-handlers"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            settings,
            EntraSettings {
                tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
                audience: "api://aml-handlers".into(),
                role: Some("AzureEventGridSecureWebhookSubscriber".into()),
                caller: "4962773b-9cdb-44cf-a8bf-237846a00ab7".into(),
                authority: "https://login.microsoftonline.com".parse().unwrap(),
            }
        );
    }

    #[test]
    fn role_caller_and_authority_can_be_set() {
        let settings = entra(&[
            (AML_WEBHOOK_ENTRA_TENANT, TENANT),
            (
                AML_WEBHOOK_ENTRA_AUDIENCE,
                "11111111-2222-3333-4444-555555555555",
            ),
            (AML_WEBHOOK_ENTRA_ROLE, "None"),
            (
                AML_WEBHOOK_ENTRA_CALLER,
                entra::EVENT_GRID_APP_ID_GOVERNMENT,
            ),
            (AZURE_AUTHORITY_HOST, "https://login.microsoftonline.us"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.role, None);
        assert_eq!(settings.caller, entra::EVENT_GRID_APP_ID_GOVERNMENT);
        assert_eq!(
            settings.keys_url(),
            "https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/v2.0/keys"
        );
    }

    // Entra writes GUIDs in lower case (a v2.0 token's `aud` is the client id so): an
    // audience copied from a tool that shows them in upper case must still match.
    #[test]
    fn a_guid_audience_is_read_in_lower_case_and_a_uri_as_written() {
        let audience = |value: &str| {
            entra(&[
                (AML_WEBHOOK_ENTRA_TENANT, TENANT),
                (AML_WEBHOOK_ENTRA_AUDIENCE, value),
            ])
            .unwrap()
            .unwrap()
            .audience
        };
        assert_eq!(
            audience("0B9C2F4E-6D1A-4C3B-8E7F-5A4D3C2B1A09"),
            "0b9c2f4e-6d1a-4c3b-8e7f-5a4d3c2b1a09"
        );
        assert_eq!(
            audience("{0B9C2F4E-6D1A-4C3B-8E7F-5A4D3C2B1A09}"),
            "0b9c2f4e-6d1a-4c3b-8e7f-5a4d3c2b1a09"
        );
        assert_eq!(audience("api://AML-Handlers"), "api://AML-Handlers");
    }

    #[test]
    fn refuses_half_a_setup_and_names_the_setting() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[(AML_WEBHOOK_ENTRA_TENANT, TENANT)],
                AML_WEBHOOK_ENTRA_AUDIENCE,
            ),
            (
                &[(AML_WEBHOOK_ENTRA_AUDIENCE, "api://x")],
                AML_WEBHOOK_ENTRA_TENANT,
            ),
            (
                &[
                    (AML_WEBHOOK_ENTRA_TENANT, "contoso.onmicrosoft.com"),
                    (AML_WEBHOOK_ENTRA_AUDIENCE, "api://x"),
                ],
                "tenant id (a GUID)",
            ),
            (
                &[
                    (AML_WEBHOOK_ENTRA_TENANT, TENANT),
                    (AML_WEBHOOK_ENTRA_AUDIENCE, "api://x"),
                    (AML_WEBHOOK_ENTRA_CALLER, "Microsoft.EventGrid"),
                ],
                AML_WEBHOOK_ENTRA_CALLER,
            ),
            (
                &[
                    (AML_WEBHOOK_ENTRA_TENANT, TENANT),
                    (AML_WEBHOOK_ENTRA_AUDIENCE, "api://x"),
                    (AZURE_AUTHORITY_HOST, "http://login.example.com"),
                ],
                AZURE_AUTHORITY_HOST,
            ),
        ];
        for (settings, named) in cases {
            let message = entra(settings).unwrap_err().to_string();
            assert!(message.contains(named), "{message}");
        }
    }
}
