//! `GET /metrics` end to end: the real `serve` given a known mix of deliveries (Event Grid
//! webhook deliveries and host invocations of several functions, an event of another type, a
//! redelivery, malformed events, a dry-run action, notices to loopback targets that take them,
//! refuse them and fail for now), then its page read by the Prometheus project's own parser
//! (PyPI's `prometheus-client`, installed by the test in a virtual environment under
//! `<target>/tmp`, as `signing/standard_webhooks.rs` installs its library) and every count
//! checked. The page needs no key, and its labels hold only names from fixed lists.

mod common;

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
};

use common::{Server, stand_in::*};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

/// The page's `Content-Type`: the Prometheus text format, version 0.0.4.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Target and route names that must never show on the page.
const ROUTES: &str = r#"
[targets.alpha-receiver]
url = "${ALPHA_HOOK}"
kind = "webhook"
[targets.beta-receiver]
url = "${BETA_HOOK}"
kind = "webhook"
[targets.gamma-receiver]
url = "${GAMMA_HOOK}"
kind = "webhook"

[[routes]]
name = "failed runs route"
functions = ["RunStatusChanged"]
match = { run_status = "Failed" }
notify = ["alpha-receiver", "beta-receiver"]

[[routes]]
name = "registrations route"
functions = ["ModelRegistered"]
notify = ["alpha-receiver"]

[[routes]]
name = "deployments route"
functions = ["ModelDeployed"]
notify = ["gamma-receiver"]
"#;

/// Every label a sample may carry, and the values each may take.
fn bounded(label: &str, value: &str) -> bool {
    let functions = [
        "ModelRegistered",
        "ModelDeployed",
        "RunCompleted",
        "DatasetDriftDetected",
        "RunStatusChanged",
        "none",
    ];
    let allowed: &[&str] = match label {
        "function" => &functions,
        "outcome" => &[
            "done",
            "acknowledged",
            "duplicate",
            "rejected",
            "redelivered",
            "misconfigured",
        ],
        "action" => &["retrain", "enrich", "notify", "smoke-test"],
        // An action's statuses, then a notification's.
        "status" => &[
            "done",
            "dry-run",
            "skipped",
            "duplicate",
            "failed",
            "deferred",
            "held",
            "sent",
            "refused",
        ],
        "kind" => &["teams", "slack", "discord", "pagerduty", "webhook"],
        "operation" => &[
            "claim",
            "complete",
            "release",
            "history",
            "clean",
            "read-mark",
            "write-mark",
        ],
        "result" => &[
            "acquired",
            "done",
            "held-elsewhere",
            "ok",
            "claim-lost",
            "conflict",
            "error",
        ],
        "le" => return value == "+Inf" || value.parse::<f64>().is_ok(),
        _ => return false,
    };
    allowed.contains(&value)
}

/// The page's samples as the parser read them: `name{labels}` (labels sorted) to value.
struct Page {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

impl Page {
    /// The value of `name` with exactly `labels`; a sample that is not on the page fails the
    /// test (every label combination is there from start-up).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = sample_key(name, labels.iter().copied());
        *self
            .samples
            .get(&key)
            .unwrap_or_else(|| panic!("no sample {key} on the page"))
    }

    /// Every sample of `name` that is not zero, as `labels -> value`.
    fn nonzero(&self, name: &str) -> BTreeMap<String, f64> {
        self.samples
            .iter()
            .filter(|(key, value)| key.starts_with(&format!("{name}{{")) && **value != 0.0)
            .map(|(key, value)| (key[name.len()..].to_owned(), *value))
            .collect()
    }
}

fn sample_key<'a>(name: &str, labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut labels: Vec<String> = labels.map(|(k, v)| format!("{k}={v:?}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// `expected` written as `sample_key` labels, for comparing with [`Page::nonzero`].
fn counts(expected: &[(&[(&str, &str)], f64)]) -> BTreeMap<String, f64> {
    expected
        .iter()
        .map(|(labels, value)| (sample_key("", labels.iter().copied()), *value))
        .collect()
}

/// Reads `text` with `prometheus_client.parser.text_string_to_metric_families`.
fn parse(text: &str) -> Page {
    let output = run_python(PARSE, text);
    let parsed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut page = Page {
        samples: BTreeMap::new(),
        types: BTreeMap::new(),
    };
    for family in parsed.as_array().unwrap() {
        page.types.insert(
            family["name"].as_str().unwrap().to_owned(),
            family["type"].as_str().unwrap().to_owned(),
        );
        for sample in family["samples"].as_array().unwrap() {
            let labels = sample["labels"].as_object().unwrap();
            for (label, value) in labels {
                let value = value.as_str().unwrap();
                assert!(bounded(label, value), "label {label}={value:?} on the page");
            }
            let key = sample_key(
                sample["name"].as_str().unwrap(),
                labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap())),
            );
            let value = sample["value"].as_f64().unwrap();
            assert!(
                page.samples.insert(key.clone(), value).is_none(),
                "{key} twice"
            );
        }
    }
    page
}

/// Reads the page from stdin and prints its families and samples as JSON.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families

families = [
    {"name": family.name, "type": family.type,
     "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}
    for family in text_string_to_metric_families(sys.stdin.read())
]
print(json.dumps(families))
"#;

/// `GET /metrics`: its content type and text.
async fn scrape(server: &Server) -> (String, String) {
    let response = reqwest::get(server.at("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.text().await.unwrap())
}

/// A receiver at `path` answering `status` to every post.
async fn receiver(server: &MockServer, at: &str, status: u16) {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status))
        .named(at)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_counts_a_known_mix_of_deliveries_as_prometheus_reads_it() {
    // Arrange: no Azure identity (its actions are dry runs), three loopback targets that take,
    // refuse and fail for now every notice, and a short deadline for the one failing for now.
    let targets = MockServer::start().await;
    receiver(&targets, "/alpha", 200).await;
    receiver(&targets, "/beta", 400).await;
    receiver(&targets, "/gamma", 503).await;
    let routes = std::env::temp_dir().join(format!("{}.toml", new_id("metrics-routes")));
    std::fs::write(&routes, ROUTES).unwrap();
    let hook = |at: &str| format!("{}{at}", targets.uri());
    let server = start(&[
        ("AML_ROUTES_FILE", routes.display().to_string()),
        ("ALPHA_HOOK", hook("/alpha")),
        ("BETA_HOOK", hook("/beta")),
        ("GAMMA_HOOK", hook("/gamma")),
        ("AML_DEADLINE_SECONDS", "2".into()),
    ]);
    let ids: Vec<String> = ["failed", "model", "completed", "other", "deployment"]
        .into_iter()
        .map(new_id)
        .collect();
    let [failed, model, completed, other, deployment] = &ids[..] else {
        unreachable!()
    };
    let mut another_type = event("RunCompleted", other, json!({}));
    another_type["eventType"] = "Microsoft.Storage.BlobCreated".into();
    let mut no_subject = registered(&new_id("no-subject"));
    no_subject.as_object_mut().unwrap().remove("subject");
    let mut bad_version = registered(&new_id("bad-version"));
    bad_version["data"]["modelVersion"] = json!({"not": "a version"});

    // Act: each delivery, with the status it must be answered.
    let (to_status_changed, to_registered) = (
        "?functionName=RunStatusChanged",
        "?functionName=ModelRegistered",
    );
    let batch = [run_completed(&new_id("batch")), bad_version];
    let answers = [
        (
            webhook(&server, to_status_changed, &[failed_run(failed)]).await,
            200,
        ),
        (
            host(&server, "ModelRegistered", &registered(model)).await,
            200,
        ),
        (
            host(&server, "RunCompleted", &run_completed(completed)).await,
            200,
        ),
        (webhook(&server, "", &[another_type]).await, 200),
        (
            webhook(&server, to_status_changed, &[failed_run(failed)]).await,
            200,
        ),
        (webhook(&server, to_registered, &[no_subject]).await, 400),
        (webhook(&server, "", &batch).await, 400),
        (
            host(&server, "ModelDeployed", &deployed(deployment)).await,
            503,
        ),
    ];
    for ((status, body, _), expected) in &answers {
        assert_eq!(status, expected, "{body}");
    }
    let (content_type, text) = scrape(&server).await;
    std::fs::remove_file(&routes).unwrap();

    // Assert: what the answers said, as the page counts it.
    assert_eq!(content_type, TEXT_FORMAT);
    let outcome = |at: usize| &answers[at].0.1;
    assert_eq!(
        statuses(&outcome(0)["results"][0]),
        pairs(&[
            ("enrich", "dry-run"),
            ("notify", "done"),
            ("notify", "failed")
        ])
    );
    assert_eq!(
        statuses(&outcome(4)["results"][0]),
        pairs(&[
            ("enrich", "duplicate"),
            ("notify", "duplicate"),
            ("notify", "duplicate")
        ])
    );
    let page = parse(&text);
    for (family, kind) in [
        ("aml_events", "counter"),
        ("aml_actions", "counter"),
        ("aml_notifications", "counter"),
        ("aml_ledger_operations", "counter"),
        ("aml_delivery_duration_seconds", "histogram"),
        ("aml_action_duration_seconds", "histogram"),
        ("aml_deliveries_in_flight", "gauge"),
    ] {
        assert_eq!(
            page.types.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
    }
    let (function, outcome) = ("function", "outcome");
    assert_eq!(
        page.nonzero("aml_events_total"),
        counts(&[
            (&[(function, "RunStatusChanged"), (outcome, "done")], 1.0),
            (
                &[(function, "RunStatusChanged"), (outcome, "duplicate")],
                1.0
            ),
            (&[(function, "ModelRegistered"), (outcome, "done")], 1.0),
            // The unreadable delivery that named it, and the batch it spoiled.
            (&[(function, "ModelRegistered"), (outcome, "rejected")], 2.0),
            (
                &[(function, "RunCompleted"), (outcome, "acknowledged")],
                1.0
            ),
            (&[(function, "RunCompleted"), (outcome, "rejected")], 1.0),
            (&[(function, "none"), (outcome, "acknowledged")], 1.0),
            (
                &[(function, "ModelDeployed"), (outcome, "redelivered")],
                1.0
            ),
        ])
    );
    let (action, status) = ("action", "status");
    assert_eq!(
        page.nonzero("aml_actions_total"),
        counts(&[
            (&[(action, "enrich"), (status, "dry-run")], 1.0),
            (&[(action, "enrich"), (status, "duplicate")], 1.0),
            (&[(action, "notify"), (status, "done")], 2.0),
            // Refused by beta; failed for now at gamma.
            (&[(action, "notify"), (status, "failed")], 2.0),
            (&[(action, "notify"), (status, "duplicate")], 2.0),
            (&[(action, "smoke-test"), (status, "skipped")], 1.0),
        ])
    );
    assert_eq!(
        page.nonzero("aml_notifications_total"),
        counts(&[
            (&[("kind", "webhook"), (status, "sent")], 2.0),
            (&[("kind", "webhook"), (status, "refused")], 1.0),
            (&[("kind", "webhook"), (status, "failed")], 1.0),
        ])
    );
    assert_eq!(
        page.nonzero("aml_ledger_operations_total"),
        counts(&[
            (&[("operation", "claim"), ("result", "acquired")], 4.0),
            (&[("operation", "complete"), ("result", "ok")], 3.0),
            (&[("operation", "release"), ("result", "ok")], 1.0),
        ])
    );
    assert_eq!(
        page.nonzero("aml_delivery_duration_seconds_count"),
        counts(&[
            (&[(function, "RunStatusChanged")], 2.0),
            (&[(function, "ModelRegistered")], 2.0),
            // The host invocation, and the batch named after its first event.
            (&[(function, "RunCompleted")], 2.0),
            (&[(function, "none")], 1.0),
            (&[(function, "ModelDeployed")], 1.0),
        ])
    );
    assert_eq!(
        page.value(
            "aml_delivery_duration_seconds_bucket",
            &[(function, "ModelDeployed"), ("le", "+Inf")]
        ),
        1.0
    );
    // Gamma's failure took its retries, and more than the first bucket's half millisecond.
    assert_eq!(
        page.value(
            "aml_delivery_duration_seconds_bucket",
            &[(function, "ModelDeployed"), ("le", "0.0005")]
        ),
        0.0
    );
    assert_eq!(
        page.nonzero("aml_action_duration_seconds_count"),
        counts(&[(&[(action, "notify")], 4.0)])
    );
    assert_eq!(page.value("aml_deliveries_in_flight", &[]), 0.0);
    let port = targets.address().port().to_string();
    for never in ids.iter().map(String::as_str).chain([
        "alpha-receiver",
        "beta-receiver",
        "gamma-receiver",
        "failed runs route",
        "127.0.0.1",
        port.as_str(),
        "churn",
    ]) {
        assert!(!text.contains(never), "{never} is on the page:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_needs_no_key_when_the_webhook_has_one() {
    // Arrange
    let key = "metrics-test-webhook-key";
    let server = start(&[("AML_WEBHOOK_KEY", key.into())]);

    // Act
    let (content_type, text) = scrape(&server).await;
    let (refused, _, _) = webhook(&server, "", &[run_completed(&new_id("keyless"))]).await;
    let (content_type_after, text_after) = scrape(&server).await;

    // Assert
    assert_eq!(refused, 401, "the webhook itself still wants the key");
    assert_eq!(
        (content_type.as_str(), content_type_after.as_str()),
        (TEXT_FORMAT, TEXT_FORMAT)
    );
    assert_eq!(parse(&text).nonzero("aml_events_total"), BTreeMap::new());
    let after = parse(&text_after);
    assert_eq!(
        after.value(
            "aml_events_total",
            &[("function", "RunCompleted"), ("outcome", "done")]
        ),
        0.0,
        "a refused request is not an event"
    );
    assert_eq!(
        after.nonzero("aml_delivery_duration_seconds_count"),
        BTreeMap::new()
    );
    assert!(!text_after.contains(key), "the key is on the page");
}

fn run_completed(id: &str) -> Value {
    event(
        "RunCompleted",
        id,
        json!({"experimentName": "nightly", "runId": "nightly_run_1", "runType": "azureml.scriptrun"}),
    )
}

/// Runs `script` with the virtual environment's Python, `input` on stdin.
fn run_python(script: &str, input: &str) -> Output {
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    common::python::succeeded("the parser", &output);
    output
}

/// The Python of `<target>/tmp/prometheus_client/venv`, with PyPI's `prometheus-client` in
/// it; installed when missing. No `python3` is a test failure with a message, never a skip.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("prometheus_client");
        common::python::with(
            &dir,
            &common::python::Package {
                requirement: "prometheus-client==0.26.*",
                import: "prometheus_client.parser",
                purpose: "the metrics tests read the page with the Python prometheus-client package",
            },
        )
    })
}
