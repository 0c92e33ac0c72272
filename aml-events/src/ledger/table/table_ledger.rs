//! [`TableLedger`]: what a ledger in Azure Table storage holds (its client, endpoint, table,
//! credentials and claimant id) and how it is built from a [`TableConnection`] and
//! [`TableLedgerOptions`]. Its operations live beside it (`operations`), on the requests of
//! `rest`.

use std::{fmt, sync::Arc, time::Duration};

use url::Url;

use super::{
    auth::Auth,
    connection::{AML_LEDGER, AML_LEDGER_TABLE, TableConnection},
    keys::valid_table_name,
};
use crate::{
    azure::{CachedTokenSource, TokenSource, is_token_safe, retry::RetryPolicy},
    ledger::LedgerError,
    pipeline,
    transport::{HttpTransport, Transport},
};

/// The table used when `AML_LEDGER_TABLE` is unset.
pub const DEFAULT_TABLE: &str = "amlhandlers";

/// How a [`TableLedger`] calls the table service.
#[derive(Debug, Clone)]
pub struct TableLedgerOptions {
    /// The table (`AML_LEDGER_TABLE`, default [`DEFAULT_TABLE`]).
    pub table: String,
    /// Each ledger operation, with its retries, finishes within this (default 10 s, well
    /// inside a 25 s delivery); a claim also by the delivery's deadline when that is sooner.
    /// A query has it for each page.
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

/// The ledger in an Azure Table. Cheap to share behind an `Arc<dyn Ledger>`; each instance is
/// one claimant (a random id), as each process is.
pub struct TableLedger {
    /// Builds the requests (its settings matter only when it is also the transport).
    pub(super) http: reqwest::Client,
    /// Sends them.
    pub(super) transport: Arc<dyn Transport>,
    pub(super) endpoint: Url,
    pub(super) table: String,
    pub(super) auth: Auth,
    pub(super) options: TableLedgerOptions,
    pub(super) claimant: String,
    pub(super) table_ready: tokio::sync::OnceCell<()>,
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

impl TableLedger {
    /// A ledger on `connection`'s table service. `tokens` is required for
    /// [`TableConnection::Token`] (wrapped in a [`CachedTokenSource`], scope
    /// [`STORAGE_SCOPE`](super::STORAGE_SCOPE)) and ignored otherwise. Nothing is sent until the first call, which
    /// creates the table if it is missing.
    pub fn new(
        connection: TableConnection,
        tokens: Option<Arc<dyn TokenSource>>,
        options: TableLedgerOptions,
    ) -> Result<TableLedger, LedgerError> {
        let transport = Arc::new(TableLedger::http_transport(&options)?);
        TableLedger::with_transport(connection, tokens, options, transport)
    }

    /// The transport [`TableLedger::new`] sends with for `options` (it follows no redirect and
    /// times each request), for a caller that wraps it (a header added to every request) and
    /// hands the wrapper to [`TableLedger::with_transport`].
    pub fn http_transport(options: &TableLedgerOptions) -> Result<HttpTransport, LedgerError> {
        Ok(HttpTransport::new(http_client(options)?))
    }

    /// A ledger like [`TableLedger::new`]'s that sends every request through `transport`.
    pub fn with_transport(
        connection: TableConnection,
        tokens: Option<Arc<dyn TokenSource>>,
        options: TableLedgerOptions,
        transport: Arc<dyn Transport>,
    ) -> Result<TableLedger, LedgerError> {
        if !valid_table_name(&options.table) {
            return Err(LedgerError::InvalidSetting {
                setting: AML_LEDGER_TABLE,
                problem: "a table name is 3 to 63 letters and digits, starting with a letter",
            });
        }
        let (endpoint, auth) = match connection {
            TableConnection::SharedKey {
                account,
                key,
                raw,
                endpoint,
            } => (endpoint, Auth::SharedKey { account, key, raw }),
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
        Ok(TableLedger {
            http: http_client(&options)?,
            transport,
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
}

/// The ledger's HTTP client. The signature covers one URL; a redirect can only be a
/// misconfiguration.
fn http_client(options: &TableLedgerOptions) -> Result<reqwest::Client, LedgerError> {
    pipeline::client_following_no_redirect(
        options.connect_timeout,
        options.request_timeout,
        concat!("aml-events/", env!("CARGO_PKG_VERSION")),
    )
    .map_err(LedgerError::Http)
}
