//! Slack: the notice as a Block Kit message for an incoming webhook.
//!
//! ```text
//! {"text": "<summary>",                                   (the notification's fallback)
//!  "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "<title>"}},
//!             {"type": "section", "text": {"type": "mrkdwn", "text": "<summary>"}},
//!             {"type": "section", "fields": [{"type": "mrkdwn", "text": "*<name>*\n<value>"}, ...]},
//!             {"type": "context", "elements": [{"type": "mrkdwn", "text": "Event id: <id>"}]},
//!             {"type": "actions", "elements": [{"type": "button", "url": "<link>", ...}]}]}
//! ```
//!
//! A block whose text would be empty is left out (Slack refuses empty text objects), and so is
//! the actions block without a link. Every mrkdwn text has `&`, `<` and `>` escaped, so a run's
//! error message can neither mention `<!channel>` nor turn into a link; plain_text is shown as
//! is and needs none.
//!
//! Limits, each applied with [`limit`] (a cut never leaves half an `&amp;` behind):
//! header text 150 characters; section text 3,000; at most 10 fields of 2,000 each; context
//! text 3,000; button text 75 and url 3,000 (the link is at most 2,048, see
//! [`Notice::web_link`]).
//!
//! See:
//! - <https://docs.slack.dev/reference/block-kit/blocks/header-block>
//!   (also <https://api.slack.com/reference/block-kit/blocks#header>)
//! - <https://api.slack.com/reference/block-kit/blocks#section>,
//!   <https://api.slack.com/reference/block-kit/blocks#context>,
//!   <https://api.slack.com/reference/block-kit/blocks#actions>,
//!   <https://api.slack.com/reference/block-kit/block-elements#button>
//! - escaping: <https://api.slack.com/reference/surfaces/formatting#escaping>
//! - the top-level `text` as the notification fallback, truncated by Slack past 40,000
//!   characters: <https://api.slack.com/methods/chat.postMessage>

use std::borrow::Cow;

use serde_json::{Value, json};

use super::notice::{BLANK, ELLIPSIS, limit, non_blank};
use super::{Fact, Notice};

/// The button's label (at most 75 characters).
pub const OPEN_LABEL: &str = "Open in Azure ML studio";

/// A header block's plain_text.
pub const MAX_HEADER: usize = 150;
/// A section block's text, and a context element's.
pub const MAX_TEXT: usize = 3000;
/// A section block's `fields`.
pub const MAX_FIELDS: usize = 10;
/// Each of a section's fields.
pub const MAX_FIELD: usize = 2000;

/// A fact's label within its field. Slack sets no separate limit; this keeps the value most of
/// the field's 2,000 characters.
const MAX_FIELD_NAME: usize = 256;

/// The incoming webhook body for `notice`.
pub fn render(notice: &Notice) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": limit(notice.headline(), MAX_HEADER)},
    })];
    if !notice.summary.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": mrkdwn(&notice.summary, MAX_TEXT)},
        }));
    }
    let fields: Vec<Value> = notice
        .facts_at_most(MAX_FIELDS)
        .iter()
        .map(|fact| json!({"type": "mrkdwn", "text": field(fact)}))
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if !notice.event_id.trim().is_empty() {
        // `Event id: ` is 10 characters; the id has the rest.
        let id = mrkdwn(&notice.event_id, MAX_TEXT - 10);
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("Event id: {id}")}],
        }));
    }
    if let Some(link) = notice.web_link() {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": OPEN_LABEL},
                "url": link,
            }],
        }));
    }
    // The top-level text is what notifications and screen readers show. Slack only truncates
    // it (at 40,000 characters); cut at the section's length, it says the same as the section.
    let text = mrkdwn(non_blank(&notice.summary, notice.headline()), MAX_TEXT);
    json!({"text": text, "blocks": blocks})
}

/// `*<name>*\n<value>`, both escaped, within [`MAX_FIELD`] characters.
fn field(fact: &Fact) -> String {
    // Bold needs the asterisks against non-space characters: `*name *` shows the asterisks.
    let name = mrkdwn(non_blank(fact.name.trim(), BLANK), MAX_FIELD_NAME);
    // Two asterisks and the newline.
    let room = MAX_FIELD - name.chars().count() - 3;
    let value = mrkdwn(non_blank(&fact.value, BLANK), room);
    format!("*{name}*\n{value}")
}

/// `text` escaped for mrkdwn, then cut to `max` characters. The cut is made on the escaped
/// text, since that is what Slack counts, and drops an entity it would split: a lone `&am`
/// would show as is.
fn mrkdwn(text: &str, max: usize) -> String {
    let escaped = escape(text);
    match limit(&escaped, max) {
        Cow::Borrowed(_) => escaped.into_owned(),
        Cow::Owned(mut cut) => {
            let body_end = cut.len() - ELLIPSIS.len_utf8();
            // Every `&` of the escaped text opens an entity, so the last one without its `;`
            // is a split one.
            let split = cut[..body_end]
                .rfind('&')
                .filter(|&amp| !cut[amp..body_end].contains(';'));
            if let Some(amp) = split {
                cut.replace_range(amp..body_end, "");
            }
            cut
        }
    }
}

/// `&`, `<` and `>` as the HTML entities Slack expects; nothing else is encoded.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
