//! The plain `webhook` kind: the project's own JSON (docs/actions.md), for any endpoint that is not
//! a chat tool or PagerDuty: a Logic App, a function, a queue's HTTP front.
//!
//! ```text
//! {"text": "<summary>", "title", "status", "severity", "eventId", "eventType", "subject",
//!  "function", "workspace", "time", "link", "links": [{"label", "url"}],
//!  "error": {"text", "exceptionLine"}, "rows": {"header", "rows", "more"},
//!  "held": {"count", "since"}, "data", ...extra}
//! ```
//!
//! `subject`, `workspace`, `time`, `link`, `error`, `rows` and `held` are `null` when the
//! notice has none, so a receiver always finds every key; `time` is RFC 3339 in UTC with milliseconds
//! (`2026-11-30T06:12:44.123Z`), whatever precision the event was written with. The keys of [`Notice::extra`] (`run`, `retrain`, `smokeTest`, ...)
//! sit beside them at the top level; where one has the name of a fixed key, the fixed key
//! wins, so `text` or `eventId` always mean the same.
//!
//! No text is cut or escaped: no vendor sets a limit here, and the receiver is the user's own
//! code, which should see the event's data whole, and escape it for wherever it shows it.

use serde_json::{Value, json};

use super::Notice;

/// The webhook body for `notice`.
pub fn render(notice: &Notice) -> Value {
    let mut body = notice.extra.clone();
    let fixed = [
        ("text", json!(notice.summary)),
        ("title", json!(notice.title)),
        ("severity", json!(notice.severity)),
        ("eventId", json!(notice.event_id)),
        ("eventType", json!(notice.event_type)),
        ("subject", json!(notice.subject)),
        ("function", json!(notice.function)),
        ("workspace", json!(notice.workspace)),
        (
            "time",
            json!(notice.time.map(|time| time.to_rfc3339_millis())),
        ),
        ("link", json!(notice.link)),
        ("status", json!(notice.status_word())),
        (
            "links",
            Value::Array(
                (notice.links.iter())
                    .map(|link| json!({"label": link.label, "url": link.url}))
                    .collect(),
            ),
        ),
        (
            "error",
            json!(notice.error.as_ref().map(|error| json!({
                "text": error.text,
                "exceptionLine": error.exception_line(),
            }))),
        ),
        (
            "rows",
            json!(notice.rows.as_ref().map(|rows| json!({
                "header": rows.header,
                "rows": rows.rows,
                "more": rows.more,
            }))),
        ),
        (
            "held",
            json!(notice.held.map(|held| json!({
                "count": held.count,
                "since": held.since.to_rfc3339_millis(),
            }))),
        ),
        ("data", notice.data.to_value()),
    ];
    for (key, value) in fixed {
        body.insert(key.to_owned(), value);
    }
    Value::Object(body)
}
