//! Issue 13, "Nothing silently emptied" (docs/events.md), as properties over many inputs: tags
//! nested to any depth are read whole or refused by name, never `{}`; a `modelVersion` reads as
//! the text it was written with; a time with `Z`, an offset or no offset at all is read, with no
//! offset meaning UTC. Each property holds in both schemas and both read paths (the hosts' one
//! pass, and `parse` then `decode`).

use aml_events::{AmlEvent, Event, ParseError, Timestamp, envelope, events::RawObject};
use proptest::prelude::*;
use serde_json::Value;

/// The event's data as every reader sees it; both readings must agree.
fn decoded_both_ways(body: &str) -> Result<AmlEvent, ParseError> {
    let events = envelope::parse(None, body.as_bytes()).expect("the envelope reads");
    let two_steps = events[0].decode();
    let one_pass = envelope::parse_decoded_text(None, body)
        .expect("the envelope reads")
        .remove(0)
        .data
        .expect("data");
    assert_eq!(format!("{one_pass:?}"), format!("{two_steps:?}"));
    two_steps
}

/// One event of `event_type` carrying `data`: Event Grid, CloudEvents, or Event Grid with its
/// data before its type (read raw, then decoded).
fn body(shape: usize, event_type: &str, time: &str, data: &str) -> String {
    match shape % 3 {
        0 => format!(
            r#"[{{"id":"p1","eventType":"{event_type}","subject":"s","eventTime":"{time}","data":{data}}}]"#
        ),
        1 => format!(
            r#"{{"specversion":"1.0","id":"p1","source":"/w","type":"{event_type}","time":"{time}","data":{data}}}"#
        ),
        _ => format!(
            r#"{{"data":{data},"id":"p1","subject":"s","eventTime":"{time}","eventType":"{event_type}"}}"#
        ),
    }
}

const RUN_COMPLETED: &str = "Microsoft.MachineLearningServices.RunCompleted";
const MODEL_REGISTERED: &str = "Microsoft.MachineLearningServices.ModelRegistered";
const DRIFT: &str = "Microsoft.MachineLearningServices.DatasetDriftDetected";

/// Tags nesting `depth` levels in all: the tags object, then objects or arrays (by `shapes`)
/// around a string full of brackets, which must not count.
fn nested_tags(depth: usize, shapes: &[bool], brackets: usize, spaced: bool) -> String {
    let space = if spaced { " " } else { "" };
    let mut inner = format!(r#""{}""#, "[{".repeat(brackets));
    for level in (1..depth).rev() {
        inner = if shapes[level % shapes.len()] {
            format!(r#"{{"k{level}":{space}{inner}}}"#)
        } else {
            format!("[{space}{inner}{space}]")
        };
    }
    format!(r#"{{{space}"t":{space}{inner}{space}}}"#)
}

/// A JSON value as text, with what [`RawObject::to_map`] must make of it: the value serde_json
/// parses, except that a number beyond an f64 is a string of its text, or `None`
/// when a string in it holds a lone surrogate escape, which must be refused. serde_json itself
/// judges each string and number alone.
#[derive(Debug, Clone)]
struct Tricky {
    text: String,
    expected: Option<Value>,
}

/// Tricky JSON: numbers beyond f64 (long or with large exponents), `\u` escapes of paired and
/// lone surrogates, escaped quotes and backslashes, brackets inside strings, line breaks.
fn tricky_json() -> impl Strategy<Value = Tricky> {
    let number = "-?(0|[1-9][0-9]{0,120})(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,4})?".prop_map(|text| {
        let expected = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
        Tricky {
            text,
            expected: Some(expected),
        }
    });
    let piece = prop_oneof![
        "[a-z ]{0,6}",
        Just("\\\"".to_owned()),
        Just("\\\\".to_owned()),
        Just("\\\\u".to_owned()),
        Just("[{".to_owned()),
        Just("\\ud83d\\ude00".to_owned()),
        "\\\\u[dD][89abAB][0-9a-f]{2}",
        "\\\\u[0-9a-fA-F]{4}",
    ];
    let string = prop::collection::vec(piece, 0..4).prop_map(|pieces| {
        let text = format!("\"{}\"", pieces.concat());
        let expected = serde_json::from_str::<String>(&text)
            .ok()
            .map(Value::String);
        Tricky { text, expected }
    });
    let space = prop_oneof![Just(""), Just(" "), Just("\n  ")];
    let leaf = prop_oneof![
        number,
        string.clone(),
        Just(Tricky {
            text: "true".to_owned(),
            expected: Some(Value::Bool(true))
        }),
    ];
    leaf.prop_recursive(5, 48, 5, move |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..5), space.clone()).prop_map(
                |(items, space)| {
                    let texts: Vec<&str> = items.iter().map(|item| item.text.as_str()).collect();
                    Tricky {
                        text: format!("[{space}{}{space}]", texts.join(",")),
                        expected: items
                            .iter()
                            .map(|item| item.expected.clone())
                            .collect::<Option<Vec<_>>>()
                            .map(Value::Array),
                    }
                }
            ),
            (
                prop::collection::vec((string.clone(), inner), 0..5),
                space.clone()
            )
                .prop_map(|(members, space)| {
                    let texts: Vec<String> = members
                        .iter()
                        .map(|(key, value)| format!("{space}{}:{space}{}", key.text, value.text))
                        .collect();
                    let mut expected = Some(serde_json::Map::new());
                    for (key, value) in members {
                        expected = match (expected, key.expected, value.expected) {
                            (Some(mut map), Some(Value::String(key)), Some(value)) => {
                                map.insert(key, value);
                                Some(map)
                            }
                            _ => None,
                        };
                    }
                    Tricky {
                        text: format!("{{{}{space}}}", texts.join(",")),
                        expected: expected.map(Value::Object),
                    }
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn tags_are_refused_or_kept_whole_never_emptied(
        key in "[a-z]{1,4}",
        value in tricky_json(),
    ) {
        // See: issue 13, "Deep nesting"
        let json = format!(r#"{{"{key}": {}}}"#, value.text);
        let object = serde_json::from_str::<RawObject>(&json);
        match (object, value.expected) {
            (Ok(object), Some(expected)) => {
                let expected = Value::Object(serde_json::Map::from_iter([(key, expected)]));
                prop_assert_eq!(object.get(), json.as_str());
                prop_assert_eq!(&Value::Object(object.to_map()), &expected);
                // Written out, it parses back: as it came, or with such numbers as strings.
                prop_assert_eq!(&serde_json::to_value(&object).unwrap(), &expected);
                if let Ok(map) = serde_json::from_str::<serde_json::Map<String, Value>>(&json) {
                    prop_assert_eq!(Value::Object(map), expected);
                    prop_assert_eq!(serde_json::to_string(&object).unwrap(), json);
                }
            }
            (Err(err), None) => {
                let message = err.to_string();
                prop_assert!(message.contains("lone UTF-16 surrogate"), "{}", message);
            }
            (object, expected) => panic!("{json}: read as {object:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn nested_tags_are_read_whole_or_refused_by_name(
        depth in 1usize..300,
        shapes in prop::collection::vec(any::<bool>(), 1..8),
        brackets in 0usize..300,
        spaced in any::<bool>(),
        shape in 0usize..3,
    ) {
        // See: issue 13, "Deep nesting"
        let tags = nested_tags(depth, &shapes, brackets, spaced);
        let data = format!(r#"{{"runId":"r","runTags":{tags}}}"#);
        let body = body(shape, RUN_COMPLETED, "2024-03-01T12:00:00Z", &data);
        match decoded_both_ways(&body) {
            Ok(AmlEvent::RunCompleted(run)) => {
                prop_assert!(depth <= 127, "read {depth} levels");
                let read = run.run_tags.expect("tags");
                prop_assert_eq!(read.get(), tags.as_str());
                let expected: Value = serde_json::from_str(&tags).unwrap();
                prop_assert_eq!(Value::Object(read.to_map()), expected);
                // Written out and read again, the tags are the same text.
                let events = envelope::parse(None, body.as_bytes()).unwrap();
                let written = serde_json::to_string(&events).unwrap();
                let again = envelope::parse(None, written.as_bytes()).unwrap();
                let Ok(AmlEvent::RunCompleted(reread)) = again[0].decode() else {
                    panic!("read again: {written}")
                };
                let reread = reread.run_tags.expect("tags");
                prop_assert_eq!(reread.get(), tags.as_str());
            }
            Ok(other) => panic!("{other:?}"),
            Err(err) => {
                prop_assert!(depth > 127, "{depth} levels refused: {err}");
                let field = err.field();
                prop_assert_eq!(field.as_deref(), Some("data.runTags"));
                let message = err.to_string();
                prop_assert!(message.contains("nested deeper than 127 levels"), "{}", message);
            }
        }
    }

    #[test]
    fn model_versions_read_as_written(
        written in "-?[0-9]{1,40}(\\.[0-9]{1,20})?",
        number in "-?(0|[1-9][0-9]{0,39})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
        pascal in any::<bool>(),
        shape in 0usize..3,
    ) {
        // See: issue 13, "Numbers keep their digits"
        let key = if pascal { "ModelVersion" } else { "modelVersion" };
        // Any digits as a string; a JSON number (no leading zeros) as a number.
        let cases = [(format!("\"{written}\""), written.clone()), (number.clone(), number)];
        for (json, expected) in cases {
            let data = format!(r#"{{"modelName":"m","{key}":{json}}}"#);
            let body = body(shape, MODEL_REGISTERED, "2024-03-01T12:00:00Z", &data);
            let Ok(AmlEvent::ModelRegistered(model)) = decoded_both_ways(&body) else {
                panic!("not read: {body}")
            };
            prop_assert_eq!(model.model_version.as_deref(), Some(expected.as_str()));
            // Its canonical form holds the same text, and reads back the same.
            let canonical = serde_json::to_string(&model).unwrap();
            let quoted = format!(r#""modelVersion":"{expected}""#);
            prop_assert!(canonical.contains(&quoted), "{}", canonical);
            let again = AmlEvent::decode("p1", MODEL_REGISTERED, Some(&canonical)).unwrap();
            prop_assert_eq!(again, AmlEvent::ModelRegistered(model));
        }
    }

    #[test]
    fn times_read_with_z_an_offset_or_no_offset(
        (year, month, day) in (1i32..=9999, 1u8..=12, 1u8..=28),
        (hour, minute, second) in (0u8..24, 0u8..60, 0u8..60),
        fraction in "[0-9]{0,9}",
        offset in -(23 * 60 + 59)..=23i64 * 60 + 59,
        zone in 0usize..3,
        shape in 0usize..3,
    ) {
        // See: issue 13, "A time without an offset is read as UTC"
        let fraction = if fraction.is_empty() { fraction } else { format!(".{fraction}") };
        let local = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}");
        let sign = if offset < 0 { '-' } else { '+' };
        let written_offset = format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60);
        let text = match zone {
            0 => format!("{local}Z"),
            1 => format!("{local}{written_offset}"),
            _ => local.clone(),
        };
        let time = Timestamp::parse(&text).unwrap_or_else(|err| panic!("{text}: {err}"));
        // The same wall-clock time read as UTC: `Z` and no offset give this very instant, an
        // offset one that many minutes earlier.
        let utc = Timestamp::parse(&format!("{local}Z")).unwrap();
        if zone == 1 {
            prop_assert_eq!(
                time.as_offset_date_time(),
                utc.as_offset_date_time() - time::Duration::minutes(offset)
            );
        } else {
            prop_assert_eq!(time, utc);
            prop_assert!(time.as_offset_date_time().offset().is_utc());
        }
        prop_assert_eq!(Timestamp::parse(&time.to_string()).unwrap(), time);

        // The same text as the event's time and as a payload's time.
        let data = format!(r#"{{"startTime":"{text}","EndTime":"{text}"}}"#);
        let body = body(shape, DRIFT, &text, &data);
        let events: Vec<Event> = envelope::parse(None, body.as_bytes()).unwrap();
        prop_assert_eq!(events[0].time, Some(time));
        let Ok(AmlEvent::DatasetDriftDetected(drift)) = decoded_both_ways(&body) else {
            panic!("not read: {body}")
        };
        prop_assert_eq!(drift.start_time, Some(time));
        prop_assert_eq!(drift.end_time, Some(time));
    }
}
