//! The ledger end to end (docs/ledger.md): real `serve` processes sharing one Azure Table in a real
//! Azurite (installed and started by the tests, see `aml-events/tests/azurite`), so that the
//! same event delivered to two servers and to a restarted one posts one notification; a live
//! claim elsewhere answers for redelivery and a stale one is taken over; the ledger down
//! answers 503 and nothing is sent; `history` says what was done.

#[path = "../aml-events/tests/azurite/mod.rs"]
mod azurite;
mod common;

use std::time::Duration;

use aml_events::{
    ledger::{
        Claim, EffectKey, Ledger,
        table::{TableConnection, TableLedger, TableLedgerOptions},
    },
    notify::Target,
};
use azurite::Azurite;
use common::{Server, history_json, stand_in::*};
use serde_json::Value;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

/// A sink that takes notifications and counts them.
async fn sink() -> MockServer {
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&sink)
        .await;
    sink
}

/// A claim's deadline that never comes in a test.
fn far_off() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(3600)
}

/// A table of its own per test, so tests never see each other's entries.
fn table() -> String {
    format!("t{}", new_id("ledger").replace('-', ""))
}

fn env(sink: &MockServer, connection: &str, table: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AML_NOTIFY_URL", format!("webhook:{}/hook", sink.uri())),
        ("AML_LEDGER", connection.to_owned()),
        ("AML_LEDGER_TABLE", table.to_owned()),
        ("AML_DEADLINE_SECONDS", "2".into()),
    ]
}

fn notify_status(body: &Value) -> String {
    let actions = body["results"][0]["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    actions
        .iter()
        .find(|action| action["action"] == "notify")
        .map(|action| action["status"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_else(|| format!("no notify action in {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn one_event_on_two_servers_and_a_restarted_one_posts_once() {
    // Arrange: two instances sharing the ledger.
    let azurite = Azurite::shared();
    let sink = sink().await;
    let table = table();
    let env = env(&sink, &azurite.connection_string(), &table);
    let first = start(&env);
    let second = start(&env);
    assert!(
        first.ready_line.contains("ledger: Azure Table"),
        "{}",
        first.ready_line
    );
    let event = failed_run(&new_id("run"));

    // Act: Event Grid delivers, then redelivers to the other instance.
    let (status, body, _) = webhook(&first, "", std::slice::from_ref(&event)).await;
    let (again, redelivered, _) = webhook(&second, "", std::slice::from_ref(&event)).await;
    drop(first);
    drop(second);
    // A restarted instance (an empty in-memory set) gets it once more.
    let restarted = start(&env);
    let (later, last, _) = host(&restarted, "RunStatusChanged", &event).await;

    // Assert
    assert_eq!(
        (status, again, later),
        (200, 200, 200),
        "{body} {redelivered} {last}"
    );
    assert_eq!(notify_status(&body), "done", "{body}");
    assert_eq!(notify_status(&redelivered), "duplicate", "{redelivered}");
    let last_notify = last["ReturnValue"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["action"] == "notify")
        .unwrap()
        .clone();
    assert_eq!(last_notify["status"], "duplicate", "{last}");
    assert!(
        last_notify["detail"].as_str().unwrap().contains("ledger"),
        "{last_notify}"
    );
    assert_eq!(
        sink.received_requests().await.unwrap().len(),
        1,
        "one notification"
    );

    // `history` says what was done for the event.
    let id = event["id"].as_str().unwrap();
    let entries = history_json(&azurite.connection_string(), &table, &["--event", id]).await;
    let stdout = format!("{entries:?}");
    assert_eq!(entries.len(), 1, "{stdout}");
    assert_eq!(entries[0]["action"], "notify");
    assert_eq!(entries[0]["state"], "done");
    assert!(
        entries[0]["target"]
            .as_str()
            .unwrap()
            .starts_with("webhook-"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(azurite::KEY) && !stdout.contains("/hook"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_claim_elsewhere_is_redelivered_and_a_stale_one_taken_over() {
    // Arrange: another instance claimed the notification and then died.
    let azurite = Azurite::shared();
    let sink = sink().await;
    let table = table();
    let env = env(&sink, &azurite.connection_string(), &table);
    let event = failed_run(&new_id("run"));
    let target = Target::parse(&env[0].1, "AML_NOTIFY_URL", 1).unwrap();
    let crashed = TableLedger::new(
        TableConnection::parse("AML_LEDGER", &azurite.connection_string()).unwrap(),
        None,
        TableLedgerOptions {
            table: table.clone(),
            ..TableLedgerOptions::default()
        },
    )
    .unwrap();
    let key = EffectKey::new(
        WORKSPACE,
        event["id"].as_str().unwrap(),
        "notify",
        target.ledger_id(),
    );
    assert!(matches!(
        crashed
            .claim(&key, Duration::from_secs(60), far_off())
            .await
            .unwrap(),
        Claim::Acquired(_)
    ));
    let server = start(&env);

    // Act and assert: within the lease (twice the 2 s deadline) the event is redelivered...
    let (status, body, _) = webhook(&server, "", std::slice::from_ref(&event)).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another instance"),
        "{body}"
    );
    assert!(
        sink.received_requests().await.unwrap().is_empty(),
        "nothing sent unclaimed"
    );

    // ...after it, the stale claim is taken over and the notification goes out once.
    // The claim's age is read on the table service's clock, whose `Date` counts whole
    // seconds: a stale claim is taken over up to a second late, never early.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let (status, body, _) = webhook(&server, "", std::slice::from_ref(&event)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(notify_status(&body), "done", "{body}");
    assert_eq!(sink.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_down_answers_503_and_nothing_is_sent() {
    let sink = sink().await;
    let (_reserved, down) = common::refused_url();
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};TableEndpoint={down}/{}",
        azurite::ACCOUNT,
        azurite::KEY,
        azurite::ACCOUNT
    );
    let server: Server = start(&env(&sink, &connection, "amlhandlers"));

    let (status, body, _) = webhook(&server, "", &[failed_run(&new_id("run"))]).await;
    let (host_status, _, _) = host(&server, "RunStatusChanged", &failed_run(&new_id("run"))).await;

    assert_eq!((status, host_status), (503, 503), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("connection refused"),
        "{body}"
    );
    assert!(!body.to_string().contains(azurite::KEY), "{body}");
    assert!(
        sink.received_requests().await.unwrap().is_empty(),
        "never act unclaimed"
    );
}
