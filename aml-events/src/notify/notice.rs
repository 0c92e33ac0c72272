//! One notification, in no chat tool's terms: what each renderer turns into its target's body.
//!
//! Besides the [`Notice`] itself and the types of its parts, this module holds the few readings
//! of a notice (its [`headline`](Notice::headline), its [`status_word`](Notice::status_word)
//! and [`tone`](Notice::tone), where and when it happened, ...) that keep the renderers from
//! each deciding them differently. Cutting texts is [`cut`](super::cut)'s, reading an error
//! [`error_text`](super::error_text)'s, choosing the buttons [`buttons`](super::buttons)'s. It
//! knows no vendor's format, and escapes nothing: that is [`escape`](super::escape)'s.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, value::RawValue};

use super::ErrorText;
use super::cut::{limit, non_blank};
use crate::{Timestamp, WorkspaceId};

/// What stands in for a blank text where a target refuses empty strings (Discord's field
/// values, Slack's text objects).
pub const BLANK: &str = "\u{2014}";

/// The headline of a notice whose title and event type are both blank.
const NO_HEADLINE: &str = "Azure ML event";

/// How long a title, a name or a label may be on a card: past about 80 characters a headline
/// stops being one and a label crowds out its value.
pub const MAX_NAME: usize = 80;

/// How long a status word may be: one word, `REGISTERED` the longest the functions send.
pub const MAX_STATUS: usize = 30;

/// How long a summary may be on a card: a paragraph read at a glance.
pub const MAX_SUMMARY: usize = 500;

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

    /// The band's word when a notice names no status: `INFO`, `WARNING`, `ERROR`, `CRITICAL`.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// What a card's band says at a glance, from the severity and the status word: its colour in
/// Teams, its marker in Slack and Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A failure (error or critical): red.
    Bad,
    /// Drift, a breach, a canceled run, a failed smoke test: amber.
    Warning,
    /// Information that is good news (`PASSED`, `DEPLOYED`, `REGISTERED`, `COMPLETED`): green.
    Good,
    /// Any other information: blue.
    Neutral,
}

/// The status words that are good news.
const GOOD_WORDS: [&str; 4] = ["PASSED", "DEPLOYED", "REGISTERED", "COMPLETED"];

impl Tone {
    /// A round coloured marker, read before any word: 🔴, 🟠, 🟢, 🔵.
    pub fn marker(self) -> &'static str {
        match self {
            Tone::Bad => "\u{1F534}",
            Tone::Warning => "\u{1F7E0}",
            Tone::Good => "\u{1F7E2}",
            Tone::Neutral => "\u{1F535}",
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

/// An event's data as JSON text: written once when the notice is made, read back only by the
/// plain `webhook` kind, the one that sends it (no JSON tree is built for the others).
#[derive(Debug, Clone)]
pub struct EventData(Box<RawValue>);

impl EventData {
    /// `data` written as JSON; `null` when it cannot be.
    pub fn of(data: &impl Serialize) -> EventData {
        serde_json::value::to_raw_value(data).map_or_else(|_| EventData::default(), EventData)
    }

    /// The data, parsed.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl Default for EventData {
    fn default() -> EventData {
        EventData(RawValue::NULL.to_owned())
    }
}

impl From<Value> for EventData {
    fn from(value: Value) -> EventData {
        EventData::of(&value)
    }
}

impl PartialEq for EventData {
    /// The same data, however it was spaced.
    fn eq(&self, other: &EventData) -> bool {
        self.0.get() == other.0.get() || self.to_value() == other.to_value()
    }
}

impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// One notification about one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notice {
    /// A short headline that says what happened where: `Run churn_run_7 failed in
    /// churn-training`.
    pub title: String,
    /// One readable line with the details, never the error (that is [`error`](Notice::error),
    /// said once): `Run churn_run_7 of experiment churn-training failed after 12 min on
    /// cpu-cluster`.
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
    /// The event's source (Event Grid's `topic`, CloudEvents' `source`): event ids are unique
    /// per source only.
    pub source: Option<String>,
    /// The workspace's resource id, when the event came from one.
    pub workspace: Option<String>,
    /// When the event happened.
    pub time: Option<Timestamp>,
    /// Whether this notice is an alert (a failure, a breach, drift): the only kind PagerDuty
    /// is sent.
    pub alert: bool,
    /// What alerts about the same thing share, so redeliveries and repeats collapse into one
    /// PagerDuty incident: `<workspace>/<run, model or endpoint>/<function>`, and for a monitor
    /// breach `<workspace>/<signal>/monitor-breach` (one incident per signal, not per run).
    pub alert_key: String,
    /// The event's data, for the plain `webhook` kind.
    pub data: EventData,
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

impl Rows {
    /// At most `max` of the rows, and how many are left out in all: those past `max` and
    /// those the notice already left out ([`more`](Rows::more)).
    pub fn first(&self, max: usize) -> (&[Vec<String>], usize) {
        let shown = &self.rows[..self.rows.len().min(max)];
        let more = self.more.saturating_add(self.rows.len() - shown.len());
        (shown, more)
    }
}

impl Held {
    /// `and 37 more since 09:00 UTC` (the date too when `now` is another day, or unknown).
    pub fn text(&self, now: Option<Timestamp>) -> String {
        format!(
            "and {} more since {}",
            self.count,
            self.since.to_utc_minute(now)
        )
    }
}

impl Notice {
    /// The title; the event type when the title is blank; `Azure ML event` when both are.
    /// Slack refuses an empty header, and a card or embed without a headline says nothing.
    pub fn headline(&self) -> &str {
        non_blank(&self.title, non_blank(&self.event_type, NO_HEADLINE))
    }

    /// The band's word: [`status`](Notice::status) trimmed, in capitals and cut to
    /// [`MAX_STATUS`] characters, or the severity's word when it is blank.
    pub fn status_word(&self) -> String {
        let status = self.status.trim();
        if status.is_empty() {
            self.severity.word().to_owned()
        } else {
            limit(&status.to_uppercase(), MAX_STATUS).into_owned()
        }
    }

    /// The band's tone: red for errors, amber for warnings, green for good news, blue for other
    /// information.
    pub fn tone(&self) -> Tone {
        match self.severity {
            Severity::Critical | Severity::Error => Tone::Bad,
            Severity::Warning => Tone::Warning,
            Severity::Info if GOOD_WORDS.contains(&self.status_word().as_str()) => Tone::Good,
            Severity::Info => Tone::Neutral,
        }
    }

    /// The workspace's name and the time, as a card's line under its title says where and
    /// when: `ml-ws · 2026-11-30 06:12:44 UTC`; either alone when the other is unknown.
    pub fn place_and_time(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.workspace_name()
                .map(|name| limit(&name, MAX_NAME).into_owned()),
            self.time.map(|time| time.to_readable_utc()),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" \u{b7} "))
    }

    /// `and 37 more since 09:00 UTC`, when notices were held back for this one.
    pub fn held_text(&self) -> Option<String> {
        self.held.map(|held| held.text(self.time))
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
