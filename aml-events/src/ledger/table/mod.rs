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
//! - `connection.rs`: [`TableConnection`], a connection string (`UseDevelopmentStorage=true`
//!   for Azurite, `AccountName=..;AccountKey=..`) or a table service URL used with a token
//!   source; [`TableConnection::from_lookup`] picks the setting in SPEC §12's order.
//! - `mod.rs` (here): [`TableLedger`]: claim = conditional insert, take-over = replace with
//!   `If-Match`, complete = replace with `If-Match`, release = delete with `If-Match`, history
//!   and clean = queries; and how an entity reads back.
//! - `keys.rs`: an effect's `PartitionKey` and `RowKey`, and the times written in entities.
//! - `rest.rs`: one request, signed and sent. Auth: Shared Key Lite for the account key
//!   (`HMAC-SHA256(key, x-ms-date + "\n" + "/{account}{path}")`; with Azurite's path-style
//!   URLs the account appears twice, which Azurite checks), or `Authorization: Bearer` with
//!   scope [`STORAGE_SCOPE`] (https only, or http to loopback); `x-ms-version: 2019-02-02`, the
//!   first to accept bearer tokens.
//!   See <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key#shared-key-lite-and-table-service-format-for-2009-09-19-and-later>.
//! - `error.rs`: the service's refusals as [`LedgerError`]s, key-like text masked.
//!
//! The calls: `POST /Tables` (create table), `POST /{table}` (insert entity, `Prefer:
//! return-no-content`, 409 when it exists), `GET /{table}(PartitionKey='..',RowKey='..')`,
//! `PUT` of the same with `If-Match` (update entity: 412 when it changed), `DELETE` with
//! `If-Match`, and `GET /{table}()?$filter=..&$select=..` (query entities, paged by the
//! `x-ms-continuation-NextPartitionKey` / `NextRowKey` headers, one page held at a time:
//! history keeps only the newest `limit` in a heap), all on the crate's retry pipeline within
//! [`TableLedgerOptions::deadline`], and a claim's also within the delivery's deadline.
//! See <https://learn.microsoft.com/rest/api/storageservices/insert-entity>,
//! <https://learn.microsoft.com/rest/api/storageservices/update-entity2>,
//! <https://learn.microsoft.com/rest/api/storageservices/delete-entity1>,
//! <https://learn.microsoft.com/rest/api/storageservices/query-entities>.
//!
//! # The entities
//! One row per effect: `PartitionKey` is the event id, `RowKey` is `source!action!target`,
//! each part encoded (every character but `A-Z a-z 0-9 - _ .` becomes `~XX` per UTF-8 byte),
//! because keys may not hold `/ \ # ?` or control characters; a key longer than 512 becomes
//! `~h` and its SHA-256 (the history's event filter is built by the same function, so a long
//! id is found). The readable values are properties (`Source`, `EventId`, `Action`,
//! `Target`), with `State` (`claimed`/`done`), `Outcome` ([`Recorded::to_text`]: JSON of at
//! most 4 KiB, where the service refuses a property over 64 KiB), `ClaimedAt`, `DoneAt`
//! (fixed-width RFC 3339 UTC text, so they compare as strings in `$filter`), `Claimant` (this
//! process) and `ClaimId` (this claim: a retried insert or replace that finds its own write
//! recognises it by this id).
//! See <https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#characters-disallowed-in-key-fields>.
//!
//! Staleness is judged by the table service's clock, never an instance's: a claim's age is the
//! `Date` of the answer that read it minus the entity's `Timestamp`, which the service sets on
//! every write, so a claimant whose clock runs behind does not make its live claims look stale.
//! Only when either is missing or unreadable is it this machine's clock minus `ClaimedAt`.
//! Cleaning likewise removes entries by their `Timestamp` (`Timestamp lt datetime'..'`).
//!
//! It deliberately does not read the environment: [`TableConnection::from_lookup`] takes a
//! lookup closure from the settings layer.

mod connection;
mod error;
mod keys;
mod rest;

use std::{
    fmt,
    ops::ControlFlow,
    sync::Arc,
    time::{Duration, SystemTime},
};

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};
use url::Url;

pub use connection::{
    AML_LEDGER, AZURE_WEB_JOBS_STORAGE, AZURE_WEB_JOBS_STORAGE_ACCOUNT,
    AZURE_WEB_JOBS_STORAGE_TABLE_URI, LedgerSetting, STORAGE_SCOPE, TableConnection,
};
use keys::{format_time, keys, odata_datetime, parse_time, partition_key, valid_table_name};
use rest::{Auth, Call, etag_of};

use super::{
    CLEAN_ACTION, Claim, ClaimToken, EffectKey, Entry, EntryState, HistoryQuery, Ledger,
    LedgerError, LedgerFuture, Newest, Recorded,
};
use crate::{
    azure::{CachedTokenSource, TokenSource, is_token_safe, retry::RetryPolicy},
    pipeline::{self, Deadline, Repeat},
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

/// What history reads of each entity: what an [`Entry`] shows, nothing more.
const HISTORY_COLUMNS: &str = "Source,EventId,Action,Target,State,Outcome,ClaimedAt,DoneAt";

/// How many times a claim reads and writes before it gives up with
/// [`LedgerError::Contended`].
const CLAIM_ROUNDS: usize = 4;

/// When a claim's calls must be done.
#[derive(Clone, Copy)]
struct ClaimTime {
    /// Each call's deadline: the delivery's end, or the ledger's budget when sooner.
    calls: Deadline,
    /// The delivery's end, after which no claim is written.
    end: tokio::time::Instant,
}

/// What a read entity says about its claim.
struct Stored {
    etag: String,
    state: EntryState,
    outcome: Option<Recorded>,
    claimed_at: SystemTime,
    done_at: Option<SystemTime>,
    claim_id: String,
    /// How old the claim is by the service's clock, when the answer tells.
    age: Option<Duration>,
}

impl Stored {
    /// How old the claim is: by the table service's clock when the read told
    /// ([`service_age`]), else by this machine's clock against `ClaimedAt`.
    fn age(&self) -> Duration {
        self.age.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(self.claimed_at)
                .unwrap_or_default()
        })
    }
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

    async fn read(
        &self,
        key: &EffectKey,
        deadline: Deadline,
    ) -> Result<Option<Stored>, LedgerError> {
        let (partition, row) = keys(key);
        let call = Call {
            operation: "read claim",
            method: Method::GET,
            url: self.entity_url(&partition, &row),
            body: None,
            if_match: None,
            repeat: Repeat::Idempotent,
        };
        let answer = self.send(&call, deadline).await?;
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
                let age = service_age(answer.header("date"), text(&value, "Timestamp").as_deref());
                stored(&value, etag, age)
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

    /// Claims `key` by `end` at the latest: see [`Ledger::claim`].
    async fn claim_now(
        &self,
        key: &EffectKey,
        lease: Duration,
        end: tokio::time::Instant,
    ) -> Result<Claim, LedgerError> {
        let time = ClaimTime {
            calls: self.deadline(Some(end)),
            end,
        };
        self.ensure_table(time.calls).await?;
        let claim_id = uuid::Uuid::new_v4().to_string();
        // A few rounds: an entity can vanish (released, cleaned) or be taken over between our
        // insert, read and replace; each round starts from what the table says.
        for _ in 0..CLAIM_ROUNDS {
            let insert = ClaimWrite::Insert;
            if let Some(acquired) = self.write_claim(key, &claim_id, insert, time).await? {
                return Ok(acquired);
            }
            let Some(found) = self.read(key, time.calls).await? else {
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
                    outcome: found.outcome.unwrap_or_else(|| Recorded::from_text("")),
                    at: found.done_at.unwrap_or(found.claimed_at),
                });
            }
            let age = found.age();
            if age < lease {
                return Ok(Claim::HeldElsewhere { age });
            }
            // Stale: take it over only if it is still the claim we read.
            let take_over = ClaimWrite::TakeOver { etag: found.etag };
            if let Some(acquired) = self.write_claim(key, &claim_id, take_over, time).await? {
                return Ok(acquired);
            }
        }
        Err(LedgerError::Contended { key: key.clone() })
    }

    /// Writes our claim on `key` as `write` says. The claim is ours on a 2xx; `None` when the
    /// answer says another entity stands there (the next round reads it); an error otherwise.
    /// Nothing is written once the delivery has no time left: a claim it could not act on
    /// would only hold the effect from a redelivery until its lease ends.
    async fn write_claim(
        &self,
        key: &EffectKey,
        claim_id: &str,
        write: ClaimWrite,
        time: ClaimTime,
    ) -> Result<Option<Claim>, LedgerError> {
        if tokio::time::Instant::now() >= time.end {
            return Err(LedgerError::DeadlineExceeded {
                operation: "claim",
                budget: time.calls.budget,
                last: None,
            });
        }
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
        let answer = self.send(&call, time.calls).await?;
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

    async fn complete_now(
        &self,
        token: &ClaimToken,
        outcome: &Recorded,
    ) -> Result<(), LedgerError> {
        let key = token.key();
        // Its own budget, never the delivery's: a delivery cut short must not lose the record.
        let deadline = self.deadline(None);
        let mut entity = self.entity(key, token.claim_id(), token.claimed_at());
        entity.insert("State".into(), "done".into());
        // Bounded: Table storage refuses a property over 64 KiB, which would leave the claim open.
        entity.insert("Outcome".into(), outcome.to_text().into());
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
        let answer = self.send(&call, deadline).await?;
        match answer.status.as_u16() {
            200..=299 => Ok(()),
            404 | 412 => match self.read(key, deadline).await? {
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
        let answer = self.send(&call, self.deadline(None)).await?;
        match answer.status.as_u16() {
            // Gone, or no longer ours (taken over): nothing to give back.
            200..=299 | 404 | 412 => Ok(()),
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    /// See [`Ledger::history`]: the table is read page by page, keeping only the `limit` newest
    /// entries seen.
    async fn history_now(&self, query: &HistoryQuery<'_>) -> Result<Vec<Entry>, LedgerError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        self.ensure_table(self.deadline(None)).await?;
        let mut clauses = vec![format!("Action ne '{CLEAN_ACTION}'")];
        if let Some(event_id) = query.event_id {
            // The function that wrote the key: a long id is found by its hash.
            clauses.push(format!("PartitionKey eq '{}'", partition_key(event_id)));
        }
        if let Some(since) = query.since {
            clauses.push(format!("ClaimedAt ge '{}'", format_time(since)));
        }
        let mut newest = Newest::new(query.limit);
        let visit = |values: Vec<Value>| {
            let entries = values.iter().filter_map(entry);
            for entry in
                entries.filter(|entry| query.event_id.is_none_or(|id| entry.key.event_id == id))
            {
                newest.push(entry);
            }
            ControlFlow::Continue(())
        };
        let filter = clauses.join(" and ");
        self.query_pages("history", &filter, HISTORY_COLUMNS, usize::MAX, visit)
            .await?;
        Ok(newest.into_vec())
    }

    async fn clean_now(
        &self,
        older_than: SystemTime,
        max_entries: usize,
    ) -> Result<usize, LedgerError> {
        if max_entries == 0 {
            return Ok(0);
        }
        self.ensure_table(self.deadline(None)).await?;
        // The service's write time, not ClaimedAt: no instance's clock decides what is old.
        let filter = format!(
            "Timestamp lt {} and Action ne '{CLEAN_ACTION}'",
            odata_datetime(older_than)
        );
        let mut old = Vec::new();
        let visit = |values: Vec<Value>| {
            old.extend(values);
            if old.len() >= max_entries {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let columns = "PartitionKey,RowKey";
        self.query_pages("clean", &filter, columns, max_entries, visit)
            .await?;
        old.truncate(max_entries);
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
            let answer = self.send(&call, self.deadline(None)).await?;
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
    fn claim<'a>(
        &'a self,
        key: &'a EffectKey,
        lease: Duration,
        deadline: tokio::time::Instant,
    ) -> LedgerFuture<'a, Claim> {
        Box::pin(self.claim_now(key, lease, deadline))
    }

    fn complete<'a>(
        &'a self,
        token: &'a ClaimToken,
        outcome: &'a Recorded,
    ) -> LedgerFuture<'a, ()> {
        Box::pin(self.complete_now(token, outcome))
    }

    fn release<'a>(&'a self, token: &'a ClaimToken) -> LedgerFuture<'a, ()> {
        Box::pin(self.release_now(token))
    }

    fn history<'a>(&'a self, query: &'a HistoryQuery<'a>) -> LedgerFuture<'a, Vec<Entry>> {
        Box::pin(self.history_now(query))
    }

    fn clean(&self, older_than: SystemTime, max_entries: usize) -> LedgerFuture<'_, usize> {
        Box::pin(self.clean_now(older_than, max_entries))
    }

    fn describe(&self) -> String {
        format!("Azure Table {} at {}", self.table, self.shown())
    }
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

fn stored(value: &Value, etag: String, age: Option<Duration>) -> Option<Stored> {
    Some(Stored {
        etag,
        age,
        state: state(value)?,
        outcome: text(value, "Outcome").as_deref().map(Recorded::from_text),
        claimed_at: parse_time(&text(value, "ClaimedAt")?)?,
        done_at: text(value, "DoneAt").as_deref().and_then(parse_time),
        claim_id: text(value, "ClaimId").unwrap_or_default(),
    })
}

/// How old an entity's last write is by the table service's own clock: the `Date` of the
/// answer that read it minus its `Timestamp` (which the service sets on every write), so that
/// no instance's clock decides whether another's claim is stale. `None` when either is missing
/// or unreadable. `Date` counts whole seconds, so the age may read up to a second young:
/// a claim is judged stale late, never early.
/// See <https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#timestamp-property>.
fn service_age(date: Option<&str>, timestamp: Option<&str>) -> Option<Duration> {
    let now = httpdate::parse_http_date(date?).ok()?;
    let written = parse_time(timestamp?)?;
    Some(now.duration_since(written).unwrap_or_default())
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
        outcome: text(value, "Outcome").as_deref().map(Recorded::from_text),
        claimed_at: parse_time(&text(value, "ClaimedAt")?)?,
        done_at: text(value, "DoneAt").as_deref().and_then(parse_time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_clock_judges_the_age() {
        let age = service_age(
            Some("Mon, 07 Dec 2026 08:09:05 GMT"),
            Some("2026-12-07T08:09:04.4546614Z"),
        );
        let age = age.expect("both readable");
        assert!(
            age > Duration::from_millis(545) && age < Duration::from_millis(546),
            "{age:?}"
        );
        // Written within the second the answer was dated: the age rounds down to nothing.
        let young = service_age(
            Some("Mon, 07 Dec 2026 08:09:04 GMT"),
            Some("2026-12-07T08:09:04.9Z"),
        );
        assert_eq!(young, Some(Duration::ZERO));
    }

    #[test]
    fn without_both_times_the_local_clock_judges() {
        let timestamp = Some("2026-12-07T08:09:04.4546614Z");
        assert_eq!(service_age(None, timestamp), None);
        assert_eq!(service_age(Some("yesterday"), timestamp), None);
        assert_eq!(
            service_age(Some("Mon, 07 Dec 2026 08:09:05 GMT"), None),
            None
        );
        assert_eq!(
            service_age(Some("Mon, 07 Dec 2026 08:09:05 GMT"), Some("soon")),
            None
        );
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        let entity = serde_json::json!({
            "State": "claimed",
            "ClaimedAt": format_time(an_hour_ago),
            "ClaimId": "c",
        });
        let found = stored(&entity, "etag".into(), None).unwrap();
        assert!(found.age() >= Duration::from_secs(3600));
        let found = stored(&entity, "etag".into(), Some(Duration::from_secs(2))).unwrap();
        assert_eq!(found.age(), Duration::from_secs(2));
    }
}
