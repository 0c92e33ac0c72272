//! The reader faces whatever reaches a public endpoint: it must answer every input with events
//! or an error, never a panic. Property tests over arbitrary bytes, arbitrary JSON and
//! corrupted real samples. The one-pass reading of data (`parse_decoded`) must answer exactly
//! what `parse` and `decode` answer, whatever the input and whatever the order of attributes.

use aml_events::envelope;
use proptest::prelude::*;

const SAMPLES: [&str; 4] = [
    include_str!("../../tests/fixtures/event_grid/dataset_drift_detected.json"),
    include_str!("../../tests/fixtures/cloud_events/run_status_changed.json"),
    include_str!("../../tests/fixtures/variants/event_grid_batch.json"),
    include_str!("../../tests/fixtures/variants/event_grid_kept_as_written.json"),
];

/// Reads a body all the way, typed data included, as a host would.
fn read_fully(content_type: Option<&str>, body: &[u8]) {
    let two_steps = envelope::parse(content_type, body).map(|events| {
        events
            .into_iter()
            .map(|event| {
                let data = event.decode();
                event.with_data(data)
            })
            .collect::<Vec<_>>()
    });
    let one_pass = envelope::parse_decoded(content_type, body);
    assert_eq!(format!("{one_pass:?}"), format!("{two_steps:?}"));
    if let Ok(events) = envelope::parse(content_type, body) {
        for event in events {
            // Whatever is read can also become a `serde_json::Value`, as the notify action's
            // `json!` makes it: tags serde_json cannot parse again are refused when read.
            // See: issue 13, "Deep nesting"
            if let Ok(data) = event.decode() {
                serde_json::to_value(&data).expect("a decoded payload converts to a Value");
            }
            let _ = serde_json::to_vec(&event);
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9:.+-]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("2024-03-01T12:00:00Z"),
            Just("1.0"),
            Just("Microsoft.MachineLearningServices.RunStatusChanged"),
            Just("Microsoft.EventGrid.SubscriptionValidationEvent"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("id".to_owned()),
        Just("eventType".to_owned()),
        Just("type".to_owned()),
        Just("specversion".to_owned()),
        Just("subject".to_owned()),
        Just("eventTime".to_owned()),
        Just("time".to_owned()),
        Just("source".to_owned()),
        Just("data".to_owned()),
        Just("data_base64".to_owned()),
        Just("runStatus".to_owned()),
        Just("modelVersion".to_owned()),
        Just("DriftCoefficient".to_owned()),
        "[a-zA-Z_]{1,8}",
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        read_fully(None, &body);
        read_fully(Some("application/cloudevents-batch+json"), &body);
    }

    #[test]
    fn arbitrary_json(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        read_fully(None, &body);
        read_fully(Some("application/cloudevents+json"), &body);
    }

    #[test]
    fn corrupted_samples(sample in 0..SAMPLES.len(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut body = SAMPLES[sample].as_bytes().to_vec();
        for (at, byte) in edits {
            let at = at.index(body.len());
            body[at] = byte;
        }
        read_fully(None, &body);
    }

    #[test]
    fn truncated_samples(sample in 0..SAMPLES.len(), keep in any::<prop::sample::Index>()) {
        let body = SAMPLES[sample].as_bytes();
        read_fully(None, &body[..keep.index(body.len())]);
    }

    #[test]
    fn sample_attributes_in_any_order(sample in 0..SAMPLES.len(), order in any::<u64>(), edit in any::<Option<(prop::sample::Index, u8)>>()) {
        let events: serde_json::Value = serde_json::from_str(SAMPLES[sample]).unwrap();
        let events = match events {
            serde_json::Value::Array(events) => events,
            event => vec![event],
        };
        let mut seed = order;
        let written: Vec<String> = events.iter().map(|event| {
            let mut members: Vec<String> = event.as_object().unwrap().iter()
                .map(|(key, value)| format!("{}:{value}", serde_json::Value::from(key.as_str())))
                .collect();
            // A cheap deterministic shuffle driven by `order`.
            for at in (1..members.len()).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                members.swap(at, (seed >> 33) as usize % (at + 1));
            }
            format!("{{{}}}", members.join(","))
        }).collect();
        let mut body = format!("[{}]", written.join(",")).into_bytes();
        if let Some((at, byte)) = edit {
            let at = at.index(body.len());
            body[at] = byte;
        }
        read_fully(None, &body);
    }
}
