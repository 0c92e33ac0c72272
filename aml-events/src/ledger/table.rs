//! [`TableLedger`]: the ledger in Azure Table storage, the storage account every Functions app
//! already has (SPEC §12), over the Table service REST API.
//!
//! # Why the REST API, not a crate
//! `azure_data_tables` (0.21, checked on crates.io) belongs to the retired unofficial Azure SDK
//! for Rust: it is no longer maintained, pins its own old `azure_core` (a second HTTP pipeline
//! beside the one SPEC §8.3 asks of this crate) and defaults to OpenSSL; the official SDK has
//! no Tables crate. The ledger needs six calls, each a small JSON request, so they are written
//! here with reqwest (rustls) on the crate's retry pipeline.
//! See <https://learn.microsoft.com/rest/api/storageservices/table-service-rest-api>.
//!
//! # Layout
//! - [`TableConnection`]: a connection string (`UseDevelopmentStorage=true` for Azurite,
//!   `AccountName=..;AccountKey=..`) or a table service URL used with a token source;
//!   [`TableConnection::from_lookup`] picks the setting in SPEC §12's order.
//! - [`TableLedger`]: claim = conditional insert, take-over = replace with `If-Match`, complete
//!   = replace with `If-Match`, release = delete with `If-Match`, history and clean = queries.
//! - Auth: Shared Key Lite for the account key (`HMAC-SHA256(key, x-ms-date + "\n" +
//!   "/{account}{path}")`; with Azurite's path-style URLs the account appears twice, which
//!   Azurite checks), or `Authorization: Bearer` with scope [`STORAGE_SCOPE`] (https only, or
//!   http to loopback); `x-ms-version: 2019-02-02`, the first to accept bearer tokens.
//!   See <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key#shared-key-lite-and-table-service-format-for-2009-09-19-and-later>.
//! - The calls: `POST /Tables` (create table), `POST /{table}` (insert entity, `Prefer:
//!   return-no-content`, 409 when it exists), `GET /{table}(PartitionKey='..',RowKey='..')`,
//!   `PUT` of the same with `If-Match` (update entity: 412 when it changed), `DELETE` with
//!   `If-Match`, and `GET /{table}()?$filter=..` (query entities, paged by the
//!   `x-ms-continuation-NextPartitionKey` / `NextRowKey` headers), all on the crate's retry
//!   pipeline within [`TableLedgerOptions::deadline`].
//!   See <https://learn.microsoft.com/rest/api/storageservices/insert-entity>,
//!   <https://learn.microsoft.com/rest/api/storageservices/update-entity2>,
//!   <https://learn.microsoft.com/rest/api/storageservices/delete-entity1>,
//!   <https://learn.microsoft.com/rest/api/storageservices/query-entities>.
//!
//! # The entities
//! One row per effect: `PartitionKey` is the event id, `RowKey` is `source!action!target`,
//! each part encoded (every character but `A-Z a-z 0-9 - _ .` becomes `~XX` per UTF-8 byte),
//! because keys may not hold `/ \ # ?` or control characters; a `RowKey` longer than 512
//! becomes `~h` and its SHA-256. The readable values are properties (`Source`, `EventId`,
//! `Action`, `Target`), with `State` (`claimed`/`done`), `Outcome`, `ClaimedAt`, `DoneAt`
//! (fixed-width RFC 3339 UTC text, so they compare as strings in `$filter`), `Claimant` (this
//! process) and `ClaimId` (this claim: a retried insert or replace that finds its own write
//! recognises it by this id).
//! See <https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#characters-disallowed-in-key-fields>.
//!
//! Staleness is judged on `ClaimedAt`, written with the claimant's clock: instances' clocks
//! agree to well under the lease (twice the delivery deadline).
//!
//! It deliberately does not read the environment: [`TableConnection::from_lookup`] takes a
//! lookup closure from the settings layer.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue},
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::{Claim, ClaimToken, EffectKey, Entry, EntryState, Ledger, LedgerError, LedgerFuture};
use crate::{
    Secret,
    azure::{CachedTokenSource, TokenSource, is_token_safe, retry::RetryPolicy},
    pipeline::{self, Answer, Deadline, Repeat, Retryable},
    redact::{self, Show},
};

/// The scope of Azure Storage tokens.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// The table used when `AML_LEDGER_TABLE` is unset.
pub const DEFAULT_TABLE: &str = "amlhandlers";

/// The ledger's own setting: a connection string or a table service URL.
pub const AML_LEDGER: &str = "AML_LEDGER";
/// The Functions host's storage: a connection string.
pub const AZURE_WEB_JOBS_STORAGE: &str = "AzureWebJobsStorage";
/// The Functions host's identity-based storage: the table service URL.
pub const AZURE_WEB_JOBS_STORAGE_TABLE_URI: &str = "AzureWebJobsStorage__tableServiceUri";
/// The Functions host's identity-based storage: the account name.
pub const AZURE_WEB_JOBS_STORAGE_ACCOUNT: &str = "AzureWebJobsStorage__accountName";

/// Azurite's well-known development account and key (public, documented).
/// See <https://learn.microsoft.com/azure/storage/common/storage-use-azurite#connection-strings>.
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEV_TABLE_ENDPOINT: &str = "http://127.0.0.1:10002/devstoreaccount1";

/// 2019-02-02 is the first version that accepts OAuth bearer tokens for tables.
const API_VERSION: &str = "2019-02-02";

/// How to reach the table service and sign for it.
#[derive(Clone, PartialEq, Eq)]
pub enum TableConnection {
    /// An account key: requests are signed with Shared Key Lite.
    SharedKey {
        /// The account name.
        account: String,
        /// The base64 account key.
        key: Secret,
        /// The table service endpoint (`https://{account}.table.core.windows.net`, or
        /// Azurite's path-style `http://127.0.0.1:10002/devstoreaccount1`).
        endpoint: Url,
    },
    /// A table service URL used with a token source (managed identity).
    Token {
        /// The table service endpoint.
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
        let invalid = |problem| LedgerError::InvalidSetting { setting, problem };
        let text = text.trim();
        if text.starts_with("https://") || text.starts_with("http://") {
            let endpoint = Url::parse(text).map_err(|_| invalid("not a valid URL"))?;
            return TableConnection::token(setting, endpoint);
        }
        let mut account = None;
        let mut key = None;
        let mut protocol = None;
        let mut suffix = None;
        let mut table_endpoint = None;
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
                "tableendpoint" => table_endpoint = Some(value.trim().to_owned()),
                "sharedaccesssignature" => {
                    return Err(invalid(
                        "shared access signatures are not supported: use an account key or the managed identity",
                    ));
                }
                _ => {}
            }
        }
        if development {
            let endpoint = table_endpoint.as_deref().unwrap_or(DEV_TABLE_ENDPOINT);
            return Ok(TableConnection::SharedKey {
                account: account.unwrap_or_else(|| DEV_ACCOUNT.to_owned()),
                key: Secret::new(key.unwrap_or_else(|| DEV_KEY.to_owned())),
                endpoint: Url::parse(endpoint)
                    .map_err(|_| invalid("TableEndpoint is not a URL"))?,
            });
        }
        let account = account
            .filter(|account| !account.is_empty())
            .ok_or_else(|| invalid("the connection string has no AccountName"))?;
        let key = key
            .filter(|key| !key.is_empty())
            .ok_or_else(|| invalid("the connection string has no AccountKey"))?;
        if base64::engine::general_purpose::STANDARD
            .decode(&key)
            .is_err()
        {
            return Err(invalid("AccountKey is not base64"));
        }
        let endpoint = match table_endpoint {
            Some(endpoint) => {
                Url::parse(&endpoint).map_err(|_| invalid("TableEndpoint is not a URL"))?
            }
            None => {
                let protocol = protocol.unwrap_or_else(|| "https".to_owned());
                let suffix = suffix.unwrap_or_else(|| "core.windows.net".to_owned());
                Url::parse(&format!("{protocol}://{account}.table.{suffix}"))
                    .map_err(|_| invalid("AccountName or EndpointSuffix do not make a URL"))?
            }
        };
        if !is_token_safe(&endpoint) {
            return Err(invalid(
                "the table endpoint must be https, or http to loopback",
            ));
        }
        Ok(TableConnection::SharedKey {
            account,
            key: Secret::new(key),
            endpoint,
        })
    }

    fn token(setting: &'static str, endpoint: Url) -> Result<TableConnection, LedgerError> {
        let invalid = |problem| LedgerError::InvalidSetting { setting, problem };
        if endpoint.cannot_be_a_base() || endpoint.query().is_some() {
            return Err(invalid(
                "a table service URL has no query (SAS is not supported)",
            ));
        }
        if !is_token_safe(&endpoint) {
            return Err(invalid(
                "the table service URL must be https, or http to loopback",
            ));
        }
        Ok(TableConnection::Token { endpoint })
    }

    /// The connection SPEC §12 names, from settings read by `get`: `AML_LEDGER`, else
    /// `AzureWebJobsStorage` (a connection string), else
    /// `AzureWebJobsStorage__tableServiceUri`, else `AzureWebJobsStorage__accountName`
    /// (`https://{name}.table.core.windows.net`). `None` when none is set (the ledger is then
    /// in memory). Empty values count as unset.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<LedgerSetting>, LedgerError> {
        let get = |name: &str| get(name).filter(|value| !value.trim().is_empty());
        for setting in [AML_LEDGER, AZURE_WEB_JOBS_STORAGE] {
            if let Some(text) = get(setting) {
                let connection = TableConnection::parse(setting, &text)?;
                return Ok(Some(LedgerSetting {
                    setting,
                    connection,
                }));
            }
        }
        if let Some(text) = get(AZURE_WEB_JOBS_STORAGE_TABLE_URI) {
            let setting = AZURE_WEB_JOBS_STORAGE_TABLE_URI;
            let endpoint = Url::parse(text.trim()).map_err(|_| LedgerError::InvalidSetting {
                setting,
                problem: "not a valid URL",
            })?;
            let connection = TableConnection::token(setting, endpoint)?;
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
            let endpoint = Url::parse(&format!("https://{name}.table.core.windows.net"))
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

    /// The table service endpoint.
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

/// How a [`TableLedger`] calls the table service.
#[derive(Debug, Clone)]
pub struct TableLedgerOptions {
    /// The table (`AML_LEDGER_TABLE`, default [`DEFAULT_TABLE`]).
    pub table: String,
    /// Each ledger operation, with its retries, finishes within this (default 10 s, well
    /// inside a 25 s delivery).
    pub deadline: Duration,
    /// Retries of transient failures (default 3 from 200 ms).
    pub retry: RetryPolicy,
    /// Connect timeout per request (default 3 s).
    pub connect_timeout: Duration,
    /// Timeout per request (default 5 s).
    pub request_timeout: Duration,
}

impl Default for TableLedgerOptions {
    fn default() -> Self {
        TableLedgerOptions {
            table: DEFAULT_TABLE.to_owned(),
            deadline: Duration::from_secs(10),
            retry: RetryPolicy {
                max_retries: 3,
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(2),
            },
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
        }
    }
}

enum Auth {
    SharedKey {
        account: String,
        key: Secret,
        raw: Vec<u8>,
    },
    Token(CachedTokenSource),
}

/// The ledger in an Azure Table. Cheap to share behind an `Arc<dyn Ledger>`; each instance is
/// one claimant (a random id), as each process is.
pub struct TableLedger {
    http: reqwest::Client,
    endpoint: Url,
    table: String,
    auth: Auth,
    options: TableLedgerOptions,
    claimant: String,
    table_ready: tokio::sync::OnceCell<()>,
}

impl fmt::Debug for TableLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableLedger")
            .field("endpoint", &self.shown())
            .field("table", &self.table)
            .field("claimant", &self.claimant)
            .finish_non_exhaustive()
    }
}

/// How a claim is written: a new entity, or over a stale one, if it is still the one read.
enum ClaimWrite {
    Insert,
    TakeOver { etag: String },
}

/// One request to the table service.
struct Call {
    operation: &'static str,
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    if_match: Option<String>,
    repeat: Repeat,
}

impl Retryable for LedgerError {
    fn retryable(&self, repeat: Repeat) -> bool {
        match self {
            LedgerError::Transport { source, .. } => repeat.retries_transport(source),
            LedgerError::Credential(source) => source.is_transient(),
            _ => false,
        }
    }
}

/// What a read entity says about its claim.
struct Stored {
    etag: String,
    state: EntryState,
    outcome: Option<String>,
    claimed_at: SystemTime,
    done_at: Option<SystemTime>,
    claim_id: String,
}

impl TableLedger {
    /// A ledger on `connection`'s table service. `tokens` is required for
    /// [`TableConnection::Token`] (wrapped in a [`CachedTokenSource`], scope
    /// [`STORAGE_SCOPE`]) and ignored otherwise. Nothing is sent until the first call, which
    /// creates the table if it is missing.
    pub fn new(
        connection: TableConnection,
        tokens: Option<Arc<dyn TokenSource>>,
        options: TableLedgerOptions,
    ) -> Result<TableLedger, LedgerError> {
        if !valid_table_name(&options.table) {
            return Err(LedgerError::InvalidSetting {
                setting: "AML_LEDGER_TABLE",
                problem: "a table name is 3 to 63 letters and digits, starting with a letter",
            });
        }
        let (endpoint, auth) = match connection {
            TableConnection::SharedKey {
                account,
                key,
                endpoint,
            } => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(key.expose())
                    .map_err(|_| LedgerError::InvalidSetting {
                        setting: AML_LEDGER,
                        problem: "AccountKey is not base64",
                    })?;
                (endpoint, Auth::SharedKey { account, key, raw })
            }
            TableConnection::Token { endpoint } => {
                let tokens = tokens.ok_or(LedgerError::InvalidSetting {
                    setting: AML_LEDGER,
                    problem: "a table service URL needs the managed identity",
                })?;
                (endpoint, Auth::Token(CachedTokenSource::new(tokens)))
            }
        };
        if !is_token_safe(&endpoint) {
            return Err(LedgerError::InvalidSetting {
                setting: AML_LEDGER,
                problem: "the table endpoint must be https, or http to loopback",
            });
        }
        // The signature covers one URL; a redirect can only be a misconfiguration.
        let http = pipeline::client_following_no_redirect(
            options.connect_timeout,
            options.request_timeout,
            concat!("aml-events/", env!("CARGO_PKG_VERSION")),
        )
        .map_err(LedgerError::Http)?;
        Ok(TableLedger {
            http,
            endpoint,
            table: options.table.clone(),
            auth,
            options,
            claimant: uuid::Uuid::new_v4().to_string(),
            table_ready: tokio::sync::OnceCell::new(),
        })
    }

    /// This instance's claimant id, stored in the entities it claims.
    pub fn claimant(&self) -> &str {
        &self.claimant
    }

    fn shown(&self) -> String {
        redact::url(&self.endpoint, Show::Path)
    }

    /// `{endpoint}/{path}`, `path` already safe (encoded keys only use URL-safe characters).
    fn url(&self, path: &str) -> Url {
        let base = self.endpoint.as_str().trim_end_matches('/');
        // The endpoint is a valid URL and `path` holds only URL-safe characters.
        Url::parse(&format!("{base}/{path}")).unwrap_or_else(|_| self.endpoint.clone())
    }

    fn entity_url(&self, partition: &str, row: &str) -> Url {
        self.url(&format!(
            "{}(PartitionKey='{partition}',RowKey='{row}')",
            self.table
        ))
    }

    async fn send(&self, call: &Call) -> Result<Answer, LedgerError> {
        let operation = call.operation;
        let endpoint = self.shown();
        let request = pipeline::Request {
            operation,
            repeat: call.repeat,
            policy: &self.options.retry,
            deadline: Deadline::starting_now(self.options.deadline, None),
            answered: &|answer: Answer| status_error(operation, &endpoint, &answer, &[self.key()]),
            too_late: &|budget, last: Option<LedgerError>| LedgerError::DeadlineExceeded {
                operation,
                budget,
                last: last.map(Box::new),
            },
        };
        pipeline::send(request, || self.attempt(call)).await
    }

    async fn attempt(&self, call: &Call) -> Result<Answer, LedgerError> {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("DataServiceVersion", "3.0;NetFx")
            .header("MaxDataServiceVersion", "3.0;NetFx")
            .header(ACCEPT, "application/json;odata=minimalmetadata");
        match &self.auth {
            Auth::SharedKey { account, raw, .. } => {
                let resource = format!("/{account}{}", call.url.path());
                let signature = sign(raw, &format!("{date}\n{resource}"));
                let mut value =
                    HeaderValue::from_str(&format!("SharedKeyLite {account}:{signature}"))
                        .map_err(|_| LedgerError::InvalidSetting {
                            setting: AML_LEDGER,
                            problem: "AccountName is not a valid header value",
                        })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            Auth::Token(tokens) => {
                let token = tokens
                    .token(STORAGE_SCOPE)
                    .await
                    .map_err(LedgerError::Credential)?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.token.expose()))
                    .map_err(|_| LedgerError::Malformed {
                        operation: call.operation,
                        problem: "the storage token is not a valid header value",
                    })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
        }
        if let Some(etag) = &call.if_match {
            request = request.header("If-Match", etag);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .header("Prefer", "return-no-content")
                .body(body.clone());
        }
        Answer::fetch(request)
            .await
            .map_err(|source| LedgerError::Transport {
                operation: call.operation,
                endpoint: self.shown(),
                source: source.without_url(),
            })
    }

    fn fail(&self, operation: &'static str, answer: &Answer) -> LedgerError {
        status_error(operation, &self.shown(), answer, &[self.key()])
    }

    /// The account key's text, for redaction ("" with a token).
    fn key(&self) -> &str {
        match &self.auth {
            Auth::SharedKey { key, .. } => key.expose(),
            Auth::Token(_) => "",
        }
    }

    /// Creates the table on the first call of this instance (one per process);
    /// `TableAlreadyExists` (409) is success.
    /// See <https://learn.microsoft.com/rest/api/storageservices/create-table>.
    async fn ensure_table(&self) -> Result<(), LedgerError> {
        self.table_ready
            .get_or_try_init(|| async {
                let body =
                    serde_json::to_vec(&json!({ "TableName": self.table })).unwrap_or_default();
                let call = Call {
                    operation: "create table",
                    method: Method::POST,
                    url: self.url("Tables"),
                    body: Some(body),
                    if_match: None,
                    // Creating twice is harmless: the second finds it (409).
                    repeat: Repeat::Idempotent,
                };
                let answer = self.send(&call).await?;
                match answer.status.as_u16() {
                    200..=299 | 409 => Ok(()),
                    _ => Err(self.fail(call.operation, &answer)),
                }
            })
            .await
            .map(|_| ())
    }

    async fn read(&self, key: &EffectKey) -> Result<Option<Stored>, LedgerError> {
        let (partition, row) = keys(key);
        let call = Call {
            operation: "read claim",
            method: Method::GET,
            url: self.entity_url(&partition, &row),
            body: None,
            if_match: None,
            repeat: Repeat::Idempotent,
        };
        let answer = self.send(&call).await?;
        match answer.status {
            StatusCode::OK => {
                let value: Value =
                    serde_json::from_slice(&answer.body).map_err(|_| LedgerError::Malformed {
                        operation: call.operation,
                        problem: "the entity is not JSON",
                    })?;
                let etag = answer
                    .header("etag")
                    .map(str::to_owned)
                    .or_else(|| text(&value, "odata.etag"))
                    .ok_or(LedgerError::Malformed {
                        operation: call.operation,
                        problem: "no ETag",
                    })?;
                stored(&value, etag)
                    .map(Some)
                    .ok_or(LedgerError::Malformed {
                        operation: call.operation,
                        problem: "the entity lacks State or ClaimedAt",
                    })
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    fn entity(
        &self,
        key: &EffectKey,
        claim_id: &str,
        claimed_at: SystemTime,
    ) -> Map<String, Value> {
        let (partition, row) = keys(key);
        let mut entity = Map::new();
        entity.insert("PartitionKey".into(), partition.into());
        entity.insert("RowKey".into(), row.into());
        entity.insert("Source".into(), key.source.clone().into());
        entity.insert("EventId".into(), key.event_id.clone().into());
        entity.insert("Action".into(), key.action.clone().into());
        entity.insert("Target".into(), key.target.clone().into());
        entity.insert("State".into(), "claimed".into());
        entity.insert("ClaimedAt".into(), format_time(claimed_at).into());
        entity.insert("Claimant".into(), self.claimant.clone().into());
        entity.insert("ClaimId".into(), claim_id.into());
        entity
    }

    async fn claim_now(&self, key: &EffectKey, lease: Duration) -> Result<Claim, LedgerError> {
        self.ensure_table().await?;
        let claim_id = uuid::Uuid::new_v4().to_string();
        // A few rounds: an entity can vanish (released, cleaned) or be taken over between our
        // insert, read and replace; each round starts from what the table says.
        for _ in 0..4 {
            if let Some(acquired) = self.write_claim(key, &claim_id, ClaimWrite::Insert).await? {
                return Ok(acquired);
            }
            let Some(found) = self.read(key).await? else {
                continue;
            };
            if found.claim_id == claim_id {
                return Ok(Claim::Acquired(ClaimToken::new(
                    key.clone(),
                    found.claimed_at,
                    claim_id,
                    found.etag,
                )));
            }
            if found.state == EntryState::Done {
                return Ok(Claim::Done {
                    outcome: found.outcome.unwrap_or_default(),
                    at: found.done_at.unwrap_or(found.claimed_at),
                });
            }
            let age = SystemTime::now()
                .duration_since(found.claimed_at)
                .unwrap_or_default();
            if age < lease {
                return Ok(Claim::HeldElsewhere {
                    since: found.claimed_at,
                });
            }
            // Stale: take it over only if it is still the claim we read.
            let take_over = ClaimWrite::TakeOver { etag: found.etag };
            if let Some(acquired) = self.write_claim(key, &claim_id, take_over).await? {
                return Ok(acquired);
            }
        }
        Err(LedgerError::Malformed {
            operation: "claim",
            problem: "the entry kept changing under the claim",
        })
    }

    /// Writes our claim on `key` as `write` says. The claim is ours on a 2xx; `None` when the
    /// answer says another entity stands there (the next round reads it); an error otherwise.
    async fn write_claim(
        &self,
        key: &EffectKey,
        claim_id: &str,
        write: ClaimWrite,
    ) -> Result<Option<Claim>, LedgerError> {
        let now = SystemTime::now();
        let body = Some(serde_json::to_vec(&self.entity(key, claim_id, now)).unwrap_or_default());
        let (call, contested): (Call, &[u16]) = match write {
            ClaimWrite::Insert => (
                Call {
                    operation: "claim",
                    method: Method::POST,
                    url: self.url(&self.table),
                    body,
                    if_match: None,
                    // Conditional: a retry that finds 409 reads the entity and recognises its
                    // own insert by the claim id.
                    repeat: Repeat::Idempotent,
                },
                // The entity exists already.
                &[409],
            ),
            ClaimWrite::TakeOver { etag } => {
                let (partition, row) = keys(key);
                (
                    Call {
                        operation: "take over claim",
                        method: Method::PUT,
                        url: self.entity_url(&partition, &row),
                        body,
                        if_match: Some(etag),
                        repeat: Repeat::Idempotent,
                    },
                    // Someone else changed or removed it first (or our own retried replace
                    // succeeded).
                    &[404, 412],
                )
            }
        };
        let answer = self.send(&call).await?;
        match answer.status.as_u16() {
            200..=299 => {
                let etag = etag_of(&answer, call.operation)?;
                let token = ClaimToken::new(key.clone(), now, claim_id.to_owned(), etag);
                Ok(Some(Claim::Acquired(token)))
            }
            status if contested.contains(&status) => Ok(None),
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    async fn complete_now(&self, token: &ClaimToken, outcome: &str) -> Result<(), LedgerError> {
        let key = token.key();
        let mut entity = self.entity(key, token.claim_id(), token.claimed_at());
        entity.insert("State".into(), "done".into());
        entity.insert("Outcome".into(), outcome.into());
        entity.insert("DoneAt".into(), format_time(SystemTime::now()).into());
        let (partition, row) = keys(key);
        let call = Call {
            operation: "complete claim",
            method: Method::PUT,
            url: self.entity_url(&partition, &row),
            body: Some(serde_json::to_vec(&entity).unwrap_or_default()),
            if_match: Some(token.etag().to_owned()),
            repeat: Repeat::Idempotent,
        };
        let answer = self.send(&call).await?;
        match answer.status.as_u16() {
            200..=299 => Ok(()),
            404 | 412 => match self.read(key).await? {
                // Our own earlier attempt went through before its answer was lost.
                Some(found)
                    if found.claim_id == token.claim_id() && found.state == EntryState::Done =>
                {
                    Ok(())
                }
                _ => Err(LedgerError::ClaimLost { key: key.clone() }),
            },
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    async fn release_now(&self, token: &ClaimToken) -> Result<(), LedgerError> {
        let (partition, row) = keys(token.key());
        let call = Call {
            operation: "release claim",
            method: Method::DELETE,
            url: self.entity_url(&partition, &row),
            body: None,
            if_match: Some(token.etag().to_owned()),
            repeat: Repeat::Idempotent,
        };
        let answer = self.send(&call).await?;
        match answer.status.as_u16() {
            // Gone, or no longer ours (taken over): nothing to give back.
            200..=299 | 404 | 412 => Ok(()),
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    /// Every entity matching `filter`, following continuation headers, at most `limit`.
    async fn query(
        &self,
        operation: &'static str,
        filter: Option<String>,
        select: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Value>, LedgerError> {
        let mut found = Vec::new();
        let mut next: Option<(String, String)> = None;
        loop {
            let mut url = self.url(&format!("{}()", self.table));
            {
                let mut query = url.query_pairs_mut();
                if let Some(filter) = &filter {
                    query.append_pair("$filter", filter);
                }
                if let Some(select) = select {
                    query.append_pair("$select", select);
                }
                let page = limit.saturating_sub(found.len()).min(1000);
                query.append_pair("$top", &page.to_string());
                if let Some((partition, row)) = &next {
                    query.append_pair("NextPartitionKey", partition);
                    query.append_pair("NextRowKey", row);
                }
            }
            let call = Call {
                operation,
                method: Method::GET,
                url,
                body: None,
                if_match: None,
                repeat: Repeat::Idempotent,
            };
            let answer = self.send(&call).await?;
            if answer.status != StatusCode::OK {
                return Err(self.fail(operation, &answer));
            }
            let page: Value =
                serde_json::from_slice(&answer.body).map_err(|_| LedgerError::Malformed {
                    operation,
                    problem: "the query answer is not JSON",
                })?;
            if let Some(Value::Array(values)) = page.get("value") {
                found.extend(values.iter().cloned());
            }
            next = match (
                answer.header("x-ms-continuation-NextPartitionKey"),
                answer.header("x-ms-continuation-NextRowKey"),
            ) {
                (Some(partition), row) => {
                    Some((partition.to_owned(), row.unwrap_or_default().to_owned()))
                }
                _ => None,
            };
            if next.is_none() || found.len() >= limit {
                found.truncate(limit);
                return Ok(found);
            }
        }
    }

    async fn history_now(
        &self,
        since: Option<SystemTime>,
        event_id: Option<&str>,
    ) -> Result<Vec<Entry>, LedgerError> {
        self.ensure_table().await?;
        let mut clauses = Vec::new();
        if let Some(event_id) = event_id {
            clauses.push(format!("PartitionKey eq '{}'", encode(event_id)));
        }
        if let Some(since) = since {
            clauses.push(format!("ClaimedAt ge '{}'", format_time(since)));
        }
        let filter = (!clauses.is_empty()).then(|| clauses.join(" and "));
        let values = self.query("history", filter, None, usize::MAX).await?;
        let mut entries: Vec<Entry> = values.iter().filter_map(entry).collect();
        entries.sort_by(|a, b| {
            a.claimed_at
                .cmp(&b.claimed_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(entries)
    }

    async fn clean_now(
        &self,
        older_than: SystemTime,
        max_entries: usize,
    ) -> Result<usize, LedgerError> {
        if max_entries == 0 {
            return Ok(0);
        }
        self.ensure_table().await?;
        let filter = format!("ClaimedAt lt '{}'", format_time(older_than));
        let old = self
            .query(
                "clean",
                Some(filter),
                Some("PartitionKey,RowKey"),
                max_entries,
            )
            .await?;
        let mut removed = 0;
        for value in &old {
            let (Some(partition), Some(row), Some(etag)) = (
                text(value, "PartitionKey"),
                text(value, "RowKey"),
                text(value, "odata.etag"),
            ) else {
                continue;
            };
            let call = Call {
                operation: "clean",
                method: Method::DELETE,
                url: self.entity_url(&partition, &row),
                body: None,
                // Only the entry as it was found: one taken over since is not old.
                if_match: Some(etag),
                repeat: Repeat::Idempotent,
            };
            let answer = self.send(&call).await?;
            match answer.status.as_u16() {
                200..=299 => removed += 1,
                404 | 412 => {}
                _ => return Err(self.fail(call.operation, &answer)),
            }
        }
        Ok(removed)
    }
}

impl Ledger for TableLedger {
    fn claim<'a>(&'a self, key: &'a EffectKey, lease: Duration) -> LedgerFuture<'a, Claim> {
        Box::pin(self.claim_now(key, lease))
    }

    fn complete<'a>(&'a self, token: &'a ClaimToken, outcome: &'a str) -> LedgerFuture<'a, ()> {
        Box::pin(self.complete_now(token, outcome))
    }

    fn release<'a>(&'a self, token: &'a ClaimToken) -> LedgerFuture<'a, ()> {
        Box::pin(self.release_now(token))
    }

    fn history<'a>(
        &'a self,
        since: Option<SystemTime>,
        event_id: Option<&'a str>,
    ) -> LedgerFuture<'a, Vec<Entry>> {
        Box::pin(self.history_now(since, event_id))
    }

    fn clean(&self, older_than: SystemTime, max_entries: usize) -> LedgerFuture<'_, usize> {
        Box::pin(self.clean_now(older_than, max_entries))
    }

    fn describe(&self) -> String {
        format!("Azure Table {} at {}", self.table, self.shown())
    }
}

/// `base64(HMAC-SHA256(key, text))`.
fn sign(key: &[u8], text: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Table names: 3 to 63 alphanumeric characters, starting with a letter.
/// See <https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#table-names>.
fn valid_table_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A key part with every character but `A-Z a-z 0-9 - _ .` as `~XX` per UTF-8 byte: no `/ \
/// # ?`, no control characters, no quote, nothing a URL path changes, and never `!` (the
/// separator).
pub(crate) fn encode(part: &str) -> String {
    let mut encoded = String::with_capacity(part.len());
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("~{byte:02X}"));
        }
    }
    encoded
}

/// The longest `RowKey` kept readable; the limit is 1 KiB.
const MAX_READABLE_ROW_KEY: usize = 512;

/// `(PartitionKey, RowKey)` of an effect.
fn keys(key: &EffectKey) -> (String, String) {
    let row = format!(
        "{}!{}!{}",
        encode(&key.source),
        encode(&key.action),
        encode(&key.target)
    );
    let row = if row.len() > MAX_READABLE_ROW_KEY {
        let digest = Sha256::digest(row.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("~h{hex}")
    } else {
        row
    };
    let mut partition = encode(&key.event_id);
    if partition.len() > MAX_READABLE_ROW_KEY {
        let digest = Sha256::digest(partition.as_bytes());
        partition = format!(
            "~h{}",
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }
    (partition, row)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC: fixed width, so text order is time order.
fn format_time(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

fn parse_time(text: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

fn text(value: &Value, name: &str) -> Option<String> {
    value.get(name)?.as_str().map(str::to_owned)
}

fn state(value: &Value) -> Option<EntryState> {
    match value.get("State")?.as_str()? {
        "claimed" => Some(EntryState::Claimed),
        "done" => Some(EntryState::Done),
        _ => None,
    }
}

fn stored(value: &Value, etag: String) -> Option<Stored> {
    Some(Stored {
        etag,
        state: state(value)?,
        outcome: text(value, "Outcome"),
        claimed_at: parse_time(&text(value, "ClaimedAt")?)?,
        done_at: text(value, "DoneAt").as_deref().and_then(parse_time),
        claim_id: text(value, "ClaimId").unwrap_or_default(),
    })
}

fn entry(value: &Value) -> Option<Entry> {
    Some(Entry {
        key: EffectKey {
            source: text(value, "Source").unwrap_or_default(),
            event_id: text(value, "EventId").unwrap_or_default(),
            action: text(value, "Action").unwrap_or_default(),
            target: text(value, "Target").unwrap_or_default(),
        },
        state: state(value)?,
        outcome: text(value, "Outcome"),
        claimed_at: parse_time(&text(value, "ClaimedAt")?)?,
        done_at: text(value, "DoneAt").as_deref().and_then(parse_time),
    })
}

/// The most of a service message an error keeps.
const MAX_MESSAGE_CHARS: usize = 200;

/// The service's refusal: its `odata.error` code and message, with anything that looks like a
/// key, signature or token masked (a `AuthenticationFailed` message quotes the signature).
fn status_error(
    operation: &'static str,
    endpoint: &str,
    answer: &Answer,
    secrets: &[&str],
) -> LedgerError {
    let body: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let error = body.as_ref().and_then(|body| body.get("odata.error"));
    let code = error.and_then(|error| text(error, "code"));
    let message = error
        .and_then(|error| error.get("message"))
        .and_then(|message| message.get("value").or(Some(message)))
        .and_then(Value::as_str)
        .map(|message| {
            let first = message.lines().next().unwrap_or_default();
            redact::text(&mask_key_like(first), secrets, MAX_MESSAGE_CHARS)
        });
    LedgerError::Status {
        operation,
        endpoint: endpoint.to_owned(),
        status: answer.status.as_u16(),
        code,
        message,
    }
}

/// `text` with every run of 24 or more base64 characters replaced by [`redact::MASK`]: account
/// keys, HMAC signatures and token segments are such runs; words and ids are not.
fn mask_key_like(text: &str) -> String {
    let is_key_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    let mut shown = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, shown: &mut String| {
        if run.len() >= 24 {
            shown.push_str(redact::MASK);
        } else {
            shown.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_key_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut shown);
            shown.push(c);
        }
    }
    flush(&mut run, &mut shown);
    shown
}

/// The ETag of a write Azure accepted: what a later conditional write or delete needs.
fn etag_of(answer: &Answer, operation: &'static str) -> Result<String, LedgerError> {
    answer
        .header("etag")
        .map(str::to_owned)
        .ok_or(LedgerError::Malformed {
            operation,
            problem: "no ETag",
        })
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
    fn bad_connection_strings_never_echo_the_value() {
        for text in [
            "AccountName=acct",
            "AccountKey=c2VjcmV0",
            "AccountName=acct;AccountKey=not base64 s3cr3t!",
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

    #[test]
    fn keys_hold_no_reserved_characters_and_stay_distinct() {
        let key = EffectKey::new("/subs/x#y?z\\w", "id/1", "notify", "a!b");
        let (partition, row) = keys(&key);
        for key in [&partition, &row] {
            assert!(!key.contains(['/', '\\', '#', '?', '\'']), "{key}");
            assert!(!key.chars().any(char::is_control), "{key}");
        }
        assert_eq!(partition, "id~2F1");
        assert_eq!(row.matches('!').count(), 2, "{row}");
        let other = EffectKey::new("/subs/x#y?z\\w", "id/1", "notify!a", "b");
        assert_ne!(keys(&other).1, row);
        let long = EffectKey::new("s".repeat(2000), "e", "notify", "t");
        let (_, row) = keys(&long);
        assert!(row.starts_with("~h") && row.len() == 66, "{row}");
    }

    #[test]
    fn times_are_fixed_width_and_round_trip() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let text = format_time(at);
        assert_eq!(text, "2023-11-14T22:13:20.123456Z");
        assert_eq!(parse_time(&text), Some(at));
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert!(format_time(whole) < text);
    }

    #[test]
    fn key_like_runs_are_masked() {
        let message = format!(
            "Server failed to authenticate the request. The MAC signature found in the HTTP request 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=' is not the same; key {DEV_KEY}"
        );
        let masked = mask_key_like(&message);
        assert!(
            !masked.contains("AbCdEf") && !masked.contains("Eby8"),
            "{masked}"
        );
        assert!(masked.starts_with("Server failed to authenticate the request."));
    }

    #[test]
    fn shared_key_lite_signature_matches_the_documented_form() {
        // HMAC-SHA256 of a known string with a known key, checked with openssl:
        // printf 'Mon, 01 Jan 2024 00:00:00 GMT\n/devstoreaccount1/devstoreaccount1/Tables' |
        //   openssl dgst -sha256 -mac HMAC -macopt hexkey:<key as hex> -binary | base64
        let key = base64::engine::general_purpose::STANDARD
            .decode(DEV_KEY)
            .unwrap();
        let signature = sign(
            &key,
            "Mon, 01 Jan 2024 00:00:00 GMT\n/devstoreaccount1/devstoreaccount1/Tables",
        );
        assert_eq!(signature, "13UOPPE/P1+LLsRFYJCHphuPCEQ21EO/4WbbW+OXG4U=");
    }
}
