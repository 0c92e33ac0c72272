//! PagerDuty: the notice as an Events API v2 alert event (`trigger`), posted to
//! `https://events.pagerduty.com/v2/enqueue` (or the EU host); and the `resolve` that closes
//! it again (`notify --test` sends both, so a test leaves no open incident).
//!
//! ```text
//! {"routing_key": "<key>", "event_action": "trigger", "dedup_key": "<alert key>",
//!  "payload": {"summary": "<summary>: <exception line>", "source": "<workspace resource id>",
//!              "severity": "error", "timestamp": "<event time>", "component": "<function>",
//!              "group": "<workspace name>", "class": "<event type>",
//!              "custom_details": {"<fact>": "<value>", ...,
//!                                 "error": "<the error's text, its end>",
//!                                 "violations": {"rows": [{"<column>": "<cell>", ...}, ...], "more": 2},
//!                                 "held": {"count": 37, "since": "<time>"},
//!                                 "linksLeftOut": "<what the links could not be>",
//!                                 "eventId", "subject"}},
//!  "links": [{"href": "<link>", "text": "Open in Azure ML studio"}, {"href", "text": "Open retrain job"}, ...],
//!  "client": "aml-handlers"}
//! ```
//!
//! A page is read on a phone: the summary says what happened and, when there is an error, its
//! exception line (`Run r of experiment e failed: KeyError: 'customer_id'`); the incident's
//! details hold the error's text (its end, where a traceback's exception is), a breach's
//! violations as one object per row keyed by the column names, and how many notices noise
//! control held back. `links` holds every link the product made, as a card's buttons
//! ([`Notice::buttons`]): the main one first.
//!
//! The resolve is `{"routing_key", "event_action": "resolve", "dedup_key"}`, the same key and
//! routing key as the trigger (PagerDuty drops a resolve sent with another routing key).
//!
//! `dedup_key` is the notice's alert key, so redeliveries and repeats about the same run, model
//! or endpoint collapse into the alert already open. `source` is required: the workspace's
//! resource id, or `aml-handlers` when the event came from no workspace. `timestamp`,
//! `component`, `group`, `class`, `error`, `violations`, `held`, `linksLeftOut`, `subject` and
//! `links` are left out when there is nothing to put in them; `timestamp` and `held.since` are
//! RFC 3339 in UTC with milliseconds. Nothing is escaped: PagerDuty shows these texts as text.
//! Whether a notice is sent here at all ([`Notice::alert`]) is the sender's decision, not this
//! module's.
//!
//! Limits, each applied with [`limit`] (or [`limit_end`], keeping an error's end): `summary`
//! 1,024 characters and `dedup_key` 255 (the documented ones), the exception line sharing the
//! summary's room with the notice's own summary; the whole event 512 KB, which this module
//! keeps by bounding every part: at most 25 facts, names cut to 256 characters and values to
//! 1,024 as every other text; the error 4,096; at most 10 violations of 6 columns, names 80 and
//! cells 256; at most 5 links of 2,048. Even with every character escaped to six bytes that is
//! under 460 KB.
//!
//! See:
//! - Send an Alert Event (fields, required ones, limits):
//!   <https://developer.pagerduty.com/docs/events-api-v2/trigger-events/>
//!   (its source: <https://github.com/PagerDuty/developer-docs/blob/main/docs/events-API-v2/02-Trigger-Events.md>)
//! - the 512 KB size limit and the PD-CEF fields:
//!   <https://developer.pagerduty.com/docs/events-api-v2/overview/>
//!   (<https://github.com/PagerDuty/developer-docs/blob/main/docs/events-API-v2/01-Overview.md>)
//! - `links`, an array of `{href, text}`, and `custom_details`, any JSON object: the same pages.

use serde_json::{Map, Value, json};

use super::cut::{limit, limit_end, non_blank};
use super::notice::{BLANK, MAX_NAME};
use super::{Buttons, ErrorText, Notice, Rows};

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

/// How many facts go into `custom_details`; with the two limits below, at most about 190 KB
/// even if every character were escaped to six bytes.
const MAX_FACTS: usize = 25;
const MAX_DETAIL_NAME: usize = 256;
/// Fact values and the other texts with no documented limit (`source`, `component`, ...).
const MAX_TEXT: usize = 1024;
/// The error's text in `custom_details`: its last lines, where a traceback's exception is.
const MAX_ERROR: usize = 4096;
/// The violations in `custom_details`: the worst few, each of at most [`MAX_COLUMNS`] cells of
/// [`MAX_CELL`] characters (columns named in at most [`MAX_NAME`]).
const MAX_ROWS: usize = 10;
const MAX_COLUMNS: usize = 6;
const MAX_CELL: usize = 256;

/// The Events API v2 trigger for `notice`, sent with `routing_key` (the integration key).
pub fn render(notice: &Notice, routing_key: &str) -> Value {
    let mut payload = Map::new();
    payload.insert("summary".into(), json!(summary(notice)));
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
    let buttons = notice.buttons();
    payload.insert(
        "custom_details".into(),
        Value::Object(details(notice, &buttons)),
    );

    let mut body = Map::new();
    body.insert("routing_key".into(), json!(routing_key));
    body.insert("event_action".into(), json!("trigger"));
    body.insert(
        "dedup_key".into(),
        json!(limit(&notice.alert_key, MAX_DEDUP_KEY)),
    );
    body.insert("payload".into(), Value::Object(payload));
    let links: Vec<Value> = (buttons.links.iter())
        .map(|link| json!({"href": link.url, "text": limit(&link.label, MAX_NAME)}))
        .collect();
    if !links.is_empty() {
        body.insert("links".into(), Value::Array(links));
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

/// The summary (the headline when it is blank), then `: ` and the error's exception line
/// when it has one the summary does not already say, within [`MAX_SUMMARY`] characters: each
/// gets at least half, and what one does not need the other may use; a line cut keeps its end.
fn summary(notice: &Notice) -> String {
    let summary = non_blank(&notice.summary, notice.headline()).trim();
    let line = notice.error.as_ref().map_or("", ErrorText::exception_line);
    if line.is_empty() || summary.contains(line) {
        return limit(summary, MAX_SUMMARY).into_owned();
    }
    let room = MAX_SUMMARY - ": ".len();
    let summary_needs = summary.chars().count().min(room / 2);
    let line_room = line.chars().count().min(room - summary_needs);
    format!(
        "{}: {}",
        limit(summary, room - line_room),
        limit_end(line, line_room)
    )
}

/// The facts as one object, then the error, the violations, the held count, what the links
/// could not be, `eventId` and `subject`, which win over a fact of that name. A name given
/// twice keeps both values: the second as `<name> (2)`.
fn details(notice: &Notice, buttons: &Buttons) -> Map<String, Value> {
    let mut details = Map::new();
    for fact in notice.facts_at_most(MAX_FACTS) {
        let name = limit(non_blank(&fact.name, BLANK), MAX_DETAIL_NAME);
        let key = unique_key(&details, &name);
        details.insert(key, json!(limit(&fact.value, MAX_TEXT)));
    }
    if let Some(error) = &notice.error
        && !error.text.trim().is_empty()
    {
        details.insert(
            "error".into(),
            json!(limit_end(error.text.trim(), MAX_ERROR)),
        );
    }
    if let Some(rows) = &notice.rows {
        details.insert("violations".into(), violations(rows));
    }
    if let Some(held) = notice.held {
        let since = held.since.to_rfc3339_millis();
        details.insert("held".into(), json!({"count": held.count, "since": since}));
    }
    if let Some(left_out) = buttons.left_out_text() {
        details.insert("linksLeftOut".into(), json!(left_out));
    }
    details.insert("eventId".into(), json!(limit(&notice.event_id, MAX_TEXT)));
    if let Some(subject) = notice.subject.as_deref() {
        details.insert("subject".into(), json!(limit(subject, MAX_TEXT)));
    }
    details
}

/// `{"rows": [{"<column>": "<cell>", ...}, ...], "more": n}`: the worst [`MAX_ROWS`] rows, each
/// an object keyed by the header (`column 5` for a cell past it or under a blank name), and how
/// many rows are not shown.
fn violations(rows: &Rows) -> Value {
    let (shown, more) = rows.first(MAX_ROWS);
    let shown: Vec<Value> = shown
        .iter()
        .map(|row| {
            let mut object = Map::new();
            for (at, cell) in row.iter().take(MAX_COLUMNS).enumerate() {
                let column = rows
                    .header
                    .get(at)
                    .map(|name| name.trim())
                    .filter(|name| !name.is_empty())
                    .map_or_else(|| format!("column {}", at + 1), str::to_owned);
                let key = unique_key(&object, &limit(&column, MAX_NAME));
                object.insert(key, json!(limit(cell, MAX_CELL)));
            }
            Value::Object(object)
        })
        .collect();
    json!({"rows": shown, "more": more})
}

/// `name`, or `<name> (2)`, `<name> (3)`, ... when `map` already has it.
fn unique_key(map: &Map<String, Value>, name: &str) -> String {
    let mut key = name.to_owned();
    let mut n = 2;
    while map.contains_key(&key) {
        key = format!("{name} ({n})");
        n += 1;
    }
    key
}

/// Inserts `text` under `key`, cut to [`MAX_TEXT`], unless it is blank.
fn insert_text(map: &mut Map<String, Value>, key: &str, text: &str) {
    if !text.trim().is_empty() {
        map.insert(key.into(), json!(limit(text, MAX_TEXT)));
    }
}
