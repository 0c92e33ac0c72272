//! [`Newest`]: the newest entries of a history, kept in a bounded heap while the table is read
//! page by page.

use std::{
    cmp::{Ordering, Reverse},
    collections::BinaryHeap,
};

use crate::ledger::{Entry, claim::CLEAN_ACTION};

/// The `limit` newest entries of those pushed, newest first, kept in a min-heap by claim time:
/// memory stays within `limit` entries however many are read (a table of any size).
pub(super) struct Newest {
    limit: usize,
    heap: BinaryHeap<Reverse<ByClaimTime>>,
}

/// An entry ordered by claim time, then key (so ties order the same on every run).
struct ByClaimTime(Entry);

impl Ord for ByClaimTime {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.claimed_at, &self.0.key).cmp(&(other.0.claimed_at, &other.0.key))
    }
}

impl PartialOrd for ByClaimTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ByClaimTime {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ByClaimTime {}

impl Newest {
    /// Keeps at most `limit`.
    pub(super) fn new(limit: usize) -> Newest {
        Newest {
            limit,
            // Grows with what is kept, never past `limit` (which may be usize::MAX).
            heap: BinaryHeap::new(),
        }
    }

    /// Keeps `entry` if it is among the `limit` newest so far, unless it is bookkeeping.
    pub(super) fn push(&mut self, entry: Entry) {
        if entry.key.action == CLEAN_ACTION || self.limit == 0 {
            return;
        }
        let entry = Reverse(ByClaimTime(entry));
        if self.heap.len() < self.limit {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|oldest| entry < *oldest) {
            // `Reverse`: smaller is newer.
            self.heap.pop();
            self.heap.push(entry);
        }
    }

    /// The kept entries, newest first.
    pub(super) fn into_vec(self) -> Vec<Entry> {
        // Ascending `Reverse` order is descending claim time.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(ByClaimTime(entry))| entry)
            .collect()
    }
}
