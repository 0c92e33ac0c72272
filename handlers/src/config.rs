//! Every setting the handlers read, in one place: names as `const`s, values checked once at
//! start-up so that a bad value stops the process with a message naming the setting.
//!
//! The bins read the environment ([`Config::from_env`]); tests pass a lookup function
//! ([`Config::from_lookup`]). Secrets are held as [`Secret`] and never echoed.

use std::{collections::BTreeSet, net::IpAddr, path::PathBuf, time::Duration};

use aml_events::ledger::table::{DEFAULT_TABLE, LedgerSetting, TableConnection};
use aml_events::{
    Function, Secret, WorkspaceId,
    azure::is_token_safe,
    events::RunStatus,
    notify::{Target, TargetError},
};
use url::Url;

use crate::routes::{SmokeTest, implicit};

pub use crate::routes::job::JobTemplate;
pub use crate::settings::*;

/// Event Grid gives up on an attempt after 30 s; answering within 25 leaves room.
/// See <https://learn.microsoft.com/azure/event-grid/delivery-and-retry>.
const DEFAULT_DEADLINE_SECONDS: u64 = 25;
const DEFAULT_DRIFT_THRESHOLD: f64 = 0.5;
const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";
const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// Our own records at info; actix-server's start-up chatter only when it matters.
const DEFAULT_LOG_FILTER: &str = "info,actix_server=warn";

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

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per record.
    #[default]
    Text,
    /// One JSON object per record.
    Json,
}

/// Where Azure tokens come from (SPEC §8.2, in this order).
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    /// App Service / Functions managed identity.
    ManagedIdentity {
        /// `IDENTITY_ENDPOINT`.
        endpoint: Url,
        /// `IDENTITY_HEADER`.
        header: Secret,
        /// `AZURE_CLIENT_ID`: a user-assigned identity.
        client_id: Option<String>,
    },
    /// A Microsoft Entra application with a client secret.
    ServicePrincipal {
        /// `AZURE_TENANT_ID`.
        tenant_id: String,
        /// `AZURE_CLIENT_ID`.
        client_id: String,
        /// `AZURE_CLIENT_SECRET`.
        client_secret: Secret,
        /// `AZURE_AUTHORITY_HOST`.
        authority_host: Url,
    },
    /// No credentials: every Azure action is a dry run.
    None,
}

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
    pub routes: std::sync::Arc<crate::routes::Routes>,
    /// Where the action ledger lives (`AML_LEDGER`, else `AzureWebJobsStorage`); `None`: no
    /// ledger, the in-memory set of recent events only.
    pub ledger: Option<LedgerSettings>,
}

/// The action ledger's storage and table (SPEC §12).
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    /// The setting it came from and its connection.
    pub storage: LedgerSetting,
    /// `AML_LEDGER_TABLE`.
    pub table: String,
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

/// How Azure is reached.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    /// No request goes to Azure: `AML_DRY_RUN=1`, or no credentials.
    pub dry_run: bool,
    /// `AML_ARM_ENDPOINT`.
    pub arm_endpoint: Url,
    /// Credentials, in SPEC §8.2's order.
    pub credentials: Credentials,
}

/// The action settings of SPEC §8.5: without a routes file, one implicit route per function.
#[derive(Debug, Clone)]
pub struct ActionSettings {
    /// `AML_DRY_RUN=1`: notifications are held back too. Without credentials alone they are
    /// sent, since a notification target is not Azure (SPEC §8.1).
    pub hold_notifications: bool,
    /// `AML_NOTIFY_URL`'s targets (with `AML_NOTIFY_PAGERDUTY_KEY` for PagerDuty); their URLs
    /// are secrets, since webhook URLs carry their key.
    pub notify_targets: Vec<Target>,
    /// `AML_NOTIFY_ON`.
    pub notify_on: BTreeSet<Function>,
    /// `AML_NOTIFY_RUN_STATUSES`.
    pub notify_run_statuses: Vec<RunStatus>,
    /// `AML_RETRAIN_DRIFT_THRESHOLD`.
    pub retrain_drift_threshold: f64,
    /// `AML_RETRAIN_JOB_FILE` and its content, read once at start-up.
    pub retrain_job: Option<JobTemplate>,
    /// `AML_SMOKE_TEST_URI`.
    pub smoke_test_uri: Option<Url>,
    /// `AML_SMOKE_TEST_KEY`.
    pub smoke_test_key: Option<Secret>,
    /// `AML_SMOKE_TEST_PAYLOAD`, checked to be JSON.
    pub smoke_test_payload: String,
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
        let secret = |name: &str| get(name).map(Secret::new);

        let host_port = get(FUNCTIONS_CUSTOMHANDLER_PORT)
            .map(|port| parse(FUNCTIONS_CUSTOMHANDLER_PORT, "port number", &port))
            .transpose()?;
        let bind = get(AML_BIND)
            .map(|bind| parse(AML_BIND, "IP address", &bind))
            .transpose()?;
        let dry_run_set = get(AML_DRY_RUN)
            .map(|value| flag(AML_DRY_RUN, &value))
            .transpose()?;
        let deadline_seconds: u64 = get(AML_DEADLINE_SECONDS)
            .map(|value| {
                parse(
                    AML_DEADLINE_SECONDS,
                    "whole number of seconds from 1 to 600",
                    &value,
                )
            })
            .transpose()?
            .unwrap_or(DEFAULT_DEADLINE_SECONDS);
        if !(1..=600).contains(&deadline_seconds) {
            return Err(invalid(
                AML_DEADLINE_SECONDS,
                "whole number of seconds from 1 to 600",
                &deadline_seconds.to_string(),
            ));
        }
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
        let arm_endpoint = token_url(
            AML_ARM_ENDPOINT,
            &get(AML_ARM_ENDPOINT).unwrap_or_else(|| DEFAULT_ARM_ENDPOINT.into()),
        )?;
        // The URLs are secrets: checked without echoing them.
        let notify_targets = match get(AML_NOTIFY_URL) {
            Some(list) => Target::parse_list(&list, secret(AML_NOTIFY_PAGERDUTY_KEY).as_ref())
                .map_err(|err| match err {
                    TargetError::Insecure { .. } => ConfigError::InsecureUrl {
                        name: AML_NOTIFY_URL,
                    },
                    other => ConfigError::Target(other),
                })?,
            None => Vec::new(),
        };
        let notify_on: BTreeSet<Function> = match get(AML_NOTIFY_ON) {
            None => Function::ALL.into_iter().filter(|f| *f != Function::RunCompleted).collect(),
            Some(list) if list.eq_ignore_ascii_case("none") => BTreeSet::new(),
            Some(list) => split_list(&list)
                .map(|name| {
                    Function::from_name(name).ok_or_else(|| {
                        invalid(AML_NOTIFY_ON, "comma-separated list of function names (ModelRegistered, ModelDeployed, RunCompleted, DatasetDriftDetected, RunStatusChanged) or none", name)
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let notify_run_statuses: Vec<RunStatus> = split_list(&get(AML_NOTIFY_RUN_STATUSES).unwrap_or_else(|| "Failed,Canceled".into()))
            .map(|name| match RunStatus::parse(name) {
                RunStatus::Other(_) => Err(invalid(AML_NOTIFY_RUN_STATUSES, "comma-separated list of run statuses (NotStarted, Queued, Preparing, Provisioning, Starting, Running, Finalizing, CancelRequested, Completed, Failed, Canceled, NotResponding)", name)),
                status => Ok(status),
            })
            .collect::<Result<_, _>>()?;
        let retrain_drift_threshold = get(AML_RETRAIN_DRIFT_THRESHOLD)
            .map(|value| parse::<f64>(AML_RETRAIN_DRIFT_THRESHOLD, "number from 0 to 1", &value))
            .transpose()?
            .unwrap_or(DEFAULT_DRIFT_THRESHOLD);
        if !(0.0..=1.0).contains(&retrain_drift_threshold) {
            return Err(invalid(
                AML_RETRAIN_DRIFT_THRESHOLD,
                "number from 0 to 1",
                &retrain_drift_threshold.to_string(),
            ));
        }
        let retrain_job = get(AML_RETRAIN_JOB_FILE)
            .map(|path| read_job_template(&path))
            .transpose()?;
        let smoke_test_uri = get(AML_SMOKE_TEST_URI)
            .map(|uri| token_url(AML_SMOKE_TEST_URI, &uri))
            .transpose()?;
        let smoke_test_key = secret(AML_SMOKE_TEST_KEY);
        let smoke_test_payload = get(AML_SMOKE_TEST_PAYLOAD).unwrap_or_else(|| "{}".into());
        if serde_json::from_str::<serde::de::IgnoredAny>(&smoke_test_payload).is_err() {
            return Err(invalid(
                AML_SMOKE_TEST_PAYLOAD,
                "JSON document",
                &smoke_test_payload,
            ));
        }
        let credentials = credentials(&get)?;
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

        let smoke_test = smoke_test_uri.clone().map(|uri| SmokeTest {
            uri,
            key: smoke_test_key.clone(),
            // Checked to be JSON above.
            payload: serde_json::from_str(&smoke_test_payload).unwrap_or_default(),
        });
        let routes = match get(AML_ROUTES_FILE) {
            Some(path) => {
                crate::routes::file::load(&app_path(&path), &get).map_err(ConfigError::Routes)?
            }
            None => implicit::routes(implicit::Settings {
                notify_targets: &notify_targets,
                notify_on: &notify_on,
                notify_run_statuses: &notify_run_statuses,
                retrain_job: retrain_job.as_ref(),
                smoke_test: smoke_test.as_ref(),
            }),
        };
        let routes = std::sync::Arc::new(routes);
        let ledger = TableConnection::from_lookup(get)
            .map_err(ConfigError::Ledger)?
            .map(|storage| {
                let table = get(AML_LEDGER_TABLE).unwrap_or_else(|| DEFAULT_TABLE.to_owned());
                LedgerSettings { storage, table }
            });

        Ok(Config {
            host: HostSettings {
                host_port,
                bind,
                webhook_key: secret(AML_WEBHOOK_KEY),
                deadline: Duration::from_secs(deadline_seconds),
                workspaces,
                log_filter,
                log_format,
            },
            azure: AzureSettings {
                dry_run: dry_run_set.unwrap_or(false) || credentials == Credentials::None,
                arm_endpoint,
                credentials,
            },
            actions: ActionSettings {
                hold_notifications: dry_run_set.unwrap_or(false),
                notify_targets,
                notify_on,
                notify_run_statuses,
                retrain_drift_threshold,
                retrain_job,
                smoke_test_uri,
                smoke_test_key,
                smoke_test_payload,
            },
            routes,
            ledger,
        })
    }

    /// Whether events from `workspace` are acted on (`AML_WORKSPACES`).
    pub fn allows(&self, workspace: Option<&WorkspaceId>) -> bool {
        self.host.allows(workspace)
    }
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

/// A file named by a setting: as given, or, when relative and not found from the working
/// directory, beside the executable (the app root of a package, where host.json is).
fn app_path(path: &str) -> PathBuf {
    let given = PathBuf::from(path);
    if given.is_relative() && !given.exists() {
        let beside = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(&given)));
        if let Some(beside) = beside.filter(|beside| beside.exists()) {
            return beside;
        }
    }
    given
}

fn credentials(get: &impl Fn(&str) -> Option<String>) -> Result<Credentials, ConfigError> {
    let client_id = get(AZURE_CLIENT_ID);
    match (get(IDENTITY_ENDPOINT), get(IDENTITY_HEADER)) {
        (Some(endpoint), Some(header)) => {
            // The identity endpoint is a loopback URL on App Service; Url::parse keeps it honest.
            let endpoint = token_url(IDENTITY_ENDPOINT, &endpoint)?;
            return Ok(Credentials::ManagedIdentity {
                endpoint,
                header: Secret::new(header),
                client_id,
            });
        }
        (Some(_), None) => {
            return Err(ConfigError::Incomplete {
                name: IDENTITY_ENDPOINT,
                needs: IDENTITY_HEADER,
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Incomplete {
                name: IDENTITY_HEADER,
                needs: IDENTITY_ENDPOINT,
            });
        }
        (None, None) => {}
    }
    let authority_host = token_url(
        AZURE_AUTHORITY_HOST,
        &get(AZURE_AUTHORITY_HOST).unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.into()),
    )?;
    match (get(AZURE_TENANT_ID), get(AZURE_CLIENT_SECRET)) {
        (Some(tenant_id), Some(client_secret)) => {
            let client_id = client_id.ok_or(ConfigError::Incomplete {
                name: AZURE_CLIENT_SECRET,
                needs: AZURE_CLIENT_ID,
            })?;
            Ok(Credentials::ServicePrincipal {
                tenant_id,
                client_id,
                client_secret: Secret::new(client_secret),
                authority_host,
            })
        }
        (Some(_), None) => Err(ConfigError::Incomplete {
            name: AZURE_TENANT_ID,
            needs: "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        }),
        (None, Some(_)) => Err(ConfigError::Incomplete {
            name: AZURE_CLIENT_SECRET,
            needs: "AZURE_TENANT_ID and AZURE_CLIENT_ID",
        }),
        (None, None) => Ok(Credentials::None),
    }
}

fn read_job_template(path: &str) -> Result<JobTemplate, ConfigError> {
    JobTemplate::read(std::path::Path::new(path)).map_err(|problem| ConfigError::File {
        name: AML_RETRAIN_JOB_FILE,
        path: path.to_owned(),
        problem,
    })
}

/// A URL a token or key is sent to: https, or http to a loopback address only.
fn token_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|_| invalid(name, "URL", value))?;
    check_transport(name, &url)?;
    Ok(url)
}

/// The client's own rule ([`is_token_safe`]), checked here to name the setting at start-up.
fn check_transport(name: &'static str, url: &Url) -> Result<(), ConfigError> {
    match url.scheme() {
        _ if is_token_safe(url) => Ok(()),
        "http" => Err(ConfigError::InsecureUrl { name }),
        _ => Err(ConfigError::Invalid {
            name,
            expected: "https URL",
            found: String::new(),
        }),
    }
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

fn flag(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(invalid(name, "flag (1 or 0)", value)),
    }
}

fn parse<T: std::str::FromStr>(
    name: &'static str,
    expected: &'static str,
    value: &str,
) -> Result<T, ConfigError> {
    value.parse().map_err(|_| invalid(name, expected, value))
}

fn invalid(name: &'static str, expected: &'static str, value: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        expected,
        found: format!(": {value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let values: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| values.get(name).cloned())
    }

    #[test]
    fn defaults_are_a_dry_run_on_loopback() {
        let config = config(&[]).unwrap();
        assert!(config.azure.dry_run);
        assert_eq!(config.host.bind, None);
        assert_eq!(config.host.deadline, Duration::from_secs(25));
        assert_eq!(config.azure.credentials, Credentials::None);
        assert!(!config.actions.notify_on.contains(&Function::RunCompleted));
        assert_eq!(config.actions.notify_on.len(), 4);
        assert_eq!(
            config.actions.notify_run_statuses,
            [RunStatus::Failed, RunStatus::Canceled]
        );
        assert_eq!(
            config.azure.arm_endpoint.as_str(),
            "https://management.azure.com/"
        );
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases: [(&str, &str); 9] = [
            (AML_DEADLINE_SECONDS, "0"),
            (AML_DEADLINE_SECONDS, "soon"),
            (AML_NOTIFY_ON, "RunCompleted,RunExploded"),
            (AML_NOTIFY_RUN_STATUSES, "Failed,Exploded"),
            (AML_RETRAIN_DRIFT_THRESHOLD, "2"),
            (AML_LOG_FORMAT, "xml"),
            (AML_BIND, "everywhere"),
            (AML_DRY_RUN, "perhaps"),
            (AML_WORKSPACES, "/subscriptions/{subscription-id}"),
        ];
        for (name, value) in cases {
            let err = config(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn refuses_tokens_over_plain_http_beyond_loopback() {
        for name in [
            AML_ARM_ENDPOINT,
            AZURE_AUTHORITY_HOST,
            AML_SMOKE_TEST_URI,
            AML_NOTIFY_URL,
        ] {
            let err = config(&[(name, "http://example.com/x")]).unwrap_err();
            assert!(
                matches!(err, ConfigError::InsecureUrl { name: n } if n == name),
                "{name}"
            );
            assert!(
                config(&[(name, "http://127.0.0.1:9/x")]).is_ok(),
                "{name} loopback"
            );
            assert!(
                config(&[(name, "https://example.com/x")]).is_ok(),
                "{name} https"
            );
        }
    }

    #[test]
    fn secrets_are_not_echoed() {
        let err = config(&[(AML_NOTIFY_URL, "not a url hooks-secret")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(AML_NOTIFY_URL) && !err.contains("hooks-secret"),
            "{err}"
        );
        let config = config(&[
            (AZURE_TENANT_ID, "t"),
            (AZURE_CLIENT_ID, "c"),
            (AZURE_CLIENT_SECRET, "s3cr3t-value"),
            (AML_WEBHOOK_KEY, "key-value"),
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("s3cr3t-value") && !debug.contains("key-value"),
            "{debug}"
        );
        assert!(!config.azure.dry_run, "credentials switch dry-run off");
    }

    #[test]
    fn credentials_come_in_order_and_whole() {
        let identity = config(&[
            (IDENTITY_ENDPOINT, "http://127.0.0.1:41000/msi/token"),
            (IDENTITY_HEADER, "h"),
            (AZURE_TENANT_ID, "t"),
            (AZURE_CLIENT_ID, "c"),
            (AZURE_CLIENT_SECRET, "s"),
        ])
        .unwrap();
        assert!(matches!(
            identity.azure.credentials,
            Credentials::ManagedIdentity {
                client_id: Some(_),
                ..
            }
        ));
        let err = config(&[(IDENTITY_ENDPOINT, "http://127.0.0.1:1/")])
            .unwrap_err()
            .to_string();
        assert!(err.contains(IDENTITY_HEADER), "{err}");
        let err = config(&[(AZURE_TENANT_ID, "t"), (AZURE_CLIENT_SECRET, "s")])
            .unwrap_err()
            .to_string();
        assert!(err.contains(AZURE_CLIENT_ID), "{err}");
        assert!(
            config(&[
                (AML_DRY_RUN, "1"),
                (AZURE_TENANT_ID, "t"),
                (AZURE_CLIENT_ID, "c"),
                (AZURE_CLIENT_SECRET, "s")
            ])
            .unwrap()
            .azure
            .dry_run
        );
    }

    #[test]
    fn job_templates_are_checked_and_filled() {
        let dir = std::env::temp_dir().join(format!("aml-handlers-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("job.json");
        std::fs::write(&good, r#"{"properties": {"displayName": "retrain {{dataDriftId}}", "tags": {"drift": {{driftCoefficient}}}}}"#).unwrap();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();

        let config = config(&[(AML_RETRAIN_JOB_FILE, good.to_str().unwrap())]).unwrap();
        let filled = config.actions.retrain_job.unwrap().fill(|name| match name {
            "dataDriftId" => "a\"b".into(),
            "driftCoefficient" => "0.9".into(),
            _ => String::new(),
        });
        let job: serde_json::Value = serde_json::from_str(&filled).unwrap();
        assert_eq!(job["properties"]["displayName"], "retrain a\"b");
        assert_eq!(job["properties"]["tags"]["drift"], 0.9);

        let err = super::tests::config(&[(AML_RETRAIN_JOB_FILE, bad.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(AML_RETRAIN_JOB_FILE) && err.contains("not a JSON job body"),
            "{err}"
        );
        let err = super::tests::config(&[(AML_RETRAIN_JOB_FILE, "no/such/job.json")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no/such/job.json"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_example_job_templates_are_accepted() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/retrain-job.json");
        let drift = config(&[(AML_RETRAIN_JOB_FILE, path)]).unwrap();
        let filled = drift
            .actions
            .retrain_job
            .unwrap()
            .fill(|name| format!("<{name}>"));
        assert!(
            filled.contains("<eventId>") && filled.contains("${{inputs.baseline}}"),
            "{filled}"
        );
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/retrain-on-monitor-breach.json"
        );
        let breach = config(&[(AML_RETRAIN_JOB_FILE, path)]).unwrap();
        let filled = breach
            .actions
            .retrain_job
            .unwrap()
            .fill(|name| format!("<{name}>"));
        assert!(
            filled.contains("<signalName>") && filled.contains("<monitorRunId>"),
            "{filled}"
        );
        serde_json::from_str::<serde_json::Value>(&filled).expect("JSON once filled in");
    }

    #[test]
    fn the_workspace_allow_list_ignores_case() {
        let id = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/WS";
        let config = config(&[(AML_WORKSPACES, id)]).unwrap();
        assert!(config.allows(WorkspaceId::parse(&id.to_lowercase()).as_ref()));
        assert!(!config.allows(WorkspaceId::parse(&id.replace("WS", "other")).as_ref()));
        assert!(!config.allows(None));
    }
}
