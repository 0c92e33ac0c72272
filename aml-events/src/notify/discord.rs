//! Discord: the notice as an Execute Webhook body with one embed.
//!
//! ```text
//! {"content": "🔴 FAILED · ml-ws",
//!  "embeds": [{"title": "<title>", "url": "<first link>", "color": <tone>,
//!              "description": "<summary>\n<and 37 more since 09:00 UTC>\n\n<exception line>\n```\n<traceback>\n```\n\n[Open in Azure ML studio](<link>) · [<label>](<link>)",
//!              "fields": [{"name": "<row's first cell>", "value": "<column>: <cell>\n...", "inline": true}, ...,
//!                         {"name": "<fact>", "value": "<value>", "inline": true}, ...],
//!              "footer": {"text": "Event id: <id>"}, "timestamp": "2026-11-30T06:12:44.123Z"}],
//!  "allowed_mentions": {"parse": []}}
//! ```
//!
//! The content line says how bad it is before the embed is read (🔴 a failure, 🟠 a warning, 🟢
//! good news, 🔵 other information, the status word, the workspace), and the embed's side bar has
//! the same colour. The title links to the notice's first link; every link the product made is
//! in the description's last line. `url` and `timestamp` are left out when there is none,
//! `description`, `fields` and the footer when they would be empty; a blank field name or value
//! becomes a dash, since Discord refuses empty ones with a 400.
//!
//! Event text is untrusted. Every text Discord reads as Markdown (content, title, description,
//! field names and values) goes through [`escape::markdown`](super::escape::markdown), the traceback through
//! [`escape::fenced`](super::escape::fenced) inside its ``` block, the footer (plain text) through [`escape::plain`](super::escape::plain).
//! Besides, `allowed_mentions` with an empty `parse` keeps Discord from pinging anyone, whatever
//! a text holds.
//!
//! Limits, each applied after escaping: content 2,000 characters; title 256; description
//! 4,096; at most 25 fields, names 256 and values 1,024; footer 2,048; and title, description,
//! field names and values and footer together at most 6,000. Within that total the title and
//! footer come first, then up to 1,024 characters are kept for the description, then the
//! fields, then the description has what is left: its links and summary first, the traceback
//! (cut keeping its end) last. An exception line cut to 300 characters is kept whole in the
//! traceback's block, so its end is read there.
//!
//! See:
//! - Execute Webhook (`content`, `embeds`, `allowed_mentions`):
//!   <https://discord.com/developers/docs/resources/webhook#execute-webhook>
//! - the embed and its limits:
//!   <https://discord.com/developers/docs/resources/message#embed-object-embed-limits>
//! - allowed mentions:
//!   <https://discord.com/developers/docs/resources/message#allowed-mentions-object>
//! - Discord's Markdown (masked links, code blocks, escapes):
//!   <https://support.discord.com/hc/en-us/articles/210298617-Markdown-Text-101-Chat-Formatting-Bold-Italic-Underline>

use serde_json::{Map, Value, json};

use super::cut::{limit, limit_end, non_blank};
use super::escape::{cut_markdown, cut_plain, fenced, is_entity, markdown, plain};
use super::notice::{BLANK, MAX_NAME, MAX_SUMMARY, Tone};
use super::{Buttons, ErrorText, Fact, Notice, Severity};

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
/// How many rows the embed shows: the worst few.
pub const MAX_ROWS: usize = 5;

/// What the description is sure to keep before the fields take their share.
const DESCRIPTION_RESERVE: usize = 1024;
/// A fact's value, the exception line and a row's cell before escaping.
const MAX_VALUE: usize = 300;
const MAX_EXCEPTION: usize = 300;
const MAX_CELL: usize = 60;
/// The event id in the footer (an Event Grid id is a GUID).
const MAX_EVENT_ID: usize = 100;
/// Less room than this for a traceback, and it is left out.
const MIN_TRACEBACK: usize = 40;

/// The Execute Webhook body for `notice`.
pub fn render(notice: &Notice) -> Value {
    let title = cut_markdown(&markdown(&limit(notice.headline(), MAX_NAME)), MAX_TITLE);
    // Blank once escaped (control or bidi characters only): a dash, as Discord refuses blanks.
    let title = non_blank(&title, BLANK).to_owned();
    let footer = if notice.event_id.trim().is_empty() {
        String::new()
    } else {
        let id = limit(notice.event_id.trim(), MAX_EVENT_ID);
        cut_plain(&plain(&format!("Event id: {id}")), MAX_FOOTER)
    };
    let room = MAX_EMBED_TOTAL - chars(&title) - chars(&footer);
    let buttons = notice.buttons();
    let description = Description::of(notice, &buttons);

    let reserve = description.wanted().min(DESCRIPTION_RESERVE);
    let fields = fields(notice, room - reserve);
    let used: usize = fields
        .iter()
        .map(|field| {
            chars(field["name"].as_str().unwrap_or(""))
                + chars(field["value"].as_str().unwrap_or(""))
        })
        .sum();
    let description = description.within(MAX_DESCRIPTION.min(room - used));

    let mut embed = Map::new();
    embed.insert("title".into(), json!(title));
    if !description.is_empty() {
        embed.insert("description".into(), json!(description));
    }
    if let Some(first) = buttons.links.first() {
        embed.insert("url".into(), json!(first.url));
    }
    embed.insert("color".into(), json!(color(notice)));
    if !fields.is_empty() {
        embed.insert("fields".into(), Value::Array(fields));
    }
    if !footer.is_empty() {
        embed.insert("footer".into(), json!({"text": footer}));
    }
    if let Some(time) = notice.time {
        embed.insert("timestamp".into(), json!(time.to_rfc3339_millis()));
    }

    let mut content = format!(
        "{} {}",
        notice.tone().marker(),
        markdown(&notice.status_word())
    );
    if let Some(name) = notice.workspace_name() {
        content.push_str(&format!(" \u{b7} {}", markdown(&limit(&name, MAX_NAME))));
    }
    let mut body = Map::new();
    body.insert("content".into(), json!(cut_markdown(&content, MAX_CONTENT)));
    body.insert("embeds".into(), json!([embed]));
    // An empty `parse` and no `users` or `roles`: nothing in the message pings.
    body.insert("allowed_mentions".into(), json!({"parse": []}));
    Value::Object(body)
}

/// The description's parts, escaped, before they are fitted to the room left.
struct Description {
    /// The summary and the held count, one line each.
    head: Vec<String>,
    /// The exception line.
    exception: Option<String>,
    /// The rest of the error (all of it when the exception line was cut), unescaped: it is cut
    /// before escaping, keeping its end.
    details: String,
    /// `[label](url)` per button, and the note on links left out.
    links: Vec<String>,
}

impl Description {
    fn of(notice: &Notice, buttons: &Buttons) -> Description {
        let mut head = vec![markdown(&limit(&notice.summary, MAX_SUMMARY))];
        head.extend(notice.held_text().map(|held| markdown(&held)));
        head.retain(|line| !line.is_empty());
        let (exception, details) = notice.error.as_ref().and_then(error_parts).unzip();
        let mut links: Vec<String> = buttons
            .links
            .iter()
            .map(|link| {
                // A parenthesis would end (or unbalance) the link's destination, and `||` would
                // open a spoiler in it; percent-encoded, the URL is the same.
                let url = markdown_url(&link.url);
                format!("[{}]({url})", markdown(&limit(&link.label, MAX_NAME)))
            })
            .collect();
        links.extend(buttons.left_out_text().map(|text| markdown(&text)));
        Description {
            head,
            exception,
            details: details.unwrap_or_default(),
            links,
        }
    }

    /// The length of the whole description, traceback and all (within Discord's limit).
    fn wanted(&self) -> usize {
        chars(&self.within(MAX_DESCRIPTION))
    }

    /// The description within `room` characters: the links first, then the summary and held
    /// count, then the exception line, then as much of the traceback as is left (its end).
    fn within(&self, room: usize) -> String {
        let mut left = room;
        let links = take_lines(&self.links, " \u{b7} ", &mut left);
        let head = take_lines(&self.head, "\n", &mut left);
        let exception = take_lines(self.exception.as_slice(), "", &mut left);
        // The fences, their line breaks and the blank lines between the parts.
        let traceback = match left.checked_sub(12) {
            Some(room) if room >= MIN_TRACEBACK && !exception.is_empty() => {
                fenced_end(&self.details, room)
            }
            _ => None,
        };
        let mut error = exception;
        if let Some(code) = traceback {
            error.push_str(&format!("\n```\n{code}\n```"));
        }
        [head, error, links]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// The exception line, escaped and cut, and what the block under it shows: the rest of the
/// error, or all of it when the line had to be cut, so the line's end is read there. `None`
/// when the line is blank once escaped.
fn error_parts(error: &ErrorText) -> Option<(String, String)> {
    let line = error.exception_line();
    let shown = limit(line, MAX_EXCEPTION);
    let escaped = markdown(&shown);
    if escaped.is_empty() {
        return None;
    }
    let details = error.under_line(shown == line);
    Some((escaped, details))
}

/// `parts` joined by `separator`, as many whole parts as fit in `left` (less two for the blank
/// line before the next part), the first one cut to fit when none would; `left` is reduced.
fn take_lines(parts: &[String], separator: &str, left: &mut usize) -> String {
    let mut out = String::new();
    for part in parts {
        let sep = if out.is_empty() { 0 } else { chars(separator) };
        let room = left.saturating_sub(2 + sep);
        if chars(part) <= room {
            if sep > 0 {
                out.push_str(separator);
            }
            out.push_str(part);
            *left -= chars(part) + sep;
        } else if out.is_empty() && room > 1 && !part.starts_with('[') {
            // A link cut short would be broken Markdown: links are whole or left out.
            let cut = cut_markdown(part, room);
            *left -= chars(&cut);
            out = cut;
        }
    }
    *left = left.saturating_sub(2);
    out
}

/// `url` as a Markdown link's destination, percent-encoded where Markdown would read it
/// otherwise: `(` and `)` (which end or unbalance the destination), `|` (`||` opens a spoiler),
/// `\` (a backslash escape drops it) and an `&` that starts an entity (`&amp;` would be read
/// as `&`). The URL is the same.
pub fn markdown_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len() + 8);
    for (at, c) in url.char_indices() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '|' => out.push_str("%7C"),
            '\\' => out.push_str("%5C"),
            '&' if is_entity(&url[at + 1..]) => out.push_str("%26"),
            c => out.push(c),
        }
    }
    out
}

/// `details` for a ``` block within `room` characters, its end kept; `None` when blank.
fn fenced_end(details: &str, room: usize) -> Option<String> {
    if details.trim().is_empty() {
        return None;
    }
    let mut max = room;
    loop {
        let escaped = fenced(&limit_end(details, max));
        let len = chars(&escaped);
        if len <= room {
            return Some(escaped);
        }
        max = max.saturating_sub((len - room).max(1));
        if max < MIN_TRACEBACK {
            return None;
        }
    }
}

/// The rows (the worst [`MAX_ROWS`], a `More` field counting the rest), then the facts, as
/// fields within `room` characters in all.
fn fields(notice: &Notice, mut room: usize) -> Vec<Value> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    if let Some(rows) = &notice.rows {
        let (shown, more) = rows.first(MAX_ROWS);
        for row in shown {
            let name = row.first().map_or(BLANK, |cell| non_blank(cell, BLANK));
            let value: Vec<String> = row
                .iter()
                .enumerate()
                .skip(1)
                .map(|(at, cell)| {
                    let cell = markdown(&limit(non_blank(cell, BLANK), MAX_CELL));
                    match rows.header.get(at) {
                        Some(column) if !column.trim().is_empty() => {
                            format!("{}: {cell}", markdown(&limit(column, MAX_NAME)))
                        }
                        _ => cell,
                    }
                })
                .collect();
            wanted.push((markdown(&limit(name, MAX_NAME)), value.join("\n")));
        }
        if more > 0 {
            wanted.push(("More".to_owned(), format!("and {more} more")));
        }
    }
    let facts_room = MAX_FIELDS.saturating_sub(wanted.len());
    wanted.extend(notice.facts_at_most(facts_room).iter().map(|fact: &Fact| {
        (
            markdown(&limit(fact.name.trim(), MAX_NAME)),
            markdown(&limit(&fact.value, MAX_VALUE)),
        )
    }));

    let mut fields = Vec::new();
    for (name, value) in wanted.into_iter().take(MAX_FIELDS) {
        // A field needs at least one character of name and one of value.
        if room < 2 {
            break;
        }
        let name = cut_markdown(non_blank(&name, BLANK), MAX_FIELD_NAME.min(room - 1));
        let value_room = MAX_FIELD_VALUE.min(room - chars(&name));
        let value = cut_markdown(non_blank(&value, BLANK), value_room);
        room -= chars(&name) + chars(&value);
        fields.push(json!({"name": name, "value": value, "inline": true}));
    }
    fields
}

/// The embed's side bar: red for errors, a darker red for critical, amber for warnings, green
/// for good news, Azure blue for other information (`0xRRGGBB` as an integer, as Discord takes
/// it).
pub fn color(notice: &Notice) -> u32 {
    match (notice.severity, notice.tone()) {
        (Severity::Critical, _) => 0xA4_26_2C,
        (_, Tone::Bad) => 0xD1_34_38,
        (_, Tone::Warning) => 0xFF_B9_00,
        (_, Tone::Good) => 0x10_7C_10,
        (_, Tone::Neutral) => 0x00_78_D4,
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}
