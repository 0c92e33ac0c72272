//! `aml-handlers inspect`: shows how a delivery body is read, one JSON line per event, so a
//! user can check a payload (or a dead-lettered event) before any function runs on it.

use aml_events::{AmlEvent, Event, Function, ParseError, Schema, Timestamp, envelope};
use serde::Serialize;
use serde_json::Value;

/// One event as `inspect` prints it (SPEC §6.4).
#[derive(Debug, Serialize)]
pub struct EventSummary<'a> {
    /// `eventgrid` or `cloudevents`.
    pub schema: Schema,
    /// The event id.
    pub id: &'a str,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: &'a str,
    /// Event Grid `topic` or CloudEvents `source`.
    pub source: Option<&'a str>,
    /// The subject.
    pub subject: Option<&'a str>,
    /// The event time, RFC 3339.
    pub time: Option<Timestamp>,
    /// The function that would handle it.
    pub function: Option<Function>,
    /// The canonical fields for Azure ML and system events, the event's own data otherwise.
    pub data: SummaryData,
    /// CloudEvents `data_base64`, when the event carried binary data.
    #[serde(rename = "dataBase64", skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<&'a str>,
}

/// The `data` of a summary line.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SummaryData {
    /// A typed payload, under its canonical keys (re-read so that tags and properties kept
    /// as text print on one line).
    Typed(Value),
    /// The data of a type that is not ours (or null), re-read so that it prints on one line.
    Raw(Option<Value>),
}

impl<'a> EventSummary<'a> {
    /// Summarises one event, decoding its data; fails when the data does not fit its type.
    pub fn new(event: &'a Event) -> Result<Self, ParseError> {
        let data = match event.decode()? {
            AmlEvent::Unknown { .. } => SummaryData::Raw(
                // The reader already checked that the raw text is JSON.
                event
                    .raw_data()
                    .and_then(|raw| serde_json::from_str(raw).ok()),
            ),
            typed => SummaryData::Typed(serde_json::to_value(&typed).unwrap_or(Value::Null)),
        };
        Ok(EventSummary {
            schema: event.schema,
            id: &event.id,
            event_type: &event.event_type,
            source: event.source.as_deref(),
            subject: event.subject.as_deref(),
            time: event.time,
            function: event.function(),
            data,
            data_base64: event.data_base64.as_deref(),
        })
    }
}

/// Reads a delivery body and renders one JSON line per event, or the first problem found.
/// Nothing is rendered unless every event reads.
pub fn render(content_type: Option<&str>, body: &[u8]) -> Result<String, ParseError> {
    let events = envelope::parse(content_type, body)?;
    let mut out = String::new();
    for event in &events {
        let summary = EventSummary::new(event)?;
        let line = serde_json::to_string(&summary)
            .expect("a summary has string keys and finite numbers, so it always serializes");
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}
