//! Traces end to end: the real binary exporting to a loopback OTLP/HTTP receiver, whose
//! protobuf is decoded with OpenTelemetry's own types, beside the loopback stand-ins for Azure
//! and a notification target. One trace per event, its parent taken from the event's
//! CloudEvents `traceparent` or the request's, the actions as children of the delivery, the
//! trace on the requests that reached the stand-ins, the standard variables honoured, a stop
//! flushing what is pending, and JSON logs naming the spans they were written in.

mod common;

use std::time::{Duration, Instant};

use common::stand_in::*;
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    trace::v1::{Span, span::SpanKind},
};
use prost::Message;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

/// An OTLP/HTTP receiver: takes every POST to `/v1/traces` with 200, as a collector does.
async fn receiver() -> MockServer {
    let receiver = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .named("OTLP/HTTP traces")
        .mount(&receiver)
        .await;
    receiver
}

/// A stand-in for the ledger's table service that holds nothing (every read finds nothing)
/// and takes every write (each claim is new).
async fn table_service() -> MockServer {
    let table = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"odata.error": {"code": "ResourceNotFound", "message": {"value": "not found"}}}),
        ))
        .named("table service reads")
        .mount(&table)
        .await;
    Mock::given(matchers::any())
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("ETag", "W/\"datetime'2024-03-01T12%3A00%3A00.0000000Z'\"")
                .insert_header("Date", "Fri, 01 Mar 2024 12:00:00 GMT"),
        )
        .named("table service")
        .mount(&table)
        .await;
    table
}

/// The settings that turn export on toward `receiver`, exporting every 50 ms.
fn exporting_to(receiver: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.uri()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50".into()),
    ]
}

/// A span as exported, with the resource it was exported with.
struct Exported {
    resource: Vec<KeyValue>,
    span: Span,
}

/// Every span `receiver` has been sent so far, decoded.
async fn exported(receiver: &MockServer) -> Vec<Exported> {
    let requests = receiver.received_requests().await.unwrap_or_default();
    let mut spans = Vec::new();
    for request in requests {
        let batch = ExportTraceServiceRequest::decode(request.body.as_slice())
            .expect("an OTLP ExportTraceServiceRequest in protobuf");
        for resource_spans in batch.resource_spans {
            let resource = resource_spans.resource.unwrap_or_default().attributes;
            for scope_spans in resource_spans.scope_spans {
                spans.extend(scope_spans.spans.into_iter().map(|span| Exported {
                    resource: resource.clone(),
                    span,
                }));
            }
        }
    }
    spans
}

/// Waits until `receiver` has been sent `count` spans named in `names`, and returns all spans.
async fn exported_once(receiver: &MockServer, names: &[&str], count: usize) -> Vec<Exported> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans = exported(receiver).await;
        let named = spans
            .iter()
            .filter(|exported| names.contains(&exported.span.name.as_str()))
            .count();
        if named >= count {
            return spans;
        }
        let seen: Vec<&str> = spans.iter().map(|s| s.span.name.as_str()).collect();
        assert!(
            Instant::now() < deadline,
            "{count} spans named {names:?} never arrived; got {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A string attribute's value.
fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|pair| pair.key == key)
        .and_then(|pair| match &pair.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(text)),
            }) => Some(text.as_str()),
            _ => None,
        })
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    attribute(&span.attributes, key)
}

/// The delivery span of event `id`.
fn delivery<'a>(spans: &'a [Exported], id: &str) -> &'a Span {
    let found: Vec<&Span> = spans
        .iter()
        .map(|exported| &exported.span)
        .filter(|span| attr(span, "event.id") == Some(id))
        .collect();
    match found.as_slice() {
        [one] => one,
        other => panic!("{} delivery spans for event {id}", other.len()),
    }
}

/// The spans whose parent is `parent`, in the same trace.
fn children<'a>(spans: &'a [Exported], parent: &Span) -> Vec<&'a Span> {
    spans
        .iter()
        .map(|exported| &exported.span)
        .filter(|span| span.trace_id == parent.trace_id && span.parent_span_id == parent.span_id)
        .collect()
}

/// The `(trace id, parent id)` of a request's `traceparent` header.
fn traceparent_of(request: &wiremock::Request) -> (String, String) {
    let header = request
        .headers
        .get("traceparent")
        .unwrap_or_else(|| panic!("no traceparent on {} {}", request.method, request.url))
        .to_str()
        .unwrap();
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "{header}");
    assert_eq!(parts[0], "00", "{header}");
    (parts[1].to_owned(), parts[2].to_owned())
}

#[tokio::test]
async fn each_event_is_a_trace_whose_actions_are_children_and_whose_requests_carry_it() {
    // Arrange
    let receiver = receiver().await;
    let azure = StandIn::start().await;
    azure.mount_identity(1..).await;
    azure.mount_run_history().await;
    azure.mount_sink(2).await;
    azure
        .mount_jobs(ResponseTemplate::new(201).set_body_json(json!({})), 1)
        .await;
    let ledger = table_service().await;
    let mut env = azure.env();
    env.extend(exporting_to(&receiver));
    env.extend([
        (
            "AML_LEDGER",
            format!(
                "AccountName=devstoreaccount1;AccountKey=c3RhbmQtaW4ta2V5;TableEndpoint={}/devstoreaccount1",
                ledger.uri()
            ),
        ),
        ("OTEL_SERVICE_NAME", "aml-handlers-under-test".to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=test,service.namespace=ml".to_owned(),
        ),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-collector-key=collector-key-1".to_owned(),
        ),
    ]);
    let server = start(&env);
    let (run_id, drift_id) = (new_id("run"), new_id("drift"));

    // Act: two events in one delivery.
    let (status, body, _) = webhook(&server, "", &[failed_run(&run_id), drift(&drift_id)]).await;
    assert_eq!(status, 200, "{body}");
    let spans = exported_once(&receiver, &["enrich", "notify", "retrain"], 4).await;

    // Assert: one trace per event, each a root.
    let run = delivery(&spans, &run_id);
    let drift = delivery(&spans, &drift_id);
    assert_ne!(run.trace_id, drift.trace_id);
    for (span, function) in [(run, "RunStatusChanged"), (drift, "DatasetDriftDetected")] {
        assert!(span.parent_span_id.is_empty(), "{span:?}");
        assert_eq!(span.name, function);
        assert_eq!(span.kind, SpanKind::Consumer as i32);
        assert_eq!(attr(span, "function"), Some(function));
        let event_type = format!("Microsoft.MachineLearningServices.{function}");
        assert_eq!(attr(span, "event.type"), Some(event_type.as_str()));
        assert_eq!(attr(span, "faas.invocation_id"), None);
    }
    // The actions are children of their event's delivery, with what they did.
    let action = |parent: &Span, name: &str| -> Span {
        let found: Vec<&Span> = children(&spans, parent)
            .into_iter()
            .filter(|span| span.name == name)
            .collect();
        assert_eq!(found.len(), 1, "{name} under {}", parent.name);
        found[0].clone()
    };
    let enrich = action(run, "enrich");
    let run_notice = action(run, "notify");
    let retrain = action(drift, "retrain");
    let drift_notice = action(drift, "notify");
    assert_eq!(children(&spans, run).len(), 2);
    assert_eq!(children(&spans, drift).len(), 2);
    for (span, name) in [
        (&enrich, "enrich"),
        (&run_notice, "notify"),
        (&retrain, "retrain"),
        (&drift_notice, "notify"),
    ] {
        assert_eq!(attr(span, "action"), Some(name));
        assert_eq!(attr(span, "status"), Some("done"), "{name}");
        assert!(
            attr(span, "route").is_some_and(|route| route.starts_with("settings")),
            "{span:?}"
        );
    }
    assert_eq!(attr(&enrich, "target"), Some("churn_run_7"));
    assert_eq!(attr(&run_notice, "target"), Some("webhook"));
    assert!(
        attr(&retrain, "target").is_some_and(|job| job.starts_with("retrain-")),
        "{retrain:?}"
    );
    // The requests that reached Azure and the target carry the action's span as their parent.
    let history = azure
        .requests_to(&format!(
            "/history/v1.0{WORKSPACE}/experiments/churn-training/runs/churn_run_7"
        ))
        .await;
    assert_eq!(
        traceparent_of(&history[0]),
        (hex(&run.trace_id), hex(&enrich.span_id))
    );
    let jobs = azure
        .requests_to_prefix(&format!("{WORKSPACE}/jobs/"))
        .await;
    assert_eq!(
        traceparent_of(&jobs[0]),
        (hex(&drift.trace_id), hex(&retrain.span_id))
    );
    let mut notices: Vec<(String, String)> = azure
        .requests_to(HOOK_PATH)
        .await
        .iter()
        .map(traceparent_of)
        .collect();
    notices.sort();
    let mut expected = vec![
        (hex(&run.trace_id), hex(&run_notice.span_id)),
        (hex(&drift.trace_id), hex(&drift_notice.span_id)),
    ];
    expected.sort();
    assert_eq!(notices, expected);
    // So did the ledger's: each effect claimed and recorded within its action's span, and
    // nothing else asked of it.
    let mut ledger_parents: Vec<(String, String)> = (ledger.received_requests().await.unwrap())
        .iter()
        .map(traceparent_of)
        .collect();
    ledger_parents.sort();
    ledger_parents.dedup();
    let mut effects: Vec<(String, String)> = [&run_notice, &retrain, &drift_notice]
        .iter()
        .map(|span| (hex(&span.trace_id), hex(&span.span_id)))
        .collect();
    effects.sort();
    assert_eq!(ledger_parents, effects);
    // OpenTelemetry's standard variables: the resource and the collector's headers.
    let resource = &spans[0].resource;
    assert_eq!(
        attribute(resource, "service.name"),
        Some("aml-handlers-under-test")
    );
    assert_eq!(attribute(resource, "deployment.environment"), Some("test"));
    assert_eq!(attribute(resource, "service.namespace"), Some("ml"));
    assert_eq!(
        attribute(resource, "service.version"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    for request in receiver.received_requests().await.unwrap() {
        assert_eq!(request.headers["content-type"], "application/x-protobuf");
        assert_eq!(request.headers["x-collector-key"], "collector-key-1");
    }
}

/// A CloudEvent of `function`'s type from the stand-in workspace, with these extensions.
fn cloud_event(function: &str, id: &str, extensions: Value) -> Value {
    let mut event = json!({
        "specversion": "1.0",
        "id": id,
        "source": WORKSPACE,
        "subject": "models/churn:4",
        "type": format!("Microsoft.MachineLearningServices.{function}"),
        "time": "2024-03-01T12:00:00Z",
        "datacontenttype": "application/json",
        "data": {"modelName": "churn", "modelVersion": "4"},
    });
    event
        .as_object_mut()
        .unwrap()
        .extend(extensions.as_object().unwrap().clone());
    event
}

const EVENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const EVENT_PARENT: &str = "00f067aa0ba902b7";
const HEADER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const HEADER_PARENT: &str = "b7ad6b7169203331";

#[tokio::test]
async fn the_parent_is_the_events_traceparent_else_the_requests_else_none() {
    // Arrange: a dry run (no credentials), exporting.
    let receiver = receiver().await;
    let server = start(&exporting_to(&receiver));
    let header_parent = format!("00-{HEADER_TRACE}-{HEADER_PARENT}-01");
    let (from_event, from_header, from_host) = (new_id("ce"), new_id("eg"), new_id("host"));
    let invocation_id = new_id("invocation");
    let client = reqwest::Client::new();

    // Act: a CloudEvent naming its parent, sent with another in the header; an Event Grid
    // event with the header only; a host invocation with neither.
    let extension = json!({ "traceparent": format!("00-{EVENT_TRACE}-{EVENT_PARENT}-01") });
    let answer = client
        .post(server.at("/runtime/webhooks/eventgrid"))
        .header(
            "content-type",
            "application/cloudevents+json; charset=utf-8",
        )
        .header("traceparent", &header_parent)
        .body(cloud_event("ModelRegistered", &from_event, extension).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let answer = client
        .post(server.at("/runtime/webhooks/eventgrid"))
        .header("aeg-event-type", "Notification")
        .header("traceparent", &header_parent)
        .json(&[registered(&from_header)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let data = serde_json::to_string(&registered(&from_host).to_string()).unwrap();
    let answer = client
        .post(server.at("/ModelRegistered"))
        .header("X-Azure-Functions-InvocationId", &invocation_id)
        .body(json!({"Data": {"event": data}, "Metadata": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let spans = exported_once(&receiver, &["ModelRegistered"], 3).await;

    // Assert
    let span = delivery(&spans, &from_event);
    assert_eq!(
        (hex(&span.trace_id), hex(&span.parent_span_id)),
        (EVENT_TRACE.to_owned(), EVENT_PARENT.to_owned())
    );
    assert_eq!(attr(span, "faas.invocation_id"), None);
    let span = delivery(&spans, &from_header);
    assert_eq!(
        (hex(&span.trace_id), hex(&span.parent_span_id)),
        (HEADER_TRACE.to_owned(), HEADER_PARENT.to_owned())
    );
    let span = delivery(&spans, &from_host);
    assert!(span.parent_span_id.is_empty(), "{span:?}");
    assert!(![EVENT_TRACE, HEADER_TRACE].contains(&hex(&span.trace_id).as_str()));
    assert_eq!(
        attr(span, "faas.invocation_id"),
        Some(invocation_id.as_str())
    );
    assert_eq!(attr(span, "function"), Some("ModelRegistered"));
    // Without OTEL_SERVICE_NAME, the service is named after the program.
    assert_eq!(
        attribute(&spans[0].resource, "service.name"),
        Some("aml-handlers")
    );
}

#[tokio::test]
async fn a_stop_exports_the_spans_still_pending() {
    // Arrange: a batch that would wait a minute.
    let receiver = receiver().await;
    let mut env = exporting_to(&receiver);
    env.retain(|(name, _)| *name != "OTEL_BSP_SCHEDULE_DELAY");
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "60000".into()));
    let server = start(&env);
    let id = new_id("pending");
    let (status, body, _) = webhook(&server, "", &[registered(&id)]).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        exported(&receiver).await.is_empty(),
        "exported before the stop"
    );

    // Act
    let exit = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();

    // Assert: exported by the time the process ended.
    assert!(exit.success(), "{exit:?}");
    let spans = exported(&receiver).await;
    assert_eq!(delivery(&spans, &id).name, "ModelRegistered");
}

#[tokio::test]
async fn json_log_lines_carry_the_ids_of_the_span_they_were_written_in() {
    // Arrange: a target that refuses the notice, which the handlers log at error.
    let receiver = receiver().await;
    let target = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("no such channel"))
        .named("refusing target")
        .mount(&target)
        .await;
    let mut env = exporting_to(&receiver);
    env.extend([
        ("AML_LOG_FORMAT", "json".to_owned()),
        ("AML_NOTIFY_URL", format!("{}/hook", target.uri())),
        ("AML_NOTIFY_ON", "ModelRegistered".to_owned()),
    ]);
    let server = start(&env);
    let id = new_id("logged");

    // Act
    let (status, body, _) = webhook(&server, "", &[registered(&id)]).await;
    assert_eq!(status, 200, "{body}");
    let spans = exported_once(&receiver, &["notify"], 1).await;

    // Assert: the error line names the notify span, a child of the event's delivery.
    let stderr = server.wait_for_log("action failed");
    let line: Value = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "action failed")
        .unwrap_or_else(|| panic!("no JSON line for the failure in:\n{stderr}"));
    let delivery = delivery(&spans, &id);
    let notify = children(&spans, delivery)
        .into_iter()
        .find(|span| span.name == "notify")
        .expect("a notify span under the delivery");
    assert_eq!(attr(notify, "status"), Some("failed"));
    assert_eq!(line["trace_id"], hex(&delivery.trace_id), "{line}");
    assert_eq!(line["span_id"], hex(&notify.span_id), "{line}");
    // The request that reached the target carried the same span.
    let posted = target.received_requests().await.unwrap();
    assert_eq!(
        traceparent_of(&posted[0]),
        (hex(&delivery.trace_id), hex(&notify.span_id))
    );
    // Lines outside any span carry no ids.
    let ready: Value = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "ready")
        .expect("the ready line");
    assert!(ready.get("trace_id").is_none(), "{ready}");
}

#[test]
fn serve_will_not_send_the_collectors_headers_over_plain_http_to_another_machine() {
    let output = common::command(
        &["serve", "--port", "0"],
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://collector.example:4318",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=not-for-the-wire"),
        ],
    )
    .output()
    .expect("aml-handlers runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "refusing to send OTEL_EXPORTER_OTLP_HEADERS over plain http to collector.example"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("not-for-the-wire"), "{stderr}");
}
