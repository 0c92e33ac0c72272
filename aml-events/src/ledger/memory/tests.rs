//! [`MemoryLedger`](super::MemoryLedger)'s rules, one test each: claims, take-overs and
//! releases, history, cleaning, and the bound on its memory; and how long it keeps marks (what
//! marks share with the table ledger is tested against both, in tests/ledger_marks.rs).

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

/// A new mark at `key`, kept `keep`.
fn mark(key: &str, keep: Duration) -> MarkWrite<'_> {
    MarkWrite {
        key,
        text: "sent",
        version: None,
        keep,
    }
}

#[tokio::test(start_paused = true)]
async fn a_mark_is_cleaned_once_its_keep_and_the_retention_are_both_over() {
    let ledger = MemoryLedger::new();
    assert!(ledger.write_mark(mark("brief", LEASE)).await.unwrap());
    assert!(
        ledger
            .write_mark(mark("long", RETENTION * 3))
            .await
            .unwrap()
    );
    let cut = || SystemTime::now() - RETENTION;
    let second = Duration::from_secs(1);
    // The brief mark is kept the retention, the long one its keep.
    tokio::time::advance(RETENTION - second).await;
    assert_eq!(ledger.clean(cut(), 10).await.unwrap(), 0);
    tokio::time::advance(second).await;
    assert_eq!(ledger.clean(cut(), 10).await.unwrap(), 1);
    assert_eq!(ledger.read_mark("brief").await.unwrap(), None);
    tokio::time::advance(RETENTION * 2 - second).await;
    assert_eq!(ledger.clean(cut(), 10).await.unwrap(), 0);
    assert!(ledger.read_mark("long").await.unwrap().is_some());
    tokio::time::advance(second).await;
    assert_eq!(ledger.clean(cut(), 10).await.unwrap(), 1);
    assert_eq!(ledger.read_mark("long").await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn a_full_ledger_forgets_an_expired_mark_first_then_the_oldest() {
    let ledger = MemoryLedger::with_capacity(2);
    assert!(ledger.write_mark(mark("a", LEASE)).await.unwrap());
    tokio::time::advance(RETENTION / 2).await;
    assert!(ledger.write_mark(mark("b", RETENTION * 2)).await.unwrap());
    tokio::time::advance(RETENTION / 2).await;
    // Full, and a's keep is over: a goes.
    assert!(ledger.write_mark(mark("c", LEASE)).await.unwrap());
    assert_eq!(ledger.read_mark("a").await.unwrap(), None);
    tokio::time::advance(Duration::from_secs(1)).await;
    // Full, none expired: the oldest, b, goes, though kept longer.
    assert!(ledger.write_mark(mark("d", LEASE)).await.unwrap());
    assert_eq!(ledger.read_mark("b").await.unwrap(), None);
    for kept in ["c", "d"] {
        assert!(ledger.read_mark(kept).await.unwrap().is_some(), "{kept}");
    }
    // Replacing a mark takes no room.
    let c = ledger.read_mark("c").await.unwrap().unwrap();
    let again = MarkWrite {
        version: Some(&c.version),
        ..mark("c", LEASE)
    };
    assert!(ledger.write_mark(again).await.unwrap());
    assert!(ledger.read_mark("d").await.unwrap().is_some());
}
