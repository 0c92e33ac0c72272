//! CloudEvents 1.0 in its JSON format: what it requires of an event and how an event is written.
//!
//! See <https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md> (`specversion`,
//! `id`, `source`, `type` required and non-empty) and
//! <https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md>
//! (`data` or `data_base64`, never both; a `null` attribute is an absent one).

use serde::{Serialize, Serializer, ser::SerializeMap};

use super::{
    event::{Event, Schema},
    wire::{At, Attr, WireEvent},
};
use crate::error::ParseError;

/// The only CloudEvents version this reader speaks.
pub const VERSION: &str = "1.0";

pub(super) fn from_wire(mut wire: WireEvent, index: usize) -> Result<Event, ParseError> {
    let mut at = At {
        index,
        id: None,
        schema: Schema::CloudEvents,
    };
    let id = non_empty(&mut wire, Attr::Id, &at)?;
    at.id = Some(id.clone());
    let spec_version = wire.required(Attr::SpecVersion, &at)?;
    if spec_version != VERSION {
        return Err(at.invalid(
            Attr::SpecVersion.name(),
            format!("must be {VERSION:?}, found {spec_version:?}"),
        ));
    }
    let source = non_empty(&mut wire, Attr::Source, &at)?;
    let event_type = non_empty(&mut wire, Attr::Type, &at)?;
    let subject = wire.string(Attr::Subject, &at)?;
    let time = wire.time(Attr::Time, &at)?;
    let data_content_type = wire.string(Attr::DataContentType, &at)?;
    let data_schema = wire.string(Attr::DataSchema, &at)?;
    let data_base64 = wire.string(Attr::DataBase64, &at)?;
    let (data, has_data) = wire.take_data();
    if has_data && data_base64.is_some() {
        return Err(at.invalid(
            Attr::DataBase64.name(),
            "must not appear together with `data`".to_owned(),
        ));
    }
    Ok(Event {
        schema: Schema::CloudEvents,
        id,
        event_type,
        source: Some(source),
        subject,
        time,
        data,
        data_base64,
        data_content_type,
        data_schema,
        data_version: None,
        metadata_version: None,
        extensions: wire.into_extensions(),
    })
}

fn non_empty(wire: &mut WireEvent, attr: Attr, at: &At) -> Result<String, ParseError> {
    let value = wire.required(attr, at)?;
    if value.is_empty() {
        return Err(at.invalid(attr.name(), "must not be empty".to_owned()));
    }
    Ok(value)
}

pub(super) fn serialize<T: Serialize, S: Serializer>(
    event: &Event<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("specversion", VERSION)?;
    map.serialize_entry("id", &event.id)?;
    map.serialize_entry("source", event.source.as_deref().unwrap_or_default())?;
    map.serialize_entry("type", &event.event_type)?;
    let optional = [
        ("subject", &event.subject),
        ("datacontenttype", &event.data_content_type),
        ("dataschema", &event.data_schema),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            map.serialize_entry(name, value)?;
        }
    }
    if let Some(time) = &event.time {
        map.serialize_entry("time", time)?;
    }
    if let Some(data) = &event.data {
        map.serialize_entry("data", data)?;
    } else if let Some(data_base64) = &event.data_base64 {
        map.serialize_entry("data_base64", data_base64)?;
    }
    for (name, value) in &event.extensions {
        map.serialize_entry(name, value)?;
    }
    map.end()
}
