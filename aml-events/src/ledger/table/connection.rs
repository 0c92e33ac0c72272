//! How the ledger reaches its table: the connection settings, read in the order docs/ledger.md
//! gives.
//!
//! A connection string (`UseDevelopmentStorage=true` for Azurite, `AccountName=..;AccountKey=..`)
//! or a table service URL used with a token source; [`TableConnection::from_lookup`] picks the
//! setting. The same settings name the account's blob service, where Event Grid writes dead
//! letters: [`StorageService::Blob`] reads them for it ([`TableConnection::parse_for`],
//! [`TableConnection::from_lookup_for`]). It deliberately does not read the environment (the
//! caller passes a lookup), and its errors name the setting, never its value.

use std::fmt;

use base64::Engine as _;
use url::Url;

use crate::{
    Secret,
    azure::is_token_safe,
    ledger::LedgerError,
    redact::{self, Show},
};

/// The scope of Azure Storage tokens.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// The ledger's own setting: a connection string or a table service URL.
pub const AML_LEDGER: &str = "AML_LEDGER";

/// The setting naming the ledger's table (default [`DEFAULT_TABLE`](super::DEFAULT_TABLE)).
pub const AML_LEDGER_TABLE: &str = "AML_LEDGER_TABLE";

/// The Functions host's storage: a connection string.
pub const AZURE_WEB_JOBS_STORAGE: &str = "AzureWebJobsStorage";

/// The Functions host's identity-based storage: the table service URL.
pub const AZURE_WEB_JOBS_STORAGE_TABLE_URI: &str = "AzureWebJobsStorage__tableServiceUri";

/// The Functions host's identity-based storage: the blob service URL.
pub const AZURE_WEB_JOBS_STORAGE_BLOB_URI: &str = "AzureWebJobsStorage__blobServiceUri";

/// The Functions host's identity-based storage: the account name.
pub const AZURE_WEB_JOBS_STORAGE_ACCOUNT: &str = "AzureWebJobsStorage__accountName";

/// Azurite's well-known development account and key (public, documented).
/// See <https://learn.microsoft.com/azure/storage/common/storage-use-azurite#connection-strings>.
const DEV_ACCOUNT: &str = "devstoreaccount1";
pub(super) const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Which service of a storage account a connection reaches: the ledger's tables, or the blobs
/// Event Grid writes dead letters to. One connection string names both.
/// See <https://learn.microsoft.com/azure/storage/common/storage-configure-connection-string>.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageService {
    /// `https://{account}.table.{suffix}`, or `TableEndpoint=`; Azurite's port 10002.
    Table,
    /// `https://{account}.blob.{suffix}`, or `BlobEndpoint=`; Azurite's port 10000.
    Blob,
}

impl StorageService {
    /// The service's word in endpoints (`{account}.table.core.windows.net`).
    fn label(self) -> &'static str {
        match self {
            StorageService::Table => "table",
            StorageService::Blob => "blob",
        }
    }

    /// The connection string's key for an explicit endpoint, lower case.
    fn endpoint_key(self) -> &'static str {
        match self {
            StorageService::Table => "tableendpoint",
            StorageService::Blob => "blobendpoint",
        }
    }

    /// Azurite's path-style endpoint for the development account.
    /// See <https://learn.microsoft.com/azure/storage/common/storage-use-azurite#connection-strings>.
    fn development_endpoint(self) -> &'static str {
        match self {
            StorageService::Table => "http://127.0.0.1:10002/devstoreaccount1",
            StorageService::Blob => "http://127.0.0.1:10000/devstoreaccount1",
        }
    }

    /// The Functions host's identity-based setting for this service's URL.
    fn service_uri_setting(self) -> &'static str {
        match self {
            StorageService::Table => AZURE_WEB_JOBS_STORAGE_TABLE_URI,
            StorageService::Blob => AZURE_WEB_JOBS_STORAGE_BLOB_URI,
        }
    }

    fn bad_endpoint(self) -> &'static str {
        match self {
            StorageService::Table => "TableEndpoint is not a URL",
            StorageService::Blob => "BlobEndpoint is not a URL",
        }
    }

    fn insecure_endpoint(self) -> &'static str {
        match self {
            StorageService::Table => "the table endpoint must be https, or http to loopback",
            StorageService::Blob => "the blob endpoint must be https, or http to loopback",
        }
    }

    fn insecure_service_url(self) -> &'static str {
        match self {
            StorageService::Table => "the table service URL must be https, or http to loopback",
            StorageService::Blob => "the blob service URL must be https, or http to loopback",
        }
    }

    fn service_url_with_query(self) -> &'static str {
        match self {
            StorageService::Table => "a table service URL has no query (SAS is not supported)",
            StorageService::Blob => "a blob service URL has no query (SAS is not supported)",
        }
    }
}

/// How to reach the table service (or, read with [`StorageService::Blob`], the blob service)
/// and sign for it.
#[derive(Clone, PartialEq, Eq)]
pub enum TableConnection {
    /// An account key: requests are signed with it (the ledger's with Shared Key Lite).
    SharedKey {
        /// The account name.
        account: String,
        /// The base64 account key.
        key: Secret,
        /// The account key decoded, the bytes requests are signed with.
        raw: Vec<u8>,
        /// The service endpoint (`https://{account}.table.core.windows.net`, or Azurite's
        /// path-style `http://127.0.0.1:10002/devstoreaccount1`).
        endpoint: Url,
    },
    /// A service URL used with a token source (managed identity).
    Token {
        /// The service endpoint.
        endpoint: Url,
    },
}

impl fmt::Debug for TableConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableConnection::SharedKey {
                account, endpoint, ..
            } => f
                .debug_struct("SharedKey")
                .field("account", account)
                .field("key", &"***")
                .field("endpoint", &redact::url(endpoint, Show::Path))
                .finish(),
            TableConnection::Token { endpoint } => f
                .debug_struct("Token")
                .field("endpoint", &redact::url(endpoint, Show::Path))
                .finish(),
        }
    }
}

/// Which setting a connection came from, and the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSetting {
    /// The setting's name (`AML_LEDGER`, `AzureWebJobsStorage`, ...).
    pub setting: &'static str,
    /// The connection it holds.
    pub connection: TableConnection,
}

impl TableConnection {
    /// Reads `text`: a table service URL (`https://...`: identity) or a connection string
    /// (`UseDevelopmentStorage=true`, or `AccountName=..;AccountKey=..` with
    /// `DefaultEndpointsProtocol`, `EndpointSuffix` or `TableEndpoint`). Errors name
    /// `setting`, never the value.
    pub fn parse(setting: &'static str, text: &str) -> Result<TableConnection, LedgerError> {
        TableConnection::parse_for(StorageService::Table, setting, text)
    }

    /// Reads `text` as [`parse`](Self::parse) does, for `service`: its URL, or from a
    /// connection string its endpoint (`BlobEndpoint` for blobs).
    pub fn parse_for(
        service: StorageService,
        setting: &'static str,
        text: &str,
    ) -> Result<TableConnection, LedgerError> {
        let invalid = |problem| LedgerError::InvalidSetting { setting, problem };
        let text = text.trim();
        if text.starts_with("https://") || text.starts_with("http://") {
            let endpoint = Url::parse(text).map_err(|_| invalid("not a valid URL"))?;
            return TableConnection::token(service, setting, endpoint);
        }
        let mut account = None;
        let mut key = None;
        let mut protocol = None;
        let mut suffix = None;
        let mut service_endpoint = None;
        let mut development = false;
        for part in text
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| invalid("not a URL nor a connection string of name=value pairs"))?;
            match name.trim().to_ascii_lowercase().as_str() {
                "usedevelopmentstorage" => development = value.trim().eq_ignore_ascii_case("true"),
                "accountname" => account = Some(value.trim().to_owned()),
                "accountkey" => key = Some(value.trim().to_owned()),
                "defaultendpointsprotocol" => protocol = Some(value.trim().to_ascii_lowercase()),
                "endpointsuffix" => suffix = Some(value.trim().to_owned()),
                key if key == service.endpoint_key() => {
                    service_endpoint = Some(value.trim().to_owned());
                }
                "sharedaccesssignature" => {
                    return Err(invalid(
                        "shared access signatures are not supported: use an account key or the managed identity",
                    ));
                }
                _ => {}
            }
        }
        if development {
            let endpoint = service_endpoint
                .as_deref()
                .unwrap_or(service.development_endpoint());
            let key = key.unwrap_or_else(|| DEV_KEY.to_owned());
            return Ok(TableConnection::SharedKey {
                account: account.unwrap_or_else(|| DEV_ACCOUNT.to_owned()),
                raw: decode_key(&key).ok_or_else(|| invalid("AccountKey is not base64"))?,
                key: Secret::new(key),
                endpoint: Url::parse(endpoint).map_err(|_| invalid(service.bad_endpoint()))?,
            });
        }
        let account = account
            .filter(|account| !account.is_empty())
            .ok_or_else(|| invalid("the connection string has no AccountName"))?;
        let key = key
            .filter(|key| !key.is_empty())
            .ok_or_else(|| invalid("the connection string has no AccountKey"))?;
        let raw = decode_key(&key).ok_or_else(|| invalid("AccountKey is not base64"))?;
        let endpoint = match service_endpoint {
            Some(endpoint) => Url::parse(&endpoint).map_err(|_| invalid(service.bad_endpoint()))?,
            None => {
                let protocol = protocol.unwrap_or_else(|| "https".to_owned());
                let suffix = suffix.unwrap_or_else(|| "core.windows.net".to_owned());
                let label = service.label();
                Url::parse(&format!("{protocol}://{account}.{label}.{suffix}"))
                    .map_err(|_| invalid("AccountName or EndpointSuffix do not make a URL"))?
            }
        };
        if !is_token_safe(&endpoint) {
            return Err(invalid(service.insecure_endpoint()));
        }
        Ok(TableConnection::SharedKey {
            account,
            key: Secret::new(key),
            raw,
            endpoint,
        })
    }

    fn token(
        service: StorageService,
        setting: &'static str,
        endpoint: Url,
    ) -> Result<TableConnection, LedgerError> {
        let invalid = |problem| LedgerError::InvalidSetting { setting, problem };
        if endpoint.cannot_be_a_base() || endpoint.query().is_some() {
            return Err(invalid(service.service_url_with_query()));
        }
        if !is_token_safe(&endpoint) {
            return Err(invalid(service.insecure_service_url()));
        }
        Ok(TableConnection::Token { endpoint })
    }

    /// The connection the settings name, in the order docs/ledger.md gives, read by `get`:
    /// `AML_LEDGER`, else `AzureWebJobsStorage` (a connection string), else
    /// `AzureWebJobsStorage__tableServiceUri`, else `AzureWebJobsStorage__accountName`
    /// (`https://{name}.table.core.windows.net`). `None` when none is set (the ledger is then
    /// in memory). Empty values count as unset.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<LedgerSetting>, LedgerError> {
        TableConnection::from_lookup_for(StorageService::Table, AML_LEDGER, get)
    }

    /// The connection to `service` the settings name, in the same order as
    /// [`from_lookup`](Self::from_lookup) with `own` (e.g. `AML_LEDGER`) first and the host's
    /// identity-based URL of `service` (`AzureWebJobsStorage__blobServiceUri` for blobs).
    pub fn from_lookup_for(
        service: StorageService,
        own: &'static str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<LedgerSetting>, LedgerError> {
        let get = |name: &str| get(name).filter(|value| !value.trim().is_empty());
        for setting in [own, AZURE_WEB_JOBS_STORAGE] {
            if let Some(text) = get(setting) {
                let connection = TableConnection::parse_for(service, setting, &text)?;
                return Ok(Some(LedgerSetting {
                    setting,
                    connection,
                }));
            }
        }
        let setting = service.service_uri_setting();
        if let Some(text) = get(setting) {
            let endpoint = Url::parse(text.trim()).map_err(|_| LedgerError::InvalidSetting {
                setting,
                problem: "not a valid URL",
            })?;
            let connection = TableConnection::token(service, setting, endpoint)?;
            return Ok(Some(LedgerSetting {
                setting,
                connection,
            }));
        }
        if let Some(name) = get(AZURE_WEB_JOBS_STORAGE_ACCOUNT) {
            let setting = AZURE_WEB_JOBS_STORAGE_ACCOUNT;
            let name = name.trim();
            let valid = name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            let label = service.label();
            let endpoint = Url::parse(&format!("https://{name}.{label}.core.windows.net"))
                .ok()
                .filter(|_| valid)
                .ok_or(LedgerError::InvalidSetting {
                    setting,
                    problem: "not a storage account name (lowercase letters and digits)",
                })?;
            return Ok(Some(LedgerSetting {
                setting,
                connection: TableConnection::Token { endpoint },
            }));
        }
        Ok(None)
    }

    /// The service endpoint.
    pub fn endpoint(&self) -> &Url {
        match self {
            TableConnection::SharedKey { endpoint, .. } | TableConnection::Token { endpoint } => {
                endpoint
            }
        }
    }

    /// Whether requests need a token source (identity-based connection).
    pub fn needs_token(&self) -> bool {
        matches!(self, TableConnection::Token { .. })
    }
}

/// An account key's bytes: Storage keys are standard base64.
fn decode_key(key: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_storage_is_azurite() {
        let connection = TableConnection::parse(AML_LEDGER, "UseDevelopmentStorage=true").unwrap();
        let TableConnection::SharedKey {
            account, endpoint, ..
        } = &connection
        else {
            panic!("{connection:?}")
        };
        assert_eq!(account, DEV_ACCOUNT);
        assert_eq!(endpoint.as_str(), "http://127.0.0.1:10002/devstoreaccount1");
        assert!(!format!("{connection:?}").contains("Eby8"));
    }

    #[test]
    fn account_connection_strings_make_the_table_endpoint() {
        let text = format!(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={DEV_KEY};EndpointSuffix=core.chinacloudapi.cn"
        );
        let connection = TableConnection::parse(AZURE_WEB_JOBS_STORAGE, &text).unwrap();
        assert_eq!(
            connection.endpoint().as_str(),
            "https://acct.table.core.chinacloudapi.cn/"
        );
        assert!(!connection.needs_token());
        let explicit = format!(
            "AccountName=devstoreaccount1;AccountKey={DEV_KEY};TableEndpoint=http://127.0.0.1:5555/devstoreaccount1"
        );
        let connection = TableConnection::parse(AML_LEDGER, &explicit).unwrap();
        assert_eq!(
            connection.endpoint().as_str(),
            "http://127.0.0.1:5555/devstoreaccount1"
        );
    }

    #[test]
    fn the_same_settings_name_the_blob_service() {
        let blob = |text: &str| {
            TableConnection::parse_for(StorageService::Blob, "AML_DEADLETTER", text)
                .unwrap()
                .endpoint()
                .to_string()
        };
        assert_eq!(
            blob("UseDevelopmentStorage=true"),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert_eq!(
            blob(&format!(
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={DEV_KEY};EndpointSuffix=core.windows.net"
            )),
            "https://acct.blob.core.windows.net/"
        );
        // Each service takes its own endpoint from a string that names both.
        let both = format!(
            "AccountName=devstoreaccount1;AccountKey={DEV_KEY};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:2/devstoreaccount1"
        );
        assert_eq!(blob(&both), "http://127.0.0.1:1/devstoreaccount1");
        assert_eq!(
            TableConnection::parse(AML_LEDGER, &both)
                .unwrap()
                .endpoint()
                .as_str(),
            "http://127.0.0.1:2/devstoreaccount1"
        );
        let found =
            TableConnection::from_lookup_for(StorageService::Blob, "AML_DEADLETTER", |name| {
                (name == AZURE_WEB_JOBS_STORAGE_ACCOUNT).then(|| "name".to_owned())
            })
            .unwrap()
            .unwrap();
        assert_eq!(
            found.connection.endpoint().as_str(),
            "https://name.blob.core.windows.net/"
        );
        let found =
            TableConnection::from_lookup_for(StorageService::Blob, "AML_DEADLETTER", |name| {
                [
                    AZURE_WEB_JOBS_STORAGE_BLOB_URI,
                    AZURE_WEB_JOBS_STORAGE_TABLE_URI,
                ]
                .contains(&name)
                .then(|| format!("https://{name}.example"))
            })
            .unwrap()
            .unwrap();
        assert_eq!(found.setting, AZURE_WEB_JOBS_STORAGE_BLOB_URI);
        assert!(found.connection.needs_token());
    }

    #[test]
    fn bad_connection_strings_never_echo_the_value() {
        for text in [
            "AccountName=acct",
            "AccountKey=c2VjcmV0",
            "AccountName=acct;AccountKey=not base64 s3cr3t!",
            "UseDevelopmentStorage=true;AccountKey=not base64 s3cr3t!",
            "AccountName=acct;SharedAccessSignature=sv=s3cr3t",
            "just words s3cr3t",
            "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0",
        ] {
            let error = TableConnection::parse(AML_LEDGER, text).unwrap_err();
            let shown = crate::chain(&error).to_string();
            assert!(
                !shown.contains("s3cr3t") && !shown.contains("c2VjcmV0"),
                "{shown}"
            );
            assert!(!error.is_transient());
        }
    }

    #[test]
    fn settings_are_taken_in_spec_order() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let all: &'static [(&str, &str)] = &[
            (AML_LEDGER, "https://ledger.table.core.windows.net"),
            (AZURE_WEB_JOBS_STORAGE, "UseDevelopmentStorage=true"),
            (
                AZURE_WEB_JOBS_STORAGE_TABLE_URI,
                "https://uri.table.core.windows.net",
            ),
            (AZURE_WEB_JOBS_STORAGE_ACCOUNT, "name"),
        ];
        let found = TableConnection::from_lookup(lookup(all)).unwrap().unwrap();
        assert_eq!(found.setting, AML_LEDGER);
        assert!(found.connection.needs_token());

        let found = TableConnection::from_lookup(lookup(&all[1..]))
            .unwrap()
            .unwrap();
        assert_eq!(found.setting, AZURE_WEB_JOBS_STORAGE);
        assert!(!found.connection.needs_token());

        let found = TableConnection::from_lookup(lookup(&all[2..]))
            .unwrap()
            .unwrap();
        assert_eq!(found.setting, AZURE_WEB_JOBS_STORAGE_TABLE_URI);
        assert_eq!(
            found.connection.endpoint().as_str(),
            "https://uri.table.core.windows.net/"
        );

        let found = TableConnection::from_lookup(lookup(&all[3..]))
            .unwrap()
            .unwrap();
        assert_eq!(found.setting, AZURE_WEB_JOBS_STORAGE_ACCOUNT);
        assert_eq!(
            found.connection.endpoint().as_str(),
            "https://name.table.core.windows.net/"
        );

        assert_eq!(TableConnection::from_lookup(|_| None).unwrap(), None);
        assert_eq!(
            TableConnection::from_lookup(|_| Some(" ".to_owned())).unwrap(),
            None
        );
        let insecure = TableConnection::from_lookup(lookup(&[(
            AZURE_WEB_JOBS_STORAGE_TABLE_URI,
            "http://remote.example.com",
        )]));
        assert!(matches!(
            insecure,
            Err(LedgerError::InvalidSetting {
                setting: AZURE_WEB_JOBS_STORAGE_TABLE_URI,
                ..
            })
        ));
    }
}
