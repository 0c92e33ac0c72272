//! Microsoft Teams: the notice as an Adaptive Card 1.4 in the message envelope that a Teams
//! Workflows webhook ("When a Teams webhook request is received") takes. Workflows post
//! Adaptive Cards; a bare `{"text": ...}` (what the retired Office 365 connectors took) is
//! dropped without an error.
//!
//! ```text
//! {"type": "message",
//!  "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
//!    "content": {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
//!      "version": "1.4",
//!      "body": [
//!        Container style attention|warning|good|accent, bleed     the band, default-colour text:
//!          TextBlock "FAILED" (bolder)                             the status word
//!          TextBlock title (large, bolder)                         what happened where, <= 80 chars
//!          TextBlock "ml-ws · 2026-11-30 06:12:44 UTC"             workspace and time
//!        TextBlock summary                                         <= 500 chars
//!        TextBlock "and 37 more since 09:00 UTC" (subtle)          notices held back
//!        TextBlock "KeyError: 'customer_id'" (bolder)              the error's exception line
//!        RichTextBlock [TextRun traceback (monospace, small)]      the rest of it, lines kept
//!        ColumnSet header (bolder), ColumnSet per row              rows, the worst 5
//!        TextBlock "and 4 more" (subtle)
//!        FactSet                                                   the facts
//!        TextBlock "Event id: ..." (small, subtle)                 small print
//!      ],
//!      "actions": [Action.OpenUrl "Open in Azure ML studio", Action.OpenUrl <link label>, ...]}}]}
//! ```
//!
//! Each part is there only when the notice has it. An exception line past 300 characters is
//! cut in its TextBlock, and then the monospace run holds the whole error, that line too, so
//! its end (where a long message often says its cause) is still read. Event text is untrusted: every TextBlock and
//! Fact, which hosts read as Markdown, goes through [`escape::markdown`](super::escape::markdown); the traceback sits in a
//! TextRun, which Adaptive Cards never read as Markdown, through [`escape::monospace`](super::escape::monospace); a
//! button's title through [`escape::plain`](super::escape::plain). No text has a `color`: the band's colour is the
//! container's style, under the host's default text colour (the old yellow `warning` title on
//! white had a contrast of 1.5:1). Every TextBlock wraps.
//!
//! Adaptive Cards put no length on a text; Teams limits the whole message to 28 KB. The card is
//! therefore fitted to a byte budget, shrinking in this order until it fits: the traceback
//! (halved down to 500 characters, keeping its end), the summary and the fact values (halved
//! down to 64), the facts (the last first, a `More` fact counting them), the rows, and at last
//! the traceback itself. The band, the exception line, the event id and the buttons always stay.
//!
//! See:
//! - Workflows webhooks, the envelope and the 28 KB limit:
//!   <https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook>
//! - the trigger: <https://learn.microsoft.com/connectors/teams/>
//! - the card's elements, schema 1.4: <https://adaptivecards.io/explorer/Container.html>
//!   (`style`, `bleed`), <https://adaptivecards.io/explorer/TextBlock.html>,
//!   <https://adaptivecards.io/explorer/RichTextBlock.html>,
//!   <https://adaptivecards.io/explorer/TextRun.html> ("Markdown is not supported"),
//!   <https://adaptivecards.io/explorer/ColumnSet.html>,
//!   <https://adaptivecards.io/explorer/FactSet.html>,
//!   <https://adaptivecards.io/explorer/Action.OpenUrl.html>,
//!   <https://adaptivecards.io/schemas/adaptive-card.json>
//! - the Markdown Teams reads in a card:
//!   <https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-format>
//!
//! It does not use Teams' extensions to the card (`msteams.width`, mentions): a mention in a
//! run's error message must never ping anyone.

use serde_json::{Value, json};

use super::cut::{limit, limit_end, non_blank};
use super::escape::{markdown, monospace, plain};
use super::notice::{BLANK, MAX_NAME, MAX_SUMMARY, Tone};
use super::{ErrorText, Notice, Rows};

/// The card's schema version; every element and property used here exists in it.
pub const VERSION: &str = "1.4";

/// The byte budget of the serialized body. Teams documents 28 KB per message without saying
/// what it counts (this body, or the message Teams builds from it), so the budget stays well
/// under it.
pub const MAX_BYTES: usize = 20_000;

/// How many rows a card shows: the worst few.
pub const MAX_ROWS: usize = 5;

/// A fact value before any shrinking.
const START_VALUE: usize = 300;
/// The traceback before any shrinking, and where halving it stops.
const START_TRACEBACK: usize = 4000;
const TRACEBACK_FLOOR: usize = 500;
/// Below this, summary and fact values are no longer shortened; facts are left out instead.
const FLOOR: usize = 64;
/// The exception line, and a row's cell.
const MAX_EXCEPTION: usize = 300;
const MAX_CELL: usize = 60;
/// A row's columns: four fit a card side by side; more would squeeze each to a few letters.
const MAX_COLUMNS: usize = 6;
/// The event id in small print (an Event Grid id is a GUID).
const MAX_EVENT_ID: usize = 100;

/// The Workflows webhook body for `notice`, at most [`MAX_BYTES`] when serialized.
pub fn render(notice: &Notice) -> Value {
    let mut fit = Fit::start(notice);
    loop {
        let body = envelope(card(notice, &fit));
        if serialized_len(&body) <= MAX_BYTES || !fit.shrink() {
            return body;
        }
    }
}

/// How much of the notice the card holds; [`Fit::shrink`] takes some away.
struct Fit {
    summary: usize,
    value: usize,
    traceback: usize,
    facts: usize,
    rows: usize,
}

impl Fit {
    fn start(notice: &Notice) -> Fit {
        Fit {
            summary: MAX_SUMMARY,
            value: START_VALUE,
            traceback: START_TRACEBACK,
            facts: notice.facts.len(),
            rows: MAX_ROWS,
        }
    }

    /// One step smaller; false when nothing is left to take.
    fn shrink(&mut self) -> bool {
        if self.traceback > TRACEBACK_FLOOR {
            self.traceback = (self.traceback / 2).max(TRACEBACK_FLOOR);
        } else if self.summary > FLOOR || self.value > FLOOR {
            self.summary = (self.summary / 2).max(FLOOR);
            self.value = (self.value / 2).max(FLOOR);
        } else if self.facts > 0 {
            self.facts -= 1;
        } else if self.rows > 0 {
            self.rows -= 1;
        } else if self.traceback > 0 {
            self.traceback = 0;
        } else {
            // Left: the band, the exception line, the event id and the buttons, all bounded,
            // so this is reached only by links far longer than any studio link.
            return false;
        }
        true
    }
}

/// The Adaptive Card alone, holding what `fit` lets it.
fn card(notice: &Notice, fit: &Fit) -> Value {
    let mut body = vec![band(notice)];
    if !notice.summary.trim().is_empty() {
        body.push(text_block(&limit(&notice.summary, fit.summary)));
    }
    if let Some(held) = notice.held_text() {
        body.push(subtle(&held));
    }
    if let Some(error) = &notice.error {
        body.extend(error_blocks(error, fit.traceback));
    }
    if let Some(rows) = &notice.rows {
        body.extend(row_blocks(rows, fit.rows));
    }
    let facts: Vec<Value> = notice
        .facts_at_most(fit.facts)
        .iter()
        .map(|fact| {
            json!({
                "title": markdown(&limit(fact.name.trim(), MAX_NAME)),
                "value": markdown(&limit(&fact.value, fit.value)),
            })
        })
        .collect();
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let buttons = notice.buttons();
    if let Some(left_out) = buttons.left_out_text() {
        body.push(small_print(&left_out));
    }
    if !notice.event_id.trim().is_empty() {
        let id = limit(notice.event_id.trim(), MAX_EVENT_ID);
        body.push(small_print(&format!("Event id: {id}")));
    }
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": VERSION,
        "body": body,
    });
    if !buttons.links.is_empty() {
        let actions: Vec<Value> = buttons
            .links
            .iter()
            .map(|link| {
                json!({
                    "type": "Action.OpenUrl",
                    "title": plain(&limit(&link.label, MAX_NAME)),
                    "url": link.url,
                })
            })
            .collect();
        card["actions"] = Value::Array(actions);
    }
    card
}

/// The coloured band: the status word, the title, the workspace and time.
fn band(notice: &Notice) -> Value {
    let mut items = vec![
        json!({
            "type": "TextBlock",
            "text": markdown(&notice.status_word()),
            "weight": "bolder",
            "wrap": true,
        }),
        json!({
            "type": "TextBlock",
            "text": markdown(&limit(notice.headline(), MAX_NAME)),
            "size": "large",
            "weight": "bolder",
            "spacing": "none",
            "wrap": true,
        }),
    ];
    if let Some(place) = notice.place_and_time() {
        items.push(json!({
            "type": "TextBlock",
            "text": markdown(&place),
            "spacing": "small",
            "wrap": true,
        }));
    }
    json!({"type": "Container", "style": style(notice.tone()), "bleed": true, "items": items})
}

/// The exception line, then the rest of the error in monospace (its end kept when cut); the
/// whole error there when the line itself had to be cut, so the line's end is read in it.
fn error_blocks(error: &ErrorText, traceback: usize) -> Vec<Value> {
    let line = error.exception_line();
    if line.is_empty() {
        return Vec::new();
    }
    let shown = limit(line, MAX_EXCEPTION);
    let details = error.under_line(shown == line);
    let mut blocks = vec![json!({
        "type": "TextBlock",
        "text": markdown(&shown),
        "weight": "bolder",
        "wrap": true,
    })];
    if traceback > 0 && !details.is_empty() {
        blocks.push(json!({
            "type": "RichTextBlock",
            "spacing": "small",
            "inlines": [{
                "type": "TextRun",
                "text": monospace(&limit_end(&details, traceback)),
                "fontType": "monospace",
                "size": "small",
            }],
        }));
    }
    blocks
}

/// The header in bold, then a ColumnSet per row (at most `max`), then how many more.
fn row_blocks(rows: &Rows, max: usize) -> Vec<Value> {
    let (shown, more) = rows.first(max);
    let columns = rows
        .header
        .len()
        .max(shown.iter().map(Vec::len).max().unwrap_or(0))
        .min(MAX_COLUMNS);
    let mut blocks = Vec::new();
    if !shown.is_empty() && !rows.header.is_empty() {
        blocks.push(column_set(&rows.header, columns, "bolder"));
    }
    for row in shown {
        blocks.push(column_set(row, columns, "default"));
    }
    if more > 0 {
        blocks.push(subtle(&format!("and {more} more")));
    }
    blocks
}

/// One row: `columns` equal columns, each a wrapping TextBlock (a dash where the row has no
/// cell).
fn column_set(cells: &[String], columns: usize, weight: &str) -> Value {
    let columns: Vec<Value> = (0..columns)
        .map(|at| {
            let cell = cells.get(at).map_or(BLANK, |cell| non_blank(cell, BLANK));
            json!({
                "type": "Column",
                "width": "stretch",
                "items": [{
                    "type": "TextBlock",
                    "text": markdown(&limit(cell, MAX_CELL)),
                    "weight": weight,
                    "wrap": true,
                }],
            })
        })
        .collect();
    json!({"type": "ColumnSet", "spacing": "small", "columns": columns})
}

fn text_block(text: &str) -> Value {
    json!({"type": "TextBlock", "text": markdown(text), "wrap": true})
}

fn subtle(text: &str) -> Value {
    json!({"type": "TextBlock", "text": markdown(text), "isSubtle": true, "spacing": "small", "wrap": true})
}

fn small_print(text: &str) -> Value {
    json!({"type": "TextBlock", "text": markdown(text), "size": "small", "isSubtle": true, "wrap": true})
}

/// The message envelope the Workflows trigger reads: one Adaptive Card attachment.
fn envelope(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// The band's container style: Adaptive Cards' `attention` (red), `warning` (amber), `good`
/// (green) and `accent` (blue), each a background under default-colour text.
fn style(tone: Tone) -> &'static str {
    match tone {
        Tone::Bad => "attention",
        Tone::Warning => "warning",
        Tone::Good => "good",
        Tone::Neutral => "accent",
    }
}

fn serialized_len(body: &Value) -> usize {
    // Serializing a `Value` cannot fail (its keys are strings); if it ever did, treat the body
    // as too large so it is shrunk rather than sent unmeasured.
    serde_json::to_vec(body).map_or(usize::MAX, |bytes| bytes.len())
}
