//! Noise control's marks, one set of cases run against both ledgers: the Azure Table ledger on
//! a real Azurite (installed and started by `azurite/mod.rs`), and [`MemoryLedger`]. Then what
//! only the table has: cleaning by `KeepUntil` against the service's clock, and a write whose
//! answer was lost.

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
        Claim, EffectKey, HistoryQuery, Ledger, LedgerError, MARK_MAX_BYTES, Mark, MarkWrite,
        MemoryLedger, RETENTION, TableConnection, TableLedger, TableLedgerOptions,
    },
};
use azurite::Azurite;

/// A short keep: the retention decides how long the mark is kept.
const BRIEF: Duration = Duration::from_secs(60);
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// Instances of one ledger: whatever one writes, the others read.
trait Store {
    fn instance(&self) -> Arc<dyn Ledger>;
}

/// One process's ledger: every instance is the same ledger.
struct Memory(Arc<MemoryLedger>);

impl Memory {
    fn new() -> Memory {
        Memory(Arc::new(MemoryLedger::new()))
    }
}

impl Store for Memory {
    fn instance(&self) -> Arc<dyn Ledger> {
        Arc::clone(&self.0) as _
    }
}

/// A table of its own on the shared Azurite: every instance is another claimant (another
/// server, or this one restarted).
struct Table(String);

impl Table {
    fn new() -> Table {
        Table(format!("m{}", fastrand::u64(..)))
    }

    fn ledger(&self) -> TableLedger {
        let connection =
            TableConnection::parse("AML_LEDGER", &Azurite::shared().connection_string()).unwrap();
        TableLedger::new(connection, None, options(&self.0)).unwrap()
    }
}

impl Store for Table {
    fn instance(&self) -> Arc<dyn Ledger> {
        Arc::new(self.ledger())
    }
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

async fn write(
    ledger: &dyn Ledger,
    key: &str,
    text: &str,
    version: Option<&str>,
) -> Result<bool, LedgerError> {
    let write = MarkWrite {
        key,
        text,
        version,
        keep: BRIEF,
    };
    ledger.write_mark(write).await
}

/// `write` that must not fail.
async fn written(ledger: &dyn Ledger, key: &str, text: &str, version: Option<&str>) -> bool {
    write(ledger, key, text, version)
        .await
        .unwrap_or_else(|error| panic!("writing mark {key}: {}", chain(&error)))
}

async fn read(ledger: &dyn Ledger, key: &str) -> Option<Mark> {
    ledger
        .read_mark(key)
        .await
        .unwrap_or_else(|error| panic!("reading mark {key}: {}", chain(&error)))
}

/// `text` written at `version` by each of `writers` at once, each in a task of its own: what
/// each write answered, in the writers' order.
async fn race(writers: [Arc<dyn Ledger>; 2], key: &str, version: Option<&str>) -> Vec<bool> {
    let tasks = writers.map(|ledger| {
        let (key, version) = (key.to_owned(), version.map(str::to_owned));
        tokio::spawn(async move {
            let text = format!("by {ledger:p}");
            written(ledger.as_ref(), &key, &text, version.as_deref()).await
        })
    });
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("a writer"));
    }
    answers
}

async fn created_read_back_and_replaced_at_its_version(store: &impl Store) {
    let (a, b) = (store.instance(), store.instance());
    let key = "notify/route/group/teams";
    assert_eq!(read(a.as_ref(), key).await, None);
    // Arrange: a creates the mark.
    let before = SystemTime::now();
    assert!(written(a.as_ref(), key, r#"{"sent":1}"#, None).await);
    // Act + Assert: b reads it, with when it was written.
    let first = read(b.as_ref(), key).await.expect("the mark");
    assert_eq!(first.text, r#"{"sent":1}"#);
    let slack = Duration::from_secs(5);
    assert!(
        first.written_at + slack >= before && first.written_at <= SystemTime::now() + slack,
        "{first:?}"
    );
    // A second create finds it.
    assert!(!written(b.as_ref(), key, "again", None).await);
    // Replaced at its version, once.
    assert!(written(b.as_ref(), key, r#"{"sent":2}"#, Some(&first.version)).await);
    let second = read(a.as_ref(), key).await.expect("the mark");
    assert_eq!(second.text, r#"{"sent":2}"#);
    assert_ne!(second.version, first.version);
    assert!(!written(a.as_ref(), key, "stale", Some(&first.version)).await);
    assert_eq!(read(b.as_ref(), key).await, Some(second));
}

async fn of_two_writers_at_one_version_exactly_one_wins(store: &impl Store) {
    let key = "retrain/route/group";
    let a = store.instance();
    assert!(written(a.as_ref(), key, "first", None).await);
    let version = read(a.as_ref(), key).await.expect("the mark").version;
    let answers = race([a, store.instance()], key, Some(&version)).await;
    assert_eq!(answers.iter().filter(|won| **won).count(), 1, "{answers:?}");
    let now = read(store.instance().as_ref(), key)
        .await
        .expect("the mark");
    assert!(now.text.starts_with("by "), "{now:?}");
    assert_ne!(now.version, version);
}

async fn of_two_creators_exactly_one_wins(store: &impl Store) {
    let key = "notify/route/group/slack";
    let a = store.instance();
    // The table exists before the race (each instance creates it on its first call).
    assert_eq!(read(a.as_ref(), "nothing").await, None);
    let answers = race([a, store.instance()], key, None).await;
    assert_eq!(answers.iter().filter(|won| **won).count(), 1, "{answers:?}");
    assert!(read(store.instance().as_ref(), key).await.is_some());
}

async fn a_missing_mark_reads_none_and_is_not_replaced(store: &impl Store) {
    let a = store.instance();
    let key = "notify/route/gone";
    // A version read once, of a mark since gone (here: another key's).
    assert!(written(a.as_ref(), "notify/route/other", "x", None).await);
    let other = read(a.as_ref(), "notify/route/other")
        .await
        .expect("the mark");
    assert_eq!(read(a.as_ref(), key).await, None);
    assert!(!written(a.as_ref(), key, "y", Some(&other.version)).await);
    assert_eq!(read(a.as_ref(), key).await, None);
}

async fn a_text_over_the_bound_is_refused(store: &impl Store) {
    let a = store.instance();
    let key = "notify/route/big";
    let long = "x".repeat(MARK_MAX_BYTES + 1);
    let error = write(a.as_ref(), key, &long, None).await.unwrap_err();
    assert!(!error.is_transient(), "{}", chain(&error));
    assert!(
        chain(&error).to_string().contains("4096"),
        "{}",
        chain(&error)
    );
    assert_eq!(read(a.as_ref(), key).await, None);
    // At the bound: kept whole.
    let full = "y".repeat(MARK_MAX_BYTES);
    assert!(written(a.as_ref(), key, &full, None).await);
    assert_eq!(read(a.as_ref(), key).await.expect("the mark").text, full);
}

async fn marks_are_never_history(store: &impl Store) {
    let a = store.instance();
    let effect = EffectKey::new("/s/w", "e1", "notify", "teams");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    let claim = a.claim(&effect, Duration::from_secs(50), deadline).await;
    assert!(matches!(claim, Ok(Claim::Acquired(_))), "{claim:?}");
    // Marks whose keys look like an event id, or name one.
    for key in ["e1", "notify/route/group/e1", "~mark"] {
        assert!(written(a.as_ref(), key, "{}", None).await);
    }
    let all = HistoryQuery {
        since: None,
        event_id: None,
        limit: 100,
    };
    let listed = a.history(&all).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key, effect);
    for event_id in ["~mark", "notify/route/group/e1"] {
        let one = HistoryQuery {
            event_id: Some(event_id),
            ..all
        };
        assert!(a.history(&one).await.unwrap().is_empty(), "{event_id}");
    }
}

async fn odd_and_long_keys_are_distinct_marks(store: &impl Store) {
    let a = store.instance();
    let long = "k".repeat(2000);
    let keys = [
        "a/b",
        "a~2Fb",
        "x#y?z\\w'q %",
        "",
        long.as_str(),
        &long[1..],
    ];
    for (i, key) in keys.iter().enumerate() {
        assert!(
            written(a.as_ref(), key, &i.to_string(), None).await,
            "{key}"
        );
    }
    let b = store.instance();
    for (i, key) in keys.iter().enumerate() {
        let mark = read(b.as_ref(), key).await.expect("the mark");
        assert_eq!(mark.text, i.to_string(), "{key}");
    }
}

// A mark kept a week, cleaned with a cut after its last write (as if written before the
// retention, by any clock): its keep is not over, so it stays.
async fn cleaning_keeps_a_mark_within_its_keep(store: &impl Store) {
    let a = store.instance();
    let key = "retrain/route/weekly";
    let write = MarkWrite {
        key,
        text: "started",
        version: None,
        keep: WEEK,
    };
    assert!(a.write_mark(write).await.unwrap());
    let cut = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(a.clean(cut, 10).await.unwrap(), 0);
    assert_eq!(a.clean(SystemTime::now() - RETENTION, 10).await.unwrap(), 0);
    assert_eq!(read(a.as_ref(), key).await.expect("kept").text, "started");
}

/// Each case as a test against each ledger: `memory::<case>` and `table::<case>`.
macro_rules! against_both {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::Memory::new()).await;
                }
            )*
        }
        mod table {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::Table::new()).await;
                }
            )*
        }
    };
}

against_both!(
    created_read_back_and_replaced_at_its_version,
    of_two_writers_at_one_version_exactly_one_wins,
    of_two_creators_exactly_one_wins,
    a_missing_mark_reads_none_and_is_not_replaced,
    a_text_over_the_bound_is_refused,
    marks_are_never_history,
    odd_and_long_keys_are_distinct_marks,
    cleaning_keeps_a_mark_within_its_keep,
);

/// Sets the `KeepUntil` of mark `key` in `table` to long ago, as a writer whose clock ran far
/// behind would have written it; the service stamps it as written now.
async fn keep_until_long_ago(table: &str, key: &str) {
    let filter = format!("Mark eq '{}'", key.replace('\'', "''"));
    table_rest::rewrite(table, &filter, |entity| {
        entity.insert("KeepUntil".into(), "2000-01-01T00:00:00.000000Z".into());
    })
    .await;
}

#[tokio::test]
async fn cleaning_removes_marks_past_their_keep_after_old_entries_within_the_bound() {
    let table = Table::new();
    let a = table.ledger();
    // Arrange: an effect's entry, two marks whose keep is over and one kept a week.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    let effect = EffectKey::new("/s/w", "e1", "notify", "teams");
    let claim = a.claim(&effect, Duration::from_secs(50), deadline).await;
    assert!(matches!(claim, Ok(Claim::Acquired(_))), "{claim:?}");
    for key in ["notify/r/g/teams", "notify/r/g/slack"] {
        assert!(written(&a, key, "sent", None).await);
        keep_until_long_ago(&table.0, key).await;
    }
    let weekly = MarkWrite {
        key: "retrain/r/g",
        text: "started",
        version: None,
        keep: WEEK,
    };
    assert!(a.write_mark(weekly).await.unwrap());

    // Act + Assert: with the retention's cut, nothing: the service wrote them all just now
    // (whatever a writer's clock put in KeepUntil).
    let retention_cut = SystemTime::now() - RETENTION;
    assert_eq!(a.clean(retention_cut, 10).await.unwrap(), 0);
    assert!(read(&a, "notify/r/g/teams").await.is_some());
    // With a cut after their writes: the old entry first, then the marks past their keep, two
    // at a time.
    let cut = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(a.clean(cut, 2).await.unwrap(), 2);
    assert_eq!(a.clean(cut, 2).await.unwrap(), 1);
    assert_eq!(a.clean(cut, 2).await.unwrap(), 0);
    let b = table.ledger();
    assert_eq!(read(&b, "notify/r/g/teams").await, None);
    assert_eq!(read(&b, "notify/r/g/slack").await, None);
    assert_eq!(read(&b, "retrain/r/g").await.expect("kept").text, "started");
    // Gone, it can be created again.
    assert!(written(&b, "notify/r/g/teams", "sent again", None).await);
}

// See: the claim's insert recognises its own retried write by its claim id; a mark's write by
// its write id. Here the first insert lands but its answer is lost (503), and the retry finds
// the mark (409): it is ours, so the write succeeded. Another writer's mark is not.
#[tokio::test]
async fn a_write_whose_answer_was_lost_is_recognised_as_its_own() {
    use std::sync::Mutex;
    use wiremock::{
        Mock, MockServer, Request, Respond, ResponseTemplate,
        matchers::{method, path, path_regex},
    };

    /// The first insert is stored and answered 503; the rest find it (409).
    struct Insert(Arc<Mutex<Option<serde_json::Value>>>);
    impl Respond for Insert {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let mut stored = self.0.lock().unwrap();
            if stored.is_some() {
                return ResponseTemplate::new(409);
            }
            *stored = Some(serde_json::from_slice(&request.body).unwrap());
            ResponseTemplate::new(503)
        }
    }
    /// Reads the stored mark, whatever key is asked.
    struct Read(Arc<Mutex<Option<serde_json::Value>>>);
    impl Respond for Read {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            let mut entity = self.0.lock().unwrap().clone().expect("inserted first");
            entity["Timestamp"] = "2026-12-07T08:09:04.4546614Z".into();
            ResponseTemplate::new(200)
                .insert_header("etag", "W/\"1\"")
                .set_body_json(entity)
        }
    }

    // Arrange
    let server = MockServer::start().await;
    let stored = Arc::new(Mutex::new(None));
    Mock::given(method("POST"))
        .and(path("/devstoreaccount1/Tables"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/devstoreaccount1/marks"))
        .respond_with(Insert(Arc::clone(&stored)))
        .expect(3)
        .named("insert mark")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/devstoreaccount1/marks\(PartitionKey='~mark',RowKey=",
        ))
        .respond_with(Read(Arc::clone(&stored)))
        .expect(2)
        .named("read mark")
        .mount(&server)
        .await;
    let text = format!(
        "AccountName=devstoreaccount1;AccountKey={};TableEndpoint={}/devstoreaccount1",
        azurite::KEY,
        server.uri()
    );
    let connection = TableConnection::parse("AML_LEDGER", &text).unwrap();
    let ledger = TableLedger::new(connection, None, options("marks")).unwrap();
    // Act + Assert: ours, after a lost answer and a retry.
    assert!(written(&ledger, "notify/r/g/teams", "sent", None).await);
    // Another write of it finds the first writer's mark: not ours.
    assert!(!written(&ledger, "notify/r/g/teams", "sent too", None).await);
}
