//! Reads a body's events in one pass, collecting the attributes of both schemas before the
//! schema is known, so that each event is scanned once and its `data` is never built as a tree.

use std::fmt;

use serde::{
    Deserialize, Deserializer,
    de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor},
};
use serde_json::{Map, Value};

use super::event::{RawData, Schema};
use crate::{
    error::ParseError,
    events::{AmlEvent, DataSeed},
    timestamp::Timestamp,
};

/// Every top-level attribute name either schema defines, except `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attr {
    Id,
    EventType,
    Type,
    Topic,
    Source,
    Subject,
    EventTime,
    Time,
    SpecVersion,
    DataContentType,
    DataSchema,
    DataVersion,
    MetadataVersion,
    DataBase64,
}

impl Attr {
    const ALL: [Attr; 14] = [
        Attr::Id,
        Attr::EventType,
        Attr::Type,
        Attr::Topic,
        Attr::Source,
        Attr::Subject,
        Attr::EventTime,
        Attr::Time,
        Attr::SpecVersion,
        Attr::DataContentType,
        Attr::DataSchema,
        Attr::DataVersion,
        Attr::MetadataVersion,
        Attr::DataBase64,
    ];

    /// The attribute's name on the wire.
    pub(super) fn name(self) -> &'static str {
        match self {
            Attr::Id => "id",
            Attr::EventType => "eventType",
            Attr::Type => "type",
            Attr::Topic => "topic",
            Attr::Source => "source",
            Attr::Subject => "subject",
            Attr::EventTime => "eventTime",
            Attr::Time => "time",
            Attr::SpecVersion => "specversion",
            Attr::DataContentType => "datacontenttype",
            Attr::DataSchema => "dataschema",
            Attr::DataVersion => "dataVersion",
            Attr::MetadataVersion => "metadataVersion",
            Attr::DataBase64 => "data_base64",
        }
    }

    fn from_name(name: &str) -> Option<Attr> {
        Attr::ALL.into_iter().find(|attr| attr.name() == name)
    }
}

/// One event as read from the body, before its schema is decided.
#[derive(Debug, Default)]
pub(super) struct WireEvent {
    /// The element was a scalar or an array, not an event object.
    not_an_object: bool,
    /// Attribute values, indexed by `Attr as usize`; `Some(Value::Null)` for an explicit null.
    attrs: [Option<Value>; Attr::ALL.len()],
    data: Option<RawData>,
    /// `data` read straight into its type's payload instead (see [`read_body`]).
    decoded: Option<DecodedData>,
    /// `data` was present, even if null.
    has_data: bool,
    extensions: Map<String, Value>,
}

/// An event's `data` read as the payload of `event_type`, the type it carried when its data
/// came: whoever builds the event checks that this is the type the event ends up with.
#[derive(Debug)]
pub(super) struct DecodedData {
    pub(super) event_type: String,
    pub(super) data: AmlEvent,
}

/// Reads a whole body: an array of events, or one bare event object. With `decode_data`, an
/// event's `data` that comes after its type is read straight into that type's payload (one
/// scan instead of two); otherwise, and for data that comes first, it is kept raw.
pub(super) fn read_body(body: &[u8], decode_data: bool) -> Result<Vec<WireEvent>, ParseError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let seed = WireSeed { decode_data };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let events = match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'[') => deserializer.deserialize_seq(EventsVisitor(seed)),
        Some(b'{') => seed.deserialize(&mut deserializer).map(|event| vec![event]),
        _ => {
            return match serde_json::from_slice::<IgnoredAny>(body) {
                Ok(_) => Err(ParseError::UnrecognizedEnvelope {
                    index: 0,
                    content_type: None,
                }),
                Err(err) => Err(ParseError::Json(err)),
            };
        }
    };
    let events = events.map_err(ParseError::Json)?;
    deserializer.end().map_err(ParseError::Json)?;
    Ok(events)
}

/// A batch: each element read with the same seed.
struct EventsVisitor(WireSeed);

impl<'de> Visitor<'de> for EventsVisitor {
    type Value = Vec<WireEvent>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<WireEvent>, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(event) = seq.next_element_seed(self.0)? {
            events.push(event);
        }
        Ok(events)
    }
}

/// Where an event stands in the body, for error messages.
pub(super) struct At {
    pub(super) index: usize,
    pub(super) id: Option<String>,
    pub(super) schema: Schema,
}

impl At {
    pub(super) fn missing(&self, attr: Attr) -> ParseError {
        ParseError::MissingAttribute {
            index: self.index,
            id: self.id.clone(),
            schema: self.schema.display_name(),
            attribute: attr.name(),
        }
    }

    pub(super) fn invalid(&self, attribute: &str, problem: String) -> ParseError {
        ParseError::InvalidAttribute {
            index: self.index,
            id: self.id.clone(),
            attribute: attribute.to_owned(),
            problem,
        }
    }
}

impl WireEvent {
    /// Decides the schema from the attributes; the content type only breaks a tie.
    pub(super) fn detect(&self, content_type: Option<&str>) -> Option<Schema> {
        if self.not_an_object {
            return None;
        }
        let has = |attr: Attr| self.attrs[attr as usize].is_some();
        if has(Attr::SpecVersion) {
            Some(Schema::CloudEvents)
        } else if [
            Attr::EventType,
            Attr::EventTime,
            Attr::Topic,
            Attr::DataVersion,
            Attr::MetadataVersion,
        ]
        .into_iter()
        .any(has)
        {
            Some(Schema::EventGrid)
        } else if has(Attr::Type)
            || has(Attr::Source)
            || content_type.is_some_and(is_cloud_events_content_type)
        {
            Some(Schema::CloudEvents)
        } else {
            None
        }
    }

    /// Takes an optional string attribute; `null` counts as absent.
    pub(super) fn string(&mut self, attr: Attr, at: &At) -> Result<Option<String>, ParseError> {
        match self.attrs[attr as usize].take() {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(at.invalid(
                attr.name(),
                format!("must be a string, found {}", kind(&other)),
            )),
        }
    }

    /// Takes a required string attribute.
    pub(super) fn required(&mut self, attr: Attr, at: &At) -> Result<String, ParseError> {
        self.string(attr, at)?.ok_or_else(|| at.missing(attr))
    }

    /// Takes an optional RFC 3339 time attribute.
    pub(super) fn time(&mut self, attr: Attr, at: &At) -> Result<Option<Timestamp>, ParseError> {
        self.string(attr, at)?
            .map(|text| {
                Timestamp::parse(&text)
                    .map_err(|err| at.invalid(attr.name(), format!("{text:?} {err}")))
            })
            .transpose()
    }

    /// `data`, raw; whether it was present at all (a `null` data counts as absent).
    pub(super) fn take_data(&mut self) -> (Option<RawData>, bool) {
        (self.data.take(), self.has_data)
    }

    /// `data`, when it was read straight into its type's payload.
    pub(super) fn take_decoded(&mut self) -> Option<DecodedData> {
        self.decoded.take()
    }

    /// The event's type as read so far, when exactly one of the schemas' type attributes
    /// (`eventType`, `type`) came, as a string.
    fn type_so_far(&self) -> Option<&str> {
        let text = |attr: Attr| match &self.attrs[attr as usize] {
            Some(Value::String(text)) => Some(text.as_str()),
            _ => None,
        };
        match (text(Attr::EventType), text(Attr::Type)) {
            (Some(event_type), None) | (None, Some(event_type)) => Some(event_type),
            _ => None,
        }
    }

    /// The properties the detected schema does not define, in the order of `Attr::ALL` and
    /// then as they came.
    pub(super) fn into_extensions(self) -> Map<String, Value> {
        let mut extensions = Map::new();
        for (attr, value) in Attr::ALL.into_iter().zip(self.attrs) {
            if let Some(value) = value {
                extensions.insert(attr.name().to_owned(), value);
            }
        }
        extensions.extend(self.extensions);
        extensions
    }
}

/// `application/cloudevents+json` and `application/cloudevents-batch+json`, any parameters.
pub(super) fn is_cloud_events_content_type(content_type: &str) -> bool {
    content_type
        .trim_start()
        .get(..23)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("application/cloudevents"))
}

/// A JSON value's kind, for "must be a string, found a number".
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A top-level key: a known attribute, `data`, or anything else.
enum Key {
    Attr(Attr),
    Data,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(match name {
                    "data" => Key::Data,
                    _ => {
                        Attr::from_name(name).map_or_else(|| Key::Other(name.to_owned()), Key::Attr)
                    }
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// Reads one event; see [`read_body`] for `decode_data`.
#[derive(Clone, Copy)]
struct WireSeed {
    decode_data: bool,
}

impl<'de> DeserializeSeed<'de> for WireSeed {
    type Value = WireEvent;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<WireEvent, D::Error> {
        deserializer.deserialize_any(WireVisitor {
            decode_data: self.decode_data,
        })
    }
}

struct WireVisitor {
    decode_data: bool,
}

impl WireVisitor {
    fn not_an_object<E>() -> Result<WireEvent, E> {
        Ok(WireEvent {
            not_an_object: true,
            ..WireEvent::default()
        })
    }
}

impl<'de> Visitor<'de> for WireVisitor {
    type Value = WireEvent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireEvent, A::Error> {
        let mut event = WireEvent::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Attr(attr) => event.attrs[attr as usize] = Some(map.next_value()?),
                Key::Data => {
                    event.has_data = true;
                    let event_type = if self.decode_data {
                        event.type_so_far().map(str::to_owned)
                    } else {
                        None
                    };
                    match event_type {
                        Some(event_type) => {
                            let data = map.next_value_seed(DataSeed {
                                event_type: &event_type,
                            })?;
                            event.data = None;
                            event.decoded = Some(DecodedData { event_type, data });
                        }
                        None => {
                            event.data = map.next_value()?;
                            event.decoded = None;
                        }
                    }
                }
                Key::Other(name) => {
                    let value = map.next_value()?;
                    event.extensions.insert(name, value);
                }
            }
        }
        Ok(event)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireEvent, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Self::not_an_object()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<WireEvent, E> {
        Self::not_an_object()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<WireEvent, E> {
        Self::not_an_object()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<WireEvent, E> {
        Self::not_an_object()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<WireEvent, E> {
        Self::not_an_object()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<WireEvent, E> {
        Self::not_an_object()
    }
    fn visit_unit<E: de::Error>(self) -> Result<WireEvent, E> {
        Self::not_an_object()
    }
}
