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
//!      "body": [TextBlock title, TextBlock summary, FactSet (the facts, then the event id)],
//!      "actions": [Action.OpenUrl "Open in Azure ML studio"]}}]}   (actions only with a link)
//! ```
//!
//! Adaptive Cards put no length on a text; Teams limits the whole message to 28 KB. The card is
//! therefore fitted to a byte budget: long summaries and fact values are cut shorter, then the
//! last facts are left out, until it fits. The event id fact always stays.
//!
//! See:
//! - Workflows webhooks, the envelope and the 28 KB limit:
//!   <https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook>
//! - the trigger: <https://learn.microsoft.com/connectors/teams/>
//! - the card's elements, schema 1.4: <https://adaptivecards.io/explorer/TextBlock.html>,
//!   <https://adaptivecards.io/explorer/FactSet.html>,
//!   <https://adaptivecards.io/explorer/Action.OpenUrl.html>,
//!   <https://adaptivecards.io/schemas/adaptive-card.json>
//!
//! It does not use Teams' extensions to the card (`msteams.width`, mentions): a mention in a
//! run's error message must never ping anyone.

use serde_json::{Value, json};

use super::notice::limit;
use super::{Fact, Notice, Severity};

/// The card's schema version; every element and property used here exists in it.
pub const VERSION: &str = "1.4";

/// The button's label.
pub const OPEN_LABEL: &str = "Open in Azure ML studio";

/// The byte budget of the serialized body. Teams documents 28 KB per message without saying
/// what it counts (this body, or the message Teams builds from it), so the budget stays well
/// under it.
pub const MAX_BYTES: usize = 20_000;

/// The title's length. Adaptive Cards set none; a headline longer than this stops being one.
const MAX_TITLE: usize = 256;
/// A fact's label: the FactSet's first column, which narrows the values beside it.
const MAX_FACT_NAME: usize = 256;
/// Where the summary and each fact value start; halved until the card fits.
const START_SUMMARY: usize = 4000;
const START_FACT_VALUE: usize = 1000;
/// Below this, texts are no longer shortened; facts are left out instead.
const FLOOR: usize = 64;

/// The Workflows webhook body for `notice`, at most [`MAX_BYTES`] when serialized (for any
/// link [`Notice::web_link`] accepts).
pub fn render(notice: &Notice) -> Value {
    let mut facts = notice.facts.clone();
    let mut summary_max = START_SUMMARY;
    let mut value_max = START_FACT_VALUE;
    loop {
        let body = envelope(card(notice, &facts, summary_max, value_max));
        if serialized_len(&body) <= MAX_BYTES {
            return body;
        }
        if summary_max > FLOOR || value_max > FLOOR {
            summary_max = (summary_max / 2).max(FLOOR);
            value_max = (value_max / 2).max(FLOOR);
        } else if facts.pop().is_none() {
            // Nothing left to shorten: title, event id and link are bounded, so this is
            // reached only by a link far longer than any studio link.
            return body;
        }
    }
}

/// The Adaptive Card alone, its texts cut to the given lengths.
fn card(notice: &Notice, facts: &[Fact], summary_max: usize, value_max: usize) -> Value {
    let mut title = json!({
        "type": "TextBlock",
        "text": limit(notice.headline(), MAX_TITLE),
        "weight": "bolder",
        "size": "medium",
        "wrap": true,
    });
    if let Some(color) = color(notice.severity) {
        title["color"] = json!(color);
    }
    let facts: Vec<Value> = facts
        .iter()
        .map(|fact| (fact.name.as_str(), fact.value.as_str()))
        .chain([("Event id", notice.event_id.as_str())])
        .map(|(name, value)| {
            json!({
                "title": limit(name, MAX_FACT_NAME),
                "value": limit(value, value_max),
            })
        })
        .collect();
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": VERSION,
        "body": [
            title,
            {"type": "TextBlock", "text": limit(&notice.summary, summary_max), "wrap": true},
            {"type": "FactSet", "facts": facts},
        ],
    });
    if let Some(link) = notice.web_link() {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": OPEN_LABEL, "url": link}]);
    }
    card
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

/// The TextBlock color for the title (`attention` is Adaptive Cards' red); none for info,
/// which keeps the host's default text color.
fn color(severity: Severity) -> Option<&'static str> {
    match severity {
        Severity::Critical | Severity::Error => Some("attention"),
        Severity::Warning => Some("warning"),
        Severity::Info => None,
    }
}

fn serialized_len(body: &Value) -> usize {
    // Serializing a `Value` cannot fail (its keys are strings); if it ever did, treat the body
    // as too large so it is shrunk rather than sent unmeasured.
    serde_json::to_vec(body).map_or(usize::MAX, |bytes| bytes.len())
}
