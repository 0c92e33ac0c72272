//! `aml-handlers inspect`: shows how a delivery body is read, one JSON line per event, so a
//! user can check a payload (or a dead-lettered event) before any function runs on it.

use aml_events::{
    AmlEvent, Event, Function, ParseError, Schema, Timestamp,
    envelope::{self, RawData},
    events::MonitorBreach,
};
use serde::Serialize;

/// One event as `inspect` prints it (docs/events.md).
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
    pub data: SummaryData<'a>,
    /// CloudEvents `data_base64`, when the event carried binary data.
    #[serde(rename = "dataBase64", skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<&'a str>,
    /// A model monitor's breach (docs/actions.md): the signal and its violations, read from the
    /// tag of a failed `RunStatusChanged`; `null` for every other event.
    #[serde(rename = "monitorBreach")]
    pub monitor_breach: Option<MonitorBreach>,
}

/// The `data` of a summary line. Neither kind is parsed again for printing: tags, properties
/// and foreign data print as they arrived (numbers as written, however deep), only put on one
/// line by [`render`]. Parsing them into a `serde_json::Value` lost digits (`1.10` became
/// `1.1`) and printed `null` for data nested deeper than serde_json reads (docs/events.md).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SummaryData<'a> {
    /// A typed payload, under its canonical keys.
    Typed(AmlEvent),
    /// The data of a type that is not ours, as it arrived, or null when it had none.
    Raw(Option<&'a RawData>),
}

impl<'a> EventSummary<'a> {
    /// Summarises one event, decoding its data; fails when the data does not fit its type.
    pub fn new(event: &'a Event) -> Result<Self, ParseError> {
        let data = match event.decode()? {
            AmlEvent::Unknown { .. } => SummaryData::Raw(event.data.as_ref()),
            typed => SummaryData::Typed(typed),
        };
        let monitor_breach = match &data {
            SummaryData::Typed(AmlEvent::RunStatusChanged(run)) => run.monitor_breach(),
            _ => None,
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
            monitor_breach,
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
        push_on_one_line(&mut out, &line);
        out.push('\n');
    }
    Ok(out)
}

/// Appends `json` without the whitespace between its tokens: raw data keeps the line breaks
/// and indentation it arrived with. Inside strings a line break is always escaped, so only
/// whitespace outside them goes.
fn push_on_one_line(out: &mut String, json: &str) {
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, ' ' | '\n' | '\r' | '\t') {
            continue;
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_json_on_one_line_and_leaves_strings_alone() {
        let mut out = String::new();
        push_on_one_line(
            &mut out,
            "{\n  \"a b\": [1.10, \"c \\\" d\\\\\"],\r\n\t\"e\": \"\\\\\" }",
        );
        assert_eq!(out, r#"{"a b":[1.10,"c \" d\\"],"e":"\\"}"#);
    }
}
