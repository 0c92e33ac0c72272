//! Marks: the small shared records noise control keeps (docs/routes.md), beside the effects'
//! entries. A mark remembers, for one route and group, the last retrain started, or the last
//! notice sent to a target and how many were held back since; every instance reads and
//! replaces the same mark, so they agree on what is quiet.
//!
//! A mark is read with its version and replaced only while it is still at that version, like
//! a claim: two instances that both think it is their turn cannot both win.
//!
//! Where the stores keep them (docs/ledger.md, "Marks"): the table in entities of their own,
//! beside the effects' entries but in a partition no effect uses, versioned by their ETag;
//! memory beside its entries, bounded like them. Neither lists a mark in the history.

use std::time::{Duration, SystemTime};

/// The longest text a mark holds (JSON written by its owner), like [`Recorded::MAX_BYTES`].
///
/// [`Recorded::MAX_BYTES`]: super::Recorded::MAX_BYTES
pub const MARK_MAX_BYTES: usize = 4096;

/// One mark as read: its text, the version to replace it at, and when it was last written
/// (by the store's clock where the store keeps one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// What its owner wrote (JSON).
    pub text: String,
    /// The version a [`Ledger::write_mark`](super::Ledger::write_mark) must name to replace it:
    /// opaque text (the table's ETag), changed by every write.
    pub version: String,
    /// When it was last written: by the table service's clock (the entity's `Timestamp`) for
    /// the table, this machine's for memory.
    pub written_at: SystemTime,
}

/// What [`Ledger::write_mark`](super::Ledger::write_mark) writes: the text, and how long the
/// mark must be kept at least (the cooldown or interval it stands for); cleaning removes it
/// after that, and after [`RETENTION`](super::RETENTION) at the earliest.
#[derive(Debug, Clone, Copy)]
pub struct MarkWrite<'a> {
    /// The mark's key: `<kind>/<route>/<group>[/<target>]`, any text (stores hash it).
    pub key: &'a str,
    /// The new text, at most [`MARK_MAX_BYTES`].
    pub text: &'a str,
    /// The version read, or `None` to create a mark that must not exist yet.
    pub version: Option<&'a str>,
    /// How long to keep it at least.
    pub keep: Duration,
}

impl MarkWrite<'_> {
    /// Refuses a text over [`MARK_MAX_BYTES`], as every store must, before anything is
    /// written: its writer's mistake, not the store's, so not transient.
    pub(super) fn check_size(&self) -> Result<(), super::LedgerError> {
        if self.text.len() > MARK_MAX_BYTES {
            return Err(super::LedgerError::Other {
                transient: false,
                source: std::sync::Arc::new(MarkTooLong(self.text.len())),
            });
        }
        Ok(())
    }
}

/// A mark's text over [`MARK_MAX_BYTES`]: its writer's mistake, never the store's.
#[derive(Debug, thiserror::Error)]
#[error("a mark of {0} bytes is over the {MARK_MAX_BYTES}-byte bound")]
struct MarkTooLong(usize);
