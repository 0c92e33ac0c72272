//! What the reader costs per event: parse the delivery body, decode the typed data and find
//! the function, for each of Azure's samples and for a large (64 KB) event. Run with
//! `cargo bench -p aml-events`; throughput is in bytes of body.

use std::hint::black_box;

use aml_events::envelope;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SAMPLES: [(&str, &str); 10] = [
    (
        "event_grid/model_registered",
        include_str!("../../tests/fixtures/event_grid/model_registered.json"),
    ),
    (
        "event_grid/model_deployed",
        include_str!("../../tests/fixtures/event_grid/model_deployed.json"),
    ),
    (
        "event_grid/run_completed",
        include_str!("../../tests/fixtures/event_grid/run_completed.json"),
    ),
    (
        "event_grid/dataset_drift_detected",
        include_str!("../../tests/fixtures/event_grid/dataset_drift_detected.json"),
    ),
    (
        "event_grid/run_status_changed",
        include_str!("../../tests/fixtures/event_grid/run_status_changed.json"),
    ),
    (
        "cloud_events/model_registered",
        include_str!("../../tests/fixtures/cloud_events/model_registered.json"),
    ),
    (
        "cloud_events/model_deployed",
        include_str!("../../tests/fixtures/cloud_events/model_deployed.json"),
    ),
    (
        "cloud_events/run_completed",
        include_str!("../../tests/fixtures/cloud_events/run_completed.json"),
    ),
    (
        "cloud_events/dataset_drift_detected",
        include_str!("../../tests/fixtures/cloud_events/dataset_drift_detected.json"),
    ),
    (
        "cloud_events/run_status_changed",
        include_str!("../../tests/fixtures/cloud_events/run_status_changed.json"),
    ),
];

/// Parse, decode and dispatch every event of `body`, as a host does.
fn read(body: &[u8]) -> usize {
    let events = envelope::parse(None, body).expect("a readable body");
    events
        .iter()
        .map(|event| {
            let data = event.decode().expect("typed data");
            usize::from(data.function().is_some())
        })
        .sum()
}

/// A RunCompleted event whose run properties add up to about 64 KB, as large AutoML runs do.
fn large_event() -> String {
    let properties: serde_json::Map<String, serde_json::Value> = (0..600)
        .map(|i| {
            (
                format!("property_{i:04}"),
                serde_json::Value::from(format!("{i:0>90}")),
            )
        })
        .collect();
    let event = serde_json::json!([{
        "id": "831e1650-001e-001b-66ab-eeb76e069631",
        "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws",
        "subject": "experiments/e/runs/r",
        "eventType": "Microsoft.MachineLearningServices.RunCompleted",
        "eventTime": "2017-06-26T18:41:00.9584103Z",
        "data": {"experimentId": "e", "experimentName": "n", "runId": "r", "runType": null, "runTags": {}, "runProperties": properties},
        "dataVersion": "",
        "metadataVersion": "1"
    }]);
    event.to_string()
}

fn reader(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse+dispatch");
    for (name, body) in SAMPLES {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| b.iter(|| read(black_box(body.as_bytes()))));
    }
    let large = large_event();
    assert!(large.len() >= 64 * 1024, "{}", large.len());
    group.throughput(Throughput::Bytes(large.len() as u64));
    group.bench_function("run_completed_64kb", |b| {
        b.iter(|| read(black_box(large.as_bytes())))
    });
    group.finish();
}

// criterion's macro declares an undocumented function.
#[allow(missing_docs)]
mod registration {
    use super::*;
    criterion_group!(benches, reader);
}
use registration::benches;
criterion_main!(benches);
