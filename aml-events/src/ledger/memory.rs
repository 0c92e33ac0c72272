//! [`MemoryLedger`]: the ledger of one process, in a `Mutex<HashMap>`.
//!
//! It exists for runs without storage (a local dry run, where SPEC §12 keeps the in-memory set
//! of recent ids) and as the reference the Azure Table ledger's behaviour is tested against:
//! the same claim, take-over, release and cleaning rules, with no network. It deliberately
//! does not survive a restart nor see other instances; the ready line says so
//! ([`Ledger::describe`] is `in memory`).

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use super::{
    CLEAN_ACTION, Claim, ClaimToken, EffectKey, Entry, EntryState, HistoryQuery, Ledger,
    LedgerError, LedgerFuture, Newest, Recorded,
};

#[derive(Debug, Clone)]
struct Record {
    state: EntryState,
    /// [`Recorded::to_text`], as the table stores it, so both ledgers keep the same bound.
    outcome: Option<String>,
    claimed_at: SystemTime,
    done_at: Option<SystemTime>,
    claim_id: String,
    /// Changes on every write, like a table entity's ETag.
    version: u64,
}

/// A ledger in this process's memory. Every claim through one instance is a separate claimant:
/// a second claim of a live key is [`Claim::HeldElsewhere`], as it would be from another
/// instance.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: Mutex<HashMap<EffectKey, Record>>,
    next_version: Mutex<u64>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        MemoryLedger::default()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<EffectKey, Record>> {
        // Plain data, consistent after a panic elsewhere.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn version(&self) -> u64 {
        let mut next = self
            .next_version
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *next += 1;
        *next
    }

    fn claim_now(&self, key: &EffectKey, lease: Duration) -> Claim {
        let now = SystemTime::now();
        let version = self.version();
        let mut entries = self.entries();
        if let Some(record) = entries.get(key) {
            match record.state {
                EntryState::Done => {
                    return Claim::Done {
                        outcome: Recorded::from_text(record.outcome.as_deref().unwrap_or_default()),
                        at: record.done_at.unwrap_or(record.claimed_at),
                    };
                }
                EntryState::Claimed => {
                    let age = now.duration_since(record.claimed_at).unwrap_or_default();
                    if age < lease {
                        return Claim::HeldElsewhere { age };
                    }
                }
            }
        }
        let claim_id = format!("memory-{version}");
        entries.insert(
            key.clone(),
            Record {
                state: EntryState::Claimed,
                outcome: None,
                claimed_at: now,
                done_at: None,
                claim_id: claim_id.clone(),
                version,
            },
        );
        Claim::Acquired(ClaimToken::new(
            key.clone(),
            now,
            claim_id,
            version.to_string(),
        ))
    }

    fn complete_now(&self, token: &ClaimToken, outcome: &Recorded) -> Result<(), LedgerError> {
        let version = self.version();
        let mut entries = self.entries();
        match entries.get_mut(token.key()) {
            Some(record) if record.version.to_string() == token.etag() => {
                record.state = EntryState::Done;
                record.outcome = Some(outcome.to_text());
                record.done_at = Some(SystemTime::now());
                record.version = version;
                Ok(())
            }
            _ => Err(LedgerError::ClaimLost {
                key: token.key().clone(),
            }),
        }
    }

    fn release_now(&self, token: &ClaimToken) {
        let mut entries = self.entries();
        if entries.get(token.key()).is_some_and(|record| {
            record.claim_id == token.claim_id() && record.state == EntryState::Claimed
        }) {
            entries.remove(token.key());
        }
    }

    fn history_now(&self, query: &HistoryQuery<'_>) -> Vec<Entry> {
        let mut newest = Newest::new(query.limit);
        let entries = self.entries();
        let matching = entries.iter().filter(|(key, record)| {
            query.since.is_none_or(|since| record.claimed_at >= since)
                && query.event_id.is_none_or(|id| key.event_id == id)
        });
        for (key, record) in matching {
            newest.push(Entry {
                key: key.clone(),
                state: record.state,
                outcome: record.outcome.as_deref().map(Recorded::from_text),
                claimed_at: record.claimed_at,
                done_at: record.done_at,
            });
        }
        newest.into_vec()
    }

    fn clean_now(&self, older_than: SystemTime, max_entries: usize) -> usize {
        let mut entries = self.entries();
        let old: Vec<EffectKey> = entries
            .iter()
            .filter(|(key, record)| key.action != CLEAN_ACTION && record.claimed_at < older_than)
            .map(|(key, _)| key.clone())
            .take(max_entries)
            .collect();
        for key in &old {
            entries.remove(key);
        }
        old.len()
    }

    /// Backdates `key`'s claim by `age`, so tests can make a claim stale without waiting.
    #[cfg(test)]
    pub(crate) fn backdate(&self, key: &EffectKey, age: Duration) {
        if let Some(record) = self.entries().get_mut(key) {
            record.claimed_at -= age;
            if let Some(done) = &mut record.done_at {
                *done -= age;
            }
        }
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

    #[tokio::test]
    async fn history_by_time_and_event() {
        let ledger = MemoryLedger::new();
        let a = acquired(ledger.claim(&key("e1", "t"), LEASE, soon()).await.unwrap());
        ledger.complete(&a, &done()).await.unwrap();
        ledger.backdate(&key("e1", "t"), Duration::from_secs(3600));
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

    #[tokio::test]
    async fn history_is_the_newest_first_up_to_the_limit() {
        let ledger = MemoryLedger::new();
        for i in 0..30 {
            let k = key(&format!("e{i:02}"), "t");
            acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
            // Claims within one clock tick would tie; an hour apart they cannot.
            ledger.backdate(&k, Duration::from_secs(3600) * (30 - i));
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

    #[tokio::test]
    async fn clean_removes_only_old_entries_and_stops_at_the_bound() {
        let ledger = MemoryLedger::new();
        for i in 0..5 {
            let k = key(&format!("old{i}"), "t");
            acquired(ledger.claim(&k, LEASE, soon()).await.unwrap());
            ledger.backdate(&k, super::super::RETENTION * 2);
        }
        acquired(ledger.claim(&key("new", "t"), LEASE, soon()).await.unwrap());
        let cut = SystemTime::now() - super::super::RETENTION;
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
}
