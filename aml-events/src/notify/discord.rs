//! Discord: the notice as an Execute Webhook body with one embed.
//!
//! ```text
//! {"content": "<summary>",
//!  "embeds": [{"title": "<title>", "description": "<summary>", "url": "<link>", "color": <severity>,
//!              "fields": [{"name": "<name>", "value": "<value>", "inline": true}, ...],
//!              "footer": {"text": "<event id>"}, "timestamp": "<event time>"}],
//!  "allowed_mentions": {"parse": []}}
//! ```
//!
//! `allowed_mentions` with an empty `parse` keeps Discord from pinging anyone, whatever the
//! text holds: an `@everyone` or `<@&role>` in a run's error message stays text. `url` and
//! `timestamp` are left out when there is none, `content`, `description` and the footer when
//! they would be blank; a blank field name or value becomes a dash, since Discord refuses
//! empty ones with a 400.
//!
//! Limits, each applied with [`limit`]: content 2,000 characters; title 256; description
//! 4,096; at most 25 fields, names 256 and values 1,024; footer 2,048; and title, description,
//! field names and values and footer together at most 6,000. Within that total the title and
//! footer come first, then up to 1,024 characters are kept for the description, then the
//! fields, then the description has what is left.
//!
//! See:
//! - Execute Webhook (`content`, `embeds`, `allowed_mentions`):
//!   <https://discord.com/developers/docs/resources/webhook#execute-webhook>
//! - the embed and its limits:
//!   <https://discord.com/developers/docs/resources/message#embed-object-embed-limits>
//! - allowed mentions:
//!   <https://discord.com/developers/docs/resources/message#allowed-mentions-object>

use serde_json::{Map, Value, json};

use super::notice::{BLANK, limit, non_blank};
use super::{Notice, Severity};

/// The message's `content`.
pub const MAX_CONTENT: usize = 2000;
/// An embed's title.
pub const MAX_TITLE: usize = 256;
/// An embed's description.
pub const MAX_DESCRIPTION: usize = 4096;
/// An embed's fields.
pub const MAX_FIELDS: usize = 25;
/// A field's name.
pub const MAX_FIELD_NAME: usize = 256;
/// A field's value.
pub const MAX_FIELD_VALUE: usize = 1024;
/// The footer's text.
pub const MAX_FOOTER: usize = 2048;
/// Title, description, field names and values, footer (and author name) of all embeds together.
pub const MAX_EMBED_TOTAL: usize = 6000;

/// What the description is sure to keep before the fields take their share.
const DESCRIPTION_RESERVE: usize = 1024;

/// The Execute Webhook body for `notice`.
pub fn render(notice: &Notice) -> Value {
    let title = limit(notice.headline(), MAX_TITLE);
    let footer = limit(notice.event_id.trim(), MAX_FOOTER);
    let mut room = MAX_EMBED_TOTAL - chars(&title) - chars(&footer);

    let reserve = chars(&notice.summary).min(DESCRIPTION_RESERVE);
    let mut field_room = room - reserve;
    let mut fields = Vec::new();
    for fact in notice.facts_at_most(MAX_FIELDS) {
        // A field needs at least one character of name and one of value.
        if field_room < 2 {
            break;
        }
        let name = limit(
            non_blank(&fact.name, BLANK),
            MAX_FIELD_NAME.min(field_room - 1),
        );
        let value_room = MAX_FIELD_VALUE.min(field_room - chars(&name));
        let value = limit(non_blank(&fact.value, BLANK), value_room);
        field_room -= chars(&name) + chars(&value);
        fields.push(json!({"name": name, "value": value, "inline": true}));
    }
    room = field_room + reserve;

    let mut embed = Map::new();
    embed.insert("title".into(), json!(title));
    if !notice.summary.trim().is_empty() {
        embed.insert(
            "description".into(),
            json!(limit(&notice.summary, MAX_DESCRIPTION.min(room))),
        );
    }
    if let Some(link) = notice.web_link() {
        embed.insert("url".into(), json!(link));
    }
    embed.insert("color".into(), json!(color(notice.severity)));
    if !fields.is_empty() {
        embed.insert("fields".into(), Value::Array(fields));
    }
    if !footer.is_empty() {
        embed.insert("footer".into(), json!({"text": footer}));
    }
    if let Some(time) = notice.time {
        embed.insert("timestamp".into(), json!(time.to_string()));
    }

    let mut body = Map::new();
    if !notice.summary.trim().is_empty() {
        body.insert("content".into(), json!(limit(&notice.summary, MAX_CONTENT)));
    }
    body.insert("embeds".into(), json!([embed]));
    // An empty `parse` and no `users` or `roles`: nothing in the message pings.
    body.insert("allowed_mentions".into(), json!({"parse": []}));
    Value::Object(body)
}

/// The embed's side bar: red for errors, a darker red for critical, amber for warnings, Azure
/// blue for information (`0xRRGGBB` as an integer, as Discord takes it).
pub fn color(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => 0xA4_26_2C,
        Severity::Error => 0xD1_34_38,
        Severity::Warning => 0xFF_B9_00,
        Severity::Info => 0x00_78_D4,
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}
