//! [`BlobClient`]: the few Blob service calls reading Event Grid's dead letters takes: list a
//! container's blobs with their metadata, read one, and replace one's metadata (to mark it
//! replayed).
//!
//! # Why the REST API, not a crate
//! As for the ledger's tables (see [`crate::ledger::TableLedger`]): three small calls, written
//! with reqwest (rustls) on the crate's retry pipeline, rather than a second Azure HTTP stack.
//! See <https://learn.microsoft.com/rest/api/storageservices/blob-service-rest-api>.
//!
//! # Layout
//! - `client.rs`: [`BlobClient`] and [`BlobClientOptions`]: built from the same connection
//!   settings as the ledger ([`TableConnection`](crate::ledger::table::TableConnection), read
//!   for [`StorageService::Blob`](crate::ledger::table::StorageService::Blob)), the account key
//!   or a storage token (https only, or http to loopback).
//! - `shared_key.rs`: the Blob service's Shared Key string-to-sign and signature.
//! - `listing.rs`: List Blobs' XML answer, read into [`BlobItem`]s page by page.
//! - `error.rs`: [`BlobError`].
//!
//! It deliberately knows nothing of dead letters or Event Grid's layout: the replay reads the
//! names and contents it gets.

mod client;
mod error;
mod listing;
mod shared_key;

pub use client::{BlobClient, BlobClientOptions};
pub use error::BlobError;
pub use listing::BlobItem;
