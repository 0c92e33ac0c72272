//! The envelopes Event Grid delivers, read in one pass whatever the schema.
//!
//! # Layout
//! - [`parse`]: the one routine every host calls with a body and its content type;
//!   [`parse_decoded`] also reads each event's data as its type's payload.
//! - [`Event`]: one event, schema-neutral, with its data still raw (or typed, once decoded).
//! - `wire`: the single-pass reader that collects attributes before the schema is known.
//! - [`event_grid`], [`cloud_event`]: each schema's required attributes and how it is written.
//! - [`validation`]: the Event Grid system events (subscription validation and deletion).
//!
//! The schema is detected from each event's attributes, not trusted from the content type:
//! the Functions host forwards Event Grid-schema events under `application/json`, and a
//! CloudEvents subscription may deliver either structured or batch bodies.

pub mod cloud_event;
pub mod event_grid;
pub mod validation;
mod wire;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, value::RawValue};

use crate::{
    error::ParseError,
    events::{AmlEvent, Function},
    timestamp::Timestamp,
};

/// An event's `data` exactly as it arrived (the JSON text), not yet interpreted.
///
/// Keeping the text instead of a `serde_json::Value` tree means an event is read once, and its
/// data only when a function needs it, straight into the typed payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawData(Box<RawValue>);

impl RawData {
    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Wraps JSON text, checking that it is JSON.
    pub fn from_string(json: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json).map(Self)
    }
}

impl PartialEq for RawData {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// Which of the two wire schemas an event came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Schema {
    /// The Event Grid event schema.
    /// See <https://learn.microsoft.com/azure/event-grid/event-schema>
    #[serde(rename = "eventgrid")]
    EventGrid,
    /// CloudEvents 1.0, JSON format.
    /// See <https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md>
    #[serde(rename = "cloudevents")]
    CloudEvents,
}

impl Schema {
    /// The schema's name as written in error messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Schema::EventGrid => "Event Grid",
            Schema::CloudEvents => "CloudEvents",
        }
    }
}

/// One event, whichever schema it came in.
///
/// The attributes the two schemas share are fields here under neutral names (`source` is the
/// Event Grid `topic`, `event_type` the CloudEvents `type`); the rest are kept so that writing
/// the event back (see [`Serialize`]) yields the same event in the same schema.
#[derive(Debug, Clone)]
pub struct Event<T = RawData> {
    /// The schema the event arrived in; it is written back in the same one.
    pub schema: Schema,
    /// `id`: unique per event and publisher; Event Grid redelivers with the same id.
    pub id: String,
    /// `eventType` / `type`, e.g. `Microsoft.MachineLearningServices.RunCompleted`.
    pub event_type: String,
    /// `topic` / `source`: for Azure ML, the workspace's resource id.
    pub source: Option<String>,
    /// `subject`, e.g. `experiments/{id}/runs/{runId}`.
    pub subject: Option<String>,
    /// `eventTime` / `time`.
    pub time: Option<Timestamp>,
    /// `data`, raw or typed.
    pub data: Option<T>,
    /// CloudEvents `data_base64`: binary data, base64-encoded (never together with `data`).
    pub data_base64: Option<String>,
    /// CloudEvents `datacontenttype`.
    pub data_content_type: Option<String>,
    /// CloudEvents `dataschema`.
    pub data_schema: Option<String>,
    /// Event Grid `dataVersion`.
    pub data_version: Option<String>,
    /// Event Grid `metadataVersion`.
    pub metadata_version: Option<String>,
    /// Every other top-level property (CloudEvents extension attributes, Event Grid additions
    /// such as dead-letter fields), kept as they came.
    pub extensions: Map<String, Value>,
}

/// Reads a delivery body: an Event Grid event or array of them, or a CloudEvent or batch.
///
/// `content_type` is only a hint for bodies whose attributes do not tell the schema; the
/// attributes decide. An empty array is an empty batch. Unknown properties never fail.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Vec<Event>, ParseError> {
    wire::read_body(body, false)?
        .into_iter()
        .enumerate()
        .map(|(index, wire)| wire.into_event(index, content_type))
        .collect()
}

/// An event's data read as its type's payload ([`Event::decode`]), or why it could not be.
pub type Decoded = Result<AmlEvent, ParseError>;

/// [`parse`], then [`Event::into_decoded`] for every event, each event keeping its own result:
/// what the hosts need before acting. It answers exactly what those two steps answer, reading
/// the data of the usual event (its type before its data) in the same pass as the envelope; an
/// event is never decoded twice, and a body with any problem is read again the two-step way
/// for the same errors. The raw data is not kept (an event of a type that is not ours comes
/// back as [`AmlEvent::Unknown`] without it); [`parse`] keeps it.
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
        let event = wire.into_event(index, content_type).ok()?;
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

impl<T> Event<T> {
    /// The function that handles this event's type, or `None` when it is not ours.
    pub fn function(&self) -> Option<Function> {
        Function::from_event_type(&self.event_type)
    }

    /// The workspace the event came from, when its topic/source is a workspace resource id
    /// (the docs' samples carry `{subscription-id}` placeholders: `None`).
    pub fn workspace(&self) -> Option<crate::WorkspaceId> {
        self.source.as_deref().and_then(crate::WorkspaceId::parse)
    }

    /// The same event carrying other data, typically its decoded payload.
    pub fn with_data<U>(self, data: U) -> Event<U> {
        Event {
            schema: self.schema,
            id: self.id,
            event_type: self.event_type,
            source: self.source,
            subject: self.subject,
            time: self.time,
            data: Some(data),
            data_base64: self.data_base64,
            data_content_type: self.data_content_type,
            data_schema: self.data_schema,
            data_version: self.data_version,
            metadata_version: self.metadata_version,
            extensions: self.extensions,
        }
    }
}

impl Event<RawData> {
    /// Reads `data` as the payload of the event's type; other types come back as
    /// [`AmlEvent::Unknown`] and keep their raw data here.
    pub fn decode(&self) -> Result<AmlEvent, ParseError> {
        AmlEvent::decode(&self.id, &self.event_type, self.raw_data())
    }

    /// The same event with its data [decoded](Event::decode), or why it could not be.
    pub fn into_decoded(self) -> Event<Decoded> {
        let data = self.decode();
        self.with_data(data)
    }

    /// The raw JSON text of `data`, if any.
    pub fn raw_data(&self) -> Option<&str> {
        self.data.as_ref().map(RawData::get)
    }
}

impl<T: PartialEq> PartialEq for Event<T> {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema
            && self.id == other.id
            && self.event_type == other.event_type
            && self.source == other.source
            && self.subject == other.subject
            && self.time == other.time
            && self.data == other.data
            && self.data_base64 == other.data_base64
            && self.data_content_type == other.data_content_type
            && self.data_schema == other.data_schema
            && self.data_version == other.data_version
            && self.metadata_version == other.metadata_version
            && self.extensions == other.extensions
    }
}

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
