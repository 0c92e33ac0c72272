//! Slack: the notice as a Block Kit message for an incoming webhook.
//!
//! ```text
//! {"text": "🔴 FAILED · <title>\n<summary>",                      (the notification's fallback)
//!  "blocks": [
//!    {"type": "header", "text": {"type": "plain_text", "text": "🔴 FAILED · <title>"}},
//!    {"type": "context", "elements": [<mrkdwn "ml-ws · 2026-11-30 06:12:44 UTC">]},
//!    {"type": "section", "text": <mrkdwn summary>},
//!    {"type": "context", "elements": [<mrkdwn "and 37 more since 09:00 UTC">]},
//!    {"type": "section", "text": <mrkdwn "*KeyError: 'customer_id'*\n```<traceback>```">},
//!    {"type": "section", "text": <mrkdwn "```<rows, aligned>```\nand 4 more">},
//!    {"type": "section", "fields": [<mrkdwn "*<name>*\n<value>">, ...]},
//!    {"type": "context", "elements": [<mrkdwn "Event id: <id>">]},
//!    {"type": "actions", "elements": [{"type": "button", "text": <plain_text label>, "url": <link>}, ...]}]}
//! ```
//!
//! The marker and the status word say how bad it is before any word is read: 🔴 a failure, 🟠
//! a warning, 🟢 good news, 🔵 other information. A block whose text would be empty is left
//! out (Slack refuses empty text objects), and so is the actions block without a link.
//!
//! Event text is untrusted. Every mrkdwn text goes through [`escape::mrkdwn`](super::escape::mrkdwn) (`& < >` as
//! entities, Slack's formatting characters `* _ ~` and the backtick replaced by look-alikes, as
//! Slack has no escape for them) and is sent with `"verbatim": true`, so Slack turns no URL or
//! channel name into a link; the traceback and the rows sit in ``` blocks, where Slack formats
//! nothing, through [`escape::mrkdwn_fenced`](super::escape::mrkdwn_fenced); plain_text (the header, a button's label) through
//! [`escape::plain`](super::escape::plain). The only formatting is the product's: the bold field names and exception
//! line, and the ``` blocks.
//!
//! Limits, each applied after escaping, since Slack counts the escaped text: header text 150
//! characters; section text 3,000; at most 10 fields of 2,000 each; context text 3,000; button
//! text 75 and url 3,000 (a link is at most 2,048, see [`Notice::buttons`]). The traceback is cut
//! keeping its end, where the exception is; an exception line cut in bold is kept whole in the
//! code block, so its end is read there.
//!
//! See:
//! - <https://docs.slack.dev/reference/block-kit/blocks/header-block>
//!   (also <https://api.slack.com/reference/block-kit/blocks#header>)
//! - <https://api.slack.com/reference/block-kit/blocks#section>,
//!   <https://api.slack.com/reference/block-kit/blocks#context>,
//!   <https://api.slack.com/reference/block-kit/blocks#actions>,
//!   <https://api.slack.com/reference/block-kit/block-elements#button>
//! - `verbatim`: <https://docs.slack.dev/reference/block-kit/composition-objects/text-object>
//! - escaping: <https://api.slack.com/reference/surfaces/formatting#escaping>
//! - the top-level `text` as the notification fallback, truncated by Slack past 40,000
//!   characters: <https://api.slack.com/methods/chat.postMessage>

use serde::{Serialize, Serializer, ser::SerializeStruct};
use serde_json::Value;

use super::cut::{limit, limit_end, non_blank};
use super::escape::{cut_mrkdwn, cut_plain, mrkdwn, mrkdwn_fenced, plain};
use super::notice::{BLANK, MAX_NAME, MAX_SUMMARY};
use super::{ErrorText, Fact, Notice, Rows};

/// A header block's plain_text.
pub const MAX_HEADER: usize = 150;
/// A section block's text, and a context element's.
pub const MAX_TEXT: usize = 3000;
/// A section block's `fields`.
pub const MAX_FIELDS: usize = 10;
/// Each of a section's fields.
pub const MAX_FIELD: usize = 2000;
/// A button's text.
pub const MAX_BUTTON_TEXT: usize = 75;
/// How many rows the message shows: the worst few.
pub const MAX_ROWS: usize = 5;

/// A fact's value, the exception line and a row's cell before escaping.
const MAX_VALUE: usize = 300;
const MAX_EXCEPTION: usize = 300;
const MAX_CELL: usize = 24;
/// The event id in the context line (an Event Grid id is a GUID).
const MAX_EVENT_ID: usize = 100;

/// The incoming webhook body for `notice`, as JSON.
pub fn render(notice: &Notice) -> Value {
    serde_json::to_value(message(notice)).unwrap_or_default()
}

/// The incoming webhook body for `notice`, as the blocks it is written from: what is sent
/// (serialized straight from these, with no JSON tree built and dropped per notice).
pub fn message(notice: &Notice) -> Message {
    let lead = format!(
        "{} {} \u{b7} {}",
        notice.tone().marker(),
        notice.status_word(),
        limit(notice.headline(), MAX_NAME)
    );
    let mut blocks = vec![Block::Header(
        PlainText::new(cut_plain(&plain(&lead), MAX_HEADER)).with_emoji(),
    )];
    if let Some(place) = notice.place_and_time() {
        blocks.push(context(&place));
    }
    // Blank once escaped (whitespace, control or bidi characters only): left out, as Slack
    // refuses an empty text.
    let summary = cut_mrkdwn(&mrkdwn(&limit(&notice.summary, MAX_SUMMARY)), MAX_TEXT);
    if !summary.is_empty() {
        blocks.push(section(summary.clone()));
    }
    if let Some(held) = notice.held_text() {
        blocks.push(context(&held));
    }
    if let Some(text) = notice.error.as_ref().and_then(error_text) {
        blocks.push(section(text));
    }
    if let Some(text) = notice.rows.as_ref().and_then(rows_text) {
        blocks.push(section(text));
    }
    let fields: Vec<Mrkdwn> = notice
        .facts_at_most(MAX_FIELDS)
        .iter()
        .map(|fact| Mrkdwn::new(field(fact)))
        .collect();
    if !fields.is_empty() {
        blocks.push(Block::Fields(fields));
    }
    let buttons = notice.buttons();
    let small_print: Vec<String> = (!notice.event_id.trim().is_empty())
        .then(|| format!("Event id: {}", limit(notice.event_id.trim(), MAX_EVENT_ID)))
        .into_iter()
        .chain(buttons.left_out_text())
        .collect();
    if !small_print.is_empty() {
        let elements = small_print
            .iter()
            .map(|text| Mrkdwn::new(cut_mrkdwn(&mrkdwn(text), MAX_TEXT)))
            .collect();
        blocks.push(Block::Context(elements));
    }
    if !buttons.links.is_empty() {
        let elements = buttons
            .links
            .iter()
            .map(|link| Button {
                text: PlainText::new(cut_plain(&plain(&link.label), MAX_BUTTON_TEXT)),
                kind: "button",
                url: link.url.clone(),
            })
            .collect();
        blocks.push(Block::Actions(elements));
    }
    // The top-level text is what notifications and screen readers show: the lead line, then
    // the summary. Slack only truncates it (at 40,000 characters); cut at a section's length.
    let mut text = mrkdwn(&lead);
    if !summary.is_empty() {
        text.push('\n');
        text.push_str(&summary);
    }
    Message {
        blocks,
        text: cut_mrkdwn(&text, MAX_TEXT),
    }
}

// The Block Kit objects a message is made of. Their members are declared in the order of their
// names, the order a JSON tree of them is written in, so the two give the same bytes.

/// A whole message: its blocks and the notification's fallback text.
#[derive(Debug, Serialize)]
pub struct Message {
    blocks: Vec<Block>,
    text: String,
}

/// One block of a message.
#[derive(Debug)]
enum Block {
    Header(PlainText),
    Context(Vec<Mrkdwn>),
    Section(Mrkdwn),
    Fields(Vec<Mrkdwn>),
    Actions(Vec<Button>),
}

impl Block {
    /// The block's `type`.
    fn kind(&self) -> &'static str {
        match self {
            Block::Header(_) => "header",
            Block::Context(_) => "context",
            Block::Section(_) | Block::Fields(_) => "section",
            Block::Actions(_) => "actions",
        }
    }
}

impl Serialize for Block {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut block = serializer.serialize_struct("Block", 2)?;
        match self {
            Block::Header(text) => block.serialize_field("text", text)?,
            Block::Context(elements) => block.serialize_field("elements", elements)?,
            Block::Section(text) => block.serialize_field("text", text)?,
            Block::Fields(fields) => block.serialize_field("fields", fields)?,
            Block::Actions(elements) => block.serialize_field("elements", elements)?,
        }
        // Last: every member's name above comes before `type`.
        block.serialize_field("type", self.kind())?;
        block.end()
    }
}

/// A plain_text object (a header, a button's label).
#[derive(Debug, Serialize)]
struct PlainText {
    #[serde(skip_serializing_if = "Option::is_none")]
    emoji: Option<bool>,
    text: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl PlainText {
    fn new(text: String) -> PlainText {
        PlainText {
            emoji: None,
            text,
            kind: "plain_text",
        }
    }

    fn with_emoji(self) -> PlainText {
        PlainText {
            emoji: Some(true),
            ..self
        }
    }
}

/// A mrkdwn text object Slack takes as written: no URL, channel or mention parsed from it.
#[derive(Debug, Serialize)]
struct Mrkdwn {
    text: String,
    #[serde(rename = "type")]
    kind: &'static str,
    verbatim: bool,
}

impl Mrkdwn {
    fn new(text: String) -> Mrkdwn {
        Mrkdwn {
            text,
            kind: "mrkdwn",
            verbatim: true,
        }
    }
}

/// A link button.
#[derive(Debug, Serialize)]
struct Button {
    text: PlainText,
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

/// `*<exception line>*`, then the rest of the error in a ``` block, its end kept, the whole
/// within a section's 3,000 characters; the whole error in the block when the line itself had
/// to be cut, so the line's end is read there.
fn error_text(error: &ErrorText) -> Option<String> {
    let exception = error.exception_line();
    let line = cut_mrkdwn(&mrkdwn(&limit(exception, MAX_EXCEPTION)), MAX_TEXT / 3);
    if line.is_empty() {
        return None;
    }
    let details = error.under_line(line == mrkdwn(exception));
    let mut text = format!("*{line}*");
    // The fences and their line breaks.
    let room = MAX_TEXT - text.chars().count() - 9;
    if let Some(code) = fenced_within(&details, room, Keep::End) {
        text.push_str(&format!("\n```\n{code}\n```"));
    }
    Some(text)
}

/// The rows as an aligned table in a ``` block (the worst [`MAX_ROWS`]), then `and N more`.
fn rows_text(rows: &Rows) -> Option<String> {
    let (shown, more) = rows.first(MAX_ROWS);
    let mut table: Vec<Vec<String>> = Vec::new();
    if !shown.is_empty() && !rows.header.is_empty() {
        table.push(rows.header.iter().map(|cell| cell_text(cell)).collect());
    }
    table.extend(
        shown
            .iter()
            .map(|row| row.iter().map(|cell| cell_text(cell)).collect()),
    );
    let mut text = String::new();
    let more = (more > 0).then(|| format!("and {more} more"));
    let room = MAX_TEXT - more.as_ref().map_or(0, |more| more.len() + 1) - 8;
    if let Some(code) = fenced_within(&aligned(&table), room, Keep::Start) {
        text.push_str(&format!("```\n{code}\n```"));
    }
    if let Some(more) = more {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&more);
    }
    (!text.is_empty()).then_some(text)
}

/// A row's cell on one line, cut to [`MAX_CELL`] characters.
fn cell_text(cell: &str) -> String {
    let one_line = cell.split_whitespace().collect::<Vec<_>>().join(" ");
    limit(non_blank(&one_line, BLANK), MAX_CELL).into_owned()
}

/// The table's cells padded to their column's width, two spaces apart.
fn aligned(table: &[Vec<String>]) -> String {
    let columns = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|at| {
            table
                .iter()
                .filter_map(|row| row.get(at))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    table
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which end of a text a cut keeps.
#[derive(Clone, Copy)]
enum Keep {
    Start,
    End,
}

/// `text` escaped for a ``` block within `room` characters, cut before escaping (so no entity
/// is split) at its end or start; `None` when it is blank or there is no useful room.
fn fenced_within(text: &str, room: usize, keep: Keep) -> Option<String> {
    if text.trim().is_empty() || room < 16 {
        return None;
    }
    let mut max = room;
    loop {
        let cut = match keep {
            Keep::Start => limit(text, max),
            Keep::End => limit_end(text, max),
        };
        let escaped = mrkdwn_fenced(&cut);
        let len = escaped.chars().count();
        if len <= room {
            return Some(escaped);
        }
        // Escaping made it longer: try again shorter by at least the excess.
        max = max.saturating_sub((len - room).max(1));
        if max < 2 {
            return None;
        }
    }
}

/// `*<name>*\n<value>`, both escaped, within [`MAX_FIELD`] characters.
fn field(fact: &Fact) -> String {
    // Bold needs the asterisks against non-space characters: `*name *` shows the asterisks;
    // an escaped name is trimmed.
    let name = or_blank(mrkdwn(&limit(&fact.name, MAX_NAME)));
    let value = or_blank(mrkdwn(&limit(&fact.value, MAX_VALUE)));
    // Two asterisks and the newline.
    let room = MAX_FIELD - name.chars().count() - 3;
    format!("*{name}*\n{}", cut_mrkdwn(&value, room))
}

/// `text`, or a dash when it is empty (Slack refuses empty texts, and shows `**` for an empty
/// bold name).
fn or_blank(text: String) -> String {
    if text.is_empty() {
        BLANK.to_owned()
    } else {
        text
    }
}

fn section(text: String) -> Block {
    Block::Section(Mrkdwn::new(text))
}

/// A context block of one untrusted line.
fn context(text: &str) -> Block {
    Block::Context(vec![Mrkdwn::new(cut_mrkdwn(&mrkdwn(text), MAX_TEXT))])
}
