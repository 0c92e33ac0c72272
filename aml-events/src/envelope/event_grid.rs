//! The Event Grid event schema: what it requires of an event and how an event is written in it.
//!
//! See <https://learn.microsoft.com/azure/event-grid/event-schema>: `id`, `eventType`,
//! `subject` and `eventTime` are required strings; `topic`, `data`, `dataVersion` and
//! `metadataVersion` are optional.

use serde::{Serialize, Serializer, ser::SerializeMap};

use super::{
    event::{Event, Schema},
    wire::{At, Attr, WireEvent},
};
use crate::error::ParseError;

pub(super) fn from_wire(mut wire: WireEvent, index: usize) -> Result<Event, ParseError> {
    let mut at = At {
        index,
        id: None,
        schema: Schema::EventGrid,
    };
    let id = wire.required(Attr::Id, &at)?;
    at.id = Some(id.clone());
    let event_type = wire.required(Attr::EventType, &at)?;
    let subject = wire.required(Attr::Subject, &at)?;
    let time = wire
        .time(Attr::EventTime, &at)?
        .ok_or_else(|| at.missing(Attr::EventTime))?;
    let source = wire.string(Attr::Topic, &at)?;
    let data_version = wire.string(Attr::DataVersion, &at)?;
    let metadata_version = wire.string(Attr::MetadataVersion, &at)?;
    let (data, _) = wire.take_data();
    Ok(Event {
        schema: Schema::EventGrid,
        id,
        event_type,
        source,
        subject: Some(subject),
        time: Some(time),
        data,
        data_base64: None,
        data_content_type: None,
        data_schema: None,
        data_version,
        metadata_version,
        extensions: wire.into_extensions(),
    })
}

pub(super) fn serialize<T: Serialize, S: Serializer>(
    event: &Event<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("id", &event.id)?;
    if let Some(topic) = &event.source {
        map.serialize_entry("topic", topic)?;
    }
    map.serialize_entry("subject", event.subject.as_deref().unwrap_or_default())?;
    map.serialize_entry("eventType", &event.event_type)?;
    if let Some(time) = &event.time {
        map.serialize_entry("eventTime", time)?;
    }
    if let Some(data) = &event.data {
        map.serialize_entry("data", data)?;
    }
    if let Some(version) = &event.data_version {
        map.serialize_entry("dataVersion", version)?;
    }
    if let Some(version) = &event.metadata_version {
        map.serialize_entry("metadataVersion", version)?;
    }
    for (name, value) in &event.extensions {
        map.serialize_entry(name, value)?;
    }
    map.end()
}
