//! The envelopes Event Grid delivers, read in one pass whatever the schema.
//!
//! # Layout
//! - [`parse`]: the one routine every host calls with a body and its content type;
//!   [`parse_decoded`] also reads each event's data as its type's payload.
//! - [`Event`] (`event`): one event, schema-neutral, with its data still raw (or typed, once
//!   decoded).
//! - `wire`: the single-pass reader that collects attributes before the schema is known.
//! - [`event_grid`], [`cloud_event`]: each schema's required attributes and how it is written.
//!   Which of the two an event is in is decided here, for reading and for writing back.
//! - [`validation`]: the Event Grid system events (subscription validation and deletion).
//!
//! The schema is detected from each event's attributes, not trusted from the content type:
//! the Functions host forwards Event Grid-schema events under `application/json`, and a
//! CloudEvents subscription may deliver either structured or batch bodies.

pub mod cloud_event;
mod event;
pub mod event_grid;
pub mod validation;
mod wire;

use serde::{Serialize, Serializer};

use crate::error::ParseError;
pub use event::{Decoded, Event, RawData, Schema};
use wire::WireEvent;

/// Reads a delivery body: an Event Grid event or array of them, or a CloudEvent or batch.
///
/// `content_type` is only a hint for bodies whose attributes do not tell the schema; the
/// attributes decide. An empty array is an empty batch. Unknown properties never fail.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Vec<Event>, ParseError> {
    wire::read_body(body, false)?
        .into_iter()
        .enumerate()
        .map(|(index, wire)| from_wire(wire, index, content_type))
        .collect()
}

/// [`parse`], then [`Event::into_decoded`] for every event, each event keeping its own result:
/// what the hosts need before acting. It answers exactly what those two steps answer, reading
/// the data of the usual event (its type before its data) in the same pass as the envelope; an
/// event is never decoded twice, and a body with any problem is read again the two-step way
/// for the same errors. The raw data is not kept (an event of a type that is not ours comes
/// back as [`AmlEvent::Unknown`](crate::events::AmlEvent::Unknown) without it); [`parse`]
/// keeps it.
pub fn parse_decoded(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<Event<Decoded>>, ParseError> {
    // Raw data is checked for UTF-8 as a whole, skipped data is not: in a body that is UTF-8
    // throughout, the two readings cannot differ on it.
    match std::str::from_utf8(body) {
        Ok(text) => parse_decoded_text(content_type, text),
        Err(_) => parse_in_two_steps(content_type, body),
    }
}

/// [`parse_decoded`] for a body already known to be text, which it does not check again.
pub fn parse_decoded_text(
    content_type: Option<&str>,
    body: &str,
) -> Result<Vec<Event<Decoded>>, ParseError> {
    match parse_in_one_pass(content_type, body) {
        Some(events) => Ok(events),
        None => parse_in_two_steps(content_type, body.as_bytes()),
    }
}

fn parse_in_two_steps(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<Event<Decoded>>, ParseError> {
    Ok(parse(content_type, body)?
        .into_iter()
        .map(Event::into_decoded)
        .collect())
}

/// `None` for anything the two-step reading must word or decide.
fn parse_in_one_pass(content_type: Option<&str>, body: &str) -> Option<Vec<Event<Decoded>>> {
    let wires = wire::read_body(body.as_bytes(), true).ok()?;
    let mut events = Vec::with_capacity(wires.len());
    for (index, mut wire) in wires.into_iter().enumerate() {
        let decoded = wire.take_decoded();
        let event = from_wire(wire, index, content_type).ok()?;
        events.push(match decoded {
            // The data was read as the type the event ended up with (not, say, a CloudEvents
            // `type` beside an Event Grid `eventType`).
            Some(decoded) if decoded.event_type == event.event_type => {
                event.with_data(Ok(decoded.data))
            }
            Some(_) => return None,
            None => event.into_decoded(),
        });
    }
    Some(events)
}

/// One event read from the body, as the schema its attributes show; the content type only
/// breaks a tie.
fn from_wire(
    wire: WireEvent,
    index: usize,
    content_type: Option<&str>,
) -> Result<Event, ParseError> {
    match wire.detect(content_type) {
        Some(Schema::EventGrid) => event_grid::from_wire(wire, index),
        Some(Schema::CloudEvents) => cloud_event::from_wire(wire, index),
        None => Err(ParseError::UnrecognizedEnvelope {
            index,
            content_type: content_type.map(str::to_owned),
        }),
    }
}

/// Written back in the schema it came in.
impl<T: Serialize> Serialize for Event<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.schema {
            Schema::EventGrid => event_grid::serialize(self, serializer),
            Schema::CloudEvents => cloud_event::serialize(self, serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::AmlEvent;

    const EVENT_GRID: &str = include_str!("../../../tests/fixtures/event_grid/run_completed.json");
    const CLOUD_EVENTS: &str =
        include_str!("../../../tests/fixtures/cloud_events/run_completed.json");

    #[test]
    fn data_after_the_type_is_read_in_the_envelopes_pass() {
        for body in [EVENT_GRID, CLOUD_EVENTS] {
            let events = parse_in_one_pass(None, body).expect("one pass");
            assert!(
                matches!(events[0].data, Some(Ok(AmlEvent::RunCompleted(_)))),
                "{events:?}"
            );
        }
    }

    #[test]
    fn data_before_the_type_is_decoded_after() {
        let body = r#"{"data": {"runId": "r"}, "id": "1", "subject": "s",
            "eventType": "Microsoft.MachineLearningServices.RunCompleted",
            "eventTime": "2024-03-01T12:00:00Z"}"#;
        let events = parse_in_one_pass(None, body).expect("one pass");
        let Some(Ok(AmlEvent::RunCompleted(run))) = &events[0].data else {
            panic!("{events:?}");
        };
        assert_eq!(run.run_id.as_deref(), Some("r"));
    }

    #[test]
    fn bad_data_is_left_to_the_two_step_reading_and_kept_per_event() {
        let body = r#"[{"id": "1", "subject": "s", "eventTime": "2024-03-01T12:00:00Z",
            "eventType": "Microsoft.MachineLearningServices.ModelRegistered",
            "data": {"modelVersion": {}}},
            {"id": "2", "subject": "s", "eventTime": "2024-03-01T12:00:00Z",
            "eventType": "Microsoft.MachineLearningServices.ModelRegistered", "data": null}]"#;
        assert!(parse_in_one_pass(None, body).is_none());
        let events = parse_decoded(None, body.as_bytes()).unwrap();
        let error = events[0].data.as_ref().unwrap().as_ref().unwrap_err();
        assert_eq!(error.field().as_deref(), Some("data.modelVersion"));
        assert!(matches!(
            events[1].data,
            Some(Ok(AmlEvent::ModelRegistered(_)))
        ));
    }
}
