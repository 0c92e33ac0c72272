//! [`TableLedger`]: the ledger in Azure Table storage, the storage account every Functions app
//! already has (docs/ledger.md), over the Table service REST API.
//!
//! # Why the REST API, not a crate
//! `azure_data_tables` (0.21, checked on crates.io) belongs to the retired unofficial Azure SDK
//! for Rust: it is no longer maintained, pins its own old `azure_core` (a second HTTP pipeline
//! beside this crate's own) and defaults to OpenSSL; the official SDK has
//! no Tables crate. The ledger needs six calls, each a small JSON request, so they are written
//! here with reqwest (rustls) on the crate's retry pipeline.
//! See <https://learn.microsoft.com/rest/api/storageservices/table-service-rest-api>.
//!
//! # Layout
//! - `connection.rs`: [`TableConnection`], a connection string (`UseDevelopmentStorage=true`
//!   for Azurite, `AccountName=..;AccountKey=..`) or a table service URL used with a token
//!   source; [`TableConnection::from_lookup`] picks the setting in the order docs/ledger.md gives.
//! - `table_ledger.rs`: [`TableLedger`] and [`TableLedgerOptions`]: what the ledger holds and
//!   how it is built.
//! - `operations.rs`: the ledger's operations: claim = conditional insert, take-over = replace
//!   with `If-Match`, complete = replace with `If-Match`, release = delete with `If-Match`,
//!   history and clean = queries (`newest.rs` keeps the history's newest entries).
//! - `marks.rs`: noise control's marks, in a partition of their own (`~mark`): read, create =
//!   conditional insert, replace = update with `If-Match`, cleaned by their `KeepUntil`.
//! - `entity.rs`: how an entity reads back.
//! - `keys.rs`: an effect's `PartitionKey` and `RowKey`, and the times written in entities.
//! - `rest.rs`: one request, signed and sent. `auth.rs`: Shared Key Lite for the account key
//!   (`HMAC-SHA256(key, x-ms-date + "\n" + "/{account}{path}")`; with Azurite's path-style
//!   URLs the account appears twice, which Azurite checks), or `Authorization: Bearer` with
//!   scope [`STORAGE_SCOPE`] (https only, or http to loopback); `x-ms-version: 2019-02-02`, the
//!   first to accept bearer tokens.
//!   See <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key#shared-key-lite-and-table-service-format-for-2009-09-19-and-later>.
//! - `error.rs`: the service's refusals as [`LedgerError`](super::LedgerError)s, key-like text masked.
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
//! `Target`), with `State` (`claimed`/`done`), `Outcome` ([`Recorded::to_text`](super::Recorded::to_text): JSON of at
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
//! Cleaning likewise removes entries by their `Timestamp` (`Timestamp lt datetime'..'`), and
//! marks (never an effect's entry: their partition, `~mark`, is no encoded event id) once
//! their `KeepUntil` has passed and the service wrote them before the same cut.
//!
//! It deliberately does not read the environment: [`TableConnection::from_lookup`] takes a
//! lookup closure from the settings layer.

mod auth;
mod connection;
mod entity;
mod error;
mod keys;
mod marks;
mod newest;
mod operations;
mod rest;
mod table_ledger;

pub use connection::{
    AML_LEDGER, AML_LEDGER_TABLE, AZURE_WEB_JOBS_STORAGE, AZURE_WEB_JOBS_STORAGE_ACCOUNT,
    AZURE_WEB_JOBS_STORAGE_BLOB_URI, AZURE_WEB_JOBS_STORAGE_TABLE_URI, LedgerSetting,
    STORAGE_SCOPE, StorageService, TableConnection,
};
pub use table_ledger::{DEFAULT_TABLE, TableLedger, TableLedgerOptions};
