//! The Azure Table ledger against a real Azurite (installed and started by `azurite/mod.rs`):
//! claims across instances and restarts, stale claims and their take-over, release, history,
//! cleaning, an unreachable store, odd keys, and errors that never show the key.

mod azure_mock;
mod azurite;
mod table_rest;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use aml_events::{
    azure::RetryPolicy,
    chain,
    ledger::{
        Claim, ClaimToken, EffectKey, EntryState, HistoryQuery, Ledger, LedgerError, Recorded,
        TableConnection, TableLedger, TableLedgerOptions,
    },
};
use azure_mock::RefusingPort;
use azurite::Azurite;
use futures_util::future::join_all;

const LEASE: Duration = Duration::from_secs(50);

/// A table of its own for each test, so tests run in parallel on one Azurite.
fn table() -> String {
    format!("t{}", fastrand::u64(..))
}

fn options(table: &str) -> TableLedgerOptions {
    TableLedgerOptions {
        table: table.to_owned(),
        retry: RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        },
        ..TableLedgerOptions::default()
    }
}

/// A new instance (a new claimant: another server, or this one restarted) on `table`.
fn ledger(table: &str) -> TableLedger {
    let connection =
        TableConnection::parse("AML_LEDGER", &Azurite::shared().connection_string()).unwrap();
    TableLedger::new(connection, None, options(table)).unwrap()
}

fn key(event: &str, target: &str) -> EffectKey {
    EffectKey::new(
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w",
        event,
        "notify",
        target,
    )
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

fn acquired(claim: Result<Claim, LedgerError>) -> ClaimToken {
    match claim {
        Ok(Claim::Acquired(token)) => token,
        Ok(other) => panic!("expected Acquired, got {other:?}"),
        Err(error) => panic!("expected Acquired, got {}", chain(&error)),
    }
}

/// Splits claims into the tokens won and the rest.
fn winners(claims: Vec<Result<Claim, LedgerError>>) -> (Vec<ClaimToken>, Vec<Claim>) {
    let mut won = Vec::new();
    let mut lost = Vec::new();
    for claim in claims {
        match claim {
            Ok(Claim::Acquired(token)) => won.push(token),
            Ok(other) => lost.push(other),
            Err(error) => panic!("claim failed: {}", chain(&error)),
        }
    }
    (won, lost)
}

#[tokio::test]
async fn the_table_is_created_when_missing_and_creating_it_again_is_fine() {
    let table = table();
    // Arrange: two instances, each creating the table on its first call.
    let first = ledger(&table);
    let second = ledger(&table);
    // Act
    assert!(first.history(&query(None, None)).await.unwrap().is_empty());
    acquired(second.claim(&key("e1", "t"), LEASE, soon()).await);
    // Assert: a third, restarted instance finds the table and the entry.
    let third = ledger(&table);
    assert_eq!(third.history(&query(None, None)).await.unwrap().len(), 1);
    assert!(third.describe().contains(&table), "{}", third.describe());
}

#[tokio::test]
async fn of_two_claimants_on_one_key_only_one_acquires() {
    let table = table();
    let (a, b) = (ledger(&table), ledger(&table));
    let k = key("e1", "teams");
    a.history(&query(None, None)).await.unwrap(); // the table exists before the race
    let claims = join_all([a.claim(&k, LEASE, soon()), b.claim(&k, LEASE, soon())]).await;
    let (won, lost) = winners(claims);
    assert_eq!(won.len(), 1, "{lost:?}");
    assert!(
        matches!(lost[..], [Claim::HeldElsewhere { age }] if age < LEASE / 10),
        "{lost:?}"
    );
}

#[tokio::test]
async fn a_completed_effect_is_done_on_every_later_claim_and_after_a_restart() {
    let table = table();
    let a = ledger(&table);
    let k = key("e1", "slack");
    let token = acquired(a.claim(&k, LEASE, soon()).await);
    a.complete(&token, &done()).await.unwrap();
    for claimant in [ledger(&table), ledger(&table), a] {
        match claimant.claim(&k, Duration::ZERO, soon()).await.unwrap() {
            Claim::Done { outcome, at } => {
                assert_eq!(outcome, done());
                assert!(at >= token.claimed_at());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_stale_claim_is_taken_over_and_only_one_of_two_takers_wins() {
    let table = table();
    let lease = Duration::from_secs(1);
    let (crashed, b, c) = (ledger(&table), ledger(&table), ledger(&table));
    let k = key("e1", "retrain");
    let old = acquired(crashed.claim(&k, lease, soon()).await);
    assert!(matches!(
        b.claim(&k, lease, soon()).await.unwrap(),
        Claim::HeldElsewhere { .. }
    ));

    // Ages are read on the service's clock, whose `Date` counts whole seconds (an age may read
    // up to a second young): wait past the lease by more than that.
    tokio::time::sleep(lease + Duration::from_millis(1300)).await;
    let (won, lost) =
        winners(join_all([b.claim(&k, lease, soon()), c.claim(&k, lease, soon())]).await);
    assert_eq!(won.len(), 1, "{lost:?}");
    assert!(
        matches!(lost[..], [Claim::HeldElsewhere { .. }]),
        "{lost:?}"
    );

    // The crashed claimant comes back: its claim is lost, and releasing it changes nothing.
    let error = crashed.complete(&old, &done()).await.unwrap_err();
    assert!(
        matches!(error, LedgerError::ClaimLost { .. }),
        "{}",
        chain(&error)
    );
    assert!(!error.is_transient());
    crashed.release(&old).await.unwrap();
    // The winner's claim still holds, and it completes it (a token works from any instance).
    assert!(matches!(
        c.claim(&k, LEASE, soon()).await.unwrap(),
        Claim::HeldElsewhere { .. }
    ));
    b.complete(&won[0], &done()).await.unwrap();
    assert!(matches!(
        crashed.claim(&k, lease, soon()).await.unwrap(),
        Claim::Done { .. }
    ));
}

#[tokio::test]
async fn a_released_claim_can_be_claimed_again() {
    let table = table();
    let (a, b) = (ledger(&table), ledger(&table));
    let k = key("e1", "smoke");
    let token = acquired(a.claim(&k, LEASE, soon()).await);
    a.release(&token).await.unwrap();
    let again = acquired(b.claim(&k, LEASE, soon()).await);
    // Releasing twice, or a claim no longer there, is harmless.
    a.release(&token).await.unwrap();
    let failed = Recorded::new("failed", "the endpoint answered 500")
        .with_found(serde_json::json!({"status": 500, "latencyMs": 12.3}));
    b.complete(&again, &failed).await.unwrap();
    let history = a.history(&query(None, Some("e1"))).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outcome, Some(failed));
}

#[tokio::test]
async fn history_lists_entries_since_a_time_or_for_an_event() {
    let table = table();
    let a = ledger(&table);
    let first = acquired(a.claim(&key("e1", "teams"), LEASE, soon()).await);
    a.complete(&first, &done()).await.unwrap();
    acquired(a.claim(&key("e1", "slack"), LEASE, soon()).await);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = SystemTime::now();
    acquired(a.claim(&key("e2", "teams"), LEASE, soon()).await);

    let all = a.history(&query(None, None)).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        all.windows(2).all(|w| w[0].claimed_at >= w[1].claimed_at),
        "newest first"
    );
    assert_eq!(all[2].key, key("e1", "teams"));
    assert_eq!(all[2].state, EntryState::Done);
    assert!(all[2].done_at.is_some());

    let recent = a.history(&query(Some(since), None)).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].key, key("e2", "teams"));
    assert_eq!(recent[0].state, EntryState::Claimed);

    let e1 = a.history(&query(None, Some("e1"))).await.unwrap();
    assert_eq!(e1.len(), 2);
    assert!(e1.iter().all(|entry| entry.key.event_id == "e1"));
    assert!(
        a.history(&query(None, Some("nothing")))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn clean_removes_only_older_entries_and_stops_at_the_bound() {
    let table = table();
    let a = ledger(&table);
    for i in 0..5 {
        acquired(a.claim(&key(&format!("old{i}"), "t"), LEASE, soon()).await);
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cut = SystemTime::now();
    acquired(a.claim(&key("new", "t"), LEASE, soon()).await);

    assert_eq!(a.clean(cut, 3).await.unwrap(), 3);
    assert_eq!(a.clean(cut, 3).await.unwrap(), 2);
    assert_eq!(a.clean(cut, 3).await.unwrap(), 0);
    assert_eq!(a.clean(cut, 0).await.unwrap(), 0);
    let left = a.history(&query(None, None)).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key.event_id, "new");
}

#[tokio::test]
async fn an_unreachable_ledger_is_a_transient_error_never_a_claim() {
    let port = RefusingPort::new();
    let text = format!(
        "AccountName=devstoreaccount1;AccountKey={};TableEndpoint={}devstoreaccount1",
        azurite::KEY,
        port.url()
    );
    let connection = TableConnection::parse("AML_LEDGER", &text).unwrap();
    let options = TableLedgerOptions {
        deadline: Duration::from_secs(2),
        ..options("amlhandlers")
    };
    let ledger = TableLedger::new(connection, None, options).unwrap();
    let error = ledger
        .claim(&key("e1", "t"), LEASE, soon())
        .await
        .unwrap_err();
    let shown = chain(&error).to_string();
    assert!(error.is_transient(), "{shown}");
    assert!(!shown.contains(azurite::KEY), "{shown}");
    assert!(
        shown.contains(&port.addr().to_string()),
        "names the endpoint: {shown}"
    );
    assert!(
        ledger
            .history(&query(None, None))
            .await
            .unwrap_err()
            .is_transient()
    );
}

#[tokio::test]
async fn keys_with_reserved_characters_round_trip() {
    let table = table();
    let a = ledger(&table);
    let odd = EffectKey::new("a/b\\c#d?e'f %g", "id/1#2?3", "notify", "x/y!z~2F");
    let plain = EffectKey::new("a/b\\c#d?e'f %g", "id/1#2?3", "notify", "x/y!z/");
    let token = acquired(a.claim(&odd, LEASE, soon()).await);
    acquired(a.claim(&plain, LEASE, soon()).await);
    a.complete(&token, &done()).await.unwrap();
    let history = a.history(&query(None, Some("id/1#2?3"))).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .any(|entry| entry.key == odd && entry.state == EntryState::Done)
    );
    assert!(history.iter().any(|entry| entry.key == plain));
    assert!(matches!(
        ledger(&table).claim(&odd, LEASE, soon()).await.unwrap(),
        Claim::Done { .. }
    ));
    let empty = EffectKey::new("", "e", "retrain", "");
    acquired(a.claim(&empty, LEASE, soon()).await);
}

#[tokio::test]
async fn errors_and_debug_output_never_show_the_key() {
    let azurite = Azurite::shared();
    // A valid base64 key that is not Azurite's: every call is refused as unauthenticated.
    let wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk=";
    let text = format!(
        "AccountName=devstoreaccount1;AccountKey={wrong};TableEndpoint={}",
        azurite.endpoint()
    );
    let connection = TableConnection::parse("AML_LEDGER", &text).unwrap();
    assert!(!format!("{connection:?}").contains(wrong));
    let ledger = TableLedger::new(connection, None, options(&table())).unwrap();
    assert!(!format!("{ledger:?}").contains(wrong));
    let error = ledger
        .claim(&key("e1", "t"), LEASE, soon())
        .await
        .unwrap_err();
    let shown = format!("{} / {error:?}", chain(&error));
    assert!(
        matches!(error, LedgerError::Status { status: 403, .. }),
        "{shown}"
    );
    assert!(!error.is_transient(), "{shown}");
    assert!(
        !shown.contains(wrong) && !shown.contains(azurite::KEY),
        "{shown}"
    );
}

#[tokio::test]
async fn many_instances_claiming_one_effect_act_once() {
    let table = table();
    let instances: Vec<Arc<dyn Ledger>> = (0..6).map(|_| Arc::new(ledger(&table)) as _).collect();
    instances[0].history(&query(None, None)).await.unwrap();
    let k = key("burst", "teams");
    let claims = join_all(
        instances
            .iter()
            .map(|ledger| ledger.claim(&k, LEASE, soon())),
    )
    .await;
    let (won, lost) = winners(claims);
    assert_eq!(won.len(), 1, "{lost:?}");
    assert!(
        lost.iter()
            .all(|claim| matches!(claim, Claim::HeldElsewhere { .. }))
    );
}

/// A token source that always hands out one token.
#[derive(Debug)]
struct FixedToken;

impl aml_events::azure::TokenSource for FixedToken {
    fn token<'a>(&'a self, scope: &'a str) -> aml_events::azure::TokenFuture<'a> {
        assert_eq!(scope, aml_events::ledger::STORAGE_SCOPE);
        Box::pin(async {
            Ok(aml_events::azure::AccessToken::new(
                aml_events::Secret::new("storage-token"),
                SystemTime::now() + Duration::from_secs(3600),
            ))
        })
    }
}

// Azurite accepts OAuth only over https, so the identity mode is checked against a mock: the
// same calls, with `Authorization: Bearer` and an API version that accepts it.
#[tokio::test]
async fn identity_connections_send_a_bearer_token() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{header, method, path},
    };
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/Tables"))
        .and(header("authorization", "Bearer storage-token"))
        .and(header("x-ms-version", "2019-02-02"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .named("create table")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ledger"))
        .and(header("authorization", "Bearer storage-token"))
        .respond_with(ResponseTemplate::new(204).insert_header("etag", "W/\"1\""))
        .expect(1)
        .named("insert claim")
        .mount(&server)
        .await;
    let connection = TableConnection::parse("AML_LEDGER", &server.uri()).unwrap();
    assert!(connection.needs_token());
    assert!(TableLedger::new(connection.clone(), None, options("ledger")).is_err());
    let ledger =
        TableLedger::new(connection, Some(Arc::new(FixedToken)), options("ledger")).unwrap();
    // Act
    let claim = ledger.claim(&key("e1", "t"), LEASE, soon()).await;
    // Assert
    acquired(claim);
}

#[tokio::test]
async fn an_outcome_of_a_megabyte_is_stored_cut_and_the_claim_is_closed() {
    let table = table();
    let a = ledger(&table);
    let k = key("big", "smoke");
    let token = acquired(a.claim(&k, LEASE, soon()).await);
    let detail = "the endpoint answered: ".to_owned() + &"x".repeat(1 << 20);
    let outcome = Recorded::new("failed", detail.clone()).with_found(serde_json::json!(500));
    // Act: Table storage refuses a property over 64 KiB; the stored outcome is at most 4 KiB.
    a.complete(&token, &outcome).await.unwrap();
    // Assert: done for every later claimant, with the outcome cut.
    let Claim::Done {
        outcome: stored, ..
    } = ledger(&table).claim(&k, LEASE, soon()).await.unwrap()
    else {
        panic!("the claim should be closed");
    };
    assert_eq!(stored.status, "failed");
    assert_eq!(stored.found, Some(serde_json::json!(500)));
    let kept = stored.detail.strip_suffix('…').expect("cut with …");
    assert!(
        detail.starts_with(kept) && kept.len() > 3000,
        "{} bytes kept",
        kept.len()
    );
    assert!(stored.to_text().len() <= Recorded::MAX_BYTES);
    let history = a.history(&query(None, Some("big"))).await.unwrap();
    assert_eq!(history[0].outcome, Some(stored));
}

#[tokio::test]
async fn no_claim_is_made_once_the_delivery_has_no_time_left() {
    let table = table();
    let a = ledger(&table);
    let k = key("late", "t");
    let late = a
        .claim(&k, LEASE, tokio::time::Instant::now())
        .await
        .unwrap_err();
    assert!(
        matches!(late, LedgerError::DeadlineExceeded { .. }) && late.is_transient(),
        "{}",
        chain(&late)
    );
    // Nothing was written: another instance acquires it at once.
    acquired(ledger(&table).claim(&k, LEASE, soon()).await);
}

// A store that answers slowly: the claim gives up at the delivery's end, not after the
// ledger's own (longer) budget.
#[tokio::test]
async fn a_claim_gives_up_by_the_deliverys_deadline() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path},
    };
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/Tables"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(3)))
        .named("create table, slowly")
        .mount(&server)
        .await;
    let connection = TableConnection::parse("AML_LEDGER", &server.uri()).unwrap();
    let ledger =
        TableLedger::new(connection, Some(Arc::new(FixedToken)), options("ledger")).unwrap();
    let started = tokio::time::Instant::now();
    // Act
    let error = ledger
        .claim(&key("e1", "t"), LEASE, started + Duration::from_millis(300))
        .await
        .unwrap_err();
    // Assert
    assert!(
        matches!(error, LedgerError::DeadlineExceeded { .. }) && error.is_transient(),
        "{}",
        chain(&error)
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

// Every insert finds an entity, every read a stale claim of someone else, every take-over a
// newer version: the claim gives up, and says so as a transient error.
#[tokio::test]
async fn an_entry_that_keeps_changing_is_contended_and_transient() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path, path_regex},
    };
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/Tables"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ledger"))
        .respond_with(ResponseTemplate::new(409))
        .expect(4)
        .named("insert claim")
        .mount(&server)
        .await;
    let stale = serde_json::json!({
        "State": "claimed",
        "ClaimedAt": "2020-01-01T00:00:00.000000Z",
        "Timestamp": "2020-01-01T00:00:00.0000000Z",
        "ClaimId": "someone else",
    });
    Mock::given(method("GET"))
        .and(path_regex(r"^/ledger\(PartitionKey="))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "W/\"1\"")
                .set_body_json(stale),
        )
        .expect(4)
        .named("read claim")
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(r"^/ledger\(PartitionKey="))
        .respond_with(ResponseTemplate::new(412))
        .expect(4)
        .named("take over claim")
        .mount(&server)
        .await;
    let connection = TableConnection::parse("AML_LEDGER", &server.uri()).unwrap();
    let ledger =
        TableLedger::new(connection, Some(Arc::new(FixedToken)), options("ledger")).unwrap();
    // Act
    let error = ledger
        .claim(&key("e1", "t"), LEASE, soon())
        .await
        .unwrap_err();
    // Assert
    assert!(
        matches!(error, LedgerError::Contended { .. }),
        "{}",
        chain(&error)
    );
    assert!(error.is_transient());
    assert!(
        error
            .to_string()
            .starts_with("the entry for notify t for event e1 from "),
        "{error}"
    );
}

#[tokio::test]
async fn history_is_the_newest_first_up_to_the_limit() {
    let table = table();
    let a = ledger(&table);
    for i in 0..30 {
        acquired(a.claim(&key(&format!("e{i:02}"), "t"), LEASE, soon()).await);
    }
    let newest = HistoryQuery {
        limit: 5,
        ..query(None, None)
    };
    let ids: Vec<String> = a
        .history(&newest)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.key.event_id)
        .collect();
    assert_eq!(ids, ["e29", "e28", "e27", "e26", "e25"]);
    let none = HistoryQuery {
        limit: 0,
        ..query(None, None)
    };
    assert!(a.history(&none).await.unwrap().is_empty());
}

// More entities than one page holds (1,000): the newest are found across pages.
#[tokio::test]
async fn history_reads_every_page_but_keeps_only_the_limit() {
    let table = table();
    let a = Arc::new(ledger(&table));
    a.history(&query(None, None)).await.unwrap(); // the table exists before the burst
    let mut claimed = Vec::new();
    for batch in 0..11 {
        let claims = (0..100).map(|i| {
            let a = Arc::clone(&a);
            async move {
                let k = key(&format!("p{batch:02}-{i:03}"), "t");
                acquired(a.claim(&k, LEASE, soon()).await)
            }
        });
        claimed.extend(join_all(claims).await);
    }
    // The table keeps claim times to the microsecond: ties are ordered by key.
    let micros = |at: SystemTime| {
        at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_micros()
    };
    claimed
        .sort_by_key(|token| std::cmp::Reverse((micros(token.claimed_at()), token.key().clone())));
    let newest = HistoryQuery {
        limit: 3,
        ..query(None, None)
    };
    let found = a.history(&newest).await.unwrap();
    let found: Vec<&EffectKey> = found.iter().map(|entry| &entry.key).collect();
    let expected: Vec<&EffectKey> = claimed[..3].iter().map(ClaimToken::key).collect();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn history_finds_an_event_id_of_any_length() {
    let table = table();
    let a = ledger(&table);
    let long = "x".repeat(2000);
    let token = acquired(a.claim(&key(&long, "teams"), LEASE, soon()).await);
    a.complete(&token, &done()).await.unwrap();
    // The same id but one character: another partition.
    acquired(a.claim(&key(&long[1..], "teams"), LEASE, soon()).await);
    let found = a.history(&query(None, Some(&long))).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, key(&long, "teams"));
    assert_eq!(found[0].outcome, Some(done()));
}

#[tokio::test]
async fn the_turn_to_clean_is_never_listed_nor_cleaned() {
    let table = table();
    let a = ledger(&table);
    let turn = EffectKey::clean_turn();
    acquired(a.claim(&turn, Duration::from_secs(15 * 60), soon()).await);
    acquired(a.claim(&key("e1", "t"), LEASE, soon()).await);
    let all = a.history(&query(None, None)).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].key, key("e1", "t"));
    assert!(
        a.history(&query(None, Some(&turn.event_id)))
            .await
            .unwrap()
            .is_empty()
    );
    let future = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(a.clean(future, 10).await.unwrap(), 1);
    // The turn is still held.
    assert!(matches!(
        ledger(&table)
            .claim(&turn, Duration::from_secs(15 * 60), soon())
            .await
            .unwrap(),
        Claim::HeldElsewhere { .. }
    ));
}

/// Rewrites the entry of event `event_id` in `table` with `ClaimedAt` set to `claimed_at`, as an
/// instance whose clock is off would have written it; the service stamps it as written now.
async fn rewrite_claimed_at(table: &str, event_id: &str, claimed_at: SystemTime) {
    let claimed_at = time::OffsetDateTime::from(claimed_at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    table_rest::rewrite(table, &format!("EventId eq '{event_id}'"), |entity| {
        entity.insert("ClaimedAt".into(), claimed_at.into());
    })
    .await;
}

// See: the claim's age was local clock - ClaimedAt, so an instance whose clock ran an hour
// behind wrote claims every other instance took over at once.
#[tokio::test]
async fn a_claim_just_written_is_live_whatever_its_claimed_at_says() {
    let table = table();
    let (a, b) = (ledger(&table), ledger(&table));
    let k = key("skewed", "teams");
    acquired(a.claim(&k, LEASE, soon()).await);
    // Arrange: rewrite the claim as an instance whose clock is an hour behind would write it.
    rewrite_claimed_at(
        &table,
        "skewed",
        SystemTime::now() - Duration::from_secs(3600),
    )
    .await;
    // Act
    let claim = b.claim(&k, LEASE, soon()).await.unwrap();
    // Assert: written a moment ago by the service's clock, so live.
    assert!(
        matches!(claim, Claim::HeldElsewhere { age } if age < Duration::from_secs(10)),
        "{claim:?}"
    );
}

// Cleaning filtered on ClaimedAt, so an instance whose clock ran days behind wrote entries the
// next cleaning removed at once, and their effects could run again.
#[tokio::test]
async fn cleaning_goes_by_when_the_service_wrote_an_entry() {
    let table = table();
    let a = ledger(&table);
    let k = key("behind", "teams");
    let token = acquired(a.claim(&k, LEASE, soon()).await);
    a.complete(&token, &done()).await.unwrap();
    let three_days_ago = SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
    rewrite_claimed_at(&table, "behind", three_days_ago).await;
    // Act
    let removed = a
        .clean(SystemTime::now() - aml_events::ledger::RETENTION, 10)
        .await
        .unwrap();
    // Assert: written just now by the service's clock, so kept, and still done.
    assert_eq!(removed, 0);
    assert!(matches!(
        ledger(&table).claim(&k, LEASE, soon()).await.unwrap(),
        Claim::Done { .. }
    ));
}
