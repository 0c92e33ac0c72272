//! The seam every ledger implements ([`Ledger`]), with what the hosts and the stores share
//! about it: how long entries are kept ([`RETENTION`]) and the bookkeeping entry that is never
//! listed nor cleaned.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    time::{Duration, SystemTime},
};

use super::{
    claim::{Claim, ClaimToken, EffectKey, Entry, HistoryQuery},
    error::LedgerError,
    mark::{Mark, MarkWrite},
    recorded::Recorded,
};

/// How long entries are kept at least (docs/ledger.md): Event Grid retries for 24 hours, so 48
/// hours leaves a redelivery nothing to find missing. Clean with `now - RETENTION`.
pub const RETENTION: Duration = Duration::from_secs(48 * 60 * 60);

/// The future every [`Ledger`] method returns.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// Claims effects before they run and records their outcomes, shared by every instance that
/// uses the same store.
pub trait Ledger: Send + Sync + fmt::Debug {
    /// Claims `key`: [`Claim::Acquired`] when it is unclaimed, or claimed longer than `lease`
    /// ago and not done (a crashed claimant; taken over conditionally, so two takers cannot
    /// both win); [`Claim::Done`] when completed; [`Claim::HeldElsewhere`] when another live
    /// claim holds it. An error means: do not act.
    ///
    /// The claim (with its retries) gives up by `deadline` (the delivery's end) or by the
    /// ledger's own per-operation budget, whichever is sooner: a claim is never made for an
    /// effect that would have no time left to run.
    fn claim<'a>(
        &'a self,
        key: &'a EffectKey,
        lease: Duration,
        deadline: tokio::time::Instant,
    ) -> LedgerFuture<'a, Claim>;

    /// Marks the claimed effect done with `outcome`, stored as [`Recorded::to_text`] (so at
    /// most [`Recorded::MAX_BYTES`]). Fails with [`LedgerError::ClaimLost`] when the claim was
    /// taken over or removed meanwhile. It has the ledger's own budget, not the delivery's: the
    /// caller runs it where a delivery's timeout cannot cancel it.
    fn complete<'a>(&'a self, token: &'a ClaimToken, outcome: &'a Recorded)
    -> LedgerFuture<'a, ()>;

    /// Gives the claim back after a failed effect, so a redelivery can try again. A claim
    /// already taken over or gone is left as it is. Like [`Ledger::complete`], it has the
    /// ledger's own budget.
    fn release<'a>(&'a self, token: &'a ClaimToken) -> LedgerFuture<'a, ()>;

    /// The entries `query` asks for: newest first (by claim time), at most `query.limit`. The
    /// ledger's own bookkeeping (action `clean`, the turn to clean) is never listed.
    fn history<'a>(&'a self, query: &'a HistoryQuery<'a>) -> LedgerFuture<'a, Vec<Entry>>;

    /// Removes at most `max_entries` entries last written before `older_than` (pass
    /// `now - RETENTION`), by the store's own clock; returns how many it removed. Bounded so it
    /// fits background work. The ledger's own bookkeeping (action `clean`) is left alone.
    fn clean(&self, older_than: SystemTime, max_entries: usize) -> LedgerFuture<'_, usize>;

    /// The mark at `key` (docs/routes.md, noise control), if there is one. Marks are never
    /// listed by [`Ledger::history`].
    fn read_mark<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<Mark>>;

    /// Writes a mark only if it is still at `write.version` (or, with `None`, does not exist
    /// yet): `Ok(true)` when written, `Ok(false)` when another writer got there first (read it
    /// again and decide again). Texts over [`MARK_MAX_BYTES`](super::MARK_MAX_BYTES) are
    /// refused. [`Ledger::clean`] removes a mark once its `keep` and [`RETENTION`] are both
    /// over.
    fn write_mark<'a>(&'a self, write: MarkWrite<'a>) -> LedgerFuture<'a, bool>;

    /// Where the ledger lives, for the ready line: `in memory`, or the table and its endpoint
    /// (never a key).
    fn describe(&self) -> String;
}
