//! PagerDuty: the notice as an Events API v2 alert event (`trigger`), posted to
//! `https://events.pagerduty.com/v2/enqueue` (or the EU host); and the `resolve` that closes
//! it again (`notify --test` sends both, so a test leaves no open incident).
//!
//! ```text
//! {"routing_key": "<key>", "event_action": "trigger", "dedup_key": "<alert key>",
//!  "payload": {"summary": "<summary>", "source": "<workspace resource id>", "severity": "error",
//!              "timestamp": "<event time>", "component": "<function>", "group": "<workspace name>",
//!              "class": "<event type>", "custom_details": {"<fact>": "<value>", ..., "eventId", "subject"}},
//!  "links": [{"href": "<link>", "text": "Open in Azure ML studio"}],
//!  "client": "aml-handlers"}
//! ```
//!
//! The resolve is `{"routing_key", "event_action": "resolve", "dedup_key"}`, the same key and
//! routing key as the trigger (PagerDuty drops a resolve sent with another routing key).
//!
//! `dedup_key` is the notice's alert key, so redeliveries and repeats about the same run, model
//! or endpoint collapse into the alert already open. `source` is required: the workspace's
//! resource id, or `aml-handlers` when the event came from no workspace. `timestamp`,
//! `component`, `group`, `class`, `subject` and `links` are left out when there is nothing to
//! put in them; `timestamp` is RFC 3339 in UTC with milliseconds. Nothing is escaped: PagerDuty
//! shows these texts as text. Whether a notice is sent here at all ([`Notice::alert`]) is the sender's
//! decision, not this module's.
//!
//! Limits, each applied with [`limit`]: `summary` 1,024 characters and `dedup_key` 255 (the
//! documented ones); the whole event 512 KB, which this module keeps by sending at most 50
//! facts, names cut to 256 characters and every other text to 1,024.
//!
//! See:
//! - Send an Alert Event (fields, required ones, limits):
//!   <https://developer.pagerduty.com/docs/events-api-v2/trigger-events/>
//!   (its source: <https://github.com/PagerDuty/developer-docs/blob/main/docs/events-API-v2/02-Trigger-Events.md>)
//! - the 512 KB size limit and the PD-CEF fields:
//!   <https://developer.pagerduty.com/docs/events-api-v2/overview/>
//!   (<https://github.com/PagerDuty/developer-docs/blob/main/docs/events-API-v2/01-Overview.md>)

use serde_json::{Map, Value, json};

use super::Notice;
use super::cut::{limit, non_blank};
use super::notice::BLANK;

/// The link's text.
pub use super::buttons::OPEN_LABEL;
/// `client`: who sent the event, shown on the alert.
pub const CLIENT: &str = "aml-handlers";
/// `source` when the notice names no workspace.
pub const DEFAULT_SOURCE: &str = "aml-handlers";

/// `payload.summary`.
pub const MAX_SUMMARY: usize = 1024;
/// `dedup_key`.
pub const MAX_DEDUP_KEY: usize = 255;
/// Every event, serialized.
pub const MAX_BYTES: usize = 512 * 1024;

/// How many facts go into `custom_details`; with the two limits below, at most about 385 KB
/// even if every character were escaped to six bytes.
const MAX_FACTS: usize = 50;
const MAX_DETAIL_NAME: usize = 256;
/// Fact values and the other texts with no documented limit (`source`, `component`, ...).
const MAX_TEXT: usize = 1024;

/// The Events API v2 trigger for `notice`, sent with `routing_key` (the integration key).
pub fn render(notice: &Notice, routing_key: &str) -> Value {
    let mut payload = Map::new();
    let summary = non_blank(&notice.summary, notice.headline());
    payload.insert("summary".into(), json!(limit(summary, MAX_SUMMARY)));
    let source = non_blank(notice.workspace.as_deref().unwrap_or(""), DEFAULT_SOURCE);
    payload.insert("source".into(), json!(limit(source.trim(), MAX_TEXT)));
    payload.insert("severity".into(), json!(notice.severity.as_str()));
    if let Some(time) = notice.time {
        payload.insert("timestamp".into(), json!(time.to_rfc3339_millis()));
    }
    insert_text(&mut payload, "component", &notice.function);
    if let Some(group) = notice.workspace_name() {
        insert_text(&mut payload, "group", &group);
    }
    insert_text(&mut payload, "class", &notice.event_type);
    payload.insert("custom_details".into(), Value::Object(details(notice)));

    let mut body = Map::new();
    body.insert("routing_key".into(), json!(routing_key));
    body.insert("event_action".into(), json!("trigger"));
    body.insert(
        "dedup_key".into(),
        json!(limit(&notice.alert_key, MAX_DEDUP_KEY)),
    );
    body.insert("payload".into(), Value::Object(payload));
    if let Some(link) = notice.web_link() {
        body.insert("links".into(), json!([{"href": link, "text": OPEN_LABEL}]));
    }
    body.insert("client".into(), json!(CLIENT));
    Value::Object(body)
}

/// The Events API v2 `resolve` of the alert [`render`] triggered for `notice`: the same
/// routing key and `dedup_key`, no payload. PagerDuty closes the incident that key opened.
/// See <https://developer.pagerduty.com/docs/events-api-v2/resolve-alert/> (its source, with the
/// resolve example and the routing-key rule:
/// <https://github.com/PagerDuty/developer-docs/blob/main/docs/events-API-v2/02-Trigger-Events.md>).
pub fn resolve(notice: &Notice, routing_key: &str) -> Value {
    json!({
        "routing_key": routing_key,
        "event_action": "resolve",
        "dedup_key": limit(&notice.alert_key, MAX_DEDUP_KEY),
    })
}

/// The facts as one object, then `eventId` and `subject`, which win over a fact of that name.
/// A name given twice keeps both values: the second as `<name> (2)`.
fn details(notice: &Notice) -> Map<String, Value> {
    let mut details = Map::new();
    for fact in notice.facts_at_most(MAX_FACTS) {
        let name = limit(non_blank(&fact.name, BLANK), MAX_DETAIL_NAME).into_owned();
        let mut key = name.clone();
        let mut n = 2;
        while details.contains_key(&key) {
            key = format!("{name} ({n})");
            n += 1;
        }
        details.insert(key, json!(limit(&fact.value, MAX_TEXT)));
    }
    details.insert("eventId".into(), json!(limit(&notice.event_id, MAX_TEXT)));
    if let Some(subject) = notice.subject.as_deref() {
        details.insert("subject".into(), json!(limit(subject, MAX_TEXT)));
    }
    details
}

/// Inserts `text` under `key`, cut to [`MAX_TEXT`], unless it is blank.
fn insert_text(map: &mut Map<String, Value>, key: &str, text: &str) {
    if !text.trim().is_empty() {
        map.insert(key.into(), json!(limit(text, MAX_TEXT)));
    }
}
