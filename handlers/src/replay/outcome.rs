//! What became of each blob of a replay ([`Outcome`]), and the counts the last line gives
//! ([`Summary`]).

use super::{deliver::Delivery, layout::DeadLetterPath, records::Record};

/// What became of one blob.
#[derive(Debug, Clone)]
pub struct BlobReport {
    /// The blob.
    pub path: DeadLetterPath,
    /// What became of it.
    pub outcome: Outcome,
}

/// What became of one blob.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Marked replayed before (at this time) and left alone, without `--again`.
    AlreadyReplayed {
        /// The mark's value.
        at: String,
    },
    /// `--dry-run`: its records, not sent.
    Listed {
        /// The records.
        records: Vec<Record>,
    },
    /// Every event answered 2xx; marked replayed.
    Replayed {
        /// Each batch and its answer.
        deliveries: Vec<Delivery>,
    },
    /// Not replayed (left unmarked): why.
    Failed(Failure),
}

/// Why a blob was not replayed in full.
#[derive(Debug, Clone)]
pub enum Failure {
    /// It could not be read, or is not dead-letter records.
    Unreadable(String),
    /// Some batch was not answered 2xx (every batch is here, the failed ones and the others).
    Refused(Vec<Delivery>),
    /// Every event was delivered, but the mark could not be set: a second replay sends them
    /// again (the ledger skips what was done).
    Unmarked(String),
}

/// The counts of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Blobs replayed and marked.
    pub replayed: usize,
    /// Events in them (or, in a dry run, listed).
    pub events: usize,
    /// Blobs listed by a dry run.
    pub listed: usize,
    /// Blobs that failed, left unmarked.
    pub failed: usize,
    /// Blobs already marked replayed, skipped.
    pub skipped: usize,
    /// Blobs in the container that are not in Event Grid's layout, left alone.
    pub foreign: usize,
}

impl Summary {
    /// Counts one blob's outcome.
    pub fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::AlreadyReplayed { .. } => self.skipped += 1,
            Outcome::Listed { records } => {
                self.listed += 1;
                self.events += records.len();
            }
            Outcome::Replayed { deliveries } => {
                self.replayed += 1;
                self.events += deliveries
                    .iter()
                    .map(|delivery| delivery.ids.len())
                    .sum::<usize>();
            }
            Outcome::Failed(_) => self.failed += 1,
        }
    }
}
