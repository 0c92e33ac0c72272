//! [`Event`]: one event whichever schema it came in, its data raw ([`RawData`]) or typed
//! ([`Decoded`]), and [`Schema`], the schema it is written back in. The reader (`wire`) and the
//! two schemas build it; the serializer in the parent module writes it.

use serde::{Deserialize, Serialize};
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

/// An event's data read as its type's payload ([`Event::decode`]), or why it could not be.
pub type Decoded = Result<AmlEvent, ParseError>;

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
