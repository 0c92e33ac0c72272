//! [`MemoryLedger`]: the ledger of one process, in a `Mutex`, bounded.
//!
//! It exists for runs without storage (a local dry run, where docs/ledger.md keeps the in-memory
//! set of recent ids) and as the reference the Azure Table ledger's behaviour is tested against:
//! the same claim, take-over, release and cleaning rules, with no network.
//!
//! Ages (against the lease, [`RETENTION`] and [`Ledger::clean`]) are read on tokio's clock, so
//! a test that pauses and advances it sees leases end; wall-clock times are kept only to be
//! shown ([`Entry::claimed_at`], [`Entry::done_at`]). Memory does not grow with traffic: it
//! holds at most its capacity, forgetting the oldest done entry first when full (a done entry
//! forgotten can only let a late redelivery act again), else the oldest claim; and it forgets
//! entries older than [`RETENTION`] as claims come, as the table's cleaning would.
//!
//! It deliberately does not survive a restart nor see other instances; the ready line says so
//! ([`Ledger::describe`] is `in memory`).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use tokio::time::Instant;

use super::{
    claim::{
        CLEAN_ACTION, Claim, ClaimToken, EffectKey, Entry, EntryState, HistoryQuery, Standing,
    },
    error::LedgerError,
    mark::{Mark, MarkWrite},
    protocol::{Ledger, LedgerFuture, RETENTION},
    recorded::Recorded,
};

#[derive(Debug, Clone)]
struct Record {
    state: EntryState,
    /// [`Recorded::to_text`], as the table stores it, so both ledgers keep the same bound.
    outcome: Option<String>,
    /// When it was (last) claimed: its age against the lease.
    claimed: Instant,
    /// When it was last written (claimed or completed): its age against [`RETENTION`] and
    /// cleaning, as the table's `Timestamp`.
    written: Instant,
    /// When it was claimed, to be shown.
    claimed_at: SystemTime,
    /// When it was completed, to be shown.
    done_at: Option<SystemTime>,
    claim_id: String,
    /// Changes on every write, like a table entity's ETag.
    version: u64,
    /// Its place in insertion order.
    order: u64,
}

impl Record {
    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.written) >= RETENTION
    }
}

/// The entries and their insertion order, by state, so that the oldest done entry (or claim)
/// is found without a scan.
#[derive(Debug, Default)]
struct Entries {
    records: HashMap<EffectKey, Record>,
    claimed: BTreeMap<u64, EffectKey>,
    done: BTreeMap<u64, EffectKey>,
    /// Noise control's marks, by key; bounded by the same capacity as the entries.
    marks: HashMap<String, MarkRecord>,
    /// The last version (and order) handed out.
    counter: u64,
}

/// A mark as this process keeps it.
#[derive(Debug, Clone)]
struct MarkRecord {
    text: String,
    version: u64,
    /// When it was written: its age against `keep` and [`RETENTION`].
    written: Instant,
    written_at: SystemTime,
    keep: Duration,
}

impl MarkRecord {
    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.written) >= self.keep.max(RETENTION)
    }
}

impl Entries {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn order(&mut self, state: EntryState) -> &mut BTreeMap<u64, EffectKey> {
        match state {
            EntryState::Claimed => &mut self.claimed,
            EntryState::Done => &mut self.done,
        }
    }

    fn remove(&mut self, key: &EffectKey) -> Option<Record> {
        let record = self.records.remove(key)?;
        self.order(record.state).remove(&record.order);
        Some(record)
    }

    /// Stores `record` as `key`'s entry (a new claim, or a take-over), first forgetting the
    /// oldest done entry, else the oldest claim, while the ledger is full.
    fn insert(&mut self, key: &EffectKey, record: Record, capacity: usize) {
        self.remove(key);
        while self.records.len() >= capacity {
            let oldest = self
                .done
                .values()
                .next()
                .or_else(|| self.claimed.values().next());
            let Some(oldest) = oldest.cloned() else {
                break;
            };
            self.remove(&oldest);
        }
        self.order(record.state).insert(record.order, key.clone());
        self.records.insert(key.clone(), record);
    }

    /// Marks `key`'s entry done, keeping its place in insertion order.
    fn complete(&mut self, key: &EffectKey, outcome: &Recorded, version: u64) {
        let Some(record) = self.records.get_mut(key) else {
            return;
        };
        record.state = EntryState::Done;
        record.outcome = Some(outcome.to_text());
        record.done_at = Some(SystemTime::now());
        record.written = Instant::now();
        record.version = version;
        let order = record.order;
        self.claimed.remove(&order);
        self.done.insert(order, key.clone());
    }

    /// Forgets the oldest entries of each state while they are older than [`RETENTION`]:
    /// amortised, each entry is forgotten once.
    fn forget_expired(&mut self, now: Instant) {
        for state in [EntryState::Done, EntryState::Claimed] {
            while let Some(oldest) = self.order(state).values().next().cloned() {
                if !self.records.get(&oldest).is_some_and(|r| r.expired(now)) {
                    break;
                }
                self.remove(&oldest);
            }
        }
    }
}

/// A ledger in this process's memory. Every claim through one instance is a separate claimant:
/// a second claim of a live key is [`Claim::HeldElsewhere`], as it would be from another
/// instance.
#[derive(Debug)]
pub struct MemoryLedger {
    entries: Mutex<Entries>,
    capacity: usize,
}

impl Default for MemoryLedger {
    fn default() -> Self {
        MemoryLedger::with_capacity(MemoryLedger::DEFAULT_CAPACITY)
    }
}

impl MemoryLedger {
    /// How many entries [`MemoryLedger::new`] holds at most.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// An empty ledger of [`MemoryLedger::DEFAULT_CAPACITY`] entries.
    pub fn new() -> Self {
        MemoryLedger::default()
    }

    /// An empty ledger that holds at most `capacity` entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryLedger {
            entries: Mutex::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // Plain data, consistent after a panic elsewhere.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn claim_now(&self, key: &EffectKey, lease: Duration) -> Claim {
        let now = Instant::now();
        let mut entries = self.entries();
        entries.forget_expired(now);
        if entries.records.get(key).is_some_and(|r| r.expired(now)) {
            entries.remove(key);
        }
        if let Some(record) = entries.records.get(key) {
            let standing = Standing {
                state: record.state,
                outcome: record.outcome.as_deref().map(Recorded::from_text),
                claimed_at: record.claimed_at,
                done_at: record.done_at,
                age: now.saturating_duration_since(record.claimed),
            };
            if let Some(claim) = Claim::over(standing, lease) {
                return claim;
            }
        }
        let version = entries.next();
        let claim_id = format!("memory-{version}");
        let claimed_at = SystemTime::now();
        let record = Record {
            state: EntryState::Claimed,
            outcome: None,
            claimed: now,
            written: now,
            claimed_at,
            done_at: None,
            claim_id: claim_id.clone(),
            version,
            order: version,
        };
        entries.insert(key, record, self.capacity);
        Claim::Acquired(ClaimToken::new(
            key.clone(),
            claimed_at,
            claim_id,
            version.to_string(),
        ))
    }

    fn complete_now(&self, token: &ClaimToken, outcome: &Recorded) -> Result<(), LedgerError> {
        let mut entries = self.entries();
        let ours = entries
            .records
            .get(token.key())
            .is_some_and(|record| record.version.to_string() == token.etag());
        if !ours {
            return Err(LedgerError::ClaimLost {
                key: token.key().clone(),
            });
        }
        let version = entries.next();
        entries.complete(token.key(), outcome, version);
        Ok(())
    }

    fn release_now(&self, token: &ClaimToken) {
        let mut entries = self.entries();
        if entries.records.get(token.key()).is_some_and(|record| {
            record.claim_id == token.claim_id() && record.state == EntryState::Claimed
        }) {
            entries.remove(token.key());
        }
    }

    fn history_now(&self, query: &HistoryQuery<'_>) -> Vec<Entry> {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let entries = self.entries();
        let mut found: Vec<(Instant, Entry)> = entries
            .records
            .iter()
            .filter(|(key, record)| {
                key.action != CLEAN_ACTION
                    && query.event_id.is_none_or(|id| key.event_id == id)
                    && query
                        .since
                        .is_none_or(|since| !before(record.claimed, since, now, wall))
            })
            .map(|(key, record)| (record.claimed, entry(key, record)))
            .collect();
        // Newest first, by tokio's clock (which a test may have moved).
        found.sort_by(|(a, a_entry), (b, b_entry)| (b, &b_entry.key).cmp(&(a, &a_entry.key)));
        found.truncate(query.limit);
        found.into_iter().map(|(_, entry)| entry).collect()
    }

    fn read_mark_now(&self, key: &str) -> Option<Mark> {
        let entries = self.entries();
        let mark = entries.marks.get(key)?;
        Some(Mark {
            text: mark.text.clone(),
            version: mark.version.to_string(),
            written_at: mark.written_at,
        })
    }

    fn write_mark_now(&self, write: MarkWrite<'_>) -> Result<bool, LedgerError> {
        write.check_size()?;
        let now = Instant::now();
        let mut entries = self.entries();
        let current = entries.marks.get(write.key).map(|mark| mark.version);
        if current.map(|version| version.to_string()).as_deref() != write.version {
            return Ok(false);
        }
        if current.is_none() && entries.marks.len() >= self.capacity {
            // Full: forget expired marks, else the oldest (a forgotten mark only lets one
            // more notice or retrain through).
            entries.marks.retain(|_, mark| !mark.expired(now));
            if entries.marks.len() >= self.capacity {
                let oldest = (entries.marks.iter())
                    .min_by_key(|(_, mark)| mark.written)
                    .map(|(key, _)| key.clone());
                if let Some(oldest) = oldest {
                    entries.marks.remove(&oldest);
                }
            }
        }
        let version = entries.next();
        entries.marks.insert(
            write.key.to_owned(),
            MarkRecord {
                text: write.text.to_owned(),
                version,
                written: now,
                written_at: SystemTime::now(),
                keep: write.keep,
            },
        );
        Ok(true)
    }

    fn clean_now(&self, older_than: SystemTime, max_entries: usize) -> usize {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut entries = self.entries();
        let mut old: Vec<(u64, EffectKey)> = entries
            .records
            .iter()
            .filter(|(key, record)| {
                key.action != CLEAN_ACTION && before(record.written, older_than, now, wall)
            })
            .map(|(key, record)| (record.order, key.clone()))
            .collect();
        // The oldest first, as far as the bound goes.
        old.sort_unstable();
        old.truncate(max_entries);
        for (_, key) in &old {
            entries.remove(key);
        }
        // Then expired marks, within what is left of the bound, as the table cleans.
        let marks: Vec<String> = (entries.marks.iter())
            .filter(|(_, mark)| mark.expired(now))
            .map(|(key, _)| key.clone())
            .take(max_entries - old.len())
            .collect();
        for key in &marks {
            entries.marks.remove(key);
        }
        old.len() + marks.len()
    }

    /// Backdates `key`'s claim (and completion) by `age`, so tests can make a claim stale
    /// without waiting. Tokio's instants cannot go back past the machine's start: for ages of
    /// hours, pause tokio's clock and advance it instead.
    #[cfg(test)]
    pub(crate) fn backdate(&self, key: &EffectKey, age: Duration) {
        let back = |at: Instant| {
            at.checked_sub(age)
                .expect("backdated past the clock's start: pause and advance tokio's clock")
        };
        if let Some(record) = self.entries().records.get_mut(key) {
            record.claimed = back(record.claimed);
            record.written = back(record.written);
            record.claimed_at -= age;
            if let Some(done) = &mut record.done_at {
                *done -= age;
            }
        }
    }
}

/// Whether `at` (on tokio's clock, read as `now`) came before the wall-clock time `cut` (the
/// wall clock reading `wall`): measured as ages, so a test that advances tokio's clock moves it.
fn before(at: Instant, cut: SystemTime, now: Instant, wall: SystemTime) -> bool {
    match wall.duration_since(cut) {
        Ok(cut_age) => now.saturating_duration_since(at) > cut_age,
        // A cut in the future: everything came before it.
        Err(_) => true,
    }
}

fn entry(key: &EffectKey, record: &Record) -> Entry {
    Entry {
        key: key.clone(),
        state: record.state,
        outcome: record.outcome.as_deref().map(Recorded::from_text),
        claimed_at: record.claimed_at,
        done_at: record.done_at,
    }
}

impl Ledger for MemoryLedger {
    fn claim<'a>(
        &'a self,
        key: &'a EffectKey,
        lease: Duration,
        deadline: tokio::time::Instant,
    ) -> LedgerFuture<'a, Claim> {
        Box::pin(async move {
            // As the table does: no claim for an effect the delivery has no time left to run.
            if tokio::time::Instant::now() >= deadline {
                return Err(LedgerError::DeadlineExceeded {
                    operation: "claim",
                    budget: Duration::ZERO,
                    last: None,
                });
            }
            Ok(self.claim_now(key, lease))
        })
    }

    fn complete<'a>(
        &'a self,
        token: &'a ClaimToken,
        outcome: &'a Recorded,
    ) -> LedgerFuture<'a, ()> {
        Box::pin(async move { self.complete_now(token, outcome) })
    }

    fn release<'a>(&'a self, token: &'a ClaimToken) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            self.release_now(token);
            Ok(())
        })
    }

    fn history<'a>(&'a self, query: &'a HistoryQuery<'a>) -> LedgerFuture<'a, Vec<Entry>> {
        Box::pin(async move { Ok(self.history_now(query)) })
    }

    fn clean(&self, older_than: SystemTime, max_entries: usize) -> LedgerFuture<'_, usize> {
        Box::pin(async move { Ok(self.clean_now(older_than, max_entries)) })
    }

    fn read_mark<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<Mark>> {
        Box::pin(async move { Ok(self.read_mark_now(key)) })
    }

    fn write_mark<'a>(&'a self, write: MarkWrite<'a>) -> LedgerFuture<'a, bool> {
        Box::pin(async move { self.write_mark_now(write) })
    }

    fn describe(&self) -> String {
        String::from("in memory")
    }
}

#[cfg(test)]
mod tests;
