//! `aml-handlers replay` end to end: dead-letter blobs written as Event Grid writes them (both
//! schemas, several hours, two subscriptions; by Microsoft's Python SDK, see
//! `replay/event_grid_writer.rs`) in a real Azurite blob service, replayed into a running
//! `serve` with a table ledger (effects already done answer `duplicate`), or into a stand-in
//! that counts: marked blobs skipped the second time, `--again`, `--since`, `--subscription` in
//! any casing, `--dry-run` sending nothing, a failing target leaving its blobs unmarked with
//! exit 1, and the progress bar a terminal gets.

#[path = "../aml-events/tests/azurite/mod.rs"]
mod azurite;
mod common;
#[path = "replay/event_grid_writer.rs"]
mod event_grid_writer;

use std::{process::Output, time::Duration};

use azurite::Azurite;
use common::{Server, command, stand_in::*};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

/// The two event subscriptions, as Event Grid names their folders (in capitals): one delivers
/// in the Event Grid schema, the other in CloudEvents.
const RUNS: &str = "AML-APP-RUNSTATUSCHANGED";
const MODELS: &str = "AML-APP-MODELREGISTERED";

/// The dead letters of one test, in a container of their own.
struct DeadLetters {
    connection: String,
    container: String,
    /// The start of the current hour, the blobs' hours counted back from it.
    now: OffsetDateTime,
    /// Event ids, by blob: `runs[0]` holds two, the others one; `models[1]` two.
    runs: [Vec<String>; 3],
    models: [Vec<String>; 2],
    /// The blobs' names, in the same order.
    run_blobs: [String; 3],
    model_blobs: [String; 2],
}

impl DeadLetters {
    /// Five blobs over several hours and two days, and one that is not a dead letter.
    fn write() -> DeadLetters {
        let azurite = Azurite::shared_blob();
        let connection = azurite.blob_connection_string();
        let container = format!("dl-{}", new_id("c").replace('-', "").to_lowercase());
        let now = OffsetDateTime::now_utc()
            .replace_minute(0)
            .and_then(|time| time.replace_second(0))
            .and_then(|time| time.replace_nanosecond(0))
            .unwrap();
        let ids = |count: usize| -> Vec<String> { (0..count).map(|_| new_id("dl")).collect() };
        let runs = [ids(2), ids(1), ids(1)];
        let models = [ids(1), ids(2)];
        let run_blobs = [30, 3, 0].map(|back| blob_path(RUNS, now, back));
        let model_blobs = [3, 1].map(|back| blob_path(MODELS, now, back));
        let mut blobs = Vec::new();
        for (index, (name, ids)) in run_blobs.iter().zip(&runs).enumerate() {
            let records: Vec<Value> = ids.iter().map(|id| event_grid_record(id)).collect();
            // The newest holds metadata of its own, which the mark must keep.
            let metadata = (index == 2).then(|| json!({"owner": "ops"}));
            blobs.push(event_grid_writer::blob(name, records.into(), metadata));
        }
        for (name, ids) in model_blobs.iter().zip(&models) {
            let records: Vec<Value> = ids.iter().map(|id| cloud_events_record(id)).collect();
            blobs.push(event_grid_writer::blob(name, records.into(), None));
        }
        blobs.push(event_grid_writer::blob(
            "notes/readme.json",
            json!([]),
            None,
        ));
        event_grid_writer::write(&connection, &container, &blobs);
        DeadLetters {
            connection,
            container,
            now,
            runs,
            models,
            run_blobs,
            model_blobs,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AML_DEADLETTER", self.connection.clone()),
            ("AML_DEADLETTER_CONTAINER", self.container.clone()),
        ]
    }

    /// Every blob's metadata, read with the SDK.
    fn metadata(&self) -> serde_json::Map<String, Value> {
        event_grid_writer::metadata(&self.connection, &self.container)
    }

    /// The blobs marked replayed, by name.
    fn marked(&self) -> Vec<String> {
        self.metadata()
            .into_iter()
            .filter(|(_, metadata)| metadata.get("amlreplayed").is_some())
            .map(|(name, _)| name)
            .collect()
    }
}

/// `SUBSCRIPTION/y/m/d/h/<guid>.json`, `back` hours before `now`, not zero-padded.
fn blob_path(subscription: &str, now: OffsetDateTime, back: i64) -> String {
    let at = now - time::Duration::hours(back);
    format!(
        "{subscription}/{}/{}/{}/{}/{}.json",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        new_guid()
    )
}

fn new_guid() -> String {
    let id = new_id("g").replace('-', "");
    format!(
        "00000000-0000-4000-8000-{:0>12}",
        &id[id.len().saturating_sub(12)..]
    )
}

/// A failed run, as Event Grid dead-letters it in its own schema: the event plus why.
fn event_grid_record(id: &str) -> Value {
    let mut record = failed_run(id);
    let fields = record.as_object_mut().unwrap();
    fields.insert(
        "deadLetterReason".into(),
        "MaxDeliveryAttemptsExceeded".into(),
    );
    fields.insert("deliveryAttempts".into(), 30.into());
    fields.insert("lastDeliveryOutcome".into(), "Probation".into());
    fields.insert("lastHttpStatusCode".into(), 503.into());
    fields.insert("publishTime".into(), "2024-03-01T12:00:00.2Z".into());
    fields.insert(
        "lastDeliveryAttemptTime".into(),
        "2024-03-02T12:00:00.3Z".into(),
    );
    record
}

/// A registered model, as Event Grid dead-letters a CloudEvent: the same properties in lower
/// case beside the CloudEvent's attributes.
fn cloud_events_record(id: &str) -> Value {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": WORKSPACE,
        "subject": "models/churn:4",
        "type": "Microsoft.MachineLearningServices.ModelRegistered",
        "time": "2024-03-01T12:00:00.1234567Z",
        "datacontenttype": "application/json",
        "data": {"modelName": "churn", "modelVersion": 4},
        "deadletterreason": "DeliveryFailed",
        "deliveryattempts": 1,
        "lastdeliveryoutcome": "Unauthorized",
        "lasthttpstatuscode": 401,
        "publishtime": "2024-03-01T12:00:00.2Z",
        "lastdeliveryattempttime": "2024-03-01T12:00:01Z"
    })
}

/// `aml-handlers replay ARGS` with `env` only, run off the test's runtime.
async fn replay(env: &[(&'static str, String)], args: &[&str]) -> Output {
    let env = env.to_vec();
    let args: Vec<String> = ["replay"]
        .iter()
        .chain(args)
        .map(|arg| (*arg).to_owned())
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        command(&args, &env).output().unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A stand-in webhook that answers 200 and counts what it gets.
async fn webhook_stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/runtime/webhooks/eventgrid"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"results\":[]}"))
        .mount(&server)
        .await;
    server
}

/// The ids in every batch the stand-in got for `function`.
async fn ids_sent(server: &MockServer, function: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for request in server.received_requests().await.unwrap() {
        let named = request
            .url
            .query_pairs()
            .any(|(name, value)| name == "functionName" && value == function);
        if named {
            let events: Vec<Value> = serde_json::from_slice(&request.body).unwrap();
            ids.extend(
                events
                    .iter()
                    .map(|event| event["id"].as_str().unwrap().to_owned()),
            );
        }
    }
    ids.sort();
    ids
}

fn sorted(ids: &[&Vec<String>]) -> Vec<String> {
    let mut all: Vec<String> = ids.iter().flat_map(|ids| ids.iter().cloned()).collect();
    all.sort();
    all
}

/// The actions of the last `event handled` record for `id` in a JSON log.
fn last_actions(server: &Server, id: &str) -> String {
    server
        .stderr()
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|record| {
            record["fields"]["message"] == "event handled" && record["fields"]["event_id"] == id
        })
        .map(|record| {
            record["fields"]["actions"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_else(|| panic!("no `event handled` for {id}: {}", server.stderr()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_into_serve_with_a_ledger_does_each_effect_once_and_marks_its_blobs() {
    // Arrange: a serve with a table ledger and a notification sink; one of the dead-lettered
    // events already delivered (its notification done), as when Event Grid gave up on a
    // delivery whose effects had run.
    let letters = DeadLetters::write();
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&sink)
        .await;
    let ledger = Azurite::shared().connection_string();
    let table = format!("t{}", new_id("replay").replace('-', ""));
    let server = start(&[
        ("AML_NOTIFY_URL", format!("webhook:{}/hook", sink.uri())),
        ("AML_LEDGER", ledger),
        ("AML_LEDGER_TABLE", table),
        ("AML_WEBHOOK_KEY", "replay-key".into()),
        ("AML_LOG_FORMAT", "json".into()),
    ]);
    let done_before = &letters.runs[0][0];
    let first = reqwest::Client::new()
        .post(server.at("/runtime/webhooks/eventgrid?functionName=RunStatusChanged"))
        .header("aeg-event-type", "Notification")
        .header("x-functions-key", "replay-key")
        .json(&[failed_run(done_before)])
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let all_events = letters.runs.iter().map(Vec::len).sum::<usize>()
        + letters.models.iter().map(Vec::len).sum::<usize>();
    let mut env = letters.env();
    env.push(("AML_WEBHOOK_KEY", "replay-key".into()));
    let to = server.at("/runtime/webhooks/eventgrid");

    // Act
    let output = replay(&env, &["--to", &to, "--key", "replay-key"]).await;

    // Assert: every blob replayed and marked, its other metadata kept; each event notified
    // once, the one done before answered `duplicate`.
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert_eq!(stdout.matches("replayed ").count(), 6, "{stdout}");
    assert!(
        stdout.contains(&format!("replayed 5 blob(s), {all_events} event(s)"))
            && stdout.contains("1 not in Event Grid's dead-letter layout"),
        "{stdout}"
    );
    assert_eq!(
        sink.received_requests().await.unwrap().len(),
        all_events,
        "one notification per event, none twice"
    );
    assert!(
        last_actions(&server, done_before).contains("notify=duplicate"),
        "{}",
        last_actions(&server, done_before)
    );
    assert!(last_actions(&server, &letters.models[1][1]).contains("notify=done"));
    let metadata = letters.metadata();
    for name in letters.run_blobs.iter().chain(&letters.model_blobs) {
        let mark = metadata[name]["amlreplayed"].as_str().unwrap_or_default();
        assert!(
            OffsetDateTime::parse(mark, &Rfc3339).is_ok(),
            "{name}: {metadata:?}"
        );
    }
    assert_eq!(
        metadata[&letters.run_blobs[2]]["owner"], "ops",
        "{metadata:?}"
    );
    assert_eq!(metadata["notes/readme.json"], json!({}), "left alone");

    // A second replay skips the marked blobs and sends nothing.
    let again = replay(&env, &["--to", &to, "--key", "replay-key"]).await;
    let stdout = text(&again.stdout);
    assert!(again.status.success(), "{stdout}{}", text(&again.stderr));
    assert_eq!(stdout.matches("skipped  ").count(), 5, "{stdout}");
    assert!(
        stdout.contains("replayed 0 blob(s), 0 event(s); 5 skipped"),
        "{stdout}"
    );
    assert_eq!(sink.received_requests().await.unwrap().len(), all_events);

    // --again sends them anyway (here one subscription's, named in lower case): the ledger
    // answers `duplicate`, nothing is notified twice, and the mark is renewed.
    let old_mark = metadata[&letters.model_blobs[0]]["amlreplayed"].clone();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let forced = replay(
        &env,
        &[
            "--to",
            &to,
            "--key",
            "replay-key",
            "--again",
            "--subscription",
            &MODELS.to_lowercase(),
        ],
    )
    .await;
    let stdout = text(&forced.stdout);
    assert!(forced.status.success(), "{stdout}{}", text(&forced.stderr));
    assert!(
        stdout.contains("replayed 2 blob(s), 3 event(s)"),
        "{stdout}"
    );
    assert_eq!(sink.received_requests().await.unwrap().len(), all_events);
    assert!(last_actions(&server, &letters.models[0][0]).contains("notify=duplicate"));
    assert_ne!(
        letters.metadata()[&letters.model_blobs[0]]["amlreplayed"],
        old_mark
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_lists_blobs_events_and_reasons_and_sends_nothing() {
    // Arrange
    let letters = DeadLetters::write();
    let target = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .named("nothing sent by a dry run")
        .mount(&target)
        .await;

    // Act
    let output = replay(&letters.env(), &["--dry-run", "--to", &target.uri()]).await;

    // Assert
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(
        stdout.contains(&format!("{}: 2 event(s)", letters.run_blobs[0])),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "  {} Microsoft.MachineLearningServices.RunStatusChanged (RunStatusChanged): MaxDeliveryAttemptsExceeded after 30 attempt(s); last: Probation (HTTP 503) at 2024-03-02T12:00:00.3Z",
            letters.runs[0][1]
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "  {} Microsoft.MachineLearningServices.ModelRegistered (ModelRegistered): DeliveryFailed after 1 attempt(s); last: Unauthorized (HTTP 401)",
            letters.models[1][0]
        )),
        "CloudEvents records' lower-case reasons read: {stdout}"
    );
    assert!(
        stdout.contains("dry run: 5 blob(s), 7 event(s) would be sent; nothing was sent"),
        "{stdout}"
    );
    assert!(target.received_requests().await.unwrap().is_empty());
    assert!(letters.marked().is_empty(), "nothing marked");
}

#[tokio::test(flavor = "multi_thread")]
async fn since_and_subscription_choose_by_the_blobs_path_as_event_grid_sent_them() {
    // Arrange
    let letters = DeadLetters::write();
    let target = webhook_stand_in().await;

    // Act: one subscription in mixed case, the last two hours (a duration).
    let output = replay(
        &letters.env(),
        &[
            "--subscription",
            "aml-App-RunStatusChanged",
            "--since",
            "2h",
            "--to",
            &target.uri(),
            "--key",
            "stand-in-key",
        ],
    )
    .await;

    // Assert: only that subscription's blob of this hour went, as Event Grid sends: its
    // function named, the key as x-functions-key, the original event without dead-letter
    // properties.
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let requests = target.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "{stdout}");
    let request = &requests[0];
    assert_eq!(request.url.path(), "/runtime/webhooks/eventgrid");
    assert!(
        request
            .url
            .query_pairs()
            .any(|(name, value)| name == "functionName" && value == "RunStatusChanged"),
        "{}",
        request.url
    );
    assert_eq!(request.headers["x-functions-key"], "stand-in-key");
    assert_eq!(request.headers["aeg-event-type"], "Notification");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!([failed_run(&letters.runs[2][0])]),
        "the event as first sent"
    );
    assert_eq!(letters.marked(), vec![letters.run_blobs[2].clone()]);

    // Act: every subscription since half past the hour three hours back (an RFC 3339 time):
    // the blob written in that hour holds events from after it, so it goes; the one from 30
    // hours back does not, nor the one already marked.
    let since = (letters.now - time::Duration::minutes(150))
        .format(&Rfc3339)
        .unwrap();
    let output = replay(&letters.env(), &["--since", &since, "--to", &target.uri()]).await;

    // Assert
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert_eq!(
        ids_sent(&target, "RunStatusChanged").await,
        sorted(&[&letters.runs[1], &letters.runs[2]])
    );
    assert_eq!(
        ids_sent(&target, "ModelRegistered").await,
        sorted(&[&letters.models[0], &letters.models[1]])
    );
    let cloud_events = target
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|request| request.headers["content-type"] == "application/cloudevents-batch+json")
        .count();
    assert_eq!(cloud_events, 2, "the CloudEvents blobs go as CloudEvents");
    assert!(stdout.contains("1 skipped as replayed before"), "{stdout}");
    assert!(!letters.marked().contains(&letters.run_blobs[0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_target_leaves_its_blobs_unmarked_and_exits_1_naming_events_and_answers() {
    // Arrange: the target refuses ModelRegistered, takes the rest.
    let letters = DeadLetters::write();
    let target = MockServer::start().await;
    Mock::given(method("POST"))
        .and(query_param("functionName", "ModelRegistered"))
        .respond_with(ResponseTemplate::new(503).set_body_string("{\"error\":\"not now\"}"))
        .mount(&target)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&target)
        .await;

    // Act
    let output = replay(&letters.env(), &["--to", &target.uri()]).await;

    // Assert
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "FAILED   {}: ModelRegistered event(s) {}, {}: 503 {{\"error\":\"not now\"}} (left unmarked)",
            letters.model_blobs[1], letters.models[1][0], letters.models[1][1]
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "FAILED   {}: ModelRegistered event(s) {}: 503",
            letters.model_blobs[0], letters.models[0][0]
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains("aml-handlers: 2 blob(s) were not replayed and stay unmarked"),
        "{stderr}"
    );
    let mut marked = letters.marked();
    marked.sort();
    let mut expected = letters.run_blobs.to_vec();
    expected.sort();
    assert_eq!(marked, expected, "the refused blobs stay unmarked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_a_progress_bar_of_blobs_and_events() {
    // Arrange: `script` gives the command a terminal.
    let letters = DeadLetters::write();
    let target = webhook_stand_in().await;
    let mut env = letters.env();
    env.push(("TERM", "xterm".into()));
    let line = format!(
        "{} replay --to {}",
        env!("CARGO_BIN_EXE_aml-handlers"),
        target.uri()
    );

    // Act
    let output = tokio::task::spawn_blocking(move || {
        let mut script = std::process::Command::new("script");
        script.args(["-qec", &line, "/dev/null"]).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            script.env("PATH", path);
        }
        for (name, value) in &env {
            script.env(name, value);
        }
        script.output().unwrap()
    })
    .await
    .unwrap();

    // Assert: the bar counts the blobs and events; no line per blob.
    let screen = text(&output.stdout);
    assert!(output.status.success(), "{screen}{}", text(&output.stderr));
    assert!(screen.contains("5/5 blobs, 7 events sent"), "{screen:?}");
    assert!(!screen.contains("replayed AML-APP"), "{screen:?}");
    assert!(
        screen.contains("replayed 5 blob(s), 7 event(s)"),
        "{screen:?}"
    );
}
