//! The ledger (docs/ledger.md): each effect of an event (a notification to a target, a retrain, a
//! smoke test) happens once across instances and restarts, because it is claimed in shared
//! storage before it runs and marked done after.
//!
//! Event Grid delivers at least once and redelivers whole batches, and a Functions app runs on
//! many instances; the in-memory set of recent ids sees only its own process. The ledger is the
//! one place every instance asks "has this been done, or is someone doing it?".
//!
//! # Layout
//! - [`Ledger`] (`protocol`): the seam, object-safe with boxed futures like
//!   [`TokenSource`](crate::azure::TokenSource), so hosts inject an `Arc<dyn Ledger>` and tests
//!   can count claims; with [`RETENTION`].
//! - [`EffectKey`], [`Claim`], [`ClaimToken`], [`Entry`] (`claim`): what is claimed and what a
//!   claim says; [`HistoryQuery`]: which entries to list.
//! - [`Recorded`] (`recorded`): what a done effect came to, bounded.
//! - [`memory`]: [`MemoryLedger`], one process's ledger, bounded, for runs without storage and
//!   for tests.
//! - [`table`]: [`TableLedger`], Azure Table storage over its REST API, with the connection
//!   settings ([`TableConnection`]) read in the order docs/ledger.md gives.
//! - [`LedgerError`] (`error`): what can go wrong; never shows an account key or a token.
//!
//! # The protocol
//! - `claim` before the effect, with the lease and the delivery's deadline: the claim gives up
//!   by that deadline (or the ledger's own budget, if sooner), and none is written once it has
//!   passed, so no effect is claimed that would have no time left to run.
//! - On [`Claim::Acquired`], act, then `complete` with a [`Recorded`] outcome (or `release` if
//!   the effect failed and a redelivery should try again). `complete` and `release` have the
//!   ledger's own budget, not the delivery's: run them where the delivery's timeout cannot
//!   cancel them, or the effect is done but its record lost. The outcome is stored as JSON of
//!   at most [`Recorded::MAX_BYTES`] ([`Recorded::to_text`]), with what the effect found, so a
//!   redelivery can build the same notice.
//! - On [`Claim::Done`], report a duplicate with the stored outcome.
//! - On [`Claim::HeldElsewhere`] (another claim younger than the lease, its `age` judged by the
//!   store's own clock, never by one instance's) or any error, do not act and answer so Event
//!   Grid redelivers (503, or a failed invocation). Never act unclaimed. A claim older than the
//!   lease and not done is a crashed claimant's: the next claim takes it over.
//! - [`Ledger::history`] lists entries newest first, at most a limit, by time and/or event id;
//!   [`Ledger::clean`] removes old entries a bounded batch at a time. Neither touches the hosts'
//!   turn to clean: a claim of [`EffectKey::clean_turn`], never completed, which lets one
//!   instance at a time clean.
//!
//! It deliberately does not decide the lease (twice the delivery deadline, the caller's
//! setting), read the environment, or schedule the cleaning: the host calls [`Ledger::clean`]
//! in bounded background work with [`RETENTION`].

mod claim;
mod error;
mod mark;
pub mod memory;
mod protocol;
mod recorded;
pub mod table;

pub use claim::{Claim, ClaimToken, EffectKey, Entry, EntryState, HistoryQuery};
pub use error::LedgerError;
pub use mark::{MARK_MAX_BYTES, Mark, MarkWrite};
pub use memory::MemoryLedger;
pub use protocol::{Ledger, LedgerFuture, RETENTION};
pub use recorded::Recorded;
pub use table::{
    DEFAULT_TABLE, LedgerSetting, STORAGE_SCOPE, TableConnection, TableLedger, TableLedgerOptions,
};
