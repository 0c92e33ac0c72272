//! One notification, in no chat tool's terms: what each renderer turns into its target's body.
//!
//! Besides the [`Notice`] itself, this module holds what every renderer shares: [`limit`], the
//! one way a text is cut to a vendor's limit, and the few readings of a notice (its
//! [`headline`](Notice::headline), its [`web_link`](Notice::web_link), ...) that keep the
//! renderers from each deciding them differently. It knows no vendor's format.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Timestamp, WorkspaceId};

/// What ends a text [`limit`] cut, so a reader sees that something is missing.
pub const ELLIPSIS: char = '\u{2026}';

/// What stands in for a blank text where a target refuses empty strings (Discord's field
/// values, Slack's text objects).
pub const BLANK: &str = "\u{2014}";

/// The headline of a notice whose title and event type are both blank.
const NO_HEADLINE: &str = "Azure ML event";

/// The longest link a renderer puts on a button. A studio link is a few hundred characters;
/// the bound keeps within Slack's button `url` (3,000) and leaves Teams' byte budget to the
/// texts.
const MAX_LINK: usize = 2048;

/// `text` cut to at most `max` characters (Unicode scalar values, not bytes), ending with
/// [`ELLIPSIS`] when it was cut; borrowed when it already fits. Never splits a character, so
/// it never panics on multi-byte text; it may split a grapheme cluster (a flag, a combining
/// accent), which renders as a stray mark at worst.
///
/// Every vendor's length limit is applied through this one function.
pub fn limit(text: &str, max: usize) -> Cow<'_, str> {
    // A text of at most `max` bytes has at most `max` characters: skip counting.
    if text.len() <= max || text.chars().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    // Keep `max - 1` characters and leave the last place to the ellipsis.
    let cut = text
        .char_indices()
        .nth(max - 1)
        .map_or(text.len(), |(index, _)| index);
    let kept = text[..cut].trim_end();
    let mut out = String::with_capacity(kept.len() + ELLIPSIS.len_utf8());
    out.push_str(kept);
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// `text`, or `fallback` when `text` is empty or only whitespace.
pub fn non_blank<'a>(text: &'a str, fallback: &'a str) -> &'a str {
    if text.trim().is_empty() {
        fallback
    } else {
        text
    }
}

/// How bad the news is. Chat renderers color by it; PagerDuty takes it as the alert's
/// severity, and pages only for [`Notice::alert`] notices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A model registered, a run completed, a deployment that passed its smoke test.
    #[default]
    Info,
    /// Drift, a monitor breach, a canceled run, a smoke test that failed.
    Warning,
    /// A failed run.
    Error,
    /// Reserved for what needs someone now; nothing the functions send is critical today.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `error`, `critical`: PagerDuty's names too.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// One labelled value: `Experiment: churn-training`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// The label.
    pub name: String,
    /// The value, as text.
    pub value: String,
}

impl Fact {
    /// A fact.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Fact {
        Fact {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// One notification about one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notice {
    /// A short headline: `Run churn_run_7 failed`.
    pub title: String,
    /// One readable line with the details: `Run churn_run_7 of experiment churn-training is
    /// now Failed: No module named 'sklearn'`.
    pub summary: String,
    /// How bad it is.
    pub severity: Severity,
    /// What a reader scans: experiment, run, status, model, signal, ...
    pub facts: Vec<Fact>,
    /// Where to look: the run's page in Azure ML studio, when there is one.
    pub link: Option<String>,
    /// The event's id (also the `Idempotency-Key`).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The function that handled it (`RunStatusChanged`).
    pub function: String,
    /// The event's subject.
    pub subject: Option<String>,
    /// The workspace's resource id, when the event came from one.
    pub workspace: Option<String>,
    /// When the event happened.
    pub time: Option<Timestamp>,
    /// Whether this notice is an alert (a failure, a breach, drift): the only kind PagerDuty
    /// is sent.
    pub alert: bool,
    /// What alerts about the same thing share, so redeliveries and repeats collapse into one
    /// PagerDuty incident: `<workspace>/<run, model or endpoint>/<function or monitor-breach>`.
    pub alert_key: String,
    /// The event's data, for the plain `webhook` kind.
    pub data: Value,
    /// Further fields of the `webhook` kind's body (`run`, `retrain`, `smokeTest`, ...).
    pub extra: Map<String, Value>,
    /// The word a card's band shows in capitals, what happened at a glance: `FAILED`,
    /// `BREACH`, `DRIFT`, `PASSED`, `DEPLOYED`, `REGISTERED`, ... (blank: the severity's word).
    pub status: String,
    /// The error the news is about (a run's error message, an endpoint's answer), shown once:
    /// its exception line first, the whole text in a monospace block.
    pub error: Option<ErrorText>,
    /// Rows a reader compares, the worst first: a breach's violations (feature, metric,
    /// value, threshold).
    pub rows: Option<Rows>,
    /// Links the product makes besides [`link`](Notice::link): the retrain job, the model, the
    /// endpoint in Azure ML studio.
    pub links: Vec<Link>,
    /// What notices about the same thing share, for noise control (a route's `notify_every`):
    /// `signal churn-drift`, `experiment churn-training, status Failed`, `service churn-api`.
    pub group: String,
    /// The notices held back since the last one sent to this target (a route's
    /// `notify_every`), which this one reports: `and 37 more since 09:00 UTC`.
    pub held: Option<Held>,
}

/// An error's text, as an event or an answer gave it (untrusted: renderers escape it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorText {
    /// The whole text: a message, or a traceback with its lines.
    pub text: String,
}

/// A small table: a header and rows of as many cells, the worst first, and how many rows
/// were left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rows {
    /// The column names: `Feature`, `Metric`, `Value`, `Threshold`.
    pub header: Vec<String>,
    /// The rows shown.
    pub rows: Vec<Vec<String>>,
    /// How many rows are not shown (`and 4 more`).
    pub more: usize,
}

/// A labelled link the product made (never one from the event's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The button's or link's label: `Open retrain job`.
    pub label: String,
    /// An `https` URL.
    pub url: String,
}

/// Notices held back by a route's `notify_every`, reported by the next one sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// How many.
    pub count: u64,
    /// Since when (the first held).
    pub since: Timestamp,
}

impl Notice {
    /// The title; the event type when the title is blank; `Azure ML event` when both are.
    /// Slack refuses an empty header, and a card or embed without a headline says nothing.
    pub fn headline(&self) -> &str {
        non_blank(&self.title, non_blank(&self.event_type, NO_HEADLINE))
    }

    /// The link, when it is an `http` or `https` URL of at most 2,048 characters: what a
    /// button or a title may point to. Anything else could have the target refuse the whole
    /// message for the sake of one link (Discord validates an embed's `url`), so it is left
    /// out instead.
    pub fn web_link(&self) -> Option<&str> {
        let link = self.link.as_deref()?.trim();
        let parsed = url::Url::parse(link).ok()?;
        (matches!(parsed.scheme(), "http" | "https") && link.chars().count() <= MAX_LINK)
            .then_some(link)
    }

    /// The workspace's name, when [`workspace`](Notice::workspace) is a workspace resource id.
    pub fn workspace_name(&self) -> Option<String> {
        WorkspaceId::parse(self.workspace.as_deref()?).map(|id| id.workspace)
    }

    /// At most `max` facts: all of them when they fit, else the first `max - 1` and a last one
    /// saying how many were left out, so a reader knows the list is not whole.
    pub fn facts_at_most(&self, max: usize) -> Vec<Fact> {
        if self.facts.len() <= max {
            return self.facts.clone();
        }
        let Some(kept) = max.checked_sub(1) else {
            return Vec::new();
        };
        let mut facts = self.facts[..kept].to_vec();
        facts.push(Fact::new(
            "More",
            format!("{} more not shown", self.facts.len() - kept),
        ));
        facts
    }
}
