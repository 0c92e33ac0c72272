//! Why a delivery body could not be read, phrased so an operator can find the fault: every
//! variant names the event (by position and, once known, id) and the attribute or JSON path.

/// The shapes [`crate::envelope::parse`] accepts, named in the error users hit most.
pub const ACCEPTED_SHAPES: &str = "expected an Event Grid event or an array of them \
(id, eventType, subject, eventTime), or a CloudEvents 1.0 JSON event or batch \
(specversion, id, source, type)";

/// A delivery body, or an event inside it, that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON, or not JSON of the right shape (position given by serde_json).
    #[error("body is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),

    /// The body is JSON but neither schema's event: a scalar, or an object with no telling
    /// attribute.
    #[error("event {index}: not an Event Grid event nor a CloudEvent{}; {ACCEPTED_SHAPES}", ContentType(content_type.as_deref()))]
    UnrecognizedEnvelope {
        /// Position of the event in the body (0 for a bare object).
        index: usize,
        /// The content type the body arrived with, if any.
        content_type: Option<String>,
    },

    /// A required attribute of the detected schema is absent (or `null`).
    #[error("event {index}{id}: missing required {schema} attribute `{attribute}`", id = IdSuffix(id.as_deref()))]
    MissingAttribute {
        /// Position of the event in the body.
        index: usize,
        /// The event's id, when it had one.
        id: Option<String>,
        /// "Event Grid" or "CloudEvents".
        schema: &'static str,
        /// The attribute's wire name.
        attribute: &'static str,
    },

    /// An attribute is present but its value is not acceptable.
    #[error("event {index}{id}: attribute `{attribute}` {problem}", id = IdSuffix(id.as_deref()))]
    InvalidAttribute {
        /// Position of the event in the body.
        index: usize,
        /// The event's id, when it had one.
        id: Option<String>,
        /// The attribute's wire name.
        attribute: String,
        /// What is wrong with it.
        problem: String,
    },

    /// The event's `data` does not fit the payload of its type.
    #[error("event {id:?}: `{field}` does not match {event_type}: {message}")]
    Data {
        /// The event's id.
        id: String,
        /// The payload it was read as.
        event_type: &'static str,
        /// `data` or the JSON path inside it (`data.modelVersion`).
        field: String,
        /// serde_json's description of the mismatch.
        message: String,
    },
}

impl ParseError {
    /// The JSON path or attribute at fault, when there is one; hosts put it in error bodies.
    pub fn field(&self) -> Option<String> {
        match self {
            ParseError::Json(_) | ParseError::UnrecognizedEnvelope { .. } => None,
            ParseError::MissingAttribute { attribute, .. } => Some((*attribute).to_owned()),
            ParseError::InvalidAttribute { attribute, .. } => Some(attribute.clone()),
            ParseError::Data { field, .. } => Some(field.clone()),
        }
    }
}

/// Renders ` (content type "...")` when there was one.
struct ContentType<'a>(Option<&'a str>);

impl std::fmt::Display for ContentType<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(content_type) => write!(f, " (content type {content_type:?})"),
            None => Ok(()),
        }
    }
}

/// Renders ` (id "...")` after an event's position when the id is known.
struct IdSuffix<'a>(Option<&'a str>);

impl std::fmt::Display for IdSuffix<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (id {id:?})"),
            None => Ok(()),
        }
    }
}
