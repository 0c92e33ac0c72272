//! [`MemoryLedger`]: the ledger of one process, in a `Mutex`, bounded.
//!
//! It exists for runs without storage (a local dry run, where SPEC §12 keeps the in-memory set
//! of recent ids) and as the reference the Azure Table ledger's behaviour is tested against:
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
    CLEAN_ACTION, Claim, ClaimToken, EffectKey, Entry, EntryState, HistoryQuery, Ledger,
    LedgerError, LedgerFuture, RETENTION, Recorded,
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
    /// The last version (and order) handed out.
    counter: u64,
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
            match record.state {
                EntryState::Done => {
                    let outcome = record.outcome.as_deref().unwrap_or_default();
                    return Claim::Done {
                        outcome: Recorded::from_text(outcome),
                        at: record.done_at.unwrap_or(record.claimed_at),
                    };
                }
                EntryState::Claimed => {
                    let age = now.saturating_duration_since(record.claimed);
                    if age < lease {
                        return Claim::HeldElsewhere { age };
                    }
                }
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
        old.len()
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

    fn describe(&self) -> String {
        String::from("in memory")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(50);

    fn key(event: &str, target: &str) -> EffectKey {
        EffectKey::new("/subscriptions/s/workspaces/w", event, "notify", target)
    }

    /// A delivery's end, well ahead.
    fn soon() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(25)
    }

    /// Everything since `since` and/or of `event_id`, up to a hundred.
    fn query(since: Option<SystemTime>, event_id: Option<&str>) -> HistoryQuery<'_> {
        HistoryQuery {
            since,
            event_id,
            limit: 100,
        }
    }

    fn done() -> Recorded {
        Recorded::new("done", "posted")
    }

    fn acquired(claim: Claim) -> ClaimToken {
        match claim {
            Claim::Acquired(token) => token,
            other => panic!("expected Acquired, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_live_claim_is_held_elsewhere() {
        let ledger = MemoryLedger::new();
        let first = acquired(
            ledger
                .claim(&key("e1", "teams"), LEASE, soon())
                .await
                .unwrap(),
        );
        let second = ledger
            .claim(&key("e1", "teams"), LEASE, soon())
            .await
            .unwrap();
        assert!(
            matches!(second, Claim::HeldElsewhere { age } if age < LEASE / 10),
            "{second:?}, first claimed at {:?}",
            first.claimed_at()
        );
        // Another target of the same event is another effect.
        acquired(
            ledger
                .claim(&key("e1", "slack"), LEASE, soon())
                .await
                .unwrap(),
        );
    }

    #[tokio::test]
    async fn completed_is_done_with_its_outcome_on_every_later_claim() {
        let ledger = MemoryLedger::new();
        let token = acquired(ledger.claim(&key("e1", "t"), LEASE, soon()).await.unwrap());
        ledger.complete(&token, &done()).await.unwrap();
        for _ in 0..3 {
            match ledger
                .claim(&key("e1", "t"), Duration::ZERO, soon())
                .await
                .unwrap()
            {
                Claim::Done { outcome, .. } => assert_eq!(outcome, done()),
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_stale_claim_is_taken_over_and_the_old_claimant_loses_it() {
        let ledger = MemoryLedger::new();
        let k = key("e1", "t");
        let old = acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
        ledger.backdate(&k, LEASE * 2);
        let new = acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
        assert!(matches!(
            ledger.claim(&k, LEASE, soon()).await.unwrap(),
            Claim::HeldElsewhere { .. }
        ));
        let lost = ledger.complete(&old, &done()).await.unwrap_err();
        assert!(matches!(lost, LedgerError::ClaimLost { .. }) && !lost.is_transient());
        // Releasing the lost claim leaves the new one alone.
        ledger.release(&old).await.unwrap();
        ledger.complete(&new, &done()).await.unwrap();
    }

    #[tokio::test]
    async fn no_claim_is_made_once_the_delivery_has_no_time_left() {
        let ledger = MemoryLedger::new();
        let k = key("e1", "t");
        let late = ledger
            .claim(&k, LEASE, tokio::time::Instant::now())
            .await
            .unwrap_err();
        assert!(
            matches!(late, LedgerError::DeadlineExceeded { .. }) && late.is_transient(),
            "{late:?}"
        );
        acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
    }

    #[tokio::test]
    async fn release_then_reclaim() {
        let ledger = MemoryLedger::new();
        let k = key("e1", "t");
        let token = acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
        ledger.release(&token).await.unwrap();
        acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn history_by_time_and_event() {
        let ledger = MemoryLedger::new();
        let a = acquired(ledger.claim(&key("e1", "t"), LEASE, soon()).await.unwrap());
        ledger.complete(&a, &done()).await.unwrap();
        tokio::time::advance(Duration::from_secs(3600)).await;
        acquired(ledger.claim(&key("e2", "t"), LEASE, soon()).await.unwrap());

        let all = ledger.history(&query(None, None)).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].key.event_id, "e1", "newest first");
        assert_eq!(all[1].state, EntryState::Done);
        assert_eq!(all[1].outcome, Some(done()));
        assert_eq!(all[0].state, EntryState::Claimed);

        let recent = SystemTime::now() - Duration::from_secs(60);
        let since = ledger.history(&query(Some(recent), None)).await.unwrap();
        assert_eq!(since.len(), 1);
        assert_eq!(since[0].key.event_id, "e2");
        let by_event = ledger.history(&query(None, Some("e1"))).await.unwrap();
        assert_eq!(by_event.len(), 1);
        assert_eq!(by_event[0].key, key("e1", "t"));
    }

    #[tokio::test(start_paused = true)]
    async fn history_is_the_newest_first_up_to_the_limit() {
        let ledger = MemoryLedger::new();
        for i in 0..30 {
            let k = key(&format!("e{i:02}"), "t");
            acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
            // Claims within one clock tick would tie; a second apart they cannot.
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let newest = ledger
            .history(&HistoryQuery {
                limit: 5,
                ..query(None, None)
            })
            .await
            .unwrap();
        let ids: Vec<&str> = newest
            .iter()
            .map(|entry| entry.key.event_id.as_str())
            .collect();
        assert_eq!(ids, ["e29", "e28", "e27", "e26", "e25"]);
        let none = HistoryQuery {
            limit: 0,
            ..query(None, None)
        };
        assert!(ledger.history(&none).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_turn_to_clean_is_never_listed_nor_cleaned() {
        let ledger = MemoryLedger::new();
        let turn = EffectKey::new("", "~clean-turn", "clean", "");
        acquired(ledger.claim(&turn, LEASE * 18, soon()).await.unwrap());
        acquired(ledger.claim(&key("e1", "t"), LEASE, soon()).await.unwrap());
        let all = ledger.history(&query(None, None)).await.unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(
            ledger
                .history(&query(None, Some("~clean-turn")))
                .await
                .unwrap()
                .is_empty()
        );
        let future = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(ledger.clean(future, 10).await.unwrap(), 1);
        // Still there: a second claim of the turn is held.
        assert!(matches!(
            ledger.claim(&turn, LEASE * 18, soon()).await.unwrap(),
            Claim::HeldElsewhere { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn clean_removes_only_old_entries_and_stops_at_the_bound() {
        let ledger = MemoryLedger::new();
        for i in 0..5 {
            let k = key(&format!("old{i}"), "t");
            acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
        }
        // Within RETENTION, so not forgotten before the cleaning.
        tokio::time::advance(RETENTION / 2).await;
        acquired(ledger.claim(&key("new", "t"), LEASE, soon()).await.unwrap());
        let cut = SystemTime::now() - RETENTION / 4;
        assert_eq!(ledger.clean(cut, 3).await.unwrap(), 3);
        assert_eq!(ledger.clean(cut, 3).await.unwrap(), 2);
        assert_eq!(ledger.clean(cut, 3).await.unwrap(), 0);
        let left = ledger.history(&query(None, None)).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].key.event_id, "new");
    }

    #[tokio::test]
    async fn keys_with_reserved_characters_are_distinct_effects() {
        let ledger = MemoryLedger::new();
        let odd = EffectKey::new("a/b#c?d\\e", "id/1?#", "notify", "t/x");
        acquired(ledger.claim(&odd, LEASE, soon()).await.unwrap());
        let history = ledger.history(&query(None, Some("id/1?#"))).await.unwrap();
        assert_eq!(history[0].key, odd);
        assert_eq!(ledger.describe(), "in memory");
    }

    #[tokio::test(start_paused = true)]
    async fn leases_end_on_tokios_clock() {
        let ledger = MemoryLedger::new();
        let k = key("e1", "t");
        acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
        tokio::time::advance(LEASE - Duration::from_secs(1)).await;
        assert_eq!(
            ledger.claim(&k, LEASE, soon()).await.unwrap(),
            Claim::HeldElsewhere {
                age: LEASE - Duration::from_secs(1)
            }
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_ledger_forgets_the_oldest_done_entry_then_the_oldest_claim() {
        let ledger = MemoryLedger::with_capacity(3);
        let a = acquired(ledger.claim(&key("a", "t"), LEASE, soon()).await.unwrap());
        let b = acquired(ledger.claim(&key("b", "t"), LEASE, soon()).await.unwrap());
        let c = acquired(ledger.claim(&key("c", "t"), LEASE, soon()).await.unwrap());
        ledger.complete(&b, &done()).await.unwrap();
        ledger.complete(&c, &done()).await.unwrap();
        let ids = |entries: Vec<Entry>| {
            let mut ids: Vec<String> = entries.into_iter().map(|e| e.key.event_id).collect();
            ids.sort();
            ids
        };
        // Full: b is the oldest done entry (older than c, though a is older still).
        acquired(ledger.claim(&key("d", "t"), LEASE, soon()).await.unwrap());
        let all = ledger.history(&query(None, None)).await.unwrap();
        assert_eq!(ids(all), ["a", "c", "d"]);
        // c is the only done one; then a, the oldest claim.
        acquired(ledger.claim(&key("e", "t"), LEASE, soon()).await.unwrap());
        acquired(ledger.claim(&key("f", "t"), LEASE, soon()).await.unwrap());
        let all = ledger.history(&query(None, None)).await.unwrap();
        assert_eq!(ids(all), ["d", "e", "f"]);
        // The forgotten claim's completion is lost; a forgotten effect can be claimed again.
        let lost = ledger.complete(&a, &done()).await.unwrap_err();
        assert!(matches!(lost, LedgerError::ClaimLost { .. }), "{lost:?}");
        acquired(ledger.claim(&key("b", "t"), LEASE, soon()).await.unwrap());
    }

    #[tokio::test]
    async fn memory_does_not_grow_with_traffic() {
        let ledger = MemoryLedger::with_capacity(100);
        for i in 0..10_000 {
            let token = acquired(
                ledger
                    .claim(&key(&format!("e{i}"), "t"), LEASE, soon())
                    .await
                    .unwrap(),
            );
            if i % 3 != 0 {
                ledger.complete(&token, &done()).await.unwrap();
            }
        }
        {
            let entries = ledger.entries();
            assert_eq!(entries.records.len(), 100);
            assert_eq!(entries.claimed.len() + entries.done.len(), 100);
        }
        let everything = HistoryQuery {
            limit: usize::MAX,
            ..query(None, None)
        };
        assert_eq!(ledger.history(&everything).await.unwrap().len(), 100);

        let default = MemoryLedger::new();
        for i in 0..MemoryLedger::DEFAULT_CAPACITY + 10 {
            acquired(
                default
                    .claim(&key(&format!("e{i}"), "t"), LEASE, soon())
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(
            default.entries().records.len(),
            MemoryLedger::DEFAULT_CAPACITY
        );
    }

    #[tokio::test(start_paused = true)]
    async fn entries_older_than_the_retention_are_forgotten_when_touched() {
        let ledger = MemoryLedger::new();
        let old = acquired(ledger.claim(&key("old", "t"), LEASE, soon()).await.unwrap());
        ledger.complete(&old, &done()).await.unwrap();
        acquired(
            ledger
                .claim(&key("stale", "t"), LEASE, soon())
                .await
                .unwrap(),
        );
        tokio::time::advance(RETENTION).await;
        acquired(ledger.claim(&key("new", "t"), LEASE, soon()).await.unwrap());
        let all = ledger.history(&query(None, None)).await.unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].key.event_id, "new");
        // As after a cleaning: the effect is unknown again.
        acquired(ledger.claim(&key("old", "t"), LEASE, soon()).await.unwrap());
    }
}
