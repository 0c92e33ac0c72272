//! The Azure Functions custom handler protocol: the host POSTs each invocation to
//! `/{FunctionName}` with `{"Data": {"<binding>": <event>}, "Metadata": {...}}` and expects
//! `{"Outputs": {}, "Logs": [...], "ReturnValue": ...}` back.
//!
//! See <https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers>. What the
//! host really sends differs from those docs (docs/answers.md): the Event Grid event in `Data` arrives
//! double-encoded (a JSON string holding a JSON string holding the event), so
//! [`event_body`] unwraps strings until it reaches an object or array; `Metadata` is lossy and
//! is not read.

use std::{borrow::Cow, collections::BTreeMap};

use aml_events::{Function, ParseError, Timestamp, envelope};
use serde::{
    Deserialize, Serialize,
    de::{self, IgnoredAny, Visitor},
};
use serde_json::{Value, json, value::RawValue};
use tracing::{Instrument, debug, debug_span};

use super::{Answer, Context, HostError, one_pass, respond};
use crate::{
    AppContext,
    functions::{self, HandlerError},
    outcome::Outcome,
    traces::parent::Incoming,
};

/// The binding name `function-definitions/*/function.json` gives the trigger input.
pub const BINDING_NAME: &str = "event";

/// Header carrying the host's id for one invocation (lowercase, as HTTP/2 and most
/// frameworks' header maps want it).
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";
/// Header carrying the host's version.
pub const HOST_VERSION_HEADER: &str = "x-azure-functions-hostversion";

/// The invocation body; only `Data` is read.
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a, V: Deserialize<'de>"))]
struct Invocation<'a, V> {
    #[serde(rename = "Data", alias = "data", borrow, default = "BTreeMap::new")]
    data: BTreeMap<Cow<'a, str>, V>,
}

/// A `Data` entry as first read. A string (what the host sends) is decoded by the same pass
/// that finds it; anything else (the documented object form) is read again as raw JSON.
enum Input<'a> {
    Text(Cow<'a, str>),
    Structured,
}

impl<'de> Deserialize<'de> for Input<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InputVisitor;
        impl<'de> Visitor<'de> for InputVisitor {
            type Value = Input<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an event, as JSON or as a JSON string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Input<'de>, E> {
                Ok(Input::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Input<'de>, E> {
                Ok(Input::Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Input<'de>, E> {
                Ok(Input::Text(Cow::Owned(text)))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Input<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Input::Structured)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Input<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Input::Structured)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Input<'de>, E> {
                Ok(Input::Structured)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Input<'de>, E> {
                Ok(Input::Structured)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Input<'de>, E> {
                Ok(Input::Structured)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Input<'de>, E> {
                Ok(Input::Structured)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Input<'de>, E> {
                Ok(Input::Structured)
            }
        }
        deserializer.deserialize_any(InputVisitor)
    }
}

/// Picks the trigger input out of an invocation body and unwraps it to the event JSON.
///
/// Returns the binding name (for messages) and the delivery body: one event object or an
/// array of them. The host's usual shape is read in one pass (`one_pass`); anything else
/// by [`event_body_in_general`], which gives the same answer for every input.
pub fn event_body(invocation: &[u8]) -> Result<(String, Cow<'_, str>), HostError> {
    match one_pass::read(invocation) {
        Some((binding, event)) => located(binding.to_owned(), unwrap_strings(Cow::Owned(event), 2)),
        None => event_body_in_general(invocation),
    }
}

/// [`event_body`] for any invocation, whatever its shape or encoding, with serde_json; it
/// words every error. Public for the tests that hold `one_pass` to the same answers.
pub fn event_body_in_general(invocation: &[u8]) -> Result<(String, Cow<'_, str>), HostError> {
    let not_an_invocation = |err: serde_json::Error| HostError::BadRequest {
        message: format!(
            "invocation body is not a Functions host invocation ({{\"Data\": {{...}}, \"Metadata\": {{...}}}}): {err}"
        ),
        field: None,
    };
    let mut parsed: Invocation<'_, Input<'_>> =
        serde_json::from_slice(invocation).map_err(not_an_invocation)?;
    let binding = trigger_input(parsed.data.keys().map(|name| name.as_ref()))?;
    let body = match parsed.data.remove(binding.as_str()) {
        Some(Input::Text(text)) => unwrap_strings(text, 1),
        // The object form, read again for its raw text: no string to decode.
        _ => {
            let raw: Invocation<'_, &RawValue> =
                serde_json::from_slice(invocation).map_err(not_an_invocation)?;
            Ok(Cow::Borrowed(
                raw.data
                    .get(binding.as_str())
                    .map_or("null", |raw| raw.get()),
            ))
        }
    };
    located(binding, body)
}

/// Names the binding in a decoding problem.
fn located(
    binding: String,
    body: Result<Cow<'_, str>, String>,
) -> Result<(String, Cow<'_, str>), HostError> {
    match body {
        Ok(body) => Ok((binding, body)),
        Err(problem) => Err(HostError::BadRequest {
            message: format!("Data.{binding} {problem}"),
            field: Some(format!("Data.{binding}")),
        }),
    }
}

/// The name of the trigger input: `event` (the name `function.json` gives it) or the only
/// entry of `Data`, whatever its name.
fn trigger_input<'a>(names: impl Iterator<Item = &'a str> + Clone) -> Result<String, HostError> {
    if names.clone().any(|name| name == BINDING_NAME) {
        return Ok(BINDING_NAME.to_owned());
    }
    let all: Vec<&str> = names.collect();
    match all.as_slice() {
        [only] => Ok((*only).to_owned()),
        [] => Err(HostError::BadRequest {
            message: "invocation has no trigger input: Data is missing or empty".into(),
            field: Some("Data".into()),
        }),
        several => Err(HostError::BadRequest {
            message: format!(
                "Data has several inputs ({}) and none is named {BINDING_NAME:?}",
                several.join(", ")
            ),
            field: Some("Data".into()),
        }),
    }
}

/// Decodes while the text is itself a JSON string: once-, twice- or thrice-encoded events all
/// come out as the event's own JSON text. `decoded` encodings are already off.
fn unwrap_strings(text: Cow<'_, str>, decoded: usize) -> Result<Cow<'_, str>, String> {
    const MAX_ENCODINGS: usize = 3;
    let mut text = text;
    for _ in decoded..MAX_ENCODINGS {
        if !text.trim_start().starts_with('"') {
            return Ok(text);
        }
        text = Cow::Owned(
            serde_json::from_str::<String>(&text)
                .map_err(|err| format!("is a string that is not JSON text ({err})"))?,
        );
    }
    if text.trim_start().starts_with('"') {
        return Err(format!(
            "is encoded as a JSON string more than {MAX_ENCODINGS} times"
        ));
    }
    Ok(text)
}

/// Largest host invocation accepted. Event Grid caps an event at 1 MiB; the host's string
/// encoding (twice) can more than double it.
pub const MAX_INVOCATION_BYTES: usize = 4 * 1024 * 1024;

/// `POST /{name}`: one host invocation, whose body the adapter read (within
/// [`MAX_INVOCATION_BYTES`]). Every outcome, failures included, is an answer: a failure is
/// logged with the host's invocation id, since the host drops `Logs` of a failed invocation
/// and stderr is all the operator gets. `incoming` carries the invocation id and the trace
/// context headers, for the events' spans when traces are on.
pub async fn invoke(name: &str, incoming: &Incoming<'_>, body: &[u8], ctx: &AppContext) -> Answer {
    let invocation_id = incoming.invocation_id.unwrap_or_default();
    // A span per invocation costs a few percent of an invocation's CPU at any level it is
    // enabled at, so it is a debug one: a failure names the invocation itself, and every line
    // about an event names the event.
    let span = debug_span!("invocation", invocation_id = %invocation_id, function = %name);
    let result = handle(name, incoming, body, ctx).instrument(span).await;
    respond(result, failure_context(name, invocation_id))
}

/// How a failed invocation is named in its log line.
pub fn failure_context<'a>(name: &'a str, invocation_id: &'a str) -> Context<'a> {
    Context {
        invocation_id: Some(invocation_id),
        function: Some(name),
    }
}

async fn handle(
    name: &str,
    incoming: &Incoming<'_>,
    body: &[u8],
    ctx: &AppContext,
) -> Result<Answer, HostError> {
    let function = Function::from_name(name).ok_or_else(|| HostError::UnknownFunction {
        name: name.to_owned(),
    })?;
    let _delivery = ctx.metrics.delivery(Some(function));
    let unreadable = |err| {
        ctx.metrics.unreadable(Some(function));
        err
    };
    let (binding, event_json) = event_body(body).map_err(unreadable)?;
    let events = envelope::parse_decoded_text(None, &event_json)
        .map_err(|err| unreadable(in_binding(&binding, &err)))?;
    let outcomes = match functions::handle_all(events, Some(function), incoming, ctx).await {
        Ok(outcomes) => outcomes,
        Err(HandlerError::BadEvent(err)) => return Err(in_binding(&binding, &err)),
        Err(err) => return Err(err.into()),
    };
    for outcome in &outcomes {
        // The host records `Logs` of a successful invocation in its own log stream, so stderr
        // only repeats it at debug; failures are logged at warn or error.
        debug!(event_id = %outcome.event_id, event_type = %outcome.event_type, actions = %outcome.summary(), "event handled");
    }
    let return_value = match outcomes.as_slice() {
        [one] => ReturnValue::One(one),
        all => ReturnValue::Many(all),
    };
    Ok(Answer::ok(&HostAnswer {
        outputs: Outputs {},
        logs: LogLines(&outcomes),
        return_value,
    }))
}

/// An invocation as the Functions host sends it today: the event (or batch) indented and
/// encoded as a JSON string twice in `Data.event`, and a `Metadata.sys` block. [`event_body`]
/// reads it back.
pub fn invocation(event: &impl Serialize, function: Function) -> Value {
    let indented = serde_json::to_string_pretty(event).unwrap_or_default();
    let data = serde_json::to_string(&indented).unwrap_or_default();
    json!({
        "Data": { BINDING_NAME: data },
        "Metadata": { "sys": {
            "MethodName": function.name(),
            "UtcNow": Timestamp::now(),
            "RandomGuid": uuid::Uuid::new_v4().to_string(),
        } }
    })
}

/// The answer to the host: `{"Outputs": {}, "Logs": [...], "ReturnValue": ...}`.
#[derive(Serialize)]
struct HostAnswer<'a> {
    #[serde(rename = "Outputs")]
    outputs: Outputs,
    #[serde(rename = "Logs")]
    logs: LogLines<'a>,
    #[serde(rename = "ReturnValue")]
    return_value: ReturnValue<'a>,
}

/// Every outcome's log lines, one JSON string each.
struct LogLines<'a>(&'a [Outcome]);

impl Serialize for LogLines<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().flat_map(Outcome::log_lines))
    }
}

/// No output bindings: `{}`.
#[derive(Serialize)]
struct Outputs {}

/// One outcome for one event (the usual case), a list for a batch.
#[derive(Serialize)]
#[serde(untagged)]
enum ReturnValue<'a> {
    One(&'a Outcome),
    Many(&'a [Outcome]),
}

/// A bad event, located inside the invocation: `Data.event.data.modelVersion`.
fn in_binding(binding: &str, err: &ParseError) -> HostError {
    HostError::BadRequest {
        field: Some(match err.field() {
            Some(field) => format!("Data.{binding}.{field}"),
            None => format!("Data.{binding}"),
        }),
        message: format!("Data.{binding}: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_the_invocation_it_writes() {
        let event = json!({"id": "1", "eventType": "t", "subject": "s", "data": {"a": "x\"y"}});
        let written = invocation(&event, Function::RunCompleted).to_string();
        let (binding, body) = event_body(written.as_bytes()).unwrap();
        assert_eq!(binding, BINDING_NAME);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), event);
        let second = event_body_in_general(written.as_bytes()).unwrap().1;
        assert_eq!(serde_json::from_str::<Value>(&second).unwrap(), event);
    }

    const EVENT: &str =
        r#"{"id":"1","eventType":"t","subject":"s","eventTime":"2024-03-01T12:00:00Z"}"#;

    fn encode(text: &str) -> String {
        serde_json::to_string(text).unwrap()
    }

    #[test]
    fn unwraps_zero_one_or_two_string_encodings() {
        let once = encode(EVENT);
        let twice = encode(&once);
        for data in [EVENT.to_owned(), once, twice] {
            let invocation = format!(r#"{{"Data":{{"event":{data}}},"Metadata":{{"sys":{{}}}}}}"#);
            let (binding, body) = event_body(invocation.as_bytes()).unwrap();
            assert_eq!(binding, "event");
            assert_eq!(body, EVENT, "{data}");
        }
    }

    #[test]
    fn takes_the_one_input_whatever_its_name() {
        let invocation = format!(r#"{{"Data":{{"myEvent":{}}}}}"#, encode(&encode(EVENT)));
        let (binding, body) = event_body(invocation.as_bytes()).unwrap();
        assert_eq!((binding.as_str(), body.as_ref()), ("myEvent", EVENT));
    }

    #[test]
    fn refuses_invocations_without_a_usable_input() {
        let cases = [
            ("not json", None),
            (r#"{"Metadata":{}}"#, Some("Data")),
            (r#"{"Data":{}}"#, Some("Data")),
            (r#"{"Data":{"a":{},"b":{}}}"#, Some("Data")),
            (
                r#"{"Data":{"event":"\"\\\"\\\\\\\"\\\\\\\"\\\"\""}}"#,
                Some("Data.event"),
            ),
        ];
        for (invocation, field) in cases {
            match event_body(invocation.as_bytes()) {
                Err(HostError::BadRequest {
                    field: got,
                    message,
                }) => {
                    assert_eq!(got.as_deref(), field, "{invocation}: {message}");
                }
                other => panic!("{invocation}: {other:?}"),
            }
        }
    }
}
