//! The host-invocation decoder faces whatever reaches `POST /{Function}`: arbitrary bytes,
//! odd `Data` shapes and encodings nested any number of times must come back as a body or an
//! error, never a panic; and what it returns must go through the envelope reader safely too.

use aml_handlers::hosting::custom_handler::{event_body, event_body_general};
use proptest::prelude::*;

const EVENT: &str = include_str!("fixtures/event_grid/run_status_changed.json");

/// Decodes an invocation all the way to typed events, as the route does.
fn decode_fully(invocation: &[u8]) {
    if let Ok((_, body)) = event_body(invocation) {
        if let Ok(events) = aml_events::envelope::parse(None, body.as_bytes()) {
            for event in events {
                let _ = event.decode();
            }
        }
    }
}

/// `text` JSON-encoded as a string `times` times.
fn encode(text: &str, times: usize) -> String {
    (0..times).fold(text.to_owned(), |text, _| {
        serde_json::to_string(&text).unwrap()
    })
}

/// Small JSON values, for `Metadata` and odd `Data` entries.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        (-1e6f64..1e6).prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-zA-Z\\\\\"]{0,6}", inner, 0..4)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The fast path through the invocation agrees with the general parser on every
    /// well-formed body, whatever the binding name, the Metadata and the encoding.
    #[test]
    fn the_fast_path_agrees_with_the_general_parser(
        binding in "[a-zA-Z\\\\\"]{1,6}",
        metadata in json_value(),
        other in json_value(),
        times in 0usize..5,
        metadata_first in any::<bool>(),
    ) {
        let event = if times == 0 { serde_json::from_str(EVENT).unwrap() } else { serde_json::Value::from(encode(EVENT, times)) };
        let data = serde_json::json!({ binding.clone(): event, "other": other });
        let data = if binding == "event" { serde_json::json!({ "event": data["event"].clone() }) } else { data };
        let body = if metadata_first {
            format!(r#"{{"Metadata": {metadata}, "Data": {data}}}"#)
        } else {
            format!(r#"{{"Data": {data}, "Metadata": {metadata}}}"#)
        };
        let fast = event_body(body.as_bytes()).map_err(|err| err.to_string());
        let general = event_body_general(body.as_bytes()).map_err(|err| err.to_string());
        prop_assert_eq!(fast, general);
    }

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_fully(&body);
    }

    #[test]
    fn arbitrary_data_values(binding in "[a-zA-Z]{1,8}", value in "\\PC{0,64}", times in 0usize..6) {
        let invocation = format!(r#"{{"Data": {{"{binding}": {}}}, "Metadata": {{}}}}"#, encode(&value, times.max(1)));
        decode_fully(invocation.as_bytes());
    }

    #[test]
    fn the_real_event_in_any_number_of_encodings(times in 0usize..8, cut in any::<prop::sample::Index>()) {
        let data = if times == 0 { EVENT.to_owned() } else { encode(EVENT, times) };
        let invocation = format!(r#"{{"Data": {{"event": {data}}}, "Metadata": {{"sys": {{}}}}}}"#);
        decode_fully(invocation.as_bytes());
        // And cut short anywhere.
        let bytes = invocation.as_bytes();
        decode_fully(&bytes[..cut.index(bytes.len())]);
        // Up to three string encodings are unwrapped to the event itself.
        if (1..=3).contains(&times) {
            let (_, body) = event_body(invocation.as_bytes()).unwrap();
            prop_assert_eq!(body.as_ref(), EVENT);
        }
    }
}
